"""jumba.numpy's cumulative functions and differences: cumsum, cumprod, their nan- and
array-API variants, diff, ediff1d, gradient, trapezoid; on the cumulative primitives."""

from __future__ import annotations

import operator

import numpy as np

from jumba._src import dtypes
from jumba._src.core import get_aval
from jumba._src.lax import cumulative as cu
from jumba._src.lax import structural as st
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.numpy.indexing import _as_operand

__all__ = [
    "cumsum", "cumprod", "nancumsum", "nancumprod", "cumulative_sum", "cumulative_prod",
    "diff", "ediff1d", "gradient", "trapezoid",
]


def _canon_axis(axis, ndim, name):
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"jumba.numpy.{name}: axis {axis} is out of bounds for an array of "
                         f"rank {ndim}")
    return axis % ndim


def _accum_dtype(in_dtype, dtype):
    """NumPy's accumulator: bool and small ints widen to the default int."""
    if dtype is not None:
        return dtypes.canonicalize_dtype(np.dtype(dtype))
    if in_dtype == np.bool_ or (in_dtype.kind in "iu" and in_dtype.itemsize <
                                dtypes.canonicalize_dtype(np.int64).itemsize):
        return dtypes.canonicalize_dtype(np.int64 if in_dtype.kind != "u" else np.uint64)
    return in_dtype


def _cumulative(name, prim_fn, nan_identity=None):
    def fn(a, axis: int | None = None, dtype=None, out=None):
        if out is not None:
            raise TypeError(f"jumba.numpy.{name}: out= is not supported (arrays are "
                            "immutable); use the return value")
        a = _as_operand(a)
        if axis is None:
            a, axis = jnp.ravel(a), 0
        aval = get_aval(a)
        if aval.ndim == 0:
            a, aval = jnp.reshape(a, (1,)), get_aval(jnp.reshape(a, (1,)))
        axis = _canon_axis(axis, aval.ndim, name)
        if nan_identity is not None and aval.dtype.kind == "f":
            a = jnp.where(jnp.isnan(a), np.asarray(nan_identity, aval.dtype), a)
        a = jnp.astype(a, _accum_dtype(aval.dtype, dtype))
        return prim_fn(a, axis)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"Cumulative {'sum' if 'sum' in name else 'product'} along `axis` (None: of "
                  "the flattened array), as numpy." + name + (
                      "; NaNs count as " + str(nan_identity) if nan_identity is not None
                      else "") + ".")
    return fn


cumsum = _cumulative("cumsum", cu.cumsum)
cumprod = _cumulative("cumprod", cu.cumprod)
nancumsum = _cumulative("nancumsum", cu.cumsum, 0)
nancumprod = _cumulative("nancumprod", cu.cumprod, 1)


def _cumulative_api(name, base):
    def fn(x, /, *, axis: int | None = None, dtype=None, include_initial: bool = False):
        x = _as_operand(x)
        nd = get_aval(x).ndim
        if axis is None:
            if nd > 1:
                raise ValueError(f"jumba.numpy.{name}: axis is required for arrays of rank "
                                 f"> 1 (got shape {get_aval(x).shape}); pass axis=...")
            axis = 0
        if nd == 0:
            raise ValueError(f"jumba.numpy.{name}: x must have at least one dimension")
        axis = _canon_axis(axis, nd, name)
        out = base(x, axis, dtype)
        if include_initial:
            pad = [(0, 0, 0)] * nd
            pad[axis] = (1, 0, 0)
            init = 0 if "sum" in name else 1
            out = st.pad(out, np.asarray(init, get_aval(out).dtype), pad)
        return out

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"Array-API cumulative {'sum' if 'sum' in name else 'product'}; "
                  "`include_initial` prepends the identity.")
    return fn


cumulative_sum = _cumulative_api("cumulative_sum", cumsum)
cumulative_prod = _cumulative_api("cumulative_prod", cumprod)


def diff(a, n: int = 1, axis: int = -1, prepend=None, append=None):
    """n-th discrete difference along `axis` (`prepend`/`append` values join first)."""
    a = _as_operand(a)
    nd = get_aval(a).ndim
    if nd == 0:
        raise ValueError("jumba.numpy.diff requires an input of at least one dimension")
    n = operator.index(n)
    if n < 0:
        raise ValueError(f"jumba.numpy.diff: order n must be non-negative, got {n}")
    axis = _canon_axis(axis, nd, "diff")
    parts = []
    for extra in (prepend, append):
        if extra is None:
            parts.append(None)
            continue
        extra = _as_operand(extra)
        if get_aval(extra).ndim == 0:
            shape = list(get_aval(a).shape)
            shape[axis] = 1
            extra = jnp.broadcast_to(extra, tuple(shape))
        parts.append(extra)
    if parts[0] is not None or parts[1] is not None:
        seq = [p for p in (parts[0], a, parts[1]) if p is not None]
        a = jnp.concatenate(seq, axis=axis)
    is_bool = get_aval(a).dtype == np.bool_
    for _ in range(n):
        m = get_aval(a).shape[axis]
        if m == 0:
            break
        hi = jnp._take_slice(a, 1, m, axis)
        lo = jnp._take_slice(a, 0, m - 1, axis)
        a = jnp.not_equal(hi, lo) if is_bool else jnp.subtract(hi, lo)
    return a


def ediff1d(ary, to_end=None, to_begin=None):
    """Differences of consecutive elements of the flattened array, with optional values
    joined at the ends."""
    ary = jnp.ravel(_as_operand(ary))
    out = diff(ary) if get_aval(ary).shape[0] else ary
    dt = get_aval(out).dtype
    parts = [out]
    if to_begin is not None:
        parts.insert(0, jnp.astype(jnp.ravel(_as_operand(to_begin)), dt))
    if to_end is not None:
        parts.append(jnp.astype(jnp.ravel(_as_operand(to_end)), dt))
    return jnp.concatenate(parts) if len(parts) > 1 else out


def gradient(f, *varargs, axis=None, edge_order=None):
    """Gradient by second-order central differences inside and one-sided first-order
    differences at the boundaries (as jax.numpy.gradient; `edge_order=2` unsupported).

    Args:
      f: array of samples.
      *varargs: spacing: one scalar for all axes, or one scalar or coordinate array per axis.
      axis: axis or axes to differentiate along (default: all).
      edge_order: only 1 (or None) is supported, as in JAX.

    Returns:
      One array per axis (a single array when there is one axis).
    """
    if edge_order is not None and edge_order != 1:
        raise NotImplementedError("jumba.numpy.gradient: edge_order=2 is not supported "
                                  "(as in JAX); use edge_order=1")
    f = _as_operand(f)
    nd = get_aval(f).ndim
    if axis is None:
        axes = tuple(range(nd))
    elif isinstance(axis, (tuple, list)):
        axes = tuple(_canon_axis(ax, nd, "gradient") for ax in axis)
    else:
        axes = (_canon_axis(axis, nd, "gradient"),)
    if not varargs:
        spacings = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacings = list(varargs) * len(axes)
    elif len(varargs) == len(axes):
        spacings = list(varargs)
    else:
        raise TypeError(f"jumba.numpy.gradient: got {len(varargs)} spacings for "
                        f"{len(axes)} axes; pass one scalar or one per axis")
    (f,) = jnp.promote_dtypes_inexact(f)
    outs = []
    for ax, h in zip(axes, spacings):
        n = get_aval(f).shape[ax]
        if n < 2:
            raise ValueError("jumba.numpy.gradient: each differentiated axis needs at least "
                             f"2 samples (edge_order + 1), axis {ax} has {n}")
        sl = lambda lo, hi, ax=ax: jnp._take_slice(f, lo, hi, ax)  # noqa: E731
        if np.ndim(h) == 0:
            h = jnp.asarray(h)
            inner = jnp.divide(jnp.subtract(sl(2, n), sl(0, n - 2)), jnp.multiply(2, h))
            first = jnp.divide(jnp.subtract(sl(1, 2), sl(0, 1)), h)
            last = jnp.divide(jnp.subtract(sl(n - 1, n), sl(n - 2, n - 1)), h)
        else:
            x = _as_operand(h)
            if get_aval(x).shape != (n,):
                raise ValueError(f"jumba.numpy.gradient: coordinates for axis {ax} must have "
                                 f"shape ({n},), got {get_aval(x).shape}")
            dx = diff(x)
            shape = [1] * nd
            shape[ax] = n - 1
            dx = jnp.reshape(dx, tuple(shape))
            d1 = jnp._take_slice(dx, 0, n - 2, ax)
            d2 = jnp._take_slice(dx, 1, n - 1, ax)
            # Non-uniform second-order formula (as numpy.gradient).
            a = jnp.divide(jnp.negative(d2), jnp.multiply(d1, jnp.add(d1, d2)))
            b = jnp.divide(jnp.subtract(d2, d1), jnp.multiply(d1, d2))
            c = jnp.divide(d1, jnp.multiply(d2, jnp.add(d1, d2)))
            inner = jnp.add(jnp.add(jnp.multiply(a, sl(0, n - 2)), jnp.multiply(b, sl(1, n - 1))),
                            jnp.multiply(c, sl(2, n)))
            first = jnp.divide(jnp.subtract(sl(1, 2), sl(0, 1)), jnp._take_slice(dx, 0, 1, ax))
            last = jnp.divide(jnp.subtract(sl(n - 1, n), sl(n - 2, n - 1)),
                              jnp._take_slice(dx, n - 2, n - 1, ax))
        outs.append(jnp.astype(jnp.concatenate([first, inner, last], axis=ax),
                               get_aval(f).dtype))
    return outs[0] if len(outs) == 1 else outs


def trapezoid(y, x=None, dx=1.0, axis: int = -1):
    """Integral of `y` along `axis` by the trapezoidal rule (samples at `x`, or spaced
    `dx`)."""
    y = _as_operand(y)
    nd = get_aval(y).ndim
    axis = _canon_axis(axis, nd, "trapezoid")
    if x is None:
        (y,) = jnp.promote_dtypes_inexact(y)
        d = jnp.asarray(dx)
    else:
        x = _as_operand(x)
        y, x = jnp.promote_dtypes_inexact(y, x)
        if get_aval(x).ndim == 1:
            shape = [1] * nd
            shape[axis] = get_aval(x).shape[0]
            x = jnp.reshape(x, tuple(shape))
        d = diff(x, axis=axis)
    n = get_aval(y).shape[axis]
    avg = jnp.multiply(jnp.add(jnp._take_slice(y, 1, n, axis),
                               jnp._take_slice(y, 0, max(n - 1, 0), axis)), 0.5)
    return jnp.sum(jnp.multiply(d, avg), axis=axis)
