"""jumba.scipy.stats.norm (as jax.scipy.stats.norm)."""

from jumba._src.scipy.stats.norm import cdf, isf, logcdf, logpdf, logsf, pdf, ppf, sf  # noqa: F401
