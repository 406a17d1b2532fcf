"""Loops compiled to one numba function (issue 6, item 3): Jumba beside JAX in one run.

    benchmarks/.venv/bin/python benchmarks/bench_loops.py            # print
    benchmarks/.venv/bin/python benchmarks/bench_loops.py --write    # + RESULTS.md
    benchmarks/.venv/bin/python benchmarks/bench_loops.py --small    # tiny sizes: smoke test

Workloads (the acceptance list of issue 6):
(a) CartPole (the standard Gym equations, float32 state, a fixed linear policy, reset on
    failure) for 10,000 steps under jit(lax.scan); a hand-written numba loop is the floor;
(b) the same rollout vmapped over 1,024 environments for 1,000 steps;
(c) fori_loop of 1e6 iterations of a scalar update (the logistic map);
(d) reverse-mode gradient of a 1,000-step scan of a small RNN (hidden 64).
Each line also gives the compile latency: the first call for JAX; for Jumba the time to
build tier 1 (`jit(f).lower(...).compile()`, numba compiling the loop in the foreground)
with an empty kernel cache (a fresh JUMBA_CACHE_DIR) and again with the warm cache in a
new jitted function. Targets: (a) <= 0.8x JAX, (b), (c), (d) <= 1.0x JAX.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    environment_header,
    interleaved_median,
    record_verdicts,
    write_section,
)

SECTION = "## Loops compiled whole (issue 6)"


def _sizes(small: bool) -> dict:
    if small:
        return {"steps": 200, "envs": 16, "env_steps": 50, "fori": 10_000, "rnn_steps": 20,
                "hidden": 64}
    return {"steps": 10_000, "envs": 1024, "env_steps": 1000, "fori": 1_000_000,
            "rnn_steps": 1000, "hidden": 64}


def _workloads(m, sz):
    """The four programs written once against a JAX-like module `m` (jax or jumba)."""
    jnp, lax = m.numpy, m.lax

    def cartpole_step(state, _):
        x, x_dot, theta, theta_dot = state
        obs = jnp.stack([x, x_dot, theta, theta_dot])
        w = jnp.array([0.1, 0.5, 3.0, 1.0], jnp.float32)
        force = jnp.where(jnp.dot(w, obs) > 0, 10.0, -10.0)
        cos, sin = jnp.cos(theta), jnp.sin(theta)
        # gravity 9.8, cart 1.0 + pole 0.1 kg, half-length 0.5, tau 0.02 (Gym's CartPole)
        temp = (force + 0.05 * theta_dot**2 * sin) / 1.1
        theta_acc = (9.8 * sin - cos * temp) / (0.5 * (4.0 / 3.0 - 0.1 * cos**2 / 1.1))
        x_acc = temp - 0.05 * theta_acc * cos / 1.1
        new = (x + 0.02 * x_dot, x_dot + 0.02 * x_acc, theta + 0.02 * theta_dot,
               theta_dot + 0.02 * theta_acc)
        done = (jnp.abs(new[0]) > 2.4) | (jnp.abs(new[2]) > 12 * 2 * np.pi / 360)
        new = tuple(jnp.where(done, jnp.float32(0.01), v) for v in new)
        return new, 1.0 - done.astype(jnp.float32)

    def rollout(state):
        return lax.scan(cartpole_step, state, None, length=sz["steps"])

    def rollout_envs(state):
        return lax.scan(cartpole_step, state, None, length=sz["env_steps"])

    def fori(x):
        return lax.fori_loop(0, sz["fori"], lambda i, x: 3.7 * x * (1.0 - x), x)

    def rnn_loss(W, U, h0, xs):
        def cell(h, x):
            h = jnp.tanh(W @ h + U @ x)
            return h, h

        h, hs = lax.scan(cell, h0, xs)
        return jnp.sum(hs**2) + jnp.sum(h)

    return {
        "cartpole": (m.jit(rollout), rollout),
        "cartpole_vmap": (m.jit(m.vmap(rollout_envs)), None),
        "fori": (m.jit(fori), None),
        "rnn_grad": (m.jit(m.grad(rnn_loss, argnums=(0, 1))), None),
    }


def _inputs(sz):
    rng = np.random.default_rng(0)
    h = sz["hidden"]
    return {
        "cartpole": (tuple(np.float32(v) for v in (0.01, 0.0, 0.02, 0.0)),),
        "cartpole_vmap": (tuple(rng.uniform(-0.05, 0.05, sz["envs"]).astype(np.float32)
                                for _ in range(4)),),
        "fori": (np.float32(0.3),),
        "rnn_grad": ((rng.standard_normal((h, h)) * 0.5 / np.sqrt(h)).astype(np.float32),
                     (rng.standard_normal((h, h)) / np.sqrt(h)).astype(np.float32),
                     np.zeros(h, np.float32),
                     rng.standard_normal((sz["rnn_steps"], h)).astype(np.float32)),
    }


def bench_jumba(sz):
    import jumba

    inputs = _inputs(sz)
    # Arrays, not NumPy values, as a jumba program holds them (no conversion per call).
    inputs = jumba.tree_util.tree_map(jumba.numpy.asarray, inputs)
    out, calls, compile_cold, compile_warm = {}, {}, {}, {}
    for name, (f, _) in _workloads(jumba, sz).items():
        args = inputs[name]
        t0 = time.perf_counter()
        lowered = f.lower(*args).compile()
        compile_cold[name] = time.perf_counter() - t0
        assert "# loop_" in lowered.as_text(), f"{name}: the loop did not compile whole"
        # A new jitted function: traced again, its kernel loaded from the warm cache.
        f2 = _workloads(jumba, sz)[name][0]
        t0 = time.perf_counter()
        f2.lower(*args).compile()
        compile_warm[name] = time.perf_counter() - t0
        out[name] = jumba.block_until_ready(f(*args))
        calls[name] = lambda f=f, a=args: jumba.block_until_ready(f(*a))
    return calls, out, compile_cold, compile_warm


def bench_jax(sz):
    import jax

    inputs = jax.tree_util.tree_map(jax.numpy.asarray, _inputs(sz))
    out, calls, first = {}, {}, {}
    for name, (f, _) in _workloads(jax, sz).items():
        args = inputs[name]
        t0 = time.perf_counter()
        out[name] = jax.block_until_ready(f(*args))
        first[name] = time.perf_counter() - t0
        calls[name] = lambda f=f, a=args: jax.block_until_ready(f(*a))
    return calls, out, first


def bench_numba_floor(sz):
    """CartPole written by hand as a numba loop: the floor for (a). Plain numba: libm's
    sin and cos; divisions by constants written as products with the float32 reciprocal,
    which is how XLA (so JAX) and Jumba's jit round them, so all three compute the same."""
    import numba

    t0 = time.perf_counter()

    @numba.njit(nogil=True, error_model="numpy")
    def rollout(n, x, x_dot, theta, theta_dot, w, rewards):
        f32 = np.float32
        limit = f32(12 * 2 * np.pi / 360)
        inv = f32(1.0) / f32(1.1)
        for i in range(n):
            a = w[0] * x + w[1] * x_dot + w[2] * theta + w[3] * theta_dot
            force = f32(10.0) if a > 0 else f32(-10.0)
            cos, sin = np.cos(theta), np.sin(theta)
            temp = (force + f32(0.05) * (theta_dot * theta_dot) * sin) * inv
            theta_acc = (f32(9.8) * sin - cos * temp) / (
                f32(0.5) * (f32(4.0 / 3.0) - f32(0.1) * (cos * cos) * inv))
            x_acc = temp - f32(0.05) * theta_acc * cos * inv
            x, x_dot = x + f32(0.02) * x_dot, x_dot + f32(0.02) * x_acc
            theta, theta_dot = theta + f32(0.02) * theta_dot, theta_dot + f32(0.02) * theta_acc
            done = abs(x) > f32(2.4) or abs(theta) > limit
            if done:
                x = x_dot = theta = theta_dot = f32(0.01)
            rewards[i] = f32(0.0) if done else f32(1.0)
        return x, x_dot, theta, theta_dot

    w = np.array([0.1, 0.5, 3.0, 1.0], np.float32)
    f32 = np.float32
    args = (sz["steps"], f32(0.01), f32(0.0), f32(0.02), f32(0.0), w)

    def run():
        rewards = np.empty(sz["steps"], np.float32)
        return rollout(*args, rewards), rewards

    run()
    first = time.perf_counter() - t0
    return run, run(), first


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="record in benchmarks/RESULTS.md")
    ap.add_argument("--small", action="store_true", help="tiny sizes (checks the script)")
    args = ap.parse_args()
    sz = _sizes(args.small)
    # An empty kernel cache, so that the first compile is measured cold.
    os.environ["JUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="jumba-bench-loops-")
    calls_j, out_j, cold, warm = bench_jumba(sz)
    floor_call, out_floor, floor_first = bench_numba_floor(sz)
    try:
        calls_x, out_x, first_x = bench_jax(sz)
    except ImportError as e:
        calls_x, out_x, first_x = None, None, None
        print(f"JAX not available ({e}); run benchmarks/setup_env.sh", file=sys.stderr)
    # Each workload's programs timed in turn within every round (a shared machine: a change
    # of load hits all of them alike, so their ratio holds).
    t_j, t_x, t_floor = {}, ({} if calls_x else None), None
    for name in calls_j:
        calls = {"jumba": calls_j[name]}
        if calls_x:
            calls["jax"] = calls_x[name]
        if name == "cartpole":
            calls["floor"] = floor_call
        med = interleaved_median(calls, repeat=9)
        t_j[name] = med["jumba"]
        if calls_x:
            t_x[name] = med["jax"]
        t_floor = med.get("floor", t_floor)

    # Same programs: results agree (CartPole: the first rewards, before float rounding
    # differences can change a reset).
    np.testing.assert_array_equal(np.asarray(out_j["cartpole"][1])[:100], out_floor[1][:100])
    if out_x is not None:
        np.testing.assert_array_equal(np.asarray(out_j["cartpole"][1])[:100],
                                      np.asarray(out_x["cartpole"][1])[:100])
        np.testing.assert_allclose(np.asarray(out_j["fori"]), np.asarray(out_x["fori"]),
                                   atol=1.0)  # chaotic map: only the range is comparable
        for a, b in zip(out_j["rnn_grad"], out_x["rnn_grad"]):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-3, atol=2e-3)

    labels = {
        "cartpole": f"(a) CartPole {sz['steps']:,} steps, jit(scan)",
        "cartpole_vmap": f"(b) CartPole vmap {sz['envs']:,} envs x {sz['env_steps']:,} steps",
        "fori": f"(c) fori_loop {sz['fori']:,} scalar iterations",
        "rnn_grad": f"(d) grad of a {sz['rnn_steps']:,}-step RNN scan, hidden {sz['hidden']}",
    }
    limits = {"cartpole": 0.8, "cartpole_vmap": 1.0, "fori": 1.0, "rnn_grad": 1.0}
    rows, verdicts = [], []
    for name, label in labels.items():
        jx = f"{t_x[name] * 1e3:.3f}" if t_x else "-"
        ratio = t_j[name] / t_x[name] if t_x else None
        jx_first = f"{first_x[name]:.2f}" if first_x else "-"
        rows.append(f"| {label} | {t_j[name] * 1e3:.3f} | {jx} | "
                    f"{'-' if ratio is None else f'{ratio:.2f}x'} | {cold[name]:.2f} / "
                    f"{warm[name]:.2f} | {jx_first} |")
        verdicts.append({"issue": 6, "target": f"{label} ≤ {limits[name]}× JAX",
                         "ratio": ratio, "limit": limits[name]})
    rows.append(f"| (a) floor: hand-written numba loop | {t_floor * 1e3:.3f} | "
                f"{t_x['cartpole'] * 1e3:.3f} | "
                f"{t_floor / t_x['cartpole']:.2f}x | {floor_first:.2f} | - |"
                if t_x else f"| (a) floor: hand-written numba loop | {t_floor * 1e3:.3f} | - "
                f"| - | {floor_first:.2f} | - |")
    lines = [f"- {v['target']}: " + ("not measured" if v["ratio"] is None else
                                      f"{'PASS' if v['ratio'] <= v['limit'] else 'FAIL'} "
                                      f"({v['ratio']:.2f}x)") for v in verdicts]
    text = "\n".join([
        environment_header("benchmarks/.venv/bin/python benchmarks/bench_loops.py --write"),
        "",
        "Median of 9 interleaved rounds (Jumba, JAX and the floor timed in turn in each), "
        "ms per call (lower is better); Jumba on tier 1, each loop one "
        "numba function. Compile: Jumba's time to build tier 1 with an empty / a warm "
        "kernel cache; JAX's first call; the floor's numba compilation. 1-minute load "
        f"average at the end of the run: {os.getloadavg()[0]:.1f} (a shared 2-core "
        "machine: expect noise of +-30%).",
        "",
        "| workload | jumba ms | jax ms | jumba/jax | jumba compile s (cold / warm) | "
        "jax first call s |",
        "|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
        *lines,
    ])
    print(text)
    if args.write and not args.small:
        write_section(SECTION, text)
        record_verdicts(__file__, verdicts)


if __name__ == "__main__":
    main()
