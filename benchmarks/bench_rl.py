"""jumba_rl (issue 11): the jitted, vmapped PPO rollout on CartPole and a whole PPO iteration,
Jumba beside JAX + Optax running the same code.

    benchmarks/.venv/bin/python benchmarks/bench_rl.py            # print
    benchmarks/.venv/bin/python benchmarks/bench_rl.py --write    # + RESULTS.md
    benchmarks/.venv/bin/python benchmarks/bench_rl.py --envs 16 --steps 8 --repeat 1  # smoke

One source, two libraries: every function below is written against a namespace ``B``
(``B.jnp``, ``B.random``, ``B.lax``, ``B.jit``, ``B.vmap``, ``B.optim`` = jumba_optim or
optax, ...), so Jumba and JAX run identical code. The environment is CartPole-v1 with
Gymnasium's equations and automatic reset (the same as ``jumba_rl.envs.CartPole``; Jumba is
also timed on that library environment). The policy is an MLP 4-64-64-2 (tanh) with a
4-64-64-1 critic. Measured:

- rollout: ``--steps`` steps of ``--envs`` vmapped environments under one jit with
  ``lax.scan`` (policy forward, categorical sampling, env step): environment steps per
  second (higher is better). Target: Jumba >= 1.0x JAX.
- PPO iteration: rollout + GAE + 4 epochs of 4 shuffled minibatch updates (clipped
  surrogate, clipped value loss, entropy bonus, Adam with global-norm clipping), one
  jit: seconds per iteration (lower is better). Target: Jumba <= 1.0x JAX.

Jumba's functions are compiled in the foreground (``.lower(...).compile()``) before timing.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    environment_header,
    interleaved_median,
    record_verdicts,
    write_section,
)

SECTION = "## jumba_rl: PPO rollout and iteration on CartPole (issue 11)"


def backend(name: str):
    """The namespace of one library."""
    if name == "jax":
        import jax
        import jax.numpy as jnp
        import optax
        return types.SimpleNamespace(name="jax", jnp=jnp, random=jax.random, lax=jax.lax,
                                     jit=jax.jit, vmap=jax.vmap, nn=jax.nn,
                                     value_and_grad=jax.value_and_grad,
                                     tree_map=jax.tree_util.tree_map, optim=optax,
                                     block=jax.block_until_ready)
    import jumba
    import jumba.numpy as jnp
    import jumba_optim
    return types.SimpleNamespace(name="jumba", jnp=jnp, random=jumba.random, lax=jumba.lax,
                                 jit=jumba.jit, vmap=jumba.vmap, nn=jumba.nn,
                                 value_and_grad=jumba.value_and_grad,
                                 tree_map=jumba.tree_util.tree_map, optim=jumba_optim,
                                 block=jumba.block_until_ready)


# --------------------------------------------------------------------------------------
# The shared code
# --------------------------------------------------------------------------------------
def cartpole(B):
    """CartPole-v1 (Gymnasium's equations) with automatic reset: ``reset``, ``step``."""
    jnp, jr = B.jnp, B.random
    g, mc, mp, half_len, force_mag, tau = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02
    theta_max, x_max = 12 * 2 * math.pi / 360, 2.4

    def reset(key):
        key, sub = jr.split(key)
        s = jr.uniform(sub, (4,), minval=-0.05, maxval=0.05)
        return (s, jnp.zeros((), jnp.int32), key), s

    def step(state, action):
        s, t, key = state
        x, x_dot, theta, theta_dot = s[0], s[1], s[2], s[3]
        force = jnp.where(action == 1, force_mag, -force_mag)
        cos, sin = jnp.cos(theta), jnp.sin(theta)
        temp = (force + mp * half_len * theta_dot**2 * sin) / (mc + mp)
        theta_acc = (g * sin - cos * temp) / (half_len * (4.0 / 3.0 - mp * cos**2 / (mc + mp)))
        x_acc = temp - mp * half_len * theta_acc * cos / (mc + mp)
        s = jnp.stack([x + tau * x_dot, x_dot + tau * x_acc, theta + tau * theta_dot,
                       theta_dot + tau * theta_acc])
        t = t + 1
        done = (jnp.abs(s[0]) > x_max) | (jnp.abs(s[2]) > theta_max) | (t >= 500)
        (s0, t0, key), _ = reset(key)
        s = jnp.where(done, s0, s)
        return (s, jnp.where(done, t0, t), key), s, jnp.ones((), jnp.float32), done

    return reset, step


def init_params(B, key, hidden=64):
    jnp, jr = B.jnp, B.random

    def mlp(key, sizes):
        keys = jr.split(key, len(sizes) - 1)
        return {f"w{i}": jr.normal(k, (a, b)) * (1.0 / math.sqrt(a))
                for i, (k, a, b) in enumerate(zip(keys, sizes[:-1], sizes[1:]))} | \
               {f"b{i}": jnp.zeros((b,), jnp.float32) for i, b in enumerate(sizes[1:])}

    ka, kc = jr.split(key)
    return {"actor": mlp(ka, [4, hidden, hidden, 2]), "critic": mlp(kc, [4, hidden, hidden, 1])}


def mlp_apply(B, p, x):
    for i in range(len(p) // 2):
        x = x @ p[f"w{i}"] + p[f"b{i}"]
        if i < len(p) // 2 - 1:
            x = B.jnp.tanh(x)
    return x


def make_rollout(B, env_reset, env_step, num_envs, num_steps):
    jnp, jr = B.jnp, B.random

    def rollout(params, env_state, obs, key):
        def step(carry, _):
            env_state, obs, key = carry
            key, k_act = jr.split(key)
            logits = mlp_apply(B, params["actor"], obs)
            action = jr.categorical(k_act, logits)
            logp = jnp.take_along_axis(B.nn.log_softmax(logits), action[:, None], 1)[:, 0]
            value = mlp_apply(B, params["critic"], obs)[:, 0]
            env_state, next_obs, reward, done = B.vmap(env_step)(env_state, action)
            return (env_state, next_obs, key), (obs, action, logp, value, reward, done)

        return B.lax.scan(step, (env_state, obs, key), None, length=num_steps)

    def start(key):
        return B.vmap(env_reset)(jr.split(key, num_envs))

    return rollout, start


def make_iteration(B, rollout, num_envs, num_steps, epochs=4, minibatches=4, gamma=0.99,
                   lam=0.95, clip=0.2):
    jnp, jr = B.jnp, B.random
    batch = num_envs * num_steps
    mb = batch // minibatches
    tx = B.optim.chain(B.optim.clip_by_global_norm(0.5), B.optim.adam(2.5e-4, eps=1e-5))

    def gae(rewards, values, dones):
        discounts = gamma * (1.0 - dones.astype(jnp.float32))
        deltas = rewards + discounts * values[1:] - values[:-1]

        def back(acc, xs):
            d, disc = xs
            acc = d + disc * lam * acc
            return acc, acc

        return B.lax.scan(back, jnp.zeros_like(deltas[0]), (deltas, discounts), reverse=True)[1]

    def loss_fn(params, data):
        obs, action, old_logp, old_value, adv, target = data
        log_probs = B.nn.log_softmax(mlp_apply(B, params["actor"], obs))
        logp = jnp.take_along_axis(log_probs, action[:, None], 1)[:, 0]
        ratio = jnp.exp(logp - old_logp)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        pg = -jnp.mean(jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - clip, 1 + clip) * adv))
        value = mlp_apply(B, params["critic"], obs)[:, 0]
        v_clip = old_value + jnp.clip(value - old_value, -clip, clip)
        v_loss = 0.5 * jnp.mean(jnp.maximum((value - target) ** 2, (v_clip - target) ** 2))
        entropy = -jnp.mean(jnp.sum(jnp.exp(log_probs) * log_probs, -1))
        return pg + 0.5 * v_loss - 0.01 * entropy

    def iteration(params, opt_state, env_state, obs, key):
        (env_state, obs, key), traj = rollout(params, env_state, obs, key)
        t_obs, t_act, t_logp, t_value, t_reward, t_done = traj
        last = mlp_apply(B, params["critic"], obs)[:, 0]
        adv = gae(t_reward, jnp.concatenate([t_value, last[None]], 0), t_done)
        data = B.tree_map(lambda x: x.reshape((batch, *x.shape[2:])),
                          (t_obs, t_act, t_logp, t_value, adv, adv + t_value))

        def update(carry, d):
            params, opt_state = carry
            _, grads = B.value_and_grad(loss_fn)(params, d)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (B.optim.apply_updates(params, updates), opt_state), None

        def epoch(carry, _):
            params, opt_state, key = carry
            key, k = jr.split(key)
            perm = jr.permutation(k, batch)
            mbs = B.tree_map(lambda x: x[perm].reshape((minibatches, mb, *x.shape[1:])), data)
            (params, opt_state), _ = B.lax.scan(update, (params, opt_state), mbs)
            return (params, opt_state, key), None

        (params, opt_state, key), _ = B.lax.scan(epoch, (params, opt_state, key), None,
                                                 length=epochs)
        return params, opt_state, env_state, obs, key

    return iteration, tx


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------
def _compiled(B, fn, *args):
    f = B.jit(fn)
    if B.name == "jumba":
        try:  # tier 1 before timing
            f.lower(*args).compile()
        except Exception as e:  # noqa: BLE001 -- report and time what runs
            print(f"jumba: foreground compile failed ({type(e).__name__}: {e}); timing as is",
                  file=sys.stderr)
    B.block(f(*args))
    return f


def programs(name, envs, steps, library_env=False, only=None):
    """The compiled rollout (and, on the benchmark's own environment, the whole iteration,
    unless `only` == "rollout") of one library, as argument-free callables that wait for
    their results."""
    B = backend(name)
    if library_env:
        from jumba_rl import envs as rl_envs
        env = rl_envs.make("CartPole-v1")
        reset, step = env.reset, (lambda s, a: env.step(s, a)[:4])
    else:
        reset, step = cartpole(B)
    rollout, start = make_rollout(B, reset, step, envs, steps)
    key = B.random.PRNGKey(0)
    params = init_params(B, key)
    env_state, obs = start(key)
    out = {}
    f = _compiled(B, rollout, params, env_state, obs, key)
    out["rollout"] = lambda: B.block(f(params, env_state, obs, key))
    if not library_env and only != "rollout":
        iteration, tx = make_iteration(B, rollout, envs, steps)
        opt_state = tx.init(params)
        g = _compiled(B, iteration, params, opt_state, env_state, obs, key)
        out["iteration"] = lambda: B.block(g(params, opt_state, env_state, obs, key))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="record in benchmarks/RESULTS.md")
    ap.add_argument("--envs", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=64, help="rollout length per iteration")
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--target", type=float, default=0.5, help="seconds per timed round")
    ap.add_argument("--only", choices=["rollout"], default=None,
                    help="time the rollouts alone (no PPO iteration: not recordable)")
    args = ap.parse_args()
    if args.only and args.write:
        ap.error("--only times part of the benchmark: run it without --write")
    load = os.getloadavg()[0]
    progs = {}
    for name, lib_env in (("jumba", False), ("jumba", True), ("jax", False)):
        label = name + (" (jumba_rl.envs.CartPole)" if lib_env else "")
        print(f"compiling {label} ...", file=sys.stderr)
        try:
            progs[label] = programs(name, args.envs, args.steps, lib_env, args.only)
        except ImportError as e:
            print(f"{label}: not installed ({e})", file=sys.stderr)
    # The libraries' programs timed in turn within every round (a shared machine: a change
    # of load hits all of them alike, so their ratios hold).
    print("timing ...", file=sys.stderr)
    results = {label: {} for label in progs}
    for what in ("rollout", "iteration"):
        calls = {label: p[what] for label, p in progs.items() if what in p}
        for label, t in interleaved_median(calls, args.repeat, args.target).items():
            if what == "rollout":
                results[label]["rollout_steps_per_s"] = args.envs * args.steps / t
            else:
                results[label]["iteration_s"] = t
    jumba, jax = results.get("jumba"), results.get("jax")
    rows = []
    for label, r in results.items():
        it = r.get("iteration_s")
        rows.append(f"| {label} | {r['rollout_steps_per_s']:,.0f} | "
                    f"{'' if it is None else f'{it * 1e3:.1f}'} |")
    r_roll = r_iter = None
    if jumba and jax:
        r_roll = jumba["rollout_steps_per_s"] / jax["rollout_steps_per_s"]
        if "iteration_s" in jumba:
            r_iter = jumba["iteration_s"] / jax["iteration_s"]
    verdict = (lambda ok: "PASS" if ok else "FAIL")
    text = "\n".join([
        environment_header(" ".join(["benchmarks/.venv/bin/python", *sys.argv])),
        "",
        f"{args.envs:,} vmapped CartPole-v1 environments, {args.steps}-step rollouts, policy "
        f"MLP 4-64-64-2 + critic 4-64-64-1; PPO iteration = rollout + GAE + 4 epochs x 4 "
        f"minibatches of {args.envs * args.steps // 4:,}. Median of {args.repeat} rounds, "
        "the libraries timed in turn within each round. "
        f"Load average (1 min) at start: {load:.1f} on {os.cpu_count()} cores (a shared "
        "machine: ratios vary with the load).",
        "",
        "| library | rollout env steps/s (higher is better) | PPO iteration ms (lower is better) |",
        "|---|---:|---:|",
        *rows,
        "",
        ("Targets: rollout steps/s jumba/JAX >= 1.0x: "
         f"{verdict(r_roll >= 1.0)} ({r_roll:.2f}x)"
         + ("" if r_iter is None else "; PPO iteration time jumba/JAX <= 1.0x: "
            f"{verdict(r_iter <= 1.0)} ({r_iter:.2f}x)")) if r_roll is not None else
        "Targets: not measured (JAX missing)",
    ])
    print(text)
    if args.write:
        write_section(SECTION, text)
        record_verdicts(__file__, [
            {"issue": 11, "target": "PPO rollout env steps/s >= 1.0x JAX", "limit": 1.0,
             "ratio": r_roll, "higher_is_better": True},
            {"issue": 11, "target": "PPO iteration time <= 1.0x JAX", "limit": 1.0,
             "ratio": r_iter}])


if __name__ == "__main__":
    main()
