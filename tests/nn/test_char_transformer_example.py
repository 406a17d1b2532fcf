"""examples/char_transformer.py runs as a script with a tiny budget: the loss falls and it
prints a sample."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_char_transformer_example_runs_and_learns():
    env = dict(os.environ)
    paths = [str(ROOT / "packages" / p / "src") for p in ("core", "nn", "optim")]
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")])
    env.setdefault("JUMBA_COMPILE", "never")
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "char_transformer.py"), "--steps", "12",
         "--batch", "8", "--block-size", "16", "--d-model", "32", "--layers", "1",
         "--lr", "1e-2", "--print-every", "4", "--sample-len", "20"],
        capture_output=True, text=True, env=env, timeout=180, check=True,
    ).stdout
    losses = [float(v) for v in re.findall(r"step +\d+ +loss (\d+\.\d+)", out)]
    assert len(losses) >= 3, out
    assert losses[-1] < losses[0] - 0.3, out
    sample = out.split("sample:\n", 1)[1]
    assert sample.startswith("Shall I compare thee") and len(sample.strip()) >= 30, out
