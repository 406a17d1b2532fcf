"""Scaled dot-product attention and block-scaled matrix products of jumba.nn (as jax.nn).

`dot_product_attention` follows JAX's reference ("xla") implementation: logits in at least
float32, scaled then biased, masked with a large negative number (not -inf, so a fully
masked row is uniform rather than NaN), softmax, then the weighted sum of values.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from jumba._src import dtypes
from jumba._src.core import get_aval
from jumba._src.lax.dot import dot_general
from jumba._src.nn.functions import softmax
from jumba._src.numpy import lax_numpy as jnp


def _shape_error(msg):
    return ValueError(f"dot_product_attention: {msg}")


def _check_qkv(query, key, value):
    q, k, v = (get_aval(a) for a in (query, key, value))
    if not q.ndim == k.ndim == v.ndim or q.ndim not in (3, 4):
        raise _shape_error(
            f"query, key and value must all be [B, T, N, H] (rank 4) or [T, N, H] (rank 3); "
            f"got shapes {q.shape}, {k.shape}, {v.shape}.")
    if k.shape != v.shape:
        raise _shape_error(f"key and value must have the same shape [B, S, K, H]; got "
                           f"{k.shape} and {v.shape}.")
    if q.shape[-1] != k.shape[-1]:
        raise _shape_error(f"query and key must have the same head size H (last axis); got "
                           f"{q.shape[-1]} and {k.shape[-1]}.")
    if q.ndim == 4 and q.shape[0] != k.shape[0]:
        raise _shape_error(f"query and key must have the same batch size; got {q.shape[0]} "
                           f"and {k.shape[0]}.")
    n, kh = q.shape[-2], k.shape[-2]
    if kh == 0 or n % kh:
        raise _shape_error(
            f"the number of query heads N={n} must be a multiple of the number of key/value "
            f"heads K={kh} (grouped-query attention shares each key/value head among N/K "
            "query heads).")
    if not (q.dtype == k.dtype == v.dtype):
        raise _shape_error(f"query, key and value must have one dtype; got {q.dtype}, "
                           f"{k.dtype}, {v.dtype}. Cast them with .astype first.")


def _check_bcast(name, x, target):
    shape = get_aval(x).shape
    try:
        if len(shape) > len(target) or np.broadcast_shapes(shape, target) != tuple(target):
            raise ValueError
    except ValueError:
        raise _shape_error(f"{name} of shape {shape} does not broadcast to the logits' shape "
                           f"[B, N, T, S] = {tuple(target)}.") from None


def _window(local_window_size):
    if isinstance(local_window_size, (int, np.integer)):
        return int(local_window_size), int(local_window_size)
    try:
        left, right = local_window_size
        return int(left), int(right)
    except (TypeError, ValueError):
        raise _shape_error(f"local_window_size must be an int or a (left, right) pair, got "
                           f"{local_window_size!r}.") from None


def dot_product_attention(query, key, value, bias=None, mask=None, *, scale=None,
                          is_causal: bool = False, query_seq_lengths=None,
                          key_value_seq_lengths=None, local_window_size=None,
                          implementation=None):
    r"""Scaled dot-product attention, :math:`\mathrm{softmax}(Q K^T \cdot s + b) V`.

    Shapes as JAX: `query` is `[B, T, N, H]`, `key` and `value` are `[B, S, K, H]` (the
    batch axis may be absent on all three), where `N` is a multiple of `K`
    (grouped-query attention: query head `n` uses key/value head `n // (N // K)`).

    Args:
      query: queries, `[B, T, N, H]`.
      key: keys, `[B, S, K, H]`.
      value: values, `[B, S, K, H]`.
      bias: optional additive bias broadcastable to the logits, `[B, N, T, S]`.
      mask: optional boolean mask broadcastable to `[B, N, T, S]`; False entries are
        excluded.
      scale: logit scale; default :math:`1/\sqrt{H}`.
      is_causal: apply a causal mask (query `t` sees keys `s <= t`).
      query_seq_lengths: optional `[B]` int lengths; query rows past them are masked and
        their outputs are zero.
      key_value_seq_lengths: optional `[B]` int lengths; keys past them are masked.
      local_window_size: optional int or `(left, right)`: query `t` sees keys in
        `[t - left, t + right]`.
      implementation: None or `"xla"` (the only implementation here).

    Returns:
      An array of `query`'s shape and dtype.
    """
    if implementation not in (None, "xla"):
        raise ValueError(f"dot_product_attention: implementation={implementation!r} is not "
                         "available in jumba; use None or 'xla'.")
    query, key, value = jnp.asarray(query), jnp.asarray(key), jnp.asarray(value)
    _check_qkv(query, key, value)
    unbatched = get_aval(query).ndim == 3
    if unbatched:
        query, key, value = query[None], key[None], value[None]
        if query_seq_lengths is not None or key_value_seq_lengths is not None:
            raise _shape_error("sequence lengths need batched [B, T, N, H] inputs.")
    b_, t_, n_, h_ = get_aval(query).shape
    s_, k_ = get_aval(key).shape[1:3]
    out_dtype = get_aval(query).dtype
    # Logits and softmax in at least float32 (JAX's preferred_element_type).
    work = dtypes.promote_types(out_dtype, np.float32)
    if k_ != n_:
        key = jnp.repeat(key, n_ // k_, axis=2)
        value = jnp.repeat(value, n_ // k_, axis=2)
    scale = 1.0 / np.sqrt(h_) if scale is None else scale
    logits = jnp.einsum("btnh,bsnh->bnts", query, key,
                        preferred_element_type=work).astype(work)
    logits = logits * jnp.asarray(scale, work)
    target = (b_, n_, t_, s_)
    if bias is not None:
        bias = jnp.asarray(bias)
        _check_bcast("bias", bias, target)
        logits = (logits + bias).astype(work)

    combined = None

    def conj(m):
        return m if combined is None else combined & m

    if mask is not None:
        mask = jnp.asarray(mask)
        if get_aval(mask).dtype != np.bool_:
            raise _shape_error(f"mask must be boolean (True = attend), got dtype "
                               f"{get_aval(mask).dtype}; use bias= for additive masks.")
        _check_bcast("mask", mask, target)
        combined = conj(mask)
    static = np.ones((t_, s_), bool)
    if is_causal:
        static &= np.tril(np.ones((t_, s_), bool))
    if local_window_size is not None:
        left, right = _window(local_window_size)
        qpos, kpos = np.arange(t_)[:, None], np.arange(s_)[None, :]
        static &= (qpos - left <= kpos) & (qpos + right >= kpos)
    if is_causal or local_window_size is not None:
        combined = conj(jnp.asarray(static))
    if query_seq_lengths is not None:
        q_ok = jnp.arange(t_)[None, :] < jnp.asarray(query_seq_lengths)[:, None]  # [B, T]
        combined = conj(q_ok[:, None, :, None])
    if key_value_seq_lengths is not None:
        kv_ok = jnp.arange(s_)[None, :] < jnp.asarray(key_value_seq_lengths)[:, None]
        combined = conj(kv_ok[:, None, None, :])
    if combined is not None:
        large_negative = np.asarray(-0.7 * np.finfo(work).max, work)
        logits = jnp.where(combined, logits, large_negative)

    probs = softmax(logits, axis=-1).astype(out_dtype)
    encoded = jnp.einsum("bnts,bsnh->btnh", probs, value)
    if query_seq_lengths is not None:
        encoded = encoded * q_ok[:, :, None, None].astype(out_dtype)
    encoded = encoded.astype(out_dtype)
    return encoded[0] if unbatched else encoded


# ---------------------------------------------------------------------------------------
# Block-scaled matrix products (JAX's MXFP8 / NVFP4 API). Jumba has no 8- or 4-bit float
# types, so operands stay in their own dtype: the arithmetic is the block-scaled product,
# without the quantisation rounding of the narrow formats.


def scaled_matmul(lhs, rhs, lhs_scales, rhs_scales, preferred_element_type=np.float32):
    r"""Block-scaled batched matrix product,
    :math:`out_{bmn} = \sum_k l_{bmk} \, ls_{bm,k/B} \, r_{bnk} \, rs_{bn,k/B}`.

    Args:
      lhs: `[B, M, K]`.
      rhs: `[B, N, K]` (contracted on its last axis, as JAX).
      lhs_scales: `[B, M, K // block]` per-block scales of `lhs`.
      rhs_scales: `[B, N, K // block]` per-block scales of `rhs`.
      preferred_element_type: the result dtype.

    Returns:
      `[B, M, N]` in `preferred_element_type`.
    """
    lhs, rhs = jnp.asarray(lhs), jnp.asarray(rhs)
    ls, rs = jnp.asarray(lhs_scales), jnp.asarray(rhs_scales)
    shapes = [get_aval(a).shape for a in (lhs, rhs, ls, rs)]
    if any(len(s) != 3 for s in shapes):
        raise ValueError(f"scaled_matmul: all operands must be rank 3 ([B, M, K], [B, N, K], "
                         f"[B, M, K/block], [B, N, K/block]); got shapes {shapes}.")
    (b, m, k), (b2, n, k2), ls_shape, rs_shape = shapes
    kb = ls_shape[2]
    if b != b2 or k != k2 or kb == 0 or k % kb or ls_shape != (b, m, kb) or \
            rs_shape != (b, n, kb):
        raise ValueError(f"scaled_matmul: inconsistent shapes {shapes}: expected [B, M, K], "
                         "[B, N, K], [B, M, K/block], [B, N, K/block] with K a multiple of "
                         "the number of blocks.")
    dt = dtypes.canonicalize_dtype(np.dtype(preferred_element_type))
    block = k // kb
    lhs = lhs.astype(dt) * jnp.repeat(ls.astype(dt), block, axis=2)
    rhs = rhs.astype(dt) * jnp.repeat(rs.astype(dt), block, axis=2)
    return dot_general(lhs, rhs, (((2,), (2,)), ((0,), (0,))), preferred_element_type=dt)


@dataclasses.dataclass(frozen=True)
class BlockScaleConfig:
    """How an operand of `scaled_dot_general` is block-scaled (as JAX's)."""

    mode: str
    block_size: int
    data_type: Any
    scale_type: Any
    global_scale: Any = None
    infer_only: bool = False


def get_scaled_dot_general_config(mode: str, global_scale=None) -> BlockScaleConfig:
    """The block-scaling configuration of a narrow format: `"mxfp8"` (blocks of 32) or
    `"nvfp4"` (blocks of 16).

    The data and scale types are named by strings (jumba has no 8- or 4-bit floats).

    Args:
      mode: `"mxfp8"` or `"nvfp4"`.
      global_scale: optional global scale (nvfp4).

    Returns:
      A `BlockScaleConfig`.
    """
    if mode == "mxfp8":
        return BlockScaleConfig(mode, 32, "float8_e4m3fn", "float8_e8m0fnu", global_scale)
    if mode == "nvfp4":
        return BlockScaleConfig(mode, 16, "float4_e2m1fn", "float8_e4m3fn",
                                1.0 if global_scale is None else global_scale)
    raise ValueError(f"get_scaled_dot_general_config: mode must be 'mxfp8' or 'nvfp4', got "
                     f"{mode!r}.")


def scaled_dot_general(lhs, rhs, dimension_numbers, preferred_element_type=np.float32,
                       configs=None, implementation=None):
    """A `dot_general` through block-scaled narrow formats (JAX's signature).

    Jumba has no narrow float types, so this computes the exact `dot_general` in
    `preferred_element_type` (what the quantised product approximates); `configs` are
    validated but do not round the operands.

    Args:
      lhs: left operand.
      rhs: right operand.
      dimension_numbers: `((lhs_contract, rhs_contract), (lhs_batch, rhs_batch))`.
      preferred_element_type: the result dtype.
      configs: optional list of `BlockScaleConfig` (lhs, rhs, gradient).
      implementation: ignored (one implementation).

    Returns:
      The product in `preferred_element_type`.
    """
    if configs is not None and not all(isinstance(c, BlockScaleConfig) for c in configs):
        raise TypeError("scaled_dot_general: configs must be BlockScaleConfig objects, e.g. "
                        "[get_scaled_dot_general_config('mxfp8')] * 3.")
    dt = dtypes.canonicalize_dtype(np.dtype(preferred_element_type))
    lhs, rhs = jnp.asarray(lhs).astype(dt), jnp.asarray(rhs).astype(dt)
    return dot_general(lhs, rhs, dimension_numbers, preferred_element_type=dt)
