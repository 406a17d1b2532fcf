"""Every linen layer against a NumPy reference, with its parameter shapes and initialisers,
gradient checks through it (parameters and inputs), jit == eager and vmap == a loop."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import jumba
import jumba.numpy as jnp
import jumba.random as jr
import jumba_nn as nn
from jumba.test_util import check_grads
from jumba.tree_util import tree_map
from tests.nn import _np_ref as ref

R = np.random.RandomState(0)


def normal(*shape):
    return R.normal(size=shape).astype(np.float32)


@dataclass
class LayerSpec:
    name: str
    make: Callable
    inputs: tuple
    reference: Callable | None            # (params as float64 numpy, *inputs) -> output
    param_shapes: dict
    kwargs: dict = field(default_factory=dict)
    grad: bool = True
    vmap: bool = True                      # vmap over a leading axis added to every input
    extra: Any = None


def _dense(p, x):
    return x @ p["kernel"] + p["bias"]


def _lstm(p, carry, x):
    c, h = carry
    g = {k: x @ p["i" + k]["kernel"] + h @ p["h" + k]["kernel"] + p["h" + k]["bias"]
         for k in "ifgo"}
    c2 = ref.sigmoid(g["f"]) * c + ref.sigmoid(g["i"]) * np.tanh(g["g"])
    h2 = ref.sigmoid(g["o"]) * np.tanh(c2)
    return (c2, h2), h2


def _gru(p, h, x):
    def lin(n, v):
        return v @ p[n]["kernel"] + p[n].get("bias", 0.0)

    r = ref.sigmoid(lin("ir", x) + lin("hr", h))
    z = ref.sigmoid(lin("iz", x) + lin("hz", h))
    n = np.tanh(lin("in", x) + r * lin("hn", h))
    h2 = (1 - z) * n + z * h
    return h2, h2


def _simple(p, h, x):
    h2 = np.tanh(x @ p["i"]["kernel"] + p["i"]["bias"] + h @ p["h"]["kernel"])
    return h2, h2


def _mha(p, x, mask=None):
    def proj(n, v):
        return np.einsum("bld,dhk->blhk", v, p[n]["kernel"]) + p[n]["bias"]

    o = ref.attention(proj("query", x), proj("key", x), proj("value", x), mask)
    return np.einsum("blhk,hko->blo", o, p["out"]["kernel"]) + p["out"]["bias"]


def _ln_params(n):
    return {"scale": (n,), "bias": (n,)}


CAUSAL = np.tril(np.ones((5, 5), bool))[None, None]

SPECS = [
    LayerSpec("Dense", lambda: nn.Dense(3), (normal(2, 4),), _dense,
              {"kernel": (4, 3), "bias": (3,)}),
    LayerSpec("Dense_no_bias_3d", lambda: nn.Dense(2, use_bias=False), (normal(2, 3, 4),),
              lambda p, x: x @ p["kernel"], {"kernel": (4, 2)}),
    LayerSpec("DenseGeneral", lambda: nn.DenseGeneral((2, 3), axis=(-2, -1)),
              (normal(2, 4, 5),),
              lambda p, x: np.einsum("bij,ijkl->bkl", x, p["kernel"]) + p["bias"],
              {"kernel": (4, 5, 2, 3), "bias": (2, 3)}),
    LayerSpec("DenseGeneral_batch_dims", lambda: nn.DenseGeneral(3, axis=-1, batch_dims=(0,)),
              (normal(2, 4, 5),),
              lambda p, x: np.einsum("bij,bjk->bik", x, p["kernel"]) + p["bias"][:, None],
              {"kernel": (2, 5, 3), "bias": (2, 3)}, vmap=False),
    LayerSpec("Einsum", lambda: nn.Einsum((5, 3, 2), "abc,cde->abde"), (normal(2, 4, 5),),
              lambda p, x: np.einsum("abc,cde->abde", x, p["kernel"]) + p["bias"],
              {"kernel": (5, 3, 2), "bias": (3, 2)}, vmap=False),
    LayerSpec("Conv_same", lambda: nn.Conv(4, (3, 3)), (normal(2, 5, 5, 3),),
              lambda p, x: ref.conv(x, p["kernel"], (1, 1), "SAME") + p["bias"],
              {"kernel": (3, 3, 3, 4), "bias": (4,)}),
    LayerSpec("Conv_strided_dilated_groups",
              lambda: nn.Conv(4, (2, 3), strides=(2, 1), padding="VALID", kernel_dilation=(2, 1),
                              feature_group_count=2),
              (normal(2, 7, 5, 4),),
              lambda p, x: ref.conv(x, p["kernel"], (2, 1), "VALID", (2, 1), 2) + p["bias"],
              {"kernel": (2, 3, 2, 4), "bias": (4,)}),
    LayerSpec("Conv_1d_explicit_padding", lambda: nn.Conv(2, 3, padding=[(2, 0)]),
              (normal(2, 6, 3),),
              lambda p, x: ref.conv(x, p["kernel"], (1,), [(2, 0)]) + p["bias"],
              {"kernel": (3, 3, 2), "bias": (2,)}),
    LayerSpec("Conv_3d", lambda: nn.Conv(2, (2, 2, 2), strides=2), (normal(1, 4, 4, 4, 2),),
              lambda p, x: ref.conv(x, p["kernel"], (2, 2, 2), "SAME") + p["bias"],
              {"kernel": (2, 2, 2, 2, 2), "bias": (2,)}, grad=False),
    LayerSpec("Conv_circular", lambda: nn.Conv(2, (3,), padding="CIRCULAR"), (normal(2, 5, 2),),
              lambda p, x: ref.conv(np.concatenate([x[:, -1:], x, x[:, :1]], 1), p["kernel"],
                                    (1,), "VALID") + p["bias"],
              {"kernel": (3, 2, 2), "bias": (2,)}),
    LayerSpec("ConvTranspose", lambda: nn.ConvTranspose(3, (3, 3), strides=(2, 2)),
              (normal(2, 3, 3, 2),), None, {"kernel": (3, 3, 2, 3), "bias": (3,)}),
    LayerSpec("ConvLocal", lambda: nn.ConvLocal(3, (3, 3), padding="VALID"),
              (normal(2, 5, 4, 2),),
              lambda p, x: np.einsum("nhwi,hwio->nhwo", ref.patches(x, (3, 3), (1, 1), "VALID"),
                                     p["kernel"]) + p["bias"],
              {"kernel": (3, 2, 18, 3), "bias": (3, 2, 3)}),
    LayerSpec("Embed", lambda: nn.Embed(7, 4), (R.randint(0, 7, (2, 3)).astype(np.int32),),
              lambda p, i: p["embedding"][i], {"embedding": (7, 4)}, grad=False),
    LayerSpec("LayerNorm", lambda: nn.LayerNorm(), (normal(2, 3, 5) * 3 + 1,),
              lambda p, x: ref.normalize(x, -1, 1e-6, p["scale"], p["bias"]), _ln_params(5)),
    LayerSpec("LayerNorm_two_axes", lambda: nn.LayerNorm(reduction_axes=(1, 2),
                                                         feature_axes=(1, 2)),
              (normal(2, 3, 4),),
              lambda p, x: ref.normalize(x, (1, 2), 1e-6, p["scale"], p["bias"]),
              {"scale": (3, 4), "bias": (3, 4)}),
    LayerSpec("RMSNorm", lambda: nn.RMSNorm(), (normal(2, 5),),
              lambda p, x: x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6) * p["scale"],
              {"scale": (5,)}),
    LayerSpec("GroupNorm", lambda: nn.GroupNorm(num_groups=2), (normal(2, 3, 3, 4) + 1,),
              lambda p, x: ref.normalize(x.reshape(2, 3, 3, 2, 2), (1, 2, 4), 1e-6)
              .reshape(x.shape) * p["scale"] + p["bias"], _ln_params(4), vmap=False),
    LayerSpec("GroupNorm_group_size", lambda: nn.GroupNorm(num_groups=None, group_size=1),
              (normal(2, 3, 2),),
              lambda p, x: ref.normalize(x, (1,), 1e-6, p["scale"], p["bias"]), _ln_params(2),
              vmap=False),
    LayerSpec("InstanceNorm", lambda: nn.InstanceNorm(), (normal(2, 3, 3, 2) * 2,),
              lambda p, x: ref.normalize(x, (1, 2), 1e-6, p["scale"], p["bias"]),
              _ln_params(2), vmap=False),
    LayerSpec("BatchNorm_eval", lambda: nn.BatchNorm(use_running_average=True),
              (normal(4, 3),),
              lambda p, x: x / np.sqrt(1 + 1e-5) * p["scale"] + p["bias"], _ln_params(3)),
    LayerSpec("PReLU", lambda: nn.PReLU(), (normal(3, 4),),
              lambda p, x: np.where(x >= 0, x, p["negative_slope"] * x), {"negative_slope": ()}),
    LayerSpec("SelfAttention_causal", lambda: nn.SelfAttention(num_heads=2, qkv_features=4),
              (normal(2, 5, 3),), lambda p, x, mask: _mha(p, x, mask),
              {n: {"kernel": (3, 2, 2), "bias": (2, 2)} for n in ("query", "key", "value")}
              | {"out": {"kernel": (2, 2, 3), "bias": (3,)}},
              kwargs={"mask": CAUSAL}, vmap=False),
    LayerSpec("LSTMCell", lambda: nn.LSTMCell(3), ((normal(2, 3), normal(2, 3)), normal(2, 4)),
              _lstm, {**{"i" + g: {"kernel": (4, 3)} for g in "ifgo"},
                      **{"h" + g: {"kernel": (3, 3), "bias": (3,)} for g in "ifgo"}}),
    LayerSpec("GRUCell", lambda: nn.GRUCell(3), (normal(2, 3), normal(2, 4)), _gru,
              {"ir": {"kernel": (4, 3), "bias": (3,)}, "iz": {"kernel": (4, 3), "bias": (3,)},
               "in": {"kernel": (4, 3), "bias": (3,)}, "hr": {"kernel": (3, 3)},
               "hz": {"kernel": (3, 3)}, "hn": {"kernel": (3, 3), "bias": (3,)}}),
    LayerSpec("SimpleCell", lambda: nn.SimpleCell(3), (normal(2, 3), normal(2, 4)), _simple,
              {"i": {"kernel": (4, 3), "bias": (3,)}, "h": {"kernel": (3, 3)}}),
]
IDS = [s.name for s in SPECS]


def _np(tree):
    return tree_map(lambda a: np.asarray(a, np.float64), tree)


def _params_and_apply(spec):
    model = spec.make()
    variables = model.init(jr.key(1), *spec.inputs, **spec.kwargs)
    return model, variables


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_output_and_param_shapes_match_numpy(spec):
    model, variables = _params_and_apply(spec)
    shapes = tree_map(lambda a: tuple(np.shape(a)), variables["params"])
    assert shapes == spec.param_shapes
    out = model.apply(variables, *spec.inputs, **spec.kwargs)
    if spec.reference is not None:
        inputs = tuple(tree_map(lambda a: np.asarray(a, np.float64) if a.dtype.kind == "f"
                                else a, spec.inputs))
        want = spec.reference(_np(variables["params"]), *inputs, **spec.kwargs)
        tree_map(lambda a, b: np.testing.assert_allclose(np.asarray(a), b, rtol=2e-4,
                                                         atol=2e-5), out, want)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.grad], ids=[s.name for s in SPECS
                                                                   if s.grad])
def test_gradients_through_layer(spec):
    model, variables = _params_and_apply(spec)
    with jumba.enable_x64():
        params = tree_map(lambda a: jnp.asarray(a, jnp.float64), variables["params"])
        rest = {k: v for k, v in variables.items() if k != "params"}
        inputs = tree_map(lambda a: jnp.asarray(a, jnp.float64), spec.inputs)

        def f(p, xs):
            return model.apply({"params": p, **rest}, *xs, **spec.kwargs)

        check_grads(f, (params, inputs), order=1, modes=("fwd", "rev"), atol=1e-4, rtol=1e-4,
                    eps=1e-5)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_jit_equals_eager_and_vmap_equals_loop(spec):
    model, variables = _params_and_apply(spec)
    eager = model.apply(variables, *spec.inputs, **spec.kwargs)
    jitted = jumba.jit(lambda v, *xs: model.apply(v, *xs, **spec.kwargs))(variables,
                                                                           *spec.inputs)
    tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), jitted, eager)
    if not spec.vmap:
        return
    stacked = tree_map(lambda a: np.stack([a, a[::-1] if a.ndim else a]), spec.inputs)
    batched = jumba.vmap(lambda *xs: model.apply(variables, *xs, **spec.kwargs))(*stacked)
    for i in range(2):
        single = model.apply(variables, *tree_map(lambda a, i=i: a[i], stacked), **spec.kwargs)
        tree_map(lambda a, b, i=i: np.testing.assert_allclose(a[i], b, rtol=1e-5, atol=1e-5),
                 batched, single)


def test_initializers_follow_flax_defaults():
    v = nn.Dense(200).init(jr.key(0), jnp.ones((1, 300)))["params"]
    assert np.all(np.asarray(v["bias"]) == 0)
    # lecun_normal: variance 1 / fan_in (truncated normal rescaled to that variance).
    assert abs(np.std(np.asarray(v["kernel"])) * np.sqrt(300) - 1) < 0.05
    e = nn.Embed(300, 200).init(jr.key(0), jnp.ones((1,), jnp.int32))["params"]["embedding"]
    # variance_scaling(1, fan_in, normal, out_axis=0): variance 1 / features.
    assert abs(np.std(np.asarray(e)) * np.sqrt(200) - 1) < 0.05
    ln = nn.LayerNorm().init(jr.key(0), jnp.ones((1, 3)))["params"]
    np.testing.assert_array_equal(ln["scale"], 1.0)
    np.testing.assert_array_equal(ln["bias"], 0.0)
    cell = nn.LSTMCell(8).init(jr.key(0), nn.LSTMCell(8).initialize_carry(jr.key(0), (1, 4)),
                               jnp.ones((1, 4)))["params"]
    w = np.asarray(cell["hi"]["kernel"])          # orthogonal recurrent kernels
    np.testing.assert_allclose(w @ w.T, np.eye(8), atol=1e-5)
    # Custom initialisers and dtypes are honoured.
    v = nn.Dense(2, kernel_init=nn.initializers.ones, param_dtype=jnp.float32).init(
        jr.key(0), jnp.ones((1, 3)))["params"]
    np.testing.assert_array_equal(v["kernel"], 1.0)


def test_conv_kernel_layout_and_errors():
    v = nn.Conv(6, (3, 3), feature_group_count=2).init(jr.key(0), jnp.ones((1, 5, 5, 4)))
    assert v["params"]["kernel"].shape == (3, 3, 2, 6)
    with pytest.raises(ValueError, match="divisible by feature_group_count"):
        nn.Conv(6, (3, 3), feature_group_count=3).init(jr.key(0), jnp.ones((1, 5, 5, 4)))
    with pytest.raises(ValueError, match="CAUSAL"):
        nn.Conv(2, (3, 3), padding="CAUSAL").init(jr.key(0), jnp.ones((1, 5, 5, 1)))
    with pytest.raises(ValueError, match="padding"):
        nn.Conv(2, (3,), padding="FULL").init(jr.key(0), jnp.ones((1, 5, 1)))


def test_embed_attend_and_integer_check():
    model = nn.Embed(5, 3)
    v = model.init(jr.key(0), jnp.array([1, 2]))
    q = jr.normal(jr.key(1), (2, 3))
    np.testing.assert_allclose(model.apply(v, q, method=model.attend),
                               np.asarray(q) @ np.asarray(v["params"]["embedding"]).T,
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="integer"):
        model.apply(v, jnp.ones((2,)))


def test_attention_masks_and_decode_cache():
    x = jr.normal(jr.key(0), (1, 4, 6))
    model = nn.SelfAttention(num_heads=2)
    v = model.init(jr.key(1), x)
    mask = nn.make_causal_mask(jnp.ones((1, 4)))
    full = model.apply(v, x, mask=mask)
    # Position 0 sees only itself: changing later tokens leaves it unchanged.
    x2 = x.at[:, 1:].set(0.0)
    np.testing.assert_allclose(model.apply(v, x2, mask=mask)[:, 0], full[:, 0], rtol=1e-5)
    decoder = nn.SelfAttention(num_heads=2, decode=True)
    cache = decoder.init(jr.key(1), x)["cache"]
    steps = []
    for t in range(4):
        y, upd = decoder.apply({"params": v["params"], "cache": cache}, x[:, t:t + 1],
                               mutable=["cache"])
        cache = upd["cache"]
        steps.append(y)
    np.testing.assert_allclose(jnp.concatenate(steps, axis=1), full, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="divisible by num_heads"):
        nn.SelfAttention(num_heads=4).init(jr.key(0), x)


def test_attention_dropout_needs_and_uses_rng():
    x = jr.normal(jr.key(0), (2, 4, 8))
    model = nn.SelfAttention(num_heads=2, dropout_rate=0.5)
    v = model.init(jr.key(1), x, deterministic=True)
    a = model.apply(v, x, deterministic=False, rngs={"dropout": jr.key(2)})
    b = model.apply(v, x, deterministic=False, rngs={"dropout": jr.key(2)})
    c = model.apply(v, x, deterministic=True)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_spectral_and_weight_norm():
    x = jr.normal(jr.key(0), (3, 4))
    sn = nn.SpectralNorm(nn.Dense(5), n_steps=20)
    v = sn.init(jr.key(1), x, update_stats=True)
    _, upd = sn.apply(v, x, update_stats=True, mutable=["batch_stats"])
    sigma = float(upd["batch_stats"]["layer_instance/kernel/sigma"])
    w = np.asarray(v["params"]["layer_instance"]["kernel"])
    np.testing.assert_allclose(sigma, np.linalg.svd(w, compute_uv=False)[0], rtol=1e-3)
    wn = nn.WeightNorm(nn.Dense(5))
    v = wn.init(jr.key(1), x)
    p = v["params"]
    k = np.asarray(p["layer_instance"]["kernel"])
    want = (np.asarray(x) @ (k / np.linalg.norm(k, axis=0)) * np.asarray(
        p["layer_instance/kernel/scale"]) + np.asarray(p["layer_instance"]["bias"]))
    np.testing.assert_allclose(wn.apply(v, x), want, rtol=1e-4, atol=1e-5)
