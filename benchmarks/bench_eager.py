"""Eager per-op cost, eager grad and jit dispatch: Jumba beside its peers.

Every library is measured in the same run and the table reports ratios, since
the machines are shared and noisy. A library that cannot be imported is
skipped, Jumba included.

    benchmarks/.venv/bin/python benchmarks/bench_eager.py            # print
    benchmarks/.venv/bin/python benchmarks/bench_eager.py --write    # + RESULTS.md

Timing is timeit-style: for each callable a loop count is chosen so that one
repeat lasts about --target seconds, then --repeat rounds are run, each
timing every library in turn (interleaved, so that noise hits all alike), and
the median is reported in microseconds per call. JAX dispatches
asynchronously, so its timed calls end with block_until_ready(); the others
are synchronous and timed as plain calls.
"""

import argparse
import datetime
import importlib.metadata
import os
import platform
import shlex
import statistics
import sys
import timeit
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for _common

SECTION = "## Eager and dispatch (issue 2)"
RESULTS = Path(__file__).resolve().with_name("RESULTS.md")
RESULTS_TITLE = "# Jumba benchmark results"
SIZE = 10  # elements per array: these benchmarks measure overhead, not math

LABELS = {"numpy": "NumPy", "torch": "PyTorch", "autograd": "autograd",
          "jax": "JAX", "jumba": "Jumba"}
RATIOS = ("numpy", "jax", "autograd")  # jumba/<peer> columns

# (benchmark, peer, highest acceptable jumba/peer ratio, wording)
TARGETS = [
    ("add", "numpy", 3.0, "eager `x + y` ≤ 3× NumPy"),
    ("grad", "autograd", 1.0, "eager `grad(logistic)(1.0)` ≤ autograd"),
    ("jit", "jax", 0.5, "jit dispatch, one array ≤ 0.5× JAX"),
    ("jit_dict", "jax", 0.7, "jit dispatch, dict of 10 ≤ 0.7× JAX"),
]


# --------------------------------------------------------------- libraries

def load_libraries():
    """Import every library that can be imported.

    Returns (libs, skipped): name -> namespace of the modules a benchmark
    needs, and name -> why it was skipped.
    """
    def numpy_():
        return types.SimpleNamespace(np=np)

    def torch_():
        import torch
        return types.SimpleNamespace(torch=torch)

    def autograd_():
        import autograd
        import autograd.numpy
        return types.SimpleNamespace(np=autograd.numpy, grad=autograd.grad)

    def jax_():
        import jax
        import jax.numpy
        return types.SimpleNamespace(jax=jax, np=jax.numpy)

    def jumba_():
        import jumba
        import jumba.numpy
        return types.SimpleNamespace(jb=jumba, np=jumba.numpy)

    loaders = {"numpy": numpy_, "torch": torch_, "autograd": autograd_,
               "jax": jax_, "jumba": jumba_}
    libs, skipped = {}, {}
    for name, load in loaders.items():
        try:
            libs[name] = load()
        except ModuleNotFoundError as e:
            skipped[name] = ("not installed" if e.name == name
                             else f"import failed: {e}")
        except Exception as e:  # a half-written package must not stop the run
            skipped[name] = f"import failed: {type(e).__name__}: {e}"
    return libs, skipped


def version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


# ------------------------------------------------------------------ timing

def time_calls(fns, repeat, target):
    """Median µs per call of each zero-argument callable in `fns` (a dict)."""
    loops = {}
    for name, fn in fns.items():
        n, seconds = timeit.Timer(fn).autorange()  # calibrates and warms up
        loops[name] = max(1, round(n * target / seconds))
    samples = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            seconds = timeit.Timer(fn).timeit(loops[name])
            samples[name].append(seconds / loops[name])
    return {name: statistics.median(s) * 1e6 for name, s in samples.items()}


def run(cases, libs, skipped, repeat, target):
    """Build and time each library's case; lib -> µs, or lib -> str reason.

    `cases` maps a library name to a function that does the set-up (outside
    the timing) and returns the callable to time. The callable is called once
    before timing, which also compiles the jitted ones.
    """
    out, fns = {}, {}
    for name, build in cases.items():
        if name not in libs:
            out[name] = f"skipped: {skipped[name]}"
            continue
        try:
            fn = build(libs[name])
            fn()
            fns[name] = fn
        except Exception as e:
            out[name] = f"error: {type(e).__name__}: {e}"
    out.update(time_calls(fns, repeat, target))
    return out


# -------------------------------------------------------------- benchmarks

def arrays():
    """Two float32[SIZE] NumPy arrays."""
    x = np.linspace(0.0, 1.0, SIZE, dtype=np.float32)
    return x, x + np.float32(1.0)


def bench_add():
    """Eager `x + y` on two float32[10]."""
    a, b = arrays()

    def numpy_(lib):
        return lambda: a + b

    def torch_(lib):
        x, y = lib.torch.from_numpy(a), lib.torch.from_numpy(b)
        return lambda: x + y

    def jax_(lib):
        x, y = lib.jax.device_put(a), lib.jax.device_put(b)
        return lambda: (x + y).block_until_ready()

    def jumba_(lib):
        x, y = lib.np.asarray(a), lib.np.asarray(b)
        return lambda: x + y

    return {"numpy": numpy_, "torch": torch_, "jax": jax_, "jumba": jumba_}


def bench_grad():
    """Eager `grad(logistic)(1.0)`: every library builds the grad wrapper inside the
    timed call, alike (as the one-liner is written), and differentiates at a Python float.
    """
    def logistic_with(np_):
        def logistic(x):
            return np_.exp(x) / (np_.exp(x) + 1.0)
        return logistic

    def autograd_(lib):
        logistic = logistic_with(lib.np)
        return lambda: lib.grad(logistic)(1.0)

    def jax_(lib):
        logistic = logistic_with(lib.np)
        return lambda: lib.jax.grad(logistic)(1.0).block_until_ready()

    def jumba_(lib):
        logistic = logistic_with(lib.np)
        return lambda: lib.jb.grad(logistic)(1.0)

    return {"autograd": autograd_, "jax": jax_, "jumba": jumba_}


def bench_jit():
    """Warm dispatch of a jitted `x + 1` on float32[10]."""
    a, _ = arrays()

    def add_one(x):
        return x + 1

    def jax_(lib):
        f, x = lib.jax.jit(add_one), lib.jax.device_put(a)
        return lambda: f(x).block_until_ready()

    def jumba_(lib):
        f, x = lib.jb.jit(add_one), lib.np.asarray(a)
        return lambda: f(x)

    return {"jax": jax_, "jumba": jumba_}


def bench_jit_dict():
    """Warm dispatch of a jitted function adding 1 to each of 10 leaves."""
    a, _ = arrays()
    tree = {f"w{i}": a + np.float32(i) for i in range(10)}

    def add_one(d):
        return {k: v + 1 for k, v in d.items()}

    def jax_(lib):
        f = lib.jax.jit(add_one)
        d = lib.jax.device_put(tree)
        return lambda: lib.jax.block_until_ready(f(d))

    def jumba_(lib):
        f = lib.jb.jit(add_one)
        d = {k: lib.np.asarray(v) for k, v in tree.items()}
        return lambda: f(d)

    return {"jax": jax_, "jumba": jumba_}


BENCHMARKS = [
    ("add", "eager `x + y`, float32[10]", bench_add),
    ("grad", "eager `grad(logistic)(1.0)`, grad(...) built inside each timed call "
     "(all libraries)", bench_grad),
    ("jit", "jit dispatch `x + 1`, float32[10]", bench_jit),
    ("jit_dict", "jit dispatch, dict of 10 float32[10]", bench_jit_dict),
]


# --------------------------------------------------------------- reporting

def ratio(times, peer):
    j, p = times.get("jumba"), times.get(peer)
    if isinstance(j, float) and isinstance(p, float):
        return j / p
    return None


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f
                          if line.startswith("model name")), "")
    except OSError:
        pass
    model = model or platform.processor() or platform.machine()
    text = f"{model}, {os.cpu_count()} cores"
    blas = [f"{k}={os.environ[k]}" for k in
            ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ]
    return text + (f" ({', '.join(blas)})" if blas else "")


def header(skipped):
    now = datetime.datetime.now(datetime.UTC)
    dists = ["numpy", "jax", "jaxlib", "autograd", "torch", "jumba"]

    def state(d):
        if d not in skipped:
            return version(d)
        return "not installed" if skipped[d] == "not installed" else "not importable"

    versions = ", ".join(f"{d} {state(d)}" for d in dists
                         if version(d) or d in skipped)
    command = shlex.join([os.path.relpath(sys.executable), *sys.argv])
    return (f"{now:%Y-%m-%d %H:%M} UTC · {machine()} · "
            f"Python {platform.python_version()} · {versions} · "
            f"command: `{command}`")


def table(results):
    libs = [lib for lib in LABELS
            if any(lib in times for times in results.values())]
    cols = ([f"{LABELS[lib]} µs" for lib in libs]
            + [f"jumba/{peer}" for peer in RATIOS])
    lines = ["| benchmark | " + " | ".join(cols) + " |",
             "|---|" + "---:|" * len(cols)]
    notes = []
    for key, title, _ in BENCHMARKS:
        times = results[key]
        cells = []
        for lib in libs:
            t = times.get(lib)
            if t is None:
                cells.append("")
            elif isinstance(t, float):
                cells.append(f"{t:.2f}")
            else:
                cells.append(t.split(":", 1)[0])  # "skipped" or "error"
                if t.startswith("error"):
                    notes.append(f"- {title}, {LABELS[lib]}: {t}")
        for peer in RATIOS:
            r = ratio(times, peer)
            cells.append(f"{r:.2f}×" if r is not None else "")
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines + ([""] + notes if notes else []))


def verdict(results):
    lines = []
    for key, peer, limit, wording in TARGETS:
        r = ratio(results[key], peer)
        if r is None:
            why = results[key].get("jumba") or results[key].get(peer)
            status = f"not measured ({why})" if isinstance(why, str) else "not measured"
        else:
            status = f"{'PASS' if r <= limit else 'FAIL'} ({r:.2f}×)"
        lines.append(f"- {wording}: {status}")
    return "\n".join(lines)


def write_results(section):
    """Replace (or append) this benchmark's section of RESULTS.md."""
    text = RESULTS.read_text() if RESULTS.exists() else (
        f"{RESULTS_TITLE}\n\nEach section records the date, the machine, the "
        "exact command and the ratios of one benchmark run (see README.md).\n")
    lines = text.splitlines()
    if SECTION in lines:
        start = lines.index(SECTION)
        end = next((i for i in range(start + 1, len(lines))
                    if lines[i].startswith("## ")), len(lines))
        lines[start:end] = section.splitlines() + ([""] if end < len(lines) else [])
    else:
        lines += [""] + section.splitlines()
    RESULTS.write_text("\n".join(lines).rstrip("\n") + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true",
                        help=f"write the results to {RESULTS.name}")
    parser.add_argument("--repeat", type=int, default=7,
                        help="rounds of measurement (default 7)")
    parser.add_argument("--target", type=float, default=0.1,
                        help="seconds per timed repeat (default 0.1)")
    args = parser.parse_args()

    libs, skipped = load_libraries()
    for name, why in skipped.items():
        print(f"{LABELS[name]}: skipped: {why}", file=sys.stderr)

    results = {}
    for key, title, bench in BENCHMARKS:
        print(f"measuring {title} ...", file=sys.stderr, flush=True)
        results[key] = run(bench(), libs, skipped, args.repeat, args.target)

    section = "\n\n".join([
        SECTION,
        header(skipped),
        f"Median of {args.repeat} repeats of ~{args.target:g} s of loops each; "
        "µs per call (lower is better); ratios below 1× mean Jumba is faster.",
        table(results),
        "Targets:\n" + verdict(results),
    ])
    print(section)
    if args.write:
        write_results(section)
        from _common import record_verdicts

        record_verdicts(__file__, [
            {"issue": 2, "target": wording, "ratio": ratio(results[key], peer), "limit": limit}
            for key, peer, limit, wording in TARGETS])
        print(f"\nwritten to {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
