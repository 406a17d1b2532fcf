"""jumba.numpy's shape functions against NumPy: one OpSpec per function, five checks each
(NumPy values, jit == eager, vmap == loop, check_grads order 2 fwd+rev, x64), then a
table of the errors they raise."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jumba as jb
import jumba.numpy as jnp
from jumba.test_util import check_grads
from tests.core.numpy_checks import (
    ALL,
    OpSpec,
    draw_arrays,
    draw_shape,
    table_tests,
)

# ---------------------------------------------------------------------------------------
# Drawing helpers for custom argument draws: `(data, dtype) -> (arrays, kwargs)`.






def _axis(data, nd, label="axis"):
    """An axis of an array of rank nd, negative half the time."""
    a = data.draw(st.integers(0, nd - 1), label=label)
    return a - nd if data.draw(st.booleans(), label=label + "_neg") else a


def _axes(data, nd, label="axes"):
    """A tuple of distinct axes in drawn order, some negative."""
    axes = data.draw(st.permutations(range(nd)), label=label)[:data.draw(
        st.integers(0, nd), label=label + "_n")]
    return tuple(a - nd if i % 2 else a for i, a in enumerate(axes))


def _one_arg(kw_fn, **shape_kw):
    def draw(data, dtype):
        shape = draw_shape(data, **shape_kw)
        return draw_arrays(data, [shape], dtype), kw_fn(data, shape)
    return draw


def _concat_like(n, rank_range, axis_fn):
    """n arrays of one rank whose shapes differ only along axis_fn(rank) (None: equal)."""
    def draw(data, dtype):
        r = data.draw(st.integers(*rank_range), label="rank")
        base = list(draw_shape(data, r, r, 0 if r else 0))
        ax = axis_fn(r)
        shapes = []
        for _ in range(n):
            s = list(base)
            if ax is not None:
                s[ax] = data.draw(st.integers(0, 3), label="side")
            shapes.append(tuple(s))
        return draw_arrays(data, shapes, dtype), {}
    return draw


# ---------------------------------------------------------------------------------------
# Keyword draws


def _reshape_kw(data, shape):
    size = int(np.prod(shape))
    # A target shape from the factors of size, padded with ones, with one -1 sometimes.
    factors = [d for d in shape if d != 1] or [size]
    target = list(data.draw(st.permutations(factors), label="perm"))
    if len(target) > 1 and data.draw(st.booleans(), label="merge"):
        target = [target[0] * target[1], *target[2:]]
    for _ in range(data.draw(st.integers(0, 2), label="ones")):
        target.insert(data.draw(st.integers(0, len(target)), label="pos"), 1)
    if size and data.draw(st.booleans(), label="minus1"):
        target[data.draw(st.integers(0, len(target) - 1), label="which")] = -1
    return {"shape": tuple(target) if len(target) != 1 or data.draw(st.booleans()) else
            target[0]}


def _transpose_kw(data, shape):
    if data.draw(st.booleans(), label="none"):
        return {"axes": None}
    nd = len(shape)
    perm = data.draw(st.permutations(range(nd)), label="perm")
    return {"axes": tuple(p - nd if i % 2 else p for i, p in enumerate(perm))}


def _moveaxis_kw(data, shape):
    nd = len(shape)
    src = _axes(data, nd, "src")
    dst = tuple(data.draw(st.permutations(range(nd)), label="dst")[:len(src)])
    if len(src) == 1 and data.draw(st.booleans(), label="scalar"):
        return {"source": src[0], "destination": dst[0]}
    return {"source": src, "destination": dst}


def _expand_kw(data, shape):
    nd = len(shape)
    k = data.draw(st.integers(1, 3), label="k")
    out_nd = nd + k
    axes = data.draw(st.permutations(range(out_nd)), label="perm")[:k]
    axes = tuple(a - out_nd if i % 2 else a for i, a in enumerate(axes))
    return {"axis": axes[0] if k == 1 and data.draw(st.booleans()) else axes}


def _squeeze_draw(data, dtype):
    shape = list(draw_shape(data, max_dims=4))
    ones = [i for i in range(len(shape)) if data.draw(st.booleans(), label=f"one{i}")]
    for i in ones:
        shape[i] = 1
    nd = len(shape)
    unit = [i for i in range(nd) if shape[i] == 1]
    mode = data.draw(st.sampled_from(["none", "int", "tuple"]), label="mode")
    if mode == "none" or not unit:
        kw = {"axis": None}
    else:
        picked = [a for a in unit if data.draw(st.booleans(), label="pick")] or unit[:1]
        picked = tuple(a - nd if i % 2 else a for i, a in enumerate(picked))
        kw = {"axis": picked[0] if mode == "int" else picked}
    return draw_arrays(data, [tuple(shape)], dtype), kw


def _concatenate_draw(data, dtype):
    r = data.draw(st.integers(1, 3), label="rank")
    base = list(draw_shape(data, r, r))
    ax = data.draw(st.integers(0, r - 1), label="ax")
    shapes = []
    for _ in range(3):
        s = list(base)
        s[ax] = data.draw(st.integers(0, 3), label="side")
        shapes.append(tuple(s))
    if data.draw(st.booleans(), label="axis_none"):
        shapes = [draw_shape(data, max_dims=2) for _ in range(3)]
        return draw_arrays(data, shapes, dtype), {"axis": None}
    return draw_arrays(data, shapes, dtype), {"axis": ax - r if ax % 2 else ax}


def _stack_draw(data, dtype):
    shape = draw_shape(data)
    nd = len(shape) + 1
    return draw_arrays(data, [shape] * 3, dtype), {"axis": _axis(data, nd)}


def _split_draw(kind):
    def draw(data, dtype):
        shape = draw_shape(data, min_dims=1, min_side=1, max_side=6)
        nd = len(shape)
        ax = _axis(data, nd)
        n = shape[ax]
        if data.draw(st.booleans(), label="sections"):
            if kind == "split":
                k = data.draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
            else:
                k = data.draw(st.integers(1, n + 2), label="k")
            ios = k
        else:
            ios = data.draw(st.lists(st.integers(-1, n + 1), max_size=3), label="indices")
            if kind == "split":
                ios = sorted(ios)  # NumPy gives empty pieces for decreasing indices too
        return draw_arrays(data, [shape], dtype), {"indices_or_sections": ios, "axis": ax}
    return draw


def _fixed_split_draw(axis, min_dims):
    def draw(data, dtype):
        shape = list(draw_shape(data, min_dims=min_dims, min_side=1))
        ax = axis if len(shape) > 1 or axis != 1 else 0
        n = shape[ax]
        k = data.draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]), label="k")
        return draw_arrays(data, [tuple(shape)], dtype), {"indices_or_sections": k}
    return draw


def _broadcast_to_draw(data, dtype):
    target = draw_shape(data)
    k = data.draw(st.integers(0, len(target)), label="src_ndim")
    src = tuple(1 if data.draw(st.booleans(), label="unit") else d
                for d in target[len(target) - k:])
    return draw_arrays(data, [src], dtype), {"shape": target}


def _broadcast_arrays_draw(data, dtype):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3,
                                                         max_side=3), label="shapes")
    return draw_arrays(data, shapes.input_shapes, dtype), {}


def _tile_kw(data, shape):
    reps = tuple(data.draw(st.lists(st.integers(0, 3), max_size=4), label="reps"))
    return {"reps": reps[0] if len(reps) == 1 and data.draw(st.booleans()) else reps}


def _repeat_draw(data, dtype):
    shape = draw_shape(data)
    nd = len(shape)
    ax = None if nd == 0 or data.draw(st.booleans(), label="flat") else _axis(data, nd)
    n = int(np.prod(shape)) if ax is None else shape[ax]
    if data.draw(st.booleans(), label="int_reps"):
        reps = data.draw(st.integers(0, 3), label="reps")
    else:
        reps = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n), label="reps")
    return draw_arrays(data, [shape], dtype), {"repeats": reps, "axis": ax}


def _repeat_traced_draw(data, dtype):
    """Array `repeats` as an argument: eager uses its value, jit/vmap the masked path."""
    shape = draw_shape(data, min_dims=1, min_side=1)
    ax = _axis(data, len(shape))
    n = shape[ax]
    (x,) = draw_arrays(data, [shape], dtype)
    reps = np.asarray(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), np.int32)
    length = data.draw(st.integers(0, 3 * n + 2), label="total_repeat_length")
    return [x, reps], {"axis": ax, "total_repeat_length": length}


def _np_repeat_total(x, repeats, axis, total_repeat_length):
    # JAX: truncate to total_repeat_length, or fill with the last element along axis.
    idx = np.repeat(np.arange(x.shape[axis]), repeats)
    if len(idx) < total_repeat_length:
        last = x.shape[axis] - 1
        idx = np.concatenate([idx, np.full(total_repeat_length - len(idx), last, int)])
    return np.take(x, idx[:total_repeat_length].astype(int), axis=axis)


def _flip_kw(data, shape):
    nd = len(shape)
    mode = data.draw(st.sampled_from(["none", "int", "tuple"]), label="mode")
    if mode == "none" or nd == 0:
        return {"axis": None}
    if mode == "int":
        return {"axis": _axis(data, nd)}
    return {"axis": _axes(data, nd)}


def _roll_kw(data, shape):
    nd = len(shape)
    mode = data.draw(st.sampled_from(["none", "int", "tuple"]), label="mode")
    if mode == "none" or nd == 0:
        return {"shift": data.draw(st.integers(-7, 7), label="shift"), "axis": None}
    if mode == "int":
        return {"shift": data.draw(st.integers(-7, 7)), "axis": _axis(data, nd)}
    axes = _axes(data, nd)
    shifts = tuple(data.draw(st.integers(-7, 7)) for _ in axes)
    return {"shift": shifts, "axis": axes}


def _ax_kw(fn):
    return lambda data, shape: fn(data, shape)


def _tup(f):
    """Functions returning lists (split, broadcast_arrays) compared as tuples."""
    return lambda *a, **k: tuple(f(*a, **k))


SPECS = [
    OpSpec("reshape", jnp.reshape, np.reshape, args=_one_arg(_reshape_kw), dtypes=ALL),
    OpSpec("ravel", jnp.ravel, np.ravel, dtypes=ALL),
    OpSpec("transpose", jnp.transpose, np.transpose, args=_one_arg(_transpose_kw), dtypes=ALL),
    OpSpec("moveaxis", jnp.moveaxis, np.moveaxis, args=_one_arg(_moveaxis_kw, min_dims=1),
           dtypes=ALL),
    OpSpec("swapaxes", jnp.swapaxes, np.swapaxes, dtypes=ALL, args=_one_arg(
        lambda d, s: {"axis1": _axis(d, len(s), "a1"), "axis2": _axis(d, len(s), "a2")},
        min_dims=1)),
    OpSpec("expand_dims", jnp.expand_dims, np.expand_dims, args=_one_arg(_expand_kw),
           dtypes=ALL),
    OpSpec("squeeze", jnp.squeeze, np.squeeze, args=_squeeze_draw, dtypes=ALL),
    OpSpec("concatenate", lambda *xs, axis: jnp.concatenate(xs, axis=axis),
           lambda *xs, axis: np.concatenate(xs, axis=axis), nargs=3, args=_concatenate_draw,
           dtypes=ALL),
    OpSpec("stack", lambda *xs, axis: jnp.stack(xs, axis=axis),
           lambda *xs, axis: np.stack(xs, axis=axis), nargs=3, args=_stack_draw, dtypes=ALL),
    OpSpec("hstack", lambda *xs: jnp.hstack(xs), lambda *xs: np.hstack(xs), nargs=2,
           args=_concat_like(2, (0, 3), lambda r: None if r == 0 else 0 if r == 1 else 1),
           dtypes=ALL),
    OpSpec("vstack", lambda *xs: jnp.vstack(xs), lambda *xs: np.vstack(xs), nargs=2,
           args=_concat_like(2, (0, 3), lambda r: None if r <= 1 else 0), dtypes=ALL),
    OpSpec("dstack", lambda *xs: jnp.dstack(xs), lambda *xs: np.dstack(xs), nargs=2,
           args=_concat_like(2, (0, 3), lambda r: None if r <= 2 else 2), dtypes=ALL),
    OpSpec("column_stack", lambda *xs: jnp.column_stack(xs),
           lambda *xs: np.column_stack(xs), nargs=2,
           args=_concat_like(2, (1, 2), lambda r: None if r == 1 else 1), dtypes=ALL),
    OpSpec("split", _tup(jnp.split), _tup(np.split), args=_split_draw("split"), dtypes=ALL),
    OpSpec("array_split", _tup(jnp.array_split), _tup(np.array_split),
           args=_split_draw("array_split"), dtypes=ALL),
    OpSpec("hsplit", _tup(jnp.hsplit), _tup(np.hsplit), args=_fixed_split_draw(1, 1)),
    OpSpec("vsplit", _tup(jnp.vsplit), _tup(np.vsplit), args=_fixed_split_draw(0, 2)),
    OpSpec("dsplit", _tup(jnp.dsplit), _tup(np.dsplit), args=_fixed_split_draw(2, 3)),
    OpSpec("broadcast_to", jnp.broadcast_to, np.broadcast_to, args=_broadcast_to_draw,
           dtypes=ALL),
    OpSpec("broadcast_arrays", _tup(jnp.broadcast_arrays), _tup(np.broadcast_arrays),
           nargs=3, args=_broadcast_arrays_draw),
    OpSpec("tile", jnp.tile, np.tile, args=_one_arg(_tile_kw), dtypes=ALL),
    OpSpec("repeat", jnp.repeat, np.repeat, args=_repeat_draw, dtypes=ALL),
    OpSpec("repeat_total_length", jnp.repeat, _np_repeat_total, nargs=2,
           args=_repeat_traced_draw, dtypes=(np.float32, np.int32), grad_argnums=(0,)),
    OpSpec("flip", jnp.flip, np.flip, args=_one_arg(_flip_kw), dtypes=ALL),
    OpSpec("fliplr", jnp.fliplr, np.fliplr, min_side=0, args=_one_arg(
        lambda d, s: {}, min_dims=2)),
    OpSpec("flipud", jnp.flipud, np.flipud, args=_one_arg(lambda d, s: {}, min_dims=1)),
    OpSpec("roll", jnp.roll, np.roll, args=_one_arg(_roll_kw), dtypes=ALL),
    OpSpec("atleast_1d", jnp.atleast_1d, np.atleast_1d, dtypes=ALL),
    OpSpec("atleast_2d", jnp.atleast_2d, np.atleast_2d, dtypes=ALL),
    OpSpec("atleast_3d", jnp.atleast_3d, np.atleast_3d, dtypes=ALL),
]

CASES = [(s, np.dtype(d)) for s in SPECS for d in s.dtypes]


globals().update(table_tests(SPECS, examples=(12, 4, 6, 2, 2), by_dtype=False))


# ---------------------------------------------------------------------------------------
# Targeted cases


def test_broadcast_shapes():
    assert jnp.broadcast_shapes((2, 1), (3,), ()) == (2, 3)
    assert jnp.broadcast_shapes() == ()


def test_repeat_total_repeat_length_under_jit_and_grad():
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    f = jb.jit(lambda x, r: jnp.repeat(x, r, axis=1, total_repeat_length=5))
    r = np.array([2, 0, 2], np.int32)
    np.testing.assert_array_equal(f(x, r), np.repeat(x, [2, 0, 3], axis=1))
    g = jb.grad(lambda x: jnp.sum(f(x, r) * np.arange(5.0, dtype=np.float32)))(x)
    np.testing.assert_array_equal(g, [[1, 0, 9], [1, 0, 9]])


def test_atleast_nd_many_arguments():
    outs = jnp.atleast_2d(1.0, np.ones(3), np.ones((2, 2)))
    assert [o.shape for o in outs] == [(1, 1), (1, 3), (2, 2)]


def test_grad_of_concatenate_and_split_roundtrip():
    def f(x, y):
        a, b, c = jnp.split(jnp.concatenate([x, y], axis=1), [1, 4], axis=1)
        return jnp.sum(a * 2.0) + jnp.sum(b * 3.0) + jnp.sum(jnp.roll(c, 1, 0))

    x = np.ones((2, 3), np.float32)
    y = np.ones((2, 2), np.float32)
    check_grads(f, (x, y), order=2, modes=("fwd", "rev"))


def _matches_all(message, *parts):
    return all(re.search(re.escape(p), message) for p in parts)


ERRORS = [
    ("reshape-size", lambda: jnp.reshape(np.ones((2, 3)), (4, 2)), ValueError,
     ("reshape", "(2, 3)", "(4, 2)")),
    ("reshape-two-unknowns", lambda: jnp.reshape(np.ones(6), (-1, -1)), ValueError,
     ("reshape", "(-1, -1)")),
    ("reshape-order", lambda: jnp.reshape(np.ones(6), (2, 3), order="F"),
     NotImplementedError, ("reshape", "order='F'")),
    ("squeeze-non-unit", lambda: jnp.squeeze(np.ones((1, 3)), 1), ValueError,
     ("squeeze", "axis 1", "(1, 3)")),
    ("concatenate-ranks", lambda: jnp.concatenate([np.ones((2, 3)), np.ones(3)]),
     ValueError, ("concatenate", "(2, 3)", "(3,)")),
    ("concatenate-shapes", lambda: jnp.concatenate([np.ones((2, 3)), np.ones((2, 4))]),
     TypeError, ("concatenate", "(2, 3)", "(2, 4)")),
    ("concatenate-scalar", lambda: jnp.concatenate([np.float32(1), np.float32(2)]),
     ValueError, ("zero-dimensional",)),
    ("stack-shapes", lambda: jnp.stack([np.ones(2), np.ones(3)]), ValueError,
     ("stack", "(2,)", "(3,)")),
    ("split-unequal", lambda: jnp.split(np.ones(5), 2), ValueError, ("split", "5", "2")),
    ("broadcast_to", lambda: jnp.broadcast_to(np.ones((2, 3)), (4, 3)), ValueError,
     ("broadcast_to", "(2, 3)", "(4, 3)")),
    ("transpose-axes", lambda: jnp.transpose(np.ones((2, 3)), (0, 0)), ValueError,
     ("transpose",)),
    ("moveaxis-lengths", lambda: jnp.moveaxis(np.ones((2, 3)), (0, 1), 0), ValueError,
     ("moveaxis",)),
    ("expand_dims-bounds", lambda: jnp.expand_dims(np.ones(2), 3), ValueError,
     ("expand_dims", "axis 3")),
    ("repeat-lengths", lambda: jnp.repeat(np.ones(3), [1, 2]), ValueError,
     ("repeat", "(2,)")),
    ("repeat-traced", lambda: jb.jit(lambda r: jnp.repeat(np.ones(3), r))(np.ones(3, int)),
     jb.ConcretizationTypeError, ("total_repeat_length",)),
]


@pytest.mark.parametrize("name,thunk,exc,parts", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(name, thunk, exc, parts):
    with pytest.raises(exc) as info:
        thunk()
    assert _matches_all(str(info.value), *parts), str(info.value)
