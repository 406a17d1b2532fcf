"""Numerically safe helpers: norms with a floor, saturating step counters."""

from __future__ import annotations

from typing import Any

import jumba
import jumba.numpy as jnp


def abs_sq(x: Any) -> Any:
    """``|x|^2`` elementwise (``x * conj(x)`` for real inputs)."""
    return x * x


def safe_norm(x: Any, min_norm: Any, ord: Any = None, axis: Any = None, keepdims: bool = False):
    """The 2-norm of ``x``, but ``min_norm`` where the norm is smaller.

    The gradient is taken through a masked input, so it is finite (zero) at ``x = 0``
    where the plain norm's gradient is NaN.

    Args:
        x: array.
        min_norm: lower bound of the returned norm.
        ord: only ``None`` (Frobenius/2-norm) is supported.
        axis: axes to reduce (all when ``None``).
        keepdims: keep the reduced axes.
    """
    if ord not in (None, 2, "fro"):
        raise NotImplementedError(f"safe_norm: ord={ord!r} is not supported; use ord=None.")
    sq = jnp.sum(abs_sq(x), axis=axis, keepdims=True)
    norm = jnp.sqrt(sq)
    masked_x = jnp.where(norm <= min_norm, jnp.ones_like(x), x)
    masked_norm = jnp.sqrt(jnp.sum(abs_sq(masked_x), axis=axis, keepdims=keepdims))
    if not keepdims:
        norm = jnp.sqrt(jnp.sum(abs_sq(x), axis=axis, keepdims=False))
    return jnp.where(norm <= min_norm, jnp.asarray(min_norm, masked_norm.dtype), masked_norm)


def safe_root_mean_squares(x: Any, min_rms: Any) -> Any:
    """``max(sqrt(mean(x^2)), min_rms)`` with a finite gradient at zero."""
    rms = jnp.sqrt(jnp.mean(abs_sq(x)))
    x = jnp.where(rms <= min_rms, jnp.ones_like(x), x)
    return jnp.where(rms <= min_rms, jnp.asarray(min_rms, x.dtype), jnp.sqrt(jnp.mean(abs_sq(x))))


def safe_increment(count: Any) -> Any:
    """``count + 1``, saturating at the dtype's maximum instead of overflowing."""
    count = jnp.asarray(count)
    dtype = count.dtype
    if jnp.issubdtype(dtype, jnp.integer):
        max_value = jnp.iinfo(dtype).max
    else:
        max_value = jnp.finfo(dtype).max
    one = jnp.asarray(1, dtype)
    return jnp.where(count < max_value, count + one, jnp.asarray(max_value, dtype))


def safe_int32_increment(count: Any) -> Any:
    """:func:`safe_increment` for an int32 counter."""
    count = jnp.asarray(count)
    if count.dtype != jnp.int32:
        raise TypeError(
            f"safe_int32_increment expects an int32 counter, got {count.dtype}; "
            "use safe_increment for other dtypes."
        )
    return safe_increment(count)


def tree_is_finite(tree: Any) -> Any:
    """A boolean scalar: every element of every leaf is finite."""
    leaves = jumba.tree_util.tree_leaves(tree)
    out = jnp.asarray(True)
    for leaf in leaves:
        out = jnp.logical_and(out, jnp.all(jnp.isfinite(leaf)))
    return out
