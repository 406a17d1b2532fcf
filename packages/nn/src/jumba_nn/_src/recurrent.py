"""Recurrent cells and the RNN / Bidirectional wrappers (Flax's layout and names).

Cells map ``(carry, x_t) -> (carry, y_t)`` for one step; ``RNN(cell)`` loops a cell over the
time axis with ``nn.scan`` (parameters shared across steps).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jumba.nn as jnn
import jumba.numpy as jnp
import jumba.random as jr
from jumba.nn import initializers
from jumba.tree_util import tree_map
from jumba_nn import functional as F
from jumba_nn._src.linear import Conv, default_kernel_init, promote_dtype
from jumba_nn._src.module import Module, compact, nowrap
from jumba_nn._src.transforms import scan

Dtype = Any


class _DenseParams(Module):
    """Declares a Dense layer's parameters without applying it (so gates can be packed)."""

    features: int
    use_bias: bool
    kernel_init: Callable
    bias_init: Callable
    param_dtype: Dtype = jnp.float32

    @compact
    def __call__(self, in_features: int):
        kernel = self.param("kernel", self.kernel_init, (in_features, self.features),
                            self.param_dtype)
        bias = (self.param("bias", self.bias_init, (self.features,), self.param_dtype)
                if self.use_bias else None)
        return kernel, bias




class RNNCellBase(Module):
    """Base class of recurrent cells: ``__call__(carry, x)`` and ``initialize_carry``."""

    @nowrap
    def initialize_carry(self, rng, input_shape: tuple[int, ...]):
        """The initial carry for inputs of shape ``(*batch, features)``."""
        raise NotImplementedError

    @property
    def num_feature_axes(self) -> int:
        return 1


class LSTMCell(RNNCellBase):
    """Long short-term memory cell (Hochreiter & Schmidhuber, 1997).

    Parameters: ``ii``, ``if``, ``ig``, ``io`` (input kernels ``(in, features)``, no bias) and
    ``hi``, ``hf``, ``hg``, ``ho`` (recurrent kernels ``(features, features)`` with bias).
    ``c' = σ(f) c + σ(i) tanh(g)``, ``h' = σ(o) tanh(c')``. Carry ``(c, h)``.

    Attributes:
      features: hidden size.
      gate_fn, activation_fn: sigmoid and tanh by default.
      kernel_init: lecun_normal; recurrent_kernel_init: orthogonal; bias_init: zeros.
      carry_init: initializer of the carry (zeros).
    """

    features: int
    gate_fn: Callable = jnn.sigmoid
    activation_fn: Callable = jnn.tanh
    kernel_init: Callable = default_kernel_init
    recurrent_kernel_init: Callable = initializers.orthogonal()
    bias_init: Callable = initializers.zeros
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32
    carry_init: Callable = initializers.zeros

    @compact
    def __call__(self, carry, inputs):
        c, h = carry
        w_x, w_h, b = [], [], []
        for g in "ifgo":
            w_x.append(_DenseParams(self.features, False, self.kernel_init, self.bias_init,
                                    self.param_dtype, name="i" + g)(inputs.shape[-1])[0])
            k, bias = _DenseParams(self.features, True, self.recurrent_kernel_init,
                                   self.bias_init, self.param_dtype, name="h" + g)(self.features)
            w_h.append(k)
            b.append(bias)
        w_x, w_h, b = (jnp.concatenate(w, axis=-1) for w in (w_x, w_h, b))
        inputs, h, c, w_x, w_h, b = promote_dtype(inputs, h, c, w_x, w_h, b, dtype=self.dtype)
        new_c, new_h = F.lstm_cell(c, h, inputs, w_x, w_h, b, gate_order="ifgo",
                                   gate_fn=self.gate_fn, activation_fn=self.activation_fn)
        return (new_c, new_h), new_h

    @nowrap
    def initialize_carry(self, rng, input_shape):
        shape = tuple(input_shape[:-1]) + (self.features,)
        k1, k2 = jr.split(rng)
        return (self.carry_init(k1, shape, self.param_dtype),
                self.carry_init(k2, shape, self.param_dtype))


class OptimizedLSTMCell(LSTMCell):
    """LSTMCell computing all gates in one matmul (the same parameters and results)."""


class GRUCell(RNNCellBase):
    """Gated recurrent unit (Cho et al., 2014), Flax's variant (reset applied after the
    recurrent matmul).

    Parameters: ``ir``, ``iz``, ``in`` (input kernels with bias), ``hr``, ``hz`` (recurrent,
    no bias), ``hn`` (recurrent, with bias). ``h' = (1 - z) n + z h``.
    """

    features: int
    gate_fn: Callable = jnn.sigmoid
    activation_fn: Callable = jnn.tanh
    kernel_init: Callable = default_kernel_init
    recurrent_kernel_init: Callable = initializers.orthogonal()
    bias_init: Callable = initializers.zeros
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32
    carry_init: Callable = initializers.zeros

    @compact
    def __call__(self, carry, inputs):
        h = carry
        w_x, b_x, w_h = [], [], []
        for g in "rzn":
            k, b = _DenseParams(self.features, True, self.kernel_init, self.bias_init,
                                self.param_dtype, name="i" + g)(inputs.shape[-1])
            w_x.append(k)
            b_x.append(b)
            k, b_hn = _DenseParams(self.features, g == "n", self.recurrent_kernel_init,
                                   self.bias_init, self.param_dtype, name="h" + g)(self.features)
            w_h.append(k)
        zeros = jnp.zeros((2 * self.features,), b_hn.dtype)
        b_h = jnp.concatenate([zeros, b_hn])
        w_x, b_x, w_h = (jnp.concatenate(w, axis=-1) for w in (w_x, b_x, w_h))
        inputs, h, w_x, b_x, w_h, b_h = promote_dtype(inputs, h, w_x, b_x, w_h, b_h,
                                                      dtype=self.dtype)
        return F.gru_cell(h, inputs, w_x, w_h, b_x, b_h, reset_after=True,
                          gate_fn=self.gate_fn, activation_fn=self.activation_fn)

    @nowrap
    def initialize_carry(self, rng, input_shape):
        return self.carry_init(rng, tuple(input_shape[:-1]) + (self.features,),
                               self.param_dtype)


class MGUCell(RNNCellBase):
    """Minimal gated unit (Zhou et al., 2016): one forget gate ``f``.

    Parameters ``if``, ``in`` (input, with bias), ``hf`` (recurrent, no bias), ``hn``
    (recurrent, bias when ``reset_gate``). ``n = act(x W_n + f (h U_n + b))``,
    ``h' = (1 - f) n + f h``.
    """

    features: int
    gate_fn: Callable = jnn.sigmoid
    activation_fn: Callable = jnn.tanh
    kernel_init: Callable = default_kernel_init
    recurrent_kernel_init: Callable = initializers.orthogonal()
    forget_bias_init: Callable = initializers.ones
    activation_bias_init: Callable = initializers.zeros
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32
    carry_init: Callable = initializers.zeros
    reset_gate: bool = True

    @compact
    def __call__(self, carry, inputs):
        h = carry
        nin = inputs.shape[-1]
        wf, bf = _DenseParams(self.features, True, self.kernel_init, self.forget_bias_init,
                              self.param_dtype, name="if")(nin)
        uf, _ = _DenseParams(self.features, False, self.recurrent_kernel_init,
                             self.activation_bias_init, self.param_dtype, name="hf")(self.features)
        un, bhn = _DenseParams(self.features, self.reset_gate, self.recurrent_kernel_init,
                               self.activation_bias_init, self.param_dtype,
                               name="hn")(self.features)
        wn, bn = _DenseParams(self.features, True, self.kernel_init, self.activation_bias_init,
                              self.param_dtype, name="in")(nin)
        f = self.gate_fn(F.dense(inputs, wf, bf) + F.dense(h, uf))
        x = F.dense(h, un, bhn)
        if self.reset_gate:
            x = x * f
        n = self.activation_fn(F.dense(inputs, wn, bn) + x)
        new_h = (1.0 - f) * n + f * h
        return new_h, new_h

    @nowrap
    def initialize_carry(self, rng, input_shape):
        return self.carry_init(rng, tuple(input_shape[:-1]) + (self.features,),
                               self.param_dtype)


class SimpleCell(RNNCellBase):
    """Elman cell ``h' = act(x W + b + h U)``; parameters ``i`` (with bias) and ``h``.

    Attributes:
      residual: add the previous carry to the output.
    """

    features: int
    activation_fn: Callable = jnn.tanh
    kernel_init: Callable = default_kernel_init
    recurrent_kernel_init: Callable = initializers.orthogonal()
    bias_init: Callable = initializers.zeros
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32
    carry_init: Callable = initializers.zeros
    residual: bool = False

    @compact
    def __call__(self, carry, inputs):
        w_h, _ = _DenseParams(self.features, False, self.recurrent_kernel_init, self.bias_init,
                              self.param_dtype, name="h")(self.features)
        w_x, b = _DenseParams(self.features, True, self.kernel_init, self.bias_init,
                              self.param_dtype, name="i")(inputs.shape[-1])
        inputs, carry, w_x, w_h, b = promote_dtype(inputs, carry, w_x, w_h, b,
                                                   dtype=self.dtype)
        return F.simple_cell(carry, inputs, w_x, w_h, b, activation_fn=self.activation_fn,
                             residual=self.residual)

    @nowrap
    def initialize_carry(self, rng, input_shape):
        return self.carry_init(rng, tuple(input_shape[:-1]) + (self.features,),
                               self.param_dtype)


class ConvLSTMCell(RNNCellBase):
    """Convolutional LSTM (Shi et al., 2015): gates from convolutions ``ih`` and ``hh``.

    Gate order i, g, f, o with a forget bias of 1. Carry ``(c, h)`` of shape
    ``(*batch, *spatial, features)``.
    """

    features: int
    kernel_size: Sequence[int]
    strides: Sequence[int] | None = None
    padding: str | Sequence[tuple[int, int]] = "SAME"
    use_bias: bool = True
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32

    @compact
    def __call__(self, carry, inputs):
        c, h = carry

        def conv(name):
            return Conv(4 * self.features, self.kernel_size, self.strides or 1, self.padding,
                        use_bias=self.use_bias, dtype=self.dtype, param_dtype=self.param_dtype,
                        name=name)

        gates = conv("ih")(inputs) + conv("hh")(h)
        i, g, f, o = jnp.split(gates, 4, axis=-1)
        new_c = jnn.sigmoid(f + 1.0) * c + jnn.sigmoid(i) * jnp.tanh(g)
        new_h = jnn.sigmoid(o) * jnp.tanh(new_c)
        return (new_c, new_h), new_h

    @nowrap
    def initialize_carry(self, rng, input_shape):
        shape = tuple(input_shape[:-1]) + (self.features,)
        return (jnp.zeros(shape, self.param_dtype), jnp.zeros(shape, self.param_dtype))

    @property
    def num_feature_axes(self) -> int:
        return len(self.kernel_size) + 1


def _flip_sequences(x, seq_lengths, time_axis: int):
    """Reverses each sequence's first ``seq_lengths`` steps (padding stays at the end)."""
    t = x.shape[time_axis]
    if seq_lengths is None:
        return jnp.flip(x, axis=time_axis)
    idx = jnp.arange(t)
    lengths = jnp.asarray(seq_lengths)[..., None]           # (*batch, 1)
    src = jnp.where(idx < lengths, lengths - 1 - idx, idx)  # (*batch, T)
    src = jnp.reshape(src, src.shape + (1,) * (x.ndim - time_axis - 1))
    return jnp.take_along_axis(x, src, axis=time_axis)


class RNN(Module):
    """Runs a cell over the time axis (``nn.scan`` with the cell's parameters shared).

    Inputs ``(*batch, time, features)`` (``time_major``: ``(time, *batch, features)``);
    returns the outputs ``(*batch, time, out)`` or ``(carry, outputs)`` with
    ``return_carry``.

    Attributes:
      cell: an ``RNNCellBase`` instance.
      time_major, return_carry, reverse, keep_order, unroll: as in Flax.
      variable_broadcast, variable_carry, variable_axes, split_rngs: passed to ``nn.scan``.

    Call arguments:
      initial_carry: default ``cell.initialize_carry(init_key or key(0), input_shape)``.
      seq_lengths: ``(*batch,)`` valid lengths; the carry stops updating after them.
    """

    cell: RNNCellBase
    time_major: bool = False
    return_carry: bool = False
    reverse: bool = False
    keep_order: bool = False
    unroll: int = 1
    variable_axes: Any = None
    variable_broadcast: Any = "params"
    variable_carry: Any = False
    split_rngs: Any = None

    def __call__(self, inputs, *, initial_carry=None, init_key=None, seq_lengths=None,
                 return_carry: bool | None = None, time_major: bool | None = None,
                 reverse: bool | None = None, keep_order: bool | None = None):
        return_carry = self.return_carry if return_carry is None else return_carry
        time_major = self.time_major if time_major is None else time_major
        reverse = self.reverse if reverse is None else reverse
        keep_order = self.keep_order if keep_order is None else keep_order
        nfa = self.cell.num_feature_axes
        time_axis = 0 if time_major else inputs.ndim - (nfa + 1)
        if initial_carry is None:
            key = init_key if init_key is not None else jr.key(0)
            in_shape = inputs.shape[:time_axis] + inputs.shape[time_axis + 1:]
            initial_carry = self.cell.initialize_carry(key, in_shape)
        if reverse:
            inputs = _flip_sequences(inputs, seq_lengths, time_axis)
        slice_carry = seq_lengths is not None and return_carry

        def body(cell, carry, x):
            new_carry, y = cell(carry, x)
            # With seq_lengths, Flax keeps every step's carry and picks each sequence's last
            # valid one afterwards; outputs past a sequence's end are computed as usual.
            return new_carry, ((new_carry, y) if slice_carry else y)

        scan_fn = scan(body, variable_axes=self.variable_axes or {},
                       variable_broadcast=self.variable_broadcast,
                       variable_carry=self.variable_carry,
                       split_rngs=self.split_rngs or {"params": False},
                       in_axes=time_axis, out_axes=0, unroll=self.unroll)
        carry, outputs = scan_fn(self.cell, initial_carry, inputs)
        if slice_carry:
            carries, outputs = outputs
            last = jnp.asarray(seq_lengths) - 1                       # (*batch,)

            def select(c):                                           # c: (time, *batch, ...)
                c = jnp.moveaxis(c, 0, len(last.shape))               # (*batch, time, ...)
                idx = jnp.reshape(last, last.shape + (1,) * (c.ndim - last.ndim))
                return jnp.squeeze(jnp.take_along_axis(c, idx, axis=last.ndim), last.ndim)

            carry = tree_map(select, carries)
        outputs = tree_map(lambda a: jnp.moveaxis(a, 0, time_axis), outputs)
        if reverse and keep_order:
            outputs = _flip_sequences(outputs, seq_lengths, time_axis)
        return (carry, outputs) if return_carry else outputs


def _concatenate(a, b):
    return jnp.concatenate([a, b], axis=-1)


class Bidirectional(Module):
    """Runs ``forward_rnn`` and ``backward_rnn`` (reversed) and merges their outputs.

    Attributes:
      forward_rnn, backward_rnn: ``RNN`` modules.
      merge_fn: combines the outputs (default: concatenate features).
      time_major, return_carry: as in ``RNN``.
    """

    forward_rnn: RNN
    backward_rnn: RNN
    merge_fn: Callable = _concatenate
    time_major: bool = False
    return_carry: bool = False

    def __call__(self, inputs, *, initial_carry=None, init_key=None, seq_lengths=None,
                 return_carry: bool | None = None, time_major: bool | None = None,
                 reverse=None, keep_order=None):
        return_carry = self.return_carry if return_carry is None else return_carry
        time_major = self.time_major if time_major is None else time_major
        if initial_carry is not None:
            fwd_carry, bwd_carry = initial_carry
        else:
            fwd_carry = bwd_carry = None
        k1 = k2 = None
        if init_key is not None:
            k1, k2 = jr.split(init_key)
        cf, of = self.forward_rnn(inputs, initial_carry=fwd_carry, init_key=k1,
                                  seq_lengths=seq_lengths, return_carry=True,
                                  time_major=time_major, reverse=False)
        cb, ob = self.backward_rnn(inputs, initial_carry=bwd_carry, init_key=k2,
                                   seq_lengths=seq_lengths, return_carry=True,
                                   time_major=time_major, reverse=True, keep_order=True)
        out = self.merge_fn(of, ob)
        return ((cf, cb), out) if return_carry else out
