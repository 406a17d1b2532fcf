"""The gamma distribution with shape `a` (as jax.scipy.stats.gamma)."""

from __future__ import annotations

import numpy as np

from jumba._src.lax import elementwise as ew
from jumba._src.lax import special as sp
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.scipy.special import xlogy
from jumba._src.scipy.stats._common import c, promote, standardize


def logpdf(x, a, loc=0, scale=1):
    """(a - 1) log y - y - gammaln(a) - log(scale), y = (x - loc) / scale >= 0."""
    x, a, loc, scale = promote(x, a, loc, scale)
    y, log_scale = standardize(x, loc, scale)
    out = ew.sub(ew.sub(ew.sub(xlogy(ew.sub(a, c(1, a)), y), y), sp.lgamma(a)), log_scale)
    return jnp.where(ew.lt(y, c(0, y)), c(-np.inf, out), out)


def pdf(x, a, loc=0, scale=1):
    return ew.exp(logpdf(x, a, loc, scale))


def cdf(x, a, loc=0, scale=1):
    x, a, loc, scale = promote(x, a, loc, scale)
    y, _ = standardize(x, loc, scale)
    return sp.igamma(a, jnp.maximum(y, c(0, y)))


def logcdf(x, a, loc=0, scale=1):
    return ew.log(cdf(x, a, loc, scale))


def sf(x, a, loc=0, scale=1):
    x, a, loc, scale = promote(x, a, loc, scale)
    y, _ = standardize(x, loc, scale)
    return sp.igammac(a, jnp.maximum(y, c(0, y)))


def logsf(x, a, loc=0, scale=1):
    return ew.log(sf(x, a, loc, scale))
