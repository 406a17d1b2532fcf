"""jumba.numpy's reductions: sum, prod, mean, var, std, max, min, argmax, any, all, ..."""

from __future__ import annotations

import builtins

import numpy as np

from jumba._src import dtypes
from jumba._src.core import get_aval
from jumba._src.lax import elementwise as ew
from jumba._src.lax import reductions as red
from jumba._src.lax import structural as st
from jumba._src.numpy.elementwise_functions import (  # noqa: F401
    _as_bool,
    multiply,
    sqrt,
    subtract,
)
from jumba._src.numpy.lax_numpy import (  # noqa: F401
    _canon_axes,
    _is_array,
    asarray,
)
from jumba._src.numpy.shape_functions import (  # noqa: F401
    broadcast_to,
    ravel,
)


def _keepdims(y, in_shape, axes):
    return st.reshape(y, tuple(1 if i in axes else s for i, s in enumerate(in_shape)))


def _reduction(name, prim_fn, *, upcast_bool_int=False, identity=None, bool_out=False):
    def reduce(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None,
               promote_integers=True):
        if out is not None:
            raise NotImplementedError(f"{name}: the out= argument is not supported (arrays "
                                      "are immutable); use the return value.")
        a = asarray(a) if not _is_array(a) else a
        aval = get_aval(a)
        axes = _canon_axes(axis, aval.ndim, name)
        if bool_out:
            a = _as_bool(a)
        elif dtype is not None:
            a = st.convert_element_type(a, dtypes.canonicalize_dtype(np.dtype(dtype)))
        elif upcast_bool_int and (aval.dtype == np.bool_ or (
                aval.dtype.kind in "iu" and aval.dtype.itemsize < 4)):
            a = st.convert_element_type(a, dtypes.default_int_dtype() if aval.dtype.kind != "u"
                                        or aval.dtype == np.bool_ else dtypes.default_uint_dtype())
        if where is not None:
            if identity is None:
                if initial is None:
                    raise ValueError(f"{name}: reduction with where= needs an initial value")
                ident = initial
            else:
                ident = identity(get_aval(a).dtype)
            a = _where_fill(where, a, ident)
        y = prim_fn(a, axes)
        if initial is not None and identity is not None and not bool_out:
            y = _combine_initial(name, y, initial)
        elif initial is not None and identity is None:
            y = _combine_initial(name, y, initial)
        if keepdims:
            y = _keepdims(y, aval.shape, axes)
        return y

    reduce.__name__ = name
    reduce.__doc__ = f"{name} over `axis` (None: all axes), NumPy's signature."
    return reduce


def _where_fill(where, a, fill):
    where = _as_bool(where)
    fill = np.asarray(fill, get_aval(a).dtype)
    b = broadcast_to(where, np.broadcast_shapes(get_aval(where).shape, get_aval(a).shape))
    a = broadcast_to(a, get_aval(b).shape)
    return ew.select_n(b, fill, a)


def _combine_initial(name, y, initial):
    init = np.asarray(initial, get_aval(y).dtype)
    if name in ("sum",):
        return ew.add(y, init)
    if name == "prod":
        return ew.mul(y, init)
    if name in ("max", "amax"):
        return ew.max(y, init)
    if name in ("min", "amin"):
        return ew.min(y, init)
    return y


def _red_identity(value):
    def ident(dt):
        if value == "min":
            return -np.inf if dt.kind == "f" else (np.iinfo(dt).min if dt.kind in "iu" else
                                                   False)
        if value == "max":
            return np.inf if dt.kind == "f" else (np.iinfo(dt).max if dt.kind in "iu" else
                                                  True)
        return value

    return ident


sum = _reduction("sum", red.reduce_sum, upcast_bool_int=True, identity=_red_identity(0))  # noqa: A001
prod = _reduction("prod", red.reduce_prod, upcast_bool_int=True, identity=_red_identity(1))
max = amax = _reduction("max", red.reduce_max, identity=None)  # noqa: A001
min = amin = _reduction("min", red.reduce_min, identity=None)  # noqa: A001
all = _reduction("all", red.reduce_and, identity=_red_identity(True), bool_out=True)  # noqa: A001
any = _reduction("any", red.reduce_or, identity=_red_identity(False), bool_out=True)  # noqa: A001


def _wrap_maxmin_where(fn, kind):
    def wrapped(a, axis=None, out=None, keepdims=False, initial=None, where=None):
        if where is not None and initial is None:
            raise ValueError(f"reduction operation '{kind}' with where= needs an initial "
                             "value (as NumPy)")
        if where is not None:
            a = _where_fill(where, asarray(a), initial)
        a_ = asarray(a) if not _is_array(a) else a
        shape_ = get_aval(a_).shape
        reduced = _canon_axes(axis, len(shape_), kind)
        if initial is None and builtins.any(shape_[i] == 0 for i in reduced) or (
                initial is None and axis is None and get_aval(a_).size == 0):
            raise ValueError(f"zero-size array to reduction operation {kind} which has no "
                             "identity; pass initial=")
        return fn(a_, axis=axis, keepdims=keepdims, initial=initial)

    wrapped.__name__ = kind
    return wrapped


max = amax = _wrap_maxmin_where(max, "max")  # noqa: A001
min = amin = _wrap_maxmin_where(min, "min")  # noqa: A001


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    a = asarray(a) if not _is_array(a) else a
    aval = get_aval(a)
    axes = _canon_axes(axis, aval.ndim, "mean")
    dt = dtypes.canonicalize_dtype(np.dtype(dtype)) if dtype is not None else (
        aval.dtype if dtypes.is_inexact(aval.dtype) else dtypes.default_float_dtype())
    a = st.convert_element_type(a, dt, aval.weak_type and dtype is None)
    if where is None:
        n = int(np.prod([aval.shape[i] for i in axes], dtype=np.int64))
        total = sum(a, axis=axes, keepdims=keepdims)
        return ew.div(total, np.asarray(n, dt))
    w = _as_bool(where)
    total = sum(a, axis=axes, keepdims=keepdims, where=w)
    count = sum(broadcast_to(st.convert_element_type(w, dt), aval.shape), axis=axes,
                keepdims=keepdims)
    return ew.div(total, count)


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
        correction=None):
    if correction is not None:
        ddof = correction
    a = asarray(a) if not _is_array(a) else a
    aval = get_aval(a)
    axes = _canon_axes(axis, aval.ndim, "var")
    dt = dtypes.canonicalize_dtype(np.dtype(dtype)) if dtype is not None else (
        aval.dtype if dtypes.is_inexact(aval.dtype) else dtypes.default_float_dtype())
    a = st.convert_element_type(a, dt, aval.weak_type and dtype is None)
    centered = subtract(a, mean(a, axis=axes, keepdims=True, where=where))
    sq = multiply(centered, centered)
    if where is None:
        n = int(np.prod([aval.shape[i] for i in axes], dtype=np.int64))
        return ew.div(sum(sq, axis=axes, keepdims=keepdims), np.asarray(n - ddof, dt))
    w = _as_bool(where)
    count = sum(broadcast_to(st.convert_element_type(w, dt), aval.shape), axis=axes,
                keepdims=keepdims)
    return ew.div(sum(sq, axis=axes, keepdims=keepdims, where=w),
                  ew.sub(count, np.asarray(ddof, dt)))


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
        correction=None):
    return sqrt(var(a, axis, dtype, out, ddof, keepdims, where=where, correction=correction))


def _arg_reduction(name, prim_fn):
    def fn(a, axis=None, out=None, keepdims=False):
        a = asarray(a) if not _is_array(a) else a
        aval = get_aval(a)
        if aval.size == 0:
            raise ValueError(f"attempt to get {name} of an empty sequence")
        if axis is None:
            y = prim_fn(ravel(a), 0)
            return st.reshape(y, (1,) * aval.ndim) if keepdims else y
        (ax,) = _canon_axes(axis, aval.ndim, name)
        y = prim_fn(a, ax)
        return _keepdims(y, aval.shape, (ax,)) if keepdims else y

    fn.__name__ = name
    return fn


argmax = _arg_reduction("argmax", red.argmax)
argmin = _arg_reduction("argmin", red.argmin)
