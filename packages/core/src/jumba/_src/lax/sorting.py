"""Sorting primitives: `sort` (several operands ordered by the first `num_keys`) and
`top_k`, with `argsort` built on `sort`.

Derivatives go through the permutation: the JVP sorts an iota along with the operands and
gathers the tangents with it, so reverse mode is the gather's transpose (a scatter-add).
"""

from __future__ import annotations

import numpy as np

from jumba._src import core, dtypes
from jumba._src.core import Primitive, ShapedArray, get_aval
from jumba._src.interpreters import ad, batching
from jumba._src.interpreters.ad import Zero

# ---------------------------------------------------------------------------------------
# sort


sort_p = Primitive("sort", multiple_results=True)
sort_p.weak_type_rule = lambda *ws, **params: list(ws)


def _lexsort_perm(keys, dimension, is_stable):
    """The permutation ordering `keys` (most significant first) along `dimension`."""
    if len(keys) == 1:
        key = keys[0]
        if key.dtype.kind in "biu" and key.dtype.itemsize <= 4 and \
                key.shape[dimension] < 2**32:
            return _packed_argsort(key, dimension)
        # A stable argsort costs little more than an unstable one and makes equal keys
        # keep their order whatever `is_stable` says (XLA is free to do either).
        return np.argsort(key, axis=dimension, kind="stable")
    moved = [np.moveaxis(k, dimension, -1) for k in keys]
    # np.lexsort sorts by its *last* key first and along the last axis.
    perm = np.lexsort(moved[::-1], axis=-1)
    return np.moveaxis(perm, -1, dimension)


def _packed_argsort(key, dimension):
    """The stable argsort of an integer key of at most 32 bits: each key (made unsigned in
    order) above its position in one uint64, sorted by NumPy's SIMD sort. The positions
    make the packed values distinct, so this is the stable order. A random permutation
    (`random.permutation` sorts 65,536 random uint32 keys, twice) took 8.3 ms by the stable
    argsort (a merge sort for 32-bit keys), 2.4 ms so."""
    k = np.moveaxis(key, dimension, -1)
    n = k.shape[-1]
    if k.dtype.kind == "i":
        k = k.astype(np.int64) - np.iinfo(k.dtype).min
    packed = (k.astype(np.uint64) << np.uint64(32)) | np.arange(n, dtype=np.uint64)
    packed.sort(axis=-1)
    perm = (packed & np.uint64(0xFFFFFFFF)).astype(np.intp)
    return np.moveaxis(perm, -1, dimension)


@sort_p.def_impl
def _sort_impl(*operands, dimension, is_stable, num_keys):
    if len(operands) == 1:
        # Values only: equal keys are indistinguishable, so the fastest (SIMD) sort serves.
        return [np.sort(operands[0], axis=dimension)]
    perm = _lexsort_perm(operands[:num_keys], dimension, is_stable)
    return [np.take_along_axis(x, perm, axis=dimension) for x in operands]


@sort_p.def_abstract_eval
def _sort_abstract_eval(*operands, dimension, is_stable, num_keys):
    if not operands:
        raise TypeError("lax.sort requires at least one operand")
    shape = operands[0].shape
    for x in operands[1:]:
        if x.shape != shape:
            listed = ", ".join(str(o.shape) for o in operands)
            raise TypeError(f"lax.sort: all operands must have one shape, got {listed}; "
                            "broadcast them first (jumba.numpy.broadcast_arrays)")
    if not 0 <= dimension < max(len(shape), 1) or not shape:
        raise ValueError(f"lax.sort: dimension {dimension} is out of range for operands of "
                         f"shape {shape} (a sort needs at least one axis)")
    if not 1 <= num_keys <= len(operands):
        raise ValueError(f"lax.sort: num_keys={num_keys} must be between 1 and the number "
                         f"of operands ({len(operands)})")
    return list(operands)


def _iota_like(aval, dimension, dtype=np.int32):
    """Indices along `dimension`, broadcast to `aval`'s shape (a constant)."""
    from jumba._src.runtime.array import Array

    n = aval.shape[dimension]
    shape = [1] * aval.ndim
    shape[dimension] = n
    return Array(np.broadcast_to(np.arange(n, dtype=dtype).reshape(shape), aval.shape), False)


def _sort_jvp(primals, tangents, *, dimension, is_stable, num_keys):
    from jumba._src.numpy.index_functions import take_along_axis

    aval = get_aval(primals[0])
    iota = _iota_like(aval, dimension, dtypes.default_int_dtype())
    *outs, perm = sort_p.bind(*primals, iota, dimension=dimension, is_stable=is_stable,
                              num_keys=num_keys)
    tangents_out = []
    for x, t in zip(outs, tangents):
        if type(t) is Zero:
            tangents_out.append(Zero(ad.tangent_aval(get_aval(x))))
        else:
            tangents_out.append(take_along_axis(t, perm, axis=dimension))
    return outs, tangents_out


ad.primitive_jvps[sort_p] = _sort_jvp


def _sort_batch(size, vals, dims, *, dimension, is_stable, num_keys):
    xs = [batching.bdim_at_front(x, d, size) for x, d in zip(vals, dims)]
    out = sort_p.bind(*xs, dimension=dimension + 1, is_stable=is_stable, num_keys=num_keys)
    return out, [0] * len(out)


batching.primitive_batchers[sort_p] = _sort_batch


def sort(operand, dimension: int = -1, is_stable: bool = True, num_keys: int = 1):
    """Sorts one array, or a sequence of arrays ordered by the first `num_keys` of them.

    As `jax.lax.sort`: NaNs sort last; with several operands, every operand is permuted as
    the keys are (lexicographic in the keys, the first most significant).

    Args:
      operand: an array or a tuple/list of arrays of one shape.
      dimension: the axis to sort along.
      is_stable: keep the order of equal keys (Jumba always does).
      num_keys: how many leading operands are keys.

    Returns:
      The sorted array, or a tuple of the permuted operands.

    Examples:
      >>> import numpy as np, jumba.lax as lax
      >>> lax.sort(np.array([3.0, 1.0, 2.0], np.float32)).tolist()
      [1.0, 2.0, 3.0]
    """
    single = not isinstance(operand, (tuple, list))
    operands = [operand] if single else list(operand)
    ndim = get_aval(operands[0]).ndim if operands else 0
    if ndim and not -ndim <= dimension < ndim:
        raise ValueError(f"lax.sort: dimension {dimension} is out of range for an operand of "
                         f"rank {ndim}")
    dim = dimension % ndim if ndim else dimension
    _sort_abstract_eval(*map(get_aval, operands), dimension=int(dim),
                        is_stable=bool(is_stable), num_keys=int(num_keys))
    outs = sort_p.bind(*operands, dimension=int(dim), is_stable=bool(is_stable),
                       num_keys=int(num_keys))
    return outs[0] if single else tuple(outs)


def sort_key_val(keys, values, dimension: int = -1, is_stable: bool = True):
    """Sorts `keys` along `dimension` and permutes `values` likewise (as JAX)."""
    return sort((keys, values), dimension=dimension, is_stable=is_stable, num_keys=1)


def argsort(operand, dimension: int = -1, is_stable: bool = True, descending: bool = False):
    """The indices that sort `operand` along `dimension` (int32, or int64 under x64)."""
    from jumba._src.lax.elementwise import sub
    from jumba._src.lax.structural import rev

    aval = get_aval(operand)
    if aval.ndim == 0:
        raise ValueError("argsort needs an array with at least one axis, got a scalar")
    dim = dimension % aval.ndim
    iota = _iota_like(aval, dim, dtypes.default_int_dtype())
    if descending:
        # Stable descending order: sort the reversed array ascending, map indices back, and
        # reverse again (equal keys then keep their original order, as NumPy's flip of a
        # stable argsort would not).
        n = aval.shape[dim]
        _, perm = sort((rev(operand, (dim,)), iota), dimension=dim, is_stable=is_stable,
                       num_keys=1)
        return sub(np.asarray(n - 1, get_aval(perm).dtype), rev(perm, (dim,)))
    _, perm = sort((operand, iota), dimension=dim, is_stable=is_stable, num_keys=1)
    return perm


# ---------------------------------------------------------------------------------------
# top_k: the k largest entries along the last axis, in descending order, and their indices


top_k_p = Primitive("top_k", multiple_results=True)
top_k_p.weak_type_rule = lambda w, **params: [w, False]


@top_k_p.def_impl
def _top_k_impl(x, *, k):
    n = x.shape[-1]
    if k == 0:
        return [x[..., :0].copy(), np.zeros((*x.shape[:-1], 0), np.int32)]
    if k == n or k > 64:
        # A full stable sort of the negated keys: ties keep the lower index first (as XLA).
        idx = np.argsort(_descending_key(x), axis=-1, kind="stable")[..., :k]
    else:
        # Partition first, then order only the k candidates.
        part = np.argpartition(_descending_key(x), k - 1, axis=-1)[..., :k]
        cand = np.take_along_axis(x, part, axis=-1)
        order = np.lexsort((part, _descending_key(cand)), axis=-1)
        idx = np.take_along_axis(part, order, axis=-1)
        # argpartition may keep a tied entry with a higher index than an excluded one:
        # fall back to the full sort when the k-th value is tied outside the selection.
        kth = np.take_along_axis(x, idx[..., -1:], axis=-1)
        if np.any(np.sum(x == kth, axis=-1) > np.sum(cand == kth, axis=-1)):
            idx = np.argsort(_descending_key(x), axis=-1, kind="stable")[..., :k]
    return [np.take_along_axis(x, idx, axis=-1), idx.astype(np.int32)]


def _descending_key(x):
    if x.dtype.kind == "f":
        # NaN is the largest value in XLA's total order: it comes first.
        return np.where(np.isnan(x), -np.inf, -x.astype(np.float64))
    if x.dtype == np.bool_:
        return ~x
    return -x.astype(np.float64) if x.dtype.kind == "u" else -x.astype(np.int64)


@top_k_p.def_abstract_eval
def _top_k_abstract_eval(x, *, k):
    if x.ndim == 0:
        raise TypeError("lax.top_k needs an operand with at least one axis, got a scalar")
    if not 0 <= k <= x.shape[-1]:
        raise ValueError(f"lax.top_k: k={k} must be between 0 and the size of the last axis "
                         f"of the operand ({x.shape}); pass a smaller k")
    shape = (*x.shape[:-1], k)
    return [ShapedArray(shape, x.dtype, x.weak_type), ShapedArray(shape, np.int32, False)]


def _top_k_jvp(primals, tangents, *, k):
    from jumba._src.numpy.index_functions import take_along_axis

    (x,), (t,) = primals, tangents
    vals, idx = top_k_p.bind(x, k=k)
    idx_t = Zero(ad.tangent_aval(get_aval(idx)))
    if type(t) is Zero:
        return [vals, idx], [Zero(ad.tangent_aval(get_aval(vals))), idx_t]
    return [vals, idx], [take_along_axis(t, idx, axis=-1), idx_t]


ad.primitive_jvps[top_k_p] = _top_k_jvp


def _top_k_batch(size, vals, dims, *, k):
    (x,), (d,) = vals, dims
    ndim = get_aval(x).ndim
    if d == ndim - 1:  # the batch axis must not be the sorted one
        x, d = batching.moveaxis(x, d, 0), 0
    return top_k_p.bind(x, k=k), [d, d]


batching.primitive_batchers[top_k_p] = _top_k_batch


def top_k(operand, k: int):
    """The `k` largest entries along the last axis (descending) and their int32 indices.

    As `jax.lax.top_k`: ties are broken by the lower index; NaNs count as largest.

    Args:
      operand: an array with at least one axis.
      k: how many entries to keep (a Python int).

    Returns:
      `(values, indices)`, each of shape `operand.shape[:-1] + (k,)`.
    """
    if isinstance(k, core.Tracer):
        raise TypeError("lax.top_k: k must be a static Python int, not a traced value; "
                        "mark it static (jit(..., static_argnums=...))")
    _top_k_abstract_eval(get_aval(operand), k=int(k))
    vals, idx = top_k_p.bind(operand, k=int(k))
    return vals, idx
