"""Tier-1 compilation: fusion into numba kernels, kernel sharing, the disk cache.

These tests compile numba kernels (marked `numba`); programs are chosen so that few distinct
kernels are built, and `make test` gives each run a fresh cache directory.
"""

import re
import warnings

import numpy as np
import pytest

import jumba as jb
import jumba.numpy as jnp
from jumba._src.compiler import fusion, kernel_cache, passes
from jumba._src.compiler.kernels import kernel_spec
from jumba._src.compiler.tier1 import Tier1Executable

pytestmark = pytest.mark.numba


@pytest.fixture(autouse=True)
def _kernels_for_small_programs(monkeypatch):
    # These tests use small arrays; by default groups that small run with NumPy.
    monkeypatch.setattr(fusion, "MIN_KERNEL_SIZE", 0)


def _tier1(f, *args):
    closed = passes.optimize(jb.make_jaxpr(f)(*args))
    return closed, Tier1Executable(closed, getattr(f, "__name__", "fun"))


def _check_against_eager(f, *args, rtol=1e-5, atol=1e-6):
    closed, ex = _tier1(f, *args)
    outs = ex([np.asarray(a) for a in args])
    refs = jb.tree_util.tree_leaves(f(*args))
    assert len(outs) == len(refs)
    for o, r in zip(outs, refs):
        r = np.asarray(r)
        assert np.asarray(o).dtype == r.dtype
        assert np.asarray(o).shape == r.shape
        np.testing.assert_allclose(np.asarray(o), r, rtol=rtol, atol=atol)
    return ex


def test_elementwise_chain_is_one_kernel_without_temporaries():
    def cube(x):
        return x * x * x

    x = np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32)
    ex = _check_against_eager(cube, x)
    assert ex.num_kernels == 1
    # One buffer (the output) is allocated; the intermediate x*x lives in a register.
    assert ex.source.count("np.empty") == 1
    (src,) = ex.kernel_sources
    assert "for i in range(n0):" in src  # a flat loop: any rank shares this kernel


def test_same_group_in_another_program_and_size_shares_the_kernel():
    def f(x):
        return jnp.tanh(x) * 2.0 + 1.0

    def g(y):  # another program, other constants, another shape: same group text
        return jnp.tanh(y) * 3.0 + 0.5

    a = np.ones((8, 4), np.float32)
    b = np.ones((5,), np.float32)
    _, ex_f = _tier1(f, a)
    _, ex_g = _tier1(g, b)
    assert ex_f.kernel_sources == ex_g.kernel_sources
    h = kernel_cache.kernel_hash(ex_f.kernel_sources[0])
    assert h in kernel_cache._loaded
    np.testing.assert_allclose(ex_g([b])[0], np.tanh(b) * 3 + 0.5, rtol=1e-6)


def test_float32_stays_float32_in_kernels():
    ex = _check_against_eager(lambda x: jnp.exp(x) * 0.5 + 0.25, np.ones(7, np.float32))
    src = ex.kernel_sources[0]
    # Constants are arguments or typed literals: no bare float literal promotes to f64.
    assert not re.search(r"[^\w.(]\d+\.\d+", src.replace("np.float32(", "("))


def test_reductions_absorb_producers():
    def f(x, w, b):
        h = jnp.tanh(x @ w + b)
        return jnp.sum(h * h, axis=1), jnp.max(h + 1.0, axis=0), jnp.sum(h * 2.0)

    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 8)).astype(np.float32)
    w = rng.standard_normal((8, 6)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    ex = _check_against_eager(f, x, w, b, rtol=1e-5, atol=1e-5)
    assert any("reduce_sum" in s for s in ex.source.splitlines() if "# kernel" in s)


def test_broadcasting_inputs_and_mlp_gradient():
    def loss(w1, b1, w2, x, y):
        h = jnp.maximum(x @ w1 + b1, 0.0)
        logits = h @ w2
        return jnp.mean((logits - y) ** 2)

    rng = np.random.default_rng(2)
    args = [rng.standard_normal(s).astype(np.float32) * 0.3 for s in
            [(10, 12), (12,), (12, 3), (20, 10), (20, 3)]]
    _check_against_eager(jb.value_and_grad(loss, argnums=(0, 1, 2)), *args, rtol=1e-4,
                         atol=1e-5)


def test_integer_and_boolean_groups():
    def f(i, x):
        m = (i % 3 == 0) | (i > 5)
        return jnp.where(m, x * 2.0, -x), (i * 3 + 1) * 2

    i = np.arange(12, dtype=np.int32).reshape(3, 4)
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    _check_against_eager(f, i, x)


def test_partition_never_creates_cycles():
    # A value from a group feeds a NumPy-only op whose result feeds the group's consumer.
    def f(x):
        a = jnp.exp(x)
        b = a @ a.T  # not fusible
        c = jnp.sin(x)
        return (a + c) * jnp.sum(b)

    x = np.random.default_rng(3).standard_normal((4, 4)).astype(np.float32)
    closed = passes.optimize(jb.make_jaxpr(f)(x))
    nodes = fusion.partition(closed.jaxpr)
    seen = {v for v in closed.jaxpr.invars} | set(closed.jaxpr.constvars)
    for n in nodes:
        ins = n.inputs
        assert all(not hasattr(v, "count") or v in seen for v in ins if hasattr(v, "aval")
                   and not type(v).__name__ == "Literal")
        outs = [o for e in n.eqns for o in e.outputs] if isinstance(n, fusion.FusedGroup) \
            else n.outputs
        seen.update(outs)
    _check_against_eager(f, x, rtol=1e-5, atol=1e-4)


def test_damaged_cache_file_is_rewritten_with_one_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("JUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(kernel_cache, "_loaded", {})
    monkeypatch.setattr(kernel_cache, "_warned", set())
    x = np.ones(3, np.float32)
    closed = passes.optimize(jb.make_jaxpr(lambda x: x * x + 1.0)(x))
    group = next(n for n in fusion.partition(closed.jaxpr)
                 if isinstance(n, fusion.FusedGroup))
    source = kernel_spec(group).source
    path = tmp_path / "kernels" / f"k_{kernel_cache.kernel_hash(source)}.py"
    path.parent.mkdir(parents=True)
    path.write_text(source[: len(source) // 2])  # a truncated write from a crash
    with pytest.warns(kernel_cache.JumbaCacheWarning, match="damaged"):
        kernel_cache.load_kernel(source)
    assert path.read_text() == source


def test_unwritable_cache_directory_falls_back(tmp_path, monkeypatch):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("")  # a file where the cache directory should be
    monkeypatch.setenv("JUMBA_CACHE_DIR", str(blocker))
    monkeypatch.setattr(kernel_cache, "_fallback_dir", None)
    monkeypatch.setattr(kernel_cache, "_warned", set())
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        d = kernel_cache._kernel_dir()
    assert d.exists() and d != blocker
    assert any("not writable" in str(x.message) for x in w)


def test_jit_switches_to_tier1_and_agrees():
    def f(x, y):
        return jnp.sum(jnp.exp(x) * y + 1.0, axis=0)

    x = np.linspace(-1, 1, 24, dtype=np.float32).reshape(6, 4)
    y = np.ones((6, 4), np.float32)
    with jb.config_context(jumba_compile="background"):
        jf = jb.jit(f)
        first = jf(x, y)  # served by tier 0 while tier 1 compiles
        lowered = jf.lower(x, y).compile()  # waits for the background compile
    assert "# Tier 1 (numba kernels)" in lowered.as_text()
    assert "@numba.njit" in lowered.as_text()
    second = jf(x, y)
    np.testing.assert_allclose(np.asarray(first), np.asarray(f(x, y)), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(second), np.asarray(first), rtol=1e-6)


def test_wait_idle_waits_for_builds_queued_by_builds():
    import threading

    from jumba._src.compiler import background

    ran = []
    gate = threading.Event()

    def second():
        ran.append("second")

    def first():
        gate.wait(5)  # still running when wait_idle starts
        ran.append("first")
        background.background_compiler().submit(second)  # as a segments build is queued

    background.background_compiler().submit(first)
    threading.Timer(0.05, gate.set).start()
    background.wait_idle()
    assert ran == ["first", "second"]


def test_threads_share_one_jitted_function():
    import threading

    def f(x):
        return jnp.tanh(x) * x + 2.0

    with jb.config_context(jumba_compile="background"):
        jf = jb.jit(f)
        xs = [np.full((5, 3), i, np.float32) for i in range(8)]
        results = [None] * 8

        def work(i):
            for _ in range(20):
                results[i] = np.asarray(jf(xs[i]))

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for i in range(8):
        np.testing.assert_allclose(results[i], np.tanh(xs[i]) * xs[i] + 2.0, rtol=1e-6)
    assert jf._cache_size() == 1


def test_import_jumba_does_not_import_numba():
    import subprocess
    import sys

    code = "import sys, jumba, jumba.numpy; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_clear_caches_forgets_programs_and_kernels(tmp_path, monkeypatch):
    monkeypatch.setenv("JUMBA_CACHE_DIR", str(tmp_path))
    traces = []

    def f(x):
        traces.append(1)
        return jnp.sin(x) * 2.0 + 1.0

    x = np.ones(4, np.float32)
    with jb.config_context(jumba_compile="eager"):
        jf = jb.jit(f)
        jf(x)
        assert list((tmp_path / "kernels").glob("k_*.py"))
        jb.clear_caches()
        assert not (tmp_path / "kernels").exists()
        np.testing.assert_allclose(np.asarray(jf(x)), np.sin(x) * 2 + 1, rtol=1e-6)
    assert len(traces) == 2


def test_small_groups_run_with_numpy(monkeypatch):
    monkeypatch.setattr(fusion, "MIN_KERNEL_SIZE", 4096)
    small = passes.optimize(jb.make_jaxpr(lambda x: jnp.tanh(x) * 2.0)(np.ones(100, np.float32)))
    long_small = passes.optimize(jb.make_jaxpr(
        lambda x: jnp.exp(jnp.sin(jnp.tanh(x) * 2.0 + 1.0) - 3.0))(np.ones(100, np.float32)))
    assert any(isinstance(n, fusion.FusedGroup) for n in fusion.partition(long_small.jaxpr))
    big = passes.optimize(jb.make_jaxpr(lambda x: jnp.tanh(x) * 2.0)(np.ones(5000, np.float32)))
    assert not any(isinstance(n, fusion.FusedGroup) for n in fusion.partition(small.jaxpr))
    assert any(isinstance(n, fusion.FusedGroup) for n in fusion.partition(big.jaxpr))


def test_independent_chains_are_not_merged():
    # Two leaves' updates (as an optimizer over a pytree makes): one loop each, not one
    # loop over every leaf's streams.
    def f(a, b):
        return jnp.tanh(a) * 2.0 + 1.0, jnp.exp(b) * 3.0 - 1.0

    x = np.ones((64, 64), np.float32)
    closed = passes.optimize(jb.make_jaxpr(f)(x, x + 1))
    groups = [n for n in fusion.partition(closed.jaxpr) if isinstance(n, fusion.FusedGroup)]
    assert len(groups) == 2


def test_a_consumer_of_two_groups_merges_them():
    # Adam's moment update m' = b1*m + (1-b1)*g reads two chains: one loop, not three.
    def f(m, g):
        return 0.9 * m + 0.1 * g, 0.999 * m + 0.001 * (g * g)

    x = np.ones((64, 64), np.float32)
    closed = passes.optimize(jb.make_jaxpr(f)(x, x))
    groups = [n for n in fusion.partition(closed.jaxpr) if isinstance(n, fusion.FusedGroup)]
    assert len(groups) == 1
    _check_against_eager(f, x, x * 2)


def test_big_flat_kernels_split_over_threads(monkeypatch):
    from jumba._src.runtime import blas

    monkeypatch.setattr(blas, "PARALLEL_WORK", 1000)
    monkeypatch.setattr(blas, "num_threads", lambda: 3)

    def f(x, y):
        return x * y + 2.0

    x = np.linspace(-1, 1, 5001, dtype=np.float32)
    ex = _check_against_eager(f, x, x[::-1].copy())
    assert "_run_flat(kernel_0, 5001" in ex.source


def test_big_nest_kernels_split_along_their_first_axis(monkeypatch):
    from jumba._src.runtime import blas

    monkeypatch.setattr(blas, "PARALLEL_WORK", 1000)

    def f(x, b):  # a broadcast input (b) and a reduction over the last axis
        h = jnp.tanh(x + b)
        return jnp.sum(h * h, axis=1), h

    x = np.linspace(-1, 1, 300 * 20, dtype=np.float32).reshape(300, 20)
    b = np.linspace(0, 1, 20, dtype=np.float32)
    ex = _check_against_eager(f, x, b, rtol=1e-5, atol=1e-5)
    assert "_run_nest(kernel_0, (300, 20)" in ex.source
    assert "(True, False)" in ex.source  # x is split along axis 0, b is shared


@pytest.mark.parametrize("axes", [(0,), (0, 1, 2), (1, 2), (0, 2)])
def test_reductions_keeping_the_last_axis_walk_memory_in_order(axes, monkeypatch):
    # E.g. BatchNorm's statistics: a sum over (N, H, W) per channel. The kernel reads in
    # memory order into an accumulator of the kept shape (found 20x slower with kept-outer
    # loops); with axis 0 kept it may still be split over threads.
    from jumba._src.runtime import blas

    monkeypatch.setattr(blas, "PARALLEL_WORK", 1000)
    x = np.random.default_rng(0).standard_normal((6, 5, 4, 8)).astype(np.float32)

    def f(x):
        return (jnp.sum(x * x, axis=axes), jnp.max(x + 1.0, axis=axes),
                jnp.min(x * 2.0, axis=axes))

    ex = _check_against_eager(f, x, rtol=1e-5, atol=1e-5)
    assert "(in memory order)" in ex.source
