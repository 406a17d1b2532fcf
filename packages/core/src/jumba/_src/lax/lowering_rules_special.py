"""Kernel lowering rules of the special-function, complex and bit families.

Transcendental rules compute in float64 (`math.*` or a helper in
`compiler/kernel_helpers.py` / `kernel_helpers_special.py`, called as `_kh.<name>`) and the
kernel rounds to the output dtype, as the scipy impls do for float32. Every special
function has a rule, the series and continued fractions (incomplete gamma and beta, zeta,
polygamma) included: they are helpers with loops, called once per element inside the
fused loop. The cumulative scans compile as scans (`def_scan` in lowering_rules.py: a
running accumulator along the axis), not elementwise.
"""

from __future__ import annotations

import numpy as np

from jumba._src.compiler.lowering import def_reduction, def_scalar, typed_const
from jumba._src.lax import bits, special
from jumba._src.lax import complex as cx
from jumba._src.lax import elementwise as ew


def _float_via_f64(template):
    """A real-float rule evaluated in float64 (the kernel casts to the output dtype)."""
    def rule(args, params, in_avals, out_aval):
        if out_aval.dtype.kind != "f":
            return None
        return template.format(*[f"np.float64({a})" for a in args])

    return rule


for _p, _t in [
    (special.erfc_p, "math.erfc({0})"),
    (special.lgamma_p, "math.lgamma({0})"),
    (special.digamma_p, "_kh.digamma({0})"),
    (special.log_ndtr_p, "_kh.log_ndtr({0})"),
    (special.polygamma_p, "_kh.polygamma({0}, {1})"),
    (special.igamma_p, "_kh.igamma({0}, {1})"),
    (special.igammac_p, "_kh.igammac({0}, {1})"),
    (special.igamma_grad_a_p, "_kh.igamma_grad_a({0}, {1})"),
    (special.regularized_incomplete_beta_p, "_kh.betainc({0}, {1}, {2})"),
    (special.bessel_i0e_p, "_kh.bessel_i0e({0})"),
    (special.bessel_i1e_p, "_kh.bessel_i1e({0})"),
    (special.zeta_p, "_kh.zeta({0}, {1})"),
]:
    def_scalar(_p, _float_via_f64(_t))


def _ndtri(args, params, in_avals, out_aval):
    # A float32 result needs no Halley step on erf/erfc (the rational approximation is
    # within 1.2e-9): several times faster.
    if out_aval.dtype.kind != "f":
        return None
    return f"_kh.ndtri(np.float64({args[0]}), {out_aval.dtype.itemsize == 8})"


def_scalar(special.ndtri_p, _ndtri)


def _sinc_maclaurin(args, params, in_avals, out_aval):
    return typed_const(ew._sinc_coefficient(params["k"]), out_aval.dtype)


def_scalar(ew.sinc_maclaurin_p, _sinc_maclaurin)

# ---------------------------------------------------------------------------------------
# Complex numbers


def _complex(args, params, in_avals, out_aval):
    # complex(re, im), not re + 1j * im: the latter turns an infinite im into nan + inf j.
    return f"complex({args[0]}, {args[1]})"


def_scalar(cx.real_p, lambda args, params, in_avals, out_aval: f"{args[0]}.real")
def_scalar(cx.imag_p, lambda args, params, in_avals, out_aval: f"{args[0]}.imag")
def_scalar(cx.conj_p, lambda args, params, in_avals, out_aval: f"np.conj({args[0]})")
def_scalar(cx.complex_p, _complex)

# ---------------------------------------------------------------------------------------
# Bits


def _integer_only(template):
    def rule(args, params, in_avals, out_aval):
        if in_avals[0].dtype.kind not in "iu":
            return None
        return template.format(*args, dt=f"np.{in_avals[0].dtype.name}")

    return rule


def _mulhi(args, params, in_avals, out_aval):
    # Below 64 bits the product fits a 64-bit integer; 64-bit operands take a 128-bit
    # multiply (an LLVM intrinsic in the helpers).
    dt = in_avals[0].dtype
    if dt.kind not in "iu":
        return None
    if dt.itemsize == 8:
        return f"_kh.mulhi64(np.{dt.name}({args[0]}), np.{dt.name}({args[1]}))"
    wide = "np.int64" if dt.kind == "i" else "np.uint64"
    return f"(({wide}({args[0]}) * {wide}({args[1]})) >> {8 * dt.itemsize})"


def _bitcast(args, params, in_avals, out_aval):
    # Same item size only (other sizes reshape the last axis); booleans have no bit pattern
    # numba can reinterpret.
    src, dst = in_avals[0].dtype, out_aval.dtype
    if src.itemsize != dst.itemsize or np.bool_ in (src, dst) or "c" in (src.kind, dst.kind):
        return None
    return f"_kh.bitcast(np.{src.name}({args[0]}), np.{dst.name}(0))"


def_scalar(bits.population_count_p, _integer_only("_kh.popcount({dt}({0}))"))
def_scalar(bits.clz_p, _integer_only("_kh.clz({dt}({0}))"))
def_scalar(bits.mulhi_p, _mulhi)
def_scalar(bits.bitcast_convert_type_p, _bitcast)
def_reduction(bits.reduce_xor_p, lambda dt: 0, "({acc} ^ {x})")
