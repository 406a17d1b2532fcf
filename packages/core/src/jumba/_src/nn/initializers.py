"""Parameter initializers of jumba.nn.initializers (as jax.nn.initializers).

Each public function returns an initializer `init(key, shape, dtype=jnp.float_)`; the
default dtype canonicalises to float32 unless x64 is on, as in JAX. Random draws go
through `jumba.random` (imported when an initializer runs, so this module imports without
it).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from jumba._src import dtypes
from jumba._src.core import Tracer
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.numpy.indexing import diagonal

DTypeLikeInexact = Any
_DEFAULT = np.float64  # jnp.float_: canonicalised to float32 without x64


class Initializer(Protocol):
    """The type of an initializer: `init(key, shape, dtype) -> Array`."""

    def __call__(self, key, shape, dtype: DTypeLikeInexact = _DEFAULT):
        ...


def _random():
    try:
        from jumba import random
    except ImportError as e:  # pragma: no cover - only while jumba.random is missing
        raise ImportError("jumba.nn.initializers: random initializers need jumba.random, "
                          "which is not available in this build.") from e
    return random


def _shape(shape, name) -> tuple[int, ...]:
    if isinstance(shape, Tracer):
        raise TypeError(f"{name}: shape must be static (a tuple of Python ints); got a traced "
                        "value.")
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        out = tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"{name}: shape must be a sequence of ints, got {shape!r}.") from None
    if any(d < 0 for d in out):
        raise ValueError(f"{name}: shape {out} has a negative dimension.")
    return out


def _dtype(dtype, name, *, inexact=True):
    dt = dtypes.canonicalize_dtype(np.dtype(dtype))
    if inexact and not dtypes.is_inexact(dt):
        raise TypeError(f"{name}: dtype must be floating (or complex), got {dt}. Random "
                        "initializers draw real numbers; cast the result if you need "
                        "integers.")
    return dt


# ---------------------------------------------------------------------------------------
# Constants


def zeros(key, shape, dtype: DTypeLikeInexact = _DEFAULT):
    """An initializer returning zeros (the key is ignored).

    Examples:
      >>> import jumba.nn.initializers as init
      >>> init.zeros(None, (2, 3)).shape
      (2, 3)
    """
    return jnp.zeros(_shape(shape, "zeros"), dtypes.canonicalize_dtype(np.dtype(dtype)))


def ones(key, shape, dtype: DTypeLikeInexact = _DEFAULT):
    """An initializer returning ones (the key is ignored)."""
    return jnp.ones(_shape(shape, "ones"), dtypes.canonicalize_dtype(np.dtype(dtype)))


def constant(value, dtype: DTypeLikeInexact = _DEFAULT) -> Initializer:
    """Builds an initializer that fills arrays with `value`.

    Args:
      value: a scalar or array broadcastable to the requested shape.
      dtype: default dtype of the result.

    Returns:
      `init(key, shape, dtype=dtype)`.
    """

    def init(key, shape, dtype=dtype):
        dt = dtypes.canonicalize_dtype(np.dtype(dtype))
        return jnp.full(_shape(shape, "constant"), value, dtype=dt)

    return init


# ---------------------------------------------------------------------------------------
# Simple distributions


def uniform(scale=1e-2, dtype: DTypeLikeInexact = _DEFAULT) -> Initializer:
    """Builds an initializer drawing uniformly from `[0, scale)`.

    Args:
      scale: upper bound of the range.
      dtype: default dtype of the result.

    Returns:
      `init(key, shape, dtype=dtype)`.
    """

    def init(key, shape, dtype=dtype):
        dt = _dtype(dtype, "uniform")
        return _random().uniform(key, _shape(shape, "uniform"), dt) * jnp.asarray(scale, dt)

    return init


def normal(stddev=1e-2, dtype: DTypeLikeInexact = _DEFAULT) -> Initializer:
    """Builds an initializer drawing from a centred normal with standard deviation `stddev`.

    Args:
      stddev: the standard deviation.
      dtype: default dtype of the result.

    Returns:
      `init(key, shape, dtype=dtype)`.
    """

    def init(key, shape, dtype=dtype):
        dt = _dtype(dtype, "normal")
        return _random().normal(key, _shape(shape, "normal"), dt) * jnp.asarray(stddev, dt)

    return init


def truncated_normal(stddev=1e-2, dtype: DTypeLikeInexact = _DEFAULT, lower=-2.0,
                     upper=2.0) -> Initializer:
    """Builds an initializer drawing from a normal truncated to `[lower, upper]` standard
    deviations, then scaled by `stddev` (so the result's deviation is below `stddev`).

    Args:
      stddev: scale of the (untruncated) distribution.
      dtype: default dtype of the result.
      lower: lower truncation bound, in standard deviations.
      upper: upper truncation bound, in standard deviations.

    Returns:
      `init(key, shape, dtype=dtype)`.
    """

    def init(key, shape, dtype=dtype):
        dt = _dtype(dtype, "truncated_normal")
        draw = _random().truncated_normal(key, lower, upper, _shape(shape, "truncated_normal"),
                                          dt)
        return draw * jnp.asarray(stddev, dt)

    return init


# ---------------------------------------------------------------------------------------
# Variance scaling


def _axes_tuple(axis) -> tuple[int, ...]:
    return tuple(axis) if isinstance(axis, Sequence) else (axis,)


def _compute_fans(shape: tuple[int, ...], in_axis=-2, out_axis=-1, batch_axis=()):
    """(fan_in, fan_out) of a kernel of `shape`: the product of the `in_axis` (resp.
    `out_axis`) sizes times the receptive field (every axis that is neither in, out nor
    batch), as JAX's `_compute_fans`."""
    if len(shape) <= 1:
        raise ValueError(
            f"variance_scaling: can't compute input and output sizes of a {len(shape)}-D "
            f"shape {shape}; it needs at least 2 axes (in and out). Use a 2-D shape, or "
            "normal/uniform initializers for biases.")
    nd = len(shape)
    in_axes = [a % nd for a in _axes_tuple(in_axis)]
    out_axes = [a % nd for a in _axes_tuple(out_axis)]
    batch = [a % nd for a in _axes_tuple(batch_axis)]
    in_size = math.prod(shape[a] for a in in_axes)
    out_size = math.prod(shape[a] for a in out_axes)
    # JAX divides the total size by the in, out and batch sizes, even when in_axis and
    # out_axis name the same axis (Flax's Embed: out_axis=0 with the default in_axis=-2).
    batch_size = math.prod(shape[a] for a in batch)
    receptive = math.prod(shape) / in_size / out_size / batch_size
    return in_size * receptive, out_size * receptive


def _complex_uniform(random, key, shape, dtype):
    # Uniform on the disc of radius sqrt(2) (E|z|^2 = 1): radius sqrt(2u), uniform angle.
    real_dt = np.dtype(dtype).type(0).real.dtype
    k_r, k_theta = random.split(key)
    r = jnp.sqrt(2 * random.uniform(k_r, shape, real_dt)).astype(dtype)
    theta = 2 * np.pi * random.uniform(k_theta, shape, real_dt).astype(dtype)
    return r * jnp.exp(1j * theta)


def _complex_truncated_normal(random, key, upper, shape, dtype):
    # Modulus from a Rayleigh distribution truncated at `upper`, uniform phase.
    real_dt = np.dtype(dtype).type(0).real.dtype
    k_r, k_theta = random.split(key)
    t = (1 - jnp.exp(jnp.asarray(-(upper ** 2), dtype))) * random.uniform(
        k_r, shape, real_dt).astype(dtype)
    r = jnp.sqrt(-jnp.log(1 - t))
    theta = 2 * np.pi * random.uniform(k_theta, shape, real_dt).astype(dtype)
    return r * jnp.exp(1j * theta)


def variance_scaling(scale, mode: str, distribution: str, in_axis=-2, out_axis=-1,
                     batch_axis=(), dtype: DTypeLikeInexact = _DEFAULT) -> Initializer:
    r"""Builds an initializer whose draws have variance `scale / n`, with `n` the fan of
    `mode`.

    `n` is `fan_in`, `fan_out`, their mean (`fan_avg`) or their geometric mean (`fan_geo`),
    the fans being the sizes of the in / out axes times the receptive field (all axes but
    in, out and batch). The distributions, each with variance `scale / n`:

    - `"truncated_normal"`: a normal truncated to two standard deviations, rescaled by
      0.87962566103423978 so the truncated variance is right;
    - `"normal"`: a centred normal;
    - `"uniform"`: uniform on :math:`[-\sqrt{3 s / n}, \sqrt{3 s / n}]`.

    Args:
      scale: the variance scale (> 0).
      mode: `"fan_in"`, `"fan_out"`, `"fan_avg"` or `"fan_geo"`.
      distribution: `"truncated_normal"`, `"normal"` or `"uniform"`.
      in_axis: input axis or axes (default -2).
      out_axis: output axis or axes (default -1).
      batch_axis: axes excluded from the fans (default none).
      dtype: default dtype of the result.

    Returns:
      `init(key, shape, dtype=dtype)`.
    """
    modes = ("fan_in", "fan_out", "fan_avg", "fan_geo")
    dists = ("truncated_normal", "normal", "uniform")
    if mode not in modes:
        raise ValueError(f"variance_scaling: invalid mode {mode!r}; use one of {modes}.")
    if distribution not in dists:
        raise ValueError(f"variance_scaling: invalid distribution {distribution!r}; use one "
                         f"of {dists}.")

    def init(key, shape, dtype=dtype):
        shape = _shape(shape, "variance_scaling")
        dt = _dtype(dtype, "variance_scaling")
        fan_in, fan_out = _compute_fans(shape, in_axis, out_axis, batch_axis)
        denominator = {"fan_in": fan_in, "fan_out": fan_out,
                       "fan_avg": (fan_in + fan_out) / 2,
                       "fan_geo": math.sqrt(fan_in * fan_out)}[mode]
        variance = scale / denominator
        random = _random()
        complex_ = dtypes.is_complex(dt)
        if distribution == "truncated_normal":
            if complex_:
                stddev = np.sqrt(variance) * 0.95311164380491208
                draw = _complex_truncated_normal(random, key, 2, shape, dt)
            else:
                # The std of a unit normal truncated to [-2, 2].
                stddev = np.sqrt(variance) / 0.87962566103423978
                draw = random.truncated_normal(key, -2, 2, shape, dt)
            return draw * jnp.asarray(stddev, dt)
        if distribution == "normal":
            return random.normal(key, shape, dt) * jnp.asarray(np.sqrt(variance), dt)
        if complex_:
            return _complex_uniform(random, key, shape, dt) * jnp.asarray(
                np.sqrt(variance), dt)
        # Drawn on [-1, 1) then scaled, as JAX, so the stream matches jax's bit for bit.
        return random.uniform(key, shape, dt, -1) * jnp.asarray(np.sqrt(3 * variance), dt)

    return init


def glorot_uniform(in_axis=-2, out_axis=-1, batch_axis=(),
                   dtype: DTypeLikeInexact = _DEFAULT) -> Initializer:
    """Glorot (Xavier) uniform: `variance_scaling(1.0, "fan_avg", "uniform")`."""
    return variance_scaling(1.0, "fan_avg", "uniform", in_axis, out_axis, batch_axis, dtype)


def glorot_normal(in_axis=-2, out_axis=-1, batch_axis=(),
                  dtype: DTypeLikeInexact = _DEFAULT) -> Initializer:
    """Glorot (Xavier) normal: `variance_scaling(1.0, "fan_avg", "truncated_normal")`."""
    return variance_scaling(1.0, "fan_avg", "truncated_normal", in_axis, out_axis,
                            batch_axis, dtype)


def lecun_uniform(in_axis=-2, out_axis=-1, batch_axis=(),
                  dtype: DTypeLikeInexact = _DEFAULT) -> Initializer:
    """LeCun uniform: `variance_scaling(1.0, "fan_in", "uniform")`."""
    return variance_scaling(1.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype)


def lecun_normal(in_axis=-2, out_axis=-1, batch_axis=(),
                 dtype: DTypeLikeInexact = _DEFAULT) -> Initializer:
    """LeCun normal: `variance_scaling(1.0, "fan_in", "truncated_normal")`."""
    return variance_scaling(1.0, "fan_in", "truncated_normal", in_axis, out_axis,
                            batch_axis, dtype)


def he_uniform(in_axis=-2, out_axis=-1, batch_axis=(),
               dtype: DTypeLikeInexact = _DEFAULT) -> Initializer:
    """He (Kaiming) uniform: `variance_scaling(2.0, "fan_in", "uniform")`."""
    return variance_scaling(2.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype)


def he_normal(in_axis=-2, out_axis=-1, batch_axis=(),
              dtype: DTypeLikeInexact = _DEFAULT) -> Initializer:
    """He (Kaiming) normal: `variance_scaling(2.0, "fan_in", "truncated_normal")`."""
    return variance_scaling(2.0, "fan_in", "truncated_normal", in_axis, out_axis,
                            batch_axis, dtype)


xavier_uniform = glorot_uniform
xavier_normal = glorot_normal
kaiming_uniform = he_uniform
kaiming_normal = he_normal


# ---------------------------------------------------------------------------------------
# Orthogonal


def _qr(a):
    """Reduced QR of a matrix: jumba.numpy.linalg's (traceable) when present, else
    NumPy's on a concrete matrix."""
    try:
        from jumba.numpy import linalg
    except ImportError:
        linalg = None
    if linalg is not None and hasattr(linalg, "qr"):
        return linalg.qr(a)
    if isinstance(a, Tracer):
        raise TypeError("orthogonal: this build has no traceable QR (jumba.numpy.linalg); "
                        "call the initializer outside jit/vmap.")
    q, r = np.linalg.qr(np.asarray(a))
    return jnp.asarray(q), jnp.asarray(r)


def orthogonal(scale=1.0, column_axis=-1, dtype: DTypeLikeInexact = _DEFAULT) -> Initializer:
    """Builds an initializer of (semi-)orthogonal matrices (Saxe et al., 2014).

    The shape is viewed as a matrix of `prod(other axes)` rows by `shape[column_axis]`
    columns; a Gaussian matrix's QR factor (signs fixed by R's diagonal, so the result is
    Haar-distributed) gives orthonormal rows or columns, whichever are fewer, times `scale`.

    Args:
      scale: multiplier of the orthogonal matrix.
      column_axis: the axis holding the columns.
      dtype: default dtype of the result.

    Returns:
      `init(key, shape, dtype=dtype)`.
    """

    def init(key, shape, dtype=dtype):
        shape = _shape(shape, "orthogonal")
        dt = _dtype(dtype, "orthogonal")
        if len(shape) < 2:
            raise ValueError(f"orthogonal: the shape must have at least 2 axes, got {shape}. "
                             "Orthogonality needs a matrix.")
        col = column_axis % len(shape)
        n_cols = shape[col]
        n_rows = math.prod(shape) // n_cols if n_cols else 0
        matrix_shape = (n_cols, n_rows) if n_rows < n_cols else (n_rows, n_cols)
        q, r = _qr(_random().normal(key, matrix_shape, dt))
        # Signs of R's diagonal fixed positive make Q unique (Haar-distributed), as JAX.
        q = q * jnp.sign(diagonal(r))[None, :]
        if n_rows < n_cols:
            q = q.T
        other = tuple(s for i, s in enumerate(shape) if i != col)
        q = jnp.moveaxis(jnp.reshape(q, other + (n_cols,)), -1, col)
        return (q * jnp.asarray(scale, dt)).astype(dt)

    return init


def delta_orthogonal(scale=1.0, column_axis=-1,
                     dtype: DTypeLikeInexact = _DEFAULT) -> Initializer:
    """Builds an initializer for convolution kernels: an orthogonal matrix at the spatial
    centre and zeros elsewhere (Xiao et al., 2018), which preserves norms at initialisation.

    Args:
      scale: multiplier of the orthogonal matrix.
      column_axis: the output-channel axis (must be the last).
      dtype: default dtype of the result.

    Returns:
      `init(key, shape, dtype=dtype)` for 3-, 4- or 5-D shapes `[*spatial, in, out]` with
      `in <= out`.
    """

    def init(key, shape, dtype=dtype):
        shape = _shape(shape, "delta_orthogonal")
        dt = _dtype(dtype, "delta_orthogonal")
        if len(shape) not in (3, 4, 5):
            raise ValueError(f"delta_orthogonal: the kernel must be 3-, 4- or 5-D "
                             f"([*spatial, in, out]); got shape {shape}.")
        if column_axis % len(shape) != len(shape) - 1:
            raise ValueError("delta_orthogonal: column_axis must be the last axis (the "
                             f"output channels); got {column_axis} for shape {shape}.")
        if shape[-2] > shape[-1]:
            raise ValueError(f"delta_orthogonal: `fan_in` must be <= `fan_out` (shape[-2] <= "
                             f"shape[-1]) for an orthogonal centre; got shape {shape}.")
        ortho = orthogonal(scale, -1, dt)(key, shape[-2:], dt)
        # JAX's centre: (k - 1) // 2 along each spatial axis.
        centre = tuple((s - 1) // 2 for s in shape[:-2])
        return jnp.zeros(shape, dt).at[centre].set(ortho)

    return init
