"""jax.lax's convenience functions and enums, written on the primitives (no rules of their
own: they differentiate, batch and compile through what they call)."""

from __future__ import annotations

import enum
import math
from typing import Any

import numpy as np

from jumba._src import dtypes
from jumba._src.core import Array, get_aval
from jumba._src.lax import elementwise as ew
from jumba._src.lax import structural as st
from jumba._src.lax.dot import dot_general


class Precision(enum.Enum):
    """Matrix-product precision hints (accepted and ignored on the CPU, as float32 products
    are exact float32 BLAS products here)."""

    DEFAULT = 0
    HIGH = 1
    HIGHEST = 2


class RoundingMethod(enum.IntEnum):
    """`lax.round`'s rounding methods."""

    AWAY_FROM_ZERO = 0
    TO_NEAREST_EVEN = 1


PrecisionLike = Any
DotDimensionNumbers = tuple  # ((lhs_contracting, rhs_contracting), (lhs_batch, rhs_batch))


def select(pred, on_true, on_false):
    """`on_true` where `pred`, else `on_false` (as jax.lax.select)."""
    return ew.select_n(pred, on_false, on_true)


def clamp(min, x, max):  # noqa: A002 (JAX's parameter names)
    """`x` clipped to [min, max] (as jax.lax.clamp)."""
    return ew.min(ew.max(x, min), max)


def reciprocal(x):
    """1 / x."""
    return ew.div(np.ones((), get_aval(x).dtype), x)


def iota(dtype, size: int):
    """[0, 1, ..., size - 1] of `dtype` (a constant: `size` must be static)."""
    dtype = dtypes.canonicalize_dtype(np.dtype(dtype))
    return Array(np.arange(int(size), dtype=dtype), False)


def broadcasted_iota(dtype, shape, dimension: int):
    """An array of `shape` whose values count along `dimension`."""
    shape = tuple(int(s) for s in shape)
    return st.broadcast_in_dim(iota(dtype, shape[dimension]), shape, (int(dimension),))


def full_like(x, fill_value, dtype=None, shape=None):
    """An array like `x` (its shape and dtype unless given) filled with `fill_value`."""
    aval = get_aval(x)
    return st.full(aval.shape if shape is None else tuple(shape), fill_value,
                   aval.dtype if dtype is None else dtype)


def collapse(operand, start_dimension: int, stop_dimension: int | None = None):
    """Merge the axes [start_dimension, stop_dimension) into one."""
    shape = get_aval(operand).shape
    stop = len(shape) if stop_dimension is None else stop_dimension
    merged = math.prod(shape[start_dimension:stop])
    return st.reshape(operand, (*shape[:start_dimension], merged, *shape[stop:]))


def dot(lhs, rhs, precision=None, preferred_element_type=None):
    """Vector/matrix products of rank-1 and rank-2 operands (as jax.lax.dot)."""
    nl, nr = get_aval(lhs).ndim, get_aval(rhs).ndim
    if nl not in (1, 2) or nr not in (1, 2):
        raise TypeError(f"lax.dot takes rank-1 or rank-2 operands, got ranks {nl} and {nr}; "
                        "use lax.dot_general for other ranks.")
    return dot_general(lhs, rhs, (((nl - 1,), (0,)), ((), ())), preferred_element_type)


def batch_matmul(lhs, rhs, precision=None):
    """Batched matrix product over the leading dimensions (equal in both operands)."""
    nl, nr = get_aval(lhs).ndim, get_aval(rhs).ndim
    if nl != nr or nl < 2:
        raise TypeError(f"batch_matmul needs operands of one rank >= 2, got {nl} and {nr}")
    batch = tuple(range(nl - 2))
    return dot_general(lhs, rhs, (((nl - 1,), (nl - 2,)), (batch, batch)))


def split(operand, sizes, axis: int = 0):
    """Split `operand` along `axis` into pieces of the given sizes."""
    shape = get_aval(operand).shape
    axis = axis % len(shape)
    if sum(sizes) != shape[axis]:
        raise ValueError(f"lax.split: sizes {tuple(sizes)} must sum to the axis size "
                         f"{shape[axis]} (shape {shape}, axis {axis})")
    out, start = [], 0
    for n in sizes:
        lo, hi = [0] * len(shape), list(shape)
        lo[axis], hi[axis] = start, start + n
        out.append(st.slice(operand, lo, hi))
        start += n
    return out


def broadcast_to_rank(x, rank: int):
    """`x` with leading size-1 axes added up to `rank`."""
    shape = get_aval(x).shape
    return st.reshape(x, (1,) * max(rank - len(shape), 0) + shape)


def broadcast_shapes(*shapes):
    """The NumPy broadcast of shapes."""
    return tuple(np.broadcast_shapes(*shapes))


def stack(operands, axis: int = 0):
    """Join arrays of one shape along a new axis `axis`."""
    operands = list(operands)
    if not operands:
        raise ValueError("lax.stack needs at least one array")
    rank = get_aval(operands[0]).ndim
    axis = _normalize_axis(axis, rank + 1, "stack")
    return st.concatenate([st.expand_dims(x, (axis,)) for x in operands], axis)


def unstack(x, axis: int = 0):
    """The slices of `x` along `axis`, as a tuple of arrays of one rank less."""
    shape = get_aval(x).shape
    axis = _normalize_axis(axis, len(shape), "unstack")
    out = []
    for i in range(shape[axis]):
        lo, hi = [0] * len(shape), list(shape)
        lo[axis], hi[axis] = i, i + 1
        out.append(st.squeeze(st.slice(x, lo, hi), (axis,)))
    return tuple(out)


def tile(operand, reps):
    """`operand` repeated `reps[i]` times along each axis i (as numpy.tile)."""
    reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
    shape = get_aval(operand).shape
    rank = max(len(shape), len(reps))
    shape = (1,) * (rank - len(shape)) + shape
    reps = (1,) * (rank - len(reps)) + reps
    x = st.reshape(operand, shape)
    # Broadcast each axis against a new repetition axis in front of it, then merge the pairs.
    paired = tuple(v for pair in zip(reps, shape) for v in pair)
    x = st.broadcast_in_dim(x, paired, tuple(2 * i + 1 for i in range(rank)))
    return st.reshape(x, tuple(r * s for r, s in zip(reps, shape)))


def empty(shape, dtype):
    """An array of `shape` and `dtype` (zeros: Jumba arrays are never uninitialised)."""
    return st.full(tuple(shape), 0, dtype)


def dtype(x):
    """The canonical dtype of a value, a type or a dtype-like (as jax.lax.dtype)."""
    if isinstance(x, (type, str, np.dtype)):
        return dtypes.canonicalize_dtype(np.dtype(x))
    return get_aval(x).dtype


def broadcast_like(arr, like_arr):
    """`arr` broadcast to the shape of `like_arr`."""
    return st.broadcast_to(arr, get_aval(like_arr).shape)


def index_take(src, idxs, axes):
    """Gather `src` at the points whose coordinates along `axes` are the 1-D arrays `idxs`.

    The result's first axis runs over the points; the axes of `src` not in `axes` follow.
    Indices wrap around (negative values count from the end).
    """
    from jumba._src.lax.slicing import GatherDimensionNumbers, gather

    axes = tuple(int(a) for a in axes)
    shape = get_aval(src).shape
    if len(idxs) != len(axes):
        raise ValueError(f"index_take: {len(idxs)} index arrays for {len(axes)} axes")
    columns = []
    for i, ax in zip(idxs, axes):
        i = st.convert_element_type(i, np.int32) if get_aval(i).dtype != np.int32 else i
        columns.append(st.expand_dims(ew.rem(ew.add(ew.rem(i, np.int32(shape[ax])),
                                                    np.int32(shape[ax])),
                                             np.int32(shape[ax])), (1,)))
    indices = st.concatenate(columns, 1)
    sizes = tuple(1 if d in axes else s for d, s in enumerate(shape))
    dnums = GatherDimensionNumbers(offset_dims=tuple(range(1, len(shape) - len(axes) + 1)),
                                   collapsed_slice_dims=axes, start_index_map=axes)
    return gather(src, indices, dnums, sizes)


def _normalize_axis(axis, rank, name):
    if not -rank <= axis < rank:
        raise ValueError(f"lax.{name}: axis {axis} is out of bounds for rank {rank}")
    return axis % rank
