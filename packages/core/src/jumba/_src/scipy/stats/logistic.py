"""The logistic distribution (as jax.scipy.stats.logistic)."""

from __future__ import annotations

from jumba._src.lax import elementwise as ew
from jumba._src.scipy.special import logit
from jumba._src.scipy.stats._common import c, promote, standardize


def logpdf(x, loc=0, scale=1):
    """-|z| - 2 log1p(exp(-|z|)) - log(scale), with z = (x - loc) / scale."""
    x, loc, scale = promote(x, loc, scale)
    z, log_scale = standardize(x, loc, scale)
    a = ew.abs(z)
    return ew.sub(ew.neg(ew.add(a, ew.mul(c(2, a), ew.log1p(ew.exp(ew.neg(a)))))), log_scale)


def pdf(x, loc=0, scale=1):
    return ew.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    x, loc, scale = promote(x, loc, scale)
    return ew.logistic(standardize(x, loc, scale)[0])


def sf(x, loc=0, scale=1):
    x, loc, scale = promote(x, loc, scale)
    return ew.logistic(ew.neg(standardize(x, loc, scale)[0]))


def ppf(q, loc=0, scale=1):
    q, loc, scale = promote(q, loc, scale)
    return ew.add(loc, ew.mul(scale, logit(q)))


def isf(q, loc=0, scale=1):
    q, loc, scale = promote(q, loc, scale)
    return ew.sub(loc, ew.mul(scale, logit(q)))
