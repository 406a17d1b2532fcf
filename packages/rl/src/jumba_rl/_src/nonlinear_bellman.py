"""Transformed (non-linear) Bellman operators.

Values live in a transformed space ``h(.)``: the targets are built by mapping bootstrap values
back with ``h⁻¹``, forming the usual return, and mapping the result forward with ``h``. See
Pohlen et al. (2018), "Observe and look further: achieving consistent performance on Atari".
"""

from __future__ import annotations

import functools

import jumba.numpy as jnp
from jumba_rl._src import base, multistep
from jumba_rl._src.transforms import IDENTITY_PAIR, TxPair

Array = base.Array
Numeric = base.Numeric


def _transform_values(build_targets, *value_argnums):
    """Wraps a return function: inputs at ``value_argnums`` go through ``tx_pair.apply_inv``."""

    @functools.wraps(build_targets)
    def wrapped(tx_pair: TxPair, *args, **kwargs):
        args = list(args)
        for index in value_argnums:
            args[index] = tx_pair.apply_inv(args[index])
        return tx_pair.apply(build_targets(*args, **kwargs))

    return wrapped


transformed_lambda_returns = _transform_values(multistep.lambda_returns, 2)
transformed_lambda_returns.__doc__ = (
    "``lambda_returns`` in a transformed space: ``transformed_lambda_returns(tx_pair, r_t, "
    "discount_t, v_t, lambda_, stop_target_gradients)``; ``v_t`` is given transformed.")
transformed_general_off_policy_returns_from_action_values = _transform_values(
    multistep.general_off_policy_returns_from_action_values, 0)
transformed_general_off_policy_returns_from_action_values.__doc__ = (
    "``general_off_policy_returns_from_action_values`` in a transformed space; the first "
    "argument is the ``tx_pair`` and ``q_t`` is given transformed.")
transformed_n_step_returns = _transform_values(multistep.n_step_bootstrapped_returns, 2)
transformed_n_step_returns.__doc__ = (
    "``n_step_bootstrapped_returns`` in a transformed space: ``transformed_n_step_returns("
    "tx_pair, r_t, discount_t, v_t, n, ...)``; ``v_t`` is given transformed.")


def transformed_q_lambda(q_tm1: Array, a_tm1: Array, r_t: Array, discount_t: Array, q_t: Array,
                         lambda_: Numeric, stop_target_gradients: bool = True,
                         tx_pair: TxPair = IDENTITY_PAIR) -> Array:
    """Q(λ) errors with transformed values (Pohlen et al. 2018).

    Args:
      q_tm1: transformed action values at times [0, T-1], shape [T, A].
      a_tm1: actions at times [0, T-1], shape [T].
      r_t: rewards at times [1, T], shape [T].
      discount_t: discounts at times [1, T], shape [T].
      q_t: transformed action values at times [1, T], shape [T, A].
      lambda_: mixing parameter, scalar or shape [T].
      stop_target_gradients: stop gradients through the targets.
      tx_pair: the value transform and its inverse.

    Returns:
      Errors in the transformed space, shape [T].
    """
    base.check_args("transformed_q_lambda", "q_tm1 a_tm1 r_t discount_t q_t lambda_",
                    (q_tm1, a_tm1, r_t, discount_t, q_t, lambda_), [2, 1, 1, 1, 2, {0, 1}],
                    [float, int, float, float, float, float])
    qa_tm1 = base.batched_index(q_tm1, a_tm1)
    v_t = jnp.max(q_t, axis=-1)
    target_tm1 = transformed_lambda_returns(tx_pair, r_t, discount_t, v_t, lambda_,
                                            stop_target_gradients)
    return target_tm1 - qa_tm1


def transformed_retrace(q_tm1: Array, q_t: Array, a_tm1: Array, a_t: Array, r_t: Array,
                        discount_t: Array, pi_t: Array, mu_t: Array, lambda_: float,
                        eps: float = 1e-8, stop_target_gradients: bool = True,
                        tx_pair: TxPair = IDENTITY_PAIR) -> Array:
    """Retrace errors with transformed values (Pohlen et al. 2018; Munos et al. 2016).

    Args:
      q_tm1: transformed action values at times [0, T-1], shape [T, A].
      q_t: transformed action values at times [1, T], shape [T, A].
      a_tm1: actions at times [0, T-1], shape [T].
      a_t: actions at times [1, T], shape [T].
      r_t: rewards at times [1, T], shape [T].
      discount_t: discounts at times [1, T], shape [T].
      pi_t: target policy probabilities at times [1, T], shape [T, A].
      mu_t: behaviour policy probabilities of ``a_t``, shape [T].
      lambda_: scalar mixing parameter.
      eps: added to ``mu_t`` to avoid dividing by zero.
      stop_target_gradients: stop gradients through the targets.
      tx_pair: the value transform and its inverse.

    Returns:
      Errors in the transformed space, shape [T].
    """
    base.check_args("transformed_retrace", "q_tm1 q_t a_tm1 a_t r_t discount_t pi_t mu_t",
                    (q_tm1, q_t, a_tm1, a_t, r_t, discount_t, pi_t, mu_t),
                    [2, 2, 1, 1, 1, 1, 2, 1],
                    [float, float, int, int, float, float, float, float])
    pi_a_t = base.batched_index(pi_t, a_t)
    c_t = jnp.minimum(1.0, pi_a_t / (mu_t + eps)) * lambda_
    target_tm1 = transformed_general_off_policy_returns_from_action_values(
        tx_pair, q_t, a_t, r_t, discount_t, c_t, pi_t, stop_target_gradients)
    return target_tm1 - base.batched_index(q_tm1, a_tm1)


def transformed_n_step_q_learning(q_tm1: Array, a_tm1: Array, target_q_t: Array, a_t: Array,
                                  r_t: Array, discount_t: Array, n: int,
                                  stop_target_gradients: bool = True,
                                  tx_pair: TxPair = IDENTITY_PAIR) -> Array:
    """n-step Q-learning errors with transformed values (as in R2D2, Kapturowski et al. 2019).

    Args:
      q_tm1: transformed action values at times [0, T-1], shape [T, A].
      a_tm1: actions at times [0, T-1], shape [T].
      target_q_t: transformed target-network action values at times [1, T], shape [T, A].
      a_t: actions selected at times [1, T] (e.g. greedy under the online network), shape [T].
      r_t: rewards at times [1, T], shape [T].
      discount_t: discounts at times [1, T], shape [T].
      n: number of steps before bootstrapping.
      stop_target_gradients: stop gradients through the targets.
      tx_pair: the value transform and its inverse.

    Returns:
      Errors in the transformed space, shape [T].
    """
    base.check_args("transformed_n_step_q_learning", "q_tm1 target_q_t a_tm1 a_t r_t discount_t",
                    (q_tm1, target_q_t, a_tm1, a_t, r_t, discount_t), [2, 2, 1, 1, 1, 1],
                    [float, float, int, int, float, float])
    v_t = base.batched_index(target_q_t, a_t)
    target_tm1 = transformed_n_step_returns(tx_pair, r_t, discount_t, v_t, n,
                                            stop_target_gradients=stop_target_gradients)
    return target_tm1 - base.batched_index(q_tm1, a_tm1)
