"""Policy-gradient losses: REINFORCE-style, entropy, PPO's clipped surrogate, QPG/RM/RPG, DPG."""

from __future__ import annotations

import jumba.nn as nn
import jumba.numpy as jnp
from jumba_rl._src import base, distributions, losses

Array = base.Array
Scalar = base.Numeric
_stop = base.maybe_stop_gradient


def _clip_by_l2_norm(x: Array, max_norm: float) -> Array:
    sum_sq = jnp.sum(x * x)
    nonzero = sum_sq > 0
    # The double where keeps the gradient of sqrt finite at zero.
    norm = jnp.where(nonzero, jnp.sqrt(jnp.where(nonzero, sum_sq, 1.0)), sum_sq)
    return x * max_norm / jnp.maximum(norm, max_norm)


def dpg_loss(a_t: Array, dqda_t: Array, dqda_clipping: Scalar | None = None,
             use_stop_gradient: bool = True) -> Array:
    """Deterministic policy-gradient loss ``0.5 ||stop_grad(a_t + dq/da) - a_t||²`` per dim.

    Its gradient with respect to the policy parameters is ``-dq/da · da/dθ``. See Silver et
    al. (2014), "Deterministic policy gradient algorithms".

    Args:
      a_t: continuous action, shape [D].
      dqda_t: gradient of Q with respect to the action, shape [D].
      dqda_clipping: clip ``dq/da`` to this L2 norm (None: no clipping).
      use_stop_gradient: stop gradients through the target.

    Returns:
      The elementwise loss, shape [D].
    """
    base.check_args("dpg_loss", "a_t dqda_t", (a_t, dqda_t), 1, float)
    if dqda_clipping is not None:
        dqda_t = _clip_by_l2_norm(jnp.asarray(dqda_t), dqda_clipping)
    target_tm1 = _stop(use_stop_gradient, dqda_t + jnp.asarray(a_t))
    return losses.l2_loss(target_tm1 - a_t)


def policy_gradient_loss(logits_t: Array, a_t: Array, adv_t: Array, w_t: Array,
                         use_stop_gradient: bool = True) -> Array:
    """REINFORCE/actor-critic loss ``-mean_t(w_t log π(a_t) adv_t)`` for a softmax policy.

    See Williams (1992), "Simple statistical gradient-following algorithms".

    Args:
      logits_t: policy logits, shape [T, A].
      a_t: actions taken, shape [T].
      adv_t: advantages, shape [T].
      w_t: per-step weights, shape [T].
      use_stop_gradient: stop gradients through the advantages.

    Returns:
      The loss (scalar).
    """
    base.check_args("policy_gradient_loss", "logits_t a_t adv_t w_t", (logits_t, a_t, adv_t, w_t),
                    [2, 1, 1, 1], [float, int, float, float])
    log_pi_a_t = distributions.softmax().logprob(a_t, logits_t)
    adv_t = _stop(use_stop_gradient, jnp.asarray(adv_t))
    return jnp.mean(-log_pi_a_t * adv_t * w_t)


def entropy_loss(logits_t: Array, w_t: Array) -> Array:
    """Negative weighted mean entropy of a softmax policy, ``-mean_t(w_t H(π_t))``.

    See Williams & Peng (1991), "Function optimization using connectionist RL algorithms".

    Args:
      logits_t: policy logits, shape [T, A].
      w_t: per-step weights, shape [T].

    Returns:
      The loss (scalar).
    """
    base.check_args("entropy_loss", "logits_t w_t", (logits_t, w_t), [2, 1], float)
    return -jnp.mean(distributions.softmax().entropy(logits_t) * w_t)


def _compute_advantages(logits_t, q_t, use_stop_gradient=True):
    policy_t = nn.softmax(logits_t, axis=1)
    q_t = _stop(use_stop_gradient, jnp.asarray(q_t))
    baseline_t = jnp.sum(policy_t * q_t, axis=1)
    return policy_t, q_t - baseline_t[:, None]


def qpg_loss(logits_t: Array, q_t: Array, use_stop_gradient: bool = True) -> Array:
    """Q-based policy gradient loss ``-mean_t Σ_a π(a) (q(a) - v)``.

    See Srinivasan et al. (2018), "Actor-critic policy optimization in partially observable
    multiagent environments".

    Args:
      logits_t: policy logits, shape [T, A].
      q_t: action values, shape [T, A].
      use_stop_gradient: stop gradients through the advantages.

    Returns:
      The loss (scalar).
    """
    base.check_args("qpg_loss", "logits_t q_t", (logits_t, q_t), 2, float)
    policy_t, advantage_t = _compute_advantages(logits_t, q_t)
    advantage_t = _stop(use_stop_gradient, advantage_t)
    return jnp.mean(jnp.sum(-policy_t * advantage_t, axis=1), axis=0)


def rm_loss(logits_t: Array, q_t: Array, use_stop_gradient: bool = True) -> Array:
    """Regret-matching policy gradient loss ``-mean_t Σ_a π(a) relu(q(a) - v)``.

    See Srinivasan et al. (2018).

    Args:
      logits_t: policy logits, shape [T, A].
      q_t: action values, shape [T, A].
      use_stop_gradient: stop gradients through the regrets.

    Returns:
      The loss (scalar).
    """
    base.check_args("rm_loss", "logits_t q_t", (logits_t, q_t), 2, float)
    policy_t, advantage_t = _compute_advantages(logits_t, q_t)
    regret_t = _stop(use_stop_gradient, nn.relu(advantage_t))
    return jnp.mean(jnp.sum(-policy_t * regret_t, axis=1), axis=0)


def rpg_loss(logits_t: Array, q_t: Array, use_stop_gradient: bool = True) -> Array:
    """Regret policy gradient loss ``mean_t Σ_a relu(q(a) - v)`` (the total regret).

    See Srinivasan et al. (2018).

    Args:
      logits_t: policy logits, shape [T, A].
      q_t: action values, shape [T, A].
      use_stop_gradient: stop gradients through the action values.

    Returns:
      The loss (scalar).
    """
    base.check_args("rpg_loss", "logits_t q_t", (logits_t, q_t), 2, float)
    _, adv_t = _compute_advantages(logits_t, q_t, use_stop_gradient)
    return jnp.mean(jnp.sum(nn.relu(adv_t), axis=1), axis=0)


def clipped_surrogate_pg_loss(prob_ratios_t: Array, adv_t: Array, epsilon: Scalar,
                              use_stop_gradient: bool = True) -> Array:
    """PPO's clipped surrogate loss ``-mean_t min(r_t A_t, clip(r_t, 1-ε, 1+ε) A_t)``.

    See Schulman et al. (2017), "Proximal policy optimization algorithms".

    Args:
      prob_ratios_t: ratios ``π_new(a_t)/π_old(a_t)``, shape [T].
      adv_t: advantages, shape [T].
      epsilon: the clipping range ε.
      use_stop_gradient: stop gradients through the advantages.

    Returns:
      The loss (scalar).

    Examples:
      >>> import jumba.numpy as jnp, jumba_rl
      >>> jumba_rl.clipped_surrogate_pg_loss(jnp.asarray([0.5, 1.5]), jnp.asarray([1.0, 1.0]), 0.2)
      Array(-0.85, dtype=float32)
    """
    base.check_args("clipped_surrogate_pg_loss", "prob_ratios_t adv_t", (prob_ratios_t, adv_t),
                    [1, 1], float)
    adv_t = _stop(use_stop_gradient, jnp.asarray(adv_t))
    clipped_ratios_t = jnp.clip(prob_ratios_t, 1.0 - epsilon, 1.0 + epsilon)
    objective = jnp.fmin(prob_ratios_t * adv_t, clipped_ratios_t * adv_t)
    return -jnp.mean(objective)
