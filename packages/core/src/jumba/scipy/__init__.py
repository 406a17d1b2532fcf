"""jumba.scipy: SciPy's special functions and distributions on jumba arrays (as jax.scipy)."""

from jumba.scipy import special, stats  # noqa: F401
