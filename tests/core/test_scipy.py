"""jumba.scipy.special and jumba.scipy.stats against SciPy through the five checks
(values, jit, vmap, gradients where JAX has them, x64), then conventions and errors."""

import numpy as np
import pytest
import scipy.special as sc
import scipy.stats as ss
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba as jb
import jumba.scipy.special as jsp
import jumba.scipy.stats as jst
from jumba.test_util import check_grads
from tests.core.numpy_checks import NUMERIC, OpSpec, table_tests, uniform

U = uniform
POS = U(0.3, 3.0)
PROB = U(0.03, 0.97)


def _integers(lo, hi):
    def sample(rng, shape, dtype):
        return rng.integers(lo, hi + 1, shape).astype(dtype)

    return sample


def _away_from_integers(lo, hi):
    def sample(rng, shape, dtype):
        k = rng.integers(lo, hi, shape)
        return (k + rng.uniform(0.15, 0.85, shape)).astype(dtype)

    return sample


def _float_out(*dts, **_):
    return np.result_type(*dts, np.float32) if all(d.kind != "f" for d in dts) else \
        np.result_type(*dts)


def _sp(name, nargs=1, ref=None, **kw):
    return OpSpec(f"special.{name}", getattr(jsp, name), ref or getattr(sc, name), nargs,
                  **kw)


SPECIAL = [
    _sp("erf", dtypes=NUMERIC, out_dtype=_float_out),
    _sp("erfc"),
    _sp("erfinv", domain=U(-0.95, 0.95), tol=1e-5),
    _sp("ndtr", domain=U(-6, 6)),
    _sp("ndtri", domain=PROB, tol=1e-5),
    _sp("log_ndtr", domain=U(-20, 6), tol=1e-5),
    _sp("gammaln", dtypes=NUMERIC, domain=U(0.3, 6), out_dtype=_float_out, tol=1e-5),
    _sp("gamma", domain=_away_from_integers(-3, 4), tol=1e-5),
    _sp("gammasgn", domain=_away_from_integers(-3, 4), grad_order=None),
    _sp("digamma", domain=U(0.3, 6), tol=1e-5),
    _sp("polygamma", 2, domain=(_integers(0, 3), U(0.5, 4)), grad_argnums=(1,), tol=1e-4),
    OpSpec("special.multigammaln", lambda a: jsp.multigammaln(a, 3),
           lambda a: sc.multigammaln(a, 3), domain=U(1.2, 5), tol=1e-5),
    _sp("gammainc", 2, domain=(U(0.5, 4), U(0.1, 5)), grad_argnums=(1,), tol=1e-5),
    _sp("gammaincc", 2, domain=(U(0.5, 4), U(0.1, 5)), grad_argnums=(1,), tol=1e-5),
    _sp("betaln", 2, domain=(POS, POS), tol=1e-5),
    _sp("betainc", 3, domain=(POS, POS, U(0.05, 0.95)), grad_argnums=(2,), tol=1e-5),
    _sp("zeta", 2, domain=(U(1.5, 4), U(0.5, 3)), grad_argnums=(1,), tol=1e-5),
    _sp("expit", dtypes=NUMERIC, domain=U(-8, 8), out_dtype=_float_out),
    _sp("logit", domain=PROB, tol=1e-5),
    _sp("xlogy", 2, domain=(U(-2, 2), POS), tol=1e-5),
    _sp("xlog1py", 2, domain=(U(-2, 2), U(-0.7, 2)), tol=1e-5),
    _sp("entr", domain=POS, tol=1e-5),
    _sp("rel_entr", 2, domain=(POS, POS), tol=1e-5),
    _sp("kl_div", 2, domain=(POS, POS), tol=1e-5),
    _sp("i0e", domain=U(-5, 5)),
    _sp("i1e", domain=U(-5, 5)),
    _sp("i0", domain=U(-5, 5), tol=1e-5),
    _sp("i1", domain=U(-5, 5), tol=1e-5),
    OpSpec("special.logsumexp", lambda a: jsp.logsumexp(a, axis=-1),
           lambda a: sc.logsumexp(a, axis=-1), min_dims=1, min_side=1, tol=1e-5),
    OpSpec("special.softmax", lambda a: jsp.softmax(a, axis=-1),
           lambda a: sc.softmax(a, axis=-1), min_dims=1, min_side=1, tol=1e-5),
    OpSpec("special.log_softmax", lambda a: jsp.log_softmax(a, axis=-1),
           lambda a: sc.log_softmax(a, axis=-1), min_dims=1, min_side=1, tol=1e-5),
]


def _st(dist, fn, nargs, domain, **kw):
    return OpSpec(f"stats.{dist}.{fn}", getattr(getattr(jst, dist), fn),
                  getattr(getattr(ss, dist), fn), nargs, domain=domain, tol=1e-5, **kw)


_LOC_SCALE = (U(-1, 1), U(0.5, 2))
_X_LS = (U(-3, 3), *_LOC_SCALE)
_Q_LS = (PROB, *_LOC_SCALE)

STATS = [
    *[_st("norm", f, 3, _X_LS) for f in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf")],
    *[_st("norm", f, 3, _Q_LS) for f in ("ppf", "isf")],
    *[_st("laplace", f, 3, (U(-3, 3), U(-1, 1), U(0.5, 2)), grad_argnums=(1, 2))
      for f in ("logpdf", "pdf")],
    _st("laplace", "cdf", 3, _X_LS, grad_argnums=(2,)),
    *[_st("cauchy", f, 3, _X_LS) for f in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf")],
    *[_st("cauchy", f, 3, _Q_LS) for f in ("ppf", "isf")],
    *[_st("logistic", f, 3, _X_LS) for f in ("logpdf", "pdf", "cdf", "sf")],
    *[_st("logistic", f, 3, _Q_LS) for f in ("ppf", "isf")],
    *[_st("expon", f, 3, (U(0, 4), U(-1, -0.1), U(0.5, 2))) for f in
      ("logpdf", "pdf", "cdf", "sf", "logsf")],
    _st("expon", "ppf", 3, _Q_LS),
    *[_st("uniform", f, 3, (U(0.1, 0.9), U(-1, 0), U(1, 2)), grad_argnums=(1, 2)) for f in
      ("logpdf", "pdf")],
    _st("uniform", "cdf", 3, (U(0.1, 0.9), U(-1, 0), U(1, 2))),
    _st("uniform", "ppf", 3, _Q_LS),
    *[_st("gamma", f, 2, (U(0.2, 5), U(0.5, 4))) for f in ("logpdf", "pdf")],
    *[_st("gamma", f, 2, (U(0.2, 5), U(0.5, 4)), grad_argnums=(0,)) for f in
      ("cdf", "sf", "logcdf", "logsf")],
    *[_st("beta", f, 3, (U(0.05, 0.95), U(0.5, 4), U(0.5, 4))) for f in ("logpdf", "pdf")],
    *[_st("beta", f, 3, (U(0.05, 0.95), U(0.5, 4), U(0.5, 4)), grad_argnums=(0,)) for f in
      ("cdf", "sf", "logcdf", "logsf")],
    *[_st("t", f, 4, (U(-3, 3), U(1, 6), *_LOC_SCALE)) for f in ("logpdf", "pdf")],
    *[_st("poisson", f, 2, (_integers(-1, 8), U(0.5, 5)), grad_argnums=(1,)) for f in
      ("logpmf", "pmf")],
    _st("poisson", "cdf", 2, (_integers(-1, 8), U(0.5, 5)), grad_order=None),
    *[_st("bernoulli", f, 2, (_integers(-1, 2), PROB), grad_argnums=(1,)) for f in
      ("logpmf", "pmf")],
    _st("bernoulli", "cdf", 2, (_integers(-1, 2), PROB), grad_order=None),
]


def _mvn_args(data, dtype):
    n = data.draw(st.integers(1, 4), label="dim")
    batch = data.draw(st.lists(st.integers(1, 3), max_size=2), label="batch")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    a = rng.standard_normal((n, n))
    cov = a @ a.T + n * np.eye(n)
    return [rng.standard_normal((*batch, n)).astype(dtype),
            rng.standard_normal(n).astype(dtype), cov.astype(dtype)], {}


STATS.append(OpSpec("stats.multivariate_normal.logpdf", jst.multivariate_normal.logpdf,
                    lambda x, m, c: np.asarray(ss.multivariate_normal.logpdf(x, m, c)).astype(
                        x.dtype).reshape(x.shape[:-1]),
                    nargs=3, args=_mvn_args, tol=1e-4, grad_order=1, grad_argnums=(0, 1),
                    vmap=False))

globals().update(table_tests(SPECIAL + STATS, examples=(5, 1, 2, 2, 1)))


# ---------------------------------------------------------------------------------------
# Conventions JAX documents


def test_xlogy_is_zero_at_zero_with_finite_gradient():
    assert jsp.xlogy(0.0, 0.0) == 0.0
    g = jb.grad(lambda y: jsp.xlogy(0.0, y))(0.0)
    assert g == 0.0


def test_logsumexp_with_weights_and_sign():
    a = np.array([1.0, 2.0, 3.0], np.float32)
    b = np.array([1.0, -1.0, 0.5], np.float32)
    out, sign = jsp.logsumexp(a, b=b, return_sign=True)
    want, want_sign = sc.logsumexp(a, b=b, return_sign=True)
    np.testing.assert_allclose(out, want, rtol=1e-6)
    assert sign == want_sign


def test_norm_tails_keep_precision():
    with jb.enable_x64():
        x = np.array([-30.0, -10.0, 10.0, 30.0])
        np.testing.assert_allclose(jst.norm.logcdf(x), ss.norm.logcdf(x), rtol=1e-12)
        np.testing.assert_allclose(jst.norm.logsf(x), ss.norm.logsf(x), rtol=1e-12)
        q = np.array([1e-300, 1e-20, 1 - 1e-12])
        np.testing.assert_allclose(jst.norm.ppf(q), ss.norm.ppf(q), rtol=1e-10)


@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_multivariate_normal_gradient_in_the_covariance(seed):
    rng = np.random.default_rng(seed)
    with jb.enable_x64():
        a = rng.standard_normal((3, 3))
        x = rng.standard_normal((2, 3))

        def f(a):
            return jst.multivariate_normal.logpdf(x, np.zeros(3), a @ a.T + 3 * np.eye(3))

        check_grads(f, (a,), order=1, modes=("fwd", "rev"))


def test_public_names_of_jax_scipy():
    for name in ["logsumexp", "erf", "erfc", "erfinv", "gammaln", "digamma", "gammainc",
                 "gammaincc", "betaln", "betainc", "expit", "logit", "xlogy", "xlog1py",
                 "entr", "softmax", "log_softmax", "i0e", "i1e", "ndtr", "ndtri", "log_ndtr",
                 "polygamma", "zeta", "multigammaln"]:
        assert hasattr(jsp, name), name
    for name in ["pdf", "logpdf", "cdf", "logcdf", "ppf", "sf", "logsf", "isf"]:
        assert hasattr(jst.norm, name), name
    assert jb.scipy.special is jsp


@pytest.mark.parametrize("call,match", [
    (lambda: jsp.zeta(2.0), "pass q=1"),
    (lambda: jsp.multigammaln(2.0, 0), "positive integer"),
    (lambda: jst.multivariate_normal.logpdf(np.zeros(2), np.zeros(2), np.eye(3)), "cov"),
    (lambda: jb.grad(lambda a: jsp.betainc(a, 1.0, 0.5))(2.0), "with respect to a"),
])
def test_bad_arguments_name_the_problem(call, match):
    with pytest.raises((TypeError, ValueError, NotImplementedError), match=match):
        call()

