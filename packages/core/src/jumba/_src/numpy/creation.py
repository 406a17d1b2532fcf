"""jumba.numpy's array creation: zeros, ones, arange, linspace, eye, ... (`full` and
`full_like` live in lax_numpy, which every family uses)."""

from __future__ import annotations

import operator

import numpy as np

from jumba._src import core, dtypes
from jumba._src.core import Array, get_aval
from jumba._src.numpy.elementwise_functions import (  # noqa: F401
    add,
    divide,
    floor,
    multiply,
    subtract,
)
from jumba._src.numpy.lax_numpy import (  # noqa: F401
    _shape_tuple,
    asarray,
    full_like,
    promote_dtypes_inexact,
)
from jumba._src.numpy.shape_functions import (  # noqa: F401
    concatenate,
    expand_dims,
    moveaxis,
)


def _dtype_or(dtype, default_fn):
    return dtypes.canonicalize_dtype(np.dtype(dtype)) if dtype is not None else default_fn()




def zeros(shape, dtype=None, *, device=None):
    dt = _dtype_or(dtype, dtypes.default_float_dtype)
    return Array(np.zeros(_shape_tuple(shape), dt), False)


def ones(shape, dtype=None, *, device=None):
    dt = _dtype_or(dtype, dtypes.default_float_dtype)
    return Array(np.ones(_shape_tuple(shape), dt), False)


def empty(shape, dtype=None, *, device=None):
    return zeros(shape, dtype)






def zeros_like(a, dtype=None, shape=None, *, device=None):
    return full_like(a, 0, dtype, shape)


def ones_like(a, dtype=None, shape=None, *, device=None):
    return full_like(a, 1, dtype, shape)


def empty_like(a, dtype=None, shape=None, *, device=None):
    return zeros_like(a, dtype, shape)




def arange(start, stop=None, step=None, dtype=None, *, device=None):
    """Evenly spaced values; the bounds must be concrete (static) values."""
    vals = [core.concrete_or_error(v, "jumba.numpy.arange bounds") if v is not None else None
            for v in (start, stop, step)]
    start_, stop_, step_ = (None if v is None else v[()] for v in vals)
    if stop_ is None:
        start_, stop_ = 0, start_
    if step_ is None:
        step_ = 1
    out = np.arange(start_, stop_, step_)
    if dtype is not None:
        out = np.arange(start_, stop_, step_, dtype=np.dtype(dtype))
    return asarray(out, dtype if dtype is not None else
                   (dtypes.default_float_dtype() if out.dtype.kind == "f" else
                    dtypes.default_int_dtype()))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *,
             device=None):
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"linspace: number of samples, {num}, must be non-negative.")
    dt = _dtype_or(dtype, dtypes.default_float_dtype)
    start, stop = promote_dtypes_inexact(start, stop)
    compute_dt = get_aval(start).dtype
    div = (num - 1) if endpoint else num
    steps = np.arange(num, dtype=compute_dt)
    delta = subtract(stop, start)
    s = expand_dims(start, -1) if get_aval(start).ndim else start
    d = expand_dims(delta, -1) if get_aval(delta).ndim else delta
    if div > 0:
        frac = np.asarray(steps / div, compute_dt)
        out = add(s, multiply(d, frac))
        if endpoint and num > 1:
            out = concatenate([out[..., :-1], expand_dims(asarray(stop), -1)], axis=-1)
    else:
        out = add(s, multiply(d, np.zeros(num, compute_dt)))
    out = moveaxis(out, -1, axis) if get_aval(out).ndim > 1 else out
    if dtype is not None and not dtypes.is_inexact(dt):
        out = floor(out)  # NumPy (and JAX) round toward minus infinity for integer dtypes
    out = out.astype(dt) if dtype is not None else out
    if retstep:
        step = divide(delta, div) if div > 0 else full_like(delta, np.nan)
        return out, step
    return out


def eye(N, M=None, k=0, dtype=None, *, device=None):
    dt = _dtype_or(dtype, dtypes.default_float_dtype)
    return Array(np.eye(N, M, k, dtype=dt), False)


def identity(n, dtype=None):
    return eye(n, dtype=dtype)
