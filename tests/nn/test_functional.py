"""The shared layer kernels (jumba_nn.functional) against NumPy, with gradient checks."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba
import jumba.numpy as jnp
import jumba.random as jr
from jumba.test_util import check_grads
from jumba_nn import functional as F
from tests.nn import _np_ref as ref

R = np.random.RandomState(1)


def normal(*shape):
    return R.normal(size=shape).astype(np.float32)


@settings(max_examples=15, deadline=None)
@given(size=st.integers(3, 6), window=st.integers(1, 3), stride=st.integers(1, 2),
       dilation=st.integers(1, 2), groups=st.sampled_from([1, 2]),
       padding=st.sampled_from(["SAME", "VALID", ((1, 0), (0, 2))]))
def test_conv_matches_numpy(size, window, stride, dilation, groups, padding):
    if padding == "VALID" and (window - 1) * dilation + 1 > size:
        return
    x = normal(2, size, size + 1, 4)
    k = normal(window, 2, 4 // groups, 6)
    b = normal(6)
    got = F.conv(x, k, b, (stride, 1), padding, kernel_dilation=(dilation, 1),
                 feature_group_count=groups)
    want = ref.conv(x, k, (stride, 1), padding, (dilation, 1), groups) + b
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@settings(max_examples=15, deadline=None)
@given(size=st.integers(2, 6), window=st.integers(1, 3), stride=st.integers(1, 3),
       padding=st.sampled_from(["SAME", "VALID"]), kind=st.sampled_from(["max", "avg", "min"]))
def test_pools_match_numpy(size, window, stride, padding, kind):
    if padding == "VALID" and window > size:
        return
    x = normal(2, size, size + 1, 3)
    fn = {"max": F.max_pool, "avg": F.avg_pool, "min": F.min_pool}[kind]
    got = fn(x, (window, window), (stride, stride), padding)
    np_fn, init = {"max": (np.max, -np.inf), "avg": (np.sum, 0.0), "min": (np.min, np.inf)}[kind]
    want = ref.pool(x, (window, window), (stride, stride), padding, np_fn, init)
    if kind == "avg":
        want = want / window ** 2
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_pool_unbatched_and_several_batch_axes():
    x = normal(5, 5, 2)
    np.testing.assert_allclose(F.max_pool(x, (2, 2)), F.max_pool(x[None], (2, 2))[0])
    y = normal(2, 3, 5, 5, 2)
    assert F.avg_pool(y, (2, 2), (2, 2)).shape == (2, 3, 2, 2, 2)


def test_conv_patches_and_local_conv_match_numpy():
    x = normal(2, 5, 4, 3)
    p = F.conv_patches(x, (2, 3), (1, 1), "VALID")
    np.testing.assert_allclose(p, ref.patches(x, (2, 3), (1, 1), "VALID"), rtol=1e-6)
    k = normal(4, 2, 18, 5)
    got = F.conv_local(x, k, None, (2, 3), padding="VALID")
    np.testing.assert_allclose(got, np.einsum("nhwi,hwio->nhwo", p, k), rtol=1e-4, atol=1e-4)


def test_conv_transpose_is_the_transpose_of_conv():
    """<conv(x, k), y> == <x, conv_transpose(y, k)> for VALID padding and transpose_kernel."""
    x = normal(1, 7, 7, 2)
    k = normal(3, 3, 2, 4)
    y = normal(1, 3, 3, 4)
    lhs = np.sum(np.asarray(F.conv(x, k, None, 2, "VALID")) * y)
    back = F.conv_transpose(y, k, None, 2, "VALID", transpose_kernel=True)
    assert back.shape == x.shape
    np.testing.assert_allclose(lhs, np.sum(np.asarray(back) * x), rtol=1e-4)


def test_norm_kernels_match_numpy():
    x = normal(3, 4, 6) * 2 + 1
    np.testing.assert_allclose(F.layer_norm(x), ref.normalize(x, -1, 1e-6), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(F.layer_norm(x, use_fast_variance=False),
                               ref.normalize(x, -1, 1e-6), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(F.rms_norm(x), x / np.sqrt((x ** 2).mean(-1, keepdims=True)
                                                          + 1e-6), rtol=1e-5)
    np.testing.assert_allclose(F.group_norm(x, 3),
                               ref.normalize(x.reshape(3, 4, 3, 2), (1, 3), 1e-6).reshape(
                                   x.shape), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(F.instance_norm(x), ref.normalize(x, (1,), 1e-6), rtol=1e-4,
                               atol=1e-5)
    mean, var = F.moments(x, (0, 1), keepdims=False)
    np.testing.assert_allclose(mean, x.mean((0, 1)), rtol=1e-5)
    np.testing.assert_allclose(var, x.var((0, 1)), rtol=1e-4)
    with pytest.raises(ValueError, match="groups"):
        F.group_norm(x, 4)


def test_attention_kernel_and_masks_match_numpy():
    q, k, v = normal(2, 3, 2, 4), normal(2, 5, 2, 4), normal(2, 5, 2, 3)
    mask = R.rand(2, 1, 3, 5) > 0.3
    mask[..., 0] = True
    got = F.dot_product_attention(q, k, v, mask=mask)
    np.testing.assert_allclose(got, ref.attention(q, k, v, mask), rtol=1e-4, atol=1e-5)
    w = F.dot_product_attention_weights(q, k)
    np.testing.assert_allclose(np.asarray(w).sum(-1), 1.0, rtol=1e-5)
    causal = F.make_causal_mask(jnp.ones((2, 4)))
    assert causal.shape == (2, 1, 4, 4)
    np.testing.assert_array_equal(causal[0, 0], np.tril(np.ones((4, 4))))
    pad = F.make_attention_mask(jnp.array([[1, 1, 0]]), jnp.array([[1, 0]]))
    np.testing.assert_array_equal(pad[0, 0], [[1, 0], [1, 0], [0, 0]])
    both = F.combine_masks(causal, None, jnp.ones((2, 1, 4, 4)))
    np.testing.assert_array_equal(both, causal)
    assert F.combine_masks(None, None) is None
    with pytest.raises(ValueError, match="same rank"):
        F.combine_masks(causal, jnp.ones((4, 4)))
    with pytest.raises(ValueError, match="dropout_rng"):
        F.dot_product_attention(q, k, v, dropout_rate=0.5)


def test_cell_kernels_gate_orders():
    c, h, x = normal(2, 3), normal(2, 3), normal(2, 4)
    w_x, w_h, b = normal(4, 12), normal(3, 12), normal(12)
    z = x @ w_x + h @ w_h + b
    i, g, f, o = np.split(z, 4, axis=-1)
    c2, h2 = F.lstm_cell(c, h, x, w_x, w_h, b, gate_order="igfo", forget_bias=1.0)
    want_c = ref.sigmoid(f + 1) * c + ref.sigmoid(i) * np.tanh(g)
    np.testing.assert_allclose(c2, want_c, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h2, ref.sigmoid(o) * np.tanh(want_c), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="permutation"):
        F.lstm_cell(c, h, x, w_x, w_h, b, gate_order="iffo")
    wx3, wh3 = normal(4, 9), normal(3, 9)
    h_new, _ = F.gru_cell(h, x, wx3, wh3, reset_after=False)
    zx = x @ wx3
    r = ref.sigmoid(zx[:, :3] + h @ wh3[:, :3])
    u = ref.sigmoid(zx[:, 3:6] + h @ wh3[:, 3:6])
    n = np.tanh(zx[:, 6:] + (r * h) @ wh3[:, 6:])
    np.testing.assert_allclose(h_new, (1 - u) * n + u * h, rtol=1e-5, atol=1e-6)
    s, _ = F.simple_cell(h, x, normal(4, 3), np.eye(3, dtype=np.float32), residual=True)
    assert s.shape == (2, 3)


def test_dense_embed_and_errors():
    x, k, b = normal(2, 3, 4), normal(4, 5), normal(5)
    np.testing.assert_allclose(F.dense(x, k, b), x @ k + b, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="features"):
        F.dense(x, normal(3, 5))
    with pytest.raises(ValueError, match="kernel shape"):
        F.dense_general(x, normal(3, 5), axis=-1)
    table = normal(6, 2)
    np.testing.assert_array_equal(F.embed_lookup(table, np.array([[0, 5]])), table[[[0, 5]]])
    with pytest.raises(ValueError, match="integer ids"):
        F.embed_lookup(table, np.array([0.0]))
    with pytest.raises(ValueError, match="2 spatial"):
        F.conv(normal(1, 4, 4, 1), normal(3, 3, 1, 1), strides=(1, 1, 1))
    with pytest.raises(ValueError, match="too few axes"):
        F.conv(normal(4, 1), normal(3, 3, 1, 1))
    with pytest.raises(ValueError, match="rate"):
        F.dropout(jr.key(0), x, 1.5)
    with pytest.raises(ValueError, match="PRNG key"):
        F.dropout(None, x, 0.5)
    with pytest.raises(ValueError, match="einsum_str"):
        F.einsum(x, k, einsum_str="abc,cd")


@pytest.mark.parametrize("name", ["conv", "conv_transpose", "max_pool", "avg_pool",
                                  "layer_norm", "group_norm", "attention", "lstm", "gru"])
def test_kernel_gradients(name):
    with jumba.enable_x64():
        r = np.random.RandomState(2)
        n = lambda *s: jnp.asarray(r.normal(size=s))
        cases = {
            "conv": (lambda x, k: F.conv(x, k, None, (2, 1), "SAME", kernel_dilation=(1, 2)),
                     (n(1, 5, 5, 2), n(2, 2, 2, 3))),
            "conv_transpose": (lambda x, k: F.conv_transpose(x, k, None, 2, "SAME"),
                               (n(1, 3, 3, 2), n(3, 3, 2, 2))),
            "max_pool": (lambda x: F.max_pool(x, (2, 2), (1, 1), "SAME"), (n(1, 3, 3, 2),)),
            "avg_pool": (lambda x: F.avg_pool(x, (2, 2), padding="SAME",
                                              count_include_pad=False), (n(1, 3, 3, 2),)),
            "layer_norm": (lambda x, s, b: F.layer_norm(x, s, b), (n(2, 5), n(5), n(5))),
            "group_norm": (lambda x: F.group_norm(x, 2), (n(2, 3, 4),)),
            "attention": (lambda q, k, v: F.dot_product_attention(
                q, k, v, mask=F.make_causal_mask(jnp.ones((1, 3)))),
                          (n(1, 3, 2, 2), n(1, 3, 2, 2), n(1, 3, 2, 2))),
            "lstm": (lambda c, h, x, wx, wh: F.lstm_cell(c, h, x, wx, wh),
                     (n(2, 2), n(2, 2), n(2, 3), n(3, 8), n(2, 8))),
            "gru": (lambda h, x, wx, wh: F.gru_cell(h, x, wx, wh)[0],
                    (n(2, 2), n(2, 3), n(3, 6), n(2, 6))),
        }
        fn, args = cases[name]
        check_grads(fn, args, order=2 if name in ("layer_norm", "attention") else 1,
                    modes=("fwd", "rev"), atol=1e-4, rtol=1e-4, eps=1e-5)


def test_dropout_kernel_under_vmap_and_jit():
    x = jnp.ones((3, 50))
    keys = jr.split(jr.key(0), 3)
    batched = jumba.vmap(lambda k, r: F.dropout(k, r, 0.5))(keys, x)
    jitted = jumba.jit(lambda k, r: F.dropout(k, r, 0.5))(keys[1], x[1])
    np.testing.assert_array_equal(batched[1], jitted)
    assert not np.array_equal(batched[0], batched[1])
