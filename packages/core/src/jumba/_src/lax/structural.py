"""Structural primitives: broadcast, reshape, transpose, slice, pad, concatenate, rev and
dtype conversion. All are linear; each block carries its transpose and batching rules."""

from __future__ import annotations

import builtins

import numpy as np

from jumba._src import dtypes
from jumba._src.core import Primitive, ShapedArray, get_aval
from jumba._src.interpreters import ad, batching
from jumba._src.interpreters.ad import Zero, is_undefined_primal
from jumba._src.interpreters.batching import moveaxis


def _aval_of(x):
    return x.aval if is_undefined_primal(x) else get_aval(x)


def _keep_weak(w, **params):
    return w


def _linear_primitive(name):
    p = Primitive(name)
    p.weak_type_rule = _keep_weak
    return p


# ---------------------------------------------------------------------------------------
# broadcast_in_dim: place operand axes at `broadcast_dimensions` of a larger shape

broadcast_in_dim_p = _linear_primitive("broadcast_in_dim")


@broadcast_in_dim_p.def_impl
def _broadcast_in_dim_impl(x, *, shape, broadcast_dimensions):
    expanded = [1] * len(shape)
    for src, dst in enumerate(broadcast_dimensions):
        expanded[dst] = x.shape[src]
    return np.broadcast_to(x.reshape(expanded), shape)


@broadcast_in_dim_p.def_abstract_eval
def _broadcast_in_dim_abstract_eval(x, *, shape, broadcast_dimensions):
    if len(broadcast_dimensions) != x.ndim:
        raise TypeError(f"broadcast_in_dim: operand of rank {x.ndim} needs {x.ndim} "
                        f"broadcast_dimensions, got {broadcast_dimensions}")
    for src, dst in enumerate(broadcast_dimensions):
        if not (0 <= dst < len(shape)) or x.shape[src] not in (1, shape[dst]):
            raise TypeError(f"broadcast_in_dim: cannot broadcast operand shape {x.shape} to "
                            f"{tuple(shape)} with broadcast_dimensions={broadcast_dimensions}")
    if any(a >= b for a, b in zip(broadcast_dimensions, broadcast_dimensions[1:])):
        raise TypeError(f"broadcast_in_dim: broadcast_dimensions {broadcast_dimensions} must "
                        "be strictly increasing (transpose the operand first)")
    return ShapedArray(shape, x.dtype, x.weak_type)


def _broadcast_in_dim_transpose(ct, x, *, shape, broadcast_dimensions):
    from jumba._src.lax.reductions import reduce_sum

    in_shape = x.aval.shape
    new_axes = tuple(i for i in range(len(shape)) if i not in broadcast_dimensions)
    expanded = tuple(d for src, d in enumerate(broadcast_dimensions)
                     if in_shape[src] == 1 and shape[d] != 1)
    summed = reduce_sum(ct, tuple(sorted(new_axes + expanded)))
    return [reshape(summed, in_shape)]


def _broadcast_in_dim_batch(size, vals, dims, *, shape, broadcast_dimensions):
    (x,), (d,) = vals, dims
    x = moveaxis(x, d, 0)
    return broadcast_in_dim(x, (size, *shape),
                            (0, *(b + 1 for b in broadcast_dimensions))), 0


ad.deflinear(broadcast_in_dim_p, _broadcast_in_dim_transpose)
batching.primitive_batchers[broadcast_in_dim_p] = _broadcast_in_dim_batch


def broadcast_in_dim(x, shape, broadcast_dimensions):
    shape = tuple(int(s) for s in shape)
    broadcast_dimensions = tuple(int(d) for d in broadcast_dimensions)
    aval = get_aval(x)
    if aval.shape == shape and broadcast_dimensions == tuple(range(len(shape))):
        return x
    # The eager path runs NumPy directly: check here so that errors do not depend on jit.
    _broadcast_in_dim_abstract_eval(aval, shape=shape, broadcast_dimensions=broadcast_dimensions)
    return broadcast_in_dim_p.bind(x, shape=shape, broadcast_dimensions=broadcast_dimensions)


def broadcast_to(x, shape):
    """NumPy-style broadcast (right-aligned) through broadcast_in_dim."""
    shape = tuple(shape)
    ndim = get_aval(x).ndim
    return broadcast_in_dim(x, shape, tuple(range(len(shape) - ndim, len(shape))))


def broadcast(x, sizes):
    """lax.broadcast: prepend `sizes` axes."""
    aval = get_aval(x)
    return broadcast_in_dim(x, (*sizes, *aval.shape),
                            tuple(range(len(sizes), len(sizes) + aval.ndim)))


# ---------------------------------------------------------------------------------------
# reshape (row-major)

reshape_p = _linear_primitive("reshape")
reshape_p.def_impl(lambda x, *, new_sizes: np.reshape(x, new_sizes))


@reshape_p.def_abstract_eval
def _reshape_abstract_eval(x, *, new_sizes):
    if int(np.prod(new_sizes, dtype=np.int64)) != x.size:
        raise TypeError(f"reshape: cannot reshape an array of shape {x.shape} (size {x.size}) "
                        f"into shape {tuple(new_sizes)}")
    return ShapedArray(new_sizes, x.dtype, x.weak_type)


def _reshape_batch(size, vals, dims, *, new_sizes):
    (x,), (d,) = vals, dims
    return reshape(moveaxis(x, d, 0), (size, *new_sizes)), 0


ad.deflinear(reshape_p, lambda ct, x, *, new_sizes: [reshape(ct, x.aval.shape)])
batching.primitive_batchers[reshape_p] = _reshape_batch


def reshape(x, new_sizes):
    new_sizes = tuple(int(s) for s in new_sizes)
    aval = get_aval(x)
    if aval.shape == new_sizes:
        return x
    _reshape_abstract_eval(aval, new_sizes=new_sizes)
    return reshape_p.bind(x, new_sizes=new_sizes)


# ---------------------------------------------------------------------------------------
# transpose

transpose_p = _linear_primitive("transpose")
transpose_p.def_impl(lambda x, *, permutation: np.transpose(x, permutation))


@transpose_p.def_abstract_eval
def _transpose_abstract_eval(x, *, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise TypeError(f"transpose: permutation {permutation} is not a permutation of the "
                        f"axes of an array of rank {x.ndim}")
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype, x.weak_type)


def _transpose_batch(size, vals, dims, *, permutation):
    (x,), (d,) = vals, dims
    x = moveaxis(x, d, 0)
    return transpose(x, (0, *(p + 1 for p in permutation))), 0


ad.deflinear(transpose_p, lambda ct, x, *, permutation: [
    transpose(ct, tuple(np.argsort(permutation)))])
batching.primitive_batchers[transpose_p] = _transpose_batch


def transpose(x, permutation):
    permutation = tuple(int(p) for p in permutation)
    aval = get_aval(x)
    if permutation == tuple(range(aval.ndim)):
        return x
    _transpose_abstract_eval(aval, permutation=permutation)
    return transpose_p.bind(x, permutation=permutation)


# ---------------------------------------------------------------------------------------
# slice (static start/limit/stride)

slice_p = _linear_primitive("slice")


@slice_p.def_impl
def _slice_impl(x, *, start_indices, limit_indices, strides):
    strides = strides or (1,) * x.ndim
    return x[tuple(builtins.slice(s, lim, st)
                   for s, lim, st in zip(start_indices, limit_indices, strides))]


@slice_p.def_abstract_eval
def _slice_abstract_eval(x, *, start_indices, limit_indices, strides):
    strides = strides or (1,) * x.ndim
    if not (len(start_indices) == len(limit_indices) == len(strides) == x.ndim):
        raise TypeError(f"slice: need {x.ndim} start/limit indices for shape {x.shape}")
    shape = []
    for s, l, st, n in zip(start_indices, limit_indices, strides, x.shape):
        if not (0 <= s <= l <= n) or st < 1:
            raise TypeError(f"slice: start {start_indices}, limit {limit_indices}, strides "
                            f"{strides} out of bounds for shape {x.shape}")
        shape.append(max(0, -(-(l - s) // st)))
    return ShapedArray(shape, x.dtype, x.weak_type)


def _slice_transpose(ct, x, *, start_indices, limit_indices, strides):
    shape = x.aval.shape
    strides = strides or (1,) * len(shape)
    ct_shape = get_aval(ct).shape
    config = []
    for s, n, st, m in zip(start_indices, shape, strides, ct_shape):
        hi = n - (s + (m - 1) * st + 1) if m else n - s
        config.append((s, hi, st - 1) if m else (s, hi, 0))
    zero = np.zeros((), x.aval.dtype)
    if any(m == 0 for m in ct_shape):
        return [ad.zeros_like_aval(x.aval)]
    return [pad(ct, zero, tuple(config))]


def _slice_batch(size, vals, dims, *, start_indices, limit_indices, strides):
    (x,), (d,) = vals, dims
    x = moveaxis(x, d, 0)
    strides = strides or (1,) * len(start_indices)
    return slice(x, (0, *start_indices), (size, *limit_indices), (1, *strides)), 0


ad.deflinear(slice_p, _slice_transpose)
batching.primitive_batchers[slice_p] = _slice_batch


def slice(x, start_indices, limit_indices, strides=None):  # noqa: A001
    start_indices = tuple(int(i) for i in start_indices)
    limit_indices = tuple(int(i) for i in limit_indices)
    strides = None if strides is None or all(s == 1 for s in strides) else \
        tuple(int(s) for s in strides)
    aval = get_aval(x)
    if start_indices == (0,) * len(start_indices) and strides is None and \
            limit_indices == aval.shape:
        return x
    _slice_abstract_eval(aval, start_indices=start_indices, limit_indices=limit_indices,
                         strides=strides)
    return slice_p.bind(x, start_indices=start_indices, limit_indices=limit_indices,
                        strides=strides)


# ---------------------------------------------------------------------------------------
# pad (low, high, interior) per axis; low/high may be negative (cropping)

pad_p = Primitive("pad")
pad_p.weak_type_rule = lambda w, wp, **p: w


@pad_p.def_impl
def _pad_impl(x, padding_value, *, padding_config):
    shape = [lo + hi + n + max(n - 1, 0) * it
             for (lo, hi, it), n in zip(padding_config, x.shape)]
    # Pad with non-negative amounts into a buffer, then crop the negative ones.
    full = [max(lo, 0) + max(hi, 0) + n + max(n - 1, 0) * it
            for (lo, hi, it), n in zip(padding_config, x.shape)]
    value = np.asarray(padding_value, x.dtype)
    if not value.any() and not (value.dtype.kind in "fc" and (
            np.signbit(value.real) or np.signbit(value.imag))):
        out = np.zeros(full, x.dtype)  # calloc'd pages: no fill pass (+0 only, not -0.0)
    else:
        out = np.full(full, value, dtype=x.dtype)
    idx = tuple(np.s_[max(lo, 0): max(lo, 0) + n + max(n - 1, 0) * it: it + 1]
                for (lo, hi, it), n in zip(padding_config, x.shape))
    out[idx] = x
    if all(lo >= 0 and hi >= 0 for lo, hi, _ in padding_config):
        return out
    crop = tuple(np.s_[max(-lo, 0): max(-lo, 0) + s]
                 for (lo, hi, it), s in zip(padding_config, shape))
    return out[crop]


@pad_p.def_abstract_eval
def _pad_abstract_eval(x, padding_value, *, padding_config):
    if len(padding_config) != x.ndim:
        raise TypeError(f"pad: padding_config needs {x.ndim} (low, high, interior) triples "
                        f"for shape {x.shape}, got {padding_config}")
    if padding_value.shape != () or padding_value.dtype != x.dtype:
        raise TypeError("pad: padding_value must be a scalar of the operand's dtype")
    shape = [lo + hi + n + max(n - 1, 0) * it for (lo, hi, it), n in
             zip(padding_config, x.shape)]
    if any(s < 0 for s in shape) or any(it < 0 for _, _, it in padding_config):
        raise TypeError(f"pad: padding_config {padding_config} gives negative dimensions "
                        f"for shape {x.shape}")
    return ShapedArray(shape, x.dtype, x.weak_type)


def _pad_transpose(ct, x, padding_value, *, padding_config):
    outs = [None, None]
    if is_undefined_primal(x):
        from jumba._src.lax.reductions import reduce_sum

        # Undo negative padding by zero-padding, then take the strided interior.
        lo_fix = tuple((max(-lo, 0), max(-hi, 0), 0) for lo, hi, _ in padding_config)
        full = pad(ct, np.zeros((), x.aval.dtype), lo_fix)
        fshape = get_aval(full).shape
        starts = tuple(max(lo, 0) for lo, _, _ in padding_config)
        limits = tuple(f - max(hi, 0) for f, (_, hi, _) in zip(fshape, padding_config))
        strides = tuple(it + 1 for _, _, it in padding_config)
        outs[0] = slice(full, starts, limits, strides)
        if is_undefined_primal(padding_value):
            total = reduce_sum(ct, tuple(range(get_aval(ct).ndim)))
            inner = reduce_sum(outs[0], tuple(range(get_aval(ct).ndim)))
            from jumba._src.lax.elementwise import sub

            outs[1] = sub(total, inner)
    elif is_undefined_primal(padding_value):
        from jumba._src.lax.elementwise import sub
        from jumba._src.lax.reductions import reduce_sum

        mask = pad(np.zeros(get_aval(x).shape, get_aval(ct).dtype),
                   np.ones((), get_aval(ct).dtype), padding_config)
        from jumba._src.lax.elementwise import mul

        outs[1] = reduce_sum(mul(ct, mask), tuple(range(get_aval(ct).ndim)))
        del sub
    return outs


def _pad_batch(size, vals, dims, *, padding_config):
    (x, pv), (dx, dp) = vals, dims
    x = batching.bdim_at_front(x, dx, size)
    config = ((0, 0, 0), *padding_config)
    if dp is None:
        return pad(x, pv, config), 0
    # A padding value per batch member: pad with zeros, then select the padded positions.
    from jumba._src.lax.elementwise import select_n

    x_aval = get_aval(x)
    padded = pad(x, np.zeros((), x_aval.dtype), config)
    out_shape = get_aval(padded).shape
    is_pad = pad(np.zeros(x_aval.shape, np.bool_), np.ones((), np.bool_), config)
    pv = broadcast_in_dim(moveaxis(pv, dp, 0), out_shape, (0,))
    return select_n(is_pad, padded, pv), 0


ad.deflinear(pad_p, _pad_transpose)
batching.primitive_batchers[pad_p] = _pad_batch


def pad(x, padding_value, padding_config):
    """lax.pad: `padding_config` holds (low, high, interior) per axis; low/high may be
    negative to crop. A Python scalar `padding_value` takes the operand's dtype."""
    padding_config = tuple((int(lo), int(hi), int(it)) for lo, hi, it in padding_config)
    if isinstance(padding_value, (bool, int, float, complex)):
        padding_value = np.asarray(padding_value, get_aval(x).dtype)
    _pad_abstract_eval(get_aval(x), get_aval(padding_value), padding_config=padding_config)
    return pad_p.bind(x, padding_value, padding_config=padding_config)


# ---------------------------------------------------------------------------------------
# concatenate

concatenate_p = Primitive("concatenate")
concatenate_p.def_impl(lambda *xs, dimension: np.concatenate(xs, axis=dimension))
concatenate_p.weak_type_rule = lambda *ws, **p: all(ws)


@concatenate_p.def_abstract_eval
def _concatenate_abstract_eval(*xs, dimension):
    if not xs:
        raise TypeError("concatenate needs at least one array")
    dts = {x.dtype for x in xs}
    if len(dts) > 1:
        raise TypeError(f"concatenate: arrays have different dtypes {sorted(map(str, dts))}")
    nd = xs[0].ndim
    for x in xs:
        if x.ndim != nd or any(a != b for i, (a, b) in enumerate(zip(x.shape, xs[0].shape))
                               if i != dimension):
            shapes = ", ".join(str(y.shape) for y in xs)
            raise TypeError(f"concatenate: all shapes must match except along axis "
                            f"{dimension}; got {shapes}")
    shape = list(xs[0].shape)
    shape[dimension] = sum(x.shape[dimension] for x in xs)
    return ShapedArray(shape, xs[0].dtype, all(x.weak_type for x in xs))


def _concatenate_transpose(ct, *xs, dimension):
    outs, start = [], 0
    ct_shape = get_aval(ct).shape
    for x in xs:
        n = _aval_of(x).shape[dimension]
        if is_undefined_primal(x):
            lo = [0] * len(ct_shape)
            hi = list(ct_shape)
            lo[dimension], hi[dimension] = start, start + n
            outs.append(slice(ct, lo, hi))
        else:
            outs.append(None)
        start += n
    return outs


def _concatenate_batch(size, vals, dims, *, dimension):
    xs = [batching.bdim_at_front(x, d, size) for x, d in zip(vals, dims)]
    return concatenate(xs, dimension + 1), 0


ad.deflinear(concatenate_p, _concatenate_transpose)
batching.primitive_batchers[concatenate_p] = _concatenate_batch


def concatenate(xs, dimension):
    xs = list(xs)
    if len(xs) == 1:
        return xs[0]
    _concatenate_abstract_eval(*map(get_aval, xs), dimension=int(dimension))
    return concatenate_p.bind(*xs, dimension=int(dimension))


# ---------------------------------------------------------------------------------------
# rev: reverse along axes

rev_p = _linear_primitive("rev")
rev_p.def_impl(lambda x, *, dimensions: np.flip(x, dimensions) if dimensions else x)


@rev_p.def_abstract_eval
def _rev_abstract_eval(x, *, dimensions):
    if len(set(dimensions)) != len(dimensions) or any(not 0 <= d < x.ndim for d in dimensions):
        raise TypeError(f"rev: dimensions {dimensions} must be distinct axes of shape {x.shape}")
    return x


ad.deflinear(rev_p, lambda ct, x, *, dimensions: [rev(ct, dimensions)])
batching.primitive_batchers[rev_p] = lambda size, vals, dims, *, dimensions: (
    rev(vals[0], tuple(a + (a >= dims[0]) for a in dimensions)), dims[0])


def rev(x, dimensions):
    dimensions = tuple(int(d) for d in dimensions)
    _rev_abstract_eval(get_aval(x), dimensions=dimensions)
    return rev_p.bind(x, dimensions=dimensions)


# ---------------------------------------------------------------------------------------
# convert_element_type

convert_element_type_p = Primitive("convert_element_type")


@convert_element_type_p.def_impl
def _convert_impl(x, *, new_dtype, weak_type):
    if x.dtype == new_dtype:
        return x
    if x.dtype.kind == "c" and new_dtype.kind != "c":
        x = x.real
    return x.astype(new_dtype)


convert_element_type_p.def_abstract_eval(
    lambda x, *, new_dtype, weak_type: ShapedArray(x.shape, new_dtype, weak_type))
convert_element_type_p.weak_type_rule = lambda w, *, new_dtype, weak_type: weak_type


def _convert_jvp(primals, tangents, *, new_dtype, weak_type):
    (x,), (t,) = primals, tangents
    ans = convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=weak_type)
    if type(t) is Zero or not dtypes.is_inexact(new_dtype):
        return ans, Zero(ad.tangent_aval(get_aval(ans)))
    return ans, convert_element_type_p.bind(t, new_dtype=new_dtype, weak_type=weak_type)


def _convert_transpose(ct, x, *, new_dtype, weak_type):
    aval = x.aval
    return [convert_element_type_p.bind(ct, new_dtype=aval.dtype, weak_type=aval.weak_type)]


ad.primitive_jvps[convert_element_type_p] = _convert_jvp
ad.primitive_transposes[convert_element_type_p] = _convert_transpose
batching.defvectorized(convert_element_type_p)


def convert_element_type(x, new_dtype, weak_type=False):
    new_dtype = dtypes.canonicalize_dtype(np.dtype(new_dtype))
    aval = get_aval(x)
    if aval.dtype == new_dtype and aval.weak_type == weak_type and not isinstance(
            x, (int, float, complex, bool)):
        return x
    return convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=bool(weak_type))


# ---------------------------------------------------------------------------------------
# Helpers built on the primitives


def squeeze(x, dimensions):
    shape = get_aval(x).shape
    dims = {d % len(shape) for d in dimensions}
    for d in dims:
        if shape[d] != 1:
            raise ValueError(f"squeeze: cannot squeeze axis {d} of size {shape[d]} "
                             f"(shape {shape})")
    return reshape(x, tuple(s for i, s in enumerate(shape) if i not in dims))


def expand_dims(x, dimensions):
    shape = list(get_aval(x).shape)
    nd = len(shape) + len(dimensions)
    for d in sorted(d % nd for d in dimensions):
        shape.insert(d, 1)
    return reshape(x, shape)


def full(shape, fill_value, dtype=None):
    aval = get_aval(fill_value)
    dtype = dtypes.canonicalize_dtype(np.dtype(dtype)) if dtype is not None else aval.dtype
    v = convert_element_type(fill_value, dtype, weak_type=False)
    return broadcast_in_dim(v, tuple(shape), ())

