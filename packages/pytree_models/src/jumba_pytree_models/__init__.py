"""Models as pytrees for Jumba.

Mirrors Equinox: modules are dataclass pytrees (parameters are leaves, ``field(static=True)``
marks metadata), so a model passes straight through ``grad``, ``jit`` and ``vmap``.
Built on jumba's public API only.
"""

__version__ = "0.1.0"
