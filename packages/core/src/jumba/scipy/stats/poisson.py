"""jumba.scipy.stats.poisson (as jax.scipy.stats.poisson)."""

from jumba._src.scipy.stats.poisson import cdf, logpmf, pmf  # noqa: F401
