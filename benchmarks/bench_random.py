"""jumba.random beside jax.random (issue 5): one run, reported as ratios.

    benchmarks/.venv/bin/python benchmarks/bench_random.py            # print
    benchmarks/.venv/bin/python benchmarks/bench_random.py --write    # + RESULTS.md

Times `jit(lambda k: random.normal(k, (1_000_000,)))` (and the uniform and 32-bit-bits
draws it is made of) on a warm, compiled function: JAX after its first call, Jumba on
tier 1 after `jf.lower(key).compile()`. Also checks that both give the same numbers.
Target: Jumba / JAX <= 1.0x for normal.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import environment_header, median_time, record_verdicts, write_section  # noqa: E402

SECTION = "## jumba.random (issue 5)"
N = 1_000_000
DRAWS = {
    "normal": lambda r: (lambda k: r.normal(k, (N,))),
    "uniform": lambda r: (lambda k: r.uniform(k, (N,))),
    "bits": lambda r: (lambda k: r.bits(k, (N,))),
}


def _libs():
    libs = {}
    try:
        import jax

        libs["jax"] = (jax, jax.random, jax.block_until_ready)
    except ImportError:
        pass
    import jumba

    libs["jumba"] = (jumba, jumba.random, lambda x: x)
    return libs


def bench(libs, repeat, target):
    rows, outs = {}, {}
    for name, make in DRAWS.items():
        for lib, (m, random, ready) in libs.items():
            key = random.PRNGKey(0)
            jf = m.jit(make(random))
            if lib == "jumba":
                jf.lower(key).compile()
            outs[(name, lib)] = np.asarray(ready(jf(key)))
            rows[(name, lib)] = median_time(lambda: ready(jf(key)), repeat, target)
    return rows, outs


def report(libs, rows, outs) -> str:
    lines = ["| draw (1e6 float32 / uint32) | JAX (ms) | Jumba (ms) | Jumba / JAX | same values |",
             "|---|---|---|---|---|"]
    verdicts = []
    for name in DRAWS:
        t_jb = rows[(name, "jumba")] * 1e3
        if "jax" in libs:
            t_jax = rows[(name, "jax")] * 1e3
            a, b = outs[(name, "jumba")], outs[(name, "jax")]
            if a.dtype.kind == "f":
                same = f"max abs diff {np.abs(a.astype(np.float64) - b).max():.1e}"
            else:
                same = "bit for bit" if np.array_equal(a, b) else "DIFFER"
            ratio = t_jb / t_jax
            lines.append(f"| {name} | {t_jax:.2f} | {t_jb:.2f} | {ratio:.2f}x | {same} |")
            if name == "normal":
                verdicts.append(f"normal: {ratio:.2f}x JAX (target <= 1.0x): "
                                f"{'met' if ratio <= 1.0 else 'NOT met'}")
        else:
            lines.append(f"| {name} | skipped: not installed | {t_jb:.2f} | - | - |")
    return "\n".join(lines) + "\n\n" + "\n".join(verdicts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="record in benchmarks/RESULTS.md")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--target", type=float, default=0.2)
    args = ap.parse_args()
    libs = _libs()
    rows, outs = bench(libs, args.repeat, args.target)
    text = environment_header(" ".join(["benchmarks/.venv/bin/python", *sys.argv])) + \
        "\n\n" + report(libs, rows, outs)
    print(text)
    if args.write:
        write_section(SECTION, text)
        ratio = (rows[("normal", "jumba")] / rows[("normal", "jax")] if "jax" in libs
                 else None)
        record_verdicts(__file__, [{"issue": 5, "target": "jit normal(1e6) ≤ 1.0× JAX",
                                    "ratio": ratio, "limit": 1.0}])


if __name__ == "__main__":
    main()
