"""The beta distribution (as jax.scipy.stats.beta)."""

from __future__ import annotations

import numpy as np

from jumba._src.lax import elementwise as ew
from jumba._src.lax import special as sp
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.scipy.special import betaln, xlog1py, xlogy
from jumba._src.scipy.stats._common import c, promote, standardize


def logpdf(x, a, b, loc=0, scale=1):
    """(a-1) log y + (b-1) log(1-y) - betaln(a, b) - log(scale) on 0 <= y <= 1."""
    x, a, b, loc, scale = promote(x, a, b, loc, scale)
    y, log_scale = standardize(x, loc, scale)
    one = c(1, y)
    out = ew.sub(ew.sub(ew.add(xlogy(ew.sub(a, one), y), xlog1py(ew.sub(b, one), ew.neg(y))),
                        betaln(a, b)), log_scale)
    off = ew.bitwise_or(ew.lt(y, c(0, y)), ew.gt(y, one))
    return jnp.where(off, c(-np.inf, out), out)


def pdf(x, a, b, loc=0, scale=1):
    return ew.exp(logpdf(x, a, b, loc, scale))


def cdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = promote(x, a, b, loc, scale)
    y, _ = standardize(x, loc, scale)
    return sp.betainc(a, b, jnp.clip(y, 0, 1))


def logcdf(x, a, b, loc=0, scale=1):
    return ew.log(cdf(x, a, b, loc, scale))


def sf(x, a, b, loc=0, scale=1):
    """1 - CDF, as I_{1-y}(b, a) (accurate near y = 1)."""
    x, a, b, loc, scale = promote(x, a, b, loc, scale)
    y, _ = standardize(x, loc, scale)
    return sp.betainc(b, a, ew.sub(c(1, y), jnp.clip(y, 0, 1)))


def logsf(x, a, b, loc=0, scale=1):
    return ew.log(sf(x, a, b, loc, scale))
