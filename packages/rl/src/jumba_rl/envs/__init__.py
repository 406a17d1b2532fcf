"""Jittable, vmappable environments with Gymnasium's dynamics.

An environment is a set of pure functions over an explicit state pytree::

    import jumba, jumba.random as jr
    from jumba_rl import envs

    env = envs.make("CartPole-v1")
    state, obs = env.reset(jr.PRNGKey(0))
    state, obs, reward, done, info = env.step(state, 1)   # resets itself when done

    # 1,024 copies at once, one compiled step:
    states, obs = jumba.vmap(env.reset)(jr.split(jr.PRNGKey(0), 1024))
    step = jumba.jit(jumba.vmap(env.step))

``state`` holds the PRNG key used for the automatic resets, so ``step`` needs no key.
Constants live in ``env.params`` (a NamedTuple; ``make(id, gravity=9.81)`` overrides one)
and can also be passed explicitly: ``env.step(state, action, params)``.

Available: CartPole-v1, Pendulum-v1, MountainCar-v0, Acrobot-v1 and CliffWalking-v1 (a
small gridworld). :class:`GymnasiumEnv` exposes any Gymnasium environment (not jittable)
behind the same signature for agents written as Python loops.
"""

from jumba_rl.envs._core import Box, Discrete, Environment, EnvState
from jumba_rl.envs.classic_control import Acrobot, CartPole, MountainCar, Pendulum
from jumba_rl.envs.gridworld import CliffWalking
from jumba_rl.envs.gymnasium_env import GymnasiumEnv

_REGISTRY = {cls.name: cls for cls in (CartPole, Pendulum, MountainCar, Acrobot, CliffWalking)}


def registered_envs() -> list[str]:
    """The ids :func:`make` accepts."""
    return sorted(_REGISTRY)


def make(env_id: str, max_episode_steps: int | None | str = "gymnasium",
         **params) -> Environment:
    """Make a jittable environment by its Gymnasium id.

    Args:
        env_id: one of :func:`registered_envs` (``"CartPole-v1"``, ...).
        max_episode_steps: the time limit: ``"gymnasium"`` (Gymnasium's registered limit:
            500, 200, 200, 500 and none for the five ids), an int, or ``None`` (no limit).
        **params: override the environment's constants (fields of its ``params``).

    Returns:
        The :class:`Environment`.
    """
    if env_id not in _REGISTRY:
        raise ValueError(f"Unknown environment {env_id!r}; jumba_rl.envs.make knows "
                         f"{registered_envs()}. For any other Gymnasium environment use "
                         f"jumba_rl.envs.GymnasiumEnv({env_id!r}) (a Python loop, not jittable).")
    return _REGISTRY[env_id](max_episode_steps, **params)


__all__ = ["Acrobot", "Box", "CartPole", "CliffWalking", "Discrete", "EnvState", "Environment",
           "GymnasiumEnv", "MountainCar", "Pendulum", "make", "registered_envs"]
