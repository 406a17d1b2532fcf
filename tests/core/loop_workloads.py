"""Loop programs several compiler tests run (the shapes of benchmarks/bench_loops.py's
workloads, which must not import tests): a CartPole step with a fixed linear policy, and
an RNN whose gradient is a pair of scans."""

import numpy as np

import jumba.numpy as jnp
from jumba import lax

CARTPOLE_POLICY = np.array([0.1, 0.5, 3.0, 1.0], np.float32)
CARTPOLE_THETA_LIMIT = 12 * 2 * np.pi / 360  # radians, as Gym's CartPole-v1


def cartpole_step(state, _):
    """The standard Gym CartPole dynamics, a fixed linear policy, reset on failure."""
    x, x_dot, theta, theta_dot = state
    obs = jnp.stack([x, x_dot, theta, theta_dot])
    force = jnp.where(jnp.dot(jnp.asarray(CARTPOLE_POLICY), obs) > 0, 10.0, -10.0)
    cos, sin = jnp.cos(theta), jnp.sin(theta)
    temp = (force + 0.05 * theta_dot**2 * sin) / 1.1
    theta_acc = (9.8 * sin - cos * temp) / (0.5 * (4.0 / 3.0 - 0.1 * cos**2 / 1.1))
    x_acc = temp - 0.05 * theta_acc * cos / 1.1
    new = (x + 0.02 * x_dot, x_dot + 0.02 * x_acc, theta + 0.02 * theta_dot,
           theta_dot + 0.02 * theta_acc)
    done = (jnp.abs(new[0]) > 2.4) | (jnp.abs(new[2]) > CARTPOLE_THETA_LIMIT)
    new = tuple(jnp.where(done, np.float32(0.01), v) for v in new)
    return new, 1.0 - done.astype(jnp.float32)


def rnn_loss(W, U, h0, xs):
    """A tanh RNN over `xs`: the sum of its squared states plus its last state."""
    def cell(h, x):
        h = jnp.tanh(W @ h + U @ x)
        return h, h

    h, hs = lax.scan(cell, h0, xs)
    return jnp.sum(hs**2) + jnp.sum(h)
