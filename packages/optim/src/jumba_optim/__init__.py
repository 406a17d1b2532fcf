"""Gradient transformations and optimizers for Jumba.

Mirrors Optax: each transformation is an ``init``/``update`` pair over pytrees, and optimizers
such as ``adam`` are ``chain(...)`` of transformations. Built on jumba's public API only.
"""

__version__ = "0.1.0"
