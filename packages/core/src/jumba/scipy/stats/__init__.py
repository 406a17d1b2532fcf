"""jumba.scipy.stats: probability distributions (as jax.scipy.stats)."""

from jumba.scipy.stats import (  # noqa: F401
    bernoulli,
    beta,
    cauchy,
    expon,
    gamma,
    laplace,
    logistic,
    multivariate_normal,
    norm,
    poisson,
    t,
    uniform,
)
