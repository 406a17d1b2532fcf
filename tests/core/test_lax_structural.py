"""jumba.lax structural primitives against independent NumPy references, through the five
table checks. The transposes of strided slice and of pad (negative and interior padding,
and the padding value's cotangent) are covered by the order-2 gradient checks; pad's
padding value is an array argument so that vmap batches it too."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import strategies as st

import jumba as jb
import jumba.lax as lax
import jumba.numpy as jnp
from jumba.test_util import check_grads
from tests.core.numpy_checks import (
    ALL,
    OpSpec,
    draw_arrays,
    draw_shape,
    table_tests,
)


def _broadcast_in_dim_draw(data, dtype):
    out = draw_shape(data)
    k = data.draw(st.integers(0, len(out)), label="k")
    dims = tuple(sorted(data.draw(st.permutations(range(len(out))), label="dims")[:k]))
    src = tuple(1 if data.draw(st.booleans(), label="unit") else out[d] for d in dims)
    return draw_arrays(data, [src], dtype), {"shape": out, "broadcast_dimensions": dims}


def _np_broadcast_in_dim(x, shape, broadcast_dimensions):
    expanded = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        expanded[d] = x.shape[i]
    return np.broadcast_to(x.reshape(expanded), shape)


def _reshape_draw(data, dtype):
    shape = draw_shape(data)
    size = int(np.prod(shape))
    target = [d for d in shape if d != 1]
    target = list(data.draw(st.permutations(target), label="perm")) if size else [0]
    for _ in range(data.draw(st.integers(0, 2), label="ones")):
        target.insert(data.draw(st.integers(0, len(target))), 1)
    return draw_arrays(data, [shape], dtype), {"new_sizes": tuple(target)}


def _transpose_draw(data, dtype):
    shape = draw_shape(data)
    return draw_arrays(data, [shape], dtype), {
        "permutation": tuple(data.draw(st.permutations(range(len(shape))), label="perm"))}


def _slice_draw(data, dtype):
    shape = draw_shape(data, min_dims=1, max_side=6)
    start, limit, strides = [], [], []
    for n in shape:
        s = data.draw(st.integers(0, n), label="start")
        start.append(s)
        limit.append(data.draw(st.integers(s, n), label="limit"))
        strides.append(data.draw(st.integers(1, 3), label="stride"))
    kw = {"start_indices": tuple(start), "limit_indices": tuple(limit),
          "strides": tuple(strides) if data.draw(st.booleans(), label="strided") else None}
    return draw_arrays(data, [shape], dtype), kw


def _np_slice(x, start_indices, limit_indices, strides):
    strides = strides or (1,) * x.ndim
    return x[tuple(slice(s, e, st) for s, e, st in zip(start_indices, limit_indices, strides))]


def _pad_draw(data, dtype):
    shape = draw_shape(data, min_dims=1)
    config = []
    for n in shape:
        it = data.draw(st.integers(0, 2), label="interior")
        full = n + max(n - 1, 0) * it
        lo = data.draw(st.integers(-full, 3), label="lo")
        hi = data.draw(st.integers(-(full + lo) if full + lo > 0 else 0, 3), label="hi")
        config.append((lo, hi, it))
    x, pv = draw_arrays(data, [shape, ()], dtype)
    return [x, pv], {"padding_config": tuple(config)}


def _np_pad(x, padding_value, padding_config):
    """Independent reference: map each output index back to its source, per axis."""
    srcs = []
    for (lo, hi, it), n in zip(padding_config, x.shape):
        size = lo + hi + n + max(n - 1, 0) * it
        t = np.arange(size) - lo
        ok = (t >= 0) & (t % (it + 1) == 0) & (t // (it + 1) < n)
        srcs.append(np.where(ok, t // (it + 1), -1))
    grids = np.meshgrid(*srcs, indexing="ij")
    valid = np.all([g >= 0 for g in grids], axis=0)
    gathered = x[tuple(np.clip(g, 0, None) for g in grids)] if x.size else np.zeros(
        valid.shape, x.dtype)
    return np.where(valid, gathered, padding_value).astype(x.dtype)


def _concatenate_draw(data, dtype):
    r = data.draw(st.integers(1, 3), label="rank")
    base = list(draw_shape(data, r, r))
    ax = data.draw(st.integers(0, r - 1), label="ax")
    shapes = []
    for _ in range(3):
        base[ax] = data.draw(st.integers(0, 3), label="side")
        shapes.append(tuple(base))
    return draw_arrays(data, shapes, dtype), {"dimension": ax}


def _rev_draw(data, dtype):
    shape = draw_shape(data)
    dims = data.draw(st.permutations(range(len(shape))), label="dims")
    dims = tuple(dims[:data.draw(st.integers(0, len(shape)), label="k")])
    return draw_arrays(data, [shape], dtype), {"dimensions": dims}


def _convert_draw(data, dtype):
    new = data.draw(st.sampled_from([np.float32, np.int32, np.bool_]), label="new_dtype")
    return draw_arrays(data, [draw_shape(data)], dtype), {"new_dtype": new}


SPECS = [
    OpSpec("broadcast_in_dim", lax.broadcast_in_dim, _np_broadcast_in_dim,
           args=_broadcast_in_dim_draw, dtypes=ALL),
    OpSpec("reshape", lax.reshape, lambda x, new_sizes: np.reshape(x, new_sizes),
           args=_reshape_draw, dtypes=ALL),
    OpSpec("transpose", lax.transpose, lambda x, permutation: np.transpose(x, permutation),
           args=_transpose_draw, dtypes=ALL),
    OpSpec("slice", lax.slice, _np_slice, args=_slice_draw, dtypes=ALL),
    OpSpec("pad", lax.pad, _np_pad, nargs=2, args=_pad_draw, dtypes=ALL),
    OpSpec("concatenate", lambda *xs, dimension: lax.concatenate(xs, dimension),
           lambda *xs, dimension: np.concatenate(xs, dimension), nargs=3,
           args=_concatenate_draw, dtypes=ALL),
    OpSpec("rev", lax.rev, lambda x, dimensions: np.flip(x, dimensions) if dimensions else x,
           args=_rev_draw, dtypes=ALL),
    OpSpec("convert_element_type", lax.convert_element_type,
           lambda x, new_dtype: x.astype(new_dtype), args=_convert_draw, dtypes=ALL,
           grad_order=None),
]



globals().update(table_tests(SPECS, examples=(20, 6, 15, 8, 3), by_dtype=False))


# ---------------------------------------------------------------------------------------
# Targeted transposes (exact cotangents, not only the inner-product identity)


def test_strided_slice_transpose_scatters_into_zeros():
    x = np.arange(10.0, dtype=np.float32)
    (ct,) = jb.vjp(lambda x: lax.slice(x, (1,), (8,), (3,)), x)[1](
        np.array([1.0, 2.0, 3.0], np.float32))
    np.testing.assert_array_equal(ct, [0, 1, 0, 0, 2, 0, 0, 3, 0, 0])


def test_pad_transpose_negative_and_interior():
    x = np.arange(4.0, dtype=np.float32)
    cfg = ((-1, -2, 1),)  # [0 p 1 p 2 p 3] cropped to [p 1 p 2]
    out, f_vjp = jb.vjp(lambda x, p: lax.pad(x, p, cfg), x, np.float32(9))
    np.testing.assert_array_equal(out, [9, 1, 9, 2])
    ct_x, ct_p = f_vjp(np.array([1.0, 10.0, 100.0, 1000.0], np.float32))
    np.testing.assert_array_equal(ct_x, [0, 10, 1000, 0])
    assert float(ct_p) == 101.0  # the cotangents at padding positions


def test_pad_value_only_cotangent():
    g = jb.grad(lambda p: jnp.sum(lax.pad(np.ones((2, 2), np.float32), p,
                                          ((1, 0, 1), (0, -1, 0)))))(np.float32(0.0))
    assert float(g) == 2.0  # output (4, 1): 2 padded entries of 4


def test_convert_element_type_grad():
    with jb.enable_x64():
        check_grads(lambda x: lax.convert_element_type(x * 2.0, np.float64),
                    (np.ones(3, np.float64),), order=2)
    g = jb.grad(lambda x: jnp.sum(lax.convert_element_type(x, np.float32) * 2.0))(
        np.ones(3, np.float32))
    np.testing.assert_array_equal(g, 2 * np.ones(3))


def test_pad_python_scalar_value():
    out = lax.pad(np.ones(2, np.int32), 0, ((1, 1, 0),))
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [0, 1, 1, 0])


ERRORS = [
    ("broadcast_in_dim", lambda: lax.broadcast_in_dim(np.ones(3), (2, 4), (1,)),
     ("broadcast_in_dim", "(3,)", "(2, 4)")),
    ("broadcast_in_dim-order", lambda: lax.broadcast_in_dim(np.ones((2, 2)), (2, 2), (1, 0)),
     ("broadcast_in_dim", "increasing")),
    ("reshape", lambda: lax.reshape(np.ones((2, 3)), (4,)), ("reshape", "(2, 3)", "(4,)")),
    ("transpose", lambda: lax.transpose(np.ones((2, 3)), (0, 0)), ("transpose", "(0, 0)")),
    ("slice", lambda: lax.slice(np.ones((2, 3)), (0, 0), (3, 3)), ("slice", "(2, 3)")),
    ("pad", lambda: lax.pad(np.ones(2, np.float32), np.float32(0), ((-3, 0, 0),)),
     ("pad", "(2,)")),
    ("concatenate", lambda: lax.concatenate([np.ones((2, 3)), np.ones(3)], 0),
     ("concatenate", "(2, 3)", "(3,)")),
    ("rev", lambda: lax.rev(np.ones(3), (1,)), ("rev", "(3,)")),
]


@pytest.mark.parametrize("name,thunk,parts", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(name, thunk, parts):
    with pytest.raises(TypeError) as info:
        thunk()
    assert all(p in str(info.value) for p in parts), str(info.value)
