"""Multi-head dot-product attention (Flax's MultiHeadDotProductAttention, SelfAttention)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jumba.numpy as jnp
from jumba.nn import initializers
from jumba_nn import functional as F
from jumba_nn._src.linear import DenseGeneral, default_kernel_init
from jumba_nn._src.module import Module, compact, merge_param
from jumba_nn._src.normalization import LayerNorm

Dtype = Any


class MultiHeadDotProductAttention(Module):
    """Multi-head attention: project to heads, attend, project back.

    Parameters live in the submodules ``query``, ``key``, ``value`` (kernels
    ``(in, num_heads, head_dim)``) and ``out`` (kernel ``(num_heads, head_dim, out)``).

    Attributes:
      num_heads: number of heads; ``qkv_features`` must divide by it.
      qkv_features: total projected size (default: the query's features).
      out_features: output size (default: the query's features).
      broadcast_dropout: share the attention-dropout mask across batch and heads.
      dropout_rate: attention-weight dropout.
      deterministic: disables dropout; may instead be passed at call time.
      kernel_init, bias_init, use_bias: of the projections (``out_kernel_init``,
        ``out_bias_init`` override them for ``out``).
      attention_fn: ``dot_product_attention`` by default.
      decode: autoregressive decoding with a key/value cache in the "cache" collection
        (initialise with the full-length input, then feed one token at a time with
        ``mutable=["cache"]``).
      normalize_qk: LayerNorm (without bias) on queries and keys.
    """

    num_heads: int
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32
    qkv_features: int | None = None
    out_features: int | None = None
    broadcast_dropout: bool = True
    dropout_rate: float = 0.0
    deterministic: bool | None = None
    precision: Any = None
    kernel_init: Callable = default_kernel_init
    out_kernel_init: Callable | None = None
    bias_init: Callable = initializers.zeros
    out_bias_init: Callable | None = None
    use_bias: bool = True
    attention_fn: Callable = F.dot_product_attention
    decode: bool = False
    normalize_qk: bool = False

    @compact
    def __call__(self, inputs_q, inputs_k=None, inputs_v=None, *, inputs_kv=None, mask=None,
                 deterministic: bool | None = None, dropout_rng=None, sow_weights: bool = False):
        if inputs_kv is not None:
            if inputs_k is not None or inputs_v is not None:
                raise ValueError("Give inputs_kv, or inputs_k/inputs_v, not both.")
            inputs_k = inputs_v = inputs_kv
        else:
            if inputs_k is None:
                if inputs_v is not None:
                    raise ValueError("inputs_v was given without inputs_k; give both (or "
                                     "neither, for self-attention).")
                inputs_k = inputs_q
            if inputs_v is None:
                inputs_v = inputs_k
        features = inputs_q.shape[-1]
        qkv_features = self.qkv_features or features
        out_features = self.out_features or features
        if qkv_features % self.num_heads:
            raise ValueError(f"qkv_features ({qkv_features}) must be divisible by num_heads "
                             f"({self.num_heads}).")
        head_dim = qkv_features // self.num_heads

        def proj(name):
            return DenseGeneral(features=(self.num_heads, head_dim), axis=-1, dtype=self.dtype,
                                param_dtype=self.param_dtype, kernel_init=self.kernel_init,
                                bias_init=self.bias_init, use_bias=self.use_bias, name=name)

        query = proj("query")(inputs_q)
        key = proj("key")(inputs_k)
        value = proj("value")(inputs_v)
        if self.normalize_qk:
            query = LayerNorm(name="query_ln", use_bias=False, dtype=self.dtype)(query)
            key = LayerNorm(name="key_ln", use_bias=False, dtype=self.dtype)(key)

        if self.decode:
            key, value, mask = self._decode_cache(key, value, mask)

        if self.dropout_rate > 0.0:
            deterministic = merge_param("deterministic", self.deterministic, deterministic)
            if not deterministic and dropout_rng is None:
                dropout_rng = self.make_rng("dropout")
        else:
            deterministic = True

        if sow_weights:
            weights = F.dot_product_attention_weights(
                query, key, None, mask, self.broadcast_dropout, dropout_rng, self.dropout_rate,
                deterministic, self.dtype)
            self.sow("intermediates", "attention_weights", weights)
        x = self.attention_fn(query, key, value, mask=mask, dropout_rng=dropout_rng,
                              dropout_rate=self.dropout_rate,
                              broadcast_dropout=self.broadcast_dropout,
                              deterministic=deterministic, dtype=self.dtype)
        return DenseGeneral(features=out_features, axis=(-2, -1), dtype=self.dtype,
                            param_dtype=self.param_dtype,
                            kernel_init=self.out_kernel_init or self.kernel_init,
                            bias_init=self.out_bias_init or self.bias_init,
                            use_bias=self.use_bias, name="out")(x)

    def _decode_cache(self, key, value, mask):
        initialized = self.has_variable("cache", "cached_key")
        cached_key = self.variable("cache", "cached_key", jnp.zeros, key.shape, key.dtype)
        cached_value = self.variable("cache", "cached_value", jnp.zeros, value.shape,
                                     value.dtype)
        index = self.variable("cache", "cache_index", lambda: jnp.array(0, jnp.int32))
        if not initialized:
            return key, value, mask
        *batch, max_len, heads, depth = cached_key.value.shape
        if key.shape[-3] != 1:
            raise ValueError(f"decode=True feeds one token at a time: expected query length 1, "
                             f"got key shape {key.shape}.")
        i = index.value
        onehot = (jnp.arange(max_len) == i).astype(key.dtype)[:, None, None]
        k = cached_key.value * (1 - onehot) + key * onehot
        v = cached_value.value * (1 - onehot) + value * onehot
        cached_key.value, cached_value.value = k, v
        index.value = i + 1
        causal = jnp.broadcast_to(jnp.arange(max_len) <= i, tuple(batch) + (1, 1, max_len))
        mask = causal if mask is None else F.combine_masks(mask, causal)
        return k, v, mask


MultiHeadAttention = MultiHeadDotProductAttention


class SelfAttention(MultiHeadDotProductAttention):
    """Self-attention: ``MultiHeadDotProductAttention`` with keys and values from the query."""

    @compact
    def __call__(self, inputs_q, mask=None, deterministic: bool | None = None,
                 dropout_rng=None, sow_weights: bool = False):
        return super().__call__(inputs_q, mask=mask, deterministic=deterministic,
                                dropout_rng=dropout_rng, sow_weights=sow_weights)
