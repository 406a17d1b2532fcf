"""Loading and comparing the RLax reference files (tests/data/rlax_reference.json and
rlax_extra.json)."""

import dataclasses
import json
import types
from pathlib import Path

import numpy as np

import jumba
import jumba.numpy as jnp
import jumba_rl
from jumba_rl._src import multistep

DATA = Path(__file__).resolve().parents[1] / "data"


def load(name):
    return json.loads((DATA / name).read_text())


def to_array(value):
    """Float lists become float32 arrays and int lists int32 arrays; scalars stay Python."""
    if isinstance(value, list):
        array = np.asarray(value)
        return jnp.asarray(array.astype(np.float32 if array.dtype.kind == "f" else np.int32))
    return value


def run(call, inputs):
    """Evaluates a recorded call with jumba_rl / jumba standing in for rlax / jax."""
    d = {k: to_array(v) for k, v in inputs.items()}
    scope = {"rlax": jumba_rl, "jax": jumba, "jnp": jnp, "np": np, "ns": types.SimpleNamespace,
             "ms": multistep, "d": d}
    return eval(call, scope)  # noqa: S307 - the calls are this repository's test data


def serialise(out):
    if hasattr(out, "_asdict"):
        return {k: serialise(v) for k, v in out._asdict().items()}
    if dataclasses.is_dataclass(out):
        return {f.name: serialise(getattr(out, f.name)) for f in dataclasses.fields(out)}
    if isinstance(out, dict):
        return {k: serialise(v) for k, v in out.items()}
    if isinstance(out, (tuple, list)):
        return [serialise(v) for v in out]
    return np.asarray(out).tolist()


def assert_close(actual, expected, rtol, atol, where=""):
    """Compares nested dicts/lists of numbers."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected a dict of {sorted(expected)}"
        assert sorted(actual) == sorted(expected), f"{where}: keys {sorted(actual)}"
        for k in expected:
            assert_close(actual[k], expected[k], rtol, atol, f"{where}.{k}")
        return
    try:
        want = np.asarray(expected, dtype=np.float64)
    except (ValueError, TypeError):
        want = None
    if want is not None and want.dtype != object:
        got = np.asarray(actual, dtype=np.float64)
        assert got.shape == want.shape, f"{where}: shape {got.shape} != {want.shape}"
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=where)
        return
    assert len(actual) == len(expected), f"{where}: length {len(actual)} != {len(expected)}"
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert_close(a, e, rtol, atol, f"{where}[{i}]")
