"""jumba.numpy's index functions: take, take_along_axis, put_along_axis, put, nonzero and
friends, choose, diagonals and triangles, index constructors. Re-exported by `indexing`.

Each is written on `x[idx]`, `x.at[idx]` or the gather/scatter primitives, so all of them
differentiate, jit and vmap.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from jumba._src import core, dtypes
from jumba._src.core import Array, get_aval
from jumba._src.lax import elementwise as ew
from jumba._src.lax import slicing as sl
from jumba._src.lax import structural as st
from jumba._src.lax.slicing import GatherScatterMode
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.numpy.indexing import (
    _as_operand,
    _concrete,
    _index_dtype,
    _normalize,
    getitem,
)

__all__ = [
    "take", "take_along_axis", "put_along_axis", "put", "nonzero", "argwhere",
    "flatnonzero", "compress", "extract", "choose", "diagonal", "diag", "tril", "triu",
    "trace", "diag_indices", "diag_indices_from", "tril_indices", "triu_indices",
    "tril_indices_from", "triu_indices_from", "ix_", "unravel_index", "ravel_multi_index",
]


# ---------------------------------------------------------------------------------------
# take, take_along_axis, put_along_axis, put


def _canon_axis(axis, ndim, name):
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: axis {axis} is out of bounds for an array of rank {ndim}")
    return axis % ndim


def _int_indices(indices, name):
    indices = _as_operand(indices)
    if get_aval(indices).dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be an integer array, got "
                        f"{get_aval(indices).str_short()}")
    return indices


def _take_mode(mode, indices, n, name):
    """JAX's modes for take-like functions: fill (default), clip, wrap; 'raise' refused."""
    dt = _index_dtype(get_aval(indices).dtype.itemsize == 8)
    if mode is None or mode in ("fill", "drop"):
        return _normalize(indices, n, dt), GatherScatterMode.FILL_OR_DROP
    if mode == "clip":
        return st.convert_element_type(indices, dt), GatherScatterMode.CLIP
    if mode == "wrap":
        i = st.convert_element_type(indices, dt)
        return jnp.remainder(i, np.asarray(max(n, 1), dt)), GatherScatterMode.PROMISE_IN_BOUNDS
    if mode == "raise":
        raise NotImplementedError(f"{name}: mode='raise' is not supported (indices are not "
                                  "checked at run time); use 'fill', 'clip' or 'wrap'.")
    raise ValueError(f"{name}: invalid mode {mode!r}")


def take(a, indices, axis=None, out=None, mode=None, unique_indices=False,
         indices_are_sorted=False, fill_value=None):
    """Elements of `a` at `indices` along `axis` (flattened when None), as jax.numpy.take.

    Out-of-bounds indices give `fill_value` (NaN for floats) with the default mode "fill";
    mode="clip" clamps and mode="wrap" wraps.

    Examples:
      >>> take(jnp.array([1., 2., 3.]), jnp.array([2, -1, 5]))
      Array([ 3.,  3., nan], dtype=float32)
    """
    if out is not None:
        raise NotImplementedError("take: the out argument is not supported (arrays are "
                                  "immutable)")
    a = _as_operand(a)
    indices = _int_indices(indices, "take")
    if axis is None:
        a, axis = jnp.ravel(a), 0
    shape = get_aval(a).shape
    axis = _canon_axis(axis, len(shape), "take")
    n = shape[axis]
    idx_shape = get_aval(indices).shape
    if n == 0 and int(np.prod(idx_shape)) > 0:
        raise IndexError("Cannot do a non-empty jnp.take() from an empty axis.")
    out_shape = shape[:axis] + idx_shape + shape[axis + 1:]
    if 0 in out_shape:
        return jnp.zeros(out_shape, get_aval(a).dtype)
    indices, gmode = _take_mode(mode, indices, n, "take")
    k = len(idx_shape)
    dn = sl.GatherDimensionNumbers(
        tuple(range(axis)) + tuple(range(axis + k, len(out_shape))), (axis,), (axis,))
    sizes = shape[:axis] + (1,) + shape[axis + 1:]
    return sl.gather(a, st.reshape(indices, (*idx_shape, 1)), dn, sizes, mode=gmode,
                     fill_value=fill_value, unique_indices=unique_indices,
                     indices_are_sorted=indices_are_sorted)


def _along_axis(arr, indices, axis, name):
    arr = _as_operand(arr)
    indices = _int_indices(indices, name)
    if axis is None:
        arr, axis = jnp.ravel(arr), 0
        if get_aval(indices).ndim != 1:
            raise ValueError(f"{name}: with axis=None, indices must be 1-D")
    a_shape, i_shape = get_aval(arr).shape, get_aval(indices).shape
    if len(a_shape) != len(i_shape):
        raise ValueError(f"{name}: indices (shape {i_shape}) and arr (shape {a_shape}) must "
                         "have the same number of dimensions")
    axis = _canon_axis(axis, len(a_shape), name)
    return arr, indices, axis, a_shape, i_shape


def _batching_dnums(ndim, axis):
    batch = tuple(d for d in range(ndim) if d != axis)
    return batch


def take_along_axis(arr, indices, axis, mode=None, fill_value=None):
    """`arr` indexed along `axis` by `indices`, matching the other axes (as NumPy's).

    One gather whose other axes are batching axes of operand and indices.
    """
    arr, indices, axis, a_shape, i_shape = _along_axis(arr, indices, axis, "take_along_axis")
    try:
        common = [n if d == axis else np.broadcast_shapes((n,), (m,))[0]
                  for d, (n, m) in enumerate(zip(a_shape, i_shape))]
    except ValueError:
        raise ValueError(f"take_along_axis: shapes {a_shape} and {i_shape} do not broadcast "
                         "outside the indexed axis") from None
    a_target = tuple(a_shape[d] if d == axis else common[d] for d in range(len(a_shape)))
    i_target = tuple(i_shape[d] if d == axis else common[d] for d in range(len(i_shape)))
    arr, indices = st.broadcast_to(arr, a_target), st.broadcast_to(indices, i_target)
    if 0 in i_target:
        return jnp.zeros(i_target, get_aval(arr).dtype)
    if a_target[axis] == 0:
        raise IndexError("take_along_axis: cannot take from an empty axis")
    indices, gmode = _take_mode(mode, indices, a_shape[axis], "take_along_axis")
    batch = _batching_dnums(len(a_shape), axis)
    dn = sl.GatherDimensionNumbers((), (axis,), (axis,), batch, batch)
    return sl.gather(arr, st.reshape(indices, (*i_target, 1)), dn, (1,) * len(a_shape),
                     mode=gmode, fill_value=fill_value)


def put_along_axis(arr, indices, values, axis, inplace=True, *, mode=None):
    """`arr` with `values` written at `indices` along `axis`; needs inplace=False (JAX
    arrays are immutable, so a new array is returned)."""
    if inplace:
        raise ValueError("jumba.numpy.put_along_axis cannot modify arrays in place, because "
                         "jumba arrays are immutable. Pass inplace=False to get the updated "
                         "array instead.")
    arr, indices, axis, a_shape, i_shape = _along_axis(arr, indices, axis, "put_along_axis")
    i_target = tuple(i_shape[d] if d == axis else a_shape[d] for d in range(len(a_shape)))
    indices = st.broadcast_to(indices, i_target)
    values = _as_operand(values)
    values = st.broadcast_to(st.convert_element_type(values, get_aval(arr).dtype), i_target)
    smode = GatherScatterMode.FILL_OR_DROP if mode is None else GatherScatterMode.from_any(mode)
    indices = _normalize(indices, a_shape[axis], _index_dtype())
    batch = _batching_dnums(len(a_shape), axis)
    dn = sl.ScatterDimensionNumbers((), (axis,), (axis,), batch, batch)
    return sl.scatter(arr, st.reshape(indices, (*i_target, 1)), values, dn, mode=smode)


def put(a, ind, v, mode=None, *, inplace=True):
    """`a` with the flat positions `ind` set to `v`; needs inplace=False. Modes: "clip"
    (default) or "wrap"."""
    if inplace:
        raise ValueError("jumba.numpy.put cannot modify arrays in place, because jumba arrays "
                         "are immutable. Pass inplace=False to get the updated array instead.")
    a = _as_operand(a)
    shape = get_aval(a).shape
    ind = jnp.ravel(_int_indices(ind, "put"))
    flat = jnp.ravel(a)
    n = get_aval(flat).shape[0]
    v = jnp.ravel(_as_operand(v))
    v = st.broadcast_to(st.convert_element_type(v, get_aval(a).dtype), get_aval(ind).shape)
    if mode is None or mode == "clip":
        ind = jnp.clip(ind, 0, n - 1)
    elif mode == "wrap":
        ind = jnp.remainder(ind, n)
    else:
        raise ValueError(f"put: mode must be 'clip' or 'wrap', got {mode!r}")
    return jnp.reshape(flat.at[ind].set(v), shape)


# ---------------------------------------------------------------------------------------
# nonzero and friends: data-dependent sizes, eager or with size=


def _prefix_sum(x):
    """Inclusive cumulative sum of a 1-D array, in log2(n) shifted adds."""
    n = get_aval(x).shape[0]
    zero = np.zeros((), get_aval(x).dtype)
    shift = 1
    while shift < n:
        x = ew.add(x, st.pad(st.slice(x, (0,), (n - shift,)), zero, ((shift, 0, 0),)))
        shift *= 2
    return x


def _fill_values(fill_value, ndim):
    if fill_value is None:
        return (0,) * ndim
    if isinstance(fill_value, (tuple, list)):
        if len(fill_value) != ndim:
            raise ValueError(f"fill_value must be a scalar or a tuple of length {ndim}")
        return tuple(fill_value)
    return (fill_value,) * ndim


def nonzero(a, *, size=None, fill_value=None):
    """Indices of the nonzero elements, one array per axis.

    The number of results depends on the values, so under jit pass `size` (results beyond
    it are dropped; missing ones are `fill_value`, default 0).
    """
    a = _as_operand(a)
    aval = get_aval(a)
    if aval.ndim == 0:
        raise ValueError("Calling nonzero on 0d arrays is not allowed. Use "
                         "jnp.atleast_1d(scalar).nonzero() instead.")
    dt = _index_dtype()
    fills = _fill_values(fill_value, aval.ndim)
    v = _concrete(a)
    if v is not None:
        res = np.nonzero(v)
        if size is not None:
            size = operator.index(size)
            res = tuple(np.concatenate([r[:size], np.full(max(0, size - r.size), f)])
                        for r, f in zip(res, fills))
        return tuple(Array(r.astype(dt), False) for r in res)
    if size is None:
        raise core.ConcretizationTypeError(
            f"nonzero of a traced array {aval.str_short()}: the number of results depends on "
            "the values, which are unknown while tracing. Pass size=N (and fill_value=...) "
            "to fix it, e.g. jnp.nonzero(x, size=N), or keep the shape with "
            "jnp.where(x != 0, ...).")
    size = operator.index(size)
    flat = jnp.ravel(a)
    n = aval.size
    mask = ew.ne(flat, np.zeros((), aval.dtype)) if aval.dtype != np.bool_ else flat
    count = _prefix_sum(st.convert_element_type(mask, dt))
    target = ew.select_n(mask, st.full((n,), size, dt), ew.sub(count, np.ones((), dt)))
    pos = sl.scatter(st.full((size,), n, dt), st.reshape(target, (n, 1)),
                     Array(np.arange(n, dtype=dt), False),
                     sl.ScatterDimensionNumbers((), (0,), (0,)), mode="drop",
                     unique_indices=True, indices_are_sorted=True)
    valid = ew.lt(pos, np.asarray(n, dt))
    out, stride = [], n
    for d, f in zip(aval.shape, fills):
        stride //= max(d, 1)
        coord = jnp.remainder(jnp.floor_divide(pos, max(stride, 1)), max(d, 1))
        out.append(jnp.where(valid, coord, st.convert_element_type(f, dt)))
    return tuple(out)


def flatnonzero(a, *, size=None, fill_value=None):
    return nonzero(jnp.ravel(_as_operand(a)), size=size, fill_value=fill_value)[0]


def argwhere(a, *, size=None, fill_value=None):
    """Indices of the nonzero elements, one row per element (shape (count, ndim))."""
    a = _as_operand(a)
    ndim = get_aval(a).ndim
    res = nonzero(jnp.atleast_1d(a), size=size, fill_value=fill_value)
    out = jnp.stack(res, axis=1)
    return st.reshape(st.slice(out, (0, 0), (get_aval(out).shape[0], 0)),
                      (get_aval(out).shape[0], 0)) if ndim == 0 else out


def compress(condition, a, axis=None, *, size=None, fill_value=0, out=None):
    """Slices of `a` along `axis` where `condition` is true; `size` fixes the count."""
    if out is not None:
        raise NotImplementedError("compress: the out argument is not supported")
    cond = _as_operand(condition)
    if get_aval(cond).ndim != 1:
        raise ValueError("compress: condition must be a 1-D array")
    a = _as_operand(a)
    if axis is None:
        a, axis = jnp.ravel(a), 0
    axis = _canon_axis(axis, get_aval(a).ndim, "compress")
    n = get_aval(a).shape[axis]
    m = get_aval(cond).shape[0]
    cond = ew.ne(cond, np.zeros((), get_aval(cond).dtype)) if get_aval(
        cond).dtype != np.bool_ else cond
    if m > n:
        extra = _concrete(st.slice(cond, (n,), (m,)))
        if extra is not None and extra.any():
            raise ValueError("compress: condition has True entries beyond the array's length")
        cond = st.slice(cond, (0,), (n,))
    idx = flatnonzero(cond, size=size, fill_value=n)
    return take(a, idx, axis=axis, mode="fill", fill_value=fill_value)


def extract(condition, arr, *, size=None, fill_value=0):
    """Elements of `arr` where `condition` is nonzero, flattened; `size` fixes the count."""
    return compress(jnp.ravel(_as_operand(condition)), jnp.ravel(_as_operand(arr)),
                    size=size, fill_value=fill_value)


def choose(a, choices, out=None, mode="raise"):
    """Elements of `choices[a]`, broadcast together (as numpy.choose)."""
    if out is not None:
        raise NotImplementedError("choose: the out argument is not supported")
    a = _int_indices(a, "choose")
    n = len(choices)
    if mode == "raise":
        v = _concrete(a)
        if v is None:
            raise core.ConcretizationTypeError(
                "jnp.choose with mode='raise' checks the indices, which are traced here; use "
                "mode='wrap' or mode='clip' under jit or vmap.")
        if v.size and (v.min() < 0 or v.max() >= n):
            raise ValueError("invalid entry in choice array")
    elif mode == "wrap":
        a = jnp.remainder(a, n)
    elif mode == "clip":
        a = jnp.clip(a, 0, n - 1)
    else:
        raise ValueError(f"choose: invalid mode {mode!r}")
    cs = jnp.promote_dtypes(*choices)
    shape = np.broadcast_shapes(get_aval(a).shape, *(get_aval(c).shape for c in cs))
    cs = [st.broadcast_to(c, shape) for c in cs]
    return ew.select_n(st.broadcast_to(st.convert_element_type(a, np.int32), shape), *cs)


# ---------------------------------------------------------------------------------------
# Diagonals and triangles


def _diag_index(n, m, offset):
    if offset >= 0:
        length = max(0, min(n, m - offset))
        return np.arange(length), np.arange(length) + offset
    length = max(0, min(n + offset, m))
    return np.arange(length) - offset, np.arange(length)


def diagonal(a, offset=0, axis1=0, axis2=1):
    """The diagonal of `a` over `axis1` and `axis2`, as the last axis of the result."""
    a = _as_operand(a)
    nd = get_aval(a).ndim
    if nd < 2:
        raise ValueError("diagonal requires an array of at least two dimensions")
    a1, a2 = _canon_axis(axis1, nd, "diagonal"), _canon_axis(axis2, nd, "diagonal")
    if a1 == a2:
        raise ValueError("diagonal: axis1 and axis2 cannot be the same")
    a = jnp.moveaxis(a, (a1, a2), (-2, -1))
    n, m = get_aval(a).shape[-2:]
    rows, cols = _diag_index(n, m, operator.index(offset))
    return getitem(a, (Ellipsis, rows.astype(np.int32), cols.astype(np.int32)))


def diag(v, k=0):
    """A 2-D array with `v` on diagonal `k` (1-D `v`), or the diagonal of a 2-D `v`."""
    v = _as_operand(v)
    nd = get_aval(v).ndim
    k = operator.index(k)
    if nd == 2:
        return diagonal(v, k)
    if nd != 1:
        raise ValueError("diag: input must be 1-D or 2-D")
    n = get_aval(v).shape[0] + abs(k)
    rows, cols = _diag_index(n, n, k)
    out = jnp.zeros((n, n), get_aval(v).dtype)
    return out.at[rows.astype(np.int32), cols.astype(np.int32)].set(v, unique_indices=True)


def _triangle(m, k, lower, name):
    m = _as_operand(m)
    shape = get_aval(m).shape
    if len(shape) < 2:
        raise ValueError(f"{name} requires an array of at least two dimensions")
    mask = np.tri(shape[-2], shape[-1], k=k, dtype=bool)
    if not lower:
        mask = ~np.tri(shape[-2], shape[-1], k=k - 1, dtype=bool)
    return jnp.where(mask, m, jnp.zeros((), get_aval(m).dtype))


def tril(m, k=0):
    """`m` with the elements above diagonal `k` zeroed (last two axes)."""
    return _triangle(m, operator.index(k), True, "tril")


def triu(m, k=0):
    """`m` with the elements below diagonal `k` zeroed (last two axes)."""
    return _triangle(m, operator.index(k), False, "triu")


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """Sum along a diagonal."""
    if out is not None:
        raise NotImplementedError("trace: the out argument is not supported")
    return jnp.sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


# ---------------------------------------------------------------------------------------
# Index constructors (static shapes, so computed with NumPy)


def _int_arrays(arrs):
    dt = dtypes.default_int_dtype()
    return tuple(Array(np.asarray(x).astype(dt), False) for x in arrs)


def diag_indices(n, ndim=2):
    return _int_arrays(np.diag_indices(operator.index(n), ndim))


def diag_indices_from(arr):
    shape = get_aval(_as_operand(arr)).shape
    if len(shape) < 2 or len(set(shape)) != 1:
        raise ValueError("diag_indices_from: input must be at least 2-D with equal axes")
    return diag_indices(shape[0], len(shape))


def tril_indices(n, k=0, m=None):
    return _int_arrays(np.tril_indices(n, k, m))


def triu_indices(n, k=0, m=None):
    return _int_arrays(np.triu_indices(n, k, m))


def tril_indices_from(arr, k=0):
    shape = get_aval(_as_operand(arr)).shape
    return tril_indices(shape[-2], k, shape[-1])


def triu_indices_from(arr, k=0):
    shape = get_aval(_as_operand(arr)).shape
    return triu_indices(shape[-2], k, shape[-1])


def ix_(*args):
    """Open-mesh index arrays from 1-D sequences (traced arrays allowed)."""
    out = []
    n = len(args)
    for k, a in enumerate(args):
        a = _as_operand(a)
        aval = get_aval(a)
        if aval.ndim != 1:
            raise ValueError("ix_: arguments must be 1-D")
        out.append(st.reshape(a, (1,) * k + (aval.shape[0],) + (1,) * (n - k - 1)))
    return tuple(out)


def unravel_index(indices, shape):
    """Coordinates of flat `indices` in an array of `shape`; out-of-range indices clamp."""
    indices = _int_indices(indices, "unravel_index")
    shape = tuple(operator.index(s) for s in np.atleast_1d(shape))
    total = int(np.prod(shape, dtype=np.int64))
    i = jnp.clip(jnp.where(jnp.less(indices, 0), jnp.add(indices, total), indices), 0,
                 max(total - 1, 0))
    out, stride = [], total
    for d in shape:
        stride //= max(d, 1)
        out.append(jnp.remainder(jnp.floor_divide(i, max(stride, 1)), max(d, 1)))
    return tuple(out)


def ravel_multi_index(multi_index, dims, mode="raise", order="C"):
    """Flat indices of coordinate arrays (modes 'clip' or 'wrap'; 'raise' checks eagerly)."""
    if order != "C":
        raise NotImplementedError("ravel_multi_index: only order='C' is supported")
    dims = tuple(operator.index(d) for d in dims)
    if len(multi_index) != len(dims):
        raise ValueError("ravel_multi_index: need one index array per dimension")
    idx = [_int_indices(i, "ravel_multi_index") for i in multi_index]
    if mode == "raise":
        for i, d in zip(idx, dims):
            v = _concrete(i)
            if v is None:
                raise core.ConcretizationTypeError(
                    "ravel_multi_index with mode='raise' checks the indices, which are traced "
                    "here; use mode='clip' or mode='wrap'.")
            if v.size and (v.min() < 0 or v.max() >= d):
                raise ValueError("invalid entry in coordinates array")
    elif mode == "clip":
        idx = [jnp.clip(i, 0, d - 1) for i, d in zip(idx, dims)]
    elif mode == "wrap":
        idx = [jnp.remainder(i, d) for i, d in zip(idx, dims)]
    else:
        raise ValueError(f"ravel_multi_index: invalid mode {mode!r}")
    out: Any = 0
    for i, d in zip(idx, dims):
        out = jnp.add(jnp.multiply(out, d), i)
    return _as_operand(out)
