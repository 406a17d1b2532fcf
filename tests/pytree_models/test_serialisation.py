"""tree_serialise_leaves / tree_deserialise_leaves: round trips, no pickle, atomic writes,
and errors that name the mismatching leaf."""

import io
import os

import numpy as np
import pytest

import jumba.numpy as jnp
import jumba.random as jr
import jumba_pytree_models as eqx
from jumba import tree_util as jtu


def _model(seed=0, width=8):
    return eqx.nn.MLP(3, 2, width, 2, key=jr.PRNGKey(seed))


def test_round_trip_of_a_model(tmp_path):
    model = _model(0)
    path = tmp_path / "model.eqx"
    eqx.tree_serialise_leaves(path, model)
    loaded = eqx.tree_deserialise_leaves(path, _model(1))
    assert eqx.tree_equal(loaded, model)
    assert not eqx.tree_equal(_model(1), model)
    x = jnp.ones(3)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    # No temporary files are left behind.
    assert sorted(os.listdir(tmp_path)) == ["model.eqx"]


def test_round_trip_mixed_leaves_file_object_and_suffix(tmp_path):
    tree = {"w": jnp.arange(6.0).reshape(2, 3), "i": jnp.array([1, 2], jnp.int32),
            "n": 3, "f": 0.5, "b": True, "np": np.ones(2, np.float64), "fn": jnp.sin,
            "s": "kept", "none": None}
    def blank(x):
        if isinstance(x, bool):
            return False
        return x if callable(x) or isinstance(x, str) else x * 0

    like = jtu.tree_map(blank, tree)
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, tree)
    buf.seek(0)
    out = eqx.tree_deserialise_leaves(buf, like)
    assert eqx.tree_equal(out, tree)
    assert type(out["n"]) is int and type(out["b"]) is bool and out["fn"] is jnp.sin
    assert isinstance(out["np"], np.ndarray)
    eqx.tree_serialise_leaves(tmp_path / "plain", tree)  # ".eqx" is appended
    assert (tmp_path / "plain.eqx").exists()
    assert eqx.tree_equal(eqx.tree_deserialise_leaves(tmp_path / "plain", like), tree)


def test_stateful_model_round_trip(tmp_path):
    bn, state = eqx.nn.make_with_state(eqx.nn.BatchNorm)(3, "batch")
    state = state.set(bn.ema_state_index, (jnp.ones(3), jnp.full(3, 2.0, jnp.float32)))
    eqx.tree_serialise_leaves(tmp_path / "s.eqx", (bn, state))
    _, like_state = eqx.nn.make_with_state(eqx.nn.BatchNorm)(3, "batch")
    # The state's keys differ between instances, but the leaves load in order.
    _, loaded = eqx.tree_deserialise_leaves(tmp_path / "s.eqx", (bn, like_state))
    assert jtu.tree_leaves(loaded)[1].tolist() == [1.0, 1.0, 1.0]


def test_mismatch_errors_name_the_leaf(tmp_path):
    path = tmp_path / "m.eqx"
    eqx.tree_serialise_leaves(path, _model(0, width=8))
    with pytest.raises(ValueError, match=r"\.layers\[0\]\.weight.*float32\[8, 3\].*"
                                         r"float32\[4, 3\]"):
        eqx.tree_deserialise_leaves(path, _model(0, width=4))
    with pytest.raises(ValueError, match=r"\.layers\[0\]\.weight.*float16"):
        eqx.tree_deserialise_leaves(path, eqx.nn.MLP(3, 2, 8, 2, dtype=jnp.float16,
                                                     key=jr.PRNGKey(0)))
    with pytest.raises(ValueError, match="no array record"):
        eqx.tree_deserialise_leaves(path, [_model(0), jnp.ones(1)])
    with pytest.raises(ValueError, match="more data"):
        eqx.tree_deserialise_leaves(path, _model(0).layers[0])


def test_no_pickle_is_ever_loaded(tmp_path):
    path = tmp_path / "evil.eqx"
    with open(path, "wb") as f:
        np.save(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):
        eqx.tree_deserialise_leaves(path, jnp.ones(1))
    with pytest.raises(ValueError):
        eqx.tree_serialise_leaves(tmp_path / "x.eqx", np.array([object()], dtype=object))
    assert not (tmp_path / "x.eqx").exists()  # the failed write left nothing behind
