"""Core types, as ``jax.core``: the abstract value of an array and the tracer base class.

Library code uses :class:`Tracer` to tell traced values from concrete ones (for example
``isinstance(x, (jumba.Array, jumba.core.Tracer))`` is "an array, concrete or traced").
"""

from jumba._src.core import ShapedArray, Tracer, get_aval

__all__ = ["ShapedArray", "Tracer", "get_aval"]
