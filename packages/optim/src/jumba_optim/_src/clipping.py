"""Clipping and constraints: value/norm clipping, NaN zeroing, non-negativity."""

from __future__ import annotations

from typing import Any, NamedTuple

import jumba
import jumba.numpy as jnp
from jumba_optim._src import base
from jumba_optim._src import tree_utils as otu
from jumba_optim._src.numerics import abs_sq

_map = jumba.tree_util.tree_map


class ClipState(NamedTuple):
    """:func:`clip` is stateless."""


def clip(max_delta: Any) -> base.GradientTransformation:
    """Clips every element: ``u_t = clip(g_t, -max_delta, max_delta)``."""
    return base.stateless_with_tree_map(lambda g, _: jnp.clip(g, -max_delta, max_delta))


class ClipByGlobalNormState(NamedTuple):
    """:func:`clip_by_global_norm` is stateless."""


def clip_by_global_norm(max_norm: float) -> base.GradientTransformation:
    """Rescales the whole tree when its global norm exceeds ``max_norm``::

        u_t = g_t * max_norm / max(||g_t||_global, max_norm)

    (Pascanu et al., 2012).
    """

    def update_fn(updates, state, params=None):
        del params
        g_norm = otu.global_norm(updates)
        trigger = g_norm < max_norm
        # Divide by the norm only where it is large, so the result is exact (== g) otherwise.
        safe = jnp.where(trigger, jnp.ones_like(g_norm), g_norm)
        updates = _map(
            lambda t: jnp.where(trigger, t, (t / safe.astype(t.dtype)) * max_norm), updates
        )
        return updates, state

    return base.GradientTransformation(base.init_empty_state, update_fn)


def per_example_global_norm_clip(grads: list, l2_norm_clip: float):
    """Clips each example's gradient to norm ``l2_norm_clip`` and sums them (DP-SGD).

    Args:
        grads: list of arrays whose first axis indexes examples.
        l2_norm_clip: maximum per-example global norm.

    Returns:
        ``(summed_clipped_grads, number_of_clipped_examples)``.
    """
    bsize = grads[0].shape[0]
    if any(g.ndim == 0 or g.shape[0] != bsize for g in grads):
        raise ValueError(
            "per_example_global_norm_clip: every gradient needs the batch as its first axis "
            f"of size {bsize}; got shapes {[g.shape for g in grads]}."
        )
    norms = jnp.sqrt(sum(jnp.sum(abs_sq(g).reshape(bsize, -1), axis=1) for g in grads))
    divisors = jnp.maximum(norms / l2_norm_clip, 1.0)
    num_clipped = jnp.sum(norms > l2_norm_clip)
    clipped = [
        jnp.sum(g / divisors.reshape((bsize,) + (1,) * (g.ndim - 1)), axis=0) for g in grads
    ]
    return clipped, num_clipped


def per_example_layer_norm_clip(
    grads: list, global_l2_norm_clip: float, uniform: bool = True
):
    """Per-example, per-layer clipping: each layer clipped to its share of the bound.

    Returns:
        ``(summed_clipped_grads, numbers_of_clipped_examples_per_layer)``.
    """
    n = len(grads)
    if uniform:
        bounds = [global_l2_norm_clip / (n**0.5)] * n
    else:
        sizes = [g[0].size for g in grads]
        total = sum(sizes)
        bounds = [global_l2_norm_clip * (s / total) ** 0.5 for s in sizes]
    out, counts = [], []
    for g, b in zip(grads, bounds, strict=True):
        c, k = per_example_global_norm_clip([g], b)
        out.append(c[0])
        counts.append(k)
    return out, counts


def clip_by_block_rms(threshold: float) -> base.GradientTransformation:
    """Clips each leaf's root-mean-square: ``u_t = g_t / max(1, rms(g_t) / threshold)``."""

    def f(u, _):
        denom = jnp.maximum(1.0, jnp.sqrt(jnp.mean(abs_sq(u))) / threshold)
        return u / denom

    return base.stateless_with_tree_map(f)


class AdaptiveGradClipState(NamedTuple):
    """:func:`adaptive_grad_clip` is stateless."""


def adaptive_grad_clip(clipping: float, eps: float = 1e-3) -> base.GradientTransformation:
    """Adaptive gradient clipping (Brock et al., 2021), unit-wise::

        u = g * min(1, clipping * max(||p||, eps) / ||g||)

    with norms over all axes but the last (the output units) for rank >= 2 leaves.
    """

    def unitwise_norm(x):
        if x.ndim <= 1:
            return jnp.sqrt(jnp.sum(abs_sq(x), keepdims=True))
        axes = tuple(range(x.ndim - 1))
        return jnp.sqrt(jnp.sum(abs_sq(x), axis=axes, keepdims=True))

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("adaptive_grad_clip needs params: tx.update(g, state, params).")

        def f(g, p):
            g_norm = unitwise_norm(g)
            p_norm = jnp.maximum(unitwise_norm(p), eps)
            max_norm = p_norm * clipping
            trigger = g_norm < max_norm
            safe_g = jnp.where(trigger, max_norm, g_norm)  # never divides by a zero norm
            return jnp.where(trigger, g, g * (max_norm / jnp.maximum(safe_g, 1e-6)))

        return _map(f, updates, params), state

    return base.GradientTransformation(base.init_empty_state, update_fn)


class ZeroNansState(NamedTuple):
    """Per-leaf flags: did the last update contain a NaN."""

    found_nan: Any


def zero_nans() -> base.GradientTransformation:
    """Replaces NaNs by 0 and records, per leaf, whether any was found."""

    def init_fn(params):
        return ZeroNansState(_map(lambda p: jnp.asarray(False), params))

    def update_fn(updates, state, params=None):
        del params, state
        found = _map(lambda g: jnp.any(jnp.isnan(g)), updates)
        updates = _map(lambda g: jnp.where(jnp.isnan(g), jnp.zeros_like(g), g), updates)
        return updates, ZeroNansState(found)

    return base.GradientTransformation(init_fn, update_fn)


class NonNegativeParamsState(NamedTuple):
    """:func:`keep_params_nonnegative` is stateless."""


def keep_params_nonnegative() -> base.GradientTransformation:
    """Changes updates so that ``p + u >= 0``: ``u = where(p + u < 0, -p, u)``."""

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("keep_params_nonnegative needs params in update.")
        updates = _map(lambda u, p: jnp.where(p + u < 0.0, -p, u), updates, params)
        return updates, state

    return base.GradientTransformation(base.init_empty_state, update_fn)

