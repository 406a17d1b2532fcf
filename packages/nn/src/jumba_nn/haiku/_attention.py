"""Haiku's MultiHeadAttention."""

from __future__ import annotations

import jumba.numpy as jnp
from jumba_nn.haiku import _kernels, initializers
from jumba_nn.haiku._basic import Linear
from jumba_nn.haiku._module import Module, name_like


class MultiHeadAttention(Module):
    """Multi-headed scaled dot-product attention (Vaswani et al. 2017).

    Submodules ``query``, ``key``, ``value`` (projections to ``num_heads * key_size`` /
    ``value_size``) and ``linear`` (to `model_size`, default ``num_heads * key_size``).
    ``mask`` (broadcastable to ``[..., num_heads, T', T]``) keeps the logits where True.
    """

    def __init__(self, num_heads: int, key_size: int, w_init_scale: float | None = None,
                 *, w_init=None, with_bias: bool = True, b_init=None,
                 value_size: int | None = None, model_size: int | None = None,
                 name: str | None = None):
        super().__init__(name=name)
        self.num_heads, self.key_size = num_heads, key_size
        self.value_size = value_size or key_size
        self.model_size = model_size or key_size * num_heads
        if w_init_scale is not None and w_init is not None:
            raise ValueError("Please provide only `w_init`, not `w_init_scale`.")
        if w_init is None and w_init_scale is None:
            raise ValueError("Please provide a weight initializer: `w_init` (e.g. "
                             "hk.initializers.VarianceScaling(1.0)).")
        if w_init is None:
            w_init = initializers.VarianceScaling(w_init_scale)
        self.w_init, self.with_bias, self.b_init = w_init, with_bias, b_init

    def __call__(self, query, key, value, mask=None):
        *leading, t_k, _ = key.shape
        q = self._linear_projection(query, self.key_size, "query")
        k = self._linear_projection(key, self.key_size, "key")
        v = self._linear_projection(value, self.value_size, "value")
        if mask is not None and mask.ndim != q.ndim:  # logits [..., H, T', T]: q's rank
            raise ValueError(f"Mask dimensionality {mask.ndim} must match logits "
                             f"dimensionality {q.ndim} ([..., heads, T', T]).")
        attn = _kernels.dot_product_attention(q, k, v, mask=mask)      # [..., T', H, V]
        attn = jnp.reshape(attn, (*attn.shape[:-2], -1))
        return Linear(self.model_size, w_init=self.w_init, with_bias=self.with_bias,
                      b_init=self.b_init)(attn)

    @name_like("__call__")
    def _linear_projection(self, x, head_size, name=None):
        y = Linear(self.num_heads * head_size, w_init=self.w_init, with_bias=self.with_bias,
                   b_init=self.b_init, name=name)(x)
        return jnp.reshape(y, (*x.shape[:-1], self.num_heads, head_size))
