"""The exponential distribution (as jax.scipy.stats.expon)."""

from __future__ import annotations

import numpy as np

from jumba._src.lax import elementwise as ew
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.scipy.stats._common import c, promote, standardize


def logpdf(x, loc=0, scale=1):
    """-(x - loc) / scale - log(scale) for x >= loc, -inf below."""
    x, loc, scale = promote(x, loc, scale)
    z, log_scale = standardize(x, loc, scale)
    out = ew.neg(ew.add(z, log_scale))
    return jnp.where(ew.lt(z, c(0, z)), c(-np.inf, out), out)


def pdf(x, loc=0, scale=1):
    return ew.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote(x, loc, scale)
    z, _ = standardize(x, loc, scale)
    return jnp.where(ew.lt(z, c(0, z)), c(0, z), ew.neg(ew.expm1(ew.neg(z))))


def sf(x, loc=0, scale=1):
    x, loc, scale = promote(x, loc, scale)
    z, _ = standardize(x, loc, scale)
    return jnp.where(ew.lt(z, c(0, z)), c(1, z), ew.exp(ew.neg(z)))


def logsf(x, loc=0, scale=1):
    x, loc, scale = promote(x, loc, scale)
    z, _ = standardize(x, loc, scale)
    return jnp.where(ew.lt(z, c(0, z)), c(0, z), ew.neg(z))


def ppf(q, loc=0, scale=1):
    """-log1p(-q) scale + loc."""
    q, loc, scale = promote(q, loc, scale)
    return ew.add(loc, ew.mul(scale, ew.neg(ew.log1p(ew.neg(q)))))
