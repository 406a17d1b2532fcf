"""jumba.nn: activation functions, softmax-family reductions, attention and initializers
for neural networks (as jax.nn).

    import jumba.nn as nn
    nn.relu(x); nn.softmax(logits, axis=-1); nn.initializers.glorot_normal()(key, (3, 4))

Every function is written on jumba's primitives, so it works under grad, vmap and jit. The
derivative conventions at kinks are JAX's: relu, relu6 and hard_sigmoid have derivative 0
at their corners; leaky_relu, elu and hard_tanh have derivative 1 (of the linear branch).
"""

from jumba._src.nn.activations import (  # noqa: F401
    celu,
    elu,
    gelu,
    hard_sigmoid,
    hard_silu,
    hard_swish,
    hard_tanh,
    identity,
    leaky_relu,
    log1mexp,
    log_sigmoid,
    mish,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    soft_sign,
    softplus,
    sparse_plus,
    sparse_sigmoid,
    squareplus,
    swish,
    tanh,
)
from jumba._src.nn.attention import (  # noqa: F401
    dot_product_attention,
    get_scaled_dot_general_config,
    scaled_dot_general,
    scaled_matmul,
)
from jumba._src.nn.functions import (  # noqa: F401
    glu,
    log_softmax,
    logmeanexp,
    logsumexp,
    one_hot,
    softmax,
    standardize,
)
from jumba.nn import initializers  # noqa: F401, E402
