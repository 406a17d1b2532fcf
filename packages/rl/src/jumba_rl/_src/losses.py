"""Losses (l2, Huber, likelihood, expectile, pixel control) and gradient clipping.

Also the pseudo-rewards of general value functions (pixel and feature control), which the
pixel-control loss is built on.
"""

from __future__ import annotations

import functools

import jumba
import jumba.numpy as jnp
from jumba.tree_util import tree_map
from jumba_rl._src import base, value_learning

Array = base.Array
Numeric = base.Numeric


def huber_loss(x: Array, delta: float = 1.0) -> Array:
    """Huber loss: ``0.5 x²`` for ``|x| <= delta``, ``delta (|x| - 0.5 delta)`` beyond.

    Its gradient is the TD error clipped to ``[-delta, delta]``. See Huber (1964), "Robust
    estimation of a location parameter".

    Args:
      x: errors, any shape (floating).
      delta: where the loss turns from quadratic to linear.

    Returns:
      The elementwise loss, same shape as ``x``.

    Examples:
      >>> import jumba.numpy as jnp, jumba_rl
      >>> jumba_rl.huber_loss(jnp.asarray([-3.0, 0.5]), 1.0)
      Array([2.5  , 0.125], dtype=float32)
    """
    base.check_args("huber_loss", "x", (x,), None, float)
    abs_x = jnp.abs(x)
    quadratic = jnp.minimum(abs_x, delta)
    linear = abs_x - quadratic
    return 0.5 * quadratic**2 + delta * linear


def _clip_gradient_fwd(gradient_min, gradient_max, x):
    return x, None


def _clip_gradient_bwd(gradient_min, gradient_max, _, g):
    return (tree_map(lambda t: jnp.clip(t, gradient_min, gradient_max), g),)


def _clip_gradient_impl(gradient_min, gradient_max, x):
    return x


_clip_gradient = jumba.custom_vjp(_clip_gradient_impl, nondiff_argnums=(0, 1))
_clip_gradient.defvjp(_clip_gradient_fwd, _clip_gradient_bwd)


def clip_gradient(x: Array, gradient_min: float, gradient_max: float) -> Array:
    """Identity in the forward pass; clips the incoming gradient to ``[min, max]`` backwards.

    Args:
      x: a floating array.
      gradient_min: lower bound of the gradient.
      gradient_max: upper bound of the gradient.

    Returns:
      ``x`` unchanged.
    """
    base.check_args("clip_gradient", "x", (x,), None, float)
    return _clip_gradient(gradient_min, gradient_max, x)


def l2_loss(predictions: Array, targets: Array | None = None) -> Array:
    """Elementwise ``0.5 (predictions - targets)²`` (targets default to zero)."""
    if targets is None:
        targets = jnp.zeros_like(predictions)
    base.check_args("l2_loss", "predictions targets", (predictions, targets), None, float)
    return 0.5 * (jnp.asarray(predictions) - targets) ** 2


def likelihood(predictions: Array, targets: Array) -> Array:
    """Bernoulli likelihood ``p^t (1-p)^(1-t)``, exactly 1 where a 0/1 target is predicted exactly.

    Args:
      predictions: predicted probabilities in [0, 1].
      targets: targets in [0, 1].

    Returns:
      The elementwise likelihood.
    """
    base.check_args("likelihood", "predictions targets", (predictions, targets), None, float)
    predictions, targets = jnp.asarray(predictions), jnp.asarray(targets)
    value = predictions**targets * (1.0 - predictions) ** (1.0 - targets)
    exact = ((targets == 1) & (predictions == 1)) | ((targets == 0) & (predictions == 0))
    return jnp.where(exact, jnp.ones_like(value), value)


def log_loss(predictions: Array, targets: Array) -> Array:
    """Negative log-likelihood ``-log likelihood(predictions, targets)``."""
    base.check_args("log_loss", "predictions targets", (predictions, targets), None, float)
    return -jnp.log(likelihood(predictions, targets))


def expectile_loss(predictions: Array, targets: Array, expectile: float) -> Array:
    """Asymmetric squared loss ``|τ - 1[diff < 0]| diff²`` with ``diff = targets - predictions``.

    Minimising it over predictions gives the ``expectile`` (τ) of the targets; see Newey &
    Powell (1987), "Asymmetric least squares estimation and testing".
    """
    base.check_equal_shape("expectile_loss", "predictions targets", (predictions, targets))
    diff = jnp.asarray(targets) - predictions
    weight = jnp.abs(expectile - (diff < 0).astype(diff.dtype))
    return weight * diff**2


def pixel_control_rewards(observations: Array, cell_size: int) -> Array:
    """Pseudo-rewards for pixel control: mean absolute pixel change per spatial cell.

    See Jaderberg et al. (2016), "Reinforcement learning with unsupervised auxiliary tasks".

    Args:
      observations: frames of shape [T+1, H, W, C] (floating).
      cell_size: side of the square cells; must divide H and W.

    Returns:
      Rewards of shape [T, H // cell_size, W // cell_size].
    """
    base.check_args("pixel_control_rewards", "observations", (observations,), 4, float)
    observations = jnp.asarray(observations)
    _, height, width, channels = observations.shape
    if height % cell_size or width % cell_size:
        raise ValueError(f"jumba_rl.pixel_control_rewards: cell_size {cell_size} must divide the "
                         f"frame height {height} and width {width}.")
    h, w = height // cell_size, width // cell_size
    diff = jnp.abs(observations[1:] - observations[:-1])
    diff = diff.reshape((-1, h, cell_size, w, cell_size, channels))
    return diff.mean(axis=(2, 4, 5))


def feature_control_rewards(features: Array, cumulant_type: str = "absolute_change",
                            discount: Numeric = None) -> Array:
    """Pseudo-rewards for feature control from a sequence of feature vectors.

    Args:
      features: features of shape [T+1, D] (floating).
      cumulant_type: one of 'feature', 'absolute_change', 'increase', 'decrease', 'potential'.
      discount: discount for the 'potential' cumulant.

    Returns:
      Rewards of shape [T, D].
    """
    base.check_args("feature_control_rewards", "features", (features,), 2, float)
    features = jnp.asarray(features)
    if cumulant_type == "feature":
        return features[1:]
    if cumulant_type == "absolute_change":
        return jnp.abs(features[1:] - features[:-1])
    if cumulant_type == "increase":
        return features[1:] - features[:-1]
    if cumulant_type == "decrease":
        return features[:-1] - features[1:]
    if cumulant_type == "potential":
        return discount * features[1:] - features[:-1]
    raise ValueError(f"jumba_rl.feature_control_rewards: unknown cumulant_type {cumulant_type!r}; "
                     f"use 'feature', 'absolute_change', 'increase', 'decrease' or 'potential'.")


def pixel_control_loss(observations: Array, actions: Array, action_values: Array,
                       discount_factor: Numeric, cell_size: int) -> Array:
    """Pixel-control loss: n-step Q-learning on pixel-change pseudo-rewards, per cell.

    See Jaderberg et al. (2016), "Reinforcement learning with unsupervised auxiliary tasks".

    Args:
      observations: frames of shape [T+1, H, W, C].
      actions: actions taken, shape [T] (integers).
      action_values: per-cell action values, shape [T+1, H', W', A] with H' = H // cell_size.
      discount_factor: scalar or shape [T].
      cell_size: side of the spatial cells.

    Returns:
      The spatial loss, shape [T, H', W'].
    """
    base.check_args("pixel_control_loss", "actions action_values", (actions, action_values),
                    [1, 4], [int, float])
    action_values = jnp.asarray(action_values)
    seq_len = actions.shape[0]
    num_actions = action_values.shape[-1]
    hw_q = tuple(action_values.shape[1:-1])
    rewards = pixel_control_rewards(observations, cell_size)
    hw = tuple(rewards.shape[1:])
    if hw != hw_q:
        raise ValueError(f"jumba_rl.pixel_control_loss: action_values have spatial shape {hw_q} "
                         f"but the pseudo-rewards of the observations have {hw}; make "
                         f"action_values.shape[1:3] == (H // cell_size, W // cell_size).")
    q_tm1 = jnp.reshape(action_values[:-1], (seq_len, -1, num_actions))
    q_t = jnp.reshape(action_values[1:], (seq_len, -1, num_actions))
    r_t = jnp.reshape(rewards, (seq_len, -1))
    cells = r_t.shape[1]
    a_tm1 = jnp.broadcast_to(jnp.asarray(actions)[:, None], (seq_len, cells))
    discount_factor = jnp.asarray(discount_factor, dtype=r_t.dtype)
    if discount_factor.ndim == 0:
        pcont_t = jnp.broadcast_to(discount_factor, (seq_len, cells))
    elif discount_factor.ndim == 1:
        pcont_t = jnp.broadcast_to(discount_factor[:, None], (seq_len, cells))
    else:
        raise ValueError(f"jumba_rl.pixel_control_loss: discount_factor must be a scalar or "
                         f"rank 1, got shape {discount_factor.shape}.")
    batched = jumba.vmap(functools.partial(value_learning.q_lambda, lambda_=1.0),
                         in_axes=1, out_axes=1)
    td_error = batched(q_tm1, a_tm1, r_t, pcont_t, q_t)
    return jnp.reshape(0.5 * td_error**2, (seq_len,) + hw)
