"""Value learning: TD errors for state values and action values.

Each function returns a TD error ``target - prediction`` for one transition (or, for the λ
variants, one trajectory); minimise ``0.5 * error**2`` (``jumba_rl.l2_loss``) or the Huber loss
of it. Targets are wrapped in ``stop_gradient`` unless ``stop_target_gradients=False``.
"""

from __future__ import annotations

import jumba.numpy as jnp
from jumba_rl._src import base, multistep

Array = base.Array
Numeric = base.Numeric
_stop = base.maybe_stop_gradient


def td_learning(v_tm1: Numeric, r_t: Numeric, discount_t: Numeric, v_t: Numeric,
                stop_target_gradients: bool = True) -> Numeric:
    """TD(0) error ``r_t + γ_t v_t - v_{t-1}``.

    See Sutton (1988), "Learning to predict by the methods of temporal differences".

    Args:
      v_tm1: value at time t-1 (scalar).
      r_t: reward at time t (scalar).
      discount_t: discount at time t (scalar).
      v_t: value at time t (scalar).
      stop_target_gradients: stop gradients through the target.

    Returns:
      The TD error (scalar).

    Examples:
      >>> import jumba, jumba.numpy as jnp, jumba_rl
      >>> jumba_rl.td_learning(1.0, 0.5, 0.9, 2.0)
      Array(1.3, dtype=float32, weak_type=True)
      >>> jumba.vmap(jumba_rl.td_learning)(jnp.asarray([1.0, 2.0]), jnp.asarray([0.5, 0.5]),
      ...                                  jnp.asarray([0.9, 0.0]), jnp.asarray([2.0, 2.0]))
      Array([ 1.3, -1.5], dtype=float32)
    """
    base.check_args("td_learning", "v_tm1 r_t discount_t v_t", (v_tm1, r_t, discount_t, v_t),
                    0, float)
    target_tm1 = _stop(stop_target_gradients, jnp.asarray(r_t + discount_t * v_t))
    return target_tm1 - v_tm1


def td_lambda(v_tm1: Array, r_t: Array, discount_t: Array, v_t: Array, lambda_: Numeric,
              stop_target_gradients: bool = True) -> Array:
    """TD(λ) errors of a trajectory: lambda returns minus ``v_tm1``.

    See Sutton (1988) and Sutton & Barto, chapter 12.

    Args:
      v_tm1: values at times [0, T-1], shape [T].
      r_t: rewards at times [1, T], shape [T].
      discount_t: discounts at times [1, T], shape [T].
      v_t: values at times [1, T], shape [T].
      lambda_: mixing parameter, scalar or shape [T].
      stop_target_gradients: stop gradients through the targets.

    Returns:
      TD(λ) errors, shape [T].
    """
    base.check_args("td_lambda", "v_tm1 r_t discount_t v_t lambda_",
                    (v_tm1, r_t, discount_t, v_t, lambda_), [1, 1, 1, 1, {0, 1}], float)
    target_tm1 = multistep.lambda_returns(r_t, discount_t, v_t, lambda_)
    return _stop(stop_target_gradients, target_tm1) - v_tm1


def _index(q, a):
    return jnp.asarray(q)[a]


def sarsa(q_tm1: Array, a_tm1: Numeric, r_t: Numeric, discount_t: Numeric, q_t: Array,
          a_t: Numeric, stop_target_gradients: bool = True) -> Numeric:
    """SARSA TD error ``r_t + γ_t q_t[a_t] - q_{t-1}[a_{t-1}]``.

    See Rummery & Niranjan (1994), "On-line Q-learning using connectionist systems".

    Args:
      q_tm1: action values at time t-1, shape [A].
      a_tm1: action at time t-1 (integer scalar).
      r_t: reward at time t.
      discount_t: discount at time t.
      q_t: action values at time t, shape [A].
      a_t: action at time t (integer scalar).
      stop_target_gradients: stop gradients through the target.

    Returns:
      The TD error (scalar).
    """
    base.check_args("sarsa", "q_tm1 a_tm1 r_t discount_t q_t a_t",
                    (q_tm1, a_tm1, r_t, discount_t, q_t, a_t), [1, 0, 0, 0, 1, 0],
                    [float, int, float, float, float, int])
    target_tm1 = _stop(stop_target_gradients, r_t + discount_t * _index(q_t, a_t))
    return target_tm1 - _index(q_tm1, a_tm1)


def expected_sarsa(q_tm1: Array, a_tm1: Numeric, r_t: Numeric, discount_t: Numeric, q_t: Array,
                   probs_a_t: Array, stop_target_gradients: bool = True) -> Numeric:
    """Expected SARSA TD error ``r_t + γ_t Σ_a π(a) q_t[a] - q_{t-1}[a_{t-1}]``.

    See van Seijen et al. (2009), "A theoretical and empirical analysis of Expected Sarsa".

    Args:
      q_tm1: action values at time t-1, shape [A].
      a_tm1: action at time t-1.
      r_t: reward at time t.
      discount_t: discount at time t.
      q_t: action values at time t, shape [A].
      probs_a_t: target policy probabilities at time t, shape [A].
      stop_target_gradients: stop gradients through the target.

    Returns:
      The TD error (scalar).
    """
    base.check_args("expected_sarsa", "q_tm1 a_tm1 r_t discount_t q_t probs_a_t",
                    (q_tm1, a_tm1, r_t, discount_t, q_t, probs_a_t), [1, 0, 0, 0, 1, 1],
                    [float, int, float, float, float, float])
    target_tm1 = _stop(stop_target_gradients, r_t + discount_t * jnp.dot(q_t, probs_a_t))
    return target_tm1 - _index(q_tm1, a_tm1)


def sarsa_lambda(q_tm1: Array, a_tm1: Array, r_t: Array, discount_t: Array, q_t: Array,
                 a_t: Array, lambda_: Numeric, stop_target_gradients: bool = True) -> Array:
    """SARSA(λ) errors of a trajectory (lambda returns bootstrapped from ``q_t[a_t]``).

    See Sutton & Barto, chapter 12.7.

    Args:
      q_tm1: action values at times [0, T-1], shape [T, A].
      a_tm1: actions at times [0, T-1], shape [T].
      r_t: rewards at times [1, T], shape [T].
      discount_t: discounts at times [1, T], shape [T].
      q_t: action values at times [1, T], shape [T, A].
      a_t: actions at times [1, T], shape [T].
      lambda_: mixing parameter, scalar or shape [T].
      stop_target_gradients: stop gradients through the targets.

    Returns:
      SARSA(λ) errors, shape [T].
    """
    base.check_args("sarsa_lambda", "q_tm1 a_tm1 r_t discount_t q_t a_t lambda_",
                    (q_tm1, a_tm1, r_t, discount_t, q_t, a_t, lambda_),
                    [2, 1, 1, 1, 2, 1, {0, 1}], [float, int, float, float, float, int, float])
    qa_tm1 = base.batched_index(q_tm1, a_tm1)
    qa_t = base.batched_index(q_t, a_t)
    target_tm1 = multistep.lambda_returns(r_t, discount_t, qa_t, lambda_)
    return _stop(stop_target_gradients, target_tm1) - qa_tm1


def q_learning(q_tm1: Array, a_tm1: Numeric, r_t: Numeric, discount_t: Numeric, q_t: Array,
               stop_target_gradients: bool = True) -> Numeric:
    """Q-learning TD error ``r_t + γ_t max_a q_t[a] - q_{t-1}[a_{t-1}]``.

    See Watkins & Dayan (1992), "Q-learning".

    Args:
      q_tm1: action values at time t-1, shape [A].
      a_tm1: action at time t-1.
      r_t: reward at time t.
      discount_t: discount at time t.
      q_t: action values at time t, shape [A].
      stop_target_gradients: stop gradients through the target.

    Returns:
      The TD error (scalar).

    Examples:
      >>> import jumba.numpy as jnp, jumba_rl
      >>> jumba_rl.q_learning(jnp.asarray([1.0, 2.0]), 0, 1.0, 0.5, jnp.asarray([3.0, 4.0]))
      Array(2., dtype=float32)
    """
    base.check_args("q_learning", "q_tm1 a_tm1 r_t discount_t q_t",
                    (q_tm1, a_tm1, r_t, discount_t, q_t), [1, 0, 0, 0, 1],
                    [float, int, float, float, float])
    target_tm1 = _stop(stop_target_gradients, r_t + discount_t * jnp.max(q_t))
    return target_tm1 - _index(q_tm1, a_tm1)


def double_q_learning(q_tm1: Array, a_tm1: Numeric, r_t: Numeric, discount_t: Numeric,
                      q_t_value: Array, q_t_selector: Array,
                      stop_target_gradients: bool = True) -> Numeric:
    """Double Q-learning TD error: ``q_t_selector`` picks the action, ``q_t_value`` values it.

    See van Hasselt (2010), "Double Q-learning".

    Args:
      q_tm1: action values at time t-1, shape [A].
      a_tm1: action at time t-1.
      r_t: reward at time t.
      discount_t: discount at time t.
      q_t_value: action values used to evaluate the target, shape [A].
      q_t_selector: action values used to select the greedy action, shape [A].
      stop_target_gradients: stop gradients through the target.

    Returns:
      The TD error (scalar).
    """
    base.check_args("double_q_learning", "q_tm1 a_tm1 r_t discount_t q_t_value q_t_selector",
                    (q_tm1, a_tm1, r_t, discount_t, q_t_value, q_t_selector),
                    [1, 0, 0, 0, 1, 1], [float, int, float, float, float, float])
    best = jnp.argmax(q_t_selector)
    target_tm1 = _stop(stop_target_gradients, r_t + discount_t * _index(q_t_value, best))
    return target_tm1 - _index(q_tm1, a_tm1)


def persistent_q_learning(q_tm1: Array, a_tm1: Numeric, r_t: Numeric, discount_t: Numeric,
                          q_t: Array, action_gap_scale: float,
                          stop_target_gradients: bool = True) -> Numeric:
    """Persistent Q-learning TD error, which widens the action gap.

    The bootstrap is ``(1 - s) max_a q_t[a] + s q_t[a_{t-1}]`` with ``s = action_gap_scale``.
    See Bellemare et al. (2015), "Increasing the action gap: new operators for RL".

    Args:
      q_tm1: action values at time t-1, shape [A].
      a_tm1: action at time t-1.
      r_t: reward at time t.
      discount_t: discount at time t.
      q_t: action values at time t, shape [A].
      action_gap_scale: coefficient in [0, 1] for repeating the previous action.
      stop_target_gradients: stop gradients through the target.

    Returns:
      The TD error (scalar).
    """
    base.check_args("persistent_q_learning", "q_tm1 a_tm1 r_t discount_t q_t",
                    (q_tm1, a_tm1, r_t, discount_t, q_t), [1, 0, 0, 0, 1],
                    [float, int, float, float, float])
    corrected = (1.0 - action_gap_scale) * jnp.max(q_t) + action_gap_scale * _index(q_t, a_tm1)
    target_tm1 = _stop(stop_target_gradients, r_t + discount_t * corrected)
    return target_tm1 - _index(q_tm1, a_tm1)


def qv_learning(q_tm1: Array, a_tm1: Numeric, r_t: Numeric, discount_t: Numeric, v_t: Numeric,
                stop_target_gradients: bool = True) -> Numeric:
    """QV-learning TD error for action values, bootstrapping from a state value.

    See Wiering (2005), "QV(λ)-learning: A new on-policy reinforcement learning algorithm".

    Args:
      q_tm1: action values at time t-1, shape [A].
      a_tm1: action at time t-1.
      r_t: reward at time t.
      discount_t: discount at time t.
      v_t: state value at time t (scalar).
      stop_target_gradients: stop gradients through the target.

    Returns:
      The TD error (scalar).
    """
    base.check_args("qv_learning", "q_tm1 a_tm1 r_t discount_t v_t",
                    (q_tm1, a_tm1, r_t, discount_t, v_t), [1, 0, 0, 0, 0],
                    [float, int, float, float, float])
    target_tm1 = _stop(stop_target_gradients, jnp.asarray(r_t + discount_t * v_t))
    return target_tm1 - _index(q_tm1, a_tm1)


def qv_max(v_tm1: Numeric, r_t: Numeric, discount_t: Numeric, q_t: Array,
           stop_target_gradients: bool = True) -> Numeric:
    """QVMAX TD error for a state value, bootstrapping from ``max_a q_t[a]``.

    See Wiering & van Hasselt (2009), "The QV family compared to other RL algorithms".

    Args:
      v_tm1: state value at time t-1 (scalar).
      r_t: reward at time t.
      discount_t: discount at time t.
      q_t: action values at time t, shape [A].
      stop_target_gradients: stop gradients through the target.

    Returns:
      The TD error (scalar).
    """
    base.check_args("qv_max", "v_tm1 r_t discount_t q_t", (v_tm1, r_t, discount_t, q_t),
                    [0, 0, 0, 1], float)
    target_tm1 = _stop(stop_target_gradients, r_t + discount_t * jnp.max(q_t))
    return target_tm1 - v_tm1


def q_lambda(q_tm1: Array, a_tm1: Array, r_t: Array, discount_t: Array, q_t: Array,
             lambda_: Numeric, stop_target_gradients: bool = True) -> Array:
    """Peng's/Watkins' Q(λ) errors: lambda returns bootstrapped from ``max_a q_t``.

    See Peng & Williams (1996), "Incremental multi-step Q-learning".

    Args:
      q_tm1: action values at times [0, T-1], shape [T, A].
      a_tm1: actions at times [0, T-1], shape [T].
      r_t: rewards at times [1, T], shape [T].
      discount_t: discounts at times [1, T], shape [T].
      q_t: action values at times [1, T], shape [T, A].
      lambda_: mixing parameter, scalar or shape [T].
      stop_target_gradients: stop gradients through the targets.

    Returns:
      Q(λ) errors, shape [T].
    """
    base.check_args("q_lambda", "q_tm1 a_tm1 r_t discount_t q_t lambda_",
                    (q_tm1, a_tm1, r_t, discount_t, q_t, lambda_), [2, 1, 1, 1, 2, {0, 1}],
                    [float, int, float, float, float, float])
    qa_tm1 = base.batched_index(q_tm1, a_tm1)
    v_t = jnp.max(q_t, axis=-1)
    target_tm1 = multistep.lambda_returns(r_t, discount_t, v_t, lambda_)
    return _stop(stop_target_gradients, target_tm1) - qa_tm1


def retrace(q_tm1: Array, q_t: Array, a_tm1: Array, a_t: Array, r_t: Array, discount_t: Array,
            pi_t: Array, mu_t: Array, lambda_: float, eps: float = 1e-8,
            stop_target_gradients: bool = True) -> Array:
    """Retrace errors of a trajectory, with traces ``c_t = λ min(1, π(a_t)/μ(a_t))``.

    See Munos et al. (2016), "Safe and efficient off-policy reinforcement learning".

    Args:
      q_tm1: action values at times [0, T-1], shape [T, A].
      q_t: action values at times [1, T], shape [T, A].
      a_tm1: actions at times [0, T-1], shape [T].
      a_t: actions at times [1, T], shape [T].
      r_t: rewards at times [1, T], shape [T].
      discount_t: discounts at times [1, T], shape [T].
      pi_t: target policy probabilities at times [1, T], shape [T, A].
      mu_t: behaviour policy probabilities of ``a_t``, shape [T].
      lambda_: scalar mixing parameter.
      eps: small value added to ``mu_t`` to avoid dividing by zero.
      stop_target_gradients: stop gradients through the targets.

    Returns:
      Retrace errors, shape [T].
    """
    base.check_args("retrace", "q_tm1 q_t a_tm1 a_t r_t discount_t pi_t mu_t",
                    (q_tm1, q_t, a_tm1, a_t, r_t, discount_t, pi_t, mu_t),
                    [2, 2, 1, 1, 1, 1, 2, 1],
                    [float, float, int, int, float, float, float, float])
    pi_a_t = base.batched_index(pi_t, a_t)
    c_t = jnp.minimum(1.0, pi_a_t / (mu_t + eps)) * lambda_
    target_tm1 = multistep.general_off_policy_returns_from_action_values(
        q_t, a_t, r_t, discount_t, c_t, pi_t)
    return _stop(stop_target_gradients, target_tm1) - base.batched_index(q_tm1, a_tm1)


def retrace_continuous(q_tm1: Array, q_t: Array, v_t: Array, r_t: Array, discount_t: Array,
                       log_rhos: Array, lambda_: Numeric,
                       stop_target_gradients: bool = True) -> Array:
    """Retrace errors for continuous actions, with traces ``λ min(1, exp(log_rhos))``.

    See Munos et al. (2016).

    Args:
      q_tm1: values of the taken actions at times [0, K-1], shape [K].
      q_t: values of the taken actions at times [1, K-1], shape [K-1].
      v_t: state values at times [1, K], shape [K].
      r_t: rewards at times [1, K], shape [K].
      discount_t: discounts at times [1, K], shape [K].
      log_rhos: log importance ratios ``log π/μ`` at times [1, K-1], shape [K-1].
      lambda_: mixing parameter, scalar or shape [K-1].
      stop_target_gradients: stop gradients through the targets.

    Returns:
      Retrace errors, shape [K].
    """
    base.check_args("retrace_continuous", "q_tm1 q_t r_t discount_t log_rhos lambda_",
                    (q_tm1, q_t, r_t, discount_t, log_rhos, lambda_),
                    [1, 1, 1, 1, 1, {0, 1}], [float, float, float, float, float, None])
    c_t = jnp.minimum(1.0, jnp.exp(log_rhos)) * lambda_
    target_tm1 = multistep.general_off_policy_returns_from_q_and_v(q_t, v_t, r_t, discount_t, c_t)
    return _stop(stop_target_gradients, target_tm1) - q_tm1
