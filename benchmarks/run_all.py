"""Run every benchmark, then summarise all targets in RESULTS.md and a bar chart.

    benchmarks/.venv/bin/python benchmarks/run_all.py               # everything
    benchmarks/.venv/bin/python benchmarks/run_all.py --only eager jit
    benchmarks/.venv/bin/python benchmarks/run_all.py --summary-only   # re-plot, no runs

Each script runs in its own process with `--write` (so it records its own section of
RESULTS.md, with medians, machine, versions and date, and its verdicts in
benchmarks/verdicts/<script>.json). The peers (JAX, Optax, Flax, PyTorch, ...) are used when
they are installed in the environment running this script; see README.md for setting up
benchmarks/.venv. Then the "Summary" section at the top of RESULTS.md lists every target
with its ratio and verdict, and benchmarks/ratios.png shows them as bars (matplotlib).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import RESULTS, RESULTS_TITLE, VERDICTS_DIR, environment_header  # noqa: E402

# In issue order; a script missing from the checkout is skipped with a note.
SCRIPTS = ["bench_eager.py", "bench_jit.py", "bench_conv_sort.py", "bench_cumulative.py",
           "bench_linalg.py",
           "bench_random.py", "bench_loops.py", "bench_pmap.py", "bench_optim.py",
           "bench_nn.py", "bench_filter_jit.py", "bench_rl.py"]
SUMMARY = "## Summary of targets"
CHART = HERE / "ratios.png"


def run_scripts(names: list[str]) -> dict[str, str]:
    """Run each script with --write; returns script -> "ok (N s)" or the failure."""
    status = {}
    for name in names:
        path = HERE / name
        if not path.exists():
            status[name] = "not in this checkout"
            continue
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(path), "--write"], cwd=HERE.parent)
        seconds = time.perf_counter() - start
        status[name] = f"ok ({seconds:.0f} s)" if proc.returncode == 0 else \
            f"failed (exit code {proc.returncode})"
    return status


def load_verdicts() -> list[dict]:
    rows = []
    for path in sorted(VERDICTS_DIR.glob("*.json")):
        record = json.loads(path.read_text())
        for v in record["verdicts"]:
            rows.append({**v, "script": record["script"], "date": record["date"],
                         "load": record.get("load_average")})
    return sorted(rows, key=lambda r: (r["issue"], r["script"]))


def score(row) -> float | None:
    """The ratio relative to its target: <= 1 meets it, whichever way the target points."""
    r = row["ratio"]
    if r is None or r <= 0:
        return None
    return row["limit"] / r if row.get("higher_is_better") else r / row["limit"]


def summary_table(rows, status) -> str:
    lines = [environment_header(" ".join(["benchmarks/.venv/bin/python", *sys.argv])), "",
             "Every target of the issues, from the latest run of each script (ratios are Jumba "
             "over its peer measured in the same run; lower is better unless the target says "
             "≥). Details, medians and commands are in each script's section below.", "",
             "| issue | target | ratio | verdict | script | measured |",
             "|---:|---|---:|---|---|---|"]
    for r in rows:
        ratio = "–" if r["ratio"] is None else f"{r['ratio']:.2f}×"
        lines.append(f"| {r['issue']} | {r['target']} | {ratio} | {r['verdict']} | "
                     f"`{Path(r['script']).name}` | {r['date']} |")
    passed = sum(r["verdict"] == "PASS" for r in rows)
    lines += ["", f"{passed} of {len(rows)} targets met."]
    if status:
        lines += ["", "This run: " + "; ".join(f"`{k}` {v}" for k, v in status.items())]
    if CHART.exists():
        lines += ["", f"![ratios relative to their targets]({CHART.name})"]
    return "\n".join(lines)


def plot(rows) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no chart (pip install matplotlib)", file=sys.stderr)
        return False
    rows = [r for r in rows if score(r) is not None]
    if not rows:
        return False
    labels = [f"#{r['issue']} {r['target']}"[:70] for r in rows]
    scores = [score(r) for r in rows]
    colors = ["#2a9d8f" if r["verdict"] == "PASS" else "#e76f51" for r in rows]
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(rows) + 1.2))
    y = range(len(rows))[::-1]
    ax.barh(list(y), scores, color=colors)
    ax.axvline(1.0, color="black", lw=1)
    ax.set_xscale("log")
    ax.set_yticks(list(y), labels, fontsize=7)
    for yi, s, r in zip(y, scores, rows):
        ax.text(s, yi, f" {r['ratio']:.2f}×", va="center", fontsize=7)
    ax.set_xlabel("ratio ÷ target (left of the line: target met)")
    ax.set_title("Jumba against its peers: every benchmark target")
    fig.tight_layout()
    fig.savefig(CHART, dpi=110)
    plt.close(fig)
    print(f"chart written to {CHART}")
    return True


def write_summary(text: str) -> None:
    """Put the summary right after RESULTS.md's title (replacing an earlier one)."""
    content = RESULTS.read_text() if RESULTS.exists() else RESULTS_TITLE + "\n"
    content = re.sub(rf"^{re.escape(SUMMARY)}\n.*?(?=^## |\Z)", "", content, flags=re.S | re.M)
    head, sep, rest = content.partition("\n## ")
    body = f"{SUMMARY}\n\n{text.strip()}\n\n"
    content = head.rstrip("\n") + "\n\n" + body + (("## " + rest) if sep else "")
    RESULTS.write_text(content)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="script names without bench_ and .py, e.g. jit")
    ap.add_argument("--summary-only", action="store_true", help="don't run: re-summarise")
    args = ap.parse_args(argv)
    names = SCRIPTS if not args.only else [f"bench_{n}.py" for n in args.only]
    status = {} if args.summary_only else run_scripts(names)
    rows = load_verdicts()
    plot(rows)
    text = summary_table(rows, status)
    write_summary(text)
    print(text)


if __name__ == "__main__":
    main()
