"""NumPy indexing on jumba arrays: `x[idx]`, `x.at[idx].set/add/...` and the index functions
(take, take_along_axis, nonzero, diagonal, ...), with JAX's semantics.

An index expression is parsed once into entries, one per indexed axis (plus `None`s):
- only static ints and slices: slice / rev / reshape primitives;
- traced integer scalars as well: the static part, then one `dynamic_slice`;
- integer arrays (or a mode other than the default): one `gather`, or one scatter for
  `.at[...]` updates. Slices become window axes (step 1) or arange index columns (other
  steps); advanced indices broadcast together and their axes go where NumPy puts them.

Out-of-bounds indices: retrieval clamps (`mode=None` is "promise_in_bounds", which gathers
clamp), updates are dropped ("fill"/"drop"), as in JAX. Boolean masks need concrete values:
the shape of `x[mask]` depends on them.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from jumba._src import core, dtypes
from jumba._src.core import Array, Tracer, get_aval
from jumba._src.lax import elementwise as ew
from jumba._src.lax import slicing as sl
from jumba._src.lax import structural as st
from jumba._src.lax.slicing import GatherScatterMode
from jumba._src.numpy import lax_numpy as jnp

__all__ = [
    "take", "take_along_axis", "put_along_axis", "put", "nonzero", "argwhere",
    "flatnonzero", "compress", "extract", "choose", "diagonal", "diag", "tril", "triu",
    "trace", "diag_indices", "diag_indices_from", "tril_indices", "triu_indices",
    "tril_indices_from", "triu_indices_from", "ix_", "unravel_index", "ravel_multi_index",
]


class NonConcreteBooleanIndexError(IndexError):
    """A boolean mask with traced values was used where its values fix a result's shape."""


_BOOL_MASK_MESSAGE = (
    "Array boolean indices must be concrete; got a traced mask {aval} ({where}).\n"
    "The result of x[mask] has one element per True entry, so its shape depends on the mask's "
    "values, which are unknown while the function is traced (jit, vmap, ...). Fixes:\n"
    "  - keep the shape: jnp.where(mask, x, 0) instead of x[mask] (and jnp.sum(x, "
    "where=mask) for reductions);\n"
    "  - fix the size: x[jnp.nonzero(mask, size=N, fill_value=...)], or "
    "jnp.compress(mask, x, size=N);\n"
    "  - for updates: x.at[mask].set(scalar) works, or jnp.where(mask, new, x)."
)

_ADVANCED = ("array", "int", "scalar")


class _Entry:
    """One entry of a parsed index: kind in none/slice/int/scalar/array, and its axis."""

    __slots__ = ("kind", "value", "axis")

    def __init__(self, kind, value=None, axis=None):
        self.kind, self.value, self.axis = kind, value, axis

    def shape(self):
        return () if self.kind in ("int", "scalar") else tuple(np.shape(self.value)) if \
            isinstance(self.value, np.ndarray) else get_aval(self.value).shape


def _concrete(x):
    """The NumPy value of x if known now (eager, or under grad of eager values), else None."""
    if isinstance(x, Tracer):
        v = x.concrete_value()
        return None if v is None else core.to_numpy(v)
    return core.to_numpy(x)


def _bool_mask_error(x, what):
    where = what if not isinstance(x, Tracer) else x._trace.main.kind
    return NonConcreteBooleanIndexError(
        _BOOL_MASK_MESSAGE.format(aval=get_aval(x).str_short(), where=where))


def _parse_index(shape, idx):
    """Entries (each consuming one axis, or 'none') and the axes to insert for scalar bools."""
    if isinstance(idx, list):
        raise TypeError(
            "Using a non-tuple sequence for multidimensional indexing is not allowed: use "
            "x[jnp.array(idx)] (an index array) or x[tuple(idx)] (one index per axis).")
    if not isinstance(idx, tuple):
        idx = (idx,)
    raw: list = []
    for i in idx:
        if i is None:
            raw.append(_Entry("none"))
        elif i is Ellipsis:
            raw.append(_Entry("ellipsis"))
        elif isinstance(i, slice):
            raw.append(_Entry("slice", i))
        elif isinstance(i, (bool, np.bool_)):
            raw.append(_Entry("bool", bool(i)))
        elif isinstance(i, (int, np.integer)):
            raw.append(_Entry("int", int(i)))
        else:
            if isinstance(i, (list, tuple)):
                i = np.asarray(i)
                if i.size == 0:
                    i = i.astype(np.int32)
            if not isinstance(i, (np.ndarray, Array, Tracer)):
                if hasattr(i, "__index__"):
                    raw.append(_Entry("int", operator.index(i)))
                    continue
                raise TypeError(f"Indexing with {type(i).__name__} is not supported: use ints, "
                                "slices, None, Ellipsis, or integer/boolean arrays.")
            aval = get_aval(i)
            if aval.dtype == np.bool_:
                v = _concrete(i)
                if v is None:
                    raise _bool_mask_error(i, "boolean index")
                if aval.ndim == 0:
                    raw.append(_Entry("bool", bool(v)))
                else:
                    for k, a in enumerate(np.nonzero(v)):
                        raw.append(_Entry("array", a.astype(_index_dtype()), ("mask", v.shape, k)))
            elif aval.dtype.kind in "iu":
                if aval.ndim == 0 and isinstance(i, np.ndarray):
                    raw.append(_Entry("int", int(i)))
                else:
                    raw.append(_Entry("scalar" if aval.ndim == 0 else "array", i))
            else:
                raise IndexError(
                    f"Indexing with an array of dtype {aval.dtype.name} is not allowed: arrays "
                    "used as indices must be of integer (or boolean) type.")
    n_ellipsis = sum(e.kind == "ellipsis" for e in raw)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = sum(e.kind in ("slice", *_ADVANCED) for e in raw)
    if consumed > len(shape):
        raise IndexError(f"too many indices for array: array is {len(shape)}-dimensional, but "
                         f"{consumed} were indexed")
    fill = [_Entry("slice", slice(None)) for _ in range(len(shape) - consumed)]
    if n_ellipsis:
        k = next(j for j, e in enumerate(raw) if e.kind == "ellipsis")
        raw = raw[:k] + fill + raw[k + 1:]
    else:
        raw = raw + fill
    entries, inserts, axis = [], [], 0
    for e in raw:
        if e.kind == "none":
            entries.append(e)
            continue
        if e.kind == "bool":
            # A scalar bool is an advanced index over a new axis of size 1: [0] or [].
            inserts.append(axis)
            e = _Entry("array", np.zeros(1 if e.value else 0, _index_dtype()))
        elif e.kind == "array" and e.axis is not None:
            _, mshape, k = e.axis
            n = shape[axis - len(inserts)]
            if mshape[k] != n:
                raise IndexError(f"boolean index did not match indexed array along axis "
                                 f"{axis - len(inserts)}; size of axis is {n} but size of "
                                 f"corresponding boolean axis is {mshape[k]}")
        e.axis = axis
        entries.append(e)
        axis += 1
    return entries, inserts


def _index_dtype(big=False):
    return np.dtype(np.int64) if big else np.dtype(np.int32)


def _normalize(i, n, dt):
    """Index `i` (int, NumPy or traced) as dtype `dt`, negative values counted from `n`."""
    if isinstance(i, int):
        return i + n if i < 0 else i
    if isinstance(i, np.ndarray):
        i = i.astype(dt)
        return np.where(i < 0, i + n, i) if i.dtype.kind == "i" else i
    unsigned = get_aval(i).dtype.kind == "u"
    i = st.convert_element_type(i, dt)
    if unsigned:
        return i
    return ew.select_n(ew.lt(i, np.zeros((), dt)), i, ew.add(i, np.asarray(n, dt)))


def _check_static_int(i, n, axis):
    if not -n <= i < n:
        raise IndexError(f"index {i} is out of bounds for axis {axis} with size {n}")
    return i % n


# ---------------------------------------------------------------------------------------
# Basic indexing: static slices and ints (slice/rev/reshape), traced scalars (dynamic_slice)


def _static_getitem(x, entries):
    shape = get_aval(x).shape
    start, limit, strides, rev_axes, out_shape, dyn = [], [], [], [], [], []
    for e in entries:
        if e.kind == "none":
            out_shape.append(("keep", 1))
            continue
        n = shape[e.axis]
        if e.kind == "slice":
            s, stop, step = e.value.indices(n)
            length = len(range(s, stop, step))
            if step > 0:
                start.append(s)
                limit.append(s + (length - 1) * step + 1 if length else s)
                strides.append(step)
            else:
                start.append(s + (length - 1) * step if length else 0)
                limit.append(s + 1 if length else 0)
                strides.append(-step)
                rev_axes.append(e.axis)
            out_shape.append(("keep", length))
        elif e.kind == "int":
            k = _check_static_int(e.value, n, e.axis)
            start.append(k)
            limit.append(k + 1)
            strides.append(1)
            out_shape.append(("drop", 1))
        else:  # traced scalar: kept whole here, then one dynamic_slice
            start.append(0)
            limit.append(n)
            strides.append(1)
            out_shape.append(("dyn", n))
            dyn.append(e.value)
    y = st.slice(x, start, limit, strides)
    if rev_axes:
        y = st.rev(y, tuple(rev_axes))
    kept = [(kind, n) for kind, n in out_shape if kind != "drop"]
    y = st.reshape(y, [n for _, n in kept])
    if dyn:
        it = iter(dyn)
        starts, sizes = [], []
        for kind, n in kept:
            if kind == "dyn":
                starts.append(_normalize(next(it), n, _index_dtype()))
                sizes.append(1)
            else:
                starts.append(np.zeros((), np.int32))
                sizes.append(n)
        starts = [np.asarray(s, np.int32) if isinstance(s, int) else s for s in starts]
        y = sl.dynamic_slice_p.bind(y, *starts, slice_sizes=tuple(sizes))
        y = st.reshape(y, [n for kind, n in kept if kind != "dyn"])
    return y


# ---------------------------------------------------------------------------------------
# Advanced indexing as one gather / scatter


class _Plan:
    """Everything a gather or scatter needs for an index expression on an array of `shape`.

    view: the dims of x[idx] in order, each ('none',), ('adv', size), ('strided', size)
    or ('window', size); gather batch axes are the adv and strided ones, in view order.
    """

    def __init__(self, shape, entries, check_ints):
        adv = [e for e in entries if e.kind in _ADVANCED]
        try:
            bshape = np.broadcast_shapes(*[e.shape() for e in adv]) if adv else ()
        except ValueError:
            shapes = " ".join(str(e.shape()) for e in adv if e.kind == "array")
            raise IndexError("shape mismatch: indexing arrays could not be broadcast together "
                             f"with shapes {shapes}") from None
        pos = [k for k, e in enumerate(entries) if e.kind in _ADVANCED]
        contiguous = pos == list(range(pos[0], pos[-1] + 1)) if pos else True
        view: list = []
        adv_block = [("adv", n) for n in bshape]
        placed = not adv
        if not contiguous:
            view += adv_block
            placed = True
        strided = []  # (batch-view entry, axis, start, step, length)
        windows = {}  # axis -> (start, length)
        for e in entries:
            if e.kind == "none":
                view.append(("none", 1))
            elif e.kind in _ADVANCED:
                if not placed:
                    view += adv_block
                    placed = True
            else:
                s, stop, step = e.value.indices(shape[e.axis])
                length = len(range(s, stop, step))
                if step == 1:
                    windows[e.axis] = (s, length)
                    view.append(("window", length))
                else:
                    strided.append((len(view), e.axis, s, step, length))
                    view.append(("strided", length))
        self.view_shape = tuple(n for _, n in view)
        dims = [(k, n) for k, n in view if k != "none"]
        self.dims_shape = tuple(n for _, n in dims)
        self.offset_dims = tuple(p for p, (k, _) in enumerate(dims) if k == "window")
        batch = [(p, k) for p, (k, _) in enumerate(dims) if k != "window"]
        self.batch_shape = tuple(dims[p][1] for p, _ in batch)
        nb = len(self.batch_shape)
        first_adv = next((j for j, (_, k) in enumerate(batch) if k == "adv"), 0)
        # Columns of the index vector, each an array broadcastable to batch_shape.
        big = any(n >= 2**31 for n in shape) or any(
            e.kind != "int" and get_aval(e.value).dtype.itemsize == 8 for e in adv)
        dt = _index_dtype(big)
        cols, index_map = [], []
        for e in adv:
            n = shape[e.axis]
            v = e.value
            if e.kind == "int" and check_ints:
                v = _check_static_int(v, n, e.axis)
            v = _normalize(v, n, dt)
            rank = len(e.shape())
            lead = [1] * (first_adv + len(bshape) - rank)
            cols.append(_place(v, lead + list(e.shape()) + [1] * (nb - first_adv - len(bshape))))
            index_map.append(e.axis)
        view_to_batch = {}
        p = 0
        for vi, (k, _) in enumerate(view):
            if k in ("adv", "strided"):
                view_to_batch[vi] = p
                p += 1
        for vi, axis, s, step, length in strided:
            shape_b = [1] * nb
            shape_b[view_to_batch[vi]] = length
            cols.append(np.arange(s, s + step * length, step, dtype=dt)[:length].reshape(shape_b)
                        if length else np.zeros(shape_b, dt))
            index_map.append(axis)
        for axis, (s, _) in windows.items():
            if s:
                cols.append(np.full([1] * nb, s, dt))
                index_map.append(axis)
        self.indices = _stack_columns(cols, self.batch_shape, dt)
        self.index_map = tuple(index_map)
        self.collapsed = tuple(sorted([e.axis for e in adv] + [a for _, a, *_ in strided]))
        self.slice_sizes = tuple(windows[a][1] if a in windows else 1 for a in range(len(shape)))
        n_points = int(np.prod(bshape, dtype=np.int64))
        self.unique = n_points <= 1
        self.sorted = not any(e.kind == "array" for e in adv)


def _place(v, shape):
    if isinstance(v, int):
        return np.full(shape, v)
    if isinstance(v, np.ndarray):
        return v.reshape(shape)
    return st.reshape(v, shape)


def _stack_columns(cols, batch_shape, dt):
    full = tuple(batch_shape) + (1,)
    if all(isinstance(c, np.ndarray) for c in cols):
        out = np.empty(tuple(batch_shape) + (len(cols),), dt)
        for k, c in enumerate(cols):
            out[..., k] = c
        return Array(out, False)
    parts = []
    for c in cols:
        c = st.convert_element_type(c, dt) if not isinstance(c, np.ndarray) else c.astype(dt)
        c = st.broadcast_to(c, tuple(batch_shape))
        parts.append(st.reshape(c, full))
    return st.concatenate(parts, len(batch_shape))


def _as_operand(x):
    return x if isinstance(x, (Array, Tracer)) else jnp.asarray(x)


def _gather_mode(mode):
    return GatherScatterMode.PROMISE_IN_BOUNDS if mode is None else \
        GatherScatterMode.from_any(mode)


def getitem(x, idx, *, mode=None, fill_value=None, indices_are_sorted=False,
            unique_indices=False):
    """x[idx] with NumPy's semantics; out-of-bounds array indices clamp unless `mode` says."""
    x = _as_operand(x)
    entries, inserts = _parse_index(get_aval(x).shape, idx)
    if inserts:
        x = st.expand_dims(x, inserts)
    gmode = _gather_mode(mode)
    default = gmode is GatherScatterMode.PROMISE_IN_BOUNDS
    if default and not any(e.kind == "array" for e in entries):
        return _static_getitem(x, entries)
    plan = _Plan(get_aval(x).shape, entries, check_ints=default)
    if 0 in plan.dims_shape:
        return jnp.zeros(plan.view_shape, get_aval(x).dtype)
    dn = sl.GatherDimensionNumbers(plan.offset_dims, plan.collapsed, plan.index_map)
    if fill_value is not None:
        fill_value = np.asarray(core.concrete_or_error(fill_value, "fill_value")).item()
    out = sl.gather_p.bind(x, plan.indices, dimension_numbers=dn, slice_sizes=plan.slice_sizes,
                           mode=gmode, fill_value=fill_value,
                           indices_are_sorted=bool(indices_are_sorted or plan.sorted),
                           unique_indices=bool(unique_indices or plan.unique))
    return st.reshape(out, plan.view_shape)


# ---------------------------------------------------------------------------------------
# x.at[idx]: functional updates


def _is_full_mask(idx, shape):
    if isinstance(idx, (Array, Tracer, np.ndarray)):
        aval = get_aval(idx)
        return aval.dtype == np.bool_ and aval.shape == tuple(shape) and aval.ndim > 0
    return False


def _scatter_update(x, idx, y, prim, *, mode=None, indices_are_sorted=False,
                    unique_indices=False, op_name="set"):
    x = _as_operand(x)
    aval = get_aval(x)
    y = _as_operand(y)
    y = st.convert_element_type(y, aval.dtype) if get_aval(y).dtype != aval.dtype else y
    if _is_full_mask(idx, aval.shape) and get_aval(y).ndim == 0:
        # A whole-array mask with a scalar: an elementwise select, shape-static under jit.
        new = y if prim is sl.scatter_p else prim_elementwise[prim](x, y)
        return ew.select_n(idx, x, st.broadcast_to(new, aval.shape))
    entries, inserts = _parse_index(aval.shape, idx)
    xx = st.expand_dims(x, inserts) if inserts else x
    smode = GatherScatterMode.FILL_OR_DROP if mode is None else \
        GatherScatterMode.from_any(mode)
    plan = _Plan(get_aval(xx).shape, entries, check_ints=False)
    view = plan.view_shape
    y_shape = get_aval(y).shape
    while len(y_shape) > len(view) and y_shape[0] == 1:
        y_shape = y_shape[1:]
    try:
        np.broadcast_shapes(y_shape, view)
        if len(y_shape) > len(view):
            raise ValueError
    except ValueError:
        raise ValueError(f"x.at[idx].{op_name}(y): cannot broadcast y of shape "
                         f"{get_aval(y).shape} to the shape {view} of x[idx]") from None
    y = st.reshape(y, y_shape)
    y = st.reshape(st.broadcast_to(y, view), plan.dims_shape)
    dn = sl.ScatterDimensionNumbers(plan.offset_dims, plan.collapsed, plan.index_map)
    out = prim.bind(xx, plan.indices, y, dimension_numbers=dn, mode=smode,
                    indices_are_sorted=bool(indices_are_sorted or plan.sorted),
                    unique_indices=bool(unique_indices or plan.unique))
    return st.reshape(out, aval.shape) if inserts else out


prim_elementwise = {
    sl.scatter_add_p: ew.add, sl.scatter_mul_p: ew.mul,
    sl.scatter_min_p: ew.min, sl.scatter_max_p: ew.max,
}


class _IndexUpdateHelper:
    """`x.at`: indexed, functional updates (as jax.Array.at)."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, idx):
        return _IndexUpdateRef(self.array, idx)

    def __repr__(self):
        return f"_IndexUpdateHelper({self.array!r})"


class _IndexUpdateRef:
    """`x.at[idx]`. Each method returns an updated copy; repeated indices all apply (add,
    multiply, min, max) or one wins (set). Out-of-bounds updates are dropped by default."""

    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array = array
        self.index = index

    def get(self, *, indices_are_sorted=False, unique_indices=False, mode=None,
            fill_value=None, out_sharding=None):
        return getitem(self.array, self.index, mode=mode, fill_value=fill_value,
                       indices_are_sorted=indices_are_sorted, unique_indices=unique_indices)

    def _update(self, values, prim, name, kw):
        return _scatter_update(self.array, self.index, values, prim, op_name=name, **kw)

    def set(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return self._update(values, sl.scatter_p, "set", dict(
            mode=mode, indices_are_sorted=indices_are_sorted, unique_indices=unique_indices))

    def add(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return self._update(values, sl.scatter_add_p, "add", dict(
            mode=mode, indices_are_sorted=indices_are_sorted, unique_indices=unique_indices))

    def subtract(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return self.add(jnp.negative(_as_operand(values)), mode=mode,
                        indices_are_sorted=indices_are_sorted, unique_indices=unique_indices)

    def multiply(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return self._update(values, sl.scatter_mul_p, "multiply", dict(
            mode=mode, indices_are_sorted=indices_are_sorted, unique_indices=unique_indices))

    mul = multiply

    def divide(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        scale = _scatter_update(jnp.ones_like(self.array), self.index, values, sl.scatter_mul_p,
                                mode=mode, indices_are_sorted=indices_are_sorted,
                                unique_indices=unique_indices, op_name="divide")
        return jnp.divide(self.array, scale)

    def power(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        exponent = _scatter_update(jnp.ones_like(self.array), self.index, values,
                                   sl.scatter_mul_p, mode=mode,
                                   indices_are_sorted=indices_are_sorted,
                                   unique_indices=unique_indices, op_name="power")
        return jnp.power(self.array, exponent)

    def min(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return self._update(values, sl.scatter_min_p, "min", dict(
            mode=mode, indices_are_sorted=indices_are_sorted, unique_indices=unique_indices))

    def max(self, values, *, indices_are_sorted=False, unique_indices=False, mode=None):
        return self._update(values, sl.scatter_max_p, "max", dict(
            mode=mode, indices_are_sorted=indices_are_sorted, unique_indices=unique_indices))

    def apply(self, func, *, indices_are_sorted=False, unique_indices=False, mode=None):
        """`func` applied to the indexed elements (once per distinct location)."""
        current = getitem(self.array, self.index, mode="clip" if mode is None else mode)
        return self.set(func(current), mode=mode, indices_are_sorted=indices_are_sorted,
                        unique_indices=unique_indices)


# ---------------------------------------------------------------------------------------
# take, take_along_axis, put_along_axis, put


def _canon_axis(axis, ndim, name):
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: axis {axis} is out of bounds for an array of rank {ndim}")
    return axis % ndim


def _int_indices(indices, name):
    indices = _as_operand(indices)
    if get_aval(indices).dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be an integer array, got "
                        f"{get_aval(indices).str_short()}")
    return indices


def _take_mode(mode, indices, n, name):
    """JAX's modes for take-like functions: fill (default), clip, wrap; 'raise' refused."""
    dt = _index_dtype(get_aval(indices).dtype.itemsize == 8)
    if mode is None or mode in ("fill", "drop"):
        return _normalize(indices, n, dt), GatherScatterMode.FILL_OR_DROP
    if mode == "clip":
        return st.convert_element_type(indices, dt), GatherScatterMode.CLIP
    if mode == "wrap":
        i = st.convert_element_type(indices, dt)
        return jnp.remainder(i, np.asarray(max(n, 1), dt)), GatherScatterMode.PROMISE_IN_BOUNDS
    if mode == "raise":
        raise NotImplementedError(f"{name}: mode='raise' is not supported (indices are not "
                                  "checked at run time); use 'fill', 'clip' or 'wrap'.")
    raise ValueError(f"{name}: invalid mode {mode!r}")


def take(a, indices, axis=None, out=None, mode=None, unique_indices=False,
         indices_are_sorted=False, fill_value=None):
    """Elements of `a` at `indices` along `axis` (flattened when None), as jax.numpy.take.

    Out-of-bounds indices give `fill_value` (NaN for floats) with the default mode "fill";
    mode="clip" clamps and mode="wrap" wraps.

    Examples:
      >>> take(jnp.array([1., 2., 3.]), jnp.array([2, -1, 5]))
      Array([ 3.,  3., nan], dtype=float32)
    """
    if out is not None:
        raise NotImplementedError("take: the out argument is not supported (arrays are "
                                  "immutable)")
    a = _as_operand(a)
    indices = _int_indices(indices, "take")
    if axis is None:
        a, axis = jnp.ravel(a), 0
    shape = get_aval(a).shape
    axis = _canon_axis(axis, len(shape), "take")
    n = shape[axis]
    idx_shape = get_aval(indices).shape
    if n == 0 and int(np.prod(idx_shape)) > 0:
        raise IndexError("Cannot do a non-empty jnp.take() from an empty axis.")
    out_shape = shape[:axis] + idx_shape + shape[axis + 1:]
    if 0 in out_shape:
        return jnp.zeros(out_shape, get_aval(a).dtype)
    indices, gmode = _take_mode(mode, indices, n, "take")
    k = len(idx_shape)
    dn = sl.GatherDimensionNumbers(
        tuple(range(axis)) + tuple(range(axis + k, len(out_shape))), (axis,), (axis,))
    sizes = shape[:axis] + (1,) + shape[axis + 1:]
    return sl.gather(a, st.reshape(indices, (*idx_shape, 1)), dn, sizes, mode=gmode,
                     fill_value=fill_value, unique_indices=unique_indices,
                     indices_are_sorted=indices_are_sorted)


def _along_axis(arr, indices, axis, name):
    arr = _as_operand(arr)
    indices = _int_indices(indices, name)
    if axis is None:
        arr, axis = jnp.ravel(arr), 0
        if get_aval(indices).ndim != 1:
            raise ValueError(f"{name}: with axis=None, indices must be 1-D")
    a_shape, i_shape = get_aval(arr).shape, get_aval(indices).shape
    if len(a_shape) != len(i_shape):
        raise ValueError(f"{name}: indices (shape {i_shape}) and arr (shape {a_shape}) must "
                         "have the same number of dimensions")
    axis = _canon_axis(axis, len(a_shape), name)
    return arr, indices, axis, a_shape, i_shape


def _batching_dnums(ndim, axis):
    batch = tuple(d for d in range(ndim) if d != axis)
    return batch


def take_along_axis(arr, indices, axis, mode=None, fill_value=None):
    """`arr` indexed along `axis` by `indices`, matching the other axes (as NumPy's).

    One gather whose other axes are batching axes of operand and indices.
    """
    arr, indices, axis, a_shape, i_shape = _along_axis(arr, indices, axis, "take_along_axis")
    try:
        common = [n if d == axis else np.broadcast_shapes((n,), (m,))[0]
                  for d, (n, m) in enumerate(zip(a_shape, i_shape))]
    except ValueError:
        raise ValueError(f"take_along_axis: shapes {a_shape} and {i_shape} do not broadcast "
                         "outside the indexed axis") from None
    a_target = tuple(a_shape[d] if d == axis else common[d] for d in range(len(a_shape)))
    i_target = tuple(i_shape[d] if d == axis else common[d] for d in range(len(i_shape)))
    arr, indices = st.broadcast_to(arr, a_target), st.broadcast_to(indices, i_target)
    if 0 in i_target:
        return jnp.zeros(i_target, get_aval(arr).dtype)
    if a_target[axis] == 0:
        raise IndexError("take_along_axis: cannot take from an empty axis")
    indices, gmode = _take_mode(mode, indices, a_shape[axis], "take_along_axis")
    batch = _batching_dnums(len(a_shape), axis)
    dn = sl.GatherDimensionNumbers((), (axis,), (axis,), batch, batch)
    return sl.gather(arr, st.reshape(indices, (*i_target, 1)), dn, (1,) * len(a_shape),
                     mode=gmode, fill_value=fill_value)


def put_along_axis(arr, indices, values, axis, inplace=True, *, mode=None):
    """`arr` with `values` written at `indices` along `axis`; needs inplace=False (JAX
    arrays are immutable, so a new array is returned)."""
    if inplace:
        raise ValueError("jumba.numpy.put_along_axis cannot modify arrays in place, because "
                         "jumba arrays are immutable. Pass inplace=False to get the updated "
                         "array instead.")
    arr, indices, axis, a_shape, i_shape = _along_axis(arr, indices, axis, "put_along_axis")
    i_target = tuple(i_shape[d] if d == axis else a_shape[d] for d in range(len(a_shape)))
    indices = st.broadcast_to(indices, i_target)
    values = _as_operand(values)
    values = st.broadcast_to(st.convert_element_type(values, get_aval(arr).dtype), i_target)
    smode = GatherScatterMode.FILL_OR_DROP if mode is None else GatherScatterMode.from_any(mode)
    indices = _normalize(indices, a_shape[axis], _index_dtype())
    batch = _batching_dnums(len(a_shape), axis)
    dn = sl.ScatterDimensionNumbers((), (axis,), (axis,), batch, batch)
    return sl.scatter(arr, st.reshape(indices, (*i_target, 1)), values, dn, mode=smode)


def put(a, ind, v, mode=None, *, inplace=True):
    """`a` with the flat positions `ind` set to `v`; needs inplace=False. Modes: "clip"
    (default) or "wrap"."""
    if inplace:
        raise ValueError("jumba.numpy.put cannot modify arrays in place, because jumba arrays "
                         "are immutable. Pass inplace=False to get the updated array instead.")
    a = _as_operand(a)
    shape = get_aval(a).shape
    ind = jnp.ravel(_int_indices(ind, "put"))
    flat = jnp.ravel(a)
    n = get_aval(flat).shape[0]
    v = jnp.ravel(_as_operand(v))
    v = st.broadcast_to(st.convert_element_type(v, get_aval(a).dtype), get_aval(ind).shape)
    if mode is None or mode == "clip":
        ind = jnp.clip(ind, 0, n - 1)
    elif mode == "wrap":
        ind = jnp.remainder(ind, n)
    else:
        raise ValueError(f"put: mode must be 'clip' or 'wrap', got {mode!r}")
    return jnp.reshape(flat.at[ind].set(v), shape)


# ---------------------------------------------------------------------------------------
# nonzero and friends: data-dependent sizes, eager or with size=


def _prefix_sum(x):
    """Inclusive cumulative sum of a 1-D array, in log2(n) shifted adds."""
    n = get_aval(x).shape[0]
    zero = np.zeros((), get_aval(x).dtype)
    shift = 1
    while shift < n:
        x = ew.add(x, st.pad(st.slice(x, (0,), (n - shift,)), zero, ((shift, 0, 0),)))
        shift *= 2
    return x


def _fill_values(fill_value, ndim):
    if fill_value is None:
        return (0,) * ndim
    if isinstance(fill_value, (tuple, list)):
        if len(fill_value) != ndim:
            raise ValueError(f"fill_value must be a scalar or a tuple of length {ndim}")
        return tuple(fill_value)
    return (fill_value,) * ndim


def nonzero(a, *, size=None, fill_value=None):
    """Indices of the nonzero elements, one array per axis.

    The number of results depends on the values, so under jit pass `size` (results beyond
    it are dropped; missing ones are `fill_value`, default 0).
    """
    a = _as_operand(a)
    aval = get_aval(a)
    if aval.ndim == 0:
        raise ValueError("Calling nonzero on 0d arrays is not allowed. Use "
                         "jnp.atleast_1d(scalar).nonzero() instead.")
    dt = _index_dtype()
    fills = _fill_values(fill_value, aval.ndim)
    v = _concrete(a)
    if v is not None:
        res = np.nonzero(v)
        if size is not None:
            size = operator.index(size)
            res = tuple(np.concatenate([r[:size], np.full(max(0, size - r.size), f)])
                        for r, f in zip(res, fills))
        return tuple(Array(r.astype(dt), False) for r in res)
    if size is None:
        raise core.ConcretizationTypeError(
            f"nonzero of a traced array {aval.str_short()}: the number of results depends on "
            "the values, which are unknown while tracing. Pass size=N (and fill_value=...) "
            "to fix it, e.g. jnp.nonzero(x, size=N), or keep the shape with "
            "jnp.where(x != 0, ...).")
    size = operator.index(size)
    flat = jnp.ravel(a)
    n = aval.size
    mask = ew.ne(flat, np.zeros((), aval.dtype)) if aval.dtype != np.bool_ else flat
    count = _prefix_sum(st.convert_element_type(mask, dt))
    target = ew.select_n(mask, st.full((n,), size, dt), ew.sub(count, np.ones((), dt)))
    pos = sl.scatter(st.full((size,), n, dt), st.reshape(target, (n, 1)),
                     Array(np.arange(n, dtype=dt), False),
                     sl.ScatterDimensionNumbers((), (0,), (0,)), mode="drop",
                     unique_indices=True, indices_are_sorted=True)
    valid = ew.lt(pos, np.asarray(n, dt))
    out, stride = [], n
    for d, f in zip(aval.shape, fills):
        stride //= max(d, 1)
        coord = jnp.remainder(jnp.floor_divide(pos, max(stride, 1)), max(d, 1))
        out.append(jnp.where(valid, coord, st.convert_element_type(f, dt)))
    return tuple(out)


def flatnonzero(a, *, size=None, fill_value=None):
    return nonzero(jnp.ravel(_as_operand(a)), size=size, fill_value=fill_value)[0]


def argwhere(a, *, size=None, fill_value=None):
    """Indices of the nonzero elements, one row per element (shape (count, ndim))."""
    a = _as_operand(a)
    ndim = get_aval(a).ndim
    res = nonzero(jnp.atleast_1d(a), size=size, fill_value=fill_value)
    out = jnp.stack(res, axis=1)
    return st.reshape(st.slice(out, (0, 0), (get_aval(out).shape[0], 0)),
                      (get_aval(out).shape[0], 0)) if ndim == 0 else out


def compress(condition, a, axis=None, *, size=None, fill_value=0, out=None):
    """Slices of `a` along `axis` where `condition` is true; `size` fixes the count."""
    if out is not None:
        raise NotImplementedError("compress: the out argument is not supported")
    cond = _as_operand(condition)
    if get_aval(cond).ndim != 1:
        raise ValueError("compress: condition must be a 1-D array")
    a = _as_operand(a)
    if axis is None:
        a, axis = jnp.ravel(a), 0
    axis = _canon_axis(axis, get_aval(a).ndim, "compress")
    n = get_aval(a).shape[axis]
    m = get_aval(cond).shape[0]
    cond = ew.ne(cond, np.zeros((), get_aval(cond).dtype)) if get_aval(
        cond).dtype != np.bool_ else cond
    if m > n:
        extra = _concrete(st.slice(cond, (n,), (m,)))
        if extra is not None and extra.any():
            raise ValueError("compress: condition has True entries beyond the array's length")
        cond = st.slice(cond, (0,), (n,))
    idx = flatnonzero(cond, size=size, fill_value=n)
    return take(a, idx, axis=axis, mode="fill", fill_value=fill_value)


def extract(condition, arr, *, size=None, fill_value=0):
    """Elements of `arr` where `condition` is nonzero, flattened; `size` fixes the count."""
    return compress(jnp.ravel(_as_operand(condition)), jnp.ravel(_as_operand(arr)),
                    size=size, fill_value=fill_value)


def choose(a, choices, out=None, mode="raise"):
    """Elements of `choices[a]`, broadcast together (as numpy.choose)."""
    if out is not None:
        raise NotImplementedError("choose: the out argument is not supported")
    a = _int_indices(a, "choose")
    n = len(choices)
    if mode == "raise":
        v = _concrete(a)
        if v is None:
            raise core.ConcretizationTypeError(
                "jnp.choose with mode='raise' checks the indices, which are traced here; use "
                "mode='wrap' or mode='clip' under jit or vmap.")
        if v.size and (v.min() < 0 or v.max() >= n):
            raise ValueError("invalid entry in choice array")
    elif mode == "wrap":
        a = jnp.remainder(a, n)
    elif mode == "clip":
        a = jnp.clip(a, 0, n - 1)
    else:
        raise ValueError(f"choose: invalid mode {mode!r}")
    cs = jnp.promote_dtypes(*choices)
    shape = np.broadcast_shapes(get_aval(a).shape, *(get_aval(c).shape for c in cs))
    cs = [st.broadcast_to(c, shape) for c in cs]
    return ew.select_n(st.broadcast_to(st.convert_element_type(a, np.int32), shape), *cs)


# ---------------------------------------------------------------------------------------
# Diagonals and triangles


def _diag_index(n, m, offset):
    if offset >= 0:
        length = max(0, min(n, m - offset))
        return np.arange(length), np.arange(length) + offset
    length = max(0, min(n + offset, m))
    return np.arange(length) - offset, np.arange(length)


def diagonal(a, offset=0, axis1=0, axis2=1):
    """The diagonal of `a` over `axis1` and `axis2`, as the last axis of the result."""
    a = _as_operand(a)
    nd = get_aval(a).ndim
    if nd < 2:
        raise ValueError("diagonal requires an array of at least two dimensions")
    a1, a2 = _canon_axis(axis1, nd, "diagonal"), _canon_axis(axis2, nd, "diagonal")
    if a1 == a2:
        raise ValueError("diagonal: axis1 and axis2 cannot be the same")
    a = jnp.moveaxis(a, (a1, a2), (-2, -1))
    n, m = get_aval(a).shape[-2:]
    rows, cols = _diag_index(n, m, operator.index(offset))
    return getitem(a, (Ellipsis, rows.astype(np.int32), cols.astype(np.int32)))


def diag(v, k=0):
    """A 2-D array with `v` on diagonal `k` (1-D `v`), or the diagonal of a 2-D `v`."""
    v = _as_operand(v)
    nd = get_aval(v).ndim
    k = operator.index(k)
    if nd == 2:
        return diagonal(v, k)
    if nd != 1:
        raise ValueError("diag: input must be 1-D or 2-D")
    n = get_aval(v).shape[0] + abs(k)
    rows, cols = _diag_index(n, n, k)
    out = jnp.zeros((n, n), get_aval(v).dtype)
    return out.at[rows.astype(np.int32), cols.astype(np.int32)].set(v, unique_indices=True)


def _triangle(m, k, lower, name):
    m = _as_operand(m)
    shape = get_aval(m).shape
    if len(shape) < 2:
        raise ValueError(f"{name} requires an array of at least two dimensions")
    mask = np.tri(shape[-2], shape[-1], k=k, dtype=bool)
    if not lower:
        mask = ~np.tri(shape[-2], shape[-1], k=k - 1, dtype=bool)
    return jnp.where(mask, m, jnp.zeros((), get_aval(m).dtype))


def tril(m, k=0):
    """`m` with the elements above diagonal `k` zeroed (last two axes)."""
    return _triangle(m, operator.index(k), True, "tril")


def triu(m, k=0):
    """`m` with the elements below diagonal `k` zeroed (last two axes)."""
    return _triangle(m, operator.index(k), False, "triu")


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """Sum along a diagonal."""
    if out is not None:
        raise NotImplementedError("trace: the out argument is not supported")
    return jnp.sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


# ---------------------------------------------------------------------------------------
# Index constructors (static shapes, so computed with NumPy)


def _int_arrays(arrs):
    dt = dtypes.default_int_dtype()
    return tuple(Array(np.asarray(x).astype(dt), False) for x in arrs)


def diag_indices(n, ndim=2):
    return _int_arrays(np.diag_indices(operator.index(n), ndim))


def diag_indices_from(arr):
    shape = get_aval(_as_operand(arr)).shape
    if len(shape) < 2 or len(set(shape)) != 1:
        raise ValueError("diag_indices_from: input must be at least 2-D with equal axes")
    return diag_indices(shape[0], len(shape))


def tril_indices(n, k=0, m=None):
    return _int_arrays(np.tril_indices(n, k, m))


def triu_indices(n, k=0, m=None):
    return _int_arrays(np.triu_indices(n, k, m))


def tril_indices_from(arr, k=0):
    shape = get_aval(_as_operand(arr)).shape
    return tril_indices(shape[-2], k, shape[-1])


def triu_indices_from(arr, k=0):
    shape = get_aval(_as_operand(arr)).shape
    return triu_indices(shape[-2], k, shape[-1])


def ix_(*args):
    """Open-mesh index arrays from 1-D sequences (traced arrays allowed)."""
    out = []
    n = len(args)
    for k, a in enumerate(args):
        a = _as_operand(a)
        aval = get_aval(a)
        if aval.ndim != 1:
            raise ValueError("ix_: arguments must be 1-D")
        out.append(st.reshape(a, (1,) * k + (aval.shape[0],) + (1,) * (n - k - 1)))
    return tuple(out)


def unravel_index(indices, shape):
    """Coordinates of flat `indices` in an array of `shape`; out-of-range indices clamp."""
    indices = _int_indices(indices, "unravel_index")
    shape = tuple(operator.index(s) for s in np.atleast_1d(shape))
    total = int(np.prod(shape, dtype=np.int64))
    i = jnp.clip(jnp.where(jnp.less(indices, 0), jnp.add(indices, total), indices), 0,
                 max(total - 1, 0))
    out, stride = [], total
    for d in shape:
        stride //= max(d, 1)
        out.append(jnp.remainder(jnp.floor_divide(i, max(stride, 1)), max(d, 1)))
    return tuple(out)


def ravel_multi_index(multi_index, dims, mode="raise", order="C"):
    """Flat indices of coordinate arrays (modes 'clip' or 'wrap'; 'raise' checks eagerly)."""
    if order != "C":
        raise NotImplementedError("ravel_multi_index: only order='C' is supported")
    dims = tuple(operator.index(d) for d in dims)
    if len(multi_index) != len(dims):
        raise ValueError("ravel_multi_index: need one index array per dimension")
    idx = [_int_indices(i, "ravel_multi_index") for i in multi_index]
    if mode == "raise":
        for i, d in zip(idx, dims):
            v = _concrete(i)
            if v is None:
                raise core.ConcretizationTypeError(
                    "ravel_multi_index with mode='raise' checks the indices, which are traced "
                    "here; use mode='clip' or mode='wrap'.")
            if v.size and (v.min() < 0 or v.max() >= d):
                raise ValueError("invalid entry in coordinates array")
    elif mode == "clip":
        idx = [jnp.clip(i, 0, d - 1) for i, d in zip(idx, dims)]
    elif mode == "wrap":
        idx = [jnp.remainder(i, d) for i, d in zip(idx, dims)]
    else:
        raise ValueError(f"ravel_multi_index: invalid mode {mode!r}")
    out: Any = 0
    for i, d in zip(idx, dims):
        out = jnp.add(jnp.multiply(out, d), i)
    return _as_operand(out)
