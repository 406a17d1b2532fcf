"""Every Haiku-style layer under the transformations: gradients against finite
differences (through the parameters and the inputs), jit == eager, vmap == a loop; and
NumPy references for the layers' arithmetic."""

import numpy as np
import pytest

import jumba
import jumba.nn as jnn
import jumba.numpy as jnp
import jumba.random as jr
import jumba_nn.haiku as hk
from jumba import tree_util
from jumba.test_util import check_grads

from . import _haiku_cases as cases

# Cases whose outputs are differentiable functions of float inputs and parameters.
NO_GRAD = {"embed", "embed_one_hot", "initializers", "orthogonal", "max_pool",
           "spectral_norm"}
# vmap over an extra leading axis only where the layer accepts any batch shape.
VMAP = ["linear", "mlp", "conv2d_stride", "conv1d_ncw", "conv2d_transpose", "depthwise2d",
        "layer_norm", "rms_norm", "group_norm", "batch_norm", "mha", "lstm", "gru",
        "dropout", "avg_pool_same", "max_pool", "embed"]


def _transformed(case, x64=False):
    build, inputs = cases.CASES[case]
    f = hk.transform_with_state(build(hk, jnn, jnp))
    if x64:
        inputs = [x.astype(np.float64) if x.dtype == np.float32 else x for x in inputs]
    inputs = [jnp.asarray(x) for x in inputs]
    params, state = f.init(jr.PRNGKey(cases.SEED), *inputs)
    return f, params, state, inputs


def _apply_fn(f, state, case):
    key = jr.PRNGKey(1)

    def apply(params, *xs):
        out = f.apply(params, state, key, *xs)[0]
        return sum(jnp.sum(jnp.sin(y)) for y in tree_util.tree_leaves(out))

    return apply


@pytest.mark.parametrize("case", sorted(set(cases.CASES) - NO_GRAD))
def test_gradients_match_finite_differences(case):
    with jumba.enable_x64():
        f, params, state, inputs = _transformed(case, x64=True)
        float_inputs = [x for x in inputs if jnp.issubdtype(x.dtype, jnp.floating)]
        assert len(float_inputs) == len(inputs)
        check_grads(_apply_fn(f, state, case), (params, *inputs), order=1,
                    modes=("fwd", "rev"), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("case", ["linear", "layer_norm", "conv1d", "gru", "mha"])
def test_second_order_gradients(case):
    with jumba.enable_x64():
        f, params, state, inputs = _transformed(case, x64=True)
        check_grads(_apply_fn(f, state, case), (params, *inputs), order=2,
                    modes=("fwd", "rev"), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("case", sorted(cases.CASES))
def test_jit_of_apply_equals_eager(case):
    f, params, state, inputs = _transformed(case)
    key = jr.PRNGKey(3)
    eager = f.apply(params, state, key, *inputs)
    jitted = jumba.jit(f.apply)(params, state, key, *inputs)
    for a, b in zip(tree_util.tree_leaves(eager), tree_util.tree_leaves(jitted), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", VMAP)
def test_vmap_of_apply_equals_loop(case):
    f, params, state, inputs = _transformed(case)
    key = jr.PRNGKey(3)
    batch = [jnp.stack([x, x * 2 if x.dtype != jnp.int32 else x, x + 1]) for x in inputs]

    def apply(*xs):
        return f.apply(params, state, key, *xs)[0]

    got = jumba.vmap(apply)(*batch)
    for i in range(3):
        want = apply(*[b[i] for b in batch])
        for a, b in zip(tree_util.tree_leaves(got), tree_util.tree_leaves(want), strict=True):
            np.testing.assert_allclose(np.asarray(a)[i], np.asarray(b), rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------- NumPy references

def _run(fn, *xs, rng=None, **kw):
    f = hk.transform_with_state(fn)
    params, state = f.init(jr.PRNGKey(0), *xs, **kw)
    out, new_state = f.apply(params, state, rng, *xs, **kw)
    return (jax_np(params), jax_np(state), out, jax_np(new_state))


def jax_np(tree):
    return tree_util.tree_map(np.asarray, tree)


def test_linear_against_numpy():
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    p, _, out, _ = _run(lambda x: hk.Linear(4, b_init=hk.initializers.Constant(0.5))(x), x)
    w, b = p["linear"]["w"], p["linear"]["b"]
    assert w.shape == (5, 4) and np.all(b == 0.5)
    # Truncated normal with stddev 1/sqrt(fan_in): every draw within two stddevs.
    assert np.all(np.abs(w) <= 2 / np.sqrt(5) + 1e-6)
    np.testing.assert_allclose(out, x @ w + b, rtol=1e-5, atol=1e-6)


def _np_conv2d_same(x, w, stride):
    n, h, wd, c = x.shape
    kh, kw, _, o = w.shape
    oh, ow = -(-h // stride), -(-wd // stride)
    ph = max((oh - 1) * stride + kh - h, 0)
    pw = max((ow - 1) * stride + kw - wd, 0)
    xp = np.pad(x, [(0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)])
    out = np.zeros((n, oh, ow, o), np.float64)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            out[:, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2]))
    return out


def test_conv2d_against_numpy():
    x = np.random.default_rng(1).standard_normal((2, 7, 6, 3)).astype(np.float32)
    p, _, out, _ = _run(lambda x: hk.Conv2D(4, 3, stride=2)(x), x)
    w = p["conv2_d"]["w"]
    assert w.shape == (3, 3, 3, 4) and p["conv2_d"]["b"].shape == (4,)
    np.testing.assert_allclose(out, _np_conv2d_same(x, w, 2) + p["conv2_d"]["b"], rtol=1e-4,
                               atol=1e-5)


def test_layer_norm_and_rms_norm_against_numpy():
    x = np.random.default_rng(2).standard_normal((4, 6)).astype(np.float32)
    _, _, out, _ = _run(lambda x: hk.LayerNorm(-1, True, True, eps=1e-3)(x), x)
    m, v = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    np.testing.assert_allclose(out, (x - m) / np.sqrt(v + 1e-3), rtol=1e-5, atol=1e-5)
    _, _, out, _ = _run(lambda x: hk.RMSNorm(-1)(x), x)
    np.testing.assert_allclose(out, x / np.sqrt((x ** 2).mean(-1, keepdims=True) + 1e-5),
                               rtol=1e-5, atol=1e-5)


def test_group_norm_against_numpy():
    x = np.random.default_rng(3).standard_normal((2, 3, 3, 6)).astype(np.float32)
    _, _, out, _ = _run(lambda x: hk.GroupNorm(3)(x), x)
    g = x.reshape(2, 3, 3, 3, 2)
    m, v = g.mean((1, 2, 4), keepdims=True), g.var((1, 2, 4), keepdims=True)
    np.testing.assert_allclose(out, ((g - m) / np.sqrt(v + 1e-5)).reshape(x.shape),
                               rtol=1e-4, atol=1e-5)


def test_pools_against_numpy():
    x = np.random.default_rng(4).standard_normal((2, 4, 6, 3)).astype(np.float32)
    _, _, out, _ = _run(lambda x: hk.MaxPool((1, 2, 2, 1), (1, 2, 2, 1), "VALID")(x), x)
    np.testing.assert_allclose(out, x.reshape(2, 2, 2, 3, 2, 3).max((2, 4)))
    _, _, out, _ = _run(lambda x: hk.avg_pool(x, 2, 2, "VALID"), x)
    np.testing.assert_allclose(out, x.reshape(2, 2, 2, 3, 2, 3).mean((2, 4)), rtol=1e-6)


def test_lstm_step_against_numpy():
    x = np.random.default_rng(5).standard_normal((2, 3)).astype(np.float32)

    def f(x):
        core = hk.LSTM(4)
        return core(x, core.initial_state(2))

    p, _, (h, st), _ = _run(f, x)
    w, b = p["lstm/linear"]["w"], p["lstm/linear"]["b"]
    gates = np.concatenate([x, np.zeros((2, 4), np.float32)], -1) @ w + b
    i, g, fg, o = np.split(gates, 4, -1)

    def sig(v):
        return 1 / (1 + np.exp(-v))

    c = sig(fg + 1) * 0 + sig(i) * np.tanh(g)
    np.testing.assert_allclose(st.cell, c, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h, sig(o) * np.tanh(c), rtol=1e-5, atol=1e-6)
    assert isinstance(st, hk.LSTMState)


def test_embed_and_attention_against_numpy():
    ids = np.array([[0, 3], [5, 5]], np.int32)
    p, _, out, _ = _run(lambda i: hk.Embed(6, 2)(i), ids)
    np.testing.assert_array_equal(out, p["embed"]["embeddings"][ids])
    q = np.random.default_rng(6).standard_normal((3, 4)).astype(np.float32)
    p, _, out, _ = _run(lambda q: hk.MultiHeadAttention(
        1, 4, w_init=hk.initializers.VarianceScaling(), with_bias=False)(q, q, q), q)
    pq, pk, pv, po = (p[f"multi_head_attention/{n}"]["w"]
                      for n in ("query", "key", "value", "linear"))
    logits = (q @ pq) @ (q @ pk).T / 2.0
    wts = np.exp(logits - logits.max(-1, keepdims=True))
    wts /= wts.sum(-1, keepdims=True)
    np.testing.assert_allclose(out, (wts @ (q @ pv)) @ po, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- BatchNorm

def test_batch_norm_train_then_eval():
    x = np.random.default_rng(7).standard_normal((8, 3)).astype(np.float32) * 2 + 1
    f = hk.without_apply_rng(hk.transform_with_state(
        lambda x, is_training: hk.BatchNorm(True, True, decay_rate=0.5)(x, is_training)))
    params, state = f.init(None, x, True)
    assert params["batch_norm"]["scale"].shape == (1, 3)
    assert set(state) == {"batch_norm/~/mean_ema", "batch_norm/~/var_ema"}
    # Training: normalised with the batch statistics; the averages move.
    y, state1 = f.apply(params, state, x, True)
    np.testing.assert_allclose(np.asarray(y), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5),
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(state1["batch_norm/~/mean_ema"]["average"])[0],
                               x.mean(0), rtol=1e-5)
    assert int(state1["batch_norm/~/mean_ema"]["counter"]) == 1
    # Evaluation: normalised with the averages, and the state is unchanged.
    x2 = x[:2] * 3
    y2, state2 = f.apply(params, state1, x2, False)
    mean = np.asarray(state1["batch_norm/~/mean_ema"]["average"])
    var = np.asarray(state1["batch_norm/~/var_ema"]["average"])
    np.testing.assert_allclose(np.asarray(y2), (x2 - mean) / np.sqrt(var + 1e-5), rtol=1e-4,
                               atol=1e-4)
    assert tree_util.tree_all(tree_util.tree_map(
        lambda a, b: bool(np.array_equal(a, b)), jax_np(state1), jax_np(state2)))


def test_batch_norm_is_training_must_be_static():
    f = hk.transform_with_state(lambda x, t: hk.BatchNorm(True, True, 0.9)(x, t))
    with pytest.raises(TypeError, match="is_training must be a Python bool"):
        f.init(None, jnp.ones((2, 3)), jnp.asarray(True))


def test_dropout_is_deterministic_per_key():
    f = hk.transform(lambda x: hk.dropout(hk.next_rng_key(), 0.5, x))
    x = jnp.ones((100,))
    params = f.init(jr.PRNGKey(0), x)
    a = np.asarray(f.apply(params, jr.PRNGKey(0), x))
    b = np.asarray(f.apply(params, jr.PRNGKey(0), x))
    c = np.asarray(f.apply(params, jr.PRNGKey(1), x))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert set(np.unique(a)) <= {0.0, 2.0} and 20 < (a == 0).sum() < 80
    with pytest.raises(ValueError, match="no random key was given"):
        f.apply(params, None, x)
    with pytest.raises(ValueError, match="rate must be in"):
        hk.dropout(jr.PRNGKey(0), 1.0, x)
