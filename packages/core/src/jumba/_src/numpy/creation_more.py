"""More jumba.numpy array creation: window functions (bartlett, blackman, hamming, hanning,
kaiser), grids (meshgrid, mgrid, ogrid, indices, fromfunction, mask_indices), tri,
logspace, geomspace, and the index helpers r_, c_, s_, index_exp."""

from __future__ import annotations

import operator

import numpy as np

from jumba._src import dtypes
from jumba._src.core import Array, get_aval
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.numpy.indexing import _as_operand

__all__ = [
    "bartlett", "blackman", "hamming", "hanning", "kaiser", "meshgrid", "mgrid", "ogrid",
    "indices", "fromfunction", "tri", "logspace", "geomspace", "r_", "c_", "s_",
    "index_exp", "mask_indices",
]

# ---------------------------------------------------------------------------------------
# Windows (float, length M; M <= 1 gives the empty or one-point window)


def _window_n(M, name):
    try:
        return operator.index(M)
    except TypeError:
        raise TypeError(f"jumba.numpy.{name}: M must be a static int (the window length), "
                        f"got {M!r}") from None


def _cos_window(M, coefs, name):
    M = _window_n(M, name)
    dt = dtypes.default_float_dtype()
    if M < 1:
        return jnp.zeros((0,), dt)
    if M == 1:
        return jnp.ones((1,), dt)
    n = np.arange(1 - M, M, 2, dtype=np.float64)
    w = sum(c * np.cos(k * np.pi * n / (M - 1)) for k, c in enumerate(coefs))
    return Array(w.astype(dt), False)


def hanning(M: int):
    """Hann window: 0.5 + 0.5 cos(pi n / (M - 1)), n = -(M-1), ..., M-1 in steps of 2."""
    return _cos_window(M, (0.5, 0.5), "hanning")


def hamming(M: int):
    """Hamming window: 0.54 + 0.46 cos(pi n / (M - 1))."""
    return _cos_window(M, (0.54, 0.46), "hamming")


def blackman(M: int):
    """Blackman window: 0.42 + 0.5 cos(pi n/(M-1)) + 0.08 cos(2 pi n/(M-1))."""
    return _cos_window(M, (0.42, 0.5, 0.08), "blackman")


def bartlett(M: int):
    """Bartlett (triangular) window, zero at both ends."""
    M = _window_n(M, "bartlett")
    dt = dtypes.default_float_dtype()
    if M < 1:
        return jnp.zeros((0,), dt)
    if M == 1:
        return jnp.ones((1,), dt)
    n = np.arange(1 - M, M, 2, dtype=np.float64)
    return Array(np.where(n <= 0, 1 + n / (M - 1), 1 - n / (M - 1)).astype(dt), False)


def kaiser(M: int, beta):
    """Kaiser window i0(beta sqrt(1 - (2n/(M-1) - 1)^2)) / i0(beta); differentiable in
    `beta`."""
    from jumba._src.numpy.ufuncs_more import i0

    M = _window_n(M, "kaiser")
    beta = jnp.asarray(beta)
    beta, = jnp.promote_dtypes_inexact(beta)
    dt = get_aval(beta).dtype
    if M < 1:
        return jnp.zeros((0,), dt)
    if M == 1:
        return jnp.ones((1,), dt)
    n = np.arange(M, dtype=np.float64)
    r = np.sqrt(np.clip(1 - (2 * n / (M - 1) - 1) ** 2, 0, None)).astype(dt)
    return jnp.divide(i0(jnp.multiply(beta, r)), i0(beta))


# ---------------------------------------------------------------------------------------
# Grids


def meshgrid(*xi, copy: bool = True, sparse: bool = False, indexing: str = "xy"):
    """Coordinate matrices from 1-D coordinate vectors ('xy': Cartesian, 'ij': matrix)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"jumba.numpy.meshgrid: indexing must be 'xy' or 'ij', got "
                         f"{indexing!r}")
    xs = [_as_operand(x) for x in xi]
    for x in xs:
        if get_aval(x).ndim != 1:
            raise ValueError(f"jumba.numpy.meshgrid: arguments must be 1-D, got shape "
                             f"{get_aval(x).shape}")
    n = len(xs)
    shape = [get_aval(x).shape[0] for x in xs]
    if indexing == "xy" and n > 1:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, x in enumerate(xs):
        pos = i
        if indexing == "xy" and n > 1 and i < 2:
            pos = 1 - i
        s = [1] * n
        s[pos] = get_aval(x).shape[0]
        r = jnp.reshape(x, tuple(s))
        out.append(r if sparse else jnp.broadcast_to(r, tuple(shape)))
    return out


def _slice_axis(s: slice):
    start = 0 if s.start is None else s.start
    step = 1 if s.step is None else s.step
    if isinstance(step, complex):
        num = int(abs(step))
        return np.linspace(start, s.stop, num)
    return np.arange(start, s.stop, step)


class _Grid:
    def __init__(self, sparse):
        self.sparse = sparse

    def __getitem__(self, key):
        single = isinstance(key, slice)
        keys = (key,) if single else tuple(key)
        axes = [_slice_axis(k) for k in keys]
        floaty = any(a.dtype.kind == "f" for a in axes)
        dt = dtypes.default_float_dtype() if floaty else dtypes.default_int_dtype()
        if single:
            return Array(axes[0].astype(dt), False)
        grids = np.meshgrid(*[a.astype(dt) for a in axes], indexing="ij", sparse=self.sparse)
        if self.sparse:
            return tuple(Array(g, False) for g in grids)
        return Array(np.stack(grids), False)


mgrid = _Grid(sparse=False)
mgrid.__doc__ = "Dense mesh grids from slices, as numpy.mgrid: mgrid[0:3, 0:2]."
ogrid = _Grid(sparse=True)
ogrid.__doc__ = "Open (sparse) mesh grids from slices, as numpy.ogrid."


def indices(dimensions, dtype=None, sparse: bool = False):
    """Index grids of an array of shape `dimensions` (stacked, or a tuple if sparse)."""
    dt = dtypes.default_int_dtype() if dtype is None else dtypes.canonicalize_dtype(
        np.dtype(dtype))
    dims = tuple(operator.index(d) for d in dimensions)
    res = np.indices(dims, dtype=dt, sparse=sparse)
    return tuple(Array(r, False) for r in res) if sparse else Array(res, False)


def fromfunction(function, shape, *, dtype=float, **kwargs):
    """`function(*index_grids, **kwargs)`: values computed from the coordinates."""
    dt = dtypes.canonicalize_dtype(np.dtype(dtype))
    grids = indices(shape, dtype=dt)
    return function(*[grids[i] for i in range(len(tuple(shape)))], **kwargs)


def tri(N: int, M: int | None = None, k: int = 0, dtype=None):
    """Ones at and below the `k`-th diagonal of an N x M array, zeros above."""
    dt = dtypes.default_float_dtype() if dtype is None else dtypes.canonicalize_dtype(
        np.dtype(dtype))
    return Array(np.tri(operator.index(N), None if M is None else operator.index(M),
                        operator.index(k), dtype=dt), False)


def mask_indices(n: int, mask_func, k: int = 0, *, size: int | None = None):
    """Indices where `mask_func(ones((n, n)), k)` is nonzero (e.g. jnp.triu)."""
    from jumba._src.numpy.index_functions import nonzero

    return nonzero(mask_func(jnp.ones((n, n), dtypes.default_int_dtype()), k), size=size)


def logspace(start, stop, num: int = 50, endpoint: bool = True, base=10.0, dtype=None,
             axis: int = 0):
    """`base ** linspace(start, stop, num)`."""
    lin = jnp.linspace(start, stop, num, endpoint=endpoint, axis=axis)
    base = jnp.asarray(base)
    if get_aval(base).ndim:
        base = jnp.expand_dims(base, axis)
    out = jnp.power(base, lin)
    return out if dtype is None else jnp.astype(out, dtype)


def geomspace(start, stop, num: int = 50, endpoint: bool = True, dtype=None, axis: int = 0):
    """Numbers spaced evenly on a log scale between `start` and `stop` (same sign, nonzero);
    the endpoints are exact."""
    start, stop = jnp.promote_dtypes_inexact(jnp.asarray(start), jnp.asarray(stop))
    sign = jnp.sign(start)
    ls, le = jnp.log10(jnp.multiply(start, sign)), jnp.log10(jnp.multiply(stop, sign))
    out = logspace(ls, le, num, endpoint=endpoint, axis=axis)
    s = sign if get_aval(sign).ndim == 0 else jnp.expand_dims(sign, axis)
    out = jnp.multiply(out, s)
    if num > 0:
        # Exact endpoints, as NumPy.
        idx = [slice(None)] * get_aval(out).ndim
        idx[axis] = 0
        out = out.at[tuple(idx)].set(start)
        if endpoint and num > 1:
            idx[axis] = -1
            out = out.at[tuple(idx)].set(stop)
    return out if dtype is None else jnp.astype(out, dtype)


# ---------------------------------------------------------------------------------------
# r_, c_, s_, index_exp


class _Concatenator:
    """Translates slices to ranges and concatenates (numpy.r_ / numpy.c_)."""

    def __init__(self, axis, ndmin, trans1d):
        self.axis, self.ndmin, self.trans1d = axis, ndmin, trans1d

    def __getitem__(self, key):
        items = key if isinstance(key, tuple) else (key,)
        axis, ndmin, trans1d = self.axis, self.ndmin, self.trans1d
        parts = []
        for j, item in enumerate(items):
            if isinstance(item, str):
                if j != 0:
                    raise ValueError("jumba.numpy.r_: a string directive must come first")
                if item in ("r", "c"):
                    raise NotImplementedError("jumba.numpy.r_: matrix directives 'r'/'c' "
                                              "are not supported")
                vals = [int(v) for v in item.split(",")]
                axis = vals[0]
                if len(vals) > 1:
                    ndmin = vals[1]
                if len(vals) > 2:
                    trans1d = vals[2]
                continue
            if isinstance(item, slice):
                arr = jnp.asarray(_slice_axis(item))
            else:
                arr = _as_operand(item)
            nd0 = get_aval(arr).ndim
            if nd0 < ndmin:
                shape = get_aval(arr).shape
                new = (1,) * (ndmin - nd0) + shape
                arr = jnp.reshape(arr, new)
                if trans1d != -1:
                    # NumPy's rule: the original axes move to start at position trans1d.
                    k1, k2 = trans1d, ndmin - nd0
                    if k1 < 0:
                        k1 += k2 + 1
                    ax = list(range(ndmin))
                    arr = jnp.transpose(arr, ax[:k1] + ax[k2:] + ax[k1:k2])
            parts.append(arr)
        if not parts:
            return jnp.zeros((0,))
        parts = jnp.promote_dtypes(*parts)
        parts = [jnp.atleast_1d(p) for p in parts]
        return jnp.concatenate(parts, axis=axis)

    def __len__(self):
        return 0


r_ = _Concatenator(0, 1, -1)
c_ = _Concatenator(-1, 2, 0)
s_ = np.s_
index_exp = np.index_exp
