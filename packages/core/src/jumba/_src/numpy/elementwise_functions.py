"""jumba.numpy's elementwise functions (arithmetic, comparisons, logic, transcendental)
on the lax primitives."""

from __future__ import annotations

import numpy as np

from jumba._src import core, dtypes
from jumba._src.core import Array, Tracer, get_aval
from jumba._src.lax import elementwise as ew
from jumba._src.lax import structural as st
from jumba._src.numpy.lax_numpy import (  # noqa: F401
    _binary_fast,
    _is_array,
    _to_operand,
    asarray,
    full_like,
    promote_dtypes,
    promote_dtypes_inexact,
)


def _ufunc2(prim, name):
    def fn(x, y, /):
        x, y = _binary_fast(x, y)
        return prim.bind(x, y)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name} with NumPy broadcasting and JAX type promotion."
    return fn


def _ufunc2_inexact(prim, name):
    def fn(x, y, /):
        x, y = promote_dtypes_inexact(x, y)
        return prim.bind(x, y)

    fn.__name__ = fn.__qualname__ = name
    return fn


def _ufunc1(prim, name, inexact=False):
    def fn(x, /):
        if type(x) is not Array and not isinstance(x, Tracer):
            x = _to_operand(x)
            if not _is_array(x):
                x = core.to_array(x)
        if inexact and not dtypes.is_inexact(x.dtype):
            x = promote_dtypes_inexact(x)[0]
        return prim.bind(x)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name}."
    return fn


add = _ufunc2(ew.add_p, "add")
subtract = _ufunc2(ew.sub_p, "subtract")
multiply = _ufunc2(ew.mul_p, "multiply")
maximum = _ufunc2(ew.max_p, "maximum")
minimum = _ufunc2(ew.min_p, "minimum")
equal = _ufunc2(ew.eq_p, "equal")
not_equal = _ufunc2(ew.ne_p, "not_equal")
less = _ufunc2(ew.lt_p, "less")
less_equal = _ufunc2(ew.le_p, "less_equal")
greater = _ufunc2(ew.gt_p, "greater")
greater_equal = _ufunc2(ew.ge_p, "greater_equal")
true_divide = divide = _ufunc2_inexact(ew.div_p, "divide")
arctan2 = _ufunc2_inexact(ew.atan2_p, "arctan2")
nextafter = _ufunc2_inexact(ew.nextafter_p, "nextafter")


def _bitwise(prim, name):
    def fn(x, y, /):
        x, y = promote_dtypes(x, y)
        dt = get_aval(x).dtype
        if dtypes.is_inexact(dt):
            raise TypeError(f"{name} is only defined for integer and boolean arrays, got "
                            f"{dt.name}")
        return prim.bind(x, y)

    fn.__name__ = name
    return fn


bitwise_and = _bitwise(ew.and_p, "bitwise_and")
bitwise_or = _bitwise(ew.or_p, "bitwise_or")
bitwise_xor = _bitwise(ew.xor_p, "bitwise_xor")
left_shift = _bitwise(ew.shift_left_p, "left_shift")
right_shift = _bitwise(ew.shift_right_arithmetic_p, "right_shift")


def bitwise_not(x, /):
    x = asarray(x)
    if dtypes.is_inexact(x.dtype):
        raise TypeError(f"bitwise_not is only defined for integer and boolean arrays, got "
                        f"{x.dtype.name}")
    return ew.not_p.bind(x)


invert = bitwise_not


def _logical(prim, name):
    def fn(x, y, /):
        return prim.bind(_as_bool(x), _as_bool(y))

    fn.__name__ = name
    return fn


def _as_bool(x):
    x = asarray(x)
    return x if x.dtype == np.bool_ else ew.ne(x, _zero_of(x))


logical_and = _logical(ew.and_p, "logical_and")
logical_or = _logical(ew.or_p, "logical_or")
logical_xor = _logical(ew.xor_p, "logical_xor")


def logical_not(x, /):
    return ew.not_p.bind(_as_bool(x))


def _zero_of(x):
    return np.zeros((), get_aval(x).dtype)


negative = _ufunc1(ew.neg_p, "negative")
sign = _ufunc1(ew.sign_p, "sign")
exp = _ufunc1(ew.exp_p, "exp", inexact=True)
exp2 = _ufunc1(ew.exp2_p, "exp2", inexact=True)
log = _ufunc1(ew.log_p, "log", inexact=True)
log1p = _ufunc1(ew.log1p_p, "log1p", inexact=True)
expm1 = _ufunc1(ew.expm1_p, "expm1", inexact=True)
sin = _ufunc1(ew.sin_p, "sin", inexact=True)
cos = _ufunc1(ew.cos_p, "cos", inexact=True)
tan = _ufunc1(ew.tan_p, "tan", inexact=True)
arcsin = _ufunc1(ew.asin_p, "arcsin", inexact=True)
arccos = _ufunc1(ew.acos_p, "arccos", inexact=True)
arctan = _ufunc1(ew.atan_p, "arctan", inexact=True)
sinh = _ufunc1(ew.sinh_p, "sinh", inexact=True)
cosh = _ufunc1(ew.cosh_p, "cosh", inexact=True)
tanh = _ufunc1(ew.tanh_p, "tanh", inexact=True)
arcsinh = _ufunc1(ew.asinh_p, "arcsinh", inexact=True)
arccosh = _ufunc1(ew.acosh_p, "arccosh", inexact=True)
arctanh = _ufunc1(ew.atanh_p, "arctanh", inexact=True)
sqrt = _ufunc1(ew.sqrt_p, "sqrt", inexact=True)
cbrt = _ufunc1(ew.cbrt_p, "cbrt", inexact=True)
square = _ufunc1(ew.square_p, "square")
isfinite = _ufunc1(ew.is_finite_p, "isfinite", inexact=True)
asin, acos, atan = arcsin, arccos, arctan
asinh, acosh, atanh = arcsinh, arccosh, arctanh
atan2 = arctan2


def absolute(x, /):
    x = asarray(x) if not _is_array(x) else x
    dt = get_aval(x).dtype
    if dt.kind in "ub" or dt == np.bool_:
        return x
    if dt.kind == "c":  # the modulus, a real array (composed so that it differentiates)
        from jumba._src.numpy.complex_numbers import modulus

        return modulus(x)
    return ew.abs_p.bind(x)


abs = absolute  # noqa: A001


def positive(x, /):
    return asarray(x)


def log2(x, /):
    x, = promote_dtypes_inexact(x)
    return ew.div(ew.log(x), np.asarray(np.log(2), get_aval(x).dtype))


def log10(x, /):
    x, = promote_dtypes_inexact(x)
    return ew.div(ew.log(x), np.asarray(np.log(10), get_aval(x).dtype))


def floor(x, /):
    x = asarray(x) if not _is_array(x) else x
    return x if not dtypes.is_inexact(get_aval(x).dtype) else ew.floor(x)


def ceil(x, /):
    x = asarray(x) if not _is_array(x) else x
    return x if not dtypes.is_inexact(get_aval(x).dtype) else ew.ceil(x)


def trunc(x, /):
    x = asarray(x) if not _is_array(x) else x
    if not dtypes.is_inexact(get_aval(x).dtype):
        return x
    return where(less(x, 0), ew.ceil(x), ew.floor(x))


fix = trunc


def round(a, decimals=0, out=None):  # noqa: A001
    a = asarray(a) if not _is_array(a) else a
    dt = get_aval(a).dtype
    if not dtypes.is_inexact(dt):
        return a
    if decimals == 0:
        return ew.round(a, rounding_method=1)
    factor = np.asarray(10.0 ** decimals, dt)
    return ew.div(ew.round(ew.mul(a, factor), rounding_method=1), factor)


around = round_ = round


def rint(x, /):
    x = asarray(x) if not _is_array(x) else x
    if not dtypes.is_inexact(get_aval(x).dtype):
        return st.convert_element_type(x, dtypes.default_float_dtype())
    return ew.round(x, rounding_method=1)


def isnan(x, /):
    x = asarray(x) if not _is_array(x) else x
    if not dtypes.is_inexact(get_aval(x).dtype):
        return full_like(x, False, dtype=bool)
    return ew.ne(x, x)


def isinf(x, /):
    x = asarray(x) if not _is_array(x) else x
    if not dtypes.is_inexact(get_aval(x).dtype):
        return full_like(x, False, dtype=bool)
    return ew.eq(ew.abs(x), np.asarray(np.inf, get_aval(x).dtype))


def isposinf(x, /):
    x = asarray(x)
    return equal(x, np.inf) if dtypes.is_inexact(x.dtype) else full_like(x, False, dtype=bool)


def isneginf(x, /):
    x = asarray(x)
    return equal(x, -np.inf) if dtypes.is_inexact(x.dtype) else full_like(x, False, dtype=bool)


def _concrete_int(x):
    """`x` as a Python int if it is a concrete integer scalar, else None."""
    if isinstance(x, bool) or isinstance(x, Tracer):
        return None
    if isinstance(x, (int, np.integer)):
        return int(x)
    if type(x) is Array or isinstance(x, np.ndarray):
        if x.ndim == 0 and x.dtype.kind in "iu":
            return int(core.to_numpy(x))
    return None


def power(x1, x2, /):
    """x1 ** x2 with JAX's cases: a concrete integer exponent becomes `integer_pow` (an
    integer base then rejects negative exponents); integer bases with integer exponent
    arrays use binary exponentiation; a float base takes an integer exponent array
    without promotion (so that x ** 0 has derivative 0 at x = 0); the rest promote and
    use `pow`."""
    n = _concrete_int(x2)
    if n is not None:
        x1 = _to_operand(x1)
        if not _is_array(x1):
            x1 = core.to_array(x1)
        if get_aval(x1).dtype == np.bool_:
            x1 = st.convert_element_type(x1, dtypes.default_int_dtype(), get_aval(x1).weak_type)
        return ew.integer_pow(x1, n)
    a1, a2 = promote_dtypes(x1, x2)
    dt = get_aval(a1).dtype
    if not dtypes.is_inexact(dt):
        if dt == np.bool_:
            a1, a2 = (st.convert_element_type(a, dtypes.default_int_dtype()) for a in (a1, a2))
        return _pow_int_int(a1, a2)
    x1, x2 = _to_operand(x1), _to_operand(x2)
    d1, d2 = get_aval(x1).dtype, get_aval(x2).dtype
    if dtypes.is_inexact(d1) and d2.kind in "iu" and _is_array(x1) and _is_array(x2):
        return ew.pow(x1, x2)
    return ew.pow(a1, a2)


def _pow_int_int(x1, x2):
    # Binary exponentiation over the exponent's low 6 bits, as JAX (more would overflow
    # for any |x1| > 1); 0 ** y is 0 for y != 0 and 1 for y == 0.
    dt = get_aval(x1).dtype
    zero, one = np.zeros((), dt), np.ones((), dt)
    acc = ew.select_n(ew.bitwise_and(ew.eq(x1, zero), ew.ne(x2, zero)), one, zero)
    for _ in range(6):
        take = ew.ne(ew.bitwise_and(x2, one), zero)
        acc = ew.select_n(take, acc, ew.mul(acc, x1))
        x1 = ew.mul(x1, x1)
        x2 = ew.shift_right_logical(x2, one)
    return acc


pow = power  # noqa: A001


def float_power(x1, x2, /):
    x1, x2 = promote_dtypes_inexact(x1, x2)
    return ew.pow(x1, x2)


def _promote_numeric(x1, x2):
    x1, x2 = promote_dtypes(x1, x2)
    if get_aval(x1).dtype == np.bool_:
        # NumPy and JAX divide booleans as integers.
        x1, x2 = (st.convert_element_type(a, dtypes.default_int_dtype(), get_aval(a).weak_type)
                  for a in (x1, x2))
    return x1, x2


def floor_divide(x1, x2, /):
    """x1 // x2 rounded toward minus infinity, with JAX's (XLA's) integer semantics:
    x // 0 is -1 corrected by the signs (so -2 for x != 0), floats follow Python's divmod."""
    x1, x2 = _promote_numeric(x1, x2)
    dt = get_aval(x1).dtype
    if dtypes.is_inexact(dt):
        return _float_divmod(x1, x2)[0]
    q = ew.div(x1, x2)
    if dt.kind == "u":
        return q
    zero = np.zeros((), dt)
    fix_ = ew.bitwise_and(ew.ne(ew.sign(x1), ew.sign(x2)), ew.ne(ew.rem(x1, x2), zero))
    return ew.select_n(fix_, q, ew.sub(q, np.ones((), dt)))


def _float_divmod(x1, x2):
    # CPython's float_divmod: the remainder takes the divisor's sign.
    mod = ew.rem(x1, x2)
    div = ew.div(ew.sub(x1, mod), x2)
    zero = _zero_of(mod)
    ind = ew.bitwise_and(ew.ne(mod, zero), ew.ne(ew.sign(x2), ew.sign(mod)))
    mod = ew.select_n(ind, mod, ew.add(mod, x2))
    div = ew.select_n(ind, div, ew.sub(div, np.ones((), get_aval(div).dtype)))
    return ew.round(div, rounding_method=0), mod


def _nonzero_divisor(x2):
    # jnp.remainder and jnp.fmod divide integers by 1 where the divisor is 0.
    dt = get_aval(x2).dtype
    if dtypes.is_inexact(dt):
        return x2
    return ew.select_n(ew.eq(x2, np.zeros((), dt)), x2, np.ones((), dt))


def remainder(x1, x2, /):
    """Remainder with the divisor's sign (Python's %); integer x % 0 is 0 (as JAX)."""
    x1, x2 = _promote_numeric(x1, x2)
    x2 = _nonzero_divisor(x2)
    r = ew.rem(x1, x2)
    zero = _zero_of(r)
    fix_ = ew.bitwise_and(ew.ne(ew.lt(r, zero), ew.lt(x2, zero)), ew.ne(r, zero))
    return ew.select_n(fix_, r, ew.add(r, x2))


mod = remainder


def fmod(x1, x2, /):
    """Remainder with the dividend's sign (C's fmod); integer x % 0 is 0 (as JAX)."""
    x1, x2 = _promote_numeric(x1, x2)
    return ew.rem(x1, _nonzero_divisor(x2))


def divmod(x1, x2, /):  # noqa: A001
    x1, x2 = _promote_numeric(x1, x2)
    if dtypes.is_inexact(get_aval(x1).dtype):
        return _float_divmod(x1, x2)
    return floor_divide(x1, x2), remainder(x1, x2)


def reciprocal(x, /):
    x, = promote_dtypes_inexact(x)
    return ew.div(np.ones((), get_aval(x).dtype), x)


def clip(arr=None, /, min=None, max=None, *, a=None, a_min=None, a_max=None):  # noqa: A002
    """Clip values to [min, max] (either bound may be None)."""
    x = arr if arr is not None else a
    lo = min if min is not None else a_min
    hi = max if max is not None else a_max
    x = asarray(x) if not _is_array(x) else x
    if lo is not None:
        x = maximum(x, lo)
    if hi is not None:
        x = minimum(x, hi)
    return x


def where(condition, x=None, y=None, /, *, size=None, fill_value=None):
    """Elementwise choice between `x` (where `condition`) and `y`."""
    if x is None and y is None:
        from jumba._src.numpy.indexing import nonzero

        return nonzero(condition, size=size, fill_value=fill_value)
    if x is None or y is None:
        raise ValueError("where needs both x and y, or neither")
    condition = _as_bool(condition)
    x, y = promote_dtypes(x, y)
    return ew.select_n(condition, y, x)


def heaviside(x1, x2, /):
    x1, x2 = promote_dtypes_inexact(x1, x2)
    zero = _zero_of(x1)
    return where(less(x1, zero), zero, where(greater(x1, zero), np.ones((), x1.dtype), x2))


def hypot(x1, x2, /):
    x1, x2 = promote_dtypes_inexact(x1, x2)
    return sqrt(add(square(x1), square(x2)))


def deg2rad(x, /):
    x, = promote_dtypes_inexact(x)
    return multiply(x, np.asarray(np.pi / 180, x.dtype))


def rad2deg(x, /):
    x, = promote_dtypes_inexact(x)
    return multiply(x, np.asarray(180 / np.pi, x.dtype))


radians, degrees = deg2rad, rad2deg


def copysign(x1, x2, /):
    x1, x2 = promote_dtypes_inexact(x1, x2)
    return where(signbit(x2), negative(absolute(x1)), absolute(x1))


def signbit(x, /):
    x = asarray(x) if not _is_array(x) else x
    dt = get_aval(x).dtype
    if dt == np.bool_:
        return full_like(x, False, dtype=bool)
    if not dtypes.is_inexact(dt):
        return ew.lt(x, np.zeros((), dt))
    return ew.signbit(x)


def logaddexp(x1, x2, /):
    x1, x2 = promote_dtypes_inexact(x1, x2)
    return ew.logaddexp(x1, x2)


def logaddexp2(x1, x2, /):
    x1, x2 = promote_dtypes_inexact(x1, x2)
    ln2 = np.asarray(np.log(2), x1.dtype)
    return divide(logaddexp(multiply(x1, ln2), multiply(x2, ln2)), ln2)


def sinc(x, /):
    """sin(pi x) / (pi x), 1 at 0, with every derivative at 0 from the Maclaurin series
    (as JAX's custom JVP)."""
    x, = promote_dtypes_inexact(x)
    dt = get_aval(x).dtype
    is_zero = ew.eq(x, np.zeros((), dt))
    pix = ew.mul(x, np.asarray(np.pi, dt))
    safe = ew.select_n(is_zero, pix, np.ones((), dt))
    return ew.select_n(is_zero, ew.div(ew.sin(safe), safe), ew.sinc_maclaurin(pix, 0))
