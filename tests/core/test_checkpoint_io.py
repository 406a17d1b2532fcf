"""jumba.checkpoint_io: round trips, corruption detection, the manager's retention rules, and
a save killed with SIGKILL part-way leaving the previous checkpoint intact."""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba as jb
import jumba.checkpoint_io as ckio
import jumba.numpy as jnp
from jumba.checkpoint_io import CheckpointError, CheckpointManager

Point = collections.namedtuple("Point", "x y")

ALL_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
              "float16", "float32", "float64", "complex64", "complex128", "datetime64[s]",
              "timedelta64[ms]"]


def _assert_same(a, b):
    """Equal trees, with the same node types and leaf types, shapes and dtypes."""
    la, ta = jb.tree_util.tree_flatten(a)
    lb, tb = jb.tree_util.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        assert type(x) is type(y), (type(x), type(y))
        if isinstance(x, (np.ndarray, np.generic, jb.Array)):
            assert x.dtype == y.dtype and x.shape == y.shape
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
        else:
            assert x == y


def _tree():
    rng = np.random.default_rng(0)
    return {
        "params": {"w": jnp.asarray(rng.standard_normal((3, 4)), jnp.float32),
                   "b": jnp.zeros(4)},
        "opt": [Point(np.arange(5, dtype=np.int16), None), (1, 2.5, True, 1 - 2j)],
        "step": np.int64(7),
        "name": "run-1",
        "empty": {},
        "nothing": None,
        "zero_size": np.zeros((0, 3), np.float32),
        "scalar_array": jnp.asarray(3.0),
        "fortran": np.asfortranarray(rng.standard_normal((3, 2))),
    }


def test_round_trip_with_like_keeps_every_type(tmp_path):
    tree = _tree()
    path = ckio.save(tmp_path / "ckpt.npz", tree)
    assert path == str(tmp_path / "ckpt.npz")
    _assert_same(ckio.restore(path, like=tree), tree)


def test_round_trip_without_like(tmp_path):
    tree = _tree()
    ckio.save(tmp_path / "ckpt.npz", tree)
    out = ckio.restore(tmp_path / "ckpt.npz")
    # Namedtuples come back as dicts (recreating the class would mean running code).
    assert out["opt"][0] == {"x": out["opt"][0]["x"], "y": None}
    expected = dict(tree, opt=[{"x": tree["opt"][0].x, "y": None}, tree["opt"][1]])
    _assert_same(out, expected)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_every_numpy_dtype_round_trips(tmp_path, dtype):
    x = (np.arange(12) % 7).astype(dtype).reshape(3, 4)
    ckio.save(tmp_path / "c.npz", {"x": x, "s": x[1, 2]})
    out = ckio.restore(tmp_path / "c.npz")
    _assert_same(out, {"x": x, "s": x[1, 2]})


@settings(max_examples=15, deadline=None)
@given(st.recursive(
    st.one_of(st.integers(-2**31, 2**31 - 1), st.floats(allow_nan=False), st.booleans(),
              st.none(), st.text(max_size=5),
              st.lists(st.floats(-1e3, 1e3, width=32), max_size=4).map(
                  lambda v: np.array(v, np.float32))),
    lambda kids: st.one_of(st.lists(kids, max_size=3), st.tuples(kids, kids),
                           st.dictionaries(st.text(max_size=3), kids, max_size=3)),
    max_leaves=8))
def test_hypothesis_trees_round_trip(tmp_path_factory, tree):
    path = tmp_path_factory.mktemp("h") / "c.npz"
    ckio.save(path, tree)
    _assert_same(ckio.restore(path), tree)
    _assert_same(ckio.restore(path, like=tree), tree)


def test_int_and_str_dict_keys_stay_distinct(tmp_path):
    tree = {1: jnp.ones(1), "1": jnp.zeros(1)}
    ckio.save(tmp_path / "c.npz", tree)
    _assert_same(ckio.restore(tmp_path / "c.npz"), tree)


def test_registered_node_restores_with_like(tmp_path):
    @jb.tree_util.register_dataclass
    @dataclasses.dataclass
    class State:
        a: object
        b: object

    s = State(jnp.ones(2), jnp.arange(3))
    ckio.save(tmp_path / "c.npz", s)
    out = ckio.restore(tmp_path / "c.npz", like=s)
    assert isinstance(out, State)
    np.testing.assert_array_equal(np.asarray(out.b), [0, 1, 2])
    assert set(ckio.restore(tmp_path / "c.npz")) == {"a", "b"}  # a dict without like=


def test_like_with_shape_dtype_structs(tmp_path):
    tree = {"w": jnp.ones((2, 3)), "n": jnp.asarray(4, jnp.int32)}
    ckio.save(tmp_path / "c.npz", tree)
    like = jb.tree_util.tree_map(lambda x: jb.ShapeDtypeStruct(x.shape, x.dtype), tree)
    _assert_same(ckio.restore(tmp_path / "c.npz", like=like), tree)


def test_like_mismatch_names_the_leaf(tmp_path):
    ckio.save(tmp_path / "c.npz", {"w": jnp.ones((2, 3))})
    with pytest.raises(CheckpointError, match=r"leaf 'w'.*shape \(2, 3\).*\(3, 2\)"):
        ckio.restore(tmp_path / "c.npz", like={"w": jnp.ones((3, 2))})
    with pytest.raises(CheckpointError, match=r"leaf 'w'.*dtype float32 but like= has dtype int8"):
        ckio.restore(tmp_path / "c.npz", like={"w": np.ones((2, 3), np.int8)})
    with pytest.raises(CheckpointError, match="1 leaves but like= has 2"):
        ckio.restore(tmp_path / "c.npz", like={"w": jnp.ones((2, 3)), "v": jnp.ones(1)})


def test_unsavable_leaves_are_refused_clearly(tmp_path):
    with pytest.raises(CheckpointError, match="without pickle"):
        ckio.save(tmp_path / "c.npz", {"o": np.array([object()])})
    with pytest.raises(CheckpointError, match="not an array or a number"):
        ckio.save(tmp_path / "c.npz", {"f": print})
    with pytest.raises(CheckpointError, match="key"):
        ckio.save(tmp_path / "c.npz", {(1, 2): jnp.ones(1)})
    assert not list(tmp_path.iterdir())  # nothing written, no temporary file left


def test_overwrite_replaces_and_leaves_no_temporaries(tmp_path):
    ckio.save(tmp_path / "c.npz", {"a": jnp.ones(2)})
    ckio.save(tmp_path / "c.npz", {"a": jnp.zeros(2)})
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]
    np.testing.assert_array_equal(np.asarray(ckio.restore(tmp_path / "c.npz")["a"]), [0, 0])


def test_no_pickle_in_the_file(tmp_path):
    ckio.save(tmp_path / "c.npz", _tree())
    with zipfile.ZipFile(tmp_path / "c.npz") as zf:
        names = zf.namelist()
        assert names[0] == "manifest.json"
        manifest = json.loads(zf.read("manifest.json"))
        assert all(n.endswith(".npy") for n in names[1:])
        # Plain np.load with pickling disabled reads every leaf.
    with np.load(tmp_path / "c.npz", allow_pickle=False) as z:
        for entry in manifest["leaves"]:
            assert z[entry["member"][:-4]].dtype.str == entry["dtype"]


# --- corruption ----------------------------------------------------------------------------


def _saved(tmp_path):
    tree = {"a": jnp.arange(1000, dtype=jnp.float32), "b": jnp.full(2000, 7, jnp.int32),
            "c": jnp.ones(3)}
    path = tmp_path / "c.npz"
    ckio.save(path, tree)
    return path, path.read_bytes()


def test_altered_leaf_is_named(tmp_path):
    path, data = _saved(tmp_path)
    needle = np.full(4, 7, np.int32).tobytes()
    i = data.index(needle) + 8
    path.write_bytes(data[:i] + b"\x08" + data[i + 1:])
    with pytest.raises(CheckpointError, match=rf"{path}.*leaf 'b'.*(checksum|damaged)"):
        ckio.restore(path)


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.9, 0.99])
def test_truncated_file_names_file_and_leaf(tmp_path, fraction):
    path, data = _saved(tmp_path)
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(CheckpointError, match=rf"{path} is truncated") as e:
        ckio.restore(path)
    if fraction < 0.95:  # cut inside a leaf's data
        assert "leaf '" in str(e.value)


def test_truncated_before_manifest_and_foreign_files(tmp_path):
    path, data = _saved(tmp_path)
    path.write_bytes(data[:20])
    with pytest.raises(CheckpointError, match="not a Jumba checkpoint"):
        ckio.restore(path)
    other = tmp_path / "plain.npz"
    np.savez(other, x=np.ones(3))
    with pytest.raises(CheckpointError, match="no manifest.json"):
        ckio.restore(other)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        ckio.restore(tmp_path / "missing.npz")


def test_altered_manifest_is_detected(tmp_path):
    path, data = _saved(tmp_path)
    i = data.index(b'"shape":[2000]')
    path.write_bytes(data[:i] + b'"shape":[2001]' + data[i + 14:])
    with pytest.raises(CheckpointError, match=rf"{path}.*(manifest|leaf 'b')"):
        ckio.restore(path)


# --- the manager -----------------------------------------------------------------------------


def test_manager_max_to_keep_and_keep_every_n_steps(tmp_path):
    m = CheckpointManager(tmp_path, max_to_keep=2, keep_every_n_steps=4)
    assert m.latest_step() is None and m.all_steps() == []
    for step in range(10):
        m.save(step, {"step": jnp.asarray(step)})
    assert m.all_steps() == [0, 4, 8, 9]
    assert m.latest_step() == 9
    assert int(m.restore()["step"]) == 9
    assert int(m.restore(4)["step"]) == 4
    with pytest.raises(FileNotFoundError, match=r"step 5 .*saved steps: \[0, 4, 8, 9\]"):
        m.restore(5)
    with pytest.raises(ValueError, match="already exists.*force=True"):
        m.save(9, {"step": jnp.asarray(0)})
    m.save(9, {"step": jnp.asarray(-1)}, force=True)
    assert int(m.restore(9)["step"]) == -1
    # A new manager on the same directory sees the same steps.
    assert CheckpointManager(tmp_path).all_steps() == [0, 4, 8, 9]


def test_manager_keeps_everything_by_default_and_validates(tmp_path):
    m = CheckpointManager(tmp_path / "sub")
    for step in (3, 1, 2):
        m.save(step, [step])
    assert m.all_steps() == [1, 2, 3] and m.restore(like=[0]) == [3]
    with pytest.raises(ValueError, match="max_to_keep"):
        CheckpointManager(tmp_path, max_to_keep=0)
    with pytest.raises(ValueError, match="non-negative int"):
        m.save(-1, [0])
    with pytest.raises(FileNotFoundError, match="no checkpoints"):
        CheckpointManager(tmp_path / "empty").restore()


# --- a save killed part-way -------------------------------------------------------------------

_SAVER = textwrap.dedent("""
    import sys
    import numpy as np
    from jumba.checkpoint_io import CheckpointManager

    mngr = CheckpointManager(sys.argv[1])
    big = {f"w{i}": np.full((1024, 1024), i, np.float32) for i in range(24)}  # 96 MB
    print("ready", flush=True)
    mngr.save(2, big)
    print("done", flush=True)
""")


def test_save_killed_midway_leaves_previous_checkpoint(tmp_path):
    directory = tmp_path / "ckpts"
    previous = {"w": jnp.arange(10.0), "step": 1}
    CheckpointManager(directory).save(1, previous)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    caught = False
    for _attempt in range(10):
        proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(directory)], env=env,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            temps = [p for p in directory.iterdir() if p.name.endswith(".tmp")]
            if temps and temps[0].stat().st_size > 1 << 20:  # part-way through the leaves
                os.kill(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.0005)
        proc.wait()
        proc.stdout.close()
        if proc.returncode == -signal.SIGKILL and not (directory / "checkpoint_2.npz").exists():
            caught = any(p.name.endswith(".tmp") for p in directory.iterdir())
            if caught:
                break
        for p in directory.glob("checkpoint_2.npz"):
            p.unlink()
    assert caught, "never caught the saving process part-way through its write"
    mngr = CheckpointManager(directory)  # also removes the dead save's temporary file
    assert mngr.all_steps() == [1]
    assert not [p for p in Path(directory).iterdir() if p.name.endswith(".tmp")]
    _assert_same(mngr.restore(like=previous), previous)
