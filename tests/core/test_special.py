"""lax special-function primitives against scipy.special through the five checks, then
their derivative conventions (JAX's) and errors."""

import numpy as np
import pytest
import scipy.special as sc

import jumba as jb
import jumba.lax as lax
from jumba.test_util import check_grads
from tests.core.numpy_checks import OpSpec, table_tests, uniform

U = uniform


def _integers(lo, hi):
    def sample(rng, shape, dtype):
        return rng.integers(lo, hi + 1, shape).astype(dtype)

    return sample


def _dgammainc_da(a, x):
    a, x = np.asarray(a, np.float64), np.asarray(x, np.float64)
    h = 1e-6 * np.maximum(a, 1.0)
    return ((sc.gammainc(a + h, x) - sc.gammainc(a - h, x)) / (2 * h)).astype(
        np.result_type(a.dtype, np.float32))


def _random_gamma_grad_ref(a, x):
    a64, x64 = np.asarray(a, np.float64), np.asarray(x, np.float64)
    dx = np.exp((a64 - 1) * np.log(x64) - x64 - sc.gammaln(a64))
    return -_dgammainc_da(a64, x64) / dx


SPECS = [
    OpSpec("erfc", lax.erfc, sc.erfc),
    OpSpec("lgamma", lax.lgamma, sc.gammaln, domain=U(0.2, 6.0), tol=1e-5),
    OpSpec("digamma", lax.digamma, sc.digamma, domain=U(0.3, 6.0), tol=1e-5),
    OpSpec("polygamma", lax.polygamma, sc.polygamma, nargs=2,
           domain=(_integers(0, 3), U(0.5, 4.0)), grad_argnums=(1,), tol=1e-4),
    OpSpec("igamma", lax.igamma, sc.gammainc, nargs=2, domain=(U(0.5, 4.0), U(0.1, 5.0)),
           grad_argnums=(1,), tol=1e-5),
    OpSpec("igamma_in_a", lax.igamma, sc.gammainc, nargs=2, domain=(U(0.5, 4.0), U(0.1, 5.0)),
           grad_argnums=(0,), grad_order=1, tol=1e-5),
    OpSpec("igammac", lax.igammac, sc.gammaincc, nargs=2, domain=(U(0.5, 4.0), U(0.1, 5.0)),
           grad_argnums=(1,), tol=1e-5),
    OpSpec("igammac_in_a", lax.igammac, sc.gammaincc, nargs=2,
           domain=(U(0.5, 4.0), U(0.1, 5.0)), grad_argnums=(0,), grad_order=1, tol=1e-5),
    OpSpec("igamma_grad_a", lax.igamma_grad_a, _dgammainc_da, nargs=2,
           domain=(U(0.5, 4.0), U(0.1, 8.0)), grad_argnums=(1,), grad_order=1, tol=1e-4),
    OpSpec("random_gamma_grad", lax.random_gamma_grad, _random_gamma_grad_ref, nargs=2,
           domain=(U(0.5, 4.0), U(0.2, 5.0)), grad_order=None, tol=1e-4),
    OpSpec("betainc", lax.betainc, sc.betainc, nargs=3,
           domain=(U(0.5, 4.0), U(0.5, 4.0), U(0.05, 0.95)), grad_argnums=(2,), tol=1e-5),
    OpSpec("bessel_i0e", lax.bessel_i0e, sc.i0e, domain=U(-5.0, 5.0)),
    OpSpec("bessel_i1e", lax.bessel_i1e, sc.i1e, domain=U(-5.0, 5.0)),
    OpSpec("zeta", lax.zeta, sc.zeta, nargs=2, domain=(U(1.5, 4.0), U(0.5, 3.0)),
           grad_argnums=(1,), tol=1e-5),
]

globals().update(table_tests(SPECS, examples=(10, 3, 3, 3, 2)))


def test_bessel_i1e_derivative_at_zero_is_one_half():
    g = jb.grad(lambda x: lax.bessel_i1e(x))(np.float32(0.0))
    assert g == np.float32(0.5)


def test_digamma_gradient_is_trigamma():
    with jb.enable_x64():
        x = np.array([0.5, 1.0, 3.5])
        np.testing.assert_allclose(jb.vmap(jb.grad(lax.digamma))(x), sc.polygamma(1, x),
                                   rtol=1e-12)


def test_igamma_second_derivative_in_x():
    with jb.enable_x64():
        check_grads(lambda x: lax.igamma(2.5, x), (np.array([0.3, 1.0, 4.0]),), order=2)


@pytest.mark.parametrize("call,match", [
    (lambda: jb.grad(lambda a: lax.betainc(a, 2.0, 0.5))(1.5), "betainc with respect to a"),
    (lambda: jb.grad(lambda x: lax.zeta(x, 2.0))(3.0), "zeta with respect to x"),
    (lambda: jb.grad(lambda m: lax.polygamma(m, 2.0))(1.0), "order m"),
    (lambda: lax.lgamma(np.int32(3)), "dtype int32"),
])
def test_unsupported_uses_name_the_problem(call, match):
    with pytest.raises((NotImplementedError, TypeError), match=match):
        call()
