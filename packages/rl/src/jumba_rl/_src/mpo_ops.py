"""MPO and V-MPO losses with Lagrangian temperature and KL constraints.

See Abdolmaleki et al. (2018), "Maximum a posteriori policy optimisation", and Song et al.
(2019), "V-MPO: On-policy maximum a posteriori policy optimization for discrete and continuous
control". Dual variables (temperature, KL multipliers ``alpha``) are learnt by minimising their
losses; ``projection_operator`` keeps them positive.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jumba.lax as lax
import jumba.numpy as jnp
from jumba.nn import logsumexp
from jumba_rl._src import base

Array = base.Array
Numeric = base.Numeric
_stop = base.maybe_stop_gradient

_EPSILON = 1e-10
_INFINITY = 1e6


class LagrangePenalty(NamedTuple):
    """A constraint ``KL <= epsilon`` with its (unprojected) Lagrange multiplier ``alpha``."""

    alpha: Array
    epsilon: Numeric
    per_dimension: bool = False


class MpoOutputs(NamedTuple):
    """The parts of an MPO/V-MPO loss, for logging."""

    temperature_loss: Numeric
    policy_loss: Array
    kl_loss: Array
    alpha_loss: Array
    normalized_weights: Array
    num_samples: Numeric


def _clip_positive(x):
    return jnp.clip(x, _EPSILON)


def _check_penalty(fn, name, penalty):
    base.check_args(fn, f"{name}.epsilon", (penalty.epsilon,), 0, float)
    base.check_args(fn, f"{name}.alpha", (penalty.alpha,), None, float)


def _normalize_axis(fn, axis, ndim):
    if axis < 0:
        axis += ndim
    if not 0 <= axis < ndim:
        raise ValueError(f"jumba_rl.{fn}: `sample_axis` {axis} is not an axis of an array of "
                         f"rank {ndim}.")
    return axis


def kl_constraint_loss(kl: Array, penalty: LagrangePenalty,
                       projection_operator: Callable[[Array], Array],
                       use_stop_gradient: bool = True):
    """The KL penalty ``α·kl`` (α constant) and the dual loss ``α (ε - kl)`` (kl constant)."""
    alpha = projection_operator(penalty.alpha)
    alpha_constant = _stop(use_stop_gradient, alpha)
    alpha_loss = alpha * (penalty.epsilon - _stop(use_stop_gradient, kl))
    kl_loss = alpha_constant * kl
    if penalty.per_dimension:
        kl_loss = jnp.sum(kl_loss, axis=-1)
        alpha_loss = jnp.sum(alpha_loss, axis=-1)
    return kl_loss, alpha_loss, alpha


def compute_parametric_kl_penalty_and_dual_loss(
        kl_constraints: Sequence[tuple[Array, LagrangePenalty]],
        projection_operator: Callable[[Array], Array],
        use_stop_gradient: bool = True) -> tuple[Array, Array]:
    """Sums the KL penalties and dual losses of several ``(kl, LagrangePenalty)`` constraints.

    Args:
      kl_constraints: pairs of KL values and their penalties.
      projection_operator: maps each ``alpha`` to a positive multiplier.
      use_stop_gradient: stop gradients as in MPO (see ``kl_constraint_loss``).

    Returns:
      ``(kl_loss, alpha_loss)``.
    """
    fn = "compute_parametric_kl_penalty_and_dual_loss"
    kl_losses, alpha_losses = [], []
    for kl, penalty in kl_constraints:
        _check_penalty(fn, "penalty", penalty)
        base.check_args(fn, "kl", (kl,), None, float)
        kl_loss, alpha_loss, _ = kl_constraint_loss(kl, penalty, projection_operator,
                                                    use_stop_gradient)
        kl_losses.append(kl_loss)
        alpha_losses.append(alpha_loss)
    return sum(kl_losses), sum(alpha_losses)


def mpo_compute_weights_and_temperature_loss(sample_q_values: Array,
                                             temperature_constraint: LagrangePenalty,
                                             projection_operator: Callable[[Array], Array],
                                             sample_axis: int = 0):
    """MPO's E-step: softmax weights of the sampled Q-values and the temperature's dual loss.

    ``w = softmax(Q / η)`` over the samples; the dual loss is
    ``η ε + η (logsumexp(Q/η) - log N)``.

    Args:
      sample_q_values: Q-values of N sampled actions, N along ``sample_axis``.
      temperature_constraint: the temperature η (``alpha``) and KL bound ε.
      projection_operator: maps ``alpha`` to a positive temperature.
      sample_axis: the axis of the samples.

    Returns:
      ``(temperature_loss, normalized_weights, num_samples)``.
    """
    fn = "mpo_compute_weights_and_temperature_loss"
    _check_penalty(fn, "temperature_constraint", temperature_constraint)
    base.check_args(fn, "sample_q_values", (sample_q_values,), None, float)
    sample_q_values = jnp.asarray(sample_q_values)
    sample_axis = _normalize_axis(fn, sample_axis, sample_q_values.ndim)
    n = sample_q_values.shape[sample_axis]
    temperature = projection_operator(temperature_constraint.alpha)
    scaled = sample_q_values / temperature
    q_logsumexp = logsumexp(scaled, axis=sample_axis, keepdims=True)
    temperature_loss = temperature * temperature_constraint.epsilon + temperature * (
        jnp.squeeze(q_logsumexp, axis=sample_axis) - math.log(n))
    weights = jnp.exp(scaled - q_logsumexp)
    norm_weights = weights / jnp.sum(weights, axis=sample_axis, keepdims=True)
    return temperature_loss, norm_weights, n


def mpo_loss(sample_log_probs: Array, sample_q_values: Array,
             temperature_constraint: LagrangePenalty,
             kl_constraints: Sequence[tuple[Array, LagrangePenalty]],
             projection_operator: Callable[[Array], Array] = _clip_positive,
             policy_loss_weight: float = 1.0, temperature_loss_weight: float = 1.0,
             kl_loss_weight: float = 1.0, alpha_loss_weight: float = 1.0, sample_axis: int = 0,
             use_stop_gradient: bool = True) -> tuple[Array, MpoOutputs]:
    """The MPO loss: weighted maximum likelihood plus temperature and KL dual losses.

    Args:
      sample_log_probs: log-probabilities of the sampled actions under the learnt policy.
      sample_q_values: their Q-values (same shape).
      temperature_constraint: temperature multiplier and its KL bound.
      kl_constraints: ``(kl, LagrangePenalty)`` pairs; each kl has rank ``ndim - 1`` (or
        ``ndim`` when ``per_dimension``).
      projection_operator: maps multipliers to positive values.
      policy_loss_weight: weight of the policy loss.
      temperature_loss_weight: weight of the temperature loss.
      kl_loss_weight: weight of the KL penalty.
      alpha_loss_weight: weight of the KL multipliers' dual loss.
      sample_axis: axis of the action samples.
      use_stop_gradient: stop gradients through the weights and dual terms.

    Returns:
      ``(loss, MpoOutputs)``; the loss has the shape of the inputs without ``sample_axis``.
    """
    fn = "mpo_loss"
    base.check_equal_shape(fn, "sample_log_probs sample_q_values",
                           (sample_log_probs, sample_q_values))
    base.check_args(fn, "sample_log_probs sample_q_values", (sample_log_probs, sample_q_values),
                    None, float)
    ndim = jnp.ndim(sample_q_values)
    for kl, penalty in kl_constraints:
        base.check_args(fn, "kl", (kl,), ndim if penalty.per_dimension else ndim - 1, float)
    sample_axis = _normalize_axis(fn, sample_axis, ndim)
    temperature_loss, norm_weights, num_samples = mpo_compute_weights_and_temperature_loss(
        sample_q_values, temperature_constraint, projection_operator, sample_axis=sample_axis)
    norm_weights = _stop(use_stop_gradient, norm_weights)
    policy_loss = -jnp.sum(norm_weights * sample_log_probs, axis=sample_axis)
    kl_loss, alpha_loss = compute_parametric_kl_penalty_and_dual_loss(
        kl_constraints, projection_operator, use_stop_gradient)
    loss = (policy_loss_weight * policy_loss + temperature_loss_weight * temperature_loss
            + kl_loss_weight * kl_loss + alpha_loss_weight * alpha_loss)
    return loss, MpoOutputs(temperature_loss, policy_loss, kl_loss, alpha_loss, norm_weights,
                            num_samples)


def get_top_k_weights(top_k_fraction: float, restarting_weights: Array, scaled_advantages: Array,
                      axis_name: str | None = None, use_stop_gradient: bool = True) -> Array:
    """Restarting weights kept only for the top ``top_k_fraction`` of the valid advantages."""
    fn = "get_top_k_weights"
    if not 0.0 < top_k_fraction <= 1.0:
        raise ValueError(f"jumba_rl.{fn}: `top_k_fraction` must be in (0, 1], got "
                         f"{top_k_fraction}.")
    if top_k_fraction == 1.0:
        return restarting_weights
    valid = scaled_advantages - (1.0 - restarting_weights) * _INFINITY
    # The threshold is taken over the advantages of every device on the axis.
    everywhere = lax.all_gather(valid, axis_name=axis_name) if axis_name else valid
    size = math.prod(jnp.shape(everywhere))
    top_k = int(top_k_fraction * size)
    if top_k == 0:
        raise ValueError(f"jumba_rl.{fn}: top_k_fraction {top_k_fraction} is too low to keep "
                         f"any of {size} advantages.")
    top_k_min = jnp.sort(jnp.reshape(everywhere, (-1,)))[-top_k]
    top_k_weights = (valid >= top_k_min).astype(jnp.asarray(valid).dtype)
    return restarting_weights * _stop(use_stop_gradient, top_k_weights)


def vmpo_compute_weights_and_temperature_loss(advantages: Array, restarting_weights: Array,
                                              importance_weights: Array,
                                              temperature_constraint: LagrangePenalty,
                                              projection_operator: Callable[[Array], Array],
                                              top_k_fraction: float,
                                              axis_name: str | None = None,
                                              use_stop_gradient: bool = True):
    """V-MPO's E-step: weights ``∝ exp(A/η)`` over the top-k advantages, and η's dual loss.

    Args:
      advantages: advantages, any shape.
      restarting_weights: 0/1 weights of valid samples (same shape).
      importance_weights: importance weights (same shape).
      temperature_constraint: temperature η and its KL bound.
      projection_operator: maps ``alpha`` to a positive temperature.
      top_k_fraction: fraction of the advantages kept, in (0, 1].
      axis_name: named axis (pmap or vmap) over which the batch is split; the normalisation
        and the top-k threshold then cover the whole batch.
      use_stop_gradient: stop gradients through the weights.

    Returns:
      ``(temperature_loss, normalized_weights, num_samples)``.
    """
    fn = "vmpo_compute_weights_and_temperature_loss"
    base.check_equal_shape(fn, "advantages restarting_weights importance_weights",
                           (advantages, restarting_weights, importance_weights))
    _check_penalty(fn, "temperature_constraint", temperature_constraint)
    base.check_args(fn, "advantages restarting_weights importance_weights",
                    (advantages, restarting_weights, importance_weights), None, float)
    importance_weights = _stop(use_stop_gradient, jnp.asarray(importance_weights))
    temperature = projection_operator(temperature_constraint.alpha)
    scaled = restarting_weights * jnp.asarray(advantages) / temperature
    max_scaled = jnp.max(scaled)
    if axis_name:
        if not use_stop_gradient:
            raise ValueError(f"jumba_rl.{fn}: with an axis_name the maximum advantage is "
                             f"combined across devices without gradient; pass "
                             f"use_stop_gradient=True.")
        max_scaled = lax.pmax(lax.stop_gradient(max_scaled), axis_name=axis_name)
    else:
        max_scaled = _stop(use_stop_gradient, max_scaled)
    top_k_weights = get_top_k_weights(top_k_fraction, restarting_weights, scaled, axis_name,
                                      use_stop_gradient)
    all_sum = base.AllSum(axis_name)
    unnormalized = top_k_weights * importance_weights * jnp.exp(scaled - max_scaled)
    sum_weights = all_sum(unnormalized) + _EPSILON
    num_samples = all_sum(top_k_weights) + _EPSILON
    normalized = _stop(use_stop_gradient, unnormalized / sum_weights)
    log_mean_weights = jnp.log(sum_weights) + max_scaled - jnp.log(num_samples)
    temperature_loss = temperature * (temperature_constraint.epsilon + log_mean_weights)
    return temperature_loss, normalized, num_samples


def vmpo_loss(sample_log_probs: Array, advantages: Array,
              temperature_constraint: LagrangePenalty,
              kl_constraints: Sequence[tuple[Array, LagrangePenalty]],
              projection_operator: Callable[[Array], Array] = _clip_positive,
              restarting_weights: Array | None = None, importance_weights: Array | None = None,
              top_k_fraction: float = 0.5, policy_loss_weight: float = 1.0,
              temperature_loss_weight: float = 1.0, kl_loss_weight: float = 1.0,
              alpha_loss_weight: float = 1.0, axis_name: str | None = None,
              use_stop_gradient: bool = True) -> tuple[Array, MpoOutputs]:
    """The V-MPO loss: top-k advantage-weighted likelihood plus temperature and KL duals.

    Args:
      sample_log_probs: log-probabilities of the taken actions.
      advantages: their advantages (same shape).
      temperature_constraint: temperature multiplier and its KL bound.
      kl_constraints: ``(kl, LagrangePenalty)`` pairs with kl shaped like ``advantages`` (plus a
        trailing axis when ``per_dimension``).
      projection_operator: maps multipliers to positive values.
      restarting_weights: 0/1 validity weights (default ones).
      importance_weights: importance weights (default ones).
      top_k_fraction: fraction of the advantages used, in (0, 1].
      policy_loss_weight: weight of the policy loss.
      temperature_loss_weight: weight of the temperature loss.
      kl_loss_weight: weight of the KL penalty.
      alpha_loss_weight: weight of the KL multipliers' dual loss.
      axis_name: named axis (pmap or vmap) over which the batch is split.
      use_stop_gradient: stop gradients through the weights and dual terms.

    Returns:
      ``(loss, MpoOutputs)``, the loss shaped like ``advantages``.
    """
    fn = "vmpo_loss"
    sample_log_probs = jnp.asarray(sample_log_probs)
    if restarting_weights is None:
        restarting_weights = jnp.ones_like(sample_log_probs)
    if importance_weights is None:
        importance_weights = jnp.ones_like(sample_log_probs)
    base.check_equal_shape(fn, "advantages sample_log_probs restarting_weights importance_weights",
                           (advantages, sample_log_probs, restarting_weights, importance_weights))
    for kl, penalty in kl_constraints:
        want = tuple(jnp.shape(advantages))
        got = tuple(jnp.shape(kl))
        if (got[:len(want)] != want) or len(got) != len(want) + int(penalty.per_dimension):
            raise ValueError(f"jumba_rl.{fn}: kl shape {got} must equal the advantages' shape "
                             f"{want} (plus a trailing axis when per_dimension).")
    temperature_loss, norm_weights, num_samples = vmpo_compute_weights_and_temperature_loss(
        advantages, restarting_weights, importance_weights, temperature_constraint,
        projection_operator, top_k_fraction, axis_name=axis_name,
        use_stop_gradient=use_stop_gradient)
    if axis_name:
        num_examples = math.prod(jnp.shape(lax.all_gather(sample_log_probs, axis_name=axis_name)))
    else:
        num_examples = sample_log_probs.size
    policy_loss = -sample_log_probs * norm_weights * num_examples
    kl_loss, alpha_loss = compute_parametric_kl_penalty_and_dual_loss(
        kl_constraints, projection_operator, use_stop_gradient)
    loss = (policy_loss_weight * policy_loss + temperature_loss_weight * temperature_loss
            + kl_loss_weight * kl_loss + alpha_loss_weight * alpha_loss)
    return loss, MpoOutputs(temperature_loss, policy_loss, kl_loss, alpha_loss, norm_weights,
                            num_samples)

