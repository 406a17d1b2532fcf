"""jnp.linalg.solve on a 512x512 system: Jumba beside JAX (and NumPy for scale).

    benchmarks/.venv/bin/python benchmarks/bench_linalg.py            # print
    benchmarks/.venv/bin/python benchmarks/bench_linalg.py --write    # + RESULTS.md

Both libraries solve through LU (getrf) and two triangular solves (trsm). Jumba runs LAPACK
with BLAS on one thread (see `_src/lax/linalg.py`); JAX and NumPy use their defaults. Each
case is timed in rounds that alternate between the libraries, so that the shared
machine's noise hits all alike; the median per call is reported.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    environment_header,
    interleaved_median,
    record_verdicts,
    write_section,
)

SECTION = "## linalg: solve 512×512 (issue 4)"
N = 512
TARGET = 1.2  # Jumba / JAX


def _cases():
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((N, N)) + np.sqrt(N) * np.eye(N)).astype(np.float32)
    bm = rng.standard_normal((N, N)).astype(np.float32)
    bv = bm[:, 0].copy()
    return a, bm, bv


def _libraries(a, bm, bv):
    fns = {}
    import jumba as jb
    import jumba.numpy as jnp

    ja, jbm, jbv = jnp.asarray(a), jnp.asarray(bm), jnp.asarray(bv)
    jit_solve = jb.jit(jnp.linalg.solve)
    fns["jumba"] = {
        "jit, b (512, 512)": lambda: jit_solve(ja, jbm).block_until_ready(),
        "jit, b (512,)": lambda: jit_solve(ja, jbv).block_until_ready(),
        "eager, b (512, 512)": lambda: jnp.linalg.solve(ja, jbm),
    }
    try:
        import jax
        import jax.numpy as xnp

        xa, xbm, xbv = xnp.asarray(a), xnp.asarray(bm), xnp.asarray(bv)
        x_solve = jax.jit(xnp.linalg.solve)
        fns["jax"] = {
            "jit, b (512, 512)": lambda: x_solve(xa, xbm).block_until_ready(),
            "jit, b (512,)": lambda: x_solve(xa, xbv).block_until_ready(),
            "eager, b (512, 512)": lambda: xnp.linalg.solve(xa, xbm).block_until_ready(),
        }
    except ImportError:
        pass
    fns["numpy"] = {
        "jit, b (512, 512)": lambda: np.linalg.solve(a, bm),
        "jit, b (512,)": lambda: np.linalg.solve(a, bv),
        "eager, b (512, 512)": lambda: np.linalg.solve(a, bm),
    }
    return fns


def measure(repeat: int, target: float):
    a, bm, bv = _cases()
    fns = _libraries(a, bm, bv)
    # Agreement first: a benchmark of a wrong answer measures nothing.
    ref = np.linalg.solve(a.astype(np.float64), bm.astype(np.float64))
    for lib, cases in fns.items():
        if lib != "numpy":
            out = np.asarray(cases["eager, b (512, 512)"]())
            err = np.max(np.abs(out - ref)) / np.max(np.abs(ref))
            assert err < 1e-3, f"{lib} solve disagrees with float64 NumPy (rel err {err:.2g})"
    calls = {(lib, case): fn for lib, cases in fns.items() for case, fn in cases.items()}
    for fn in calls.values():
        fn()  # warm-up (compilation), before the loop counts are calibrated
    # Interleaved: noise hits every library alike.
    medians = interleaved_median(calls, repeat, target)
    return {lib: {case: medians[lib, case] * 1e3 for case in cases}
            for lib, cases in fns.items()}


def report(times) -> str:
    libs = [lib for lib in ("numpy", "jax", "jumba") if lib in times]
    cases = list(times["jumba"])
    lines = ["| case | " + " | ".join(f"{lib} ms" for lib in libs) + " | jumba/jax |",
             "|---|" + "---:|" * (len(libs) + 1)]
    for case in cases:
        ratio = (f"{times['jumba'][case] / times['jax'][case]:.2f}×" if "jax" in times
                 else "")
        lines.append(f"| {case} | " + " | ".join(f"{times[lib][case]:.3f}" for lib in libs)
                     + f" | {ratio} |")
    if "jax" in times:
        r = times["jumba"]["jit, b (512, 512)"] / times["jax"]["jit, b (512, 512)"]
        verdict = "PASS" if r <= TARGET else "FAIL"
        lines += ["", f"Target: jit `solve` 512×512 ≤ {TARGET}× JAX: {verdict} ({r:.2f}×)"]
    lines += ["", "NumPy's rows run `np.linalg.solve` (gesv) in every case. Jumba keeps BLAS "
              "single-threaded for LAPACK calls; JAX and NumPy use their own threads, which "
              "cost them dearly when the shared machine is loaded."]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--target", type=float, default=0.2, help="seconds per round")
    args = parser.parse_args()
    times = measure(args.repeat, args.target)
    body = report(times)
    if os.environ.get("_BENCH_LINALG_CHILD"):
        print(body)
        return
    # The same run with every library's OpenBLAS on one thread (set before import, so it
    # needs a fresh process): the like-for-like comparison of the LAPACK work itself.
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", _BENCH_LINALG_CHILD="1")
    child = subprocess.run([sys.executable, __file__, "--repeat", str(args.repeat),
                            "--target", str(args.target)], env=env, capture_output=True,
                           text=True, check=True).stdout
    body = ("Default threading (each library as installed):\n\n" + body +
            "\n\nEvery library with `OPENBLAS_NUM_THREADS=1` (a separate process):\n\n"
            + child.split("\n\nNumPy's rows")[0].strip())
    command = "benchmarks/.venv/bin/python benchmarks/bench_linalg.py " + shlex.join(
        sys.argv[1:])
    text = environment_header(command.strip()) + "\n\n" + body
    print(text)
    if args.write:
        write_section(SECTION, text)
        key = "jit, b (512, 512)"
        record_verdicts(__file__, [
            {"issue": 4, "target": f"jit `solve` 512×512 ≤ {TARGET}× JAX", "limit": TARGET,
             "ratio": times["jumba"][key] / times["jax"][key] if "jax" in times else None}])


if __name__ == "__main__":
    main()
