"""DLPack interchange, as `jax.dlpack`.

`jumba.dlpack.from_dlpack(x)` imports any object with `__dlpack__` (NumPy ≥ 1.23 arrays,
PyTorch CPU tensors, ...) without copying when it can; `jumba.Array` implements `__dlpack__`,
so `np.from_dlpack(a)` and `torch.from_dlpack(a)` import jumba arrays (read-only, zero-copy).
"""

from jumba._src.dlpack import from_dlpack, is_supported_dtype

__all__ = ["from_dlpack", "is_supported_dtype"]
