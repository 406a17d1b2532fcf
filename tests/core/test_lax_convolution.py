"""lax convolutions: an OpSpec table through the five checks against a loop-over-output-
positions NumPy reference (written independently of the im2col implementation), then
errors, JAX's wrappers, and a small CNN trained step under jit against NumPy."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba as jb
import jumba.lax as lax
import jumba.numpy as jnp
from jumba.test_util import check_grads
from tests.core.numpy_checks import OpSpec, table_tests

# ---------------------------------------------------------------------------------------
# The reference: every output position computed by its own tensordot, in float64.

LAYOUTS = {
    1: [("NCH", "OIH", "NCH"), ("NHC", "HIO", "NHC"), ("NCH", "IOH", "NHC")],
    2: [("NCHW", "OIHW", "NCHW"), ("NHWC", "HWIO", "NHWC"), ("NCHW", "HWIO", "NHWC"),
        ("CHWN", "OHWI", "WNCH")],
    3: [("NCHWD", "OIHWD", "NCHWD"), ("NHWDC", "HWDIO", "NHWDC")],
}


def _perm(spec, first, second, rhs):
    rest = sorted((i for i, c in enumerate(spec) if c not in (first, second)),
                  key=lambda i: rhs.index(spec[i]))
    return [spec.index(first), spec.index(second), *rest]


def _same_pads(in_shape, window, strides):
    pads = []
    for n, k, s in zip(in_shape, window, strides):
        out = -(-n // s)
        total = max(0, (out - 1) * s + k - n)
        pads.append((total // 2, total - total // 2))
    return pads


def conv_reference(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                   dimension_numbers=None, feature_group_count=1, batch_group_count=1):
    nd = lhs.ndim
    nsp = nd - 2
    if dimension_numbers is None:
        lp = rp = op = list(range(nd))
    else:
        ls, rs, os_ = dimension_numbers
        lp, rp = _perm(ls, "N", "C", rs), _perm(rs, "O", "I", rs)
        op = _perm(os_, "N", "C", rs)
    x = np.transpose(np.asarray(lhs, np.float64), lp)
    w = np.transpose(np.asarray(rhs, np.float64), rp)
    lhs_dilation = lhs_dilation or (1,) * nsp
    rhs_dilation = rhs_dilation or (1,) * nsp
    kd = [(k - 1) * d + 1 for k, d in zip(w.shape[2:], rhs_dilation)]
    dil = [(n - 1) * d + 1 if n else 0 for n, d in zip(x.shape[2:], lhs_dilation)]
    if isinstance(padding, str):
        padding = _same_pads(dil, kd, window_strides) if padding == "SAME" else [(0, 0)] * nsp
    xd = np.zeros(x.shape[:2] + tuple(dil))
    xd[(slice(None), slice(None)) + tuple(slice(None, None, d) for d in lhs_dilation)] = x
    for j, (lo, hi) in enumerate(padding):
        widths = [(0, 0)] * nd
        widths[2 + j] = (max(lo, 0), max(hi, 0))
        xd = np.pad(xd, widths)
        xd = np.take(xd, np.arange(max(-lo, 0), xd.shape[2 + j] - max(-hi, 0)), axis=2 + j)
    out_sp = [max(0, (p - k) // s + 1) if p >= k else 0
              for p, k, s in zip(xd.shape[2:], kd, window_strides)]
    G, B = feature_group_count, batch_group_count
    n, c = xd.shape[:2]
    f = w.shape[0]
    cg, fg, nb = c // G, f // (G * B), n // B
    out = np.zeros((nb, f, *out_sp))
    axes = list(range(1, nsp + 2))
    for pos in itertools.product(*[range(o) for o in out_sp]):
        idx = tuple(slice(p * s, p * s + k, d)
                    for p, s, k, d in zip(pos, window_strides, kd, rhs_dilation))
        patch = xd[(slice(None), slice(None)) + idx]
        for g in range(G * B):
            pg = patch[:, g * cg:(g + 1) * cg] if G > 1 else patch[g * nb:(g + 1) * nb]
            out[(slice(None), slice(g * fg, (g + 1) * fg)) + pos] = np.tensordot(
                pg, w[g * fg:(g + 1) * fg], axes=(axes, axes))
    return np.transpose(out, np.argsort(op)).astype(np.result_type(lhs.dtype, np.float32)
                                                    if lhs.dtype.kind == "f" else lhs.dtype)


# ---------------------------------------------------------------------------------------
# Drawing convolution problems


def _shape_for(spec, sizes):
    return tuple(sizes[c] for c in spec)


@st.composite
def _problem(draw, nsp, *, groups=False, batch_groups=False, dilations=True,
             string_padding=True):
    layout = draw(st.sampled_from(LAYOUTS[nsp]), label="layout")
    ls, rs, os_ = layout
    spatial = [c for c in rs if c not in "OI"]
    G = draw(st.sampled_from([2, 3]), label="G") if groups else 1
    B = draw(st.sampled_from([2, 3]), label="B") if batch_groups else 1
    n = B * draw(st.integers(1, 2), label="n")
    cg = draw(st.integers(1, 3), label="cg")
    f = G * B * draw(st.integers(1, 2), label="fg")
    ks = [draw(st.integers(1, 3), label="k") for _ in spatial]
    ins = [draw(st.integers(1, 6), label="in") for _ in spatial]
    strides = tuple(draw(st.integers(1, 2), label="stride") for _ in spatial)
    rd = tuple(draw(st.integers(1, 2), label="rd") for _ in spatial) if dilations else None
    ld = tuple(draw(st.integers(1, 2), label="ld") for _ in spatial) if dilations else None
    kinds = ["explicit"] + (["SAME", "VALID"] if string_padding and not dilations else [])
    kind = draw(st.sampled_from(kinds), label="padding kind")
    if kind == "explicit":
        padding = tuple((draw(st.integers(-1, 2)), draw(st.integers(-1, 2))) for _ in spatial)
    else:
        padding = kind
    lhs_sizes = {"N": n, "C": G * cg, **dict(zip(spatial, ins))}
    rhs_sizes = {"O": f, "I": cg, **dict(zip(spatial, ks))}
    kwargs = dict(window_strides=strides, padding=padding, lhs_dilation=ld, rhs_dilation=rd,
                  dimension_numbers=layout, feature_group_count=G, batch_group_count=B)
    return _shape_for(ls, lhs_sizes), _shape_for(rs, rhs_sizes), kwargs


def _args(nsp, **kw):
    def draw_args(data, dtype):
        lshape, rshape, kwargs = data.draw(_problem(nsp, **kw), label="problem")
        seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
        rng = np.random.default_rng(seed)
        if np.dtype(dtype).kind in "iu":
            arrays = [rng.integers(-3, 4, s).astype(dtype) for s in (lshape, rshape)]
        else:
            arrays = [rng.standard_normal(s).astype(dtype) for s in (lshape, rshape)]
        return arrays, kwargs

    return draw_args


def _conv(lhs, rhs, **kw):
    return lax.conv_general_dilated(lhs, rhs, **kw)


def _spec(name, nsp, dtypes=(np.float32,), **kw):
    return OpSpec(name, _conv, conv_reference, nargs=2, args=_args(nsp, **kw), dtypes=dtypes,
                  tol=1e-4)


def _transpose_ref(lhs, rhs, strides, padding, dimension_numbers):
    # conv_transpose: an lhs-dilated convolution with the padding worked out from k and s.
    ls, rs, _ = dimension_numbers
    ks = [rhs.shape[rs.index(c)] for c in rs if c not in "OI"]
    pads = []
    for k, s in zip(ks, strides):
        if padding == "SAME":  # output size = input size * stride
            total = k + s - 2
            lo = k - 1 if s > k - 1 else (total + 1) // 2
        else:
            total, lo = k + s - 2 + max(k - s, 0), k - 1
        pads.append((lo, total - lo))
    return conv_reference(lhs, rhs, (1,) * len(ks), pads, lhs_dilation=strides,
                          dimension_numbers=dimension_numbers)


@st.composite
def _transpose_problem(draw):
    n, c, f = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ins = [draw(st.integers(1, 5)) for _ in range(2)]
    ks = [draw(st.integers(1, 3)) for _ in range(2)]
    strides = tuple(draw(st.integers(1, 3)) for _ in range(2))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    return (n, *ins, c), (*ks, c, f), dict(strides=strides, padding=padding,
                                           dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _transpose_args(data, dtype):
    lshape, rshape, kwargs = data.draw(_transpose_problem(), label="problem")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    return [rng.standard_normal(s).astype(dtype) for s in (lshape, rshape)], kwargs


SPECS = [
    _spec("conv_1d", 1, dtypes=(np.float32, np.int32)),
    _spec("conv_2d", 2),
    _spec("conv_2d_string_padding", 2, dilations=False),
    _spec("conv_3d", 3, dilations=False, string_padding=False),
    _spec("conv_2d_feature_groups", 2, groups=True),
    _spec("conv_1d_batch_groups", 1, batch_groups=True),
    OpSpec("conv_transpose", lambda x, k, **kw: lax.conv_transpose(x, k, **kw),
           _transpose_ref, nargs=2, args=_transpose_args, tol=1e-4),
]

globals().update(table_tests(SPECS, examples=(10, 3, 3, 3, 2)))


# ---------------------------------------------------------------------------------------
# The wrappers and padding conventions


def test_conv_and_conv_with_general_padding_are_nchw():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    k = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    np.testing.assert_allclose(lax.conv(x, k, (2, 1), "SAME"),
                               conv_reference(x, k, (2, 1), "SAME"), rtol=1e-5, atol=1e-5)
    got = lax.conv_with_general_padding(x, k, (1, 2), ((1, 0), (2, 1)), (2, 1), (1, 2))
    want = conv_reference(x, k, (1, 2), ((1, 0), (2, 1)), (2, 1), (1, 2))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_conv_dimension_numbers_from_strings():
    dn = lax.conv_dimension_numbers((1, 5, 5, 3), (3, 3, 3, 8), ("NHWC", "HWIO", "NHWC"))
    assert dn == lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))


def test_same_padding_matches_jax_convention():
    # Odd total padding puts the extra element at the end (high side).
    assert lax.padtype_to_pads((5,), (2,), (1,), "SAME") == ((0, 1),)
    assert lax.padtype_to_pads((5,), (4,), (2,), "SAME") == ((1, 2),)
    assert lax.padtype_to_pads((5,), (4,), (2,), "SAME_LOWER") == ((2, 1),)


def test_conv_transpose_with_transpose_kernel_is_the_gradient_of_conv():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 8, 8, 3))
    k = rng.standard_normal((3, 3, 3, 4))
    with jb.enable_x64():
        f = lambda x: lax.conv_general_dilated(x, k, (2, 2), "SAME",  # noqa: E731
                                               dimension_numbers=("NHWC", "HWIO", "NHWC"))
        y, vjp = jb.vjp(f, x)
        ct = rng.standard_normal(y.shape)
        (want,) = vjp(ct)
        got = lax.conv_transpose(ct, k, (2, 2), "SAME", transpose_kernel=True)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_grads_of_a_strided_dilated_grouped_conv_order_2():
    rng = np.random.default_rng(2)
    with jb.enable_x64():
        x = rng.standard_normal((2, 7, 6, 4))
        k = rng.standard_normal((2, 3, 2, 6))
        f = lambda x, k: lax.conv_general_dilated(  # noqa: E731
            x, k, (2, 1), ((1, 2), (0, -1)), (1, 2), (2, 1), ("NHWC", "HWIO", "NHWC"),
            feature_group_count=2)
        check_grads(f, (x, k), order=2, modes=("fwd", "rev"))


def test_preferred_element_type():
    x = np.ones((1, 1, 4), np.int32)
    k = np.ones((1, 1, 3), np.int32)
    out = lax.conv_general_dilated(x, k, (1,), "VALID", preferred_element_type=np.float32)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[[3.0, 3.0]]])


# ---------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("call,match", [
    (lambda: lax.conv(np.ones((1, 3, 5, 5)), np.ones((4, 2, 3, 3)), (1, 1), "SAME"),
     "input features"),
    (lambda: lax.conv(np.ones((1, 3, 5, 5)), np.ones((4, 3, 3, 3)), (1, 1), "FULL"),
     "Unknown padding"),
    (lambda: lax.conv(np.ones((1, 3, 5, 5)), np.ones((4, 3, 3)), (1, 1), "SAME"),
     "same rank"),
    (lambda: lax.conv_general_dilated(np.ones((1, 5, 5, 3)), np.ones((3, 3, 3, 4)), (1, 1),
                                      "SAME", dimension_numbers=("NHWC", "HWIO", "NHW")),
     "dimension numbers"),
    (lambda: lax.conv(np.ones((1, 3, 5, 5)), np.ones((4, 3, 3, 3)), (1,), "SAME"),
     "window_strides"),
    (lambda: lax.conv(np.ones((1, 3, 5, 5), np.float32), np.ones((4, 3, 3, 3), np.int32),
                      (1, 1), "SAME"), "one dtype"),
])
def test_bad_arguments_name_the_problem(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()


# ---------------------------------------------------------------------------------------
# A small CNN: conv -> relu -> 2x2 max-pool (reduce_window) -> batch statistics -> dense,
# under jit(value_and_grad), against a NumPy forward pass and its finite differences.

def _np_maxpool(x):
    n, h, w, c = x.shape
    return x[:, :h // 2 * 2, :w // 2 * 2].reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def _np_loss(params, x, y):
    k, b, w = params
    h = conv_reference(x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")) + b
    h = _np_maxpool(np.maximum(h, 0.0))
    mean = h.mean(axis=(0, 1, 2))
    var = h.var(axis=(0, 1, 2))
    h = (h - mean) / np.sqrt(var + 1e-5)
    logits = h.reshape(h.shape[0], -1) @ w
    return float(np.mean((logits - y) ** 2))


def _jb_loss(params, x, y):
    k, b, w = params
    h = lax.conv_general_dilated(x, k, (1, 1), "SAME",
                                 dimension_numbers=("NHWC", "HWIO", "NHWC")) + b
    h = lax.reduce_window(jnp.maximum(h, 0.0), -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1),
                          "VALID")
    mean = jnp.mean(h, axis=(0, 1, 2))
    var = jnp.var(h, axis=(0, 1, 2))
    h = (h - mean) / jnp.sqrt(var + 1e-5)
    logits = h.reshape(h.shape[0], -1) @ w
    return jnp.mean((logits - y) ** 2)


@settings(max_examples=3, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_small_cnn_forward_and_backward_under_jit_match_numpy(seed):
    rng = np.random.default_rng(seed)
    with jb.enable_x64():
        x = rng.standard_normal((4, 6, 6, 2))
        y = rng.standard_normal((4, 3))
        params = (rng.standard_normal((3, 3, 2, 5)) * 0.5, rng.standard_normal(5) * 0.1,
                  rng.standard_normal((45, 3)) * 0.3)
        loss, grads = jb.jit(jb.value_and_grad(_jb_loss))(params, x, y)
        np.testing.assert_allclose(loss, _np_loss(params, x, y), rtol=1e-10)
        # Directional derivatives of the NumPy loss by central differences. A direction
        # whose difference quotients at two step sizes disagree crosses a kink of relu or
        # max-pool within the step (seed 213162 found one): it is skipped, not compared.
        def numeric(v, eps):
            plus = _np_loss([p + eps * d for p, d in zip(params, v)], x, y)
            minus = _np_loss([p - eps * d for p, d in zip(params, v)], x, y)
            return (plus - minus) / (2 * eps)

        checked = 0
        for _ in range(6):
            v = [rng.standard_normal(p.shape) for p in params]
            fd, fd_half = numeric(v, 1e-6), numeric(v, 5e-7)
            if abs(fd - fd_half) > 1e-7 * max(1.0, abs(fd)):
                continue
            analytic = sum(float(np.sum(np.asarray(g) * d)) for g, d in zip(grads, v))
            np.testing.assert_allclose(analytic, fd, rtol=1e-5, atol=1e-7)
            checked += 1
            if checked == 2:
                break
        assert checked, "every direction crossed a kink: the check compared nothing"


def test_small_cnn_float32_jit_equals_eager():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 6, 6, 2)).astype(np.float32)
    y = rng.standard_normal((4, 3)).astype(np.float32)
    params = tuple(p.astype(np.float32) for p in (
        rng.standard_normal((3, 3, 2, 5)), rng.standard_normal(5),
        rng.standard_normal((45, 3))))
    eager = jb.value_and_grad(_jb_loss)(params, x, y)
    jitted = jb.jit(jb.value_and_grad(_jb_loss))(params, x, y)
    for a, b in zip(jb.tree_util.tree_leaves(eager), jb.tree_util.tree_leaves(jitted)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_blocked_im2col_over_several_blocks_and_threads():
    # Big enough that the column matrix is built block by block (forward: blocks of rows;
    # kernel gradient: blocks of the contraction summed), shared between threads.
    rng = np.random.default_rng(4)
    with jb.enable_x64():
        x = rng.standard_normal((8, 12, 12, 32))
        k = rng.standard_normal((3, 3, 32, 16)) * 0.1
        dn = ("NHWC", "HWIO", "NHWC")
        f = lambda x, k: lax.conv_general_dilated(x, k, (1, 1), "SAME",  # noqa: E731
                                                  dimension_numbers=dn)
        np.testing.assert_allclose(f(x, k), conv_reference(x, k, (1, 1), "SAME",
                                                           dimension_numbers=dn),
                                   rtol=1e-10, atol=1e-10)
        check_grads(f, (x, k), order=1, modes=("fwd", "rev"))


@pytest.mark.parametrize("groups", [(1, 1), (2, 1), (3, 1), (1, 2)])
@pytest.mark.parametrize("mapped", [(0, None), (None, 0), (0, 0), (2, 1)])
def test_vmap_of_grouped_convolutions_is_one_convolution(groups, mapped):
    # Feature and batch groups: the mapped axis folds inside each group (no loop over it).
    (G, B), (dl, dr) = groups, mapped
    rng = np.random.default_rng(G * 10 + B)
    n, c, f, size = 4, 6, 6, 3
    lhs = rng.standard_normal((n, 5, 5, c)).astype(np.float32)
    rhs = rng.standard_normal((3, 3, c // G if B == 1 else c, f)).astype(np.float32)
    if dl is not None:
        lhs = np.stack([lhs * (i + 1) for i in range(size)], axis=dl)
    if dr is not None:
        rhs = np.stack([rhs - i for i in range(size)], axis=dr)

    def conv(lhs, rhs):
        return lax.conv_general_dilated(lhs, rhs, (1, 1), "SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                        feature_group_count=G, batch_group_count=B)

    batched = jb.vmap(conv, in_axes=(dl, dr))
    want = np.stack([np.asarray(conv(lhs if dl is None else np.take(lhs, i, axis=dl),
                                     rhs if dr is None else np.take(rhs, i, axis=dr)))
                     for i in range(size)])
    np.testing.assert_allclose(np.asarray(batched(lhs, rhs)), want, rtol=1e-4, atol=1e-4)
    assert str(jb.make_jaxpr(batched)(lhs, rhs)).count("conv_general_dilated") == 1
