"""Haiku's recurrent cores (VanillaRNN, LSTM, GRU, ConvNDLSTM, DeepRNN, ResetCore) and the
unroll functions (`static_unroll` in Python, `dynamic_unroll` over `hk.scan`)."""

from __future__ import annotations

import abc
from typing import Any, NamedTuple

import numpy as np

import jumba.nn as jnn
import jumba.numpy as jnp
from jumba import tree_util
from jumba_nn.haiku import _base, _kernels, _stateful, initializers
from jumba_nn.haiku._base import get_parameter
from jumba_nn.haiku._basic import Linear
from jumba_nn.haiku._conv import ConvND
from jumba_nn.haiku._module import Module, name_scope


class RNNCore(Module, abc.ABC):
    """A recurrent core: ``output, next_state = core(inputs, prev_state)``."""

    @abc.abstractmethod
    def __call__(self, inputs, prev_state) -> tuple[Any, Any]:
        """One step."""

    @abc.abstractmethod
    def initial_state(self, batch_size: int | None):
        """The initial state (without a batch axis when `batch_size` is None)."""


def _batch(state, batch_size):
    if batch_size is None:
        return state
    return tree_util.tree_map(lambda s: jnp.broadcast_to(s, (batch_size, *s.shape)), state)


class VanillaRNN(RNNCore):
    """``h_t = relu(W_i x_t + b_i + W_h h_{t-1} [+ b_h])``; submodules ``linear``
    (input) and ``linear_1`` (hidden, with a bias if `double_bias`)."""

    def __init__(self, hidden_size: int, double_bias: bool = True, name: str | None = None):
        super().__init__(name=name)
        self.hidden_size, self.double_bias = hidden_size, double_bias

    def __call__(self, inputs, prev_state):
        input_to_hidden = Linear(self.hidden_size)
        hidden_to_hidden = Linear(self.hidden_size, with_bias=self.double_bias)
        out = jnn.relu(input_to_hidden(inputs) + hidden_to_hidden(prev_state))
        return out, out

    def initial_state(self, batch_size):
        return _batch(jnp.zeros([self.hidden_size]), batch_size)


class LSTMState(NamedTuple):
    """The LSTM state: ``hidden`` (the output) and ``cell``."""

    hidden: Any
    cell: Any


def _lstm_update(gates, cell):
    i, g, f, o = jnp.split(gates, 4, axis=-1)
    f = jnn.sigmoid(f + 1)  # forget-gate bias of 1, as Haiku (and Sonnet)
    c = f * cell + jnn.sigmoid(i) * jnp.tanh(g)
    h = jnn.sigmoid(o) * jnp.tanh(c)
    return h, LSTMState(h, c)


class LSTM(RNNCore):
    """The LSTM: one ``linear`` of ``[x, h] -> 4 * hidden`` split into gates i, g, f, o,
    with 1 added to the forget gate's pre-activation."""

    def __init__(self, hidden_size: int, name: str | None = None):
        super().__init__(name=name)
        self.hidden_size = hidden_size

    def __call__(self, inputs, prev_state: LSTMState):
        if len(inputs.shape) > 2 or not inputs.shape:
            raise ValueError(f"hk.LSTM input must be rank-1 or rank-2, got shape "
                             f"{inputs.shape}.")
        # Haiku's LSTM is one Linear over [x, h] (params "lstm/linear/{w,b}", initialised
        # as a Linear's); its weight rows split into the kernel's w_x and w_h.
        n, hs = inputs.shape[-1], self.hidden_size
        fan_in = n + hs
        with name_scope("linear"):
            w = get_parameter("w", (fan_in, 4 * hs), inputs.dtype,
                              init=initializers.TruncatedNormal(1.0 / np.sqrt(fan_in)))
            b = get_parameter("b", (4 * hs,), inputs.dtype, init=jnp.zeros)
        c, h = _kernels.lstm_cell(prev_state.cell, prev_state.hidden, inputs, w[:n], w[n:], b,
                                  gate_order="igfo", forget_bias=1.0)
        return h, LSTMState(h, c)

    def initial_state(self, batch_size):
        z = jnp.zeros([self.hidden_size])
        return _batch(LSTMState(z, z), batch_size)


class GRU(RNNCore):
    """The GRU (Cho et al. 2014): parameters ``w_i`` ``(in, 3H)``, ``w_h`` ``(H, 3H)``
    (``VarianceScaling()``) and ``b`` ``(3H,)`` (zeros); gates z, r then candidate a;
    ``h_t = (1 - z) h_{t-1} + z a``."""

    def __init__(self, hidden_size: int, w_i_init=None, w_h_init=None, b_init=None,
                 name: str | None = None):
        super().__init__(name=name)
        self.hidden_size = hidden_size
        self.w_i_init = w_i_init or initializers.VarianceScaling()
        self.w_h_init = w_h_init or initializers.VarianceScaling()
        self.b_init = b_init or jnp.zeros

    def __call__(self, inputs, state):
        if inputs.ndim not in (1, 2):
            raise ValueError(f"hk.GRU input must be rank-1 or rank-2, got {inputs.shape}.")
        h = self.hidden_size
        w_i = get_parameter("w_i", [inputs.shape[-1], 3 * h], inputs.dtype, init=self.w_i_init)
        w_h = get_parameter("w_h", [h, 3 * h], inputs.dtype, init=self.w_h_init)
        b = get_parameter("b", [3 * h], inputs.dtype, init=self.b_init)
        # Haiku packs the gates (z, r, a); the shared kernel wants (r, z, n) and
        # h' = (1 - z) n + z h, so swap the first two blocks and pass 1 - z by using the
        # complementary gate: sigmoid(-v) = 1 - sigmoid(v).
        def reorder(m, neg):
            z, r, a = m[..., :h], m[..., h:2 * h], m[..., 2 * h:]
            return jnp.concatenate([r, -z if neg else z, a], axis=-1)
        nxt, _ = _kernels.gru_cell(state, inputs, reorder(w_i, True), reorder(w_h, True),
                                   reorder(b, True), None, reset_after=False)
        return nxt, nxt

    def initial_state(self, batch_size):
        return _batch(jnp.zeros([self.hidden_size]), batch_size)


class ConvNDLSTM(RNNCore):
    """A convolutional LSTM: the gates are the sum of two ``ConvND``s,
    ``input_to_hidden(x)`` and ``hidden_to_hidden(h)``."""

    def __init__(self, num_spatial_dims: int, input_shape, output_channels: int,
                 kernel_shape, name: str | None = None):
        super().__init__(name=name)
        self.num_spatial_dims = num_spatial_dims
        self.input_shape = tuple(input_shape)
        self.output_channels, self.kernel_shape = output_channels, kernel_shape

    def __call__(self, inputs, state: LSTMState):
        def conv(name):
            return ConvND(self.num_spatial_dims, 4 * self.output_channels, self.kernel_shape,
                          name=name)
        gates = conv("input_to_hidden")(inputs) + conv("hidden_to_hidden")(state.hidden)
        return _lstm_update(gates, state.cell)

    def initial_state(self, batch_size):
        z = jnp.zeros(self.input_shape + (self.output_channels,))  # spatial shape only
        return _batch(LSTMState(z, z), batch_size)


def _conv_lstm(n):
    class C(ConvNDLSTM):
        def __init__(self, input_shape, output_channels, kernel_shape, name=None):
            super().__init__(n, input_shape, output_channels, kernel_shape, name=name)
    return C


class Conv1DLSTM(_conv_lstm(1)):
    """1-D convolutional LSTM."""


class Conv2DLSTM(_conv_lstm(2)):
    """2-D convolutional LSTM."""


class Conv3DLSTM(_conv_lstm(3)):
    """3-D convolutional LSTM."""


class IdentityCore(RNNCore):
    """Passes inputs through; its state is empty."""

    def __call__(self, inputs, state):
        return inputs, state

    def initial_state(self, batch_size):
        return ()


class ResetCore(RNNCore):
    """Wraps a core to reset its state where ``should_reset`` is True: call it with
    ``((inputs, should_reset), state)``."""

    def __init__(self, core: RNNCore, name: str | None = None):
        super().__init__(name=name)
        self._core = core

    def __call__(self, inputs, state):
        inputs, should_reset = inputs
        if tree_util.treedef_is_leaf(tree_util.tree_structure(should_reset)):
            should_reset = tree_util.tree_map(lambda _: should_reset, state)
        batch = tree_util.tree_leaves(should_reset)[0].shape[0]
        init = self._core.initial_state(batch)

        def reset(r, i, s):
            r = jnp.reshape(r, r.shape + (1,) * (s.ndim - r.ndim))
            return jnp.where(r, i, s)

        state = tree_util.tree_map(reset, should_reset, init, state)
        return self._core(inputs, state)

    def initial_state(self, batch_size):
        return self._core.initial_state(batch_size)


class _DeepRNN(RNNCore):
    def __init__(self, layers, skip_connections: bool, concat_final_output: bool = True,
                 name: str | None = None):
        super().__init__(name=name)
        self.layers = tuple(layers)
        self.skip_connections = skip_connections
        self.concat_final_output = concat_final_output
        if skip_connections and not all(isinstance(x, RNNCore) for x in self.layers):
            raise ValueError("deep_rnn_with_skip_connections needs every layer to be an "
                             "RNNCore.")

    def __call__(self, inputs, state):
        current, next_states, outputs, i = inputs, [], [], 0
        for idx, layer in enumerate(self.layers):
            if self.skip_connections and idx > 0:
                current = jnp.concatenate([inputs, current], axis=-1)
            if isinstance(layer, RNNCore):
                current, ns = layer(current, state[i])
                next_states.append(ns)
                i += 1
            else:
                current = layer(current)
            outputs.append(current)
        if self.skip_connections and self.concat_final_output:
            return jnp.concatenate(outputs, axis=-1), tuple(next_states)
        return current, tuple(next_states)

    def initial_state(self, batch_size):
        return tuple(layer.initial_state(batch_size) for layer in self.layers
                     if isinstance(layer, RNNCore))


class DeepRNN(_DeepRNN):
    """Stacks cores (and plain functions) one after the other; the state is the tuple of
    the cores' states."""

    def __init__(self, layers, name: str | None = None):
        super().__init__(layers, skip_connections=False, name=name)


def deep_rnn_with_skip_connections(layers, concat_final_output: bool = True,
                                   name: str = "deep_rnn_with_skip_connections"):
    """A DeepRNN where every core also sees the input, and (by default) the output is the
    concatenation of every core's output."""
    return _DeepRNN(layers, skip_connections=True, concat_final_output=concat_final_output,
                    name=name)


def _swap_batch_time(tree):
    return tree_util.tree_map(lambda x: jnp.swapaxes(x, 0, 1), tree)


def static_unroll(core, input_sequence, initial_state, time_major: bool = True):
    """Runs `core` over the leading (time) axis in a Python loop.

    Returns:
        ``(output_sequence, final_state)``; outputs stacked along time.
    """
    if not time_major:
        input_sequence = _swap_batch_time(input_sequence)
    steps = tree_util.tree_leaves(input_sequence)[0].shape[0]
    state, outs = initial_state, []
    for t in range(steps):
        out, state = core(tree_util.tree_map(lambda x, t=t: x[t], input_sequence), state)
        outs.append(out)
    out = tree_util.tree_map(lambda *ys: jnp.stack(ys), *outs)
    if not time_major:
        out = _swap_batch_time(out)
    return out, state


def dynamic_unroll(core, input_sequence, initial_state, time_major: bool = True,
                   reverse: bool = False, return_all_states: bool = False, unroll: int = 1):
    """Runs `core` over the leading (time) axis with `hk.scan` (one compiled loop).

    Returns:
        ``(output_sequence, final_state)`` (or all states with `return_all_states`).
    """
    def step(prev_state, inputs):
        out, nxt = core(inputs, prev_state)
        return nxt, ((out, nxt) if return_all_states else out)

    if not time_major:
        input_sequence = _swap_batch_time(input_sequence)
    if _base.inside_transform():
        final, ys = _stateful.scan(step, initial_state, input_sequence, reverse=reverse,
                                   unroll=unroll)
    else:
        import jumba.lax as lax
        final, ys = lax.scan(step, initial_state, input_sequence, reverse=reverse,
                             unroll=unroll)
    if return_all_states:
        out, states = ys
    else:
        out, states = ys, final
    if not time_major:
        out = _swap_batch_time(out)
        if return_all_states:
            states = _swap_batch_time(states)
    return out, states
