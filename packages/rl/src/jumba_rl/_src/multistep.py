"""Multistep returns: discounted, lambda, n-step, GAE and general off-policy returns.

Trajectories need not align with episode boundaries: a zero discount ends an episode inside a
trajectory, and bootstrapping from values estimates the return beyond its end. All functions take
one trajectory (time on axis 0); ``vmap`` them over a batch. Recursions run backwards in time
with ``jumba.lax.scan(reverse=True)``.
"""

from __future__ import annotations

import jumba.lax as lax
import jumba.numpy as jnp
from jumba_rl._src import base

Array = base.Array
Numeric = base.Numeric


def _zero_like_scalar(x):
    return jnp.zeros((), dtype=jnp.asarray(x).dtype)


def lambda_returns(r_t: Array, discount_t: Array, v_t: Array, lambda_: Numeric = 1.0,
                   stop_target_gradients: bool = False) -> Array:
    """Multistep truncated lambda returns of a trajectory.

    Computed backwards from the last step by
    ``G_t = r_{t+1} + γ_{t+1} [(1 - λ_{t+1}) v_{t+1} + λ_{t+1} G_{t+1}]``, starting from
    ``G_{T} = v_T``. TD(λ) uses state values for ``v_t``, Q(λ) ``max_a q_t``, Sarsa(λ)
    ``q_t[a_t]``; a state-dependent ``λ`` gives off-policy corrections. See Sutton & Barto,
    "Reinforcement Learning: An Introduction", chapter 12.

    Args:
      r_t: rewards at times [1, T], shape [T].
      discount_t: discounts at times [1, T], shape [T].
      v_t: values at times [1, T], shape [T].
      lambda_: mixing parameter, a scalar or shape [T].
      stop_target_gradients: stop gradients flowing through the returns.

    Returns:
      The lambda returns, shape [T].

    Examples:
      >>> import jumba.numpy as jnp, jumba_rl
      >>> jumba_rl.lambda_returns(jnp.asarray([1.0, 1.0, 1.0]), jnp.asarray([0.9, 0.9, 0.0]),
      ...                         jnp.asarray([2.0, 2.0, 2.0]))
      Array([2.71, 1.9 , 1.  ], dtype=float32)
    """
    base.check_args("lambda_returns", "r_t discount_t v_t lambda_", (r_t, discount_t, v_t, lambda_),
                    [1, 1, 1, {0, 1}], float)
    base.check_equal_shape("lambda_returns", "r_t discount_t v_t", (r_t, discount_t, v_t))
    lambda_ = jnp.ones_like(discount_t) * lambda_

    def step(g, xs):
        r, discount, v, lam = xs
        g = r + discount * ((1 - lam) * v + lam * g)
        return g, g

    _, returns = lax.scan(step, jnp.asarray(v_t)[-1], (r_t, discount_t, v_t, lambda_),
                          reverse=True)
    return base.maybe_stop_gradient(stop_target_gradients, returns)


def discounted_returns(r_t: Array, discount_t: Array, v_t: Numeric,
                       stop_target_gradients: bool = False) -> Array:
    """Discounted returns ``G_t = r_{t+1} + γ_{t+1} G_{t+1}``, bootstrapped from ``v_t``.

    Args:
      r_t: rewards at times [1, T], shape [T].
      discount_t: discounts at times [1, T], shape [T].
      v_t: bootstrap value: a scalar, or shape [T] (only the last entry is used).
      stop_target_gradients: stop gradients flowing through the returns.

    Returns:
      The discounted returns, shape [T].
    """
    base.check_args("discounted_returns", "r_t discount_t v_t", (r_t, discount_t, v_t),
                    [1, 1, {0, 1}], float)
    bootstrap = jnp.ones_like(discount_t) * v_t
    return lambda_returns(r_t, discount_t, bootstrap, 1.0, stop_target_gradients)


def n_step_bootstrapped_returns(r_t: Array, discount_t: Array, v_t: Array, n: int,
                                lambda_t: Numeric = 1.0,
                                stop_target_gradients: bool = False) -> Array:
    """Strided n-step bootstrapped returns of a trajectory.

    Iterates ``G_t = r_{t+1} + γ_{t+1} [(1 - λ_{t+1}) v_{t+1} + λ_{t+1} G_{t+1}]`` ``n`` times;
    with ``λ = 1`` this accumulates ``n`` rewards and bootstraps from ``v_{t+n}``. Near the end
    of the trajectory fewer rewards are available and the last value is used.

    Args:
      r_t: rewards at times [1, T], shape [T].
      discount_t: discounts at times [1, T], shape [T].
      v_t: values to bootstrap from at times [1, T], shape [T].
      n: number of steps of reward before bootstrapping (a Python int ≥ 1).
      lambda_t: lambdas, a scalar or shape [T].
      stop_target_gradients: stop gradients flowing through the returns.

    Returns:
      The n-step returns at times [0, T-1], shape [T].
    """
    base.check_args("n_step_bootstrapped_returns", "r_t discount_t v_t lambda_t",
                    (r_t, discount_t, v_t, lambda_t), [1, 1, 1, {0, 1}], float)
    base.check_equal_shape("n_step_bootstrapped_returns", "r_t discount_t v_t",
                           (r_t, discount_t, v_t))
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"jumba_rl.n_step_bootstrapped_returns: `n` must be a Python int >= 1, "
                         f"got {n!r}.")
    r_t, discount_t, v_t = jnp.asarray(r_t), jnp.asarray(discount_t), jnp.asarray(v_t)
    seq_len = r_t.shape[0]
    dtype = r_t.dtype
    lambda_t = jnp.ones_like(discount_t) * lambda_t
    # Pad the sequences by n - 1 steps of zero reward, unit discount and the last value, so
    # that every step sees n (possibly padded) rewards.
    pad = n - 1
    last_v = jnp.full((pad,), v_t[-1], dtype=v_t.dtype)
    targets = jnp.concatenate([v_t[n - 1:], last_v[:min(pad, seq_len)]])
    r_t = jnp.concatenate([r_t, jnp.zeros((pad,), dtype)])
    discount_t = jnp.concatenate([discount_t, jnp.ones((pad,), discount_t.dtype)])
    lambda_t = jnp.concatenate([lambda_t, jnp.ones((pad,), lambda_t.dtype)])
    v_t = jnp.concatenate([v_t, last_v])
    for i in reversed(range(n)):
        window = slice(i, i + seq_len)
        targets = r_t[window] + discount_t[window] * (
            (1.0 - lambda_t[window]) * v_t[window] + lambda_t[window] * targets)
    return base.maybe_stop_gradient(stop_target_gradients, targets)


def importance_corrected_td_errors(r_t: Array, discount_t: Array, rho_tm1: Array,
                                   lambda_: Numeric, values: Array,
                                   stop_target_gradients: bool = False) -> Array:
    """Multistep TD errors with per-decision importance sampling.

    ``δ_t(ρ,λ) = δ_t + ρ_{t+1} λ_{t+1} γ_{t+1} δ_{t+1}(ρ,λ)`` and the error is ``ρ_t δ_t(ρ,λ)``,
    with the one-step ``δ_t = r_{t+1} + γ_{t+1} v_{t+1} - v_t``. See Sutton et al. (2014),
    "A new Q(λ) with interim forward view and Monte Carlo equivalence".

    Args:
      r_t: rewards at times [1, T], shape [T].
      discount_t: discounts at times [1, T], shape [T].
      rho_tm1: importance ratios at times [0, T-1], shape [T].
      lambda_: mixing parameter, scalar or shape [T].
      values: state values at times [0, T], shape [T+1].
      stop_target_gradients: stop gradients through the targets.

    Returns:
      The off-policy multistep TD errors, shape [T].
    """
    base.check_args("importance_corrected_td_errors", "r_t discount_t rho_tm1 values",
                    (r_t, discount_t, rho_tm1, values), 1, float)
    values = jnp.asarray(values)
    base.check_equal_shape("importance_corrected_td_errors", "r_t discount_t rho_tm1 values[1:]",
                           (r_t, discount_t, rho_tm1, values[1:]))
    rho_tm1 = jnp.asarray(rho_tm1)
    v_tm1, v_t = values[:-1], values[1:]
    rho_t = jnp.concatenate([rho_tm1[1:], jnp.ones((1,), rho_tm1.dtype)])
    lambda_ = jnp.ones_like(discount_t) * lambda_
    delta = r_t + discount_t * v_t - v_tm1

    def step(acc, xs):
        d, discount, rho, lam = xs
        acc = d + discount * rho * lam * acc
        return acc, acc

    _, errors = lax.scan(step, _zero_like_scalar(delta), (delta, discount_t, rho_t, lambda_),
                         reverse=True)
    errors = rho_tm1 * errors
    if stop_target_gradients is False:
        return errors
    return base.maybe_stop_gradient(stop_target_gradients, errors + v_tm1) - v_tm1


def truncated_generalized_advantage_estimation(r_t: Array, discount_t: Array, lambda_: Numeric,
                                               values: Array,
                                               stop_target_gradients: bool = False) -> Array:
    """Truncated generalized advantage estimates (GAE) of a trajectory.

    ``A_t = δ_t + γ_{t+1} λ_{t+1} A_{t+1}`` with ``δ_t = r_{t+1} + γ_{t+1} v_{t+1} - v_t``.
    See Schulman et al. (2016), "High-dimensional continuous control using generalized
    advantage estimation", and the PPO paper (which indexes rewards one step differently).

    Args:
      r_t: rewards at times [1, k], shape [k].
      discount_t: discounts at times [1, k], shape [k].
      lambda_: mixing parameter, scalar or shape [k].
      values: values at times [0, k], shape [k+1].
      stop_target_gradients: stop gradients flowing through the advantages.

    Returns:
      The advantages at times [0, k-1], shape [k].

    Examples:
      >>> import jumba.numpy as jnp, jumba_rl
      >>> jumba_rl.truncated_generalized_advantage_estimation(
      ...     jnp.asarray([1.0, 0.0]), jnp.asarray([0.9, 0.9]), 0.95, jnp.asarray([0.5, 1.0, 2.0]))
      Array([2.0839999 , 0.79999995], dtype=float32)
    """
    base.check_args("truncated_generalized_advantage_estimation", "r_t values discount_t",
                    (r_t, values, discount_t), 1, float)
    values = jnp.asarray(values)
    base.check_equal_shape("truncated_generalized_advantage_estimation",
                           "r_t discount_t values[1:]", (r_t, discount_t, values[1:]))
    lambda_ = jnp.ones_like(discount_t) * lambda_
    delta = r_t + discount_t * values[1:] - values[:-1]

    def step(acc, xs):
        d, discount, lam = xs
        acc = d + discount * lam * acc
        return acc, acc

    _, advantages = lax.scan(step, _zero_like_scalar(delta), (delta, discount_t, lambda_),
                             reverse=True)
    return base.maybe_stop_gradient(stop_target_gradients, advantages)


def general_off_policy_returns_from_action_values(q_t: Array, a_t: Array, r_t: Array,
                                                  discount_t: Array, c_t: Array, pi_t: Array,
                                                  stop_target_gradients: bool = False) -> Array:
    """Off-policy returns from action values: IS, Q(λ), Tree-Backup and Retrace.

    ``G_t = r_{t+1} + γ_{t+1} (E_π[q_{t+1}] - c_{t+1} q_{t+1}(a_{t+1}) + c_{t+1} G_{t+1})``;
    the trace coefficients ``c_t`` choose the algorithm (``π/μ`` importance sampling, ``λ``
    Harutyunyan's Q(λ), ``π(a_t)`` Tree-Backup, ``λ min(1, π/μ)`` Retrace). See Munos et al.
    (2016), "Safe and efficient off-policy reinforcement learning".

    Args:
      q_t: action values at times [1, K], shape [K, A].
      a_t: actions at times [1, K], shape [K] (integers).
      r_t: rewards at times [1, K], shape [K].
      discount_t: discounts at times [1, K], shape [K].
      c_t: trace coefficients at times [1, K], shape [K] (the last is unused).
      pi_t: target policy probabilities at times [1, K], shape [K, A].
      stop_target_gradients: stop gradients flowing through the returns.

    Returns:
      The returns from times [0, K-1], shape [K].
    """
    fn = "general_off_policy_returns_from_action_values"
    base.check_args(fn, "q_t a_t r_t discount_t c_t pi_t", (q_t, a_t, r_t, discount_t, c_t, pi_t),
                    [2, 1, 1, 1, 1, 2], [float, int, float, float, float, float])
    q_t, pi_t = jnp.asarray(q_t), jnp.asarray(pi_t)
    base.check_equal_shape(fn, "q_t[:,0] a_t r_t discount_t c_t pi_t[:,0]",
                           (q_t[:, 0], a_t, r_t, discount_t, c_t, pi_t[:, 0]))
    expected_q_t = jnp.sum(pi_t * q_t, axis=-1)
    q_a_t = base.batched_index(q_t, a_t)[:-1]
    return general_off_policy_returns_from_q_and_v(q_a_t, expected_q_t, r_t, discount_t,
                                                   jnp.asarray(c_t)[:-1], stop_target_gradients)


def general_off_policy_returns_from_q_and_v(q_t: Array, v_t: Array, r_t: Array,
                                            discount_t: Array, c_t: Array,
                                            stop_target_gradients: bool = False) -> Array:
    """Off-policy returns from the values of the taken actions and of the states.

    ``G_t = r_{t+1} + γ_{t+1} (v_{t+1} - c_{t+1} q_{t+1} + c_{t+1} G_{t+1})``, ending with
    ``G_{K-1} = r_K + γ_K v_K``. See Munos et al. (2016).

    Args:
      q_t: values under π of the actions μ took, at times [1, K-1], shape [K-1].
      v_t: state values under π at times [1, K], shape [K].
      r_t: rewards at times [1, K], shape [K].
      discount_t: discounts at times [1, K], shape [K].
      c_t: trace coefficients at times [1, K-1], shape [K-1].
      stop_target_gradients: stop gradients flowing through the returns.

    Returns:
      The returns from times [0, K-1], shape [K].
    """
    fn = "general_off_policy_returns_from_q_and_v"
    base.check_args(fn, "q_t v_t r_t discount_t c_t", (q_t, v_t, r_t, discount_t, c_t), 1, float)
    v_t, r_t, discount_t = jnp.asarray(v_t), jnp.asarray(r_t), jnp.asarray(discount_t)
    base.check_equal_shape(fn, "q_t v_t[:-1] r_t[:-1] discount_t[:-1] c_t",
                           (q_t, v_t[:-1], r_t[:-1], discount_t[:-1], c_t))
    g_last = r_t[-1] + discount_t[-1] * v_t[-1]

    def step(g, xs):
        r, discount, c, v, q = xs
        g = r + discount * (v - c * q + c * g)
        return g, g

    _, returns = lax.scan(step, g_last, (r_t[:-1], discount_t[:-1], c_t, v_t[:-1], q_t),
                          reverse=True)
    returns = jnp.concatenate([returns, g_last[None]], axis=0)
    return base.maybe_stop_gradient(stop_target_gradients, returns)
