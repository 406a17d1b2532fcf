"""Reliability: the environment report, threads sharing one jitted function and one kernel
cache, read-only and damaged caches, and steady memory over many jitted training steps
(`benchmarks/reliability_memory.py` runs the full 100,000 calls)."""

from __future__ import annotations

import gc
import os
import threading
import warnings

import numpy as np
import pytest

import jumba as jb
import jumba.numpy as jnp
from jumba._src.compiler import fusion, kernel_cache


def test_print_environment_info(capsys):
    jb.print_environment_info()
    out = capsys.readouterr().out
    for needle in ("jumba:", "python:", "numpy:", "numba:", "optree:", "scipy:",
                   "threading layer", "BLAS:", "devices:", "CpuDevice(id=0)",
                   "kernel cache:", str(kernel_cache.cache_dir())):
        assert needle in out, needle
    assert jb.print_environment_info(return_string=True) == out.rstrip("\n")


# --- a small MLP training step -------------------------------------------------------------


def _load_memory_script():
    # The training step and RSS reading of benchmarks/reliability_memory.py (the full-length
    # version of these tests): one definition for both.
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "reliability_memory.py"
    spec = importlib.util.spec_from_file_location("reliability_memory", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_memory = _load_memory_script()


def _mlp_setup():
    return _memory.make_step(sizes=(16, 32, 10), batch=32)


def _rss_bytes() -> int:
    return int(_memory.rss_mb() * 2**20)


def _rss_growth(step, params, x, y, calls, warmup):
    for _ in range(warmup):
        params, loss = step(params, x, y)
    gc.collect()
    start = _rss_bytes()
    for _ in range(calls):
        params, loss = step(params, x, y)
    gc.collect()
    return _rss_bytes() - start, float(loss)


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux's /proc")
def test_memory_steady_over_many_jitted_steps():
    step, params, x, y = _mlp_setup()
    growth, loss = _rss_growth(step, params, x, y, calls=3000, warmup=300)
    assert np.isfinite(loss)
    # Keeping one set of parameters per call would grow by > 7 MB over 3,000 calls.
    assert growth < 3 * 2**20, f"RSS grew by {growth / 2**20:.1f} MB over 3,000 steps"
    assert step._cache_size() == 1


@pytest.mark.numba
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux's /proc")
def test_memory_steady_on_tier1(monkeypatch):
    monkeypatch.setattr(fusion, "MIN_KERNEL_SIZE", 0)
    with jb.config_context(jumba_compile="eager"):
        step, params, x, y = _mlp_setup()
        growth, loss = _rss_growth(step, params, x, y, calls=2000, warmup=300)
        assert "@numba.njit" in step.lower(params, x, y).compile().as_text()
    assert np.isfinite(loss)
    assert growth < 3 * 2**20, f"RSS grew by {growth / 2**20:.1f} MB over 2,000 steps"


# --- threads ----------------------------------------------------------------------------------


def _run_threads(jf, n=8, calls=25):
    xs = [np.full((6, 5), 0.1 * i, np.float32) for i in range(n)]
    results = [None] * n
    errors = []
    barrier = threading.Barrier(n)

    def work(i):
        try:
            barrier.wait()  # every thread makes the first call at once: a cold-cache race
            for _ in range(calls):
                results[i] = np.asarray(jf(xs[i]))
        except Exception as e:  # surfaced below; a thread's exception is otherwise lost
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return xs, results


def _f(x):
    return jnp.sum(jnp.tanh(x) * x + 2.0, axis=1) * jnp.exp(-x[:, 0])


def _ref(x):
    return np.sum(np.tanh(x) * x + 2.0, axis=1) * np.exp(-x[:, 0])


def test_eight_threads_share_one_jitted_function_tier0():
    jf = jb.jit(_f)
    xs, results = _run_threads(jf)
    for x, r in zip(xs, results):
        np.testing.assert_allclose(r, _ref(x), rtol=1e-5)
    assert jf._cache_size() == 1


@pytest.mark.numba
def test_eight_threads_share_one_jitted_function_and_kernel_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(kernel_cache, "_loaded", {})
    monkeypatch.setattr(fusion, "MIN_KERNEL_SIZE", 0)
    with jb.config_context(jumba_compile="eager"):
        jf = jb.jit(_f)
        xs, results = _run_threads(jf)
        text = jf.lower(xs[0]).compile().as_text()
    assert "@numba.njit" in text
    for x, r in zip(xs, results):
        np.testing.assert_allclose(r, _ref(x), rtol=1e-5)
    assert jf._cache_size() == 1
    files = sorted(p.name for p in (tmp_path / "kernels").glob("k_*.py"))
    # One file and one loaded dispatcher per kernel, whatever the number of threads.
    assert files and len(files) == len(kernel_cache._loaded)
    assert sorted(f"k_{h}.py" for h in kernel_cache._loaded) == files


# --- damaged and read-only caches -------------------------------------------------------------


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(kernel_cache, "_loaded", {})
    monkeypatch.setattr(kernel_cache, "_warned", set())
    monkeypatch.setattr(kernel_cache, "_fallback_dir", None)
    monkeypatch.setattr(fusion, "MIN_KERNEL_SIZE", 0)
    monkeypatch.setenv("JUMBA_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _programs_run_on_tier1():
    """Two programs compiled through the cache; the warnings they raised."""
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    with warnings.catch_warnings(record=True) as w, jb.config_context(jumba_compile="eager"):
        warnings.simplefilter("always")
        for f, ref in [(lambda x: jnp.tanh(x) * 3.0 + x * x, lambda x: np.tanh(x) * 3 + x * x),
                       (lambda x: jnp.exp(x) - x, lambda x: np.exp(x) - x)]:
            jf = jb.jit(f)
            np.testing.assert_allclose(np.asarray(jf(x)), ref(x), rtol=1e-5, atol=1e-6)
            assert "@numba.njit" in jf.lower(x).compile().as_text()
    return [str(x.message) for x in w if issubclass(x.category, kernel_cache.JumbaCacheWarning)]


@pytest.mark.numba
def test_unwritable_cache_runs_programs_with_one_warning(fresh_cache):
    fresh_cache.write_text("")  # a file where the cache directory should be
    messages = _programs_run_on_tier1()
    assert len(messages) == 1 and "not writable" in messages[0]


@pytest.mark.numba
def test_cache_turning_unwritable_midway_falls_back(fresh_cache, monkeypatch):
    real = kernel_cache._atomic_write

    def refuse_in_cache(path, text):
        if str(path).startswith(str(fresh_cache)):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, text)

    monkeypatch.setattr(kernel_cache, "_atomic_write", refuse_in_cache)
    messages = _programs_run_on_tier1()
    assert len(messages) == 1 and "not writable" in messages[0]


@pytest.mark.numba
def test_damaged_cache_runs_programs_with_one_warning(fresh_cache, monkeypatch):
    _programs_run_on_tier1()  # populate: kernel files and numba's cache beside them
    kernels = fresh_cache / "kernels"
    for p in kernels.glob("k_*.py"):
        p.write_text("garbage = (")
    # A fresh process would find these files: forget what this one loaded.
    monkeypatch.setattr(kernel_cache, "_loaded", {})
    monkeypatch.setattr(kernel_cache, "_warned", set())
    messages = _programs_run_on_tier1()
    assert len(messages) == 1 and "damaged" in messages[0]


@pytest.mark.numba
def test_damaged_numba_cache_entries_are_recompiled_with_one_warning(fresh_cache, monkeypatch):
    _programs_run_on_tier1()
    entries = list((fresh_cache / "kernels" / "__pycache__").glob("k_*"))
    assert entries
    for p in entries:
        p.write_bytes(os.urandom(64))
    monkeypatch.setattr(kernel_cache, "_loaded", {})
    monkeypatch.setattr(kernel_cache, "_warned", set())
    messages = _programs_run_on_tier1()
    assert len(messages) == 1 and "numba's cache" in messages[0]
    # Repaired: numba wrote the entries again, and a later process loads them silently.
    monkeypatch.setattr(kernel_cache, "_loaded", {})
    monkeypatch.setattr(kernel_cache, "_warned", set())
    assert _programs_run_on_tier1() == []
