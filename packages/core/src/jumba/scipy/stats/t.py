"""jumba.scipy.stats.t (as jax.scipy.stats.t)."""

from jumba._src.scipy.stats.t import logpdf, pdf  # noqa: F401
