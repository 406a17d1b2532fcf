"""Samplers on the uniform, normal and integer streams, each derived from random bits
exactly as JAX derives it, so that a key gives the values JAX gives (bit for bit for
integers and uniforms; within a few ulp where a value passes through log or erf_inv).

Every sampler is a composition of jumba primitives, so it runs under jit and vmap (over
keys too) and differentiates with respect to its float parameters where JAX's does.
"""

from __future__ import annotations

import math

import numpy as np

from jumba._src import dtypes
from jumba._src.config import enable_x64
from jumba._src.core import get_aval
from jumba._src.lax import elementwise as ew
from jumba._src.lax import structural as st
from jumba._src.lax.ad_util import stop_gradient
from jumba._src.random.prng import (
    canonicalize_shape,
    check_prng_key,
    random_bits,
    unsafe_split2,
)

# ---------------------------------------------------------------------------------------
# Helpers


def float_dtype(name: str, dtype) -> np.dtype:
    """The (canonical) floating dtype a sampler draws, or a clear error."""
    dt = np.dtype(dtypes.default_float_dtype() if dtype is None else dtype)
    if dt.kind != "f":
        raise ValueError(f"dtype argument to `{name}` must be a float dtype, got {dt.name}; "
                         f"pass e.g. dtype=jumba.numpy.float32")
    return dtypes.canonicalize_dtype(dt)


def as_dtype(x, dtype):
    """`x` (a Python number, NumPy value, Array or tracer) as an operand of `dtype`."""
    if isinstance(x, (int, float, bool, np.number, np.ndarray, list, tuple)):
        return np.asarray(x, dtype)
    if get_aval(x).dtype != dtype:
        return st.convert_element_type(x, dtype)
    return x


def check_shape(name: str, shape, *param_shapes):
    """As JAX's `_check_shape`: the parameters must broadcast to `shape` exactly."""
    try:
        out = np.broadcast_shapes(tuple(shape), *param_shapes)
    except ValueError:
        out = None
    if out != tuple(shape):
        raise ValueError(
            f"jumba.random.{name}: the shape argument {tuple(shape)} must be a broadcast-"
            f"compatible target for the parameter shapes {[tuple(s) for s in param_shapes]} "
            f"(they broadcast to {out}). Pass shape=None to draw one value per parameter, "
            f"or a shape that ends with the parameters' broadcast shape.")


def to_rank(x, rank):
    """Prepend size-1 axes so that `x` has `rank` axes (lax.broadcast_to_rank)."""
    shape = get_aval(x).shape
    if len(shape) == rank:
        return x
    if isinstance(x, np.ndarray):
        return x.reshape((1,) * (rank - len(shape)) + tuple(shape))
    return st.reshape(x, (1,) * (rank - len(shape)) + tuple(shape))


def const(v, dtype):
    return np.asarray(v, dtype)


def shape_of(x):
    return tuple(get_aval(x).shape) if not isinstance(x, (int, float)) else ()


def prepare(name, key, shape, dtype, *params):
    """Common checks: (key data, static shape or None, float dtype)."""
    data, _ = check_prng_key(name, key)
    dtype = float_dtype(name, dtype)
    if shape is not None:
        shape = canonicalize_shape(name, shape)
    return data, shape, dtype


def param_shape(shape, *params):
    """`shape` if given (checked against the params), else their broadcast shape."""
    shapes = [shape_of(p) for p in params]
    if shape is None:
        return tuple(np.broadcast_shapes(*shapes)) if shapes else ()
    return shape


# ---------------------------------------------------------------------------------------
# uniform and normal: the two streams every float sampler starts from


def _both_const(*xs):
    return all(isinstance(x, np.ndarray) for x in xs)


def _to_f64(x):
    # Always through the primitive: under a trace a 32-bit constant is converted inside the
    # Jaxpr, so no float64 constant or literal is left for a replay with x64 off (a scan
    # body under vmap) to demote to float32.
    return st.convert_element_type(x, np.float64)


def _uniform(data, shape, dtype, minval, maxval):
    finfo = dtypes.finfo(dtype)
    nbits, nmant = finfo.bits, finfo.nmant
    rng_bits = max(nbits, 8)
    bits = random_bits(data, rng_bits, shape)
    # JAX puts the top `nmant` bits in the mantissa of a float in [1, 2) and subtracts
    # 1; that value is exactly m * 2**-nmant, which the conversion below computes (m has
    # fewer than nmant + 1 bits, so the integer converts exactly).
    uint = bits.dtype if hasattr(bits, "dtype") else get_aval(bits).dtype
    m = ew.shift_right_logical(bits, np.asarray(rng_bits - nmant, uint))
    floats = ew.mul(st.convert_element_type(m, dtype), const(2.0 ** -nmant, dtype))
    minval = to_rank(as_dtype(minval, dtype), len(shape))
    maxval = to_rank(as_dtype(maxval, dtype), len(shape))
    # Constant bounds stay NumPy constants (literals under jit), so that the whole draw
    # fuses into one kernel.
    sub = np.subtract if _both_const(minval, maxval) else ew.sub
    span = sub(maxval, minval)
    if dtype.itemsize <= 4:
        # XLA fuses `floats * span + minval` into one fused multiply-add; float64 holds
        # the float32 product exactly, so one rounding at the end gives the FMA's value.
        # (64-bit types are switched on for these few ops even when x64 is off.)
        with enable_x64(True):
            out = ew.add(ew.mul(_to_f64(floats), _to_f64(span)), _to_f64(minval))
            out = st.convert_element_type(out, dtype)
    else:
        out = ew.add(ew.mul(floats, span), minval)
    out = ew.max(minval, out)
    if get_aval(out).shape != tuple(shape):
        out = st.broadcast_to(out, tuple(shape))
    return out


def uniform(key, shape=(), dtype=None, minval=0.0, maxval=1.0):
    """Uniform floats in [minval, maxval) (as `jax.random.uniform`).

    Args:
      key: a single PRNG key.
      shape: the output shape (the bounds must broadcast to it).
      dtype: a float dtype (default float32, float64 with x64 on).
      minval, maxval: the bounds (broadcastable; differentiable).

    Returns:
      An array of `shape` and `dtype`.

    Examples:
      >>> import jumba.random as jr
      >>> jr.uniform(jr.PRNGKey(0), (2,))
      Array([0.947667  , 0.97857988], dtype=float32)
    """
    data, shape, dtype = prepare("uniform", key, shape, dtype)
    check_shape("uniform", shape, shape_of(minval), shape_of(maxval))
    return _uniform(data, shape, dtype, minval, maxval)


def _normal(data, shape, dtype):
    lo = np.nextafter(np.asarray(-1.0, dtype), np.asarray(0.0, dtype))
    u = _uniform(data, shape, dtype, lo, 1.0)
    return ew.mul(const(np.sqrt(2), dtype), ew.erf_inv(u))


def normal(key, shape=(), dtype=None):
    """Standard normal floats (as `jax.random.normal`: sqrt(2) * erf_inv of a uniform
    draw on (-1, 1)).

    Args:
      key: a single PRNG key.
      shape: the output shape.
      dtype: a float dtype.

    Returns:
      An array of `shape` and `dtype`.

    Examples:
      >>> import jumba.random as jr
      >>> jr.normal(jr.PRNGKey(0), (2,))
      Array([1.6226422, 2.0252647], dtype=float32)
    """
    data, shape, dtype = prepare("normal", key, shape, dtype)
    return _normal(data, shape, dtype)


# ---------------------------------------------------------------------------------------
# Integers


def _convert_and_clip_integer(val, dtype):
    """`val` (an integer array) clipped to `dtype`'s range and converted, as JAX."""
    val_dtype = get_aval(val).dtype
    if val_dtype == dtype:
        return val
    info_to, info_from = np.iinfo(dtype), np.iinfo(val_dtype)
    lo, hi = max(info_to.min, info_from.min), min(info_to.max, info_from.max)
    if lo > info_from.min:
        val = ew.max(val, np.asarray(lo, val_dtype))
    if hi < info_from.max:
        val = ew.min(val, np.asarray(hi, val_dtype))
    return st.convert_element_type(val, dtype)


def _int_operand(x):
    from jumba._src.numpy.lax_numpy import asarray

    x = asarray(x)
    if get_aval(x).dtype.kind not in "iu":
        x = st.convert_element_type(x, dtypes.default_int_dtype())
    return x


def randint(key, shape, minval, maxval, dtype=None):
    """Uniform integers in [minval, maxval) (as `jax.random.randint`).

    Two words of random bits per value, reduced modulo the span (JAX's algorithm, whose
    bias is negligible for spans far below 2**32).

    Args:
      key: a single PRNG key.
      shape: the output shape.
      minval, maxval: integer bounds (broadcastable to `shape`; clipped to `dtype`).
      dtype: an integer dtype (default int32, int64 with x64 on).

    Returns:
      An integer array of `shape`.
    """
    data, _ = check_prng_key("randint", key)
    shape = canonicalize_shape("randint", shape)
    dtype = np.dtype(dtypes.default_int_dtype() if dtype is None else dtype)
    if dtype.kind not in "iu":
        raise TypeError(f"randint only accepts integer dtypes, got {dtype.name}")
    dtype = dtypes.canonicalize_dtype(dtype)
    check_shape("randint", shape, shape_of(minval), shape_of(maxval))
    minval, maxval = _int_operand(minval), _int_operand(maxval)
    nbits = dtype.itemsize * 8
    unsigned = np.dtype(f"u{dtype.itemsize}")
    max_dt = get_aval(maxval).dtype
    maxval_out_of_range = ew.gt(
        maxval, _convert_and_clip_integer(np.asarray(np.iinfo(dtype).max, dtype), max_dt))
    minval = to_rank(_convert_and_clip_integer(minval, dtype), len(shape))
    maxval = to_rank(_convert_and_clip_integer(maxval, dtype), len(shape))
    maxval_out_of_range = to_rank(maxval_out_of_range, len(shape))

    k1, k2 = unsafe_split2(data)
    higher_bits, lower_bits = random_bits(k1, nbits, shape), random_bits(k2, nbits, shape)
    span = st.convert_element_type(ew.sub(maxval, minval), unsigned)
    one = np.ones((), unsigned)
    # maxval <= minval: span 1, so minval comes back; maxval past dtype's range: one more.
    span = ew.select_n(ew.le(maxval, minval), span, st.broadcast_to(one, get_aval(span).shape))
    span = ew.select_n(ew.bitwise_and(maxval_out_of_range, ew.gt(maxval, minval)),
                       span, ew.add(span, one))
    # (hi * 2**nbits + lo) mod span, with 2**nbits mod span computed without overflow.
    multiplier = ew.rem(np.asarray(2 ** (nbits // 2), unsigned), span)
    multiplier = ew.rem(ew.mul(multiplier, multiplier), span)
    offset = ew.add(ew.mul(ew.rem(higher_bits, span), multiplier), ew.rem(lower_bits, span))
    offset = ew.rem(offset, span)
    out = ew.add(minval, st.convert_element_type(offset, dtype))
    if get_aval(out).shape != shape:
        out = st.broadcast_to(out, shape)
    return out


def bernoulli(key, p=0.5, shape=None):
    """Booleans that are True with probability `p` (as `jax.random.bernoulli`).

    Args:
      key: a single PRNG key.
      p: the probability (float, broadcastable to `shape`).
      shape: the output shape (default `p`'s shape).

    Returns:
      A boolean array.
    """
    data, _ = check_prng_key("bernoulli", key)
    if isinstance(p, (int, float)):
        dtype = dtypes.default_float_dtype()
    else:
        dtype = get_aval(p).dtype
    if dtype.kind != "f":
        raise TypeError(f"bernoulli probability `p` must have a floating dtype, got "
                        f"{dtype.name}; pass p as a float (e.g. p.astype(float))")
    if shape is None:
        shape = shape_of(p)
    shape = canonicalize_shape("bernoulli", shape)
    check_shape("bernoulli", shape, shape_of(p))
    p = as_dtype(p, dtype)
    return ew.lt(_uniform(data, shape, dtype, 0.0, 1.0), p)


def rademacher(key, shape=(), dtype=None):
    """Random signs, -1 or +1 with equal probability (as `jax.random.rademacher`)."""
    data, _ = check_prng_key("rademacher", key)
    shape = canonicalize_shape("rademacher", shape)
    dtype = np.dtype(dtypes.default_int_dtype() if dtype is None else dtype)
    dtype = dtypes.canonicalize_dtype(dtype)
    b = ew.lt(_uniform(data, shape, dtypes.default_float_dtype(), 0.0, 1.0),
              const(0.5, dtypes.default_float_dtype()))
    b = st.convert_element_type(b, dtype)
    return ew.sub(ew.mul(const(2, dtype), b), const(1, dtype))


# ---------------------------------------------------------------------------------------
# Location-scale families through log / log1p / erf_inv


def gumbel(key, shape=(), dtype=None, mode=None):
    """Standard Gumbel samples, -log(-log(u)) (as `jax.random.gumbel`)."""
    data, shape, dtype = prepare("gumbel", key, shape, dtype)
    return _gumbel(data, shape, dtype)


def _gumbel(data, shape, dtype):
    u = _uniform(data, shape, dtype, dtypes.finfo(dtype).tiny, 1.0)
    return ew.neg(ew.log(ew.neg(ew.log(u))))


def exponential(key, shape=(), dtype=None):
    """Standard exponential samples, -log1p(-u) (as `jax.random.exponential`)."""
    data, shape, dtype = prepare("exponential", key, shape, dtype)
    return _exponential(data, shape, dtype)


def _exponential(data, shape, dtype):
    u = _uniform(data, shape, dtype, 0.0, 1.0)
    return ew.neg(ew.log1p(ew.neg(u)))


def laplace(key, shape=(), dtype=None):
    """Standard Laplace samples (as `jax.random.laplace`)."""
    data, shape, dtype = prepare("laplace", key, shape, dtype)
    u = _uniform(data, shape, dtype, -1.0 + dtypes.finfo(dtype).epsneg, 1.0)
    return ew.mul(ew.sign(u), ew.log1p(ew.neg(ew.abs(u))))


def logistic(key, shape=(), dtype=None):
    """Standard logistic samples, log(u / (1 - u)) (as `jax.random.logistic`)."""
    data, shape, dtype = prepare("logistic", key, shape, dtype)
    x = _uniform(data, shape, dtype, dtypes.finfo(dtype).tiny, 1.0)
    return ew.log(ew.div(x, ew.sub(const(1, dtype), x)))


def cauchy(key, shape=(), dtype=None):
    """Standard Cauchy samples, tan(pi (u - 1/2)) (as `jax.random.cauchy`)."""
    data, shape, dtype = prepare("cauchy", key, shape, dtype)
    u = _uniform(data, shape, dtype, dtypes.finfo(dtype).eps, 1.0)
    pi = const(np.pi, dtype)
    return ew.tan(ew.mul(pi, ew.sub(u, const(0.5, dtype))))


def truncated_normal(key, lower, upper, shape=None, dtype=None):
    """Standard normal samples truncated to (lower, upper) (as
    `jax.random.truncated_normal`: the inverse CDF of a uniform draw between the bounds'
    CDF values). Differentiable in `lower` and `upper`.

    Args:
      key: a single PRNG key.
      lower, upper: the bounds (broadcastable to `shape`).
      shape: the output shape (default: the bounds' broadcast shape).
      dtype: a float dtype.

    Returns:
      Samples strictly inside (lower, upper).
    """
    data, shape, dtype = prepare("truncated_normal", key, shape, dtype)
    shape = param_shape(shape, lower, upper)
    check_shape("truncated_normal", shape, shape_of(lower), shape_of(upper))
    sqrt2 = const(np.sqrt(2), dtype)
    lower, upper = as_dtype(lower, dtype), as_dtype(upper, dtype)
    a = ew.erf(ew.div(lower, sqrt2))
    b = ew.erf(ew.div(upper, sqrt2))
    u = _uniform(data, shape, dtype, a, b)
    out = ew.mul(sqrt2, ew.erf_inv(u))
    # Rounding (or u == a) could land on a bound: clamp into the open interval.
    lo = ew.nextafter(stop_gradient(lower), const(np.inf, dtype))
    hi = ew.nextafter(stop_gradient(upper), const(-np.inf, dtype))
    return ew.min(ew.max(out, lo), hi)


def lognormal(key, sigma=1.0, shape=None, dtype=None):
    """exp(sigma * normal) samples (as `jax.random.lognormal`)."""
    data, shape, dtype = prepare("lognormal", key, shape, dtype)
    shape = param_shape(shape, sigma)
    check_shape("lognormal", shape, shape_of(sigma))
    return ew.exp(ew.mul(_normal(data, shape, dtype), as_dtype(sigma, dtype)))


def maxwell(key, shape=(), dtype=None):
    """Maxwell samples: the norm of a 3-d standard normal vector."""
    data, shape, dtype = prepare("maxwell", key, shape, dtype)
    x = _normal(data, (*shape, 3), dtype)
    from jumba._src.lax.reductions import reduce_sum

    return ew.sqrt(reduce_sum(ew.square(x), (len(shape),)))


def double_sided_maxwell(key, loc, scale, shape=(), dtype=None):
    """Double-sided Maxwell samples: a Maxwell draw with a random sign, scaled and shifted
    (as `jax.random.double_sided_maxwell`)."""
    data, shape, dtype = prepare("double_sided_maxwell", key, shape, dtype)
    shape = shape + tuple(np.broadcast_shapes(shape_of(loc), shape_of(scale)))
    k1, k2 = unsafe_split2(data)
    from jumba._src.lax.reductions import reduce_sum

    mag = ew.sqrt(reduce_sum(ew.square(_normal(k1, (*shape, 3), dtype)), (len(shape),)))
    sign = ew.sub(ew.mul(const(2, dtype), st.convert_element_type(
        ew.lt(_uniform(k2, shape, dtype, 0.0, 1.0), const(0.5, dtype)), dtype)), const(1, dtype))
    return ew.add(ew.mul(ew.mul(sign, mag), as_dtype(scale, dtype)), as_dtype(loc, dtype))


def rayleigh(key, scale=1.0, shape=None, dtype=None):
    """Rayleigh samples, scale * sqrt(-2 log u) (as `jax.random.rayleigh`)."""
    data, shape, dtype = prepare("rayleigh", key, shape, dtype)
    shape = param_shape(shape, scale)
    check_shape("rayleigh", shape, shape_of(scale))
    u = _uniform(data, shape, dtype, 0.0, 1.0)
    log_u = ew.log(u)
    return ew.mul(ew.sqrt(ew.mul(const(-2, dtype), log_u)), as_dtype(scale, dtype))


def pareto(key, b, shape=None, dtype=None):
    """Pareto samples with shape `b` (as `jax.random.pareto`: exp(exponential / b))."""
    data, shape, dtype = prepare("pareto", key, shape, dtype)
    shape = param_shape(shape, b)
    check_shape("pareto", shape, shape_of(b))
    e = _exponential(data, shape, dtype)
    return ew.exp(ew.div(e, as_dtype(b, dtype)))


def weibull_min(key, scale, concentration, shape=(), dtype=None):
    """Weibull samples (as `jax.random.weibull_min`)."""
    data, shape, dtype = prepare("weibull_min", key, shape, dtype)
    u = _uniform(data, shape, dtype, 0.0, 1.0)
    # Inverse CDF of 1 - u (also uniform): scale * (-log1p(-u)) ** (1 / concentration).
    inv = ew.div(const(1, dtype), as_dtype(concentration, dtype))
    return ew.mul(ew.pow(ew.neg(ew.log1p(ew.neg(u))), inv), as_dtype(scale, dtype))


def triangular(key, left, mode, right, shape=None, dtype=None):
    """Triangular samples on [left, right] peaking at `mode` (inverse CDF)."""
    data, shape, dtype = prepare("triangular", key, shape, dtype)
    shape = param_shape(shape, left, mode, right)
    check_shape("triangular", shape, shape_of(left), shape_of(mode), shape_of(right))
    left, mode, right = (as_dtype(v, dtype) for v in (left, mode, right))
    fc = ew.div(ew.sub(mode, left), ew.sub(right, left))
    u = _uniform(data, shape, dtype, 0.0, 1.0)
    lo = ew.add(left, ew.sqrt(ew.mul(u, ew.mul(ew.sub(right, left), ew.sub(mode, left)))))
    hi = ew.sub(right, ew.sqrt(ew.mul(ew.sub(const(1, dtype), u),
                                      ew.mul(ew.sub(right, left), ew.sub(right, mode)))))
    return ew.select_n(ew.lt(u, fc), hi, lo)


def wald(key, mean, shape=None, dtype=None):
    """Wald (inverse Gaussian) samples with unit scale (as `jax.random.wald`)."""
    data, shape, dtype = prepare("wald", key, shape, dtype)
    shape = param_shape(shape, mean)
    check_shape("wald", shape, shape_of(mean))
    k1, k2 = unsafe_split2(data)
    mean = as_dtype(mean, dtype)
    v = _normal(k1, shape, dtype)
    z = _uniform(k2, shape, dtype, 0.0, 1.0)
    y = ew.square(v)
    y_sq = ew.square(y)
    mean_sq = ew.square(mean)
    sqrt_term = ew.sqrt(ew.add(ew.mul(const(4, dtype), ew.mul(mean, y)), ew.mul(mean_sq, y_sq)))
    x = ew.sub(ew.add(mean, ew.div(ew.mul(mean_sq, y), const(2, dtype))),
               ew.mul(ew.div(mean, const(2, dtype)), sqrt_term))
    w = ew.le(z, ew.div(mean, ew.add(mean, x)))
    return ew.select_n(w, ew.div(mean_sq, x), x)


def generalized_normal(key, p, shape=(), dtype=None):
    """Generalized normal samples with exponent `p` (as `jax.random.generalized_normal`:
    a gamma(1/p) draw to the power 1/p with a random sign)."""
    from jumba._src.random.gamma import _gamma_from_data

    data, shape, dtype = prepare("generalized_normal", key, shape, dtype)
    check_shape("generalized_normal", shape, shape_of(p))
    p = as_dtype(p, dtype)
    k1, k2 = unsafe_split2(data)
    g = _gamma_from_data(k1, st.broadcast_to(ew.div(const(1, dtype), p), shape), dtype)
    r = rademacher_from_data(k2, shape, dtype)
    return ew.mul(r, ew.pow(g, ew.div(const(1, dtype), p)))


def rademacher_from_data(data, shape, dtype):
    b = ew.lt(_uniform(data, shape, dtypes.default_float_dtype(), 0.0, 1.0),
              const(0.5, dtypes.default_float_dtype()))
    return ew.sub(ew.mul(const(2, dtype), st.convert_element_type(b, dtype)), const(1, dtype))


def geometric(key, p, shape=None, dtype=None):
    """Geometric samples: the number of Bernoulli(p) trials up to the first success
    (as `jax.random.geometric`: floor(log(u) / log1p(-p)) + 1)."""
    data, _ = check_prng_key("geometric", key)
    dtype = np.dtype(dtypes.default_int_dtype() if dtype is None else dtype)
    if shape is None:
        shape = shape_of(p)
    shape = canonicalize_shape("geometric", shape)
    check_shape("geometric", shape, shape_of(p))
    fdt = get_aval(p).dtype if not isinstance(p, (int, float)) else None
    fdt = dtypes.default_float_dtype() if fdt is None or fdt.kind != "f" else fdt
    p = as_dtype(p, fdt)
    u = _uniform(data, shape, fdt, 0.0, 1.0)
    g = ew.floor(ew.div(ew.log(u), ew.log1p(ew.neg(p))))
    return ew.add(st.convert_element_type(g, dtype), const(1, dtype))


def ball(key, d: int, p: float = 2, shape=(), dtype=None):
    """Points uniform in the d-dimensional unit p-norm ball (as `jax.random.ball`:
    generalized-normal directions scaled by an exponential draw, Barthe et al. 2005)."""
    from jumba._src.lax.reductions import reduce_sum

    data, shape, dtype = prepare("ball", key, shape, dtype)
    if not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"jumba.random.ball: d must be a positive int, got {d!r}")
    if not isinstance(p, (int, float)) or p <= 0:
        raise ValueError(f"jumba.random.ball: p must be a positive number, got {p!r}")
    k1, k2 = unsafe_split2(data)
    g = generalized_normal(k1, float(p), (*shape, d), dtype)
    e = _exponential(k2, shape, dtype)
    norm = ew.pow(ew.add(reduce_sum(ew.pow(ew.abs(g), const(p, dtype)), (len(shape),)), e),
                  const(1 / p, dtype))
    return ew.div(g, st.expand_dims(norm, (len(shape),)))


# ---------------------------------------------------------------------------------------
# Categorical draws, permutations, choice


def categorical(key, logits, axis: int = -1, shape=None, replace: bool = True, mode=None):
    """Category indices drawn with probabilities softmax(logits) (as
    `jax.random.categorical`: the Gumbel-max trick).

    Args:
      key: a single PRNG key.
      logits: unnormalised log probabilities; `axis` indexes the categories.
      axis: the category axis of `logits`.
      shape: the output shape (default: `logits`' shape without `axis`); must end with
        that batch shape.
      replace: draw with replacement (False: distinct categories along the prefix axes).

    Returns:
      int32 (int64 with x64) indices.
    """
    from jumba._src.numpy.lax_numpy import argmax, asarray

    data, _ = check_prng_key("categorical", key)
    logits = asarray(logits)
    aval = get_aval(logits)
    if aval.dtype.kind != "f":
        logits = st.convert_element_type(logits, dtypes.default_float_dtype())
        aval = get_aval(logits)
    if not aval.shape:
        raise ValueError("jumba.random.categorical: logits must have at least one axis "
                         "(the categories)")
    axis = axis % aval.ndim
    batch_shape = tuple(np.delete(np.array(aval.shape, dtype=np.int64), axis))
    if shape is None:
        shape = batch_shape
    else:
        shape = canonicalize_shape("categorical", shape)
        check_shape("categorical", shape, batch_shape)
    prefix = shape[:len(shape) - len(batch_shape)]
    logits_shape = list(shape[len(shape) - len(batch_shape):])
    logits_shape.insert(axis, aval.shape[axis])
    if replace:
        g = _gumbel(data, (*prefix, *logits_shape), aval.dtype)
        x = ew.add(g, st.reshape(logits, (1,) * len(prefix) + aval.shape))
        return argmax(x, axis=axis + len(prefix))
    from jumba._src.lax.sorting import top_k

    n_draws = math.prod(prefix)
    if n_draws > aval.shape[axis]:
        raise ValueError(f"jumba.random.categorical: cannot draw {n_draws} distinct "
                         f"categories of {aval.shape[axis]} with replace=False")
    g = ew.add(_gumbel(data, tuple(logits_shape), aval.dtype), logits)
    g = st.transpose(g, tuple(i for i in range(aval.ndim) if i != axis) + (axis,))
    _, ind = top_k(g, n_draws)
    ind = st.convert_element_type(ind, dtypes.default_int_dtype())
    nd = get_aval(ind).ndim
    ind = st.transpose(ind, (nd - 1,) + tuple(range(nd - 1)))  # draws first, as JAX
    return st.reshape(ind, shape)


def _shuffle(data, x, axis):
    from jumba._src.lax.sorting import sort_key_val

    aval = get_aval(x)
    size = math.prod(aval.shape)
    # JAX's rounds of sorts by random 32-bit keys: enough that keys collide rarely.
    num_rounds = int(np.ceil(3 * np.log(max(1, size)) / np.log(np.iinfo(np.uint32).max)))
    for _ in range(num_rounds):
        data, sub = unsafe_split2(data)
        sort_keys = random_bits(sub, 32, aval.shape)
        _, x = sort_key_val(sort_keys, x, axis)
    return x


def permutation(key, x, axis: int = 0, independent: bool = False):
    """A random permutation of `arange(x)` (integer `x`) or of `x` along `axis` (as
    `jax.random.permutation`).

    Args:
      key: a single PRNG key.
      x: an int n (permute range(n)) or an array.
      axis: the axis of `x` to permute.
      independent: permute every 1-d slice along `axis` independently (otherwise whole
        slices move together).

    Returns:
      The permuted array.
    """
    from jumba._src.core import concrete_or_error
    from jumba.numpy import arange, asarray, take

    data, _ = check_prng_key("permutation", key)
    if not isinstance(x, (list, tuple)) and not shape_of(x):
        if isinstance(x, float) or get_aval(x).dtype.kind not in "iu":
            raise TypeError("x must be an integer or at least 1-dimensional")
        n = int(concrete_or_error(x, "argument x of jumba.random.permutation() (the "
                                     "permutation's length must be static)"))
        return _shuffle(data, arange(n), 0)
    x = asarray(x)
    ndim = get_aval(x).ndim
    axis = axis % ndim
    if independent or ndim == 1:
        return _shuffle(data, x, axis)
    ind = _shuffle(data, arange(get_aval(x).shape[axis]), 0)
    return take(x, ind, axis=axis)


def choice(key, a, shape=(), replace: bool = True, p=None, axis: int = 0, mode=None):
    """Random draws from `a` (as `jax.random.choice`).

    Args:
      key: a single PRNG key.
      a: an int n (draw from range(n)) or an array (draw slices along `axis`).
      shape: the shape of the draws.
      replace: with replacement (otherwise distinct entries).
      p: probabilities of the entries (default uniform).
      axis: the axis of `a` to draw along.

    Returns:
      The draws: `shape` for an int `a`, else `a.shape` with `axis` replaced by `shape`.
    """
    from jumba._src.core import concrete_or_error
    from jumba.numpy import asarray, cumsum, log, take, zeros

    data, _ = check_prng_key("choice", key)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"shape argument of jumba.random.choice must be a sequence, got "
                        f"{shape!r}; write shape=({shape},)")
    shape = canonicalize_shape("choice", shape)
    arr = asarray(a)
    aval = get_aval(arr)
    if aval.ndim == 0:
        n_inputs = int(concrete_or_error(a, "argument a of jumba.random.choice() (the "
                                            "population size must be static)"))
    else:
        axis = axis % aval.ndim
        n_inputs = aval.shape[axis]
    n_draws = math.prod(shape)
    if n_draws == 0:
        return zeros(shape, dtype=aval.dtype)
    if n_inputs <= 0:
        raise ValueError("a must be greater than 0 unless no samples are taken")
    if not replace and n_draws > n_inputs:
        raise ValueError(f"Cannot take a larger sample (size {n_draws}) than population "
                         f"(size {n_inputs}) when 'replace=False'")
    if p is None:
        if replace:
            ind = randint(key, shape, 0, n_inputs)
            result = ind if aval.ndim == 0 else take(arr, ind, axis=axis)
        else:
            perm = permutation(key, n_inputs if aval.ndim == 0 else arr, axis)
            size = get_aval(perm).shape
            result = st.slice(perm, (0,) * len(size),
                              tuple(n_draws if i == axis else s for i, s in enumerate(size)))
    else:
        p_arr = asarray(p)
        if get_aval(p_arr).dtype.kind != "f":
            p_arr = st.convert_element_type(p_arr, dtypes.default_float_dtype())
        if get_aval(p_arr).shape != (n_inputs,):
            raise ValueError(f"p must be None or match the shape of a: expected shape "
                             f"({n_inputs},), got {get_aval(p_arr).shape}")
        pdt = get_aval(p_arr).dtype
        if replace:
            p_cuml = cumsum(p_arr)
            total = st.reshape(st.slice(p_cuml, (n_inputs - 1,), (n_inputs,)), ())
            r = ew.mul(total, ew.sub(const(1, pdt), _uniform(data, shape, pdt, 0.0, 1.0)))
            # searchsorted(p_cuml, r, side='left'): how many cumulative sums lie below r.
            from jumba._src.lax.reductions import reduce_sum

            below = ew.lt(p_cuml, st.expand_dims(r, (len(shape),)))
            ind = reduce_sum(st.convert_element_type(below, dtypes.default_int_dtype()),
                             (len(shape),))
        else:
            from jumba._src.lax.sorting import top_k

            g = ew.add(_gumbel(data, (n_inputs,), pdt), log(p_arr))
            ind = st.convert_element_type(top_k(g, n_draws)[1], dtypes.default_int_dtype())
        result = ind if aval.ndim == 0 else take(arr, ind, axis=axis)
    if aval.ndim == 0:
        return st.reshape(result, shape)
    return st.reshape(result, aval.shape[:axis] + shape + aval.shape[axis + 1:])
