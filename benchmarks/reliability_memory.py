"""Reliability (issue 12): resident memory over many calls of a jitted training step.

    python3 benchmarks/reliability_memory.py                    # 100,000 steps, tier 1
    python3 benchmarks/reliability_memory.py --steps 2000 --tier 0

Trains a small MLP (64-128-10, batch 64, softmax cross-entropy, SGD) with one jitted step
and prints the resident set size (from /proc/self/statm) every `--every` steps: after the
warm-up the curve must stay flat (growth within noise). The CI version of this check is
`tests/core/test_reliability.py::test_memory_steady_over_many_jitted_steps` (3,000 steps).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time

import numpy as np


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_step(sizes=(64, 128, 10), batch=64):
    import jumba as jb
    import jumba.numpy as jnp

    rng = np.random.default_rng(0)
    params = {f"w{i}": jnp.asarray(rng.standard_normal((a, b)) / np.sqrt(a), jnp.float32)
              for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]))}
    params.update({f"b{i}": jnp.zeros(b) for i, b in enumerate(sizes[1:])})
    x = jnp.asarray(rng.standard_normal((batch, sizes[0])), jnp.float32)
    y = jnp.asarray(rng.integers(0, sizes[-1], batch))

    def loss(p, x, y):
        h = jnp.tanh(x @ p["w0"] + p["b0"])
        logits = h @ p["w1"] + p["b1"]
        logp = logits - jnp.log(jnp.sum(jnp.exp(logits), axis=-1, keepdims=True))
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jb.jit
    def step(p, x, y):
        value, g = jb.value_and_grad(loss)(p, x, y)
        return jb.tree_util.tree_map(lambda a, b: a - 0.05 * b, p, g), value

    return step, params, x, y


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--warmup", type=int, default=1_000)
    ap.add_argument("--every", type=int, default=None, help="print RSS every N steps")
    ap.add_argument("--tier", type=int, choices=(0, 1), default=1)
    ap.add_argument("--tolerance-mb", type=float, default=4.0)
    args = ap.parse_args(argv)
    every = args.every or max(1, args.steps // 20)

    import jumba as jb

    jb.config.update("jumba_compile", "eager" if args.tier == 1 else "never")
    step, params, x, y = make_step()
    t0 = time.perf_counter()
    for _ in range(args.warmup):
        params, loss = step(params, x, y)
    gc.collect()
    base = rss_mb()
    print(f"tier {args.tier}; warm-up {args.warmup} steps in {time.perf_counter() - t0:.1f} s; "
          f"RSS after warm-up {base:.1f} MB")
    print(f"{'step':>8} {'RSS MB':>8} {'growth':>8} {'loss':>8}")
    curve = []
    t0 = time.perf_counter()
    for i in range(1, args.steps + 1):
        params, loss = step(params, x, y)
        if i % every == 0 or i == args.steps:
            gc.collect()
            now = rss_mb()
            curve.append(now)
            print(f"{i:8d} {now:8.1f} {now - base:+8.2f} {float(loss):8.4f}", flush=True)
    elapsed = time.perf_counter() - t0
    growth = max(curve) - base
    print(f"{args.steps} steps in {elapsed:.1f} s ({elapsed / args.steps * 1e6:.0f} µs/step); "
          f"peak growth after warm-up {growth:+.2f} MB (tolerance {args.tolerance_mb} MB)")
    ok = growth <= args.tolerance_mb
    print("steady" if ok else "MEMORY GROWTH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
