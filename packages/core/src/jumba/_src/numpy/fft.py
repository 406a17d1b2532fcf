"""jumba.numpy.fft: NumPy's FFT functions on the `fft` primitive (as jax.numpy.fft).

The transformed axes are moved last, cropped or zero-padded to the requested lengths, and
transformed by one `lax.fft`; `norm` ("backward", "ortho", "forward") scales the result.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence

import numpy as np

import jumba.numpy as jnp  # the public namespace: its functions span several modules
from jumba._src import dtypes
from jumba._src.core import get_aval
from jumba._src.lax import complex as cx
from jumba._src.lax.fft import FftType
from jumba._src.lax.fft import fft as lax_fft
from jumba._src.lax.structural import pad as lax_pad
from jumba._src.numpy import complex_numbers as cn

_NORMS = (None, "backward", "ortho", "forward")


def _check_norm(norm):
    if norm not in _NORMS:
        raise ValueError(f"jumba.numpy.fft: invalid norm {norm!r}; use None, 'backward', "
                         "'ortho' or 'forward'")


def _resize(x, axis, n):
    """Crop or zero-pad `x` along `axis` to length `n`."""
    size = get_aval(x).shape[axis]
    if n == size:
        return x
    if n < size:
        return _crop(x, axis, n)
    config = [(0, 0, 0)] * get_aval(x).ndim
    config[axis] = (0, n - size, 0)
    return lax_pad(x, np.zeros((), get_aval(x).dtype), config)


def _crop(x, axis, n):
    idx = [slice(None)] * get_aval(x).ndim
    idx[axis] = slice(0, n)
    return x[tuple(idx)]


def _fftn(a, s, axes, norm, fft_type, name):
    _check_norm(norm)
    a = jnp.asarray(a)
    nd = get_aval(a).ndim
    if axes is None:
        axes = tuple(range(nd)) if s is None else tuple(range(nd - len(s), nd))
    else:
        axes = tuple(operator.index(ax) for ax in axes)
    if any(not -nd <= ax < nd for ax in axes):
        raise ValueError(f"jumba.numpy.fft.{name}: axes {axes} out of range for an array of "
                         f"shape {get_aval(a).shape}")
    axes = tuple(ax % nd for ax in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"jumba.numpy.fft.{name}: axes {axes} repeat an axis")
    if s is not None:
        s = tuple(operator.index(n) for n in s)
        if len(s) != len(axes):
            raise ValueError(f"jumba.numpy.fft.{name}: s={s} and axes={axes} must have the "
                             "same length")
        if any(n < 1 for n in s):
            raise ValueError(f"jumba.numpy.fft.{name}: lengths must be positive, got s={s}")
    if not axes:
        return a
    # Dtypes: complex transforms of complex inputs, real ones of real inputs.
    dt = get_aval(a).dtype
    if fft_type == FftType.RFFT:
        if dt.kind == "c":
            raise TypeError(f"jumba.numpy.fft.{name} takes real input, got {dt.name}")
        if not dtypes.is_inexact(dt):
            a = a.astype(dtypes.default_float_dtype())
    elif dt.kind != "c":
        a = a.astype(cx.complex_dtype(dt) if dtypes.is_inexact(dt)
                     else cx.complex_dtype(dtypes.default_float_dtype()))
    shape = get_aval(a).shape
    if s is None:
        s = tuple(shape[ax] for ax in axes)
        if fft_type == FftType.IRFFT:
            s = (*s[:-1], 2 * (s[-1] - 1))
    if any(n < 1 for n in s):
        raise ValueError(f"jumba.numpy.fft.{name}: invalid number of data points {s} "
                         f"for shape {shape} (each must be at least 1)")
    # Crop/pad each axis to the input length the transform reads.
    for ax, n in zip(axes, s):
        want = n // 2 + 1 if fft_type == FftType.IRFFT and ax == axes[-1] else n
        a = _resize(a, ax, want)
    k = len(axes)
    last = tuple(range(nd - k, nd))
    moved = jnp.moveaxis(a, axes, last)
    out = lax_fft(moved, fft_type, s)
    out = jnp.moveaxis(out, last, axes)
    inverse = fft_type in (FftType.IFFT, FftType.IRFFT)
    count = math.prod(s)
    # The primitive's inverse transforms already divide by the count ("backward").
    if norm == "ortho":
        scale = math.sqrt(count) if inverse else 1 / math.sqrt(count)
    elif norm == "forward":
        scale = count if inverse else 1 / count
    else:
        scale = 1.0
    if scale != 1.0:
        out = jnp.multiply(out, np.asarray(scale, cx.real_dtype(get_aval(out).dtype)))
    return out


def _one_axis(a, n, axis, norm, fft_type, name):
    return _fftn(a, None if n is None else (n,), (axis,), norm, fft_type, name)


def fft(a, n: int | None = None, axis: int = -1, norm: str | None = None):
    """One-dimensional discrete Fourier transform along `axis`.

    Args:
      a: input array (real inputs are converted to complex).
      n: length of the transformed axis (the input is cropped or zero-padded).
      axis: the axis to transform.
      norm: "backward" (default: no scaling), "ortho" (1/sqrt(n)) or "forward" (1/n).

    Examples:
      >>> import jumba.numpy as jnp
      >>> jnp.fft.fft(jnp.array([1.0, 0.0, 0.0, 0.0]))
      Array([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j], dtype=complex64)
    """
    return _one_axis(a, n, axis, norm, FftType.FFT, "fft")


def ifft(a, n: int | None = None, axis: int = -1, norm: str | None = None):
    """Inverse of `fft` along `axis`."""
    return _one_axis(a, n, axis, norm, FftType.IFFT, "ifft")


def rfft(a, n: int | None = None, axis: int = -1, norm: str | None = None):
    """FFT of real input: the n//2 + 1 non-negative frequency terms."""
    return _one_axis(a, n, axis, norm, FftType.RFFT, "rfft")


def irfft(a, n: int | None = None, axis: int = -1, norm: str | None = None):
    """Inverse of `rfft`: a real signal of length `n` (default 2 * (m - 1))."""
    return _one_axis(a, n, axis, norm, FftType.IRFFT, "irfft")


_SWAP_NORM = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}


def hfft(a, n: int | None = None, axis: int = -1, norm: str | None = None):
    """FFT of a Hermitian-symmetric signal given by its first half: a real spectrum."""
    _check_norm(norm)
    return irfft(cn.conj(jnp.asarray(a)), n, axis, _SWAP_NORM[norm])


def ihfft(a, n: int | None = None, axis: int = -1, norm: str | None = None):
    """Inverse of `hfft`: the first half of the Hermitian spectrum of a real signal."""
    _check_norm(norm)
    return cn.conj(rfft(a, n, axis, _SWAP_NORM[norm]))


def fftn(a, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
         norm: str | None = None):
    """N-dimensional FFT over `axes` (default: all, or the last len(s))."""
    return _fftn(a, s, axes, norm, FftType.FFT, "fftn")


def ifftn(a, s=None, axes=None, norm=None):
    """Inverse of `fftn`."""
    return _fftn(a, s, axes, norm, FftType.IFFT, "ifftn")


def rfftn(a, s=None, axes=None, norm=None):
    """N-dimensional FFT of real input (the last axis halved)."""
    return _fftn(a, s, axes, norm, FftType.RFFT, "rfftn")


def irfftn(a, s=None, axes=None, norm=None):
    """Inverse of `rfftn`."""
    return _fftn(a, s, axes, norm, FftType.IRFFT, "irfftn")


def fft2(a, s=None, axes=(-2, -1), norm=None):
    """Two-dimensional FFT over `axes`."""
    return _fftn(a, s, axes, norm, FftType.FFT, "fft2")


def ifft2(a, s=None, axes=(-2, -1), norm=None):
    """Inverse of `fft2`."""
    return _fftn(a, s, axes, norm, FftType.IFFT, "ifft2")


def rfft2(a, s=None, axes=(-2, -1), norm=None):
    """Two-dimensional FFT of real input."""
    return _fftn(a, s, axes, norm, FftType.RFFT, "rfft2")


def irfft2(a, s=None, axes=(-2, -1), norm=None):
    """Inverse of `rfft2`."""
    return _fftn(a, s, axes, norm, FftType.IRFFT, "irfft2")


def fftfreq(n: int, d=1.0, *, dtype=None, device=None):
    """Sample frequencies of an `fft` of length `n` with sample spacing `d`."""
    n = operator.index(n)
    dt = dtypes.canonicalize_dtype(np.dtype(dtype)) if dtype is not None else \
        dtypes.default_float_dtype()
    k = np.concatenate([np.arange(0, (n - 1) // 2 + 1), np.arange(-(n // 2), 0)])
    return jnp.divide(jnp.asarray(k.astype(dt)), jnp.multiply(jnp.asarray(d, dt), n))


def rfftfreq(n: int, d=1.0, *, dtype=None, device=None):
    """Sample frequencies of an `rfft` of length `n` with sample spacing `d`."""
    n = operator.index(n)
    dt = dtypes.canonicalize_dtype(np.dtype(dtype)) if dtype is not None else \
        dtypes.default_float_dtype()
    k = np.arange(0, n // 2 + 1)
    return jnp.divide(jnp.asarray(k.astype(dt)), jnp.multiply(jnp.asarray(d, dt), n))


def _shift(x, axes, sign):
    x = jnp.asarray(x)
    nd = get_aval(x).ndim
    if axes is None:
        axes = tuple(range(nd))
    elif isinstance(axes, int):
        axes = (axes,)
    shape = get_aval(x).shape
    shifts = tuple(sign * (shape[ax] // 2) for ax in axes)
    return jnp.roll(x, shifts, axes)


def fftshift(x, axes=None):
    """Move the zero-frequency term to the centre of the spectrum."""
    return _shift(x, axes, 1)


def ifftshift(x, axes=None):
    """Inverse of `fftshift`."""
    return _shift(x, axes, -1)
