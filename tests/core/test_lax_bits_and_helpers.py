"""jumba.lax's bit-level primitives and its helper functions (stack, tile, reduce, patches,
unshared convolution, conv shape tuples) against NumPy references."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jumba as jb
import jumba.lax as lax
import jumba.numpy as jnp
from jumba.test_util import check_grads

INT_DTYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32]


SMALL_SHAPES = hnp.array_shapes(max_dims=2, max_side=5)


def ints(dtype, shape=SMALL_SHAPES):
    return hnp.arrays(dtype, shape, elements=st.integers(np.iinfo(dtype).min,
                                                         np.iinfo(dtype).max))


def popcount_reference(x):
    bits = 8 * x.dtype.itemsize
    u = x.astype(np.int64) & ((1 << bits) - 1)
    return np.array([bin(int(v)).count("1") for v in u.ravel()]).reshape(x.shape)


def clz_reference(x):
    bits = 8 * x.dtype.itemsize
    u = x.astype(np.int64) & ((1 << bits) - 1)
    return np.array([bits - int(v).bit_length() for v in u.ravel()]).reshape(x.shape)


@pytest.mark.parametrize("dtype", INT_DTYPES)
@given(data=st.data())
def test_population_count_and_clz(dtype, data):
    x = data.draw(ints(dtype))
    np.testing.assert_array_equal(np.asarray(lax.population_count(x)), popcount_reference(x))
    np.testing.assert_array_equal(np.asarray(lax.clz(x)), clz_reference(x))
    assert lax.clz(x).dtype == dtype


@pytest.mark.parametrize("dtype", [np.int8, np.uint16, np.int32, np.uint32])
@given(data=st.data())
def test_mulhi(dtype, data):
    shape = data.draw(hnp.array_shapes(max_dims=1, max_side=6))
    x, y = data.draw(ints(dtype, shape)), data.draw(ints(dtype, shape))
    bits = 8 * np.dtype(dtype).itemsize
    expected = [(int(a) * int(b)) >> bits for a, b in zip(x, y)]
    np.testing.assert_array_equal(np.asarray(lax.mulhi(x, y)),
                                  np.array(expected).astype(dtype))


def test_mulhi_64_bit():
    with jb.enable_x64():
        a = np.array([3, -5, 2**62, -2**63 + 7, 2**63 - 1], np.int64)
        b = np.array([7, 9, 2**62 + 5, -3, 2**63 - 1], np.int64)
        expected = [(int(p) * int(q)) >> 64 for p, q in zip(a, b)]
        np.testing.assert_array_equal(np.asarray(lax.mulhi(a, b)), np.array(expected))
        u = np.array([2**64 - 1, 12345678901234567], np.uint64)
        expected = [(int(p) * int(p)) >> 64 for p in u]
        np.testing.assert_array_equal(np.asarray(lax.mulhi(u, u)),
                                      np.array(expected, np.uint64))


@given(x=ints(np.int32, hnp.array_shapes(min_dims=2, max_dims=3, max_side=4)))
def test_reduce_xor(x):
    for axes in [(0,), (1,), (0, 1)]:
        np.testing.assert_array_equal(np.asarray(lax.reduce_xor(x, axes)),
                                      np.bitwise_xor.reduce(x, axis=axes))


def test_bit_ops_reject_floats_with_a_clear_error():
    for fn in (lax.population_count, lax.clz):
        with pytest.raises(TypeError, match="float32"):
            fn(np.float32([1.0]))
    with pytest.raises(TypeError, match="reduce_xor takes integer"):
        lax.reduce_xor(np.float32([1.0]), (0,))


def test_bitcast_convert_type_shapes_and_round_trip():
    x = np.float32([[1.0, -2.5], [3.0, np.inf]])
    as_bytes = lax.bitcast_convert_type(x, np.uint8)
    assert as_bytes.shape == (2, 2, 4)
    np.testing.assert_array_equal(np.asarray(as_bytes), x.view(np.uint8).reshape(2, 2, 4))
    np.testing.assert_array_equal(np.asarray(lax.bitcast_convert_type(as_bytes, np.float32)), x)
    np.testing.assert_array_equal(np.asarray(lax.bitcast_convert_type(x, np.int32)),
                                  x.view(np.int32))
    with pytest.raises(TypeError, match="last axis of size 4"):
        lax.bitcast_convert_type(np.zeros((3, 3), np.uint8), np.float32)
    batched = jb.vmap(lambda v: lax.bitcast_convert_type(v, np.uint8), in_axes=1)(x)
    columns = [np.ascontiguousarray(x[:, i]).view(np.uint8).reshape(2, 4) for i in range(2)]
    np.testing.assert_array_equal(np.asarray(batched), np.stack(columns))


def test_bit_ops_under_jit_and_vmap():
    x = np.arange(-6, 6, dtype=np.int32).reshape(3, 4)
    f = lambda v: lax.population_count(v) + lax.clz(v) + lax.mulhi(v, v)  # noqa: E731
    np.testing.assert_array_equal(np.asarray(jb.jit(f)(x)), np.asarray(f(x)))
    np.testing.assert_array_equal(np.asarray(jb.vmap(f)(x)), np.asarray(f(x)))
    xor = jb.vmap(lambda v: lax.reduce_xor(v, (0,)), in_axes=1)(x)
    np.testing.assert_array_equal(np.asarray(xor), np.bitwise_xor.reduce(x, axis=0))


# ---------------------------------------------------------------------------------------
# lax.reduce


def fold_reference(x, init, fn, axes):
    moved = np.moveaxis(x, axes, range(len(axes))).reshape(-1, *np.delete(x.shape, axes))
    acc = np.full(moved.shape[1:], init, x.dtype)
    for row in moved:
        acc = fn(acc, row)
    return acc


@given(x=hnp.arrays(np.float64, (3, 4), elements=st.floats(-2, 2)))
def test_reduce_monoids_and_general_fold(x):
    x = x.astype(np.float32)
    for axes in [(0,), (1,), (0, 1)]:
        np.testing.assert_allclose(np.asarray(lax.reduce(x, np.float32(0), lax.add, axes)),
                                   x.sum(axis=axes), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(np.asarray(lax.reduce(x, -np.inf, lax.max, axes)),
                                   x.max(axis=axes))
        fold = lambda a, b: a * 0.5 + b  # noqa: E731 (not associative: a sequential fold)
        np.testing.assert_allclose(np.asarray(lax.reduce(x, np.float32(1), fold, axes)),
                                   fold_reference(x, 1.0, fold, axes), rtol=1e-5, atol=1e-5)


def test_reduce_uses_the_reduction_primitive_for_a_monoid():
    jaxpr = jb.make_jaxpr(lambda x: lax.reduce(x, 0.0, lax.add, (0,)))(np.ones((3, 2)))
    assert "reduce_sum" in str(jaxpr) and "scan" not in str(jaxpr)
    jaxpr = jb.make_jaxpr(lambda x: lax.reduce(x, 0.0, lambda a, b: a * b + 1, (0,)))(
        np.ones((3, 2)))
    assert "scan" in str(jaxpr)


def test_reduce_pytrees_and_gradients():
    x, y = np.arange(6.0).reshape(2, 3), np.ones((2, 3))
    out = lax.reduce((x, y), (0.0, 0.0), lambda a, b: (a[0] + b[0], a[1] + 2 * b[1]), (0, 1))
    assert float(out[0]) == 15.0 and float(out[1]) == 12.0
    v = np.array([0.5, 1.5, -1.0])
    check_grads(lambda v: lax.reduce(v, 1.0, lambda a, b: a * b + 1, (0,)), (v,), order=2,
                modes=("fwd", "rev"))
    with pytest.raises(ValueError, match="same tree structure"):
        lax.reduce((x, y), 0.0, lax.add, (0,))


# ---------------------------------------------------------------------------------------
# stack, unstack, tile, index_take, empty, dtype, broadcast_like


def test_stack_unstack_tile():
    a, b = np.arange(6.0).reshape(2, 3), -np.arange(6.0).reshape(2, 3)
    for axis in (0, 1, 2, -1):
        np.testing.assert_array_equal(np.asarray(lax.stack([a, b], axis)),
                                      np.stack([a, b], axis))
    for axis in (0, 1, -1):
        parts = lax.unstack(a, axis)
        assert len(parts) == a.shape[axis]
        for got, want in zip(parts, np.moveaxis(a, axis, 0)):
            np.testing.assert_array_equal(np.asarray(got), want)
    for reps in [(2, 3), (1, 2), (3, 1, 2)]:
        np.testing.assert_array_equal(np.asarray(lax.tile(a, reps)), np.tile(a, reps))
    with pytest.raises(ValueError, match="out of bounds"):
        lax.stack([a, b], 3)


def test_index_take_and_small_helpers():
    src = np.arange(24).reshape(2, 3, 4)
    rows, cols = np.array([0, 1, -1]), np.array([3, 0, 2])
    got = lax.index_take(src, (rows, cols), (0, 2))
    np.testing.assert_array_equal(np.asarray(got), src[rows, :, cols])
    assert lax.empty((2, 3), np.float32).shape == (2, 3)
    assert lax.dtype(1.0) == np.float32 and lax.dtype(np.int16) == np.int16
    np.testing.assert_array_equal(np.asarray(lax.broadcast_like(np.ones(4), src[0])),
                                  np.ones((3, 4)))


# ---------------------------------------------------------------------------------------
# Convolution helpers


def patches_reference(x, window, stride):
    n, c, h, w = x.shape
    kh, kw = window
    oh, ow = (h - kh) // stride[0] + 1, (w - kw) // stride[1] + 1
    out = np.zeros((n, c * kh * kw, oh, ow), x.dtype)
    for i in range(oh):
        for j in range(ow):
            patch = x[:, :, i * stride[0]:i * stride[0] + kh, j * stride[1]:j * stride[1] + kw]
            out[:, :, i, j] = patch.reshape(n, -1)
    return out


@given(x=hnp.arrays(np.float32, (2, 3, 6, 5), elements=st.floats(-3, 3, width=32)),
       stride=st.tuples(st.integers(1, 2), st.integers(1, 2)))
def test_conv_general_dilated_patches_and_local(x, stride):
    patches = lax.conv_general_dilated_patches(x, (2, 3), stride, "VALID")
    ref = patches_reference(x, (2, 3), stride)
    np.testing.assert_allclose(np.asarray(patches), ref, rtol=1e-6, atol=1e-6)
    w = np.cos(np.arange(4 * ref.shape[1] * ref.shape[2] * ref.shape[3], dtype=np.float32)
               ).reshape(4, ref.shape[1], *ref.shape[2:])
    local = lax.conv_general_dilated_local(x, w, stride, "VALID", (2, 3))
    np.testing.assert_allclose(np.asarray(local), np.einsum("nkhw,okhw->nohw", ref, w),
                               rtol=1e-4, atol=1e-4)
    # NHWC input and HWIO-style kernel layout give the same numbers, moved.
    local_nhwc = lax.conv_general_dilated_local(
        x.transpose(0, 2, 3, 1), w.transpose(2, 3, 1, 0), stride, "VALID", (2, 3),
        dimension_numbers=("NHWC", "HWIO", "NHWC"))
    np.testing.assert_allclose(np.asarray(local_nhwc), np.asarray(local).transpose(0, 2, 3, 1),
                               rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("padding", ["SAME", "VALID", [(1, 2), (0, 1)]])
@pytest.mark.parametrize("strides", [(1, 1), (2, 1)])
def test_conv_shape_tuples_match_the_convolutions(padding, strides):
    dn = ("NHWC", "HWIO", "NHWC")
    lhs, rhs = np.ones((2, 7, 6, 3), np.float32), np.ones((3, 2, 3, 4), np.float32)
    out = lax.conv_general_dilated(lhs, rhs, strides, padding, dimension_numbers=dn)
    assert lax.conv_general_shape_tuple(lhs.shape, rhs.shape, strides, padding, dn) == out.shape
    lhs_c = lhs.transpose(0, 3, 1, 2)
    rhs_c = rhs.transpose(3, 2, 0, 1)
    assert lax.conv_shape_tuple(lhs_c.shape, rhs_c.shape, strides, padding) == \
        lax.conv(lhs_c, rhs_c, strides, padding).shape
    transposed = lax.conv_transpose(lhs, rhs, strides, padding, dimension_numbers=dn)
    assert lax.conv_transpose_shape_tuple(lhs.shape, rhs.shape, strides, padding, dn) == \
        transposed.shape


def test_lax_abs_of_complex_is_real_with_jaxs_derivative():
    z = jnp.asarray(np.array([3 + 4j, 0j, -1 + 1j], np.complex64))
    out = lax.abs(z)
    assert out.dtype == np.float32 and jb.eval_shape(lax.abs, z).dtype == np.float32
    np.testing.assert_allclose(np.asarray(out), np.abs(np.asarray(z)), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(jb.jit(lax.abs)(z)), np.asarray(out), rtol=1e-6)
    # JAX's values: grad of sum |z| is z / |z| (0 at 0); the JVP along 1 is Re(z) / |z|.
    np.testing.assert_allclose(np.asarray(jb.grad(lambda z: jnp.sum(lax.abs(z)))(z)),
                               [0.6 - 0.8j, 0, -0.70710677 - 0.70710677j], rtol=1e-6)
    tangent = jb.jvp(lax.abs, (z,), (jnp.ones(3, jnp.complex64),))[1]
    np.testing.assert_allclose(np.asarray(tangent), [0.6, 0.0, -0.70710677], rtol=1e-6)
