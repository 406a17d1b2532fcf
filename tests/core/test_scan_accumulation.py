"""The pass that moves a scan carry's sum of outer products out of the loop
(compiler/scan_accumulation.py): same results as the loop it replaces, and only where it
applies."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba as jb
import jumba.numpy as jnp
from jumba import lax
from jumba._src.compiler import passes
from jumba._src.lax.control_flow.loops import scan_p
from tests.core.loop_workloads import rnn_loss
from tests.core.tier_runs import run_tier0, run_tier1


def _scans(f, *args):
    closed = passes.optimize(jb.make_jaxpr(f)(*args))
    return closed, [e for e in closed.eqns if e.primitive is scan_p]


def _rnn_inputs(seed, steps, hidden):
    rng = np.random.default_rng(seed)
    return ((rng.standard_normal((hidden, hidden)) * 0.5 / np.sqrt(hidden)).astype(np.float32),
            (rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)).astype(np.float32),
            rng.standard_normal(hidden).astype(np.float32),
            rng.standard_normal((steps, hidden)).astype(np.float32))


def test_rnn_gradient_carries_become_one_product_after_the_loop():
    args = _rnn_inputs(0, 7, 5)
    grad = jb.grad(rnn_loss, argnums=(0, 1))
    closed, scans = _scans(grad, *args)
    backward = scans[-1]
    assert backward.params["reverse"]
    assert backward.params["num_carry"] == 1  # dh only: dW and dU left the loop
    after = closed.eqns[closed.eqns.index(backward) + 1:]
    assert sum(e.primitive.name == "dot_general" for e in after) == 2


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**16), steps=st.integers(1, 9), hidden=st.integers(2, 6))
def test_rnn_gradient_matches_the_unjitted_gradient(seed, steps, hidden):
    args = _rnn_inputs(seed, steps, hidden)
    grad = jb.grad(rnn_loss, argnums=(0, 1))
    got = run_tier0(grad, *args)
    want = grad(*args)  # eager: no compiler passes
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-5)


@pytest.mark.numba
def test_rnn_gradient_on_tier1_matches_tier0():
    args = _rnn_inputs(3, 30, 8)
    grad = jb.grad(rnn_loss, argnums=(0, 1))
    want = run_tier0(grad, *args)
    got, _ = run_tier1(grad, *args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("reverse", [False, True])
def test_forward_and_reverse_scans_with_computed_and_xs_factors(reverse):
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((6, 4)).astype(np.float32)
    ys = rng.standard_normal((6, 3)).astype(np.float32)
    acc0 = rng.standard_normal((4, 3)).astype(np.float32)

    def f(acc0, xs, ys):
        def body(c, xy):
            acc, s = c
            x, y = xy
            u = jnp.sin(x) * s  # a computed factor; y is an xs slice
            return (jnp.dot(u[:, None], y[None, :]) + acc, s * 0.9), s

        return lax.scan(body, (acc0, jnp.float32(1.0)), (xs, ys), reverse=reverse)

    closed, (scan,) = _scans(f, acc0, xs, ys)
    assert scan.params["num_carry"] == 1  # s stays; acc left the loop
    (acc, s), out = jb.jit(f)(acc0, xs, ys)
    want_acc, sv = acc0.astype(np.float64), 1.0
    order = range(5, -1, -1) if reverse else range(6)
    for t in order:
        want_acc += np.outer(np.sin(xs[t]) * sv, ys[t])
        sv *= 0.9
    np.testing.assert_allclose(np.asarray(acc), want_acc, rtol=1e-5, atol=1e-5)


def test_carries_it_must_not_rewrite():
    rng = np.random.default_rng(2)
    xs = rng.standard_normal((5, 4)).astype(np.float32)
    a0 = np.zeros((4, 4), np.float32)

    def read_elsewhere(a0, xs):  # the carry is read by more than its add
        def body(a, x):
            return a + jnp.dot(x[:, None], x[None, :]), jnp.sum(a)
        return lax.scan(body, a0, xs)

    def big_factors(a0, xs):  # (4, 4) @ (4, 4): factors as large as the carry
        def body(a, x):
            m = jnp.dot(x[:, None], x[None, :])
            return a + m @ m, None
        return lax.scan(body, a0, xs)

    for f in (read_elsewhere, big_factors):
        _, (scan,) = _scans(f, a0, xs)
        assert scan.params["num_carry"] == 1, f.__name__
        got = jb.jit(f)(a0, xs)
        want = f(a0, xs)
        for g, w in zip(jb.tree_util.tree_leaves(got), jb.tree_util.tree_leaves(want)):
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5)
