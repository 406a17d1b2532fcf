"""Operators and methods shared by `jumba.Array` and every Tracer.

Installed once at import, so that `x + y` or `x.sum()` means the same thing eagerly and
under any transformation.
"""

from __future__ import annotations

import numpy as np

from jumba._src.core import Array, Tracer
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
    "conj": lambda self: self, "conjugate": lambda self: self,
}

_PROPERTIES = {
    "T": lambda self: jnp.transpose(self),
    "mT": lambda self: jnp.matrix_transpose(self),
    "real": lambda self: self,
    "imag": lambda self: jnp.zeros_like(self),
    "at": lambda self: indexing._IndexUpdateHelper(self),
}


def install():
    for cls in (Array, Tracer):
        for name, f in _OPERATORS.items():
            if name in ("__eq__", "__ne__"):
                f = _comparison_guard(f)
            setattr(cls, name, f)
        for name, f in _METHODS.items():
            setattr(cls, name, f)
        for name, f in _PROPERTIES.items():
            setattr(cls, name, property(f))


install()
