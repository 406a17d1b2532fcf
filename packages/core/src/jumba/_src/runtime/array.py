"""`jumba.Array`: an immutable array wrapping a NumPy buffer.

Operators and methods (`+`, `@`, `.sum()`, `.at[...]`, ...) are installed by
`jumba._src.numpy` so that arrays and tracers share one implementation.
"""

from __future__ import annotations

import numpy as np


class Array:
    """An immutable n-dimensional array on a CPU device.

    It behaves like `jax.Array`: NumPy-style operators and methods, `.at[idx].set(...)` for
    functional updates, `__array__` and `__dlpack__` for zero-copy interchange.
    """

    __slots__ = ("_value", "weak_type", "__weakref__")
    __array_priority__ = 100

    def __init__(self, value, weak_type: bool = False):
        # Hot: every eager result is built here. The buffer is not frozen now (setting the
        # flag costs as much as a small add); it is frozen when it is handed out
        # (`__array__`, `__dlpack__`), the only ways user code can reach it.
        if type(value) is not np.ndarray:
            value = np.asarray(value)
        self._value = value
        self.weak_type = weak_type

    shape = property(lambda self: self._value.shape)
    dtype = property(lambda self: self._value.dtype)
    ndim = property(lambda self: self._value.ndim)
    size = property(lambda self: self._value.size)
    nbytes = property(lambda self: self._value.nbytes)
    itemsize = property(lambda self: self._value.itemsize)

    def __array__(self, dtype=None, copy=None):
        v = self._value
        if dtype is not None and dtype != v.dtype:
            return v.astype(dtype)
        if copy:
            return v.copy()
        v.flags.writeable = False  # Arrays are immutable: so is the buffer we lend out
        return v

    def __dlpack__(self, *args, **kwargs):
        v = self._value
        v.flags.writeable = False
        return v.__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._value.__dlpack_device__()

    def block_until_ready(self):
        return self

    def copy_to_host_async(self):
        pass

    def item(self, *args):
        return self._value.item(*args)

    def tolist(self):
        return self._value.tolist()

    def tobytes(self, order="C"):
        return self._value.tobytes(order)

    def __bool__(self):
        return bool(self._value)

    def __int__(self):
        return int(self._value)

    def __float__(self):
        return float(self._value)

    def __complex__(self):
        return complex(self._value)

    def __index__(self):
        return self._value.__index__()

    def __len__(self):
        if self._value.ndim == 0:
            raise TypeError("len() of unsized object")
        return self._value.shape[0]

    def __iter__(self):
        if self._value.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self._value.shape[0]))

    def __hash__(self):
        raise TypeError("unhashable type: 'jumba.Array'")

    def __repr__(self):
        body = np.array2string(self._value, separator=", ", prefix="Array(")
        weak = ", weak_type=True" if self.weak_type else ""
        return f"Array({body}, dtype={self._value.dtype.name}{weak})"

    def __str__(self):
        return str(self._value)

    def __format__(self, spec):
        if self._value.ndim == 0:
            return format(self._value.item(), spec)
        return format(str(self), spec)

    def __reduce__(self):
        return (Array, (np.asarray(self._value), self.weak_type))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    @property
    def device(self):
        from jumba._src.runtime.devices import default_device

        return default_device()

    def devices(self):
        return {self.device}

    @property
    def is_fully_addressable(self):
        return True
