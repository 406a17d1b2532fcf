"""Reductions over static axes: sum, max, min, prod, and/or, argmax/argmin."""

from __future__ import annotations

import math

import numpy as np

from jumba._src import dtypes
from jumba._src.core import Primitive, ShapedArray, get_aval
from jumba._src.interpreters import ad, batching
from jumba._src.interpreters.ad import Zero
from jumba._src.lax import elementwise as ew
from jumba._src.lax.structural import broadcast_in_dim, reshape, transpose


def _reduced_shape(name, shape, axes):
    for a in axes:
        if not 0 <= a < len(shape):
            raise ValueError(f"{name}: axis {a} is out of bounds for an array of rank "
                             f"{len(shape)} (shape {shape})")
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: repeated axis in {axes}")
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def _reducer(name, impl, *, out_dtype=None, keep_weak=True):
    """Declare a reduction primitive with impl, abstract eval and batching."""
    p = Primitive(name)
    p.def_impl(impl)

    def abstract_eval(x, *, axes, **params):
        shape = _reduced_shape(name, x.shape, axes)
        dt = x.dtype if out_dtype is None else params.get("index_dtype", out_dtype)
        return ShapedArray(shape, dt, x.weak_type and keep_weak and out_dtype is None)

    p.def_abstract_eval(abstract_eval)
    p.weak_type_rule = (lambda w, **params: w) if keep_weak and out_dtype is None else \
        (lambda w, **params: False)

    def batch(size, vals, dims, *, axes, **params):
        (x,), (d,) = vals, dims
        new_axes = tuple(a + (a >= d) for a in axes)
        out_d = d - sum(a < d for a in new_axes)
        return p.bind(x, axes=new_axes, **params), out_d

    batching.primitive_batchers[p] = batch
    return p


def _expand_reduced(y, in_shape, axes):
    """Broadcast a reduced result back to the input shape."""
    kept = tuple(i for i in range(len(in_shape)) if i not in axes)
    return broadcast_in_dim(y, in_shape, kept)


# NumPy reduces leading axes row by row: with short rows (a per-channel sum over N, H, W
# of 32 channels) each step does too little work. Folding m rows into one of about this
# many elements, then the m partial rows, ran 4-5x faster: a sum or max over
# (128, 8, 8) of 32 channels took 0.31 ms and 0.08 ms folded.
_FOLD_WIDTH = 256


def _fold_leading(reduce, x, axes):
    """`reduce(x, axis=0)` over x's leading `axes` with short kept rows, folded as above;
    None where that does not apply (other axes, a long or empty row, a strided x)."""
    k = len(axes)
    if not 0 < k < x.ndim or sorted(axes) != list(range(k)) or not x.flags.c_contiguous:
        return None
    outer, inner = math.prod(x.shape[:k]), math.prod(x.shape[k:])
    if not outer or not inner:
        return None
    m = 1
    while 2 * m * inner <= _FOLD_WIDTH and outer % (2 * m) == 0:
        m *= 2
    if m == 1:
        return None
    partial = reduce(x.reshape(outer // m, m * inner), axis=0)
    return reduce(partial.reshape(m, inner), axis=0).reshape(x.shape[k:])


def _sum_impl(x, *, axes):
    if x.dtype.kind in "fciu":
        out = _fold_leading(lambda a, axis: np.sum(a, axis=axis, dtype=x.dtype), x, axes)
        if out is not None:
            return out
    return np.sum(x, axis=axes, dtype=x.dtype)


# ---------------------------------------------------------------------------------------
# reduce_sum (linear)

reduce_sum_p = _reducer("reduce_sum", _sum_impl)
ad.deflinear(reduce_sum_p, lambda ct, x, *, axes: [
    _expand_reduced(ct, x.aval.shape, axes)])


def reduce_sum(x, axes):
    axes = tuple(sorted(int(a) for a in axes))
    if not axes:
        return x
    return reduce_sum_p.bind(x, axes=axes)


# ---------------------------------------------------------------------------------------
# reduce_max / reduce_min: the gradient is shared equally among tied locations (as JAX)


def _extremum_jvp(p):
    def jvp(primals, tangents, *, axes):
        (x,), (t,) = primals, tangents
        ans = p.bind(x, axes=axes)
        shape = get_aval(x).shape
        location = ew.eq(x, _expand_reduced(ans, shape, axes))
        one, zero = np.ones((), get_aval(x).dtype), np.zeros((), get_aval(x).dtype)
        mask = ew.select_n(location, zero, one)
        counts = reduce_sum(mask, axes)
        return ans, ew.div(reduce_sum(ew.mul(t, mask), axes), counts)

    ad.primitive_jvps[p] = jvp


def _max_impl(x, *, axes):
    if not x.size:
        return np.full(_reduced_shape("reduce_max", x.shape, axes), _identity(x.dtype, -1),
                       x.dtype)
    out = _fold_leading(np.max, x, axes)
    return np.max(x, axis=axes) if out is None else out


def _min_impl(x, *, axes):
    if not x.size:
        return np.full(_reduced_shape("reduce_min", x.shape, axes), _identity(x.dtype, 1),
                       x.dtype)
    out = _fold_leading(np.min, x, axes)
    return np.min(x, axis=axes) if out is None else out


def _identity(dtype, sign):
    if dtype.kind == "f":
        return sign * np.inf
    if dtype.kind == "b":
        return sign > 0
    info = np.iinfo(dtype)
    return info.max if sign > 0 else info.min


reduce_max_p = _reducer("reduce_max", _max_impl)
reduce_min_p = _reducer("reduce_min", _min_impl)
_extremum_jvp(reduce_max_p)
_extremum_jvp(reduce_min_p)


def reduce_max(x, axes):
    axes = tuple(sorted(int(a) for a in axes))
    return reduce_max_p.bind(x, axes=axes) if axes else x


def reduce_min(x, axes):
    axes = tuple(sorted(int(a) for a in axes))
    return reduce_min_p.bind(x, axes=axes) if axes else x


# ---------------------------------------------------------------------------------------
# reduce_prod: the derivative uses products of the other elements, so zeros are exact


reduce_prod_p = _reducer("reduce_prod",
                         lambda x, *, axes: np.prod(x, axis=axes, dtype=x.dtype))


def _reduce_prod_jvp(primals, tangents, *, axes):
    (x,), (t,) = primals, tangents
    ans = reduce_prod_p.bind(x, axes=axes)
    shape = get_aval(x).shape
    # d prod(x) = sum_j t[j] * prod(x[k] for k != j). The products of the others are the
    # exclusive prefix times the exclusive suffix products along the flattened reduced
    # axes: a fixed number of primitives for any length, and no division (exact at 0).
    from jumba._src.lax.cumulative import exclusive_cumprod
    from jumba._src.lax.structural import transpose

    kept = [i for i in range(len(shape)) if i not in axes]
    n = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    if n == 0:
        return ans, ew.mul(ans, _zeros_like(ans))
    kept_shape = tuple(shape[i] for i in kept)
    perm = (*kept, *axes)
    xs = reshape(transpose(x, perm), (*kept_shape, n))
    ts = reshape(transpose(t, perm), (*kept_shape, n))
    last = len(kept_shape)
    others = ew.mul(exclusive_cumprod(xs, last), exclusive_cumprod(xs, last, reverse=True))
    return ans, reduce_sum(ew.mul(ts, others), (last,))


def _zeros_like(y):
    aval = get_aval(y)
    return broadcast_in_dim(np.zeros((), aval.dtype), aval.shape, ())


ad.primitive_jvps[reduce_prod_p] = _reduce_prod_jvp


def reduce_prod(x, axes):
    axes = tuple(sorted(int(a) for a in axes))
    return reduce_prod_p.bind(x, axes=axes) if axes else x


# ---------------------------------------------------------------------------------------
# Boolean reductions and arg-reductions (no derivatives)

reduce_and_p = _reducer("reduce_and", lambda x, *, axes: np.all(x, axis=axes))
reduce_or_p = _reducer("reduce_or", lambda x, *, axes: np.any(x, axis=axes))


def _arg_impl(fn):
    def impl(x, *, axes, index_dtype):
        (axis,) = axes
        return fn(x, axis=axis).astype(index_dtype)

    return impl


argmax_p = _reducer("argmax", _arg_impl(np.argmax), out_dtype=np.int32)
argmin_p = _reducer("argmin", _arg_impl(np.argmin), out_dtype=np.int32)
for _p in (reduce_and_p, reduce_or_p, argmax_p, argmin_p):
    ew.defjvp_zero(_p)


def reduce_and(x, axes):
    return reduce_and_p.bind(x, axes=tuple(sorted(axes)))


def reduce_or(x, axes):
    return reduce_or_p.bind(x, axes=tuple(sorted(axes)))


def argmax(x, axis, index_dtype=None):
    index_dtype = np.dtype(index_dtype or dtypes.default_int_dtype())
    return argmax_p.bind(x, axes=(int(axis),), index_dtype=index_dtype)


def argmin(x, axis, index_dtype=None):
    index_dtype = np.dtype(index_dtype or dtypes.default_int_dtype())
    return argmin_p.bind(x, axes=(int(axis),), index_dtype=index_dtype)


# ---------------------------------------------------------------------------------------
# reduce: a fold with a user-given computation


def _monoid_reducer(computation, dtype):
    """The reduction primitive's function that `computation` amounts to on scalars of `dtype`,
    or None when it is not a single associative primitive (add, mul, max, min, and, or, xor)."""
    from jumba._src.api import make_jaxpr
    from jumba._src.lax.bits import reduce_xor

    scalar = np.zeros((), dtype)
    try:
        closed = make_jaxpr(computation)(scalar, scalar)
    except Exception:  # noqa: BLE001 (any failure just means "no fast path")
        return None
    jaxpr = closed.jaxpr
    if len(jaxpr.eqns) != 1 or closed.consts:
        return None
    (eqn,) = jaxpr.eqns
    if len(eqn.inputs) != 2 or set(map(id, eqn.inputs)) != set(map(id, jaxpr.invars)) \
            or list(eqn.outputs) != list(jaxpr.outvars):
        return None
    table = {ew.add_p: reduce_sum, ew.mul_p: reduce_prod, ew.max_p: reduce_max,
             ew.min_p: reduce_min, ew.xor_p: reduce_xor}
    if np.dtype(dtype) == np.bool_:
        table.update({ew.and_p: reduce_and, ew.or_p: reduce_or})
    return table.get(eqn.primitive)


def reduce(operands, init_values, computation, dimensions):
    """Fold `computation` over `dimensions` of `operands`, starting from `init_values` (as
    jax.lax.reduce; operands and init values are matching pytrees).

    A computation that is one of add, mul, max, min, and/or (booleans) or xor runs as the
    matching reduction primitive; any other runs as a `scan` over the reduced elements, so
    it differentiates and batches like any loop.
    """
    from jumba._src import tree_util
    from jumba._src.lax.control_flow import scan

    flat_ops, tree = tree_util.tree_flatten(operands)
    flat_init, init_tree = tree_util.tree_flatten(init_values)
    if tree != init_tree:
        raise ValueError(f"lax.reduce: operands {tree} and init_values {init_tree} must have "
                         "the same tree structure")
    shapes = {get_aval(x).shape for x in flat_ops}
    if len(shapes) != 1:
        raise ValueError(f"lax.reduce: all operands need one shape, got {sorted(shapes)}")
    (shape,) = shapes
    dims = tuple(sorted({int(d) % max(len(shape), 1) for d in dimensions}))
    _reduced_shape("reduce", shape, dims)
    if len(flat_ops) == 1:
        reducer = _monoid_reducer(computation, get_aval(flat_ops[0]).dtype)
        if reducer is not None:
            return computation(init_values, tree_util.tree_unflatten(
                tree, [reducer(flat_ops[0], dims)]))
    kept = tuple(i for i in range(len(shape)) if i not in dims)
    kept_shape = tuple(shape[i] for i in kept)
    count = int(np.prod([shape[d] for d in dims], dtype=np.int64))
    xs = [reshape(transpose(x, dims + kept), (count, *kept_shape)) for x in flat_ops]
    init = [broadcast_in_dim(v, kept_shape, ()) for v in flat_init]

    def step(carry, x):
        out = computation(tree_util.tree_unflatten(tree, carry), tree_util.tree_unflatten(tree, x))
        return tree_util.tree_leaves(out), None

    result, _ = scan(step, init, xs)
    return tree_util.tree_unflatten(tree, result)


del Zero
