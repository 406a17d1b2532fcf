"""A2C written as a Python loop: runs on jumba_rl's jittable envs or on any Gymnasium env.

    python examples/rl/a2c.py --steps 100000 --seed 0 --plot a2c.png
    python examples/rl/a2c.py --backend gymnasium --env LunarLander-v3   # any Gymnasium id

Advantage actor-critic (Mnih et al. 2016, synchronous): ``num_envs`` environment copies
each take ``num_steps`` steps with a jitted policy; then one jitted update takes an Adam
step on the policy-gradient loss with n-step advantages
(``jumba_rl.truncated_generalized_advantage_estimation`` with lambda 1), half the squared
error of the value estimate, and an entropy bonus. Unlike ``ppo.py`` and ``dqn.py`` the
environment loop is plain Python, so the environments can be
``jumba_rl.envs.GymnasiumEnv`` objects (``--backend gymnasium``), which are not jittable;
with ``--backend jumba`` (the default) the copies are stepped by one jitted, vmapped call.
Everything is seeded from ``--seed``.
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
    mlp_apply,
    mlp_init,
    plot_curve,
)


@dataclasses.dataclass
class Config:
    env: str = "CartPole-v1"
    backend: str = "jumba"  # or "gymnasium"
    total_steps: int = 100_000
    num_envs: int = 8
    num_steps: int = 16
    lr: float = 1e-3
    gamma: float = 0.99
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden: int = 64


class VectorEnv:
    """``num_envs`` copies behind one ``reset``/``step`` on stacked NumPy arrays."""

    def __init__(self, config: Config, key):
        n = config.num_envs
        if config.backend == "jumba":
            env = envs.make(config.env)
            self._step = jumba.jit(jumba.vmap(env.step))
            self.state, obs = jumba.vmap(env.reset)(jr.split(key, n))
            self.copies = [env]
        elif config.backend == "gymnasium":
            self.copies = [envs.GymnasiumEnv(config.env) for _ in range(n)]
            pairs = [e.reset(k) for e, k in zip(self.copies, jr.split(key, n))]
            self.state = [s for s, _ in pairs]
            obs = np.stack([o for _, o in pairs])
        else:
            raise ValueError(f"--backend must be 'jumba' or 'gymnasium', got {config.backend!r}")
        self.backend = config.backend
        self.obs = np.asarray(obs)
        self.observation_space = self.copies[0].observation_space
        self.action_space = self.copies[0].action_space

    def step(self, actions):
        """Step every copy; returns NumPy (obs, reward, done, info) with stacked info."""
        if self.backend == "jumba":
            self.state, obs, reward, done, info = self._step(self.state, jnp.asarray(actions))
            info = {k: np.asarray(v) for k, v in info.items()}
            obs, reward, done = np.asarray(obs), np.asarray(reward), np.asarray(done)
        else:
            outs = [e.step(s, a) for e, s, a in zip(self.copies, self.state, actions)]
            self.state = [o[0] for o in outs]
            obs, reward, done = (np.stack([o[i] for o in outs]) for i in (1, 2, 3))
            info = {k: np.stack([o[4][k] for o in outs]) for k in outs[0][4]}
        self.obs = obs
        return obs, reward, done, info


def make_agent(config: Config, n_obs: int, n_act: int):
    """Network functions, optimizer, and the jitted ``act`` and ``update``."""
    tx = optim.chain(optim.clip_by_global_norm(config.max_grad_norm), optim.adam(config.lr))

    def init_params(key):
        ka, kc = jr.split(key)
        h, sqrt2 = config.hidden, float(np.sqrt(2.0))
        return {"actor": mlp_init(ka, [n_obs, h, h, n_act], [sqrt2, sqrt2, 0.01]),
                "critic": mlp_init(kc, [n_obs, h, h, 1], [sqrt2, sqrt2, 1.0])}

    def value_fn(params, obs):
        return mlp_apply(params["critic"], obs)[..., 0]

    @jumba.jit
    def act(params, obs, key):
        return jr.categorical(key, mlp_apply(params["actor"], obs))

    def loss_fn(params, batch):
        obs, actions, rewards, discounts, final_obs, bootstrap, last_obs = batch
        values = value_fn(params, obs)  # [T, N]
        sg = jumba.lax.stop_gradient
        # Time-limit truncations bootstrap from the value of their final observation.
        rewards = rewards + jnp.where(bootstrap, config.gamma * sg(value_fn(params, final_obs)),
                                      0.0)
        all_values = jnp.concatenate([sg(values), sg(value_fn(params, last_obs))[None]], 0)
        adv = jumba.vmap(rl.truncated_generalized_advantage_estimation,
                         in_axes=(1, 1, None, 1), out_axes=1)(rewards, discounts, 1.0,
                                                              all_values)
        returns = adv + sg(values)
        log_probs = jumba.nn.log_softmax(mlp_apply(params["actor"], obs))
        logp = jnp.take_along_axis(log_probs, actions[..., None], -1)[..., 0]
        pg_loss = -jnp.mean(logp * sg(adv))
        v_loss = 0.5 * jnp.mean((returns - values) ** 2)
        entropy = -jnp.mean(jnp.sum(jnp.exp(log_probs) * log_probs, -1))
        return pg_loss + config.vf_coef * v_loss - config.ent_coef * entropy

    @jumba.jit
    def update(params, opt_state, batch):
        loss, grads = jumba.value_and_grad(loss_fn)(params, batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss

    return init_params, tx, act, update


def train(config: Config, seed: int = 0, progress: bool = True) -> dict:
    """Train A2C; returns the learning curve and the wall time."""
    start = time.perf_counter()
    k_env, k_params, key = jr.split(jr.PRNGKey(seed), 3)
    venv = VectorEnv(config, k_env)
    if not isinstance(venv.action_space, envs.Discrete):
        raise ValueError(f"a2c.py handles discrete actions; {config.env} has "
                         f"{venv.action_space}.")
    init_params, tx, act, update = make_agent(config, venv.observation_space.shape[0],
                                              venv.action_space.n)
    params = init_params(k_params)
    opt_state = tx.init(params)
    per_iter = config.num_envs * config.num_steps
    num_iters = max(1, config.total_steps // per_iter)
    log = ReturnLog()
    bar = Progress(num_iters * per_iter, f"A2C {config.env} ({config.backend})", progress)
    steps, losses = 0, []
    for _ in range(num_iters):
        traj = {k: [] for k in ("obs", "actions", "rewards", "discounts", "final_obs",
                                "bootstrap")}
        for _ in range(config.num_steps):
            key, k_act = jr.split(key)
            obs = venv.obs
            actions = np.asarray(act(params, jnp.asarray(obs), k_act))
            _, reward, done, info = venv.step(actions)
            steps += config.num_envs
            log.add_masked(steps, info["episode_return"], done)
            traj["obs"].append(obs)
            traj["actions"].append(actions)
            traj["rewards"].append(reward)
            traj["discounts"].append(config.gamma * (1.0 - info["terminated"]))
            traj["final_obs"].append(info["final_observation"])
            traj["bootstrap"].append(info["truncated"] & ~info["terminated"])
        batch = tuple(jnp.asarray(np.stack(traj[k]).astype(dt)) for k, dt in (
            ("obs", np.float32), ("actions", np.int32), ("rewards", np.float32),
            ("discounts", np.float32), ("final_obs", np.float32), ("bootstrap", bool)))
        params, opt_state, loss = update(params, opt_state,
                                         (*batch, jnp.asarray(venv.obs, jnp.float32)))
        losses.append(float(loss))
        bar.update(per_iter, log.recent_mean())
    bar.close()
    return {"log": log, "steps": steps, "params": params, "losses": losses,
            "wall_time": time.perf_counter() - start}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default=Config.env)
    ap.add_argument("--backend", choices=("jumba", "gymnasium"), default=Config.backend)
    ap.add_argument("--steps", type=int, default=Config.total_steps, help="env-step budget")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--num-envs", type=int, default=Config.num_envs)
    ap.add_argument("--plot", metavar="PNG", help="save the learning curve (needs matplotlib)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    config = Config(env=args.env, backend=args.backend, total_steps=args.steps,
                    num_envs=args.num_envs)
    result = train(config, args.seed, progress=not args.quiet)
    log = result["log"]
    print(f"A2C {config.env} ({config.backend}) seed {args.seed}: {result['steps']:,} env "
          f"steps, {len(log.returns)} episodes, mean return of the last {log.window}: "
          f"{log.recent_mean() if log.returns else float('nan'):.1f}, "
          f"wall time {result['wall_time']:.1f} s")
    if args.plot and plot_curve(log, args.plot, f"A2C {config.env} (seed {args.seed})"):
        print(f"learning curve: {args.plot}")
    return result


if __name__ == "__main__":
    main()
