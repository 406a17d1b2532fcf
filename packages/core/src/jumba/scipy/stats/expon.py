"""jumba.scipy.stats.expon (as jax.scipy.stats.expon)."""

from jumba._src.scipy.stats.expon import cdf, logpdf, logsf, pdf, ppf, sf  # noqa: F401
