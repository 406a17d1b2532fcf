"""Windowed reductions: `reduce_window_sum`, `reduce_window_max`, `reduce_window_min`
(pooling), and the generic `lax.reduce_window` over any binary computation.

Each output element reduces one window of the operand, after the operand is dilated
(`base_dilation`, holes filled with the reduction's identity) and padded with the identity.
The NumPy implementation folds the window offset by offset over strided views (one
vectorised pass per window element, cache-friendly for pooling windows); large windows
reduce a zero-copy window view instead.

Derivatives: the sum is linear; its transpose is a windowed sum of the padded, dilated
cotangent (the all-ones kernel is symmetric, so no flip). The max/min JVP picks the tangent
at the location of the chosen element (the first one on ties), by the same fold over
window offsets written with `select_n`, so it is linear in the tangent and transposes to a
scatter of the cotangent onto the argmax locations. Windows that tile the operand (pooling
with stride = window, no padding) take a cheaper form of the same rule: a reshape puts each
window on its own axes and a one-hot mask of the first extremum selects the tangent, so the
backward pass is one broadcast-and-select instead of one padded copy per window element.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from jumba._src.core import Primitive, ShapedArray, get_aval
from jumba._src.interpreters import ad, batching

_FOLD_LIMIT = 32  # windows with more elements reduce a window view instead of folding


def _dilate_dim(n, d):
    return 0 if n == 0 else 1 + d * (n - 1)


def reduce_window_shape_tuple(operand_shape, window_dimensions, window_strides, padding,
                              base_dilation=None, window_dilation=None):
    """The output shape of a windowed reduction (as `jax.lax.reduce_window_shape_tuple`)."""
    nd = len(operand_shape)
    base_dilation = base_dilation or (1,) * nd
    window_dilation = window_dilation or (1,) * nd
    out = []
    for n, w, s, (lo, hi), bd, wd in zip(operand_shape, window_dimensions, window_strides,
                                         padding, base_dilation, window_dilation):
        span = _dilate_dim(n, bd) + lo + hi - _dilate_dim(w, wd)
        out.append(span // s + 1 if span >= 0 else 0)
    return tuple(out)


def _identity(kind, dtype):
    dtype = np.dtype(dtype)
    if kind == "sum":
        return np.zeros((), dtype)
    if dtype.kind == "f":
        return np.asarray(-np.inf if kind == "max" else np.inf, dtype)
    if dtype == np.bool_:
        return np.asarray(kind == "min")
    info = np.iinfo(dtype)
    return np.asarray(info.min if kind == "max" else info.max, dtype)


def _dilate_pad(x, fill, base_dilation, padding):
    if all(d == 1 for d in base_dilation) and all(p == (0, 0) for p in padding):
        return x
    full, place, crop = [], [], []
    for n, d, (lo, hi) in zip(x.shape, base_dilation, padding):
        m = _dilate_dim(n, d)
        size = max(lo, 0) + m + max(hi, 0)
        full.append(size)
        place.append(slice(max(lo, 0), max(lo, 0) + m, d))
        crop.append(slice(max(-lo, 0), max(max(-lo, 0), size - max(-hi, 0))))
    out = np.full(full, fill, x.dtype)
    out[tuple(place)] = x
    return out[tuple(crop)]


_NP_REDUCE = {"sum": (np.add, np.sum), "max": (np.maximum, np.max), "min": (np.minimum, np.min)}


def _reduce_window_impl(kind, x, *, window_dimensions, window_strides, padding, base_dilation,
                        window_dilation):
    ident = _identity(kind, x.dtype)
    acc_dtype = x.dtype
    if kind == "sum" and x.dtype == np.bool_:
        acc_dtype = np.bool_
    xp = _dilate_pad(x, ident, base_dilation, padding)
    out_shape = reduce_window_shape_tuple(xp.shape, window_dimensions, window_strides,
                                          [(0, 0)] * x.ndim, None, window_dilation)
    combine, reduce = _NP_REDUCE[kind]
    if 0 in out_shape:
        return np.zeros(out_shape, acc_dtype)
    if math.prod(window_dimensions) > _FOLD_LIMIT:
        view = as_strided(xp, (*out_shape, *window_dimensions),
                          (*(t * s for t, s in zip(xp.strides, window_strides)),
                           *(t * d for t, d in zip(xp.strides, window_dilation))),
                          writeable=False)
        axes = tuple(range(x.ndim, 2 * x.ndim))
        return reduce(view, axis=axes).astype(acc_dtype, copy=False)
    out = None
    for offset in np.ndindex(*window_dimensions):
        sl = tuple(slice(o * d, o * d + (n - 1) * s + 1, s) for o, d, n, s in
                   zip(offset, window_dilation, out_shape, window_strides))
        if out is None:
            out = np.array(xp[sl], dtype=acc_dtype)
        else:
            combine(out, xp[sl], out=out)
    if out is None:  # an empty window: every output is the identity
        out = np.full(out_shape, ident, acc_dtype)
    return out


def _reduce_window_abstract_eval(name):
    def rule(x, *, window_dimensions, window_strides, padding, base_dilation,
             window_dilation):
        nd = x.ndim
        for what, v in (("window_dimensions", window_dimensions),
                        ("window_strides", window_strides), ("padding", padding),
                        ("base_dilation", base_dilation),
                        ("window_dilation", window_dilation)):
            if len(v) != nd:
                raise TypeError(f"{name}: {what} {tuple(v)} needs one entry per axis of the "
                                f"operand (shape {x.shape})")
        if any(v < 1 for v in (*window_strides, *base_dilation, *window_dilation)) or \
                any(w < 0 for w in window_dimensions):
            raise TypeError(f"{name}: window dimensions must be >= 0 and strides and "
                            f"dilations >= 1, got {window_dimensions}, {window_strides}, "
                            f"{base_dilation}, {window_dilation}")
        shape = reduce_window_shape_tuple(x.shape, window_dimensions, window_strides, padding,
                                          base_dilation, window_dilation)
        return ShapedArray(shape, x.dtype, x.weak_type)

    return rule


def _reduce_window_batch(p):
    def rule(size, vals, dims, *, window_dimensions, window_strides, padding, base_dilation,
             window_dilation):
        (x,), (d,) = vals, dims

        def ins(t, v):
            return (*t[:d], v, *t[d:])

        return p.bind(x, window_dimensions=ins(window_dimensions, 1),
                      window_strides=ins(window_strides, 1), padding=ins(padding, (0, 0)),
                      base_dilation=ins(base_dilation, 1),
                      window_dilation=ins(window_dilation, 1)), d

    return rule


def _declare(kind):
    p = Primitive(f"reduce_window_{kind}")
    p.def_impl(lambda x, **params: _reduce_window_impl(kind, x, **params))
    p.def_abstract_eval(_reduce_window_abstract_eval(p.name))
    p.weak_type_rule = lambda w, **params: w
    batching.primitive_batchers[p] = _reduce_window_batch(p)
    return p


# ---------------------------------------------------------------------------------------
# Sum: linear


reduce_window_sum_p = _declare("sum")


def _reduce_window_sum_transpose(ct, x, *, window_dimensions, window_strides, padding,
                                 base_dilation, window_dilation):
    from jumba._src.lax.structural import pad

    in_shape = x.aval.shape
    ct_shape = get_aval(ct).shape
    config = []
    for n, w, s, (lo, _), bd, wd, o in zip(in_shape, window_dimensions, window_strides,
                                           padding, base_dilation, window_dilation, ct_shape):
        k = _dilate_dim(w, wd)
        before = k - lo - 1
        after = _dilate_dim(n, bd) + k - 1 - _dilate_dim(o, s) - before
        config.append((before, after, s - 1))
    padded = pad(ct, np.zeros((), get_aval(ct).dtype), config)
    nd = len(in_shape)
    out = reduce_window_sum_p.bind(padded, window_dimensions=window_dimensions,
                                   window_strides=base_dilation, padding=((0, 0),) * nd,
                                   base_dilation=(1,) * nd, window_dilation=window_dilation)
    return [out]


ad.deflinear(reduce_window_sum_p, _reduce_window_sum_transpose)


# ---------------------------------------------------------------------------------------
# Max and min: the tangent of the chosen element


reduce_window_max_p = _declare("max")
reduce_window_min_p = _declare("min")


def _window_slices(x, fill, *, window_dimensions, window_strides, padding, base_dilation,
                   window_dilation, out_shape):
    """For each window offset, the strided slice of the dilated, padded `x` (traceable)."""
    from jumba._src.lax.structural import pad, slice

    if 0 in out_shape:
        return  # no windows: an empty result
    config = [(lo, hi, bd - 1) for (lo, hi), bd in zip(padding, base_dilation)]
    xp = pad(x, fill, config) if any(c != (0, 0, 0) for c in config) else x
    for offset in np.ndindex(*window_dimensions):
        starts = tuple(o * d for o, d in zip(offset, window_dilation))
        limits = tuple(st + (n - 1) * s + 1
                       for st, n, s in zip(starts, out_shape, window_strides))
        yield slice(xp, starts, limits, tuple(window_strides))


def _chooser_jvp(p, kind):
    from jumba._src.lax import elementwise as ew
    from jumba._src.lax.structural import broadcast_in_dim

    def jvp(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        ans = p.bind(x, **params)
        aval = get_aval(ans)
        if type(t) is ad.Zero:
            return ans, ad.Zero(ad.tangent_aval(aval))
        t = ad.instantiate_zeros(t)
        dt = get_aval(x).dtype
        if _tiles(get_aval(x).shape, **params):
            return ans, _tiled_chooser_tangent(x, t, ans, params["window_dimensions"])
        better = ew.gt if kind == "max" else ew.lt
        best_v = best_t = None
        pairs = zip(_window_slices(x, _identity(kind, dt), out_shape=aval.shape, **params),
                    _window_slices(t, np.zeros((), dt), out_shape=aval.shape, **params))
        for xv, tv in pairs:
            if best_v is None:
                best_v, best_t = xv, tv
                continue
            # Strictly better only: ties keep the first element's tangent.
            take = better(xv, best_v)
            best_t = ew.select_n(take, best_t, tv)
            best_v = ew.select_n(take, best_v, xv)
        if best_t is None:
            best_t = broadcast_in_dim(np.zeros((), dt), aval.shape, ())
        return ans, best_t

    return jvp


def _tiles(shape, *, window_dimensions, window_strides, padding, base_dilation,
           window_dilation):
    """Whether the windows tile the operand exactly (pooling with stride = window, no
    padding or dilation, every axis divisible): then each window is a block of a reshape."""
    return (tuple(window_strides) == tuple(window_dimensions)
            and all(p == (0, 0) for p in padding)
            and all(d == 1 for d in (*base_dilation, *window_dilation))
            and all(w >= 1 and n % w == 0 for n, w in zip(shape, window_dimensions))
            and math.prod(window_dimensions) > 1 and 0 not in shape)


def _tiled_chooser_tangent(x, t, ans, window_dimensions):
    """The max/min JVP for tiling windows, without slices: the operand is reshaped so each
    window spans its own axes, the first element equal to the result is marked by a
    one-hot mask, and the tangent is the masked sum over the window axes. Its transpose is
    a broadcast and a select (one pass), where the slice-by-offset form transposes to one
    zero-filled pad per window element plus their sum. A window holding NaN (the result is
    NaN) gets a zero tangent."""
    from jumba._src.lax import elementwise as ew
    from jumba._src.lax.reductions import reduce_min, reduce_sum
    from jumba._src.lax.structural import broadcast_in_dim, reshape

    shape = get_aval(x).shape
    split, kept, win = [], [], []
    for n, w in zip(shape, window_dimensions):
        kept.append(len(split))
        split.append(n // w)
        if w > 1:
            win.append(len(split))
            split.append(w)
    split, kept, win = tuple(split), tuple(kept), tuple(win)
    wins = [w for w in window_dimensions if w > 1]
    size = math.prod(wins)
    # Window-element numbers in row-major order: the smallest marks the first on ties.
    pos = broadcast_in_dim(np.arange(size, dtype=np.int32).reshape(wins), split, win)
    hit = ew.eq(reshape(x, split), broadcast_in_dim(ans, split, kept))
    cand = ew.select_n(hit, broadcast_in_dim(np.int32(size), split, ()), pos)
    first = broadcast_in_dim(reduce_min(cand, win), split, kept)
    mask = ew.eq(pos, first)
    dt = get_aval(t).dtype
    picked = ew.select_n(mask, broadcast_in_dim(np.zeros((), dt), split, ()),
                         reshape(t, split))
    return reduce_sum(picked, win)


ad.primitive_jvps[reduce_window_max_p] = _chooser_jvp(reduce_window_max_p, "max")
ad.primitive_jvps[reduce_window_min_p] = _chooser_jvp(reduce_window_min_p, "min")


# ---------------------------------------------------------------------------------------
# The lax API


def _normalize(operand, window_dimensions, window_strides, padding, base_dilation,
               window_dilation, name):
    shape = get_aval(operand).shape
    nd = len(shape)

    def ints(v, what, default):
        if v is None:
            return (default,) * nd
        v = tuple(int(a) for a in v)
        if len(v) != nd:
            raise ValueError(f"{name}: {what} {v} needs one entry per axis of the operand "
                             f"(shape {shape})")
        return v

    window_dimensions = ints(window_dimensions, "window_dimensions", 1)
    window_strides = ints(window_strides, "window_strides", 1)
    base_dilation = ints(base_dilation, "base_dilation", 1)
    window_dilation = ints(window_dilation, "window_dilation", 1)
    if isinstance(padding, str):
        from jumba._src.lax.convolution import padtype_to_pads

        dilated = [_dilate_dim(n, d) for n, d in zip(shape, base_dilation)]
        window = [_dilate_dim(w, d) for w, d in zip(window_dimensions, window_dilation)]
        padding = padtype_to_pads(dilated, window, window_strides, padding)
    else:
        try:
            padding = tuple((int(lo), int(hi)) for lo, hi in padding)
        except (TypeError, ValueError):
            raise TypeError(f"{name}: padding must be 'SAME', 'VALID' or a sequence of "
                            f"(low, high) pairs, got {padding!r}") from None
        if len(padding) != nd:
            raise ValueError(f"{name}: padding {padding} needs one (low, high) pair per axis "
                             f"of the operand (shape {shape})")
    return dict(window_dimensions=window_dimensions, window_strides=window_strides,
                padding=padding, base_dilation=base_dilation, window_dilation=window_dilation)


def _monoid(p, name):
    def fn(operand, window_dimensions, window_strides, padding, base_dilation=None,
           window_dilation=None):
        params = _normalize(operand, window_dimensions, window_strides, padding,
                            base_dilation, window_dilation, name)
        _reduce_window_abstract_eval(name)(get_aval(operand), **params)
        return p.bind(operand, **params)

    fn.__name__ = name
    fn.__doc__ = (f"Windowed {name.rsplit('_', 1)[1]} (the `jax.lax` internal of the same "
                  "name): one output per window position; padding is the identity.")
    return fn


reduce_window_sum = _monoid(reduce_window_sum_p, "reduce_window_sum")
reduce_window_max = _monoid(reduce_window_max_p, "reduce_window_max")
reduce_window_min = _monoid(reduce_window_min_p, "reduce_window_min")


def _monoid_kind(computation, init_value, dtype):
    """'sum', 'max' or 'min' when `computation` is that lax op and `init_value` (concrete)
    is its identity in `dtype`; None otherwise."""
    from jumba._src.core import Tracer, to_numpy
    from jumba._src.lax import elementwise as ew

    kind = {ew.add: "sum", ew.max: "max", ew.min: "min"}.get(computation)
    if kind is None or isinstance(init_value, Tracer):
        return None
    v = np.asarray(to_numpy(init_value))
    if v.shape != ():
        return None
    with np.errstate(all="ignore"):
        return kind if v.astype(dtype) == _identity(kind, dtype) else None


def reduce_window(operand, init_value, computation, window_dimensions, window_strides,
                  padding, base_dilation=None, window_dilation=None):
    """Reduces each window of `operand` with `computation` (as `jax.lax.reduce_window`).

    `lax.add`, `lax.max` and `lax.min` with their identities as `init_value` use the
    windowed primitives (fast, with their derivative rules); any other binary
    `computation` is folded over the window offsets with traced operations, so it is
    differentiable and batchable whenever `computation` is.

    Args:
      operand: the array.
      init_value: the reduction's initial value (a scalar); also fills padding and holes.
      computation: a binary function of two arrays, associative and commutative.
      window_dimensions: window size per axis.
      window_strides: stride per axis.
      padding: 'SAME', 'VALID', or (low, high) pairs per axis.
      base_dilation: operand dilation per axis (default 1).
      window_dilation: window dilation per axis (default 1).

    Returns:
      The reduced array, of shape `reduce_window_shape_tuple(...)`.

    Examples:
      >>> import numpy as np, jumba.lax as lax
      >>> x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
      >>> lax.reduce_window(x, -np.inf, lax.max, (1, 2), (1, 1), "VALID").tolist()
      [[1.0, 2.0], [4.0, 5.0]]
    """
    from jumba._src.lax.structural import broadcast_in_dim, convert_element_type

    params = _normalize(operand, window_dimensions, window_strides, padding, base_dilation,
                        window_dilation, "reduce_window")
    kind = _monoid_kind(computation, init_value, get_aval(operand).dtype)
    if kind is not None:
        p = {"sum": reduce_window_sum_p, "max": reduce_window_max_p,
             "min": reduce_window_min_p}[kind]
        return p.bind(operand, **params)
    aval = get_aval(operand)
    out_shape = reduce_window_shape_tuple(aval.shape, **params)
    init = init_value
    if get_aval(init).dtype != aval.dtype:
        init = convert_element_type(init, aval.dtype)
    if get_aval(init).shape != ():
        raise TypeError(f"reduce_window: init_value must be a scalar, got shape "
                        f"{get_aval(init).shape}")
    acc = broadcast_in_dim(init, out_shape, ())
    for xs in _window_slices(operand, init, out_shape=out_shape, **params):
        acc = computation(acc, xs)
    return acc
