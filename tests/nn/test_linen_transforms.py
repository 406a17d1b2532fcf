"""Lifted transformations (jit, vmap, scan, remat, map_variables, cond, ...) and RNNs."""

import numpy as np
import pytest

import jumba
import jumba.numpy as jnp
import jumba.random as jr
import jumba_nn as nn
from jumba.tree_util import tree_map

KEY = jr.key(0)


def shapes(tree):
    return tree_map(lambda x: tuple(np.shape(x)), tree)


class Block(nn.Module):
    features: int = 4

    @nn.compact
    def __call__(self, c, x):
        c = nn.tanh(nn.Dense(self.features)(c) + x)
        return c, c.sum(-1)


def test_lifted_class_names_follow_flax():
    class Outer(nn.Module):
        @nn.compact
        def __call__(self, x):
            a = nn.jit(nn.Dense)(3)(x)
            b = nn.remat(nn.Dense)(3)(x)
            c = nn.vmap(nn.Dense, variable_axes={"params": 0},
                        split_rngs={"params": True})(3)(x)
            return a + b + c

    v = Outer().init(KEY, jnp.ones((2, 4)))
    assert shapes(v) == {"params": {"JitDense_0": {"kernel": (4, 3), "bias": (3,)},
                                    "CheckpointDense_0": {"kernel": (4, 3), "bias": (3,)},
                                    "VmapDense_0": {"kernel": (2, 4, 3), "bias": (2, 3)}}}


def test_jit_lift_matches_plain_module():
    x = jr.normal(KEY, (3, 4))
    v = nn.Dense(2).init(KEY, x)
    np.testing.assert_allclose(nn.jit(nn.Dense)(2).apply(v, x), nn.Dense(2).apply(v, x),
                               rtol=1e-6)


def test_vmap_lift_with_split_and_shared_params():
    x = jr.normal(KEY, (5, 2, 3))
    separate = nn.vmap(nn.Dense, variable_axes={"params": 0}, split_rngs={"params": True})(4)
    v = separate.init(KEY, x)
    k = np.asarray(v["params"]["kernel"])
    assert k.shape == (5, 3, 4) and not np.allclose(k[0], k[1])
    out = separate.apply(v, x)
    for i in range(5):
        np.testing.assert_allclose(out[i], np.asarray(x[i]) @ k[i], rtol=1e-5, atol=1e-5)
    shared = nn.vmap(nn.Dense, variable_axes={"params": None}, split_rngs={"params": False})(4)
    v = shared.init(KEY, x)
    assert v["params"]["kernel"].shape == (3, 4)
    np.testing.assert_allclose(shared.apply(v, x), np.asarray(x) @ np.asarray(
        v["params"]["kernel"]), rtol=1e-5, atol=1e-5)


def test_scan_lift_stacks_parameters_and_loops():
    class Stack(nn.Module):
        @nn.compact
        def __call__(self, c):
            layers = nn.scan(Block, variable_axes={"params": 0}, split_rngs={"params": True},
                             length=3, in_axes=nn.broadcast)
            return layers()(c, jnp.zeros(4))

    c0 = jr.normal(KEY, (2, 4))
    v = Stack().init(KEY, c0)
    p = v["params"]["ScanBlock_0"]["Dense_0"]
    assert p["kernel"].shape == (3, 4, 4)
    c, ys = Stack().apply(v, c0)
    want = np.asarray(c0, np.float64)
    for i in range(3):
        want = np.tanh(want @ np.asarray(p["kernel"][i]) + np.asarray(p["bias"][i]))
        np.testing.assert_allclose(ys[i], want.sum(-1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(c, want, rtol=1e-4, atol=1e-5)


def test_scan_with_broadcast_params_over_a_sequence():
    scanned = nn.scan(Block, variable_broadcast="params", split_rngs={"params": False},
                      in_axes=1, out_axes=1)
    c0 = jnp.zeros((2, 4))
    xs = jr.normal(KEY, (2, 6, 4))
    v = scanned().init(KEY, c0, xs)
    assert v["params"]["Dense_0"]["kernel"].shape == (4, 4)
    c, ys = scanned().apply(v, c0, xs)
    assert ys.shape == (2, 6)
    cc = c0
    for t in range(6):
        cc, y = Block().apply(v, cc, xs[:, t])
        np.testing.assert_allclose(ys[:, t], y, rtol=1e-5, atol=1e-6)


def test_remat_gradients_equal_plain_gradients():
    x = jr.normal(KEY, (3, 4))
    v = nn.Dense(2).init(KEY, x)
    g1 = jumba.grad(lambda p: jnp.sum(nn.remat(nn.Dense)(2).apply({"params": p}, x) ** 2))(
        v["params"])
    g2 = jumba.grad(lambda p: jnp.sum(nn.Dense(2).apply({"params": p}, x) ** 2))(v["params"])
    tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5), g1, g2)


def test_remat_scan_shapes():
    v = nn.remat_scan(nn.Dense, lengths=(2, 3))(4).init(KEY, jnp.ones((2, 4)))
    assert shapes(v) == {"params": {"kernel": (2, 3, 4, 4), "bias": (2, 3, 4)}}


def test_map_variables_transforms_params_seen_by_the_module():
    class Tied(nn.Module):
        @nn.compact
        def __call__(self, x):
            double = nn.map_variables(nn.Dense, "params",
                                      lambda p: tree_map(lambda a: 2 * a, p))
            return double(2)(x)

    x = jnp.ones((1, 3))
    v = Tied().init(KEY, x)
    p = v["params"]["MapVariablesDense_0"]
    want = np.asarray(x) @ (2 * np.asarray(p["kernel"])) + 2 * np.asarray(p["bias"])
    np.testing.assert_allclose(Tied().apply(v, x), want, rtol=1e-5)


def test_cond_and_lifted_grad():
    class Branch(nn.Module):
        @nn.compact
        def __call__(self, x, flag):
            dense = nn.Dense(2)
            return nn.cond(flag, lambda m, x: m(x), lambda m, x: -m(x), dense, x)

    x = jnp.ones((1, 3))
    v = Branch().init(KEY, x, True)
    np.testing.assert_allclose(Branch().apply(v, x, True), -Branch().apply(v, x, False),
                               rtol=1e-6)

    class Grad(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.grad(lambda m, x: jnp.sum(m(x)), nn.Dense(2), x)

    v = Grad().init(KEY, jnp.ones(3))
    k = np.asarray(v["params"]["Dense_0"]["kernel"])
    np.testing.assert_allclose(Grad().apply(v, jnp.ones(3)), k.sum(1), rtol=1e-5)


def test_rnn_carry_seq_lengths_time_major_and_bidirectional():
    cell = nn.GRUCell(3)
    x = jr.normal(KEY, (2, 5, 4))
    rnn = nn.RNN(cell, return_carry=True)
    v = rnn.init(KEY, x)
    carry, ys = rnn.apply(v, x, seq_lengths=jnp.array([2, 5]))
    h = jnp.zeros((2, 3))
    steps = []
    for t in range(5):
        h, y = cell.apply({"params": v["params"]["cell"]}, h, x[:, t])
        steps.append(h)
    np.testing.assert_allclose(ys, jnp.stack(steps, 1), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(carry[0], steps[1][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(carry[1], steps[4][1], rtol=1e-5, atol=1e-6)
    tm = nn.RNN(cell, time_major=True).apply(v, jnp.swapaxes(x, 0, 1))
    np.testing.assert_allclose(jnp.swapaxes(tm, 0, 1), ys, rtol=1e-5, atol=1e-6)
    bi = nn.Bidirectional(nn.RNN(nn.LSTMCell(3)), nn.RNN(nn.LSTMCell(3)))
    vb = bi.init(KEY, x)
    assert bi.apply(vb, x).shape == (2, 5, 6)
    assert set(vb["params"]) == {"forward_rnn", "backward_rnn"}


def test_rnn_gradients_and_jit():
    x = jr.normal(KEY, (2, 4, 3))
    rnn = nn.RNN(nn.LSTMCell(2))
    v = rnn.init(KEY, x)
    loss = lambda p: jnp.sum(rnn.apply({"params": p}, x) ** 2)
    g = jumba.jit(jumba.grad(loss))(v["params"])
    eps = 1e-3
    k = v["params"]["cell"]["hi"]["kernel"]
    bumped = tree_map(lambda a: a, v["params"])
    bumped["cell"]["hi"]["kernel"] = k.at[0, 0].add(eps)
    fd = (loss(bumped) - loss(v["params"])) / eps
    np.testing.assert_allclose(g["cell"]["hi"]["kernel"][0, 0], fd, rtol=5e-2, atol=1e-3)


def test_unbound_lift_error():
    with pytest.raises(RuntimeError, match="bound"):
        nn.jit(lambda m, x: m(x))(nn.Dense(2), jnp.ones((1, 2)))
