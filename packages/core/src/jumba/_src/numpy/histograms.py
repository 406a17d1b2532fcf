"""jumba.numpy's binning: bincount, digitize, histogram, histogram_bin_edges, histogram2d,
histogramdd. Counts are scatter-adds into a static number of bins, so all of them jit and
vmap; weights (and bin edges given as arrays) differentiate."""

from __future__ import annotations

import builtins
import operator

import numpy as np

from jumba._src import core, dtypes
from jumba._src.core import get_aval
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.numpy.indexing import _as_operand, _concrete
from jumba._src.numpy.sorting_searching import searchsorted

__all__ = ["bincount", "digitize", "histogram", "histogram_bin_edges", "histogram2d",
           "histogramdd"]


def bincount(x, weights=None, minlength: int = 0, *, length: int | None = None):
    """Number of occurrences (or summed weights) of each value of the non-negative ints `x`.

    Args:
      x: 1-D non-negative integers.
      weights: optional weights, same shape as `x`.
      minlength: minimum number of bins.
      length: the number of bins (static; required under jit). Values >= length are
        dropped.

    Returns:
      Counts (int) or summed weights, of length `length` (or max(x) + 1, at least
      `minlength`).
    """
    x = _as_operand(x)
    if get_aval(x).dtype.kind not in "iub":
        raise TypeError(f"jumba.numpy.bincount: x must be an integer array, got "
                        f"{get_aval(x).str_short()}")
    if get_aval(x).ndim != 1:
        raise ValueError(f"jumba.numpy.bincount: x must be 1-D, got shape {get_aval(x).shape}")
    minlength = core.concrete_or_error(minlength, "jumba.numpy.bincount minlength")
    minlength = operator.index(minlength[()] if isinstance(minlength, np.ndarray) else
                               minlength)
    if length is None:
        v = _concrete(x)
        if v is None:
            raise core.ConcretizationTypeError(
                f"bincount of a traced array {get_aval(x).str_short()}: the number of bins "
                "depends on the values. Pass length=N, e.g. jnp.bincount(x, length=N).")
        length = max(minlength, int(v.max()) + 1 if v.size else 0)
    length = operator.index(length)
    if weights is None:
        upd = jnp.ones(get_aval(x).shape, dtypes.default_int_dtype())
    else:
        upd = _as_operand(weights)
        if get_aval(upd).shape != get_aval(x).shape:
            raise ValueError(f"jumba.numpy.bincount: weights shape {get_aval(upd).shape} must "
                             f"match x shape {get_aval(x).shape}")
        if get_aval(upd).dtype == np.bool_:
            upd = jnp.astype(upd, dtypes.default_int_dtype())
    zero = jnp.zeros((length,), get_aval(upd).dtype)
    # Negative values are dropped too (NumPy raises; JAX clips them out of range).
    idx = jnp.where(jnp.less(x, 0), length, x)
    return zero.at[idx].add(upd, mode="drop")


def digitize(x, bins, right: bool = False, *, method: str | None = None):
    """Index of the bin of each value of `x` (`bins` monotonic, increasing or decreasing)."""
    x, bins = _as_operand(x), _as_operand(bins)
    if get_aval(bins).ndim != 1:
        raise ValueError(f"jumba.numpy.digitize: bins must be 1-D, got shape "
                         f"{get_aval(bins).shape}")
    n = get_aval(bins).shape[0]
    if n == 0:
        return jnp.zeros(get_aval(x).shape, dtypes.default_int_dtype())
    side = "left" if right else "right"
    kw = {} if method is None else {"method": method}
    up = searchsorted(bins, x, side=side, **kw)
    down = jnp.subtract(n, searchsorted(jnp.flip(bins), x, side=side, **kw))
    return jnp.where(jnp.greater_equal(bins[-1], bins[0]), up, jnp.astype(down, get_aval(
        up).dtype))


def _range(a, range_):
    if range_ is None:
        if get_aval(a).size == 0:
            return jnp.asarray(0.0, get_aval(a).dtype), jnp.asarray(1.0, get_aval(a).dtype)
        lo, hi = jnp.min(a), jnp.max(a)
    else:
        if len(range_) != 2:
            raise ValueError(f"jumba.numpy.histogram: range must be a pair (min, max), got "
                             f"{range_!r}")
        lo, hi = (jnp.asarray(r, get_aval(a).dtype) for r in range_)
    # A degenerate range widens by 0.5 on both sides (as NumPy).
    same = jnp.equal(lo, hi)
    return jnp.where(same, jnp.subtract(lo, 0.5), lo), jnp.where(same, jnp.add(hi, 0.5), hi)


def histogram_bin_edges(a, bins=10, range=None, weights=None):  # noqa: A002
    """The edges of the bins `histogram` would use."""
    a = jnp.ravel(_as_operand(a))
    a, = jnp.promote_dtypes_inexact(a)
    if isinstance(bins, str):
        raise NotImplementedError("jumba.numpy.histogram: string bin estimators ('auto', "
                                  "...) are not supported (as JAX); pass a bin count")
    if np.ndim(bins) == 1 or (not isinstance(bins, (int, np.integer)) and
                              get_aval(_as_operand(bins)).ndim == 1):
        edges = _as_operand(bins)
        return jnp.astype(edges, get_aval(a).dtype) if get_aval(edges).dtype.kind != "f" \
            else edges
    bins = operator.index(bins)
    if bins < 1:
        raise ValueError(f"jumba.numpy.histogram: bins must be positive, got {bins}")
    lo, hi = _range(a, range)
    return jnp.linspace(lo, hi, bins + 1)


def _bin_index(a, edges):
    """Bin of each value in [0, nbins), or nbins when outside; the last edge is inclusive."""
    nb = get_aval(edges).shape[0] - 1
    idx = jnp.subtract(searchsorted(edges, a, side="right"), 1)
    idx = jnp.where(jnp.equal(a, edges[-1]), nb - 1, idx)
    return jnp.where(jnp.logical_or(jnp.less(idx, 0), jnp.greater_equal(idx, nb)), nb, idx)


def histogram(a, bins=10, range=None, weights=None, density=None):  # noqa: A002
    """Histogram of `a` (flattened): `(counts, bin_edges)`.

    Args:
      a: the data.
      bins: number of equal-width bins in `range`, or the monotonically increasing edges.
      range: (min, max) of the bins; default the data's range.
      weights: per-value weights (same shape as `a`).
      density: normalise to a probability density.
    """
    a = _as_operand(a)
    edges = histogram_bin_edges(a, bins, range, weights)
    flat = jnp.ravel(a)
    flat, edges = jnp.promote_dtypes_inexact(flat, edges)
    nb = get_aval(edges).shape[0] - 1
    w = None if weights is None else jnp.ravel(_as_operand(weights))
    if w is not None and get_aval(w).shape != get_aval(flat).shape:
        raise ValueError(f"jumba.numpy.histogram: weights must have the shape of a "
                         f"{get_aval(a).shape}, got {get_aval(_as_operand(weights)).shape}")
    upd = jnp.ones(get_aval(flat).shape, get_aval(flat).dtype) if w is None else w
    counts = jnp.zeros((nb,), get_aval(upd).dtype).at[_bin_index(flat, edges)].add(
        upd, mode="drop")
    if density:
        widths = jnp.subtract(edges[1:], edges[:-1])
        counts = jnp.divide(jnp.divide(counts, jnp.sum(counts)), widths)
    return counts, edges


def histogramdd(sample, bins=10, range=None, weights=None, density=None):  # noqa: A002
    """Multidimensional histogram of `sample` (N points x D dims): `(counts, edges)`."""
    sample = _as_operand(sample)
    if get_aval(sample).ndim != 2:
        raise ValueError(f"jumba.numpy.histogramdd: sample must be 2-D (N, D), got shape "
                         f"{get_aval(sample).shape}")
    sample, = jnp.promote_dtypes_inexact(sample)
    n, d = get_aval(sample).shape
    bins_list = list(bins) if isinstance(bins, (list, tuple)) else [bins] * d
    if len(bins_list) != d:
        raise ValueError(f"jumba.numpy.histogramdd: got {len(bins_list)} bin specs for "
                         f"{d} dimensions")
    ranges = list(range) if range is not None else [None] * d
    edges, flat, bad, sizes = [], None, None, []
    for i in builtins.range(d):
        col = sample[:, i]
        e = histogram_bin_edges(col, bins_list[i], ranges[i])
        e = jnp.astype(e, get_aval(sample).dtype)
        nb = get_aval(e).shape[0] - 1
        idx = _bin_index(col, e)
        out = jnp.equal(idx, nb)
        idx = jnp.where(out, 0, idx)
        bad = out if bad is None else jnp.logical_or(bad, out)
        flat = idx if flat is None else jnp.add(jnp.multiply(flat, nb), idx)
        edges.append(e)
        sizes.append(nb)
    total = int(np.prod(sizes))
    flat = jnp.where(bad, total, flat)
    upd = jnp.ones((n,), get_aval(sample).dtype) if weights is None else _as_operand(weights)
    counts = jnp.zeros((total,), get_aval(upd).dtype).at[flat].add(upd, mode="drop")
    counts = jnp.reshape(counts, tuple(sizes))
    if density:
        counts = jnp.divide(counts, jnp.sum(counts))
        for i, e in enumerate(edges):
            shape = [1] * d
            shape[i] = sizes[i]
            counts = jnp.divide(counts, jnp.reshape(jnp.subtract(e[1:], e[:-1]), tuple(shape)))
    return counts, edges


def histogram2d(x, y, bins=10, range=None, weights=None, density=None):  # noqa: A002
    """2-D histogram of the points (x, y): `(counts, xedges, yedges)`."""
    x, y = _as_operand(x), _as_operand(y)
    x, y = jnp.promote_dtypes_inexact(x, y)
    if isinstance(bins, (int, np.integer)) or (not isinstance(bins, (list, tuple)) and
                                               np.ndim(bins) == 1):
        bins = [bins, bins]
    counts, edges = histogramdd(jnp.stack([x, y], axis=1), bins, range, weights, density)
    return counts, edges[0], edges[1]
