"""PPO on a jittable environment: vmapped envs, and the whole rollout + update under one jit.

    python examples/rl/ppo.py --steps 500000 --seed 0 --plot ppo.png

Each iteration (one call of a jitted function) collects ``num_steps`` steps from
``num_envs`` vmapped copies of the environment with ``lax.scan``, computes GAE advantages
(``jumba_rl.truncated_generalized_advantage_estimation``, vmapped over the copies), and
runs ``epochs`` passes of shuffled minibatch updates of PPO's clipped surrogate loss
(Schulman et al. 2017) with Adam, all inside the same jit (scans over epochs and
minibatches). Separate actor and critic MLPs (tanh, orthogonal initialisation).
Truncated episodes (the time limit) are bootstrapped from the value of their final
observation. Everything is seeded from ``--seed``: two runs with the same seed give the
same numbers. The defaults are PureJaxRL's CartPole configuration with larger iterations
(32 x 64 steps instead of 4 x 128, minibatches of 512, learning rate 1e-3 instead of
2.5e-4): a quarter of the iterations for the same number of env steps, since a loop
iteration, not an environment copy, is what costs time.
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
    total_steps: int = 500_000
    num_envs: int = 32
    num_steps: int = 64
    epochs: int = 4
    minibatches: int = 4
    lr: float = 1e-3
    anneal_lr: bool = True
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden: int = 64


def make_agent(config: Config):
    """The environment, network functions, optimizer and jitted ``init``/``update`` of PPO."""
    env = envs.make(config.env)
    if not isinstance(env.action_space, envs.Discrete):
        raise ValueError(f"ppo.py handles discrete actions; {config.env} has "
                         f"{env.action_space}.")
    n_obs, n_act = env.observation_space.shape[0], env.action_space.n
    batch = config.num_envs * config.num_steps
    if batch % config.minibatches:
        raise ValueError(f"num_envs * num_steps = {batch} must divide into "
                         f"{config.minibatches} minibatches.")
    mb_size = batch // config.minibatches
    num_updates = max(1, config.total_steps // batch)

    def schedule(count):  # linear decay over the updates, as PureJaxRL
        frac = 1.0 - (count // (config.minibatches * config.epochs)) / num_updates
        return config.lr * frac

    tx = optim.chain(optim.clip_by_global_norm(config.max_grad_norm),
                     optim.adam(schedule if config.anneal_lr else config.lr, eps=1e-5))

    def init_params(key):
        ka, kc = jr.split(key)
        h = config.hidden
        sqrt2 = float(np.sqrt(2.0))
        return {"actor": mlp_init(ka, [n_obs, h, h, n_act], [sqrt2, sqrt2, 0.01]),
                "critic": mlp_init(kc, [n_obs, h, h, 1], [sqrt2, sqrt2, 1.0])}

    def logits_fn(params, obs):
        return mlp_apply(params["actor"], obs)

    def value_fn(params, obs):
        return mlp_apply(params["critic"], obs)[..., 0]

    def init(key):
        k_params, k_env, k_run = jr.split(key, 3)
        params = init_params(k_params)
        env_state, obs = jumba.vmap(env.reset)(jr.split(k_env, config.num_envs))
        return (params, tx.init(params), env_state, obs, k_run)

    def rollout(params, env_state, obs, key):
        def step(carry, _):
            env_state, obs, key = carry
            key, k_act = jr.split(key)
            logits = logits_fn(params, obs)
            action = jr.categorical(k_act, logits)
            logp = jnp.take_along_axis(jumba.nn.log_softmax(logits), action[:, None], 1)[:, 0]
            value = value_fn(params, obs)
            env_state, next_obs, reward, done, info = jumba.vmap(env.step)(env_state, action)
            # A time limit is not a terminal state: bootstrap from the final observation.
            bootstrap = info["truncated"] & ~info["terminated"]
            reward = reward + jnp.where(
                bootstrap, config.gamma * value_fn(params, info["final_observation"]), 0.0)
            out = (obs, action, logp, value, reward, done, info["episode_return"])
            return (env_state, next_obs, key), out

        return jumba.lax.scan(step, (env_state, obs, key), None, length=config.num_steps)

    def loss_fn(params, mb):
        obs, action, old_logp, old_value, adv, target = mb
        logits = logits_fn(params, obs)
        log_probs = jumba.nn.log_softmax(logits)
        logp = jnp.take_along_axis(log_probs, action[:, None], 1)[:, 0]
        ratio = jnp.exp(logp - old_logp)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        pg_loss = rl.clipped_surrogate_pg_loss(ratio, adv, config.clip_eps)
        value = value_fn(params, obs)
        v_clipped = old_value + jnp.clip(value - old_value, -config.clip_eps, config.clip_eps)
        v_loss = 0.5 * jnp.mean(jnp.maximum((value - target) ** 2, (v_clipped - target) ** 2))
        entropy = -jnp.mean(jnp.sum(jnp.exp(log_probs) * log_probs, -1))
        total = pg_loss + config.vf_coef * v_loss - config.ent_coef * entropy
        return total, (pg_loss, v_loss, entropy)

    gae = jumba.vmap(rl.truncated_generalized_advantage_estimation,
                     in_axes=(1, 1, None, 1), out_axes=1)

    def update(runner):
        """One PPO iteration: rollout, GAE, epochs of minibatch updates."""
        params, opt_state, env_state, obs, key = runner
        (env_state, obs, key), traj = rollout(params, env_state, obs, key)
        t_obs, t_act, t_logp, t_value, t_reward, t_done, t_return = traj
        last_value = value_fn(params, obs)
        values = jnp.concatenate([t_value, last_value[None]], 0)
        discounts = config.gamma * (1.0 - t_done.astype(jnp.float32))
        advantages = gae(t_reward, discounts, config.gae_lambda, values)
        targets = advantages + t_value
        data = jumba.tree_util.tree_map(lambda x: x.reshape((batch, *x.shape[2:])),
                                        (t_obs, t_act, t_logp, t_value, advantages, targets))

        def minibatch_step(carry, mb):
            params, opt_state = carry
            (_, aux), grads = jumba.value_and_grad(loss_fn, has_aux=True)(params, mb)
            updates, opt_state = tx.update(grads, opt_state, params)
            return (optim.apply_updates(params, updates), opt_state), aux

        def epoch(carry, _):
            params, opt_state, key = carry
            key, k_perm = jr.split(key)
            perm = jr.permutation(k_perm, batch)
            mbs = jumba.tree_util.tree_map(
                lambda x: x[perm].reshape((config.minibatches, mb_size, *x.shape[1:])), data)
            (params, opt_state), aux = jumba.lax.scan(minibatch_step, (params, opt_state), mbs)
            return (params, opt_state, key), aux

        (params, opt_state, key), aux = jumba.lax.scan(epoch, (params, opt_state, key), None,
                                                       length=config.epochs)
        metrics = {"episode_return": t_return, "done": t_done,
                   "loss": jumba.tree_util.tree_map(jnp.mean, aux)}
        return (params, opt_state, env_state, obs, key), metrics

    return env, jumba.jit(init), jumba.jit(update), logits_fn, num_updates


def train(config: Config, seed: int = 0, progress: bool = True) -> dict:
    """Train PPO; returns the learning curve, a greedy evaluation and the wall time."""
    start = time.perf_counter()
    env, init, update, logits_fn, num_updates = make_agent(config)
    key_train, key_eval = jr.split(jr.PRNGKey(seed))
    runner = init(key_train)
    log = ReturnLog()
    bar = Progress(num_updates * config.num_envs * config.num_steps, f"PPO {config.env}",
                   progress)
    # Compiled before the first iteration, not in the background: then every iteration
    # runs the same compiled program, and a seed gives the same run every time (tier 0
    # and tier 1 may differ in the last bit, and RL training amplifies such differences).
    t0 = time.perf_counter()
    update.lower(runner).compile()
    bar.note(f"compiled the PPO iteration in {time.perf_counter() - t0:.1f} s "
             "(cached on disk for the next run)")
    steps = 0
    for _ in range(num_updates):
        runner, metrics = update(runner)
        steps += config.num_envs * config.num_steps
        log.add_masked(steps, metrics["episode_return"], metrics["done"])
        bar.update(config.num_envs * config.num_steps, log.recent_mean())
    bar.close()
    params = runner[0]
    eval_return = evaluate(env, lambda p, o: jnp.argmax(logits_fn(p, o)), params, key_eval)
    losses = {k: float(v) for k, v in zip(("pg", "value", "entropy"), metrics["loss"])}
    return {"log": log, "eval_return": eval_return, "steps": steps, "params": params,
            "wall_time": time.perf_counter() - start, "last_losses": losses}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default=Config.env)
    ap.add_argument("--steps", type=int, default=Config.total_steps, help="env-step budget")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--num-envs", type=int, default=Config.num_envs)
    ap.add_argument("--num-steps", type=int, default=Config.num_steps,
                    help="rollout length per environment and iteration")
    ap.add_argument("--plot", metavar="PNG", help="save the learning curve (needs matplotlib)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    config = Config(env=args.env, total_steps=args.steps, num_envs=args.num_envs,
                    num_steps=args.num_steps)
    result = train(config, args.seed, progress=not args.quiet)
    log = result["log"]
    print(f"PPO {config.env} seed {args.seed}: {result['steps']:,} env steps, "
          f"{len(log.returns)} episodes, mean return of the last {log.window}: "
          f"{log.recent_mean() if log.returns else float('nan'):.1f}, greedy evaluation: "
          f"{result['eval_return']:.1f}, wall time {result['wall_time']:.1f} s")
    if args.plot and plot_curve(log, args.plot, f"PPO {config.env} (seed {args.seed})"):
        print(f"learning curve: {args.plot}")
    return result


if __name__ == "__main__":
    main()
