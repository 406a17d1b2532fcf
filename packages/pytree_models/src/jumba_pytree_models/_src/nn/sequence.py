"""MultiheadAttention, RotaryPositionalEmbedding, GRUCell and LSTMCell."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jumba
import jumba.numpy as jnp
import jumba.random as jr
from jumba_pytree_models._src.module import Module, field
from jumba_pytree_models._src.nn.basic import (
    Dropout,
    Linear,
    default_floating_dtype,
    default_init,
)

__all__ = ["GRUCell", "LSTMCell", "MultiheadAttention", "RotaryPositionalEmbedding"]


def _attention_weights(query, key, mask):
    query = query / math.sqrt(query.shape[-1])
    logits = jnp.einsum("sd,Sd->sS", query, key)
    if mask is not None:
        if mask.shape != logits.shape:
            raise ValueError(f"MultiheadAttention: mask must have shape (query_seq_length, "
                             f"kv_seq_length) = {logits.shape}; got {mask.shape}.")
        logits = jnp.where(mask, logits, jnp.finfo(logits.dtype).min)
    return jumba.nn.softmax(logits, axis=-1)


class MultiheadAttention(Module):
    """Multi-head scaled dot-product attention (Vaswani et al. 2017) on one unbatched
    sequence: ``query`` ``(q_seq, query_size)``, ``key_``/``value`` ``(kv_seq, ...)``.

    Projections are bias-free :class:`Linear` layers by default; ``mask`` is
    ``(q_seq, kv_seq)`` or ``(num_heads, q_seq, kv_seq)`` booleans (True = attend).
    ``process_heads(q, k, v)`` may rewrite the per-head projections (e.g. for RoPE).
    """

    query_proj: Linear
    key_proj: Linear
    value_proj: Linear
    output_proj: Linear
    dropout: Dropout
    num_heads: int = field(static=True)
    query_size: int = field(static=True)
    key_size: int = field(static=True)
    value_size: int = field(static=True)
    output_size: int = field(static=True)
    qk_size: int = field(static=True)
    vo_size: int = field(static=True)
    use_query_bias: bool = field(static=True)
    use_key_bias: bool = field(static=True)
    use_value_bias: bool = field(static=True)
    use_output_bias: bool = field(static=True)

    def __init__(self, num_heads: int, query_size: int, key_size: int | None = None,
                 value_size: int | None = None, output_size: int | None = None,
                 qk_size: int | None = None, vo_size: int | None = None,
                 use_query_bias: bool = False, use_key_bias: bool = False,
                 use_value_bias: bool = False, use_output_bias: bool = False,
                 dropout_p: float = 0.0, inference: bool = False, dtype=None, *, key):
        dtype = default_floating_dtype() if dtype is None else dtype
        qkey, kkey, vkey, okey = jr.split(key, 4)
        key_size = query_size if key_size is None else key_size
        value_size = query_size if value_size is None else value_size
        qk_size = query_size // num_heads if qk_size is None else qk_size
        vo_size = query_size // num_heads if vo_size is None else vo_size
        output_size = query_size if output_size is None else output_size
        self.query_proj = Linear(query_size, num_heads * qk_size, use_query_bias, dtype,
                                 key=qkey)
        self.key_proj = Linear(key_size, num_heads * qk_size, use_key_bias, dtype, key=kkey)
        self.value_proj = Linear(value_size, num_heads * vo_size, use_value_bias, dtype,
                                 key=vkey)
        self.output_proj = Linear(num_heads * vo_size, output_size, use_output_bias, dtype,
                                  key=okey)
        self.dropout = Dropout(dropout_p, inference=inference)
        self.num_heads, self.query_size, self.key_size = num_heads, query_size, key_size
        self.value_size, self.output_size = value_size, output_size
        self.qk_size, self.vo_size = qk_size, vo_size
        self.use_query_bias, self.use_key_bias = use_query_bias, use_key_bias
        self.use_value_bias, self.use_output_bias = use_value_bias, use_output_bias

    def _project(self, proj, x):
        return (x @ proj.weight.T + (0 if proj.bias is None else proj.bias)).reshape(
            x.shape[0], self.num_heads, -1)

    def __call__(self, query, key_, value, mask=None, *, key=None,
                 inference: bool | None = None, deterministic: bool | None = None,
                 process_heads: Callable | None = None):
        if deterministic is not None:
            inference = deterministic
        if key_.shape[0] != value.shape[0]:
            raise ValueError(f"MultiheadAttention: key_ and value must have the same "
                             f"sequence length; got {key_.shape[0]} and {value.shape[0]}.")
        q = self._project(self.query_proj, query)
        k = self._project(self.key_proj, key_)
        v = self._project(self.value_proj, value)
        if process_heads is not None:
            shapes = (q.shape, k.shape, v.shape)
            q, k, v = process_heads(q, k, v)
            if (q.shape, k.shape, v.shape) != shapes:
                raise ValueError("MultiheadAttention: process_heads must keep the shapes "
                                 "of the query, key and value heads.")
        keys = [None] * self.num_heads if key is None else list(jr.split(key, self.num_heads))
        heads = []
        for h in range(self.num_heads):
            m = mask if mask is None or mask.ndim == 2 else mask[h]
            w = _attention_weights(q[:, h], k[:, h], m)
            w = self.dropout(w, key=keys[h], inference=inference)
            heads.append(w @ v[:, h])
        attn = jnp.stack(heads, axis=1).reshape(query.shape[0], -1)
        out = attn @ self.output_proj.weight.T
        if self.output_proj.bias is not None:
            out = out + self.output_proj.bias
        return out


class RotaryPositionalEmbedding(Module):
    """Rotary positional embedding (Su et al. 2021, "RoFormer") of a
    ``(seq_length, embedding_size)`` input, in the rotate-half convention: the first and
    second halves of the features are the two coordinates of each rotated pair."""

    embedding_size: int = field(static=True)
    theta: float = field(static=True, default=10_000.0)
    dtype: Any = field(static=True, default=None)

    def __check_init__(self):
        if self.embedding_size % 2:
            raise ValueError(f"RotaryPositionalEmbedding: embedding_size must be even; got "
                             f"{self.embedding_size}.")

    def __call__(self, x, *, key=None):
        seq_len, size = x.shape
        if size != self.embedding_size:
            raise ValueError(f"RotaryPositionalEmbedding({self.embedding_size}) got an input "
                             f"of shape {x.shape}.")
        dtype = default_floating_dtype() if self.dtype is None else self.dtype
        freqs = 1.0 / (self.theta ** (jnp.arange(0.0, size, 2) / size))
        angles = jnp.outer(jnp.arange(float(seq_len)), freqs)
        cos = jnp.tile(jnp.cos(angles).astype(dtype), (1, 2))
        sin = jnp.tile(jnp.sin(angles).astype(dtype), (1, 2))
        half = size // 2
        rotated = jnp.concatenate([-x[..., half:], x[..., :half]], axis=-1)
        return x * cos + rotated * sin


class GRUCell(Module):
    """One step of a gated recurrent unit: ``h' = cell(x, h)`` (Cho et al. 2014), with
    PyTorch's gate layout (reset, update, new) and a separate bias for the new gate's
    hidden part. Weights ~ uniform(+-1/sqrt(hidden_size))."""

    weight_ih: Any
    weight_hh: Any
    bias: Any
    bias_n: Any
    input_size: int = field(static=True)
    hidden_size: int = field(static=True)
    use_bias: bool = field(static=True)

    def __init__(self, input_size: int, hidden_size: int, use_bias: bool = True, dtype=None,
                 *, key):
        dtype = default_floating_dtype() if dtype is None else dtype
        ihkey, hhkey, bkey, bkey2 = jr.split(key, 4)
        lim = math.sqrt(1 / hidden_size)
        self.weight_ih = default_init(ihkey, (3 * hidden_size, input_size), dtype, lim)
        self.weight_hh = default_init(hhkey, (3 * hidden_size, hidden_size), dtype, lim)
        self.bias = default_init(bkey, (3 * hidden_size,), dtype, lim) if use_bias else None
        self.bias_n = default_init(bkey2, (hidden_size,), dtype, lim) if use_bias else None
        self.input_size, self.hidden_size, self.use_bias = input_size, hidden_size, use_bias

    def __call__(self, input, hidden, *, key=None):  # noqa: A002 (Equinox's name)
        bias = 0 if self.bias is None else self.bias
        bias_n = 0 if self.bias_n is None else self.bias_n
        ig = jnp.split(self.weight_ih @ input + bias, 3)
        hg = jnp.split(self.weight_hh @ hidden, 3)
        reset = jumba.nn.sigmoid(ig[0] + hg[0])
        update = jumba.nn.sigmoid(ig[1] + hg[1])
        new = jnp.tanh(ig[2] + reset * (hg[2] + bias_n))
        return new + update * (hidden - new)


class LSTMCell(Module):
    """One step of a long short-term memory cell: ``(h', c') = cell(x, (h, c))``
    (Hochreiter & Schmidhuber 1997), gates in the order input, forget, cell, output."""

    weight_ih: Any
    weight_hh: Any
    bias: Any
    input_size: int = field(static=True)
    hidden_size: int = field(static=True)
    use_bias: bool = field(static=True)

    def __init__(self, input_size: int, hidden_size: int, use_bias: bool = True, dtype=None,
                 *, key):
        dtype = default_floating_dtype() if dtype is None else dtype
        ihkey, hhkey, bkey = jr.split(key, 3)
        lim = math.sqrt(1 / hidden_size)
        self.weight_ih = default_init(ihkey, (4 * hidden_size, input_size), dtype, lim)
        self.weight_hh = default_init(hhkey, (4 * hidden_size, hidden_size), dtype, lim)
        self.bias = default_init(bkey, (4 * hidden_size,), dtype, lim) if use_bias else None
        self.input_size, self.hidden_size, self.use_bias = input_size, hidden_size, use_bias

    def __call__(self, input, hidden, *, key=None):  # noqa: A002 (Equinox's name)
        h, c = hidden
        lin = self.weight_ih @ input + self.weight_hh @ h
        if self.bias is not None:
            lin = lin + self.bias
        i, f, g, o = jnp.split(lin, 4)
        c = jumba.nn.sigmoid(f) * c + jumba.nn.sigmoid(i) * jnp.tanh(g)
        h = jumba.nn.sigmoid(o) * jnp.tanh(c)
        return h, c
