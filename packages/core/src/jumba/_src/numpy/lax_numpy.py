"""jumba.numpy's core: conversion (asarray) and type promotion, the helpers every family
shares, and the families themselves re-exported from their modules (elementwise functions,
creation, reductions, shape functions, contractions, dtype functions)."""

from __future__ import annotations

import builtins
import operator
from typing import Any

import numpy as np

from jumba._src import core, dtypes
from jumba._src.core import Array, Tracer, get_aval
from jumba._src.lax import structural as st

ndarray = Array
ArrayLike = Any

# ---------------------------------------------------------------------------------------
# Conversion and promotion


def _is_array(x) -> bool:
    return type(x) is Array or isinstance(x, Tracer)


def asarray(a, dtype=None, order=None, *, copy=None, device=None):
    """Convert to a jumba array (NumPy arrays, Python scalars, nested lists, arrays)."""
    if dtype is not None:
        dtype = dtypes.canonicalize_dtype(np.dtype(dtype))
    if _is_array(a):
        return a if dtype is None else st.convert_element_type(a, dtype)
    if isinstance(a, (bool, int, float, complex)) and dtype is None:
        return core.to_array(a)
    if isinstance(a, (list, tuple)) and builtins.any(_is_array(x) for x in _flat_seq(a)):
        return stack([asarray(x, dtype) for x in a]) if len(a) else asarray(np.zeros(0), dtype)
    if hasattr(a, "__jax_array__"):
        return asarray(a.__jax_array__(), dtype)
    # Lists and scalars become a fresh buffer; anything else (NumPy arrays, `__array__` and
    # `__dlpack__` objects such as torch tensors) may share memory its owner can mutate.
    fresh = isinstance(a, (list, tuple, bool, int, float, complex, np.generic))
    if not isinstance(a, np.ndarray) and hasattr(a, "__dlpack__") and not hasattr(
            a, "__array__"):
        a = np.from_dlpack(a)
    v = np.asarray(a)
    if v.dtype == object:
        raise TypeError(f"jumba.numpy.asarray: cannot convert {type(a).__name__} to an array "
                        "(it holds Python objects)")
    target = dtype if dtype is not None else dtypes.canonicalize_dtype(v.dtype)
    if v.dtype != target:
        if copy is False:
            raise ValueError(f"jumba.numpy.asarray: converting {v.dtype} to {target} needs a "
                             "copy, but copy=False; pass copy=None.")
        v = v.astype(target)
    elif copy is False:
        v = v.view()  # shared on request; our view at least cannot write
        v.flags.writeable = False
    elif copy or not fresh:
        v = v.copy()  # the owner may mutate their buffer; ours is immutable
    return Array(v, False)


def array(object, dtype=None, copy=True, order="K", ndmin=0):  # noqa: A002
    out = asarray(object, dtype)
    if ndmin > out.ndim:
        out = st.reshape(out, (1,) * (ndmin - out.ndim) + out.shape)
    return out


def _flat_seq(a):
    for x in a:
        if isinstance(x, (list, tuple)):
            yield from _flat_seq(x)
        else:
            yield x


def _to_operand(x):
    if type(x) is Array or isinstance(x, Tracer):
        return x
    if isinstance(x, (bool, int, float, complex)):
        return x
    return asarray(x)


def _promote2_fast(x, y):
    """promote_dtypes for the common pairs, or None: two floating arrays/tracers of one
    dtype and weak type, or a floating array/tracer with a Python int or float."""
    if type(x) is Array:
        dx, wx = x._value.dtype, x.weak_type
    elif isinstance(x, Tracer):
        a = x.aval
        dx, wx = a.dtype, a.weak_type
    else:
        return None
    # A weak `dx` only if it is the default float (others may be canonicalized).
    if dx.kind != "f" or (wx and dx != dtypes.python_scalar_dtype(1.0)):
        return None
    ty = type(y)
    if ty is Array:
        return [x, y] if y._value.dtype == dx and y.weak_type == wx else None
    if ty is float or ty is int:  # Python scalars join a float dtype without changing it
        return [x, Array(np.asarray(y, dx), wx)]
    if isinstance(y, Tracer):
        a = y.aval
        return [x, y] if a.dtype == dx and a.weak_type == wx else None
    return None


def promote_dtypes(*args):
    """Convert operands to their common dtype (JAX's promotion lattice, weak types kept)."""
    if len(args) == 2:
        out = _promote2_fast(*args)
        if out is not None:
            return out
    args = [_to_operand(a) for a in args]
    dt, weak = dtypes.result_type(*args, return_weak_type_flag=True)
    return [_convert(a, dt, weak) for a in args]


def _convert(a, dt, weak):
    if type(a) is Array and a._value.dtype == dt and a.weak_type == weak:
        return a
    if isinstance(a, (bool, int, float, complex)):
        return Array(np.asarray(a, dt), weak)
    if isinstance(a, Tracer):
        aval = a.aval
        if aval.dtype == dt and aval.weak_type == weak:
            return a  # what convert_element_type returns, without its checks
    return st.convert_element_type(a, dt, weak)


def promote_dtypes_inexact(*args):
    args = promote_dtypes(*args)
    dt = get_aval(args[0]).dtype
    if dtypes.is_inexact(dt):
        return args
    target = dtypes.to_inexact_dtype(dt)
    return [st.convert_element_type(a, target, get_aval(a).weak_type) for a in args]


def _binary_fast(x, y):
    # Eager fast path: two arrays of one dtype and weak type need no conversion.
    if type(x) is Array and type(y) is Array and x._value.dtype == y._value.dtype and \
            x.weak_type == y.weak_type:
        return x, y
    out = _promote2_fast(x, y)  # promote_dtypes' own fast path, without its frame
    return promote_dtypes(x, y) if out is None else out


# Helpers the families share (shape and axis arguments, filled arrays).


def _shape_tuple(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        return tuple(operator.index(s) for s in shape)
    except TypeError:
        raise TypeError(f"Shapes must be sequences of Python integers, got {shape!r}. "
                        "Inside jit, shapes must be static: derive them from x.shape or "
                        "mark the argument static.") from None


def full(shape, fill_value, dtype=None, *, device=None):
    """An array of `shape` filled with `fill_value` (a scalar, or an array broadcast to
    `shape`); with no dtype, a Python scalar's weak type is kept (as lax.full)."""
    fv = fill_value if _is_array(fill_value) else asarray(fill_value)
    aval = get_aval(fv)
    dt = dtypes.canonicalize_dtype(np.dtype(dtype)) if dtype is not None else aval.dtype
    return _full(_shape_tuple(shape), fv, dt, dtype is None and aval.weak_type)


def _full(shape, fv, dt, weak):
    if type(fv) is Array and fv.ndim == 0:
        return Array(np.full(shape, fv._value, dt), weak)
    return broadcast_to(st.convert_element_type(fv, dt, weak), shape)


def full_like(a, fill_value, dtype=None, shape=None, *, device=None):
    """`full` with the shape and dtype of `a` (and its weak type when no dtype is given)."""
    aval = get_aval(a)
    dt = dtypes.canonicalize_dtype(np.dtype(dtype)) if dtype is not None else aval.dtype
    fv = fill_value if _is_array(fill_value) else asarray(fill_value)
    shape = aval.shape if shape is None else _shape_tuple(shape)
    return _full(shape, fv, dt, dtype is None and aval.weak_type)


def _canon_axes(axis, ndim, name):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = operator.index(a)
        if not -ndim <= a < builtins.max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ValueError(f"{name}: axis {a} is out of bounds for array of dimension "
                             f"{ndim}")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: duplicate value in 'axis': {axis}")
    return tuple(out) if ndim else ()


# ---------------------------------------------------------------------------------------
# The families, one module each; they import the helpers above, so they come last.

from jumba._src.numpy.contractions import *  # noqa: E402, F403
from jumba._src.numpy.creation import *  # noqa: E402, F403
from jumba._src.numpy.dtype_functions import *  # noqa: E402, F403
from jumba._src.numpy.elementwise_functions import *  # noqa: E402, F403
from jumba._src.numpy.reductions import *  # noqa: E402, F403
from jumba._src.numpy.shape_functions import *  # noqa: E402, F403
from jumba._src.numpy.shape_functions import (  # noqa: E402, F401
    _take_slice,
    broadcast_to,
    stack,
)
