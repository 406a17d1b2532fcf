"""examples/optim_mlp.py runs as a script with a small budget and its loss falls."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_optim_mlp_example_loss_falls():
    env = dict(os.environ)
    paths = [str(ROOT / "packages" / p / "src") for p in ("core", "optim")]
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")])
    env.setdefault("JUMBA_COMPILE", "never")
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "optim_mlp.py"), "--steps", "60",
         "--hidden", "16", "--print-every", "20"],
        capture_output=True, text=True, env=env, timeout=120, check=True,
    ).stdout
    losses = [float(v) for v in re.findall(r"loss (\d+\.\d+)", out)]
    assert len(losses) >= 3, out
    assert losses[-1] < 0.8 * losses[0], out
