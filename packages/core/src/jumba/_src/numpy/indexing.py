"""NumPy indexing on jumba arrays: `x[idx]` and `x.at[idx].set/add/...`.

Static indices (ints, slices, None, Ellipsis) become slice/reshape/rev primitives.
"""

from __future__ import annotations

import operator

import numpy as np

from jumba._src.core import Array, Tracer, get_aval
from jumba._src.lax import structural as st


def _is_static_index(i) -> bool:
    return i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer)) and \
        not isinstance(i, bool)


def _expand_ellipsis(idx, ndim):
    n_ellipsis = sum(1 for i in idx if i is Ellipsis)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = sum(1 for i in idx if i is not None and i is not Ellipsis)
    if consumed > ndim:
        raise IndexError(f"too many indices for array: array is {ndim}-dimensional, but "
                         f"{consumed} were indexed")
    if n_ellipsis:
        k = idx.index(Ellipsis)
        idx = idx[:k] + (slice(None),) * (ndim - consumed) + idx[k + 1:]
    else:
        idx = idx + (slice(None),) * (ndim - consumed)
    return idx


def getitem(x, idx):
    if not isinstance(idx, tuple):
        idx = (idx,)
    aval = get_aval(x)
    if all(_is_static_index(i) for i in idx):
        return _static_getitem(x, _expand_ellipsis(idx, aval.ndim))
    raise NotImplementedError("advanced indexing is not implemented yet")


def _static_getitem(x, idx):
    shape = get_aval(x).shape
    start, limit, strides, rev_axes, out_shape = [], [], [], [], []
    axis = 0
    for i in idx:
        if i is None:
            out_shape.append(("new", 1))
            continue
        n = shape[axis]
        if isinstance(i, slice):
            s, e, step = i.indices(n)
            if step > 0:
                length = max(0, -(-(e - s) // step))
                start.append(s)
                limit.append(s + (length - 1) * step + 1 if length else s)
                strides.append(step)
            else:
                length = max(0, -(-(s - e) // -step))
                lo = s + (length - 1) * step if length else 0
                start.append(lo)
                limit.append(s + 1 if length else 0)
                strides.append(-step)
                rev_axes.append(axis)
            out_shape.append(("keep", length))
        else:
            k = operator.index(i)
            if not -n <= k < n:
                raise IndexError(f"index {k} is out of bounds for axis {axis} with size {n}")
            k %= n
            start.append(k)
            limit.append(k + 1)
            strides.append(1)
            out_shape.append(("drop", 1))
        axis += 1
    y = st.slice(x, start, limit, strides)
    if rev_axes:
        y = st.rev(y, tuple(rev_axes))
    final = [n for kind, n in out_shape if kind != "drop"]
    return st.reshape(y, final)


class _IndexUpdateHelper:
    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, idx):
        return _IndexUpdateRef(self.array, idx)


class _IndexUpdateRef:
    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array = array
        self.index = index

    def get(self, **kwargs):
        return getitem(self.array, self.index)


Array, Tracer, np  # noqa: B018
