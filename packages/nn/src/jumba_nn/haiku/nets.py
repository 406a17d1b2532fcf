"""hk.nets: common networks built from the layers (the MLP)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jumba.nn as jnn
import jumba.random as jr
from jumba_nn.haiku._basic import Linear, dropout
from jumba_nn.haiku._module import Module


class MLP(Module):
    """Linear layers ``linear_0 ... linear_{n-1}`` (made in ``__init__``, so named
    ``mlp/~/linear_i``) with `activation` between them (and after the last with
    `activate_final`)."""

    def __init__(self, output_sizes: Sequence[int], w_init=None, b_init=None,
                 with_bias: bool = True, activation: Callable = jnn.relu,
                 activate_final: bool = False, name: str | None = None):
        if not with_bias and b_init is not None:
            raise ValueError("When with_bias=False b_init must not be set.")
        super().__init__(name=name)
        self.with_bias, self.w_init, self.b_init = with_bias, w_init, b_init
        self.activation, self.activate_final = activation, activate_final
        self.layers = tuple(Linear(size, w_init=w_init, b_init=b_init, with_bias=with_bias,
                                   name=f"linear_{i}") for i, size in enumerate(output_sizes))
        self.output_size = output_sizes[-1] if output_sizes else None

    def __call__(self, inputs, dropout_rate: float | None = None, rng=None):
        if dropout_rate is not None and rng is None:
            raise ValueError("hk.nets.MLP: give rng when dropout_rate is set.")
        keys = [None] * len(self.layers)
        if rng is not None:
            keys = list(jr.split(rng, len(self.layers)))
        out = inputs
        for i, layer in enumerate(self.layers):
            out = layer(out)
            if i < len(self.layers) - 1 or self.activate_final:
                if dropout_rate is not None:
                    out = dropout(keys[i], dropout_rate, out)
                out = self.activation(out)
        return out
