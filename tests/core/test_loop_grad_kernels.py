"""Reverse-mode loops compiled whole: carries that accumulate products (`dW += outer(g, h)`,
`v += W.T @ g`) are updated in place in one loop nest, and the float32 `tanh` of the
forward sweep runs through the vectorisable helper of `compiler/kernel_helpers.py`.

Each compiled case is checked against tier 0 (the NumPy executor) and a float64 Python
reference; the RNN's gradient also against central finite differences. Sizes are fixed per
test (a kernel compiles once, hypothesis examples reuse it); lengths and data are drawn.
The text-only tests need no numba.
"""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jumba as jb
import jumba.numpy as jnp
from jumba import lax
from jumba._src.compiler import fusion, loops, passes
from jumba._src.compiler.loop_body import Val
from jumba._src.compiler.loop_carry import carry_updates
from jumba._src.compiler.tier1 import Tier1Executable
from tests.core.loop_workloads import rnn_loss
from tests.core.tier_runs import run_tier0, run_tier1

_SETTINGS = settings(max_examples=6, deadline=None)
N, M, K = 5, 7, 3  # distinct sizes other than 1: one symbol each in the kernel text


_tier0 = run_tier0


def _tier1(f, *args, expect_loops=1):
    out, text = run_tier1(f, *args)
    assert text.count("# loop_") == expect_loops, text
    return out


def _loop_source(f, *args, which=-1):
    closed = passes.optimize(jb.make_jaxpr(f)(*args))
    eqns = [e for e in closed.eqns if loops.is_loop(e)]
    lk = loops.loop_kernel(eqns[which])
    assert lk is not None
    return lk.source


# ---------------------------------------------------------------------------------------
# Accumulating carries


def _accumulate(carry, x):
    """Every accumulation shape, as reverse mode writes them: an outer product (a
    contraction over a size-1 axis), transposed and plain matrix-vector products, the
    product first, a short contraction (unrolled), and a carry that its own product reads
    (must not be updated in place)."""
    dW, v, u, w, s, h, b = carry
    A, g, y, Z, B, C = x["A"], x["g"], x["y"], x["Z"], x["B"], x["C"]
    dW = dW + lax.dot_general(g[:, None], y[:, None], (((1,), (1,)), ((), ())))  # (N, M)
    v = v + lax.dot_general(A, g, (((0,), (0,)), ((), ())))  # (M,) += A^T g
    u = A @ y + u  # (N,) += (N, M) (M,): the matvec helper, product first
    w = w + B @ Z  # (N, M) += (N, K) (K, M): K <= SMALL_DOT, unrolled
    s = s + jnp.dot(s, A) @ A.T  # (N,): reads its own carry, no in-place accumulation
    h = h * 0.5 + A @ y  # (N,): the carry is read by the scaling, not the add
    b = b + lax.dot_general(C, A, (((2,), (1,)), ((1,), (0,))))  # (N, K): batch axis N
    return (dW, v, u, w, s * 0.5, h, b), jnp.sum(s)


def _accumulate_ref(carry, xs):
    dW, v, u, w, s, h, b = (np.asarray(c, np.float64) for c in carry)
    ys = []
    for t in range(len(xs["g"])):
        A, g, y, Z, B, C = (np.asarray(xs[k][t], np.float64) for k in "AgyZBC")
        dW = dW + np.outer(g, y)
        v = v + A.T @ g
        u = A @ y + u
        w = w + B @ Z
        s = s + (s @ A) @ A.T
        h = h * 0.5 + A @ y
        b = b + np.einsum("knm,nm->nk", C, A)
        ys.append(s.sum())
        s = s * 0.5
    return (dW, v, u, w, s, h, b), np.array(ys)


def _accumulate_args(rng, length, dtype):
    r = lambda *shape: (rng.standard_normal(shape) * 0.3).astype(dtype)  # noqa: E731
    carry = (r(N, M), r(M), r(N), r(N, M), r(N), r(N), r(N, K))
    xs = {"A": r(length, N, M), "g": r(length, N), "y": r(length, M), "Z": r(length, K, M),
          "B": r(length, N, K), "C": r(length, K, N, M)}
    return carry, xs


def _scan_accumulate(carry, xs):
    return lax.scan(_accumulate, carry, xs)


@pytest.mark.numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@_SETTINGS
@given(length=st.integers(2, 9), seed=st.integers(0, 2**16))
def test_accumulating_carries_compiled_whole_match_tier0_and_python(dtype, length, seed):
    carry, xs = _accumulate_args(np.random.default_rng(seed), length, dtype)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    with jb.enable_x64(dtype == np.float64):
        out = _tier1(_scan_accumulate, carry, xs)
        ref0 = _tier0(_scan_accumulate, carry, xs)
    ref = _accumulate_ref(carry, xs)
    got = jb.tree_util.tree_leaves(out)
    assert all(np.asarray(o).dtype == dtype for o in got)
    for o, e0, e in zip(got, jb.tree_util.tree_leaves(ref0), jb.tree_util.tree_leaves(ref)):
        np.testing.assert_allclose(np.asarray(o), np.asarray(e0), rtol=tol, atol=tol)
        np.testing.assert_allclose(np.asarray(o), e, rtol=tol * 10, atol=tol * 10)


def test_accumulations_write_into_the_carry_buffers_without_temporaries(monkeypatch):
    # The in-loop path itself: without the pass that would move dW's sum of outer products
    # out of the loop (tested in test_scan_accumulation.py).
    monkeypatch.setattr(passes, "sums_of_products_after_loops", lambda closed: closed)
    carry, xs = _accumulate_args(np.random.default_rng(0), 4, np.float32)
    src = _loop_source(_scan_accumulate, carry, xs)
    prologue, body = src.split("def kernel(")[1].split("range(n_iter)")
    # The carries' buffers: filled from the inputs before the loop (in carry order).
    names = re.findall(r"(buf\d+)\[j\d+\] = a\d+\[j\d+\]", prologue)
    dW, v, u, w, s, h, b = names
    lines = [line.strip() for line in body.splitlines()]
    for c in (dW, v, w, b):  # summed into the carry inside the product's own loop nest
        assert any(line.startswith(f"{c}[") and "] += " in line for line in lines), c
    assert "matvec_acc_float32(row" in body and f", {u})" in body  # u += A @ y
    # Two matrix-sized buffers: the dW and w carries (no product temporary to add from).
    assert prologue.count("np.empty(d0*d1") == 2, prologue
    # No copy back into an accumulated carry at the end of the step.
    for c in (dW, v, u, w, b):
        assert not any(line.startswith(f"{c}[") and "] = " in line for line in lines), c
    # The carry that its own product reads is not accumulated in place, nor is `v`
    # zeroed: its old value is the sum's start.
    assert not any(line.startswith(f"{s}[") and "+=" in line for line in lines)


def test_only_products_the_loop_nests_handle_accumulate():
    # Above the limit a product goes to BLAS (another path): its add must stay.
    def step(acc, A, x):
        return acc + lax.dot_general(A, x, (((0,), (0,)), ((), ()))), x

    args = (np.zeros(M, np.float32), np.ones((N, M), np.float32), np.ones(N, np.float32))
    jaxpr = jb.make_jaxpr(step)(*args).jaxpr
    env = {v: Val(f"a{i}", tuple(f"d{k}" for k in v.aval.shape), v.aval.dtype)
           for i, v in enumerate(jaxpr.invars)}
    for limit, expect in ((N * M, 1), (N * M - 1, 0)):
        in_place, accumulate, absorbed = carry_updates(jaxpr, {0: 0}, env, limit)
        assert len(accumulate) == len(absorbed) == expect
        # Otherwise the add itself still writes over the carry (elementwise, in place).
        assert [e.primitive.name for e in in_place] == ([] if expect else ["add"])


def _while_accumulate(A, v, n):
    def body(c):
        i, acc, v = c
        return i + 1, acc + lax.dot_general(A, v, (((0,), (0,)), ((), ()))), jnp.tanh(v + acc)

    return lax.while_loop(lambda c: c[0] < n, body, (0, jnp.zeros(A.shape[1], A.dtype), v))


@pytest.mark.numba
@_SETTINGS
@given(n=st.integers(0, 12), seed=st.integers(0, 2**16))
def test_while_loop_accumulates_into_its_carry(n, seed):
    rng = np.random.default_rng(seed)
    A = (rng.standard_normal((M, M)) * 0.3).astype(np.float32)
    v = rng.standard_normal(M).astype(np.float32)
    _, acc, v1 = _tier1(_while_accumulate, A, v, np.int32(n))
    _, acc0, v0 = _tier0(_while_accumulate, A, v, np.int32(n))
    ref_acc, ref_v = np.zeros(M), v.astype(np.float64)
    for _ in range(n):
        ref_acc, ref_v = ref_acc + A.T @ ref_v, np.tanh(ref_v + ref_acc)
    for got, t0, ref in ((acc, acc0, ref_acc), (v1, v0, ref_v)):
        np.testing.assert_allclose(np.asarray(got), np.asarray(t0), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-4, atol=1e-4)
    src = _loop_source(_while_accumulate, A, v, np.int32(n))
    assert src.count("] += ") == 1 and "_kh.tanh_f32(" in src


# ---------------------------------------------------------------------------------------
# The RNN of bench_loops.py (d), smaller


def _rnn_loss_ref(W, U, h0, xs):
    h, total = np.asarray(h0, np.float64), 0.0
    for x in xs:
        h = np.tanh(W @ h + U @ x)
        total += np.sum(h**2)
    return total + np.sum(h)


def _rnn_args(rng, hidden, inputs, length, dtype):
    W = (rng.standard_normal((hidden, hidden)) * 0.5 / np.sqrt(hidden)).astype(dtype)
    U = (rng.standard_normal((hidden, inputs)) / np.sqrt(inputs)).astype(dtype)
    return W, U, np.zeros(hidden, dtype), rng.standard_normal((length, inputs)).astype(dtype)


def test_rnn_backward_sweep_keeps_only_the_hidden_state_cotangent():
    args = _rnn_args(np.random.default_rng(0), 16, 9, 20, np.float32)
    grad = jb.grad(rnn_loss, argnums=(0, 1))
    fwd = _loop_source(grad, *args, which=0)
    bwd = _loop_source(grad, *args, which=-1)
    assert "_kh.tanh_f32(" in fwd and "np.tanh" not in fwd
    prologue, body = bwd.split("range(n_iter)")
    # dW and dU are products after the loop (scan_accumulation.py): no matrix-sized
    # buffer in the loop; W.T @ g is summed row by row into one vector.
    assert "np.empty(d0*d0" not in prologue and "np.empty(d0*d1" not in prologue
    assert body.count("] += ") == 1


@pytest.mark.numba
@settings(max_examples=3, deadline=None)
@given(length=st.integers(2, 40), seed=st.integers(0, 2**16))
def test_rnn_grad_on_tier1_matches_tier0_and_finite_differences(length, seed):
    # float32 (float64 accumulation is covered above: one compile less in CI).
    rng = np.random.default_rng(seed)
    args = _rnn_args(rng, 16, 9, length, np.float32)
    grad = jb.grad(rnn_loss, argnums=(0, 1))
    dW, dU = _tier1(grad, *args, expect_loops=2)
    dW0, dU0 = _tier0(grad, *args)
    np.testing.assert_allclose(np.asarray(dW), np.asarray(dW0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(dU), np.asarray(dU0), rtol=1e-4, atol=1e-4)
    # Directional derivatives by central differences of the float64 loss.
    W, U, h0, xs = (np.asarray(a, np.float64) for a in args)
    eps = 1e-6
    for _ in range(2):
        tW, tU = rng.standard_normal(W.shape), rng.standard_normal(U.shape)
        fd = (_rnn_loss_ref(W + eps * tW, U + eps * tU, h0, xs)
              - _rnn_loss_ref(W - eps * tW, U - eps * tU, h0, xs)) / (2 * eps)
        got = np.sum(np.asarray(dW, np.float64) * tW) + np.sum(np.asarray(dU, np.float64) * tU)
        np.testing.assert_allclose(got, fd, rtol=1e-3)


# ---------------------------------------------------------------------------------------
# float32 tanh helper


def _ordered(x):
    i = np.asarray(x, np.float32).view(np.int32).astype(np.int64)
    return np.where(i < 0, -(i & 0x7FFFFFFF), i)


def _tanh_kernel(x):
    """tanh of `x` by one tier-1 kernel (with a second output: a one-equation group would
    keep its NumPy impl)."""
    closed = passes.optimize(jb.make_jaxpr(lambda x: (lax.tanh(x), -x))(x))
    ex = Tier1Executable(closed, "tanh")
    (source,) = ex.kernel_sources
    assert "_kh.tanh_f32(" in source
    out, _ = ex([x])
    return np.asarray(out)


def _ulps(got, want):
    assert got.dtype == want.dtype == np.float32
    nan = np.isnan(want)
    assert (np.isnan(got) == nan).all(), "nan where tanh is not nan (or the reverse)"
    return np.abs(_ordered(got) - _ordered(want))[~nan]


@pytest.mark.numba
def test_tanh_f32_helper_on_a_dense_grid_of_all_float32(monkeypatch):
    monkeypatch.setattr(fusion, "MIN_KERNEL_SIZE", 0)
    # Every 1024th bit pattern: both signs, every exponent (subnormals, huge, inf, nan).
    x = np.arange(0, 2**32, 1024, dtype=np.uint64).astype(np.uint32).view(np.float32)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 2.44140625e-4,
                         0.625, -0.625, 0.62499994, 9.0, -9.0, 10.0, 3.4e38, -3.4e38],
                        np.float32)
    x = np.concatenate([x, specials])
    got = _tanh_kernel(x)
    with np.errstate(invalid="ignore"):
        exact = np.tanh(x.astype(np.float64)).astype(np.float32)
    assert _ulps(got, exact).max() <= 6  # of the correctly rounded value (JAX's: 5)
    assert _ulps(got, np.tanh(x)).max() <= 7  # of NumPy's float32 tanh
    tail = got[-len(specials):]
    assert np.signbit(tail[1]) and tail[1] == 0 and not np.signbit(tail[0])  # tanh(-0) = -0
    assert tail[2] == 1 and tail[3] == -1 and np.isnan(tail[4])
    assert tail[5] == np.float32(1e-45) and tail[-2] == 1 and tail[-1] == -1


@pytest.mark.numba
@settings(max_examples=25, deadline=None)
@given(x=hnp.arrays(np.float32, 64, elements=st.floats(width=32, allow_nan=True,
                                                       allow_infinity=True)))
def test_tanh_f32_helper_on_drawn_values(x):
    fusion.MIN_KERNEL_SIZE, saved = 0, fusion.MIN_KERNEL_SIZE
    try:
        got = _tanh_kernel(x)
    finally:
        fusion.MIN_KERNEL_SIZE = saved
    assert _ulps(got, np.tanh(x)).max(initial=0) <= 7
    assert (np.signbit(got) == np.signbit(x))[~np.isnan(x)].all()
