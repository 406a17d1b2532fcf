"""The Laplace distribution (as jax.scipy.stats.laplace)."""

from __future__ import annotations

import numpy as np

from jumba._src.lax import elementwise as ew
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.scipy.stats._common import c, promote, standardize


def logpdf(x, loc=0, scale=1):
    """-log(2 scale) - |x - loc| / scale."""
    x, loc, scale = promote(x, loc, scale)
    z, log_scale = standardize(x, loc, scale)
    return ew.neg(ew.add(ew.add(ew.abs(z), log_scale), c(np.log(2), z)))


def pdf(x, loc=0, scale=1):
    return ew.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote(x, loc, scale)
    z, _ = standardize(x, loc, scale)
    half = c(0.5, z)
    # Each branch exponentiates a non-positive number only.
    lower = ew.mul(half, ew.exp(jnp.minimum(z, c(0, z))))
    upper = ew.sub(c(1, z), ew.mul(half, ew.exp(ew.neg(jnp.maximum(z, c(0, z))))))
    return jnp.where(ew.lt(z, c(0, z)), lower, upper)
