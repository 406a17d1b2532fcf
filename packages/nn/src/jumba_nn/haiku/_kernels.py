"""The layer kernels shared with the linen-style layers (`jumba_nn.functional`)."""

from jumba_nn.functional import (  # noqa: F401
    batch_norm,
    conv,
    conv_transpose,
    dense,
    dot_product_attention,
    dropout,
    embed_lookup,
    group_norm,
    gru_cell,
    layer_norm,
    lstm_cell,
    rms_norm,
)
