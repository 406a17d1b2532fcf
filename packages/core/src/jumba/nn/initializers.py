"""jumba.nn.initializers: parameter initializers (as jax.nn.initializers).

An initializer is a function `init(key, shape, dtype=jnp.float_) -> Array`; the builders
(`normal(stddev)`, `variance_scaling(scale, mode, distribution)`, `glorot_uniform()`, ...)
return one. `zeros` and `ones` are initializers themselves. The default dtype is the
default float type (float32, or float64 with x64 enabled), as in JAX. Draws use
`jumba.random`, whose streams follow JAX's, so the same key gives JAX's values.

    import jumba.nn.initializers as init
    w = init.glorot_normal()(key, (784, 512))
"""

from jumba._src.nn.initializers import (  # noqa: F401
    Initializer,
    constant,
    delta_orthogonal,
    glorot_normal,
    glorot_uniform,
    he_normal,
    he_uniform,
    kaiming_normal,
    kaiming_uniform,
    lecun_normal,
    lecun_uniform,
    normal,
    ones,
    orthogonal,
    truncated_normal,
    uniform,
    variance_scaling,
    xavier_normal,
    xavier_uniform,
    zeros,
)
