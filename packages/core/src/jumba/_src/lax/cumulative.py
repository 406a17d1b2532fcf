"""Cumulative primitives along one axis: cumsum, cumprod, and the first-order linear
recurrence that differentiates cumprod (and reduce_prod) exactly, zeros included.

`linear_recurrence(a, b)` is h[i] = a[i] * h[i-1] + b[i] (h[-1] = 0), or with `reverse`
h[i] = a[i] * h[i+1] + b[i]. It is linear in `b`, and its derivative in `a` is another
recurrence, so every derivative of cumprod is a fixed number of primitives whatever the
axis length, and none divides (a product with a zero in it differentiates exactly).
"""

from __future__ import annotations

import numpy as np

from jumba._src import core
from jumba._src.core import Primitive, ShapedArray, get_aval
from jumba._src.interpreters import ad, batching
from jumba._src.interpreters.ad import Zero, is_undefined_primal
from jumba._src.lax import elementwise as ew
from jumba._src.lax import structural as st


def _check_axis(name, aval, axis):
    if not 0 <= axis < aval.ndim:
        raise ValueError(f"{name}: axis {axis} is out of bounds for an array of shape "
                         f"{aval.shape}")


def _axis_batcher(p):
    """Batch rule for a primitive with an `axis` parameter and same-shape operands."""
    def rule(size, vals, dims, *, axis, **params):
        vals = [batching.bdim_at_front(v, d, size) for v, d in zip(vals, dims)]
        return p.bind(*vals, axis=axis + 1, **params), 0

    batching.primitive_batchers[p] = rule


def _flip_if(x, axis, reverse):
    return np.flip(x, axis) if reverse else x


def _shift(x, axis, *, toward_end, fill):
    """x moved one step along `axis` (toward the end or the start), `fill` entering."""
    aval = get_aval(x)
    n = aval.shape[axis]
    edge_shape = tuple(1 if i == axis else s for i, s in enumerate(aval.shape))
    edge = st.broadcast_in_dim(np.asarray(fill, aval.dtype), edge_shape, ())
    if n <= 1:
        return st.broadcast_in_dim(np.asarray(fill, aval.dtype), aval.shape, ())
    start = [0] * aval.ndim
    limit = list(aval.shape)
    if toward_end:
        limit[axis] = n - 1
        return st.concatenate([edge, st.slice(x, start, limit)], axis)
    start[axis] = 1
    return st.concatenate([st.slice(x, start, limit), edge], axis)


# ---------------------------------------------------------------------------------------
# cumsum (linear)

cumsum_p = Primitive("cumsum")
cumsum_p.weak_type_rule = lambda w, **p: w


@cumsum_p.def_impl
def _cumsum_impl(x, *, axis, reverse):
    return _flip_if(np.cumsum(_flip_if(x, axis, reverse), axis, dtype=x.dtype), axis, reverse)


@cumsum_p.def_abstract_eval
def _cumsum_abstract_eval(x, *, axis, reverse):
    _check_axis("cumsum", x, axis)
    return x


ad.deflinear(cumsum_p, lambda ct, x, *, axis, reverse: [cumsum(ct, axis, not reverse)])
_axis_batcher(cumsum_p)

# ---------------------------------------------------------------------------------------
# linear_recurrence: h[i] = a[i] h[i-1] + b[i]

linear_recurrence_p = Primitive("linear_recurrence")
linear_recurrence_p.weak_type_rule = core.all_weak


@linear_recurrence_p.def_impl
def _linear_recurrence_impl(a, b, *, axis, reverse):
    a = np.moveaxis(_flip_if(a, axis, reverse), axis, 0)
    b = np.moveaxis(_flip_if(b, axis, reverse), axis, 0)
    h = np.empty_like(b)
    if len(b):
        h[0] = b[0]
        for i in range(1, len(b)):
            h[i] = a[i] * h[i - 1] + b[i]
    return _flip_if(np.moveaxis(h, 0, axis), axis, reverse)


@linear_recurrence_p.def_abstract_eval
def _linear_recurrence_abstract_eval(a, b, *, axis, reverse):
    if a.shape != b.shape or a.dtype != b.dtype:
        raise TypeError(f"linear_recurrence needs operands of one shape and dtype, got "
                        f"{a.str_short()} and {b.str_short()}")
    _check_axis("linear_recurrence", a, axis)
    return ShapedArray(b.shape, b.dtype, a.weak_type and b.weak_type)


def _linear_recurrence_jvp(primals, tangents, *, axis, reverse):
    (a, b), (da, db) = primals, tangents
    h = linear_recurrence(a, b, axis, reverse)
    # d h[i] = a[i] d h[i-1] + (da[i] h[i-1] + db[i]): the same recurrence.
    forcing = Zero(ad.tangent_aval(get_aval(h)))
    if type(da) is not Zero:
        forcing = ew.mul(da, _shift(h, axis, toward_end=not reverse, fill=0))
    if type(db) is not Zero:
        forcing = ad.add_tangents(forcing, db)
    if type(forcing) is Zero:
        return h, forcing
    return h, linear_recurrence(a, forcing, axis, reverse)


def _linear_recurrence_transpose(ct, a, b, *, axis, reverse):
    if is_undefined_primal(a) or not is_undefined_primal(b):
        raise ValueError("linear_recurrence is linear in its second operand only")
    if type(ct) is Zero:
        return [None, None]
    # The adjoint runs the other way with the coefficients moved by one step.
    a_adj = _shift(a, axis, toward_end=reverse, fill=0)
    return [None, linear_recurrence(a_adj, ct, axis, not reverse)]


ad.primitive_jvps[linear_recurrence_p] = _linear_recurrence_jvp
ad.primitive_transposes[linear_recurrence_p] = _linear_recurrence_transpose
_axis_batcher(linear_recurrence_p)

# ---------------------------------------------------------------------------------------
# cumprod

cumprod_p = Primitive("cumprod")
cumprod_p.weak_type_rule = lambda w, **p: w


@cumprod_p.def_impl
def _cumprod_impl(x, *, axis, reverse):
    return _flip_if(np.cumprod(_flip_if(x, axis, reverse), axis, dtype=x.dtype), axis,
                    reverse)


@cumprod_p.def_abstract_eval
def _cumprod_abstract_eval(x, *, axis, reverse):
    _check_axis("cumprod", x, axis)
    return x


def exclusive_cumprod(x, axis, reverse=False):
    """Products of the entries strictly before (after, with `reverse`) each position."""
    return _shift(cumprod(x, axis, reverse), axis, toward_end=not reverse, fill=1)


def _cumprod_jvp(primals, tangents, *, axis, reverse):
    (x,), (t,) = primals, tangents
    y = cumprod(x, axis, reverse)
    # d y[i] = x[i] d y[i-1] + t[i] * prod(x[:i]).
    return y, linear_recurrence(x, ew.mul(t, exclusive_cumprod(x, axis, reverse)), axis,
                                reverse)


ad.primitive_jvps[cumprod_p] = _cumprod_jvp
_axis_batcher(cumprod_p)

# ---------------------------------------------------------------------------------------
# Functions


def cumsum(x, axis: int, reverse: bool = False):
    return cumsum_p.bind(x, axis=int(axis), reverse=bool(reverse))


def cumprod(x, axis: int, reverse: bool = False):
    return cumprod_p.bind(x, axis=int(axis), reverse=bool(reverse))


def linear_recurrence(a, b, axis: int, reverse: bool = False):
    return linear_recurrence_p.bind(a, b, axis=int(axis), reverse=bool(reverse))
