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
