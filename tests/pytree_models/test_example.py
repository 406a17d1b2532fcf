"""examples/eqx_style_mlp.py (the issue's acceptance): fits noisy sin(x) to MSE < 0.01 and
saves and reloads the model; and benchmarks/bench_filter_jit.py runs."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_eqx_style_mlp_example_fits_and_round_trips(tmp_path, capsys):
    example = _load(ROOT / "examples" / "eqx_style_mlp.py")
    save = tmp_path / "model.eqx"
    final = example.main(["--steps", "300", "--print-every", "100", "--save", str(save)])
    out = capsys.readouterr().out
    assert final < 0.01, out
    assert save.exists() and "reloaded model mse" in out


def test_bench_filter_jit_quick_run():
    env = dict(os.environ)
    paths = [str(ROOT / "packages" / p / "src") for p in ("core", "pytree_models")]
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")])
    env.setdefault("JUMBA_COMPILE", "never")
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_filter_jit.py"),
                          "--quick"], capture_output=True, text=True, env=env, timeout=120,
                         check=True).stdout
    assert "ok" in out
