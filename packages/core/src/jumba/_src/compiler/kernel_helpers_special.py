"""Scalar helpers of the special-function lowering rules (float64 in, float64 out; the
kernel rounds to the output dtype, as the scipy impls do for float32).

`kernel_helpers` re-exports these names, so a kernel calls them as `_kh.<name>`, and its
`HELPERS_VERSION` hashes this file too: editing a helper changes every kernel's source and
hence its cache entry. This module imports nothing of jumba (it is loaded by the kernels).

Helpers with a data-dependent loop (series, continued fractions) are `_jit` functions:
numba compiles them once per process with the kernel that first calls one, and links them
into that kernel's cached machine code. The short Bessel functions are `_inline`d.
Coefficient tables are NumPy arrays, which numba freezes into constants: a tuple indexed
in a loop is copied to the stack at every call (the Bessel kernels ran 6x slower).

Edge cases (zero, infinite or invalid arguments, nan) follow scipy.special, which the
primitives' NumPy impls call: a jitted program returns what the eager one does.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_jit = numba.njit(nogil=True, error_model="numpy")
_inline = numba.njit(nogil=True, error_model="numpy", inline="always")

_EPS = 2.220446049250313e-16  # float64 machine epsilon
_MAXIT = 2000  # XLA's iteration cap for the float64 incomplete gamma series and fraction
_HALF_LOG_2PI = 0.9189385332046728
_TWO_OVER_SQRT_PI = 1.1283791670955126
_SQRT2 = 1.4142135623730951

# ---------------------------------------------------------------------------------------
# Digamma (also polygamma's order 0 and the incomplete gamma's derivative)

# Bernoulli-number terms of digamma's asymptotic series: B_2k / (2k), k = 1..7.
_PSI_ASYMPTOTIC = np.array([1 / 12, -1 / 120, 1 / 252, -1 / 240, 1 / 132, -691 / 32760,
                            1 / 12])


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


# ---------------------------------------------------------------------------------------
# Regularized incomplete gamma P(a, x), Q(a, x) and dP/da

# Stirling's series of lgamma(a) - ((a - 1/2) log a - a + log(2 pi) / 2): B_2k / (2k (2k-1))
# in powers of 1/a^2 (k = 1..6; the next term is below 1e-17 from a = 20).
_STIRLING = np.array([1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360])


@_jit
def _log_gamma_prefactor(a, x):
    """log(x^a e^-x / Gamma(a)), the factor both the series and the fraction multiply.
    Written directly this cancels terms of size a log a; from a = 20 Stirling's series
    cancels them analytically, leaving a log(x/a) - (x - a), whose error scales with
    |x - a| near the peak (by log1p) instead of with a."""
    if a < 20.0:
        return a * math.log(x) - x - math.lgamma(a)
    z = 1.0 / (a * a)
    c = 0.0
    for k in range(len(_STIRLING) - 1, -1, -1):
        c = c * z + _STIRLING[k]
    d = x - a
    if abs(d) < 0.5 * a:
        log_ratio = math.log1p(d / a)
    else:  # (x/a) is exact to a rounding; log1p of a d/a near -1 would not be
        ratio = x / a
        log_ratio = math.log(ratio) if ratio >= 2.2250738585072014e-308 \
            else math.log(x) - math.log(a)
    return a * log_ratio - d + 0.5 * math.log(a) - _HALF_LOG_2PI - c / a


@_jit
def _igamma_series(a, x, log_ax, deriv):
    """P(a, x) by the power series P = ax/a sum_n x^n / ((a+1)...(a+n)), ax = exp(log_ax);
    with `deriv`, dP/da instead: the series differentiated term by term in a (XLA's
    forward-mode series)."""
    r, c, ans, dc, dans = a, 1.0, 1.0, 0.0, 0.0
    for _ in range(_MAXIT):
        r += 1.0
        if deriv:
            dc = dc * (x / r) - c * x / (r * r)
            dans += dc
        c *= x / r
        ans += c
        if c <= _EPS * ans and (not deriv or abs(dc) <= _EPS * abs(dans)):
            break
    ax_a = math.exp(log_ax) / a  # x^a e^-x / Gamma(a + 1)
    if not deriv:
        return ax_a * ans
    return ax_a * (dans + ans * (math.log(x) - digamma(a + 1.0)))


@_jit
def _igammac_fraction(a, x, log_ax, deriv):
    """Q(a, x) by Legendre's continued fraction (Cephes' igamc recurrence); with `deriv`,
    dQ/da: the numerators and denominators differentiated in a alongside (XLA's forward
    mode; computed either way, the loop is short)."""
    big, biginv = 4503599627370496.0, 2.22044604925031308085e-16
    y = 1.0 - a
    z = x + y + 1.0
    c = 0.0
    pkm2, qkm2, pkm1, qkm1 = 1.0, x, x + 1.0, z * x
    dpkm2, dqkm2, dpkm1, dqkm1 = 0.0, 0.0, 0.0, -x  # d/da; dy/da = dz/da = -1
    ans = pkm1 / qkm1
    dans = (dpkm1 - ans * dqkm1) / qkm1
    for _ in range(_MAXIT):
        c += 1.0
        y += 1.0
        z += 2.0
        yc = y * c
        pk = pkm1 * z - pkm2 * yc
        qk = qkm1 * z - qkm2 * yc
        dpk = dpkm1 * z - pkm1 - dpkm2 * yc + pkm2 * c
        dqk = dqkm1 * z - qkm1 - dqkm2 * yc + qkm2 * c
        t = 1.0
        dt = 1.0
        if qk != 0.0:
            r = pk / qk
            dr = (dpk - r * dqk) / qk
            t = abs((ans - r) / r)
            dt = abs(dans - dr) / max(abs(dr), 1e-300) if deriv else 0.0
            ans, dans = r, dr
        pkm2, pkm1, qkm2, qkm1 = pkm1, pk, qkm1, qk
        dpkm2, dpkm1, dqkm2, dqkm1 = dpkm1, dpk, dqkm1, dqk
        if abs(pk) > big:  # rescale (the fraction is a ratio) before overflow
            pkm2 *= biginv
            pkm1 *= biginv
            qkm2 *= biginv
            qkm1 *= biginv
            dpkm2 *= biginv
            dpkm1 *= biginv
            dqkm2 *= biginv
            dqkm1 *= biginv
        if t <= _EPS and dt <= _EPS:
            break
    ax = math.exp(log_ax)  # x^a e^-x / Gamma(a)
    if not deriv:
        return ax * ans
    return ax * (dans + ans * (math.log(x) - digamma(a)))


@_jit
def _igamma_edge(a, x, lower):
    """P (lower) or Q at the arguments where scipy returns a fixed value; -1 elsewhere."""
    if math.isnan(a) or math.isnan(x) or a < 0.0 or x < 0.0:
        return np.nan
    if a == 0.0:
        return np.nan if x == 0.0 else (1.0 if lower else 0.0)
    if x == 0.0:
        return 0.0 if lower else 1.0
    if x == np.inf:
        return np.nan if a == np.inf else (1.0 if lower else 0.0)
    if a == np.inf:
        return 0.0 if lower else 1.0
    return -1.0


@_jit
def igamma(a, x):
    """P(a, x), by the series where x <= 1 or x <= a and 1 - Q by the continued fraction
    elsewhere (XLA's and Cephes' regime switch)."""
    a, x = np.float64(a), np.float64(x)
    edge = _igamma_edge(a, x, True)
    if edge >= 0.0 or math.isnan(edge):
        return edge
    log_ax = _log_gamma_prefactor(a, x)
    if x > 1.0 and x > a:
        return 1.0 - _igammac_fraction(a, x, log_ax, False)
    return _igamma_series(a, x, log_ax, False)


@_jit
def igammac(a, x):
    """Q(a, x) = 1 - P(a, x): the continued fraction where x >= 1 and x >= a, 1 - P by
    the series elsewhere (XLA's switch)."""
    a, x = np.float64(a), np.float64(x)
    edge = _igamma_edge(a, x, False)
    if edge >= 0.0 or math.isnan(edge):
        return edge
    log_ax = _log_gamma_prefactor(a, x)
    if x < 1.0 or x < a:
        return 1.0 - _igamma_series(a, x, log_ax, False)
    return _igammac_fraction(a, x, log_ax, False)


@_jit
def igamma_grad_a(a, x):
    """dP(a, x)/da as XLA computes it: the a-derivative carried through the same series or
    continued fraction as P (forward mode), so it is as accurate as P itself. 0 at x = 0
    and x = inf (P is constant there) and at a = inf (P and its slope vanish), nan for
    a <= 0 (the NumPy impl's conventions)."""
    a, x = np.float64(a), np.float64(x)
    if math.isnan(a) or math.isnan(x) or a <= 0.0:
        return np.nan
    if x <= 0.0 or x == np.inf or a == np.inf:
        return 0.0
    log_ax = _log_gamma_prefactor(a, x)
    if x > 1.0 and x > a:
        return -_igammac_fraction(a, x, log_ax, True)
    return _igamma_series(a, x, log_ax, True)


# ---------------------------------------------------------------------------------------
# Regularized incomplete beta I_x(a, b)

_TINY = 1e-300


@_jit
def _betainc_fraction(a, b, x):
    """The continued fraction of I_x(a, b) * a B(a, b) / (x^a (1-x)^b), by modified Lentz;
    it converges fast for x < (a + 1) / (a + b + 2)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAXIT):
        m2 = 2.0 * m
        # even step: d_2m = m (b - m) x / ((a + 2m - 1)(a + 2m))
        num = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + num / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        # odd step: d_2m+1 = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1))
        num = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + num / c
        c = c if abs(c) > _TINY else _TINY
        step = d * c
        h *= step
        if abs(step - 1.0) <= _EPS:
            break
    return h


@_jit
def _betainc_direct(a, b, x):
    log_front = (a * math.log(x) + b * math.log1p(-x)
                 - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)))
    return math.exp(log_front) * _betainc_fraction(a, b, x) / a


@_jit
def betainc(a, b, x):
    """I_x(a, b) by its continued fraction, through the symmetry I_x(a, b) =
    1 - I_(1-x)(b, a) where x is past the mean-like point (a + 1) / (a + b + 2)."""
    a, b, x = np.float64(a), np.float64(b), np.float64(x)
    if math.isnan(a) or math.isnan(b) or math.isnan(x):
        return np.nan
    if a < 0.0 or b < 0.0 or x < 0.0 or x > 1.0:
        return np.nan
    if (a == 0.0 and b == 0.0) or (a == np.inf and b == np.inf):
        return np.nan
    if x == 0.0:
        return 0.0
    if x == 1.0:
        return 1.0
    if a == 0.0 or b == np.inf:
        return 1.0
    if b == 0.0 or a == np.inf:
        return 0.0
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _betainc_direct(b, a, 1.0 - x)
    return _betainc_direct(a, b, x)


# ---------------------------------------------------------------------------------------
# Hurwitz zeta and polygamma


def _bernoulli_terms(n):
    """B_2k / (2k)! for k = 1..n (Bernoulli numbers by the Akiyama-Tanigawa recurrence)."""
    b, a = [], [Fraction(0)] * (2 * n + 1)
    for m in range(2 * n + 1):
        a[m] = Fraction(1, m + 1)
        for j in range(m, 0, -1):
            a[j - 1] = j * (a[j - 1] - a[j])
        b.append(a[0])  # B_m (with B_1 = +1/2, unused)
    return np.array([float(b[2 * k] / math.factorial(2 * k)) for k in range(1, n + 1)])


_EULER_MACLAURIN = _bernoulli_terms(12)


@_jit
def zeta(x, q):
    """The Hurwitz zeta function sum_{n >= 0} (n + q)^-x by Euler-Maclaurin summation:
    the terms summed directly up to n + q > 9 (and n >= 9), the rest by the integral, half
    the last term and the Bernoulli corrections. scipy's conventions: x = 1 gives inf,
    x < 1 nan, a pole q = 0, -1, ... inf, other q < 0 need an integer x."""
    x, q = np.float64(x), np.float64(q)
    if math.isnan(x) or math.isnan(q):
        return np.nan
    if x == 1.0:
        return np.inf
    if x < 1.0:
        return np.nan
    if q <= 0.0:
        if q == math.floor(q):
            return np.inf
        if x != math.floor(x):
            return np.nan  # (n + q)^-x is complex
    if q > 1e8:  # two terms of the asymptotic expansion (DLMF 25.11.43) are exact here
        return (1.0 / (x - 1.0) + 1.0 / (2.0 * q)) * q ** (1.0 - x)
    s = q ** -x
    w = q
    term = 0.0
    i = 0
    while i < 9 or w <= 9.0:
        i += 1
        w += 1.0
        term = w ** -x
        s += term
        if abs(term / s) < _EPS:
            return s
    # sum_{n > w} f(n) = int_w^inf f - f(w)/2 - sum_k B_2k/(2k)! f^(2k-1)(w), f(n) = n^-x
    s += term * w / (x - 1.0) - 0.5 * term
    rising = x  # x (x+1) ... (x+2k-2)
    power = term / w  # w^(-x-2k+1)
    for k in range(len(_EULER_MACLAURIN)):
        t = _EULER_MACLAURIN[k] * rising * power
        s += t
        if abs(t / s) < _EPS:
            break
        rising *= (x + 2 * k + 1) * (x + 2 * k + 2)
        power /= w * w
    return s


@_jit
def polygamma(m, x):
    """psi^(m)(x) = (-1)^(m+1) m! zeta(m + 1, x) for m >= 1 and digamma for m = 0 (as
    scipy); nan for an order that is not a non-negative integer (as XLA)."""
    m, x = np.float64(m), np.float64(x)
    if not (m >= 0.0 and m == math.floor(m)):
        return np.nan
    if m == 0.0:
        return digamma(x)
    sign = 1.0 if m % 2.0 == 1.0 else -1.0
    return sign * math.gamma(m + 1.0) * zeta(m + 1.0, x)


# ---------------------------------------------------------------------------------------
# Exponentially scaled modified Bessel functions i0e, i1e

# Chebyshev coefficients (first kind, c_0 not halved) fitted with mpmath at 40 digits on 40
# Chebyshev nodes and cut where they fall below 1e-18 (Cephes' scheme, own coefficients):
# i0e(x) on [0, 8] in t = x/4 - 1; sqrt(x) i0e(x) on [8, inf) in t = 16/x - 1; likewise
# i1e(x)/x and sqrt(x) i1e(x).
_I0E_SMALL = np.array([
    0.33839763720473803, -0.3046826723431984, 0.17162090152220877, -0.09490109704804764,
    0.04930528423967071, -0.02373741480589947, 0.010546460394594998, -0.004324309995050576,
    0.0016394756169413357, -0.0005763755745385824, 0.00018850288509584165,
    -5.754195010082104e-05, 1.6448448070728896e-05, -4.4167383584587505e-06,
    1.1173875391201037e-06, -2.670793853940612e-07, 6.046995022541919e-08,
    -1.300025009986248e-08, 2.6598237246823866e-09, -5.189795601635263e-10,
    9.675809035373237e-11, -1.726826291441556e-11, 2.95505266312964e-12,
    -4.856446783111929e-13, 7.676185498604936e-14, -1.1685332877993451e-14,
    1.715391285555133e-15, -2.431279846547955e-16, 3.3307945188222384e-17,
    -4.4153416464793395e-18])
_I0E_LARGE = np.array([
    0.4022452055070544, 0.0033691164782556943, 6.889758346916825e-05,
    2.8913705208347567e-06, 2.0489185894690638e-07, 2.266668990498178e-08,
    3.3962320257083865e-09, 4.94060238822497e-10, 1.1889147107846439e-11,
    -3.1499165279632416e-11, -1.3215811840447713e-11, -1.7941785315068062e-12,
    7.180124451383666e-13, 3.8527783827421426e-13, 1.54008621752141e-14,
    -4.150569347287222e-14, -9.554846698828307e-15, 3.811680669352621e-15,
    1.7725601330565245e-15, -3.425485619677142e-16, -2.827623980516646e-16,
    3.461222867695658e-17, 4.465621420302078e-17, -4.8305044859640105e-18,
    -7.233180488043844e-18, 9.921475415657038e-19, 1.1936508909418693e-18])
_I1E_SMALL = np.array([
    0.12629359322181682, -0.17641651835783406, 0.1026436586898471, -0.05294598120809499,
    0.024726449030626516, -0.010564084894626197, 0.004156422944312888,
    -0.0015135724506312532, 0.0005122859561685758, -0.00016176081582589674,
    4.781565107550054e-05, -1.3273163656039436e-05, 3.4702513081376785e-06,
    -8.568720264695455e-07, 2.0032947535521353e-07, -4.445059128796328e-08,
    9.381537386495773e-09, -1.8872497517228294e-09, 3.625590281552117e-10,
    -6.663489723502027e-11, 1.1736186298890901e-11, -1.9839743977649436e-12,
    3.223793365945575e-13, -5.042185504727912e-14, 7.600684294735408e-15,
    -1.1055969477353862e-15, 1.5536319577362005e-16, -2.111421214358166e-17,
    2.7779141127610464e-18])
_I1E_LARGE = np.array([
    0.38928811750914005, -0.009761097491361469, -0.00011058893876262371,
    -3.882564808877691e-06, -2.512236237870209e-07, -2.6314688468895196e-08,
    -3.835380385964237e-09, -5.589743462196584e-10, -1.8974958123505413e-11,
    3.2526035830154884e-11, 1.4125807436613782e-11, 2.0356285441470896e-12,
    -7.198551776245908e-13, -4.0835511110921974e-13, -2.1015418427726643e-14,
    4.2724400167119517e-14, 1.0420276984128802e-14, -3.814403072437007e-15,
    -1.8803547755107805e-15, 3.30820231092085e-16, 2.9626289976460157e-16,
    -3.209525921991637e-17, -4.6503053684947827e-17, 4.414348323093937e-18,
    7.517296311011398e-18, -9.314178870907263e-19, -1.2421932752759928e-18])


@_inline
def _chebyshev(t, c):
    """sum_k c[k] T_k(t) by Clenshaw's recurrence."""
    b1, b2 = 0.0, 0.0
    for k in range(len(c) - 1, 0, -1):
        b1, b2 = 2.0 * t * b1 - b2 + c[k], b1
    return t * b1 - b2 + c[0]


@_inline
def bessel_i0e(x):
    """exp(-|x|) I0(x)."""
    ax = abs(np.float64(x))
    if ax <= 8.0:
        return _chebyshev(0.25 * ax - 1.0, _I0E_SMALL)
    return _chebyshev(16.0 / ax - 1.0, _I0E_LARGE) / math.sqrt(ax)  # nan stays nan


@_inline
def bessel_i1e(x):
    """exp(-|x|) I1(x), odd in x (i1e(-0.0) = +0.0, as scipy)."""
    x = np.float64(x)
    ax = abs(x)
    if ax <= 8.0:
        r = _chebyshev(0.25 * ax - 1.0, _I1E_SMALL) * ax
    else:
        r = _chebyshev(16.0 / ax - 1.0, _I1E_LARGE) / math.sqrt(ax)
    return -r if x < 0.0 else r


# ---------------------------------------------------------------------------------------
# The normal quantile ndtri and float64 erf_inv

# P. J. Acklam's rational approximations of the normal quantile (relative error 1.15e-9),
# central in q = p - 1/2 and lower tail in sqrt(-2 log p); one Halley step on erf or erfc
# then brings them to double precision.
_ACK_A = np.array([-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
          1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00])
_ACK_B = np.array([-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
          6.680131188771972e+01, -1.328068155288572e+01, 1.0])
_ACK_C = np.array([-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
          -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00])
_ACK_D = np.array([7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
          3.754408661907416e+00, 1.0])
_P_LOW = 0.02425


@_jit
def _horner(c, t):
    r = 0.0
    for k in range(len(c)):
        r = r * t + c[k]
    return r


@_jit
def _acklam_central(q):
    """The normal quantile at p = 1/2 + q, |q| <= 1/2 - _P_LOW (odd in q)."""
    r = q * q
    return q * _horner(_ACK_A, r) / _horner(_ACK_B, r)


@_jit
def _acklam_tail(p):
    """minus the normal quantile at p in (0, _P_LOW): a positive number."""
    s = math.sqrt(-2.0 * math.log(p))
    return -_horner(_ACK_C, s) / _horner(_ACK_D, s)


@_jit
def _solve_erf(x, y):
    """One Halley step for erf(x) = y (erf'' = -2x erf', so the step is u / (1 + x u))."""
    slope = _TWO_OVER_SQRT_PI * math.exp(-x * x)
    if slope == 0.0:
        return x
    u = (math.erf(x) - y) / slope
    return x - u / (1.0 + x * u)


@_jit
def _solve_erfc(t, w):
    """One Halley step for erfc(t) = w; t > 0, w in the tail (erfc keeps its relative
    accuracy there, where 1 - erf would not)."""
    slope = -_TWO_OVER_SQRT_PI * math.exp(-t * t)
    if slope == 0.0:  # w below erfc's underflow: keep the rational approximation
        return t
    u = (math.erfc(t) - w) / slope
    return t - u / (1.0 + t * u)


@_jit
def ndtri(p, refine=True):
    """The standard normal quantile; -inf at 0, inf at 1, nan outside [0, 1]. Without
    `refine`, Acklam's approximation alone (relative error 1.2e-9: enough for a float32
    result, at a fraction of the cost)."""
    p = np.float64(p)
    if not (p >= 0.0 and p <= 1.0):
        return np.nan
    if p == 0.0:
        return -np.inf
    if p == 1.0:
        return np.inf
    if p < _P_LOW or p > 1.0 - _P_LOW:
        w = 2.0 * min(p, 1.0 - p)  # 1 - p is exact here
        t = _acklam_tail(0.5 * w) / _SQRT2
        if refine:
            t = _solve_erfc(t, w)
        return math.copysign(_SQRT2 * t, p - 0.5)
    # Centred: erf(z / sqrt 2) = 2p - 1 (2 (p - 1/2) is exact for p >= 1/4).
    q = p - 0.5
    z = _acklam_central(q)
    return _SQRT2 * _solve_erf(z / _SQRT2, 2.0 * q) if refine else z


@_jit
def erf_inv(y):
    """erf^-1(y) in float64 (the normal quantile rescaled, refined on erf or erfc)."""
    y = np.float64(y)
    if not abs(y) <= 1.0:
        return np.nan
    if abs(y) == 1.0:
        return math.copysign(np.inf, y)
    if abs(y) > 1.0 - 2.0 * _P_LOW:
        w = 1.0 - abs(y)  # exact here
        return math.copysign(_solve_erfc(_acklam_tail(0.5 * w) / _SQRT2, w), y)
    return _solve_erf(_acklam_central(0.5 * y) / _SQRT2, y)


# ---------------------------------------------------------------------------------------
# 64-bit mulhi


@intrinsic
def mulhi64(typingctx, x, y):
    """The high 64 bits of the 128-bit product of two 64-bit integers of one type (signed
    operands sign-extended): LLVM's i128 multiply, one `mul`/`imul` on x86-64, exact where
    four 32-bit partial products would need carries."""
    if not (isinstance(x, types.Integer) and x == y and x.bitwidth == 64):
        return None

    def codegen(context, builder, signature, args):
        wide = ir.IntType(128)
        ext = builder.sext if x.signed else builder.zext
        prod = builder.mul(ext(args[0], wide), ext(args[1], wide))
        return builder.trunc(builder.lshr(prod, ir.Constant(wide, 64)), ir.IntType(64))

    return x(x, y), codegen
