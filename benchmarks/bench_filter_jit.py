"""jumba_pytree_models (issue 10): the per-call overhead of ``filter_jit`` against
``jumba.jit`` on the same small function of a module.

    python benchmarks/bench_filter_jit.py            # print
    python benchmarks/bench_filter_jit.py --write    # + RESULTS.md
    python benchmarks/bench_filter_jit.py --quick    # a few calls, to check it runs

The function is a 2-layer MLP forward pass on a 4-vector (tiny arrays, so the time is
almost all dispatch). Both wrappers run the same traced program on tier 0; the difference
is the wrapper's own work: flattening the module, splitting arrays from static leaves and
looking up the compiled program. Equinox's users measured 423 us for filter_jit against
53 us for jax.jit; the target here is filter_jit <= 1.5x jumba.jit.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import environment_header, interleaved_median, record_verdicts, write_section  # noqa: E402

SECTION = "## jumba_pytree_models: filter_jit overhead (issue 10)"


def _setup():
    os.environ.setdefault("JUMBA_COMPILE", "never")
    import jumba
    import jumba.numpy as jnp
    import jumba_pytree_models as eqx

    model = eqx.nn.MLP(4, 2, width_size=8, depth=2, key=jumba.random.PRNGKey(0))
    x = jnp.ones(4)

    def forward(model, x):
        return model(x)

    return jumba, eqx, model, x, forward


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="record in benchmarks/RESULTS.md")
    ap.add_argument("--quick", action="store_true", help="a few calls only (smoke test)")
    args = ap.parse_args()
    jumba, eqx, model, x, forward = _setup()
    # jumba.jit cannot take the model whole (its activation is a function, not an
    # array): the usual workaround is to pass the arrays and close over the rest.
    params, static = eqx.partition(model, eqx.is_array)
    plain = jumba.jit(lambda params, x: forward(eqx.combine(params, static), x))
    filtered = eqx.filter_jit(forward)
    a, b = plain(params, x), filtered(model, x)
    assert float(abs(a - b).max()) == 0.0
    if args.quick:
        for _ in range(3):
            plain(params, x)
            filtered(model, x)
        print("bench_filter_jit: ok (quick run, no timing)")
        return
    medians = interleaved_median({"plain": lambda: plain(params, x),
                                  "filtered": lambda: filtered(model, x)}, repeat=9)
    t_plain, t_filtered = medians["plain"], medians["filtered"]
    ratio = t_filtered / t_plain
    text = "\n".join([
        environment_header("python benchmarks/bench_filter_jit.py --write"),
        "",
        "One call of a jitted 2-layer MLP (4 -> 8 -> 8 -> 2) on a 4-vector: jumba.jit "
        "takes the model's arrays (partitioned once, outside the timing), filter_jit the "
        "whole model; median of 9 interleaved rounds, microseconds per call, tier 0. "
        f"1-minute load average: {os.getloadavg()[0]:.1f}.",
        "",
        "| wrapper | us per call |",
        "|---|---:|",
        f"| jumba.jit | {t_plain * 1e6:.1f} |",
        f"| eqx.filter_jit | {t_filtered * 1e6:.1f} |",
        "",
        f"Target filter_jit/jit <= 1.5x: {'PASS' if ratio <= 1.5 else 'FAIL'} "
        f"({ratio:.2f}x)",
    ])
    print(text)
    if args.write:
        write_section(SECTION, text)
        record_verdicts(__file__, [{"issue": 10, "target": "filter_jit call ≤ 1.5× jumba.jit",
                                    "ratio": ratio, "limit": 1.5}])


if __name__ == "__main__":
    main()
