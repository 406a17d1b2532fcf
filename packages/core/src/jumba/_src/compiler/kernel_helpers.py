"""Scalar helper functions that generated kernels call (as `_kh.<name>(...)`).

Lowering rules whose scalar expression would be unreadable inline (a polynomial with range
reduction, a recurrence) call one of these: numba functions inlined into the kernel's loop,
which still vectorises (see `_inline` below). A kernel's source names this module's hash
(`HELPERS_VERSION`), so editing a helper changes every kernel that uses one and numba's cache
never serves a kernel built with an old helper.

The float32 `log1p` here is the reason this module exists: numba's scalar `np.log1p` calls
libm once per element (≈ 28 ms per 1e6 float32), while a polynomial written with integer bit
manipulation vectorises (≈ 2 ms) and stays within 1.5 ulp. `erf_inv_f32` uses it with the
Giles polynomials of `lax.elementwise._erf_inv_f32` (XLA's float32 erf_inv), so a fused
`random.normal` draw is one kernel.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

from jumba._src.compiler import kernel_helpers_special as _special
from jumba._src.compiler.kernel_helpers_special import (  # noqa: F401 (kernels call _kh.*)
    bessel_i0e,
    bessel_i1e,
    betainc,
    digamma,
    erf_inv,
    igamma,
    igamma_grad_a,
    igammac,
    mulhi64,
    ndtri,
    polygamma,
    zeta,
)
from jumba._src.lax.elementwise import ERF_INV_F32_CENTRAL, ERF_INV_F32_TAIL

# Both files' bytes: the special-function helpers live in their own module.
HELPERS_VERSION = hashlib.sha256(
    Path(__file__).read_bytes() + Path(_special.__file__).read_bytes()).hexdigest()[:12]

# The float32 helpers are inlined into the kernel by numba itself (`inline="always"`):
# called as functions, LLVM inlined them only sometimes (never once loaded from numba's disk
# cache, which holds machine code; not erf_inv, past its size threshold), and a call left in
# the loop keeps it scalar (erf_inv ran 10x slower). The kernel is cached with the helper
# inside. Scalar helpers with loops (digamma) stay functions, compiled once per process when
# a kernel that uses one is compiled (not disk-cached, for the same reason).
_jit = numba.njit(nogil=True, error_model="numpy")
_inline = numba.njit(nogil=True, error_model="numpy", inline="always")
# Inlined by LLVM instead (numba marks the function `alwaysinline`): compiled once per
# process, then every kernel that calls it gets a copy as if written in place, vectorised
# with the loop. numba's IR-level inlining of a large helper costs ~0.7 s of compile time
# per call site (copying and re-typing the IR); this costs ~0.1 s per kernel.
_force_inline = numba.njit(nogil=True, error_model="numpy", forceinline=True)


# ---------------------------------------------------------------------------------------
# Bit-level intrinsics (one LLVM instruction each)


@intrinsic
def bitcast(typingctx, x, like):
    """`x`'s bits reinterpreted as the type of `like` (same width; `like` is only a type)."""
    if x.bitwidth != like.bitwidth:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(like))

    return like(x, like), codegen


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c rounded once (an FMA instruction; vectorises). Kernels are compiled without
    contraction, so that their arithmetic rounds as NumPy's does; the polynomials of the
    helpers below ask for FMAs where they want them (Cephes' float32 tanh ran 1.5x faster).
    """
    if not isinstance(a, types.Float) or not a == b == c:
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return a(a, b, c), codegen


@intrinsic
def popcount(typingctx, x):
    """The number of set bits of an integer, in its own type."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return x(x), codegen


@intrinsic
def clz(typingctx, x):
    """The number of leading zero bits of an integer (its width for 0), in its own type."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.ctlz(args[0], context.get_constant(types.boolean, False))

    return x(x), codegen


# ---------------------------------------------------------------------------------------
# float32 log1p and erf_inv

_F32 = np.float32
_SQRT_HALF = _F32(0.70710678118654752440)
# ln 2 split in two (Cephes): e * LN2_HI is exact for the exponents a float32 has.
_LN2_HI, _LN2_LO = _F32(0.693359375), _F32(-2.12194440e-4)
# Cephes logf: log(1 + f) = f - f^2/2 + f^3 P(f) on [sqrt(1/2) - 1, sqrt(2) - 1].
_P0, _P1, _P2, _P3, _P4, _P5, _P6, _P7, _P8 = (_F32(c) for c in (
    7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
    -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1))
_U32_LIKE = np.uint32(0)
_F32_LIKE = np.float32(0)


@_inline
def _log_f32_core(u, err, shift):
    """log(u) + err for a positive normal float32 u, minus shift * ln 2 (garbage for other
    u: the callers select the special values)."""
    one = _F32(1)
    b = bitcast(u, _U32_LIKE)
    # u = 2^e * m with m in [sqrt(1/2), sqrt(2)): frexp by masking the exponent field.
    # (numba widens uint32 arithmetic to 64 bits: narrow back before each bitcast.) The
    # exponent becomes a float by the 2^23 trick, staying in 32-bit lanes: the bits of
    # 2^23 + k for the biased exponent k, minus 2^23 + 126.
    m = bitcast(np.uint32((b & np.uint32(0x007FFFFF)) | np.uint32(0x3F000000)), _F32_LIKE)
    fe = bitcast(np.uint32((b >> np.uint32(23)) | np.uint32(0x4B000000)), _F32_LIKE) \
        - _F32(8388734.0) - shift
    low = m < _SQRT_HALF
    fe = fe - one if low else fe
    f = (m + m - one) if low else (m - one)
    z = f * f
    p = _P0 * f + _P1
    p = p * f + _P2
    p = p * f + _P3
    p = p * f + _P4
    p = p * f + _P5
    p = p * f + _P6
    p = p * f + _P7
    p = p * f + _P8
    y = p * f * z + fe * _LN2_LO - _F32(0.5) * z
    return (f + y + err) + fe * _LN2_HI


@_inline
def _log_special(u, r):
    # Special values as selects (not branches around calls): inf, 0, negative or nan.
    r = u if u == _F32(np.inf) else r
    r = _F32(-np.inf) if u == _F32(0) else r
    return _F32(np.nan) if not u >= _F32(0) else r


@_inline
def _log1p_f32(x):
    one = _F32(1)
    u = one + x
    # u rounds 1 + x; (x - (u - 1)) is the rounding error exactly, and log(1 + x) =
    # log(u) + err / u to first order: this keeps the accuracy of log1p for small x.
    r = _log_f32_core(u, (x - (u - one)) / u, _F32(0))
    r = x if u == one else r  # |x| below half an ulp of 1: log1p(x) = x (keeps -0.0)
    return _log_special(u, r)


@_inline
def log1p_f32(x):
    """log(1 + x) in float32 with no libm call and no data-dependent branch (vectorisable)."""
    return _log1p_f32(x)


@_inline
def log_f32(x):
    """log(x) in float32, vectorisable (as log1p_f32); subnormal x are scaled by 2^23."""
    sub = x < _F32(1.17549435e-38)
    u = x * _F32(8388608.0) if sub else x
    r = _log_f32_core(u, _F32(0), _F32(23) if sub else _F32(0))
    return _log_special(x, r)


_C0, _C1, _C2, _C3, _C4, _C5, _C6, _C7, _C8 = (_F32(c) for c in ERF_INV_F32_CENTRAL)
_T0, _T1, _T2, _T3, _T4, _T5, _T6, _T7, _T8 = (_F32(c) for c in ERF_INV_F32_TAIL)


@_inline
def erf_inv_f32(x):
    """XLA's float32 erf_inv (Giles' polynomials in w = -log1p(-x^2)), both branches
    evaluated and selected so that the loop vectorises; erf_inv(+-1) = +-inf."""
    # (log1p's correction term matters: log(1 - x^2) alone is 3 ulp off for |x| near 0.6.)
    w = -_log1p_f32(-(x * x))
    t = w - _F32(2.5)
    p = _C0 * t + _C1
    p = p * t + _C2
    p = p * t + _C3
    p = p * t + _C4
    p = p * t + _C5
    p = p * t + _C6
    p = p * t + _C7
    p = p * t + _C8
    s = np.sqrt(w) - _F32(3)
    q = _T0 * s + _T1
    q = q * s + _T2
    q = q * s + _T3
    q = q * s + _T4
    q = q * s + _T5
    q = q * s + _T6
    q = q * s + _T7
    q = q * s + _T8
    q = _F32(np.inf) if abs(x) == _F32(1) else q
    return (q if w >= _F32(5) else p) * x


# ---------------------------------------------------------------------------------------
# float32 exp and tanh
#
# numba's scalar np.exp/np.tanh call libm per element and keep the loop scalar: a fused
# add + tanh over 16384x64 took 2.6 ms against NumPy's 0.25 ms, so tier-1 loop bodies left
# such groups to NumPy (`loop_tier1._LIBM`), one pass over memory per primitive. These
# vectorise, so the activation and its derivative fuse with their neighbours.

_LOG2E = _F32(1.44269504088896341)
# Cephes expf: exp(r) = 1 + r + r^2 Q(r) on |r| <= ln(2)/2.
_E0, _E1, _E2, _E3, _E4, _E5 = (_F32(c) for c in (
    1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
    5.0000001201e-1))


@_inline
def _pow2_f32(n):
    """2^n as a float32 for an integral float32 n in [-126, 127]."""
    return bitcast(np.uint32(np.int32(n + _F32(127)) << np.int32(23)), _F32_LIKE)


@_inline
def exp_f32(x):
    """exp(x) in float32 (Cephes expf, within 1 ulp of NumPy's), vectorisable: inf above
    ~88.72, gradual underflow to 0 below ~-87.3, nan for nan."""
    one = _F32(1)
    c = min(max(x, _F32(-104)), _F32(89))  # exp(c) is 0 or inf beyond: no int overflow
    n = np.floor(fma(c, _LOG2E, _F32(0.5)))
    r = fma(-n, _LN2_LO, fma(-n, _LN2_HI, c))
    z = r * r
    p = fma(_E0, r, _E1)
    p = fma(p, r, _E2)
    p = fma(p, r, _E3)
    p = fma(p, r, _E4)
    p = fma(p, r, _E5)
    y = fma(p, z, r) + one
    # y * 2^n in two exact halves: n spans [-150, 129], beyond one float32 exponent, and
    # the second product rounds once (subnormal results) or overflows to inf.
    h = np.floor(n * _F32(0.5))
    y = y * _pow2_f32(h) * _pow2_f32(n - h)
    return x + x if x != x else y


# tanh(x) = x P(x^2) / Q(x^2) on [-9, 9], P of degree 6 and Q of degree 3: a rational
# approximation fitted for this module (linearised least squares on the relative error,
# reweighted toward minimax; 7e-9 in exact arithmetic, so the float32 rounding of the
# evaluation dominates), the kind XLA uses. 1M values of a fused bias + tanh: 0.60 ms,
# against 0.98 ms through exp (the Cephes form, within 1 ulp, that it replaced).
_TP = tuple(_F32(c) for c in (1.0, 0.13084068894386292, 0.003104020608589053,
                              1.1154959793202579e-05, -2.0227727048904853e-08,
                              5.279068848729196e-11, -8.491358928931075e-14))
_TQ = tuple(_F32(c) for c in (1.0, 0.46417394280433655, 0.024495435878634453,
                              0.00025462376652285457))


@_inline
def tanh_f32(x):
    """tanh(x) in float32, vectorisable: within 6 ulp of the correctly rounded result over
    all float32 (JAX's CPU tanh: 5); tanh(x) = x for tiny x (keeping -0.0), +-1 from
    |x| = 9 on, nan for nan."""
    c = max(min(x, _F32(9)), _F32(-9))  # (nan passes through both)
    s = c * c
    p = fma(_TP[6], s, _TP[5])
    p = fma(p, s, _TP[4])
    p = fma(p, s, _TP[3])
    p = fma(p, s, _TP[2])
    p = fma(p, s, _TP[1])
    p = fma(p, s, _TP[0])
    q = fma(_TQ[3], s, _TQ[2])
    q = fma(q, s, _TQ[1])
    q = fma(q, s, _TQ[0])
    return c * p / q


# ---------------------------------------------------------------------------------------
# float32 sin, cos and tan of arrays (one shared range reduction; no libm call, no branch)
#
# numba's np.sin/np.cos on float32 call libm per element, and a call in a loop keeps it
# scalar: a vmapped simulation step takes sin and cos of every lane (1,024 per step for
# CartPole). These compute in float64 (as glibc's sinf and cosf do) and round once to
# float32: error <= 0.5 ulp + 2^-30 relative, i.e. within 1 ulp of the exact value
# everywhere and usually correctly rounded; vectorised, sin and cos of 1M values in
# 3.7 ms (libm, from a loop: 4-17 ms by argument range). Straight-line code: sin and cos
# of one value inline the same code, which LLVM then computes once. (Scalar code keeps
# libm: see lax/lowering_rules.py.)
#
# Reduction to r in [-pi/4, pi/4] and a quadrant n (x = n pi/2 + r) for |x| > pi/4, by
# Payne-Hanek in integers: x = m 2^(e-150) with m on 24 bits; the 96 bits of 2/pi that
# matter for x 2/pi mod 4 (bits e-151 .. e-56 after the point) are three 32-bit words
# shifted out of constants by e; the 24x96-bit product mod 2^96, kept as its top 64 bits,
# is x 2/pi mod 4 in 2.62 fixed point, exact up to the dropped low word (a float32 comes
# no closer than ~2^-30 to a multiple of pi/2, so r keeps 30+ significant bits).


def _pi_bits(nbits):
    """floor(pi 2^nbits) (to within 1), from Machin's formula in integer arithmetic."""
    one = 1 << (nbits + 64)  # 64 guard bits

    def arctan_inv(q):  # arctan(1/q) * one
        total, term, k, q2 = 0, one // q, 1, q * q
        while term:
            total += term // k if k % 4 == 1 else -(term // k)
            term //= q2
            k += 2
        return total

    return (4 * (4 * arctan_inv(5) - arctan_inv(239))) >> 64


def _two_over_pi_words():
    """Five 64-bit words: 64 zero bits, then bits 1..256 of 2/pi after the point."""
    bits = (1 << 513) // _pi_bits(256)  # floor(2^256 2/pi)
    return tuple(np.uint64((bits >> (64 * (4 - k))) & (2**64 - 1)) for k in range(5))


_TOPI_W0, _TOPI_W1, _TOPI_W2, _TOPI_W3, _TOPI_W4 = _two_over_pi_words()
_F64 = np.float64
_U64 = np.uint64
_PIO2_2_62 = _F64(math.pi / 2 * 2.0**-62)
_PIO4_F32 = _F32(math.pi / 4)  # a hair above pi/4: the polynomials still hold there
# Polynomials on |r| <= pi/4 (fitted minimax, relative error 5e-12 and 6e-11):
# sin r = r + r^3 S(r^2), cos r = 1 + r^2 C(r^2).
_SIN1, _SIN2, _SIN3, _SIN4 = (_F64(float.fromhex(c)) for c in (
    "-0x1.5555554c71ef0p-3", "0x1.1111086a72648p-7", "-0x1.a00f7f3417484p-13",
    "0x1.6cd1f4ff57625p-19"))
_COS1, _COS2, _COS3, _COS4 = (_F64(float.fromhex(c)) for c in (
    "-0x1.ffffffcb838dep-2", "0x1.55553c78c77e2p-5", "-0x1.6c07f178658c1p-10",
    "0x1.9916a2d660eeep-16"))
_I64_LIKE = np.int64(0)


@_force_inline
def _sin_cos_f32(x):
    """(sin x, cos x) in float64 for float32 x (garbage for +-inf and nan).

    LLVM inlines it (`_force_inline`). Straight-line code, no branch: in a kernel taking
    sin and cos of one value, LLVM then computes the shared part once."""
    # Payne-Hanek on |x| = m 2^(e-150): the 96-bit window of 2/pi, bits e-151 .. e-56 after
    # the point, shifted out of the words _TOPI_W0.._TOPI_W4 (64 zero bits, then 2/pi; bit
    # 0 = the top of _TOPI_W0) by selects and shifts, not a table lookup, which would be a
    # slow gather once vectorised. Valid for |x| >= 2^-1 (e >= 126), exact in integers.
    ax = _U64(bitcast(x, _U32_LIKE) & np.uint32(0x7FFFFFFF))
    e = ax >> _U64(23)
    m = (ax & _U64(0x7FFFFF)) | _U64(0x800000)
    p = e - _U64(88)  # the window's first bit (wraps for tiny x: garbage, not selected)
    q = p >> _U64(6)
    sh = p & _U64(63)
    a = _TOPI_W0 if q == _U64(0) else (_TOPI_W1 if q == _U64(1) else _TOPI_W2)
    b = _TOPI_W1 if q == _U64(0) else (_TOPI_W2 if q == _U64(1) else _TOPI_W3)
    c = _TOPI_W2 if q == _U64(0) else (_TOPI_W3 if q == _U64(1) else _TOPI_W4)
    # (a shift by 64 is undefined in LLVM: the right shifts go in two steps)
    x0 = (a << sh) | ((b >> _U64(1)) >> (_U64(63) - sh))
    x1 = (b << sh) | ((c >> _U64(1)) >> (_U64(63) - sh))
    # m times the window, mod 2^96, top 64 bits: x 2/pi mod 4 in 2.62 fixed point; rounded
    # to the nearest quadrant n, the rest (62 bits after the point) is r / (pi/2).
    acc = ((m * (x0 >> _U64(32))) << _U64(32)) + m * (x0 & _U64(0xFFFFFFFF)) + \
        ((m * (x1 >> _U64(32))) >> _U64(32))
    n = (acc + (_U64(1) << _U64(61))) >> _U64(62)
    r = _F64(bitcast(acc - (n << _U64(62)), _I64_LIKE)) * _PIO2_2_62
    neg = x < _F32(0)
    r = -r if neg else r
    n = ((_U64(4) - n) if neg else n) & _U64(3)
    # |x| <= pi/4 needs no reduction (and tiny x must not be reduced: the fixed point
    # would lose them).
    small = abs(x) <= _PIO4_F32
    r = _F64(x) if small else r
    n = _U64(0) if small else n
    # Polynomials by Estrin's scheme (a shorter dependency chain than Horner's: a scalar
    # loop carrying the angle waits on it); sin as r (1 + ...), not r + r^3 (...), keeps
    # sin(-0.0) = -0.0.
    z = r * r
    z2 = z * z
    s = r * (_F64(1) + z * ((_SIN1 + z * _SIN2) + z2 * (_SIN3 + z * _SIN4)))
    c = _F64(1) + z * ((_COS1 + z * _COS2) + z2 * (_COS3 + z * _COS4))
    sin = c if n & _U64(1) else s
    cos = s if n & _U64(1) else c
    return (-sin if n & _U64(2) else sin), (-cos if (n + _U64(1)) & _U64(2) else cos)


@_force_inline
def sin_f32(x):
    """sin(x) for float32 x, vectorisable, within 1 ulp (see the block comment)."""
    v = _sin_cos_f32(x)[0]
    return _F32(v) if abs(x) < _F32(np.inf) else _F32(np.nan)


@_force_inline
def cos_f32(x):
    """cos(x) for float32 x, vectorisable, within 1 ulp (see the block comment)."""
    v = _sin_cos_f32(x)[1]
    return _F32(v) if abs(x) < _F32(np.inf) else _F32(np.nan)


@_force_inline
def tan_f32(x):
    """tan(x) for float32 x: sin / cos in float64, rounded once."""
    s, c = _sin_cos_f32(x)
    return _F32(s / c) if abs(x) < _F32(np.inf) else _F32(np.nan)


# ---------------------------------------------------------------------------------------
# Special functions in float64 (kernels round the result to the output dtype); digamma and
# the series / continued-fraction ones are in kernel_helpers_special.py


@_jit
def log_ndtr(x):
    """log of the standard normal CDF, accurate in both tails."""
    x = np.float64(x)
    if x > 5.0:  # 1 - tiny: log1p of the (accurately computed) upper tail
        return math.log1p(-0.5 * math.erfc(x / math.sqrt(2.0)))
    if x > -30.0:
        return math.log(0.5 * math.erfc(-x / math.sqrt(2.0)))
    # Asymptotic series of Mills' ratio: Phi(x) ~ phi(x)/|x| (1 - 1/x^2 + 3/x^4 - ...).
    z = 1.0 / (x * x)
    s, term = 1.0, 1.0
    for k in range(1, 8):
        term *= -(2 * k - 1) * z
        s += term
    return -0.5 * x * x - math.log(-x) - 0.5 * math.log(2 * math.pi) + math.log(s)
