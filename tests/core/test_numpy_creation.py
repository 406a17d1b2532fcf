"""jumba.numpy array creation through the five checks (values are drawn; shapes, sizes and
dtypes are static keywords), then default dtypes and weak types as JAX's."""

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jumba as jb
import jumba.numpy as jnp
from tests.core.numpy_checks import (
    OpSpec,
    table_tests,
)

SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
DTYPE_KW = st.sampled_from([None, None, np.float32, np.int32, np.bool_])


def _maybe(d, key, strategy, data):
    value = data.draw(strategy, label=key)
    if value is not None:
        d[key] = value
    return d


def _shape_only(data, dtype):
    kw = {"shape": data.draw(SHAPES, label="shape")}
    return [], _maybe(kw, "dtype", DTYPE_KW, data)


def _fill(data, dtype):
    v = np.asarray(data.draw(st.floats(-5, 5), label="fill"), dtype)
    return [v], {"shape": data.draw(SHAPES, label="shape")}


def _like(with_fill):
    def draw(data, dtype):
        a = np.zeros(data.draw(SHAPES, label="shape"), dtype)
        arrays = [a]
        if with_fill:
            arrays.append(np.asarray(data.draw(st.floats(-5, 5), label="fill"), dtype))
        kw = _maybe({}, "dtype", DTYPE_KW, data)
        return arrays, _maybe(kw, "shape", st.one_of(st.none(), SHAPES), data)

    return draw


def _arange(data, dtype):
    ints = dtype.kind != "f"
    num = st.integers(-6, 6) if ints else st.floats(-6, 6).map(lambda v: round(v, 2))
    start, stop = data.draw(num, label="start"), data.draw(num, label="stop")
    step = data.draw(st.one_of(st.none(), st.sampled_from([1, 2, -1, 3] if ints else
                                                          [0.5, -0.75, 1.5])), label="step")
    kw = {"start": start, "stop": stop}
    if step is not None:
        kw["step"] = step
    return [], kw


def _linspace(data, dtype):
    start = np.asarray(data.draw(st.floats(-5, 5), label="start"), dtype)
    stop = np.asarray(data.draw(st.floats(-5, 5), label="stop"), dtype)
    kw = {"num": data.draw(st.integers(0, 7), label="num"),
          "endpoint": data.draw(st.booleans(), label="endpoint")}
    return [start, stop], _maybe(kw, "dtype", st.sampled_from([None, np.float32, np.int32]),
                                 data)


def _eye(data, dtype):
    kw = {"N": data.draw(st.integers(0, 4), label="N")}
    _maybe(kw, "M", st.one_of(st.none(), st.integers(0, 4)), data)
    _maybe(kw, "k", st.one_of(st.none(), st.integers(-3, 3)), data)
    return [], _maybe(kw, "dtype", DTYPE_KW, data)


def _identity(data, dtype):
    kw = {"n": data.draw(st.integers(0, 4), label="n")}
    return [], _maybe(kw, "dtype", DTYPE_KW, data)


def _array(data, dtype):
    x = np.random.default_rng(data.draw(st.integers(0, 99))).normal(
        size=data.draw(SHAPES, label="shape")).astype(dtype)
    kw = _maybe({}, "dtype", st.sampled_from([None, np.float32, np.int32]), data)
    return [x], kw


def _spec(name, args, nargs, fn=None, ref=None, **kw):
    return OpSpec(name, fn or getattr(jnp, name), ref or getattr(np, name), nargs,
                  args=args, **kw)


FD = (np.float32, np.int32)
SPECS = [
    _spec("zeros", _shape_only, 0, grad_order=None),
    _spec("ones", _shape_only, 0, grad_order=None),
    # jnp.empty returns zeros (arrays are immutable), so zeros are the reference.
    _spec("empty", _shape_only, 0, ref=np.zeros, grad_order=None),
    _spec("full", _fill, 1, fn=lambda v, shape: jnp.full(shape, v),
          ref=lambda v, shape: np.full(shape, v), dtypes=FD),
    _spec("zeros_like", _like(False), 1, dtypes=FD, grad_order=None),
    _spec("ones_like", _like(False), 1, dtypes=FD, grad_order=None),
    _spec("empty_like", _like(False), 1, ref=np.zeros_like, dtypes=FD, grad_order=None),
    _spec("full_like", _like(True), 2, dtypes=FD, grad_order=None),
    _spec("arange", _arange, 0, dtypes=FD, grad_order=None, tol=1e-5),
    _spec("linspace", _linspace, 2, tol=1e-5),
    _spec("eye", _eye, 0, grad_order=None),
    _spec("identity", _identity, 0, grad_order=None),
    _spec("array", _array, 1, grad_order=None),
    _spec("asarray", _array, 1, grad_order=None),
]
GRAD_SPECS = [s for s in SPECS if s.grad_order is not None]


globals().update(table_tests(SPECS, examples=(15, 4, 4, 3, 4)))


# ---------------------------------------------------------------------------------------
# Default dtypes and weak types (JAX's)


def test_default_dtypes():
    assert jnp.zeros(3).dtype == jnp.float32
    assert jnp.ones((2, 2), int).dtype == jnp.int32
    assert jnp.arange(5).dtype == jnp.int32
    assert jnp.arange(5.0).dtype == jnp.float32
    assert jnp.arange(0, 1, 0.25).dtype == jnp.float32
    assert jnp.linspace(0, 1, 5).dtype == jnp.float32
    assert jnp.eye(3).dtype == jnp.float32
    assert jnp.array([1, 2.5]).dtype == jnp.float32
    assert jnp.array([1, 2]).dtype == jnp.int32
    assert jnp.array([True, False]).dtype == jnp.bool_
    assert jnp.full(3, 7).dtype == jnp.int32
    with jb.enable_x64():
        assert jnp.zeros(3).dtype == jnp.float64
        assert jnp.arange(5).dtype == jnp.int64
        assert jnp.array([1.5]).dtype == jnp.float64
        assert jnp.full(3, 2.0).dtype == jnp.float64


def test_weak_types():
    assert jnp.asarray(1.0).weak_type
    assert jnp.array(2).weak_type
    assert not jnp.array([1.0]).weak_type
    assert not jnp.zeros(3).weak_type
    assert jnp.full((2,), 1.0).weak_type  # lax.full keeps a Python scalar's weak type
    assert not jnp.full((2,), 1.0, dtype=jnp.float32).weak_type
    assert jnp.zeros_like(jnp.asarray(1.0)).weak_type
    assert (jnp.full((2,), 1.0) + jnp.ones(2, jnp.float16)).dtype == jnp.float16


def test_asarray_of_nested_sequences_and_arrays():
    x = jnp.asarray([jnp.ones(2), np.zeros(2)])
    np.testing.assert_array_equal(x, [[1, 1], [0, 0]])
    f = jb.jit(lambda a: jnp.array([a, 2 * a]))
    np.testing.assert_array_equal(f(jnp.ones(2)), [[1, 1], [2, 2]])
    assert jnp.array(np.arange(3, dtype=np.int64)).dtype == jnp.int32
    assert jnp.array(np.float64(1.5)).dtype == jnp.float32
    assert jnp.array([[1]], ndmin=4).shape == (1, 1, 1, 1)


def test_asarray_does_not_alias_numpy_input():
    a = np.ones(3, np.float32)
    x = jnp.array(a)
    a[0] = 5
    assert x[0] == 1


def test_linspace_int_dtype_floors():
    np.testing.assert_array_equal(jnp.linspace(-3, 3, 7, dtype=int), np.linspace(-3, 3, 7,
                                                                             dtype=int))
    np.testing.assert_array_equal(jnp.linspace(-1, 0, 4, dtype=jnp.int32),
                                  np.linspace(-1, 0, 4, dtype=np.int32))
    out, step = jnp.linspace(0.0, 1.0, 5, retstep=True)
    assert step == 0.25 and out.shape == (5,)


def test_linspace_arrays_and_axis():
    start, stop = np.array([0.0, 1.0]), np.array([1.0, 3.0])
    np.testing.assert_allclose(jnp.linspace(start, stop, 3), np.linspace(start, stop, 3),
                               rtol=1e-6)
    np.testing.assert_allclose(jnp.linspace(start, stop, 3, axis=1),
                               np.linspace(start, stop, 3, axis=1), rtol=1e-6)


def test_arange_needs_static_bounds():
    with pytest.raises(jb.ConcretizationTypeError):
        jb.jit(lambda n: jnp.arange(n))(3)


def test_full_with_traced_fill_value():
    f = jb.jit(lambda v: jnp.full((2, 3), v))
    np.testing.assert_array_equal(f(2.0), np.full((2, 3), 2.0))
    assert jb.grad(lambda v: jnp.sum(jnp.full((2, 3), v)))(1.0) == 6.0
    g = jb.grad(lambda v: jnp.sum(jnp.full_like(jnp.ones(4), v)))(1.0)
    assert g == 4.0
