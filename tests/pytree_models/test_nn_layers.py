"""jumba_pytree_models.nn layers: against Equinox (same key => same initial parameters,
since jumba reproduces JAX's random streams; same outputs) and against NumPy references;
stateful layers, Sequential, Shared, Dropout, inference_mode, and their errors."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

import jumba
import jumba.numpy as jnp
import jumba.random as jr
import jumba_pytree_models as eqx
from jumba_pytree_models import nn

DATA = Path(__file__).resolve().parents[1] / "data"
REF = np.load(DATA / "eqx_reference.npz")
_spec = importlib.util.spec_from_file_location("make_eqx_reference",
                                               DATA / "make_eqx_reference.py")
_gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_gen)
CASES = _gen.CASES


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_matches_equinox(name):
    src, kind, attrs = CASES[name]
    layer = eval(src, {"nn": nn, "key": jr.PRNGKey(0)})  # noqa: S307 (the test's own table)
    for a in attrs:  # initialisation as Equinox's, bit for bit up to float rounding
        np.testing.assert_allclose(np.asarray(_gen.get_attr(layer, a)), REF[f"{name}/{a}"],
                                   rtol=1e-6, atol=1e-7, err_msg=f"{name}.{a}")
    args = _gen.inputs(name, kind, jnp)
    if kind == "dropout":
        y = layer(*args, key=jr.PRNGKey(1))
    else:
        y = layer(*args)
    leaves = jumba.tree_util.tree_leaves(y)
    for i, leaf in enumerate(leaves):
        np.testing.assert_allclose(np.asarray(leaf), REF[f"{name}/y{i}"], rtol=2e-5,
                                   atol=2e-6, err_msg=name)


@pytest.mark.parametrize("mode", ["ema", "batch"])
def test_batchnorm_matches_equinox(mode):
    bn, state = nn.make_with_state(nn.BatchNorm)(3, "batch", mode=mode, momentum=0.9)
    f = jumba.vmap(bn, axis_name="batch", in_axes=(0, None), out_axes=(0, None))
    xs = [np.random.default_rng(s).standard_normal((4, 3, 2)).astype(np.float32)
          for s in (1, 2)]
    for i, x in enumerate(xs):
        y, state = f(jnp.asarray(x), state)
        np.testing.assert_allclose(np.asarray(y), REF[f"batchnorm_{mode}/y{i}"], rtol=1e-5,
                                   atol=1e-5)
    y, state2 = jumba.vmap(nn.inference_mode(bn), axis_name="batch", in_axes=(0, None),
                           out_axes=(0, None))(jnp.asarray(xs[0]), state)
    np.testing.assert_allclose(np.asarray(y), REF[f"batchnorm_{mode}/inference"], rtol=1e-5,
                               atol=1e-5)
    assert eqx.tree_equal(state, state2)  # inference leaves the state alone


def test_spectralnorm_matches_equinox():
    lin = nn.Linear(4, 3, key=jr.PRNGKey(0))
    sn, state = nn.make_with_state(nn.SpectralNorm)(lin, "weight", key=jr.PRNGKey(3))
    x = np.random.default_rng(5).standard_normal(4).astype(np.float32)
    y, state = sn(jnp.asarray(x), state)
    np.testing.assert_allclose(np.asarray(y), REF["spectralnorm/y0"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.abs(np.asarray(state.get(sn.uv_index)[0])),
                               np.abs(REF["spectralnorm/u"]), rtol=1e-5, atol=1e-6)
    # The normalised weight has spectral norm ~1.
    w = np.asarray(lin.weight)
    sigma = np.linalg.svd(w, compute_uv=False)[0]
    np.testing.assert_allclose(np.asarray(y), w @ x / sigma + np.asarray(lin.bias), rtol=1e-3)


# --------------------------------------------------------------------------------------
# NumPy references


def _np_conv2d(x, w, stride, pad):
    x = np.pad(x, ((0, 0), pad[0], pad[1]))
    c_out, c_in, kh, kw = w.shape
    oh = (x.shape[1] - kh) // stride + 1
    ow = (x.shape[2] - kw) // stride + 1
    out = np.zeros((c_out, oh, ow), np.float64)
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, i, j] = np.tensordot(w, patch, axes=([1, 2, 3], [0, 1, 2]))
    return out


def test_linear_and_conv_against_numpy():
    rng = np.random.default_rng(0)
    lin = nn.Linear(4, 3, key=jr.PRNGKey(1))
    x = rng.standard_normal(4).astype(np.float32)
    np.testing.assert_allclose(np.asarray(lin(jnp.asarray(x))),
                               np.asarray(lin.weight) @ x + np.asarray(lin.bias), rtol=1e-5)
    lim = 1 / math.sqrt(4)
    assert np.all(np.abs(np.asarray(lin.weight)) <= lim)
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1, key=jr.PRNGKey(2))
    x = rng.standard_normal((2, 7, 6)).astype(np.float32)
    ref = _np_conv2d(x, np.asarray(conv.weight), 2, ((1, 1), (1, 1))) + np.asarray(conv.bias)
    np.testing.assert_allclose(np.asarray(conv(jnp.asarray(x))), ref, rtol=1e-4, atol=1e-5)


def test_pools_and_norms_against_numpy():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 6)).astype(np.float32)
    y = np.asarray(nn.MaxPool2d(2, stride=2)(jnp.asarray(x)))
    np.testing.assert_allclose(y, x.reshape(2, 2, 2, 3, 2).max(axis=(2, 4)))
    y = np.asarray(nn.AvgPool2d(2, stride=2)(jnp.asarray(x)))
    np.testing.assert_allclose(y, x.reshape(2, 2, 2, 3, 2).mean(axis=(2, 4)), rtol=1e-5)
    y = np.asarray(nn.AdaptiveMaxPool2d((2, 3))(jnp.asarray(x)))
    np.testing.assert_allclose(y, x.reshape(2, 2, 2, 3, 2).max(axis=(2, 4)))
    y = np.asarray(nn.LayerNorm((2, 4, 6))(jnp.asarray(x)))
    np.testing.assert_allclose(y, (x - x.mean()) / np.sqrt(x.var() + 1e-5), rtol=1e-4,
                               atol=1e-5)
    g = x.reshape(2, -1)
    ref = ((g - g.mean(1, keepdims=True)) / np.sqrt(g.var(1, keepdims=True) + 1e-5))
    np.testing.assert_allclose(np.asarray(nn.GroupNorm(2, 2)(jnp.asarray(x))),
                               ref.reshape(x.shape), rtol=1e-4, atol=1e-5)
    v = rng.standard_normal(6).astype(np.float32)
    np.testing.assert_allclose(np.asarray(nn.RMSNorm(6)(jnp.asarray(v))),
                               v / np.sqrt(np.mean(v ** 2) + 1e-5), rtol=1e-5)


def test_lstm_against_numpy():
    cell = nn.LSTMCell(3, 2, key=jr.PRNGKey(0))
    rng = np.random.default_rng(2)
    x, h, c = (rng.standard_normal(n).astype(np.float32) for n in (3, 2, 2))
    wi, wh, b = (np.asarray(a, np.float64) for a in (cell.weight_ih, cell.weight_hh,
                                                     cell.bias))
    i, f, g, o = np.split(wi @ x + wh @ h + b, 4)

    def sig(z):
        return 1 / (1 + np.exp(-z))

    c_ref = sig(f) * c + sig(i) * np.tanh(g)
    h_ref = sig(o) * np.tanh(c_ref)
    h_new, c_new = cell(jnp.asarray(x), (jnp.asarray(h), jnp.asarray(c)))
    np.testing.assert_allclose(np.asarray(h_new), h_ref, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(c_new), c_ref, rtol=1e-5)


# --------------------------------------------------------------------------------------
# Composition, state, modes


def test_mlp_structure_and_grad():
    mlp = nn.MLP(2, "scalar", 8, 2, activation=jnp.tanh, key=jr.PRNGKey(0))
    assert len(mlp.layers) == 3 and mlp.layers[-1].out_features == "scalar"
    assert mlp(jnp.ones(2)).shape == ()
    grads = eqx.filter_grad(lambda m, x: m(x))(mlp, jnp.ones(2))
    assert grads.layers[0].weight.shape == (8, 2)
    assert grads.activation is None  # functions are not differentiated


def test_sequential_threads_state_and_keys():
    key = jr.PRNGKey(0)
    seq, state = nn.make_with_state(nn.Sequential)([
        nn.Linear(3, 4, key=key), nn.BatchNorm(4, "batch"), nn.Lambda(jnp.tanh),
        nn.Dropout(0.5), nn.Linear(4, 2, key=key)])
    assert seq.is_stateful() and len(seq) == 5 and isinstance(seq[1:3], nn.Sequential)
    xs = jnp.ones((6, 3))
    f = eqx.filter_vmap(lambda x, s, k: seq(x, s, key=k), axis_name="batch",
                        in_axes=(0, None, None), out_axes=(0, None))
    ys, state = f(xs, state, jr.PRNGKey(1))
    assert ys.shape == (6, 2)
    infer = nn.inference_mode(seq)
    assert infer.layers[3].inference and infer.layers[1].inference
    ys2, _ = eqx.filter_vmap(lambda x, s: infer(x, s), axis_name="batch",
                             in_axes=(0, None), out_axes=(0, None))(xs, state)
    assert ys2.shape == (6, 2)
    with pytest.raises(ValueError, match="stateful"):
        seq(xs[0])


def test_state_get_set_and_errors():
    bn, state = nn.make_with_state(nn.BatchNorm)(2, "b")
    assert bn.ema_state_index.init is None  # the initial value moved into the state
    mean, var = state.get(bn.ema_state_index)
    new = state.set(bn.ema_state_index, (mean + 1, var))
    assert float(new.get(bn.ema_state_index)[0][0]) == 1.0
    assert float(state.get(bn.ema_state_index)[0][0]) == 0.0  # immutable
    with pytest.raises(ValueError, match="shape"):
        state.set(bn.ema_state_index, (jnp.zeros(3), var))
    with pytest.raises(ValueError, match="make_with_state"):
        nn.State(bn)
    other = nn.make_with_state(nn.BatchNorm)(2, "b")[0]
    with pytest.raises(ValueError, match="does not belong"):
        state.get(other.ema_state_index)
    sub = state.substate(bn.ema_state_index)
    assert len(jumba.tree_util.tree_leaves(sub)) == 2
    assert eqx.tree_equal(state.update(sub), state)


def test_dropout_modes_and_errors():
    d = nn.Dropout(0.5)
    x = jnp.ones(1000)
    y = np.asarray(d(x, key=jr.PRNGKey(0)))
    assert set(np.unique(y)) <= {0.0, 2.0} and 350 < (y == 0).sum() < 650
    assert np.array_equal(np.asarray(d(x, inference=True)), np.asarray(x))
    assert np.array_equal(np.asarray(nn.inference_mode(d)(x)), np.asarray(x))
    with pytest.raises(RuntimeError, match="requires a key"):
        d(x)


def test_shared_ties_weights_and_gradients():
    k1, k2 = jr.split(jr.PRNGKey(0))
    enc, dec = nn.Linear(3, 3, key=k1), nn.Linear(3, 3, key=k2)
    shared = nn.Shared((enc, dec), lambda p: p[1].weight, lambda p: p[0].weight)
    e, d = shared()
    assert np.array_equal(np.asarray(e.weight), np.asarray(d.weight))
    assert len(jumba.tree_util.tree_leaves(shared)) == 3  # one weight, two biases

    def loss(s, x):
        e, d = s()
        return jnp.sum(d(e(x)))

    g = eqx.filter_grad(loss)(shared, jnp.ones(3))
    assert g.pytree[0].weight.shape == (3, 3) and g.pytree[1].weight is None


def test_layer_input_errors_name_the_fix():
    lin = nn.Linear(3, 2, key=jr.PRNGKey(0))
    with pytest.raises(ValueError, match="vmap"):
        lin(jnp.ones((5, 3)))
    with pytest.raises(ValueError, match="channel-first"):
        nn.Conv2d(1, 1, 2, key=jr.PRNGKey(0))(jnp.ones((4, 4)))
    with pytest.raises(ValueError, match="divisible"):
        nn.Conv2d(3, 4, 2, groups=2, key=jr.PRNGKey(0))
    with pytest.raises(ValueError, match="output_padding"):
        nn.ConvTranspose1d(1, 1, 3, stride=2, output_padding=2, key=jr.PRNGKey(0))
    with pytest.raises(ValueError, match="even"):
        nn.RotaryPositionalEmbedding(5)
    with pytest.raises(ValueError, match="mask"):
        mha = nn.MultiheadAttention(2, 4, key=jr.PRNGKey(0))
        mha(jnp.ones((2, 4)), jnp.ones((3, 4)), jnp.ones((3, 4)), mask=jnp.ones((3, 3), bool))


def test_layers_under_filter_jit_and_vmap():
    conv = nn.Conv2d(2, 3, 3, padding="SAME", key=jr.PRNGKey(0))
    xs = jr.normal(jr.PRNGKey(1), (4, 2, 5, 5))
    ys = eqx.filter_jit(eqx.filter_vmap(lambda m, x: m(x), in_axes=(None, 0)))(conv, xs)
    for i in range(4):
        np.testing.assert_allclose(np.asarray(ys[i]), np.asarray(conv(xs[i])), rtol=1e-5,
                                   atol=1e-6)
    gru = nn.GRUCell(2, 3, key=jr.PRNGKey(0))

    def run(cell, seq):
        return jumba.lax.scan(lambda h, x: (cell(x, h), None), jnp.zeros(3), seq)[0]

    seq = jr.normal(jr.PRNGKey(2), (5, 2))
    h_loop = jnp.zeros(3)
    for t in range(5):
        h_loop = gru(seq[t], h_loop)
    np.testing.assert_allclose(np.asarray(eqx.filter_jit(run)(gru, seq)), np.asarray(h_loop),
                               rtol=1e-5, atol=1e-6)


def test_weightnorm_and_embedding():
    lin = nn.Linear(3, 2, key=jr.PRNGKey(0))
    wn = nn.WeightNorm(lin)
    x = jnp.ones(3)
    np.testing.assert_allclose(np.asarray(wn(x)), np.asarray(lin(x)), rtol=1e-5)
    emb = nn.Embedding(weight=jnp.arange(6.0).reshape(3, 2))
    assert emb(2).tolist() == [4.0, 5.0] and emb.num_embeddings == 3
    with pytest.raises(ValueError, match="scalar index"):
        emb(jnp.array([0, 1]))
