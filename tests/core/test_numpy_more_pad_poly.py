"""jnp.pad in every mode, convolve/correlate and the polynomial functions: the five table
checks, then the eager-only functions and error messages."""

import numpy as np
import pytest
from hypothesis import strategies as st

import jumba as jb
import jumba.numpy as jnp
from tests.core.numpy_checks import FLOAT, NUMERIC, OpSpec, table_tests

MODES = ["constant", "edge", "reflect", "symmetric", "wrap", "linear_ramp", "maximum",
         "mean", "median", "minimum", "empty"]


def _pad_args(data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple))
    x = rng.uniform(-3, 3, shape).astype(dtype) if dtype.kind == "f" else \
        rng.integers(-5, 6, shape).astype(dtype)
    mode = data.draw(st.sampled_from(MODES if dtype.kind == "f" else
                                     [m for m in MODES if m not in ("mean", "median",
                                                                    "linear_ramp")]))
    width = data.draw(st.one_of(
        st.integers(0, 5),
        st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5)), min_size=len(shape),
                 max_size=len(shape))))
    kw = {}
    if mode == "constant" and data.draw(st.booleans()):
        kw["constant_values"] = data.draw(st.sampled_from([1.5, (2, -1)]))
    if mode in ("reflect", "symmetric"):
        kw["reflect_type"] = data.draw(st.sampled_from(["even", "odd"]))
    if mode == "linear_ramp":
        kw["end_values"] = data.draw(st.sampled_from([0, (1.0, -2.0)]))
    if mode in ("maximum", "mean", "median", "minimum") and data.draw(st.booleans()):
        kw["stat_length"] = data.draw(st.integers(1, 3))
    return [x], {"pad_width": width, "mode": mode, **kw}


def _pad_ref(x, pad_width, mode, **kw):
    if mode == "empty":
        return np.pad(x, pad_width)  # jumba's "empty" is zeros
    return np.pad(x, pad_width, mode, **kw)


def _conv_args(data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    a = rng.uniform(-2, 2, data.draw(st.integers(1, 6))).astype(dtype)
    v = rng.uniform(-2, 2, data.draw(st.integers(1, 6))).astype(dtype)
    if dtype.kind != "f":
        a, v = np.round(a).astype(dtype), np.round(v).astype(dtype)
    return [a, v], {"mode": data.draw(st.sampled_from(["full", "same", "valid"]))}


def _poly_args(n_args, lo=1, hi=5):
    def draw(data, dtype):
        rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
        out = []
        for _ in range(n_args):
            x = rng.uniform(-2, 2, data.draw(st.integers(lo, hi)))
            out.append((np.round(x) if dtype.kind != "f" else x).astype(dtype))
        return out, {}

    return draw


def _polyval_args(data, dtype):
    (p,), _ = _poly_args(1)(data, dtype)
    rng = np.random.default_rng(0)
    shape = data.draw(st.lists(st.integers(0, 3), max_size=2).map(tuple))
    x = rng.uniform(-2, 2, shape).astype(dtype) if dtype.kind == "f" else \
        rng.integers(-2, 3, shape).astype(dtype)
    return [p, x], {}


def _polyder_args(data, dtype):
    (p,), _ = _poly_args(1)(data, dtype)
    return [p], {"m": data.draw(st.integers(0, 3))}


def _polyint_args(data, dtype):
    (p,), _ = _poly_args(1)(data, dtype)
    return [p], {"m": data.draw(st.integers(0, 2)), "k": data.draw(st.sampled_from(
        [None, 1.5]))}


def _polydiv_args(data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    v = rng.uniform(0.5, 2, data.draw(st.integers(1, 3))).astype(dtype)
    u = rng.uniform(-2, 2, data.draw(st.integers(len(v), 5))).astype(dtype)
    return [u, v], {}


def _polydiv_ref(u, v):
    q, r = np.polydiv(u, v)
    return q, np.concatenate([np.zeros(len(u) - len(r)), r])  # JAX keeps u's length


def _polyfit_args(data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    n = data.draw(st.integers(4, 8))
    x = np.sort(rng.uniform(-1, 1, n)) + np.arange(n) * 0.2
    y = rng.uniform(-1, 1, n)
    return [x.astype(dtype), y.astype(dtype)], {"deg": data.draw(st.integers(0, 2))}


SPECS = [
    OpSpec("pad", jnp.pad, _pad_ref, args=_pad_args, dtypes=NUMERIC, tol=1e-5),
    OpSpec("convolve", jnp.convolve, np.convolve, nargs=2, args=_conv_args, dtypes=NUMERIC,
           tol=1e-5),
    OpSpec("correlate", jnp.correlate, np.correlate, nargs=2, args=_conv_args,
           dtypes=NUMERIC, tol=1e-5),
    OpSpec("polyval", jnp.polyval, np.polyval, nargs=2, args=_polyval_args, dtypes=NUMERIC,
           tol=1e-5),
    OpSpec("polyadd", jnp.polyadd, np.polyadd, nargs=2, args=_poly_args(2), dtypes=NUMERIC),
    OpSpec("polysub", jnp.polysub, np.polysub, nargs=2, args=_poly_args(2), dtypes=NUMERIC),
    # NumPy's polymul strips leading zeros (through poly1d); JAX's keeps them by default.
    OpSpec("polymul", jnp.polymul, np.convolve, nargs=2, args=_poly_args(2), dtypes=NUMERIC,
           tol=1e-5),
    OpSpec("polyder", jnp.polyder, np.polyder, args=_polyder_args, dtypes=NUMERIC),
    OpSpec("polyint", jnp.polyint, np.polyint, args=_polyint_args, tol=1e-5),
    OpSpec("polydiv", jnp.polydiv, _polydiv_ref, nargs=2, args=_polydiv_args, tol=1e-4,
           check_dtype=False),
    OpSpec("polyfit", jnp.polyfit, np.polyfit, nargs=2, args=_polyfit_args, dtypes=FLOAT,
           tol=2e-3, check_dtype=False, grad_argnums=(1,)),
    OpSpec("vander", lambda x, N, increasing: jnp.vander(x, N, increasing),
           lambda x, N, increasing: np.vander(x, N, increasing), dtypes=NUMERIC,
           min_dims=1, max_dims=1, domain=lambda rng, s, d: rng.integers(-3, 4, s).astype(d),
           kwargs=lambda s: st.fixed_dictionaries({"N": st.integers(0, 4),
                                                    "increasing": st.booleans()})),
]

globals().update(table_tests(SPECS, examples=(6, 2, 2, 2, 1)))


def test_pad_callable_and_errors():
    def f(v, width, iaxis, kwargs):
        v[:width[0]] = kwargs.get("fill", 9)
        v[len(v) - width[1]:] = 8

    np.testing.assert_array_equal(jnp.pad(jnp.arange(3), 2, f, fill=5),
                                  np.pad(np.arange(3), 2, f, fill=5))
    with pytest.raises(ValueError, match="not supported"):
        jnp.pad(jnp.ones(3), 1, mode="sideways")
    with pytest.raises(ValueError, match="unsupported keyword"):
        jnp.pad(jnp.ones(3), 1, mode="edge", constant_values=1)
    with pytest.raises(ValueError, match="non-negative"):
        jnp.pad(jnp.ones(3), -1)
    with pytest.raises(ValueError, match="empty axis"):
        jnp.pad(jnp.ones(0), 1, mode="reflect")
    with pytest.raises(jb.ConcretizationTypeError):
        jb.jit(lambda w: jnp.pad(jnp.ones(3), w))(1)


def test_pad_gradient_of_odd_reflection_counts_every_copy():
    g = jb.grad(lambda x: jnp.sum(jnp.pad(x, 2, "reflect", reflect_type="odd")))(
        jnp.array([1.0, 2.0, 4.0]))
    # [2x0 - x2, 2x0 - x1, x0, x1, x2, 2x2 - x1, 2x2 - x0]
    np.testing.assert_allclose(g, [4.0, -1.0, 4.0])


def test_roots_and_poly():
    r = jnp.roots(jnp.array([1.0, -6.0, 11.0, -6.0]))
    np.testing.assert_allclose(np.sort(np.real(np.asarray(r))), [1.0, 2.0, 3.0], rtol=1e-4)
    assert r.dtype == jnp.complex64
    np.testing.assert_allclose(jnp.roots(jnp.array([0.0, 0.0, 1.0, -2.0])), [2.0])
    r = jb.jit(lambda p: jnp.roots(p, strip_zeros=False))(jnp.array([1.0, 0.0, -4.0]))
    np.testing.assert_allclose(np.sort(np.real(np.asarray(r))), [-2.0, 2.0], rtol=1e-5)
    with pytest.raises(jb.ConcretizationTypeError, match="strip_zeros=False"):
        jb.jit(jnp.roots)(jnp.array([1.0, 2.0]))
    np.testing.assert_allclose(jnp.poly(jnp.array([1.0, 2.0, 3.0])), np.poly([1, 2, 3]))
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(jnp.poly(a), np.poly(a), rtol=1e-5)


def test_polyfit_full_and_cov():
    x = np.linspace(0, 1, 9)
    y = np.cos(2 * x)
    with jb.enable_x64():
        for a, b in zip(jnp.polyfit(x, y, 2, full=True), np.polyfit(x, y, 2, full=True)):
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
        c, v = jnp.polyfit(x, y, 2, cov=True)
        ec, ev = np.polyfit(x, y, 2, cov=True)
        np.testing.assert_allclose(v, ev, rtol=1e-8, atol=1e-14)


def test_trim_zeros_and_errors():
    np.testing.assert_array_equal(jnp.trim_zeros(jnp.array([0, 0, 1, 0, 2, 0])), [1, 0, 2])
    np.testing.assert_array_equal(jnp.trim_zeros(jnp.array([0, 1, 0]), "f"), [1, 0])
    with pytest.raises(jb.ConcretizationTypeError):
        jb.jit(jnp.trim_zeros)(jnp.array([0, 1]))
    with pytest.raises(ValueError, match="mode must be"):
        jnp.convolve(jnp.ones(3), jnp.ones(2), mode="circular")
    with pytest.raises(ValueError, match="cannot be empty"):
        jnp.convolve(jnp.ones(0), jnp.ones(2))
    with pytest.raises(ValueError, match="1-D"):
        jnp.convolve(jnp.ones((2, 2)), jnp.ones(2))
