"""Serialisation: round trips of variables and optimizer states, and mismatch errors."""

from typing import NamedTuple

import numpy as np
import pytest

import jumba.numpy as jnp
import jumba.random as jr
import jumba_nn as nn
from jumba.tree_util import tree_leaves, tree_map, tree_structure
from jumba_nn import serialization


class Model(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.BatchNorm(use_running_average=True)(nn.Dense(3)(x))


class OptState(NamedTuple):
    count: object
    mu: object
    extra: object = None


def test_round_trip_of_variables():
    v = Model().init(jr.key(0), jnp.ones((2, 4)))
    data = serialization.to_bytes(v)
    assert isinstance(data, bytes) and data[:2] == b"PK"        # a zip (npz), not a pickle
    template = tree_map(jnp.zeros_like, v)
    restored = serialization.from_bytes(template, data)
    assert tree_structure(restored) == tree_structure(v)
    for a, b in zip(tree_leaves(restored), tree_leaves(v)):
        np.testing.assert_array_equal(a, b)
    x = jr.normal(jr.key(1), (2, 4))
    np.testing.assert_array_equal(Model().apply(restored, x), Model().apply(v, x))


def test_round_trip_of_mixed_containers():
    state = {"opt": OptState(jnp.array(3, jnp.int32), [jnp.ones(2), (jnp.zeros((1, 2)),)]),
             "step": 7, "frozen": nn.FrozenDict({"a/b": jnp.arange(3.0)}), "empty": {}}
    restored = serialization.from_bytes(state, serialization.to_bytes(state))
    assert isinstance(restored["opt"], OptState) and restored["opt"].extra is None
    assert restored["step"] == 7 and isinstance(restored["step"], int)
    assert isinstance(restored["frozen"], nn.FrozenDict)
    np.testing.assert_array_equal(restored["frozen"]["a/b"], [0, 1, 2])
    assert isinstance(restored["opt"].mu[1], tuple) and restored["empty"] == {}
    sd = serialization.to_state_dict(state)
    assert set(sd["opt"]) == {"count", "mu", "extra"} and set(sd["opt"]["mu"]) == {"0", "1"}
    back = serialization.from_state_dict(state, sd)
    np.testing.assert_array_equal(back["opt"].count, 3)


def test_shape_mismatch_names_the_path():
    v = Model().init(jr.key(0), jnp.ones((2, 4)))
    data = serialization.to_bytes(v)
    wrong = Model().init(jr.key(0), jnp.ones((2, 5)))
    with pytest.raises(ValueError, match="params/Dense_0/kernel.*shape mismatch|shape "
                                         "mismatch.*params/Dense_0/kernel"):
        serialization.from_bytes(wrong, data)


def test_structure_mismatch_names_the_path():
    v = {"params": {"a": jnp.ones(2), "b": jnp.ones(3)}}
    data = serialization.to_bytes(v)
    with pytest.raises(ValueError, match="/params/c"):
        serialization.from_bytes({"params": {"a": jnp.ones(2), "c": jnp.ones(3)}}, data)
    with pytest.raises(ValueError, match="unexpected entry 'b'"):
        serialization.from_bytes({"params": {"a": jnp.ones(2)}}, data)


def test_objects_are_refused_and_registration_works():
    with pytest.raises(TypeError, match="not a numeric array"):
        serialization.to_bytes({"x": object()})

    class Box:
        def __init__(self, v):
            self.v = v

    serialization.register_serialization_state(
        Box, lambda b: {"v": serialization.to_state_dict(b.v)},
        lambda target, sd: Box(serialization.from_state_dict(target.v, sd["v"])))
    restored = serialization.from_bytes(Box(jnp.zeros(2)), serialization.to_bytes(Box(
        jnp.ones(2))))
    np.testing.assert_array_equal(restored.v, [1.0, 1.0])
    with pytest.raises(ValueError, match="already registered"):
        serialization.register_serialization_state(Box, None, None)
