"""Compiled loops split by rows (compiler/loop_split.py): a scan whose body works row by
row over a batch axis runs its kernel once per block of rows, on two threads.

The analysis must accept only row-by-row bodies: each refusal case below is an accepted
body with one thing changed that mixes rows (a reduction, a slice, a permutation, a
product or a cumulative sum along the batch axis, a reshape merging it,
a second axis of the batch size, an inner loop of batch-size length). Accepted bodies
are then run split on tier 1 and checked against tier 0.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba as jb
import jumba.numpy as jnp
from jumba import lax
from jumba._src.compiler import loop_split
from jumba._src.runtime import blas
from tests.core.tier_runs import run_tier0, run_tier1

ROWS, FEAT, STEPS = 32, 3, 5


@pytest.fixture(autouse=True)
def _small_loops_split(monkeypatch):
    # The test programs are far below the sizes worth splitting.
    monkeypatch.setattr(loop_split, "MIN_ROWS", 2)
    monkeypatch.setattr(loop_split, "MIN_WORK", 0)


def _scan_plan(f, *args):
    (eqn,) = [e for e in jb.make_jaxpr(f)(*args).jaxpr.eqns if e.primitive.name == "scan"]
    return loop_split.split_plan(eqn)


def _program(twist=None, rows=ROWS):
    """A scan over a (rows, FEAT) carry: a tanh layer, row sums as ys; `twist(x, t)`
    changes the carry's update."""
    def f(x, w, b):
        def step(carry, _):
            x, t = carry
            x = jnp.tanh(x @ w + b)
            if twist is not None:
                x = twist(x, t)
            return (x, t + 1), x.sum(1)

        return lax.scan(step, (x, jnp.int32(0)), None, length=STEPS)

    rng = np.random.default_rng(0)
    args = (rng.normal(size=(rows, FEAT)).astype(np.float32),
            rng.normal(size=(FEAT, FEAT)).astype(np.float32),
            rng.normal(size=(FEAT,)).astype(np.float32))
    return f, args


def test_row_by_row_body_splits():
    f, args = _program()
    plan = _scan_plan(f, *args)
    assert plan is not None and plan.rows == ROWS
    # operands w, b (no batch axis), carry x (rows first), t; outputs x, t, ys (rows second)
    assert plan.in_axes == [None, None, 0, None]
    assert plan.out_axes == [0, None, 1]


def _inner_scan(x, length):
    def inner(c, _):
        return c * 0.5 + 1.0, None
    return lax.scan(inner, x, None, length=length)[0]


REFUSED = {
    "reduction over rows": lambda x, t: x - x.mean(0),
    "slice along rows": lambda x, t: jnp.concatenate([x[1:], x[:1]]),
    "permutation of rows": lambda x, t: x[np.arange(ROWS)[::-1].copy()],
    "product contracting rows": lambda x, t: x @ (x.T @ x),
    "cumulative sum over rows": lambda x, t: jnp.cumsum(x, 0),
    "reshape merging rows": lambda x, t: x.reshape(ROWS // 2, 2 * FEAT).reshape(ROWS, FEAT),
    "two axes of the batch size": lambda x, t: x + (x[:, :1] * x[:, 0][None, :]).sum(1)[:, None],
    "inner loop of batch length": lambda x, t: _inner_scan(x, ROWS),
    "dynamic slice of some rows": lambda x, t: jnp.concatenate(
        [lax.dynamic_slice(x, (t, 0), (ROWS // 2, FEAT))] * 2),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_mixing_rows_refuses(name):
    f, args = _program(REFUSED[name])
    assert _scan_plan(f, *args) is None


ACCEPTED = {
    "cond on the step counter": lambda x, t: lax.cond(t % 2 == 0, lambda v: v * 2.0,
                                                      lambda v: v - 1.0, x),
    "inner loop over steps": lambda x, t: _inner_scan(x, 4),
    "row-wise reductions and gathers": lambda x, t: x - jnp.take_along_axis(
        x, jnp.argmax(x, 1)[:, None], 1) + jnp.max(x, 1, keepdims=True),
    # (the row numbers are computed once, outside the loop: an operand split with the rows)
    "row numbers": lambda x, t: x + lax.iota(jnp.float32, ROWS)[:, None],
    "transpose and back": lambda x, t: (x.T * 2.0).T,
    "reshape keeping rows": lambda x, t: x.reshape(ROWS, FEAT, 1)[:, :, 0],
    "dynamic slice of whole rows": lambda x, t: lax.dynamic_slice(x, (t, 0), (ROWS, 2))
    .sum(1, keepdims=True) + x,
}


@pytest.mark.parametrize("name", sorted(ACCEPTED))
def test_row_by_row_variants_accept(name):
    f, args = _program(ACCEPTED[name])
    assert _scan_plan(f, *args) is not None


def test_too_few_rows_stays_whole(monkeypatch):
    monkeypatch.setattr(loop_split, "MIN_ROWS", ROWS + 1)
    f, args = _program()
    assert _scan_plan(f, *args) is None


def _sampling_program(rows):
    """A policy step as in a PPO rollout: one carried key split per step, categorical
    actions for every row, their log-probabilities (a gather), per-row keys in the state."""
    def f(obs, w, keys, key, xs):
        def step(carry, x):
            obs, keys, key = carry
            key, k = jb.random.split(key)
            logits = jnp.tanh(obs @ w) + x
            a = jb.random.categorical(k, logits)
            logp = jnp.take_along_axis(jb.nn.log_softmax(logits), a[:, None], 1)[:, 0]
            keys, noise_keys = jnp.split(jax_split_rows(keys), 2, axis=1)
            noise = jb.vmap(lambda k: jb.random.uniform(k[0], (obs.shape[1],)))(noise_keys)
            obs = obs * 0.9 + noise * jnp.where(a == 1, 1.0, -1.0)[:, None]
            return (obs, keys[:, 0], key), (a, logp, key)

        return lax.scan(step, (obs, keys, key), xs)

    rng = np.random.default_rng(rows)
    return f, (rng.normal(size=(rows, 4)).astype(np.float32),
               rng.normal(size=(4, 2)).astype(np.float32),
               jb.random.split(jb.random.PRNGKey(rows), rows), jb.random.PRNGKey(1),
               rng.normal(size=(STEPS, rows, 2)).astype(np.float32))


def jax_split_rows(keys):
    """Each row's key split in two: (rows, 2, 2)."""
    return jb.vmap(jb.random.split)(keys)


def test_policy_sampling_splits():
    f, args = _sampling_program(ROWS)
    plan = _scan_plan(f, *args)
    assert plan is not None
    assert plan.in_axes[-1] == 1  # xs: the scan's axis, then the rows
    assert plan.out_axes[-3:] == [1, 1, None]  # ys: actions, log-probabilities, the key


@pytest.mark.numba
@settings(max_examples=3, deadline=None)
@given(rows=st.integers(40, 90), seed=st.integers(0, 2**16))
def test_split_loops_match_tier0(rows, seed):
    blocks = []
    claimed, threads, split_now = blas.run_claimed, blas.num_threads, blas.split_now

    def run_claimed(run_chunk, bounds, patience=None):
        blocks.append(list(bounds))
        return claimed(run_chunk, bounds, patience)

    # Blocks run whatever the machine (one core, or backing off from a missed split).
    blas.run_claimed, blas.num_threads, blas.split_now = run_claimed, lambda: 2, lambda: True
    try:
        _split_loops_match_tier0(rows, seed)
    finally:
        blas.run_claimed, blas.num_threads, blas.split_now = claimed, threads, split_now
    assert len(blocks) == 2 and all(b[0] == 0 and b[-1] == rows and len(b) > 2
                                    for b in blocks), blocks


def _split_loops_match_tier0(rows, seed):
    rng = np.random.default_rng(seed)
    f, _ = _program(ACCEPTED["row-wise reductions and gathers"], rows=rows)
    args = (rng.normal(size=(rows, FEAT)).astype(np.float32),
            rng.normal(size=(FEAT, FEAT)).astype(np.float32),
            rng.normal(size=(FEAT,)).astype(np.float32))
    out, text = run_tier1(f, *args)
    assert f"split by rows of {rows}" in text
    ref = run_tier0(f, *args)
    for o, r in zip(jb.tree_util.tree_leaves(out), jb.tree_util.tree_leaves(ref)):
        np.testing.assert_allclose(np.asarray(o), np.asarray(r), rtol=2e-5, atol=2e-5)

    g, gargs = _sampling_program(rows)
    out, text = run_tier1(g, *gargs)
    assert f"split by rows of {rows}" in text
    ref = run_tier0(g, *gargs)
    (o_obs, o_keys, o_key), (o_a, o_logp, o_ks) = out
    (r_obs, r_keys, r_key), (r_a, r_logp, r_ks) = ref
    for o, r in ((o_keys, r_keys), (o_key, r_key), (o_a, r_a), (o_ks, r_ks)):  # exactly
        np.testing.assert_array_equal(np.asarray(o), np.asarray(r))
    for o, r in ((o_obs, r_obs), (o_logp, r_logp)):
        np.testing.assert_allclose(np.asarray(o), np.asarray(r), rtol=2e-5, atol=2e-5)


@settings(max_examples=50, deadline=None)
@given(rows=st.integers(2, 5000), threads=st.integers(1, 4), row_bytes=st.integers(1, 1 << 16))
def test_blocks_cover_the_rows(rows, threads, row_bytes):
    b = loop_split._blocks(rows, threads, row_bytes)
    assert b[0] == 0 and b[-1] == rows and all(lo < hi for lo, hi in zip(b, b[1:]))
    assert all(x % 8 == 0 for x in b[1:-1])
    # Cache-sized unless that would be under BLOCK_ROWS rows; one block per helper at least.
    per = max(loop_split.BLOCK_ROWS, loop_split.BLOCK_BYTES // row_bytes)
    assert max(hi - lo for lo, hi in zip(b, b[1:])) <= per + 8
    if threads > 1 and rows >= 8 * threads:
        assert len(b) - 1 >= threads
