"""Special functions as primitives (as jax.lax's): erfc, lgamma, digamma, polygamma, the
regularized incomplete gamma and beta functions, exponentially scaled Bessel functions,
the Hurwitz zeta function, and the normal quantile and log-CDF.

Implementations call scipy.special (in the operand's dtype); derivative rules are JAX's,
written with these and the elementwise primitives, so they differentiate again.
"""

from __future__ import annotations

import numpy as np

from jumba._src.interpreters import ad
from jumba._src.lax import elementwise as ew
from jumba._src.lax.elementwise import _c, _float, standard_op


def _scipy(name, nargs=1):
    """A NumPy implementation calling scipy.special.<name>, rounded to the operand's dtype.

    Narrower floats are computed in float64, as the kernels' helpers do: most of scipy's
    float32 loops cast to double anyway, but betainc's (Boost, in single precision) is off
    by thousands of ulp where float64 rounded is within one."""
    def impl(*xs):
        import scipy.special as sc

        dt = xs[-1].dtype
        if dt.kind == "f" and dt.itemsize < 8:
            xs = [x.astype(np.float64) for x in xs]
        with np.errstate(all="ignore"):
            return np.asarray(getattr(sc, name)(*xs)).astype(dt, copy=False)

    impl.__name__ = f"_{name}_impl"
    return impl


def _unsupported(prim, arg, why=""):
    def rule(g, *args, **params):
        raise NotImplementedError(
            f"Differentiation of {prim} with respect to {arg} is not supported (as in JAX)"
            f"{why}. Wrap that argument in jumba.lax.stop_gradient if it is a constant.")

    return rule


# ---------------------------------------------------------------------------------------
# Error function complement, log-gamma and its derivatives

erfc_p = standard_op("erfc", _scipy("erfc"), accept=_float)
ad.defjvp(erfc_p, lambda g, x: ew.mul(g, ew.mul(_c(-2 / np.sqrt(np.pi), x),
                                               ew.exp(ew.neg(ew.square(x))))))

lgamma_p = standard_op("lgamma", _scipy("gammaln"), accept=_float)
ad.defjvp(lgamma_p, lambda g, x: ew.mul(g, digamma(x)))

digamma_p = standard_op("digamma", _scipy("digamma"), accept=_float)
ad.defjvp(digamma_p, lambda g, x: ew.mul(g, polygamma(_c(1, x), x)))


def _polygamma_impl(m, x):
    import scipy.special as sc

    with np.errstate(all="ignore"):
        # scipy rejects non-integer orders; XLA gives NaN for them.
        mi = np.round(m)
        ok = (mi == m) & (m >= 0)
        out = sc.polygamma(np.where(ok, mi, 0).astype(np.int64), x)
        return np.where(ok, out, np.nan).astype(x.dtype)


polygamma_p = standard_op("polygamma", _polygamma_impl, nargs=2, accept=_float)
ad.defjvp(polygamma_p, _unsupported("polygamma", "its order m"),
          lambda g, m, x: ew.mul(g, polygamma(ew.add(m, _c(1, m)), x)))

# ---------------------------------------------------------------------------------------
# Regularized incomplete gamma functions P(a, x) (igamma) and Q(a, x) (igammac)


def _igamma_dx(a, x):
    # d/dx P(a, x) = x^(a-1) e^(-x) / Gamma(a), computed in logs.
    return ew.exp(ew.sub(ew.sub(ew.mul(ew.sub(a, _c(1, a)), ew.log(x)), x), lgamma(a)))


igamma_p = standard_op("igamma", _scipy("gammainc", 2), nargs=2, accept=_float)
ad.defjvp(igamma_p, lambda g, a, x: ew.mul(g, igamma_grad_a(a, x)),
          lambda g, a, x: ew.mul(g, _igamma_dx(a, x)))

igammac_p = standard_op("igammac", _scipy("gammaincc", 2), nargs=2, accept=_float)
ad.defjvp(igammac_p, lambda g, a, x: ew.neg(ew.mul(g, igamma_grad_a(a, x))),
          lambda g, a, x: ew.neg(ew.mul(g, _igamma_dx(a, x))))


def _igamma_grad_a_impl(a, x):
    """d/da P(a, x) from the series P = sum_n exp((a+n) log x - x - lgamma(a+n+1)),
    differentiated term by term (each term gains a factor log x - digamma(a+n+1)). The
    terms peak near n = x, so the sum runs until they vanish, about x + 12 sqrt(x) terms:
    exact to rounding, and fast for the moderate x of gamma sampling and fitting."""
    import scipy.special as sc

    dt = np.result_type(a, x)
    a64, x64 = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    out = np.zeros(a64.shape)
    with np.errstate(all="ignore"):
        logx = np.log(x64)
        # Only finite positive x and a have terms (an infinite or nan one would make them
        # all nan and run the loop to its cap).
        summed = (x64 > 0) & np.isfinite(x64) & (a64 > 0) & np.isfinite(a64)
        x_max = np.max(x64, where=summed, initial=0.0)
        n_max = int(np.clip(x_max + 12 * np.sqrt(x_max) + 60, 60, 20000))
        for n in range(n_max):
            an = a64 + n
            log_term = an * logx - x64 - sc.gammaln(an + 1)
            term = np.exp(log_term) * (logx - sc.digamma(an + 1))
            term = np.where(summed, term, 0.0)
            out += term
            if n > 20 and np.all(np.abs(term) <= 1e-17 * np.maximum(np.abs(out), 1e-300)):
                break
        out = np.where((x64 <= 0) | np.isinf(x64), 0.0, out)
        out = np.where(np.isnan(a64) | np.isnan(x64) | (a64 <= 0), np.nan, out)
    return out.astype(dt)


igamma_grad_a_p = standard_op("igamma_grad_a", _igamma_grad_a_impl, nargs=2, accept=_float)
ad.defjvp(igamma_grad_a_p, _unsupported("igamma_grad_a", "a", " beyond first order"),
          lambda g, a, x: ew.mul(g, ew.mul(_igamma_dx(a, x),
                                           ew.sub(ew.log(x), digamma(a)))))

# ---------------------------------------------------------------------------------------
# Regularized incomplete beta function I_x(a, b)

regularized_incomplete_beta_p = standard_op(
    "regularized_incomplete_beta", _scipy("betainc", 3), nargs=3, accept=_float)


def _betainc_dx(g, a, b, x):
    # x^(a-1) (1-x)^(b-1) / B(a, b), in logs.
    one = _c(1, x)
    log_beta = ew.sub(ew.add(lgamma(a), lgamma(b)), lgamma(ew.add(a, b)))
    log_d = ew.sub(ew.add(ew.mul(ew.sub(a, one), ew.log(x)),
                          ew.mul(ew.sub(b, one), ew.log1p(ew.neg(x)))), log_beta)
    return ew.mul(g, ew.exp(log_d))


ad.defjvp(regularized_incomplete_beta_p, _unsupported("betainc", "a"),
          _unsupported("betainc", "b"), _betainc_dx)

# ---------------------------------------------------------------------------------------
# Exponentially scaled modified Bessel functions of order 0 and 1

bessel_i0e_p = standard_op("bessel_i0e", _scipy("i0e"), accept=_float)
bessel_i1e_p = standard_op("bessel_i1e", _scipy("i1e"), accept=_float)
ad.defjvp2(bessel_i0e_p, lambda g, ans, x: ew.mul(g, ew.sub(bessel_i1e(x),
                                                             ew.mul(ew.sign(x), ans))))


def _bessel_i1e_jvp(g, ans, x):
    # i1e' = i0e - i1e (sign(x) + 1/x), with its limit 1/2 at x = 0.
    from jumba._src.core import get_aval
    from jumba._src.lax.structural import broadcast_to

    shape = get_aval(x).shape
    eps = _c(np.finfo(get_aval(x).dtype).eps, x)
    not_tiny = ew.gt(ew.abs(x), eps)
    safe_x = ew.select_n(not_tiny, broadcast_to(eps, shape), x)
    d = ew.sub(bessel_i0e(safe_x), ew.mul(ans, ew.add(ew.sign(safe_x),
                                                      ew.div(_c(1, x), safe_x))))
    return ew.mul(g, ew.select_n(not_tiny, broadcast_to(_c(0.5, x), shape), d))


ad.defjvp2(bessel_i1e_p, _bessel_i1e_jvp)

# ---------------------------------------------------------------------------------------
# Hurwitz zeta function zeta(x, q) = sum_n (n + q)^-x

zeta_p = standard_op("zeta", _scipy("zeta", 2), nargs=2, accept=_float)
ad.defjvp(zeta_p, _unsupported("zeta", "x"),
          lambda g, x, q: ew.mul(g, ew.neg(ew.mul(x, zeta(ew.add(x, _c(1, x)), q)))))

# ---------------------------------------------------------------------------------------
# The standard normal's quantile (ndtri) and log-CDF (log_ndtr): primitives of their own,
# so that tails keep full precision (composites through erf lose it).

ndtri_p = standard_op("ndtri", _scipy("ndtri"), accept=_float)
# d/dp ndtri(p) = 1 / phi(ndtri(p)) = sqrt(2 pi) exp(ans^2 / 2).
ad.defjvp2(ndtri_p, lambda g, ans, p: ew.mul(g, ew.mul(
    _c(np.sqrt(2 * np.pi), p), ew.exp(ew.mul(_c(0.5, p), ew.square(ans))))))

log_ndtr_p = standard_op("log_ndtr", _scipy("log_ndtr"), accept=_float)
# d/dx log Phi(x) = phi(x) / Phi(x) = exp(-x^2/2 - log Phi(x)) / sqrt(2 pi).
ad.defjvp2(log_ndtr_p, lambda g, ans, x: ew.mul(g, ew.exp(ew.sub(ew.sub(
    ew.mul(_c(-0.5, x), ew.square(x)), ans), _c(0.5 * np.log(2 * np.pi), x)))))


# ---------------------------------------------------------------------------------------
# The lax API


def _check_float(name, *xs):
    from jumba._src.core import get_aval

    for x in xs:
        dt = get_aval(x).dtype
        if dt.kind not in "fc":
            raise TypeError(f"lax.{name} does not accept dtype {dt.name}: it needs floating "
                            "point operands; convert with .astype(jnp.float32) or use "
                            "jumba.scipy.special, which promotes integers")


def _unary(p, doc):
    def fn(x):
        _check_float(p.name, x)
        return p.bind(x)

    fn.__name__ = p.name
    fn.__doc__ = doc
    return fn


def _same_dtype(*xs):
    """Operands of one floating dtype (Python scalars take the arrays' dtype)."""
    from jumba._src.numpy.lax_numpy import promote_dtypes_inexact

    return promote_dtypes_inexact(*xs)


erfc = _unary(erfc_p, "Complementary error function 1 - erf(x) (as `jax.lax.erfc`).")
lgamma = _unary(lgamma_p, "log |Gamma(x)| (as `jax.lax.lgamma`).")
digamma = _unary(digamma_p, "The digamma function Gamma'(x)/Gamma(x) (as `jax.lax.digamma`).")
bessel_i0e = _unary(bessel_i0e_p, "exp(-|x|) I0(x) (as `jax.lax.bessel_i0e`).")
bessel_i1e = _unary(bessel_i1e_p, "exp(-|x|) I1(x) (as `jax.lax.bessel_i1e`).")
ndtri = _unary(ndtri_p, "The standard normal quantile function (inverse of ndtr).")
log_ndtr = _unary(log_ndtr_p, "log of the standard normal CDF, accurate in both tails.")


def polygamma(m, x):
    """The m-th derivative of digamma (as `jax.lax.polygamma`); m is an integer-valued
    array of x's dtype."""
    m, x = _same_dtype(m, x)
    return polygamma_p.bind(m, x)


def igamma(a, x):
    """Regularized lower incomplete gamma P(a, x) (as `jax.lax.igamma`)."""
    a, x = _same_dtype(a, x)
    return igamma_p.bind(a, x)


def igammac(a, x):
    """Regularized upper incomplete gamma Q(a, x) = 1 - P(a, x) (as `jax.lax.igammac`)."""
    a, x = _same_dtype(a, x)
    return igammac_p.bind(a, x)


def igamma_grad_a(a, x):
    """d/da P(a, x) (as `jax.lax.igamma_grad_a`)."""
    a, x = _same_dtype(a, x)
    return igamma_grad_a_p.bind(a, x)


def random_gamma_grad(a, x):
    """d sample / d a for a Gamma(a, 1) sample `x` by implicit differentiation of
    P(a, x) = u: -(dP/da) / (dP/dx) (as `jax.lax.random_gamma_grad`)."""
    a, x = _same_dtype(a, x)
    return ew.neg(ew.div(igamma_grad_a(a, x), _igamma_dx(a, x)))


def betainc(a, b, x):
    """Regularized incomplete beta I_x(a, b) (as `jax.lax.betainc`); differentiable in x
    only, as in JAX."""
    a, b, x = _same_dtype(a, b, x)
    return regularized_incomplete_beta_p.bind(a, b, x)


def zeta(x, q):
    """Hurwitz zeta sum_n (n + q)^-x (as `jax.lax.zeta`); differentiable in q."""
    x, q = _same_dtype(x, q)
    return zeta_p.bind(x, q)
