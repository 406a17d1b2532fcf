"""`associative_scan`: a parallel prefix scan of an associative function.

Written on structural primitives (strided slices, concatenation, reshapes), so it needs
no rules of its own: grad, vmap and jit come from theirs. The algorithm is the classic
odd/even recursion (Blelloch's), with O(log n) levels of whole-array `fn` calls.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from jumba._src.core import get_aval
from jumba._src.lax import structural as st
from jumba._src.tree_util import tree_flatten, tree_unflatten


def _slice_axis(x, axis, start, stop, step=1):
    shape = get_aval(x).shape
    starts = [0] * len(shape)
    limits = list(shape)
    strides = [1] * len(shape)
    starts[axis], limits[axis], strides[axis] = start, max(stop, start), step
    return st.slice(x, tuple(starts), tuple(limits), tuple(strides))


def _interleave(a, b, axis):
    """a[0], b[0], a[1], b[1], ... along `axis` (len(a) is len(b) or len(b) + 1)."""
    na, nb = get_aval(a).shape[axis], get_aval(b).shape[axis]
    if na > nb:
        config = [(0, 0, 0)] * get_aval(b).ndim
        config[axis] = (0, na - nb, 0)
        b = st.pad(b, np.zeros((), get_aval(b).dtype), config)
    shape = get_aval(a).shape
    pair = st.concatenate([st.expand_dims(a, (axis + 1,)), st.expand_dims(b, (axis + 1,))],
                          axis + 1)
    merged = st.reshape(pair, (*shape[:axis], 2 * na, *shape[axis + 1:]))
    return _slice_axis(merged, axis, 0, na + nb) if na > nb else merged


def associative_scan(fn: Callable, elems, reverse: bool = False, axis: int = 0):
    """All prefix combinations of `elems` along `axis` under the associative `fn`, as
    `jax.lax.associative_scan`.

    `fn(a, b)` combines two pytrees like `elems` (slices along `axis`, elementwise in the
    other axes); the result's element i is `fn(... fn(fn(e[0], e[1]), e[2]) ..., e[i])`.

    Args:
      fn: an associative binary function on pytrees of arrays, vectorised along `axis`.
      elems: a pytree of arrays with the same size along `axis`.
      reverse: scan from the end (element i combines e[i], ..., e[n-1]).
      axis: the axis to scan along.

    Returns:
      A pytree like `elems` of the prefix combinations.

    Examples:
      >>> import jumba.numpy as jnp
      >>> from jumba import lax
      >>> lax.associative_scan(jnp.add, jnp.arange(5)).tolist()
      [0, 1, 3, 6, 10]
    """
    leaves, tree = tree_flatten(elems)
    if not leaves:
        raise ValueError("associative_scan: elems has no arrays to scan")
    axes = []
    for x in leaves:
        ndim = get_aval(x).ndim
        if not -ndim <= axis < max(ndim, 1) or ndim == 0:
            raise ValueError(f"associative_scan: axis {axis} is out of bounds for an array "
                             f"of shape {get_aval(x).shape}")
        axes.append(axis % ndim)
    sizes = [get_aval(x).shape[a] for x, a in zip(leaves, axes)]
    if len(set(sizes)) != 1:
        raise ValueError("associative_scan: array inputs to associative_scan must have the "
                         f"same size along axis {axis}, got sizes {sizes}")
    if reverse:
        leaves = [st.rev(x, (a,)) for x, a in zip(leaves, axes)]

    def combine(a, b):
        out = fn(tree_unflatten(tree, a), tree_unflatten(tree, b))
        out_leaves, out_tree = tree_flatten(out)
        if out_tree != tree:
            raise TypeError("associative_scan: fn must return a pytree with the structure of "
                            f"elems ({tree}), got {out_tree}")
        return out_leaves

    def sl(xs, start, stop, step=1):
        return [_slice_axis(x, a, start, stop, step) for x, a in zip(xs, axes)]

    def scan(xs):
        n = get_aval(xs[0]).shape[axes[0]]
        if n < 2:
            return xs
        odd = scan(combine(sl(xs, 0, n - 1, 2), sl(xs, 1, n, 2)))
        if n % 2 == 0:
            even = combine(sl(odd, 0, n // 2 - 1), sl(xs, 2, n, 2))
        else:
            even = combine(odd, sl(xs, 2, n, 2))
        even = [st.concatenate([_slice_axis(x, a, 0, 1), e], a)
                for x, e, a in zip(xs, even, axes)]
        return [_interleave(e, o, a) for e, o, a in zip(even, odd, axes)]

    out = scan(leaves)
    if reverse:
        out = [st.rev(x, (a,)) for x, a in zip(out, axes)]
    return tree_unflatten(tree, out)
