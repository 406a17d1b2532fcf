"""Line searches and L-BFGS: ``scale_by_zoom_linesearch``, ``scale_by_backtracking_linesearch``,
``scale_by_lbfgs`` and the ``lbfgs`` optimizer.

The line searches take the objective through extra args, as Optax does::

    value, grad = value_and_grad(params, state=opt_state)
    updates, opt_state = opt.update(grad, opt_state, params,
                                    value=value, grad=grad, value_fn=f)

Jumba has no ``lax.while_loop`` yet, so a search is a loop of at most
``max_linesearch_steps`` iterations written as a state machine over arrays: run eagerly it
stops as soon as it has an answer; traced under ``jit`` every iteration is staged and the
finished ones leave the state unchanged (``where``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jumba
import jumba.numpy as jnp
from jumba_optim._src import base
from jumba_optim._src import tree_utils as otu
from jumba_optim._src.combine import chain
from jumba_optim._src.numerics import safe_increment
from jumba_optim._src.transform import scale, scale_by_learning_rate

_map = jumba.tree_util.tree_map


def _concrete_bool(x):
    """``bool(x)`` when ``x`` is concrete, ``None`` while tracing."""
    try:
        return bool(x)
    except Exception:  # noqa: BLE001 - any tracer refuses conversion
        return None


def _axpy(a, x, y):
    return _map(lambda xi, yi: yi + (a * xi).astype(yi.dtype), x, y)


class ZoomLinesearchInfo(NamedTuple):
    """Diagnostics of the last zoom line search.

    Attributes:
        num_linesearch_steps: function evaluations used.
        decrease_error: how far the accepted step is from the sufficient decrease
            condition (<= 0 when it holds).
        curvature_error: how far it is from the curvature condition (<= 0 when it holds).
    """

    num_linesearch_steps: Any
    decrease_error: Any
    curvature_error: Any


class ScaleByZoomLinesearchState(NamedTuple):
    """Accepted step size, and value and gradient at the new params (reused by
    :func:`value_and_grad_from_state`)."""

    learning_rate: Any
    value: Any
    grad: Any
    info: ZoomLinesearchInfo


def scale_by_zoom_linesearch(
    max_linesearch_steps: int,
    max_stepsize: float | None = None,
    tol: float = 0.0,
    increase_factor: float = 2.0,
    slope_rtol: float = 1e-4,
    curv_rtol: float = 0.9,
    approx_dec_rtol: float | None = 1e-6,
    stepsize_precision: float = 1e5,
    initial_guess_strategy: str = "one",
    verbose: bool = False,
) -> base.GradientTransformationExtraArgs:
    """A line search for the strong Wolfe conditions (Nocedal & Wright, Algs. 3.5-3.6).

    Finds ``a`` with, for the direction ``d`` (the incoming updates)::

        f(x + a d) <= f(x) + slope_rtol * a * <g(x), d>        (sufficient decrease)
        |<g(x + a d), d>| <= curv_rtol * |<g(x), d>|           (curvature)

    by growing ``a`` by ``increase_factor`` until a bracket is found, then zooming into the
    bracket with safeguarded quadratic interpolation; returns ``a * d``. When no step
    satisfies both within ``max_linesearch_steps`` evaluations, the evaluated step with the
    lowest value is taken.

    ``update`` needs keyword arguments ``value`` (f(x)), ``grad`` (g(x)) and ``value_fn``
    (f itself; extra args named in it are not supported).
    """
    del tol, approx_dec_rtol, stepsize_precision, verbose
    if initial_guess_strategy not in ("one", "keep"):
        raise ValueError(
            f"scale_by_zoom_linesearch: initial_guess_strategy must be 'one' or 'keep', got "
            f"{initial_guess_strategy!r}."
        )
    a_max = float("inf") if max_stepsize is None else float(max_stepsize)

    def init_fn(params):
        return ScaleByZoomLinesearchState(
            jnp.asarray(1.0),
            jnp.asarray(jnp.inf),
            otu.tree_zeros_like(params),
            ZoomLinesearchInfo(jnp.zeros([], jnp.int32), jnp.asarray(jnp.inf),
                               jnp.asarray(jnp.inf)),
        )

    def update_fn(updates, state, params=None, *, value=None, grad=None, value_fn=None,
                  **extra_args):
        if params is None or value is None or grad is None or value_fn is None:
            raise ValueError(
                "scale_by_zoom_linesearch needs params and the keyword arguments value=, "
                "grad= and value_fn=: tx.update(grad, state, params, value=value, "
                "grad=grad, value_fn=f)."
            )
        vg = jumba.value_and_grad(value_fn)
        f0 = jnp.asarray(value)
        s0 = otu.tree_vdot(grad, updates)
        dec_bound = lambda a, f: f - (f0 + slope_rtol * a * s0)  # noqa: E731
        curv_bound = lambda s: jnp.abs(s) - curv_rtol * jnp.abs(s0)  # noqa: E731

        a0 = jnp.asarray(1.0) if initial_guess_strategy == "one" else state.learning_rate
        a_cur = jnp.minimum(a0, a_max).astype(f0.dtype)
        false = jnp.asarray(False)
        zoom, done = false, false
        a_prev, f_prev, s_prev = jnp.zeros_like(f0), f0, s0
        lo = hi = f_lo = f_hi = s_lo = jnp.zeros_like(f0)
        acc_a, acc_f, acc_g = jnp.zeros_like(f0), f0, grad
        best_a, best_f, best_g = jnp.zeros_like(f0), jnp.asarray(jnp.inf, f0.dtype), grad
        steps = jnp.zeros([], jnp.int32)
        for i in range(max_linesearch_steps):
            f_a, g_a = vg(_axpy(a_cur, updates, params))
            s_a = otu.tree_vdot(g_a, updates)
            active = jnp.logical_not(done)
            steps = steps + active.astype(jnp.int32)
            dec_ok = dec_bound(a_cur, f_a) <= 0
            curv_ok = curv_bound(s_a) <= 0
            better = jnp.logical_and(active, f_a < best_f)
            best_a, best_f = jnp.where(better, a_cur, best_a), jnp.where(better, f_a, best_f)
            best_g = otu.tree_where(better, g_a, best_g)
            # Bracketing phase.
            to_zoom_a = jnp.logical_or(jnp.logical_not(dec_ok),
                                       jnp.logical_and(f_a >= f_prev, i > 0))
            b_done = jnp.logical_and(jnp.logical_not(to_zoom_a), curv_ok)
            to_zoom_b = jnp.logical_and(jnp.logical_not(to_zoom_a | b_done), s_a >= 0)
            # Zoom phase.
            z_hi = jnp.logical_or(jnp.logical_not(dec_ok), f_a >= f_lo)
            z_done = jnp.logical_and(jnp.logical_not(z_hi), curv_ok)
            z_flip = jnp.logical_and(jnp.logical_not(z_hi | z_done), s_a * (hi - lo) >= 0)
            in_b = jnp.logical_and(active, jnp.logical_not(zoom))
            in_z = jnp.logical_and(active, zoom)
            finished = jnp.logical_or(jnp.logical_and(in_b, b_done),
                                      jnp.logical_and(in_z, z_done))
            acc_a = jnp.where(finished, a_cur, acc_a)
            acc_f = jnp.where(finished, f_a, acc_f)
            acc_g = otu.tree_where(finished, g_a, acc_g)
            # New bracket [lo, hi] (lo always satisfies the decrease condition).
            za, zb = jnp.logical_and(in_b, to_zoom_a), jnp.logical_and(in_b, to_zoom_b)
            new_lo = jnp.where(za, a_prev, jnp.where(zb, a_cur, lo))
            new_f_lo = jnp.where(za, f_prev, jnp.where(zb, f_a, f_lo))
            new_s_lo = jnp.where(za, s_prev, jnp.where(zb, s_a, s_lo))
            new_hi = jnp.where(za, a_cur, jnp.where(zb, a_prev, hi))
            new_f_hi = jnp.where(za, f_a, jnp.where(zb, f_prev, f_hi))
            zh = jnp.logical_and(in_z, z_hi)
            zl = jnp.logical_and(in_z, jnp.logical_not(z_hi | z_done))
            zf = jnp.logical_and(in_z, z_flip)
            new_hi = jnp.where(zh, a_cur, jnp.where(zf, lo, new_hi))
            new_f_hi = jnp.where(zh, f_a, jnp.where(zf, f_lo, new_f_hi))
            new_lo = jnp.where(zl, a_cur, new_lo)
            new_f_lo = jnp.where(zl, f_a, new_f_lo)
            new_s_lo = jnp.where(zl, s_a, new_s_lo)
            lo, hi, f_lo, f_hi, s_lo = new_lo, new_hi, new_f_lo, new_f_hi, new_s_lo
            zoom = jnp.logical_or(zoom, jnp.logical_or(za, zb))
            done = jnp.logical_or(done, finished)
            # Next trial step: grow while bracketing, interpolate while zooming.
            keep_growing = jnp.logical_and(in_b, jnp.logical_not(za | zb | b_done))
            a_prev = jnp.where(keep_growing, a_cur, a_prev)
            f_prev = jnp.where(keep_growing, f_a, f_prev)
            s_prev = jnp.where(keep_growing, s_a, s_prev)
            grown = jnp.minimum(a_cur * increase_factor, a_max)
            delta = hi - lo
            denom = 2.0 * (f_hi - f_lo - s_lo * delta)
            quad = lo - s_lo * delta * delta / jnp.where(denom == 0, 1.0, denom)
            lo_b, hi_b = jnp.minimum(lo, hi), jnp.maximum(lo, hi)
            margin = 0.1 * jnp.abs(delta)
            ok = jnp.logical_and(denom > 0, jnp.logical_and(quad > lo_b + margin,
                                                            quad < hi_b - margin))
            interp = jnp.where(ok, quad, 0.5 * (lo + hi))
            a_cur = jnp.where(zoom, interp, jnp.where(keep_growing, grown, a_cur))
            if _concrete_bool(done):
                break
        # No Wolfe step found: fall back to the best value seen (if it decreased f).
        use_best = jnp.logical_and(jnp.logical_not(done), best_f < f0)
        final_a = jnp.where(done, acc_a, jnp.where(use_best, best_a, 0.0))
        final_f = jnp.where(done, acc_f, jnp.where(use_best, best_f, f0))
        final_g = otu.tree_where(done, acc_g, otu.tree_where(use_best, best_g, grad))
        s_final = otu.tree_vdot(final_g, updates)
        info = ZoomLinesearchInfo(steps, dec_bound(final_a, final_f), curv_bound(s_final))
        new_updates = otu.tree_scalar_mul(final_a, updates)
        return new_updates, ScaleByZoomLinesearchState(final_a, final_f, final_g, info)

    return base.GradientTransformationExtraArgs(init_fn, update_fn)


class ScaleByBacktrackingLinesearchState(NamedTuple):
    """Accepted step size, the value (and optionally the gradient) at the new params."""

    learning_rate: Any
    value: Any
    grad: Any = None


def scale_by_backtracking_linesearch(
    max_backtracking_steps: int,
    slope_rtol: float = 1e-4,
    decrease_factor: float = 0.8,
    increase_factor: float = 1.5,
    max_learning_rate: float = 1.0,
    atol: float = 0.0,
    rtol: float = 0.0,
    store_grad: bool = False,
) -> base.GradientTransformationExtraArgs:
    """Armijo backtracking: starting from ``min(increase_factor * lr_prev, max_lr)``,
    multiply the step by ``decrease_factor`` until::

        f(x + a d) <= f(x) + slope_rtol * a * <g(x), d> + atol + rtol * |f(x)|

    ``update`` needs ``value=``, ``grad=`` and ``value_fn=`` keyword arguments.
    """

    def init_fn(params):
        return ScaleByBacktrackingLinesearchState(
            jnp.asarray(max_learning_rate), jnp.asarray(jnp.inf),
            otu.tree_zeros_like(params) if store_grad else None,
        )

    def update_fn(updates, state, params=None, *, value=None, grad=None, value_fn=None,
                  **extra_args):
        if params is None or value is None or grad is None or value_fn is None:
            raise ValueError(
                "scale_by_backtracking_linesearch needs params, value=, grad= and value_fn=."
            )
        f0 = jnp.asarray(value)
        slope = otu.tree_vdot(grad, updates)
        a = jnp.minimum(state.learning_rate * increase_factor, max_learning_rate)
        done = jnp.asarray(False)
        acc_a, acc_f = a, f0
        for _ in range(max_backtracking_steps):
            f_a = value_fn(_axpy(a, updates, params))
            ok = f_a <= f0 + slope_rtol * a * slope + atol + rtol * jnp.abs(f0)
            newly = jnp.logical_and(jnp.logical_not(done), ok)
            acc_a, acc_f = jnp.where(newly, a, acc_a), jnp.where(newly, f_a, acc_f)
            done = jnp.logical_or(done, ok)
            a = jnp.where(done, a, a * decrease_factor)
            if _concrete_bool(done):
                break
        acc_a = jnp.where(done, acc_a, a)
        new_grad = None
        if store_grad:
            acc_f, new_grad = jumba.value_and_grad(value_fn)(_axpy(acc_a, updates, params))
        elif not _concrete_bool(done):
            acc_f = value_fn(_axpy(acc_a, updates, params))
        return (otu.tree_scalar_mul(acc_a, updates),
                ScaleByBacktrackingLinesearchState(acc_a, acc_f, new_grad))

    return base.GradientTransformationExtraArgs(init_fn, update_fn)


class ScaleByLBFGSState(NamedTuple):
    """L-BFGS memory. ``diff_params_memory``/``diff_updates_memory`` hold the last
    ``memory_size`` differences ``s_k = x_{k+1} - x_k`` and ``y_k = g_{k+1} - g_k`` (each leaf
    with a leading memory axis, oldest first), ``weights_memory`` the ``1 / <y_k, s_k>``."""

    count: Any
    params: Any
    updates: Any
    diff_params_memory: Any
    diff_updates_memory: Any
    weights_memory: Any


def scale_by_lbfgs(
    memory_size: int = 10, scale_init_precond: bool = True
) -> base.GradientTransformation:
    """L-BFGS preconditioning (Nocedal, 1980) by the two-loop recursion: ``u = H_t g_t``
    with ``H_t`` the limited-memory inverse-Hessian estimate, scaled initially by
    ``gamma = <y, s> / <y, y>`` (``min(1, 1/||g_0||)`` at the first step)."""
    if memory_size < 1:
        raise ValueError(f"scale_by_lbfgs: memory_size must be >= 1, got {memory_size}.")

    def init_fn(params):
        mem = _map(lambda p: jnp.zeros((memory_size,) + jnp.shape(p), jnp.asarray(p).dtype),
                   params)
        return ScaleByLBFGSState(
            jnp.zeros([], jnp.int32), otu.tree_zeros_like(params), otu.tree_zeros_like(params),
            mem, mem, jnp.zeros((memory_size,)),
        )

    def push(memory, new):
        return _map(lambda m, x: jnp.concatenate([m[1:], jnp.expand_dims(x, 0)]), memory, new)

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("scale_by_lbfgs needs params: tx.update(grad, state, params).")
        first = state.count == 0
        s = otu.tree_where(first, otu.tree_zeros_like(params), otu.tree_sub(params, state.params))
        y = otu.tree_where(first, otu.tree_zeros_like(updates),
                           otu.tree_sub(updates, state.updates))
        ys = otu.tree_vdot(y, s)
        weight = jnp.where(ys == 0.0, 0.0, 1.0 / jnp.where(ys == 0.0, 1.0, ys))
        s_mem = push(state.diff_params_memory, s)
        y_mem = push(state.diff_updates_memory, y)
        w_mem = jnp.concatenate([state.weights_memory[1:], jnp.reshape(weight, (1,))])
        if scale_init_precond:
            yy = otu.tree_l2_norm(y, squared=True)
            gamma = jnp.where(yy > 0.0, ys / jnp.where(yy > 0.0, yy, 1.0), 1.0)
            gamma = jnp.where(first, jnp.minimum(1.0, 1.0 / otu.tree_l2_norm(updates)), gamma)
        else:
            gamma = 1.0
        # Two-loop recursion; empty (zero-weight) memory slots are no-ops.
        q = updates
        alphas = []
        for k in reversed(range(memory_size)):
            s_k = _map(lambda m, k=k: m[k], s_mem)
            y_k = _map(lambda m, k=k: m[k], y_mem)
            alpha = w_mem[k] * otu.tree_vdot(s_k, q)
            q = otu.tree_add_scale(q, -alpha, y_k)
            alphas.append(alpha)
        r = otu.tree_scalar_mul(gamma, q)
        for k, alpha in zip(range(memory_size), reversed(alphas), strict=True):
            s_k = _map(lambda m, k=k: m[k], s_mem)
            y_k = _map(lambda m, k=k: m[k], y_mem)
            beta = w_mem[k] * otu.tree_vdot(y_k, r)
            r = otu.tree_add_scale(r, alpha - beta, s_k)
        return r, ScaleByLBFGSState(safe_increment(state.count), params, updates,
                                    s_mem, y_mem, w_mem)

    return base.GradientTransformation(init_fn, update_fn)


def lbfgs(
    learning_rate: base.ScalarOrSchedule | None = None,
    memory_size: int = 10,
    scale_init_precond: bool = True,
    linesearch: base.GradientTransformationExtraArgs | None = None,
) -> base.GradientTransformationExtraArgs:
    """L-BFGS (Liu & Nocedal, 1989): ``u = -a_t H_t g_t`` with ``a_t`` from a zoom line
    search (strong Wolfe conditions) by default.

    ``update`` needs ``value=``, ``grad=`` and ``value_fn=`` (see
    :func:`value_and_grad_from_state` to reuse the line search's last evaluation).

    Examples:
        >>> import jumba.numpy as jnp
        >>> import jumba_optim as optim
        >>> f = lambda x: jnp.sum((x - 1.0) ** 2)
        >>> opt = optim.lbfgs()
        >>> x = jnp.zeros(3)
        >>> state = opt.init(x)
        >>> vg = optim.value_and_grad_from_state(f)
        >>> for _ in range(3):
        ...     value, grad = vg(x, state=state)
        ...     u, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=f)
        ...     x = optim.apply_updates(x, u)
    """
    if linesearch is None:
        linesearch = scale_by_zoom_linesearch(max_linesearch_steps=20,
                                              initial_guess_strategy="one")
    step = scale(-1.0) if learning_rate is None else scale_by_learning_rate(learning_rate)
    return chain(scale_by_lbfgs(memory_size, scale_init_precond), step, linesearch)


def _find_linesearch_state(state):
    found = []

    def visit(x):
        if isinstance(x, (ScaleByZoomLinesearchState, ScaleByBacktrackingLinesearchState)):
            found.append(x)
            return
        if isinstance(x, (tuple, list)):
            for c in x:
                visit(c)
        elif isinstance(x, dict):
            for c in x.values():
                visit(c)

    visit(state)
    return found[0] if found else None


def value_and_grad_from_state(
    value_fn: Callable[..., Any],
) -> Callable[..., tuple[Any, Any]]:
    """``value_and_grad(value_fn)`` that reuses the value and gradient a line search
    stored in the optimizer state (computing them only at the first step).

    Returns:
        ``fn(params, *args, state, **kwargs) -> (value, grad)``.
    """
    vg = jumba.value_and_grad(value_fn)

    def fn(params, *fn_args, state, **fn_kwargs):
        ls = _find_linesearch_state(state)
        if ls is None or ls.grad is None:
            raise ValueError(
                "value_and_grad_from_state: the state holds no line search with a stored "
                "gradient; use it with lbfgs / scale_by_zoom_linesearch (or "
                "scale_by_backtracking_linesearch(store_grad=True))."
            )
        fresh = jnp.isinf(ls.value)
        concrete = _concrete_bool(fresh)
        if concrete is False:
            return ls.value, ls.grad
        value, grad = vg(params, *fn_args, **fn_kwargs)
        if concrete is True:
            return value, grad
        return jnp.where(fresh, value, ls.value), otu.tree_where(fresh, grad, ls.grad)

    return fn
