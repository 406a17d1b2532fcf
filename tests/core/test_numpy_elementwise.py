"""jumba.numpy elementwise functions: one OpSpec table through the five checks, then the
JAX conventions NumPy cannot referee (gradients at kinks, integer semantics, promotion)."""

import numpy as np
import pytest
from hypothesis import strategies as st

import jumba as jb
import jumba.numpy as jnp
from tests.core.numpy_checks import (
    ALL,
    FLOAT,
    INT,
    NUMERIC,
    OpSpec,
    away_from,
    away_from_halves,
    nonzero,
    table_tests,
    uniform,
    with_specials,
)

U = uniform
POS = U(0.2, 3.0)
NZ = away_from([0.0])
UNIT = U(-0.9, 0.9)


def _spec1(name, fn=None, ref=None, **kw):
    return OpSpec(name, fn or getattr(jnp, name), ref or getattr(np, name), 1, **kw)


def _spec2(name, fn=None, ref=None, **kw):
    return OpSpec(name, fn or getattr(jnp, name), ref or getattr(np, name), 2, **kw)


def _float_out(*dts, **_):
    return np.result_type(*dts, np.float32) if all(d.kind != "f" for d in dts) else \
        np.result_type(*dts)


SPECS = [
    # Arithmetic
    _spec2("add", dtypes=ALL),
    _spec2("subtract", dtypes=NUMERIC),
    _spec2("multiply", dtypes=ALL),
    _spec2("divide", domain=(U(), nonzero()), dtypes=NUMERIC, grad_domain=(U(), NZ),
           out_dtype=_float_out),
    _spec2("true_divide", domain=(U(), nonzero()), dtypes=NUMERIC, grad_domain=(U(), NZ),
           out_dtype=_float_out),
    _spec2("floor_divide", domain=(U(-9, 9), nonzero()), dtypes=NUMERIC, tol=1e-5,
           grad_order=None),
    _spec2("remainder", domain=(U(-9, 9), nonzero()), dtypes=NUMERIC, tol=1e-5,
           grad_domain=(away_from_halves(), U(5, 6)), grad_argnums=(0,)),
    _spec2("mod", domain=(U(-9, 9), nonzero()), dtypes=NUMERIC, tol=1e-5, grad_order=None),
    _spec2("fmod", domain=(U(-9, 9), nonzero()), dtypes=NUMERIC, tol=1e-5,
           grad_domain=(away_from_halves(), U(5, 6)), grad_argnums=(0,)),
    _spec1("negative", dtypes=NUMERIC),
    _spec1("positive", dtypes=NUMERIC),
    _spec2("power", domain=(U(0.2, 3), U(-2, 2)), dtypes=FLOAT, tol=1e-5),
    _spec2("power_int", jnp.power, np.power, domain=(U(-4, 4), U(0, 5)), dtypes=INT,
           grad_order=None),
    _spec2("float_power", domain=(U(0.2, 3), U(-2, 2)), dtypes=NUMERIC, tol=1e-5,
           out_dtype=_float_out),
    _spec1("sqrt", domain=POS, dtypes=NUMERIC, out_dtype=_float_out),
    _spec1("cbrt", domain=NZ, dtypes=FLOAT),
    _spec1("square", dtypes=NUMERIC),
    _spec1("reciprocal", domain=NZ, dtypes=FLOAT),
    _spec1("abs", domain=NZ, dtypes=ALL),
    _spec1("absolute", domain=NZ, dtypes=NUMERIC),
    _spec1("sign", domain=NZ, dtypes=NUMERIC),
    _spec1("floor", domain=away_from_halves(), dtypes=NUMERIC),
    _spec1("ceil", domain=away_from_halves(), dtypes=NUMERIC),
    _spec1("trunc", domain=away_from_halves(), dtypes=NUMERIC),
    _spec1("round", domain=away_from_halves(), dtypes=NUMERIC, tol=1e-5,
           kwargs=lambda s: st.fixed_dictionaries({"decimals": st.sampled_from([0, 0, 1, 2])})),
    _spec1("around", domain=away_from_halves(), dtypes=NUMERIC,
           ref=lambda x: np.round(x)),
    _spec1("rint", domain=away_from_halves(), dtypes=NUMERIC, out_dtype=_float_out),
    # Exponentials and logarithms
    _spec1("exp", dtypes=NUMERIC, tol=1e-5, out_dtype=_float_out),
    _spec1("exp2", dtypes=FLOAT, tol=1e-5),
    _spec1("expm1", dtypes=FLOAT, tol=1e-5),
    _spec1("log", domain=POS, dtypes=FLOAT, tol=1e-5),
    _spec1("log2", domain=POS, dtypes=NUMERIC, tol=1e-5, out_dtype=_float_out),
    _spec1("log10", domain=POS, dtypes=FLOAT, tol=1e-5),
    _spec1("log1p", domain=U(-0.8, 3), dtypes=FLOAT, tol=1e-5),
    _spec2("logaddexp", dtypes=FLOAT, tol=1e-5),
    _spec2("logaddexp2", dtypes=FLOAT, tol=1e-5),
    # Trigonometric and hyperbolic
    _spec1("sin", dtypes=NUMERIC, tol=1e-5, out_dtype=_float_out),
    _spec1("cos", dtypes=FLOAT, tol=1e-5),
    _spec1("tan", domain=U(-1.2, 1.2), dtypes=FLOAT, tol=1e-5),
    _spec1("arcsin", domain=UNIT, dtypes=FLOAT, tol=1e-5),
    _spec1("asin", domain=UNIT, dtypes=FLOAT, ref=np.arcsin, tol=1e-5),
    _spec1("arccos", domain=UNIT, dtypes=FLOAT, tol=1e-5),
    _spec1("arctan", dtypes=FLOAT, tol=1e-5),
    _spec2("arctan2", dtypes=FLOAT, tol=1e-5, grad_domain=(away_from([0.0], margin=0.3), U())),
    _spec2("hypot", dtypes=FLOAT, tol=1e-5, grad_domain=(NZ, NZ)),
    _spec1("sinh", dtypes=FLOAT, tol=1e-5),
    _spec1("cosh", dtypes=FLOAT, tol=1e-5),
    _spec1("tanh", dtypes=FLOAT, tol=1e-5),
    _spec1("arcsinh", dtypes=FLOAT, tol=1e-5),
    _spec1("arccosh", domain=U(1.2, 4), dtypes=FLOAT, tol=1e-5),
    _spec1("arctanh", domain=UNIT, dtypes=FLOAT, tol=1e-5),
    _spec1("deg2rad", dtypes=NUMERIC, tol=1e-5, out_dtype=_float_out),
    _spec1("rad2deg", dtypes=FLOAT, tol=1e-5),
    _spec1("sinc", dtypes=FLOAT, tol=1e-5),
    # Extrema and selection
    _spec2("maximum", dtypes=ALL),
    _spec2("minimum", dtypes=ALL),
    OpSpec("clip", jnp.clip, np.clip, 3, domain=(U(), U(-2, -0.5), U(0.5, 2)),
           dtypes=NUMERIC),
    OpSpec("where", jnp.where, np.where, 3, domain=(U(), U(), U()), dtypes=ALL,
           grad_argnums=(1, 2)),
    # Classification and sign
    _spec1("isnan", domain=with_specials(), dtypes=NUMERIC, grad_order=None),
    _spec1("isinf", domain=with_specials(), dtypes=NUMERIC, grad_order=None),
    _spec1("isfinite", domain=with_specials(), dtypes=ALL, grad_order=None),
    _spec1("signbit", domain=with_specials(), dtypes=NUMERIC, grad_order=None),
    _spec2("copysign", domain=(U(), with_specials()), dtypes=FLOAT,
           grad_domain=(NZ, NZ)),
    # JAX's heaviside(nan, x2) is x2 (NumPy's is nan).
    _spec2("heaviside", domain=(with_specials(), U()), dtypes=FLOAT, grad_domain=(NZ, U()),
           ref=lambda x1, x2: np.where(np.isnan(x1), x2, np.heaviside(x1, x2))),
    # Logic and bits
    _spec2("logical_and", dtypes=ALL, grad_order=None, domain=U(-1, 1)),
    _spec2("logical_or", dtypes=ALL, grad_order=None, domain=U(-1, 1)),
    _spec2("logical_xor", dtypes=ALL, grad_order=None, domain=U(-1, 1)),
    _spec1("logical_not", dtypes=ALL, grad_order=None, domain=U(-1, 1)),
    _spec2("bitwise_and", dtypes=(np.int32, np.bool_), grad_order=None, domain=U(-99, 99)),
    _spec2("bitwise_or", dtypes=(np.int32, np.bool_), grad_order=None, domain=U(-99, 99)),
    _spec2("bitwise_xor", dtypes=(np.int32, np.bool_), grad_order=None, domain=U(-99, 99)),
    _spec1("bitwise_not", dtypes=(np.int32, np.bool_), grad_order=None, domain=U(-99, 99)),
    _spec1("invert", dtypes=(np.int32, np.bool_), grad_order=None, domain=U(-99, 99)),
    _spec2("left_shift", domain=(U(-99, 99), U(0, 20)), dtypes=INT, grad_order=None),
    _spec2("right_shift", domain=(U(-999, 999), U(0, 31)), dtypes=INT, grad_order=None),
    # Comparisons
    *[_spec2(n, dtypes=ALL, grad_order=None, domain=U(-2, 2))
      for n in ("equal", "not_equal", "less", "less_equal", "greater", "greater_equal")],
    _spec2("isclose", domain=(U(), U()), dtypes=FLOAT, grad_order=None),
    _spec2("allclose", domain=(U(-1e-9, 1e-9), U(-1e-9, 1e-9)), dtypes=FLOAT, grad_order=None,
           ref=lambda a, b: np.asarray(np.allclose(a, b)), vmap=True),
    _spec2("array_equal", domain=(U(0, 1), U(0, 1)), dtypes=(np.int32, np.bool_),
           grad_order=None, ref=lambda a, b: np.asarray(np.array_equal(a, b))),
]

GRAD_SPECS = [s for s in SPECS if s.grad_order is not None]


globals().update(table_tests(SPECS, examples=(12, 3, 4, 2, 3)))


# ---------------------------------------------------------------------------------------
# Gradient conventions at kinks (JAX's choices)


def test_abs_grad_at_zero_is_one():
    # JAX's abs JVP is select(x >= 0, g, -g).
    assert jb.grad(jnp.abs)(0.0) == 1.0
    assert jb.grad(jnp.abs)(-0.0) == 1.0
    assert jb.grad(jnp.abs)(-2.0) == -1.0


def test_sqrt_grad_at_zero_is_inf():
    assert np.isinf(jb.grad(jnp.sqrt)(0.0))


def test_maximum_minimum_ties_split_gradient():
    assert jb.grad(jnp.maximum)(1.0, 1.0) == 0.5
    assert jb.grad(jnp.minimum, argnums=1)(1.0, 1.0) == 0.5
    assert jb.grad(lambda x: jnp.maximum(x, 0.0))(0.0) == 0.5
    assert jb.grad(lambda x: jnp.clip(x, -1.0, 1.0))(2.0) == 0.0


def test_where_gradient_goes_to_selected_branch_only():
    x = jnp.array([-1.0, 2.0, 3.0])
    g = jb.grad(lambda x: jnp.sum(jnp.where(x > 0, x * 2, x * 5)))(x)
    np.testing.assert_array_equal(g, [5.0, 2.0, 2.0])
    # The unselected branch's nan does not leak when the safe-where idiom is used.
    g = jb.grad(lambda x: jnp.sum(jnp.where(x > 0, jnp.sqrt(jnp.where(x > 0, x, 1.0)), 0.0)))(x)
    assert np.all(np.isfinite(g))


def test_sign_floor_round_have_zero_gradient():
    for f in (jnp.sign, jnp.floor, jnp.ceil, jnp.round, jnp.trunc, jnp.rint):
        assert jb.grad(f)(1.3) == 0.0


def test_sinc_derivatives_at_zero():
    assert jnp.sinc(0.0) == 1.0
    assert jb.grad(jnp.sinc)(0.0) == 0.0
    np.testing.assert_allclose(jb.grad(jb.grad(jnp.sinc))(0.0), -np.pi ** 2 / 3, rtol=1e-5)


def test_power_gradients_follow_jax():
    # Integer exponent: d/dx x**0 is 0 at x = 0; d/dy at x = 0 is 0 (log of 0 replaced).
    assert jb.grad(lambda x: x ** 0)(0.0) == 0.0
    assert jb.grad(lambda x: x ** 2)(3.0) == 6.0
    assert jb.grad(lambda y: jnp.power(0.0, y))(2.0) == 0.0
    assert jb.grad(lambda x: jnp.power(x, jnp.array(0)))(0.0) == 0.0
    assert jb.grad(lambda x: jnp.power(x, jnp.array(3)))(2.0) == 12.0


def test_logaddexp_grad_is_softmax_weights():
    g = jb.grad(jnp.logaddexp, argnums=(0, 1))(1.0, 1.0)
    np.testing.assert_allclose(g, (0.5, 0.5))
    g = jb.grad(jnp.logaddexp)(-jnp.inf, 0.0)
    assert g == 0.0


# ---------------------------------------------------------------------------------------
# Integer semantics (XLA's, as JAX)


def test_integer_division_by_zero():
    x = jnp.array([7, -7, 0], jnp.int32)
    z = jnp.zeros(3, jnp.int32)
    # XLA: x / 0 == -1, x % 0 == x; jnp.floor_divide then corrects by sign; jnp.remainder
    # and jnp.fmod divide by 1 instead of 0.
    np.testing.assert_array_equal(jnp.floor_divide(x, z), [-2, -2, -1])
    np.testing.assert_array_equal(jnp.remainder(x, z), [0, 0, 0])
    np.testing.assert_array_equal(jnp.fmod(x, z), [0, 0, 0])
    np.testing.assert_array_equal(x // 0, [-2, -2, -1])


def test_float_division_by_zero():
    np.testing.assert_array_equal(jnp.divide(jnp.array([1.0, -1.0]), 0.0), [np.inf, -np.inf])
    assert np.isnan(jnp.divide(0.0, 0.0))
    # floor_divide uses Python's float divmod: x // 0.0 is nan (not NumPy's inf).
    assert np.isnan(jnp.floor_divide(1.0, 0.0))
    assert np.isnan(jnp.remainder(1.0, 0.0))


def test_floor_divide_and_remainder_sign_rules():
    a = np.array([-7, -7, 7, 7, -6, 6], np.int32)
    b = np.array([2, -2, 2, -2, 3, -3], np.int32)
    np.testing.assert_array_equal(jnp.floor_divide(a, b), a // b)
    np.testing.assert_array_equal(jnp.remainder(a, b), a % b)
    np.testing.assert_array_equal(jnp.fmod(a, b), np.fmod(a, b))
    fa, fb = a.astype(np.float32) + 0.5, b.astype(np.float32)
    np.testing.assert_allclose(jnp.floor_divide(fa, fb), fa // fb)
    np.testing.assert_allclose(jnp.remainder(fa, fb), fa % fb, rtol=1e-6)
    q, r = jnp.divmod(a, b)
    np.testing.assert_array_equal(q, a // b)
    np.testing.assert_array_equal(r, a % b)


def test_int_min_divided_by_minus_one():
    m = jnp.array(np.iinfo(np.int32).min, jnp.int32)
    assert jnp.floor_divide(m, -1) == np.iinfo(np.int32).min
    assert jnp.remainder(m, -1) == 0


def test_integer_overflow_wraps():
    big = jnp.array(np.iinfo(np.int32).max, jnp.int32)
    assert (big + 1) == np.iinfo(np.int32).min
    assert (big * 2) == -2
    assert jnp.negative(jnp.array(np.iinfo(np.int32).min, jnp.int32)) == np.iinfo(np.int32).min
    assert (jnp.array(200, jnp.uint8) + jnp.array(100, jnp.uint8)) == 44
    assert jnp.left_shift(jnp.int32(1), 31) == np.iinfo(np.int32).min


def test_shifts_out_of_range():
    x = jnp.array([5, -5], jnp.int32)
    np.testing.assert_array_equal(jnp.left_shift(x, 32), [0, 0])
    np.testing.assert_array_equal(jnp.right_shift(x, 40), [0, -1])
    np.testing.assert_array_equal(jnp.right_shift(x, -1), [0, -1])


def test_integer_power():
    assert jnp.power(4, 3) == 64
    assert jnp.power(4, 3).dtype == jnp.int32
    np.testing.assert_array_equal(jnp.array([2, -3]) ** 3, [8, -27])
    with pytest.raises(TypeError, match="negative"):
        jnp.power(jnp.array([2, 3]), -1)
    with pytest.raises(TypeError, match="negative"):
        jnp.array(2) ** -2
    # A float base takes negative integer powers.
    np.testing.assert_allclose(jnp.power(jnp.array([2.0, 4.0]), -1), [0.5, 0.25])
    # Integer array exponents use binary exponentiation; 0 ** 0 == 1.
    np.testing.assert_array_equal(jnp.power(jnp.array([0, 0, 3]), jnp.array([0, 2, 4])),
                                  [1, 0, 81])
    assert jnp.power(jnp.array([2, 3]), jnp.array([2, 1])).dtype == jnp.int32


def test_integer_power_under_jit_and_bool_base():
    f = jb.jit(lambda x, y: x ** y)
    np.testing.assert_array_equal(f(jnp.array([2, 3]), jnp.array([3, 2])), [8, 9])
    assert jnp.power(True, 2) == 1


# ---------------------------------------------------------------------------------------
# Promotion


def test_bool_arithmetic():
    assert True + True == 2  # Python's
    t = jnp.array(True)
    assert (t + t).dtype == jnp.bool_ and bool(t + t)
    assert jnp.add(True, True).dtype == jnp.bool_
    assert (t * t).dtype == jnp.bool_
    assert (t + 1).dtype == jnp.int32 and int(t + 1) == 2
    assert (t + 1.5).dtype == jnp.float32
    assert jnp.sum(jnp.array([True, True, False])) == 2
    assert jnp.sum(jnp.array([True, True])).dtype == jnp.int32


def test_weak_scalars_do_not_promote_arrays():
    x = jnp.ones(3, jnp.float32)
    assert (x + 2.0).dtype == jnp.float32
    assert (x * 2).dtype == jnp.float32
    i = jnp.ones(3, jnp.int8)
    assert (i + 2).dtype == jnp.int8
    assert (i + 2.0).dtype == jnp.float32
    assert (jnp.ones(3, jnp.float16) * 3.0).dtype == jnp.float16


@pytest.mark.parametrize("op", [jnp.equal, jnp.less, jnp.greater_equal, jnp.not_equal])
def test_comparisons_of_mixed_dtypes(op):
    i = np.array([1, 2, 3], np.int32)
    f = np.array([1.0, 2.5, 2.0], np.float32)
    b = np.array([True, False, True])
    npop = getattr(np, op.__name__)
    for x, y in [(i, f), (f, i), (b, i), (i, b), (b, f), (i, 2.5), (f, 2), (i, True)]:
        out = op(jnp.asarray(x) if isinstance(x, np.ndarray) else x, y)
        assert out.dtype == jnp.bool_
        np.testing.assert_array_equal(out, npop(x, y))


def test_mixed_dtype_arithmetic_promotes_as_jax():
    i8 = jnp.ones(2, jnp.int8)
    u8 = jnp.ones(2, jnp.uint8)
    assert (i8 + u8).dtype == jnp.int16
    assert (jnp.ones(2, jnp.int32) + jnp.ones(2, jnp.float16)).dtype == jnp.float16
    assert (jnp.ones(2, jnp.int32) / jnp.ones(2, jnp.int32)).dtype == jnp.float32
    with jb.enable_x64():
        assert (jnp.ones(2, jnp.int64) / 2).dtype == jnp.float64
        assert (jnp.ones(2, jnp.int32) + jnp.ones(2, jnp.uint32)).dtype == jnp.int64


def test_unary_inexact_functions_on_ints_give_float32():
    for f in (jnp.sqrt, jnp.exp, jnp.sin, jnp.log1p, jnp.arctan, jnp.deg2rad):
        assert f(jnp.array([1, 2])).dtype == jnp.float32
    with jb.enable_x64():
        assert jnp.sqrt(jnp.array([1, 2])).dtype == jnp.float64
