"""Elementwise primitives: one block per primitive with its rules side by side.

Operands of an n-ary primitive share one dtype (jumba.numpy promotes first) and broadcast
with NumPy's right-aligned rule, so that no broadcast is materialised before a kernel.
"""

from __future__ import annotations

import builtins

import numpy as np

from jumba._src import core, dtypes
from jumba._src.core import Primitive, ShapedArray, get_aval
from jumba._src.interpreters import ad, batching
from jumba._src.interpreters.ad import Zero, is_undefined_primal

# ---------------------------------------------------------------------------------------
# Rule shapes


def _check_same_dtype(name, avals):
    dts = {a.dtype for a in avals}
    if len(dts) > 1:
        listed = ", ".join(a.dtype.name for a in avals)
        raise TypeError(
            f"lax.{name} requires arguments of one dtype, got {listed}. Use jumba.numpy "
            f"(which promotes types) or convert with .astype().")


def broadcast_shapes_for(name, shapes):
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        listed = " and ".join(str(tuple(s)) for s in shapes)
        raise ValueError(
            f"{name}: shapes {listed} do not broadcast together (NumPy broadcasting: trailing "
            "axes must be equal or 1). Reshape or expand_dims one operand.") from None


def _nary_abstract_eval(name, out_dtype=None, accept=None):
    accepted = {}  # dtype -> accept(dtype), memoized

    def rule(*avals):
        # Fast path: one operand, or two of one shape and dtype (avals are immutable, so an
        # operand's aval can be the result's).
        a = avals[0]
        n = len(avals)
        if out_dtype is None and n <= 2 and type(a) is ShapedArray:
            dt = a.dtype
            ok = accepted.get(dt)
            if ok is None and accept is not None:
                ok = accepted[dt] = bool(accept(dt))
            if ok is not False:
                if n == 1:
                    return a
                b = avals[1]
                if b.dtype == dt and b.shape == a.shape and type(b) is ShapedArray:
                    return b if a.weak_type else a
        _check_same_dtype(name, avals)
        if accept is not None and not accept(avals[0].dtype):
            raise TypeError(f"lax.{name} does not accept dtype {avals[0].dtype.name}")
        shape = avals[0].shape
        if any(a.shape != shape for a in avals[1:]):
            shape = broadcast_shapes_for(name, [a.shape for a in avals])
        if out_dtype is not None:
            return ShapedArray(shape, out_dtype, False)
        return ShapedArray(shape, avals[0].dtype, all(a.weak_type for a in avals))

    return rule


def standard_op(name, impl, *, nargs=1, out_dtype=None, accept=None):
    """Declare an elementwise primitive with its impl, abstract eval and batching rule."""
    p = Primitive(name)
    p.def_impl(impl)
    p.def_abstract_eval(_nary_abstract_eval(name, out_dtype, accept))
    p.weak_type_rule = core._never_weak if out_dtype is not None else core.all_weak
    p.elementwise = True  # eager reverse mode transposes its JVP terms without staging
    if nargs == 1:
        batching.defvectorized(p)
    else:
        batching.defbroadcasting(p)
    return p


def defjvp_zero(p):
    ad.primitive_jvps[p] = lambda primals, tangents, **params: (
        p.bind(*primals, **params), Zero(ad.tangent_aval(get_aval(p.bind(*primals, **params)))))
    ad.zero_derivative.add(p)


_float = dtypes.is_inexact
_int_or_bool = lambda dt: not dtypes.is_inexact(dt)  # noqa: E731


def _c(value, like):
    """A scalar constant of `like`'s dtype (keeps float32 math in float32)."""
    return np.asarray(value, get_aval(like).dtype)


def unbroadcast(ct, shape):
    """Sum a cotangent down to `shape`, undoing NumPy broadcasting."""
    if type(ct) is Zero:
        return ct
    if type(ct) is core.Array and ct._value.shape == shape:  # fast path: nothing to undo
        return ct
    ct_shape = get_aval(ct).shape
    shape = tuple(shape)
    if ct_shape == shape:
        return ct
    from jumba._src.lax.reductions import reduce_sum
    from jumba._src.lax.structural import reshape

    lead = len(ct_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and ct_shape[lead + i] != 1)
    return reshape(reduce_sum(ct, axes), shape)


def _ct_shape(x):
    return x.aval.shape if is_undefined_primal(x) else get_aval(x).shape


# ---------------------------------------------------------------------------------------
# Arithmetic

neg_p = standard_op("neg", np.negative)
ad.deflinear(neg_p, lambda ct, x: [neg(ct)])

add_p = standard_op("add", np.add, nargs=2)
ad.defjvp(add_p, lambda g, x, y: g, lambda g, x, y: g)
ad.primitive_transposes[add_p] = lambda ct, x, y: [
    unbroadcast(ct, _ct_shape(x)), unbroadcast(ct, _ct_shape(y))]

sub_p = standard_op("sub", np.subtract, nargs=2)
ad.defjvp(sub_p, lambda g, x, y: g, lambda g, x, y: neg(g))
ad.primitive_transposes[sub_p] = lambda ct, x, y: [
    unbroadcast(ct, _ct_shape(x)), unbroadcast(neg(ct), _ct_shape(y))]

mul_p = standard_op("mul", np.multiply, nargs=2)
ad.defjvp(mul_p, lambda g, x, y: mul(g, y), lambda g, x, y: mul(x, g))


def _mul_transpose(ct, x, y):
    if type(x) is ad.UndefinedPrimal:  # is_undefined_primal(x), inlined
        return [unbroadcast(mul(ct, y), x.aval.shape), None]
    return [None, unbroadcast(mul(x, ct), y.aval.shape)]


ad.primitive_transposes[mul_p] = _mul_transpose


def _int_operands(x, y):
    # XLA's integer division: x / 0 == -1 (all bits set) and x % 0 == x; for signed types
    # INT_MIN / -1 == INT_MIN and INT_MIN % -1 == 0. Compute on safe divisors, then patch.
    zero = y == 0
    overflow = np.zeros_like(zero)
    if x.dtype.kind == "i":
        overflow = (x == np.iinfo(x.dtype).min) & (y == -1)
    safe_y = np.where(zero | overflow, np.ones((), y.dtype), y)
    return zero, overflow, safe_y


def _div_impl(x, y):
    kind = x.dtype.kind
    if kind in "fc":  # first: the common case (a dtype comparison costs as much as a divide)
        return np.divide(x, y)
    if kind in "iu":
        zero, overflow, safe_y = _int_operands(x, y)
        # C division (round toward zero): floor division corrected where signs differ.
        q = np.floor_divide(x, safe_y)
        if x.dtype.kind == "i":
            q = np.where((np.remainder(x, safe_y) != 0) & ((x < 0) != (safe_y < 0)), q + 1, q)
        q = np.where(overflow, x, q)
        return np.where(zero, np.asarray(-1).astype(x.dtype), q).astype(x.dtype)
    if x.dtype == np.bool_:
        return np.asarray(x & y)
    return np.divide(x, y)


def _rem_impl(x, y):
    if x.dtype.kind in "iu":
        zero, overflow, safe_y = _int_operands(x, y)
        r = np.fmod(x, safe_y)
        return np.where(zero, x, np.where(overflow, 0, r)).astype(x.dtype)
    return np.fmod(x, y)


div_p = standard_op("div", _div_impl, nargs=2)
# d(x/y)/dy = -ans/y: the factor is computed on primals, so only one tangent op is staged.
ad.defjvp2(div_p, lambda g, ans, x, y: div(g, y),
           lambda g, ans, x, y: mul(g, neg(div(ans, y))))
ad.primitive_transposes[div_p] = lambda ct, x, y: [
    unbroadcast(div(ct, y), x.aval.shape), None]

rem_p = standard_op("rem", _rem_impl, nargs=2)
ad.defjvp(rem_p, lambda g, x, y: g,
          lambda g, x, y: mul(neg(g), mul(sign(div(x, y)), floor(abs(div(x, y))))))

max_p = standard_op("max", np.maximum, nargs=2)
min_p = standard_op("min", np.minimum, nargs=2)


def _balanced_eq(x, z, y):
    # 1 where x wins, 0.5 at ties (JAX's convention), 0 elsewhere.
    one, half, zero = _c(1, x), _c(0.5, x), _c(0, x)
    return select_n(eq(x, z), zero, select_n(eq(y, z), one, half))


ad.defjvp2(max_p, lambda g, ans, x, y: mul(g, _balanced_eq(x, ans, y)),
           lambda g, ans, x, y: mul(g, _balanced_eq(y, ans, x)))
ad.defjvp2(min_p, lambda g, ans, x, y: mul(g, _balanced_eq(x, ans, y)),
           lambda g, ans, x, y: mul(g, _balanced_eq(y, ans, x)))


def _pow_impl(x, y):
    if y.dtype != x.dtype:
        y = y.astype(x.dtype)
    return np.power(x, y)


def _pow_abstract_eval(x, y):
    # As lax.pow: an inexact base, and an exponent of the same dtype or an integer one.
    if not dtypes.is_inexact(x.dtype):
        raise TypeError(f"lax.pow requires a floating-point base, got {x.dtype.name}; "
                        "jumba.numpy.power handles integer bases.")
    if y.dtype != x.dtype and y.dtype.kind not in "iu":
        raise TypeError(f"lax.pow requires the exponent to have the base's dtype "
                        f"({x.dtype.name}) or an integer dtype, got {y.dtype.name}")
    shape = broadcast_shapes_for("pow", [x.shape, y.shape])
    return ShapedArray(shape, x.dtype, x.weak_type and y.weak_type)


pow_p = Primitive("pow")
pow_p.def_impl(_pow_impl)
pow_p.def_abstract_eval(_pow_abstract_eval)
pow_p.weak_type_rule = core.all_weak
batching.defbroadcasting(pow_p)


def _pow_jvp_lhs(g, ans, x, y):
    if dtypes.is_inexact(get_aval(y).dtype):
        return mul(g, mul(y, pow(x, sub(y, _c(1, y)))))
    # Integer exponent (JAX's convention): derivative 0 where y == 0, so that x**0 has
    # derivative 0 even at x == 0.
    yzero = eq(y, _c(0, y))
    y1 = select_n(yzero, y, _c(1, y))
    jac = mul(convert(y1, get_aval(x).dtype), pow(x, sub(y1, _c(1, y1))))
    return mul(g, select_n(yzero, jac, _c(0, x)))


def _pow_jvp_rhs(g, ans, x, y):
    # d/dy x**y = log(x) x**y, with log(0) replaced by log(1) (JAX's convention).
    safe_x = select_n(eq(x, _c(0, x)), x, _c(1, x))
    return mul(g, mul(log(safe_x), ans))


ad.defjvp2(pow_p, _pow_jvp_lhs, _pow_jvp_rhs)

integer_pow_p = Primitive("integer_pow")


def _check_integer_pow(dtype, y):
    if y < 0 and not dtypes.is_inexact(dtype):
        raise TypeError(f"Integers cannot be raised to negative powers, got integer_pow of a "
                        f"{np.dtype(dtype).name} array to the power {y}. Convert the base to a "
                        "floating-point dtype first (x.astype(float) ** y).")
    if dtype == np.bool_:
        raise TypeError("integer_pow does not accept booleans; convert to an integer dtype")


@integer_pow_p.def_impl
def _integer_pow_impl(x, *, y):
    _check_integer_pow(x.dtype, y)
    if y == 2:
        return np.multiply(x, x)
    if y == 0:
        return np.ones_like(x)
    # Binary exponentiation, as XLA: the same rounding as JAX for floats, wrapping for ints.
    acc, base, n = None, x, builtins.abs(y)
    while n:
        if n & 1:
            acc = base if acc is None else np.multiply(acc, base)
        n >>= 1
        if n:
            base = np.multiply(base, base)
    if y < 0:
        acc = np.divide(np.ones((), x.dtype), acc)
    return acc.astype(x.dtype, copy=False)


@integer_pow_p.def_abstract_eval
def _integer_pow_abstract_eval(x, *, y):
    _check_integer_pow(x.dtype, y)
    return x
integer_pow_p.weak_type_rule = lambda w, **p: w
batching.defvectorized(integer_pow_p)
ad.defjvp(integer_pow_p, lambda g, x, *, y: (
    Zero(ad.tangent_aval(get_aval(x))) if y == 0 else mul(g, _c(y, x)) if y == 1 else
    mul(g, mul(_c(y, x), integer_pow(x, y - 1)))))

atan2_p = standard_op("atan2", np.arctan2, nargs=2, accept=_float)
ad.defjvp(atan2_p,
          lambda g, x, y: mul(g, div(y, add(square(x), square(y)))),
          lambda g, x, y: mul(g, div(neg(x), add(square(x), square(y)))))

nextafter_p = standard_op("nextafter", np.nextafter, nargs=2, accept=_float)

# logaddexp: its own JVP (JAX's custom JVP) so that ties and infinities differentiate
# cleanly: d/dx1 = exp(x1 - ans), with +inf replaced by 0 on both sides.
logaddexp_p = standard_op("logaddexp", np.logaddexp, nargs=2, accept=_float)


def _replace_posinf(x):
    return select_n(eq(x, _c(np.inf, x)), x, _c(0, x))


ad.defjvp2(logaddexp_p,
           lambda g, ans, x, y: mul(g, exp(sub(_replace_posinf(x), _replace_posinf(ans)))),
           lambda g, ans, x, y: mul(g, exp(sub(_replace_posinf(y), _replace_posinf(ans)))))
defjvp_zero(nextafter_p)

# ---------------------------------------------------------------------------------------
# Unary functions (derivatives in terms of x or of the answer)

sign_p = standard_op("sign", np.sign)
floor_p = standard_op("floor", np.floor, accept=_float)
ceil_p = standard_op("ceil", np.ceil, accept=_float)
round_p = Primitive("round")


@round_p.def_impl
def _round_impl(x, *, rounding_method=1):
    # rounding_method 0: half away from zero (lax default); 1: half to even (jnp.round).
    if rounding_method == 1:
        return np.round(x)
    # Exact (floor(|x| + 0.5) rounds 0.49999997 up) and keeping -0.0, as XLA's round.
    t = np.trunc(x)
    with np.errstate(invalid="ignore"):
        far = np.abs(x - t) >= 0.5
    return np.where(far, t + np.copysign(np.ones((), x.dtype), x), t).astype(x.dtype)


round_p.def_abstract_eval(lambda x, *, rounding_method=1: x)
round_p.weak_type_rule = lambda w, **p: w
batching.defvectorized(round_p)
is_finite_p = standard_op("is_finite", np.isfinite, out_dtype=np.bool_, accept=_float)
# The sign bit itself (set for -0.0 and -nan), as JAX's bitcast-and-shift.
signbit_p = standard_op("signbit", np.signbit, out_dtype=np.bool_, accept=_float)
for _p in (sign_p, floor_p, ceil_p, round_p, is_finite_p, signbit_p):
    defjvp_zero(_p)

# sinc_maclaurin[k](x): the k-th Maclaurin coefficient of sin(t)/t, times k!, broadcast
# like x; its JVP is coefficient k+1, so that jnp.sinc has every derivative right at 0.
sinc_maclaurin_p = Primitive("sinc_maclaurin")


def _sinc_coefficient(k):
    return 0.0 if k % 2 else (-1) ** (k // 2) / (k + 1)


@sinc_maclaurin_p.def_impl
def _sinc_maclaurin_impl(x, *, k):
    return np.full_like(x, _sinc_coefficient(k))


sinc_maclaurin_p.def_abstract_eval(lambda x, *, k: x)
sinc_maclaurin_p.weak_type_rule = lambda w, **p: w
batching.defvectorized(sinc_maclaurin_p)
ad.defjvp(sinc_maclaurin_p, lambda g, x, *, k: mul(g, sinc_maclaurin(x, k + 1)))

exp_p = standard_op("exp", np.exp, accept=_float)
ad.defjvp2(exp_p, lambda g, ans, x: mul(g, ans))
exp2_p = standard_op("exp2", np.exp2, accept=_float)
ad.defjvp2(exp2_p, lambda g, ans, x: mul(g, mul(ans, _c(np.log(2), x))))
log_p = standard_op("log", np.log, accept=_float)
ad.defjvp(log_p, lambda g, x: div(g, x))
log1p_p = standard_op("log1p", np.log1p, accept=_float)
ad.defjvp(log1p_p, lambda g, x: div(g, add(x, _c(1, x))))
expm1_p = standard_op("expm1", np.expm1, accept=_float)
ad.defjvp2(expm1_p, lambda g, ans, x: mul(g, add(ans, _c(1, x))))
tanh_p = standard_op("tanh", np.tanh, accept=_float)
ad.defjvp2(tanh_p, lambda g, ans, x: mul(g, sub(_c(1, x), square(ans))))


def _logistic_impl(x):
    # Stable for large |x|: exp of a non-positive number only.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


logistic_p = standard_op("logistic", _logistic_impl, accept=_float)
ad.defjvp2(logistic_p, lambda g, ans, x: mul(g, mul(ans, sub(_c(1, x), ans))))

sin_p = standard_op("sin", np.sin, accept=_float)
ad.defjvp(sin_p, lambda g, x: mul(g, cos(x)))
cos_p = standard_op("cos", np.cos, accept=_float)
ad.defjvp(cos_p, lambda g, x: neg(mul(g, sin(x))))
tan_p = standard_op("tan", np.tan, accept=_float)
ad.defjvp2(tan_p, lambda g, ans, x: mul(g, add(_c(1, x), square(ans))))
asin_p = standard_op("asin", np.arcsin, accept=_float)
ad.defjvp(asin_p, lambda g, x: mul(g, rsqrt(sub(_c(1, x), square(x)))))
acos_p = standard_op("acos", np.arccos, accept=_float)
ad.defjvp(acos_p, lambda g, x: neg(mul(g, rsqrt(sub(_c(1, x), square(x))))))
atan_p = standard_op("atan", np.arctan, accept=_float)
ad.defjvp(atan_p, lambda g, x: div(g, add(_c(1, x), square(x))))
sinh_p = standard_op("sinh", np.sinh, accept=_float)
ad.defjvp(sinh_p, lambda g, x: mul(g, cosh(x)))
cosh_p = standard_op("cosh", np.cosh, accept=_float)
ad.defjvp(cosh_p, lambda g, x: mul(g, sinh(x)))
asinh_p = standard_op("asinh", np.arcsinh, accept=_float)
ad.defjvp(asinh_p, lambda g, x: mul(g, rsqrt(add(square(x), _c(1, x)))))
acosh_p = standard_op("acosh", np.arccosh, accept=_float)
ad.defjvp(acosh_p, lambda g, x: mul(g, rsqrt(mul(sub(x, _c(1, x)), add(x, _c(1, x))))))
atanh_p = standard_op("atanh", np.arctanh, accept=_float)
ad.defjvp(atanh_p, lambda g, x: div(g, sub(_c(1, x), square(x))))

sqrt_p = standard_op("sqrt", np.sqrt, accept=_float)
ad.defjvp2(sqrt_p, lambda g, ans, x: div(g, mul(_c(2, x), ans)))


def _rsqrt_impl(x):
    return (np.asarray(1, x.dtype) / np.sqrt(x)).astype(x.dtype)


rsqrt_p = standard_op("rsqrt", _rsqrt_impl, accept=_float)
ad.defjvp2(rsqrt_p, lambda g, ans, x: mul(g, mul(_c(-0.5, x), div(ans, x))))
cbrt_p = standard_op("cbrt", np.cbrt, accept=_float)
ad.defjvp2(cbrt_p, lambda g, ans, x: div(g, mul(_c(3, x), square(ans))))

abs_p = standard_op("abs", np.abs)
_abs_real_rule = abs_p.abstract_eval


def _abs_abstract_eval(x):
    out = _abs_real_rule(x)
    if x.dtype.kind == "c":  # |z| of a complex number is real (float32 for complex64)
        return ShapedArray(out.shape, np.dtype(f"f{x.dtype.itemsize // 2}"), out.weak_type)
    return out


abs_p.def_abstract_eval(_abs_abstract_eval)


def _abs_jvp(g, ans, x):
    if get_aval(x).dtype.kind == "c":  # d|z| = Re(conj(z) dz) / |z|, and 0 at z = 0
        from jumba._src.lax.complex import conj, real

        safe = select_n(eq(ans, _c(0, ans)), ans, _c(1, ans))
        return select_n(eq(ans, _c(0, ans)), div(real(mul(conj(x), g)), safe),
                        _c(0, ans))
    # JAX's convention: the derivative at 0 (and -0.0) is 1, from select(x >= 0, g, -g).
    return select_n(ge(x, _c(0, x)), neg(g), g)


ad.defjvp2(abs_p, _abs_jvp)

square_p = standard_op("square", np.square)
ad.defjvp(square_p, lambda g, x: mul(g, mul(_c(2, x), x)))


def _erf_impl(x):
    from scipy.special import erf as _erf

    return _erf(x).astype(x.dtype)


erf_p = standard_op("erf", _erf_impl, accept=_float)
ad.defjvp(erf_p, lambda g, x: mul(g, mul(_c(2 / np.sqrt(np.pi), x), exp(neg(square(x))))))


# XLA's single-precision erf_inv: M. Giles, "Approximating the erfinv function" (GPU
# Gems 4, 2011), a polynomial in w = -log1p(-x*x). Using it (rather than the exactly
# rounded erfinv) keeps jumba.random.normal within a few ulp of JAX's float32 streams.
ERF_INV_F32_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                       0.00021858087, -0.00125372503, -0.00417768164, 0.246640727,
                       1.50140941)
ERF_INV_F32_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844,
                    0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


def _erf_inv_f32(x):
    f = np.float32
    shape = np.shape(x)
    x = np.asarray(x, np.float32).reshape(-1)  # 1-d: the steps below work in place
    with np.errstate(all="ignore"):
        neg_w = np.multiply(x, x)
        np.negative(neg_w, out=neg_w)
        np.log1p(neg_w, out=neg_w)  # log1p(-x*x) = -w

        def horner(coeffs, t):
            p = np.multiply(t, f(coeffs[0]))
            p += f(coeffs[1])
            for c in coeffs[2:]:
                p *= t
                p += f(c)
            return p

        p = horner(ERF_INV_F32_CENTRAL, np.subtract(f(-2.5), neg_w))  # t = w - 2.5
        tail = neg_w <= f(-5)  # |x| > 0.9966: rare, so evaluated on those elements only
        if tail.any():
            xt = x[tail]
            pt = horner(ERF_INV_F32_TAIL, np.sqrt(-neg_w[tail]) - f(3))
            p[tail] = np.where(np.abs(xt) == f(1), np.inf, pt)  # erf_inv(+-1) = +-inf
        p *= x
        return p.reshape(shape)


def _erf_inv_impl(x):
    if x.dtype.itemsize <= 4:
        return _erf_inv_f32(x.astype(np.float32)).astype(x.dtype)
    from scipy.special import erfinv as _erfinv

    return _erfinv(x).astype(x.dtype)


erf_inv_p = standard_op("erf_inv", _erf_inv_impl, accept=_float)
# d/dx erfinv(x) = sqrt(pi)/2 * exp(erfinv(x)**2), in terms of the answer.
ad.defjvp2(erf_inv_p, lambda g, ans, x: mul(g, mul(_c(np.sqrt(np.pi) / 2, x), exp(square(ans)))))

# ---------------------------------------------------------------------------------------
# Comparisons and logical / bitwise operations (no derivatives)

eq_p = standard_op("eq", np.equal, nargs=2, out_dtype=np.bool_)
ne_p = standard_op("ne", np.not_equal, nargs=2, out_dtype=np.bool_)
lt_p = standard_op("lt", np.less, nargs=2, out_dtype=np.bool_)
le_p = standard_op("le", np.less_equal, nargs=2, out_dtype=np.bool_)
gt_p = standard_op("gt", np.greater, nargs=2, out_dtype=np.bool_)
ge_p = standard_op("ge", np.greater_equal, nargs=2, out_dtype=np.bool_)
and_p = standard_op("and", np.bitwise_and, nargs=2, accept=_int_or_bool)
or_p = standard_op("or", np.bitwise_or, nargs=2, accept=_int_or_bool)
xor_p = standard_op("xor", np.bitwise_xor, nargs=2, accept=_int_or_bool)
not_p = standard_op("not", np.invert, accept=_int_or_bool)
def _shift_amounts(x, y):
    # XLA: a shift by a negative amount or by >= the bit width shifts everything out.
    bits = 8 * x.dtype.itemsize
    out_of_range = (y < 0) | (y >= bits)
    return out_of_range, np.where(out_of_range, np.zeros((), y.dtype), y)


def _shift_left_impl(x, y):
    out_of_range, y = _shift_amounts(x, y)
    return np.where(out_of_range, np.zeros((), x.dtype), np.left_shift(x, y)).astype(x.dtype)


def _shift_right_arithmetic_impl(x, y):
    out_of_range, y = _shift_amounts(x, y)
    fill = np.where(x < 0, np.asarray(-1).astype(x.dtype), np.zeros((), x.dtype)) \
        if x.dtype.kind == "i" else np.zeros((), x.dtype)
    return np.where(out_of_range, fill, np.right_shift(x, y)).astype(x.dtype)


shift_left_p = standard_op("shift_left", _shift_left_impl, nargs=2, accept=_int_or_bool)
shift_right_arithmetic_p = standard_op("shift_right_arithmetic", _shift_right_arithmetic_impl,
                                       nargs=2, accept=_int_or_bool)


def _shift_right_logical_impl(x, y):
    out_of_range, y = _shift_amounts(x, y)
    unsigned = np.dtype(f"u{x.dtype.itemsize}")
    out = np.right_shift(x.view(unsigned), y.astype(unsigned)).view(x.dtype)
    return np.where(out_of_range, np.zeros((), x.dtype), out).astype(x.dtype)


shift_right_logical_p = standard_op("shift_right_logical", _shift_right_logical_impl, nargs=2,
                                    accept=_int_or_bool)
for _p in (eq_p, ne_p, lt_p, le_p, gt_p, ge_p, and_p, or_p, xor_p, not_p, shift_left_p,
           shift_right_arithmetic_p, shift_right_logical_p):
    defjvp_zero(_p)

# ---------------------------------------------------------------------------------------
# select_n: choose among cases by an integer or boolean selector


select_n_p = Primitive("select_n")


@select_n_p.def_impl
def _select_n_impl(which, *cases):
    if len(cases) == 1:
        return np.broadcast_to(cases[0], np.broadcast_shapes(which.shape, cases[0].shape))
    if which.dtype == np.bool_ and len(cases) == 2:
        return np.where(which, cases[1], cases[0])
    return np.choose(which.astype(np.intp), np.broadcast_arrays(*cases))


@select_n_p.def_abstract_eval
def _select_n_abstract_eval(which, *cases):
    if not cases:
        raise TypeError("select_n requires at least one case")
    _check_same_dtype("select_n", cases)
    if which.dtype != np.bool_ and which.dtype.kind not in "iu":
        raise TypeError(f"select_n selector must be bool or integer, got {which.dtype.name}")
    if which.dtype == np.bool_ and len(cases) > 2:
        raise TypeError("select_n with a boolean selector takes at most two cases")
    shape = broadcast_shapes_for("select_n", [which.shape] + [c.shape for c in cases])
    return ShapedArray(shape, cases[0].dtype, all(c.weak_type for c in cases))


select_n_p.weak_type_rule = lambda w, *ws, **p: all(ws)
batching.defbroadcasting(select_n_p)


def _select_n_jvp(primals, tangents):
    which, *cases = primals
    ans = select_n_p.bind(which, *cases)
    if all(type(t) is Zero for t in tangents[1:]):
        return ans, Zero(ad.tangent_aval(get_aval(ans)))
    ts = [ad.instantiate_zeros(t) for t in tangents[1:]]
    return ans, select_n_p.bind(which, *ts)


def _select_n_transpose(ct, which, *cases):
    if is_undefined_primal(which):
        raise ValueError("select_n is not linear in its selector")
    zeros = ad.zeros_like_aval(get_aval(ct))
    outs = [None]
    for i, c in enumerate(cases):
        if is_undefined_primal(c):
            branches = [zeros] * len(cases)
            branches[i] = ct
            outs.append(unbroadcast(select_n_p.bind(which, *branches), c.aval.shape))
        else:
            outs.append(None)
    return outs


ad.primitive_jvps[select_n_p] = _select_n_jvp
ad.primitive_transposes[select_n_p] = _select_n_transpose

# add_any (declared in ad.py, which needs it to sum tangents) takes operands of one shape:
# an unbatched operand is broadcast along the batch axis.
def _add_any_batch(size, vals, dims):
    (x, y), (dx, dy) = vals, dims
    x, y = batching.bdim_at_front(x, dx, size), batching.bdim_at_front(y, dy, size)
    return ad.add_any_p.bind(x, y), 0


batching.primitive_batchers[ad.add_any_p] = _add_any_batch

# ---------------------------------------------------------------------------------------
# Functions over the primitives (the lax API for these ops)


def _binary(p):
    def fn(x, y):
        return p.bind(x, y)

    fn.__name__ = p.name
    return fn


def _unary(p):
    def fn(x):
        return p.bind(x)

    fn.__name__ = p.name
    return fn


neg, sign, floor, ceil, is_finite = map(_unary, (neg_p, sign_p, floor_p, ceil_p, is_finite_p))
exp, exp2, log, log1p, expm1, tanh, logistic = map(
    _unary, (exp_p, exp2_p, log_p, log1p_p, expm1_p, tanh_p, logistic_p))
sin, cos, tan, asin, acos, atan = map(_unary, (sin_p, cos_p, tan_p, asin_p, acos_p, atan_p))
sinh, cosh, asinh, acosh, atanh = map(_unary, (sinh_p, cosh_p, asinh_p, acosh_p, atanh_p))
sqrt, rsqrt, cbrt, abs, square, erf = map(  # noqa: A001
    _unary, (sqrt_p, rsqrt_p, cbrt_p, abs_p, square_p, erf_p))
erf_inv = _unary(erf_inv_p)
bitwise_not = _unary(not_p)
add, sub, mul, div, rem, pow = map(_binary, (add_p, sub_p, mul_p, div_p, rem_p, pow_p))  # noqa: A001
max, min = map(_binary, (max_p, min_p))  # noqa: A001
atan2, nextafter, logaddexp = _binary(atan2_p), _binary(nextafter_p), _binary(logaddexp_p)
eq, ne, lt, le, gt, ge = map(_binary, (eq_p, ne_p, lt_p, le_p, gt_p, ge_p))
bitwise_and, bitwise_or, bitwise_xor = map(_binary, (and_p, or_p, xor_p))
shift_left = _binary(shift_left_p)
shift_right_arithmetic = _binary(shift_right_arithmetic_p)
shift_right_logical = _binary(shift_right_logical_p)


def round(x, rounding_method=0):  # noqa: A001
    return round_p.bind(x, rounding_method=int(rounding_method))


def integer_pow(x, y: int):
    return integer_pow_p.bind(x, y=int(y))


def sinc_maclaurin(x, k: int):
    return sinc_maclaurin_p.bind(x, k=int(k))


def signbit(x):
    return signbit_p.bind(x)


def convert(x, dtype):
    from jumba._src.lax.structural import convert_element_type

    return convert_element_type(x, dtype)


def select_n(which, *cases):
    return select_n_p.bind(which, *cases)
