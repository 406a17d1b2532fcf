"""BatchNorm in training and evaluation (batch_stats through mutable=) and dropout's rngs."""

import numpy as np
import pytest

import jumba
import jumba.numpy as jnp
import jumba.random as jr
import jumba_nn as nn


class Net(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(4)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        return nn.Dropout(0.5, deterministic=not train)(x)


def test_batchnorm_train_updates_stats_and_eval_uses_them():
    x = jr.normal(jr.key(0), (16, 3)) * 2 + 1
    model = nn.BatchNorm(momentum=0.9)
    v = model.init(jr.key(1), x, use_running_average=False)
    np.testing.assert_array_equal(v["batch_stats"]["mean"], 0.0)   # init does not update
    np.testing.assert_array_equal(v["batch_stats"]["var"], 1.0)
    y, upd = model.apply(v, x, use_running_average=False, mutable=["batch_stats"])
    xs = np.asarray(x, np.float64)
    np.testing.assert_allclose(y, (xs - xs.mean(0)) / np.sqrt(xs.var(0) + 1e-5), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(upd["batch_stats"]["mean"], 0.1 * xs.mean(0), rtol=1e-5)
    np.testing.assert_allclose(upd["batch_stats"]["var"], 0.9 + 0.1 * xs.var(0), rtol=1e-5)
    v = {"params": v["params"], "batch_stats": upd["batch_stats"]}
    y_eval = model.apply(v, x, use_running_average=True)
    mean, var = (np.asarray(upd["batch_stats"][k]) for k in ("mean", "var"))
    np.testing.assert_allclose(y_eval, (xs - mean) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-5)


def test_forgetting_mutable_is_a_clear_error():
    model = nn.BatchNorm(use_running_average=False)
    v = model.init(jr.key(0), jnp.ones((4, 2)))
    with pytest.raises(nn.ModifyScopeVariableError, match='mutable=\\["batch_stats"\\]'):
        model.apply(v, jnp.ones((4, 2)))
    with pytest.raises(ValueError, match="use_running_average"):
        nn.BatchNorm().init(jr.key(0), jnp.ones((4, 2)))


def test_training_loop_with_batch_stats_under_jit():
    model = Net()
    x = jr.normal(jr.key(0), (8, 3))
    v = model.init(jr.key(1), x, train=False)
    assert set(v) == {"params", "batch_stats"}

    @jumba.jit
    def step(params, stats, x, key):
        def loss(p):
            y, upd = model.apply({"params": p, "batch_stats": stats}, x, train=True,
                                 rngs={"dropout": key}, mutable=["batch_stats"])
            return jnp.mean(y ** 2), upd["batch_stats"]

        (l, new_stats), g = jumba.value_and_grad(loss, has_aux=True)(params)
        params = jumba.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, g)
        return params, new_stats, l

    params, stats = v["params"], v["batch_stats"]
    for i in range(3):
        params, stats, _ = step(params, stats, x, jr.key(i))
    assert not np.allclose(stats["BatchNorm_0"]["mean"], 0.0)
    y = model.apply({"params": params, "batch_stats": stats}, x, train=False)
    assert y.shape == (8, 4)


def test_batchnorm_over_several_axes():
    x = jr.normal(jr.key(0), (4, 5, 3))
    v = nn.BatchNorm(use_running_average=False, axis=(-2, -1)).init(jr.key(0), x)
    assert v["batch_stats"]["mean"].shape == (5, 3) and v["params"]["scale"].shape == (5, 3)


def test_dropout_is_deterministic_per_rng():
    x = jnp.ones((1000,))
    drop = nn.Dropout(0.3)
    a = drop.apply({}, x, deterministic=False, rngs={"dropout": jr.key(1)})
    b = drop.apply({}, x, deterministic=False, rngs={"dropout": jr.key(1)})
    c = drop.apply({}, x, deterministic=False, rngs={"dropout": jr.key(2)})
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    kept = np.asarray(a) != 0
    assert 0.6 < kept.mean() < 0.8
    np.testing.assert_allclose(np.asarray(a)[kept], 1 / 0.7, rtol=1e-6)
    np.testing.assert_array_equal(drop.apply({}, x, deterministic=True), x)


def test_dropout_broadcast_dims_rate_edges_and_rng_fallback():
    x = jnp.ones((4, 6))
    y = nn.Dropout(0.5, broadcast_dims=(0,)).apply({}, x, deterministic=False,
                                                   rngs={"dropout": jr.key(0)})
    assert np.all(np.asarray(y) == np.asarray(y)[:1])          # one mask shared along axis 0
    np.testing.assert_array_equal(nn.Dropout(1.0).apply({}, x, deterministic=False), 0.0)
    np.testing.assert_array_equal(nn.Dropout(0.0).apply({}, x, deterministic=False), x)
    # As in Flax, the "params" stream stands in when "dropout" is absent.
    z = nn.Dropout(0.5).apply({}, x, deterministic=False, rngs={"params": jr.key(0)})
    assert z.shape == x.shape
    with pytest.raises(nn.InvalidRngError, match="dropout"):
        nn.Dropout(0.5).apply({}, x, deterministic=False)


def test_dropout_mask_differs_between_layers_and_calls():
    class Two(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dropout(0.5)(x, False), nn.Dropout(0.5)(x, False)

    a, b = Two().apply({}, jnp.ones(64), rngs={"dropout": jr.key(0)})
    assert not np.array_equal(a, b)


def test_unsupported_norm_options_raise():
    x = jnp.ones((4, 3))
    with pytest.raises(NotImplementedError, match="axis_name"):
        nn.BatchNorm(use_running_average=False, axis_name="batch").init(jr.key(0), x)
    with pytest.raises(NotImplementedError, match="mask"):
        nn.LayerNorm().init(jr.key(0), x, mask=jnp.ones((4, 3), bool))
