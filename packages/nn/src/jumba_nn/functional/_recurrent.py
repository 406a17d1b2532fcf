"""Recurrent cell kernels: one step of LSTM, GRU and a simple (Elman) cell.

Weights for all gates are packed along the last axis, in the order named by each function, so
Flax-style (one Dense per gate) and Haiku-style (one Linear for all gates) layers both call them.
"""

from __future__ import annotations

from collections.abc import Callable

import jumba.lax as lax
import jumba.nn as jnn
import jumba.numpy as jnp


def _affine(x, w, b=None):
    y = lax.dot_general(x, w, (((x.ndim - 1,), (0,)), ((), ())))
    return y if b is None else y + b


def lstm_cell(c, h, x, w_x, w_h, b=None, *, gate_order: str = "ifgo",
              forget_bias: float = 0.0, gate_fn: Callable = jnn.sigmoid,
              activation_fn: Callable = jnn.tanh):
    """One LSTM step.

    ``z = x @ w_x + h @ w_h + b`` is split into four gates in ``gate_order`` (letters ``i``
    input, ``f`` forget, ``g`` candidate, ``o`` output); then
    ``c' = σ(f + forget_bias) c + σ(i) tanh(g)`` and ``h' = σ(o) tanh(c')``.

    Args:
      c, h: cell and hidden state ``(..., H)``.
      x: inputs ``(..., in)``.
      w_x: ``(in, 4H)``; w_h: ``(H, 4H)``; b: optional ``(4H,)``.
      gate_order: order of the gate blocks in the packed weights (Flax "ifgo", Haiku "igfo").
      forget_bias: added to the forget gate's pre-activation (Haiku uses 1).
      gate_fn, activation_fn: the gate nonlinearity and the cell/candidate activation.

    Returns:
      ``(new_c, new_h)``.
    """
    if sorted(gate_order) != sorted("ifgo"):
        raise ValueError(f"gate_order {gate_order!r} must be a permutation of 'ifgo'.")
    z = _affine(x, w_x) + _affine(h, w_h, b)
    gates = dict(zip(gate_order, jnp.split(z, 4, axis=-1)))
    new_c = (gate_fn(gates["f"] + forget_bias) * c
             + gate_fn(gates["i"]) * activation_fn(gates["g"]))
    new_h = gate_fn(gates["o"]) * activation_fn(new_c)
    return new_c, new_h


def gru_cell(h, x, w_x, w_h, b_x=None, b_h=None, *, reset_after: bool = True,
             gate_fn: Callable = jnn.sigmoid, activation_fn: Callable = jnn.tanh):
    """One GRU step, gates packed in the order reset ``r``, update ``z``, candidate ``n``.

    ``r = σ(x W_r + h U_r + b_r)``, ``z = σ(x W_z + h U_z + b_z)``;
    ``reset_after=True`` (Flax, cuDNN): ``n = tanh(x W_n + b_n + r (h U_n + b_hn))``;
    ``reset_after=False`` (Cho et al., Haiku): ``n = tanh(x W_n + b_n + (r h) U_n)``;
    ``h' = (1 - z) n + z h``.

    Args:
      h: hidden state ``(..., H)``; x: inputs ``(..., in)``.
      w_x: ``(in, 3H)``; w_h: ``(H, 3H)``.
      b_x: optional ``(3H,)`` added to the input projections; b_h: optional ``(3H,)`` added to
        the recurrent projections (with ``reset_after``; Flax only uses its last block).
      reset_after: where the reset gate applies.
      gate_fn, activation_fn: nonlinearities.

    Returns:
      ``(new_h, new_h)``.
    """
    hx = h.shape[-1]
    zx = _affine(x, w_x, b_x)
    xr, xz, xn = zx[..., :hx], zx[..., hx:2 * hx], zx[..., 2 * hx:]
    hh = _affine(h, w_h[:, :2 * hx], None if b_h is None else b_h[:2 * hx])
    r = gate_fn(xr + hh[..., :hx])
    z = gate_fn(xz + hh[..., hx:])
    if reset_after:
        hn = _affine(h, w_h[:, 2 * hx:], None if b_h is None else b_h[2 * hx:])
        n = activation_fn(xn + r * hn)
    else:
        n = activation_fn(xn + _affine(r * h, w_h[:, 2 * hx:]))
    new_h = (1.0 - z) * n + z * h
    return new_h, new_h


def simple_cell(h, x, w_x, w_h, b=None, *, activation_fn: Callable = jnn.tanh,
                residual: bool = False):
    """One Elman step ``h' = act(x W + h U + b)`` (``+ h`` when residual).

    Args:
      h: ``(..., H)``; x: ``(..., in)``; w_x: ``(in, H)``; w_h: ``(H, H)``; b: ``(H,)``.

    Returns:
      ``(new_h, new_h)``.
    """
    new_h = activation_fn(_affine(x, w_x, b) + _affine(h, w_h))
    if residual:
        new_h = new_h + h
    return new_h, new_h
