"""The `fft` primitive: discrete Fourier transforms over the trailing axes (as `jax.lax.fft`).

One primitive with `fft_type` (FFT, IFFT, RFFT, IRFFT) and `fft_lengths` (the sizes of the
transformed trailing axes). All four are linear over the reals, with JAX's transposes: the
DFT matrix is symmetric, so FFT and IFFT transpose to themselves; RFFT (a sliced FFT of a
real input) transposes to the real part of an FFT of the zero-padded cotangent; IRFFT
transposes to a scaled RFFT with the Hermitian-duplicated bins counted twice, conjugated
(JAX's convention for complex cotangents).
"""

from __future__ import annotations

import enum
import math

import numpy as np

from jumba._src import core
from jumba._src.core import Primitive, ShapedArray, get_aval
from jumba._src.interpreters import ad, batching
from jumba._src.lax.complex import complex_dtype, real_dtype


class FftType(enum.IntEnum):
    """The kind of transform (jax.lax.FftType)."""

    FFT = 0
    IFFT = 1
    RFFT = 2
    IRFFT = 3


def _axes(ndim, k):
    return tuple(range(ndim - k, ndim))


def _fft_impl(x, *, fft_type, fft_lengths):
    axes = _axes(x.ndim, len(fft_lengths))
    if fft_type == FftType.FFT:
        out, dt = np.fft.fftn(x, axes=axes), x.dtype
    elif fft_type == FftType.IFFT:
        out, dt = np.fft.ifftn(x, axes=axes), x.dtype
    elif fft_type == FftType.RFFT:
        out, dt = np.fft.rfftn(x, s=fft_lengths, axes=axes), complex_dtype(x.dtype)
    else:
        out, dt = np.fft.irfftn(x, s=fft_lengths, axes=axes), real_dtype(x.dtype)
    # NumPy's pocketfft computes in double precision: back to the operand's precision.
    return out.astype(dt, copy=False)


def _fft_abstract_eval(x, *, fft_type, fft_lengths):
    k = len(fft_lengths)
    name = FftType(fft_type).name
    if x.ndim < k:
        raise TypeError(f"lax.fft ({name}): operand of shape {x.shape} has fewer than "
                        f"{k} axes to transform (fft_lengths={fft_lengths})")
    trailing = x.shape[x.ndim - k:]
    if fft_type in (FftType.FFT, FftType.IFFT):
        if x.dtype.kind != "c":
            raise TypeError(f"lax.fft ({name}) requires a complex operand, got "
                            f"{x.dtype.name}; convert with .astype(complex) or use RFFT")
        want, dt = tuple(fft_lengths), x.dtype
        out_shape = x.shape
    elif fft_type == FftType.RFFT:
        if x.dtype.kind != "f":
            raise TypeError(f"lax.fft (RFFT) requires a real floating operand, got "
                            f"{x.dtype.name}")
        want, dt = tuple(fft_lengths), complex_dtype(x.dtype)
        out_shape = (*x.shape[:-1], fft_lengths[-1] // 2 + 1)
    else:
        if x.dtype.kind != "c":
            raise TypeError(f"lax.fft (IRFFT) requires a complex operand, got "
                            f"{x.dtype.name}")
        want = (*fft_lengths[:-1], fft_lengths[-1] // 2 + 1)
        dt = real_dtype(x.dtype)
        out_shape = (*x.shape[:-1], fft_lengths[-1])
    if trailing != want:
        raise TypeError(f"lax.fft ({name}): the trailing axes of the operand have sizes "
                        f"{trailing}, but fft_lengths={tuple(fft_lengths)} needs {want}. Pad "
                        "or slice the operand first (jumba.numpy.fft does this for `n`/`s`).")
    return ShapedArray(out_shape, dt, False)


fft_p = Primitive("fft")
fft_p.def_impl(_fft_impl)
fft_p.def_abstract_eval(_fft_abstract_eval)


def fft(x, fft_type, fft_lengths):
    """Transform the trailing `len(fft_lengths)` axes of `x` (jax.lax.fft).

    Args:
      x: the operand: complex for FFT, IFFT and IRFFT, real for RFFT.
      fft_type: an `FftType` (or its name, e.g. "rfft").
      fft_lengths: sizes of the transformed axes (of the real signal, for RFFT/IRFFT).

    Returns:
      The transform, as NumPy's `fftn`, `ifftn`, `rfftn` or `irfftn` over those axes.
    """
    if isinstance(fft_type, str):
        fft_type = FftType[fft_type.upper()]
    params = dict(fft_type=FftType(fft_type), fft_lengths=tuple(int(n) for n in fft_lengths))
    if not isinstance(x, core.Tracer):  # eager binds skip abstract_eval: check here
        _fft_abstract_eval(get_aval(x), **params)
    return fft_p.bind(x, **params)


def _rfft_transpose(ct, fft_lengths):
    from jumba._src.lax import complex as cx
    from jumba._src.lax.structural import pad

    # RFFT = slice ∘ FFT ∘ (x -> x + 0i): its transpose is the real part of the FFT of the
    # zero-padded cotangent.
    aval = get_aval(ct)
    extra = fft_lengths[-1] - aval.shape[-1]
    config = [(0, 0, 0)] * (aval.ndim - 1) + [(0, extra, 0)]
    full = pad(ct, np.zeros((), aval.dtype), config)
    return cx.real(fft(full, FftType.FFT, fft_lengths))


def _irfft_transpose(ct, fft_lengths):
    from jumba._src.lax import complex as cx
    from jumba._src.lax import elementwise as ew

    x = fft(ct, FftType.RFFT, fft_lengths)
    n = get_aval(x).shape[-1]
    odd = fft_lengths[-1] % 2
    # Bins 1..n-2 (and n-1 for odd lengths) stand for two conjugate bins of the full signal.
    mask = np.concatenate([[1.0], np.full(n - 2 + odd, 2.0), np.ones(1 - odd)])
    mask = (mask / math.prod(fft_lengths)).astype(get_aval(x).dtype)
    return cx.conj(ew.mul(x, mask))


def _fft_transpose(ct, x, *, fft_type, fft_lengths):
    if fft_type == FftType.RFFT:
        return [_rfft_transpose(ct, fft_lengths)]
    if fft_type == FftType.IRFFT:
        return [_irfft_transpose(ct, fft_lengths)]
    return [fft(ct, fft_type, fft_lengths)]


ad.deflinear(fft_p, _fft_transpose)


def _fft_batch(size, vals, dims, *, fft_type, fft_lengths):
    (x,), (d,) = vals, dims
    # The transformed axes are trailing: a leading batch axis rides along.
    return fft(batching.moveaxis(x, d, 0), fft_type, fft_lengths), 0


batching.primitive_batchers[fft_p] = _fft_batch
