"""jumba.numpy reductions through the five checks, with axis (None, int, negative, tuple),
keepdims, where=, dtype=, initial= and ddof drawn per example; then JAX's conventions."""

import numpy as np
import pytest
from hypothesis import strategies as st

import jumba as jb
import jumba.numpy as jnp
from jumba.test_util import check_grads
from tests.core.numpy_checks import (
    ALL,
    NUMERIC,
    OpSpec,
    axis_kwargs,
    table_tests,
    uniform,
)


def _where_mask(shape):
    """A boolean mask broadcastable to `shape` (full shape or its trailing axes)."""
    def build(seed_and_lead):
        seed, lead = seed_and_lead
        rng = np.random.default_rng(seed)
        m = rng.random(shape[lead:]) < 0.7
        return m

    return st.tuples(st.integers(0, 2**16), st.integers(0, len(shape))).map(build)


def _kw(*, where=False, dtype=None, initial=None, ddof=False, allow_tuple=True,
        allow_empty=True):
    def strategy(shapes):
        (shape,) = shapes
        d = {"axis": axis_kwargs(shape, allow_tuple=allow_tuple, allow_empty=allow_empty),
             "keepdims": st.booleans()}
        opt = {}
        if where:
            opt["where"] = _where_mask(shape)
        if dtype:
            opt["dtype"] = st.sampled_from(dtype)
        if initial is not None:
            opt["initial"] = st.sampled_from(initial)
        if ddof:
            opt["ddof"] = st.sampled_from([0, 1])
        return st.fixed_dictionaries(d, optional=opt)

    return strategy


def _maxmin_kw(shapes):
    # NumPy (and JAX) need `initial` whenever `where` is given to max/min.
    (shape,) = shapes
    base = {"axis": axis_kwargs(shape), "keepdims": st.booleans()}
    return st.one_of(
        st.fixed_dictionaries(base, optional={"initial": st.sampled_from([-1.0, 2.0])}),
        st.fixed_dictionaries({**base, "where": _where_mask(shape),
                               "initial": st.sampled_from([-5.0, 5.0])}))


def _mean_out(dt, dtype=None, **_):
    # Integers average in the default float type (float64 is canonicalised to float32
    # without x64).
    return dtype if dtype is not None else dt if dt.kind == "f" else np.float64


def _spec(name, kwargs, **kw):
    return OpSpec(name, getattr(jnp, name), kw.pop("ref", getattr(np, name)), 1,
                  kwargs=kwargs, **kw)


POS = uniform(0.5, 1.5)


def _jax_var(fn):
    # JAX divides by (count - ddof) without NumPy's clipping: an empty `where` selection
    # with ddof=1 gives 0 / -1 = -0.0 where NumPy gives nan.
    def ref(x, axis=None, keepdims=False, where=None, ddof=0):
        out = fn(x, axis=axis, keepdims=keepdims, where=True if where is None else where,
                 ddof=ddof)
        if where is not None and ddof > 0:
            count = np.sum(np.broadcast_to(where, x.shape), axis=axis, keepdims=keepdims)
            out = np.where(count == 0, -0.0, out).astype(out.dtype)
        return out

    return ref

SPECS = [
    _spec("sum", _kw(where=True, dtype=[np.float32, np.int32], initial=[0, 1.5]),
          dtypes=ALL, tol=1e-5, check_dtype=False),
    _spec("prod", _kw(where=True, initial=[1, 2]), dtypes=NUMERIC, tol=1e-5,
          domain=uniform(-2, 2), grad_domain=POS, check_dtype=False),
    _spec("mean", _kw(where=True, dtype=[np.float32]), dtypes=NUMERIC, tol=1e-5,
          min_side=1, out_dtype=_mean_out),
    _spec("var", _kw(where=True, ddof=True), dtypes=NUMERIC, tol=1e-4, min_side=2,
          out_dtype=_mean_out, ref=_jax_var(np.var)),
    # std's derivative is infinite where the deviation is 0: reduce >= 2 elements.
    _spec("std", _kw(ddof=True, allow_empty=False), dtypes=NUMERIC, tol=1e-4, min_side=2,
          min_dims=1, out_dtype=_mean_out, ref=_jax_var(np.std)),
    _spec("max", _maxmin_kw, dtypes=NUMERIC, min_side=1),
    _spec("amax", _maxmin_kw, dtypes=NUMERIC, min_side=1),
    _spec("min", _maxmin_kw, dtypes=NUMERIC, min_side=1),
    _spec("amin", _maxmin_kw, dtypes=NUMERIC, min_side=1),
    _spec("argmax", _kw(allow_tuple=False), dtypes=NUMERIC, min_side=1, grad_order=None,
          domain=uniform(-2, 2), check_dtype=False),
    _spec("argmin", _kw(allow_tuple=False), dtypes=NUMERIC, min_side=1, grad_order=None,
          domain=uniform(-2, 2), check_dtype=False),
    _spec("any", _kw(where=True), dtypes=ALL, grad_order=None, domain=uniform(-1, 1)),
    _spec("all", _kw(where=True), dtypes=ALL, grad_order=None, domain=uniform(-1, 1)),
]
GRAD_SPECS = [s for s in SPECS if s.grad_order is not None]


globals().update(table_tests(SPECS, examples=(25, 5, 5, 4, 5)))


# ---------------------------------------------------------------------------------------
# Result dtypes (JAX's, not NumPy's)


def test_sum_prod_dtypes():
    assert jnp.sum(jnp.ones(3, bool)).dtype == jnp.int32
    assert jnp.sum(jnp.ones(3, jnp.int8)).dtype == jnp.int32
    assert jnp.sum(jnp.ones(3, jnp.uint8)).dtype == jnp.uint32
    assert jnp.prod(jnp.ones(3, jnp.int16)).dtype == jnp.int32
    assert jnp.sum(jnp.ones(3, jnp.float16)).dtype == jnp.float16
    assert jnp.sum(jnp.ones(3), dtype=jnp.int32).dtype == jnp.int32
    assert jnp.sum(jnp.ones(3, jnp.int32), dtype=jnp.float32).dtype == jnp.float32
    with jb.enable_x64():
        assert jnp.sum(jnp.ones(3, bool)).dtype == jnp.int64
        assert jnp.sum(jnp.ones(3, jnp.int32)).dtype == jnp.int32
        assert jnp.mean(jnp.ones(3, jnp.int32)).dtype == jnp.float64


def test_mean_var_of_ints_are_float32():
    x = jnp.arange(6)
    assert jnp.mean(x).dtype == jnp.float32
    assert jnp.var(x).dtype == jnp.float32
    assert jnp.std(x, ddof=1).dtype == jnp.float32
    assert jnp.argmax(x).dtype == jnp.int32


def test_reductions_keep_weak_type():
    assert jnp.sum(2.0).weak_type
    assert not jnp.sum(jnp.ones(2)).weak_type


# ---------------------------------------------------------------------------------------
# Edge cases


def test_empty_reductions():
    e = jnp.zeros((0, 3))
    np.testing.assert_array_equal(jnp.sum(e, axis=0), np.zeros(3))
    np.testing.assert_array_equal(jnp.prod(e, axis=0), np.ones(3))
    np.testing.assert_array_equal(jnp.any(e, axis=0), np.zeros(3, bool))
    np.testing.assert_array_equal(jnp.all(e, axis=0), np.ones(3, bool))
    np.testing.assert_array_equal(jnp.max(e, axis=0, initial=-1.0), -np.ones(3))
    assert jnp.max(e, axis=1).shape == (0,)
    for f in (jnp.max, jnp.min):
        with pytest.raises(ValueError, match="zero-size"):
            f(e)
        with pytest.raises(ValueError, match="zero-size"):
            f(e, axis=0)
    with pytest.raises(ValueError, match="empty"):
        jnp.argmax(e)


def test_where_needs_initial_for_max():
    with pytest.raises(ValueError, match="initial"):
        jnp.max(jnp.ones(3), where=jnp.array([True, False, True]))


def test_axis_errors():
    x = jnp.ones((2, 3))
    with pytest.raises(ValueError, match="out of bounds"):
        jnp.sum(x, axis=2)
    with pytest.raises(ValueError, match="duplicate"):
        jnp.sum(x, axis=(0, -2))


def test_nan_propagates_and_argmax_finds_first_nan():
    x = jnp.array([1.0, np.nan, 3.0, np.nan])
    assert np.isnan(jnp.max(x)) and np.isnan(jnp.min(x)) and np.isnan(jnp.sum(x))
    assert jnp.argmax(x) == 1 and jnp.argmin(x) == 1


def test_integer_sum_wraps():
    x = jnp.full(3, 2**30, jnp.int32)
    assert jnp.sum(x) == np.int32(-(2**30))


# ---------------------------------------------------------------------------------------
# Gradients: JAX's conventions


def test_max_ties_share_gradient_equally():
    g = jb.grad(jnp.max)(jnp.array([1.0, 3.0, 3.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 0.5, 0.5, 0.0])
    x = jnp.array([[1.0, 1.0, 1.0], [0.0, 2.0, 3.0]])
    g = jb.grad(lambda x: jnp.sum(jnp.min(x, axis=1)))(x)
    np.testing.assert_allclose(g, [[1 / 3] * 3, [1.0, 0.0, 0.0]])


def test_prod_gradient_exact_with_zeros():
    g = jb.grad(jnp.prod)(jnp.array([2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(g, [0.0, 6.0, 0.0])
    g = jb.grad(jnp.prod)(jnp.array([0.0, 0.0, 3.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0])
    h = jb.hessian(jnp.prod)(jnp.array([2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(h, [[0.0, 3.0, 0.0], [3.0, 0.0, 2.0], [0.0, 2.0, 0.0]])
    h = jb.hessian(jnp.prod)(jnp.array([2.0, 0.0, 0.0]))
    np.testing.assert_array_equal(h, [[0, 0, 0], [0, 0, 2.0], [0, 2.0, 0]])


def test_prod_gradient_with_zeros_matches_finite_differences():
    with jb.enable_x64():
        x = np.random.default_rng(0).normal(size=(3, 4, 2))
        x[0, 1, 0] = x[2, 3, 1] = x[2, 0, 1] = 0.0
        check_grads(lambda x: jnp.prod(x, axis=(0, 2)), (x,), order=2, atol=1e-6, rtol=1e-6,
                    eps=1e-6)


def test_prod_jvp_does_not_grow_with_length():
    def n_eqns(n):
        jaxpr = jb.make_jaxpr(jb.hessian(lambda x: jnp.prod(x) * x[0]))(jnp.ones(n))
        return len(jaxpr.eqns)

    assert n_eqns(4) == n_eqns(64)


def test_mean_and_var_where_gradients():
    with jb.enable_x64():
        x = np.random.default_rng(1).normal(size=(3, 4))
        w = np.array([True, False, True, True])
        check_grads(lambda x: jnp.var(x, axis=1, where=w), (x,), order=2)
        check_grads(lambda x: jnp.mean(x, where=w), (x,), order=2)


def test_sum_where_gradient_masks():
    w = jnp.array([True, False, True])
    g = jb.grad(lambda x: jnp.sum(x, where=w))(jnp.ones(3))
    np.testing.assert_array_equal(g, [1.0, 0.0, 1.0])
