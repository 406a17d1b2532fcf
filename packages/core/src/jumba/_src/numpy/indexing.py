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

import numpy as np

from jumba._src import core
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
        # NumPy counts `...` as separating advanced indices even when it stands for no axis.
        raw = raw[:k] + fill + [_Entry("sep")] + raw[k + 1:]
    else:
        raw = raw + fill
    entries, inserts, axis = [], [], 0
    for e in raw:
        if e.kind in ("none", "sep"):
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
        if e.kind == "sep":
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
            if e.kind == "sep":
                continue
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


# The index functions live next door; importing them last keeps the import order acyclic.
from jumba._src.numpy.index_functions import (  # noqa: E402
    argwhere,
    choose,
    compress,
    diag,
    diag_indices,
    diag_indices_from,
    diagonal,
    extract,
    flatnonzero,
    ix_,
    nonzero,
    put,
    put_along_axis,
    ravel_multi_index,
    take,
    take_along_axis,
    trace,
    tril,
    tril_indices,
    tril_indices_from,
    triu,
    triu_indices,
    triu_indices_from,
    unravel_index,
)
