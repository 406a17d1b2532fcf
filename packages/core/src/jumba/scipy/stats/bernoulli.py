"""jumba.scipy.stats.bernoulli (as jax.scipy.stats.bernoulli)."""

from jumba._src.scipy.stats.bernoulli import cdf, logpmf, pmf  # noqa: F401
