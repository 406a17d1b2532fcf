"""Kernel lowering rules of the elementwise and reduction families (the tier-1 compiler's
scalar expressions). Kept in one table so the whole kernel vocabulary reads at a glance."""

from __future__ import annotations

import numpy as np

from jumba._src.compiler.lowering import (
    def_expansion,
    def_reduction,
    def_scalar,
    def_scan,
    heavy_rules,
    typed_const,
    vector_f32_rules,
)
from jumba._src.interpreters import ad
from jumba._src.lax import ad_util, prng
from jumba._src.lax import cumulative as cu
from jumba._src.lax import cumulative_extrema as cx
from jumba._src.lax import elementwise as ew
from jumba._src.lax import reductions as red
from jumba._src.lax import structural as st


def _float_only(template):
    """A rule that applies to inexact dtypes only (integers keep their NumPy impl)."""
    def rule(args, params, in_avals, out_aval):
        if in_avals[0].dtype.kind not in "fc":
            return None
        return template.format(*args)

    return rule


def _const(v, aval):
    return typed_const(v, aval.dtype)


for _p, _t in [
    (ew.add_p, "({0} + {1})"), (ad.add_any_p, "({0} + {1})"), (ew.sub_p, "({0} - {1})"),
    (ew.mul_p, "({0} * {1})"), (ew.neg_p, "(-{0})"),
    (ew.max_p, "np.maximum({0}, {1})"), (ew.min_p, "np.minimum({0}, {1})"),
    (ew.eq_p, "({0} == {1})"), (ew.ne_p, "({0} != {1})"), (ew.lt_p, "({0} < {1})"),
    (ew.le_p, "({0} <= {1})"), (ew.gt_p, "({0} > {1})"), (ew.ge_p, "({0} >= {1})"),
    (ew.and_p, "({0} & {1})"), (ew.or_p, "({0} | {1})"), (ew.xor_p, "({0} ^ {1})"),
    (ew.abs_p, "np.abs({0})"), (ew.sign_p, "np.sign({0})"), (ew.square_p, "({0} * {0})"),
    (ad_util.stop_gradient_p, "{0}"),
]:
    def_scalar(_p, _t)

for _p, _t in [
    (ew.exp2_p, "np.exp2({0})"),
    (ew.expm1_p, "np.expm1({0})"),
    (ew.asin_p, "np.arcsin({0})"), (ew.acos_p, "np.arccos({0})"),
    (ew.atan_p, "np.arctan({0})"), (ew.sinh_p, "np.sinh({0})"), (ew.cosh_p, "np.cosh({0})"),
    (ew.asinh_p, "np.arcsinh({0})"), (ew.acosh_p, "np.arccosh({0})"),
    (ew.atanh_p, "np.arctanh({0})"), (ew.sqrt_p, "np.sqrt({0})"),
    (ew.floor_p, "np.floor({0})"), (ew.ceil_p, "np.ceil({0})"),
    (ew.is_finite_p, "np.isfinite({0})"), (ew.atan2_p, "np.arctan2({0}, {1})"),
    (ew.pow_p, "({0} ** {1})"),
    (ew.cbrt_p, "np.cbrt({0})"), (ew.logaddexp_p, "np.logaddexp({0}, {1})"),
    (ew.nextafter_p, "np.nextafter({0}, {1})"), (ew.signbit_p, "np.signbit({0})"),
]:
    def_scalar(_p, _float_only(_t))


def _logistic(args, params, in_avals, out_aval):
    # The impl's stable form: exp of a non-positive number only.
    if out_aval.dtype.kind != "f":
        return None
    x, one, zero = args[0], _const(1, out_aval), _const(0, out_aval)
    e = f"_kh.exp_f32(-np.abs({x}))" if out_aval.dtype == np.float32 else \
        f"np.exp(-np.abs({x}))"
    return f"(({one} if {x} >= {zero} else {e}) / ({one} + {e}))"


def _rsqrt(args, params, in_avals, out_aval):
    if out_aval.dtype.kind != "f":
        return None
    return f"({_const(1, out_aval)} / np.sqrt({args[0]}))"


def _integer_pow(args, params, in_avals, out_aval):
    y = params["y"]
    if y == 0:
        return _const(1, out_aval)
    if y < 0 and out_aval.dtype.kind not in "fc":
        return None
    # Binary exponentiation, as the impl (and XLA): the same products in the same order,
    # hence the same rounding; each product is cast back so integers wrap at their width.
    dt = f"np.{out_aval.dtype.name}"
    acc, base, n = None, args[0], abs(y)
    while n:
        if n & 1:
            acc = base if acc is None else f"{dt}({acc} * {base})"
        n >>= 1
        if n:
            base = f"{dt}({base} * {base})"
    return f"({_const(1, out_aval)} / {acc})" if y < 0 else acc


def _round(args, params, in_avals, out_aval):
    if out_aval.dtype.kind != "f":
        return None
    if params.get("rounding_method", 1) == 1:
        return f"np.rint({args[0]})"
    # Half away from zero as the impl: exact, and -0.0 stays -0.0.
    x, half, one = args[0], _const(0.5, out_aval), _const(1, out_aval)
    t = f"np.trunc({x})"
    return f"(({t} + np.copysign({one}, {x})) if np.abs({x} - {t}) >= {half} else {t})"


def _int_div(args, params, in_avals, out_aval):
    # XLA's integer division (as the impl): round toward zero, x / 0 = -1, and for signed
    # types INT_MIN / -1 = INT_MIN. Python's // floors, so a quotient with a remainder and
    # operands of opposite signs is one too low.
    dt = out_aval.dtype
    if dt.kind not in "iu":
        return None if dt.kind != "b" else f"({args[0]} & {args[1]})"
    x, y = (f"np.{dt.name}({a})" for a in args)
    if dt.kind == "u":
        return f"(np.{dt.name}({np.iinfo(dt).max}) if {y} == 0 else {x} // {y})"
    q = f"({x} // {y} + (1 if ({x} % {y} != 0 and ({x} < 0) != ({y} < 0)) else 0))"
    return (f"(np.{dt.name}(-1) if {y} == 0 else "
            f"({x} if ({x} == {np.iinfo(dt).min} and {y} == -1) else {q}))")


def _int_rem(args, params, in_avals, out_aval):
    # The sign of the dividend (C's fmod), x % 0 = x, INT_MIN % -1 = 0, as the impl.
    dt = out_aval.dtype
    if dt.kind not in "iu":
        return None
    x, y = (f"np.{dt.name}({a})" for a in args)
    if dt.kind == "u":
        return f"({x} if {y} == 0 else {x} % {y})"
    r = f"({x} % {y})"  # Python's: the sign of the divisor; moved to the dividend's below
    fixed = f"({r} - {y} if ({r} != 0 and ({r} < 0) != ({x} < 0)) else {r})"
    return f"({x} if {y} == 0 else (0 if {y} == -1 else {fixed}))"


def _div_or_int(args, params, in_avals, out_aval):
    if out_aval.dtype.kind in "fc":
        return f"({args[0]} / {args[1]})"
    return _int_div(args, params, in_avals, out_aval)


def _rem_or_int(args, params, in_avals, out_aval):
    if out_aval.dtype.kind in "fc":
        return None if out_aval.dtype.kind == "c" else f"np.fmod({args[0]}, {args[1]})"
    return _int_rem(args, params, in_avals, out_aval)


def _select_n(args, params, in_avals, out_aval):
    which, *cases = args
    if len(cases) == 1:
        return cases[0]
    if in_avals[0].dtype == np.bool_:
        return f"({cases[1]} if {which} else {cases[0]})"
    e = cases[-1]
    for i in range(len(cases) - 2, -1, -1):
        e = f"({cases[i]} if {which} == {i} else {e})"
    return e


def _not(args, params, in_avals, out_aval):
    return f"(not {args[0]})" if out_aval.dtype == np.bool_ else f"(~{args[0]})"


def _convert(args, params, in_avals, out_aval):
    src, dst = in_avals[0].dtype, np.dtype(params["new_dtype"])
    if src.kind == "c" and dst.kind != "c":  # complex -> real drops the imaginary part
        return f"({args[0]}.real != 0)" if dst == np.bool_ else f"{args[0]}.real"
    if dst == np.bool_:
        return f"({args[0]} != 0)"
    return args[0]  # the kernel casts every result to its output dtype


def _erf(args, params, in_avals, out_aval):
    if out_aval.dtype.kind != "f":
        return None
    return f"math.erf({args[0]})"


for _p, _rule in [(ew.logistic_p, _logistic), (ew.rsqrt_p, _rsqrt),
                  (ew.integer_pow_p, _integer_pow), (ew.round_p, _round),
                  (ew.select_n_p, _select_n), (ew.not_p, _not),
                  (st.convert_element_type_p, _convert), (ew.erf_p, _erf),
                  (ew.div_p, _div_or_int), (ew.rem_p, _rem_or_int)]:
    def_scalar(_p, _rule)


def _unsigned_shift(op):
    # Unsigned shifts only (threefry's rounds); a shift by the bit width or more gives 0,
    # as XLA. The operand is cast first so that a right shift sees no bits above its width.
    def rule(args, params, in_avals, out_aval):
        dt = in_avals[0].dtype
        if dt.kind != "u":
            return None
        x, y = args
        # (all operands typed: numba computes uint64 mixed with int64 in float64)
        return (f"((np.{dt.name}({x}) {op} np.{dt.name}({y})) if {y} < {8 * dt.itemsize} "
                f"else np.{dt.name}(0))")

    return rule


def _signed_shift(op):
    # Signed operands: shifted as their unsigned bit pattern (left, logical right) or as
    # themselves (arithmetic right); an amount out of [0, width) shifts every bit out (the
    # sign bit fills, for an arithmetic right shift), as the impl and XLA.
    def rule(args, params, in_avals, out_aval):
        dt = in_avals[0].dtype
        if dt.kind == "u" and op != "a>>":
            return _unsigned_shift(op)(args, params, in_avals, out_aval)
        if dt.kind not in "iu":
            return None
        x, y = args
        w = 8 * dt.itemsize
        ok = f"(0 <= {y} < {w})"
        if op == "a>>":
            fill = f"(np.{dt.name}(-1) if {x} < 0 else np.{dt.name}(0))" if dt.kind == "i" \
                else f"np.{dt.name}(0)"
            return f"((np.{dt.name}({x}) >> {y}) if {ok} else {fill})"
        u = f"np.uint{w}"
        shifted = (f"_kh.bitcast({u}(_kh.bitcast(np.{dt.name}({x}), {u}(0)) {op} {u}({y})), "
                   f"np.{dt.name}(0))")
        return f"({shifted} if {ok} else np.{dt.name}(0))"

    return rule


def _vector_f32(name):
    # float32: the vectorisable helpers (numba's scalar log/log1p/exp/tanh call libm per
    # element, ~10x slower in a loop; the helpers are within 2 ulp); other dtypes: libm.
    def rule(args, params, in_avals, out_aval):
        dt = out_aval.dtype
        if dt.kind not in "fc":
            return None
        if dt == np.float32:
            return f"_kh.{name}_f32(np.float32({args[0]}))"
        return f"np.{name}({args[0]})"

    return rule


def _trig_f32(name):
    # float32 arrays: the vectorisable helpers (a vmapped simulation step takes sin and cos
    # of every lane: one libm call per element keeps the loop scalar). A scalar (a 0-d
    # value in a compiled loop: one simulated system) keeps libm: LLVM merges sin and cos
    # of one value into one sincosf call, whose fast path for |x| <= pi/4 is shorter than
    # the helper's straight-line code (CartPole, 10,000 steps: 0.27 ms vs 0.34 ms).
    vector = _vector_f32(name)

    def rule(args, params, in_avals, out_aval):
        if out_aval.shape == ():
            return None if out_aval.dtype.kind not in "fc" else f"np.{name}({args[0]})"
        return vector(args, params, in_avals, out_aval)

    return rule


def _erf_inv(args, params, in_avals, out_aval):
    # float32 (and narrower): XLA's float32 algorithm with a vectorisable log1p (see
    # compiler/kernel_helpers.py); float64: the normal quantile's helper, refined on erf.
    if out_aval.dtype.kind != "f":
        return None
    if out_aval.dtype.itemsize > 4:
        return f"_kh.erf_inv(np.float64({args[0]}))"
    return f"_kh.erf_inv_f32(np.float32({args[0]}))"


def_scalar(ew.shift_left_p, _signed_shift("<<"))
def_scalar(ew.shift_right_logical_p, _signed_shift(">>"))
def_scalar(ew.shift_right_arithmetic_p, _signed_shift("a>>"))
def_scalar(ew.erf_inv_p, _erf_inv)
heavy_rules.add(ew.erf_inv_p)
def_scalar(ew.log_p, _vector_f32("log"))
def_scalar(ew.log1p_p, _vector_f32("log1p"))
for _p, _name in [(ew.sin_p, "sin"), (ew.cos_p, "cos"), (ew.tan_p, "tan")]:
    def_scalar(_p, _trig_f32(_name))
def_scalar(ew.exp_p, _vector_f32("exp"))
def_scalar(ew.tanh_p, _vector_f32("tanh"))
vector_f32_rules.update([ew.log_p, ew.log1p_p, ew.exp_p, ew.tanh_p, ew.logistic_p, ew.sin_p,
                         ew.cos_p, ew.tan_p])
def_expansion(prng.threefry2x32_p, prng.threefry2x32_expanded)


def _max_identity(dt):
    return -np.inf if dt.kind == "f" else (np.iinfo(dt).min if dt.kind in "iu" else False)


def _min_identity(dt):
    return np.inf if dt.kind == "f" else (np.iinfo(dt).max if dt.kind in "iu" else True)


def_reduction(red.reduce_sum_p, lambda dt: 0, "({acc} + {x})")
def_reduction(red.reduce_prod_p, lambda dt: 1, "({acc} * {x})")
def_reduction(red.reduce_max_p, _max_identity, "np.maximum({acc}, {x})")
def_reduction(red.reduce_min_p, _min_identity, "np.minimum({acc}, {x})")
def_reduction(red.reduce_and_p, lambda dt: True, "({acc} & {x})")
def_reduction(red.reduce_or_p, lambda dt: False, "({acc} | {x})")

# Cumulative scans, in NumPy's order and dtype (a float32 cumsum adds in float32). A float
# sum starts from -0.0: the first result is then the first element itself, -0.0 included.
def_scan(cu.cumsum_p, lambda dt: -0.0 if dt.kind == "f" else 0, "({acc} + {x})")
def_scan(cu.cumprod_p, lambda dt: 1, "({acc} * {x})")
def_scan(cx.cummax_p, _max_identity, "np.maximum({acc}, {x})")
def_scan(cx.cummin_p, _min_identity, "np.minimum({acc}, {x})")
# logaddexp as the impl's np.logaddexp.accumulate: max + log1p(exp(-|difference|)), so
# stable; -inf while every element so far is -inf, then +inf from a +inf, nan from a nan.
def_scan(cx.cumlogsumexp_p, lambda dt: -np.inf, "np.logaddexp({acc}, {x})", kinds="f")
# h[i] = a[i] h[i-1] + b[i] (the derivatives of cumprod and cumlogsumexp): h starts at b, as
# in the impl, not at a * 0 + b (nan for an infinite a, +0.0 for b = -0.0).
def_scan(cu.linear_recurrence_p, lambda dt: 0, "({x1} if {first} else {x0} * {acc} + {x1})")

from jumba._src.lax import lowering_rules_special as _special  # noqa: E402, F401

