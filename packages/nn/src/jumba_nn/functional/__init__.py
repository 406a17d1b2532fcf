"""Layer kernels shared by the Flax-linen and Haiku-style layers: pure functions on arrays.

Every function takes arrays (inputs, weights, keys) and options, holds no state, and is written
on jumba's public API, so it works under ``grad``, ``vmap`` and ``jit``. Layouts follow Flax:
features last, convolution kernels ``(*window, in // groups, out)``, attention tensors
``(batch..., length, heads, depth)``.
"""

from jumba_nn.functional._attention import (
    combine_masks,
    dot_product_attention,
    dot_product_attention_weights,
    make_attention_mask,
    make_causal_mask,
)
from jumba_nn.functional._linear import (
    avg_pool,
    bias_shape_for_einsum,
    canonicalize_padding,
    conv,
    conv_local,
    conv_patches,
    conv_transpose,
    dense,
    dense_general,
    einsum,
    embed_attend,
    embed_lookup,
    max_pool,
    min_pool,
    pool,
)
from jumba_nn.functional._norm import (
    batch_norm,
    dropout,
    group_norm,
    instance_norm,
    layer_norm,
    moments,
    normalize,
    rms_norm,
)
from jumba_nn.functional._recurrent import gru_cell, lstm_cell, simple_cell
