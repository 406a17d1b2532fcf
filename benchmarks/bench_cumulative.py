"""Cumulative sums (issue 4): Jumba's tier-1 kernel beside JAX and NumPy in one run.

    benchmarks/.venv/bin/python benchmarks/bench_cumulative.py            # print
    benchmarks/.venv/bin/python benchmarks/bench_cumulative.py --write    # + RESULTS.md

`jit(lambda x: jnp.cumsum(x, axis))` of a float32 (1000, 1000) array along axis 0 (down
the columns: the kernel walks rows in memory order with a row of running sums) and axis 1
(along each contiguous row). Jumba is timed on its compiled tier (`.lower(...).compile()`
before timing), JAX after a warm-up call; `np.cumsum` is the NumPy column. The three
alternate within each repeat, so a burst of load on the shared machine hits all alike.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import environment_header, interleaved_median, write_section  # noqa: E402

SECTION = "## Cumulative sums (issue 4)"


def _calls(axis, x_np):
    import jumba
    import jumba.numpy as jbnp

    calls = {}
    try:
        import jax
        import jax.numpy as jnp

        xj = jnp.asarray(x_np)
        jf = jax.jit(lambda x: jnp.cumsum(x, axis))
        jax.block_until_ready(jf(xj))
        calls["jax"] = lambda: jax.block_until_ready(jf(xj))
    except ImportError:
        pass
    xb = jbnp.asarray(x_np)
    bf = jumba.jit(lambda x: jbnp.cumsum(x, axis))
    bf.lower(xb).compile()
    got = bf(xb)
    # The float32 sums in NumPy's order: the same bits.
    assert np.array_equal(np.asarray(got), np.cumsum(x_np, axis)), "jumba differs"
    calls["jumba"] = lambda: bf(xb).block_until_ready()
    calls["numpy"] = lambda: np.cumsum(x_np, axis)
    return calls


def report(results) -> str:
    lines = ["Median of the repeats; ms per call (lower is better).", "",
             "| benchmark | JAX ms | Jumba ms | NumPy ms | jumba/jax | jumba/numpy |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        jax_ms = f"{r['jax'] * 1e3:.2f}" if "jax" in r else "not installed"
        vs_jax = f"{r['jumba'] / r['jax']:.2f}×" if "jax" in r else ""
        lines.append(f"| {name} | {jax_ms} | {r['jumba'] * 1e3:.2f} | "
                     f"{r['numpy'] * 1e3:.2f} | {vs_jax} | "
                     f"{r['jumba'] / r['numpy']:.2f}× |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="record in benchmarks/RESULTS.md")
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--target", type=float, default=0.2, help="seconds per timed round")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    x_np = np.random.default_rng(0).standard_normal((1000, 1000)).astype(np.float32)
    results = {}
    for axis in (0, 1):
        print(f"running cumsum axis {axis} ...", file=sys.stderr)
        results[f"cumsum (1000, 1000) float32, axis {axis}"] = interleaved_median(
            _calls(axis, x_np), args.repeat, args.target)
    text = environment_header(" ".join(["benchmarks/.venv/bin/python", *sys.argv])) + \
        f"\n\nLoad average (1 min) at start: {load:.1f} on {os.cpu_count()} cores (a shared " \
        "machine: ratios vary from run to run with the load).\n\n" + report(results)
    print(text)
    if args.write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
