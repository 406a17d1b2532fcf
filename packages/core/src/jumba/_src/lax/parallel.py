"""Collectives over named axes: psum, pmean, pmax, pmin, all_gather, psum_scatter,
ppermute, all_to_all, axis_index, axis_size (as `jax.lax`).

A named axis is mapped either by `vmap(..., axis_name=)` or by `pmap(..., axis_name=)`.
Under vmap a collective is a batching rule: the mapped values sit stacked on the batch
axis, and each collective is an ordinary array operation on that stack (the `_stacked_*`
functions below, given the stack with the mapped axis first). Under pmap each device
thread holds one slice; the NumPy implementation meets the other devices at a rendezvous
(`runtime/pmap_executor.py`), which stacks their operands and applies the same
`_stacked_*` function - one definition of each collective's meaning for both.

Differentiation follows JAX's (pmap) semantics: psum, all_gather, psum_scatter, ppermute
and all_to_all are linear; psum transposes to psum (every device's cotangent is summed
and broadcast back), all_gather to psum_scatter and back, ppermute to the inverse
permutation, all_to_all to the all_to_all that swaps the split and concatenation axes.
"""

from __future__ import annotations

import numpy as np

from jumba._src import core, dtypes
from jumba._src.compiler import passes
from jumba._src.core import Primitive, ShapedArray, Tracer
from jumba._src.interpreters import ad, batching
from jumba._src.runtime import pmap_executor as px

# ---------------------------------------------------------------------------------------
# Binding: axis names must be in scope; values enter the vmaps that map their axes


def _axes_tuple(axis_name) -> tuple:
    return tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)


def _frames(axes, what):
    frames = []
    for name in axes:
        frame = px.lookup(name)
        if frame is None:
            raise px.unbound_axis_error(name, what)
        frames.append(frame)
    return frames


def _lift(x, frames):
    """Make `x` a value of every vmap that maps one of `frames` (unbatched there), so that
    the vmap's batching rule sees the collective even when `x` does not depend on the
    mapped inputs (psum(1.0, 'i') is the axis size)."""
    for frame in sorted((f for f in frames if f.main is not None),
                        key=lambda f: f.main.level):
        main = frame.main
        level = x._trace.main.level if isinstance(x, Tracer) else -1
        if level < main.level:
            trace = main.trace
            if trace is None:
                trace = main.trace = batching.BatchTrace(main)
            x = batching.BatchTracer(trace, x, None)
    return x


def _bind(p, x, axes, **params):
    frames = _frames(axes, p.name)
    return p.bind(_lift(x, frames), axes=axes, **params)


def _single_axis(axis_name, what):
    axes = _axes_tuple(axis_name)
    if len(axes) != 1:
        raise NotImplementedError(f"{what} over several axes {axes!r} is not supported; "
                                  "apply it once per axis.")
    return axes


def _axis_size_of(axes, what) -> int:
    size = 1
    for frame in _frames(axes, what):
        size *= frame.size
    return size


def _collective_primitive(name):
    p = Primitive(name)
    p.weak_type_rule = lambda w, **params: w
    passes.effectful_primitives.add(p)  # never constant-folded or merged: devices meet
    batching.axis_primitives.add(p)
    return p


def _rest(axes, name):
    return tuple(a for a in axes if a != name)


def _front(x, d, size):
    return batching.bdim_at_front(x, d, size)


# ---------------------------------------------------------------------------------------
# The collectives on stacked values (mapped axis first): shared by vmap and pmap


def _jnp():
    import jumba.numpy as jnp

    return jnp


def _stacked_gather(X, *, axis, tiled):
    jnp = _jnp()
    Y = jnp.moveaxis(X, 0, axis)
    if tiled:
        s = Y.shape
        Y = Y.reshape(s[:axis] + (s[axis] * s[axis + 1],) + s[axis + 2:])
    return Y


def _stacked_scatter(X, *, scatter_dimension, tiled):
    jnp = _jnp()
    n, sd = X.shape[0], scatter_dimension
    S = X.sum(0)
    if tiled:
        s = S.shape
        S = S.reshape(s[:sd] + (n, s[sd] // n) + s[sd + 1:])
    return jnp.moveaxis(S, sd, 0)


def _stacked_all_to_all(X, *, split_axis, concat_axis, tiled):
    jnp = _jnp()
    n = X.shape[0]
    if tiled:
        s = X.shape
        X = X.reshape(s[:split_axis + 1] + (n, s[split_axis + 1] // n) + s[split_axis + 2:])
        Y = _stacked_all_to_all(X, split_axis=split_axis, concat_axis=concat_axis,
                                tiled=False)
        s = Y.shape  # (n, ..., n at concat_axis + 1, original concat axis, ...)
        c = concat_axis + 1
        return Y.reshape(s[:c] + (s[c] * s[c + 1],) + s[c + 2:])
    Z = jnp.moveaxis(X, split_axis + 1, 0)  # Z[j, i, ...]: what device i sends to j
    return jnp.moveaxis(Z, 1, concat_axis + 1)


def _stacked_ppermute(X, *, perm):
    jnp = _jnp()
    n = X.shape[0]
    src = [-1] * n
    for s, d in perm:
        src[d] = s
    if all(s >= 0 for s in src):
        return X[np.asarray(src)]
    idx = np.asarray([max(s, 0) for s in src])
    keep = np.asarray([s >= 0 for s in src]).reshape((n,) + (1,) * (X.ndim - 1))
    return jnp.where(keep, X[idx], jnp.zeros((), X.dtype))


# ---------------------------------------------------------------------------------------
# psum, pmax, pmin


def _reduction(name, op, stacked):
    p = _collective_primitive(name)
    p.def_impl(lambda x, *, axes: px.reduce_collective(axes, name, x, op))
    p.def_abstract_eval(lambda x, *, axes: x)

    def batch(axis, vals, dims, *, axes):
        (x,), (d,) = vals, dims
        if axis.name not in axes:
            return p.bind(x, axes=axes), d
        if d is None:
            y = x * axis.size if op == "sum" else x
        else:
            y = stacked(batching.moveaxis(x, d, 0))
        rest = _rest(axes, axis.name)
        return (_bind(p, y, rest) if rest else y), None

    batching.primitive_batchers[p] = batch
    return p


psum_p = _reduction("psum", "sum", lambda X: X.sum(0))
pmax_p = _reduction("pmax", "max", lambda X: X.max(0))
pmin_p = _reduction("pmin", "min", lambda X: X.min(0))


def _psum_jvp(primals, tangents, *, axes):
    (x,), (t,) = primals, tangents
    return _bind(psum_p, x, axes), _bind(psum_p, ad.instantiate_zeros(t), axes)


ad.primitive_jvps[psum_p] = _psum_jvp
ad.primitive_transposes[psum_p] = lambda ct, x, *, axes: [
    _bind(psum_p, ad.instantiate_zeros(ct), axes)]


def _extremum_jvp(p):
    def jvp(primals, tangents, *, axes):
        (x,), (t,) = primals, tangents
        jnp = _jnp()
        ans = _bind(p, x, axes)
        # The tangent of the winner(s), shared equally among ties (as reduce_max).
        mask = (x == ans).astype(ans.dtype)
        num = _bind(psum_p, ad.instantiate_zeros(t) * mask, axes)
        return ans, num / _bind(psum_p, mask, axes) + jnp.zeros((), ans.dtype)

    ad.primitive_jvps[p] = jvp


_extremum_jvp(pmax_p)
_extremum_jvp(pmin_p)


def _tree_collective(fn, x, *args, **kwargs):
    from jumba._src.tree_util import tree_map

    return tree_map(lambda leaf: fn(leaf, *args, **kwargs), x)


def psum(x, axis_name, *, axis_index_groups=None):
    """Sum `x` (a pytree) over the devices or vmapped elements of the named axis/axes.

    Examples:
      >>> import jumba as jb, jumba.numpy as jnp
      >>> jb.vmap(lambda v: jb.lax.psum(v, "i"), axis_name="i")(jnp.arange(3.0)).tolist()
      [3.0, 3.0, 3.0]
    """
    _no_groups(axis_index_groups, "psum")
    axes = _axes_tuple(axis_name)
    return _tree_collective(lambda v: _bind(psum_p, v, axes), x)


def pmax(x, axis_name, *, axis_index_groups=None):
    """Maximum of `x` (a pytree) over the named axis/axes."""
    _no_groups(axis_index_groups, "pmax")
    axes = _axes_tuple(axis_name)
    return _tree_collective(lambda v: _bind(pmax_p, v, axes), x)


def pmin(x, axis_name, *, axis_index_groups=None):
    """Minimum of `x` (a pytree) over the named axis/axes."""
    _no_groups(axis_index_groups, "pmin")
    axes = _axes_tuple(axis_name)
    return _tree_collective(lambda v: _bind(pmin_p, v, axes), x)


def pmean(x, axis_name, *, axis_index_groups=None):
    """Mean of `x` (a pytree) over the named axis/axes: psum divided by the axis size."""
    _no_groups(axis_index_groups, "pmean")
    axes = _axes_tuple(axis_name)
    n = _axis_size_of(axes, "pmean")
    return _tree_collective(lambda v: _bind(psum_p, v, axes) / n, x)


def _no_groups(groups, what):
    if groups is not None:
        raise NotImplementedError(f"{what}: axis_index_groups is not supported; split the "
                                  "axis with a nested pmap/vmap instead.")


# ---------------------------------------------------------------------------------------
# all_gather and psum_scatter (each other's transpose)


all_gather_p = _collective_primitive("all_gather")
psum_scatter_p = _collective_primitive("psum_scatter")


def _all_gather_abstract_eval(x, *, axes, axis, tiled, axis_size):
    s = x.shape
    if not 0 <= axis <= len(s) - tiled:
        raise ValueError(f"all_gather: axis {axis} is out of bounds for a per-device value "
                         f"of shape {s}")
    shape = s[:axis] + (axis_size * s[axis],) + s[axis + 1:] if tiled else \
        s[:axis] + (axis_size,) + s[axis:]
    return ShapedArray(shape, x.dtype, x.weak_type)


all_gather_p.def_abstract_eval(_all_gather_abstract_eval)
all_gather_p.def_impl(lambda x, *, axes, axis, tiled, axis_size: px.collective(
    axes, "all_gather", x, lambda X: _stacked_gather(X, axis=axis, tiled=tiled), True))


def _all_gather_batch(ax, vals, dims, *, axes, axis, tiled, axis_size):
    (x,), (d,) = vals, dims
    if ax.name not in axes:
        x = _front(x, d, ax.size) if d is not None else x
        return all_gather_p.bind(x, axes=axes, axis=axis + (d is not None), tiled=tiled,
                                 axis_size=axis_size), (None if d is None else 0)
    return _stacked_gather(_front(x, d, ax.size), axis=axis, tiled=tiled), None


batching.primitive_batchers[all_gather_p] = _all_gather_batch


def _psum_scatter_abstract_eval(x, *, axes, scatter_dimension, tiled, axis_size):
    s, sd = x.shape, scatter_dimension
    if not 0 <= sd < len(s):
        raise ValueError(f"psum_scatter: scatter_dimension {sd} is out of bounds for a "
                         f"per-device value of shape {s}")
    if tiled:
        if s[sd] % axis_size:
            raise ValueError(f"psum_scatter(tiled=True): dimension {sd} of the per-device "
                             f"value (shape {s}) must be a multiple of the axis size "
                             f"{axis_size}")
        shape = s[:sd] + (s[sd] // axis_size,) + s[sd + 1:]
    else:
        if s[sd] != axis_size:
            raise ValueError(f"psum_scatter: dimension {sd} of the per-device value (shape "
                             f"{s}) must equal the axis size {axis_size} (or pass "
                             "tiled=True to scatter blocks of a multiple of it)")
        shape = s[:sd] + s[sd + 1:]
    return ShapedArray(shape, x.dtype, x.weak_type)


psum_scatter_p.def_abstract_eval(_psum_scatter_abstract_eval)
psum_scatter_p.def_impl(lambda x, *, axes, scatter_dimension, tiled, axis_size: px.collective(
    axes, "psum_scatter", x,
    lambda X: _stacked_scatter(X, scatter_dimension=scatter_dimension, tiled=tiled), False))


def _psum_scatter_batch(ax, vals, dims, *, axes, scatter_dimension, tiled, axis_size):
    (x,), (d,) = vals, dims
    if ax.name not in axes:
        x = _front(x, d, ax.size) if d is not None else x
        return psum_scatter_p.bind(
            x, axes=axes, scatter_dimension=scatter_dimension + (d is not None), tiled=tiled,
            axis_size=axis_size), (None if d is None else 0)
    return _stacked_scatter(_front(x, d, ax.size), scatter_dimension=scatter_dimension,
                            tiled=tiled), 0


batching.primitive_batchers[psum_scatter_p] = _psum_scatter_batch


def _linear_jvp(bind):
    def jvp(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        return bind(x, **params), bind(ad.instantiate_zeros(t), **params)
    return jvp


def _bind_gather(x, *, axes, axis, tiled, axis_size):
    return _bind(all_gather_p, x, axes, axis=axis, tiled=tiled, axis_size=axis_size)


def _bind_scatter(x, *, axes, scatter_dimension, tiled, axis_size):
    return _bind(psum_scatter_p, x, axes, scatter_dimension=scatter_dimension, tiled=tiled,
                 axis_size=axis_size)


ad.primitive_jvps[all_gather_p] = _linear_jvp(_bind_gather)
ad.primitive_jvps[psum_scatter_p] = _linear_jvp(_bind_scatter)
ad.primitive_transposes[all_gather_p] = lambda ct, x, *, axes, axis, tiled, axis_size: [
    _bind_scatter(ad.instantiate_zeros(ct), axes=axes, scatter_dimension=axis, tiled=tiled,
                  axis_size=axis_size)]
ad.primitive_transposes[psum_scatter_p] = \
    lambda ct, x, *, axes, scatter_dimension, tiled, axis_size: [
        _bind_gather(ad.instantiate_zeros(ct), axes=axes, axis=scatter_dimension,
                     tiled=tiled, axis_size=axis_size)]


def all_gather(x, axis_name, *, axis_index_groups=None, axis: int = 0, tiled: bool = False):
    """Gather `x` (a pytree) from every device of the named axis.

    Each device gets the stack of all devices' values along a new axis `axis` (or, with
    `tiled=True`, their concatenation along the existing axis `axis`).
    """
    _no_groups(axis_index_groups, "all_gather")
    axes = _single_axis(axis_name, "all_gather")
    n = _axis_size_of(axes, "all_gather")

    def one(v):
        nd = core.get_aval(v).ndim
        a = axis + nd + (not tiled) if axis < 0 else axis
        # Checked here as well as when staged: vmap's rule never calls abstract_eval.
        _all_gather_abstract_eval(core.get_aval(v), axes=axes, axis=a, tiled=bool(tiled),
                                  axis_size=n)
        return _bind_gather(v, axes=axes, axis=a, tiled=bool(tiled), axis_size=n)

    return _tree_collective(one, x)


def psum_scatter(x, axis_name, *, scatter_dimension: int = 0, axis_index_groups=None,
                 tiled: bool = False):
    """Sum `x` over the named axis and give device i the i-th block along
    `scatter_dimension` (whose size must equal the axis size, or be a multiple of it with
    `tiled=True`)."""
    _no_groups(axis_index_groups, "psum_scatter")
    axes = _single_axis(axis_name, "psum_scatter")
    n = _axis_size_of(axes, "psum_scatter")

    def one(v):
        sd = scatter_dimension % max(core.get_aval(v).ndim, 1)
        _psum_scatter_abstract_eval(core.get_aval(v), axes=axes, scatter_dimension=sd,
                                    tiled=bool(tiled), axis_size=n)
        return _bind_scatter(v, axes=axes, scatter_dimension=sd, tiled=bool(tiled),
                             axis_size=n)

    return _tree_collective(one, x)


# ---------------------------------------------------------------------------------------
# ppermute


ppermute_p = _collective_primitive("ppermute")
ppermute_p.def_abstract_eval(lambda x, *, axes, perm: x)
ppermute_p.def_impl(lambda x, *, axes, perm: px.collective(
    axes, "ppermute", x, lambda X: _stacked_ppermute(X, perm=perm), False))


def _ppermute_batch(ax, vals, dims, *, axes, perm):
    (x,), (d,) = vals, dims
    if ax.name not in axes:
        return ppermute_p.bind(x, axes=axes, perm=perm), d
    return _stacked_ppermute(_front(x, d, ax.size), perm=perm), 0


def _bind_ppermute(x, *, axes, perm):
    return _bind(ppermute_p, x, axes, perm=perm)


batching.primitive_batchers[ppermute_p] = _ppermute_batch
ad.primitive_jvps[ppermute_p] = _linear_jvp(_bind_ppermute)
ad.primitive_transposes[ppermute_p] = lambda ct, x, *, axes, perm: [
    _bind_ppermute(ad.instantiate_zeros(ct), axes=axes,
                   perm=tuple((d, s) for s, d in perm))]


def ppermute(x, axis_name, perm):
    """Send device `src`'s `x` (a pytree) to device `dst` for each pair `(src, dst)` in
    `perm`; devices nobody sends to get zeros."""
    axes = _single_axis(axis_name, "ppermute")
    n = _axis_size_of(axes, "ppermute")
    perm = tuple((int(s), int(d)) for s, d in perm)
    srcs, dsts = [s for s, _ in perm], [d for _, d in perm]
    if len(set(srcs)) != len(srcs) or len(set(dsts)) != len(dsts):
        raise ValueError(f"ppermute: perm {perm} sends from or to a device twice; each "
                         "device may appear at most once as a source and once as a target")
    if any(not 0 <= i < n for i in srcs + dsts):
        raise ValueError(f"ppermute: perm {perm} names a device outside the axis "
                         f"{axes[0]!r} of size {n}")
    return _tree_collective(lambda v: _bind_ppermute(v, axes=axes, perm=perm), x)


# ---------------------------------------------------------------------------------------
# all_to_all


all_to_all_p = _collective_primitive("all_to_all")


def _all_to_all_abstract_eval(x, *, axes, split_axis, concat_axis, tiled, axis_size):
    s = list(x.shape)
    if not (0 <= split_axis < len(s) and 0 <= concat_axis < len(s)):
        raise ValueError(f"all_to_all: split_axis {split_axis} or concat_axis {concat_axis} "
                         f"is out of bounds for a per-device value of shape {tuple(s)}")
    if tiled:
        if s[split_axis] % axis_size:
            raise ValueError(f"all_to_all(tiled=True): the split axis {split_axis} (shape "
                             f"{tuple(s)}) must be a multiple of the axis size {axis_size}")
        s[split_axis] //= axis_size
        s[concat_axis] *= axis_size
    else:
        if s[split_axis] != axis_size:
            raise ValueError(f"all_to_all: the split axis {split_axis} of the per-device "
                             f"value (shape {tuple(s)}) must equal the axis size "
                             f"{axis_size}")
        del s[split_axis]
        s.insert(concat_axis, axis_size)
    return ShapedArray(tuple(s), x.dtype, x.weak_type)


all_to_all_p.def_abstract_eval(_all_to_all_abstract_eval)
all_to_all_p.def_impl(
    lambda x, *, axes, split_axis, concat_axis, tiled, axis_size: px.collective(
        axes, "all_to_all", x, lambda X: _stacked_all_to_all(
            X, split_axis=split_axis, concat_axis=concat_axis, tiled=tiled), False))


def _all_to_all_batch(ax, vals, dims, *, axes, split_axis, concat_axis, tiled, axis_size):
    (x,), (d,) = vals, dims
    if ax.name not in axes:
        x = _front(x, d, ax.size) if d is not None else x
        k = d is not None
        return all_to_all_p.bind(x, axes=axes, split_axis=split_axis + k,
                                 concat_axis=concat_axis + k, tiled=tiled,
                                 axis_size=axis_size), (0 if k else None)
    return _stacked_all_to_all(_front(x, d, ax.size), split_axis=split_axis,
                               concat_axis=concat_axis, tiled=tiled), 0


def _bind_all_to_all(x, *, axes, split_axis, concat_axis, tiled, axis_size):
    return _bind(all_to_all_p, x, axes, split_axis=split_axis, concat_axis=concat_axis,
                 tiled=tiled, axis_size=axis_size)


batching.primitive_batchers[all_to_all_p] = _all_to_all_batch
ad.primitive_jvps[all_to_all_p] = _linear_jvp(_bind_all_to_all)
ad.primitive_transposes[all_to_all_p] = \
    lambda ct, x, *, axes, split_axis, concat_axis, tiled, axis_size: [
        _bind_all_to_all(ad.instantiate_zeros(ct), axes=axes, split_axis=concat_axis,
                         concat_axis=split_axis, tiled=tiled, axis_size=axis_size)]


def all_to_all(x, axis_name, split_axis: int, concat_axis: int, *, axis_index_groups=None,
               tiled: bool = False):
    """Device i sends the j-th chunk of `x` along `split_axis` to device j, which stacks
    the chunks it receives (in device order) along `concat_axis` (concatenates them with
    `tiled=True`)."""
    _no_groups(axis_index_groups, "all_to_all")
    axes = _single_axis(axis_name, "all_to_all")
    n = _axis_size_of(axes, "all_to_all")
    aval = core.get_aval(x)
    params = dict(axes=axes, split_axis=split_axis % max(aval.ndim, 1),
                  concat_axis=concat_axis % max(aval.ndim, 1), tiled=bool(tiled), axis_size=n)
    _all_to_all_abstract_eval(aval, **params)
    return _bind_all_to_all(x, **params)


# ---------------------------------------------------------------------------------------
# axis_index, axis_size


axis_index_p = _collective_primitive("axis_index")
axis_index_p.def_abstract_eval(lambda *, axes: ShapedArray((), np.dtype(np.int32)))
axis_index_p.def_impl(lambda *, axes: np.asarray(px.axis_index(axes, "axis_index"),
                                                  np.int32))
axis_index_p.weak_type_rule = lambda **params: False
ad.primitive_jvps[axis_index_p] = lambda primals, tangents, *, axes: (
    axis_index_p.bind(axes=axes), ad.Zero(ShapedArray((), dtypes.float0)))


def _axis_index_batch(ax, vals, dims, *, axes):
    if ax.name in axes:
        return np.arange(ax.size, dtype=np.int32), 0
    return axis_index_p.bind(axes=axes), None


batching.primitive_batchers[axis_index_p] = _axis_index_batch


def axis_index(axis_name):
    """This device's (or vmapped element's) index along the named axis, an int32 scalar."""
    (name,) = _single_axis(axis_name, "axis_index")
    (frame,) = _frames((name,), "axis_index")
    if frame.main is not None:
        main = frame.main
        trace = main.trace
        if trace is None:
            trace = main.trace = batching.BatchTrace(main)
        return batching.BatchTracer(trace, np.arange(frame.size, dtype=np.int32), 0)
    return axis_index_p.bind(axes=(name,))


def axis_size(axis_name) -> int:
    """The size of the named axis (or the product over a tuple of names), a Python int."""
    return _axis_size_of(_axes_tuple(axis_name), "axis_size")
