"""More jumba.numpy array manipulation: rot90, rollaxis, resize, append, insert, delete,
place, fill_diagonal, diagflat, block, unstack, apply_along_axis, apply_over_axes,
vectorize, and the `ufunc` class with frompyfunc.

`insert` and `delete` take static positions; their index bookkeeping is NumPy's own (run on
index arrays), so every NumPy form of `obj` works and the data stays traceable.
"""

from __future__ import annotations

import functools
import operator
import re

import numpy as np

from jumba._src import core
from jumba._src.core import get_aval
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.numpy.index_functions import diag, take
from jumba._src.numpy.indexing import _as_operand, _concrete

__all__ = [
    "rot90", "rollaxis", "resize", "append", "insert", "delete", "place", "fill_diagonal",
    "diagflat", "block", "unstack", "apply_along_axis", "apply_over_axes", "vectorize",
    "ufunc", "frompyfunc",
]


def rot90(m, k: int = 1, axes: tuple[int, int] = (0, 1)):
    """`m` rotated by 90 degrees `k` times in the plane of `axes` (first toward second)."""
    m = _as_operand(m)
    nd = get_aval(m).ndim
    if len(axes) != 2:
        raise ValueError("jumba.numpy.rot90: len(axes) must be 2")
    a0, a1 = (operator.index(a) for a in axes)
    if nd < 2 or not (-nd <= a0 < nd and -nd <= a1 < nd) or a0 % nd == a1 % nd:
        raise ValueError(f"jumba.numpy.rot90: axes {axes} must be two different axes of an "
                         f"array of rank >= 2 (got rank {nd})")
    a0, a1 = a0 % nd, a1 % nd
    k = operator.index(k) % 4
    if k == 0:
        return m
    if k == 2:
        return jnp.flip(jnp.flip(m, a0), a1)
    perm = list(range(nd))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return jnp.transpose(jnp.flip(m, a1), perm)
    return jnp.flip(jnp.transpose(m, perm), a1)


def rollaxis(a, axis: int, start: int = 0):
    """`a` with `axis` moved to before position `start` (prefer `moveaxis`)."""
    a = _as_operand(a)
    nd = get_aval(a).ndim
    axis = operator.index(axis)
    start = operator.index(start)
    if not -nd <= axis < nd:
        raise ValueError(f"jumba.numpy.rollaxis: axis {axis} is out of bounds for rank {nd}")
    if not -nd <= start <= nd:
        raise ValueError(f"jumba.numpy.rollaxis: start {start} is out of bounds for rank {nd}")
    axis %= nd
    if start < 0:
        start += nd
    if axis < start:
        start -= 1
    return jnp.moveaxis(a, axis, start)


def resize(a, new_shape):
    """`a`'s flattened values repeated cyclically to fill `new_shape`."""
    a = jnp.ravel(_as_operand(a))
    shape = (operator.index(new_shape),) if isinstance(new_shape, (int, np.integer)) else \
        tuple(operator.index(s) for s in new_shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"jumba.numpy.resize: all dimensions must be non-negative, got "
                         f"{shape}")
    total = int(np.prod(shape))
    n = get_aval(a).shape[0]
    if n == 0:
        return jnp.zeros(shape, get_aval(a).dtype)
    return jnp.reshape(take(a, (np.arange(total) % n).astype(np.int32)), shape)


def append(arr, values, axis: int | None = None):
    """`values` joined to the end of `arr` (both flattened when `axis` is None)."""
    arr, values = _as_operand(arr), _as_operand(values)
    if axis is None:
        return jnp.concatenate([jnp.ravel(arr), jnp.ravel(values)])
    return jnp.concatenate([arr, values], axis=axis)


def _static_obj(obj, name):
    if isinstance(obj, slice):
        return obj
    v = obj if isinstance(obj, (int, np.integer, list, tuple)) else _concrete(
        _as_operand(obj))
    if v is None:
        raise core.ConcretizationTypeError(
            f"jumba.numpy.{name}: the positions (obj) must be static, since they decide the "
            "output shape; pass a Python int, slice or list, or a concrete array.")
    return v


def insert(arr, obj, values, axis: int | None = None):
    """`values` inserted before the positions `obj` along `axis` (flattened if None).

    Args:
      arr: the array.
      obj: static int, slice or sequence of ints (positions before which to insert).
      values: inserted values, broadcast as numpy.insert does, cast to `arr`'s dtype.
      axis: the axis; None flattens `arr` first.
    """
    arr, values = _as_operand(arr), _as_operand(values)
    obj = _static_obj(obj, "insert")
    if axis is None:
        arr, axis = jnp.ravel(arr), 0
    shape = get_aval(arr).shape
    vshape = get_aval(values).shape
    # NumPy's insert on index arrays: non-negative entries index arr, negative ones values.
    tag_arr = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    tag_val = (-1 - np.arange(int(np.prod(vshape)), dtype=np.int64)).reshape(vshape)
    tags = np.insert(tag_arr, obj, tag_val, axis=axis)
    from_arr = tags >= 0
    flat_arr = jnp.ravel(arr)
    flat_val = jnp.astype(jnp.ravel(values), get_aval(arr).dtype)
    ia = np.where(from_arr, tags, 0).astype(np.int32)
    iv = np.where(from_arr, 0, -1 - tags).astype(np.int32)
    got_a = take(flat_arr, ia) if get_aval(flat_arr).shape[0] else jnp.zeros(tags.shape,
                                                                             flat_arr.dtype)
    got_v = take(flat_val, iv) if get_aval(flat_val).shape[0] else got_a
    return jnp.where(from_arr, got_a, got_v)


def delete(arr, obj, axis: int | None = None, *, assume_unique_indices: bool = False):
    """`arr` without the entries at the static positions `obj` along `axis`."""
    arr = _as_operand(arr)
    obj = _static_obj(obj, "delete")
    if axis is None:
        arr, axis = jnp.ravel(arr), 0
    nd = get_aval(arr).ndim
    axis = operator.index(axis)
    if not -nd <= axis < nd:
        raise ValueError(f"jumba.numpy.delete: axis {axis} is out of bounds for rank {nd}")
    n = get_aval(arr).shape[axis]
    keep = np.delete(np.arange(n), obj)
    return take(arr, keep.astype(np.int32), axis=axis)


def place(arr, mask, vals, *, inplace: bool = True):
    """`arr` with the positions where `mask` is true filled by `vals` in order, repeated
    cyclically. Arrays are immutable: pass inplace=False and use the result (as JAX)."""
    if inplace:
        raise ValueError("jumba.numpy.place cannot modify arrays in place (they are "
                         "immutable); call jnp.place(arr, mask, vals, inplace=False) and use "
                         "the returned array")
    arr, mask, vals = _as_operand(arr), _as_operand(mask), jnp.ravel(_as_operand(vals))
    if get_aval(mask).shape != get_aval(arr).shape:
        raise ValueError(f"jumba.numpy.place: mask shape {get_aval(mask).shape} must equal "
                         f"arr shape {get_aval(arr).shape}")
    m = get_aval(vals).shape[0]
    flat = jnp.ravel(arr)
    fm = jnp.ravel(jnp.astype(mask, bool))
    if m == 0:
        return arr
    from jumba._src.numpy.cumulative import cumsum

    k = jnp.subtract(cumsum(jnp.astype(fm, np.int32)), 1)
    picked = take(jnp.astype(vals, get_aval(arr).dtype), jnp.remainder(jnp.maximum(k, 0), m))
    return jnp.reshape(jnp.where(fm, picked, flat), get_aval(arr).shape)


def fill_diagonal(a, val, wrap: bool = False, *, inplace: bool = True):
    """`a` with its main diagonal set to `val` (values repeated cyclically). Arrays are
    immutable: pass inplace=False and use the result (as JAX)."""
    if inplace:
        raise ValueError("jumba.numpy.fill_diagonal cannot modify arrays in place (they are "
                         "immutable); call jnp.fill_diagonal(a, val, inplace=False) and use "
                         "the returned array")
    a = _as_operand(a)
    shape = get_aval(a).shape
    if len(shape) < 2:
        raise ValueError("jumba.numpy.fill_diagonal: array must be at least 2-d")
    if len(shape) > 2 and len(set(shape)) != 1:
        raise ValueError("jumba.numpy.fill_diagonal: all dimensions of an array of rank > 2 "
                         f"must be equal, got shape {shape}")
    # NumPy's rule on the flat index: step sum(cumprod(shape[:-1])) + 1.
    flat_n = int(np.prod(shape))
    if len(shape) == 2:
        step = shape[1] + 1
        end = flat_n if wrap else min(shape[0], shape[1]) * shape[1]
    else:
        step = 1 + int(np.sum(np.cumprod(shape[:-1])))
        end = flat_n
    idx = np.arange(0, end, step)
    v = jnp.ravel(jnp.astype(_as_operand(val), get_aval(a).dtype))
    nv = get_aval(v).shape[0]
    if nv == 0 or idx.size == 0:
        return a
    vals = take(v, (np.arange(idx.size) % nv).astype(np.int32))
    return jnp.reshape(jnp.ravel(a).at[idx].set(vals), shape)


def diagflat(v, k: int = 0):
    """2-D array with the flattened `v` on its `k`-th diagonal."""
    return diag(jnp.ravel(_as_operand(v)), k)


def block(arrays):
    """An array assembled from nested lists of blocks (the innermost lists join along the
    last axis, outer ones along earlier axes)."""
    def depth(x):
        if isinstance(x, list):
            if not x:
                raise ValueError("jumba.numpy.block: lists cannot be empty")
            ds = {depth(y) for y in x}
            if len(ds) != 1:
                raise ValueError("jumba.numpy.block: list depths are mismatched")
            return 1 + ds.pop()
        if isinstance(x, tuple):
            raise TypeError("jumba.numpy.block: use lists, not tuples, to nest blocks")
        return 0

    d = depth(arrays)
    leaves = []

    def collect(x):
        if isinstance(x, list):
            for y in x:
                collect(y)
        else:
            leaves.append(_as_operand(x))

    collect(arrays)
    nd = max([d] + [get_aval(x).ndim for x in leaves])

    def build(x, level):
        if not isinstance(x, list):
            x = _as_operand(x)
            return jnp.reshape(x, (1,) * (nd - get_aval(x).ndim) + get_aval(x).shape)
        parts = [build(y, level + 1) for y in x]
        return jnp.concatenate(parts, axis=-(d - level))

    return build(arrays, 0)


def unstack(x, /, *, axis: int = 0):
    """The slices of `x` along `axis`, as a tuple."""
    x = _as_operand(x)
    nd = get_aval(x).ndim
    if nd == 0:
        raise ValueError("jumba.numpy.unstack: x must have at least one dimension")
    x = jnp.moveaxis(x, axis, 0)
    return tuple(x[i] for i in range(get_aval(x).shape[0]))


# ---------------------------------------------------------------------------------------
# apply_along_axis, apply_over_axes, vectorize


def apply_along_axis(func1d, axis: int, arr, *args, **kwargs):
    """`func1d` applied to the 1-D slices of `arr` along `axis` (by vmap over the other
    axes); the slice's output axes replace `axis`."""
    from jumba._src.api import vmap

    arr = _as_operand(arr)
    nd = get_aval(arr).ndim
    axis = operator.index(axis)
    if not -nd <= axis < nd:
        raise ValueError(f"jumba.numpy.apply_along_axis: axis {axis} is out of bounds for "
                         f"rank {nd}")
    axis %= nd
    def f(x):
        return func1d(x, *args, **kwargs)

    for _ in range(nd - axis - 1):
        f = vmap(f, in_axes=-1, out_axes=-1)
    for _ in range(axis):
        f = vmap(f, in_axes=0, out_axes=0)
    return f(arr)


def apply_over_axes(func, a, axes):
    """`func(a, axis)` applied for each of `axes` in turn, keeping the rank (a reduced axis
    is restored with size 1)."""
    a = _as_operand(a)
    for axis in ([axes] if isinstance(axes, (int, np.integer)) else axes):
        b = func(a, axis)
        if get_aval(b).ndim == get_aval(a).ndim - 1:
            b = jnp.expand_dims(b, axis)
        elif get_aval(b).ndim != get_aval(a).ndim:
            raise ValueError("jumba.numpy.apply_over_axes: function is not returning an "
                             "array of the correct shape")
        a = b
    return a


_DIM = r"\w+"
_CORE = rf"\((?:{_DIM}(?:,{_DIM})*)?\)"
_SIG = rf"^{_CORE}(?:,{_CORE})*->{_CORE}(?:,{_CORE})*$"


def _parse_signature(signature):
    sig = signature.replace(" ", "")
    if not re.match(_SIG, sig):
        raise ValueError(f"jumba.numpy.vectorize: not a valid gufunc signature: {signature!r}")
    ins, outs = sig.split("->")
    parse = lambda s: [tuple(d for d in g.split(",") if d)  # noqa: E731
                       for g in re.findall(r"\(([^)]*)\)", s)]
    return parse(ins), parse(outs)


class vectorize:  # noqa: N801 (NumPy's name)
    """A function of arrays built from `pyfunc` by vmap over broadcast leading axes.

    Args:
      pyfunc: the function, written for single elements (or core arrays with `signature`).
      excluded: positions or names of arguments passed through unvectorized.
      signature: a gufunc signature such as '(n),(n)->()' naming the core axes.
    """

    def __init__(self, pyfunc, *, excluded=frozenset(), signature=None):
        self.pyfunc = pyfunc
        self.excluded = set(excluded)
        self.signature = signature
        functools.update_wrapper(self, pyfunc)

    def __call__(self, *args, **kwargs):
        from jumba._src.api import vmap

        excluded_kw = {k: v for k, v in kwargs.items() if k in self.excluded}
        kwargs = {k: v for k, v in kwargs.items() if k not in self.excluded}
        names = list(kwargs)
        pos = [i for i in range(len(args)) if i not in self.excluded]
        arrays = [_as_operand(args[i]) for i in pos] + [_as_operand(kwargs[k]) for k in names]
        if self.signature is None:
            in_core = [()] * len(arrays)
            out_core = None
        else:
            in_core, out_core = _parse_signature(self.signature)
            if len(in_core) != len(arrays):
                raise TypeError(f"jumba.numpy.vectorize: signature {self.signature!r} has "
                                f"{len(in_core)} inputs, got {len(arrays)} arguments")
        sizes = {}
        loop_shapes = []
        for x, dims in zip(arrays, in_core):
            shape = get_aval(x).shape
            if len(dims) > len(shape):
                raise ValueError(f"jumba.numpy.vectorize: input with shape {shape} has fewer "
                                 f"dimensions than the core dimensions {dims}")
            for d, s in zip(dims, shape[len(shape) - len(dims):]):
                if sizes.setdefault(d, s) != s:
                    raise ValueError(f"jumba.numpy.vectorize: inconsistent size for core "
                                     f"dimension {d!r}: {sizes[d]} vs {s}")
            loop_shapes.append(shape[:len(shape) - len(dims)])
        loop = np.broadcast_shapes(*loop_shapes) if loop_shapes else ()
        arrays = [jnp.broadcast_to(x, loop + get_aval(x).shape[len(ls):])
                  for x, ls in zip(arrays, loop_shapes)]

        def call(*xs):
            full = list(args)
            for i, x in zip(pos, xs[:len(pos)]):
                full[i] = x
            kw = dict(zip(names, xs[len(pos):]))
            out = self.pyfunc(*full, **kw, **excluded_kw)
            return jnp.asarray(out) if not isinstance(out, tuple) else tuple(
                jnp.asarray(o) for o in out)

        f = call
        for _ in loop:
            f = vmap(f)
        return f(*arrays)


class ufunc:  # noqa: N801 (JAX's name)
    """A NumPy-style universal function from a scalar function (as jax.numpy.ufunc):
    call, `outer`, `reduce`, `accumulate` and `at`; written on vectorize and unrolled loops.

    Args:
      func: the elementwise function (of `nin` scalars, returning `nout` values).
      nin: number of inputs.
      nout: number of outputs.
      name: its name.
      identity: value of `reduce` over an empty axis (None: empty reductions fail).
    """

    def __init__(self, func, /, nin: int, nout: int, *, name: str | None = None,
                 identity=None):
        self._func = func
        self.nin, self.nout = operator.index(nin), operator.index(nout)
        self.nargs = self.nin
        self.identity = identity
        self.__name__ = name or getattr(func, "__name__", "ufunc")
        self._vec = vectorize(func)

    def __repr__(self):
        return f"<jumba.numpy.ufunc '{self.__name__}'>"

    def __call__(self, *args):
        if len(args) != self.nin:
            raise TypeError(f"{self.__name__}: expected {self.nin} arguments, got {len(args)}")
        return self._vec(*args)

    def _binary(self, name):
        if self.nin != 2 or self.nout != 1:
            raise ValueError(f"{self.__name__}.{name} needs a binary ufunc with one output")

    def outer(self, A, B, /):
        """func(a, b) for every pair of elements of A and B."""
        self._binary("outer")
        A, B = _as_operand(A), _as_operand(B)
        ra = jnp.reshape(A, get_aval(A).shape + (1,) * get_aval(B).ndim)
        return self(ra, B)

    def reduce(self, a, axis: int | None = 0, dtype=None, out=None, keepdims=False,
               initial=None, where=None):
        """Fold func along `axis` (left to right), starting from `initial` if given."""
        self._binary("reduce")
        if where is not None:
            raise NotImplementedError(f"{self.__name__}.reduce: where= is not supported")
        a = _as_operand(a)
        if axis is None:
            a, axis = jnp.ravel(a), 0
        a = jnp.moveaxis(a, axis, 0)
        n = get_aval(a).shape[0]
        acc = initial if initial is not None else (
            a[0] if n else self._identity_or_fail())
        start = 0 if initial is not None else 1
        if not n and initial is None:
            acc = jnp.full(get_aval(a).shape[1:], acc, get_aval(a).dtype)
        for i in range(start, n):
            acc = self(acc, a[i])
        acc = jnp.asarray(acc)
        if dtype is not None:
            acc = jnp.astype(acc, dtype)
        return jnp.expand_dims(acc, axis) if keepdims else acc

    def _identity_or_fail(self):
        if self.identity is None:
            raise ValueError(f"{self.__name__}.reduce of an empty axis needs an identity or "
                             "initial=")
        return self.identity

    def accumulate(self, a, axis: int = 0, dtype=None, out=None):
        """Running fold of func along `axis`."""
        self._binary("accumulate")
        a = jnp.moveaxis(_as_operand(a), axis, 0)
        n = get_aval(a).shape[0]
        if n == 0:
            return jnp.moveaxis(a, 0, axis)
        outs = [a[0]]
        for i in range(1, n):
            outs.append(jnp.asarray(self(outs[-1], a[i])))
        res = jnp.stack(outs)
        if dtype is not None:
            res = jnp.astype(res, dtype)
        return jnp.moveaxis(res, 0, axis)

    def at(self, a, indices, b=None, /, *, inplace: bool = True):
        """a with func applied at `indices` (with `b`), one index after another."""
        if inplace:
            raise ValueError(f"{self.__name__}.at cannot modify arrays in place; pass "
                             "inplace=False and use the result")
        a = _as_operand(a)
        idx = _concrete(_as_operand(indices))
        if idx is None:
            raise core.ConcretizationTypeError(f"{self.__name__}.at needs static indices")
        idx = np.atleast_1d(idx)
        bs = None if b is None else jnp.broadcast_to(_as_operand(b), idx.shape)
        for j, i in enumerate(idx):
            cur = a[int(i)]
            new = self(cur) if b is None else self(cur, bs[j])
            a = a.at[int(i)].set(new)
        return a


def frompyfunc(func, /, nin: int, nout: int, *, identity=None):
    """A `ufunc` from a scalar Python function of `nin` inputs and `nout` outputs."""
    return ufunc(func, nin, nout, identity=identity)
