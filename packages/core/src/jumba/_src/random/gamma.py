"""Samplers built on gamma draws (gamma, loggamma, beta, dirichlet, chisquare, f, t),
the count samplers (poisson, binomial, multinomial) and the linear-algebra ones
(multivariate_normal, orthogonal).

Gamma draws come from the `random_gamma` primitive (JAX's Marsaglia-Tsang sampler with
JAX's per-element keys), whose JVP differentiates the sample with respect to alpha
implicitly, so gamma, beta, dirichlet, chisquare and t have reparameterised gradients.
"""

from __future__ import annotations

import numpy as np

from jumba._src import dtypes
from jumba._src.core import get_aval
from jumba._src.lax import elementwise as ew
from jumba._src.lax import structural as st
from jumba._src.lax.ad_util import stop_gradient
from jumba._src.lax.prng import random_binomial_p, random_gamma_p, random_poisson_p
from jumba._src.lax.reductions import reduce_max, reduce_sum
from jumba._src.random.distributions import (
    _normal,
    as_dtype,
    check_shape,
    const,
    param_shape,
    prepare,
    shape_of,
)
from jumba._src.random.prng import canonicalize_shape, check_prng_key, split_n, unsafe_split2


def _gamma_from_data(data, a, dtype, log_space=False):
    """Gamma(a) draws (a already of the output shape and dtype) with one key's data."""
    return random_gamma_p.bind(data, as_dtype(a, dtype), log_space=log_space)


def _gamma_sampler(name, log_space):
    def sampler(key, a, shape=None, dtype=None):
        data, shape, dtype = prepare(name, key, shape, dtype)
        shape = param_shape(shape, a)
        check_shape(name, shape, shape_of(a))
        a = st.broadcast_to(as_dtype(a, dtype), shape)
        return _gamma_from_data(data, a, dtype, log_space)

    sampler.__name__ = name
    return sampler


gamma = _gamma_sampler("gamma", False)
gamma.__doc__ = """Gamma(a, 1) samples (as `jax.random.gamma`), differentiable in `a`.

    Args:
      key: a single PRNG key.
      a: the shape parameter (> 0; broadcastable to `shape`).
      shape: the output shape (default `a`'s shape).
      dtype: a float dtype.

    Returns:
      Positive samples of `shape`.
    """
loggamma = _gamma_sampler("loggamma", True)
loggamma.__doc__ = """log of Gamma(a, 1) samples, accurate for small `a` whose samples
    underflow (as `jax.random.loggamma`)."""


def beta(key, a, b, shape=None, dtype=None):
    """Beta(a, b) samples, from two log-gamma draws (as `jax.random.beta`);
    differentiable in `a` and `b`."""
    data, shape, dtype = prepare("beta", key, shape, dtype)
    shape = param_shape(shape, a, b)
    check_shape("beta", shape, shape_of(a), shape_of(b))
    ka, kb = unsafe_split2(data)
    a = st.broadcast_to(as_dtype(a, dtype), shape)
    b = st.broadcast_to(as_dtype(b, dtype), shape)
    log_ga = _gamma_from_data(ka, a, dtype, True)
    log_gb = _gamma_from_data(kb, b, dtype, True)
    # ga / (ga + gb) without underflow: scale both by the larger.
    log_max = ew.max(log_ga, log_gb)
    ga = ew.exp(ew.sub(log_ga, log_max))
    gb = ew.exp(ew.sub(log_gb, log_max))
    return ew.div(ga, ew.add(ga, gb))


def dirichlet(key, alpha, shape=None, dtype=None):
    """Dirichlet(alpha) samples on the simplex of alpha's last axis (as
    `jax.random.dirichlet`: normalised gamma draws); differentiable in `alpha`."""
    data, shape, dtype = prepare("dirichlet", key, shape, dtype)
    alpha_shape = shape_of(alpha)
    if not alpha_shape:
        raise ValueError(f"jumba.random.dirichlet: alpha must have at least one axis (the "
                         f"categories), got shape {alpha_shape}")
    if shape is None:
        shape = alpha_shape[:-1]
    check_shape("dirichlet", shape, alpha_shape[:-1])
    full = tuple(shape) + alpha_shape[-1:]
    log_g = _gamma_from_data(data, st.broadcast_to(as_dtype(alpha, dtype), full), dtype, True)
    axis = len(full) - 1
    m = stop_gradient(reduce_max(log_g, (axis,)))
    e = ew.exp(ew.sub(log_g, st.expand_dims(m, (axis,))))
    return ew.div(e, st.expand_dims(reduce_sum(e, (axis,)), (axis,)))


def chisquare(key, df, shape=None, dtype=None):
    """Chi-square samples with `df` degrees of freedom: 2 Gamma(df / 2)."""
    data, shape, dtype = prepare("chisquare", key, shape, dtype)
    shape = param_shape(shape, df)
    check_shape("chisquare", shape, shape_of(df))
    return _chisquare(data, df, shape, dtype)


def _chisquare(data, df, shape, dtype):
    half = ew.div(as_dtype(df, dtype), const(2, dtype))
    log_g = _gamma_from_data(data, st.broadcast_to(half, shape), dtype, True)
    return ew.exp(ew.add(log_g, const(np.log(2), dtype)))


def f(key, dfnum, dfden, shape=None, dtype=None):
    """F-distribution samples: (chi2(dfnum) / dfnum) / (chi2(dfden) / dfden)."""
    data, shape, dtype = prepare("f", key, shape, dtype)
    shape = param_shape(shape, dfnum, dfden)
    check_shape("f", shape, shape_of(dfnum), shape_of(dfden))
    k_den, k_num = unsafe_split2(data)
    num = ew.div(_chisquare(k_num, dfnum, shape, dtype), as_dtype(dfnum, dtype))
    den = ew.div(_chisquare(k_den, dfden, shape, dtype), as_dtype(dfden, dtype))
    return ew.div(num, den)


def t(key, df, shape=(), dtype=None):
    """Student's t samples with `df` degrees of freedom: normal * sqrt((df/2) / Gamma(df/2))
    (as `jax.random.t`)."""
    data, shape, dtype = prepare("t", key, shape, dtype)
    shape = param_shape(shape, df)
    check_shape("t", shape, shape_of(df))
    k_n, k_g = unsafe_split2(data)
    n = _normal(k_n, shape, dtype)
    half = ew.div(as_dtype(df, dtype), const(2, dtype))
    g = _gamma_from_data(k_g, st.broadcast_to(half, shape), dtype)
    return ew.mul(n, ew.sqrt(ew.div(half, g)))


# ---------------------------------------------------------------------------------------
# Counts


def poisson(key, lam, shape=None, dtype=None):
    """Poisson(lam) counts (as `jax.random.poisson`: Knuth's method below lam = 10,
    transformed rejection above)."""
    data, _ = check_prng_key("poisson", key)
    dtype = dtypes.canonicalize_dtype(np.dtype(dtypes.default_int_dtype() if dtype is None
                                               else dtype))
    if shape is not None:
        shape = canonicalize_shape("poisson", shape)
    shape = param_shape(shape, lam)
    check_shape("poisson", shape, shape_of(lam))
    fdt = dtypes.default_float_dtype()
    if not isinstance(lam, (int, float)) and get_aval(lam).dtype.kind == "f":
        fdt = get_aval(lam).dtype
    lam = stop_gradient(st.broadcast_to(as_dtype(lam, fdt), shape))
    return random_poisson_p.bind(data, lam, dtype=dtype)


def binomial(key, n, p, shape=None, dtype=None):
    """Binomial(n, p) counts, as floats of `dtype` (as `jax.random.binomial`'s output type).

    The draws are exact binomial variates and a deterministic function of the key, but
    not JAX's stream (JAX uses its own inversion / BTRS samplers).
    """
    data, shape, dtype = prepare("binomial", key, shape, dtype)
    shape = param_shape(shape, n, p)
    check_shape("binomial", shape, shape_of(n), shape_of(p))
    n = stop_gradient(st.broadcast_to(as_dtype(n, dtype), shape))
    p = stop_gradient(st.broadcast_to(as_dtype(p, dtype), shape))
    return random_binomial_p.bind(data, n, p, dtype=dtype)


def multinomial(key, n, p, *, shape=None, dtype=None, unroll=1):
    """Multinomial counts of `n` trials over p's last axis (as `jax.random.multinomial`:
    one conditional binomial draw per category)."""
    data, _ = check_prng_key("multinomial", key)
    dtype = np.dtype(dtypes.default_float_dtype() if dtype is None else dtype)
    p_shape = shape_of(p)
    if not p_shape:
        raise ValueError("jumba.random.multinomial: p must have at least one axis")
    fdt = dtypes.default_float_dtype()
    p = as_dtype(p, fdt)
    if shape is None:
        shape = np.broadcast_shapes(shape_of(n), p_shape[:-1])
    shape = canonicalize_shape("multinomial", shape)
    check_shape("multinomial", shape, shape_of(n), p_shape[:-1])
    k = p_shape[-1]
    p = st.broadcast_to(p, tuple(shape) + (k,))
    nd = len(shape)
    ps = [st.reshape(st.slice(p, (0,) * nd + (i,), tuple(shape) + (i + 1,)), shape)
          for i in range(k)]
    remaining = [None] * k
    acc = st.broadcast_to(const(0, fdt), tuple(shape))
    for i in range(k - 1, -1, -1):
        acc = ew.add(acc, ps[i])
        remaining[i] = acc
    remainder = st.broadcast_to(as_dtype(n, fdt), tuple(shape))
    keys = split_n(data, k)
    counts = []
    zero = const(0, fdt)
    for i in range(k):
        safe = ew.select_n(ew.eq(remaining[i], zero), remaining[i], const(1, fdt))
        ratio = ew.min(ew.max(ew.div(ps[i], safe), zero), const(1, fdt))
        c = random_binomial_p.bind(keys[i], stop_gradient(remainder), stop_gradient(ratio),
                                   dtype=fdt)
        remainder = ew.sub(remainder, c)
        counts.append(st.expand_dims(c, (len(shape),)))
    return st.convert_element_type(st.concatenate(counts, len(shape)), dtype)


# ---------------------------------------------------------------------------------------
# Linear algebra


def multivariate_normal(key, mean, cov, shape=None, dtype=None, method: str = "cholesky"):
    """Multivariate normal samples (as `jax.random.multivariate_normal`): mean + factor @ z
    with factor a Cholesky (or eigh/svd) factor of `cov`.

    Both `mean` and `cov` may be traced and are differentiable (the factorisation is
    jumba.numpy.linalg's).
    """
    from jumba._src.numpy import linalg
    from jumba._src.numpy.lax_numpy import asarray, einsum

    data, shape, dtype = prepare("multivariate_normal", key, shape, dtype)
    if method not in ("cholesky", "eigh", "svd"):
        raise ValueError(f"method must be one of {{'svd', 'eigh', 'cholesky'}}, got {method!r}")
    mean = as_dtype(asarray(mean), dtype)
    m_shape, c_shape = shape_of(mean), shape_of(cov)
    if len(m_shape) < 1 or len(c_shape) < 2 or c_shape[-1] != c_shape[-2] or \
            c_shape[-1] != m_shape[-1]:
        raise ValueError(f"multivariate_normal requires mean.shape[-1] == cov.shape[-1] == "
                         f"cov.shape[-2]; got mean {m_shape} and cov {c_shape}")
    n = m_shape[-1]
    if shape is None:
        shape = tuple(np.broadcast_shapes(m_shape[:-1], c_shape[:-2]))
    check_shape("multivariate_normal", shape, m_shape[:-1], c_shape[:-2])
    c = as_dtype(asarray(cov), dtype)
    if method == "cholesky":
        factor = linalg.cholesky(c)
    elif method == "svd":
        u, sv, _ = linalg.svd(c)
        factor = ew.mul(u, st.expand_dims(ew.sqrt(sv), (len(c_shape) - 2,)))
    else:
        w, v = linalg.eigh(c)
        factor = ew.mul(v, st.expand_dims(ew.sqrt(w), (len(c_shape) - 2,)))
    z = _normal(data, tuple(shape) + (n,), dtype)
    lz = einsum("...ij,...j->...i", factor, z)
    return ew.add(mean, lz)


def orthogonal(key, n: int, shape=(), dtype=None, m=None):
    """Random n x m matrices with orthonormal columns (rows), Haar-distributed (as
    `jax.random.orthogonal`: QR of a normal matrix with the signs of R's diagonal)."""
    from jumba._src.numpy import linalg

    data, shape, dtype = prepare("orthogonal", key, shape, dtype)
    m = n if m is None else m
    if not all(isinstance(d, (int, np.integer)) and d >= 0 for d in (n, m)):
        raise ValueError(f"orthogonal: n and m must be non-negative ints, got {n!r}, {m!r}")
    z = _normal(data, (*shape, max(n, m), min(n, m)), dtype)
    q, r = linalg.qr(z)
    d = linalg.diagonal(r)  # over the last two axes
    q = ew.mul(q, st.expand_dims(ew.sign(d), (len(shape),)))
    if n < m:
        q = st.transpose(q, (*range(len(shape)), len(shape) + 1, len(shape)))
    return q
