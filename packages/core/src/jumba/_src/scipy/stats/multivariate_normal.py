"""The multivariate normal distribution (as jax.scipy.stats.multivariate_normal)."""

from __future__ import annotations

import numpy as np

from jumba._src.core import get_aval
from jumba._src.lax import elementwise as ew
from jumba._src.lax.linalg import cholesky, triangular_solve
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.numpy.index_functions import diagonal
from jumba._src.scipy.stats._common import promote


def logpdf(x, mean, cov, allow_singular=None):
    """log N(x; mean, cov) over the last axis of `x` (batch axes broadcast), by a Cholesky
    factorisation of `cov`."""
    if allow_singular is not None:
        raise NotImplementedError("multivariate_normal.logpdf: allow_singular is not "
                                  "supported (as in JAX); pass a positive-definite cov")
    x, mean, cov = promote(x, mean, cov)
    n = get_aval(mean).shape[-1] if get_aval(mean).ndim else 1
    if get_aval(cov).ndim < 2:
        # A scalar or per-dimension variance (diagonal covariance).
        var = jnp.broadcast_to(cov, (n,)) if get_aval(cov).ndim == 0 else cov
        y = ew.sub(x, mean)
        quad = jnp.sum(ew.div(ew.square(y), var), axis=-1)
        logdet = jnp.sum(ew.log(var), axis=-1)
    else:
        if get_aval(cov).shape[-1] != n or get_aval(cov).shape[-2] != n:
            raise ValueError(f"multivariate_normal.logpdf: cov of shape {get_aval(cov).shape}"
                             f" does not match the mean's dimension {n}")
        L = cholesky(cov)
        y = ew.sub(x, mean)
        shape = jnp.broadcast_shapes(get_aval(y).shape, get_aval(L).shape[:-1])
        y = jnp.broadcast_to(y, shape)
        L = jnp.broadcast_to(L, (*shape[:-1], n, n))
        z = triangular_solve(L, y[..., None], left_side=True, lower=True)[..., 0]
        quad = jnp.sum(ew.square(z), axis=-1)
        logdet = ew.mul(np.asarray(2, get_aval(z).dtype),
                        jnp.sum(ew.log(diagonal(L, axis1=-2, axis2=-1)), axis=-1))
    const = np.asarray(n * np.log(2 * np.pi), get_aval(quad).dtype)
    return ew.mul(np.asarray(-0.5, get_aval(quad).dtype), ew.add(ew.add(quad, logdet), const))


def pdf(x, mean, cov):
    return ew.exp(logpdf(x, mean, cov))
