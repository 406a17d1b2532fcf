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

    # `_device` is set only on arrays placed by device_put or made by pmap (a device, or
    # a tuple of devices for a stacked pmap result); unset means device 0.
    __slots__ = ("_value", "weak_type", "_device", "__weakref__")
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
        # NumPy 2's protocol: copy=None shares when it can, copy=True always copies (a
        # writable array), copy=False must share or raise.
        v = self._value
        if dtype is not None and np.dtype(dtype) != v.dtype:
            if copy is False:
                raise ValueError(f"Cannot convert a jumba.Array of dtype {v.dtype} to {dtype} "
                                 "without copying (copy=False); pass copy=None or True.")
            return v.astype(dtype)
        if copy:
            return v.copy()
        v.flags.writeable = False  # Arrays are immutable: so is the buffer we lend out
        return v

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """Export the buffer through DLPack (zero-copy, read-only) for `from_dlpack`."""
        if stream is not None and stream != -1:
            raise BufferError("jumba.Array lives on the CPU: DLPack's stream must be None.")
        v = self._value
        if copy is None and (max_version is None or max_version[0] < 1):
            # DLPack before 1.0 cannot mark a tensor read-only: lend such consumers a copy
            # rather than our immutable buffer.
            copy = True
        if copy:
            v = v.copy()
        else:
            v.flags.writeable = False
        kwargs = {} if max_version is None else {"max_version": max_version}
        if dl_device is not None:
            kwargs["dl_device"] = dl_device
        return v.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._value.__dlpack_device__()

    def __array_namespace__(self, *, api_version=None):
        """The array-API namespace of jumba arrays: `jumba.numpy`."""
        import jumba.numpy

        return jumba.numpy

    def to_device(self, device, *, stream=None):
        """Array API: arrays live on the CPU, so this returns the array itself."""
        return self

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
        """The device holding this array (the first one for a stacked pmap result)."""
        try:
            d = self._device
        except AttributeError:
            from jumba._src.runtime.devices import default_device

            return default_device()
        return d[0] if type(d) is tuple else d

    def devices(self):
        """The set of devices this array's data came from."""
        try:
            d = self._device
        except AttributeError:
            return {self.device}
        return set(d) if type(d) is tuple else {d}

    @property
    def is_fully_addressable(self):
        return True
