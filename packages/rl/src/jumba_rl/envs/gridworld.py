"""A small gridworld: Gymnasium's CliffWalking-v1 (Sutton & Barto, Example 6.6) as pure functions.

A 4 x 12 grid; the agent starts at the bottom-left corner (state 36) and must reach the
bottom-right one (state 47). Actions 0 up, 1 right, 2 down, 3 left; moves off the grid
leave the agent where it is. Every step costs -1; stepping into the cliff (the bottom row
between start and goal) costs -100 and sends the agent back to the start without ending
the episode. Observations are the int32 cell index ``row * 12 + col``, as Gymnasium's.
"""

from __future__ import annotations

from typing import NamedTuple

import jumba.numpy as jnp
from jumba_rl.envs._core import Discrete, Environment

# (row, col) offset of each action: up, right, down, left.
_MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))


class CliffWalkingParams(NamedTuple):
    rows: int = 4
    cols: int = 12


class CliffWalkingState(NamedTuple):
    position: object  # int32 cell index


class CliffWalking(Environment):
    """CliffWalking-v1 (not slippery).

    Gymnasium registers it without a time limit; pass ``max_episode_steps`` to
    :func:`jumba_rl.envs.make` to add one (useful for exploration with automatic reset).
    """

    name = "CliffWalking-v1"
    max_episode_steps = None

    def __init__(self, max_episode_steps="gymnasium", **params):
        super().__init__(max_episode_steps, **params)
        p = self.params
        self.observation_space = Discrete(p.rows * p.cols)
        self.action_space = Discrete(4)

    def default_params(self):
        return CliffWalkingParams()

    def _start(self, p):
        return (p.rows - 1) * p.cols

    def reset_physics(self, key, params):
        return CliffWalkingState(jnp.asarray(self._start(params), jnp.int32))

    def step_physics(self, s, action, p):
        moves = jnp.asarray(_MOVES, jnp.int32)
        row = s.position // p.cols + moves[action, 0]
        col = s.position % p.cols + moves[action, 1]
        row, col = jnp.clip(row, 0, p.rows - 1), jnp.clip(col, 0, p.cols - 1)
        cliff = (row == p.rows - 1) & (col > 0) & (col < p.cols - 1)
        position = jnp.where(cliff, self._start(p), row * p.cols + col).astype(jnp.int32)
        reward = jnp.where(cliff, -100.0, -1.0)
        terminated = ~cliff & (position == p.rows * p.cols - 1)
        return CliffWalkingState(position), reward, terminated

    def observation(self, s, params):
        return s.position
