"""jumba.nn: one OpSpec table (float64 NumPy/SciPy references) through the five checks,
then what a reference cannot referee: JAX's derivative conventions at kinks, stability for
large inputs, masking, attention options and error messages."""

import json
import pathlib

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jumba as jb
import jumba.nn as nn
import jumba.numpy as jnp
from jumba.test_util import check_grads
from tests.core.numpy_checks import (
    FLOAT,
    INT,
    NUMERIC,
    OpSpec,
    away_from,
    table_tests,
    uniform,
    well_spread,
)

U = uniform
DATA = pathlib.Path(__file__).resolve().parents[1] / "data"


def f64(fn):
    """A reference computed in float64 (the checks canonicalise its dtype)."""
    def ref(*args, **kw):
        return fn(*[np.asarray(a, np.float64) if np.asarray(a).dtype.kind == "f" else
                    np.asarray(a) for a in args], **kw)

    return ref


def _sigmoid(x):
    return sp.expit(x)


def _elu(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def _relu6(x):
    return np.minimum(np.maximum(x, 0), 6)


REFS = {
    "relu": lambda x: np.maximum(x, 0),
    "relu6": _relu6,
    "sigmoid": _sigmoid,
    "silu": lambda x: x * _sigmoid(x),
    "swish": lambda x: x * _sigmoid(x),
    "log_sigmoid": lambda x: -np.logaddexp(0, -x),
    "softplus": lambda x: np.logaddexp(x, 0),
    "sparse_plus": lambda x: np.where(x <= -1, 0, np.where(x >= 1, x, (x + 1) ** 2 / 4)),
    "sparse_sigmoid": lambda x: np.clip(x + 1, 0, 2) / 2,
    "soft_sign": lambda x: x / (np.abs(x) + 1),
    "squareplus": lambda x: (x + np.sqrt(x * x + 4)) / 2,
    "mish": lambda x: x * np.tanh(np.logaddexp(x, 0)),
    "hard_sigmoid": lambda x: _relu6(x + 3) / 6,
    "hard_silu": lambda x: x * _relu6(x + 3) / 6,
    "hard_swish": lambda x: x * _relu6(x + 3) / 6,
    "hard_tanh": lambda x: np.clip(x, -1, 1),
    "tanh": np.tanh,
    "identity": lambda x: x,
    "leaky_relu": lambda x: np.where(x >= 0, x, 0.01 * x),
    "elu": _elu,
    "celu": lambda x: np.maximum(x, 0) + np.expm1(np.minimum(x, 0)),
    "selu": lambda x: 1.0507009873554805 * _elu(x, 1.6732632423543772),
    "log1mexp": lambda x: np.log(-np.expm1(-x)),
}

# Kinks of each activation: values are drawn everywhere, derivatives away from kinks.
KINKS = {"relu": [0], "relu6": [0, 6], "sparse_plus": [-1, 1], "sparse_sigmoid": [-1, 1],
         "hard_sigmoid": [-3, 3], "hard_silu": [-3, 3], "hard_swish": [-3, 3],
         "hard_tanh": [-1, 1], "leaky_relu": [0], "elu": [0], "celu": [0], "selu": [0],
         "soft_sign": [0]}
INT_OK = {"relu", "relu6", "hard_tanh", "identity"}  # keep integer dtypes, as JAX


def _act_spec(name):
    ref = REFS[name]
    kinks = KINKS.get(name, [])
    wide = U(-8, 8) if name in ("relu6", "hard_sigmoid", "hard_silu", "hard_swish") else U()
    grad_domain = away_from(kinks, -8, 8, 0.2) if name == "relu6" else (
        away_from(kinks, margin=0.2) if kinks else None)
    if name == "log1mexp":
        wide, grad_domain = U(0.05, 6), U(0.2, 6)
    out_dtype = None if name in INT_OK else (lambda d: np.result_type(d, np.float32))
    return OpSpec(name, getattr(nn, name), f64(ref) if name not in INT_OK else ref, 1,
                  domain=wide, dtypes=NUMERIC if name in INT_OK else FLOAT, tol=1e-5,
                  grad_domain=grad_domain, out_dtype=out_dtype)


def _ax(shapes, keepdims=True):
    nd = len(np.broadcast_shapes(*shapes))
    axes = [st.none()] + ([st.integers(-nd, nd - 1)] if nd else []) + (
        [st.lists(st.integers(0, nd - 1), unique=True, min_size=1, max_size=nd).map(tuple)]
        if nd else [])
    return st.fixed_dictionaries({"axis": st.one_of(*axes),
                                  **({"keepdims": st.booleans()} if keepdims else {})})


def _ax_last(shapes):
    nd = len(np.broadcast_shapes(*shapes))
    return st.fixed_dictionaries({"axis": st.integers(-nd, nd - 1) if nd else st.just(None)})


def _softmax_ref(x, axis=-1, where=None):
    if where is None:
        return sp.softmax(x, axis=axis)
    x, where = np.broadcast_arrays(x, where)
    z = np.where(where, x, -np.inf)
    m = np.max(z, axis=axis, keepdims=True)
    e = np.where(where, np.exp(z - np.where(np.isfinite(m), m, 0)), 0)
    return np.where(where, e / e.sum(axis, keepdims=True), 0)


def _log_softmax_masked(x, m, axis=-1):
    w = m > 0
    return jnp.where(w, nn.log_softmax(x, axis, where=w), 0.0)


def _log_softmax_masked_ref(x, m, axis=-1):
    w = m > 0
    x, w = np.broadcast_arrays(x, w)
    z = np.where(w, x, -np.inf)
    lse = sp.logsumexp(z, axis=axis, keepdims=True)
    return np.where(w, z - lse, 0)


def _lse_ref(a, axis=None, keepdims=False, b=None, where=None, return_sign=False):
    # Written out in float64 (inputs are moderate): scipy's logsumexp rejects empty arrays.
    shapes = [np.shape(o) for o in (a, b, where) if o is not None]
    a = np.broadcast_to(a, np.broadcast_shapes(*shapes))
    terms = np.exp(a) * (1 if b is None else b)
    if where is not None:
        terms = np.where(where, terms, 0)
    total = np.sum(terms, axis=axis, keepdims=keepdims)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(np.abs(total))
    if return_sign:
        return out, np.sign(total)
    return np.where(total < 0, np.nan, out)


def _standardize_ref(x, axis=-1):
    return (x - x.mean(axis, keepdims=True)) / np.sqrt(x.var(axis, keepdims=True) + 1e-5)


def _glu_args(data, dtype):
    shape = list(data.draw(hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), "shape"))
    axis = data.draw(st.integers(-len(shape), len(shape) - 1), "axis")
    shape[axis] *= 2
    seed = data.draw(st.integers(0, 2**32 - 1), "seed")
    x = np.random.default_rng(seed).uniform(-3, 3, shape).astype(dtype)
    return [x], {"axis": axis}


def _glu_ref(x, axis=-1):
    a, b = np.split(x, 2, axis)
    return a * _sigmoid(b)


def _one_hot_kwargs(shapes):
    nd = len(shapes[0]) + 1
    return st.fixed_dictionaries({"num_classes": st.integers(0, 5),
                                  "axis": st.integers(-nd, nd - 1)})


def _one_hot_ref(x, num_classes, axis=-1):
    out = (x[..., None] == np.arange(num_classes)).astype(np.float64)
    return np.moveaxis(out, -1, axis)


# ---------------------------------------------------------------------------------------
# Attention reference and draws


def attention_ref(q, k, v, bias=None, mask=None, *, scale=None, is_causal=False,
                  local_window_size=None, query_seq_lengths=None,
                  key_value_seq_lengths=None):
    """float64 attention, written out: logits, masks, softmax, weighted values."""
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    b, t, n, h = q.shape
    s, kh = k.shape[1:3]
    k, v = np.repeat(k, n // kh, axis=2), np.repeat(v, n // kh, axis=2)
    scale = 1 / np.sqrt(h) if scale is None else scale
    logits = np.einsum("btnh,bsnh->bnts", q, k) * scale
    if bias is not None:
        logits = logits + bias
    ok = np.ones(logits.shape, bool)
    if mask is not None:
        ok &= mask
    tpos, spos = np.arange(t)[:, None], np.arange(s)[None, :]
    if is_causal:
        ok &= spos <= tpos
    if local_window_size is not None:
        lo, hi = (local_window_size,) * 2 if np.isscalar(local_window_size) else \
            local_window_size
        ok &= (tpos - lo <= spos) & (spos <= tpos + hi)
    if query_seq_lengths is not None:
        ok &= (np.arange(t)[None, :] < query_seq_lengths[:, None])[:, None, :, None]
    if key_value_seq_lengths is not None:
        ok &= (np.arange(s)[None, :] < key_value_seq_lengths[:, None])[:, None, None, :]
    logits = np.where(ok, logits, -1e30)  # a fully masked row is uniform, as JAX's
    out = np.einsum("bnts,bsnh->btnh", sp.softmax(logits, axis=-1), v)
    if query_seq_lengths is not None:
        out = out * (np.arange(t)[None, :] < query_seq_lengths[:, None])[:, :, None, None]
    return out


def _attn_args(with_bias_mask):
    def draw(data, dtype):
        b, t, s, kh, g, h = (data.draw(st.integers(1, hi), f"dim{i}")
                             for i, hi in enumerate((2, 3, 3, 2, 2, 3)))
        seed = data.draw(st.integers(0, 2**32 - 1), "seed")
        rng = np.random.default_rng(seed)
        q = rng.normal(size=(b, t, kh * g, h)).astype(dtype)
        k = rng.normal(size=(b, s, kh, h)).astype(dtype)
        v = rng.normal(size=(b, s, kh, h)).astype(dtype)
        kwargs = data.draw(st.fixed_dictionaries({
            "is_causal": st.booleans(),
            "scale": st.one_of(st.none(), st.floats(0.2, 2.0)),
            "local_window_size": st.one_of(st.none(), st.integers(0, 2),
                                           st.tuples(st.integers(0, 2), st.integers(0, 2)))}),
            "kwargs")
        if not with_bias_mask:
            return [q, k, v], kwargs
        bias = rng.normal(size=(1, kh * g, t, s)).astype(dtype)
        mask = rng.uniform(-1, 1, size=(b, 1, t, s)).astype(dtype)  # > 0 means attend
        return [q, k, v, bias, mask], kwargs

    return draw


def _attn_bm(q, k, v, bias, m, **kw):
    return nn.dot_product_attention(q, k, v, bias, m > 0, **kw)


def _attn_bm_ref(q, k, v, bias, m, **kw):
    return attention_ref(q, k, v, bias, m > 0, **kw)


def _same(d, *_, **__):
    return d


SPECS = [
    *[_act_spec(n) for n in REFS],
    OpSpec("gelu_tanh", lambda x: nn.gelu(x), f64(
        lambda x: x / 2 * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
        tol=1e-5),
    OpSpec("gelu_exact", lambda x: nn.gelu(x, approximate=False),
           f64(lambda x: x / 2 * (1 + sp.erf(x / np.sqrt(2)))), tol=1e-5),
    OpSpec("elu_alpha", lambda x: nn.elu(x, 0.5), f64(lambda x: _elu(x, 0.5)), tol=1e-5,
           grad_domain=away_from([0], margin=0.2)),
    OpSpec("celu_alpha", lambda x: nn.celu(x, 2.0), f64(
        lambda x: np.maximum(x, 0) + 2 * np.expm1(np.minimum(x, 0) / 2)), tol=1e-5,
        grad_domain=away_from([0], margin=0.2)),
    OpSpec("leaky_relu_slope", lambda x: nn.leaky_relu(x, 0.2),
           f64(lambda x: np.where(x >= 0, x, 0.2 * x)), grad_domain=away_from([0], margin=.2)),
    OpSpec("squareplus_b", lambda x: nn.squareplus(x, 1.5),
           f64(lambda x: (x + np.sqrt(x * x + 1.5)) / 2), tol=1e-5),
    # Softmax family
    OpSpec("softmax", nn.softmax, f64(_softmax_ref), domain=U(-20, 20), tol=1e-5, kwargs=_ax_last,
           min_dims=1, min_side=1, grad_domain=U()),
    OpSpec("softmax_axes", nn.softmax, f64(_softmax_ref), tol=1e-5,
           kwargs=lambda s: _ax(s, keepdims=False), min_side=1),
    OpSpec("softmax_where", lambda x, m, axis=-1: nn.softmax(x, axis, where=m > 0),
           f64(lambda x, m, axis=-1: _softmax_ref(x, axis, m > 0)), 2, (U(), U(-1, 1)),
           tol=1e-5, kwargs=_ax_last, min_dims=1, min_side=1, grad_argnums=(0,)),
    OpSpec("log_softmax", nn.log_softmax, f64(lambda x, axis=-1: sp.log_softmax(x, axis)),
           domain=U(-20, 20), tol=1e-5, kwargs=_ax_last, min_dims=1, min_side=1,
           grad_domain=U()),
    OpSpec("log_softmax_where", _log_softmax_masked, f64(_log_softmax_masked_ref), 2,
           (U(), U(-1, 1)), tol=1e-5, kwargs=_ax_last, min_dims=1, min_side=1,
           grad_argnums=(0,)),
    OpSpec("logsumexp", nn.logsumexp, f64(_lse_ref), domain=U(-20, 20), tol=1e-5,
           kwargs=_ax, min_dims=1, grad_domain=U()),
    OpSpec("logsumexp_b", lambda a, b, **kw: nn.logsumexp(a, b=b, **kw),
           f64(lambda a, b, **kw: _lse_ref(a, b=b, **kw)), 2, (U(), U(0.1, 2)), tol=1e-5,
           kwargs=_ax),
    OpSpec("logsumexp_sign", lambda a, b, **kw: nn.logsumexp(a, b=b, return_sign=True, **kw),
           f64(lambda a, b, **kw: _lse_ref(a, b=b, return_sign=True, **kw)), 2,
           (U(), U(-2, 2)), tol=1e-4, kwargs=_ax, min_dims=1, grad_order=None),
    OpSpec("logsumexp_where", lambda a, m, **kw: nn.logsumexp(a, where=m > 0, **kw),
           f64(lambda a, m, **kw: _lse_ref(a, where=m > 0, **kw)), 2, (U(), U(-1, 1)),
           tol=1e-5, kwargs=_ax, min_dims=1, grad_argnums=(0,)),
    OpSpec("logmeanexp", nn.logmeanexp,
           f64(lambda x, axis=None, keepdims=False: _lse_ref(x, axis, keepdims)
               - np.log(np.size(x) / max(np.size(_lse_ref(x, axis, keepdims)), 1))),
           tol=1e-5, kwargs=_ax, min_dims=1, min_side=1),
    # "fast" is E[x^2] - E[x]^2, as JAX: float32 cancellation costs digits on close values.
    OpSpec("standardize", nn.standardize, f64(_standardize_ref), tol=3e-3, kwargs=_ax_last,
           min_dims=1, min_side=1, domain=well_spread()),
    OpSpec("standardize_stable", lambda x, axis=-1: nn.standardize(x, axis,
                                                                   algorithm="stable"),
           f64(_standardize_ref), tol=1e-4, kwargs=_ax_last, min_dims=1, min_side=1),
    OpSpec("glu", nn.glu, f64(_glu_ref), args=_glu_args, tol=1e-5),
    OpSpec("one_hot", nn.one_hot, _one_hot_ref, domain=U(-1, 5), dtypes=INT, grad_order=None,
           kwargs=_one_hot_kwargs),
    OpSpec("dot_product_attention", nn.dot_product_attention, f64(attention_ref), 3,
           args=_attn_args(False), tol=1e-5, out_dtype=_same),
    OpSpec("attention_bias_mask", _attn_bm, f64(_attn_bm_ref), 5, args=_attn_args(True),
           tol=1e-5, grad_argnums=(0, 1, 2, 3), out_dtype=_same),
]

globals().update(table_tests(SPECS, examples=(8, 2, 3, 2, 2)))


def test_table_covers_the_public_surface():
    """Every jumba.nn function of the API surface is in the table or tested below."""
    surface = json.loads((DATA / "nn_api_surface.json").read_text())
    tested = {s.name for s in SPECS} | {"gelu", "scaled_matmul", "scaled_dot_general",
                                        "get_scaled_dot_general_config"}
    for name in surface["jumba.nn"]:
        assert hasattr(nn, name), f"jumba.nn.{name} is missing"
        assert name in tested, f"jumba.nn.{name} has no test"
    import jumba.nn.initializers as init
    for name in surface["jumba.nn.initializers"]:
        assert hasattr(init, name), f"jumba.nn.initializers.{name} is missing"
    assert jb.nn is nn


# ---------------------------------------------------------------------------------------
# JAX's derivative conventions at kinks (where finite differences cannot referee)

KINK_GRADS = [
    ("relu", 0.0, 0.0), ("relu6", 0.0, 0.0), ("relu6", 6.0, 0.0),
    ("hard_sigmoid", -3.0, 0.0), ("hard_sigmoid", 3.0, 0.0), ("hard_tanh", 1.0, 1.0),
    ("hard_tanh", -1.0, 1.0), ("leaky_relu", 0.0, 1.0), ("elu", 0.0, 1.0),
    ("celu", 0.0, 1.0), ("selu", 0.0, 1.0507009873554805 * 1.6732632423543772),
    ("sparse_plus", -1.0, 0.0), ("sparse_plus", 1.0, 1.0), ("hard_silu", 0.0, 0.5),
    ("soft_sign", 0.0, 1.0), ("sparse_sigmoid", -1.0, 0.25),
]


@pytest.mark.parametrize("name,x,want", KINK_GRADS, ids=[f"{n}@{x}" for n, x, _ in KINK_GRADS])
def test_derivative_at_kink(name, x, want):
    f = getattr(nn, name)
    assert float(jb.grad(f)(x)) == pytest.approx(want)
    # Forward mode agrees with reverse mode at the kink.
    assert float(jb.jvp(f, (jnp.asarray(x),), (jnp.asarray(1.0),))[1]) == pytest.approx(want)


@pytest.mark.parametrize("name", ["relu", "relu6", "hard_tanh", "leaky_relu"])
def test_second_derivative_of_piecewise_linear_is_zero(name):
    x = jnp.array([-2.0, -1.0, 0.0, 0.5, 1.0, 6.0, 7.0])
    g2 = jb.vmap(jb.grad(jb.grad(getattr(nn, name))))(x)
    np.testing.assert_array_equal(np.asarray(g2), 0.0)


def test_relu_grad_matches_jax_custom_jvp_under_vmap_and_jit():
    x = jnp.array([-1.0, 0.0, 0.0, 2.0])
    want = np.array([0.0, 0.0, 0.0, 1.0], np.float32)
    np.testing.assert_array_equal(jb.jit(jb.vmap(jb.grad(nn.relu)))(x), want)


def test_softmax_jvp_is_jax_custom_rule():
    """JAX's softmax JVP: y * (t - sum(y * t)); the composition gives the same values."""
    rng = np.random.default_rng(0)
    with jb.enable_x64():
        x, t = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
        y, ty = jb.jvp(nn.softmax, (x,), (t,))
        y = np.asarray(y)
        np.testing.assert_allclose(ty, y * (t - (y * t).sum(-1, keepdims=True)), atol=1e-12)
        check_grads(lambda x: nn.softmax(x, axis=0), (x,), order=2)


def test_gelu_approximate_is_the_default():
    x = jnp.array([-1.5, 0.3, 2.0])
    np.testing.assert_array_equal(nn.gelu(x), nn.gelu(x, approximate=True))
    assert not np.allclose(nn.gelu(x), nn.gelu(x, approximate=False), rtol=1e-6, atol=0)


# ---------------------------------------------------------------------------------------
# Stability for large inputs


def test_large_inputs_do_not_overflow():
    big = jnp.array([-1000.0, -80.0, 0.0, 80.0, 1000.0])
    for f in (nn.sigmoid, nn.softplus, nn.log_sigmoid, nn.silu, nn.elu, nn.selu, nn.gelu,
              nn.mish, nn.softmax, nn.log_softmax):
        out = np.asarray(f(big))
        assert np.all(np.isfinite(out)), f"{f.__name__}: {out}"
        grads = jb.vmap(jb.grad(lambda v, f=f: jnp.sum(f(v))))(big[:, None])
        assert np.all(np.isfinite(np.asarray(grads))), f.__name__
    np.testing.assert_allclose(nn.softplus(big), [0, 0, np.log(2), 80, 1000], atol=1e-6)
    np.testing.assert_allclose(nn.log_sigmoid(big), [-1000, -80, -np.log(2), 0, 0],
                               atol=1e-6)
    np.testing.assert_allclose(nn.softmax(jnp.array([1000.0, 0.0])), [1, 0])
    np.testing.assert_allclose(nn.log_softmax(jnp.array([1000.0, 0.0])), [0, -1000])
    assert float(nn.logsumexp(jnp.array([1e30, 1e30]))) == pytest.approx(1e30)


def test_logsumexp_infinities():
    assert float(nn.logsumexp(jnp.array([-np.inf, -np.inf]))) == -np.inf
    assert float(nn.logsumexp(jnp.array([np.inf, 1.0]))) == np.inf
    assert float(nn.logsumexp(jnp.zeros((0,)))) == -np.inf
    # Entries with b == 0 are ignored, even infinite ones.
    assert float(nn.logsumexp(jnp.array([np.inf, 1.0]), b=jnp.array([0.0, 1.0]))) == 1.0


def test_logsumexp_negative_sum_is_nan_without_return_sign():
    a, b = jnp.array([1.0, 2.0]), jnp.array([1.0, -1.0])
    assert np.isnan(float(nn.logsumexp(a, b=b)))
    out, sign = nn.logsumexp(a, b=b, return_sign=True)
    assert float(sign) == -1.0
    assert float(out) == pytest.approx(np.log(np.e ** 2 - np.e), rel=1e-6)


def test_logsumexp_grad_is_softmax():
    x = jnp.array([[0.5, -1.0, 2.0], [3.0, 3.0, -50.0]])
    g = jb.grad(lambda x: jnp.sum(nn.logsumexp(x, axis=1)))(x)
    np.testing.assert_allclose(g, nn.softmax(x, axis=1), rtol=1e-6)


# ---------------------------------------------------------------------------------------
# Masking


def test_softmax_where_masks_to_zero_and_log_softmax_to_minus_inf():
    x = jnp.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    w = jnp.array([[True, False, True], [False, False, False]])
    s = np.asarray(nn.softmax(x, where=w))
    np.testing.assert_allclose(s[0], [1 / (1 + np.e ** 2), 0, np.e ** 2 / (1 + np.e ** 2)],
                               rtol=1e-6)
    np.testing.assert_array_equal(s[1], 0.0)  # a fully masked row is all zeros
    ls = np.asarray(nn.log_softmax(x, where=w))
    assert ls[0, 1] == -np.inf and np.all(ls[1] == -np.inf)
    g = jb.grad(lambda x: jnp.sum(nn.softmax(x, where=w) * jnp.arange(3.0)))(x)
    assert np.all(np.isfinite(g)) and np.all(np.asarray(g)[~np.asarray(w)] == 0)


def test_logmeanexp_where_counts_only_selected():
    x = jnp.array([1.0, 2.0, 30.0])
    w = jnp.array([True, True, False])
    assert float(nn.logmeanexp(x, where=w)) == pytest.approx(np.log((np.e + np.e ** 2) / 2))


def test_standardize_with_given_statistics_and_where():
    x = jnp.array([[1.0, 2.0, 3.0, 100.0]])
    out = nn.standardize(x, mean=2.0, variance=4.0, epsilon=0.0)
    np.testing.assert_allclose(out, [[-0.5, 0.0, 0.5, 49.0]])
    w = jnp.array([[True, True, True, False]])
    out = np.asarray(nn.standardize(x, where=w, epsilon=0.0))
    np.testing.assert_allclose(out[0, :3], [-np.sqrt(1.5), 0, np.sqrt(1.5)], rtol=1e-5)


# ---------------------------------------------------------------------------------------
# one_hot


def test_one_hot_semantics():
    out = nn.one_hot(jnp.array([0, 2, 3, -1]), 3)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    assert nn.one_hot(jnp.array([1, 0]), 2, dtype=jnp.int32).dtype == np.int32
    np.testing.assert_array_equal(nn.one_hot(jnp.array([1, 0]), 2, axis=0), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(jb.jit(lambda x: nn.one_hot(x, 4))(jnp.array(2)),
                                  [0, 0, 1, 0])
    with jb.enable_x64():
        assert nn.one_hot(jnp.array([1]), 2).dtype == np.float64


def test_one_hot_traced_num_classes_error():
    with pytest.raises(TypeError, match="num_classes must be a static Python int"):
        jb.jit(lambda n: nn.one_hot(jnp.array([0]), n))(3)
    with pytest.raises(TypeError, match="num_classes must be an int"):
        nn.one_hot(jnp.array([0]), 2.5)


# ---------------------------------------------------------------------------------------
# Attention


@settings(max_examples=6, deadline=None)
@given(lengths=st.tuples(st.integers(1, 4), st.integers(1, 4)), seed=st.integers(0, 99))
def test_attention_sequence_lengths(lengths, seed):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(2, 4, 2, 3)).astype(np.float32)
    k = rng.normal(size=(2, 4, 1, 3)).astype(np.float32)
    v = rng.normal(size=(2, 4, 1, 3)).astype(np.float32)
    ql, kvl = np.array([lengths[0], 4]), np.array([lengths[1], 2])
    out = nn.dot_product_attention(q, k, v, query_seq_lengths=ql, key_value_seq_lengths=kvl,
                                   is_causal=True)
    want = attention_ref(q, k, v, query_seq_lengths=ql, key_value_seq_lengths=kvl,
                         is_causal=True)
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    assert np.all(np.asarray(out)[0, lengths[0]:] == 0)


def test_attention_unbatched_and_default_scale():
    rng = np.random.default_rng(1)
    q, k, v = (rng.normal(size=(3, 2, 4)).astype(np.float32) for _ in range(3))
    out = nn.dot_product_attention(q, k, v)
    assert out.shape == (3, 2, 4) and out.dtype == np.float32
    np.testing.assert_allclose(out, attention_ref(q[None], k[None], v[None])[0], rtol=1e-5,
                               atol=1e-6)


def test_attention_errors():
    q = jnp.zeros((1, 2, 4, 3))
    k = jnp.zeros((1, 5, 3, 3))
    with pytest.raises(ValueError, match="multiple of the number of key/value heads"):
        nn.dot_product_attention(q, k, k)
    with pytest.raises(ValueError, match="same head size"):
        nn.dot_product_attention(q, jnp.zeros((1, 5, 2, 2)), jnp.zeros((1, 5, 2, 2)))
    with pytest.raises(ValueError, match=r"rank 4\) or \[T, N, H\]"):
        nn.dot_product_attention(q[0, 0], q[0, 0], q[0, 0])
    with pytest.raises(ValueError, match="one dtype"):
        nn.dot_product_attention(q, q, q.astype(jnp.int32))
    with pytest.raises(ValueError, match="mask must be boolean"):
        nn.dot_product_attention(q, q, q, mask=jnp.ones((2, 2)))
    with pytest.raises(ValueError, match="does not broadcast to the logits"):
        nn.dot_product_attention(q, q, q, bias=jnp.ones((3, 2)))
    with pytest.raises(ValueError, match="implementation='cudnn' is not available"):
        nn.dot_product_attention(q, q, q, implementation="cudnn")


# ---------------------------------------------------------------------------------------
# Block-scaled products


def test_scaled_matmul_matches_blockwise_reference():
    rng = np.random.default_rng(0)
    lhs, rhs = rng.normal(size=(2, 3, 8)), rng.normal(size=(2, 4, 8))
    ls, rs = rng.uniform(0.5, 2, size=(2, 3, 2)), rng.uniform(0.5, 2, size=(2, 4, 2))
    out = nn.scaled_matmul(lhs.astype(np.float32), rhs.astype(np.float32),
                           ls.astype(np.float32), rs.astype(np.float32))
    want = np.einsum("bmk,bnk->bmn", lhs * np.repeat(ls, 4, -1), rhs * np.repeat(rs, 4, -1))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        nn.scaled_matmul(lhs, rhs, ls[:, :, :1], rs)


def test_scaled_dot_general_and_config():
    cfg = nn.get_scaled_dot_general_config("mxfp8")
    assert cfg.block_size == 32 and cfg.mode == "mxfp8"
    assert nn.get_scaled_dot_general_config("nvfp4").block_size == 16
    with pytest.raises(ValueError, match="'mxfp8' or 'nvfp4'"):
        nn.get_scaled_dot_general_config("fp16")
    a, b = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    out = nn.scaled_dot_general(a, b, (((1,), (0,)), ((), ())), configs=[cfg] * 3)
    np.testing.assert_allclose(out, a @ b)


# ---------------------------------------------------------------------------------------
# Errors


def test_errors_name_the_problem_and_fix():
    with pytest.raises(ValueError, match="must be even.*Pad or slice"):
        nn.glu(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="algorithm must be 'fast' or 'stable'"):
        nn.standardize(jnp.ones(3), algorithm="exact")
    with pytest.raises(ValueError, match="axis 3 is out of bounds"):
        nn.one_hot(jnp.array([1]), 2, axis=3)
