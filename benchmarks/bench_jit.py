"""jit compiled by numba (issue 3): Jumba beside JAX in one run, reported as ratios.

    benchmarks/.venv/bin/python benchmarks/bench_jit.py            # print
    benchmarks/.venv/bin/python benchmarks/bench_jit.py --write    # + RESULTS.md

(a) cube `x * x * x` of a (4000, 4000) float32 array, with GB/s beside a NumPy copy;
(b) one MLP training step (784-512-512-10, batch 128) under jit(value_and_grad) + SGD,
    beside the step's matrix products alone in NumPy (the floor its BLAS sets);
(c) jit dispatch: `x + 1` on 10 float32, and a function of a dict of 10 small arrays;
(d) latency in a fresh process: import + first call, and import + time until calls run
    compiled (tier 1), with an empty and with a warm kernel cache;
(e) per-example gradients jit(vmap(grad(loss))), logistic regression, batch 256, dim 100.

Jumba's steady-state numbers are taken on tier 1 (the compiled program): each function is
compiled in the foreground with `.lower(...).compile()` before timing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    environment_header,
    interleaved_median,
    median_time,
    record_verdicts,
    write_section,
)

SECTION = "## jit compiled with numba (issue 3)"


def _libs():
    libs = {}
    try:
        import jax
        import jax.numpy as jnp

        libs["jax"] = (jax, jnp)
    except ImportError:
        pass
    import jumba
    import jumba.numpy as jbnp

    libs["jumba"] = (jumba, jbnp)
    return libs


def _ready(lib, out):
    if lib == "jax":
        import jax

        jax.block_until_ready(out)
    return out


def _compiled(lib, jf, *args):
    """Compile before timing: JAX on first call; Jumba's tier 1 in the foreground."""
    if lib == "jumba":
        jf.lower(*args).compile()
    _ready(lib, jf(*args))
    return jf


# ----------------------------------------------------------------------- (a)

def bench_cube(libs, results):
    x_np = np.random.default_rng(0).standard_normal((4000, 4000)).astype(np.float32)
    nbytes = 2 * x_np.nbytes  # read x, write the result
    out = np.empty_like(x_np)
    t_copy = median_time(lambda: np.copyto(out, x_np))
    results["cube"] = {"numpy copy (ms)": t_copy * 1e3,
                       "copy GB/s": nbytes / t_copy / 1e9}
    for lib, (m, jnp) in libs.items():
        x = jnp.asarray(x_np)
        jf = _compiled(lib, m.jit(lambda x: x * x * x), x)
        t = median_time(lambda: _ready(lib, jf(x)))
        results["cube"][f"{lib} (ms)"] = t * 1e3
        results["cube"][f"{lib} GB/s"] = nbytes / t / 1e9


# ----------------------------------------------------------------------- (b)

def _mlp(m, jnp):
    """The MLP's parameters, loss and step, from the same source the latency test runs."""
    namespace = {"np": np, "jax": m, "jnp": jnp}
    exec(_MLP_SOURCE, namespace)
    return namespace


def bench_mlp(libs, results):
    rng = np.random.default_rng(1)
    x_np = rng.standard_normal((128, 784)).astype(np.float32)
    y_np = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 128)]
    results["mlp"] = {}
    calls = {}
    for lib, (m, jnp) in libs.items():
        mlp = _mlp(m, jnp)
        params = [(jnp.asarray(w), jnp.asarray(b))
                  for w, b in mlp["_mlp_params"](np.random.default_rng(1))]
        x, y = jnp.asarray(x_np), jnp.asarray(y_np)
        jstep = _compiled(lib, m.jit(mlp["step"]), params, x, y)
        calls[lib] = (lambda lib, jstep, params, x, y: lambda: _ready(
            lib, jstep(params, x, y)))(lib, jstep, params, x, y)
    calls["products"] = _mlp_products(x_np, mlp["_mlp_params"](np.random.default_rng(1)))
    for lib, t in interleaved_median(calls, repeat=15, target=0.1).items():
        results["mlp"][f"{lib} (ms)"] = t * 1e3


def _mlp_products(x, params):
    """The step's eight matrix products alone, by NumPy's BLAS with its own threads (as
    Jumba's tier 1 and, at the same speed, XLA run them): a floor under any step that
    computes them with this BLAS. Forward x@W1, h1@W2, h2@W3; backward each layer's
    weight gradient and the input gradients of layers 3 and 2 (x needs none)."""
    (w1, _), (w2, _), (w3, _) = params
    rng = np.random.default_rng(2)
    h1, h2, d1, d2 = (rng.standard_normal((128, 512)).astype(np.float32) for _ in range(4))
    d3 = rng.standard_normal((128, 10)).astype(np.float32)

    def products():
        return (x @ w1, h1 @ w2, h2 @ w3, h2.T @ d3, d3 @ w3.T, h1.T @ d2, d2 @ w2.T,
                x.T @ d1)
    return products


# ----------------------------------------------------------------------- (c)

def bench_dispatch(libs, results):
    results["dispatch"] = {}
    for lib, (m, jnp) in libs.items():
        x = jnp.asarray(np.ones(10, np.float32))
        f = _compiled(lib, m.jit(lambda x: x + 1), x)
        results["dispatch"][f"{lib} x+1 (µs)"] = median_time(
            lambda: _ready(lib, f(x))) * 1e6
        d = {f"k{i}": jnp.asarray(np.full(10, i, np.float32)) for i in range(10)}
        g = _compiled(lib, m.jit(lambda d: {k: v + 1 for k, v in d.items()}), d)
        results["dispatch"][f"{lib} dict10 (µs)"] = median_time(
            lambda: _ready(lib, g(d))) * 1e6


# ----------------------------------------------------------------------- (d)

_LATENCY_SCRIPT = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    lib = sys.argv[1]
    if lib == "jax":
        import jax, jax.numpy as jnp
    else:
        import jumba as jax, jumba.numpy as jnp
    import numpy as np
    t_import = time.perf_counter() - t0
    {mlp_source}
    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in _mlp_params(np.random.default_rng(1))]
    x = jnp.asarray(np.ones((128, 784), np.float32))
    y = jnp.asarray(np.eye(10, dtype=np.float32)[np.zeros(128, int)])
    jstep = jax.jit(step)
    out = jstep(params, x, y); jax.block_until_ready(out)
    t_first = time.perf_counter() - t0
    t_tier1 = t_first
    if lib == "jumba":
        jstep.lower(params, x, y).compile()  # waits for the background compile
        t_tier1 = time.perf_counter() - t0
    print(json.dumps({{"import": t_import, "first": t_first, "tier1": t_tier1}}))
""")

_MLP_SOURCE = textwrap.dedent("""
    def _mlp_params(rng, sizes=(784, 512, 512, 10)):
        return [(rng.standard_normal((a, b)).astype(np.float32) * np.float32(np.sqrt(2 / a)),
                 np.zeros(b, np.float32)) for a, b in zip(sizes[:-1], sizes[1:])]
    def loss(params, x, y):
        h = x
        for w, b in params[:-1]:
            h = jnp.maximum(h @ w + b, 0.0)
        w, b = params[-1]
        logits = h @ w + b
        logits = logits - jnp.max(logits, axis=1, keepdims=True)
        logp = logits - jnp.log(jnp.sum(jnp.exp(logits), axis=1, keepdims=True))
        return -jnp.mean(jnp.sum(y * logp, axis=1))
    def step(params, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        return jax.tree_util.tree_map(lambda p, g: p - 0.01 * g, params, grads), value
""")


def _fresh_process(lib, cache_dir):
    script = _LATENCY_SCRIPT.format(mlp_source=_MLP_SOURCE)
    env = dict(os.environ, JUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", script, lib], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench_latency(libs, results, runs=3):
    results["latency"] = {}
    cache = tempfile.mkdtemp(prefix="jumba-bench-cache-")
    for lib in libs:
        if lib == "jumba":
            cold = _fresh_process(lib, tempfile.mkdtemp(prefix="jumba-cold-"))
            _fresh_process(lib, cache)  # fill the warm cache
            warm = [_fresh_process(lib, cache) for _ in range(runs)]
            results["latency"]["jumba cold first (s)"] = cold["first"]
            results["latency"]["jumba cold tier1 (s)"] = cold["tier1"]
            for k in ("first", "tier1"):
                results["latency"][f"jumba warm {k} (s)"] = float(np.median([w[k] for w in warm]))
        else:
            runs_ = [_fresh_process(lib, cache) for _ in range(runs)]
            results["latency"][f"{lib} first (s)"] = float(np.median([r["first"] for r in runs_]))


# ----------------------------------------------------------------------- (e)

def bench_per_example(libs, results):
    rng = np.random.default_rng(2)
    w_np = rng.standard_normal(100).astype(np.float32) * 0.1
    xs_np = rng.standard_normal((256, 100)).astype(np.float32)
    ys_np = (rng.random(256) > 0.5).astype(np.float32)
    results["per_example"] = {}
    for lib, (m, jnp) in libs.items():
        def loss(w, x, y, jnp=jnp):
            p = 1.0 / (1.0 + jnp.exp(-jnp.dot(x, w)))
            return -(y * jnp.log(p) + (1.0 - y) * jnp.log(1.0 - p))

        f = m.jit(m.vmap(m.grad(loss), in_axes=(None, 0, 0)))
        w, xs, ys = jnp.asarray(w_np), jnp.asarray(xs_np), jnp.asarray(ys_np)
        f = _compiled(lib, f, w, xs, ys)
        results["per_example"][f"{lib} (µs)"] = median_time(
            lambda: _ready(lib, f(w, xs, ys))) * 1e6


# ---------------------------------------------------------------------- report

TARGETS = [
    ("cube", "jumba (ms)", "jax (ms)", 0.35, "(a) cube ≤ 0.35× JAX"),
    ("mlp", "jumba (ms)", "jax (ms)", 0.8, "(b) MLP step ≤ 0.8× JAX"),
    ("dispatch", "jumba x+1 (µs)", "jax x+1 (µs)", 0.5, "(c) dispatch ≤ 0.5× JAX"),
    ("dispatch", "jumba dict10 (µs)", "jax dict10 (µs)", 0.7, "(c) dict of 10 ≤ 0.7× JAX"),
    ("latency", "jumba cold first (s)", "jax first (s)", 1.0,
     "(d) import + first call, empty cache ≤ 1.0× JAX"),
    ("latency", "jumba warm first (s)", "jax first (s)", 1.0,
     "(d) import + first call, warm cache ≤ 1.0× JAX"),
    ("latency", "jumba cold tier1 (s)", "jax first (s)", 2.5,
     "(d) import + time to tier 1, empty cache ≤ 2.5× JAX first call"),
    ("latency", "jumba warm tier1 (s)", "jax first (s)", 1.0,
     "(d) import + time to tier 1, warm cache ≤ 1.0× JAX first call"),
    ("per_example", "jumba (µs)", "jax (µs)", 1.0, "(e) jit(vmap(grad)) ≤ 1.0× JAX"),
]


def report(results) -> str:
    lines = ["| benchmark | measure | value |", "|---|---|---:|"]
    for bench, vals in results.items():
        for k, v in vals.items():
            lines.append(f"| {bench} | {k} | {v:.4g} |")
    lines += ["", "| target | jumba / JAX | verdict |", "|---|---:|---|"]
    for bench, jk, pk, limit, text in TARGETS:
        vals = results.get(bench, {})
        if jk in vals and pk in vals:
            r = vals[jk] / vals[pk]
            lines.append(f"| {text} | {r:.3f} | {'PASS' if r <= limit else 'FAIL'} |")
        else:
            lines.append(f"| {text} | – | not measured |")
    if "cube" in results and "jumba GB/s" in results["cube"]:
        frac = results["cube"]["jumba GB/s"] / results["cube"]["copy GB/s"]
        lines.append(f"| (a) cube ≥ 50% of copy bandwidth | {frac:.2f} of copy | "
                     f"{'PASS' if frac >= 0.5 else 'FAIL'} |")
    mlp = results.get("mlp", {})
    if "products (ms)" in mlp and "jax (ms)" in mlp:
        lines += ["", f"(b)'s floor: the step's eight products alone, by NumPy's BLAS, take "
                  f"{mlp['products (ms)'] / mlp['jax (ms)']:.3f}× JAX's whole step (Jumba's "
                  f"step: {mlp['jumba (ms)'] / mlp['products (ms)']:.2f}× the products). "
                  "Above 0.8, no step computing them with this BLAS can meet (b)."]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="record in benchmarks/RESULTS.md")
    ap.add_argument("--only", nargs="*", help="subset: cube mlp dispatch latency per_example")
    args = ap.parse_args()
    libs = _libs()
    results: dict = {}
    benches = {"cube": bench_cube, "mlp": bench_mlp, "dispatch": bench_dispatch,
               "per_example": bench_per_example, "latency": bench_latency}
    for name, fn in benches.items():
        if not args.only or name in args.only:
            print(f"running {name} ...", file=sys.stderr)
            fn(libs, results)
    text = environment_header(" ".join(sys.argv)) + "\n\n" + report(results)
    print(text)
    if args.write:
        write_section(SECTION, text)
        verdicts = []
        for bench, jk, pk, limit, wording in TARGETS:
            vals = results.get(bench, {})
            verdicts.append({"issue": 3, "target": wording, "limit": limit,
                             "ratio": vals[jk] / vals[pk] if jk in vals and pk in vals
                             else None})
        if "cube" in results and "jumba GB/s" in results["cube"]:
            verdicts.append({"issue": 3, "target": "(a) cube ≥ 50% of copy bandwidth",
                             "limit": 0.5, "higher_is_better": True,
                             "ratio": results["cube"]["jumba GB/s"]
                             / results["cube"]["copy GB/s"]})
        record_verdicts(__file__, verdicts)


if __name__ == "__main__":
    main()
