"""jumba.scipy.stats.beta (as jax.scipy.stats.beta)."""

from jumba._src.scipy.stats.beta import cdf, logcdf, logpdf, logsf, pdf, sf  # noqa: F401
