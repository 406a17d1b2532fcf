"""DLPack import: any object with `__dlpack__` (NumPy arrays, torch CPU tensors, ...) to a
`jumba.Array`. Export is `jumba.Array.__dlpack__`."""

from __future__ import annotations

import numpy as np

from jumba._src import dtypes
from jumba._src.runtime.array import Array

_SUPPORTED_KINDS = "biufc"


def is_supported_dtype(dtype) -> bool:
    """Whether arrays of `dtype` can cross DLPack into jumba (bool, ints, floats, complex)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        return False
    return dt.kind in _SUPPORTED_KINDS


def from_dlpack(external_array, device=None, copy: bool | None = None) -> Array:
    """A `jumba.Array` viewing the buffer of `external_array` through DLPack.

    Args:
        external_array: an object with `__dlpack__` and `__dlpack_device__` on the CPU.
        device: None or a jumba CPU device (arrays live on the CPU).
        copy: None or False share the producer's memory when the dtype is already the one
            jumba uses (zero-copy, as JAX does); True always copies. A shared buffer is
            read-only on jumba's side, but the producer can still write to it: copy if it will.

    Returns:
        A `jumba.Array`. Under the default 32-bit mode 64-bit data is converted (copied) to
        its 32-bit counterpart, as `jnp.asarray` does.
    """
    if device is not None and getattr(device, "platform", "cpu") != "cpu":
        raise ValueError(f"jumba.dlpack.from_dlpack: device {device!r} is not a CPU device; "
                         "Jumba arrays live on the CPU.")
    if isinstance(external_array, Array):
        return external_array
    if not hasattr(external_array, "__dlpack__"):
        kind = type(external_array).__name__
        hint = (" DLPack capsules (from to_dlpack) are not accepted, as in JAX: pass the "
                "tensor itself.") if kind == "PyCapsule" else ""
        raise TypeError(f"jumba.dlpack.from_dlpack: expected an object with __dlpack__ (a "
                        f"NumPy array, a torch tensor, ...), got {kind}.{hint}")
    try:
        v = np.from_dlpack(external_array, copy=copy)
    except (BufferError, RuntimeError, ValueError, TypeError) as e:
        where = ""
        if hasattr(external_array, "__dlpack_device__"):
            where = f" (DLPack device {tuple(external_array.__dlpack_device__())})"
        raise BufferError(
            f"jumba.dlpack.from_dlpack: cannot import this {type(external_array).__name__}"
            f"{where}: {str(e).rstrip('.')}. Jumba reads CPU buffers of bool, integer, "
            "float and complex dtypes; move the tensor to the CPU (e.g. `tensor.cpu()`), "
            "detach it, or convert its dtype (e.g. bfloat16 -> float32) first.") from None
    if not is_supported_dtype(v.dtype):
        raise TypeError(f"jumba.dlpack.from_dlpack: dtype {v.dtype} is not supported; use "
                        "bool, integer, float or complex data.")
    target = dtypes.canonicalize_dtype(v.dtype)
    if v.dtype != target:
        v = v.astype(target)
    elif not copy:
        v = v.view()
        v.flags.writeable = False
    return Array(v, False)
