"""Kernel lowering rules of the elementwise and reduction families (the tier-1 compiler's
scalar expressions). Kept in one table so the whole kernel vocabulary reads at a glance."""

from __future__ import annotations

import numpy as np

from jumba._src.compiler.lowering import def_expansion, def_reduction, def_scalar, typed_const
from jumba._src.interpreters import ad
from jumba._src.lax import ad_util, prng
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
    (ew.div_p, "({0} / {1})"), (ew.exp_p, "np.exp({0})"), (ew.exp2_p, "np.exp2({0})"),
    (ew.log_p, "np.log({0})"), (ew.log1p_p, "np.log1p({0})"), (ew.expm1_p, "np.expm1({0})"),
    (ew.tanh_p, "np.tanh({0})"), (ew.sin_p, "np.sin({0})"), (ew.cos_p, "np.cos({0})"),
    (ew.tan_p, "np.tan({0})"), (ew.asin_p, "np.arcsin({0})"), (ew.acos_p, "np.arccos({0})"),
    (ew.atan_p, "np.arctan({0})"), (ew.sinh_p, "np.sinh({0})"), (ew.cosh_p, "np.cosh({0})"),
    (ew.asinh_p, "np.arcsinh({0})"), (ew.acosh_p, "np.arccosh({0})"),
    (ew.atanh_p, "np.arctanh({0})"), (ew.sqrt_p, "np.sqrt({0})"),
    (ew.floor_p, "np.floor({0})"), (ew.ceil_p, "np.ceil({0})"),
    (ew.is_finite_p, "np.isfinite({0})"), (ew.atan2_p, "np.arctan2({0}, {1})"),
    (ew.rem_p, "np.fmod({0}, {1})"), (ew.pow_p, "({0} ** {1})"),
    (ew.cbrt_p, "np.cbrt({0})"), (ew.logaddexp_p, "np.logaddexp({0}, {1})"),
    (ew.nextafter_p, "np.nextafter({0}, {1})"), (ew.signbit_p, "np.signbit({0})"),
]:
    def_scalar(_p, _float_only(_t))


def _logistic(args, params, in_avals, out_aval):
    if out_aval.dtype.kind != "f":
        return None
    one = _const(1, out_aval)
    return f"({one} / ({one} + np.exp(-{args[0]})))"


def _rsqrt(args, params, in_avals, out_aval):
    if out_aval.dtype.kind != "f":
        return None
    return f"({_const(1, out_aval)} / np.sqrt({args[0]}))"


def _integer_pow(args, params, in_avals, out_aval):
    y = params["y"]
    if y == 0:
        return _const(1, out_aval)
    x = args[0]
    e = " * ".join([x] * abs(y)) if abs(y) <= 8 else f"({x} ** {abs(y)})"
    if y < 0:
        if out_aval.dtype.kind != "f":
            return None
        return f"({_const(1, out_aval)} / ({e}))"
    return f"({e})"


def _round(args, params, in_avals, out_aval):
    if out_aval.dtype.kind != "f":
        return None
    if params.get("rounding_method", 1) == 1:
        return f"np.rint({args[0]})"
    half = _const(0.5, out_aval)
    return f"(np.sign({args[0]}) * np.floor(np.abs({args[0]}) + {half}))"


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
    src, dst = in_avals[0].dtype, params["new_dtype"]
    if src.kind == "c" or dst.kind == "c":
        return None
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
                  (st.convert_element_type_p, _convert), (ew.erf_p, _erf)]:
    def_scalar(_p, _rule)


def _unsigned_shift(op):
    # Unsigned shifts only (threefry's rounds); a shift by the bit width or more gives 0,
    # as XLA. The operand is cast first so that a right shift sees no bits above its width.
    def rule(args, params, in_avals, out_aval):
        dt = in_avals[0].dtype
        if dt.kind != "u":
            return None
        x, y = args
        return f"((np.{dt.name}({x}) {op} {y}) if {y} < {8 * dt.itemsize} else 0)"

    return rule


# erf_inv has no kernel rule: numba's scalar (libm) log1p made fused draws several times
# slower than the vectorised NumPy impl between kernels.
def_scalar(ew.shift_left_p, _unsigned_shift("<<"))
def_scalar(ew.shift_right_logical_p, _unsigned_shift(">>"))
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
