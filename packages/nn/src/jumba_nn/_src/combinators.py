"""Sequential composition of modules and functions."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from jumba_nn._src.module import Module


class Sequential(Module):
    """Applies ``layers`` in order; a tuple output is unpacked into the next call's arguments
    and a dict into its keyword arguments.

    Inside a ``@compact`` method the layers are children of the enclosing module
    (``Dense_0``, ...); a top-level ``Sequential`` names them ``layers_0``, ``layers_1``, ...

    Attributes:
      layers: modules or plain functions (e.g. ``nn.relu``).
    """

    layers: Sequence[Callable]

    def __call__(self, *args, **kwargs):
        if not self.layers:
            raise ValueError(f"Empty Sequential module {self.name}: give it at least one layer.")
        outputs = self.layers[0](*args, **kwargs)
        for layer in self.layers[1:]:
            if isinstance(outputs, tuple):
                outputs = layer(*outputs)
            elif isinstance(outputs, dict):
                outputs = layer(**outputs)
            else:
                outputs = layer(outputs)
        return outputs
