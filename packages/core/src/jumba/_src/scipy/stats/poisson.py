"""The Poisson distribution (as jax.scipy.stats.poisson)."""

from __future__ import annotations

import numpy as np

from jumba._src.lax import elementwise as ew
from jumba._src.lax import special as sp
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.scipy.special import xlogy
from jumba._src.scipy.stats._common import c, promote


def logpmf(k, mu, loc=0):
    """k log mu - mu - log k! for integers k - loc >= 0, -inf elsewhere."""
    k, mu, loc = promote(k, mu, loc)
    k = ew.sub(k, loc)
    out = ew.sub(ew.sub(xlogy(k, mu), sp.lgamma(ew.add(k, c(1, k)))), mu)
    off = ew.bitwise_or(ew.lt(k, c(0, k)), ew.ne(ew.floor(k), k))
    return jnp.where(off, c(-np.inf, out), out)


def pmf(k, mu, loc=0):
    return ew.exp(logpmf(k, mu, loc))


def cdf(k, mu, loc=0):
    """Q(floor(k) + 1, mu) for k - loc >= 0, 0 below."""
    k, mu, loc = promote(k, mu, loc)
    k = ew.sub(k, loc)
    safe = jnp.maximum(ew.floor(k), c(0, k))
    out = sp.igammac(ew.add(safe, c(1, k)), mu)
    return jnp.where(ew.lt(k, c(0, k)), c(0, out), out)
