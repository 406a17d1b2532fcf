"""jumba.scipy.stats.cauchy (as jax.scipy.stats.cauchy)."""

from jumba._src.scipy.stats.cauchy import cdf, isf, logcdf, logpdf, logsf, pdf, ppf, sf  # noqa: F401
