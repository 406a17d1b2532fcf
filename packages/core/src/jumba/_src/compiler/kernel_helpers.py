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

from jumba._src.lax.elementwise import ERF_INV_F32_CENTRAL, ERF_INV_F32_TAIL

HELPERS_VERSION = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]

# The float32 helpers are inlined into the kernel by numba itself (`inline="always"`):
# called as functions, LLVM inlined them only sometimes (never once loaded from numba's disk
# cache, which holds machine code; not erf_inv, past its size threshold), and a call left in
# the loop keeps it scalar (erf_inv ran 10x slower). The kernel is cached with the helper
# inside. Scalar helpers with loops (digamma) stay functions, compiled once per process when
# a kernel that uses one is compiled (not disk-cached, for the same reason).
_jit = numba.njit(nogil=True, error_model="numpy")
_inline = numba.njit(nogil=True, error_model="numpy", inline="always")


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
# Cephes tanhf: tanh(x) = x + x^3 P(x^2) on |x| <= 0.625.
_H0, _H1, _H2, _H3, _H4 = (_F32(c) for c in (
    -5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1,
    -3.33332819422e-1))


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
    n = np.floor(c * _LOG2E + _F32(0.5))
    r = c - n * _LN2_HI - n * _LN2_LO
    z = r * r
    p = _E0 * r + _E1
    p = p * r + _E2
    p = p * r + _E3
    p = p * r + _E4
    p = p * r + _E5
    y = p * z + r + one
    # y * 2^n in two exact halves: n spans [-150, 129], beyond one float32 exponent, and
    # the second product rounds once (subnormal results) or overflows to inf.
    h = np.floor(n * _F32(0.5))
    y = y * _pow2_f32(h) * _pow2_f32(n - h)
    return x + x if x != x else y


@_inline
def tanh_f32(x):
    """tanh(x) in float32 (Cephes tanhf, within 1 ulp of the rounded result), vectorisable;
    keeps the sign of zero and is +-1 beyond |x| = 9 (tanh(9) rounds to 1)."""
    one = _F32(1)
    a = abs(x)
    z = x * x
    p = _H0 * z + _H1
    p = p * z + _H2
    p = p * z + _H3
    p = p * z + _H4
    small = p * z * x + x
    small = x if z == _F32(0) else small  # -0.0 (and x whose square underflows) as is
    # exp(2a) for a in (0.625, 9], as exp_f32 without its overflow, underflow and nan
    # cases (2^n for n in [1, 26]): a fused tanh layer ran 30% faster than through exp_f32.
    c = min(a, _F32(9)) * _F32(2)
    n = np.floor(c * _LOG2E + _F32(0.5))
    r = c - n * _LN2_HI - n * _LN2_LO
    q = _E0 * r + _E1
    q = q * r + _E2
    q = q * r + _E3
    q = q * r + _E4
    q = q * r + _E5
    e = (q * (r * r) + r + one) * _pow2_f32(n)
    big = one - _F32(2) / (e + one)
    big = -big if x < _F32(0) else big
    return big if a > _F32(0.625) else small  # (nan: small, which is nan)


# ---------------------------------------------------------------------------------------
# Special functions in float64 (kernels round the result to the output dtype)

# Bernoulli-number terms of digamma's asymptotic series: B_2k / (2k), k = 1..7.
_PSI_ASYMPTOTIC = (1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760, 1 / 12)


@_jit
def digamma(x):
    """The digamma function psi(x) (scipy.special.digamma's conventions at the poles)."""
    x = np.float64(x)
    if x == 0.0:
        return -np.inf if not math.copysign(1.0, x) < 0 else np.inf
    shift = 0.0
    if x < 0.0:
        if x == math.floor(x):
            return np.nan
        # Reflection: psi(x) = psi(1 - x) - pi / tan(pi x), with tan's argument reduced
        # (exactly) to the distance from the nearest integer: accurate near every pole.
        r = x - math.floor(x + 0.5)
        shift = -math.pi / math.tan(math.pi * r)
        x = 1.0 - x
    while x < 10.0:  # recurrence psi(x) = psi(x + 1) - 1/x up to the asymptotic range
        shift -= 1.0 / x
        x += 1.0
    if x == np.inf:
        return np.inf
    z = 1.0 / (x * x)
    s = 0.0
    for k in range(len(_PSI_ASYMPTOTIC) - 1, -1, -1):
        s = s * z + _PSI_ASYMPTOTIC[k]
    return shift + math.log(x) - 0.5 / x - s * z


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
