"""Kernels reducing over their first axis, split into chunks of rows with partial results
(runtime/split_reductions.py): the same results as one pass, whether or not a helper
thread takes part, for each reduction and with broadcast inputs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba.numpy as jnp
from jumba import lax
from jumba._src.runtime import blas, split_reductions
from tests.core.tier_runs import run_tier1


def _kernel(reduce):
    """A stand-in for a generated kernel: out0 = in0 * in1 (in1 broadcast along rows),
    out1 = reduce(out0, axis 0), over the n0 rows it is given."""
    def kernel(n0, n1, in0, in1, out0, out1):
        assert in0.shape[0] == n0 == out0.shape[0]
        out0[...] = in0 * in1
        out1[...] = reduce(out0, axis=0)
    return kernel


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), rows=st.integers(2, 300), cols=st.integers(1, 9),
       name=st.sampled_from(["reduce_sum", "reduce_max", "reduce_min", "reduce_prod"]),
       helpers=st.booleans())
def test_chunked_partials_combine_to_the_whole_reduction(seed, rows, cols, name, helpers):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 1.5, (rows, cols))
    w = rng.uniform(0.5, 1.5, cols)
    reduce = {"reduce_sum": np.sum, "reduce_max": np.max, "reduce_min": np.min,
              "reduce_prod": np.prod}[name]
    with pytest.MonkeyPatch.context() as m:
        m.setattr(blas, "num_threads", lambda: 2)
        m.setattr(blas, "split_now", lambda: helpers)  # False: this thread does all chunks
        prod, red = np.empty((rows, cols)), np.empty(cols)
        split_reductions.run_nest_reduction(_kernel(reduce), (rows, cols), (x, w),
                                            (True, False), (), (prod, red), 1, name)
    np.testing.assert_array_equal(prod, x * w)
    np.testing.assert_allclose(red, reduce(x * w, axis=0), rtol=1e-12)


@pytest.mark.numba
@pytest.mark.parametrize("helpers", [True, False])
def test_tier1_bias_gradient_kernels_split_by_rows(helpers, monkeypatch):
    monkeypatch.setattr(blas, "num_threads", lambda: 2)
    monkeypatch.setattr(blas, "split_now", lambda: helpers)
    monkeypatch.setattr(split_reductions, "MIN_WORK", 0)
    rng = np.random.default_rng(4)
    g = rng.standard_normal((4099, 64)).astype(np.float32)
    t = rng.standard_normal((4099, 64)).astype(np.float32)
    c = rng.standard_normal(4099).astype(np.float32)

    def f(g, t, c):
        dh = g * (1 - t * t)
        col = lax.broadcast_in_dim(c, g.shape, (0,)) * t  # a column read by rows
        return dh, jnp.sum(dh, 0), jnp.max(col, 0), jnp.sum(col * g)

    (dh, db, mx, total), text = run_tier1(f, g, t, c)
    assert text.count("_run_nest_red(") >= 2
    g64, t64 = g.astype(np.float64), t.astype(np.float64)
    dh64 = g64 * (1 - t64 * t64)
    col64 = c[:, None] * t64
    np.testing.assert_allclose(np.asarray(dh), dh64, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(db), dh64.sum(0), rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(np.asarray(mx), col64.max(0).astype(np.float32))
    np.testing.assert_allclose(float(total), (col64 * g64).sum(), rtol=1e-5)
    assert np.asarray(db).dtype == np.float32
