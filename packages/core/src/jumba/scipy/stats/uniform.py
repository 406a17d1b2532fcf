"""jumba.scipy.stats.uniform (as jax.scipy.stats.uniform)."""

from jumba._src.scipy.stats.uniform import cdf, logpdf, pdf, ppf  # noqa: F401
