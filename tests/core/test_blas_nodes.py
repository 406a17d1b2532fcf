"""Products folded with their updates into one accumulating gemm, and independent products
run side by side (compiler/blas_nodes.py, runtime/gemm.py): NumPy's answers, the same
results as tier 0, and only the patterns that are safe to fold."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba as jb
import jumba.numpy as jnp
from jumba._src.compiler import (
    background,
    blas_nodes,
    codegen,
    fusion,
    kernel_cache,
    passes,
    segments,
    tier1,
)
from jumba._src.compiler.numpy_executor import NumpyExecutable
from jumba._src.runtime import blas, gemm


@pytest.fixture(autouse=True)
def _fresh_backoff(monkeypatch):
    monkeypatch.setattr(blas, "_splits", blas.Backoff())
    monkeypatch.setattr(blas, "_threads", blas.Backoff())
    monkeypatch.setattr(blas, "num_threads", lambda: 2)


def _operand(rng, shape, transposed, dtype):
    x = rng.standard_normal(shape[::-1] if transposed else shape).astype(dtype)
    return x.T if transposed else x


@given(m=st.integers(1, 40), k=st.integers(0, 30), n=st.integers(1, 40),
       ta=st.booleans(), tb=st.booleans(), alpha=st.floats(-3, 3, width=32),
       f64=st.booleans(), seed=st.integers(0, 2**16))
def test_gemm_update_matches_numpy(m, k, n, ta, tb, alpha, f64, seed):
    dtype = np.float64 if f64 else np.float32
    rng = np.random.default_rng(seed)
    a, b = _operand(rng, (m, k), ta, dtype), _operand(rng, (k, n), tb, dtype)
    p = rng.standard_normal((m, n)).astype(dtype)
    p_before = p.copy()
    got = gemm.gemm_update(p, a, b, dtype(alpha))
    want = p.astype(np.float64) + np.float64(alpha) * (a.astype(np.float64) @ b)
    tol = 1e-12 if f64 else 2e-5
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * (k + 1) * 4)
    assert got.dtype == dtype and got.shape == (m, n) and got.flags.c_contiguous
    np.testing.assert_array_equal(p, p_before)  # p is read, never written


@pytest.mark.parametrize("sa, sb, ta", [((128, 784), (784, 512), False),  # column split
                                        ((784, 128), (128, 512), True)])   # row split
@pytest.mark.parametrize("blas_threads", [1, 2])  # Jumba's split, or BLAS's own threads
def test_split_gemm_update_matches_numpy(sa, sb, ta, blas_threads, monkeypatch):
    blas._blas_controllers()
    monkeypatch.setattr(blas, "_numpy_blas_threads", blas_threads)
    monkeypatch.setattr(blas, "num_threads", lambda: 2)
    monkeypatch.setattr(blas._splits, "skip", 0)
    rng = np.random.default_rng(0)
    a, b = _operand(rng, sa, ta, np.float32), _operand(rng, sb, False, np.float32)
    p = rng.standard_normal((sa[0], sb[1])).astype(np.float32)
    assert 2.0 * a.size * b.shape[1] >= blas.PARALLEL_FLOPS
    got = gemm.gemm_update(p, a, b, -0.01)
    np.testing.assert_allclose(got, p - 0.01 * (a.astype(np.float64) @ b), rtol=1e-5,
                               atol=1e-5)


def test_gemm_update_without_cblas_uses_numpy(monkeypatch):
    monkeypatch.setattr(gemm, "_cblas", {})
    rng = np.random.default_rng(1)
    a, b, p = (rng.standard_normal(s).astype(np.float32) for s in ((5, 7), (7, 3), (5, 3)))
    np.testing.assert_allclose(gemm.gemm_update(p, a, b, 2.0), p + 2 * (a @ b), rtol=1e-5)


def test_cblas_found_for_numpys_blas():
    # NumPy's wheels ship OpenBLAS, whose cblas the fold calls (else it would fall back).
    assert gemm._gemm_fn(np.dtype(np.float32)) is not None
    assert gemm._gemm_fn(np.dtype(np.float64)) is not None


def test_matmul_pair_runs_in_turn_when_blas_threads_itself(monkeypatch):
    blas._blas_controllers()
    monkeypatch.setattr(blas, "_numpy_blas_threads", 2)
    monkeypatch.setattr(blas, "num_threads", lambda: 2)
    monkeypatch.setattr(blas._splits, "skip", 0)
    threads = []
    out = gemm.matmul_pair(lambda: threads.append(threading.get_ident()) or 1,
                           lambda: threads.append(threading.get_ident()) or 2)
    assert out == (1, 2) and threads == [threading.get_ident()] * 2


def test_matmul_pair_runs_both_and_survives_a_stalled_helper(monkeypatch):
    blas._blas_controllers()
    monkeypatch.setattr(blas, "_numpy_blas_threads", 1)  # a BLAS that cannot thread
    monkeypatch.setattr(blas, "num_threads", lambda: 2)
    monkeypatch.setattr(blas._splits, "skip", 0)
    a, b = np.ones((3, 4)), np.ones((4, 2))
    assert [r.tolist() for r in gemm.matmul_pair(lambda: a @ b, lambda: 2 * (a @ b))] == \
        [(a @ b).tolist(), (2 * (a @ b)).tolist()]
    main, release, calls = threading.get_ident(), threading.Event(), []

    def second():
        calls.append(threading.get_ident())
        if threading.get_ident() != main:
            release.wait(5)  # the helper stalls: the caller must not wait for it
            return "late"
        return "redone"

    def first():
        time.sleep(0.02)  # give the helper time to claim the second product
        return "first"

    monkeypatch.setattr(blas, "MATMUL_PATIENCE", 0.5)
    try:
        out = gemm.matmul_pair(first, second)
    finally:
        release.set()
    if len(calls) == 2:  # the helper claimed it and stalled
        assert out == ("first", "redone")
    else:  # the helper never started: the caller did both
        assert out == ("first", "redone") and calls == [main]


# ------------------------------------------------------------------ which nodes fold

def _dot(x, y, xc, yc):
    """A product contracting axis xc of x with axis yc of y, as backprop writes them."""
    return jb.lax.dot_general(x, y, (((xc,), (yc,)), ((), ())))


def _nodes(f, *args):
    closed = passes.optimize(jb.make_jaxpr(f)(*args))
    nodes = fusion.partition(closed.jaxpr)
    return closed, blas_nodes.pair_products(blas_nodes.fold_updates(closed.jaxpr, nodes))


def _run(closed, nodes, args):
    """The node list run by generated code (no fused groups here: small shapes stay NumPy)."""
    assert not any(isinstance(n, fusion.FusedGroup) for n in nodes)
    exe = codegen.Executable(closed, nodes, "f")
    return exe([np.asarray(a) for a in args])


_X = np.random.default_rng(2).standard_normal((6, 5)).astype(np.float32)
_W = np.random.default_rng(3).standard_normal((5, 4)).astype(np.float32)
_P = np.random.default_rng(4).standard_normal((6, 4)).astype(np.float32)
_C = np.float32(0.25)

FOLDED = [
    (lambda p, x, w: p - 0.1 * (x @ w), lambda p, x, w: p - np.float32(0.1) * (x @ w)),
    (lambda p, x, w: p + (x @ w) * 3.0, lambda p, x, w: p + (x @ w) * 3),
    (lambda p, x, w: x @ w + p, lambda p, x, w: x @ w + p),
    (lambda p, x, w: p - x @ w, lambda p, x, w: p - x @ w),
    (lambda p, x, w: p - (x.T.T @ w.T.T), lambda p, x, w: p - x @ w),
    (lambda p, x, w: p - jnp.float32(_C) * (x @ w), lambda p, x, w: p - _C * (x @ w)),
]


@pytest.mark.parametrize("f, ref", FOLDED)
def test_updates_fold_into_one_gemm(f, ref):
    closed, nodes = _nodes(f, _P, _X, _W)
    assert any(isinstance(n, blas_nodes.GemmUpdate) for n in nodes)
    assert not any(blas_nodes.plain_matmul(n) for n in nodes)  # the product is gone
    (got,) = _run(closed, nodes, (_P, _X, _W))
    np.testing.assert_allclose(got, ref(_P, _X, _W), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, jb.jit(f)(_P, _X, _W), rtol=1e-5, atol=1e-5)


def test_transposed_operands_fold_without_copies():
    # x.T @ d as backprop writes it (contracting the batch axes): the weight gradient of a
    # dense layer; BLAS reads x transposed in place.
    def f(p, x, d):
        return p - 0.5 * _dot(x, d, 0, 0)
    d = np.random.default_rng(5).standard_normal((6, 4)).astype(np.float32)
    p = np.random.default_rng(6).standard_normal((5, 4)).astype(np.float32)
    closed, nodes = _nodes(f, p, _X, d)
    (g,) = [n for n in nodes if isinstance(n, blas_nodes.GemmUpdate)]
    assert ".T" in g.expr(lambda v: "v", lambda v: "lit")
    (got,) = _run(closed, nodes, (p, _X, d))
    np.testing.assert_allclose(got, p - 0.5 * (_X.T @ d), rtol=1e-5, atol=1e-5)


NOT_FOLDED = [
    lambda p, x, w: (p - 0.1 * (x @ w), x @ w),  # the product is also an output
    lambda p, x, w: (x @ w) - p,  # would need beta = -1
    lambda p, x, w: p - (x @ w) * p,  # not a scalar factor
    lambda p, x, w: p[0] - 0.1 * (x @ w),  # p broadcasts
    lambda p, x, w: jnp.tanh(p - 0.1 * (x @ w)),  # more work in the group: kernel instead
    lambda p, x, w: (p - 0.1 * (x @ w), 0.1 * (x @ w)),  # the scaled product is used twice
]


@pytest.mark.parametrize("f", NOT_FOLDED)
def test_other_uses_are_not_folded(f, monkeypatch):
    monkeypatch.setattr(fusion, "MIN_KERNEL_SIZE", 0)
    closed, nodes = _nodes(f, _P, _X, _W)
    assert not any(isinstance(n, blas_nodes.GemmUpdate) for n in nodes)


def test_independent_products_pair_and_dependent_ones_do_not(monkeypatch):
    monkeypatch.setattr(blas_nodes, "PAIR_FLOPS", 0)
    a = np.ones((8, 8), np.float32)

    def indep(x, y):
        return x @ y, _dot(y, x, 1, 1)  # y @ x.T

    def dep(x, y):
        return (x @ y) @ y

    _, nodes = _nodes(indep, a, a)
    assert [type(n) for n in nodes] == [blas_nodes.ProductPair]
    _, nodes = _nodes(dep, a, a)
    assert not any(isinstance(n, blas_nodes.ProductPair) for n in nodes)
    # Unbalanced products are split in turn instead (a pair lasts as long as its bigger).
    b = np.ones((8, 64), np.float32)
    _, nodes = _nodes(lambda x, y: (x @ b, y @ y), a, a)
    assert not any(isinstance(n, blas_nodes.ProductPair) for n in nodes)


def test_pair_results_match(monkeypatch):
    monkeypatch.setattr(blas_nodes, "PAIR_FLOPS", 0)
    rng = np.random.default_rng(7)
    x, y, p = (rng.standard_normal((16, 16)).astype(np.float32) for _ in range(3))

    def f(p, x, y):  # a weight update beside an input gradient, as in backprop
        return p - 0.01 * _dot(x, y, 0, 0), _dot(y, p, 1, 1)  # x.T @ y, y @ p.T

    closed, nodes = _nodes(f, p, x, y)
    assert [type(n) for n in nodes] == [blas_nodes.ProductPair]
    got = _run(closed, nodes, (p, x, y))
    np.testing.assert_allclose(got[0], p - np.float32(0.01) * (x.T @ y), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[1], y @ p.T, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------ the MLP step on tier 1

def _mlp_step(params, x, y):
    def loss(params):
        h = x
        for w, b in params[:-1]:
            h = jnp.maximum(h @ w + b, 0.0)
        w, b = params[-1]
        logits = h @ w + b
        logp = jb.nn.log_softmax(logits)
        return -jnp.mean(jnp.sum(y * logp, axis=1))

    value, grads = jb.value_and_grad(loss)(params)
    return jb.tree_util.tree_map(lambda p, g: p - 0.01 * g, params, grads), value


def _mlp_reference(params, x, y):
    """The step in float64 NumPy: forward, backprop by hand, SGD."""
    hs, h = [x.astype(np.float64)], x.astype(np.float64)
    for w, b in params[:-1]:
        h = np.maximum(h @ w + b, 0)
        hs.append(h)
    w, b = params[-1]
    z = h @ w + b
    z = z - z.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    loss = -np.mean(np.sum(y * logp, 1))
    delta = (np.exp(logp) * y.sum(1, keepdims=True) - y) / len(x)
    new = [None] * len(params)
    for i in range(len(params) - 1, -1, -1):
        w, b = params[i]
        new[i] = (w - 0.01 * hs[i].T @ delta, b - 0.01 * delta.sum(0))
        delta = (delta @ w.T) * (hs[i] > 0)
    return new, loss


@pytest.mark.numba
def test_mlp_step_tier1_equals_tier0_and_numpy():
    rng = np.random.default_rng(8)
    sizes = (784, 512, 512, 10)
    params = [(rng.standard_normal((a, b)).astype(np.float32) / np.sqrt(a),
               rng.standard_normal(b).astype(np.float32) * 0.1)
              for a, b in zip(sizes[:-1], sizes[1:])]
    x = rng.standard_normal((128, 784)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)]
    tier0 = jb.jit(_mlp_step)(params, x, y)
    with jb.config_context(jumba_compile="eager"):
        f = jb.jit(_mlp_step)
        text = f.lower(params, x, y).compile().as_text()
        tier1 = f(params, x, y)
    assert "_gemm_update(" in text and "_matmul_pair(" in text
    want = _mlp_reference([(w.astype(np.float64), b.astype(np.float64)) for w, b in params],
                          x, y.astype(np.float64))
    for got in (tier0, tier1):
        for g, w in zip(jb.tree_util.tree_leaves(got), jb.tree_util.tree_leaves(want)):
            assert np.asarray(g).dtype == np.float32
            np.testing.assert_allclose(np.asarray(g), w, rtol=1e-4, atol=1e-5)
    for g0, g1 in zip(jb.tree_util.tree_leaves(tier0), jb.tree_util.tree_leaves(tier1)):
        np.testing.assert_allclose(np.asarray(g1), np.asarray(g0), rtol=1e-5, atol=1e-6)


# ------------------------------------------- runs of small equations compiled whole

def _softmax_xent_grad(z, y):
    def loss(z):
        logp = z - jnp.max(z, axis=1, keepdims=True)
        logp = logp - jnp.log(jnp.sum(jnp.exp(logp), axis=1, keepdims=True))
        return -jnp.mean(jnp.sum(y * logp, axis=1))
    return jb.value_and_grad(loss)(z)


def test_small_runs_found_and_big_or_short_ones_left(monkeypatch):
    z, y = np.ones((16, 10), np.float32), np.eye(10, dtype=np.float32)[np.arange(16) % 10]
    closed = passes.optimize(jb.make_jaxpr(_softmax_xent_grad)(z, y))
    nodes = fusion.partition(closed.jaxpr)
    found = []
    monkeypatch.setattr(segments, "_segment", lambda run, after: found.append(run) or None)
    segments.compile_runs(closed.jaxpr, nodes)
    assert len(found) == 1 and len(found[0]) >= segments.MIN_OPS
    found.clear()
    monkeypatch.setattr(segments, "MAX_SIZE", 100)  # 160-element arrays are now big
    segments.compile_runs(closed.jaxpr, nodes)
    assert not found
    monkeypatch.setattr(segments, "MAX_SIZE", 4096)
    monkeypatch.setattr(segments, "MIN_OPS", 1000)
    segments.compile_runs(closed.jaxpr, nodes)
    assert not found


@pytest.mark.numba
@settings(max_examples=10)
@given(rows=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_segment_matches_tier0(rows, seed):
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((rows, 10)) * 3).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, rows)]
    closed = passes.optimize(jb.make_jaxpr(_softmax_xent_grad)(z, y))
    exe = tier1.Tier1Executable(closed, "xent", new_segments=True)
    assert "small equations compiled whole" in exe.source
    got = exe([z, y])
    want = NumpyExecutable(closed, "xent")([z, y])
    for g, w in zip(got, want):
        assert np.asarray(g).dtype == np.asarray(w).dtype == np.float32
        np.testing.assert_allclose(g, w, rtol=2e-6, atol=1e-7)


@pytest.mark.numba
def test_uncached_segments_come_in_a_second_background_build(tmp_path, monkeypatch):
    monkeypatch.setenv("JUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(kernel_cache, "_loaded", {})  # as in a new process
    z, y = np.ones((16, 10), np.float32), np.eye(10, dtype=np.float32)[np.arange(16) % 10]
    closed = passes.optimize(jb.make_jaxpr(_softmax_xent_grad)(z, y))
    first = tier1.Tier1Executable(closed, "xent", new_segments=False)
    assert first.segments_left_out and "compiled whole" not in first.source
    w = np.ones((64, 128), np.float32)

    def f(z, y, w):  # with a fused group: the program compiles (tier1.has_fusions)
        return _softmax_xent_grad(z, y), jnp.tanh(w) * 2 + 1

    with jb.config_context(jumba_compile="background"):
        jf = jb.jit(f)
        jf(z, y, w)
        jf.lower(z, y, w).compile()  # the first build (the segment is not cached)
        done = background.background_compiler().submit(lambda: None)
        done.result(timeout=300)  # the worker ran the queued second build
        assert "small equations compiled whole" in jf.lower(z, y, w).as_text()
        np.testing.assert_allclose(jf(z, y, w)[0][1], _softmax_xent_grad(z, y)[1],
                                   rtol=1e-6)
    again = tier1.Tier1Executable(closed, "xent", new_segments=False)
    assert not again.segments_left_out  # now cached: part of the first build


def test_pairs_of_tall_products_run_side_by_side_even_when_blas_could_thread(monkeypatch):
    monkeypatch.setattr(blas_nodes, "PAIR_FLOPS", 0)

    def backward(h, g, w):  # a layer's weight gradient and input gradient
        return _dot(h, g, 0, 0), _dot(g, w, 1, 1)  # h.T @ g, g @ w.T

    def source(n):
        h = np.ones((n, 64), np.float32)
        closed, nodes = _nodes(backward, h, h, np.ones((64, 64), np.float32))
        assert [type(n) for n in nodes] == [blas_nodes.ProductPair]
        return codegen.Executable(closed, nodes, "f").source

    tall, short = source(16384), source(512)
    assert "blas_threads=False" in tall and "(side by side)" in tall
    assert "blas_threads=True" in short and "unless BLAS threads them" in short


@pytest.mark.numba
@settings(max_examples=10, deadline=None)
@given(rows=st.integers(blas_nodes.THIN_ROWS, blas_nodes.THIN_ROWS + 300),
       wide=st.integers(1, 70), thin=st.integers(1, blas_nodes.THIN_SIDE),
       thin_first=st.booleans(), f64=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_thin_products_match_numpy(rows, wide, thin, thin_first, f64, seed):
    # x.T @ y over a long axis with a side of 1 or 2 columns (a policy's logits, a value
    # head): one numba loop instead of BLAS, either operand thin.
    dtype = np.float64 if f64 else np.float32
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((rows, thin if thin_first else wide)).astype(dtype)
    b = rng.standard_normal((rows, wide if thin_first else thin)).astype(dtype)

    closed, nodes = _nodes(lambda a, b: _dot(a, b, 0, 0), a, b)
    nodes = blas_nodes.thin_products(nodes)
    assert [type(n) for n in nodes] == [blas_nodes.ThinProduct]
    exe = codegen.Executable(closed, nodes, "f")
    assert "_thin_product(_thin_kernel, " in exe.source
    (got,) = exe([a, b])
    want = a.astype(np.float64).T @ b.astype(np.float64)
    tol = 1e-9 if f64 else 2e-4
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.sqrt(rows))
    assert got.dtype == dtype and got.shape == (a.shape[1], b.shape[1])


def test_short_or_wide_products_are_not_thin():
    def kinds(xs, ys):
        x, y = np.ones(xs, np.float32), np.ones(ys, np.float32)
        _, nodes = _nodes(lambda a, b: _dot(a, b, 0, 0), x, y)
        return [type(n) for n in blas_nodes.thin_products(nodes)]

    n = blas_nodes.THIN_ROWS
    assert kinds((n, 2), (n, 64)) == [blas_nodes.ThinProduct]
    assert kinds((n - 1, 2), (n - 1, 64)) != [blas_nodes.ThinProduct]  # short: BLAS
    assert kinds((n, 4), (n, 64)) != [blas_nodes.ThinProduct]  # both sides wide: BLAS
