"""Convolutions and sorting (issue 4): Jumba beside JAX in one run, reported as ratios.

    benchmarks/.venv/bin/python benchmarks/bench_conv_sort.py            # print
    benchmarks/.venv/bin/python benchmarks/bench_conv_sort.py --write    # + RESULTS.md

(a) a 3x3 convolution, batch 32, 32x32 images, 64 -> 64 channels, NHWC/HWIO, 'SAME',
    under jit: the forward pass, and the backward pass (gradients of sum(conv**2) with
    respect to the input and the kernel);
(b) `jnp.sort` of 1e6 float32 under jit.

Jumba is timed on its compiled tier (`.lower(...).compile()` in the foreground before
timing); JAX after a warm-up call. The libraries alternate within each repeat, so a
burst of load on the shared machine hits both.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import environment_header, interleaved_median, record_verdicts, write_section  # noqa: E402

SECTION = "## Convolutions and sorting (issue 4)"
TARGETS = {"conv forward": 2.0, "conv backward": 2.0, "sort 1e6 float32": 1.0}


def _libs():
    libs = {}
    try:
        import jax
        import jax.numpy as jnp
        from jax import lax

        libs["jax"] = (jax, jnp, lax)
    except ImportError:
        pass
    import jumba
    import jumba.lax as jlax
    import jumba.numpy as jbnp

    libs["jumba"] = (jumba, jbnp, jlax)
    return libs


def _ready(lib, out):
    if lib == "jax":
        import jax

        jax.block_until_ready(out)
    return out


def _prepare(lib, m, fn, *args):
    jf = m.jit(fn)
    if lib == "jumba":
        jf.lower(*args).compile()
    _ready(lib, jf(*args))
    return lambda: _ready(lib, jf(*args))


def bench_conv(libs, results, repeat, target):
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((32, 32, 32, 64)).astype(np.float32)
    w_np = (rng.standard_normal((3, 3, 64, 64)) * 0.05).astype(np.float32)
    fwd, bwd = {}, {}
    for lib, (m, jnp, lax) in libs.items():
        def conv(x, w, lax=lax):
            return lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))

        def loss(x, w, conv=conv, jnp=jnp):
            return jnp.sum(conv(x, w) ** 2)

        x, w = jnp.asarray(x_np), jnp.asarray(w_np)
        fwd[lib] = _prepare(lib, m, conv, x, w)
        bwd[lib] = _prepare(lib, m, m.grad(loss, argnums=(0, 1)), x, w)
    results["conv forward"] = interleaved_median(fwd, repeat, target)
    results["conv backward"] = interleaved_median(bwd, repeat, target)


def bench_sort(libs, results, repeat, target):
    x_np = np.random.default_rng(1).standard_normal(1_000_000).astype(np.float32)
    calls = {}
    for lib, (m, jnp, _) in libs.items():
        x = jnp.asarray(x_np)
        calls[lib] = _prepare(lib, m, jnp.sort, x)
    results["sort 1e6 float32"] = interleaved_median(calls, repeat, target)


def report(results) -> str:
    lines = ["Median of the repeats; ms per call (lower is better); ratio = Jumba / JAX.", "",
             "| benchmark | JAX ms | Jumba ms | jumba/jax | target | verdict |",
             "|---|---:|---:|---:|---:|---|"]
    for name, limit in TARGETS.items():
        r = results.get(name, {})
        if "jax" in r and "jumba" in r:
            ratio = r["jumba"] / r["jax"]
            verdict = "PASS" if ratio <= limit else "FAIL"
            lines.append(f"| {name} | {r['jax'] * 1e3:.2f} | {r['jumba'] * 1e3:.2f} | "
                         f"{ratio:.2f}× | ≤ {limit:.1f}× | {verdict} |")
        elif "jumba" in r:
            lines.append(f"| {name} | skipped: JAX not installed | {r['jumba'] * 1e3:.2f} | "
                         f"| ≤ {limit:.1f}× | not measured |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="record in benchmarks/RESULTS.md")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--target", type=float, default=0.5, help="seconds per timed round")
    ap.add_argument("--only", nargs="*", help="subset: conv sort")
    args = ap.parse_args()
    libs = _libs()
    results: dict = {}
    load = os.getloadavg()[0]
    for name, fn in {"conv": bench_conv, "sort": bench_sort}.items():
        if not args.only or name in args.only:
            print(f"running {name} ...", file=sys.stderr)
            fn(libs, results, args.repeat, args.target)
    text = environment_header(" ".join(["benchmarks/.venv/bin/python", *sys.argv])) + \
        f"\n\nLoad average (1 min) at start: {load:.1f} on {os.cpu_count()} cores (a shared " \
        "machine: ratios vary from run to run with the load).\n\n" + report(results)
    print(text)
    if args.write:
        write_section(SECTION, text)
        record_verdicts(__file__, [
            {"issue": 4, "target": f"{name} ≤ {limit:g}× JAX", "limit": limit,
             "ratio": (results[name]["jumba"] / results[name]["jax"]
                       if {"jax", "jumba"} <= set(results.get(name, {})) else None)}
            for name, limit in TARGETS.items()])


if __name__ == "__main__":
    main()
