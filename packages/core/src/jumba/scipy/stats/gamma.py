"""jumba.scipy.stats.gamma (as jax.scipy.stats.gamma)."""

from jumba._src.scipy.stats.gamma import cdf, logcdf, logpdf, logsf, pdf, sf  # noqa: F401
