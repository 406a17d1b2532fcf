"""Indexing primitives: dynamic_slice, dynamic_update_slice, gather and the scatters.

Semantics are XLA's, as exposed by `jax.lax`: start indices of dynamic slices are clamped so
that the slice fits; gather and scatter take dimension numbers (with operand/indices
batching dimensions) and a `GatherScatterMode`. The index vector is always the last axis of
the indices array. Each primitive's rules (impl, abstract eval, JVP, transpose, batching)
sit together in its block.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

import numpy as np

from jumba._src import core, dtypes
from jumba._src.core import Primitive, ShapedArray, get_aval
from jumba._src.interpreters import ad, batching
from jumba._src.interpreters.ad import Zero, is_undefined_primal
from jumba._src.interpreters.batching import bdim_at_front, moveaxis
from jumba._src.lax import elementwise as ew
from jumba._src.lax import structural as st

# ---------------------------------------------------------------------------------------
# Dimension numbers and out-of-bounds modes


class GatherDimensionNumbers(NamedTuple):
    """How the operand, the indices and the output of a gather relate (XLA's names).

    offset_dims: output axes that hold the slice axes (those not collapsed or batching).
    collapsed_slice_dims: operand axes whose slice size is 1 and that the output drops.
    start_index_map: operand axis addressed by each entry of the index vector.
    operand_batching_dims / start_indices_batching_dims: operand axes paired, in order, with
      indices axes (the i-th example of one reads from the i-th example of the other).
    """

    offset_dims: tuple[int, ...]
    collapsed_slice_dims: tuple[int, ...]
    start_index_map: tuple[int, ...]
    operand_batching_dims: tuple[int, ...] = ()
    start_indices_batching_dims: tuple[int, ...] = ()


class ScatterDimensionNumbers(NamedTuple):
    """How the operand, the indices and the updates of a scatter relate (XLA's names).

    update_window_dims: updates axes that hold window axes (operand axes, in order, that are
      not inserted or batching).
    inserted_window_dims: operand axes for which the window has size 1 and no updates axis.
    scatter_dims_to_operand_dims: operand axis addressed by each entry of the index vector.
    operand_batching_dims / scatter_indices_batching_dims: paired batch axes.
    """

    update_window_dims: tuple[int, ...]
    inserted_window_dims: tuple[int, ...]
    scatter_dims_to_operand_dims: tuple[int, ...]
    operand_batching_dims: tuple[int, ...] = ()
    scatter_indices_batching_dims: tuple[int, ...] = ()


class GatherScatterMode(enum.Enum):
    """Out-of-bounds behaviour. CLIP clamps starts so the slice fits; FILL_OR_DROP returns
    `fill_value` for gathered slices that do not fit and drops scattered windows that do not
    fit; PROMISE_IN_BOUNDS leaves it to the implementation (here: gathers clamp, scatters
    drop, as XLA on CPU)."""

    CLIP = "clip"
    FILL_OR_DROP = "fill"
    PROMISE_IN_BOUNDS = "promise_in_bounds"

    def __repr__(self):
        return f"GatherScatterMode.{self.name}"

    @staticmethod
    def from_any(s) -> GatherScatterMode:
        if isinstance(s, GatherScatterMode):
            return s
        if s == "clip":
            return GatherScatterMode.CLIP
        if s is None or s in ("fill", "drop"):
            return GatherScatterMode.FILL_OR_DROP
        if s == "promise_in_bounds":
            return GatherScatterMode.PROMISE_IN_BOUNDS
        raise ValueError(f"Unknown gather/scatter mode {s!r}: use 'clip', 'fill' (or 'drop') "
                         "or 'promise_in_bounds'")


def _aval_of(x):
    return x.aval if is_undefined_primal(x) else get_aval(x)


def _bind_checked(p, *args, **params):
    """Bind, checking shapes first when eager (the NumPy impls would not catch every error;
    traced binds check through abstract_eval anyway)."""
    if core._state.eval_only:
        p.abstract_eval(*(get_aval(a) for a in args), **params)
    return p.bind(*args, **params)


def _operand_weak(w, *ws, **params):
    return w


def _ints(xs):
    return tuple(int(x) for x in xs)


def _check_sorted_unique(prim, what, dims, bound):
    if list(dims) != sorted(set(dims)) or any(not 0 <= d < bound for d in dims):
        raise TypeError(f"{prim}: {what} must be sorted, unique and in [0, {bound}); got "
                        f"{tuple(dims)}")


def _index_dtype(*avals):
    """A common integer dtype for start indices."""
    dts = [a.dtype for a in avals]
    return np.dtype(np.int64) if any(dt.itemsize == 8 for dt in dts) else np.dtype(np.int32)


def _default_fill(dtype):
    dtype = np.dtype(dtype)
    if dtypes.is_inexact(dtype):
        return np.nan
    if dtype == np.bool_:
        return True
    if dtype.kind == "i":
        return np.iinfo(dtype).min
    return np.iinfo(dtype).max


# ---------------------------------------------------------------------------------------
# dynamic_slice(operand, *start_indices, slice_sizes): starts clamped to [0, dim - size]

dynamic_slice_p = Primitive("dynamic_slice")
dynamic_slice_p.weak_type_rule = _operand_weak


def _clamped_starts(shape, sizes, starts):
    return [min(max(int(s), 0), n - k) for s, n, k in zip(starts, shape, sizes)]


@dynamic_slice_p.def_impl
def _dynamic_slice_impl(x, *starts, slice_sizes):
    starts = _clamped_starts(x.shape, slice_sizes, starts)
    return x[tuple(slice(s, s + k) for s, k in zip(starts, slice_sizes))]


def _check_starts(name, x, starts):
    if len(starts) != x.ndim:
        raise TypeError(f"{name}: operand of shape {x.shape} needs {x.ndim} start indices, got "
                        f"{len(starts)}")
    for s in starts:
        if s.shape != () or s.dtype.kind not in "iu":
            raise TypeError(f"{name}: start indices must be integer scalars, got "
                            f"{s.str_short()}")


@dynamic_slice_p.def_abstract_eval
def _dynamic_slice_abstract_eval(x, *starts, slice_sizes):
    _check_starts("dynamic_slice", x, starts)
    if len(slice_sizes) != x.ndim or any(not 0 <= k <= n for k, n in zip(slice_sizes, x.shape)):
        raise TypeError(f"dynamic_slice: slice_sizes {tuple(slice_sizes)} must have one entry "
                        f"per axis of the operand, each in [0, dim]; operand shape {x.shape}")
    return ShapedArray(slice_sizes, x.dtype, x.weak_type)


def _dynamic_slice_jvp(primals, tangents, *, slice_sizes):
    x, *starts = primals
    out = dynamic_slice_p.bind(x, *starts, slice_sizes=slice_sizes)
    if type(tangents[0]) is Zero:
        return out, Zero(ad.tangent_aval(get_aval(out)))
    return out, dynamic_slice_p.bind(tangents[0], *starts, slice_sizes=slice_sizes)


def _dynamic_slice_transpose(ct, x, *starts, slice_sizes):
    zeros = ad.zeros_like_aval(x.aval.strip_weak_type())
    return [dynamic_update_slice_p.bind(zeros, ct, *starts)] + [None] * len(starts)


def _stacked_starts(size, starts, dims):
    """Batched scalar starts -> an index array (size, n) for a gather/scatter."""
    dt = _index_dtype(*(get_aval(s) for s in starts))
    cols = []
    for s, d in zip(starts, dims):
        s = st.convert_element_type(s, dt)
        s = st.broadcast_in_dim(s, (size,), ()) if d is None else s
        cols.append(st.reshape(s, (size, 1)))
    return st.concatenate(cols, 1)


def _dynamic_slice_batch(size, vals, dims, *, slice_sizes):
    (x, *starts), (dx, *dstarts) = vals, dims
    if all(d is None for d in dstarts):
        x = bdim_at_front(x, dx, size)
        zero = np.zeros((), _index_dtype(*(get_aval(s) for s in starts)) if starts else np.int32)
        return dynamic_slice_p.bind(x, zero, *starts, slice_sizes=(size, *slice_sizes)), 0
    n = len(slice_sizes)
    idx = _stacked_starts(size, starts, dstarts)
    dn = GatherDimensionNumbers(tuple(range(n)), (), tuple(range(n)))
    return _gather_batch(size, [x, idx], [dx, 0], dimension_numbers=dn,
                         slice_sizes=slice_sizes, mode=GatherScatterMode.CLIP, fill_value=None,
                         indices_are_sorted=False, unique_indices=False)


ad.primitive_jvps[dynamic_slice_p] = _dynamic_slice_jvp
ad.primitive_transposes[dynamic_slice_p] = _dynamic_slice_transpose
batching.primitive_batchers[dynamic_slice_p] = _dynamic_slice_batch

# ---------------------------------------------------------------------------------------
# dynamic_update_slice(operand, update, *start_indices): starts clamped to fit the update

dynamic_update_slice_p = Primitive("dynamic_update_slice")
dynamic_update_slice_p.weak_type_rule = _operand_weak


@dynamic_update_slice_p.def_impl
def _dynamic_update_slice_impl(x, update, *starts):
    return _dynamic_update_slice_into(np.array(x, copy=True), update, *starts)


def _dynamic_update_slice_into(out, update, *starts):
    """Writes `update` into `out` itself (the in-place form the compiler uses when the
    operand's buffer is dead afterwards: `compiler/inplace.py`)."""
    starts = _clamped_starts(out.shape, update.shape, starts)
    out[tuple(slice(s, s + k) for s, k in zip(starts, update.shape))] = update
    return out


@dynamic_update_slice_p.def_abstract_eval
def _dynamic_update_slice_abstract_eval(x, update, *starts):
    _check_starts("dynamic_update_slice", x, starts)
    if update.ndim != x.ndim or any(k > n for k, n in zip(update.shape, x.shape)):
        raise TypeError(f"dynamic_update_slice: update of shape {update.shape} does not fit in "
                        f"an operand of shape {x.shape} (same rank, no larger axes)")
    if update.dtype != x.dtype:
        raise TypeError(f"dynamic_update_slice: update dtype {update.dtype.name} differs from "
                        f"operand dtype {x.dtype.name}")
    return x


def _dynamic_update_slice_jvp(primals, tangents):
    x, update, *starts = primals
    tx, tu = tangents[0], tangents[1]
    out = dynamic_update_slice_p.bind(x, update, *starts)
    if type(tx) is Zero and type(tu) is Zero:
        return out, Zero(ad.tangent_aval(get_aval(out)))
    tx, tu = ad.instantiate_zeros(tx), ad.instantiate_zeros(tu)
    return out, dynamic_update_slice_p.bind(tx, tu, *starts)


def _dynamic_update_slice_transpose(ct, x, update, *starts):
    u_aval = _aval_of(update)
    outs = [None, None] + [None] * len(starts)
    if is_undefined_primal(x):
        outs[0] = dynamic_update_slice_p.bind(
            ct, ad.zeros_like_aval(u_aval.strip_weak_type()), *starts)
    if is_undefined_primal(update):
        outs[1] = dynamic_slice_p.bind(ct, *starts, slice_sizes=u_aval.shape)
    return outs


def _dynamic_update_slice_batch(size, vals, dims):
    (x, u, *starts), (dx, du, *dstarts) = vals, dims
    x, u = bdim_at_front(x, dx, size), bdim_at_front(u, du, size)
    if all(d is None for d in dstarts):
        zero = np.zeros((), _index_dtype(*(get_aval(s) for s in starts)) if starts else np.int32)
        return dynamic_update_slice_p.bind(x, u, zero, *starts), 0
    n = len(starts)
    idx = _stacked_starts(size, starts, dstarts)
    dn = ScatterDimensionNumbers(tuple(range(n)), (), tuple(range(n)))
    return _scatter_batch(scatter_p, size, [x, idx, u], [0, 0, 0], dimension_numbers=dn,
                          mode=GatherScatterMode.CLIP, indices_are_sorted=True,
                          unique_indices=True)


ad.primitive_jvps[dynamic_update_slice_p] = _dynamic_update_slice_jvp
# primitive -> impl writing into its operand (first input), for the compiler's in-place
# updates of dead buffers (`compiler/inplace.py`); the scatter family registers below.
INPLACE_IMPLS = {dynamic_update_slice_p: _dynamic_update_slice_into}
ad.primitive_transposes[dynamic_update_slice_p] = _dynamic_update_slice_transpose
batching.primitive_batchers[dynamic_update_slice_p] = _dynamic_update_slice_batch

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
    index, valid = _window_index(x.shape, indices, dn.start_index_map, pairs, slice_sizes, mode)
    out = x[tuple(index)]
    if not valid.all():
        fill = _default_fill(x.dtype) if fill_value is None else fill_value
        out = np.where(valid.reshape(batch_shape + (1,) * x.ndim), out,
                       np.asarray(fill).astype(x.dtype))
    drop = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    kept = tuple(k for d, k in enumerate(slice_sizes) if d not in drop)
    out = out.reshape(batch_shape + kept)
    return np.moveaxis(out, range(nb, nb + len(kept)), dn.offset_dims)


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


def _start_list(start_indices, ndim):
    if isinstance(start_indices, (list, tuple)):
        return list(start_indices)
    aval = get_aval(start_indices)
    if aval.ndim != 1:
        raise TypeError("start_indices must be a sequence of scalars or a 1-D array, got "
                        f"{aval.str_short()}")
    return [st.reshape(st.slice(start_indices, (i,), (i + 1,)), ()) for i in range(aval.shape[0])]


def _normalize_start(i, n):
    """Negative start indices count from the end (as Python's)."""
    if isinstance(i, (int, np.integer)) and not isinstance(i, bool):
        i = int(i)
        return np.asarray(i + n if i < 0 else i, np.int64 if abs(i) >= 2**31 else np.int32)
    aval = get_aval(i)
    if aval.dtype.kind == "u":
        return i
    if aval.dtype.kind not in "i" or aval.shape != ():
        raise TypeError(f"index must be an integer scalar, got {aval.str_short()}")
    n = np.asarray(n, aval.dtype)
    return ew.select_n(ew.lt(i, np.zeros((), aval.dtype)), i, ew.add(i, n))


def dynamic_slice(operand, start_indices, slice_sizes, *, allow_negative_indices=True):
    """The slice of `operand` of shape `slice_sizes` starting at traced `start_indices`.

    Starts are clamped so that the slice fits (XLA semantics): with an operand of length 5
    and size 3, start 4 reads from 2.

    Examples:
      >>> import jumba.numpy as jnp
      >>> dynamic_slice(jnp.arange(5), [4], [3])
      Array([2, 3, 4], dtype=int32)
    """
    shape = get_aval(operand).shape
    starts = _start_list(start_indices, len(shape))
    if allow_negative_indices:
        starts = [_normalize_start(s, n) for s, n in zip(starts, shape)]
    return _bind_checked(dynamic_slice_p, operand, *starts, slice_sizes=_ints(slice_sizes))


def dynamic_update_slice(operand, update, start_indices, *, allow_negative_indices=True):
    """`operand` with `update` written at traced `start_indices` (clamped so it fits)."""
    shape = get_aval(operand).shape
    starts = _start_list(start_indices, len(shape))
    if allow_negative_indices:
        starts = [_normalize_start(s, n) for s, n in zip(starts, shape)]
    return _bind_checked(dynamic_update_slice_p, operand, update, *starts)


def _zeros_but(ndim, axis, value):
    starts = [np.zeros((), np.int32)] * ndim
    starts[axis] = value
    return starts


def dynamic_slice_in_dim(operand, start_index, slice_size: int, axis: int = 0, *,
                         allow_negative_indices=True):
    shape = get_aval(operand).shape
    axis = axis % len(shape)
    sizes = list(shape)
    sizes[axis] = int(slice_size)
    return dynamic_slice(operand, _zeros_but(len(shape), axis, start_index), sizes,
                         allow_negative_indices=allow_negative_indices)


def dynamic_index_in_dim(operand, index, axis: int = 0, keepdims: bool = True, *,
                         allow_negative_indices=True):
    out = dynamic_slice_in_dim(operand, index, 1, axis,
                               allow_negative_indices=allow_negative_indices)
    return out if keepdims else st.squeeze(out, (axis,))


def dynamic_update_slice_in_dim(operand, update, start_index, axis: int, *,
                                allow_negative_indices=True):
    ndim = get_aval(operand).ndim
    return dynamic_update_slice(operand, update, _zeros_but(ndim, axis % ndim, start_index),
                                allow_negative_indices=allow_negative_indices)


def dynamic_update_index_in_dim(operand, update, index, axis: int, *,
                                allow_negative_indices=True):
    aval = get_aval(operand)
    axis = axis % aval.ndim
    if get_aval(update).ndim == aval.ndim - 1:
        update = st.expand_dims(update, (axis,))
    return dynamic_update_slice_in_dim(operand, update, index, axis,
                                       allow_negative_indices=allow_negative_indices)


def slice_in_dim(operand, start_index, limit_index, stride: int = 1, axis: int = 0):
    """A static slice along one axis; None and negative bounds as Python's."""
    shape = get_aval(operand).shape
    axis = axis % len(shape)
    start, limit, _ = slice(start_index, limit_index).indices(shape[axis])
    starts, limits, strides = [0] * len(shape), list(shape), [1] * len(shape)
    starts[axis], limits[axis], strides[axis] = start, max(start, limit), int(stride)
    return st.slice(operand, starts, limits, strides)


def index_in_dim(operand, index: int, axis: int = 0, keepdims: bool = True):
    n = get_aval(operand).shape[axis]
    index = int(index)
    if not -n <= index < n:
        raise IndexError(f"index {index} is out of bounds for axis {axis} with size {n}")
    index %= n
    out = slice_in_dim(operand, index, index + 1, 1, axis)
    return out if keepdims else st.squeeze(out, (axis % get_aval(operand).ndim,))


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
