"""examples/mnist_like_cnn.py runs as a script, learns, and evaluates with BatchNorm's
running averages; its model's batch_stats flow as in Flax linen."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import jumba.numpy as jnp
import jumba.random as jr

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mnist_like_cnn.py"


def _run(*args, cwd=None):
    env = dict(os.environ)
    paths = [str(ROOT / "packages" / p / "src") for p in ("core", "nn", "optim")]
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("JUMBA_COMPILE", "never")  # tier 0: no numba compile in the test
    return subprocess.run([sys.executable, str(EXAMPLE), *args], capture_output=True,
                          text=True, env=env, timeout=120, cwd=cwd)


def test_one_epoch_learns_and_evaluates_with_running_averages(tmp_path):
    png = tmp_path / "curves.png"
    proc = _run("--epochs", "1", "--seed", "3", "--plot", str(png), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "[##############################]   22/22 steps" in out, out  # the progress bar
    accuracy = float(re.search(r"^test accuracy: (\d+\.\d)%$", out, re.M).group(1))
    assert accuracy > 60.0, out  # chance is 10%; one epoch reaches ~90%
    # Evaluation read the running averages, and training moved them away from (0, 1).
    stats = re.findall(r"batch_stats/(BatchNorm_\d): (\d+) channels, mean \|mean\| "
                       r"(\d+\.\d+), mean var (\d+\.\d+)", out)
    assert [(s[0], s[1]) for s in stats] == [("BatchNorm_0", "32"), ("BatchNorm_1", "64")], out
    assert all(float(s[2]) > 0.01 for s in stats), out
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed" in out
    else:
        assert png.stat().st_size > 10_000 and f"curves saved to {png}" in out


def test_bad_epochs_is_a_clear_error():
    proc = _run("--epochs", "0")
    assert proc.returncode != 0 and "--epochs must be at least 1, got 0" in proc.stderr


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("mnist_like_cnn", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclass modules must be importable by name
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def test_batch_stats_flow(example):
    """Training updates batch_stats only through mutable=...; eval reads them, no rng."""
    model = example.CNN()
    x = jr.uniform(jr.PRNGKey(0), (4, 8, 8, 1))
    variables = model.init(jr.PRNGKey(1), x, train=False)
    assert sorted(variables) == ["batch_stats", "params"]
    stats = variables["batch_stats"]
    assert sorted(stats) == ["BatchNorm_0", "BatchNorm_1"]
    np.testing.assert_array_equal(np.asarray(stats["BatchNorm_0"]["mean"]), np.zeros(32))
    np.testing.assert_array_equal(np.asarray(stats["BatchNorm_1"]["var"]), np.ones(64))

    logits, updates = model.apply(variables, x, train=True, mutable=["batch_stats"],
                                  rngs={"dropout": jr.PRNGKey(2)})
    assert logits.shape == (4, 10) and sorted(updates) == ["batch_stats"]
    new_mean = np.asarray(updates["batch_stats"]["BatchNorm_0"]["mean"])
    assert np.abs(new_mean).max() > 0  # momentum 0.9: 10% of the batch mean moved in

    # Evaluation: deterministic (no dropout rng needed), same output for the same stats.
    a = model.apply(variables, x, train=False)
    b = model.apply(variables, x, train=False)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # ... and it really uses the stored averages: other stats, other logits.
    other = {"params": variables["params"], "batch_stats": updates["batch_stats"]}
    assert not np.allclose(np.asarray(model.apply(other, x, train=False)), np.asarray(a))


def test_split_is_fixed(example):
    (x_train, y_train), (x_test, y_test) = example.load_digits()
    assert x_train.shape == (1438, 8, 8, 1) and x_test.shape == (359, 8, 8, 1)
    assert x_train.dtype == np.float32 and 0.0 <= x_train.min() and x_train.max() <= 1.0
    assert np.bincount(np.concatenate([y_train, y_test])).tolist() == \
        np.bincount(np.load(example.DATA)["labels"]).tolist()  # a partition of the data
    (_, y_test2) = example.load_digits()[1]
    np.testing.assert_array_equal(y_test, y_test2)
    assert jnp.asarray(y_train).dtype == jnp.int32
