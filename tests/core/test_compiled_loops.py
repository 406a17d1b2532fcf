"""Loops compiled whole (tier 1, compiler/loops.py): `scan`, `fori_loop`, `while_loop`, with
`cond`/`switch` and nested loops inside, vmapped loops and the reverse-mode scan, each
against tier 0 (the NumPy executor) and a Python reference.

Kernels are generic over sizes: hypothesis draws lengths and batch sizes, and each loop body
compiles once (first example) for every later example to reuse. A size of 1, or two sizes
that happen to be equal, give another kernel text (sizes are symbols, equal sizes one
symbol), so the drawn sizes avoid 1 and the program's other sizes.
The text-only tests at the end need no numba.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba as jb
import jumba.numpy as jnp
from jumba import lax
from jumba._src.compiler import loops, passes
from tests.core.loop_workloads import cartpole_step, rnn_loss
from tests.core.tier_runs import run_tier0, run_tier1

_SETTINGS = settings(max_examples=6, deadline=None)


_tier0 = run_tier0


def _tier1(f, *args, expect_loops=1):
    """Run `f` jitted on tier 1; check that `expect_loops` loops compiled whole."""
    out, text = run_tier1(f, *args)
    assert ("# Tier 1" in text) == (expect_loops > 0)
    assert text.count("# loop_") == expect_loops, text
    return out, text


def _agree(f, *args, rtol=2e-5, atol=2e-5, expect_loops=1, ref=None):
    out, text = _tier1(f, *args, expect_loops=expect_loops)
    refs = [_tier0(f, *args)] + ([ref] if ref is not None else [])
    for r in refs:
        r_leaves = jb.tree_util.tree_leaves(r)
        o_leaves = jb.tree_util.tree_leaves(out)
        assert len(r_leaves) == len(o_leaves)
        for o, e in zip(o_leaves, r_leaves):
            o, e = np.asarray(o), np.asarray(e)
            assert o.shape == e.shape and o.dtype == e.dtype
            np.testing.assert_allclose(o, e, rtol=rtol, atol=atol)
    return out, text


def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


# ---------------------------------------------------------------------------------------
# scan


def _pytree_step(c, x):
    a, b = c["a"], c["b"]
    a2 = a * 0.9 + jnp.sum(x * b)
    b2 = jnp.tanh(b + x)
    return {"a": a2, "b": b2}, (a2, b2 * 2.0)


def _pytree_ref(c, xs, reverse):
    a, b = float(c["a"]), np.asarray(c["b"], np.float64)
    ys_a, ys_b = [None] * len(xs), [None] * len(xs)
    for i in (reversed(range(len(xs))) if reverse else range(len(xs))):
        x = np.asarray(xs[i], np.float64)
        a = a * 0.9 + float(np.sum(x * b))
        b = np.tanh(b + x)
        ys_a[i], ys_b[i] = a, 2 * b
    width = len(c["b"])
    return ({"a": np.float32(a), "b": b.astype(np.float32)},
            (np.asarray(ys_a, np.float32).reshape(len(xs)),
             np.asarray(ys_b, np.float32).reshape(len(xs), width)))


@pytest.mark.numba
@_SETTINGS
@given(length=st.integers(1, 12), width=st.integers(2, 5), reverse=st.booleans(),
       seed=st.integers(0, 2**16))
def test_scan_with_pytrees_of_carries_and_outputs(length, width, reverse, seed):
    rng = np.random.default_rng(seed)
    c0 = {"a": np.float32(rng.standard_normal()), "b": _f32(rng, width)}
    xs = _f32(rng, length, width) * 0.5

    def f(c, xs):
        return lax.scan(_pytree_step, c, xs, reverse=reverse)

    _agree(f, c0, xs, ref=_pytree_ref(c0, xs, reverse), rtol=1e-4, atol=1e-4)


@pytest.mark.numba
@_SETTINGS
@given(length=st.integers(0, 20), x0=st.floats(-2, 2, width=32))
def test_scan_with_length_and_no_xs(length, x0):
    def f(c):
        return lax.scan(lambda c, _: (c * 0.5 + 1.0, c), c, None, length=length)

    c, ys = np.float32(x0), []
    for _ in range(length):
        ys.append(c)
        c = np.float32(c * np.float32(0.5) + np.float32(1.0))
    _agree(f, np.float32(x0), ref=(c, np.asarray(ys, np.float32)))


@pytest.mark.numba
def test_new_length_and_batch_size_reuse_the_kernel():
    def f(c, xs):
        return lax.scan(_pytree_step, c, xs)

    texts = []
    for length, width in ((5, 3), (9, 2)):
        rng = np.random.default_rng(length)
        c0 = {"a": np.float32(1.0), "b": _f32(rng, width)}
        _, text = _agree(f, c0, _f32(rng, length, width), rtol=1e-4, atol=1e-4)
        texts.append(text.split("@numba.njit")[1])
    assert texts[0] == texts[1]  # the same kernel text: one file, one compilation


# ---------------------------------------------------------------------------------------
# fori_loop and while_loop


@pytest.mark.numba
@_SETTINGS
@given(lo=st.integers(-3, 5), hi=st.integers(-3, 12), x0=st.floats(-1, 1, width=32))
def test_fori_loop_with_static_and_dynamic_bounds(lo, hi, x0):
    def body(i, x):
        return x * 0.75 + i.astype(jnp.float32)

    x, ref = np.float32(x0), np.float32(x0)
    for i in range(lo, hi):
        ref = np.float32(ref * np.float32(0.75) + np.float32(i))
    _agree(lambda x: lax.fori_loop(lo, hi, body, x), x, ref=ref)  # static: a scan
    _agree(lambda lo, hi, x: lax.fori_loop(lo, hi, body, x), np.int32(lo), np.int32(hi), x,
           ref=ref)  # dynamic: a while loop


@pytest.mark.numba
@_SETTINGS
@given(x0=st.floats(0.125, 50, width=32), limit=st.floats(1, 1e4, width=32))
def test_while_loop(x0, limit):
    def f(x, limit):
        return lax.while_loop(lambda c: c[0] < limit, lambda c: (c[0] * 2.0 + 1.0, c[1] + 1),
                              (x, 0))

    x, n = np.float32(x0), 0
    while x < np.float32(limit):
        x, n = np.float32(x * np.float32(2) + np.float32(1)), n + 1
    _agree(f, np.float32(x0), np.float32(limit), ref=(x, np.int32(n)))


# ---------------------------------------------------------------------------------------
# cond/switch, nested loops, indexing inside loops


def _branchy(c, x):
    c = lax.cond(x[0] > 0, lambda c: c + x, lambda c: c - x * 2.0, c)
    k = jnp.clip((jnp.abs(x[1]) * 2.0).astype(jnp.int32), 0, 2)
    c = lax.switch(k, [lambda c: c + 1.0, lambda c: c * 0.5, lambda c: c - x], c)
    return c, c[0]


@pytest.mark.numba
@_SETTINGS
@given(length=st.integers(1, 10), seed=st.integers(0, 2**16))
def test_cond_and_switch_inside_scan(length, seed):
    xs = _f32(np.random.default_rng(seed), length, 3)
    c, ys = np.ones(3, np.float64), []
    for x in xs.astype(np.float64):
        c = c + x if x[0] > 0 else c - 2 * x
        k = min(max(int(abs(np.float32(x[1])) * np.float32(2)), 0), 2)
        c = [c + 1, c * 0.5, c - x][k]
        ys.append(c[0])
    ref = (c.astype(np.float32), np.asarray(ys, np.float32))
    _agree(lambda xs: lax.scan(_branchy, jnp.ones(3), xs), xs, ref=ref, rtol=1e-4, atol=1e-4)


@pytest.mark.numba
@_SETTINGS
@given(length=st.integers(1, 8), inner=st.sampled_from([0, 2, 4, 5]),
       seed=st.integers(0, 2**16))
def test_nested_loops(length, inner, seed):
    xs = _f32(np.random.default_rng(seed), length, 3)

    def step(c, x):
        c = lax.fori_loop(0, inner, lambda i, c: c * 0.5 + x, c)
        n = lax.while_loop(lambda n: n * n < 10, lambda n: n + 1, 0)
        return c, c.sum() + n

    c, ys = np.zeros(3, np.float64), []
    for x in xs.astype(np.float64):
        for _ in range(inner):
            c = c * 0.5 + x
        ys.append(c.sum() + 4)
    _agree(lambda xs: lax.scan(step, jnp.zeros(3), xs), xs,
           ref=(c.astype(np.float32), np.asarray(ys, np.float32)), rtol=1e-4, atol=1e-4)


@pytest.mark.numba
@_SETTINGS
@given(length=st.integers(4, 9), seed=st.integers(0, 2**16))
def test_indexing_and_dynamic_slices_inside_loops(length, seed):
    xs = _f32(np.random.default_rng(seed), length, 3)

    def f(xs):
        def body(i, c):
            acc, table = c
            acc = acc + xs[i] * xs[i, 0]
            row = lax.dynamic_slice(xs, (i, 0), (1, 3)) * 2.0
            return acc, lax.dynamic_update_slice(table, row, (i, 0))

        return lax.fori_loop(0, length, body, (jnp.zeros(3), jnp.zeros((length, 3))))

    ref = ((xs * xs[:, :1]).sum(0), xs * 2)
    _agree(f, xs, ref=ref, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------------------
# vmap and grad


@pytest.mark.numba
@_SETTINGS
@given(batch=st.sampled_from([2, 3, 5, 8]), length=st.integers(1, 30),
       seed=st.integers(0, 2**16))
def test_vmapped_scan(batch, length, seed):
    rng = np.random.default_rng(seed)
    states = tuple(rng.uniform(-0.05, 0.05, batch).astype(np.float32) for _ in range(4))

    def rollout(s):
        return lax.scan(cartpole_step, s, None, length=length)

    out, _ = _agree(jb.vmap(rollout), states, rtol=1e-4, atol=1e-4)
    # vmap == a loop over the batch (each example on tier 0)
    for b in range(batch):
        one = _tier0(rollout, tuple(s[b] for s in states))
        np.testing.assert_allclose(np.asarray(out[1])[b], np.asarray(one[1]), atol=1e-4)


@pytest.mark.numba
@_SETTINGS
@given(batch=st.integers(2, 6), seed=st.integers(0, 2**16))
def test_vmapped_while_loop_runs_until_all_lanes_stop(batch, seed):
    x0 = np.random.default_rng(seed).uniform(0.1, 30, batch).astype(np.float32)

    def f(x):
        return lax.while_loop(lambda c: c[0] < 100.0, lambda c: (c[0] * 2.0 + 1.0, c[1] + 1),
                              (x, 0))

    ref = [_tier0(f, x) for x in x0]
    _agree(jb.vmap(f), x0, ref=(np.asarray([r[0] for r in ref]),
                                np.asarray([r[1] for r in ref])))


@pytest.mark.numba
@_SETTINGS
@given(length=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_grad_of_scan_compiles_forward_and_backward_sweeps(length, seed):
    rng = np.random.default_rng(seed)
    W, U = _f32(rng, 6, 6) * 0.3, _f32(rng, 6, 3)
    xs = _f32(rng, length, 3)

    # The primal scan (saving residuals) and the transposed scan both compile whole.
    _agree(jb.grad(rnn_loss, argnums=(0, 1)), W, U, np.zeros(6, np.float32), xs,
           expect_loops=2, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------------------
# fallback and inspection


@pytest.mark.numba
def test_unsupported_body_falls_back_to_per_iteration_execution():
    xs = _f32(np.random.default_rng(0), 5, 4)

    def f(xs):  # sort has no loop lowering: the loop runs per iteration on NumPy
        return lax.scan(lambda c, x: (c + jnp.sort(x), c), jnp.zeros(4), xs)

    out, text = _tier1(f, xs, expect_loops=0)
    ref = np.cumsum(np.sort(xs, axis=1), 0)
    np.testing.assert_allclose(np.asarray(out[0]), ref[-1], rtol=1e-5)


def test_big_matmul_bodies_call_blas_small_ones_are_loop_nests():
    big = np.ones((300, 300), np.float32)
    lk = _kernel_text(lambda h: lax.fori_loop(0, 3, lambda i, h: jnp.tanh(big @ h), h),
                      np.ones((300, 4), np.float32))
    assert "gemm_float32(" in lk.source  # 360,000 multiply-adds per step: BLAS
    small = np.ones((16, 16), np.float32)
    lk = _kernel_text(lambda h: lax.fori_loop(0, 3, lambda i, h: jnp.tanh(small @ h), h),
                      np.ones((16, 4), np.float32))
    assert "acc" in lk.source and "gemm" not in lk.source  # a loop nest in the kernel


def _kernel_text(f, *args):
    closed = passes.optimize(jb.make_jaxpr(f)(*args))
    (eqn,) = [e for e in closed.eqns if loops.is_loop(e)]
    lk = loops.loop_kernel(eqn)
    assert lk is not None
    return lk


def test_generated_loop_is_one_function_without_allocation_and_keeps_float32():
    lk = _kernel_text(lambda s: lax.scan(cartpole_step, s, None, length=7),
                      tuple(np.float32(0.01) for _ in range(4)))
    src = lk.source
    assert src.count("def kernel(") == 1 and "for i" in src and "range(n_iter)" in src
    # Buffers are allocated once, before the loop; nothing is allocated per iteration.
    assert "np.empty" not in src.split("range(n_iter)")[1]
    assert "np.float64" not in src  # typed float32 constants: no silent promotion
    assert "if " in src  # jnp.where / select_n as a conditional expression
    # The stacked state feeds the policy's dot as the scalars themselves: no buffer.
    assert "buf" not in src
    # The trip count is an argument: another length gives the same text.
    lk2 = _kernel_text(lambda s: lax.scan(cartpole_step, s, None, length=11),
                       tuple(np.float32(0.01) for _ in range(4)))
    assert lk2.source == src and lk2.n_iter == 11


@pytest.mark.numba
@_SETTINGS
@given(length=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_stacked_scalars_read_at_constant_and_computed_indices(length, seed):
    # A stack of scalar carries read at constant indices (a dot, a slice) takes the
    # scalars; read at a computed index (dynamic_slice, a reduction) it needs its buffer.
    rng = np.random.default_rng(seed)
    w = _f32(rng, 3)

    def step(c, x):
        a, b, i = c
        v = jnp.stack([a, b, a * b])
        picked = lax.dynamic_slice(v, (i % 3,), (1,))[0]
        new_a = jnp.tanh(jnp.dot(w, v) + x) + 0.1 * v[2]
        return (new_a, b * 0.9 + picked, i + 1), jnp.sum(v) + jnp.max(v)

    init = (np.float32(0.3), np.float32(-0.2), np.int32(0))
    xs = _f32(rng, length)
    ref_c, ref_ys = init, []
    for x in xs:  # float64 Python reference
        a, b, i = float(ref_c[0]), float(ref_c[1]), int(ref_c[2])
        v = [a, b, a * b]
        new_a = np.tanh(sum(float(wk) * vk for wk, vk in zip(w, v)) + float(x)) + 0.1 * v[2]
        ref_ys.append(sum(v) + max(v))
        ref_c = (new_a, b * 0.9 + v[i % 3], i + 1)
    ((a, b, i), ys), text = _agree(lambda c, xs: lax.scan(step, c, xs), init, xs, rtol=1e-4,
                                   atol=1e-5)
    np.testing.assert_allclose(np.asarray(ys), ref_ys, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose([float(a), float(b)], ref_c[:2], rtol=1e-4, atol=1e-5)
    assert int(i) == ref_c[2]


def test_cond_becomes_if_else_in_the_generated_loop():
    lk = _kernel_text(lambda xs: lax.scan(_branchy, jnp.ones(3), xs),
                      np.ones((4, 3), np.float32))
    assert "if br" in lk.source and "else:" in lk.source
