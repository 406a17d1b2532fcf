"""Distributional value learning: categorical (C51) and quantile (QR-DQN) losses.

See Bellemare et al. (2017), "A distributional perspective on reinforcement learning", and
Dabney et al. (2018), "Distributional reinforcement learning with quantile regression".
"""

from __future__ import annotations

import jumba
import jumba.nn as nn
import jumba.numpy as jnp
from jumba_rl._src import base, losses
from jumba_rl._src.distributions import categorical_cross_entropy

Array = base.Array
Numeric = base.Numeric
_stop = base.maybe_stop_gradient


def categorical_l2_project(z_p: Array, probs: Array, z_q: Array) -> Array:
    """Projects a categorical distribution on support ``z_p`` onto the support ``z_q``.

    Each atom's mass is split between the two neighbouring atoms of ``z_q`` in proportion to
    closeness (atoms beyond the ends are clipped onto them); this is the L2 (Cramér) projection
    of Rowland et al. (2018), "An analysis of categorical distributional RL".

    Args:
      z_p: source support, shape [Kp] (need not be sorted).
      probs: source probabilities, shape [Kp].
      z_q: target support, shape [Kq], increasing.

    Returns:
      Probabilities on ``z_q``, shape [Kq].
    """
    base.check_args("categorical_l2_project", "z_p probs z_q", (z_p, probs, z_q), 1, float)
    z_p, probs, z_q = jnp.asarray(z_p), jnp.asarray(probs), jnp.asarray(z_q)
    # Gaps to the next and previous atom of z_q (0 at the ends, where there is no neighbour).
    d_pos = jnp.roll(z_q, -1) - z_q
    d_neg = z_q - jnp.roll(z_q, 1)
    inv_pos = jnp.where(d_pos > 0, 1.0 / jnp.where(d_pos > 0, d_pos, 1.0), 0.0)[:, None]
    inv_neg = jnp.where(d_neg > 0, 1.0 / jnp.where(d_neg > 0, d_neg, 1.0), 0.0)[:, None]
    z_p = jnp.clip(z_p, z_q[0], z_q[-1])[None, :]
    delta = z_p - z_q[:, None]                      # [Kq, Kp]
    above = (delta >= 0.0).astype(probs.dtype)
    delta_hat = above * delta * inv_pos - (1.0 - above) * delta * inv_neg
    return jnp.sum(jnp.clip(1.0 - delta_hat, 0.0, 1.0) * probs[None, :], axis=-1)


def categorical_td_learning(v_atoms_tm1: Array, v_logits_tm1: Array, r_t: Numeric,
                            discount_t: Numeric, v_atoms_t: Array, v_logits_t: Array,
                            stop_target_gradients: bool = True) -> Numeric:
    """Categorical TD learning of a state-value distribution (cross-entropy loss).

    The target distribution is ``softmax(v_logits_t)`` on ``r_t + γ_t v_atoms_t``, projected
    onto ``v_atoms_tm1``. See Bellemare et al. (2017).

    Args:
      v_atoms_tm1: support at time t-1, shape [K].
      v_logits_tm1: logits at time t-1, shape [K].
      r_t: reward at time t.
      discount_t: discount at time t.
      v_atoms_t: support at time t, shape [K'].
      v_logits_t: logits at time t, shape [K'].
      stop_target_gradients: stop gradients through the target.

    Returns:
      The cross-entropy loss (scalar).
    """
    base.check_args("categorical_td_learning",
                    "v_atoms_tm1 v_logits_tm1 r_t discount_t v_atoms_t v_logits_t",
                    (v_atoms_tm1, v_logits_tm1, r_t, discount_t, v_atoms_t, v_logits_t),
                    [1, 1, 0, 0, 1, 1], float)
    target_z = r_t + discount_t * jnp.asarray(v_atoms_t)
    target = categorical_l2_project(target_z, nn.softmax(v_logits_t), v_atoms_tm1)
    target = _stop(stop_target_gradients, target)
    return categorical_cross_entropy(labels=target, logits=v_logits_tm1)


def categorical_q_learning(q_atoms_tm1: Array, q_logits_tm1: Array, a_tm1: Numeric, r_t: Numeric,
                           discount_t: Numeric, q_atoms_t: Array, q_logits_t: Array,
                           stop_target_gradients: bool = True) -> Numeric:
    """Categorical Q-learning (C51): bootstrap from the action with the largest mean value.

    See Bellemare et al. (2017).

    Args:
      q_atoms_tm1: support at time t-1, shape [K].
      q_logits_tm1: logits at time t-1, shape [A, K].
      a_tm1: action at time t-1.
      r_t: reward at time t.
      discount_t: discount at time t.
      q_atoms_t: support at time t, shape [K'].
      q_logits_t: logits at time t, shape [A, K'].
      stop_target_gradients: stop gradients through the target.

    Returns:
      The cross-entropy loss (scalar).
    """
    base.check_args("categorical_q_learning",
                    "q_atoms_tm1 q_logits_tm1 a_tm1 r_t discount_t q_atoms_t q_logits_t",
                    (q_atoms_tm1, q_logits_tm1, a_tm1, r_t, discount_t, q_atoms_t, q_logits_t),
                    [1, 2, 0, 0, 0, 1, 2], [float, float, int, float, float, float, float])
    q_atoms_t = jnp.asarray(q_atoms_t)
    target_z = r_t + discount_t * q_atoms_t
    q_t_probs = nn.softmax(q_logits_t, axis=-1)
    q_t_mean = jnp.sum(q_t_probs * q_atoms_t[None, :], axis=1)
    target = categorical_l2_project(target_z, q_t_probs[jnp.argmax(q_t_mean)], q_atoms_tm1)
    target = _stop(stop_target_gradients, target)
    return categorical_cross_entropy(labels=target, logits=jnp.asarray(q_logits_tm1)[a_tm1])


def categorical_double_q_learning(q_atoms_tm1: Array, q_logits_tm1: Array, a_tm1: Numeric,
                                  r_t: Numeric, discount_t: Numeric, q_atoms_t: Array,
                                  q_logits_t: Array, q_t_selector: Array,
                                  stop_target_gradients: bool = True) -> Numeric:
    """Categorical double Q-learning: ``q_t_selector`` picks the bootstrap action.

    See van Hasselt et al. (2016) and Bellemare et al. (2017).

    Args:
      q_atoms_tm1: support at time t-1, shape [K].
      q_logits_tm1: logits at time t-1, shape [A, K].
      a_tm1: action at time t-1.
      r_t: reward at time t.
      discount_t: discount at time t.
      q_atoms_t: support at time t, shape [K'].
      q_logits_t: logits at time t, shape [A, K'].
      q_t_selector: action values that choose the action, shape [A].
      stop_target_gradients: stop gradients through the target.

    Returns:
      The cross-entropy loss (scalar).
    """
    base.check_args(
        "categorical_double_q_learning",
        "q_atoms_tm1 q_logits_tm1 a_tm1 r_t discount_t q_atoms_t q_logits_t q_t_selector",
        (q_atoms_tm1, q_logits_tm1, a_tm1, r_t, discount_t, q_atoms_t, q_logits_t, q_t_selector),
        [1, 2, 0, 0, 0, 1, 2, 1], [float, float, int, float, float, float, float, float])
    target_z = r_t + discount_t * jnp.asarray(q_atoms_t)
    p_target_z = nn.softmax(jnp.asarray(q_logits_t)[jnp.argmax(q_t_selector)])
    target = _stop(stop_target_gradients,
                   categorical_l2_project(target_z, p_target_z, q_atoms_tm1))
    return categorical_cross_entropy(labels=target, logits=jnp.asarray(q_logits_tm1)[a_tm1])


def quantile_regression_loss(dist_src: Array, tau_src: Array, dist_target: Array,
                             huber_param: float = 0.0,
                             stop_target_gradients: bool = True) -> Numeric:
    """Quantile regression (optionally quantile Huber) loss between two sets of quantiles.

    ``Σ_i mean_j |τ_i - 1[δ_ij < 0]| ρ(δ_ij)`` with ``δ_ij = target_j - src_i`` and ``ρ`` the
    absolute value or, when ``huber_param > 0``, the Huber loss. See Dabney et al. (2018).

    Args:
      dist_src: source quantile values, shape [N].
      tau_src: their quantile levels, shape [N].
      dist_target: target samples, shape [M].
      huber_param: Huber threshold (0 gives the plain quantile loss).
      stop_target_gradients: stop gradients through the indicator ``1[δ < 0]``.

    Returns:
      The loss (scalar).
    """
    base.check_args("quantile_regression_loss", "dist_src tau_src dist_target",
                    (dist_src, tau_src, dist_target), 1, float)
    dist_src, dist_target = jnp.asarray(dist_src), jnp.asarray(dist_target)
    delta = dist_target[None, :] - dist_src[:, None]
    delta_neg = _stop(stop_target_gradients, (delta < 0.0).astype(delta.dtype))
    weight = jnp.abs(jnp.asarray(tau_src)[:, None] - delta_neg)
    loss = losses.huber_loss(delta, huber_param) if huber_param > 0.0 else jnp.abs(delta)
    return jnp.sum(jnp.mean(loss * weight, axis=-1))


def quantile_q_learning(dist_q_tm1: Array, tau_q_tm1: Array, a_tm1: Numeric, r_t: Numeric,
                        discount_t: Numeric, dist_q_t_selector: Array, dist_q_t: Array,
                        huber_param: float = 0.0,
                        stop_target_gradients: bool = True) -> Numeric:
    """QR-DQN loss: quantile regression towards ``r_t + γ_t`` the greedy action's quantiles.

    See Dabney et al. (2018).

    Args:
      dist_q_tm1: quantiles at time t-1, shape [N, A].
      tau_q_tm1: quantile levels, shape [N].
      a_tm1: action at time t-1.
      r_t: reward at time t.
      discount_t: discount at time t.
      dist_q_t_selector: quantiles used to pick the greedy action, shape [N', A].
      dist_q_t: target quantiles at time t, shape [N', A].
      huber_param: Huber threshold.
      stop_target_gradients: stop gradients through the target.

    Returns:
      The loss (scalar).
    """
    base.check_args(
        "quantile_q_learning",
        "dist_q_tm1 tau_q_tm1 a_tm1 r_t discount_t dist_q_t_selector dist_q_t",
        (dist_q_tm1, tau_q_tm1, a_tm1, r_t, discount_t, dist_q_t_selector, dist_q_t),
        [2, 1, 0, 0, 0, 2, 2], [float, float, int, float, float, float, float])
    dist_qa_tm1 = jnp.asarray(dist_q_tm1)[:, a_tm1]
    a_t = jnp.argmax(jnp.mean(dist_q_t_selector, axis=0))
    dist_target = r_t + discount_t * jnp.asarray(dist_q_t)[:, a_t]
    dist_target = _stop(stop_target_gradients, dist_target)
    return quantile_regression_loss(dist_qa_tm1, tau_q_tm1, dist_target, huber_param)


def quantile_expected_sarsa(dist_q_tm1: Array, tau_q_tm1: Array, a_tm1: Numeric, r_t: Numeric,
                            discount_t: Numeric, dist_q_t: Array, probs_a_t: Array,
                            huber_param: float = 0.0,
                            stop_target_gradients: bool = True) -> Numeric:
    """Quantile expected SARSA: the per-action quantile losses averaged under ``probs_a_t``.

    Args:
      dist_q_tm1: quantiles at time t-1, shape [N, A].
      tau_q_tm1: quantile levels, shape [N].
      a_tm1: action at time t-1.
      r_t: reward at time t.
      discount_t: discount at time t.
      dist_q_t: target quantiles at time t, shape [N', A].
      probs_a_t: target policy probabilities at time t, shape [A].
      huber_param: Huber threshold.
      stop_target_gradients: stop gradients through the target and the probabilities.

    Returns:
      The loss (scalar).
    """
    base.check_args(
        "quantile_expected_sarsa",
        "dist_q_tm1 tau_q_tm1 a_tm1 r_t discount_t dist_q_t probs_a_t",
        (dist_q_tm1, tau_q_tm1, a_tm1, r_t, discount_t, dist_q_t, probs_a_t),
        [2, 1, 0, 0, 0, 2, 1], [float, float, int, float, float, float, float])
    dist_qa_tm1 = jnp.asarray(dist_q_tm1)[:, a_tm1]
    dist_target = _stop(stop_target_gradients, r_t + discount_t * jnp.asarray(dist_q_t))
    probs_a_t = _stop(stop_target_gradients, jnp.asarray(probs_a_t))
    per_action = jumba.vmap(
        lambda target: quantile_regression_loss(dist_qa_tm1, tau_q_tm1, target, huber_param),
        in_axes=1)(dist_target)
    return jnp.dot(per_action, probs_a_t)
