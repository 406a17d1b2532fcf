"""The uniform distribution on [loc, loc + scale] (as jax.scipy.stats.uniform)."""

from __future__ import annotations

import numpy as np

from jumba._src.lax import elementwise as ew
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.scipy.stats._common import c, promote


def logpdf(x, loc=0, scale=1):
    """-log(scale) on the support, -inf outside."""
    x, loc, scale = promote(x, loc, scale)
    out = ew.neg(ew.log(jnp.broadcast_to(scale, jnp.broadcast_shapes(
        jnp.shape(x), jnp.shape(loc), jnp.shape(scale)))))
    off = ew.bitwise_or(ew.lt(x, loc), ew.gt(x, ew.add(loc, scale)))
    return jnp.where(off, c(-np.inf, out), out)


def pdf(x, loc=0, scale=1):
    return ew.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote(x, loc, scale)
    return jnp.clip(ew.div(ew.sub(x, loc), scale), 0, 1)


def ppf(q, loc=0, scale=1):
    """loc + q scale for q in [0, 1], NaN outside."""
    q, loc, scale = promote(q, loc, scale)
    out = ew.add(loc, ew.mul(q, scale))
    bad = ew.bitwise_or(ew.lt(q, c(0, q)), ew.gt(q, c(1, q)))
    return jnp.where(bad, c(np.nan, out), out)
