"""Neural-network modules for Jumba, in the style of Flax linen.

    import jumba.numpy as jnp, jumba.random as jr, jumba_nn as nn

    class MLP(nn.Module):
        @nn.compact
        def __call__(self, x, train: bool):
            x = nn.Dense(64)(x)
            x = nn.BatchNorm(use_running_average=not train)(x)
            x = nn.Dropout(0.1, deterministic=not train)(nn.relu(x))
            return nn.Dense(10)(x)

    model = MLP()
    variables = model.init(jr.key(0), x, train=False)   # {"params": ..., "batch_stats": ...}
    # training: batch statistics are state, so they must be declared mutable and come back
    logits, updates = model.apply(variables, x, train=True, rngs={"dropout": key},
                                  mutable=["batch_stats"])
    variables = {"params": variables["params"], "batch_stats": updates["batch_stats"]}
    logits = model.apply(variables, x, train=False)      # evaluation: running averages

Modules are dataclasses (``setup()`` or one ``@compact`` method); ``init``/``apply`` bind
them to plain-dict variables. Layer math lives in ``jumba_nn.functional`` (shared with the
Haiku-style ``jumba_nn.haiku``). Built on jumba's public API only.
"""

from jumba.nn import (
    celu,
    elu,
    gelu,
    glu,
    hard_sigmoid,
    hard_silu,
    hard_swish,
    hard_tanh,
    leaky_relu,
    log_sigmoid,
    log_softmax,
    logsumexp,
    one_hot,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    soft_sign,
    softmax,
    softplus,
    standardize,
    swish,
    tanh,
)
from jumba_nn import functional, initializers
from jumba_nn._src.attention import (
    MultiHeadAttention,
    MultiHeadDotProductAttention,
    SelfAttention,
)
from jumba_nn._src.combinators import Sequential
from jumba_nn._src.frozen_dict import FrozenDict, freeze, unfreeze
from jumba_nn._src.linear import (
    Conv,
    ConvLocal,
    ConvTranspose,
    Dense,
    DenseGeneral,
    Einsum,
    Embed,
)
from jumba_nn._src.misc import (
    BatchApply,
    PReLU,
    disable_named_call,
    enable_named_call,
    intercept_methods,
    override_named_call,
    unbox,
)
from jumba_nn._src.module import (
    AssignSubModuleError,
    DenyList,
    InvalidRngError,
    ModifyScopeVariableError,
    Module,
    NameInUseError,
    ScopeParamNotFoundError,
    ScopeParamShapeError,
    ScopeVariableNotFoundError,
    SetAttributeFrozenModuleError,
    UnboundModuleError,
    Variable,
    apply,
    compact,
    init,
    init_with_output,
    merge_param,
    nowrap,
)
from jumba_nn._src.normalization import (
    BatchNorm,
    Dropout,
    GroupNorm,
    InstanceNorm,
    LayerNorm,
    RMSNorm,
    SpectralNorm,
    WeightNorm,
)
from jumba_nn._src.recurrent import (
    RNN,
    Bidirectional,
    ConvLSTMCell,
    GRUCell,
    LSTMCell,
    MGUCell,
    OptimizedLSTMCell,
    RNNCellBase,
    SimpleCell,
)
from jumba_nn._src.tabulate import tabulate
from jumba_nn._src.transforms import (
    broadcast,
    checkpoint,
    cond,
    custom_vjp,
    fold_rngs,
    grad,
    jit,
    jvp,
    map_variables,
    named_call,
    remat,
    remat_scan,
    scan,
    switch,
    value_and_grad,
    vjp,
    vmap,
    while_loop,
)
from jumba_nn.functional import (
    avg_pool,
    combine_masks,
    dot_product_attention,
    dot_product_attention_weights,
    make_attention_mask,
    make_causal_mask,
    max_pool,
    min_pool,
    pool,
)
from jumba_nn.initializers import ones, ones_init, zeros, zeros_init

normalize = standardize  # Flax's older name for standardize

__version__ = "0.1.0"
