"""Haiku's initializers: objects called as ``init(shape, dtype)`` inside a transform.

They draw keys with `hk.next_rng_key()`; since jumba.random reproduces JAX's streams and
`hk.PRNGSequence` splits keys as Haiku does, the same seed gives Haiku's values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import jumba.lax as lax
import jumba.numpy as jnp
import jumba.random as jr
from jumba_nn.haiku._base import next_rng_key

# The standard deviation of a standard normal truncated to [-2, 2].
_TRUNC_STDDEV = 0.87962566103423978


class Initializer:
    """Base class: ``__call__(shape, dtype) -> Array``."""

    def __call__(self, shape: Sequence[int], dtype: Any) -> Any:
        raise NotImplementedError


def _fans(shape, fan_in_axes=None):
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    if fan_in_axes is not None:
        fan_in = int(np.prod([shape[i] for i in fan_in_axes]))
        fan_out = int(np.prod([s for i, s in enumerate(shape) if i not in fan_in_axes]))
        return fan_in, fan_out
    # Convolution kernels (spatial..., in, out): the receptive field multiplies both fans.
    field = int(np.prod(shape[:-2]))
    return shape[-2] * field, shape[-1] * field


class Constant(Initializer):
    """Every element equal to `constant`."""

    def __init__(self, constant):
        self.constant = constant

    def __call__(self, shape, dtype=jnp.float32):
        return jnp.broadcast_to(jnp.asarray(self.constant), tuple(shape)).astype(dtype)


class RandomNormal(Initializer):
    """Normal draws with the given `mean` and `stddev`."""

    def __init__(self, stddev=1.0, mean=0.0):
        self.stddev, self.mean = stddev, mean

    def __call__(self, shape, dtype=jnp.float32):
        m = lax.convert_element_type(self.mean, dtype)
        s = lax.convert_element_type(self.stddev, dtype)
        return m + s * jr.normal(next_rng_key(), tuple(shape), dtype)


class TruncatedNormal(Initializer):
    """Normal draws truncated to [`lower`, `upper`] standard deviations, scaled by `stddev`
    (not corrected for the truncation, as Haiku)."""

    def __init__(self, stddev=1.0, mean=0.0, lower=-2.0, upper=2.0):
        self.stddev, self.mean, self.lower, self.upper = stddev, mean, lower, upper

    def __call__(self, shape, dtype=jnp.float32):
        m = lax.convert_element_type(self.mean, dtype)
        s = lax.convert_element_type(self.stddev, dtype)
        unscaled = jr.truncated_normal(next_rng_key(), self.lower, self.upper, tuple(shape),
                                       dtype)
        return s * unscaled + m


class RandomUniform(Initializer):
    """Uniform draws in [`minval`, `maxval`)."""

    def __init__(self, minval=0.0, maxval=1.0):
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=jnp.float32):
        return jr.uniform(next_rng_key(), tuple(shape), dtype, self.minval, self.maxval)


class VarianceScaling(Initializer):
    """Draws with variance ``scale / n``, n the fan-in, fan-out or their mean.

    `distribution` "truncated_normal" (corrected so the truncated draws have that
    variance), "normal" or "uniform" (limit ``sqrt(3 * scale / n)``). glorot_uniform is
    ``VarianceScaling(1.0, "fan_avg", "uniform")``; he_normal is
    ``VarianceScaling(2.0, "fan_in", "truncated_normal")``.
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal",
                 fan_in_axes=None):
        if scale < 0.0:
            raise ValueError("VarianceScaling: `scale` must be a positive float.")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be 'fan_in', 'fan_out' or 'fan_avg', "
                             f"got {mode!r}.")
        distribution = distribution.lower()
        if distribution not in ("normal", "truncated_normal", "uniform"):
            raise ValueError(f"VarianceScaling: distribution must be 'normal', "
                             f"'truncated_normal' or 'uniform', got {distribution!r}.")
        self.scale, self.mode, self.distribution = scale, mode, distribution
        self.fan_in_axes = fan_in_axes

    def __call__(self, shape, dtype=jnp.float32):
        fan_in, fan_out = _fans(tuple(shape), self.fan_in_axes)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        scale = self.scale / max(1.0, n)
        if self.distribution == "truncated_normal":
            stddev = np.sqrt(scale) / np.asarray(_TRUNC_STDDEV, dtype=np.dtype(dtype))
            return TruncatedNormal(stddev=stddev)(shape, dtype)
        if self.distribution == "normal":
            return RandomNormal(stddev=np.sqrt(scale))(shape, dtype)
        limit = np.sqrt(3.0 * scale)
        return RandomUniform(-limit, limit)(shape, dtype)


class UniformScaling(Initializer):
    """Uniform in ``±scale * sqrt(3 / input_size)``, input_size the product of all but the
    last dimension."""

    def __init__(self, scale=1.0):
        self.scale = scale

    def __call__(self, shape, dtype=jnp.float32):
        limit = np.sqrt(3 / np.prod(shape[:-1])) * self.scale
        return RandomUniform(-limit, limit)(shape, dtype)


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix along `axis` (the other axes flattened), times `scale`."""

    def __init__(self, scale=1.0, axis=-1):
        self.scale, self.axis = scale, axis

    def __call__(self, shape, dtype=jnp.float32):
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal initializer needs at least a 2-D shape, got {shape}.")
        n_rows = shape[self.axis]
        n_cols = int(np.prod(shape)) // n_rows
        mshape = (n_rows, n_cols) if n_rows > n_cols else (n_cols, n_rows)
        q, r = jnp.linalg.qr(jr.normal(next_rng_key(), mshape, dtype))
        q = q * jnp.sign(jnp.diag(r))
        if n_rows < n_cols:
            q = q.T
        rest = tuple(s for i, s in enumerate(shape) if i != self.axis % len(shape))
        q = jnp.moveaxis(jnp.reshape(q, (n_rows, *rest)), 0, self.axis)
        return lax.convert_element_type(self.scale, dtype) * q


class Identity(Initializer):
    """The identity matrix (broadcast over leading axes), times `gain`."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=jnp.float32):
        shape = tuple(shape)
        if len(shape) < 2:
            raise ValueError(f"Identity initializer needs at least a 2-D shape, got {shape}.")
        eye = jnp.broadcast_to(jnp.eye(shape[-2], shape[-1], dtype=dtype), shape)
        return lax.convert_element_type(self.gain, dtype) * eye


__all__ = ["Constant", "Identity", "Initializer", "Orthogonal", "RandomNormal",
           "RandomUniform", "TruncatedNormal", "UniformScaling", "VarianceScaling"]
