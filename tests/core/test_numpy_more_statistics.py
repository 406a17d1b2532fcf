"""Order statistics, NaN-ignoring reductions, moments and histograms: the five table checks
(quantile methods, axes and keepdims drawn per example), then JAX's conventions."""

import numpy as np
import pytest
from hypothesis import strategies as st

import jumba as jb
import jumba.numpy as jnp
from tests.core.numpy_checks import (
    NUMERIC,
    OpSpec,
    axis_kwargs,
    table_tests,
    uniform,
    with_specials,
)

METHODS = ["linear", "lower", "higher", "midpoint", "nearest"]
# Distinct values keep the order statistics (and their gradients) away from ties.
DISTINCT = uniform(-3, 3)


def with_nans(base):
    """NaNs mixed in, no infinities (where NumPy's interpolation makes NaN of inf * 0 and
    JAX's does not, the two legitimately differ)."""
    def sample(rng, shape, dtype):
        x = base(rng, shape, dtype)
        if np.dtype(dtype).kind != "f":
            return x
        return np.where(rng.random(shape) < 0.3, np.nan, x).astype(dtype)

    return sample


def _q_kw(percent):
    def strategy(shapes):
        (shape,) = shapes
        # Binary fractions: q * (n - 1) is exact in 32 and 64 bits, so every method picks
        # the same neighbours as NumPy's float64 computation.
        qs = st.sampled_from([0.0, 0.125, 0.25, 0.5, 0.75, 1.0])
        q = st.one_of(qs, st.lists(qs, min_size=1, max_size=3))
        if percent:
            q = q.map(lambda v: np.multiply(v, 100).tolist() if isinstance(v, list) else v * 100)
        return st.fixed_dictionaries({"q": q, "method": st.sampled_from(METHODS),
                                      "axis": axis_kwargs(shape, allow_empty=False),
                                      "keepdims": st.booleans()})

    return strategy


def _q_spec(name, percent, nan):
    fn, ref = getattr(jnp, name), getattr(np, name)
    return OpSpec(name, lambda x, q, **kw: fn(x, np.asarray(q, np.float32), **kw),
                  lambda x, q, **kw: ref(x, q, **kw), domain=with_nans(DISTINCT) if nan
                  else DISTINCT, dtypes=NUMERIC, min_side=1, kwargs=_q_kw(percent),
                  tol=1e-5, check_dtype=False, grad_domain=DISTINCT)


def _red_kw(shapes, *, ddof=False):
    (shape,) = shapes
    d = {"axis": axis_kwargs(shape, allow_empty=False), "keepdims": st.booleans()}
    if ddof:
        d["ddof"] = st.sampled_from([0, 1])
    return st.fixed_dictionaries(d)


def _nan_spec(name, **kw):
    return OpSpec(name, getattr(jnp, name), kw.pop("ref", getattr(np, name)),
                  domain=with_specials(DISTINCT), grad_domain=DISTINCT, dtypes=NUMERIC,
                  min_side=1, **kw)


def _jax_nan_moment(fn):
    # JAX divides by (count - ddof) without NumPy's clipping: an all-NaN slice with ddof=1
    # gives 0 / -1 = -0.0 where NumPy gives NaN.
    def ref(x, axis=None, keepdims=False, ddof=0):
        out = fn(x, axis=axis, keepdims=keepdims, ddof=ddof)
        count = np.sum(~np.isnan(x), axis=axis, keepdims=keepdims)
        return np.where(count - ddof < 0, -0.0, out).astype(out.dtype)

    return ref


def _arg_kw(shapes):
    (shape,) = shapes
    return st.fixed_dictionaries({"axis": st.one_of(st.none(), st.integers(
        -len(shape), len(shape) - 1)) if shape else st.none()})


def _average_args(data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple))
    a = rng.uniform(-3, 3, shape).astype(dtype)
    axis = data.draw(st.integers(0, len(shape) - 1))
    w = rng.uniform(0.5, 2, shape[axis]).astype(dtype)
    return [a, w], {"axis": axis}


def _cov_args(data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    n = data.draw(st.integers(3, 6))
    m = rng.uniform(-3, 3, (data.draw(st.integers(1, 3)), n)).astype(dtype)
    kw = {"rowvar": True, "bias": data.draw(st.booleans())}
    return [m, rng.integers(1, 4, n), rng.uniform(0.5, 2, n).astype(dtype)], kw


def _hist_args(data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    n = data.draw(st.integers(1, 12))
    x = rng.uniform(-3, 3, n).astype(dtype)
    w = rng.uniform(0.5, 2, n).astype(dtype)
    bins = data.draw(st.sampled_from([3, 5, [-3.0, -1.0, 0.5, 3.0]]))
    kw = {"bins": bins, "density": data.draw(st.booleans())}
    if isinstance(bins, int) and data.draw(st.booleans()):
        kw["range"] = (-2.0, 2.0)
    return [x, w], kw


def _hist2d_args(data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    n = data.draw(st.integers(1, 12))
    return [rng.uniform(-3, 3, n).astype(dtype), rng.uniform(-3, 3, n).astype(dtype)], {
        "bins": data.draw(st.sampled_from([2, [3, 4]])),
        "range": [(-3.0, 3.0), (-2.0, 2.5)]}


def _bincount_args(data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = rng.integers(0, 6, data.draw(st.integers(0, 10)))
    return [x, rng.uniform(0, 1, x.shape).astype(dtype)], {"length": 8}


def _digitize_args(data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    bins = np.sort(rng.choice(np.arange(-4, 5), data.draw(st.integers(1, 5)),
                              replace=False)).astype(dtype)
    if data.draw(st.booleans()):
        bins = bins[::-1].copy()
    x = rng.integers(-5, 6, data.draw(st.integers(0, 6))).astype(dtype)
    return [x, bins], {"right": data.draw(st.booleans())}


SPECS = [
    _q_spec("quantile", False, False),
    _q_spec("percentile", True, False),
    _q_spec("nanquantile", False, True),
    _q_spec("nanpercentile", True, True),
    OpSpec("median", jnp.median, np.median, domain=DISTINCT, dtypes=NUMERIC, min_side=1,
           kwargs=_red_kw, tol=1e-5, check_dtype=False),
    OpSpec("nanmedian", jnp.nanmedian, np.nanmedian, domain=with_nans(DISTINCT),
           grad_domain=DISTINCT, dtypes=NUMERIC, min_side=1, kwargs=_red_kw, tol=1e-5,
           check_dtype=False),
    _nan_spec("nansum", kwargs=_red_kw, tol=1e-5),
    _nan_spec("nanprod", kwargs=_red_kw, tol=1e-5),
    _nan_spec("nanmax", kwargs=_red_kw),
    _nan_spec("nanmin", kwargs=_red_kw),
    _nan_spec("nanmean", kwargs=_red_kw, tol=1e-5, check_dtype=False),
    _nan_spec("nanvar", kwargs=lambda s: _red_kw(s, ddof=True), tol=1e-5, check_dtype=False,
              ref=_jax_nan_moment(np.nanvar)),
    _nan_spec("nanstd", kwargs=lambda s: _red_kw(s, ddof=True), tol=1e-5, check_dtype=False,
              grad_order=None, ref=_jax_nan_moment(np.nanstd)),
    OpSpec("nanargmax", jnp.nanargmax, np.nanargmax, domain=DISTINCT, dtypes=NUMERIC,
           min_side=1, kwargs=_arg_kw, grad_order=None, check_dtype=False),
    OpSpec("nanargmin", jnp.nanargmin, np.nanargmin, domain=DISTINCT, dtypes=NUMERIC,
           min_side=1, kwargs=_arg_kw, grad_order=None, check_dtype=False),
    OpSpec("ptp", jnp.ptp, np.ptp, domain=DISTINCT, dtypes=NUMERIC, min_side=1,
           kwargs=_red_kw),
    OpSpec("average", lambda a, w, axis: jnp.average(a, axis, w, returned=True),
           lambda a, w, axis: np.average(a, axis, w, returned=True), nargs=2,
           args=_average_args, tol=1e-5),
    OpSpec("cov", lambda m, f, a, **kw: jnp.cov(m, fweights=f, aweights=a, **kw),
           lambda m, f, a, **kw: np.cov(m, fweights=f, aweights=a, **kw), nargs=3,
           args=_cov_args, tol=1e-4, grad_argnums=(0, 2)),
    OpSpec("corrcoef", lambda m, f, a, **kw: jnp.corrcoef(m), lambda m, f, a, **kw:
           np.corrcoef(m), nargs=3, args=_cov_args, tol=1e-4, grad_argnums=(0,)),
    OpSpec("histogram", lambda x, w, **kw: jnp.histogram(x, weights=w, **kw),
           lambda x, w, **kw: np.histogram(x, weights=w, **kw), nargs=2, args=_hist_args,
           tol=1e-5, grad_argnums=(1,), check_dtype=False),
    OpSpec("histogram2d", jnp.histogram2d, np.histogram2d, nargs=2, args=_hist2d_args,
           grad_order=None, check_dtype=False),
    OpSpec("bincount", jnp.bincount, lambda x, w, length: np.bincount(
        x, w, minlength=length)[:length], nargs=2, args=_bincount_args, grad_argnums=(1,),
        check_dtype=False),
    OpSpec("digitize", jnp.digitize, np.digitize, nargs=2, args=_digitize_args,
           dtypes=NUMERIC, grad_order=None, check_dtype=False),
]

globals().update(table_tests(SPECS, examples=(6, 2, 2, 2, 1)))


def test_histogramdd_and_bin_edges():
    rng = np.random.default_rng(0)
    s = rng.uniform(-1, 1, (20, 3))
    c, edges = jnp.histogramdd(s, bins=(2, 3, 4), range=[(-1, 1)] * 3, density=True)
    ec, eedges = np.histogramdd(s, bins=(2, 3, 4), range=[(-1, 1)] * 3, density=True)
    np.testing.assert_allclose(c, ec, rtol=1e-5)
    for a, b in zip(edges, eedges):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jnp.histogram_bin_edges(s[:, 0], 4),
                               np.histogram_bin_edges(s[:, 0], 4), rtol=1e-5, atol=1e-6)
    # A constant sample widens to +-0.5, as NumPy.
    np.testing.assert_allclose(jnp.histogram(jnp.ones(3), 2)[1], [0.5, 1.0, 1.5])


def test_nanargmax_of_all_nan_is_minus_one():
    x = jnp.array([[np.nan, np.nan], [1.0, np.nan]])
    np.testing.assert_array_equal(jnp.nanargmax(x, axis=1), [-1, 0])
    assert jnp.isnan(jnp.nanmax(jnp.array([np.nan, np.nan])))


def test_quantile_under_jit_and_grad():
    x = jnp.array([3.0, 1.0, 2.0, 4.0])
    f = jb.jit(lambda x: jnp.quantile(x, 0.5))
    assert f(x) == 2.5
    np.testing.assert_allclose(jb.grad(lambda x: jnp.median(x))(x), [0.5, 0, 0.5, 0])


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="method"):
        jnp.quantile(jnp.ones(3), 0.5, method="weibull")
    with pytest.raises(TypeError, match="method="):
        jnp.quantile(jnp.ones(3), 0.5, interpolation="linear")
    with pytest.raises(ValueError, match="out of bounds"):
        jnp.median(jnp.ones(3), axis=1)
    with pytest.raises(ValueError, match="axis must be given"):
        jnp.average(jnp.ones((2, 3)), weights=jnp.ones(3))
    with pytest.raises(NotImplementedError, match="string bin"):
        jnp.histogram(jnp.ones(3), bins="auto")
    with pytest.raises(TypeError, match="integer"):
        jnp.bincount(jnp.ones(3))
    with pytest.raises(ValueError, match="more than 2"):
        jnp.cov(jnp.ones((2, 2, 2)))


