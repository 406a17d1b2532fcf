"""examples/haiku_digits.py runs as a script: the loss falls and the test accuracy is high."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_haiku_digits_example_learns():
    env = dict(os.environ)
    paths = [str(ROOT / "packages" / p / "src") for p in ("core", "nn", "optim")]
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")])
    env.setdefault("JUMBA_COMPILE", "never")
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "haiku_digits.py"),
                          "--epochs", "2"], capture_output=True, text=True, env=env,
                         timeout=120, check=True).stdout
    accs = [float(v) for v in re.findall(r"test accuracy (\d\.\d+)", out)]
    assert len(accs) == 2 and accs[-1] > 0.85, out
    assert "batch_norm/~/mean_ema" in out, out
