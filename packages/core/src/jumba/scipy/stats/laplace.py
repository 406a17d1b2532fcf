"""jumba.scipy.stats.laplace (as jax.scipy.stats.laplace)."""

from jumba._src.scipy.stats.laplace import cdf, logpdf, pdf  # noqa: F401
