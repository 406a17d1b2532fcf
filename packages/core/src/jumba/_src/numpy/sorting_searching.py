"""jumba.numpy's sorting and searching beyond `sort`/`argsort` (in `numpy/sorting.py`):
lexsort, partition, argpartition, sort_complex, searchsorted, unique and its array-API
variants, count_nonzero. All are written on the `sort` primitive (`lax.sorting`), gathers
and scatters, so they differentiate, jit and vmap (`unique` under jit needs `size=`).
"""

from __future__ import annotations

import operator
from typing import Any, NamedTuple

import numpy as np

from jumba._src import core, dtypes
from jumba._src.core import Array, get_aval
from jumba._src.lax import elementwise as ew
from jumba._src.lax import structural as st
from jumba._src.lax.sorting import sort as _lax_sort
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.numpy.index_functions import _prefix_sum, take, take_along_axis
from jumba._src.numpy.indexing import _as_operand, _concrete
from jumba._src.numpy.sorting import argsort, sort

__all__ = [
    "lexsort", "partition", "argpartition", "sort_complex",
    "searchsorted", "unique", "unique_all", "unique_counts", "unique_inverse",
    "unique_values", "count_nonzero",
]



def _canon_axis(axis, ndim, name):
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: axis {axis} is out of bounds for an array of rank {ndim}; "
                         f"pass an axis in [-{ndim}, {ndim}) or axis=None to flatten")
    return axis % ndim


def _index_dt():
    return dtypes.canonicalize_dtype(np.int64)


def _nan_last_less(a, b):
    """a < b in the total order that puts NaN last (NumPy's sort order)."""
    lt = ew.lt(a, b)
    if get_aval(a).dtype.kind != "f":
        return lt
    return jnp.logical_or(lt, jnp.logical_and(jnp.isnan(b), jnp.logical_not(jnp.isnan(a))))


def _nan_equal(a, b):
    eq = ew.eq(a, b)
    if get_aval(a).dtype.kind != "f":
        return eq
    return jnp.logical_or(eq, jnp.logical_and(jnp.isnan(a), jnp.isnan(b)))


def _argsort_last(keys):
    """Stable lexicographic argsort along the last axis, `keys[0]` the primary key."""
    n = get_aval(keys[0]).shape[-1]
    dt = _index_dt()
    iota = jnp.broadcast_to(Array(np.arange(n, dtype=dt), False), get_aval(keys[0]).shape)
    return _lax_sort([*keys, iota], dimension=-1, is_stable=True, num_keys=len(keys))[-1]


def _all_concrete(*xs):
    return all(type(x) is Array for x in xs)


def _moved(a, axis):
    return jnp.moveaxis(a, axis, -1)


def lexsort(keys, axis: int = -1):
    """Indices sorting by several keys, the LAST key primary (as numpy.lexsort)."""
    keys = [_as_operand(k) for k in keys]
    if not keys:
        raise TypeError("jumba.numpy.lexsort: need at least one key")
    shape = get_aval(keys[0]).shape
    if any(get_aval(k).shape != shape for k in keys):
        raise ValueError("jumba.numpy.lexsort: all keys need the same shape, got "
                         f"{[get_aval(k).shape for k in keys]}")
    if len(shape) == 0:
        return Array(np.zeros((), _index_dt()), False)
    axis = _canon_axis(axis, len(shape), "lexsort")
    if _all_concrete(*keys):
        return Array(np.lexsort([k._value for k in keys], axis).astype(_index_dt()), False)
    p = _argsort_last([_moved(k, axis) for k in reversed(keys)])
    return jnp.moveaxis(p, -1, axis)


def partition(a, kth: int, axis: int = -1):
    """Partially sorted `a`: position `kth` holds the value it would have when sorted, with
    smaller values before it and larger after (here: fully sorted before kth, as JAX)."""
    a = _as_operand(a)
    axis = _canon_axis(axis, get_aval(a).ndim, "partition")
    kth = _check_kth(kth, get_aval(a).shape[axis], "partition")
    return take_along_axis(a, argpartition(a, kth, axis), axis)


def argpartition(a, kth: int, axis: int = -1):
    """Indices that partition `a` along `axis` around position `kth` (see `partition`)."""
    a = _as_operand(a)
    axis = _canon_axis(axis, get_aval(a).ndim, "argpartition")
    _check_kth(kth, get_aval(a).shape[axis], "argpartition")
    return argsort(a, axis)


def _check_kth(kth, n, name):
    if not isinstance(kth, (int, np.integer)):
        raise TypeError(f"jumba.numpy.{name}: kth must be a static int (got {kth!r}); arrays "
                        "of kth are not supported")
    kth = int(kth)
    if not -n <= kth < n:
        raise ValueError(f"jumba.numpy.{name}: kth={kth} is out of bounds for an axis of "
                         f"length {n}")
    return kth % n


def sort_complex(a):
    """`a` sorted by real part, then imaginary part, as a complex array."""
    a = _as_operand(a)
    out = sort(a, axis=-1)
    target = dtypes.canonicalize_dtype(np.result_type(get_aval(a).dtype, np.complex64))
    return jnp.astype(out, target)


# ---------------------------------------------------------------------------------------
# searchsorted


def searchsorted(a, v, side: str = "left", sorter=None, *, method: str = "scan"):
    """Indices at which to insert `v` into the sorted 1-D `a` to keep it sorted.

    Args:
      a: sorted 1-D array.
      v: values to insert (any shape).
      side: 'left' (first suitable index) or 'right' (last).
      sorter: optional indices sorting `a`.
      method: 'scan' and 'scan_unrolled' (binary search, log2(n) gathers), 'compare_all'
        (one comparison per pair of elements) or 'sort' (as JAX's, all give one answer).

    Returns:
      Integer indices with the shape of `v`.
    """
    if side not in ("left", "right"):
        raise ValueError(f"jumba.numpy.searchsorted: side must be 'left' or 'right', got "
                         f"{side!r}")
    if method not in ("scan", "scan_unrolled", "compare_all", "sort"):
        raise ValueError("jumba.numpy.searchsorted: method must be one of 'scan', "
                         f"'scan_unrolled', 'compare_all', 'sort'; got {method!r}")
    a, v = _as_operand(a), _as_operand(v)
    if get_aval(a).ndim != 1:
        raise ValueError(f"jumba.numpy.searchsorted: a must be 1-D, got shape "
                         f"{get_aval(a).shape}")
    if sorter is not None:
        a = take_along_axis(a, _as_operand(sorter), 0)
    a, v = jnp.promote_dtypes(a, v)
    dt = dtypes.canonicalize_dtype(np.int64)
    n = get_aval(a).shape[0]
    if _all_concrete(a, v):
        return Array(np.searchsorted(a._value, v._value, side).astype(dt), False)
    # Comparisons in NumPy's NaN-last order, so NaNs in `a` (at its end) are handled.
    def goes_after(x, y):  # v (y) goes after a[i] (x)?
        return jnp.logical_not(_nan_last_less(y, x)) if side == "right" else \
            _nan_last_less(x, y)

    if method == "compare_all" or n == 0:
        return jnp.sum(goes_after(a, jnp.expand_dims(v, -1)), axis=-1, dtype=dt)
    # Branch-free binary search: lo = #elements that v goes after, found bit by bit.
    lo = jnp.zeros(get_aval(v).shape, dt)
    step = 1 << (n.bit_length() - 1)
    while step:
        probe = jnp.add(lo, np.asarray(step, dt))
        inside = ew.le(probe, np.asarray(n, dt))
        idx = jnp.clip(jnp.subtract(probe, np.asarray(1, dt)), 0, n - 1)
        val = take(a, idx, mode="clip")
        lo = jnp.where(jnp.logical_and(inside, goes_after(val, v)), probe, lo)
        step >>= 1
    return lo


# ---------------------------------------------------------------------------------------
# unique


class _UniqueAll(NamedTuple):
    values: Any
    indices: Any
    inverse_indices: Any
    counts: Any


class _UniqueCounts(NamedTuple):
    values: Any
    counts: Any


class _UniqueInverse(NamedTuple):
    values: Any
    inverse_indices: Any


def unique(ar, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None, *, equal_nan: bool = True,
           size: int | None = None, fill_value=None, sorted: bool = True):  # noqa: A002
    """Sorted unique elements of `ar` (flattened unless `axis`), as jax.numpy.unique.

    The number of results depends on the values, so under jit pass `size`: results beyond it
    are dropped and missing ones are `fill_value` (default: the smallest unique value).
    `return_index`, `return_inverse` and `return_counts` add those arrays.
    """
    ar = _as_operand(ar)
    v = _concrete(ar)
    if axis is not None:
        if v is None:
            raise NotImplementedError("jumba.numpy.unique(axis=...) needs a concrete array "
                                      "(not under jit/vmap/grad); flatten or use axis=None")
        res = np.unique(v, return_index, return_inverse, return_counts, axis=axis,
                        equal_nan=equal_nan)
        return _wrap_unique(res)
    flat = jnp.ravel(ar)
    n = get_aval(flat).shape[0]
    dt = _index_dt()
    if v is not None and size is None:
        res = np.unique(v.ravel(), return_index, return_inverse, return_counts,
                        equal_nan=equal_nan)
        if return_inverse:
            res = list(res)
            res[1 + return_index] = res[1 + return_index].reshape(np.shape(v))
        return _wrap_unique(res)
    if size is None:
        raise core.ConcretizationTypeError(
            f"unique of a traced array {get_aval(ar).str_short()}: the number of unique "
            "values depends on the data, unknown while tracing. Pass size=N (and "
            "fill_value=...), e.g. jnp.unique(x, size=N).")
    size = operator.index(size)
    if n == 0:
        if fill_value is None:
            raise ValueError("jumba.numpy.unique: size= with an empty array has no values to "
                             "fill from; pass fill_value=...")
        out = [jnp.full((size,), fill_value, get_aval(flat).dtype)]
        out += [jnp.zeros((size,), dt)] * return_index
        out += [jnp.zeros(get_aval(ar).shape, dt)] * return_inverse
        out += [jnp.zeros((size,), dt)] * return_counts
        return out[0] if len(out) == 1 else tuple(out)
    perm = argsort(flat)
    s = take_along_axis(flat, perm, 0)
    prev = jnp.concatenate([s[:1], s[:-1]])
    new = jnp.logical_not(_nan_equal(s, prev) if equal_nan else ew.eq(s, prev))
    new = jnp.concatenate([Array(np.ones(1, bool), False), new[1:]])
    group = jnp.subtract(_prefix_sum(jnp.astype(new, dt)), np.asarray(1, dt))  # per sorted
    # Slot g of the output takes the first sorted element of group g.
    slots = jnp.where(new, group, np.asarray(size, dt))
    fill = s[0] if fill_value is None else jnp.asarray(fill_value, get_aval(s).dtype)
    values = jnp.full((size,), fill, get_aval(s).dtype).at[slots].set(s, mode="drop")
    out = [values]
    if return_index:
        out.append(jnp.zeros((size,), dt).at[slots].set(perm, mode="drop"))
    if return_inverse:
        inv = jnp.zeros((n,), dt).at[perm].set(group)
        out.append(jnp.reshape(inv, get_aval(ar).shape))
    if return_counts:
        out.append(jnp.zeros((size,), dt).at[group].add(np.ones((), dt), mode="drop"))
    return out[0] if len(out) == 1 else tuple(out)


def _wrap_unique(res):
    if isinstance(res, (tuple, list)):
        return tuple(jnp.asarray(r) for r in res)
    return jnp.asarray(res)


def unique_values(x, *, size=None, fill_value=None):
    """The unique values of `x` (array-API name)."""
    return unique(x, size=size, fill_value=fill_value)


def unique_counts(x, *, size=None, fill_value=None):
    """`(values, counts)` of the unique values of `x`."""
    return _UniqueCounts(*unique(x, return_counts=True, size=size, fill_value=fill_value))


def unique_inverse(x, *, size=None, fill_value=None):
    """`(values, inverse_indices)`: `values[inverse_indices]` rebuilds `x`."""
    return _UniqueInverse(*unique(x, return_inverse=True, size=size, fill_value=fill_value))


def unique_all(x, *, size=None, fill_value=None):
    """`(values, indices, inverse_indices, counts)` of the unique values of `x`."""
    return _UniqueAll(*unique(x, return_index=True, return_inverse=True, return_counts=True,
                              size=size, fill_value=fill_value))


def count_nonzero(a, axis=None, keepdims: bool = False):
    """Number of nonzero elements (along `axis`)."""
    a = _as_operand(a)
    nz = a if get_aval(a).dtype == np.bool_ else ew.ne(a, np.zeros((), get_aval(a).dtype))
    return jnp.sum(nz, axis=axis, keepdims=keepdims, dtype=dtypes.canonicalize_dtype(
        np.int64))


del st
