"""The Bernoulli distribution (as jax.scipy.stats.bernoulli)."""

from __future__ import annotations

import numpy as np

from jumba._src.lax import elementwise as ew
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.scipy.special import xlog1py, xlogy
from jumba._src.scipy.stats._common import c, promote


def logpmf(k, p, loc=0):
    """k log p + (1 - k) log(1 - p) for k - loc in {0, 1}, -inf elsewhere."""
    k, p, loc = promote(k, p, loc)
    k = ew.sub(k, loc)
    one = c(1, k)
    out = ew.add(xlogy(k, p), xlog1py(ew.sub(one, k), ew.neg(p)))
    off = ew.bitwise_and(ew.ne(k, c(0, k)), ew.ne(k, one))
    return jnp.where(off, c(-np.inf, out), out)


def pmf(k, p, loc=0):
    return ew.exp(logpmf(k, p, loc))


def cdf(k, p, loc=0):
    """0 below 0, 1 - p on [0, 1), 1 from 1 on (NaN for p outside [0, 1])."""
    k, p, loc = promote(k, p, loc)
    k = ew.sub(k, loc)
    out = jnp.where(ew.lt(k, c(0, k)), c(0, k),
                    jnp.where(ew.lt(k, c(1, k)), ew.sub(c(1, p), p), c(1, k)))
    bad = ew.bitwise_or(ew.lt(p, c(0, p)), ew.gt(p, c(1, p)))
    return jnp.where(bad, c(np.nan, out), out)
