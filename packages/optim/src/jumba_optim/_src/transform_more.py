"""More gradient transformations: sign-based, trust-ratio, factored and
step-size-adaptive preconditioners (Lion, NovoGrad, SM3, Rprop, Adan, Adafactor, ...)."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import numpy as np

import jumba
import jumba.numpy as jnp
from jumba_optim._src import base
from jumba_optim._src import tree_utils as otu
from jumba_optim._src.numerics import abs_sq, safe_increment, safe_norm
from jumba_optim._src.transform import _zero_count

_map = jumba.tree_util.tree_map


def scale_by_sign() -> base.GradientTransformation:
    """``u_t = sign(g_t)``."""
    return base.stateless_with_tree_map(lambda g, _: jnp.sign(g))


class ScaleByLionState(NamedTuple):
    """Counter and momentum of :func:`scale_by_lion`."""

    count: Any
    mu: Any


def scale_by_lion(b1: float = 0.9, b2: float = 0.99, mu_dtype: Any = None):
    """Lion (Chen et al., 2023)::

        u_t = sign((1 - b1) g_t + b1 m_{t-1});  m_t = (1 - b2) g_t + b2 m_{t-1}
    """

    def init_fn(params):
        return ScaleByLionState(_zero_count(), otu.tree_zeros_like(params, dtype=mu_dtype))

    def update_fn(updates, state, params=None):
        del params
        new_updates = _map(lambda g, m: jnp.sign((1.0 - b1) * g + b1 * m), updates, state.mu)
        mu = otu.tree_update_moment(updates, state.mu, b2, 1)
        return new_updates, ScaleByLionState(
            safe_increment(state.count), otu.tree_cast(mu, mu_dtype)
        )

    return base.GradientTransformation(init_fn, update_fn)


class ScaleByNovogradState(NamedTuple):
    """Counter, momentum and per-layer second moment of :func:`scale_by_novograd`."""

    count: Any
    mu: Any
    nu: Any


def scale_by_novograd(
    b1: float = 0.9, b2: float = 0.25, eps: float = 1e-8, eps_root: float = 0.0,
    weight_decay: float = 0.0, mu_dtype: Any = None,
):
    """NovoGrad (Ginsburg et al., 2019), layer-wise second moments::

        v_t = b2 v_{t-1} + (1 - b2) ||g_t||^2        (v_1 = ||g_1||^2)
        m_t = b1 m_{t-1} + g_t / (sqrt(v_t + eps_root) + eps) + wd p_t   (m_0 = 0)
        u_t = m_t
    """

    def init_fn(params):
        return ScaleByNovogradState(
            _zero_count(),
            otu.tree_zeros_like(params, dtype=mu_dtype),
            _map(lambda p: jnp.zeros([], jnp.asarray(p).dtype), params),
        )

    def update_fn(updates, state, params=None):
        if params is None and weight_decay != 0.0:
            raise ValueError("scale_by_novograd with weight_decay needs params in update.")
        count_inc = safe_increment(state.count)
        first = count_inc == 1
        sq_norms = _map(lambda g: jnp.sum(abs_sq(g)), updates)
        nu = _map(lambda s, v: jnp.where(first, s, (1 - b2) * s + b2 * v), sq_norms, state.nu)
        if params is None:
            params = otu.tree_zeros_like(updates)
        add = _map(
            lambda g, p, v: g / (jnp.sqrt(v + eps_root) + eps) + weight_decay * p,
            updates, params, nu,
        )
        mu = _map(lambda m, a: jnp.where(first, a, b1 * m + a), state.mu, add)
        mu = otu.tree_cast(mu, mu_dtype)
        return mu, ScaleByNovogradState(count_inc, mu, nu)

    return base.GradientTransformation(init_fn, update_fn)


class ScaleByTrustRatioState(NamedTuple):
    """:func:`scale_by_trust_ratio` is stateless."""


def scale_by_trust_ratio(
    min_norm: float = 0.0, trust_coefficient: float = 1.0, eps: float = 0.0
):
    """LARS/LAMB trust ratio (You et al.), per leaf::

        u_t = g_t * c ||p_t|| / (||g_t|| + eps)   (1 where either norm is zero)
    """

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("scale_by_trust_ratio needs params: tx.update(g, state, params).")

        def f(u, p):
            param_norm = safe_norm(p, min_norm)
            update_norm = safe_norm(u, min_norm)
            ratio = trust_coefficient * param_norm / (update_norm + eps)
            zero = jnp.logical_or(param_norm == 0.0, update_norm == 0.0)
            return u * jnp.where(zero, jnp.ones_like(ratio), ratio).astype(u.dtype)

        return _map(f, updates, params), state

    return base.GradientTransformation(base.init_empty_state, update_fn)


def scale_by_param_block_norm(min_scale: float = 1e-3):
    """``u_t = g_t * max(||p_t||, min_scale)`` per leaf."""

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("scale_by_param_block_norm needs params in update.")
        return _map(lambda u, p: u * safe_norm(p, min_scale), updates, params), state

    return base.GradientTransformation(base.init_empty_state, update_fn)


def scale_by_param_block_rms(min_scale: float = 1e-3):
    """``u_t = g_t * max(rms(p_t), min_scale)`` per leaf."""
    from jumba_optim._src.numerics import safe_root_mean_squares

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("scale_by_param_block_rms needs params in update.")
        return (
            _map(lambda u, p: u * safe_root_mean_squares(p, min_scale), updates, params),
            state,
        )

    return base.GradientTransformation(base.init_empty_state, update_fn)


class ScaleBySM3State(NamedTuple):
    """Per-axis accumulators and momentum of :func:`scale_by_sm3`."""

    mu: Any
    nu: Any


def scale_by_sm3(b1: float = 0.9, b2: float = 1.0, eps: float = 1e-8):
    """SM3 (Anil et al., 2019): memory-efficient AdaGrad with one accumulator per axis::

        a_t = g_t^2 + min_over_axes(mu_{t-1});  u = g_t / sqrt(a_t + eps)
        mu_t[i] = max of a_t over the other axes;  m_t = b1 m_{t-1} + (1 - b1) u
    """

    def init_fn(params):
        mu = _map(lambda p: [jnp.zeros([s]) for s in jnp.shape(p)], params)
        return ScaleBySM3State(mu, otu.tree_zeros_like(params))

    def expanded(shape, axis):
        return [1] * axis + [shape[axis]] + [1] * (len(shape) - axis - 1)

    def new_accum(g, v):
        c0 = (1.0 - b2) if b2 != 1.0 else 1.0
        if g.ndim < 2:
            return c0 * g**2 + b2 * v[0]
        return c0 * g**2 + b2 * functools.reduce(jnp.minimum, v)

    def new_mu(g, i):
        if g.ndim < 2:
            return g
        return jnp.max(g, axis=tuple(a for a in range(g.ndim) if a != i))

    def update_fn(updates, state, params=None):
        del params
        mu = _map(
            lambda g, v: [jnp.reshape(v[i], expanded(g.shape, i)) for i in range(g.ndim)],
            updates, state.mu, is_leaf=lambda x: isinstance(x, list),
        )
        accum = _map(new_accum, updates, mu, is_leaf=lambda x: isinstance(x, list))
        inv = _map(lambda t: jnp.where(t > 0, jumba.lax.rsqrt(t + eps), 0.0), accum)
        up = _map(lambda g, a: g * a, updates, inv)
        nu = otu.tree_update_moment(up, state.nu, b1, 1)
        mu = _map(lambda g: [new_mu(g, i) for i in range(g.ndim)], accum)
        return nu, ScaleBySM3State(mu, nu)

    return base.GradientTransformation(init_fn, update_fn)


class ScaleByRpropState(NamedTuple):
    """Per-element step sizes and previous updates of :func:`scale_by_rprop`."""

    step_sizes: Any
    prev_updates: Any


def scale_by_rprop(
    learning_rate: float, eta_minus: float = 0.5, eta_plus: float = 1.2,
    min_step_size: float = 1e-6, max_step_size: float = 50.0,
):
    """Rprop (Riedmiller & Braun, 1993)::

        s = g_t * g_{t-1}
        step_t = clip(step_{t-1} * (eta_plus if s > 0 else eta_minus)) where s != 0
        d_t = 0 if s < 0 else step_t * sign(g_t)   (and g_t is forgotten when s < 0)
        u_t = 0 if s < 0 else d_{t-1}                (d_0 = 0)
    """

    def init_fn(params):
        return ScaleByRpropState(
            otu.tree_full_like(params, learning_rate), otu.tree_zeros_like(params)
        )

    def update_fn(updates, state, params=None):
        del params
        sign = _map(lambda g, prev: g * prev, updates, state.prev_updates)
        step_sizes = _map(
            lambda s, st: jnp.where(
                s == 0, st,
                jnp.clip(st * jnp.where(s > 0, eta_plus, eta_minus), min_step_size, max_step_size),
            ),
            sign, state.step_sizes,
        )
        prev_updates = _map(
            lambda s, g, step: jnp.where(s < 0, jnp.zeros_like(g), step * jnp.sign(g)),
            sign, updates, step_sizes,
        )
        # The step emitted is the one decided at the previous call (Optax's behaviour: the
        # first call emits zeros), withheld where the gradient's sign just flipped.
        new_updates = _map(lambda s, u: jnp.where(s < 0, jnp.zeros_like(u), u), sign,
                           state.prev_updates)
        return new_updates, ScaleByRpropState(step_sizes, prev_updates)

    return base.GradientTransformation(init_fn, update_fn)


class ScaleByOptimisticGradientState(NamedTuple):
    """Step counter and previous gradient of :func:`scale_by_optimistic_gradient`."""

    count: Any
    prev_grad: Any


def scale_by_optimistic_gradient(alpha: float = 1.0, beta: float = 1.0):
    """Optimistic gradient (Mokhtari et al., 2019)::

        u_t = (alpha + beta) g_t - beta g_{t-1},   with g_{-1} = g_0 (so u_0 = alpha g_0)
    """

    def init_fn(params):
        return ScaleByOptimisticGradientState(_zero_count(), otu.tree_zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        first = state.count == 0
        prev = otu.tree_where(first, updates, state.prev_grad)
        new = _map(lambda g, gm: (alpha + beta) * g - beta * gm, updates, prev)
        return new, ScaleByOptimisticGradientState(safe_increment(state.count), updates)

    return base.GradientTransformation(init_fn, update_fn)


class ScaleByPolyakState(NamedTuple):
    """:func:`scale_by_polyak` is stateless."""


def scale_by_polyak(
    f_min: float = 0.0, max_learning_rate: float = 1.0, eps: float = 0.0,
    variant: str = "sps",
):
    """Polyak step size (Loizou et al., 2021); needs ``value=f(p_t)`` in ``update``::

        u_t = min((f(p_t) - f_min) / (||g_t||^2 + eps), max_learning_rate) * g_t

    ``variant="sps+"`` clips the gap ``f - f_min`` at zero.
    """
    if variant not in ("sps", "sps+"):
        raise ValueError(f"scale_by_polyak: variant must be 'sps' or 'sps+', got {variant!r}.")

    def update_fn(updates, state, params=None, *, value=None, **extra_args):
        del params, extra_args
        if value is None:
            raise ValueError(
                "scale_by_polyak needs the loss value: tx.update(grads, state, params, "
                "value=loss)."
            )
        sq = otu.tree_l2_norm(updates, squared=True)
        gap = value - f_min
        if variant == "sps+":
            gap = jnp.maximum(gap, 0.0)
        step = jnp.where(sq + eps <= jnp.finfo(jnp.float32).eps, 0.0,
                         jnp.minimum(gap / (sq + eps), max_learning_rate))
        return otu.tree_scalar_mul(step, updates), state

    return base.GradientTransformationExtraArgs(base.init_empty_state, update_fn)


class ScaleByAdanState(NamedTuple):
    """Moments, previous gradient and counter of :func:`scale_by_adan`."""

    m: Any
    v: Any
    n: Any
    g: Any
    t: Any


def scale_by_adan(
    b1: float = 0.98, b2: float = 0.92, b3: float = 0.99, eps: float = 1e-8,
    eps_root: float = 0.0,
):
    """Adan (Xie et al., 2022), with ``d_t = g_t - g_{t-1}`` (0 at the first step)::

        m_t = b1 m + (1 - b1) g_t;  v_t = b2 v + (1 - b2) d_t
        n_t = b3 n + (1 - b3) (g_t + (1 - b2) d_t)^2
        u_t = (m_hat + (1 - b2) v_hat) / (sqrt(n_hat + eps_root) + eps)
    """

    def init_fn(params):
        z = otu.tree_zeros_like(params)
        return ScaleByAdanState(z, z, z, z, _zero_count())

    def update_fn(updates, state, params=None):
        del params
        g = updates
        diff = _map(lambda a, b: jnp.where(state.t == 0, jnp.zeros_like(a), a - b), g, state.g)
        m = otu.tree_update_moment(g, state.m, b1, 1)
        v = otu.tree_update_moment(diff, state.v, b2, 1)
        sq = otu.tree_add_scale(g, 1 - b2, diff)
        n = otu.tree_update_moment_per_elem_norm(sq, state.n, b3, 2)
        t = safe_increment(state.t)
        m_hat = otu.tree_bias_correction(m, b1, t)
        v_hat = otu.tree_bias_correction(v, b2, t)
        n_hat = otu.tree_bias_correction(n, b3, t)
        u = otu.tree_add_scale(m_hat, 1 - b2, v_hat)
        u = _map(lambda a, nh: a / (jnp.sqrt(nh + eps_root) + eps), u, n_hat)
        return u, ScaleByAdanState(m, v, n, g, t)

    return base.GradientTransformation(init_fn, update_fn)


class FactoredState(NamedTuple):
    """Counter and row/column (or full) second moments of :func:`scale_by_factored_rms`."""

    count: Any
    v_row: Any
    v_col: Any
    v: Any


def _factored_dims(shape, factored, min_dim_size_to_factor):
    if not factored or len(shape) < 2:
        return None
    sorted_dims = np.argsort(shape)
    if shape[sorted_dims[-2]] < min_dim_size_to_factor:
        return None
    return int(sorted_dims[-2]), int(sorted_dims[-1])


def scale_by_factored_rms(
    factored: bool = True, decay_rate: float = 0.8, step_offset: int = 0,
    min_dim_size_to_factor: int = 128, epsilon: float = 1e-30,
    decay_rate_fn: Any = None,
):
    """Adafactor's preconditioner (Shazeer & Stern, 2018)::

        beta_t = 1 - (t + 1)^(-decay_rate)
        v_t = beta_t v_{t-1} + (1 - beta_t) (g_t^2 + epsilon);  u_t = g_t / sqrt(v_t)

    For matrices with both dims >= ``min_dim_size_to_factor`` ``v`` is kept as a row and a
    column average whose outer product (over their mean) approximates it.
    """

    def decay_pow(i):
        if decay_rate_fn is not None:
            return decay_rate_fn(i)
        t = jnp.asarray(i + 1).astype(jnp.float32)
        return 1.0 - t ** (-decay_rate)

    def init_fn(params):
        def init_leaf(p):
            shape = jnp.shape(p)
            dims = _factored_dims(shape, factored, min_dim_size_to_factor)
            if dims is not None:
                d1, d0 = dims
                vr = tuple(s for i, s in enumerate(shape) if i != d0)
                vc = tuple(s for i, s in enumerate(shape) if i != d1)
                return jnp.zeros(vr), jnp.zeros(vc), jnp.zeros((1,))
            return jnp.zeros((1,)), jnp.zeros((1,)), jnp.zeros(shape)

        leaves, treedef = jumba.tree_util.tree_flatten(params)
        parts = [init_leaf(p) for p in leaves]
        rows, cols, vs = ([treedef.unflatten([p[k] for p in parts]) for k in range(3)])
        return FactoredState(_zero_count(), rows, cols, vs)

    def update_fn(updates, state, params=None):
        step = state.count
        beta = decay_pow(step - step_offset)
        g_leaves, treedef = jumba.tree_util.tree_flatten(updates)
        rows = treedef.flatten_up_to(state.v_row)
        cols = treedef.flatten_up_to(state.v_col)
        vs = treedef.flatten_up_to(state.v)
        out_u, out_r, out_c, out_v = [], [], [], []
        for g, v_row, v_col, v in zip(g_leaves, rows, cols, vs, strict=True):
            grad_sqr = abs_sq(g) + epsilon
            dims = _factored_dims(g.shape, factored, min_dim_size_to_factor)
            if dims is not None:
                d1, d0 = dims
                new_row = beta * v_row + (1.0 - beta) * jnp.mean(grad_sqr, axis=d0)
                new_col = beta * v_col + (1.0 - beta) * jnp.mean(grad_sqr, axis=d1)
                reduced_d1 = d1 - 1 if d1 > d0 else d1
                row_col_mean = jnp.mean(new_row, axis=reduced_d1, keepdims=True)
                row_factor = (new_row / row_col_mean) ** -0.5
                col_factor = new_col**-0.5
                u = g * jnp.expand_dims(row_factor, d0) * jnp.expand_dims(col_factor, d1)
                out_u.append(u)
                out_r.append(new_row)
                out_c.append(new_col)
                out_v.append(v)
            else:
                new_v = beta * v + (1.0 - beta) * grad_sqr
                out_u.append(g * new_v**-0.5)
                out_r.append(v_row)
                out_c.append(v_col)
                out_v.append(new_v)
        un = treedef.unflatten
        return un(out_u), FactoredState(
            safe_increment(state.count), un(out_r), un(out_c), un(out_v)
        )

    return base.GradientTransformation(init_fn, update_fn)


class ScaleByDistanceOverGradientsState(NamedTuple):
    """State of :func:`scale_by_distance_over_gradients` (DoG)."""

    max_dist: Any
    grad_sum_of_squares: Any
    init_params: Any


def scale_by_distance_over_gradients(
    reps_rel: float = 1e-6, eps: float = 1e-8, param_dtype: Any = jnp.float32,
    global_scale: float = 1.0,
):
    """Layer-wise DoG (Ivgi et al., 2023)::

        r_t = max(r_{t-1}, ||p_t - p_0||);  G_t = G_{t-1} + ||g_t||^2
        u_t = global_scale * r_t / sqrt(G_t + eps) * g_t
    """

    def l2(x, y=0.0):
        return jnp.sqrt(jnp.sum(abs_sq(x - y)))

    def init_fn(params):
        return ScaleByDistanceOverGradientsState(
            _map(lambda p: (reps_rel * (1 + l2(p))).astype(param_dtype), params),
            _map(lambda p: jnp.zeros([], param_dtype), params),
            params,
        )

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("scale_by_distance_over_gradients needs params in update.")
        max_dist = _map(lambda d, p, p0: jnp.maximum(d, l2(p, p0)), state.max_dist, params,
                        state.init_params)
        g_sos = _map(lambda s, g: s + jnp.sum(abs_sq(g)), state.grad_sum_of_squares, updates)
        new = _map(lambda d, s, g: global_scale * d / jnp.sqrt(s + eps) * g, max_dist, g_sos,
                   updates)
        return new, ScaleByDistanceOverGradientsState(max_dist, g_sos, state.init_params)

    return base.GradientTransformation(init_fn, update_fn)


def centralize() -> base.GradientTransformation:
    """Gradient centralisation (Yong et al., 2020): for leaves of rank > 1,
    ``u_t = g_t - mean(g_t over all axes but the first)``."""

    def f(g, _):
        if g.ndim > 1:
            return g - jnp.mean(g, axis=tuple(range(1, g.ndim)), keepdims=True)
        return g

    return base.stateless_with_tree_map(f)


def normalize_by_update_norm(scale_factor: float = 1.0, eps: float = 1e-6):
    """``u_t = scale_factor * g_t / (||g_t||_global + eps)``."""

    def update_fn(updates, state, params=None):
        del params
        g_norm = (otu.tree_l2_norm(updates) + eps) / scale_factor
        return _map(lambda g: g / g_norm, updates), state

    return base.GradientTransformation(base.init_empty_state, update_fn)


def scale_gradient(inputs: Any, scale: float) -> Any:
    """Identity on the forward pass; multiplies the gradient by ``scale`` on the way back."""
    sg = jumba.lax.stop_gradient
    return _map(lambda x: sg(x) + scale * (x - sg(x)), inputs)

