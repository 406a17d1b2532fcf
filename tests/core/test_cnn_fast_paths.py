"""The CNN fast paths (issue 9's training-step benchmark): the convolution's one-copy and
pipelined im2col products, and tier 1's product from the input side with numba sums over
taps, agree with each other and with the loop reference for every layout, and give
outputs already in their layout; max/min pooling with tiling windows
differentiates by a reshape + one-hot mask (first element on ties) with no pads; and
zero-valued `pad` keeps the padding value's sign."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba as jb
import jumba.lax as lax
import jumba.numpy as jnp
from jumba._src.lax import convolution, windowed
from jumba.test_util import check_grads
from tests.core.test_lax_convolution import conv_reference
from tests.core.test_lax_windowed import window_reference

DNS = [("NHWC", "HWIO", "NHWC"), ("NCHW", "OIHW", "NCHW"), ("NCHW", "HWIO", "NHWC"),
       ("CHWN", "OHWI", "WNCH")]


def _operands(rng, dn, n=4, side=6, c=3, f=5):
    shapes = {"N": n, "C": c, "H": side, "W": side - 1}
    x = rng.standard_normal([shapes[a] for a in dn[0]])
    kshape = {"O": f, "I": c, "H": 3, "W": 2}
    k = rng.standard_normal([kshape[a] for a in dn[1]])
    return x, k


@pytest.mark.parametrize("dn", DNS)
@pytest.mark.parametrize("pipelined", [False, True])
def test_conv_products_match_the_reference(dn, pipelined, monkeypatch):
    # The pipelined path is taken above _ONE_COPY_ELEMENTS: lower it to reach it here.
    if pipelined:
        monkeypatch.setattr(convolution, "_ONE_COPY_ELEMENTS", 16)
        monkeypatch.setattr(convolution, "_CHUNK_ELEMENTS", 64)
    rng = np.random.default_rng(0)
    with jb.enable_x64():
        x, k = _operands(rng, dn)
        for strides, padding in (((1, 1), "SAME"), ((2, 1), ((1, 0), (2, 1)))):
            f = lambda x, k, s=strides, p=padding: lax.conv_general_dilated(  # noqa: E731
                x, k, s, p, dimension_numbers=dn)
            np.testing.assert_allclose(
                f(x, k), conv_reference(x, k, strides, padding, dimension_numbers=dn),
                rtol=1e-10, atol=1e-10)
            # Gradients: the lhs gradient is a conv with lhs dilation, the kernel gradient
            # one with batch and feature roles swapped.
            check_grads(f, (x, k), order=1, modes=("rev",))


@settings(max_examples=30, deadline=None)
@given(dn=st.sampled_from(DNS), seed=st.integers(0, 2**16),
       rhs_dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
       padding=st.tuples(st.tuples(st.integers(-1, 3), st.integers(-1, 3)),
                         st.tuples(st.integers(0, 2), st.integers(-1, 2))),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_conv_from_the_input_side_matches_the_reference(dn, seed, rhs_dilation, padding,
                                                        dtype):
    # Tier 1's scatter path (blas_nodes.SHIFT_SUM_KERNEL): any layout, cropping and
    # padding, dilated kernels, taps that reach no input.
    from jumba._src.compiler import blas_nodes

    rng = np.random.default_rng(seed)
    x, k = (a.astype(dtype) for a in _operands(rng, dn, c=5, f=2))
    spec = convolution.conv_dimension_numbers(x.shape, k.shape, dn)
    params = dict(window_strides=(1, 1), padding=padding, lhs_dilation=(1, 1),
                  rhs_dilation=rhs_dilation, dimension_numbers=spec, feature_group_count=1,
                  batch_group_count=1, preferred_element_type=None)
    got = convolution._conv_impl(x, k, shift_sum=blas_nodes.shift_sum_kernel(dtype),
                                 **params)
    want = conv_reference(x, k, (1, 1), padding, rhs_dilation=rhs_dilation,
                          dimension_numbers=dn)
    assert got.shape == want.shape and got.dtype == dtype
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_only_narrowing_stride_one_convs_go_from_the_input_side():
    # A CNN layer widening 32 -> 64 features: its input gradient (64 -> 32) qualifies; the
    # forward conv, its weight gradient and strided or grouped convs do not.
    nhwc = convolution.conv_dimension_numbers((128, 4, 4, 64), (3, 3, 32, 64),
                                              ("NHWC", "HWOI", "NHWC"))
    same = ((1, 1), (1, 1))
    worth = convolution.scatter_worth
    assert worth((128, 4, 4, 64), (3, 3, 32, 64), (1, 1), same, (1, 1), (1, 1), nhwc)
    fwd = convolution.conv_dimension_numbers((128, 4, 4, 32), (3, 3, 32, 64),
                                             ("NHWC", "HWIO", "NHWC"))
    assert not worth((128, 4, 4, 32), (3, 3, 32, 64), (1, 1), same, (1, 1), (1, 1), fwd)
    assert not worth((128, 4, 4, 64), (3, 3, 32, 64), (2, 2), same, (1, 1), (1, 1), nhwc)
    assert not worth((128, 4, 4, 64), (3, 3, 32, 64), (1, 1), same, (2, 2), (1, 1), nhwc)
    assert not worth((128, 4, 4, 64), (3, 3, 16, 64), (1, 1), same, (1, 1), (1, 1), nhwc,
                     feature_group_count=2)


def test_jitted_input_gradient_goes_from_the_input_side_and_matches_tier_0():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 5, 5, 6)).astype(np.float32)
    k = rng.standard_normal((3, 3, 6, 12)).astype(np.float32)  # widens 6 -> 12

    def loss(x, k):
        y = lax.conv_general_dilated(x, k, (1, 1), "SAME",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return jnp.sum(jnp.tanh(y) ** 2)

    with jb.config_context(jumba_compile="eager"):
        g = jb.jit(jb.grad(loss, argnums=(0, 1)))
        lowered = g.lower(x, k)
        lowered.compile()
        assert lowered.as_text().count("from the input side") == 1  # x's gradient only
        got = g(x, k)
    with jb.disable_jit():
        want = jb.grad(loss, argnums=(0, 1))(x, k)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5)


def test_grouped_conv_one_copy_path():
    rng = np.random.default_rng(1)
    with jb.enable_x64():
        dn = ("NHWC", "HWIO", "NHWC")
        x = rng.standard_normal((2, 5, 5, 6))
        k = rng.standard_normal((3, 3, 2, 9))
        out = lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=dn,
                                       feature_group_count=3)
        ref = conv_reference(x, k, (1, 1), "SAME", dimension_numbers=dn,
                             feature_group_count=3)
        np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-10)


def test_nhwc_conv_outputs_need_no_copy():
    # The forward conv and both gradients of an NHWC/HWIO conv come out C-contiguous, so
    # the compiled step's kernels read them without an ascontiguousarray copy.
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 6, 6, 1)).astype(np.float32)  # one input channel
    k = rng.standard_normal((3, 3, 1, 4)).astype(np.float32)
    dn = convolution.conv_dimension_numbers(x.shape, k.shape, ("NHWC", "HWIO", "NHWC"))
    params = dict(window_strides=(1, 1), padding=((1, 1), (1, 1)), lhs_dilation=(1, 1),
                  rhs_dilation=(1, 1), dimension_numbers=dn, feature_group_count=1,
                  batch_group_count=1, preferred_element_type=None)
    out = convolution._conv_impl(x, k, **params)
    assert out.shape == (8, 6, 6, 4) and out.flags.c_contiguous
    ct = rng.standard_normal(out.shape).astype(np.float32)
    _, vjp = jb.vjp(lambda x, k: lax.conv_general_dilated(
        x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")), x, k)
    gx, gk = vjp(ct)
    assert np.asarray(gx).flags.c_contiguous and np.asarray(gk).flags.c_contiguous


# ---------------------------------------------------------------------------------------
# Pooling with tiling windows


def _first_max_grad(x, window, kind="max"):
    """NumPy: the cotangent of each window goes to its first maximal (minimal) element."""
    n, h, w, c = x.shape
    wh, ww = window
    ct = np.arange(1, n * (h // wh) * (w // ww) * c + 1, dtype=x.dtype).reshape(
        n, h // wh, w // ww, c)
    g = np.zeros_like(x)
    pick = np.argmax if kind == "max" else np.argmin
    for b, i, j, ch in np.ndindex(*ct.shape):
        blk = x[b, i * wh:(i + 1) * wh, j * ww:(j + 1) * ww, ch]
        r, s = np.unravel_index(pick(blk), blk.shape)  # first on ties
        g[b, i * wh + r, j * ww + s, ch] = ct[b, i, j, ch]
    return ct, g


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["max", "min"]),
       window=st.sampled_from([(2, 2), (1, 3), (2, 1), (3, 2)]))
def test_tiled_pool_gradient_goes_to_the_first_extremum(seed, kind, window):
    rng = np.random.default_rng(seed)
    # Rounded values after a relu: many ties (all-zero windows), as in a CNN.
    x = np.maximum(np.round(rng.standard_normal((2, 6, 6, 3)), 0), 0).astype(np.float32)
    p = lax.reduce_window_max if kind == "max" else lax.reduce_window_min
    f = lambda x: p(x, (1, *window, 1), (1, *window, 1), "VALID")  # noqa: E731
    ct, want = _first_max_grad(x, window, kind)
    for fn in (jb.vjp, lambda f, x: jb.vjp(jb.jit(f), x)):
        out, vjp = fn(f, x)
        np.testing.assert_array_equal(out, window_reference(
            x, kind, (1, *window, 1), (1, *window, 1), ((0, 0),) * 4))
        np.testing.assert_array_equal(vjp(ct)[0], want)
    # The JVP (forward mode) picks the same elements: output k (row-major) takes the
    # tangent where the cotangent k + 1 went.
    t = rng.standard_normal(x.shape).astype(np.float32)
    _, tout = jb.jvp(f, (x,), (t,))
    picked = np.flatnonzero(want)
    where = np.empty(ct.size, np.int64)
    where[want.ravel()[picked].astype(np.int64) - 1] = picked
    np.testing.assert_array_equal(np.asarray(tout).ravel(), t.ravel()[where])


def test_tiled_pool_matches_the_generic_rule_and_has_no_pads(monkeypatch):
    rng = np.random.default_rng(5)
    with jb.enable_x64():
        x = rng.standard_normal((3, 4, 6, 2))
        f = lambda x: jnp.sum(jnp.sin(lax.reduce_window_max(  # noqa: E731
            x, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")))
        check_grads(f, (x,), order=2, modes=("fwd", "rev"))
        g = jb.grad(f)(x)
        prims = {e.primitive.name for e in jb.make_jaxpr(jb.grad(f))(x).jaxpr.eqns}
        assert "pad" not in prims and "slice" not in prims
        np.testing.assert_allclose(jb.vmap(jb.grad(f))(x[None].repeat(2, 0))[1], g)
        monkeypatch.setattr(windowed, "_tiles", lambda shape, **params: False)
        np.testing.assert_allclose(jb.grad(f)(x), g, rtol=0, atol=0)


def test_non_tiling_windows_keep_the_generic_rule():
    # Overlapping, padded and non-divisible windows are not tiles.
    t = windowed._tiles
    base = dict(padding=((0, 0),) * 2, base_dilation=(1, 1), window_dilation=(1, 1))
    assert t((4, 6), window_dimensions=(2, 2), window_strides=(2, 2), **base)
    assert not t((4, 6), window_dimensions=(2, 2), window_strides=(1, 1), **base)
    assert not t((5, 6), window_dimensions=(2, 2), window_strides=(2, 2), **base)
    assert not t((4, 6), window_dimensions=(1, 1), window_strides=(1, 1), **base)
    assert not t((4, 6), window_dimensions=(2, 2), window_strides=(2, 2),
                 **{**base, "padding": ((0, 0), (1, 1))})
    x = np.array([[1.0, 3.0, 3.0, 2.0, 5.0]], np.float32)  # 5 is not a multiple of 2
    g = jb.grad(lambda x: jnp.sum(lax.reduce_window_max(x, (1, 2), (1, 2), "VALID")))(x)
    np.testing.assert_array_equal(g, [[0.0, 1.0, 1.0, 0.0, 0.0]])


# ---------------------------------------------------------------------------------------
# pad


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.int32, np.bool_])
@pytest.mark.parametrize("value", [0, 1])
def test_pad_matches_numpy(dtype, value):
    x = (np.arange(6).reshape(2, 3) + 1).astype(dtype)
    config = ((1, 2, 1), (-1, 1, 0))
    out = lax.pad(x, np.asarray(value, dtype), config)
    ref = np.full((2 + 1 + 3, 3 + 1), value, dtype)
    ref[1:4:2, :3] = x
    np.testing.assert_array_equal(out, ref[:, 1:])


def test_pad_keeps_a_negative_zero():
    out = np.asarray(lax.pad(np.ones(2, np.float32), np.float32(-0.0), ((1, 1, 1),)))
    np.testing.assert_array_equal(np.signbit(out), [True, False, True, False, True])
