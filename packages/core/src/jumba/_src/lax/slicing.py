"""Indexing primitives: dynamic_slice and dynamic_update_slice, and the dimension numbers
and out-of-bounds modes that gather and the scatters (lax/gather_scatter.py, re-exported
here) take.

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
from jumba._src.interpreters.batching import bdim_at_front
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


# Gather and the scatters live in their own module; their batching rules serve the dynamic
# slices above (resolved when those run), and the lax API names them from here.
from jumba._src.lax.gather_scatter import (  # noqa: E402, F401
    _gather_batch,
    _gather_params,
    _scatter_batch,
    gather,
    gather_p,
    scatter,
    scatter_add,
    scatter_add_p,
    scatter_max,
    scatter_max_p,
    scatter_min,
    scatter_min_p,
    scatter_mul,
    scatter_mul_p,
    scatter_p,
    scatter_sub,
)
