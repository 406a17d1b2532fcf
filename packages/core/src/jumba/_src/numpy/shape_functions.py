"""jumba.numpy's shape functions: reshape, transpose, stack, split, tile, ... on the lax
primitives."""

from __future__ import annotations

import builtins
import operator

import numpy as np

from jumba._src import core
from jumba._src.core import Tracer, get_aval
from jumba._src.lax import elementwise as ew
from jumba._src.lax import reductions as red
from jumba._src.lax import structural as st
from jumba._src.numpy.lax_numpy import (  # noqa: F401
    _canon_axes,
    _is_array,
    _shape_tuple,
    asarray,
    promote_dtypes,
)


def shape(a):
    return get_aval(a).shape


def ndim(a):
    return get_aval(a).ndim


def size(a, axis=None):
    s = get_aval(a).shape
    return int(np.prod(s, dtype=np.int64)) if axis is None else s[axis]


def reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    if shape is None:
        shape = newshape
    if order != "C":
        raise NotImplementedError(f"jumba.numpy.reshape: order={order!r} is not supported; "
                                  "only order='C' (row-major) is. For Fortran order use "
                                  "a.T.reshape(shape[::-1]).T")
    a = asarray(a) if not _is_array(a) else a
    aval = get_aval(a)
    shape = _shape_tuple(shape)
    if shape.count(-1) > 1:
        raise ValueError(f"reshape: can only specify one unknown dimension, got {shape}")
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
        if known == 0 or aval.size % known:
            raise ValueError(f"cannot reshape array of shape {aval.shape} (size {aval.size}) "
                             f"into shape {shape}")
        shape = tuple(aval.size // known if s == -1 else s for s in shape)
    if int(np.prod(shape, dtype=np.int64)) != aval.size:
        raise ValueError(f"cannot reshape array of shape {aval.shape} (size {aval.size}) into "
                         f"shape {shape} (size {int(np.prod(shape, dtype=np.int64))})")
    return st.reshape(a, shape)


def ravel(a, order="C"):
    a = asarray(a) if not _is_array(a) else a
    return st.reshape(a, (get_aval(a).size,))


def transpose(a, axes=None):
    a = asarray(a) if not _is_array(a) else a
    nd = get_aval(a).ndim
    if axes is None:
        axes = tuple(range(nd))[::-1]
    axes = tuple(operator.index(x) % nd if nd else 0 for x in axes)
    if sorted(axes) != list(range(nd)):
        raise ValueError(f"transpose: axes {axes} don't match array of dimension {nd}")
    return st.transpose(a, axes)


def permute_dims(a, axes):
    return transpose(a, axes)


def matrix_transpose(x, /):
    nd = get_aval(x).ndim
    if nd < 2:
        raise ValueError(f"matrix_transpose needs at least 2 dimensions, got {nd}")
    return swapaxes(x, -1, -2)


def moveaxis(a, source, destination):
    a = asarray(a) if not _is_array(a) else a
    nd = get_aval(a).ndim
    src = _canon_axes(source, nd, "moveaxis")
    dst = _canon_axes(destination, nd, "moveaxis")
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination must have the same number of "
                         "elements")
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return st.transpose(a, tuple(order))


def swapaxes(a, axis1, axis2):
    a = asarray(a) if not _is_array(a) else a
    nd = get_aval(a).ndim
    (a1,), (a2,) = _canon_axes(axis1, nd, "swapaxes"), _canon_axes(axis2, nd, "swapaxes")
    perm = list(range(nd))
    perm[a1], perm[a2] = perm[a2], perm[a1]
    return st.transpose(a, tuple(perm))


def expand_dims(a, axis):
    a = asarray(a) if not _is_array(a) else a
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    nd = get_aval(a).ndim + len(axes)
    axes = _canon_axes(axes, nd, "expand_dims")
    return st.expand_dims(a, axes)


def squeeze(a, axis=None):
    a = asarray(a) if not _is_array(a) else a
    s = get_aval(a).shape
    if axis is None:
        axes = tuple(i for i, d in enumerate(s) if d == 1)
    else:
        axes = _canon_axes(axis, len(s), "squeeze")
    return st.squeeze(a, axes)


def atleast_1d(*arys):
    out = [reshape(a, (1,)) if get_aval(a).ndim == 0 else asarray(a) for a in arys]
    return out[0] if len(out) == 1 else out


def atleast_2d(*arys):
    out = []
    for a in arys:
        a = asarray(a) if not _is_array(a) else a
        nd = get_aval(a).ndim
        out.append(reshape(a, (1,) * (2 - nd) + get_aval(a).shape) if nd < 2 else a)
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys):
    out = []
    for a in arys:
        a = asarray(a) if not _is_array(a) else a
        s = get_aval(a).shape
        if len(s) == 0:
            a = reshape(a, (1, 1, 1))
        elif len(s) == 1:
            a = reshape(a, (1, s[0], 1))
        elif len(s) == 2:
            a = reshape(a, (*s, 1))
        out.append(a)
    return out[0] if len(out) == 1 else out


def broadcast_shapes(*shapes):
    return np.broadcast_shapes(*shapes)


def broadcast_to(array, shape):
    array = asarray(array) if not _is_array(array) else array
    shape = _shape_tuple(shape)
    src = get_aval(array).shape
    try:
        if np.broadcast_shapes(src, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast array of shape {src} to shape "
                         f"{shape}") from None
    return st.broadcast_to(array, shape)


def broadcast_arrays(*args):
    args = [asarray(a) if not _is_array(a) else a for a in args]
    shape = np.broadcast_shapes(*(get_aval(a).shape for a in args))
    return [st.broadcast_to(a, shape) for a in args]


def concatenate(arrays, axis=0, dtype=None):
    if not isinstance(arrays, (list, tuple)):
        arrays = list(arrays) if not _is_array(arrays) else [arrays[i] for i in
                                                             range(len(arrays))]
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    arrays = promote_dtypes(*arrays)
    if dtype is not None:
        arrays = [st.convert_element_type(a, dtype) for a in arrays]
    if axis is None:
        return st.concatenate([ravel(a) for a in arrays], 0)
    nd = get_aval(arrays[0]).ndim
    if nd == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    (ax,) = _canon_axes(axis, nd, "concatenate")
    for a in arrays:
        if get_aval(a).ndim != nd:
            raise ValueError(f"concatenate: all the input arrays must have the same number "
                             f"of dimensions; got shapes "
                             f"{[get_aval(b).shape for b in arrays]}")
    return st.concatenate(arrays, ax)


concat = concatenate


def stack(arrays, axis=0, out=None, dtype=None):
    arrays = list(arrays)
    if not arrays:
        raise ValueError("need at least one array to stack")
    shapes = {get_aval(asarray(a) if not _is_array(a) else a).shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"stack: all input arrays must have the same shape, got "
                         f"{sorted(shapes)}")
    nd = len(next(iter(shapes))) + 1
    (ax,) = _canon_axes(axis, nd, "stack")
    return concatenate([expand_dims(a, ax) for a in arrays], axis=ax, dtype=dtype)


def hstack(tup, dtype=None):
    arrs = [atleast_1d(a) for a in tup]
    return concatenate(arrs, axis=0 if get_aval(arrs[0]).ndim == 1 else 1, dtype=dtype)


def vstack(tup, dtype=None):
    return concatenate([atleast_2d(a) for a in tup], axis=0, dtype=dtype)


row_stack = vstack


def dstack(tup, dtype=None):
    return concatenate([atleast_3d(a) for a in tup], axis=2, dtype=dtype)


def column_stack(tup):
    arrs = [reshape(a, (-1, 1)) if get_aval(a).ndim < 2 else a for a in tup]
    return concatenate(arrs, axis=1)


def split(ary, indices_or_sections, axis=0):
    ary = asarray(ary) if not _is_array(ary) else ary
    aval = get_aval(ary)
    (ax,) = _canon_axes(axis, aval.ndim, "split")
    n = aval.shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0 or n % k:
            raise ValueError(f"array split does not result in an equal division: axis of "
                             f"size {n} into {k} sections")
        points = [i * (n // k) for i in range(1, k)]
    else:
        points = [operator.index(i) for i in indices_or_sections]
    bounds = [0, *points, n]
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        # Python slice semantics, as NumPy's ary[lo:hi] (negative indices wrap).
        lo, hi, _ = builtins.slice(lo, hi).indices(n)
        start = [0] * aval.ndim
        limit = list(aval.shape)
        start[ax], limit[ax] = lo, builtins.max(hi, lo)
        out.append(st.slice(ary, start, limit))
    return out


def array_split(ary, indices_or_sections, axis=0):
    if isinstance(indices_or_sections, (int, np.integer)):
        n = get_aval(ary).shape[axis]
        k = int(indices_or_sections)
        q, r = builtins.divmod(n, k)
        sizes = [q + 1] * r + [q] * (k - r)
        points = list(np.cumsum(sizes)[:-1])
        return split(ary, points, axis)
    return split(ary, indices_or_sections, axis)


def hsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, axis=1 if get_aval(ary).ndim > 1 else 0)


def vsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, axis=0)


def dsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, axis=2)


def tile(A, reps):
    from jumba._src.lax.convenience import tile as lax_tile

    return lax_tile(asarray(A) if not _is_array(A) else A, reps)


def repeat(a, repeats, axis=None, *, total_repeat_length=None):
    a = asarray(a) if not _is_array(a) else a
    if axis is None:
        a = ravel(a)
        axis = 0
    aval = get_aval(a)
    (ax,) = _canon_axes(axis, aval.ndim, "repeat")
    if isinstance(repeats, (int, np.integer)) and (
            total_repeat_length is None or total_repeat_length == repeats * aval.shape[ax]):
        r = int(repeats)
        shape = list(aval.shape)
        b = st.broadcast_in_dim(a, (*shape[:ax + 1], r, *shape[ax + 1:]),
                                tuple(i if i <= ax else i + 1 for i in range(aval.ndim)))
        shape[ax] *= r
        return st.reshape(b, shape)
    n = aval.shape[ax]
    if isinstance(repeats, Tracer) and repeats.concrete_value() is None:
        if total_repeat_length is None:
            raise core.ConcretizationTypeError(
                "jumba.numpy.repeat: traced array `repeats` give an output length unknown "
                "while tracing; pass total_repeat_length=<int> (static) or make repeats "
                "static (static_argnums).")
        return _repeat_traced(a, repeats, ax, int(total_repeat_length))
    reps = np.asarray(core.concrete_or_error(repeats, "jumba.numpy.repeat"))
    if reps.dtype.kind not in "iub":
        if reps.size and not np.all(reps == np.round(reps)):
            raise ValueError(f"repeat: repeats must be integers, got {reps}")
        reps = reps.astype(np.int64)
    if reps.ndim > 1 or (reps.ndim == 1 and reps.shape[0] not in (1, n)):
        raise ValueError(f"repeat: repeats of shape {reps.shape} do not match axis {ax} of "
                         f"size {n} (shape {aval.shape})")
    if np.any(reps < 0):
        raise ValueError("repeat: repeats may not contain negative values")
    idx = np.repeat(np.arange(n), np.broadcast_to(reps, (n,)))
    if total_repeat_length is not None:
        # As JAX: truncate, or fill up to the requested length with the last element.
        L = int(total_repeat_length)
        idx = idx[:L] if len(idx) >= L or n == 0 else np.concatenate(
            [idx, np.full(L - len(idx), n - 1)])
    from jumba._src.numpy.indexing import take

    return take(a, np.asarray(idx, np.int32), axis=ax, mode="clip", indices_are_sorted=True)


def _repeat_traced(a, repeats, ax, length):
    # As JAX: output position i takes source k, the last k whose start offset
    # (exclusive cumsum of repeats) is <= i; positions past sum(repeats) take the last k.
    from jumba._src.lax.cumulative import cumsum
    from jumba._src.numpy.indexing import take

    n = get_aval(a).shape[ax]
    reps = st.broadcast_to(st.convert_element_type(repeats, np.int32), (n,))
    ends = cumsum(reps, 0)
    pos = np.arange(length, dtype=np.int32)
    src = red.reduce_sum(st.convert_element_type(
        ew.le(st.broadcast_in_dim(ends, (length, n), (1,)),
              st.broadcast_in_dim(pos, (length, n), (0,))), np.int32), (1,))
    src = ew.min(src, np.int32(builtins.max(n - 1, 0)))
    return take(a, src, axis=ax, mode="clip", indices_are_sorted=True)


def flip(m, axis=None):
    m = asarray(m) if not _is_array(m) else m
    axes = _canon_axes(axis, get_aval(m).ndim, "flip")
    return st.rev(m, axes)


def fliplr(m):
    return flip(m, 1)


def flipud(m):
    return flip(m, 0)


def roll(a, shift, axis=None):
    a = asarray(a) if not _is_array(a) else a
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), get_aval(a).shape)
    shifts = (shift,) if isinstance(shift, (int, np.integer)) else tuple(shift)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    shifts, axes = np.broadcast_arrays(np.asarray(shifts), np.asarray(axes))
    for s, ax in zip(shifts.ravel(), axes.ravel()):
        n = get_aval(a).shape[ax]
        if n == 0:
            continue
        s = int(s) % n
        if s:
            a = concatenate([_take_slice(a, n - s, n, ax), _take_slice(a, 0, n - s, ax)], ax)
    return a


def _take_slice(a, lo, hi, ax):
    s = get_aval(a).shape
    start = [0] * len(s)
    limit = list(s)
    start[ax % len(s)], limit[ax % len(s)] = lo, hi
    return st.slice(a, start, limit)
