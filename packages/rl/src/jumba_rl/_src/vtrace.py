"""V-trace off-policy corrections (IMPALA) and their leaky variant.

See Espeholt et al. (2018), "IMPALA: Scalable distributed deep-RL with importance weighted
actor-learner architectures", and Zahavy et al. (2020), "A self-tuning actor-critic algorithm"
for leaky V-trace.
"""

from __future__ import annotations

import collections

import jumba.lax as lax
import jumba.numpy as jnp
from jumba_rl._src import base

Array = base.Array
Numeric = base.Numeric

VTraceOutput = collections.namedtuple("vtrace_output", ["errors", "pg_advantage", "q_estimate"])


def _check(fn, v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_, sample_mask):
    if sample_mask is None:
        sample_mask = jnp.ones(jnp.shape(rho_tm1), dtype=bool)
    base.check_args(fn, "v_tm1 v_t r_t discount_t rho_tm1 lambda_ sample_mask",
                    (v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_, sample_mask),
                    [1, 1, 1, 1, 1, {0, 1}, 1], [float] * 6 + [bool])
    base.check_equal_shape(fn, "v_tm1 v_t r_t discount_t rho_tm1 sample_mask",
                           (v_tm1, v_t, r_t, discount_t, rho_tm1, sample_mask))
    return sample_mask


def _vtrace_errors(v_tm1, v_t, r_t, discount_t, c_tm1, clipped_rhos_tm1, sample_mask,
                   stop_target_gradients):
    td_errors = clipped_rhos_tm1 * (r_t + discount_t * v_t - v_tm1)
    learnable = jnp.asarray(sample_mask).astype(td_errors.dtype)

    def step(acc, xs):
        td, discount, mask, c = xs
        # Masked steps pass the accumulated correction through unchanged.
        acc = mask * (td + discount * c * acc) + (1.0 - mask) * acc
        return acc, acc

    _, errors = lax.scan(step, jnp.zeros((), td_errors.dtype),
                         (td_errors, discount_t, learnable, c_tm1), reverse=True)
    if stop_target_gradients is False:
        return errors
    return base.maybe_stop_gradient(stop_target_gradients, errors + v_tm1) - v_tm1


def vtrace(v_tm1: Array, v_t: Array, r_t: Array, discount_t: Array, rho_tm1: Array,
           lambda_: Numeric = 1.0, clip_rho_threshold: float = 1.0,
           stop_target_gradients: bool = True, sample_mask: Array | None = None) -> Array:
    """V-trace TD errors of a trajectory.

    With ``c_t = λ min(1, ρ_t)`` and ``ρ̄_t = min(ρ̄, ρ_t)``, the error is
    ``e_t = ρ̄_t δ_t + γ_{t+1} c_t e_{t+1}`` where ``δ_t = r_{t+1} + γ_{t+1} v_{t+1} - v_t``.

    Args:
      v_tm1: values at times [0, T-1], shape [T].
      v_t: values at times [1, T], shape [T].
      r_t: rewards at times [1, T], shape [T].
      discount_t: discounts at times [1, T], shape [T].
      rho_tm1: importance ratios ``π/μ`` at times [0, T-1], shape [T].
      lambda_: mixing parameter, scalar or shape [T].
      clip_rho_threshold: the clipping threshold ``ρ̄`` of the TD errors' ratios.
      stop_target_gradients: stop gradients through the targets ``errors + v_tm1``.
      sample_mask: boolean mask, shape [T]; masked steps contribute nothing.

    Returns:
      V-trace errors, shape [T].
    """
    sample_mask = _check("vtrace", v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_, sample_mask)
    c_tm1 = jnp.minimum(1.0, rho_tm1) * lambda_
    clipped_rhos_tm1 = jnp.minimum(clip_rho_threshold, rho_tm1)
    return _vtrace_errors(v_tm1, v_t, r_t, discount_t, c_tm1, clipped_rhos_tm1, sample_mask,
                          stop_target_gradients)


def leaky_vtrace(v_tm1: Array, v_t: Array, r_t: Array, discount_t: Array, rho_tm1: Array,
                 alpha_: float = 1.0, lambda_: Numeric = 1.0, clip_rho_threshold: float = 1.0,
                 stop_target_gradients: bool = True, sample_mask: Array | None = None) -> Array:
    """Leaky V-trace errors: clipped ratios mixed with unclipped ones by ``alpha_``.

    ``alpha_ = 1`` is V-trace; ``alpha_ = 0`` is unclipped importance sampling.

    Args:
      v_tm1: values at times [0, T-1], shape [T].
      v_t: values at times [1, T], shape [T].
      r_t: rewards at times [1, T], shape [T].
      discount_t: discounts at times [1, T], shape [T].
      rho_tm1: importance ratios at times [0, T-1], shape [T].
      alpha_: weight of the clipped ratios, in [0, 1].
      lambda_: mixing parameter, scalar or shape [T].
      clip_rho_threshold: clipping threshold of the TD errors' ratios.
      stop_target_gradients: stop gradients through the targets.
      sample_mask: boolean mask, shape [T].

    Returns:
      Leaky V-trace errors, shape [T].
    """
    sample_mask = _check("leaky_vtrace", v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_,
                         sample_mask)
    c_tm1 = ((1 - alpha_) * rho_tm1 + alpha_ * jnp.minimum(1.0, rho_tm1)) * lambda_
    clipped_rhos_tm1 = (1 - alpha_) * rho_tm1 + alpha_ * jnp.minimum(clip_rho_threshold, rho_tm1)
    return _vtrace_errors(v_tm1, v_t, r_t, discount_t, c_tm1, clipped_rhos_tm1, sample_mask,
                          stop_target_gradients)


def _advantages(errors, v_tm1, v_t, r_t, discount_t, lambda_, clipped_pg_rho_tm1):
    targets_tm1 = errors + v_tm1
    q_bootstrap = jnp.concatenate([
        lambda_[:-1] * targets_tm1[1:] + (1 - lambda_[:-1]) * v_tm1[1:],
        v_t[-1:],
    ], axis=0)
    q_estimate = r_t + discount_t * q_bootstrap
    pg_advantages = clipped_pg_rho_tm1 * (q_estimate - v_tm1)
    return VTraceOutput(errors=errors, pg_advantage=pg_advantages, q_estimate=q_estimate)


def vtrace_td_error_and_advantage(v_tm1: Array, v_t: Array, r_t: Array, discount_t: Array,
                                  rho_tm1: Array, lambda_: Numeric = 1.0,
                                  clip_rho_threshold: float = 1.0,
                                  clip_pg_rho_threshold: float = 1.0,
                                  stop_target_gradients: bool = True,
                                  sample_mask: Array | None = None) -> VTraceOutput:
    """V-trace errors plus the policy-gradient advantages and Q estimates of IMPALA.

    Args:
      v_tm1: values at times [0, T-1], shape [T].
      v_t: values at times [1, T], shape [T].
      r_t: rewards at times [1, T], shape [T].
      discount_t: discounts at times [1, T], shape [T].
      rho_tm1: importance ratios at times [0, T-1], shape [T].
      lambda_: mixing parameter, scalar or shape [T].
      clip_rho_threshold: clipping threshold of the TD errors' ratios.
      clip_pg_rho_threshold: clipping threshold of the advantages' ratios.
      stop_target_gradients: stop gradients through the targets.
      sample_mask: boolean mask, shape [T].

    Returns:
      ``VTraceOutput(errors, pg_advantage, q_estimate)``, each of shape [T].
    """
    sample_mask = _check("vtrace_td_error_and_advantage", v_tm1, v_t, r_t, discount_t, rho_tm1,
                         lambda_, sample_mask)
    lambda_ = jnp.ones_like(discount_t) * lambda_
    errors = vtrace(v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_, clip_rho_threshold,
                    stop_target_gradients, sample_mask)
    return _advantages(errors, jnp.asarray(v_tm1), jnp.asarray(v_t), r_t, discount_t, lambda_,
                       jnp.minimum(clip_pg_rho_threshold, rho_tm1))


def leaky_vtrace_td_error_and_advantage(v_tm1: Array, v_t: Array, r_t: Array, discount_t: Array,
                                        rho_tm1: Array, alpha: float = 1.0,
                                        lambda_: Numeric = 1.0, clip_rho_threshold: float = 1.0,
                                        clip_pg_rho_threshold: float = 1.0,
                                        stop_target_gradients: bool = True,
                                        sample_mask: Array | None = None) -> VTraceOutput:
    """Leaky V-trace errors plus policy-gradient advantages and Q estimates.

    Args:
      v_tm1: values at times [0, T-1], shape [T].
      v_t: values at times [1, T], shape [T].
      r_t: rewards at times [1, T], shape [T].
      discount_t: discounts at times [1, T], shape [T].
      rho_tm1: importance ratios at times [0, T-1], shape [T].
      alpha: weight of the clipped ratios, in [0, 1].
      lambda_: mixing parameter, scalar or shape [T].
      clip_rho_threshold: clipping threshold of the TD errors' ratios.
      clip_pg_rho_threshold: clipping threshold of the advantages' ratios.
      stop_target_gradients: stop gradients through the targets.
      sample_mask: boolean mask, shape [T].

    Returns:
      ``VTraceOutput(errors, pg_advantage, q_estimate)``, each of shape [T].
    """
    sample_mask = _check("leaky_vtrace_td_error_and_advantage", v_tm1, v_t, r_t, discount_t,
                         rho_tm1, lambda_, sample_mask)
    lambda_ = jnp.ones_like(discount_t) * lambda_
    errors = leaky_vtrace(v_tm1, v_t, r_t, discount_t, rho_tm1, alpha, lambda_,
                          clip_rho_threshold, stop_target_gradients, sample_mask)
    clipped_pg_rho_tm1 = ((1 - alpha) * rho_tm1
                          + alpha * jnp.minimum(clip_pg_rho_threshold, rho_tm1))
    return _advantages(errors, jnp.asarray(v_tm1), jnp.asarray(v_t), r_t, discount_t, lambda_,
                       clipped_pg_rho_tm1)
