"""Initializers (``jumba.nn.initializers``, as ``flax.linen.initializers``).

``zeros_init()``/``ones_init()`` return the ``zeros``/``ones`` initializers.
"""

from jumba.nn.initializers import (
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

__all__ = [
    "Initializer",
    "constant",
    "delta_orthogonal",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "lecun_normal",
    "lecun_uniform",
    "normal",
    "ones",
    "orthogonal",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
    "ones_init",
    "zeros_init",
]


def zeros_init():
    """The initializer returning zeros: ``zeros_init()(key, shape, dtype)``."""
    return zeros


def ones_init():
    """The initializer returning ones: ``ones_init()(key, shape, dtype)``."""
    return ones
