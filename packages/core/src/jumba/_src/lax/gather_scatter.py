"""gather and the scatter family (scatter, scatter_add, scatter_mul, scatter_min,
scatter_max): XLA's semantics with dimension numbers and out-of-bounds modes (defined in
lax/slicing.py). Each primitive's rules sit together in its block."""

from __future__ import annotations

import numpy as np

from jumba._src import core
from jumba._src.core import Primitive, ShapedArray, get_aval
from jumba._src.interpreters import ad, batching
from jumba._src.interpreters.ad import Zero, is_undefined_primal
from jumba._src.interpreters.batching import bdim_at_front, moveaxis
from jumba._src.lax import elementwise as ew
from jumba._src.lax import structural as st
from jumba._src.lax.slicing import (  # noqa: F401
    INPLACE_IMPLS,
    GatherDimensionNumbers,
    GatherScatterMode,
    ScatterDimensionNumbers,
    _aval_of,
    _bind_checked,
    _check_sorted_unique,
    _default_fill,
    _ints,
    _operand_weak,
)

# ---------------------------------------------------------------------------------------
# Shared index arithmetic of gather and scatter (NumPy)


def _window_index(shape, indices, index_map, batching_pairs, sizes, mode):
    """Per operand axis, an integer array (batch_shape + window) addressing the operand, and
    the boolean mask (batch_shape) of windows that fit (always true unless FILL_OR_DROP)."""
    batch_shape = indices.shape[:-1]
    nb, r = len(batch_shape), len(shape)
    idx = indices.astype(np.int64, copy=False)
    starts: list = [None] * r
    for k, d in enumerate(index_map):
        starts[d] = idx[..., k]
    for od, bd in batching_pairs:
        bshape = [1] * nb
        bshape[bd] = batch_shape[bd]
        starts[od] = np.arange(batch_shape[bd]).reshape(bshape)
    valid = np.ones(batch_shape, bool)
    for d in index_map:
        hi = shape[d] - sizes[d]
        if mode is GatherScatterMode.FILL_OR_DROP:
            valid &= (starts[d] >= 0) & (starts[d] <= hi)
        starts[d] = np.clip(starts[d], 0, hi)
    full = batch_shape + tuple(sizes)
    index = []
    for d in range(r):
        win = np.arange(sizes[d]).reshape([1] * nb + [-1 if e == d else 1 for e in range(r)])
        s = starts[d]
        if s is not None:
            s = np.asarray(s)
            win = s.reshape(s.shape + (1,) * r) + win
        index.append(np.broadcast_to(win, full))
    return index, valid


# ---------------------------------------------------------------------------------------
# gather(operand, indices, dimension_numbers, slice_sizes, mode, fill_value)

gather_p = Primitive("gather")
gather_p.weak_type_rule = _operand_weak


@gather_p.def_impl
def _gather_impl(x, indices, *, dimension_numbers, slice_sizes, mode, fill_value,
                 indices_are_sorted, unique_indices):
    dn = dimension_numbers
    batch_shape = indices.shape[:-1]
    nb = len(batch_shape)
    pairs = list(zip(dn.operand_batching_dims, dn.start_indices_batching_dims))
    whole = _whole_slices_along(x.shape, dn.start_index_map, pairs, slice_sizes)
    if whole is not None:
        out, valid = _take_slices(x, indices, whole, mode)
    else:
        index, valid = _window_index(x.shape, indices, dn.start_index_map, pairs,
                                     slice_sizes, mode)
        out = x[tuple(index)]
    if not valid.all():
        fill = _default_fill(x.dtype) if fill_value is None else fill_value
        out = np.where(valid.reshape(batch_shape + (1,) * x.ndim), out,
                       np.asarray(fill).astype(x.dtype))
    drop = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    kept = tuple(k for d, k in enumerate(slice_sizes) if d not in drop)
    out = out.reshape(batch_shape + kept)
    return np.moveaxis(out, range(nb, nb + len(kept)), dn.offset_dims)


def _whole_slices_along(shape, index_map, batching_pairs, sizes):
    """The axis d when a gather takes whole slices of the operand at indices along d alone
    (`x[idx]`, `jnp.take(x, idx, axis=d)`, a minibatch of shuffled rows), else None."""
    if len(index_map) != 1 or batching_pairs:
        return None
    d = index_map[0]
    if sizes[d] != 1 or any(k != n for e, (k, n) in enumerate(zip(sizes, shape)) if e != d):
        return None
    return d


def _take_slices(x, indices, d, mode):
    """`x[tuple(index)]` of `_window_index` (shape batch_shape + slice sizes) and the valid
    mask, for whole slices along axis d: one np.take instead of an index array per operand
    axis (a shuffled minibatch of 65,536 rows of 4 took 6.5 ms by index arrays)."""
    batch_shape = indices.shape[:-1]
    nb = len(batch_shape)
    start = indices[..., 0].astype(np.int64, copy=False)
    hi = x.shape[d] - 1
    valid = ((start >= 0) & (start <= hi) if mode is GatherScatterMode.FILL_OR_DROP
             else np.ones(batch_shape, bool))
    out = np.take(x, np.clip(start, 0, hi), axis=d)  # x.shape[:d] + batch + x.shape[d+1:]
    out = np.moveaxis(out, range(d, d + nb), range(nb))
    return np.expand_dims(out, nb + d), valid


@gather_p.def_abstract_eval
def _gather_abstract_eval(x, indices, *, dimension_numbers, slice_sizes, mode, fill_value,
                          indices_are_sorted, unique_indices):
    dn = dimension_numbers
    name = "gather"
    if indices.dtype.kind not in "iu" or indices.ndim < 1:
        raise TypeError(f"gather: indices must be an integer array with the index vector on "
                        f"its last axis, got {indices.str_short()}")
    batch_shape = indices.shape[:-1]
    if indices.shape[-1] != len(dn.start_index_map):
        raise TypeError(f"gather: the index vector has {indices.shape[-1]} entries but "
                        f"start_index_map={dn.start_index_map} names {len(dn.start_index_map)}")
    if len(slice_sizes) != x.ndim or any(not 0 <= k <= n for k, n in zip(slice_sizes, x.shape)):
        raise TypeError(f"gather: slice_sizes {tuple(slice_sizes)} must have one entry per "
                        f"operand axis, each in [0, dim]; operand shape {x.shape}")
    if len(set(dn.start_index_map)) != len(dn.start_index_map) or any(
            not 0 <= d < x.ndim for d in dn.start_index_map):
        raise TypeError(f"gather: start_index_map {dn.start_index_map} must name distinct "
                        f"operand axes of a rank-{x.ndim} operand")
    _check_sorted_unique(name, "collapsed_slice_dims", dn.collapsed_slice_dims, x.ndim)
    _check_sorted_unique(name, "operand_batching_dims", dn.operand_batching_dims, x.ndim)
    if set(dn.collapsed_slice_dims) & set(dn.operand_batching_dims):
        raise TypeError("gather: collapsed_slice_dims and operand_batching_dims overlap")
    for d in (*dn.collapsed_slice_dims, *dn.operand_batching_dims):
        if slice_sizes[d] > 1:
            raise TypeError(f"gather: collapsed/batching operand axis {d} needs slice size <= 1, "
                            f"got {slice_sizes[d]}")
    if len(dn.start_indices_batching_dims) != len(dn.operand_batching_dims):
        raise TypeError("gather: operand_batching_dims and start_indices_batching_dims differ "
                        "in length")
    for od, bd in zip(dn.operand_batching_dims, dn.start_indices_batching_dims):
        if not 0 <= bd < len(batch_shape) or batch_shape[bd] != x.shape[od]:
            raise TypeError(f"gather: batching axis {bd} of indices {indices.shape} does not "
                            f"match operand axis {od} of {x.shape}")
    drop = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    kept = [k for d, k in enumerate(slice_sizes) if d not in drop]
    out_rank = len(batch_shape) + len(kept)
    if len(dn.offset_dims) != len(kept):
        raise TypeError(f"gather: {len(kept)} slice axes are kept but offset_dims="
                        f"{dn.offset_dims} names {len(dn.offset_dims)}")
    _check_sorted_unique(name, "offset_dims", dn.offset_dims, out_rank)
    shape, it_b, it_k = [], iter(batch_shape), iter(kept)
    for i in range(out_rank):
        shape.append(next(it_k) if i in dn.offset_dims else next(it_b))
    return ShapedArray(shape, x.dtype, x.weak_type)


def _gather_jvp(primals, tangents, **params):
    (x, indices), (tx, _) = primals, tangents
    out = gather_p.bind(x, indices, **params)
    if type(tx) is Zero:
        return out, Zero(ad.tangent_aval(get_aval(out)))
    return out, gather_p.bind(tx, indices, **{**params, "fill_value": 0})


def _gather_transpose(ct, x, indices, *, dimension_numbers, slice_sizes, mode, fill_value,
                      indices_are_sorted, unique_indices):
    if is_undefined_primal(indices):
        raise ValueError("gather is not linear in its indices")
    dn = dimension_numbers
    sdn = ScatterDimensionNumbers(dn.offset_dims, dn.collapsed_slice_dims, dn.start_index_map,
                                  dn.operand_batching_dims, dn.start_indices_batching_dims)
    zeros = ad.zeros_like_aval(x.aval.strip_weak_type())
    return [scatter_add_p.bind(zeros, indices, ct, dimension_numbers=sdn, mode=mode,
                               indices_are_sorted=indices_are_sorted,
                               unique_indices=unique_indices), None]


def _gather_batch(size, vals, dims, *, dimension_numbers, slice_sizes, **params):
    (x, indices), (dx, di) = vals, dims
    dn = dimension_numbers
    up = lambda ds: tuple(d + 1 for d in ds)  # noqa: E731
    if di is None:
        # The operand's batch axis becomes the first slice axis, kept whole.
        x = moveaxis(x, dx, 0)
        dn = GatherDimensionNumbers((0, *up(dn.offset_dims)), up(dn.collapsed_slice_dims),
                                    up(dn.start_index_map), up(dn.operand_batching_dims),
                                    dn.start_indices_batching_dims)
        return gather_p.bind(x, indices, dimension_numbers=dn,
                             slice_sizes=(size, *slice_sizes), **params), 0
    indices = moveaxis(indices, di, 0)
    if dx is None:
        # A new leading batch axis of the indices is the first output batch axis.
        dn = dn._replace(offset_dims=up(dn.offset_dims),
                         start_indices_batching_dims=up(dn.start_indices_batching_dims))
        return gather_p.bind(x, indices, dimension_numbers=dn, slice_sizes=slice_sizes,
                             **params), 0
    x = moveaxis(x, dx, 0)
    dn = GatherDimensionNumbers(up(dn.offset_dims), up(dn.collapsed_slice_dims),
                                up(dn.start_index_map), (0, *up(dn.operand_batching_dims)),
                                (0, *up(dn.start_indices_batching_dims)))
    return gather_p.bind(x, indices, dimension_numbers=dn, slice_sizes=(1, *slice_sizes),
                         **params), 0


ad.primitive_jvps[gather_p] = _gather_jvp
ad.primitive_transposes[gather_p] = _gather_transpose
batching.primitive_batchers[gather_p] = _gather_batch

# ---------------------------------------------------------------------------------------
# scatter family: scatter (set), scatter_add, scatter_mul, scatter_min, scatter_max


def _scatter_impl(combine, inplace=False):
    def impl(x, indices, updates, *, dimension_numbers, mode, indices_are_sorted,
             unique_indices):
        dn = dimension_numbers
        r, nb = x.ndim, indices.ndim - 1
        window = [1] * r
        wdims = [d for d in range(r)
                 if d not in dn.inserted_window_dims and d not in dn.operand_batching_dims]
        for d, ud in zip(wdims, dn.update_window_dims):
            window[d] = updates.shape[ud]
        nw = len(dn.update_window_dims)
        u = np.moveaxis(updates, dn.update_window_dims, range(nb, nb + nw))
        u = u.reshape(indices.shape[:-1] + tuple(window))
        pairs = list(zip(dn.operand_batching_dims, dn.scatter_indices_batching_dims))
        if mode is GatherScatterMode.PROMISE_IN_BOUNDS:
            mode = GatherScatterMode.FILL_OR_DROP  # XLA drops windows that do not fit
        index, valid = _window_index(x.shape, indices, dn.scatter_dims_to_operand_dims, pairs,
                                     window, mode)
        if not valid.all():
            index = [i[valid] for i in index]
            u = u[valid]
        out = x if inplace else np.array(x, copy=True)
        if r and out.flags.c_contiguous:
            # One flat index into the buffer instead of one index array per axis: ufunc.at
            # and fancy indexing with a single 1-D index take NumPy's fast path (the
            # gradient of take_along_axis over 16384x2, one scatter-add per row: 1.1 ms
            # by per-axis indices, 0.25 ms flat). Repeated indices combine as before.
            combine(out.reshape(-1), np.ravel_multi_index(tuple(index), out.shape), u)
        else:
            combine(out, tuple(index), u)
        return out

    return impl


def _set(out, index, u):
    out[index] = u  # NumPy applies repeated indices in order: the last update wins


def _scatter_abstract_eval(name):
    def rule(x, indices, updates, *, dimension_numbers, mode, indices_are_sorted,
             unique_indices):
        dn = dimension_numbers
        if indices.dtype.kind not in "iu" or indices.ndim < 1:
            raise TypeError(f"{name}: indices must be an integer array with the index vector "
                            f"on its last axis, got {indices.str_short()}")
        if updates.dtype != x.dtype:
            raise TypeError(f"{name}: updates dtype {updates.dtype.name} differs from operand "
                            f"dtype {x.dtype.name}")
        if indices.shape[-1] != len(dn.scatter_dims_to_operand_dims):
            raise TypeError(f"{name}: the index vector has {indices.shape[-1]} entries but "
                            f"scatter_dims_to_operand_dims={dn.scatter_dims_to_operand_dims}")
        _check_sorted_unique(name, "update_window_dims", dn.update_window_dims, updates.ndim)
        _check_sorted_unique(name, "inserted_window_dims", dn.inserted_window_dims, x.ndim)
        _check_sorted_unique(name, "operand_batching_dims", dn.operand_batching_dims, x.ndim)
        n_win = x.ndim - len(dn.inserted_window_dims) - len(dn.operand_batching_dims)
        if len(dn.update_window_dims) != n_win:
            raise TypeError(f"{name}: operand of rank {x.ndim} has {n_win} window axes but "
                            f"update_window_dims={dn.update_window_dims}")
        batch_shape = indices.shape[:-1]
        scatter_dims = [d for d in range(updates.ndim) if d not in dn.update_window_dims]
        if tuple(updates.shape[d] for d in scatter_dims) != batch_shape:
            raise TypeError(f"{name}: updates of shape {updates.shape} need scatter axes "
                            f"{batch_shape} (the indices' shape {indices.shape} without the "
                            "index vector)")
        wdims = [d for d in range(x.ndim)
                 if d not in dn.inserted_window_dims and d not in dn.operand_batching_dims]
        for d, ud in zip(wdims, dn.update_window_dims):
            if updates.shape[ud] > x.shape[d]:
                raise TypeError(f"{name}: window axis {ud} of updates {updates.shape} is "
                                f"larger than operand axis {d} of {x.shape}")
        for od, bd in zip(dn.operand_batching_dims, dn.scatter_indices_batching_dims):
            if not 0 <= bd < len(batch_shape) or batch_shape[bd] != x.shape[od]:
                raise TypeError(f"{name}: batching axis {bd} of indices {indices.shape} does "
                                f"not match operand axis {od} of {x.shape}")
        return x

    return rule


def _scatter_primitive(name, combine):
    p = Primitive(name)
    p.def_impl(_scatter_impl(combine))
    INPLACE_IMPLS[p] = _scatter_impl(combine, inplace=True)
    p.def_abstract_eval(_scatter_abstract_eval(name))
    p.weak_type_rule = _operand_weak
    batching.primitive_batchers[p] = lambda size, vals, dims, **params: _scatter_batch(
        p, size, vals, dims, **params)
    return p


def _gather_of_scatter(dn, updates_shape, rank):
    """Dimension numbers and slice sizes of the gather that reads back a scatter's windows."""
    gdn = GatherDimensionNumbers(dn.update_window_dims, dn.inserted_window_dims,
                                 dn.scatter_dims_to_operand_dims, dn.operand_batching_dims,
                                 dn.scatter_indices_batching_dims)
    sizes = [1] * rank
    wdims = [d for d in range(rank)
             if d not in dn.inserted_window_dims and d not in dn.operand_batching_dims]
    for d, ud in zip(wdims, dn.update_window_dims):
        sizes[d] = updates_shape[ud]
    return gdn, tuple(sizes)


def _gather_windows(operand, indices, updates_shape, *, dimension_numbers, mode,
                    indices_are_sorted, unique_indices, fill_value=0):
    gdn, sizes = _gather_of_scatter(dimension_numbers, updates_shape, get_aval(operand).ndim)
    return gather_p.bind(operand, indices, dimension_numbers=gdn, slice_sizes=sizes, mode=mode,
                         fill_value=fill_value, indices_are_sorted=indices_are_sorted,
                         unique_indices=unique_indices)


def _scatter_batch(p, size, vals, dims, *, dimension_numbers, **params):
    (x, indices, updates), (dx, di, du) = vals, dims
    dn = dimension_numbers
    up = lambda ds: tuple(d + 1 for d in ds)  # noqa: E731
    x = bdim_at_front(x, dx, size)
    updates = bdim_at_front(updates, du, size)
    if di is None:
        # The batch axis is one more window axis (the first) of operand and updates.
        dn = ScatterDimensionNumbers((0, *up(dn.update_window_dims)),
                                     up(dn.inserted_window_dims),
                                     up(dn.scatter_dims_to_operand_dims),
                                     up(dn.operand_batching_dims),
                                     dn.scatter_indices_batching_dims)
        return p.bind(x, indices, updates, dimension_numbers=dn, **params), 0
    indices = moveaxis(indices, di, 0)
    dn = ScatterDimensionNumbers(up(dn.update_window_dims), up(dn.inserted_window_dims),
                                 up(dn.scatter_dims_to_operand_dims),
                                 (0, *up(dn.operand_batching_dims)),
                                 (0, *up(dn.scatter_indices_batching_dims)))
    return p.bind(x, indices, updates, dimension_numbers=dn, **params), 0


def _both_zero(out, tx, tu):
    if type(tx) is Zero and type(tu) is Zero:
        return out, Zero(ad.tangent_aval(get_aval(out)))
    return None


# scatter_add: linear in operand and updates; its transpose is a gather.
scatter_add_p = _scatter_primitive("scatter-add", np.add.at)


def _scatter_add_jvp(primals, tangents, **params):
    (x, indices, updates), (tx, _, tu) = primals, tangents
    out = scatter_add_p.bind(x, indices, updates, **params)
    return _both_zero(out, tx, tu) or (out, scatter_add_p.bind(
        ad.instantiate_zeros(tx), indices, ad.instantiate_zeros(tu), **params))


def _scatter_add_transpose(ct, x, indices, updates, **params):
    if is_undefined_primal(indices):
        raise ValueError("scatter_add is not linear in its indices")
    outs = [ct if is_undefined_primal(x) else None, None, None]
    if is_undefined_primal(updates):
        outs[2] = _gather_windows(ct, indices, updates.aval.shape, **params)
    return outs


ad.primitive_jvps[scatter_add_p] = _scatter_add_jvp
ad.primitive_transposes[scatter_add_p] = _scatter_add_transpose


# scatter (set). Repeated indices: one update wins (here the last). The JVP scatters the
# winners' tangents: unique ids are scattered like the updates, then read back to find, per
# update, whether it won, and per operand element, whether it was overwritten. The tangent
# map is then select + scatter_add, which transpose; with unique_indices the JVP is the
# scatter itself, transposed below.
scatter_p = _scatter_primitive("scatter", _set)


def _scatter_jvp(primals, tangents, *, dimension_numbers, mode, indices_are_sorted,
                 unique_indices):
    (x, indices, updates), (tx, _, tu) = primals, tangents
    params = dict(dimension_numbers=dimension_numbers, mode=mode,
                  indices_are_sorted=indices_are_sorted, unique_indices=unique_indices)
    out = scatter_p.bind(x, indices, updates, **params)
    if (res := _both_zero(out, tx, tu)) is not None:
        return res
    tx, tu = ad.instantiate_zeros(tx), ad.instantiate_zeros(tu)
    if unique_indices:
        return out, scatter_p.bind(tx, indices, tu, **params)
    x_aval, u_aval = get_aval(x), get_aval(updates)
    id_dt = np.dtype(np.int64) if u_aval.size >= 2**31 - 1 else np.dtype(np.int32)
    ids = _const(np.arange(1, u_aval.size + 1, dtype=id_dt).reshape(u_aval.shape))
    scattered = scatter_p.bind(_const(np.zeros(x_aval.shape, id_dt)), indices, ids, **params)
    read_back = _gather_windows(scattered, indices, u_aval.shape, **params)
    won = ew.eq(read_back, ids)
    kept = ew.eq(scattered, np.zeros((), id_dt))
    zx = ad.zeros_like_aval(get_aval(tx))
    zu = ad.zeros_like_aval(get_aval(tu))
    return out, scatter_add_p.bind(ew.select_n(kept, zx, tx), indices,
                                   ew.select_n(won, zu, tu), **params)


def _scatter_transpose(ct, x, indices, updates, *, dimension_numbers, mode,
                       indices_are_sorted, unique_indices):
    if not unique_indices:
        raise NotImplementedError("scatter transpose is only implemented for "
                                  "unique_indices=True")
    params = dict(dimension_numbers=dimension_numbers, mode=mode,
                  indices_are_sorted=indices_are_sorted, unique_indices=unique_indices)
    u_aval = _aval_of(updates)
    outs = [None, None, None]
    if is_undefined_primal(x):
        outs[0] = scatter_p.bind(ct, indices, ad.zeros_like_aval(u_aval.strip_weak_type()),
                                 **params)
    if is_undefined_primal(updates):
        outs[2] = _gather_windows(ct, indices, u_aval.shape, **params)
    return outs


ad.primitive_jvps[scatter_p] = _scatter_jvp
ad.primitive_transposes[scatter_p] = _scatter_transpose

# scatter_mul: linear in the operand (for fixed updates); the updates' JVP needs unique
# indices, as in JAX (the product of the other updates at a location is not formed).
scatter_mul_p = _scatter_primitive("scatter-mul", np.multiply.at)


def _scatter_mul_jvp(primals, tangents, **params):
    (x, indices, updates), (tx, _, tu) = primals, tangents
    out = scatter_mul_p.bind(x, indices, updates, **params)
    if (res := _both_zero(out, tx, tu)) is not None:
        return res
    t = Zero(ad.tangent_aval(get_aval(out)))
    if type(tx) is not Zero:
        t = scatter_mul_p.bind(tx, indices, updates, **params)
    if type(tu) is not Zero:
        if not params["unique_indices"]:
            raise NotImplementedError(
                "scatter_mul gradients with respect to the updates are only implemented for "
                "unique_indices=True (x.at[idx].multiply(y, unique_indices=True) when idx has "
                "no repeated entries).")
        zeros = ad.zeros_like_aval(get_aval(tu).update(shape=get_aval(x).shape))
        t = ad.add_tangents(t, ew.mul(x, scatter_add_p.bind(zeros, indices, tu, **params)))
    return out, t


def _scatter_mul_transpose(ct, x, indices, updates, **params):
    if not is_undefined_primal(x) or is_undefined_primal(updates):
        raise NotImplementedError("scatter_mul is linear only in its operand")
    return [scatter_mul_p.bind(ct, indices, updates, **params), None, None]


ad.primitive_jvps[scatter_mul_p] = _scatter_mul_jvp
ad.primitive_transposes[scatter_mul_p] = _scatter_mul_transpose


# scatter_min / scatter_max: the tangent of each result element is the mean of the tangents
# of the values (operand element and updates) that attain it.
def _scatter_extremum_jvp(p):
    def jvp(primals, tangents, **params):
        (x, indices, updates), (tx, _, tu) = primals, tangents
        out = p.bind(x, indices, updates, **params)
        if (res := _both_zero(out, tx, tu)) is not None:
            return res
        tx, tu = ad.instantiate_zeros(tx), ad.instantiate_zeros(tu)
        dt = get_aval(tx).dtype
        u_shape = get_aval(updates).shape
        won = ew.eq(updates, _gather_windows(out, indices, u_shape, fill_value=None, **params))
        kept = ew.eq(x, out)
        one, zero = np.ones((), dt), np.zeros((), dt)
        x_shape = get_aval(x).shape
        count = scatter_add_p.bind(
            ew.select_n(kept, st.full(x_shape, zero), st.full(x_shape, one)), indices,
            ew.select_n(won, st.full(u_shape, zero), st.full(u_shape, one)), **params)
        total = scatter_add_p.bind(ew.select_n(kept, ad.zeros_like_aval(get_aval(tx)), tx),
                                   indices,
                                   ew.select_n(won, ad.zeros_like_aval(get_aval(tu)), tu),
                                   **params)
        return out, ew.div(total, count)

    return jvp


scatter_min_p = _scatter_primitive("scatter-min", np.minimum.at)
scatter_max_p = _scatter_primitive("scatter-max", np.maximum.at)
ad.primitive_jvps[scatter_min_p] = _scatter_extremum_jvp(scatter_min_p)
ad.primitive_jvps[scatter_max_p] = _scatter_extremum_jvp(scatter_max_p)


def _const(v):
    return core.Array(v, False)




# ---------------------------------------------------------------------------------------
# The lax API


def _gather_params(dimension_numbers, mode, fill_value, indices_are_sorted, unique_indices):
    dn = dimension_numbers
    if not isinstance(dn, GatherDimensionNumbers):
        dn = GatherDimensionNumbers(*dn)
    dn = GatherDimensionNumbers(*(_ints(f) for f in dn))
    mode = GatherScatterMode.from_any(mode)
    if fill_value is not None:
        fill_value = np.asarray(core.concrete_or_error(fill_value, "gather's fill_value")).item()
    return dict(dimension_numbers=dn, mode=mode, fill_value=fill_value,
                indices_are_sorted=bool(indices_are_sorted), unique_indices=bool(unique_indices))


def gather(operand, start_indices, dimension_numbers, slice_sizes, *, unique_indices=False,
           indices_are_sorted=False, mode=None, fill_value=None):
    """XLA's gather (as jax.lax.gather); the index vector is the last axis of start_indices.

    Examples:
      >>> import jumba.numpy as jnp
      >>> dn = GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(0,),
      ...                             start_index_map=(0,))
      >>> gather(jnp.arange(10) * 2, jnp.array([[3], [1]]), dn, (1,))
      Array([6, 2], dtype=int32)
    """
    params = _gather_params(dimension_numbers, mode, fill_value, indices_are_sorted,
                            unique_indices)
    return _bind_checked(gather_p, operand, start_indices, slice_sizes=_ints(slice_sizes),
                         **params)


def _scatter_fn(p, doc):
    def fn(operand, scatter_indices, updates, dimension_numbers, *, indices_are_sorted=False,
           unique_indices=False, mode=None):
        dn = dimension_numbers
        if not isinstance(dn, ScatterDimensionNumbers):
            dn = ScatterDimensionNumbers(*dn)
        dn = ScatterDimensionNumbers(*(_ints(f) for f in dn))
        return _bind_checked(p, operand, scatter_indices, updates, dimension_numbers=dn,
                      mode=GatherScatterMode.from_any(mode),
                      indices_are_sorted=bool(indices_are_sorted),
                      unique_indices=bool(unique_indices))

    fn.__name__ = p.name.replace("-", "_")
    fn.__doc__ = doc
    return fn


scatter = _scatter_fn(scatter_p, "XLA's scatter: updates replace operand values.")
scatter_add = _scatter_fn(scatter_add_p, "XLA's scatter with addition: duplicates accumulate.")
scatter_mul = _scatter_fn(scatter_mul_p, "XLA's scatter with multiplication.")
scatter_min = _scatter_fn(scatter_min_p, "XLA's scatter with minimum.")
scatter_max = _scatter_fn(scatter_max_p, "XLA's scatter with maximum.")


def scatter_sub(operand, scatter_indices, updates, dimension_numbers, **kwargs):
    """XLA's scatter with subtraction (scatter_add of the negated updates)."""
    return scatter_add(operand, scatter_indices, ew.neg(updates), dimension_numbers, **kwargs)
