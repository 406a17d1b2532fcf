"""Cumulative maximum, minimum and log-sum-exp along one axis (as jax.lax.cummax, cummin,
cumlogsumexp), each one primitive without an associative scan.

Derivatives: a running extremum passes on the tangent of the element that attains it (the
latest position where the element equals the running extremum - for ties, the latest), a
gather; cumlogsumexp's derivative is the first-order recurrence
dy[i] = exp(y[i-1] - y[i]) dy[i-1] + exp(x[i] - y[i]) dx[i], whose coefficients are at most
1, so it stays finite where exp(x) would overflow.
"""

from __future__ import annotations

import numpy as np

from jumba._src.core import Primitive, get_aval
from jumba._src.interpreters import ad
from jumba._src.lax import cumulative as cu
from jumba._src.lax import elementwise as ew
from jumba._src.lax import structural as st


def _flip_if(x, axis, reverse):
    return np.flip(x, axis) if reverse else x


def _cumulative(name, accumulate):
    p = Primitive(name)
    p.weak_type_rule = lambda w, **params: w

    @p.def_impl
    def _impl(x, *, axis, reverse):
        return _flip_if(accumulate(_flip_if(x, axis, reverse), axis=axis).astype(x.dtype),
                        axis, reverse)

    @p.def_abstract_eval
    def _abstract_eval(x, *, axis, reverse):
        cu._check_axis(name, x, axis)
        return x

    cu._axis_batcher(p)
    return p


def _iota_along(aval, axis, dtype):
    return st.broadcast_in_dim(np.arange(aval.shape[axis], dtype=dtype), aval.shape, (axis,))


def _extremum_jvp(p, int_running):
    def jvp(primals, tangents, *, axis, reverse):
        (x,), (t,) = primals, tangents
        y = p.bind(x, axis=axis, reverse=reverse)
        aval = get_aval(x)
        n = aval.shape[axis]
        if n == 0 or type(t) is ad.Zero:
            return y, ad.Zero(ad.tangent_aval(aval)) if type(t) is ad.Zero else t
        dt = np.int32 if n < 2**31 else np.int64
        # Positions where x sets the running extremum; the running latest such position is
        # where y[i] comes from (forward: a running max of the position, reverse: a min).
        pos = _iota_along(aval, axis, dt)
        sets = ew.eq(x, y)
        none = np.asarray(-1 if not reverse else n, dt)
        marked = ew.select_n(sets, st.broadcast_in_dim(none, aval.shape, ()), pos)
        src = int_running(marked, axis, reverse)
        return y, _take_along(t, src, axis)

    ad.primitive_jvps[p] = jvp


def _take_along(t, idx, axis):
    from jumba._src.numpy.index_functions import take_along_axis

    return take_along_axis(t, idx, axis)


cummax_p = _cumulative("cummax", np.maximum.accumulate)
cummin_p = _cumulative("cummin", np.minimum.accumulate)


def _int_running_latest(marked, axis, reverse):
    # Forward: the largest marked position so far; reverse: the smallest from the end.
    return (cummin if reverse else cummax)(marked, axis, reverse)


_extremum_jvp(cummax_p, _int_running_latest)
_extremum_jvp(cummin_p, _int_running_latest)

# ---------------------------------------------------------------------------------------
# cumlogsumexp

cumlogsumexp_p = _cumulative("cumlogsumexp", np.logaddexp.accumulate)


def _cumlogsumexp_jvp(primals, tangents, *, axis, reverse):
    (x,), (t,) = primals, tangents
    y = cumlogsumexp(x, axis, reverse)
    if type(t) is ad.Zero:
        return y, t
    prev = cu._shift(y, axis, toward_end=not reverse, fill=-np.inf)
    # Where y is -inf (all of x so far -inf) the coefficients are 0/0: no contribution.
    finite = ew.is_finite(y)
    zero = st.broadcast_in_dim(np.zeros((), get_aval(y).dtype), get_aval(y).shape, ())
    a = ew.select_n(finite, zero, ew.exp(ew.sub(prev, y)))
    b = ew.select_n(finite, zero, ew.exp(ew.sub(x, y)))
    return y, cu.linear_recurrence(a, ew.mul(b, t), axis, reverse)


ad.primitive_jvps[cumlogsumexp_p] = _cumlogsumexp_jvp

# ---------------------------------------------------------------------------------------
# Functions


def _bind(p, operand, axis, reverse):
    ndim = get_aval(operand).ndim
    axis = int(axis)
    if not -ndim <= axis < max(ndim, 1):
        raise ValueError(f"{p.name}: axis {axis} is out of bounds for an operand of rank "
                         f"{ndim}")
    return p.bind(operand, axis=axis % max(ndim, 1), reverse=bool(reverse))


def cummax(operand, axis: int = 0, reverse: bool = False):
    """Running maximum along `axis` (from the end with `reverse`), as jax.lax.cummax."""
    return _bind(cummax_p, operand, axis, reverse)


def cummin(operand, axis: int = 0, reverse: bool = False):
    """Running minimum along `axis` (from the end with `reverse`), as jax.lax.cummin."""
    return _bind(cummin_p, operand, axis, reverse)


def cumlogsumexp(operand, axis: int = 0, reverse: bool = False):
    """Running log(sum(exp(x))) along `axis`, computed stably, as jax.lax.cumlogsumexp."""
    if get_aval(operand).dtype.kind != "f":
        raise TypeError(f"cumlogsumexp needs a floating-point operand, got "
                        f"{get_aval(operand).str_short()}; convert it with .astype(float)")
    return _bind(cumlogsumexp_p, operand, axis, reverse)


def cumsum(operand, axis: int = 0, reverse: bool = False):
    """Running sum along `axis` (from the end with `reverse`), as jax.lax.cumsum."""
    return _bind(cu.cumsum_p, operand, axis, reverse)


def cumprod(operand, axis: int = 0, reverse: bool = False):
    """Running product along `axis` (from the end with `reverse`), as jax.lax.cumprod."""
    return _bind(cu.cumprod_p, operand, axis, reverse)
