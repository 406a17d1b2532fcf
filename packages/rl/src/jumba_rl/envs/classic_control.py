"""Gymnasium's classic-control environments as jittable pure functions.

Same equations, constants, reset distributions and time limits as Gymnasium 1.x
(``gymnasium/envs/classic_control``). The physics runs in jumba's default float dtype:
float32, or float64 under ``jumba.enable_x64()``, where trajectories agree with Gymnasium's
(float64 NumPy) to rounding. Observations are float32, as Gymnasium's.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jumba.numpy as jnp
import jumba.random as jr
from jumba_rl.envs._core import Box, Discrete, Environment


# --------------------------------------------------------------------------------------
# CartPole-v1
# --------------------------------------------------------------------------------------
class CartPoleParams(NamedTuple):
    gravity: float = 9.8
    masscart: float = 1.0
    masspole: float = 0.1
    length: float = 0.5  # half the pole's length
    force_mag: float = 10.0
    tau: float = 0.02  # seconds between state updates
    theta_threshold_radians: float = 12 * 2 * math.pi / 360
    x_threshold: float = 2.4


class CartPoleState(NamedTuple):
    x: object
    x_dot: object
    theta: object
    theta_dot: object


class CartPole(Environment):
    """CartPole-v1: push a cart left (0) or right (1) to keep its pole upright.

    Reward 1 per step (including the terminating one); terminates when the pole leans more
    than 12 degrees or the cart leaves [-2.4, 2.4]; truncated at 500 steps. Explicit Euler
    integration, as Gymnasium's default.
    """

    name = "CartPole-v1"
    max_episode_steps = 500

    def __init__(self, max_episode_steps="gymnasium", **params):
        super().__init__(max_episode_steps, **params)
        p = self.params
        high = [p.x_threshold * 2, math.inf, p.theta_threshold_radians * 2, math.inf]
        self.observation_space = Box([-h for h in high], high)
        self.action_space = Discrete(2)

    def default_params(self):
        return CartPoleParams()

    def reset_physics(self, key, params):
        s = jr.uniform(key, (4,), minval=-0.05, maxval=0.05)
        return CartPoleState(s[0], s[1], s[2], s[3])

    def step_physics(self, s, action, p):
        total_mass = p.masspole + p.masscart
        polemass_length = p.masspole * p.length
        force = jnp.where(action == 1, p.force_mag, -p.force_mag)
        costheta, sintheta = jnp.cos(s.theta), jnp.sin(s.theta)
        temp = (force + polemass_length * jnp.square(s.theta_dot) * sintheta) / total_mass
        thetaacc = (p.gravity * sintheta - costheta * temp) / (
            p.length * (4.0 / 3.0 - p.masspole * jnp.square(costheta) / total_mass))
        xacc = temp - polemass_length * thetaacc * costheta / total_mass
        x = s.x + p.tau * s.x_dot
        x_dot = s.x_dot + p.tau * xacc
        theta = s.theta + p.tau * s.theta_dot
        theta_dot = s.theta_dot + p.tau * thetaacc
        terminated = ((x < -p.x_threshold) | (x > p.x_threshold)
                      | (theta < -p.theta_threshold_radians)
                      | (theta > p.theta_threshold_radians))
        return CartPoleState(x, x_dot, theta, theta_dot), jnp.ones((), jnp.float32), terminated

    def observation(self, s, params):
        return jnp.stack([s.x, s.x_dot, s.theta, s.theta_dot]).astype(jnp.float32)


# --------------------------------------------------------------------------------------
# Pendulum-v1
# --------------------------------------------------------------------------------------
class PendulumParams(NamedTuple):
    max_speed: float = 8.0
    max_torque: float = 2.0
    dt: float = 0.05
    g: float = 10.0
    m: float = 1.0
    l: float = 1.0  # noqa: E741 -- Gymnasium's name


class PendulumState(NamedTuple):
    theta: object
    theta_dot: object


def _angle_normalize(x):
    return ((x + math.pi) % (2 * math.pi)) - math.pi


class Pendulum(Environment):
    """Pendulum-v1: swing a pendulum up with a torque in [-2, 2] (action shape (1,)).

    Reward ``-(theta^2 + 0.1 theta_dot^2 + 0.001 u^2)`` with theta normalised to
    [-pi, pi); never terminates; truncated at 200 steps.
    """

    name = "Pendulum-v1"
    max_episode_steps = 200

    def __init__(self, max_episode_steps="gymnasium", **params):
        super().__init__(max_episode_steps, **params)
        p = self.params
        self.observation_space = Box([-1.0, -1.0, -p.max_speed], [1.0, 1.0, p.max_speed])
        self.action_space = Box([-p.max_torque], [p.max_torque])

    def default_params(self):
        return PendulumParams()

    def reset_physics(self, key, params):
        s = jr.uniform(key, (2,), minval=jnp.array([-math.pi, -1.0]),
                       maxval=jnp.array([math.pi, 1.0]))
        return PendulumState(s[0], s[1])

    def step_physics(self, s, action, p):
        u = jnp.clip(jnp.reshape(jnp.asarray(action), (-1,))[0], -p.max_torque, p.max_torque)
        costs = _angle_normalize(s.theta) ** 2 + 0.1 * s.theta_dot**2 + 0.001 * u**2
        newthdot = s.theta_dot + (3 * p.g / (2 * p.l) * jnp.sin(s.theta)
                                  + 3.0 / (p.m * p.l**2) * u) * p.dt
        newthdot = jnp.clip(newthdot, -p.max_speed, p.max_speed)
        newth = s.theta + newthdot * p.dt
        return PendulumState(newth, newthdot), -costs, jnp.zeros((), bool)

    def observation(self, s, params):
        return jnp.stack([jnp.cos(s.theta), jnp.sin(s.theta), s.theta_dot]).astype(jnp.float32)


# --------------------------------------------------------------------------------------
# MountainCar-v0
# --------------------------------------------------------------------------------------
class MountainCarParams(NamedTuple):
    min_position: float = -1.2
    max_position: float = 0.6
    max_speed: float = 0.07
    goal_position: float = 0.5
    goal_velocity: float = 0.0
    force: float = 0.001
    gravity: float = 0.0025


class MountainCarState(NamedTuple):
    position: object
    velocity: object


class MountainCar(Environment):
    """MountainCar-v0: accelerate left (0), not (1) or right (2) to reach the flag at 0.5.

    Reward -1 per step; terminates at the goal; truncated at 200 steps.
    """

    name = "MountainCar-v0"
    max_episode_steps = 200

    def __init__(self, max_episode_steps="gymnasium", **params):
        super().__init__(max_episode_steps, **params)
        p = self.params
        self.observation_space = Box([p.min_position, -p.max_speed],
                                     [p.max_position, p.max_speed])
        self.action_space = Discrete(3)

    def default_params(self):
        return MountainCarParams()

    def reset_physics(self, key, params):
        position = jr.uniform(key, (), minval=-0.6, maxval=-0.4)
        return MountainCarState(position, jnp.zeros_like(position))

    def step_physics(self, s, action, p):
        velocity = s.velocity + (action - 1) * p.force + jnp.cos(3 * s.position) * (-p.gravity)
        velocity = jnp.clip(velocity, -p.max_speed, p.max_speed)
        position = jnp.clip(s.position + velocity, p.min_position, p.max_position)
        velocity = jnp.where((position == p.min_position) & (velocity < 0), 0.0, velocity)
        terminated = (position >= p.goal_position) & (velocity >= p.goal_velocity)
        return (MountainCarState(position, velocity.astype(s.velocity.dtype)),
                -jnp.ones((), jnp.float32), terminated)

    def observation(self, s, params):
        return jnp.stack([s.position, s.velocity]).astype(jnp.float32)


# --------------------------------------------------------------------------------------
# Acrobot-v1
# --------------------------------------------------------------------------------------
class AcrobotParams(NamedTuple):
    dt: float = 0.2
    link_length_1: float = 1.0
    link_mass_1: float = 1.0
    link_mass_2: float = 1.0
    link_com_pos_1: float = 0.5
    link_com_pos_2: float = 0.5
    link_moi: float = 1.0
    max_vel_1: float = 4 * math.pi
    max_vel_2: float = 9 * math.pi
    gravity: float = 9.8


class AcrobotState(NamedTuple):
    theta1: object
    theta2: object
    dtheta1: object
    dtheta2: object


def _wrap(x, m, big_m):
    # Gymnasium subtracts (adds) the period until x is in range; k steps at once.
    diff = big_m - m
    x = jnp.where(x > big_m, x - diff * jnp.ceil((x - big_m) / diff), x)
    return jnp.where(x < m, x + diff * jnp.ceil((m - x) / diff), x)


class Acrobot(Environment):
    """Acrobot-v1: swing a two-link chain up by a torque of -1 (0), 0 (1) or +1 (2).

    The "book" dynamics integrated by one RK4 step of 0.2 s; reward -1 per step until the
    free end rises one link length above the pivot (terminated, reward 0); truncated at 500.
    """

    name = "Acrobot-v1"
    max_episode_steps = 500

    def __init__(self, max_episode_steps="gymnasium", **params):
        super().__init__(max_episode_steps, **params)
        p = self.params
        high = [1.0, 1.0, 1.0, 1.0, p.max_vel_1, p.max_vel_2]
        self.observation_space = Box([-h for h in high], high)
        self.action_space = Discrete(3)

    def default_params(self):
        return AcrobotParams()

    def reset_physics(self, key, params):
        # Gymnasium draws the initial state in float32.
        s = jr.uniform(key, (4,), jnp.float32, minval=-0.1, maxval=0.1)
        s = s.astype(jnp.zeros(()).dtype)
        return AcrobotState(s[0], s[1], s[2], s[3])

    def _dsdt(self, s, a, p):
        theta1, theta2, dtheta1, dtheta2 = s
        m1, m2, l1 = p.link_mass_1, p.link_mass_2, p.link_length_1
        lc1, lc2, i1, i2, g = p.link_com_pos_1, p.link_com_pos_2, p.link_moi, p.link_moi, p.gravity
        d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * jnp.cos(theta2)) + i1 + i2
        d2 = m2 * (lc2**2 + l1 * lc2 * jnp.cos(theta2)) + i2
        phi2 = m2 * lc2 * g * jnp.cos(theta1 + theta2 - math.pi / 2.0)
        phi1 = (-m2 * l1 * lc2 * dtheta2**2 * jnp.sin(theta2)
                - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * jnp.sin(theta2)
                + (m1 * lc1 + m2 * l1) * g * jnp.cos(theta1 - math.pi / 2) + phi2)
        ddtheta2 = ((a + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1**2 * jnp.sin(theta2) - phi2)
                    / (m2 * lc2**2 + i2 - d2**2 / d1))
        ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return (dtheta1, dtheta2, ddtheta1, ddtheta2)

    def step_physics(self, s, action, p):
        torque = (action - 1).astype(s.theta1.dtype)
        y0 = tuple(s)
        dt, dt2 = p.dt, p.dt / 2.0

        def shifted(k, h):
            return tuple(y + h * ki for y, ki in zip(y0, k))

        k1 = self._dsdt(y0, torque, p)
        k2 = self._dsdt(shifted(k1, dt2), torque, p)
        k3 = self._dsdt(shifted(k2, dt2), torque, p)
        k4 = self._dsdt(shifted(k3, dt), torque, p)
        ns = [y + dt / 6.0 * (a + 2 * b + 2 * c + d)
              for y, a, b, c, d in zip(y0, k1, k2, k3, k4)]
        ns = AcrobotState(_wrap(ns[0], -math.pi, math.pi), _wrap(ns[1], -math.pi, math.pi),
                          jnp.clip(ns[2], -p.max_vel_1, p.max_vel_1),
                          jnp.clip(ns[3], -p.max_vel_2, p.max_vel_2))
        terminated = -jnp.cos(ns.theta1) - jnp.cos(ns.theta2 + ns.theta1) > 1.0
        reward = jnp.where(terminated, 0.0, -1.0)
        return ns, reward, terminated

    def observation(self, s, params):
        return jnp.stack([jnp.cos(s.theta1), jnp.sin(s.theta1), jnp.cos(s.theta2),
                          jnp.sin(s.theta2), s.dtheta1, s.dtheta2]).astype(jnp.float32)
