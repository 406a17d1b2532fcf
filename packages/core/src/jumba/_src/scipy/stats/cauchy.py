"""The Cauchy distribution (as jax.scipy.stats.cauchy)."""

from __future__ import annotations

import numpy as np

from jumba._src.lax import elementwise as ew
from jumba._src.scipy.stats._common import c, promote, standardize


def logpdf(x, loc=0, scale=1):
    """-log(pi scale (1 + z^2))."""
    x, loc, scale = promote(x, loc, scale)
    z, log_scale = standardize(x, loc, scale)
    return ew.neg(ew.add(ew.add(ew.log1p(ew.square(z)), log_scale), c(np.log(np.pi), z)))


def pdf(x, loc=0, scale=1):
    return ew.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote(x, loc, scale)
    z, _ = standardize(x, loc, scale)
    return ew.add(c(0.5, z), ew.mul(ew.atan(z), c(1 / np.pi, z)))


def logcdf(x, loc=0, scale=1):
    return ew.log(cdf(x, loc, scale))


def sf(x, loc=0, scale=1):
    x, loc, scale = promote(x, loc, scale)
    return cdf(ew.neg(x), ew.neg(loc), scale)


def logsf(x, loc=0, scale=1):
    return ew.log(sf(x, loc, scale))


def ppf(q, loc=0, scale=1):
    """loc + scale tan(pi (q - 1/2))."""
    q, loc, scale = promote(q, loc, scale)
    return ew.add(loc, ew.mul(scale, ew.tan(ew.mul(c(np.pi, q), ew.sub(q, c(0.5, q))))))


def isf(q, loc=0, scale=1):
    q, loc, scale = promote(q, loc, scale)
    return ew.sub(loc, ew.mul(scale, ew.tan(ew.mul(c(np.pi, q), ew.sub(q, c(0.5, q))))))
