"""jumba.random: JAX's PRNG, reproducing `jax.random`'s streams.

Keys are explicit values, never hidden state: make one from a seed, split it into new
keys, and pass a fresh key to every draw (reusing a key repeats its numbers)::

    import jumba.random as jr

    key = jr.PRNGKey(0)              # or jr.key(0) for a typed key
    key, sub = jr.split(key)
    x = jr.normal(sub, (3,))         # the values jax.random.normal gives for this key

The generator is JAX's default Threefry-2x32 with `jax_threefry_partitionable=True`
(JAX's default), so keys, `split`, `fold_in`, `bits`, `uniform`, `randint`, `bernoulli`,
`categorical`, `permutation` and `choice` agree with JAX bit for bit, and samplers that
pass uniform draws through log / log1p / erf_inv agree within a few ulp (XLA's float32
transcendental functions are their own approximations). Every sampler works under `jit`
and `vmap` (over keys too); `normal`, `uniform`'s bounds, `truncated_normal`, and the
gamma family (gamma, beta, dirichlet, chisquare, t) have reparameterised gradients.

Differences from JAX: `binomial` and `multinomial` draw exact variates from the key but
not JAX's stream; `orthogonal` and `multivariate_normal`'s covariance factorisation run in
NumPy (concrete inputs, outside jit); only the 'threefry2x32' implementation exists.
"""

from jumba._src.lax.prng import random_gamma_p  # noqa: F401
from jumba._src.random.distributions import (  # noqa: F401
    ball,
    bernoulli,
    categorical,
    cauchy,
    choice,
    double_sided_maxwell,
    exponential,
    generalized_normal,
    geometric,
    gumbel,
    laplace,
    logistic,
    lognormal,
    maxwell,
    normal,
    pareto,
    permutation,
    rademacher,
    randint,
    rayleigh,
    triangular,
    truncated_normal,
    uniform,
    wald,
    weibull_min,
)
from jumba._src.random.gamma import (  # noqa: F401
    beta,
    binomial,
    chisquare,
    dirichlet,
    f,
    gamma,
    loggamma,
    multinomial,
    multivariate_normal,
    orthogonal,
    poisson,
    t,
)
from jumba._src.random.prng import (  # noqa: F401
    KeyDType,
    PRNGKey,
    PRNGKeyArray,
    bits,
    clone,
    fold_in,
    key,
    key_data,
    key_impl,
    split,
    wrap_key_data,
)


def key_dtype(impl=None) -> KeyDType:
    """The dtype of typed keys (`key<fry>`) of the (only) implementation, threefry2x32."""
    from jumba._src.random.prng import _check_impl
    from jumba._src.random.prng import key_dtype as _dtype

    _check_impl(impl)
    return _dtype
