"""lax.custom_root and lax.custom_linear_solve: values from the user's solver, derivatives
from the implicit equations (checked against closed forms, jnp.linalg.solve and finite
differences), never from differentiating the solver's loop."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba as jb
import jumba.lax as lax
import jumba.numpy as jnp
from jumba.test_util import check_grads


def newton_sqrt(a):
    def solve(f, x0):  # a while_loop: reverse mode could not go through it
        def body(x):
            return x - f(x) / (2 * x)
        return lax.while_loop(lambda x: jnp.abs(f(x)) > 1e-6, body, x0)

    return lax.custom_root(lambda x: x ** 2 - a, 1.0, solve, lambda g, y: y / g(1.0))


@settings(max_examples=10)
@given(a=st.floats(0.5, 10.0))
def test_custom_root_value_and_derivatives(a):
    a = np.float32(a)
    np.testing.assert_allclose(float(newton_sqrt(a)), np.sqrt(a), rtol=1e-5)
    expected = 0.5 / np.sqrt(a)
    np.testing.assert_allclose(float(jb.grad(newton_sqrt)(a)), expected, rtol=1e-4)
    np.testing.assert_allclose(float(jb.jit(jb.grad(newton_sqrt))(a)), expected, rtol=1e-4)
    np.testing.assert_allclose(float(jb.jvp(newton_sqrt, (a,), (np.float32(1),))[1]),
                               expected, rtol=1e-4)


def test_custom_root_of_a_vector_function_and_vmap():
    A = jnp.asarray(np.array([[3.0, 1.0], [1.0, 2.0]], np.float32))

    def root(b):
        f = lambda x: A @ x + 0.1 * x ** 3 - b  # noqa: E731

        def solve(f, x0):
            return lax.fori_loop(0, 50, lambda i, x: x - jnp.linalg.solve(
                jb.jacfwd(f)(x), f(x)), x0)

        def tangent_solve(g, y):
            return jnp.linalg.solve(jb.jacfwd(g)(y), y)

        return lax.custom_root(f, jnp.zeros(2), solve, tangent_solve)

    b = jnp.asarray(np.array([1.0, -2.0], np.float32))
    x = root(b)
    np.testing.assert_allclose(np.asarray(A @ x + 0.1 * x ** 3), np.asarray(b), atol=1e-5)
    check_grads(lambda b: jnp.sum(jnp.sin(root(b))), (b,), order=1, modes=("fwd", "rev"),
                atol=2e-2, rtol=2e-2)
    batch = jnp.stack([b, b * 0.5])
    np.testing.assert_allclose(np.asarray(jb.vmap(root)(batch)),
                               np.stack([np.asarray(root(r)) for r in batch]), rtol=1e-5)


def conjugate_gradient(matvec, b):
    def body(state):
        x, r, p, k = state
        ap = matvec(p)
        alpha = (r @ r) / (p @ ap)
        x, r_new = x + alpha * p, r - alpha * ap
        return x, r_new, r_new + (r_new @ r_new) / (r @ r) * p, k + 1

    def not_done(state):
        return (state[3] < 50) & (jnp.sum(state[1] ** 2) > 1e-12)

    return lax.while_loop(not_done, body, (jnp.zeros_like(b), b, b, 0))[0]


def spd(seed, n=4):
    m = np.random.default_rng(seed).normal(size=(n, n)).astype(np.float32)
    return jnp.asarray(m @ m.T + n * np.eye(n, dtype=np.float32))


@pytest.mark.parametrize("seed", [0, 1])
def test_custom_linear_solve_matches_linalg_solve_with_derivatives(seed):
    A = spd(seed)
    b = jnp.asarray(np.random.default_rng(seed + 10).normal(size=4).astype(np.float32))

    def via_cg(A, b):
        x = lax.custom_linear_solve(lambda v: A @ v, b, conjugate_gradient, symmetric=True)
        return jnp.sum(jnp.sin(x))

    def via_linalg(A, b):
        return jnp.sum(jnp.sin(jnp.linalg.solve(A, b)))

    np.testing.assert_allclose(float(via_cg(A, b)), float(via_linalg(A, b)), rtol=1e-5)
    for grad in (jb.grad(via_cg, argnums=(0, 1)), jb.jit(jb.grad(via_cg, argnums=(0, 1)))):
        for got, want in zip(grad(A, b), jb.grad(via_linalg, argnums=(0, 1))(A, b)):
            np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-5)
    dA = jnp.ones((4, 4))
    np.testing.assert_allclose(float(jb.jvp(via_cg, (A, b), (dA, b))[1]),
                               float(jb.jvp(via_linalg, (A, b), (dA, b))[1]), rtol=1e-4)


def test_custom_linear_solve_nonsymmetric_needs_transpose_solve():
    A = spd(3) + jnp.triu(jnp.ones((4, 4)), 1)
    b = jnp.arange(1.0, 5.0)
    solve = lambda mv, r: jnp.linalg.solve(jb.jacfwd(mv)(r), r)  # noqa: E731
    f = lambda b: jnp.sum(lax.custom_linear_solve(lambda v: A @ v, b, solve) ** 2)  # noqa: E731
    np.testing.assert_allclose(float(f(b)), float(jnp.sum(jnp.linalg.solve(A, b) ** 2)),
                               rtol=1e-5)
    with pytest.raises(TypeError, match="transpose_solve"):
        jb.grad(f)(b)
    g = lambda b: jnp.sum(lax.custom_linear_solve(  # noqa: E731
        lambda v: A @ v, b, solve, transpose_solve=solve) ** 2)
    np.testing.assert_allclose(np.asarray(jb.grad(g)(b)),
                               np.asarray(jb.grad(lambda b: jnp.sum(
                                   jnp.linalg.solve(A, b) ** 2))(b)), rtol=1e-4)


def test_mismatched_structures_are_reported():
    with pytest.raises(TypeError, match="tree structure"):
        lax.custom_root(lambda x: (x, x), 1.0, lambda f, x0: x0, lambda g, y: y)
