"""Shared helpers of the jumba.scipy.stats distributions."""

from __future__ import annotations

import numpy as np

from jumba._src.core import get_aval
from jumba._src.lax import elementwise as ew
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.numpy.lax_numpy import promote_dtypes_inexact


def promote(*xs):
    """Operands in one floating dtype (Python scalars follow the arrays' dtype)."""
    return promote_dtypes_inexact(*xs)


def c(value, like):
    return np.asarray(value, get_aval(like).dtype)


def standardize(x, loc, scale):
    """(x - loc) / scale, and log(scale)."""
    return ew.div(ew.sub(x, loc), scale), ew.log(scale)


def outside(mask, value, fill):
    """`value`, replaced by `fill` where `mask`."""
    return jnp.where(mask, c(fill, value), value)


