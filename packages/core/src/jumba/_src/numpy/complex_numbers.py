"""jumba.numpy's complex-number functions: real, imag, conj/conjugate, angle (as jax.numpy)."""

from __future__ import annotations

import numpy as np

from jumba._src import dtypes
from jumba._src.core import get_aval
from jumba._src.lax import complex as cx
from jumba._src.numpy import lax_numpy as jnp


def _is_complex(x) -> bool:
    return get_aval(x).dtype.kind == "c"


def real(val, /):
    """The real part of `val` (the array itself when it is real).

    Examples:
      >>> import jumba.numpy as jnp
      >>> jnp.real(jnp.asarray([1 + 2j]))
      Array([1.], dtype=float32)
    """
    val = jnp.asarray(val)
    return cx.real(val) if _is_complex(val) else val


def imag(val, /):
    """The imaginary part of `val` (zeros of its dtype when it is real)."""
    val = jnp.asarray(val)
    return cx.imag(val) if _is_complex(val) else jnp.zeros_like(val)


def conjugate(x, /):
    """The complex conjugate, elementwise (real arrays are returned as they are)."""
    x = jnp.asarray(x)
    return cx.conj_p.bind(x) if _is_complex(x) else x


conj = conjugate


def angle(z, deg: bool = False):
    """The counterclockwise angle from the positive real axis, in radians (or degrees)."""
    z = jnp.asarray(z)
    re, im = real(z), imag(z)
    if not dtypes.is_inexact(get_aval(re).dtype):
        re = re.astype(dtypes.default_float_dtype())
        im = im.astype(dtypes.default_float_dtype())
    out = jnp.arctan2(im, re)
    return jnp.multiply(out, np.asarray(180 / np.pi, get_aval(out).dtype)) if deg else out


def modulus(z):
    """|z| of a complex array, as a real array: hypot(real(z), imag(z))."""
    re, im = cx.real(z), cx.imag(z)
    return jnp.hypot(re, im)
