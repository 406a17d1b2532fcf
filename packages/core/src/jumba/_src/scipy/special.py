"""jumba.scipy.special: special functions on arrays, differentiable (as
jax.scipy.special). Thin compositions of the `lax` special-function primitives."""

from __future__ import annotations

import numpy as np

from jumba._src.core import Tracer, get_aval
from jumba._src.lax import elementwise as ew
from jumba._src.lax import special as sp
from jumba._src.nn.functions import log_softmax, logsumexp, softmax  # noqa: F401
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.numpy.lax_numpy import promote_dtypes_inexact


def _f(*xs):
    """Operands promoted to one floating dtype (integers become the default float)."""
    out = promote_dtypes_inexact(*xs)
    return out[0] if len(xs) == 1 else out


def _c(value, like):
    return np.asarray(value, get_aval(like).dtype)


# ---------------------------------------------------------------------------------------
# Error functions and the normal distribution


def erf(x):
    """The error function."""
    return ew.erf(_f(x))


def erfc(x):
    """The complementary error function 1 - erf(x), accurate for large x."""
    return sp.erfc(_f(x))


def erfinv(x):
    """The inverse error function."""
    return ew.erf_inv(_f(x))


def ndtr(x):
    """The standard normal CDF, 0.5 erfc(-x / sqrt(2))."""
    x = _f(x)
    return ew.mul(_c(0.5, x), sp.erfc(ew.mul(x, _c(-1 / np.sqrt(2), x))))


def ndtri(p):
    """The standard normal quantile function (inverse of ndtr)."""
    return sp.ndtri(_f(p))


def log_ndtr(x, series_order: int = 3):
    """log of the standard normal CDF, accurate in both tails (series_order is accepted
    for JAX's signature; the value is computed to full precision)."""
    del series_order
    return sp.log_ndtr(_f(x))


# ---------------------------------------------------------------------------------------
# Gamma, beta and related functions


def gammaln(x):
    """log |Gamma(x)|."""
    return sp.lgamma(_f(x))


loggamma = gammaln  # the principal branch of log Gamma, for real arguments


def gammasgn(x):
    """The sign of Gamma(x) (NaN at the poles 0, -1, -2, ...)."""
    x = _f(x)
    fl = ew.floor(x)
    odd = ew.ne(ew.rem(fl, _c(2, x)), _c(0, x))
    neg_sign = ew.select_n(odd, jnp.ones_like(x), jnp.full_like(x, -1))
    pole = ew.bitwise_and(ew.le(x, _c(0, x)), ew.eq(fl, x))
    out = ew.select_n(ew.gt(x, _c(0, x)), neg_sign, jnp.ones_like(x))
    return ew.select_n(pole, out, jnp.full_like(x, np.nan))


def gamma(x):
    """The gamma function, gammasgn(x) exp(gammaln(x))."""
    x = _f(x)
    return ew.mul(gammasgn(x), ew.exp(sp.lgamma(x)))


def factorial(n, exact: bool = False):
    """n! = Gamma(n + 1) for n >= 0 (0 for n < 0), as scipy's with exact=False."""
    if exact:
        raise NotImplementedError("factorial(exact=True) needs Python integers; use "
                                  "math.factorial, or exact=False")
    n = _f(n)
    return jnp.where(ew.lt(n, _c(0, n)), _c(0, n), ew.exp(sp.lgamma(ew.add(n, _c(1, n)))))


def digamma(x):
    """The digamma function, d/dx log Gamma(x)."""
    return sp.digamma(_f(x))


def polygamma(n, x):
    """The n-th derivative of digamma (n a non-negative integer, or array of them)."""
    n, x = _f(n, x)
    return sp.polygamma(n, x)


def multigammaln(a, d: int):
    """The log of the multivariate gamma function of dimension `d` (a static int)."""
    if isinstance(d, Tracer):
        raise TypeError("multigammaln: d must be a static Python int, not a traced value")
    d = int(d)
    if d < 1:
        raise ValueError(f"multigammaln: d must be a positive integer, got {d}")
    a = _f(a)
    out = jnp.full_like(a, d * (d - 1) / 4 * np.log(np.pi))
    for j in range(d):
        out = ew.add(out, sp.lgamma(ew.sub(a, _c(j / 2, a))))
    return out


def gammainc(a, x):
    """The regularized lower incomplete gamma function P(a, x)."""
    return sp.igamma(*_f(a, x))


def gammaincc(a, x):
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
    return sp.igammac(*_f(a, x))


def betaln(a, b):
    """log |B(a, b)| = gammaln(a) + gammaln(b) - gammaln(a + b)."""
    a, b = _f(a, b)
    return ew.sub(ew.add(sp.lgamma(a), sp.lgamma(b)), sp.lgamma(ew.add(a, b)))


def beta(a, b):
    """The beta function B(a, b) (for positive arguments)."""
    return ew.exp(betaln(a, b))


def betainc(a, b, x):
    """The regularized incomplete beta function I_x(a, b) (differentiable in x)."""
    return sp.betainc(*_f(a, b, x))


def zeta(x, q=None):
    """The Hurwitz zeta function sum_n (n + q)^-x; pass q=1 for Riemann's."""
    if q is None:
        raise NotImplementedError("zeta(x) without q (Riemann zeta) is not implemented, "
                                  "as in JAX: pass q=1")
    return sp.zeta(*_f(x, q))


# ---------------------------------------------------------------------------------------
# Logistic and entropy functions


def expit(x):
    """The logistic sigmoid 1 / (1 + exp(-x))."""
    return ew.logistic(_f(x))


def logit(x):
    """The log-odds log(x / (1 - x))."""
    x = _f(x)
    return ew.log(ew.div(x, ew.sub(_c(1, x), x)))


def _x_log(x, y, log):
    # 0 where x == 0 (even if log(y) is infinite), with gradients that stay finite there.
    x, y = _f(x, y)
    x_ok = ew.ne(x, _c(0, x))
    safe_x = jnp.where(x_ok, x, _c(1, x))
    safe_y = jnp.where(x_ok, y, _c(1, y))
    return jnp.where(x_ok, ew.mul(safe_x, log(safe_y)), jnp.zeros_like(safe_x))


def xlogy(x, y):
    """x * log(y), defined as 0 where x == 0."""
    return _x_log(x, y, ew.log)


def xlog1py(x, y):
    """x * log1p(y), defined as 0 where x == 0."""
    return _x_log(x, y, ew.log1p)


def entr(x):
    """Elementwise entropy -x log x (0 at 0, -inf for x < 0)."""
    x = _f(x)
    pos = ew.gt(x, _c(0, x))
    safe = jnp.where(pos, x, _c(1, x))
    other = jnp.where(ew.eq(x, _c(0, x)), _c(0, x), _c(-np.inf, x))
    return jnp.where(pos, ew.neg(ew.mul(x, ew.log(safe))), other)


def rel_entr(p, q):
    """p log(p / q) for p, q > 0; 0 for p == 0 and q >= 0; inf otherwise."""
    p, q = _f(p, q)
    both = ew.bitwise_and(ew.gt(p, _c(0, p)), ew.gt(q, _c(0, q)))
    safe_p = jnp.where(both, p, _c(1, p))
    safe_q = jnp.where(both, q, _c(1, q))
    zero = ew.bitwise_and(ew.eq(p, _c(0, p)), ew.ge(q, _c(0, q)))
    other = jnp.where(zero, _c(0, p), _c(np.inf, p))
    return jnp.where(both, ew.mul(safe_p, ew.log(ew.div(safe_p, safe_q))), other)


def kl_div(p, q):
    """p log(p / q) - p + q for p, q > 0; q for p == 0 and q >= 0; inf otherwise."""
    p, q = _f(p, q)
    return jnp.where(jnp.isinf(rel_entr(p, q)), rel_entr(p, q),
                     ew.add(ew.sub(rel_entr(p, q), p), q))


# ---------------------------------------------------------------------------------------
# Bessel functions


def i0e(x):
    """The exponentially scaled modified Bessel function of order 0, exp(-|x|) I0(x)."""
    return sp.bessel_i0e(_f(x))


def i1e(x):
    """The exponentially scaled modified Bessel function of order 1, exp(-|x|) I1(x)."""
    return sp.bessel_i1e(_f(x))


def i0(x):
    """The modified Bessel function of order 0."""
    x = _f(x)
    return ew.mul(ew.exp(ew.abs(x)), sp.bessel_i0e(x))


def i1(x):
    """The modified Bessel function of order 1."""
    x = _f(x)
    return ew.mul(ew.exp(ew.abs(x)), sp.bessel_i1e(x))
