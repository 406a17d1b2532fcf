"""Cumulative functions and differences (jumba.numpy.cumsum ... trapezoid) and the lax
cumulative primitives cummax/cummin/cumlogsumexp: the five table checks, then edge cases
and JAX's conventions."""

import numpy as np
import pytest
import scipy.special
from hypothesis import strategies as st

import jumba as jb
import jumba.lax as lax
import jumba.numpy as jnp
from jumba.test_util import check_grads
from tests.core.numpy_checks import ALL, FLOAT, NUMERIC, OpSpec, table_tests, uniform, with_specials


def _axis_kw(allow_none=True):
    def strategy(shapes):
        nd = len(shapes[0])
        opts = [st.none()] if allow_none or nd == 0 else []
        if nd:
            opts.append(st.integers(-nd, nd - 1))
        return st.fixed_dictionaries({"axis": st.one_of(*opts)})

    return strategy


def _lax_kw(shapes):
    nd = len(shapes[0])
    return st.fixed_dictionaries({"axis": st.integers(-nd, nd - 1),
                                  "reverse": st.booleans()})


def _diff_kw(shapes):
    nd = len(shapes[0])
    return st.fixed_dictionaries({"n": st.integers(0, 3), "axis": st.integers(-nd, nd - 1)})


def _cumlogsumexp_ref(x, axis, reverse):
    x = np.flip(x, axis) if reverse else x
    out = np.logaddexp.accumulate(x, axis=axis)
    return np.flip(out, axis) if reverse else out


def _cummax_ref(op):
    def ref(x, axis, reverse):
        x = np.flip(x, axis) if reverse else x
        out = op.accumulate(x, axis=axis)
        return np.flip(out, axis) if reverse else out

    return ref


def _gradient_args(data, dtype):
    shape = data.draw(st.lists(st.integers(2, 4), min_size=1, max_size=3).map(tuple))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    f = rng.uniform(-3, 3, shape).astype(dtype)
    ax = data.draw(st.integers(0, len(shape) - 1))
    uniform_spacing = data.draw(st.booleans())
    if uniform_spacing:
        return [f], {"axis": ax}
    x = np.cumsum(rng.uniform(0.5, 1.5, shape[ax]))
    return [f, x.astype(dtype)], {"axis": ax}


def _gradient_fn(f, x=None, axis=None):
    return jnp.gradient(f, axis=axis) if x is None else jnp.gradient(f, x, axis=axis)


def _gradient_ref(f, x=None, axis=None):
    return np.gradient(f, axis=axis) if x is None else np.gradient(f, x, axis=axis)


def _trapz_args(data, dtype):
    n = data.draw(st.integers(1, 5))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    y = rng.uniform(-2, 2, (2, n)).astype(dtype)
    x = np.cumsum(rng.uniform(0.1, 1, n)).astype(dtype)
    return [y, x], {}


POS = uniform(0.5, 1.5)

SPECS = [
    OpSpec("cumsum", jnp.cumsum, np.cumsum, dtypes=ALL, kwargs=_axis_kw()),
    OpSpec("cumprod", jnp.cumprod, np.cumprod, dtypes=NUMERIC, domain=uniform(-2, 2),
           kwargs=_axis_kw(), tol=1e-5),
    OpSpec("nancumsum", jnp.nancumsum, np.nancumsum, domain=with_specials(), dtypes=NUMERIC,
           kwargs=_axis_kw(), grad_domain=uniform()),
    OpSpec("nancumprod", jnp.nancumprod, np.nancumprod, domain=with_specials(POS),
           dtypes=NUMERIC, kwargs=_axis_kw(), grad_domain=POS, tol=1e-5),
    OpSpec("cumulative_sum", lambda x, axis: jnp.cumulative_sum(x, axis=axis,
                                                                include_initial=True),
           lambda x, axis: np.cumulative_sum(x, axis=axis, include_initial=True),
           dtypes=NUMERIC, min_dims=1, kwargs=_axis_kw(allow_none=False)),
    OpSpec("cumulative_prod", lambda x, axis: jnp.cumulative_prod(x, axis=axis),
           lambda x, axis: np.cumulative_prod(x, axis=axis), dtypes=NUMERIC, min_dims=1,
           domain=uniform(-2, 2), kwargs=_axis_kw(allow_none=False), tol=1e-5),
    OpSpec("diff", jnp.diff, np.diff, dtypes=ALL, min_dims=1, kwargs=_diff_kw),
    OpSpec("ediff1d", lambda x: jnp.ediff1d(x, to_begin=[7], to_end=[8, 9]),
           lambda x: np.ediff1d(x, to_begin=[7], to_end=[8, 9]), dtypes=NUMERIC),
    OpSpec("gradient", _gradient_fn, _gradient_ref, args=_gradient_args, tol=1e-5,
           grad_argnums=(0,), check_dtype=False),
    OpSpec("trapezoid", jnp.trapezoid, np.trapezoid, nargs=2, args=_trapz_args, tol=1e-5),
    OpSpec("lax.cummax", lax.cummax, _cummax_ref(np.maximum), dtypes=NUMERIC, min_dims=1,
           kwargs=_lax_kw, grad_domain=uniform(-100, 100)),
    OpSpec("lax.cummin", lax.cummin, _cummax_ref(np.minimum), dtypes=NUMERIC, min_dims=1,
           kwargs=_lax_kw, grad_domain=uniform(-100, 100)),
    OpSpec("lax.cumlogsumexp", lax.cumlogsumexp, _cumlogsumexp_ref, dtypes=FLOAT,
           min_dims=1, kwargs=_lax_kw, tol=1e-5),
    OpSpec("lax.cumsum", lax.cumsum, lambda x, axis, reverse: _cummax_ref(np.add)(
        x, axis, reverse), dtypes=NUMERIC, min_dims=1, kwargs=_lax_kw, tol=1e-5),
]

globals().update(table_tests(SPECS, examples=(6, 2, 2, 2, 1)))


def test_cumsum_accumulates_bool_and_small_ints_in_the_default_int():
    assert jnp.cumsum(jnp.array([True, True])).dtype == jnp.int32
    assert jnp.cumsum(jnp.array([1, 2], jnp.int8)).dtype == jnp.int32
    assert jnp.cumsum(jnp.array([1, 2]), dtype=jnp.float32).dtype == jnp.float32


def test_cumlogsumexp_is_stable_and_its_gradient_finite():
    x = jnp.array([-1000.0, 0.0, 1000.0, -jnp.inf])
    np.testing.assert_allclose(lax.cumlogsumexp(x), [-1000.0, 0.0, 1000.0, 1000.0])
    g = jb.grad(lambda x: lax.cumlogsumexp(x)[-1])(x)
    np.testing.assert_allclose(g, scipy.special.softmax(np.asarray(x, np.float64)), atol=1e-6)
    g = jb.grad(lambda x: jnp.sum(lax.cumlogsumexp(x)))(jnp.array([-jnp.inf, 0.0]))
    np.testing.assert_array_equal(g, [0.0, 1.0])


def test_cummax_gradient_goes_to_the_running_maximum():
    x = jnp.array([1.0, 3.0, 2.0, 5.0, 4.0])
    g = jb.grad(lambda x: jnp.sum(lax.cummax(x)))(x)
    np.testing.assert_array_equal(g, [1.0, 2.0, 0.0, 2.0, 0.0])
    g = jb.grad(lambda x: jnp.sum(lax.cummin(x, reverse=True)))(x)
    np.testing.assert_array_equal(g, [1.0, 0.0, 2.0, 0.0, 2.0])  # y = [1, 2, 2, 4, 4]
    with jb.enable_x64():
        check_grads(lambda x: lax.cummax(x, axis=1), (np.random.default_rng(0).normal(
            size=(3, 6)),), order=2)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="out of bounds"):
        jnp.cumsum(jnp.ones((2, 3)), axis=2)
    with pytest.raises(ValueError, match="axis is required"):
        jnp.cumulative_sum(jnp.ones((2, 3)))
    with pytest.raises(TypeError, match="out="):
        jnp.cumsum(jnp.ones(3), out=np.zeros(3))
    with pytest.raises(ValueError, match="non-negative"):
        jnp.diff(jnp.ones(3), n=-1)
    with pytest.raises(ValueError, match="at least 2 samples"):
        jnp.gradient(jnp.ones(1))
    with pytest.raises(NotImplementedError, match="edge_order"):
        jnp.gradient(jnp.ones(3), edge_order=2)
    with pytest.raises(TypeError, match="floating-point"):
        lax.cumlogsumexp(jnp.arange(3))


def test_diff_prepend_append_and_gradient_tuple():
    x = np.arange(6.0).reshape(2, 3) ** 2
    np.testing.assert_array_equal(jnp.diff(x, axis=0, prepend=0.0, append=x[:1]),
                                  np.diff(x, axis=0, prepend=0.0, append=x[:1]))
    outs = jnp.gradient(x, 2.0)
    for o, e in zip(outs, np.gradient(x, 2.0)):
        np.testing.assert_allclose(o, e)
