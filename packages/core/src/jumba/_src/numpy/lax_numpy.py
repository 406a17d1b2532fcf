"""jumba.numpy's core: array creation, type promotion, elementwise functions, reductions,
shape functions and contractions, written on the lax primitives."""

from __future__ import annotations

import builtins
import operator
from typing import Any

import numpy as np

from jumba._src import core, dtypes
from jumba._src.core import Array, Tracer, get_aval
from jumba._src.lax import elementwise as ew
from jumba._src.lax import reductions as red
from jumba._src.lax import structural as st
from jumba._src.lax.dot import dot_general

ndarray = Array
ArrayLike = Any

# ---------------------------------------------------------------------------------------
# Conversion and promotion


def _is_array(x) -> bool:
    return type(x) is Array or isinstance(x, Tracer)


def asarray(a, dtype=None, order=None, *, copy=None, device=None):
    """Convert to a jumba array (NumPy arrays, Python scalars, nested lists, arrays)."""
    if dtype is not None:
        dtype = dtypes.canonicalize_dtype(np.dtype(dtype))
    if _is_array(a):
        return a if dtype is None else st.convert_element_type(a, dtype)
    if isinstance(a, (bool, int, float, complex)) and dtype is None:
        return core.to_array(a)
    if isinstance(a, (list, tuple)) and builtins.any(_is_array(x) for x in _flat_seq(a)):
        return stack([asarray(x, dtype) for x in a]) if len(a) else asarray(np.zeros(0), dtype)
    if hasattr(a, "__jax_array__"):
        return asarray(a.__jax_array__(), dtype)
    # Lists and scalars become a fresh buffer; anything else (NumPy arrays, `__array__` and
    # `__dlpack__` objects such as torch tensors) may share memory its owner can mutate.
    fresh = isinstance(a, (list, tuple, bool, int, float, complex, np.generic))
    if not isinstance(a, np.ndarray) and hasattr(a, "__dlpack__") and not hasattr(
            a, "__array__"):
        a = np.from_dlpack(a)
    v = np.asarray(a)
    if v.dtype == object:
        raise TypeError(f"jumba.numpy.asarray: cannot convert {type(a).__name__} to an array "
                        "(it holds Python objects)")
    target = dtype if dtype is not None else dtypes.canonicalize_dtype(v.dtype)
    if v.dtype != target:
        if copy is False:
            raise ValueError(f"jumba.numpy.asarray: converting {v.dtype} to {target} needs a "
                             "copy, but copy=False; pass copy=None.")
        v = v.astype(target)
    elif copy is False:
        v = v.view()  # shared on request; our view at least cannot write
        v.flags.writeable = False
    elif copy or not fresh:
        v = v.copy()  # the owner may mutate their buffer; ours is immutable
    return Array(v, False)


def array(object, dtype=None, copy=True, order="K", ndmin=0):  # noqa: A002
    out = asarray(object, dtype)
    if ndmin > out.ndim:
        out = st.reshape(out, (1,) * (ndmin - out.ndim) + out.shape)
    return out


def _flat_seq(a):
    for x in a:
        if isinstance(x, (list, tuple)):
            yield from _flat_seq(x)
        else:
            yield x


def _to_operand(x):
    if type(x) is Array or isinstance(x, Tracer):
        return x
    if isinstance(x, (bool, int, float, complex)):
        return x
    return asarray(x)


def _promote2_fast(x, y):
    """promote_dtypes for the common pairs, or None: two floating arrays/tracers of one
    dtype and weak type, or a floating array/tracer with a Python int or float."""
    if type(x) is Array:
        dx, wx = x._value.dtype, x.weak_type
    elif isinstance(x, Tracer):
        a = x.aval
        dx, wx = a.dtype, a.weak_type
    else:
        return None
    # A weak `dx` only if it is the default float (others may be canonicalized).
    if dx.kind != "f" or (wx and dx != dtypes.python_scalar_dtype(1.0)):
        return None
    ty = type(y)
    if ty is Array:
        return [x, y] if y._value.dtype == dx and y.weak_type == wx else None
    if ty is float or ty is int:  # Python scalars join a float dtype without changing it
        return [x, Array(np.asarray(y, dx), wx)]
    if isinstance(y, Tracer):
        a = y.aval
        return [x, y] if a.dtype == dx and a.weak_type == wx else None
    return None


def promote_dtypes(*args):
    """Convert operands to their common dtype (JAX's promotion lattice, weak types kept)."""
    if len(args) == 2:
        out = _promote2_fast(*args)
        if out is not None:
            return out
    args = [_to_operand(a) for a in args]
    dt, weak = dtypes.result_type(*args, return_weak_type_flag=True)
    return [_convert(a, dt, weak) for a in args]


def _convert(a, dt, weak):
    if type(a) is Array and a._value.dtype == dt and a.weak_type == weak:
        return a
    if isinstance(a, (bool, int, float, complex)):
        return Array(np.asarray(a, dt), weak)
    if isinstance(a, Tracer):
        aval = a.aval
        if aval.dtype == dt and aval.weak_type == weak:
            return a  # what convert_element_type returns, without its checks
    return st.convert_element_type(a, dt, weak)


def promote_dtypes_inexact(*args):
    args = promote_dtypes(*args)
    dt = get_aval(args[0]).dtype
    if dtypes.is_inexact(dt):
        return args
    target = dtypes.to_inexact_dtype(dt)
    return [st.convert_element_type(a, target, get_aval(a).weak_type) for a in args]


def _binary_fast(x, y):
    # Eager fast path: two arrays of one dtype and weak type need no conversion.
    if type(x) is Array and type(y) is Array and x._value.dtype == y._value.dtype and \
            x.weak_type == y.weak_type:
        return x, y
    out = _promote2_fast(x, y)  # promote_dtypes' own fast path, without its frame
    return promote_dtypes(x, y) if out is None else out


# ---------------------------------------------------------------------------------------
# Elementwise functions


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


# ---------------------------------------------------------------------------------------
# Creation


def _dtype_or(dtype, default_fn):
    return dtypes.canonicalize_dtype(np.dtype(dtype)) if dtype is not None else default_fn()


def _shape_tuple(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        return tuple(operator.index(s) for s in shape)
    except TypeError:
        raise TypeError(f"Shapes must be sequences of Python integers, got {shape!r}. "
                        "Inside jit, shapes must be static: derive them from x.shape or "
                        "mark the argument static.") from None


def zeros(shape, dtype=None, *, device=None):
    dt = _dtype_or(dtype, dtypes.default_float_dtype)
    return Array(np.zeros(_shape_tuple(shape), dt), False)


def ones(shape, dtype=None, *, device=None):
    dt = _dtype_or(dtype, dtypes.default_float_dtype)
    return Array(np.ones(_shape_tuple(shape), dt), False)


def empty(shape, dtype=None, *, device=None):
    return zeros(shape, dtype)


def full(shape, fill_value, dtype=None, *, device=None):
    """An array of `shape` filled with `fill_value` (a scalar, or an array broadcast to
    `shape`); with no dtype, a Python scalar's weak type is kept (as lax.full)."""
    fv = fill_value if _is_array(fill_value) else asarray(fill_value)
    aval = get_aval(fv)
    dt = dtypes.canonicalize_dtype(np.dtype(dtype)) if dtype is not None else aval.dtype
    return _full(_shape_tuple(shape), fv, dt, dtype is None and aval.weak_type)


def _full(shape, fv, dt, weak):
    if type(fv) is Array and fv.ndim == 0:
        return Array(np.full(shape, fv._value, dt), weak)
    return broadcast_to(st.convert_element_type(fv, dt, weak), shape)


def zeros_like(a, dtype=None, shape=None, *, device=None):
    return full_like(a, 0, dtype, shape)


def ones_like(a, dtype=None, shape=None, *, device=None):
    return full_like(a, 1, dtype, shape)


def empty_like(a, dtype=None, shape=None, *, device=None):
    return zeros_like(a, dtype, shape)


def full_like(a, fill_value, dtype=None, shape=None, *, device=None):
    """`full` with the shape and dtype of `a` (and its weak type when no dtype is given)."""
    aval = get_aval(a)
    dt = dtypes.canonicalize_dtype(np.dtype(dtype)) if dtype is not None else aval.dtype
    fv = fill_value if _is_array(fill_value) else asarray(fill_value)
    shape = aval.shape if shape is None else _shape_tuple(shape)
    return _full(shape, fv, dt, dtype is None and aval.weak_type)


def arange(start, stop=None, step=None, dtype=None, *, device=None):
    """Evenly spaced values; the bounds must be concrete (static) values."""
    vals = [core.concrete_or_error(v, "jumba.numpy.arange bounds") if v is not None else None
            for v in (start, stop, step)]
    start_, stop_, step_ = (None if v is None else v[()] for v in vals)
    if stop_ is None:
        start_, stop_ = 0, start_
    if step_ is None:
        step_ = 1
    out = np.arange(start_, stop_, step_)
    if dtype is not None:
        out = np.arange(start_, stop_, step_, dtype=np.dtype(dtype))
    return asarray(out, dtype if dtype is not None else
                   (dtypes.default_float_dtype() if out.dtype.kind == "f" else
                    dtypes.default_int_dtype()))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *,
             device=None):
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"linspace: number of samples, {num}, must be non-negative.")
    dt = _dtype_or(dtype, dtypes.default_float_dtype)
    start, stop = promote_dtypes_inexact(start, stop)
    compute_dt = get_aval(start).dtype
    div = (num - 1) if endpoint else num
    steps = np.arange(num, dtype=compute_dt)
    delta = subtract(stop, start)
    s = expand_dims(start, -1) if get_aval(start).ndim else start
    d = expand_dims(delta, -1) if get_aval(delta).ndim else delta
    if div > 0:
        frac = np.asarray(steps / div, compute_dt)
        out = add(s, multiply(d, frac))
        if endpoint and num > 1:
            out = concatenate([out[..., :-1], expand_dims(asarray(stop), -1)], axis=-1)
    else:
        out = add(s, multiply(d, np.zeros(num, compute_dt)))
    out = moveaxis(out, -1, axis) if get_aval(out).ndim > 1 else out
    if dtype is not None and not dtypes.is_inexact(dt):
        out = floor(out)  # NumPy (and JAX) round toward minus infinity for integer dtypes
    out = out.astype(dt) if dtype is not None else out
    if retstep:
        step = divide(delta, div) if div > 0 else full_like(delta, np.nan)
        return out, step
    return out


def eye(N, M=None, k=0, dtype=None, *, device=None):
    dt = _dtype_or(dtype, dtypes.default_float_dtype)
    return Array(np.eye(N, M, k, dtype=dt), False)


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


# ---------------------------------------------------------------------------------------
# Reductions


def _canon_axes(axis, ndim, name):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = operator.index(a)
        if not -ndim <= a < builtins.max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ValueError(f"{name}: axis {a} is out of bounds for array of dimension "
                             f"{ndim}")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: duplicate value in 'axis': {axis}")
    return tuple(out) if ndim else ()


def _keepdims(y, in_shape, axes):
    return st.reshape(y, tuple(1 if i in axes else s for i, s in enumerate(in_shape)))


def _reduction(name, prim_fn, *, upcast_bool_int=False, identity=None, bool_out=False):
    def reduce(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None,
               promote_integers=True):
        if out is not None:
            raise NotImplementedError(f"{name}: the out= argument is not supported (arrays "
                                      "are immutable); use the return value.")
        a = asarray(a) if not _is_array(a) else a
        aval = get_aval(a)
        axes = _canon_axes(axis, aval.ndim, name)
        if bool_out:
            a = _as_bool(a)
        elif dtype is not None:
            a = st.convert_element_type(a, dtypes.canonicalize_dtype(np.dtype(dtype)))
        elif upcast_bool_int and (aval.dtype == np.bool_ or (
                aval.dtype.kind in "iu" and aval.dtype.itemsize < 4)):
            a = st.convert_element_type(a, dtypes.default_int_dtype() if aval.dtype.kind != "u"
                                        or aval.dtype == np.bool_ else dtypes.default_uint_dtype())
        if where is not None:
            if identity is None:
                if initial is None:
                    raise ValueError(f"{name}: reduction with where= needs an initial value")
                ident = initial
            else:
                ident = identity(get_aval(a).dtype)
            a = _where_fill(where, a, ident)
        y = prim_fn(a, axes)
        if initial is not None and identity is not None and not bool_out:
            y = _combine_initial(name, y, initial)
        elif initial is not None and identity is None:
            y = _combine_initial(name, y, initial)
        if keepdims:
            y = _keepdims(y, aval.shape, axes)
        return y

    reduce.__name__ = name
    reduce.__doc__ = f"{name} over `axis` (None: all axes), NumPy's signature."
    return reduce


def _where_fill(where, a, fill):
    where = _as_bool(where)
    fill = np.asarray(fill, get_aval(a).dtype)
    b = broadcast_to(where, np.broadcast_shapes(get_aval(where).shape, get_aval(a).shape))
    a = broadcast_to(a, get_aval(b).shape)
    return ew.select_n(b, fill, a)


def _combine_initial(name, y, initial):
    init = np.asarray(initial, get_aval(y).dtype)
    if name in ("sum",):
        return ew.add(y, init)
    if name == "prod":
        return ew.mul(y, init)
    if name in ("max", "amax"):
        return ew.max(y, init)
    if name in ("min", "amin"):
        return ew.min(y, init)
    return y


def _red_identity(value):
    def ident(dt):
        if value == "min":
            return -np.inf if dt.kind == "f" else (np.iinfo(dt).min if dt.kind in "iu" else
                                                   False)
        if value == "max":
            return np.inf if dt.kind == "f" else (np.iinfo(dt).max if dt.kind in "iu" else
                                                  True)
        return value

    return ident


sum = _reduction("sum", red.reduce_sum, upcast_bool_int=True, identity=_red_identity(0))  # noqa: A001
prod = _reduction("prod", red.reduce_prod, upcast_bool_int=True, identity=_red_identity(1))
max = amax = _reduction("max", red.reduce_max, identity=None)  # noqa: A001
min = amin = _reduction("min", red.reduce_min, identity=None)  # noqa: A001
all = _reduction("all", red.reduce_and, identity=_red_identity(True), bool_out=True)  # noqa: A001
any = _reduction("any", red.reduce_or, identity=_red_identity(False), bool_out=True)  # noqa: A001


def _wrap_maxmin_where(fn, kind):
    def wrapped(a, axis=None, out=None, keepdims=False, initial=None, where=None):
        if where is not None and initial is None:
            raise ValueError(f"reduction operation '{kind}' with where= needs an initial "
                             "value (as NumPy)")
        if where is not None:
            a = _where_fill(where, asarray(a), initial)
        a_ = asarray(a) if not _is_array(a) else a
        shape_ = get_aval(a_).shape
        reduced = _canon_axes(axis, len(shape_), kind)
        if initial is None and builtins.any(shape_[i] == 0 for i in reduced) or (
                initial is None and axis is None and get_aval(a_).size == 0):
            raise ValueError(f"zero-size array to reduction operation {kind} which has no "
                             "identity; pass initial=")
        return fn(a_, axis=axis, keepdims=keepdims, initial=initial)

    wrapped.__name__ = kind
    return wrapped


max = amax = _wrap_maxmin_where(max, "max")  # noqa: A001
min = amin = _wrap_maxmin_where(min, "min")  # noqa: A001


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=None):
    a = asarray(a) if not _is_array(a) else a
    aval = get_aval(a)
    axes = _canon_axes(axis, aval.ndim, "mean")
    dt = dtypes.canonicalize_dtype(np.dtype(dtype)) if dtype is not None else (
        aval.dtype if dtypes.is_inexact(aval.dtype) else dtypes.default_float_dtype())
    a = st.convert_element_type(a, dt, aval.weak_type and dtype is None)
    if where is None:
        n = int(np.prod([aval.shape[i] for i in axes], dtype=np.int64))
        total = sum(a, axis=axes, keepdims=keepdims)
        return ew.div(total, np.asarray(n, dt))
    w = _as_bool(where)
    total = sum(a, axis=axes, keepdims=keepdims, where=w)
    count = sum(broadcast_to(st.convert_element_type(w, dt), aval.shape), axis=axes,
                keepdims=keepdims)
    return ew.div(total, count)


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
        correction=None):
    if correction is not None:
        ddof = correction
    a = asarray(a) if not _is_array(a) else a
    aval = get_aval(a)
    axes = _canon_axes(axis, aval.ndim, "var")
    dt = dtypes.canonicalize_dtype(np.dtype(dtype)) if dtype is not None else (
        aval.dtype if dtypes.is_inexact(aval.dtype) else dtypes.default_float_dtype())
    a = st.convert_element_type(a, dt, aval.weak_type and dtype is None)
    centered = subtract(a, mean(a, axis=axes, keepdims=True, where=where))
    sq = multiply(centered, centered)
    if where is None:
        n = int(np.prod([aval.shape[i] for i in axes], dtype=np.int64))
        return ew.div(sum(sq, axis=axes, keepdims=keepdims), np.asarray(n - ddof, dt))
    w = _as_bool(where)
    count = sum(broadcast_to(st.convert_element_type(w, dt), aval.shape), axis=axes,
                keepdims=keepdims)
    return ew.div(sum(sq, axis=axes, keepdims=keepdims, where=w),
                  ew.sub(count, np.asarray(ddof, dt)))


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None,
        correction=None):
    return sqrt(var(a, axis, dtype, out, ddof, keepdims, where=where, correction=correction))


def _arg_reduction(name, prim_fn):
    def fn(a, axis=None, out=None, keepdims=False):
        a = asarray(a) if not _is_array(a) else a
        aval = get_aval(a)
        if aval.size == 0:
            raise ValueError(f"attempt to get {name} of an empty sequence")
        if axis is None:
            y = prim_fn(ravel(a), 0)
            return st.reshape(y, (1,) * aval.ndim) if keepdims else y
        (ax,) = _canon_axes(axis, aval.ndim, name)
        y = prim_fn(a, ax)
        return _keepdims(y, aval.shape, (ax,)) if keepdims else y

    fn.__name__ = name
    return fn


argmax = _arg_reduction("argmax", red.argmax)
argmin = _arg_reduction("argmin", red.argmin)


# ---------------------------------------------------------------------------------------
# Shape functions


def shape(a):
    return get_aval(a).shape


def ndim(a):
    return get_aval(a).ndim


def size(a, axis=None):
    s = get_aval(a).shape
    return int(np.prod(s, dtype=np.int64)) if axis is None else s[axis]


def reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    if shape is None:
        shape = newshape
    if order != "C":
        raise NotImplementedError(f"jumba.numpy.reshape: order={order!r} is not supported; "
                                  "only order='C' (row-major) is. For Fortran order use "
                                  "a.T.reshape(shape[::-1]).T")
    a = asarray(a) if not _is_array(a) else a
    aval = get_aval(a)
    shape = _shape_tuple(shape)
    if shape.count(-1) > 1:
        raise ValueError(f"reshape: can only specify one unknown dimension, got {shape}")
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
        if known == 0 or aval.size % known:
            raise ValueError(f"cannot reshape array of shape {aval.shape} (size {aval.size}) "
                             f"into shape {shape}")
        shape = tuple(aval.size // known if s == -1 else s for s in shape)
    if int(np.prod(shape, dtype=np.int64)) != aval.size:
        raise ValueError(f"cannot reshape array of shape {aval.shape} (size {aval.size}) into "
                         f"shape {shape} (size {int(np.prod(shape, dtype=np.int64))})")
    return st.reshape(a, shape)


def ravel(a, order="C"):
    a = asarray(a) if not _is_array(a) else a
    return st.reshape(a, (get_aval(a).size,))


def transpose(a, axes=None):
    a = asarray(a) if not _is_array(a) else a
    nd = get_aval(a).ndim
    if axes is None:
        axes = tuple(range(nd))[::-1]
    axes = tuple(operator.index(x) % nd if nd else 0 for x in axes)
    if sorted(axes) != list(range(nd)):
        raise ValueError(f"transpose: axes {axes} don't match array of dimension {nd}")
    return st.transpose(a, axes)


def permute_dims(a, axes):
    return transpose(a, axes)


def matrix_transpose(x, /):
    nd = get_aval(x).ndim
    if nd < 2:
        raise ValueError(f"matrix_transpose needs at least 2 dimensions, got {nd}")
    return swapaxes(x, -1, -2)


def moveaxis(a, source, destination):
    a = asarray(a) if not _is_array(a) else a
    nd = get_aval(a).ndim
    src = _canon_axes(source, nd, "moveaxis")
    dst = _canon_axes(destination, nd, "moveaxis")
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination must have the same number of "
                         "elements")
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return st.transpose(a, tuple(order))


def swapaxes(a, axis1, axis2):
    a = asarray(a) if not _is_array(a) else a
    nd = get_aval(a).ndim
    (a1,), (a2,) = _canon_axes(axis1, nd, "swapaxes"), _canon_axes(axis2, nd, "swapaxes")
    perm = list(range(nd))
    perm[a1], perm[a2] = perm[a2], perm[a1]
    return st.transpose(a, tuple(perm))


def expand_dims(a, axis):
    a = asarray(a) if not _is_array(a) else a
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    nd = get_aval(a).ndim + len(axes)
    axes = _canon_axes(axes, nd, "expand_dims")
    return st.expand_dims(a, axes)


def squeeze(a, axis=None):
    a = asarray(a) if not _is_array(a) else a
    s = get_aval(a).shape
    if axis is None:
        axes = tuple(i for i, d in enumerate(s) if d == 1)
    else:
        axes = _canon_axes(axis, len(s), "squeeze")
    return st.squeeze(a, axes)


def atleast_1d(*arys):
    out = [reshape(a, (1,)) if get_aval(a).ndim == 0 else asarray(a) for a in arys]
    return out[0] if len(out) == 1 else out


def atleast_2d(*arys):
    out = []
    for a in arys:
        a = asarray(a) if not _is_array(a) else a
        nd = get_aval(a).ndim
        out.append(reshape(a, (1,) * (2 - nd) + get_aval(a).shape) if nd < 2 else a)
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys):
    out = []
    for a in arys:
        a = asarray(a) if not _is_array(a) else a
        s = get_aval(a).shape
        if len(s) == 0:
            a = reshape(a, (1, 1, 1))
        elif len(s) == 1:
            a = reshape(a, (1, s[0], 1))
        elif len(s) == 2:
            a = reshape(a, (*s, 1))
        out.append(a)
    return out[0] if len(out) == 1 else out


def broadcast_shapes(*shapes):
    return np.broadcast_shapes(*shapes)


def broadcast_to(array, shape):
    array = asarray(array) if not _is_array(array) else array
    shape = _shape_tuple(shape)
    src = get_aval(array).shape
    try:
        if np.broadcast_shapes(src, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast array of shape {src} to shape "
                         f"{shape}") from None
    return st.broadcast_to(array, shape)


def broadcast_arrays(*args):
    args = [asarray(a) if not _is_array(a) else a for a in args]
    shape = np.broadcast_shapes(*(get_aval(a).shape for a in args))
    return [st.broadcast_to(a, shape) for a in args]


def concatenate(arrays, axis=0, dtype=None):
    if not isinstance(arrays, (list, tuple)):
        arrays = list(arrays) if not _is_array(arrays) else [arrays[i] for i in
                                                             range(len(arrays))]
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    arrays = promote_dtypes(*arrays)
    if dtype is not None:
        arrays = [st.convert_element_type(a, dtype) for a in arrays]
    if axis is None:
        return st.concatenate([ravel(a) for a in arrays], 0)
    nd = get_aval(arrays[0]).ndim
    if nd == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    (ax,) = _canon_axes(axis, nd, "concatenate")
    for a in arrays:
        if get_aval(a).ndim != nd:
            raise ValueError(f"concatenate: all the input arrays must have the same number "
                             f"of dimensions; got shapes "
                             f"{[get_aval(b).shape for b in arrays]}")
    return st.concatenate(arrays, ax)


concat = concatenate


def stack(arrays, axis=0, out=None, dtype=None):
    arrays = list(arrays)
    if not arrays:
        raise ValueError("need at least one array to stack")
    shapes = {get_aval(asarray(a) if not _is_array(a) else a).shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"stack: all input arrays must have the same shape, got "
                         f"{sorted(shapes)}")
    nd = len(next(iter(shapes))) + 1
    (ax,) = _canon_axes(axis, nd, "stack")
    return concatenate([expand_dims(a, ax) for a in arrays], axis=ax, dtype=dtype)


def hstack(tup, dtype=None):
    arrs = [atleast_1d(a) for a in tup]
    return concatenate(arrs, axis=0 if get_aval(arrs[0]).ndim == 1 else 1, dtype=dtype)


def vstack(tup, dtype=None):
    return concatenate([atleast_2d(a) for a in tup], axis=0, dtype=dtype)


row_stack = vstack


def dstack(tup, dtype=None):
    return concatenate([atleast_3d(a) for a in tup], axis=2, dtype=dtype)


def column_stack(tup):
    arrs = [reshape(a, (-1, 1)) if get_aval(a).ndim < 2 else a for a in tup]
    return concatenate(arrs, axis=1)


def split(ary, indices_or_sections, axis=0):
    ary = asarray(ary) if not _is_array(ary) else ary
    aval = get_aval(ary)
    (ax,) = _canon_axes(axis, aval.ndim, "split")
    n = aval.shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0 or n % k:
            raise ValueError(f"array split does not result in an equal division: axis of "
                             f"size {n} into {k} sections")
        points = [i * (n // k) for i in range(1, k)]
    else:
        points = [operator.index(i) for i in indices_or_sections]
    bounds = [0, *points, n]
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        # Python slice semantics, as NumPy's ary[lo:hi] (negative indices wrap).
        lo, hi, _ = builtins.slice(lo, hi).indices(n)
        start = [0] * aval.ndim
        limit = list(aval.shape)
        start[ax], limit[ax] = lo, builtins.max(hi, lo)
        out.append(st.slice(ary, start, limit))
    return out


def array_split(ary, indices_or_sections, axis=0):
    if isinstance(indices_or_sections, (int, np.integer)):
        n = get_aval(ary).shape[axis]
        k = int(indices_or_sections)
        q, r = builtins.divmod(n, k)
        sizes = [q + 1] * r + [q] * (k - r)
        points = list(np.cumsum(sizes)[:-1])
        return split(ary, points, axis)
    return split(ary, indices_or_sections, axis)


def hsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, axis=1 if get_aval(ary).ndim > 1 else 0)


def vsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, axis=0)


def dsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, axis=2)


def tile(A, reps):
    from jumba._src.lax.convenience import tile as lax_tile

    return lax_tile(asarray(A) if not _is_array(A) else A, reps)


def repeat(a, repeats, axis=None, *, total_repeat_length=None):
    a = asarray(a) if not _is_array(a) else a
    if axis is None:
        a = ravel(a)
        axis = 0
    aval = get_aval(a)
    (ax,) = _canon_axes(axis, aval.ndim, "repeat")
    if isinstance(repeats, (int, np.integer)) and (
            total_repeat_length is None or total_repeat_length == repeats * aval.shape[ax]):
        r = int(repeats)
        shape = list(aval.shape)
        b = st.broadcast_in_dim(a, (*shape[:ax + 1], r, *shape[ax + 1:]),
                                tuple(i if i <= ax else i + 1 for i in range(aval.ndim)))
        shape[ax] *= r
        return st.reshape(b, shape)
    n = aval.shape[ax]
    if isinstance(repeats, Tracer) and repeats.concrete_value() is None:
        if total_repeat_length is None:
            raise core.ConcretizationTypeError(
                "jumba.numpy.repeat: traced array `repeats` give an output length unknown "
                "while tracing; pass total_repeat_length=<int> (static) or make repeats "
                "static (static_argnums).")
        return _repeat_traced(a, repeats, ax, int(total_repeat_length))
    reps = np.asarray(core.concrete_or_error(repeats, "jumba.numpy.repeat"))
    if reps.dtype.kind not in "iub":
        if reps.size and not np.all(reps == np.round(reps)):
            raise ValueError(f"repeat: repeats must be integers, got {reps}")
        reps = reps.astype(np.int64)
    if reps.ndim > 1 or (reps.ndim == 1 and reps.shape[0] not in (1, n)):
        raise ValueError(f"repeat: repeats of shape {reps.shape} do not match axis {ax} of "
                         f"size {n} (shape {aval.shape})")
    if np.any(reps < 0):
        raise ValueError("repeat: repeats may not contain negative values")
    idx = np.repeat(np.arange(n), np.broadcast_to(reps, (n,)))
    if total_repeat_length is not None:
        # As JAX: truncate, or fill up to the requested length with the last element.
        L = int(total_repeat_length)
        idx = idx[:L] if len(idx) >= L or n == 0 else np.concatenate(
            [idx, np.full(L - len(idx), n - 1)])
    from jumba._src.numpy.indexing import take

    return take(a, np.asarray(idx, np.int32), axis=ax, mode="clip", indices_are_sorted=True)


def _repeat_traced(a, repeats, ax, length):
    # As JAX: output position i takes source k, the last k whose start offset
    # (exclusive cumsum of repeats) is <= i; positions past sum(repeats) take the last k.
    from jumba._src.lax.cumulative import cumsum
    from jumba._src.numpy.indexing import take

    n = get_aval(a).shape[ax]
    reps = st.broadcast_to(st.convert_element_type(repeats, np.int32), (n,))
    ends = cumsum(reps, 0)
    pos = np.arange(length, dtype=np.int32)
    src = red.reduce_sum(st.convert_element_type(
        ew.le(st.broadcast_in_dim(ends, (length, n), (1,)),
              st.broadcast_in_dim(pos, (length, n), (0,))), np.int32), (1,))
    src = ew.min(src, np.int32(builtins.max(n - 1, 0)))
    return take(a, src, axis=ax, mode="clip", indices_are_sorted=True)


def flip(m, axis=None):
    m = asarray(m) if not _is_array(m) else m
    axes = _canon_axes(axis, get_aval(m).ndim, "flip")
    return st.rev(m, axes)


def fliplr(m):
    return flip(m, 1)


def flipud(m):
    return flip(m, 0)


def roll(a, shift, axis=None):
    a = asarray(a) if not _is_array(a) else a
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), get_aval(a).shape)
    shifts = (shift,) if isinstance(shift, (int, np.integer)) else tuple(shift)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    shifts, axes = np.broadcast_arrays(np.asarray(shifts), np.asarray(axes))
    for s, ax in zip(shifts.ravel(), axes.ravel()):
        n = get_aval(a).shape[ax]
        if n == 0:
            continue
        s = int(s) % n
        if s:
            a = concatenate([_take_slice(a, n - s, n, ax), _take_slice(a, 0, n - s, ax)], ax)
    return a


def _take_slice(a, lo, hi, ax):
    s = get_aval(a).shape
    start = [0] * len(s)
    limit = list(s)
    start[ax % len(s)], limit[ax % len(s)] = lo, hi
    return st.slice(a, start, limit)


# ---------------------------------------------------------------------------------------
# Contractions


def _promote_for_dot(a, b):
    a, b = promote_dtypes(a, b)
    return a, b


def matmul(a, b, /, *, precision=None, preferred_element_type=None):
    """Matrix product with NumPy's rules for 1-D operands and batch broadcasting."""
    a, b = _promote_for_dot(a, b)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if len(sa) == 0 or len(sb) == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension, got shapes "
                         f"{sa} and {sb}")
    orig = sa, sb
    a_vec, b_vec = len(sa) == 1, len(sb) == 1
    if a_vec:
        a = st.reshape(a, (1, sa[0]))
    if b_vec:
        b = st.reshape(b, (sb[0], 1))
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if sa[-1] != sb[-2]:
        raise ValueError(f"matmul: contracting dimensions differ: shapes {orig[0]} @ {orig[1]} "
                         f"(size {sa[-1]} of the first's last axis vs size {sb[-2]} of the "
                         f"second's {'only' if b_vec else 'second-to-last'} axis)")
    try:
        batch = np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of shapes {orig[0]} @ {orig[1]} do not "
                         "broadcast") from None
    a = st.broadcast_to(a, (*batch, *sa[-2:]))
    b = st.broadcast_to(b, (*batch, *sb[-2:]))
    nb = len(batch)
    out = dot_general(a, b, (((nb + 1,), (nb,)), (tuple(range(nb)), tuple(range(nb)))),
                      preferred_element_type)
    s = get_aval(out).shape
    if a_vec and b_vec:
        return st.reshape(out, s[:-2])
    if a_vec:
        return st.reshape(out, (*s[:-2], s[-1]))
    if b_vec:
        return st.reshape(out, s[:-1])
    return out


def dot(a, b, *, precision=None, preferred_element_type=None):
    a, b = _promote_for_dot(a, b)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if len(sa) == 0 or len(sb) == 0:
        return multiply(a, b)
    pet = preferred_element_type
    if sa[-1] != sb[0 if len(sb) == 1 else -2]:
        raise ValueError(f"dot: shapes {sa} and {sb} not aligned: size {sa[-1]} of the "
                         f"first's last axis vs {sb[0 if len(sb) == 1 else -2]} of the "
                         f"second's {'only' if len(sb) == 1 else 'second-to-last'} axis")
    if len(sb) == 1:
        return tensordot(a, b, ((len(sa) - 1,), (0,)), preferred_element_type=pet)
    return tensordot(a, b, ((len(sa) - 1,), (len(sb) - 2,)), preferred_element_type=pet)


def vdot(a, b, *, precision=None, preferred_element_type=None):
    a, b = _promote_for_dot(a, b)
    if get_aval(a).size != get_aval(b).size:
        raise ValueError(f"vdot: operands of shapes {get_aval(a).shape} and "
                         f"{get_aval(b).shape} have different sizes")
    if dtypes.issubdtype(get_aval(a).dtype, np.complexfloating) and "conj" in globals():
        a = globals()["conj"](a)
    return dot(ravel(a), ravel(b), preferred_element_type=preferred_element_type)


def inner(a, b, *, precision=None, preferred_element_type=None):
    a, b = _promote_for_dot(a, b)
    if get_aval(a).ndim == 0 or get_aval(b).ndim == 0:
        return multiply(a, b)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if sa[-1] != sb[-1]:
        raise ValueError(f"inner: last axes of shapes {sa} and {sb} differ in size")
    return tensordot(a, b, ((-1,), (-1,)), preferred_element_type=preferred_element_type)


def outer(a, b, out=None):
    a, b = _promote_for_dot(ravel(a), ravel(b))
    return multiply(st.reshape(a, (get_aval(a).size, 1)), b)


def tensordot(a, b, axes=2, *, precision=None, preferred_element_type=None):
    a, b = _promote_for_dot(a, b)
    na, nb = get_aval(a).ndim, get_aval(b).ndim
    if isinstance(axes, (int, np.integer)):
        k = int(axes)
        if k > builtins.min(na, nb) or k < 0:
            raise ValueError(f"tensordot: axes={k} exceeds the ranks of the operands "
                             f"({na}, {nb})")
        ca, cb = tuple(range(na - k, na)), tuple(range(k))
    else:
        ax_a, ax_b = axes
        ax_a = (ax_a,) if isinstance(ax_a, (int, np.integer)) else tuple(ax_a)
        ax_b = (ax_b,) if isinstance(ax_b, (int, np.integer)) else tuple(ax_b)
        if len(ax_a) != len(ax_b):
            raise ValueError("tensordot: the two axis lists must have the same length")
        ca = tuple(x % na for x in ax_a)
        cb = tuple(x % nb for x in ax_b)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    for i, j in zip(ca, cb):
        if sa[i] != sb[j]:
            raise ValueError(f"tensordot: shape mismatch: axis {i} of {sa} has size {sa[i]}, "
                             f"axis {j} of {sb} has size {sb[j]}")
    return dot_general(a, b, ((ca, cb), ((), ())), preferred_element_type)


def einsum(subscripts, *operands, optimize="optimal", precision=None,
           preferred_element_type=None):
    """Einstein summation (see jax.numpy.einsum), contracted pairwise with dot_general in
    the order NumPy's einsum_path chooses (`optimize`: 'optimal', 'greedy', True, False or
    an explicit path)."""
    from jumba._src.numpy.einsum import einsum as _einsum

    return _einsum(subscripts, *operands, optimize=optimize,
                   preferred_element_type=preferred_element_type)


def einsum_path(subscripts, *operands, optimize="greedy"):
    """The contraction path einsum would take: NumPy's (path, report) pair."""
    from jumba._src.numpy.einsum import einsum_path as _einsum_path

    return _einsum_path(subscripts, *operands, optimize=optimize)


# ---------------------------------------------------------------------------------------
# Types


def astype(x, dtype, /, *, copy=False, device=None):
    x = asarray(x) if not _is_array(x) else x
    return st.convert_element_type(x, dtypes.canonicalize_dtype(np.dtype(dtype)))


def result_type(*args):
    return dtypes.result_type(*args)


def can_cast(from_, to, casting="safe"):
    return np.can_cast(from_, to, casting)


def iscomplexobj(x):
    return get_aval(x).dtype.kind == "c"


def isrealobj(x):
    return not iscomplexobj(x)


def isscalar(element):
    if _is_array(element):
        return get_aval(element).ndim == 0
    return np.isscalar(element)


def copy(a, order=None):
    return asarray(a)


def array_equal(a1, a2, equal_nan=False):
    a1, a2 = asarray(a1), asarray(a2)
    if a1.shape != a2.shape:
        return Array(np.asarray(False))
    eq_ = equal(a1, a2)
    if equal_nan:
        eq_ = logical_or(eq_, logical_and(isnan(a1), isnan(a2)))
    return all(eq_)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return all(isclose(a, b, rtol, atol, equal_nan))


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    a, b = promote_dtypes_inexact(a, b)
    dt = get_aval(a).dtype
    diff = absolute(subtract(a, b))
    tol = add(np.asarray(atol, dt), multiply(np.asarray(rtol, dt), absolute(b)))
    out = less_equal(diff, tol)
    both_inf = logical_and(isinf(a), equal(a, b))
    out = logical_or(logical_and(out, isfinite(b)), both_inf)
    if equal_nan:
        out = logical_or(out, logical_and(isnan(a), isnan(b)))
    return out

