"""Operators and methods shared by `jumba.Array` and every Tracer.

Installed once at import, so that `x + y` or `x.sum()` means the same thing eagerly and
under any transformation.
"""

from __future__ import annotations

import numpy as np

from jumba._src import core
from jumba._src.core import Array, Tracer
from jumba._src.lax import elementwise as ew
from jumba._src.numpy import indexing
from jumba._src.numpy import lax_numpy as jnp


def _swap(f):
    return lambda x, y: f(y, x)


_OPERATORS = {
    "__add__": jnp.add, "__radd__": _swap(jnp.add),
    "__sub__": jnp.subtract, "__rsub__": _swap(jnp.subtract),
    "__mul__": jnp.multiply, "__rmul__": _swap(jnp.multiply),
    "__truediv__": jnp.true_divide, "__rtruediv__": _swap(jnp.true_divide),
    "__floordiv__": jnp.floor_divide, "__rfloordiv__": _swap(jnp.floor_divide),
    "__mod__": jnp.remainder, "__rmod__": _swap(jnp.remainder),
    "__divmod__": jnp.divmod, "__rdivmod__": _swap(jnp.divmod),
    "__pow__": jnp.power, "__rpow__": _swap(jnp.power),
    "__matmul__": jnp.matmul, "__rmatmul__": _swap(jnp.matmul),
    "__and__": jnp.bitwise_and, "__rand__": _swap(jnp.bitwise_and),
    "__or__": jnp.bitwise_or, "__ror__": _swap(jnp.bitwise_or),
    "__xor__": jnp.bitwise_xor, "__rxor__": _swap(jnp.bitwise_xor),
    "__lshift__": jnp.left_shift, "__rlshift__": _swap(jnp.left_shift),
    "__rshift__": jnp.right_shift, "__rrshift__": _swap(jnp.right_shift),
    "__eq__": jnp.equal, "__ne__": jnp.not_equal,
    "__lt__": jnp.less, "__le__": jnp.less_equal,
    "__gt__": jnp.greater, "__ge__": jnp.greater_equal,
    "__neg__": jnp.negative, "__pos__": jnp.positive, "__abs__": jnp.absolute,
    "__invert__": jnp.bitwise_not,
    "__getitem__": indexing.getitem,
}


def _comparison_guard(f):
    # `x == "a"` or `x == None` must not raise: Python falls back to identity comparison.
    def op(self, other):
        if other is None or isinstance(other, (str, bytes, dict, set)):
            return NotImplemented
        return f(self, other)

    return op


def _reshape(self, *shape, order="C"):
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        shape = shape[0]
    return jnp.reshape(self, shape, order)


def _transpose(self, *axes):
    if len(axes) == 1 and (axes[0] is None or not isinstance(axes[0], (int, np.integer))):
        axes = axes[0]
    return jnp.transpose(self, axes or None)


_METHODS = {
    "sum": jnp.sum, "prod": jnp.prod, "mean": jnp.mean, "var": jnp.var, "std": jnp.std,
    "max": jnp.max, "min": jnp.min, "any": jnp.any, "all": jnp.all,
    "argmax": jnp.argmax, "argmin": jnp.argmin,
    "reshape": _reshape, "transpose": _transpose, "ravel": jnp.ravel,
    "flatten": jnp.ravel, "squeeze": jnp.squeeze, "swapaxes": jnp.swapaxes,
    "astype": jnp.astype, "dot": jnp.dot, "clip": jnp.clip, "round": jnp.round,
    "repeat": jnp.repeat, "copy": jnp.copy,
    "conj": lambda self: _cn().conj(self), "conjugate": lambda self: _cn().conj(self),
}


def _cn():
    from jumba._src.numpy import complex_numbers  # imports this module's users

    return complex_numbers

_PROPERTIES = {
    "T": lambda self: jnp.transpose(self),
    "mT": lambda self: jnp.matrix_transpose(self),
    "real": lambda self: _cn().real(self),
    "imag": lambda self: _cn().imag(self),
    "at": lambda self: indexing._IndexUpdateHelper(self),
}


# ---------------------------------------------------------------------------------------
# Eager fast paths for Array's arithmetic operators.
#
# Outside any transformation, `x + y` on two Arrays of one dtype and weak type, or on a
# strongly typed float (int) Array and a Python float or int (int) scalar, needs no
# promotion: JAX's rules give x's dtype and x's weak type, so the primitive's NumPy
# implementation is called at once. Anything else (and any error, to get the usual
# message) takes the general path, `slow`.

_STATE = core._state
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


_new = object.__new__
_ndarray = np.ndarray


def _wrap(out, weak):
    """Array(out, weak) without the call to __init__ (the hot end of every fast path)."""
    a = _new(Array)
    a._value = out if type(out) is _ndarray else np.asarray(out)
    a.weak_type = weak
    return a


def _fast_binary(prim, slow, *, reflected=False, inexact_only=False):
    ufunc = isinstance(prim.impl, np.ufunc)  # takes Python scalars as NEP 50 weak values

    def op(self, other):
        if _STATE.eval_only:
            xv = self._value
            t = type(other)
            if t is Array:
                yv = other._value
                dt = xv.dtype
                if (yv.dtype is dt or yv.dtype == dt) and self.weak_type == other.weak_type \
                        and (not inexact_only or dt.kind in "fc"):
                    try:
                        out = prim.impl(yv, xv) if reflected else prim.impl(xv, yv)
                    except Exception:
                        return slow(self, other)
                    return _wrap(out, self.weak_type)
            elif (t is float or t is int) and not self.weak_type:
                dt = xv.dtype
                kind = dt.kind
                if kind == "f" or (kind == "i" and t is int and dt.itemsize >= 4
                                   and not inexact_only):
                    if t is int and not _INT32_MIN <= other <= _INT32_MAX:
                        return slow(self, other)
                    y = other if ufunc else dt.type(other)
                    try:
                        out = prim.impl(y, xv) if reflected else prim.impl(xv, y)
                    except Exception:
                        return slow(self, other)
                    return _wrap(out, False)
        return slow(self, other)

    op.__name__ = slow.__name__ if hasattr(slow, "__name__") else prim.name
    return op


def _fast_neg(self):
    if _STATE.eval_only:
        try:
            out = ew.neg_p.impl(self._value)
        except Exception:
            return jnp.negative(self)
        return _wrap(out, self.weak_type)
    return jnp.negative(self)


_FAST_OPERATORS = {
    "__add__": _fast_binary(ew.add_p, _OPERATORS["__add__"]),
    "__radd__": _fast_binary(ew.add_p, _OPERATORS["__radd__"], reflected=True),
    "__sub__": _fast_binary(ew.sub_p, _OPERATORS["__sub__"]),
    "__rsub__": _fast_binary(ew.sub_p, _OPERATORS["__rsub__"], reflected=True),
    "__mul__": _fast_binary(ew.mul_p, _OPERATORS["__mul__"]),
    "__rmul__": _fast_binary(ew.mul_p, _OPERATORS["__rmul__"], reflected=True),
    "__truediv__": _fast_binary(ew.div_p, _OPERATORS["__truediv__"], inexact_only=True),
    "__rtruediv__": _fast_binary(ew.div_p, _OPERATORS["__rtruediv__"], reflected=True,
                                 inexact_only=True),
    "__neg__": _fast_neg,
}


def install():
    for cls in (Array, Tracer):
        for name, f in _OPERATORS.items():
            if name in ("__eq__", "__ne__"):
                f = _comparison_guard(f)
            if cls is Array and name in _FAST_OPERATORS:
                f = _FAST_OPERATORS[name]
            setattr(cls, name, f)
        for name, f in _METHODS.items():
            setattr(cls, name, f)
        for name, f in _PROPERTIES.items():
            setattr(cls, name, property(f))


install()
