"""Gradient transformations: scaling, momentum and the Adam family of preconditioners.

Each transformation's state is a ``NamedTuple`` declared right above it; ``init_fn`` and
``update_fn`` are closures over the hyperparameters. The update rule of each is written out
in its docstring, with ``g_t`` the incoming update and ``u_t`` the outgoing one.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jumba
import jumba.numpy as jnp
from jumba_optim._src import base
from jumba_optim._src import tree_utils as otu
from jumba_optim._src.numerics import abs_sq, safe_increment

_map = jumba.tree_util.tree_map


def _zero_count():
    return jnp.zeros([], jnp.int32)


def _check_param(name, value, low=None, high=None):
    if callable(value):
        return
    try:
        v = float(value)
    except Exception:  # noqa: BLE001 - a traced or array hyperparameter: nothing to check
        return  # an array hyperparameter (for example under inject_hyperparams)
    if (low is not None and v < low) or (high is not None and v > high):
        raise ValueError(
            f"{name}={value!r} is out of range: expected a value in "
            f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]."
        )


class ScaleState(NamedTuple):
    """:func:`scale` is stateless (kept for Optax's name)."""


def scale(step_size: Any) -> base.GradientTransformation:
    """Multiplies updates by a fixed factor: ``u_t = step_size * g_t``."""

    def update_fn(updates, state, params=None):
        del params
        return _map(lambda g: step_size * g, updates), state

    return base.GradientTransformation(base.init_empty_state, update_fn)


class ScaleByScheduleState(NamedTuple):
    """The step counter of :func:`scale_by_schedule`."""

    count: Any


def scale_by_schedule(step_size_fn: base.Schedule) -> base.GradientTransformation:
    """Scales by a schedule of the step count: ``u_t = step_size_fn(t) * g_t`` (t from 0)."""
    if not callable(step_size_fn):
        raise TypeError(
            f"scale_by_schedule expects a function of the step count, got {step_size_fn!r}; "
            "use scale(x) for a constant factor."
        )

    def init_fn(params):
        del params
        return ScaleByScheduleState(count=_zero_count())

    def update_fn(updates, state, params=None):
        del params
        step_size = step_size_fn(state.count)
        updates = _map(lambda g: (jnp.asarray(step_size, g.dtype) * g), updates)
        return updates, ScaleByScheduleState(count=safe_increment(state.count))

    return base.GradientTransformation(init_fn, update_fn)


def scale_by_learning_rate(
    learning_rate: base.ScalarOrSchedule, *, flip_sign: bool = True
) -> base.GradientTransformation:
    """``u_t = -lr_t * g_t`` (or ``+lr_t`` when ``flip_sign=False``).

    Args:
        learning_rate: a float or a schedule ``count -> lr``.
        flip_sign: negate, so that adding the update descends the loss.
    """
    m = -1 if flip_sign else 1
    if callable(learning_rate):
        return scale_by_schedule(lambda count: m * learning_rate(count))
    if learning_rate is None:
        raise ValueError(
            "learning_rate is None: pass a float (e.g. 1e-3) or a schedule such as "
            "optim.cosine_decay_schedule(1e-3, 1000)."
        )
    return scale(m * learning_rate)


class TraceState(NamedTuple):
    """The momentum buffer of :func:`trace`."""

    trace: Any


def trace(
    decay: float, nesterov: bool = False, accumulator_dtype: Any = None
) -> base.GradientTransformation:
    """Heavy-ball momentum: ``m_t = g_t + decay * m_{t-1}``; ``u_t = m_t``.

    With ``nesterov=True``: ``u_t = g_t + decay * m_t``.
    """

    def init_fn(params):
        return TraceState(trace=otu.tree_zeros_like(params, dtype=accumulator_dtype))

    def update_fn(updates, state, params=None):
        del params
        f = lambda g, t: g + decay * t  # noqa: E731
        new_trace = _map(f, updates, state.trace)
        updates = _map(f, updates, new_trace) if nesterov else new_trace
        return updates, TraceState(trace=otu.tree_cast(new_trace, accumulator_dtype))

    return base.GradientTransformation(init_fn, update_fn)


class EmaState(NamedTuple):
    """Step counter and moving average of :func:`ema`."""

    count: Any
    ema: Any


def ema(decay: float, debias: bool = True, accumulator_dtype: Any = None):
    """Exponential moving average: ``e_t = (1 - decay) g_t + decay e_{t-1}``; ``u_t = e_t``
    (divided by ``1 - decay^t`` when ``debias``)."""

    def init_fn(params):
        return EmaState(_zero_count(), otu.tree_zeros_like(params, dtype=accumulator_dtype))

    def update_fn(updates, state, params=None):
        del params
        new_ema = otu.tree_update_moment(updates, state.ema, decay, order=1)
        count_inc = safe_increment(state.count)
        updates = otu.tree_bias_correction(new_ema, decay, count_inc) if debias else new_ema
        return updates, EmaState(count_inc, otu.tree_cast(new_ema, accumulator_dtype))

    return base.GradientTransformation(init_fn, update_fn)


class AddDecayedWeightsState(NamedTuple):
    """:func:`add_decayed_weights` is stateless."""


def add_decayed_weights(weight_decay: Any = 0.0, mask: base.MaskOrFn = None):
    """Decoupled weight decay: ``u_t = g_t + weight_decay * p_t``.

    Args:
        weight_decay: the decay rate.
        mask: a tree of booleans shaped like the params (or a function of the params
            returning one) selecting the leaves to decay; ``None`` decays all.
    """
    if mask is not None:
        from jumba_optim._src.wrappers import masked

        return masked(add_decayed_weights(weight_decay), mask)

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError(
                "add_decayed_weights needs the parameters: call "
                "tx.update(grads, state, params)."
            )
        return _map(lambda g, p: g + weight_decay * p, updates, params), state

    return base.GradientTransformation(base.init_empty_state, update_fn)


class AddNoiseState(NamedTuple):
    """Step counter and PRNG key of :func:`add_noise`."""

    count: Any
    rng_key: Any


def add_noise(eta: float, gamma: float, seed: int) -> base.GradientTransformation:
    """Annealed Gaussian noise (Neelakantan et al., 2015):
    ``u_t = g_t + N(0, eta / (1 + t)^gamma)``.

    Needs ``jumba.random`` (``PRNGKey``, ``split``, ``normal``).
    """

    def _random():
        try:
            import jumba.random as jrandom
        except ImportError as e:  # pragma: no cover - depends on jumba's build
            raise ImportError(
                "add_noise needs jumba.random, which this jumba does not provide."
            ) from e
        return jrandom

    def init_fn(params):
        del params
        return AddNoiseState(_zero_count(), _random().PRNGKey(seed))

    def update_fn(updates, state, params=None):
        del params
        jrandom = _random()
        leaves, treedef = jumba.tree_util.tree_flatten(updates)
        count_inc = safe_increment(state.count)
        variance = eta / count_inc.astype(jnp.float32) ** gamma
        std = jnp.sqrt(variance)
        keys = jrandom.split(state.rng_key, len(leaves) + 1)
        noise = [
            jrandom.normal(k, jnp.shape(g), dtype=jnp.asarray(g).dtype)
            for k, g in zip(keys[1:], leaves, strict=True)
        ]
        new = [g + (std * n).astype(jnp.asarray(g).dtype)
               for g, n in zip(leaves, noise, strict=True)]
        return jumba.tree_util.tree_unflatten(treedef, new), AddNoiseState(count_inc, keys[0])

    return base.GradientTransformation(init_fn, update_fn)


class ScaleByAdamState(NamedTuple):
    """Counter and first/second moments of :func:`scale_by_adam`."""

    count: Any
    mu: Any
    nu: Any


def scale_by_adam(
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
    eps_root: float = 0.0,
    mu_dtype: Any = None,
    *,
    nesterov: bool = False,
) -> base.GradientTransformation:
    """Adam's preconditioner (Kingma & Ba, 2014)::

        m_t = b1 m_{t-1} + (1 - b1) g_t
        v_t = b2 v_{t-1} + (1 - b2) g_t^2
        m_hat = m_t / (1 - b1^t);  v_hat = v_t / (1 - b2^t)
        u_t = m_hat / (sqrt(v_hat + eps_root) + eps)

    With ``nesterov`` (NAdam, Dozat 2016):
    ``m_hat = b1 m_t / (1 - b1^(t+1)) + (1 - b1) g_t / (1 - b1^t)``.
    """
    _check_param("b1", b1, 0.0, 1.0)
    _check_param("b2", b2, 0.0, 1.0)

    def init_fn(params):
        return ScaleByAdamState(
            _zero_count(), otu.tree_zeros_like(params, dtype=mu_dtype), otu.tree_zeros_like(params)
        )

    def update_fn(updates, state, params=None):
        del params
        mu = otu.tree_update_moment(updates, state.mu, b1, 1)
        nu = otu.tree_update_moment_per_elem_norm(updates, state.nu, b2, 2)
        # The step's scalars come after the moments and before the per-leaf direction: jit's
        # fuser then gives each leaf's direction (and the parameter update that follows) a
        # loop of its own, instead of one loop streaming every leaf at once (3x slower on
        # a 10-leaf tree, benchmarks/bench_optim.py).
        count_inc = safe_increment(state.count)
        t = count_inc.astype(jnp.float32)
        c1, c2 = 1 - b1**t, 1 - b2**t
        c1_next = 1 - b1 ** (t + 1)

        def direction(g, m, v):
            # Written as one dependency chain starting from v, so that it fuses into one
            # loop: m_hat / d computed as (m / d) / c1 (equal up to float32 rounding).
            v_hat = v / c2.astype(v.dtype)
            if not (isinstance(eps_root, (int, float)) and eps_root == 0):
                v_hat = v_hat + eps_root  # (skipped when statically zero)
            d = jnp.sqrt(v_hat) + eps
            if nesterov:
                return (b1 * (m / d) / c1_next.astype(m.dtype)
                        + (1 - b1) * (g / d) / c1.astype(m.dtype))
            return (m / d) / c1.astype(m.dtype)

        updates = _map(direction, updates, mu, nu)
        return updates, ScaleByAdamState(count_inc, otu.tree_cast(mu, mu_dtype), nu)

    return base.GradientTransformation(init_fn, update_fn)


def scale_by_adamax(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
    """Adamax (Kingma & Ba, 2014)::

        m_t = b1 m_{t-1} + (1 - b1) g_t;  v_t = max(|g_t| + eps, b2 v_{t-1})
        u_t = m_t / (1 - b1^t) / v_t
    """

    def init_fn(params):
        return ScaleByAdamState(
            _zero_count(), otu.tree_zeros_like(params), otu.tree_zeros_like(params)
        )

    def update_fn(updates, state, params=None):
        del params
        count_inc = safe_increment(state.count)
        mu = otu.tree_update_moment(updates, state.mu, b1, 1)
        nu = otu.tree_update_infinity_moment(updates, state.nu, b2, eps)
        mu_hat = otu.tree_bias_correction(mu, b1, count_inc)
        updates = _map(lambda m, v: m / v, mu_hat, nu)
        return updates, ScaleByAdamState(count_inc, mu, nu)

    return base.GradientTransformation(init_fn, update_fn)


class ScaleByAmsgradState(NamedTuple):
    """Counter, moments and running maximum of :func:`scale_by_amsgrad`."""

    count: Any
    mu: Any
    nu: Any
    nu_max: Any


def scale_by_amsgrad(
    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0,
    mu_dtype: Any = None,
):
    """AMSGrad (Reddi et al., 2018): Adam with ``v_max_t = max(v_max_{t-1}, v_hat_t)``;
    ``u_t = m_hat / (sqrt(v_max_t + eps_root) + eps)``."""

    def init_fn(params):
        z = otu.tree_zeros_like(params)
        return ScaleByAmsgradState(
            _zero_count(), otu.tree_zeros_like(params, dtype=mu_dtype), z, z
        )

    def update_fn(updates, state, params=None):
        del params
        mu = otu.tree_update_moment(updates, state.mu, b1, 1)
        nu = otu.tree_update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count_inc = safe_increment(state.count)
        mu_hat = otu.tree_bias_correction(mu, b1, count_inc)
        nu_hat = otu.tree_bias_correction(nu, b2, count_inc)
        nu_max = _map(jnp.maximum, state.nu_max, nu_hat)
        updates = _map(lambda m, v: m / (jnp.sqrt(v + eps_root) + eps), mu_hat, nu_max)
        return updates, ScaleByAmsgradState(count_inc, otu.tree_cast(mu, mu_dtype), nu, nu_max)

    return base.GradientTransformation(init_fn, update_fn)


class ScaleByBeliefState(NamedTuple):
    """Counter and moments of :func:`scale_by_belief`."""

    count: Any
    mu: Any
    nu: Any


def scale_by_belief(
    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-16, eps_root: float = 1e-16,
    *, nesterov: bool = False,
):
    """AdaBelief (Zhuang et al., 2020)::

        m_t = b1 m_{t-1} + (1 - b1) g_t
        s_t = b2 s_{t-1} + (1 - b2) (g_t - m_t)^2 + eps_root
        u_t = m_hat / (sqrt(s_hat) + eps)
    """

    def init_fn(params):
        return ScaleByBeliefState(
            _zero_count(), otu.tree_zeros_like(params), otu.tree_zeros_like(params)
        )

    def update_fn(updates, state, params=None):
        del params
        mu = otu.tree_update_moment(updates, state.mu, b1, 1)
        # The surprise is measured against the *updated* first moment (as Optax does).
        prediction_error = otu.tree_sub(updates, mu)
        nu = otu.tree_update_moment_per_elem_norm(prediction_error, state.nu, b2, 2)
        nu = _map(lambda v: v + eps_root, nu)
        count_inc = safe_increment(state.count)
        if nesterov:
            c1 = 1 - b1 ** (count_inc + 1).astype(jnp.float32)
            c0 = 1 - b1 ** count_inc.astype(jnp.float32)
            mu_hat = _map(lambda m, g: b1 * m / c1 + (1 - b1) * g / c0, mu, updates)
        else:
            mu_hat = otu.tree_bias_correction(mu, b1, count_inc)
        nu_hat = otu.tree_bias_correction(nu, b2, count_inc)
        updates = _map(lambda m, v: m / (jnp.sqrt(v) + eps), mu_hat, nu_hat)
        return updates, ScaleByBeliefState(count_inc, mu, nu)

    return base.GradientTransformation(init_fn, update_fn)


class ScaleByRmsState(NamedTuple):
    """Counter and second moment of :func:`scale_by_rms`."""

    nu: Any
    count: Any = None


def scale_by_rms(
    decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0,
    eps_in_sqrt: bool = True, bias_correction: bool = False,
):
    """RMSProp's preconditioner (Hinton, 2012)::

        v_t = decay v_{t-1} + (1 - decay) g_t^2
        u_t = g_t / sqrt(v_t + eps)        (eps_in_sqrt)
        u_t = g_t / (sqrt(v_t) + eps)      (otherwise)
    """

    def init_fn(params):
        return ScaleByRmsState(otu.tree_full_like(params, initial_scale), _zero_count())

    def update_fn(updates, state, params=None):
        del params
        nu = otu.tree_update_moment_per_elem_norm(updates, state.nu, decay, 2)
        count_inc = safe_increment(state.count)
        nu_hat = otu.tree_bias_correction(nu, decay, count_inc) if bias_correction else nu
        if eps_in_sqrt:
            updates = _map(lambda g, v: g * jumba.lax.rsqrt(v + eps), updates, nu_hat)
        else:
            updates = _map(lambda g, v: g / (jnp.sqrt(v) + eps), updates, nu_hat)
        return updates, ScaleByRmsState(nu, count_inc)

    return base.GradientTransformation(init_fn, update_fn)


class ScaleByRStdDevState(NamedTuple):
    """Counter and moments of :func:`scale_by_stddev`."""

    mu: Any
    nu: Any
    count: Any = None


def scale_by_stddev(
    decay: float = 0.9, eps: float = 1e-8, initial_scale: float = 0.0,
    eps_in_sqrt: bool = True, bias_correction: bool = False,
):
    """Centred RMSProp (Graves, 2013): ``u_t = g_t / sqrt(v_t - m_t^2 + eps)``, with
    ``m``/``v`` the moving averages of ``g`` and ``g^2``."""

    def init_fn(params):
        return ScaleByRStdDevState(
            otu.tree_zeros_like(params), otu.tree_full_like(params, initial_scale), _zero_count()
        )

    def update_fn(updates, state, params=None):
        del params
        mu = otu.tree_update_moment(updates, state.mu, decay, 1)
        nu = otu.tree_update_moment_per_elem_norm(updates, state.nu, decay, 2)
        count_inc = safe_increment(state.count)
        mu_hat = otu.tree_bias_correction(mu, decay, count_inc) if bias_correction else mu
        nu_hat = otu.tree_bias_correction(nu, decay, count_inc) if bias_correction else nu
        if eps_in_sqrt:
            f = lambda g, m, n: g * jumba.lax.rsqrt(n - abs_sq(m) + eps)  # noqa: E731
        else:
            f = lambda g, m, n: g / (jnp.sqrt(n - abs_sq(m)) + eps)  # noqa: E731
        updates = _map(f, updates, mu_hat, nu_hat)
        return updates, ScaleByRStdDevState(mu, nu, count_inc)

    return base.GradientTransformation(init_fn, update_fn)


class ScaleByRssState(NamedTuple):
    """Sum of squared gradients of :func:`scale_by_rss`."""

    sum_of_squares: Any


def scale_by_rss(initial_accumulator_value: float = 0.1, eps: float = 1e-7):
    """AdaGrad's preconditioner (Duchi et al., 2011)::

        s_t = s_{t-1} + g_t^2;  u_t = g_t / sqrt(s_t + eps)  (0 where s_t = 0)
    """

    def init_fn(params):
        return ScaleByRssState(otu.tree_full_like(params, initial_accumulator_value))

    def update_fn(updates, state, params=None):
        del params
        sos = _map(lambda g, t: abs_sq(g) + t, updates, state.sum_of_squares)
        inv = _map(lambda t: jnp.where(t > 0, jumba.lax.rsqrt(t + eps), 0.0), sos)
        updates = _map(lambda s, g: s * g, inv, updates)
        return updates, ScaleByRssState(sos)

    return base.GradientTransformation(init_fn, update_fn)


class ScaleByAdaDeltaState(NamedTuple):
    """Moving averages of squared gradients and squared updates of AdaDelta."""

    e_g: Any
    e_x: Any


def scale_by_adadelta(rho: float = 0.9, eps: float = 1e-6):
    """AdaDelta (Zeiler, 2012)::

        E[g^2]_t = rho E[g^2]_{t-1} + (1 - rho) g_t^2
        u_t = sqrt(E[x^2]_{t-1} + eps) / sqrt(E[g^2]_t + eps) * g_t
        E[x^2]_t = rho E[x^2]_{t-1} + (1 - rho) u_t^2
    """

    def init_fn(params):
        return ScaleByAdaDeltaState(otu.tree_zeros_like(params), otu.tree_zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        e_g = otu.tree_update_moment(updates, state.e_g, rho, 2)
        updates = _map(
            lambda g, cur_e_g, prev_e_x: (jnp.sqrt(prev_e_x + eps) / jnp.sqrt(cur_e_g + eps)) * g,
            updates, e_g, state.e_x,
        )
        e_x = otu.tree_update_moment(updates, state.e_x, rho, 2)
        return updates, ScaleByAdaDeltaState(e_g, e_x)

    return base.GradientTransformation(init_fn, update_fn)


def scale_by_radam(
    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0,
    threshold: float = 5.0, *, nesterov: bool = False,
):
    """Rectified Adam (Liu et al., 2020)::

        rho_inf = 2 / (1 - b2) - 1;  rho_t = rho_inf - 2 t b2^t / (1 - b2^t)
        r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        u_t = r_t m_hat / (sqrt(v_hat + eps_root) + eps)   if rho_t >= threshold
        u_t = m_hat                                        otherwise
    """
    ro_inf = 2.0 / (1.0 - b2) - 1.0

    def init_fn(params):
        return ScaleByAdamState(
            _zero_count(), otu.tree_zeros_like(params), otu.tree_zeros_like(params)
        )

    def update_fn(updates, state, params=None):
        del params
        mu = otu.tree_update_moment(updates, state.mu, b1, 1)
        nu = otu.tree_update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count_inc = safe_increment(state.count)
        t = count_inc.astype(jnp.float32)
        b2t = b2**t
        ro = ro_inf - 2 * t * b2t / (1 - b2t)
        if nesterov:
            c1 = 1 - b1 ** (t + 1)
            c0 = 1 - b1**t
            mu_hat = _map(lambda m, g: b1 * m / c1 + (1 - b1) * g / c0, mu, updates)
        else:
            mu_hat = otu.tree_bias_correction(mu, b1, count_inc)
        nu_hat = otu.tree_bias_correction(nu, b2, count_inc)
        # Guard the square root: where rho < threshold the rectified branch is discarded.
        ro_safe = jnp.where(ro >= threshold, ro, ro_inf)
        r = jnp.sqrt(
            (ro_safe - 4) * (ro_safe - 2) * ro_inf / ((ro_inf - 4) * (ro_inf - 2) * ro_safe)
        )
        updates = _map(
            lambda m, v: jnp.where(ro >= threshold, r * m / (jnp.sqrt(v + eps_root) + eps), m),
            mu_hat, nu_hat,
        )
        return updates, ScaleByAdamState(count_inc, mu, nu)

    return base.GradientTransformation(init_fn, update_fn)


def scale_by_yogi(
    b1: float = 0.9, b2: float = 0.999, eps: float = 1e-3, eps_root: float = 0.0,
    initial_accumulator_value: float = 1e-6,
):
    """Yogi (Zaheer et al., 2018)::

        m_t = b1 m_{t-1} + (1 - b1) g_t
        v_t = v_{t-1} - (1 - b2) sign(v_{t-1} - g_t^2) g_t^2
        u_t = m_hat / (sqrt(v_hat + eps_root) + eps)
    """

    def init_fn(params):
        v = otu.tree_full_like(params, initial_accumulator_value)
        return ScaleByAdamState(_zero_count(), v, v)

    def update_fn(updates, state, params=None):
        del params
        mu = otu.tree_update_moment(updates, state.mu, b1, 1)
        nu = _map(
            lambda g, v: v - (1 - b2) * jnp.sign(v - abs_sq(g)) * abs_sq(g), updates, state.nu
        )
        count_inc = safe_increment(state.count)
        mu_hat = otu.tree_bias_correction(mu, b1, count_inc)
        nu_hat = otu.tree_bias_correction(nu, b2, count_inc)
        updates = _map(lambda m, v: m / (jnp.sqrt(v + eps_root) + eps), mu_hat, nu_hat)
        return updates, ScaleByAdamState(count_inc, mu, nu)

    return base.GradientTransformation(init_fn, update_fn)
