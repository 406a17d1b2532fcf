"""Student's t distribution (as jax.scipy.stats.t)."""

from __future__ import annotations

import numpy as np

from jumba._src.lax import elementwise as ew
from jumba._src.lax import special as sp
from jumba._src.scipy.stats._common import c, promote, standardize


def logpdf(x, df, loc=0, scale=1):
    """log Gamma((df+1)/2) - log Gamma(df/2) - log(sqrt(df pi) scale)
    - (df+1)/2 log1p(z^2 / df)."""
    x, df, loc, scale = promote(x, df, loc, scale)
    z, log_scale = standardize(x, loc, scale)
    half = c(0.5, z)
    norm = ew.sub(ew.sub(sp.lgamma(ew.mul(half, ew.add(df, c(1, df)))),
                         sp.lgamma(ew.mul(half, df))),
                  ew.add(ew.mul(half, ew.log(ew.mul(df, c(np.pi, df)))), log_scale))
    tail = ew.mul(ew.mul(half, ew.add(df, c(1, df))), ew.log1p(ew.div(ew.square(z), df)))
    return ew.sub(norm, tail)


def pdf(x, df, loc=0, scale=1):
    return ew.exp(logpdf(x, df, loc, scale))
