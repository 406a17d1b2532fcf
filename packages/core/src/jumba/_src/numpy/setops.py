"""jumba.numpy's set operations on 1-D arrays: isin, union1d, intersect1d, setdiff1d,
setxor1d. Results are sorted and unique; their length depends on the values, so under jit
pass `size=` (missing entries are `fill_value`, default the smallest value of the result).
"""

from __future__ import annotations

import operator

import numpy as np

from jumba._src import core, dtypes
from jumba._src.core import Array, get_aval
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.numpy.index_functions import take
from jumba._src.numpy.indexing import _as_operand, _concrete
from jumba._src.numpy.sorting_searching import lexsort, unique

__all__ = ["isin", "union1d", "intersect1d", "setdiff1d", "setxor1d"]


def isin(element, test_elements, assume_unique: bool = False, invert: bool = False, *,
         method: str = "auto"):
    """Whether each element of `element` is in `test_elements` (shape of `element`).

    `method` ('auto', 'compare_all', 'binary_search', 'sort') is accepted as in JAX; every
    method compares each element with each test element.
    """
    if method not in ("auto", "compare_all", "binary_search", "sort"):
        raise ValueError(f"jumba.numpy.isin: method must be 'auto', 'compare_all', "
                         f"'binary_search' or 'sort', got {method!r}")
    element, test = _as_operand(element), jnp.ravel(_as_operand(test_elements))
    element, test = jnp.promote_dtypes(element, test)
    hit = jnp.any(jnp.equal(jnp.expand_dims(element, -1), test), axis=-1)
    return jnp.logical_not(hit) if invert else hit


def _flat_unique(x, size):
    """Sorted unique values of `x` padded to `size`, and which of them are real."""
    n = get_aval(x).shape[0]
    if n == 0:
        return x, jnp.zeros((0,), bool)
    vals, counts = unique(x, return_counts=True, size=size if size is not None else n)
    return vals, jnp.greater(counts, 0)


def _compact(values, keep, size, fill_value, name):
    """The kept `values` in sorted order, then `fill_value`, to length `size` (or the
    number kept, for concrete inputs without `size`)."""
    if size is None:
        kv, vv = _concrete(keep), _concrete(values)
        if kv is None or vv is None:
            raise core.ConcretizationTypeError(
                f"jumba.numpy.{name} of traced arrays: the result's length depends on the "
                f"values. Pass size=N (and fill_value=...), e.g. jnp.{name}(a, b, size=N).")
        return jnp.asarray(np.sort(vv[kv]))
    size = operator.index(size)
    n = get_aval(values).shape[0]
    dt = get_aval(values).dtype
    if n == 0:
        fill = 0 if fill_value is None else fill_value
        return jnp.full((size,), fill, dt)
    order = lexsort((values, jnp.logical_not(keep)))  # kept first, each group sorted
    ordered = take(values, order)
    count = jnp.sum(keep, dtype=dtypes.default_int_dtype())
    if size > n:
        ordered = jnp.concatenate([ordered, jnp.broadcast_to(ordered[:1], (size - n,))])
    ordered = ordered[:size]
    if fill_value is None:
        fill = jnp.where(jnp.greater(count, 0), ordered[0], jnp.zeros((), dt))
    else:
        fill = jnp.astype(jnp.asarray(fill_value), dt)
    pos = Array(np.arange(size, dtype=get_aval(count).dtype), False)
    return jnp.where(jnp.less(pos, count), ordered, fill)


def _prep(ar1, ar2):
    a, b = jnp.ravel(_as_operand(ar1)), jnp.ravel(_as_operand(ar2))
    return jnp.promote_dtypes(a, b)


def union1d(ar1, ar2, *, size: int | None = None, fill_value=None):
    """Sorted unique values found in either array."""
    a, b = _prep(ar1, ar2)
    both = jnp.concatenate([a, b])
    if size is None:
        return unique(both)
    return unique(both, size=size, fill_value=fill_value)


def setdiff1d(ar1, ar2, assume_unique: bool = False, *, size: int | None = None,
              fill_value=None):
    """Sorted unique values of `ar1` that are not in `ar2`."""
    a, b = _prep(ar1, ar2)
    vals, real = _flat_unique(a, None)
    keep = jnp.logical_and(real, isin(vals, b, invert=True))
    return _compact(vals, keep, size, fill_value, "setdiff1d")


def setxor1d(ar1, ar2, assume_unique: bool = False, *, size: int | None = None,
             fill_value=None):
    """Sorted unique values found in exactly one of the arrays."""
    a, b = _prep(ar1, ar2)
    ua, ra = _flat_unique(a, None)
    ub, rb = _flat_unique(b, None)
    keep_a = jnp.logical_and(ra, jnp.logical_not(_any_real_match(ua, ub, rb)))
    keep_b = jnp.logical_and(rb, jnp.logical_not(_any_real_match(ub, ua, ra)))
    return _compact(jnp.concatenate([ua, ub]), jnp.concatenate([keep_a, keep_b]), size,
                    fill_value, "setxor1d")


def _any_real_match(x, pool, pool_real):
    """x[i] equals a real (non-padding) entry of `pool`."""
    eq = jnp.equal(jnp.expand_dims(x, -1), pool)
    return jnp.any(jnp.logical_and(eq, pool_real), axis=-1)


def intersect1d(ar1, ar2, assume_unique: bool = False, return_indices: bool = False, *,
                size: int | None = None, fill_value=None):
    """Sorted unique values found in both arrays; with `return_indices`, also the indices
    of their first occurrences in each (padded with an out-of-bounds index)."""
    a, b = _prep(ar1, ar2)
    n1, n2 = get_aval(a).shape[0], get_aval(b).shape[0]
    idt = dtypes.default_int_dtype()
    if n1 == 0 or n2 == 0:
        out = _compact(a[:0], jnp.zeros((0,), bool), size, fill_value, "intersect1d") \
            if size is not None else a[:0]
        if return_indices:
            k = get_aval(out).shape[0]
            return out, jnp.full((k,), n1, idt), jnp.full((k,), n2, idt)
        return out
    ua, ia, ca = unique(a, return_index=True, return_counts=True, size=n1)
    ub, ib, cb = unique(b, return_index=True, return_counts=True, size=n2)
    ra, rb = jnp.greater(ca, 0), jnp.greater(cb, 0)
    match = jnp.logical_and(jnp.equal(jnp.expand_dims(ua, -1), ub), rb)
    keep = jnp.logical_and(ra, jnp.any(match, axis=-1))
    out = _compact(ua, keep, size, fill_value, "intersect1d")
    if not return_indices:
        return out
    # Where each kept value sits in ua/ub, then its first index in ar1/ar2.
    j_b = jnp.argmax(match, axis=-1)
    if size is None:
        sel = np.flatnonzero(_concrete(keep))
        return out, take(ia, sel.astype(np.int32)), take(ib, take(j_b, sel.astype(np.int32)))
    order = lexsort((ua, jnp.logical_not(keep)))
    count = jnp.sum(keep, dtype=idt)
    size = operator.index(size)
    order = jnp.concatenate([order, jnp.zeros((max(size - n1, 0),), get_aval(order).dtype)])
    order = order[:size]
    valid = jnp.less(Array(np.arange(size, dtype=idt), False), count)
    i1 = jnp.where(valid, take(ia, order), n1)
    i2 = jnp.where(valid, take(ib, take(j_b, order)), n2)
    return out, jnp.astype(i1, idt), jnp.astype(i2, idt)
