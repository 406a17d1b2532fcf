"""The environment protocol: pure ``reset``/``step`` functions over an explicit state pytree.

An environment is a stateless object; everything that changes lives in :class:`EnvState`
(the physics, the step count, the running return and the PRNG key) and every constant lives
in a ``params`` NamedTuple, so ``reset`` and ``step`` can be jitted, vmapped over a batch of
environments, and scanned over time.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

import jumba
import jumba.numpy as jnp
import jumba.random as jr


class EnvState(NamedTuple):
    """Everything that changes from step to step.

    Attributes:
        physics: the environment's own state (a NamedTuple of arrays).
        time: int32 number of steps taken in the current episode.
        episode_return: float32 sum of the rewards of the current episode so far.
        key: the PRNG key used for the next automatic reset.
    """

    physics: Any
    time: Any
    episode_return: Any
    key: Any


class Discrete:
    """The integers ``0 .. n - 1`` (Gymnasium's ``spaces.Discrete``)."""

    def __init__(self, n: int):
        self.n = int(n)
        self.shape = ()
        self.dtype = jnp.int32

    def sample(self, key):
        """A uniformly drawn element (jittable)."""
        return jr.randint(key, (), 0, self.n, dtype=jnp.int32)

    def contains(self, x) -> bool:
        x = np.asarray(x)
        return x.shape == () and np.issubdtype(x.dtype, np.integer) and 0 <= int(x) < self.n

    def __repr__(self):
        return f"Discrete({self.n})"


class Box:
    """A box ``low <= x <= high`` of float32 arrays (Gymnasium's ``spaces.Box``)."""

    def __init__(self, low, high, shape: tuple[int, ...] | None = None, dtype=jnp.float32):
        shape = tuple(shape) if shape is not None else np.shape(low)
        self.low = np.broadcast_to(np.asarray(low, np.float32), shape)
        self.high = np.broadcast_to(np.asarray(high, np.float32), shape)
        self.shape = shape
        self.dtype = dtype

    def sample(self, key):
        """A uniformly drawn element; unbounded coordinates are drawn from a unit normal."""
        bounded = np.isfinite(self.low) & np.isfinite(self.high)
        low = np.where(bounded, self.low, 0.0)
        high = np.where(bounded, self.high, 1.0)
        k1, k2 = jr.split(key)
        u = jr.uniform(k1, self.shape, minval=low, maxval=high)
        return jnp.where(bounded, u, jr.normal(k2, self.shape)).astype(self.dtype)

    def contains(self, x) -> bool:
        x = np.asarray(x)
        return x.shape == self.shape and bool(np.all(x >= self.low) & np.all(x <= self.high))

    def __repr__(self):
        return f"Box({self.low.min():g}, {self.high.max():g}, {self.shape}, float32)"


def _select(pred, on_true, on_false):
    """``pred ? on_true : on_false`` leaf by leaf over two pytrees of the same structure."""
    return jumba.tree_util.tree_map(lambda a, b: jnp.where(pred, a, b), on_true, on_false)


class Environment:
    """Base class: a jittable environment with automatic reset.

    Subclasses set ``name``, ``max_episode_steps``, ``observation_space``, ``action_space``
    and implement :meth:`default_params`, :meth:`reset_physics`, :meth:`step_physics` and
    :meth:`observation`. Users call :meth:`reset` and :meth:`step`.
    """

    name: str = "Environment"
    max_episode_steps: int | None = None
    observation_space: Discrete | Box
    action_space: Discrete | Box

    def __init__(self, max_episode_steps: int | None | str = "gymnasium", **param_overrides):
        # "gymnasium": the time limit Gymnasium registers for this id (the class default).
        if max_episode_steps != "gymnasium":
            if max_episode_steps is not None and (not isinstance(max_episode_steps, int)
                                                  or max_episode_steps <= 0):
                raise ValueError(f"{self.name}: max_episode_steps must be a positive integer "
                                 f"or None (no time limit), got {max_episode_steps!r}.")
            self.max_episode_steps = max_episode_steps
        params = self.default_params()
        unknown = set(param_overrides) - set(params._fields)
        if unknown:
            raise TypeError(f"{self.name} has no parameter(s) {sorted(unknown)}; "
                            f"its parameters are {list(params._fields)}.")
        self.params = params._replace(**param_overrides)

    # -- to implement --------------------------------------------------------------------
    def default_params(self) -> NamedTuple:
        """The environment's constants (Gymnasium's values)."""
        raise NotImplementedError

    def reset_physics(self, key, params):
        """A fresh physics state drawn with ``key``."""
        raise NotImplementedError

    def step_physics(self, physics, action, params):
        """Advance one step: returns ``(physics, reward, terminated)``."""
        raise NotImplementedError

    def observation(self, physics, params):
        """The observation of a physics state."""
        raise NotImplementedError

    # -- the public protocol -------------------------------------------------------------
    def reset(self, key, params=None):
        """Start an episode.

        Args:
            key: a PRNG key (``jumba.random.PRNGKey(seed)`` or ``jumba.random.key(seed)``);
                it seeds this episode and the automatic resets that follow.
            params: the environment's constants; ``None`` uses ``self.params``.

        Returns:
            ``(state, obs)``: the :class:`EnvState` and the first observation.
        """
        params = self.params if params is None else params
        if str(getattr(key, "dtype", "")).startswith("key<"):  # a typed key, jr.key(seed)
            key = jr.key_data(key)
        key = jnp.asarray(key)
        if key.shape != (2,) or key.dtype != jnp.uint32:
            raise TypeError(f"{self.name}.reset expects a PRNG key (uint32[2], from "
                            f"jumba.random.PRNGKey(seed)), got {key.dtype}{list(key.shape)}. "
                            "For a batch of environments, vmap reset over split keys: "
                            "jumba.vmap(env.reset)(jumba.random.split(key, n)).")
        key, sub = jr.split(key)
        physics = self.reset_physics(sub, params)
        state = EnvState(physics, jnp.zeros((), jnp.int32), jnp.zeros((), jnp.float32), key)
        return state, self.observation(physics, params)

    def step(self, state: EnvState, action, params=None):
        """Take one step; when the episode ends, start the next one in the same call.

        Args:
            state: the :class:`EnvState` from :meth:`reset` or the previous :meth:`step`.
            action: an element of ``self.action_space``.
            params: the environment's constants; ``None`` uses ``self.params``.

        Returns:
            ``(state, obs, reward, done, info)``. ``done`` is ``terminated | truncated``;
            when it is true, ``state`` and ``obs`` already belong to the next episode and
            ``info`` holds the last observation of the finished one
            (``info["final_observation"]``, needed to bootstrap truncated episodes), its
            ``episode_return`` and ``episode_length``, and the flags ``terminated`` and
            ``truncated`` (Gymnasium's time limit: ``truncated`` when the step count
            reaches ``max_episode_steps``, even if the episode also terminated).
        """
        params = self.params if params is None else params
        if not isinstance(state, EnvState):
            raise TypeError(f"{self.name}.step expects the EnvState returned by reset or step "
                            f"as its first argument, got {type(state).__name__}.")
        if isinstance(action, (int, np.integer, np.ndarray, jumba.Array)):
            self._check_action(action)  # concrete: checkable (under jit/vmap it is traced)
        physics, reward, terminated = self.step_physics(state.physics, action, params)
        reward = jnp.asarray(reward, jnp.float32)
        terminated = jnp.asarray(terminated)
        time = state.time + 1
        if self.max_episode_steps is None:
            truncated = jnp.zeros((), bool)
        else:
            truncated = time >= self.max_episode_steps
        done = terminated | truncated
        episode_return = state.episode_return + reward
        obs = self.observation(physics, params)

        key, sub = jr.split(state.key)
        fresh = self.reset_physics(sub, params)
        next_physics = _select(done, fresh, physics)
        next_obs = jnp.where(done, self.observation(fresh, params), obs)
        zero_i, zero_f = jnp.zeros((), jnp.int32), jnp.zeros((), jnp.float32)
        next_state = EnvState(next_physics, jnp.where(done, zero_i, time),
                              jnp.where(done, zero_f, episode_return), key)
        info = {"terminated": terminated, "truncated": truncated, "final_observation": obs,
                "episode_return": episode_return, "episode_length": time}
        return next_state, next_obs, reward, done, info

    def _check_action(self, action):
        a = np.asarray(action)
        space = self.action_space
        if isinstance(space, Discrete):
            ok = a.shape == () and np.issubdtype(a.dtype, np.integer) and 0 <= int(a) < space.n
        else:  # values are clipped by the dynamics; only the shape must fit
            ok = a.shape in (space.shape, ()) and np.issubdtype(a.dtype, np.floating)
        if not ok:
            hint = (" For a batch of environments, vmap step: jumba.vmap(env.step)(states, "
                    "actions)." if a.ndim > len(space.shape) else "")
            raise ValueError(f"{self.name}.step: action {a.dtype}{list(a.shape)} = {a!r} is not "
                             f"in the action space {space}.{hint}")

    def __repr__(self):
        return f"{type(self).__name__}({self.name})"
