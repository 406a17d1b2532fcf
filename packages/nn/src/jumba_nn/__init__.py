"""Neural-network modules for Jumba.

Mirrors Flax linen and Haiku: ``@compact`` modules with ``init``/``apply``, and explicit mutable
collections for state such as BatchNorm's ``batch_stats``. Built on jumba's public API only.
"""

__version__ = "0.1.0"
