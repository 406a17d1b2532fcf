"""Any Gymnasium environment behind the same reset/step signature (a Python loop, not jittable)."""

from __future__ import annotations

import numpy as np

import jumba.random as jr
from jumba_rl.envs._core import Box, Discrete


def _space(space):
    kind = type(space).__name__
    if kind == "Discrete":
        return Discrete(space.n)
    if kind == "Box":
        return Box(space.low, space.high, space.shape)
    return space  # other spaces are passed through as Gymnasium's own objects


class GymnasiumEnv:
    """A Gymnasium environment with the signature of :class:`jumba_rl.envs.Environment`.

    ``state, obs = env.reset(key)`` seeds Gymnasium from the key and
    ``state, obs, reward, done, info = env.step(state, action)`` steps it, resetting
    automatically when an episode ends (``info`` as in ``Environment.step``), so an agent
    written as a Python loop runs unchanged on either. The "state" is the step count and
    running return (the simulator's own state lives inside the Gymnasium object), so these
    calls cannot be jitted or vmapped: use one ``GymnasiumEnv`` per environment copy.

    Args:
        env: a Gymnasium environment id (``"LunarLander-v3"``) or an environment instance.
        **make_kwargs: passed to ``gymnasium.make`` when ``env`` is an id.

    Examples:
        >>> env = GymnasiumEnv("CartPole-v1")              # doctest: +SKIP
        >>> state, obs = env.reset(jumba.random.PRNGKey(0))  # doctest: +SKIP
    """

    def __init__(self, env, **make_kwargs):
        if isinstance(env, str):
            try:
                import gymnasium
            except ImportError as e:
                raise ImportError("GymnasiumEnv needs gymnasium: pip install gymnasium") from e
            env = gymnasium.make(env, **make_kwargs)
        elif make_kwargs:
            raise TypeError("GymnasiumEnv: keyword arguments are only accepted with an "
                            "environment id (they go to gymnasium.make).")
        self.env = env
        self.name = env.spec.id if getattr(env, "spec", None) is not None else type(env).__name__
        self.max_episode_steps = getattr(getattr(env, "spec", None), "max_episode_steps", None)
        self.observation_space = _space(env.observation_space)
        self.action_space = _space(env.action_space)
        self._episodes = 0

    def _obs(self, obs):
        return np.asarray(obs, np.float32) if isinstance(self.observation_space, Box) \
            else np.asarray(obs)

    def reset(self, key, params=None):
        """Reset Gymnasium with a seed drawn from ``key``; returns ``(state, obs)``."""
        seed = int(np.asarray(jr.randint(key, (), 0, 2**31 - 1)))
        obs, _ = self.env.reset(seed=seed)
        self._episodes = 0
        return {"time": 0, "episode_return": 0.0}, self._obs(obs)

    def step(self, state, action, params=None):
        """One Gymnasium step with automatic reset; see :meth:`Environment.step`."""
        action = np.asarray(action)
        if isinstance(self.action_space, Discrete):
            action = int(action)
        obs, reward, terminated, truncated, _ = self.env.step(action)
        time = state["time"] + 1
        episode_return = state["episode_return"] + float(reward)
        done = bool(terminated or truncated)
        info = {"terminated": bool(terminated), "truncated": bool(truncated),
                "final_observation": self._obs(obs), "episode_return": episode_return,
                "episode_length": time}
        if done:
            obs, _ = self.env.reset()  # Gymnasium continues the seeded generator
            self._episodes += 1
            state = {"time": 0, "episode_return": 0.0}
        else:
            state = {"time": time, "episode_return": episode_return}
        return state, self._obs(obs), np.float32(reward), done, info

    def close(self):
        self.env.close()

    def __repr__(self):
        return f"GymnasiumEnv({self.name})"
