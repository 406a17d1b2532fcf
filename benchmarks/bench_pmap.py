"""pmap on thread devices (issue 7): `pmap(lambda x: x @ x.T)` on two float32 matrices over
2 devices, beside the same two products one after the other on one core, and beside JAX's
pmap on 2 forced host devices.

    benchmarks/.venv/bin/python benchmarks/bench_pmap.py              # print
    benchmarks/.venv/bin/python benchmarks/bench_pmap.py --write      # + RESULTS.md
    benchmarks/.venv/bin/python benchmarks/bench_pmap.py --size 300   # a quick check

Sequential baseline: NumPy's matmul of each matrix with BLAS held to one thread
(threadpoolctl), i.e. one device doing both products. JAX runs in a subprocess with
`XLA_FLAGS=--xla_force_host_platform_device_count=2` (the flag must be set before JAX
starts). Targets: sequential / Jumba >= 1.7x (devices really run in parallel, each on one
core) and Jumba / JAX <= 1.0x.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

os.environ["JUMBA_NUM_CPU_DEVICES"] = "2"  # before jumba is imported

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    environment_header,
    interleaved_median,
    record_verdicts,
    write_section,
)

SECTION = "## pmap on thread devices (issue 7)"

JAX_PROGRAM = """
import json, sys, statistics, timeit
import numpy as np
import jax, jax.numpy as jnp
n = int(sys.argv[1])
x = np.random.default_rng(0).standard_normal((2, n, n), dtype=np.float32)
f = jax.pmap(lambda a: a @ a.T)
xs = jax.pmap(lambda a: a)(x)  # one matrix on each device
f(xs).block_until_ready()
t = timeit.Timer(lambda: f(xs).block_until_ready())
number, _ = t.autorange()
print(json.dumps({"seconds": statistics.median(v / number for v in t.repeat(5, number)),
                  "devices": jax.device_count(), "check": float(f(xs)[1, 0, 0])}))
"""


def bench_jumba_and_sequential(x):
    """(Jumba's pmap, the sequential baseline) seconds per call, timed in turn each round
    (the ratio between them is the target: one change of load hits both alike)."""
    from threadpoolctl import threadpool_limits

    import jumba as jb

    assert jb.local_device_count() == 2
    f = jb.pmap(lambda a: a @ a.T)
    xs = jb.device_put_sharded([x[0], x[1]], jb.devices()[:2])
    out = f(xs)
    np.testing.assert_allclose(np.asarray(out[1]), x[1] @ x[1].T, rtol=1e-4, atol=1e-2)

    def sequential():
        with threadpool_limits(1, user_api="blas"):
            np.matmul(x[0], x[0].T)
            np.matmul(x[1], x[1].T)

    t = interleaved_median({"jumba": lambda: f(xs).block_until_ready(),
                            "sequential": sequential}, repeat=7)
    return t["jumba"], t["sequential"]


def bench_jax(n):
    venv = Path(__file__).resolve().parent / ".venv" / "bin" / "python"
    python = str(venv) if venv.exists() else sys.executable
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    proc = subprocess.run([python, "-c", JAX_PROGRAM, str(n)], capture_output=True,
                          text=True, env=env, timeout=600)
    if proc.returncode != 0:
        print(f"JAX not measured: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2000, help="matrix size n (n x n)")
    ap.add_argument("--write", action="store_true", help="record in benchmarks/RESULTS.md")
    args = ap.parse_args()
    n = args.size
    x = np.random.default_rng(0).standard_normal((2, n, n), dtype=np.float32)
    t_jumba, t_seq = bench_jumba_and_sequential(x)
    t_jax = bench_jax(n)
    speedup = t_seq / t_jumba
    vs_jax = None if t_jax is None else t_jumba / t_jax
    rows = [f"| Jumba `pmap(lambda x: x @ x.T)`, 2 thread devices | {t_jumba * 1e3:.1f} |",
            f"| NumPy, the two products in sequence, BLAS on 1 thread | {t_seq * 1e3:.1f} |"]
    if t_jax is not None:
        rows.append(f"| JAX `pmap`, 2 forced host devices | {t_jax * 1e3:.1f} |")
    command = "benchmarks/.venv/bin/python benchmarks/bench_pmap.py" + \
        (f" --size {n}" if n != 2000 else "") + " --write"
    text = "\n".join([
        environment_header(command),
        "",
        f"Two float32[{n},{n}] matrices, one per device; each device computes x @ x.T. "
        f"Median of 7 rounds, Jumba and the sequential products timed in turn within each "
        f"round; ms per call (lower is better). 1-minute load average at the "
        f"end of the run: {os.getloadavg()[0]:.1f} (a shared 2-core machine: expect noise).",
        "",
        "| run | ms per call |",
        "|---|---:|",
        *rows,
        "",
        f"Target sequential / pmap >= 1.7x: {'PASS' if speedup >= 1.7 else 'FAIL'} "
        f"({speedup:.2f}x)",
        (f"Target jumba / JAX pmap <= 1.0x: {'PASS' if vs_jax <= 1.0 else 'FAIL'} "
         f"({vs_jax:.2f}x)" if vs_jax is not None else "Target jumba / JAX: not measured"),
    ])
    print(text)
    if args.write:
        write_section(SECTION, text)
        record_verdicts(__file__, [
            {"issue": 7, "target": "pmap x @ x.T on 2 devices ≥ 1.7× sequential on 1 core",
             "ratio": speedup, "limit": 1.7, "higher_is_better": True},
            {"issue": 7, "target": "pmap x @ x.T on 2 devices ≤ 1.0× JAX pmap",
             "ratio": vs_jax, "limit": 1.0}])


if __name__ == "__main__":
    main()
