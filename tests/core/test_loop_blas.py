"""BLAS inside compiled loops (compiler/loop_blas.py): loop bodies whose `dot_general`s are
too large for numba's own loops call gemm from the loop's numba function, so the loop still
compiles whole (one function, no per-iteration Python).

Each body is run on tier 1 (compiled whole, gemm inside), on tier 0 (NumPy) and against a
float64 Python loop. Sizes are drawn so every product exceeds `MAX_DOT_WORK`; a drawn size
that coincides with another gives another kernel text, so they are drawn from disjoint
ranges. Also: argmax and gather (a policy's sampling and `take_along_axis`) in loops.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba as jb
import jumba.numpy as jnp
from jumba import lax
from jumba._src.compiler import loops, passes
from jumba._src.compiler.loop_body import MAX_DOT_WORK
from tests.core.tier_runs import run_tier0, run_tier1

_SETTINGS = settings(max_examples=3, deadline=None)


_tier0 = run_tier0


def _tier1(f, *args, expect_loops=1):
    out, text = run_tier1(f, *args)
    assert text.count("# loop_") == expect_loops, text
    assert "run from Python" not in text  # no loop orchestrated per iteration
    assert text.count("matmuls by BLAS") == expect_loops, text
    return out, text


def _check(out, refs, rtol, atol):
    o_leaves = jb.tree_util.tree_leaves(out)
    for r in refs:
        r_leaves = jb.tree_util.tree_leaves(r)
        assert len(r_leaves) == len(o_leaves)
        for o, e in zip(o_leaves, r_leaves):
            o, e = np.asarray(o), np.asarray(e)
            assert o.shape == e.shape
            np.testing.assert_allclose(o, e.astype(o.dtype), rtol=rtol, atol=atol)


def _tol(dtype):
    return (2e-4, 2e-4) if dtype == np.float32 else (1e-10, 1e-10)


# Products in a loop body: (name, operand shapes from sizes m,k,n,b, dimension numbers,
# reference in NumPy). Each has a transposed, batched or vector operand.
def _cases(m, k, n, b):
    return {
        "matrix @ matrix": ((m, k), (k, n), (((1,), (0,)), ((), ())),
                            lambda x, y: x @ y),
        "x^T @ y (contract the rows of both)": ((k, m), (k, n), (((0,), (0,)), ((), ())),
                                                lambda x, y: x.T @ y),
        "x @ y^T (contract the columns of both)": ((m, k), (n, k), (((1,), (1,)), ((), ())),
                                                   lambda x, y: x @ y.T),
        "x^T @ y^T": ((k, m), (n, k), (((0,), (1,)), ((), ())), lambda x, y: x.T @ y.T),
        "batched": ((b, m, k), (b, k, n), (((2,), (1,)), ((0,), (0,))),
                    lambda x, y: np.einsum("bmk,bkn->bmn", x, y)),
        "batch axis not leading (copied)": ((m, b, k), (b, k, n), (((2,), (1,)), ((1,), (0,))),
                                            lambda x, y: np.einsum("mbk,bkn->bmn", x, y)),
        "two contracting axes": ((m, b, k), (b, k, n), (((1, 2), (0, 1)), ((), ())),
                                 lambda x, y: np.einsum("mbk,bkn->mn", x, y)),
        "contracting axes in opposite orders (copied)": (
            (m, b, k), (k, b, n), (((1, 2), (1, 0)), ((), ())),
            lambda x, y: np.einsum("mbk,kbn->mn", x, y)),
        "vector @ matrix": ((m * k,), (m * k, n), (((0,), (0,)), ((), ())),
                            lambda x, y: x @ y),
    }


@pytest.mark.numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", list(_cases(2, 3, 4, 5)))
@_SETTINGS
@given(m=st.integers(41, 60), k=st.integers(31, 40), n=st.integers(61, 80),
       b=st.integers(3, 5), length=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_large_products_in_a_scan_body_call_gemm(dtype, case, m, k, n, b, length, seed):
    xshape, yshape, dn, ref_fn = _cases(m, k, n, b)[case]
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal((length, *xshape)).astype(dtype)
    y = (rng.standard_normal(yshape) / np.sqrt(k)).astype(dtype)
    out_shape = ref_fn(xs[0], y).shape
    x64, y64 = xs.astype(np.float64), y.astype(np.float64)

    def f(y, xs):
        def step(c, x):
            p = lax.dot_general(x, y, dn)
            # the carry accumulates the products, the ys keep each one (ReLU: elementwise
            # work sharing the loop)
            return c + p, jnp.maximum(p, 0.0)

        return lax.scan(step, jnp.zeros(out_shape, dtype), xs)

    c, ys = np.zeros(out_shape), []
    for x in x64:
        p = ref_fn(x, y64)
        c, _ = c + p, ys.append(np.maximum(p, 0.0))
    rtol, atol = _tol(dtype)
    with jb.enable_x64(dtype == np.float64):
        out, text = _tier1(f, y, xs)
        assert f"gemm_{np.dtype(dtype).name}(" in text
        assert all(np.asarray(o).dtype == dtype for o in jb.tree_util.tree_leaves(out))
        _check(out, [_tier0(f, y, xs), (c, np.stack(ys))], rtol, atol)


def _work(case, m, k, n, b):
    xshape, yshape, dn, ref_fn = _cases(m, k, n, b)[case]
    out = ref_fn(np.zeros(xshape), np.zeros(yshape))
    (xc, _), _ = dn
    return out.size * int(np.prod([xshape[a] for a in xc]))


def test_drawn_products_are_all_large():
    for case in _cases(2, 3, 4, 5):
        assert _work(case, 41, 31, 61, 3) > MAX_DOT_WORK, case


@pytest.mark.numba
@_SETTINGS
@given(rows=st.integers(300, 400), length=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_fori_loop_of_matrix_vector_products(rows, length, seed):
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal((rows, rows)) / np.sqrt(rows)).astype(np.float32)
    h0 = rng.standard_normal((rows, 2)).astype(np.float32)

    def f(a, h):
        return lax.fori_loop(0, length, lambda i, h: jnp.tanh(a @ h) + 0.1, h)

    ref = h0.astype(np.float64)
    for _ in range(length):
        ref = np.tanh(a.astype(np.float64) @ ref) + 0.1
    out, text = _tier1(f, a, h0)
    _check(out, [_tier0(f, a, h0), ref], 2e-4, 2e-4)


def _mlp_scan(W1, W2, h0, xs):
    """A recurrent MLP: every step two products of a 96-row batch."""
    def step(h, x):
        z = jnp.tanh(h @ W1 + x)
        h = jnp.tanh(z @ W2)
        return h, jnp.sum(h * h, axis=1)

    h, ys = lax.scan(step, h0, xs)
    return jnp.sum(ys) + jnp.sum(h)


def _mlp_grads_ref(W1, W2, h0, xs):
    """Backpropagation through the loop in float64."""
    W1, W2, h = (np.asarray(a, np.float64) for a in (W1, W2, h0))
    tape = []
    for x in np.asarray(xs, np.float64):
        z = np.tanh(h @ W1 + x)
        h_new = np.tanh(z @ W2)
        tape.append((h, z, h_new))
        h = h_new
    gW1, gW2, gh = np.zeros_like(W1), np.zeros_like(W2), np.ones_like(h)
    for h_prev, z, h_new in reversed(tape):
        gh = gh + 2 * h_new  # d sum(h^2) / dh
        ga = gh * (1 - h_new**2)
        gW2 += z.T @ ga
        gz = ga @ W2.T * (1 - z**2)
        gW1 += h_prev.T @ gz
        gh = gz @ W1.T
    return gW1, gW2, gh


@pytest.mark.numba
@_SETTINGS
@given(length=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_grad_through_a_scan_with_large_products(length, seed):
    rng = np.random.default_rng(seed)
    W1 = (rng.standard_normal((48, 48)) / 7).astype(np.float32)
    W2 = (rng.standard_normal((48, 48)) / 7).astype(np.float32)
    h0 = rng.standard_normal((96, 48)).astype(np.float32)
    xs = rng.standard_normal((length, 96, 48)).astype(np.float32) * 0.5
    g = jb.grad(_mlp_scan, argnums=(0, 1, 2))
    # The forward sweep (saving residuals) and the backward one (x^T @ g and g @ W^T:
    # transposed operands) both compile whole with gemm.
    out, _ = _tier1(g, W1, W2, h0, xs, expect_loops=2)
    _check(out, [_tier0(g, W1, W2, h0, xs), _mlp_grads_ref(W1, W2, h0, xs)], 1e-3, 1e-3)


@pytest.mark.numba
@_SETTINGS
@given(batch=st.integers(2, 3), seed=st.integers(0, 2**16))
def test_vmapped_scan_with_large_products(batch, seed):
    rng = np.random.default_rng(seed)
    W = (rng.standard_normal((64, 64)) / 8).astype(np.float32)
    h0 = rng.standard_normal((batch, 32, 64)).astype(np.float32)

    def f(W, h):
        return lax.scan(lambda h, _: (jnp.tanh(h @ W), h[:, 0]), h, None, length=3)

    out, _ = _tier1(jb.vmap(f, in_axes=(None, 0)), W, h0)
    for i in range(batch):  # vmap == a loop over the batch
        one = _tier0(f, W, h0[i])
        _check(jb.tree_util.tree_map(lambda a, i=i: a[i], out), [one], 2e-4, 2e-4)


def test_gemm_bodies_with_much_libm_work_stay_orchestrated():
    w = np.ones((64, 64), np.float32)
    h = np.ones((512, 64), np.float32)  # 32,768 elements per step

    def kernel(act):
        closed = passes.optimize(jb.make_jaxpr(
            lambda h: lax.fori_loop(0, 3, lambda i, h: act(h @ w), h))(h))
        (eqn,) = [e for e in closed.eqns if loops.is_loop(e)]
        return loops.libm_elements(eqn), loops.loop_kernel(eqn)

    n, lk = kernel(lambda x: jnp.maximum(x, 0.0))
    assert n == 0 and lk is not None and lk.uses_blas
    n, lk = kernel(jnp.arctan)  # numba calls libm's atanf per element; NumPy has SIMD loops
    assert n == 512 * 64 > loops.LIBM_BUDGET and lk is None


@pytest.mark.numba
def test_integer_products_stay_off_blas():
    big = np.ones((300, 300), np.int32)

    def f(h):
        return lax.fori_loop(0, 3, lambda i, h: big @ h % 7, h)

    closed = passes.optimize(jb.make_jaxpr(f)(np.ones((300, 4), np.int32)))
    (eqn,) = [e for e in closed.eqns if loops.is_loop(e)]
    assert loops.loop_kernel(eqn) is None  # no integer gemm: orchestrated as before


_CACHE_SCRIPT = textwrap.dedent("""
    import numpy as np
    import jumba as jb, jumba.numpy as jnp
    from jumba import lax
    from jumba._src.compiler import kernel_cache
    w = np.full((80, 80), 0.01, np.float32)
    f = jb.jit(lambda h: lax.fori_loop(0, 3, lambda i, h: jnp.tanh(h @ w), h))
    with jb.config_context(jumba_compile="eager"):
        out = f(np.ones((40, 80), np.float32))
    (k,) = [k for k in kernel_cache._loaded.values() if "gemm_float32" in
            open(k.py_func.__code__.co_filename).read()]
    print(sum(k.stats.cache_hits.values()), sum(k.stats.cache_misses.values()),
          float(np.asarray(out)[0, 0]))
""")


@pytest.mark.numba
def test_gemm_loop_kernel_is_loaded_from_the_disk_cache(tmp_path):
    env = dict(os.environ, JUMBA_CACHE_DIR=str(tmp_path), JUMBA_COMPILE="eager")
    runs = [subprocess.run([sys.executable, "-c", _CACHE_SCRIPT], env=env, text=True,
                           capture_output=True, check=True).stdout.split()
            for _ in range(2)]
    assert runs[0][:2] == ["0", "1"]  # compiled, written to the cache
    assert runs[1][:2] == ["1", "0"]  # a fresh process loads it: no recompilation
    assert runs[0][2] == runs[1][2]


# ---------------------------------------------------------------------------------------
# argmax and gather: a policy's sampling and log-probabilities inside a loop


@pytest.mark.numba
@_SETTINGS
@given(batch=st.integers(4, 9), length=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_argmax_and_take_along_axis_in_a_scan(batch, length, seed):
    actions = 3  # (sizes are symbols in the kernel text: one compile serves all examples)
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((length, batch, actions)).astype(np.float32)
    logits[0, 0, -1] = np.nan  # a NaN is the maximum (its first index)
    logits[-1, -1, :] = 1.0  # ties: the first index

    def f(logits):
        def step(c, lg):
            a = jnp.argmax(lg, axis=1)
            b = jnp.argmin(lg, axis=1)
            logp = jnp.take_along_axis(jax_log_softmax(lg), b[:, None], 1)[:, 0]
            return c + a, (a, b, logp)

        return lax.scan(step, jnp.zeros(batch, jnp.int32), logits)

    c, ys = np.zeros(batch, np.int32), ([], [], [])
    for lg in logits:
        a, b = np.argmax(lg, 1), np.argmin(lg, 1)
        ls = lg - np.log(np.sum(np.exp(lg - lg.max(1, keepdims=True)), 1,
                                keepdims=True)) - lg.max(1, keepdims=True)
        c = c + a
        for lst, v in zip(ys, (a, b, np.take_along_axis(ls, b[:, None], 1)[:, 0])):
            lst.append(v)
    with jb.config_context(jumba_compile="eager"):
        jf = jb.jit(f)
        out = jf(logits)
        text = jf.lower(logits).as_text()
    assert text.count("# loop_") == 1 and "run from Python" not in text
    ref = (c, tuple(np.stack(v) for v in ys))
    for o, e, t in zip(jb.tree_util.tree_leaves(out), jb.tree_util.tree_leaves(ref),
                       jb.tree_util.tree_leaves(_tier0(f, logits))):
        np.testing.assert_allclose(np.asarray(o), np.asarray(t), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(np.asarray(o), e, rtol=1e-5, atol=1e-5)


def jax_log_softmax(x):
    return jb.nn.log_softmax(x, axis=1)


@pytest.mark.numba
@pytest.mark.parametrize("mode", ["clip", "fill"])
def test_gather_modes_in_a_loop(mode):
    x = np.arange(24, dtype=np.float32).reshape(6, 4)
    idx = np.array([[0, 1], [5, 3], [7, 0], [-1, 2]], np.int32)  # two out of bounds

    def f(x, idx):
        def step(c, i):
            g = x.at[idx[:, 0] + i, idx[:, 1]].get(mode=mode)
            return c + g, g

        return lax.scan(step, jnp.zeros(4, jnp.float32), jnp.arange(2))

    with jb.config_context(jumba_compile="eager"):
        jf = jb.jit(f)
        out = jf(x, idx)
        text = jf.lower(x, idx).as_text()
    assert text.count("# loop_") == 1, text
    ref = _tier0(f, x, idx)
    for o, e in zip(jb.tree_util.tree_leaves(out), jb.tree_util.tree_leaves(ref)):
        np.testing.assert_array_equal(np.asarray(o), np.asarray(e))


# ---------------------------------------------------------------------------------------
# Large kernels cut into functions (compiler/loop_outline.py)


@pytest.mark.numba
def test_a_large_loop_kernel_is_cut_into_functions(monkeypatch):
    from jumba._src.compiler import loop_outline

    # Cut this small body as a rollout's is cut (its kernel is ~1,000 lines).
    monkeypatch.setattr(loop_outline, "MAX_LINES", 20)
    monkeypatch.setattr(loop_outline, "CHUNK", 12)
    rng = np.random.default_rng(0)
    W = (rng.standard_normal((64, 64)) / 8).astype(np.float32)
    h0 = rng.standard_normal((40, 64)).astype(np.float32)

    def f(W, h, key):
        def step(c, _):
            h, key, n = c
            key, sub = jb.random.split(key)
            a = jb.random.categorical(sub, h[:, :3])
            h = jnp.tanh(h @ W) + 0.1 * a[:, None]
            n = n + jnp.sum(a)
            return (h, key, n), (a, jnp.max(h, axis=1))

        return lax.scan(step, (h, key, jnp.int32(0)), None, length=5)

    key = jb.random.PRNGKey(3)
    out, text = _tier1(f, W, h0, key)
    assert "def part0(" in text and "def part1(" in text
    for o, e in zip(jb.tree_util.tree_leaves(out),
                    jb.tree_util.tree_leaves(_tier0(f, W, h0, key))):
        np.testing.assert_allclose(np.asarray(o), np.asarray(e), rtol=2e-5, atol=2e-5)


@pytest.mark.numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_helper_flags_leading_dimensions_and_accumulation(dtype):
    """The helper a kernel calls: every transpose combination, and beta = 1 (`add`), which
    a carry's `carry + product` update uses."""
    from jumba._src.compiler import kernel_cache, loop_blas

    dt = np.dtype(dtype).name
    call = f"gemm_{dt}(ta, tb, m, n, k, a, lda, b, ldb, c, n, add)"
    lines = ["@numba.njit(cache=True)",
             "def kernel(ta, tb, m, n, k, a, lda, b, ldb, c, add):", "    " + call]
    source = ("import numba\nimport numpy as np\n" + loop_blas.module_header(lines) + "\n"
              + loop_blas._gemm_helper(dt) + "\n" + "\n".join(lines) + "\n")
    kernel = kernel_cache.load_kernel(source)
    rng = np.random.default_rng(1)
    m, k, n = 5, 7, 3
    for ta in (0, 1):
        for tb in (0, 1):
            a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
            b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
            c0 = rng.standard_normal((m, n)).astype(dtype)
            ref = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b)
            for add in (0, 1):
                c = c0.copy()
                kernel(ord("T") if ta else ord("N"), ord("T") if tb else ord("N"), m, n, k,
                       a.reshape(-1), a.shape[1], b.reshape(-1), b.shape[1], c.reshape(-1),
                       add)
                np.testing.assert_allclose(c, ref + (c0 if add else 0), rtol=1e-5, atol=1e-5)
