"""Debugging from inside transformed code (as `jax.debug`): `print` and `callback`.

Both run with concrete values eagerly, under `jit` (at run time, in program order), under
`vmap` (once per batch element) and under `grad` (on the primal values).
"""

from jumba._src.debugging import callback
from jumba._src.debugging import debug_print as print  # noqa: A001 (JAX's name)

__all__ = ["callback", "print"]
