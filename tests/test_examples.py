"""The seed examples (examples/seed/*.py) run as scripts and print what they promise."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "seed"


def run_example(name, *args, env_extra=None):
    env = dict(os.environ, **(env_extra or {}))
    # Work from a plain checkout too (without `make venv`): put the core package first.
    src = str(ROOT / "packages" / "core" / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run([sys.executable, str(SEED / name), *args], capture_output=True,
                          text=True, env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_grad_example():
    out = run_example("grad.py")
    assert "grad(logistic)(1.0) = 0.19661194" in out
    assert "f'(2)   = 17.0" in out
    assert "f''(2)  = 16.0" in out
    assert "f'''(2) = 6.0" in out


@pytest.mark.parametrize("size", ["500"])
def test_jit_example(size):
    out = run_example("jit.py", size)  # small size: the test checks behaviour, not speed
    assert f"float32[{size},{size}]" in out
    assert "eager:" in out and "tier 0 (NumPy):" in out and "tier 1 (numba):" in out
    assert "eager and jitted results agree" in out


def test_vmap_example():
    out = run_example("vmap.py")
    assert "per-example gradients, shape (8, 3)" in out
    assert "vmap(grad(loss)) matches a Python loop over the examples" in out


def test_demo_trains_to_a_printed_accuracy(tmp_path):
    env = dict(os.environ)
    paths = [str(ROOT / "packages" / p / "src") for p in ("core", "optim")]
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    png = tmp_path / "loss.png"
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "demo.py"), "--no-seeds",
                           "--epochs", "4", "--plot", str(png)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    accuracy = float(proc.stdout.split("test accuracy: ")[1].split("%")[0])
    assert accuracy > 90.0, proc.stdout
    assert "steps  loss" in proc.stdout and "training (compile included)" in proc.stdout
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed" in proc.stdout
    else:
        assert png.stat().st_size > 10_000 and f"loss curve saved to {png.resolve()}" in proc.stdout


def _means(out):
    line = out.strip().splitlines()[-1]
    return [float(v) for v in line.strip("[]").split()]


def test_pmap_example_small():
    # JAX prints [1.307019  1.1721832] for the same program at 500 x 600 on 2 devices.
    out = run_example("pmap.py", "500", "600")
    assert "2 devices" in out and "x @ x.T" in out
    assert _means(out) == pytest.approx([1.307019, 1.1721832], rel=1e-5)


@pytest.mark.slow
def test_pmap_example_prints_jax_values():
    # The seed's sizes, 2 x 5000 x 6000, on tier 1 (numba): about 3x faster than NumPy here.
    out = run_example("pmap.py", env_extra={"JUMBA_COMPILE": "eager"})
    assert _means(out) == pytest.approx([1.2110119, 1.2357731], rel=1e-5)
