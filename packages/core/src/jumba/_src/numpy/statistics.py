"""jumba.numpy's order statistics, NaN-ignoring reductions and moments: quantile,
percentile, median and their nan-variants, nansum ... nanargmin, average, cov, corrcoef,
ptp. Written on sort, reductions and gathers: all differentiate, jit and vmap."""

from __future__ import annotations

import operator

import numpy as np

from jumba._src import dtypes
from jumba._src.core import get_aval
from jumba._src.lax import elementwise as ew
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.numpy.index_functions import diagonal, take_along_axis
from jumba._src.numpy.indexing import _as_operand
from jumba._src.numpy.sorting import sort

__all__ = [
    "quantile", "percentile", "median", "nanquantile", "nanpercentile", "nanmedian",
    "nansum", "nanprod", "nanmax", "nanmin", "nanargmax", "nanargmin", "nanmean", "nanvar",
    "nanstd", "average", "cov", "corrcoef", "ptp",
]

_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def _axes(axis, ndim, name):
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for ax in axes:
        ax = operator.index(ax)
        if not -ndim <= ax < ndim:
            raise ValueError(f"jumba.numpy.{name}: axis {ax} is out of bounds for an array "
                             f"of rank {ndim}")
        out.append(ax % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"jumba.numpy.{name}: repeated axis in {axis}")
    return tuple(out)


def _gather_last(a, axes):
    """`a` with `axes` moved to the end and merged into one (the others keep order)."""
    nd = get_aval(a).ndim
    rest = [i for i in range(nd) if i not in axes]
    a = jnp.transpose(a, rest + list(axes))
    shape = get_aval(a).shape
    return jnp.reshape(a, shape[:len(rest)] + (int(np.prod(shape[len(rest):])),)), rest


def _quantile(name, a, q, axis, method, keepdims, *, ignore_nan, percent):
    if method not in _METHODS:
        raise ValueError(f"jumba.numpy.{name}: method {method!r} is not supported; use one "
                         f"of {_METHODS} (as JAX)")
    a = _as_operand(a)
    a, = jnp.promote_dtypes_inexact(a)
    dt = get_aval(a).dtype
    q = jnp.asarray(q)
    q = jnp.astype(q, dt) if get_aval(q).dtype != dt else q
    if percent:
        q = jnp.divide(q, np.asarray(100, dt))
    shape = get_aval(a).shape
    axes = _axes(axis, len(shape), name)
    x, rest = _gather_last(a, axes)
    n = get_aval(x).shape[-1]
    if n == 0:
        raise ValueError(f"jumba.numpy.{name}: cannot take a quantile of an empty axis")
    x = sort(x, axis=-1)  # NaNs last
    nan = jnp.isnan(x)
    if ignore_nan:
        count = jnp.sum(jnp.logical_not(nan), axis=-1, keepdims=True)
    else:
        count = jnp.full(get_aval(x).shape[:-1] + (1,), n, dtypes.default_int_dtype())
    qs = jnp.reshape(q, get_aval(q).shape + (1,) * get_aval(x).ndim)
    pos = jnp.multiply(qs, jnp.astype(jnp.subtract(count, 1), dt))  # q.shape + batch + (1,)
    lo = jnp.clip(jnp.floor(pos), 0, n - 1)
    hi = jnp.clip(jnp.ceil(pos), 0, n - 1)
    idt = dtypes.default_int_dtype()
    xb = jnp.broadcast_to(x, get_aval(pos).shape[:-1] + (n,))

    def at(i):
        return take_along_axis(xb, jnp.astype(i, idt), -1)

    if method == "lower":
        out = at(lo)
    elif method == "higher":
        out = at(hi)
    elif method == "nearest":
        out = at(jnp.clip(jnp.round(pos), 0, n - 1))
    elif method == "midpoint":
        out = jnp.multiply(jnp.add(at(lo), at(hi)), np.asarray(0.5, dt))
    else:
        # JAX's weighting (an infinite neighbour gives NaN even at weight 0, as NumPy).
        w = jnp.subtract(pos, lo)
        out = jnp.add(jnp.multiply(at(lo), jnp.subtract(np.asarray(1, dt), w)),
                      jnp.multiply(at(hi), w))
    out = jnp.squeeze(out, -1)
    if not ignore_nan:
        out = jnp.where(jnp.any(nan, axis=-1), np.asarray(np.nan, dt), out)
    else:
        out = jnp.where(ew.eq(jnp.squeeze(count, -1), np.zeros((), get_aval(count).dtype)),
                        np.asarray(np.nan, dt), out)
    if keepdims:
        full = [1 if i in axes else s for i, s in enumerate(shape)]
        out = jnp.reshape(out, get_aval(q).shape + tuple(full))
    return out


def _quantile_fn(name, *, ignore_nan, percent):
    def fn(a, q, axis=None, out=None, overwrite_input=False, method="linear",
           keepdims=False, *, interpolation=None):
        if out is not None:
            raise TypeError(f"jumba.numpy.{name}: out= is not supported; use the return value")
        if interpolation is not None:
            raise TypeError(f"jumba.numpy.{name}: interpolation= was renamed; pass "
                            f"method={interpolation!r}")
        return _quantile(name, a, q, axis, method, keepdims, ignore_nan=ignore_nan,
                         percent=percent)

    fn.__name__ = fn.__qualname__ = name
    what = "percentile" if percent else "quantile"
    fn.__doc__ = (f"The q-th {what} along `axis`{' ignoring NaNs' if ignore_nan else ''}, as "
                  f"jax.numpy.{name}.\n\n    Args:\n      a: the data.\n      q: "
                  f"{what}(s) in [0, {100 if percent else 1}]; an array of them adds leading "
                  "axes.\n      axis: axis or axes (None: all).\n      method: 'linear', "
                  "'lower', 'higher', 'midpoint' or 'nearest'.\n      keepdims: keep reduced "
                  "axes with size 1.\n")
    return fn


quantile = _quantile_fn("quantile", ignore_nan=False, percent=False)
percentile = _quantile_fn("percentile", ignore_nan=False, percent=True)
nanquantile = _quantile_fn("nanquantile", ignore_nan=True, percent=False)
nanpercentile = _quantile_fn("nanpercentile", ignore_nan=True, percent=True)


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """Median along `axis` (NaN if the slice has a NaN)."""
    return quantile(a, 0.5, axis=axis, out=out, keepdims=keepdims, method="midpoint")


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """Median along `axis`, ignoring NaNs."""
    return nanquantile(a, 0.5, axis=axis, out=out, keepdims=keepdims, method="midpoint")


# ---------------------------------------------------------------------------------------
# NaN-ignoring reductions


def _is_float(a):
    return get_aval(a).dtype.kind in "fc"


def _replace_nan(a, value):
    if not _is_float(a):
        return a
    return jnp.where(jnp.isnan(a), np.asarray(value, get_aval(a).dtype), a)


def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """Sum treating NaNs as zero."""
    a = _as_operand(a)
    return jnp.sum(_replace_nan(a, 0), axis=axis, dtype=dtype, out=out, keepdims=keepdims,
                   initial=initial, where=where)


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """Product treating NaNs as one."""
    a = _as_operand(a)
    return jnp.prod(_replace_nan(a, 1), axis=axis, dtype=dtype, out=out, keepdims=keepdims,
                    initial=initial, where=where)


def _nan_extremum(name, reducer, fill):
    def fn(a, axis=None, out=None, keepdims=False, initial=None, where=None):
        a = _as_operand(a)
        if not _is_float(a):
            return reducer(a, axis=axis, out=out, keepdims=keepdims, initial=initial,
                           where=where)
        nan = jnp.isnan(a)
        res = reducer(_replace_nan(a, fill), axis=axis, keepdims=keepdims, initial=initial,
                      where=where)
        all_nan = jnp.all(nan if where is None else jnp.logical_or(
            nan, jnp.logical_not(where)), axis=axis, keepdims=keepdims)
        if initial is not None:
            return res
        return jnp.where(all_nan, np.asarray(np.nan, get_aval(a).dtype), res)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"{reducer.__name__} along `axis` ignoring NaNs (NaN if all are NaN)."
    return fn


nanmax = _nan_extremum("nanmax", jnp.max, -np.inf)
nanmin = _nan_extremum("nanmin", jnp.min, np.inf)


def _nan_arg(name, reducer, fill):
    def fn(a, axis=None, out=None, keepdims=None):
        a = _as_operand(a)
        if not _is_float(a):
            return reducer(a, axis=axis, keepdims=keepdims)
        nan = jnp.isnan(a)
        res = reducer(_replace_nan(a, fill), axis=axis, keepdims=keepdims)
        # As JAX: -1 where every value is NaN (NumPy raises).
        all_nan = jnp.all(nan, axis=axis, keepdims=bool(keepdims))
        return jnp.where(all_nan, np.asarray(-1, get_aval(res).dtype), res)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Index of the {name[5:]} ignoring NaNs (-1 where all are NaN, as JAX)."
    return fn


nanargmax = _nan_arg("nanargmax", jnp.argmax, -np.inf)
nanargmin = _nan_arg("nanargmin", jnp.argmin, np.inf)


def _not_nan(a, where):
    keep = jnp.logical_not(jnp.isnan(a)) if _is_float(a) else None
    if where is None:
        return keep
    return where if keep is None else jnp.logical_and(keep, where)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, where=None):
    """Mean of the non-NaN elements (NaN for an all-NaN slice)."""
    a = _as_operand(a)
    return jnp.mean(a, axis=axis, dtype=dtype, out=out, keepdims=keepdims,
                    where=_not_nan(a, where))


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None):
    """Variance of the non-NaN elements."""
    a = _as_operand(a)
    return jnp.var(a, axis=axis, dtype=dtype, out=out, ddof=ddof, keepdims=keepdims,
                   where=_not_nan(a, where))


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None):
    """Standard deviation of the non-NaN elements."""
    return jnp.sqrt(nanvar(a, axis, dtype, out, ddof, keepdims, where))


# ---------------------------------------------------------------------------------------
# Moments


def average(a, axis=None, weights=None, returned=False, keepdims=False):
    """Weighted mean along `axis`; with `returned`, also the sum of the weights.

    Args:
      a: the data.
      axis: axis or axes (None: all).
      weights: same shape as `a`, or 1-D along a single `axis`.
      returned: also return the sum of weights (broadcast like the average).
      keepdims: keep reduced axes with size 1.
    """
    a = _as_operand(a)
    if weights is None:
        avg = jnp.mean(a, axis=axis, keepdims=keepdims)
        if not returned:
            return avg
        n = get_aval(a).size // max(get_aval(avg).size, 1) if get_aval(a).size else 0
        return avg, jnp.full_like(avg, n)
    w = _as_operand(weights)
    a, w = jnp.promote_dtypes_inexact(a, w)
    sa, sw = get_aval(a).shape, get_aval(w).shape
    if sa != sw:
        if axis is None:
            raise ValueError("jumba.numpy.average: axis must be given when the shapes of a "
                             f"{sa} and weights {sw} differ")
        axes = _axes(axis, len(sa), "average")
        if len(sw) != 1 or len(axes) != 1 or sw[0] != sa[axes[0]]:
            raise ValueError(f"jumba.numpy.average: weights of shape {sw} need the shape of a "
                             f"{sa} or be 1-D with the length of axis {axis}")
        shape = [1] * len(sa)
        shape[axes[0]] = sw[0]
        w = jnp.reshape(w, tuple(shape))
    wsum = jnp.sum(jnp.broadcast_to(w, sa), axis=axis, keepdims=keepdims)
    avg = jnp.divide(jnp.sum(jnp.multiply(a, w), axis=axis, keepdims=keepdims), wsum)
    if returned:
        return avg, jnp.broadcast_to(wsum, get_aval(avg).shape)
    return avg


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None):
    """Covariance matrix of the variables in the rows (`rowvar`) or columns of `m`
    (and `y`), with optional frequency and analytic weights, as numpy.cov."""
    if ddof is not None and not isinstance(ddof, (int, np.integer)):
        raise TypeError("jumba.numpy.cov: ddof must be an integer")
    m = _as_operand(m)
    if get_aval(m).ndim > 2:
        raise ValueError(f"jumba.numpy.cov: m has more than 2 dimensions (shape "
                         f"{get_aval(m).shape})")
    x = jnp.atleast_2d(m)
    if not rowvar and get_aval(x).shape[0] != 1:
        x = jnp.transpose(x)
    if y is not None:
        yy = jnp.atleast_2d(_as_operand(y))
        if not rowvar and get_aval(yy).shape[0] != 1:
            yy = jnp.transpose(yy)
        x = jnp.concatenate(jnp.promote_dtypes(x, yy), axis=0)
    x, = jnp.promote_dtypes_inexact(x)
    dt = get_aval(x).dtype
    if ddof is None:
        ddof = 0 if bias else 1
    n = get_aval(x).shape[1]
    w = None
    if fweights is not None:
        w = jnp.astype(_as_operand(fweights), dt)
    if aweights is not None:
        aw = jnp.astype(_as_operand(aweights), dt)
        w = aw if w is None else jnp.multiply(w, aw)
    if w is None:
        avg = jnp.mean(x, axis=1)
        fact = np.asarray(n - ddof, dt)
    else:
        if get_aval(w).shape != (n,):
            raise ValueError(f"jumba.numpy.cov: weights must have shape ({n},), got "
                             f"{get_aval(w).shape}")
        avg, w_sum = average(x, axis=1, weights=w, returned=True)
        w_sum = w_sum[0]
        if ddof == 0:
            fact = w_sum
        elif aweights is None:
            fact = jnp.subtract(w_sum, ddof)
        else:
            aw = jnp.astype(_as_operand(aweights), dt)
            fact = jnp.subtract(w_sum, jnp.divide(jnp.multiply(
                ddof, jnp.sum(jnp.multiply(w, aw))), w_sum))
    xc = jnp.subtract(x, avg[:, None])
    wxc = xc if w is None else jnp.multiply(xc, w)
    c = jnp.divide(jnp.matmul(xc, jnp.transpose(wxc)), fact)
    return jnp.squeeze(c)


def corrcoef(x, y=None, rowvar=True):
    """Pearson correlation coefficients (the covariance normalised by the standard
    deviations), clipped to [-1, 1]."""
    c = cov(x, y, rowvar)
    if get_aval(c).ndim == 0:
        return jnp.divide(c, c)
    s = jnp.sqrt(diagonal(c))
    c = jnp.divide(jnp.divide(c, s[:, None]), s[None, :])
    return jnp.clip(c, -1, 1)


def ptp(a, axis=None, out=None, keepdims=False):
    """Range (maximum minus minimum) along `axis`."""
    a = _as_operand(a)
    return jnp.subtract(jnp.max(a, axis=axis, keepdims=keepdims),
                        jnp.min(a, axis=axis, keepdims=keepdims))
