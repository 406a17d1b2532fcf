"""jumba.numpy.pad, every NumPy mode, on `lax.pad`, gathers and reductions.

Axes are padded one after another, as NumPy does (the corners then agree). The modes that
copy values (edge, reflect, symmetric, wrap) are linear maps of the axis; their coefficients
come from padding the identity matrix with NumPy itself, so large pads (wider than the axis)
and `reflect_type='odd'` follow NumPy's own iteration exactly, and each output element is a
gather of a few inputs with small integer weights.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from jumba._src import core
from jumba._src.core import get_aval
from jumba._src.lax import structural as st
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.numpy.index_functions import take
from jumba._src.numpy.indexing import _as_operand

__all__ = ["pad"]

_MODES = ("constant", "edge", "linear_ramp", "maximum", "mean", "median", "minimum",
          "reflect", "symmetric", "wrap", "empty")


def _pairs(value, ndim, name, *, ints=True):
    """NumPy's broadcasting of pad_width-like arguments to ((before, after),) * ndim."""
    if ints:
        arr = np.asarray(core.concrete_or_error(value, f"jumba.numpy.pad {name}"))
        if arr.dtype.kind not in "iub":
            raise TypeError(f"jumba.numpy.pad: {name} must be integers, got {value!r}")
        arr = arr.astype(np.int64)
        if np.any(arr < 0):
            raise ValueError(f"jumba.numpy.pad: {name} must be non-negative, got {value!r}")
        try:
            return [tuple(int(v) for v in row) for row in np.broadcast_to(arr, (ndim, 2))]
        except ValueError:
            raise ValueError(f"jumba.numpy.pad: {name} {value!r} does not fit an array of "
                             f"rank {ndim}; pass an int, (before, after), or one pair per "
                             "axis") from None
    # Values that may be traced: a scalar, a pair, or a pair per axis.
    if isinstance(value, (list, tuple)):
        if len(value) == 2 and all(np.ndim(v) == 0 for v in value) and (
                ndim != 2 or not isinstance(value[0], (list, tuple))):
            return [tuple(value)] * ndim
        if len(value) == 1:
            return _pairs(value[0], ndim, name, ints=False)
        if len(value) != ndim:
            raise ValueError(f"jumba.numpy.pad: {name} needs one entry per axis ({ndim})")
        return [tuple(v) if isinstance(v, (list, tuple)) and len(v) == 2 else (v, v)
                for v in value]
    arr = np.asarray(value) if not jnp._is_array(value) else None
    if arr is not None and arr.ndim == 2:
        return _pairs([tuple(r) for r in arr], ndim, name, ints=False)
    if arr is not None and arr.ndim == 1:
        return _pairs(tuple(arr), ndim, name, ints=False)
    return [(value, value)] * ndim


def _linear_map(n, before, after, mode, reflect_type):
    """(indices, weights) with out[i] = sum_k weights[i, k] * x[indices[i, k]]."""
    kw = {"reflect_type": reflect_type} if mode in ("reflect", "symmetric") else {}
    m = np.pad(np.eye(n, dtype=np.int64), ((before, after), (0, 0)), mode, **kw)
    k = max(int(np.max(np.count_nonzero(m, axis=1))), 1)
    idx = np.zeros((m.shape[0], k), np.int64)
    w = np.zeros((m.shape[0], k), np.int64)
    for i, row in enumerate(m):
        nz = np.nonzero(row)[0]
        idx[i, :len(nz)] = nz
        w[i, :len(nz)] = row[nz]
    return idx, w


def _pad_linear(x, axis, before, after, mode, reflect_type):
    n = get_aval(x).shape[axis]
    if n == 0:
        raise ValueError(f"jumba.numpy.pad: can't extend an empty axis {axis} with mode "
                         f"{mode!r}; use mode='constant'")
    idx, w = _linear_map(n, before, after, mode, reflect_type)
    if idx.shape[1] == 1 and np.all(w == 1):
        return take(x, idx[:, 0].astype(np.int32), axis=axis)
    dt = get_aval(x).dtype
    out = None
    shape = [1] * get_aval(x).ndim
    shape[axis] = idx.shape[0]
    for k in range(idx.shape[1]):
        g = take(x, idx[:, k].astype(np.int32), axis=axis)
        wk = np.reshape(w[:, k], shape)
        term = jnp.where(wk != 0, jnp.multiply(g, wk.astype(dt)), np.zeros((), dt))
        out = term if out is None else jnp.add(out, term)
    return out


def _edge_slab(x, axis, start, stop):
    return jnp._take_slice(x, start, stop, axis)


def _broadcast_along(v, x, axis, count):
    shape = list(get_aval(x).shape)
    shape[axis] = count
    return jnp.broadcast_to(v, tuple(shape))


def _pad_stat(x, axis, before, after, mode, stat_length):
    n = get_aval(x).shape[axis]
    if n == 0:
        raise ValueError(f"jumba.numpy.pad: can't compute the {mode} of an empty axis {axis}")
    lo_len, hi_len = stat_length
    lo_len = n if lo_len is None else min(max(int(lo_len), 1), n)
    hi_len = n if hi_len is None else min(max(int(hi_len), 1), n)
    from jumba._src.numpy import statistics

    fn: Callable = {"maximum": jnp.max, "minimum": jnp.min, "mean": jnp.mean,
                    "median": statistics.median}[mode]
    dt = get_aval(x).dtype

    def stat(part):
        v = fn(part, axis=axis, keepdims=True)
        if get_aval(v).dtype != dt:  # integer mean/median: NumPy rounds to the dtype
            v = jnp.astype(jnp.round(v), dt)
        return v

    parts = []
    if before:
        parts.append(_broadcast_along(stat(_edge_slab(x, axis, 0, lo_len)), x, axis, before))
    parts.append(x)
    if after:
        parts.append(_broadcast_along(stat(_edge_slab(x, axis, n - hi_len, n)), x, axis,
                                      after))
    return jnp.concatenate(parts, axis=axis) if len(parts) > 1 else x


def _pad_constant(x, axis, before, after, values):
    dt = get_aval(x).dtype
    lo_v, hi_v = (jnp.astype(jnp.asarray(v), dt) for v in values)
    cfg = [(0, 0, 0)] * get_aval(x).ndim
    cfg[axis] = (before, 0, 0)
    x = st.pad(x, lo_v, cfg)
    cfg[axis] = (0, after, 0)
    return st.pad(x, hi_v, cfg)


def _pad_ramp(x, axis, before, after, end_values):
    n = get_aval(x).shape[axis]
    if n == 0:
        raise ValueError(f"jumba.numpy.pad: can't ramp from an empty axis {axis}")
    dt = get_aval(x).dtype
    fdt = jnp.promote_dtypes_inexact(x)[0].dtype
    parts = []
    for count, edge, end, at_start in ((before, 0, end_values[0], True),
                                       (after, n - 1, end_values[1], False)):
        if not count:
            continue
        e = jnp.astype(_edge_slab(x, axis, edge, edge + 1), fdt)
        end = jnp.astype(jnp.asarray(end), fdt)
        # k/count of the way from the end value to the edge value (the edge excluded).
        frac = np.arange(count, dtype=np.float64) / count
        if not at_start:
            frac = frac[::-1]
        shape = [1] * get_aval(x).ndim
        shape[axis] = count
        frac = np.reshape(frac, shape).astype(fdt)
        ramp = jnp.add(end, jnp.multiply(jnp.subtract(e, end), frac))
        if dt.kind in "iu":
            ramp = jnp.floor(ramp)
        ramp = jnp.astype(ramp, dt)
        parts.append((at_start, ramp))
    seq = [r for s, r in parts if s] + [x] + [r for s, r in parts if not s]
    return jnp.concatenate(seq, axis=axis) if len(seq) > 1 else x


def pad(array, pad_width, mode: str | Callable = "constant", **kwargs):
    """`array` padded on each side of each axis, as numpy.pad / jax.numpy.pad.

    Args:
      array: the array.
      pad_width: an int, `(before, after)`, or one `(before, after)` per axis (static).
      mode: 'constant' (default), 'edge', 'linear_ramp', 'maximum', 'mean', 'median',
        'minimum', 'reflect', 'symmetric', 'wrap', 'empty' (zeros here), or a function
        `f(vector, iaxis_pad_width, iaxis, kwargs)` returning the padded vector
        (eager only).
      **kwargs: `constant_values` (constant), `end_values` (linear_ramp), `stat_length`
        (maximum/mean/median/minimum), `reflect_type` 'even'/'odd' (reflect/symmetric).

    Returns:
      The padded array.

    Examples:
      >>> import jumba.numpy as jnp
      >>> jnp.pad(jnp.array([1, 2, 3]), 2, mode="reflect").tolist()
      [3, 2, 1, 2, 3, 2, 1]
    """
    x = _as_operand(array)
    nd = get_aval(x).ndim
    widths = _pairs(pad_width, nd, "pad_width")
    allowed = {"constant": {"constant_values"}, "linear_ramp": {"end_values"},
               "maximum": {"stat_length"}, "mean": {"stat_length"},
               "median": {"stat_length"}, "minimum": {"stat_length"},
               "reflect": {"reflect_type"}, "symmetric": {"reflect_type"}}
    if callable(mode):
        return _pad_callable(x, widths, mode, kwargs)
    if mode not in _MODES:
        raise ValueError(f"jumba.numpy.pad: mode {mode!r} is not supported; use one of "
                         f"{_MODES} or a function")
    extra = set(kwargs) - allowed.get(mode, set())
    if extra:
        raise ValueError(f"jumba.numpy.pad: unsupported keyword arguments for mode {mode!r}: "
                         f"{sorted(extra)}")
    if mode in ("constant", "empty"):
        values = _pairs(kwargs.get("constant_values", 0), nd, "constant_values", ints=False)
    elif mode == "linear_ramp":
        values = _pairs(kwargs.get("end_values", 0), nd, "end_values", ints=False)
    elif mode in ("maximum", "mean", "median", "minimum"):
        sl = kwargs.get("stat_length")
        values = [(None, None)] * nd if sl is None else _pairs(sl, nd, "stat_length")
    reflect_type = kwargs.get("reflect_type", "even")
    if reflect_type not in ("even", "odd"):
        raise ValueError(f"jumba.numpy.pad: reflect_type must be 'even' or 'odd', got "
                         f"{reflect_type!r}")
    for axis, (before, after) in enumerate(widths):
        if not before and not after:
            continue
        if mode in ("constant", "empty"):
            x = _pad_constant(x, axis, before, after, values[axis])
        elif mode == "linear_ramp":
            x = _pad_ramp(x, axis, before, after, values[axis])
        elif mode in ("maximum", "mean", "median", "minimum"):
            x = _pad_stat(x, axis, before, after, mode, values[axis])
        else:
            x = _pad_linear(x, axis, before, after, mode, reflect_type)
    return x


def _pad_callable(x, widths, fn, kwargs):
    v = getattr(x, "_value", None)
    if v is None or type(x) is not jnp.Array:
        raise NotImplementedError("jumba.numpy.pad with a function mode runs eagerly only "
                                  "(not under jit/vmap/grad); use a named mode there")
    out = np.pad(np.asarray(v), widths, mode="constant")

    def apply(vec, ax):
        vec = vec.copy()
        res = fn(vec, widths[ax], ax, kwargs)  # NumPy's protocol: edit in place or return
        return vec if res is None else np.asarray(res)

    for axis in range(out.ndim):
        out = np.apply_along_axis(apply, axis, out, axis)
    return jnp.asarray(out)
