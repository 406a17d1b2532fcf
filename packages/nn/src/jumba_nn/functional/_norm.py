"""Normalisation and dropout kernels: pure functions on arrays (features last)."""

from __future__ import annotations

from collections.abc import Sequence

import jumba.lax as lax
import jumba.numpy as jnp
import jumba.random as jr


def _axes(axes, ndim: int) -> tuple[int, ...]:
    axes = (axes,) if isinstance(axes, int) else tuple(axes)
    return tuple(sorted(a % ndim for a in axes))


def moments(x, axes, *, use_fast_variance: bool = True, keepdims: bool = True):
    """Mean and (biased) variance of ``x`` over ``axes``.

    With ``use_fast_variance`` (Flax's default) the variance is ``E[x^2] - E[x]^2`` clipped at
    zero, one pass over the data; otherwise ``E[(x - E[x])^2]``.

    Returns:
      ``(mean, var)``, with the reduced axes kept as size 1 when ``keepdims``.
    """
    axes = _axes(axes, x.ndim)
    mean = jnp.mean(x, axis=axes, keepdims=True)
    if use_fast_variance:
        var = jnp.maximum(jnp.mean(lax.square(x), axis=axes, keepdims=True) - lax.square(mean),
                          0.0)
    else:
        var = jnp.mean(lax.square(x - mean), axis=axes, keepdims=True)
    if not keepdims:
        mean, var = jnp.squeeze(mean, axes), jnp.squeeze(var, axes)
    return mean, var


def normalize(x, mean, var, scale=None, bias=None, epsilon: float = 1e-6):
    """``(x - mean) * rsqrt(var + epsilon) * scale + bias``; all arguments broadcast to x."""
    mul = lax.rsqrt(var + epsilon)
    if scale is not None:
        mul = mul * scale
    y = (x - mean) * mul
    return y if bias is None else y + bias


def layer_norm(x, scale=None, bias=None, *, reduction_axes=-1, epsilon: float = 1e-6,
               use_fast_variance: bool = True):
    """Layer normalisation over ``reduction_axes``.

    Args:
      x: any shape.
      scale, bias: optional, broadcastable to x (e.g. ``(features,)`` for the last axis).
      reduction_axes: axes whose statistics normalise each example.
      epsilon: added to the variance.
      use_fast_variance: see ``moments``.

    Returns:
      An array shaped as x.
    """
    mean, var = moments(x, reduction_axes, use_fast_variance=use_fast_variance)
    return normalize(x, mean, var, scale, bias, epsilon)


def rms_norm(x, scale=None, *, reduction_axes=-1, epsilon: float = 1e-6):
    """Root-mean-square normalisation: ``x * rsqrt(mean(x^2) + epsilon) * scale``.

    Args:
      x: any shape; scale broadcastable to it.

    Returns:
      An array shaped as x.
    """
    ms = jnp.mean(lax.square(x), axis=_axes(reduction_axes, x.ndim), keepdims=True)
    y = x * lax.rsqrt(ms + epsilon)
    return y if scale is None else y * scale


def group_norm(x, num_groups: int, scale=None, bias=None, *, epsilon: float = 1e-6,
               reduction_axes: Sequence[int] | None = None, use_fast_variance: bool = True):
    """Group normalisation: features split into ``num_groups`` groups, each normalised.

    Args:
      x: ``(batch, ..., features)``; features divisible by ``num_groups``.
      num_groups: number of groups.
      scale, bias: optional ``(features,)``.
      reduction_axes: non-feature axes to reduce besides the group; default all but the first
        (batch) axis.
      epsilon, use_fast_variance: as in ``layer_norm``.

    Returns:
      An array shaped as x.
    """
    c = x.shape[-1]
    if c % num_groups:
        raise ValueError(f"group_norm: {c} features do not split into {num_groups} groups; "
                         "choose num_groups (or group_size) dividing the feature count.")
    if reduction_axes is None:
        reduction_axes = tuple(range(1, x.ndim - 1))
    red = tuple(a % x.ndim for a in reduction_axes if a % x.ndim != x.ndim - 1)
    xg = jnp.reshape(x, tuple(x.shape[:-1]) + (num_groups, c // num_groups))
    mean, var = moments(xg, red + (xg.ndim - 1,), use_fast_variance=use_fast_variance)
    mean = jnp.reshape(jnp.broadcast_to(mean, mean.shape[:-1] + (c // num_groups,)),
                       mean.shape[:-2] + (c,))
    var = jnp.reshape(jnp.broadcast_to(var, var.shape[:-1] + (c // num_groups,)),
                      var.shape[:-2] + (c,))
    return normalize(x, mean, var, scale, bias, epsilon)


def instance_norm(x, scale=None, bias=None, *, epsilon: float = 1e-6,
                  use_fast_variance: bool = True):
    """Normalises each example and feature over the spatial axes of ``(batch, *spatial, C)``."""
    return layer_norm(x, scale, bias, reduction_axes=tuple(range(1, x.ndim - 1)),
                      epsilon=epsilon, use_fast_variance=use_fast_variance)


def batch_norm(x, mean, var, scale=None, bias=None, *, epsilon: float = 1e-5):
    """Normalises with given statistics (the batch's in training, running ones in eval).

    Args:
      x: ``(batch, ..., features)``.
      mean, var: ``(features,)`` (or broadcastable to x).
      scale, bias: optional ``(features,)``.
      epsilon: added to the variance.

    Returns:
      An array shaped as x. Batch statistics come from ``moments(x, axes)``.
    """
    return normalize(x, mean, var, scale, bias, epsilon)


def dropout(rng, x, rate: float, deterministic: bool = False, broadcast_dims: Sequence[int] = ()):
    """Zeros each element with probability ``rate`` and scales the rest by ``1 / (1 - rate)``.

    Args:
      rng: a PRNG key; the same key gives the same mask.
      x: any shape.
      rate: the drop probability in [0, 1].
      deterministic: when True, return x unchanged (evaluation).
      broadcast_dims: axes along which the mask is shared (e.g. time for variational dropout).

    Returns:
      An array shaped as x.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"dropout rate must be in [0, 1], got {rate}.")
    if deterministic or rate == 0.0:
        return x
    if rate == 1.0:
        return jnp.zeros_like(x)
    if rng is None:
        raise ValueError("dropout with deterministic=False needs a PRNG key; pass "
                         "rngs={'dropout': key} to apply, or deterministic=True for evaluation.")
    keep = 1.0 - rate
    shape = list(x.shape)
    for d in broadcast_dims:
        shape[d] = 1
    mask = jnp.broadcast_to(jr.bernoulli(rng, keep, tuple(shape)), x.shape)
    return lax.select(mask, x / jnp.asarray(keep, x.dtype), jnp.zeros_like(x))
