"""jumba.numpy's 1-D convolutions and polynomials (coefficients highest power first, as
numpy.poly*): convolve, correlate, polyval, polyfit, poly, roots, polyadd, polysub,
polymul, polyder, polyint, polydiv, trim_zeros, vander.

A convolution is a product with the Toeplitz matrix of one operand (a static gather), so it
differentiates in both operands and jits and vmaps without a convolution primitive.
"""

from __future__ import annotations

import operator

import numpy as np

from jumba._src import core, dtypes
from jumba._src.core import get_aval
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.numpy.index_functions import take
from jumba._src.numpy.indexing import _as_operand, _concrete

__all__ = [
    "convolve", "correlate", "polyval", "polyfit", "poly", "roots", "polyadd", "polysub",
    "polymul", "polyder", "polyint", "polydiv", "trim_zeros", "vander",
]


def _vec(x, name, what):
    x = _as_operand(x)
    if get_aval(x).ndim != 1:
        raise ValueError(f"jumba.numpy.{name}: {what} must be 1-D, got shape "
                         f"{get_aval(x).shape}")
    return x


def _full_conv(a, v):
    """Full discrete convolution of 1-D `a` (n) and `v` (m): length n + m - 1."""
    n, m = get_aval(a).shape[0], get_aval(v).shape[0]
    k = np.arange(n + m - 1)[:, None] - np.arange(n)[None, :]  # out k takes v[k - i]
    valid = (k >= 0) & (k < m)
    idx = np.where(valid, k, 0).astype(np.int32)
    dt = get_aval(v).dtype
    toeplitz = jnp.where(valid, take(v, idx), np.zeros((), dt))  # (n + m - 1, n)
    if dt == np.bool_:
        return jnp.any(jnp.logical_and(toeplitz, a), axis=1)
    return jnp.matmul(toeplitz, a)


def _conv(name, a, v, mode):
    a, v = _vec(a, name, "a"), _vec(v, name, "v")
    n, m = get_aval(a).shape[0], get_aval(v).shape[0]
    if n == 0 or m == 0:
        raise ValueError(f"jumba.numpy.{name}: inputs cannot be empty, got shapes "
                         f"({n},) and ({m},)")
    a, v = jnp.promote_dtypes(a, v)
    full = _full_conv(a, v)
    lo, hi = min(n, m), max(n, m)
    if mode == "full":
        return full
    if mode == "same":
        start = (lo - 1) // 2
        return full[start:start + hi]
    if mode == "valid":
        return full[lo - 1:hi]
    raise ValueError(f"jumba.numpy.{name}: mode must be 'full', 'same' or 'valid', got "
                     f"{mode!r}")


def convolve(a, v, mode: str = "full", *, precision=None, preferred_element_type=None):
    """Discrete linear convolution of two 1-D arrays.

    Args:
      a: first 1-D array.
      v: second 1-D array.
      mode: 'full' (length n + m - 1), 'same' (max(n, m), centered) or 'valid'
        (max(n, m) - min(n, m) + 1).
      precision, preferred_element_type: accepted for JAX compatibility.
    """
    out = _conv("convolve", a, v, mode)
    return _preferred(out, preferred_element_type)


def correlate(a, v, mode: str = "valid", *, precision=None, preferred_element_type=None):
    """Cross-correlation c[k] = sum_n a[n + k] conj(v[n]) of two 1-D arrays (modes as
    `convolve`, default 'valid')."""
    a, v = _vec(a, "correlate", "a"), _vec(v, "correlate", "v")
    if get_aval(v).shape[0] > get_aval(a).shape[0]:
        # NumPy correlates the longer operand first and reverses (its 'same' centring).
        out = jnp.flip(correlate(v, a, mode))
        if get_aval(out).dtype.kind == "c":
            from jumba._src.numpy import complex_numbers

            out = complex_numbers.conj(out)
        return _preferred(out, preferred_element_type)
    if get_aval(v).dtype.kind == "c":
        from jumba._src.numpy import complex_numbers

        v = complex_numbers.conj(v)
    out = _conv("correlate", a, jnp.flip(v), mode)
    return _preferred(out, preferred_element_type)


def _preferred(out, dt):
    return out if dt is None else jnp.astype(out, dt)


# ---------------------------------------------------------------------------------------
# Polynomials


def polyval(p, x, *, unroll: int = 16):
    """Value of the polynomial with coefficients `p` (highest power first) at `x`, by
    Horner's rule."""
    p, x = _as_operand(p), _as_operand(x)
    if get_aval(p).ndim != 1:
        raise ValueError(f"jumba.numpy.polyval: p must be 1-D, got shape {get_aval(p).shape}")
    p, x = jnp.promote_dtypes(p, x)
    y = jnp.zeros_like(x)
    for i in range(get_aval(p).shape[0]):
        y = jnp.add(jnp.multiply(y, x), p[i])
    return y


def vander(x, N: int | None = None, increasing: bool = False):
    """Vandermonde matrix: columns are powers of the 1-D `x` (decreasing by default)."""
    x = _vec(x, "vander", "x")
    n = get_aval(x).shape[0] if N is None else operator.index(N)
    if n < 0:
        raise ValueError(f"jumba.numpy.vander: N must be non-negative, got {n}")
    powers = np.arange(n) if increasing else np.arange(n)[::-1]
    if n == 0:
        return jnp.zeros((get_aval(x).shape[0], 0), get_aval(x).dtype)
    cols = [jnp.ones_like(x) if k == 0 else (x if k == 1 else jnp.power(x, int(k)))
            for k in powers]
    return jnp.stack(cols, axis=1)


def polyfit(x, y, deg: int, rcond=None, full: bool = False, w=None, cov=False):
    """Least-squares polynomial fit of degree `deg` (coefficients highest power first).

    Solved by a QR decomposition of the column-scaled Vandermonde matrix (as NumPy scales
    it); `y` may be 2-D (one fit per column). `full=True` also returns residuals, rank,
    singular values and rcond; `cov=True` the covariance of the coefficients.
    """
    from jumba._src.lax import linalg

    deg = operator.index(deg)
    if deg < 0:
        raise ValueError(f"jumba.numpy.polyfit: deg must be non-negative, got {deg}")
    x, y = _vec(x, "polyfit", "x"), _as_operand(y)
    x, y = jnp.promote_dtypes_inexact(x, y)
    if get_aval(y).ndim not in (1, 2) or get_aval(y).shape[0] != get_aval(x).shape[0]:
        raise ValueError(f"jumba.numpy.polyfit: y must be 1-D or 2-D with len(x) = "
                         f"{get_aval(x).shape[0]} rows, got shape {get_aval(y).shape}")
    order = deg + 1
    n = get_aval(x).shape[0]
    lhs = vander(x, order)
    rhs = y
    if w is not None:
        w = _vec(w, "polyfit", "w")
        lhs = jnp.multiply(lhs, w[:, None])
        rhs = jnp.multiply(rhs, w if get_aval(rhs).ndim == 1 else w[:, None])
    dt = get_aval(lhs).dtype
    if rcond is None:
        rcond = n * float(np.finfo(dt).eps)
    scale = jnp.sqrt(jnp.sum(jnp.square(lhs), axis=0))
    lhs = jnp.divide(lhs, scale)
    rhs2 = rhs if get_aval(rhs).ndim == 2 else rhs[:, None]
    q, r = linalg.qr(lhs, full_matrices=False)
    qty = jnp.matmul(jnp.transpose(q), rhs2)
    c = linalg.triangular_solve(r, qty, left_side=True, lower=False)
    c = jnp.divide(c, scale[:, None])
    if get_aval(rhs).ndim == 1:
        c = c[:, 0]
    if full:
        resid = jnp.sum(jnp.square(jnp.subtract(rhs2, jnp.matmul(
            jnp.multiply(lhs, scale), c if get_aval(c).ndim == 2 else c[:, None]))), axis=0)
        sv = linalg.svd(lhs, full_matrices=False, compute_uv=False)
        return c, resid, order, sv, jnp.asarray(rcond, dt)
    if cov:
        rinv = linalg.triangular_solve(r, jnp.eye(order, dtype=dt), left_side=True,
                                       lower=False)
        vbase = jnp.divide(jnp.matmul(rinv, jnp.transpose(rinv)),
                           jnp.multiply(scale[:, None], scale[None, :]))
        resid = jnp.sum(jnp.square(jnp.subtract(rhs2, jnp.matmul(
            jnp.multiply(lhs, scale), c if get_aval(c).ndim == 2 else c[:, None]))), axis=0)
        if cov == "unscaled":
            fac = jnp.ones_like(resid)
        else:
            if n <= order:
                raise ValueError("jumba.numpy.polyfit: the data must have more points than "
                                 "the degree + 1 to scale the covariance")
            fac = jnp.divide(resid, n - order)
        if get_aval(rhs).ndim == 1:
            return c, jnp.multiply(vbase, fac[0])
        return c, jnp.multiply(vbase[:, :, None], fac[None, None, :])
    return c


def poly(seq_of_zeros):
    """Coefficients of the monic polynomial with the given roots (or of the characteristic
    polynomial of a square matrix)."""
    a = _as_operand(seq_of_zeros)
    aval = get_aval(a)
    if aval.ndim == 2 and aval.shape[0] == aval.shape[1] and aval.shape[0] > 0:
        from jumba._src.lax import linalg

        a = linalg.eig(a, compute_eigenvectors=False)[0]
    elif aval.ndim != 1:
        raise ValueError(f"jumba.numpy.poly: input must be 1-D or a square 2-D array, got "
                         f"shape {aval.shape}")
    a, = jnp.promote_dtypes_inexact(a)
    c = jnp.ones((1,), get_aval(a).dtype)
    for i in range(get_aval(a).shape[0]):
        c = _full_conv(c, jnp.stack([jnp.ones((), get_aval(a).dtype), jnp.negative(a[i])]))
    if get_aval(c).dtype.kind == "c":
        # Roots in conjugate pairs give real coefficients (as NumPy, tested on the values).
        v = _concrete(a)
        if v is not None and np.all(np.sort(v[v.imag > 0]) == np.sort(np.conj(v[v.imag < 0]))):
            from jumba._src.numpy import complex_numbers

            c = complex_numbers.real(c)
    return c


def roots(p, *, strip_zeros: bool = True):
    """Roots of the polynomial with coefficients `p` (highest power first), complex, as the
    eigenvalues of its companion matrix.

    Leading zeros must be stripped, which depends on the values: under jit pass
    `strip_zeros=False` (leading zeros then give NaN roots, as JAX); trailing zeros give
    roots at 0 either way.
    """
    from jumba._src.lax import linalg

    p = _vec(p, "roots", "p")
    p, = jnp.promote_dtypes_inexact(p)
    v = _concrete(p)
    if strip_zeros:
        if v is None:
            raise core.ConcretizationTypeError(
                "roots with strip_zeros=True needs concrete coefficients (stripping leading "
                "zeros changes the output shape); under jit pass strip_zeros=False.")
        nz = np.flatnonzero(v)
        if nz.size == 0:
            return jnp.zeros((0,), dtypes.canonicalize_dtype(np.result_type(v.dtype,
                                                                             np.complex64)))
        p = p[int(nz[0]):]
    n = get_aval(p).shape[0] - 1
    cdt = dtypes.canonicalize_dtype(np.result_type(get_aval(p).dtype, np.complex64))
    if n < 1:
        return jnp.zeros((0,), cdt)
    # Companion matrix: first row -p[1:]/p[0], ones on the subdiagonal.
    top = jnp.divide(jnp.negative(p[1:]), p[0])
    sub = np.eye(n - 1, n, dtype=np.dtype(get_aval(p).dtype)) if n > 1 else None
    comp = top[None, :] if sub is None else jnp.concatenate([top[None, :], sub], axis=0)
    return linalg.eig(comp, compute_eigenvectors=False)[0]


def _pad_front(a, n):
    return jnp.concatenate([jnp.zeros((n,), get_aval(a).dtype), a]) if n > 0 else a


def polyadd(a1, a2):
    """Sum of two polynomials."""
    a1, a2 = _vec(a1, "polyadd", "a1"), _vec(a2, "polyadd", "a2")
    a1, a2 = jnp.promote_dtypes(a1, a2)
    n1, n2 = get_aval(a1).shape[0], get_aval(a2).shape[0]
    return jnp.add(_pad_front(a1, n2 - n1), _pad_front(a2, n1 - n2))


def polysub(a1, a2):
    """Difference of two polynomials."""
    a1, a2 = _vec(a1, "polysub", "a1"), _vec(a2, "polysub", "a2")
    a1, a2 = jnp.promote_dtypes(a1, a2)
    n1, n2 = get_aval(a1).shape[0], get_aval(a2).shape[0]
    return jnp.subtract(_pad_front(a1, n2 - n1), _pad_front(a2, n1 - n2))


def polymul(a1, a2, *, trim_leading_zeros: bool = False):
    """Product of two polynomials (their coefficients' convolution)."""
    a1, a2 = _vec(a1, "polymul", "a1"), _vec(a2, "polymul", "a2")
    if trim_leading_zeros:
        a1, a2 = trim_zeros(a1, "f"), trim_zeros(a2, "f")
    if get_aval(a1).shape[0] == 0:
        a1 = jnp.zeros((1,), get_aval(a1).dtype)
    if get_aval(a2).shape[0] == 0:
        a2 = jnp.zeros((1,), get_aval(a2).dtype)
    a1, a2 = jnp.promote_dtypes(a1, a2)
    return _full_conv(a1, a2)


def polyder(p, m: int = 1):
    """The `m`-th derivative of a polynomial."""
    p = _vec(p, "polyder", "p")
    m = operator.index(m)
    if m < 0:
        raise ValueError(f"jumba.numpy.polyder: order of derivative must be non-negative, "
                         f"got {m}")
    for _ in range(m):
        n = get_aval(p).shape[0]
        coef = np.arange(n - 1, 0, -1).astype(get_aval(p).dtype)
        p = jnp.multiply(p[:max(n - 1, 0)], coef)
    return p


def polyint(p, m: int = 1, k=None):
    """The `m`-th antiderivative of a polynomial, with integration constants `k` (a scalar
    or one per integration, default 0)."""
    p = _vec(p, "polyint", "p")
    m = operator.index(m)
    if m < 0:
        raise ValueError(f"jumba.numpy.polyint: order of integral must be non-negative, "
                         f"got {m}")
    p, = jnp.promote_dtypes_inexact(p)
    dt = get_aval(p).dtype
    if k is None:
        ks = jnp.zeros((m,), dt)
    else:
        ks = jnp.ravel(jnp.astype(jnp.asarray(k), dt))
        if get_aval(ks).shape[0] == 1:
            ks = jnp.broadcast_to(ks, (m,))
        elif get_aval(ks).shape[0] != m:
            raise ValueError(f"jumba.numpy.polyint: k must be a scalar or have {m} entries")
    for i in range(m):
        n = get_aval(p).shape[0]
        div = np.arange(n, 0, -1).astype(dt)
        p = jnp.concatenate([jnp.divide(p, div), ks[i:i + 1]])
    return p


def polydiv(u, v, *, trim_leading_zeros: bool = False):
    """Quotient and remainder of polynomial division u / v."""
    u, v = _vec(u, "polydiv", "u"), _vec(v, "polydiv", "v")
    u, v = jnp.promote_dtypes_inexact(u, v)
    if trim_leading_zeros:
        v = trim_zeros(v, "f")
    m, n = get_aval(u).shape[0] - 1, get_aval(v).shape[0] - 1
    dt = get_aval(u).dtype
    if n < 0:
        raise ValueError("jumba.numpy.polydiv: division by an empty polynomial")
    scale = jnp.divide(1.0, v[0])
    q = jnp.zeros((max(m - n + 1, 1),), dt)
    r = u
    for k in range(0, m - n + 1):
        d = jnp.multiply(scale, r[k])
        q = q.at[k].set(d)
        r = r.at[k:k + n + 1].add(jnp.negative(jnp.multiply(d, v)))
    if trim_leading_zeros:
        r = trim_zeros(r, "f")
    return q, r


def trim_zeros(filt, trim: str = "fb", axis=None):
    """`filt` without its leading ('f') and/or trailing ('b') zeros (eager: the result's
    length depends on the values)."""
    filt = _as_operand(filt)
    v = _concrete(filt)
    if v is None:
        raise core.ConcretizationTypeError(
            "trim_zeros of a traced array: the result's length depends on the values. Call "
            "it outside jit, or keep the length and mask the zeros instead.")
    if v.ndim != 1:
        raise ValueError(f"jumba.numpy.trim_zeros: filt must be 1-D, got shape {v.shape}")
    trim = trim.lower()
    nz = np.flatnonzero(v)
    if nz.size == 0:
        return filt[:0]
    start = int(nz[0]) if "f" in trim else 0
    stop = int(nz[-1]) + 1 if "b" in trim else v.shape[0]
    return filt[start:stop]
