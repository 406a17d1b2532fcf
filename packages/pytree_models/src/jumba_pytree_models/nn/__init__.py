"""Layers as modules, in the manner of ``equinox.nn``.

Each layer acts on one unbatched example (channel-first ``(C, *spatial)`` for
convolutions and pooling) and takes a keyword-only ``key``; map over a batch with
``jax.vmap``/``eqx.filter_vmap``. Stateful layers (BatchNorm, SpectralNorm) are called as
``y, state = layer(x, state)`` with a :class:`State` from :func:`make_with_state`.
"""

from jumba_pytree_models._src.nn.basic import (
    MLP,
    Dropout,
    Embedding,
    Identity,
    Lambda,
    Linear,
    PReLU,
    Sequential,
    Shared,
)
from jumba_pytree_models._src.nn.conv import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AdaptivePool,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    Conv,
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
    Pool,
)
from jumba_pytree_models._src.nn.norm import (
    BatchNorm,
    GroupNorm,
    LayerNorm,
    RMSNorm,
    SpectralNorm,
    WeightNorm,
)
from jumba_pytree_models._src.nn.sequence import (
    GRUCell,
    LSTMCell,
    MultiheadAttention,
    RotaryPositionalEmbedding,
)
from jumba_pytree_models._src.nn.state import (
    State,
    StatefulLayer,
    StateIndex,
    delete_init_state,
    inference_mode,
    make_with_state,
)

__all__ = [
    "MLP", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "AdaptivePool",
    "AvgPool1d", "AvgPool2d", "AvgPool3d", "BatchNorm", "Conv", "Conv1d", "Conv2d", "Conv3d",
    "ConvTranspose", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Dropout",
    "Embedding", "GRUCell", "GroupNorm", "Identity", "LSTMCell", "Lambda", "LayerNorm",
    "Linear", "MaxPool1d", "MaxPool2d", "MaxPool3d", "MultiheadAttention", "PReLU", "Pool",
    "RMSNorm", "RotaryPositionalEmbedding", "Sequential", "Shared", "SpectralNorm", "State",
    "StateIndex", "StatefulLayer", "WeightNorm", "delete_init_state", "inference_mode",
    "make_with_state",
]
