"""jumba_nn.haiku: Haiku-style neural networks on Jumba.

Write the forward pass as an ordinary function that builds modules; `transform` turns it
into a pair of pure functions::

    import jumba.numpy as jnp, jumba.random as jr
    import jumba_nn.haiku as hk

    def forward(x):
        return hk.Sequential([hk.Linear(32), jumba.nn.relu, hk.Linear(10)])(x)

    f = hk.without_apply_rng(hk.transform(forward))
    params = f.init(jr.PRNGKey(42), x)      # {"sequential/~/linear": {"w", "b"}, ...}
    logits = f.apply(params, x)

Parameters are named by module as Haiku names them (``linear``, ``linear_1``,
``mlp/~/linear_0``), initialised as Haiku does, and drawn from the key sequence Haiku uses,
so a seed gives Haiku's initial values. State (BatchNorm's moving averages) needs
`transform_with_state`. The layers share their kernels with the linen-style layers of
`jumba_nn` (`jumba_nn.functional`).
"""

from jumba_nn.haiku import (
    initializers,  # noqa: F401
    nets,  # noqa: F401, E402
)
from jumba_nn.haiku._attention import MultiHeadAttention  # noqa: F401
from jumba_nn.haiku._base import (  # noqa: F401
    DO_NOT_STORE,
    GetterContext,
    MutableParams,
    MutableState,
    Params,
    PRNGSequence,
    SetterContext,
    State,
    custom_creator,
    custom_getter,
    custom_setter,
    get_current_state,
    get_initial_state,
    get_parameter,
    get_params,
    get_state,
    maybe_get_rng_sequence_state,
    maybe_next_rng_key,
    next_rng_key,
    next_rng_keys,
    replace_rng_sequence_state,
    reserve_rng_keys,
    running_init,
    set_state,
    with_rng,
)
from jumba_nn.haiku._basic import (  # noqa: F401
    BatchApply,
    Bias,
    Embed,
    EmbedLookupStyle,
    Flatten,
    Linear,
    Reshape,
    Sequential,
    dropout,
    expand_apply,
    multinomial,
    one_hot,
)
from jumba_nn.haiku._conv import (  # noqa: F401
    AvgPool,
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Conv3DTranspose,
    ConvND,
    ConvNDTranspose,
    DepthwiseConv1D,
    DepthwiseConv2D,
    DepthwiseConv3D,
    MaxPool,
    SeparableDepthwiseConv2D,
    avg_pool,
    get_channel_index,
    max_pool,
)
from jumba_nn.haiku._layer_stack import layer_stack  # noqa: F401
from jumba_nn.haiku._module import (  # noqa: F401
    Deferred,
    MethodContext,
    Module,
    ModuleProtocol,
    SupportsCall,
    current_name,
    force_name,
    intercept_methods,
    name_like,
    name_scope,
    to_module,
    transparent,
)
from jumba_nn.haiku._norm import (  # noqa: F401
    BatchNorm,
    EMAParamsTree,
    ExponentialMovingAverage,
    GroupNorm,
    InstanceNorm,
    LayerNorm,
    RMSNorm,
    SNParamsTree,
    SpectralNorm,
)
from jumba_nn.haiku._recurrent import (  # noqa: F401
    GRU,
    LSTM,
    Conv1DLSTM,
    Conv2DLSTM,
    Conv3DLSTM,
    DeepRNN,
    IdentityCore,
    LSTMState,
    ResetCore,
    RNNCore,
    VanillaRNN,
    deep_rnn_with_skip_connections,
    dynamic_unroll,
    static_unroll,
)
from jumba_nn.haiku._stateful import (  # noqa: F401
    LiftWithStateUpdater,
    cond,
    eval_shape,
    fori_loop,
    grad,
    lift,
    lift_with_state,
    map,
    remat,
    scan,
    switch,
    transparent_lift,
    transparent_lift_with_state,
    value_and_grad,
    vmap,
    while_loop,
)
from jumba_nn.haiku._transform import (  # noqa: F401
    MultiTransformed,
    MultiTransformedWithState,
    Transformed,
    TransformedWithState,
    multi_transform,
    multi_transform_with_state,
    transform,
    transform_with_state,
    with_empty_state,
    without_apply_rng,
    without_state,
)
