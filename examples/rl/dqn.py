"""DQN on a jittable environment: replay buffer, target network, epsilon schedule, all in a jit.

    python examples/rl/dqn.py --steps 100000 --seed 0 --plot dqn.png

Deep Q-learning (Mnih et al. 2015): ``num_envs`` vmapped environment copies act
epsilon-greedily (epsilon decays linearly), transitions go into a ring-buffer replay memory
held as arrays, and after ``learning_starts`` steps every iteration takes one Adam step on
the Huber loss of Q-learning TD errors (``jumba_rl.q_learning`` or
``double_q_learning``, vmapped over a sampled minibatch)
against a target network that is copied from the online one every
``target_update_every`` env steps. Terminal transitions do not bootstrap; truncated ones
(the time limit) bootstrap from their final observation. ``chunk`` iterations run as one
``lax.scan`` inside one jit; the Python loop around the chunks only logs. The greedy
policy is evaluated every ``eval_every`` env steps; the run reports the best and the final
evaluation. Everything is seeded from ``--seed``.

Defaults for CartPole's 100k-step budget: 8 copies and one minibatch of 128 per iteration
(each transition replayed 16 times on average), a replay memory that keeps the whole run
(with a 20k-step memory, plain Q-learning targets and learning rate 5e-4, a run peaked at a
greedy return of 192 near 40k steps and then declined to about 100), double Q-learning
targets (``jumba_rl.double_q_learning``), a 256-256 ReLU network, learning rate 1e-3 and
epsilon decaying from 1 to 0.05 over the first 10k steps.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

import jumba
import jumba.numpy as jnp
import jumba.random as jr
import jumba_optim as optim
import jumba_rl as rl
from jumba_rl import envs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    Progress,
    ReturnLog,
    evaluate,
    mlp_apply,
    mlp_init,
    plot_curve,
)


@dataclasses.dataclass
class Config:
    env: str = "CartPole-v1"
    total_steps: int = 100_000
    num_envs: int = 8
    buffer_size: int = 100_000
    batch_size: int = 128
    lr: float = 1e-3
    gamma: float = 0.99
    eps_start: float = 1.0
    eps_end: float = 0.05
    eps_decay_steps: int = 10_000
    learning_starts: int = 1_000
    target_update_every: int = 1_000  # env steps
    double_q: bool = True  # van Hasselt et al. 2016: the online net picks the target action
    hidden: int = 256
    chunk: int = 250  # iterations (of num_envs steps) per jitted call
    eval_every: int = 2_000  # = one chunk at the defaults: the greedy return swings a lot


def make_agent(config: Config):
    """The environment, Q-network and the jitted ``init``/``run_chunk`` functions."""
    env = envs.make(config.env)
    if not isinstance(env.action_space, envs.Discrete):
        raise ValueError(f"dqn.py handles discrete actions; {config.env} has "
                         f"{env.action_space}.")
    n_obs, n_act = env.observation_space.shape[0], env.action_space.n
    n, cap = config.num_envs, config.buffer_size
    tx = optim.adam(config.lr)
    target_every = max(1, config.target_update_every // n)  # in iterations

    def q_fn(params, obs):
        return mlp_apply(params, obs, activation=jumba.nn.relu)

    def epsilon(env_steps):
        frac = jnp.clip(env_steps / config.eps_decay_steps, 0.0, 1.0)
        return config.eps_start + frac * (config.eps_end - config.eps_start)

    def init(key):
        k_params, k_env, k_run = jr.split(key, 3)
        params = mlp_init(k_params, [n_obs, config.hidden, config.hidden, n_act])
        env_state, obs = jumba.vmap(env.reset)(jr.split(k_env, n))
        buffer = {"obs": jnp.zeros((cap, n_obs), jnp.float32),
                  "action": jnp.zeros((cap,), jnp.int32),
                  "reward": jnp.zeros((cap,), jnp.float32),
                  "next_obs": jnp.zeros((cap, n_obs), jnp.float32),
                  "discount": jnp.zeros((cap,), jnp.float32),
                  "pos": jnp.zeros((), jnp.int32), "size": jnp.zeros((), jnp.int32)}
        return {"params": params, "target": params, "opt_state": tx.init(params),
                "buffer": buffer, "env_state": env_state, "obs": obs, "key": k_run,
                "iteration": jnp.zeros((), jnp.int32)}

    def loss_fn(params, target, batch):
        q_tm1 = q_fn(params, batch["obs"])
        q_t = q_fn(target, batch["next_obs"])
        args = (q_tm1, batch["action"], batch["reward"], batch["discount"], q_t)
        if config.double_q:
            td = jumba.vmap(rl.double_q_learning)(*args, q_fn(params, batch["next_obs"]))
        else:
            td = jumba.vmap(rl.q_learning)(*args)
        return jnp.mean(rl.huber_loss(td))

    def learn(carry, key):
        params, target, opt_state, buffer = carry
        # One uniform draw scaled to the filled part of the buffer (randint costs two
        # Threefry calls, and the loop body is dominated by them).
        u = jr.uniform(key, (config.batch_size,))
        idx = jnp.minimum((u * buffer["size"]).astype(jnp.int32), buffer["size"] - 1)
        batch = {k: buffer[k][idx] for k in ("obs", "action", "reward", "next_obs", "discount")}
        loss, grads = jumba.value_and_grad(loss_fn)(params, target, batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss

    def iteration(s, _):
        key, k_act, k_learn = jr.split(s["key"], 3)
        env_steps = s["iteration"] * n
        q = q_fn(s["params"], s["obs"])
        u = jr.uniform(k_act, (2, n))  # explore?, and which random action
        random_action = jnp.minimum((u[1] * n_act).astype(jnp.int32), n_act - 1)
        action = jnp.where(u[0] < epsilon(env_steps), random_action,
                           jnp.argmax(q, -1)).astype(jnp.int32)
        env_state, obs, reward, done, info = jumba.vmap(env.step)(s["env_state"], action)

        buf = dict(s["buffer"])
        rows = (buf["pos"] + jnp.arange(n)) % cap
        discount = config.gamma * (1.0 - info["terminated"].astype(jnp.float32))
        for name, value in (("obs", s["obs"]), ("action", action), ("reward", reward),
                            ("next_obs", info["final_observation"]), ("discount", discount)):
            buf[name] = buf[name].at[rows].set(value)
        buf["pos"] = (buf["pos"] + n) % cap
        buf["size"] = jnp.minimum(buf["size"] + n, cap)

        params, opt_state, loss = jumba.lax.cond(
            env_steps >= config.learning_starts,
            lambda c: learn(c, k_learn),
            lambda c: (c[0], c[2], jnp.zeros((), jnp.float32)),
            (s["params"], s["target"], s["opt_state"], buf))
        it = s["iteration"] + 1
        copy = it % target_every == 0
        target = jumba.tree_util.tree_map(lambda p, t: jnp.where(copy, p, t),
                                          params, s["target"])
        new = {"params": params, "target": target, "opt_state": opt_state, "buffer": buf,
               "env_state": env_state, "obs": obs, "key": key, "iteration": it}
        return new, (info["episode_return"], done, loss)

    def run_chunk(s):
        return jumba.lax.scan(iteration, s, None, length=config.chunk)

    return env, jumba.jit(init), jumba.jit(run_chunk), q_fn


def train(config: Config, seed: int = 0, progress: bool = True) -> dict:
    """Train DQN; returns the learning curve, the evaluations and the wall time."""
    start = time.perf_counter()
    env, init, run_chunk, q_fn = make_agent(config)
    key_train, key_eval = jr.split(jr.PRNGKey(seed))
    state = init(key_train)
    per_chunk = config.chunk * config.num_envs
    num_chunks = max(1, config.total_steps // per_chunk)  # whole chunks within the budget
    log, evals = ReturnLog(), []
    bar = Progress(num_chunks * per_chunk, f"DQN {config.env}", progress)

    def greedy(p, o):
        return jnp.argmax(q_fn(p, o))

    steps, next_eval = 0, config.eval_every
    for i in range(num_chunks):
        state, (returns, dones, losses) = run_chunk(state)
        steps += per_chunk
        log.add_masked(steps, returns, dones)
        bar.update(per_chunk, log.recent_mean())
        if steps >= next_eval or i == num_chunks - 1:
            next_eval += config.eval_every
            key_eval, k = jr.split(key_eval)
            evals.append((steps, evaluate(env, greedy, state["params"], k)))
            bar.note(f"step {steps:,}: greedy evaluation {evals[-1][1]:.1f}")
    bar.close()
    return {"log": log, "evals": evals, "eval_return": evals[-1][1],
            "best_eval_return": max(r for _, r in evals), "steps": steps,
            "params": state["params"], "last_loss": float(np.mean(np.asarray(losses))),
            "wall_time": time.perf_counter() - start}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default=Config.env)
    ap.add_argument("--steps", type=int, default=Config.total_steps, help="env-step budget")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--num-envs", type=int, default=Config.num_envs)
    ap.add_argument("--plot", metavar="PNG", help="save the learning curve (needs matplotlib)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    config = Config(env=args.env, total_steps=args.steps, num_envs=args.num_envs,
                    eval_every=min(Config.eval_every, args.steps))
    result = train(config, args.seed, progress=not args.quiet)
    log = result["log"]
    print(f"DQN {config.env} seed {args.seed}: {result['steps']:,} env steps, "
          f"{len(log.returns)} episodes, mean return of the last {log.window}: "
          f"{log.recent_mean() if log.returns else float('nan'):.1f}, greedy evaluation: "
          f"final {result['eval_return']:.1f}, best {result['best_eval_return']:.1f}, "
          f"wall time {result['wall_time']:.1f} s")
    if args.plot and plot_curve(log, args.plot, f"DQN {config.env} (seed {args.seed})"):
        print(f"learning curve: {args.plot}")
    return result


if __name__ == "__main__":
    main()
