"""Shared pieces of the benchmark scripts: timing, the environment header, RESULTS.md."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import re
import statistics
import sys
import time
import timeit
from pathlib import Path

RESULTS = Path(__file__).resolve().with_name("RESULTS.md")
RESULTS_TITLE = "# Jumba benchmark results"


def median_time(fn, repeat: int = 7, target: float = 0.2) -> float:
    """Median seconds per call over `repeat` rounds of about `target` seconds each, after
    the threads of whatever ran before have gone idle (`settle`)."""
    settle()
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    per_round = max(1, int(number * target / 0.2))
    return statistics.median(t / per_round for t in timer.repeat(repeat, per_round))


# Pause before each library's timed batch in interleaved timing. A library's idle threads
# keep spinning after its calls (OpenBLAS's workers for ~0.13 s after a threaded product,
# XLA's pool briefly) and slow whatever runs next on the other core: without the pause,
# Jumba's OpenBLAS worker spun through JAX's rounds of the MLP step (JAX 4.7-5.0 ms per
# step with it, 3.2-3.4 ms without: a jumba/JAX ratio of 0.8 that was really 1.15).
SETTLE_SECONDS = 0.25


def settle():
    """Let the previous library's worker threads go idle (see SETTLE_SECONDS), after any
    Jumba compilation still queued in the background (a second build of a program's
    segments, seconds long with a cold kernel cache) has finished."""
    background = sys.modules.get("jumba._src.compiler.background")
    if background is not None:
        background.wait_idle()
    time.sleep(SETTLE_SECONDS)


def interleaved_median(calls: dict, repeat: int = 7, target: float = 0.2) -> dict:
    """Median seconds per call of each callable, timed in turn within each repeat (a shared,
    noisy machine: a change of load hits every callable alike), each batch after a pause
    that lets the previous callable's threads go idle (`settle`)."""
    numbers = {}
    for name, fn in calls.items():
        n, t = timeit.Timer(fn).autorange()
        numbers[name] = max(1, int(n * target / max(t, 1e-9)))
    samples: dict = {name: [] for name in calls}
    for _ in range(repeat):
        for name, fn in calls.items():
            settle()
            samples[name].append(timeit.Timer(fn).timeit(numbers[name]) / numbers[name])
    return {name: statistics.median(s) for name, s in samples.items()}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def environment_header(command: str) -> str:
    date = datetime.date.today().isoformat()
    versions = ", ".join(f"{d} {_version(d)}" for d in
                         ("jumba", "numpy", "numba", "jax", "jaxlib", "torch"))
    blas = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")}
    return (f"Date {date}; machine: {_cpu_model()}, {os.cpu_count()} cores; "
            f"Python {sys.version.split()[0]}; {versions}"
            + (f"; env {blas}" if blas else "") + f"\n\nCommand: `{command}`")


def write_section(title: str, body: str, path: Path = RESULTS):
    """Replace (or append) the section `title` of RESULTS.md, keeping the others."""
    text = path.read_text() if path.exists() else RESULTS_TITLE + "\n"
    pattern = re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    section = f"{title}\n\n{body.strip()}\n\n"
    text = pattern.sub(lambda m: section, text) if pattern.search(text) else \
        text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


VERDICTS_DIR = Path(__file__).resolve().with_name("verdicts")


def record_verdicts(script: str, verdicts: list[dict]) -> None:
    """Keep one script's targets as JSON for run_all.py's summary and chart.

    Each verdict: {"issue": int, "target": str, "ratio": float | None, "limit": float,
    "higher_is_better": bool (optional)}. A ratio of None means "not measured".
    """
    import json

    for v in verdicts:
        r, limit = v.get("ratio"), v["limit"]
        if r is None:
            v["verdict"] = "not measured"
        else:
            ok = r >= limit if v.get("higher_is_better") else r <= limit
            v["verdict"] = "PASS" if ok else "FAIL"
    VERDICTS_DIR.mkdir(exist_ok=True)
    record = {"script": script,
              "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": f"{_cpu_model()}, {os.cpu_count()} cores",
              "load_average": os.getloadavg()[0], "verdicts": verdicts}
    path = VERDICTS_DIR / f"{Path(script).stem}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    tmp.replace(path)
