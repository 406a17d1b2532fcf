"""Attention kernels and masks (Flax's layouts: ``(batch..., length, heads, depth)``)."""

from __future__ import annotations

from collections.abc import Callable

import jumba.lax as lax
import jumba.nn as jnn
import jumba.numpy as jnp
import jumba.random as jr


def _heads_first(x):
    """(..., L, H, D) -> (..., H, L, D)."""
    return jnp.swapaxes(x, -3, -2)


def dot_product_attention_weights(query, key, bias=None, mask=None, broadcast_dropout: bool = True,
                                  dropout_rng=None, dropout_rate: float = 0.0,
                                  deterministic: bool = False, dtype=None, precision=None):
    """Softmax attention weights ``softmax(q k^T / sqrt(depth) + bias, masked)``.

    Args:
      query: ``(batch..., q_length, num_heads, qk_depth)``.
      key: ``(batch..., kv_length, num_heads, qk_depth)``.
      bias: optional, broadcastable to ``(batch..., num_heads, q_length, kv_length)``.
      mask: optional boolean (or 0/1) array broadcastable to the same shape; False entries
        get the dtype's most negative value before the softmax.
      broadcast_dropout: share the dropout mask over the batch and head axes.
      dropout_rng: key for attention dropout.
      dropout_rate: probability of dropping a weight.
      deterministic: disables dropout.
      dtype: computation dtype (default: the query's).
      precision: accepted for API compatibility (CPU float32 is always full precision).

    Returns:
      ``(batch..., num_heads, q_length, kv_length)``.
    """
    if query.ndim != key.ndim or query.shape[-1] != key.shape[-1]:
        raise ValueError(f"query {query.shape} and key {key.shape} must have the same rank and "
                         "depth: (batch..., length, num_heads, depth).")
    dtype = dtype or query.dtype
    depth = query.shape[-1]
    query = query / jnp.sqrt(jnp.asarray(depth, dtype))
    q, k = _heads_first(query), _heads_first(key)
    nb = q.ndim - 2
    batch = tuple(range(nb))
    w = lax.dot_general(q, k, (((q.ndim - 1,), (k.ndim - 1,)), (batch, batch)))
    if bias is not None:
        w = w + bias
    if mask is not None:
        w = jnp.where(mask, w, jnp.finfo(w.dtype).min)
    w = jnn.softmax(w, axis=-1).astype(dtype)
    if not deterministic and dropout_rate > 0.0:
        if dropout_rng is None:
            raise ValueError("attention dropout needs dropout_rng (or a 'dropout' rng stream), "
                             "or deterministic=True.")
        keep = 1.0 - dropout_rate
        shape = ((1,) * (key.ndim - 2) + tuple(w.shape[-2:]) if broadcast_dropout
                 else tuple(w.shape))
        keep_mask = jnp.broadcast_to(jr.bernoulli(dropout_rng, keep, shape), w.shape)
        w = w * (keep_mask.astype(w.dtype) / jnp.asarray(keep, w.dtype))
    return w


def dot_product_attention(query, key, value, bias=None, mask=None, broadcast_dropout: bool = True,
                          dropout_rng=None, dropout_rate: float = 0.0,
                          deterministic: bool = False, dtype=None, precision=None):
    """Scaled dot-product attention (Flax's ``nn.dot_product_attention``).

    Args:
      query: ``(batch..., q_length, num_heads, qk_depth)``.
      key: ``(batch..., kv_length, num_heads, qk_depth)``.
      value: ``(batch..., kv_length, num_heads, v_depth)``.
      bias, mask, broadcast_dropout, dropout_rng, dropout_rate, deterministic, dtype,
        precision: as in ``dot_product_attention_weights``.

    Returns:
      ``(batch..., q_length, num_heads, v_depth)``.
    """
    if key.shape[:-1] != value.shape[:-1]:
        raise ValueError(f"key {key.shape} and value {value.shape} must agree on all but the "
                         "last (depth) axis.")
    w = dot_product_attention_weights(query, key, bias, mask, broadcast_dropout, dropout_rng,
                                      dropout_rate, deterministic, dtype, precision)
    v = _heads_first(value)                                   # (..., H, K, D)
    nb = v.ndim - 2
    batch = tuple(range(nb))
    out = lax.dot_general(w, v, (((w.ndim - 1,), (nb,)), (batch, batch)))
    return _heads_first(out)                                  # (..., Q, H, D)


def make_attention_mask(query_input, key_input, pairwise_fn: Callable = jnp.multiply,
                        extra_batch_dims: int = 0, dtype=jnp.float32):
    """Mask ``(batch..., 1, q_len, kv_len)`` from per-position query and key arrays.

    Args:
      query_input: ``(batch..., q_len)``, e.g. token ids with 0 for padding.
      key_input: ``(batch..., kv_len)``.
      pairwise_fn: combines a query and a key entry (``jnp.multiply`` keeps pairs of non-padding
        tokens).
      extra_batch_dims: leading size-1 axes to add.
      dtype: mask dtype.

    Returns:
      ``(1,) * extra_batch_dims + (batch..., 1, q_len, kv_len)``.
    """
    mask = pairwise_fn(jnp.expand_dims(query_input, -1), jnp.expand_dims(key_input, -2))
    mask = jnp.expand_dims(mask, -3)
    mask = jnp.reshape(mask, (1,) * extra_batch_dims + tuple(mask.shape))
    return mask.astype(dtype)


def make_causal_mask(x, extra_batch_dims: int = 0, dtype=jnp.float32):
    """Causal mask ``(batch..., 1, len, len)``: query i attends to keys 0..i.

    Args:
      x: ``(batch..., len)``; only its shape is used.
      extra_batch_dims: leading size-1 axes to add.
      dtype: mask dtype.
    """
    idxs = jnp.broadcast_to(jnp.arange(x.shape[-1], dtype=jnp.int32), x.shape)
    return make_attention_mask(idxs, idxs, jnp.greater_equal, extra_batch_dims, dtype)


def combine_masks(*masks, dtype=jnp.float32):
    """Logical AND of the masks that are not None (None if all are).

    Raises:
      ValueError: if the masks have different ranks.
    """
    masks = [m for m in masks if m is not None]
    if not masks:
        return None
    if len({m.ndim for m in masks}) != 1:
        raise ValueError(f"combine_masks: masks must have the same rank, got shapes "
                         f"{[m.shape for m in masks]}.")
    out = masks[0].astype(bool)
    for m in masks[1:]:
        out = jnp.logical_and(out, m.astype(bool))
    return out.astype(dtype)
