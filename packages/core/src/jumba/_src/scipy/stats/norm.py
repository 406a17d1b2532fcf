"""The normal distribution (as jax.scipy.stats.norm)."""

from __future__ import annotations

import numpy as np

from jumba._src.lax import elementwise as ew
from jumba._src.lax import special as sp
from jumba._src.scipy.special import ndtr
from jumba._src.scipy.stats._common import c, promote, standardize


def logpdf(x, loc=0, scale=1):
    """log N(x; loc, scale^2)."""
    x, loc, scale = promote(x, loc, scale)
    z, log_scale = standardize(x, loc, scale)
    return ew.sub(ew.mul(c(-0.5, z), ew.square(z)),
                  ew.add(log_scale, c(0.5 * np.log(2 * np.pi), z)))


def pdf(x, loc=0, scale=1):
    """The normal density."""
    return ew.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    """The normal CDF."""
    x, loc, scale = promote(x, loc, scale)
    return ndtr(standardize(x, loc, scale)[0])


def logcdf(x, loc=0, scale=1):
    """log CDF, accurate in the lower tail."""
    x, loc, scale = promote(x, loc, scale)
    return sp.log_ndtr(standardize(x, loc, scale)[0])


def sf(x, loc=0, scale=1):
    """The survival function 1 - CDF, accurate in the upper tail."""
    x, loc, scale = promote(x, loc, scale)
    return ndtr(ew.neg(standardize(x, loc, scale)[0]))


def logsf(x, loc=0, scale=1):
    """log of the survival function."""
    x, loc, scale = promote(x, loc, scale)
    return sp.log_ndtr(ew.neg(standardize(x, loc, scale)[0]))


def ppf(q, loc=0, scale=1):
    """The quantile function (inverse CDF)."""
    q, loc, scale = promote(q, loc, scale)
    return ew.add(ew.mul(sp.ndtri(q), scale), loc)


def isf(q, loc=0, scale=1):
    """The inverse survival function."""
    q, loc, scale = promote(q, loc, scale)
    return ew.sub(loc, ew.mul(sp.ndtri(q), scale))
