"""More jumba.numpy elementwise functions, as compositions of primitives: gcd, lcm, frexp,
ldexp, modf, spacing, i0, bitwise_count, fabs, fmax, fmin, nan_to_num, isreal, iscomplex,
the array-API bitwise names, interp, unwrap, select, piecewise; and the products cross,
kron, vecdot, matvec, vecmat; packbits and unpackbits."""

from __future__ import annotations

import numpy as np

from jumba._src.core import get_aval
from jumba._src.lax import elementwise as ew
from jumba._src.lax import structural as st
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.numpy.index_functions import take
from jumba._src.numpy.indexing import _as_operand
from jumba._src.numpy.sorting_searching import searchsorted

__all__ = [
    "gcd", "lcm", "frexp", "ldexp", "modf", "spacing", "i0", "bitwise_count", "fabs",
    "fmax", "fmin", "nan_to_num", "isreal", "iscomplex", "bitwise_invert",
    "bitwise_left_shift", "bitwise_right_shift", "interp", "unwrap", "select", "piecewise",
    "cross", "kron", "vecdot", "matvec", "vecmat", "packbits", "unpackbits",
]

bitwise_invert = jnp.invert
bitwise_left_shift = jnp.left_shift
bitwise_right_shift = jnp.right_shift


def _ints(name, *xs):
    xs = jnp.promote_dtypes(*xs)
    for x in xs:
        if get_aval(x).dtype.kind not in "iu":
            raise TypeError(f"jumba.numpy.{name}: arguments must be integers, got "
                            f"{get_aval(x).str_short()}")
    return xs


def gcd(x1, x2, /):
    """Greatest common divisor of |x1| and |x2| (Euclid's algorithm, unrolled)."""
    a, b = _ints("gcd", x1, x2)
    a, b = jnp.broadcast_arrays(jnp.absolute(a), jnp.absolute(b))
    dt = get_aval(a).dtype
    zero, one = np.zeros((), dt), np.ones((), dt)
    # Each step at least halves the pair every two steps: 2 * bits steps always suffice.
    for _ in range(2 * 8 * dt.itemsize + 2):
        done = ew.eq(b, zero)
        safe = ew.select_n(done, b, one)
        a, b = ew.select_n(done, b, a), ew.select_n(done, ew.rem(a, safe), zero)
    return a


def lcm(x1, x2, /):
    """Least common multiple of |x1| and |x2| (0 if either is 0)."""
    a, b = _ints("lcm", x1, x2)
    g = gcd(a, b)
    dt = get_aval(g).dtype
    zero = ew.eq(g, np.zeros((), dt))
    q = jnp.floor_divide(jnp.absolute(a), jnp.where(zero, np.ones((), dt), g))
    return jnp.where(zero, np.zeros((), dt), jnp.multiply(q, jnp.absolute(b)))


def frexp(x, /):
    """Mantissa in [0.5, 1) and integer exponent with x = m * 2**e (as numpy.frexp)."""
    x, = jnp.promote_dtypes_inexact(_as_operand(x))
    dt = get_aval(x).dtype
    ax = jnp.absolute(x)
    special = jnp.logical_or(ew.eq(x, np.zeros((), dt)), jnp.logical_not(jnp.isfinite(x)))
    safe = jnp.where(special, np.ones((), dt), ax)
    e = jnp.floor(jnp.log2(safe))
    e = jnp.add(e, np.ones((), dt))
    m = jnp.divide(x, jnp.exp2(e))
    # log2 rounding can be off by one near powers of two: fix the mantissa range.
    big = jnp.greater_equal(jnp.absolute(m), np.asarray(1, dt))
    m = jnp.where(big, jnp.divide(m, np.asarray(2, dt)), m)
    e = jnp.where(big, jnp.add(e, np.ones((), dt)), e)
    small = jnp.less(jnp.absolute(m), np.asarray(0.5, dt))
    m = jnp.where(jnp.logical_and(small, jnp.logical_not(special)),
                  jnp.multiply(m, np.asarray(2, dt)), m)
    e = jnp.where(jnp.logical_and(small, jnp.logical_not(special)),
                  jnp.subtract(e, np.ones((), dt)), e)
    m = jnp.where(special, x, m)
    e = jnp.where(special, np.zeros((), dt), e)
    return m, jnp.astype(e, np.int32)


def ldexp(x1, x2, /):
    """x1 * 2**x2 for integer x2."""
    x1 = _as_operand(x1)
    x2 = _as_operand(x2)
    if get_aval(x2).dtype.kind not in "iub":
        raise TypeError(f"jumba.numpy.ldexp: the exponent must be an integer array, got "
                        f"{get_aval(x2).str_short()}")
    x1, = jnp.promote_dtypes_inexact(x1)
    dt = get_aval(x1).dtype
    # Two half steps keep 2**x2 finite when x2 exceeds the exponent range of one factor.
    half = jnp.floor_divide(x2, 2)
    p1 = jnp.exp2(jnp.astype(half, dt))
    p2 = jnp.exp2(jnp.astype(jnp.subtract(x2, half), dt))
    return jnp.multiply(jnp.multiply(x1, p1), p2)


def modf(x, /, out=None):
    """Fractional and integral parts of x, both with the sign of x."""
    x, = jnp.promote_dtypes_inexact(_as_operand(x))
    whole = jnp.trunc(x)
    return jnp.subtract(x, whole), whole


def spacing(x, /):
    """Distance from x to the next representable value away from zero."""
    x, = jnp.promote_dtypes_inexact(_as_operand(x))
    dt = get_aval(x).dtype
    away = jnp.where(jnp.signbit(x), np.asarray(-np.inf, dt), np.asarray(np.inf, dt))
    out = jnp.subtract(jnp.nextafter(x, away), x)
    return jnp.where(jnp.isinf(x), np.asarray(np.nan, dt), out)


def i0(x, /):
    """Modified Bessel function of the first kind, order 0: exp(|x|) * i0e(x), on the
    `bessel_i0e` primitive (as JAX), so it stays accurate for large |x| and differentiates
    to exp(|x|) * i1e(x)."""
    from jumba._src.lax import special

    x, = jnp.promote_dtypes_inexact(_as_operand(x))
    return jnp.multiply(jnp.exp(jnp.absolute(x)), special.bessel_i0e(x))


def bitwise_count(x, /):
    """Number of 1 bits in |x| (uint8), as numpy.bitwise_count."""
    x = _as_operand(x)
    dt = get_aval(x).dtype
    if dt.kind not in "iub":
        raise TypeError(f"jumba.numpy.bitwise_count: needs an integer or boolean array, got "
                        f"{get_aval(x).str_short()}")
    if dt == np.bool_:
        return jnp.astype(x, np.uint8)
    udt = np.dtype(f"uint{8 * dt.itemsize}")
    u = st.convert_element_type(jnp.absolute(x) if dt.kind == "i" else x, udt)
    one = np.ones((), udt)
    count = None
    for i in range(8 * dt.itemsize):
        bit = ew.bitwise_and(ew.shift_right_logical(u, np.asarray(i, udt)), one)
        count = bit if count is None else ew.add(count, bit)
    return st.convert_element_type(count, np.uint8)


def fabs(x, /):
    """Absolute value, as a floating-point array."""
    x, = jnp.promote_dtypes_inexact(_as_operand(x))
    return jnp.absolute(x)


def fmax(x1, x2, /):
    """Elementwise maximum ignoring NaNs (NaN only where both are NaN)."""
    x1, x2 = jnp.promote_dtypes(x1, x2)
    if get_aval(x1).dtype.kind != "f":
        return jnp.maximum(x1, x2)
    return jnp.where(jnp.isnan(x1), x2, jnp.where(jnp.isnan(x2), x1, jnp.maximum(x1, x2)))


def fmin(x1, x2, /):
    """Elementwise minimum ignoring NaNs (NaN only where both are NaN)."""
    x1, x2 = jnp.promote_dtypes(x1, x2)
    if get_aval(x1).dtype.kind != "f":
        return jnp.minimum(x1, x2)
    return jnp.where(jnp.isnan(x1), x2, jnp.where(jnp.isnan(x2), x1, jnp.minimum(x1, x2)))


def nan_to_num(x, copy: bool = True, nan=0.0, posinf=None, neginf=None):
    """NaN replaced by `nan`, +inf by `posinf` (default the largest finite value) and -inf by
    `neginf` (default the most negative finite value)."""
    x = _as_operand(x)
    dt = get_aval(x).dtype
    if dt.kind == "c":
        from jumba._src.numpy import complex_numbers as cn

        re = nan_to_num(cn.real(x), nan=nan, posinf=posinf, neginf=neginf)
        im = nan_to_num(cn.imag(x), nan=nan, posinf=posinf, neginf=neginf)
        return jnp.add(jnp.astype(re, dt), jnp.multiply(jnp.astype(im, dt), 1j))
    if dt.kind != "f":
        return x
    info = np.finfo(dt)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    out = jnp.where(jnp.isnan(x), jnp.asarray(nan, dt), x)
    out = jnp.where(jnp.isposinf(x), jnp.asarray(posinf, dt), out)
    return jnp.where(jnp.isneginf(x), jnp.asarray(neginf, dt), out)


def isreal(x, /):
    """True where the imaginary part is zero (everywhere for real arrays)."""
    x = _as_operand(x)
    if get_aval(x).dtype.kind != "c":
        return jnp.full(get_aval(x).shape, True, bool)
    from jumba._src.numpy import complex_numbers as cn

    return jnp.equal(cn.imag(x), 0)


def iscomplex(x, /):
    """True where the imaginary part is nonzero."""
    return jnp.logical_not(isreal(x))


# ---------------------------------------------------------------------------------------
# interp, unwrap, select, piecewise


def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation of the points (xp, fp) at x (xp increasing).

    Args:
      x: where to evaluate.
      xp: 1-D increasing sample positions (or any order with `period`).
      fp: 1-D sample values.
      left, right: values below xp[0] / above xp[-1] (default fp[0] / fp[-1]; 'extrapolate'
        continues the end segments, as JAX).
      period: a period for periodic x-coordinates.
    """
    x, xp, fp = _as_operand(x), _as_operand(xp), _as_operand(fp)
    if get_aval(xp).ndim != 1 or get_aval(fp).ndim != 1 or \
            get_aval(xp).shape != get_aval(fp).shape:
        raise ValueError(f"jumba.numpy.interp: xp and fp must be 1-D of one length, got "
                         f"shapes {get_aval(xp).shape} and {get_aval(fp).shape}")
    if get_aval(xp).shape[0] == 0:
        raise ValueError("jumba.numpy.interp: xp and fp must not be empty")
    x, xp = jnp.promote_dtypes_inexact(x, xp)
    fp, = jnp.promote_dtypes_inexact(fp)
    if period is not None:
        if left is not None or right is not None:
            raise ValueError("jumba.numpy.interp: left/right are not allowed with period")
        period = jnp.absolute(jnp.asarray(period, get_aval(x).dtype))
        x = jnp.remainder(x, period)
        xp = jnp.remainder(xp, period)
        from jumba._src.numpy.sorting import argsort

        order = argsort(xp)
        xp, fp = take(xp, order), take(fp, order)
        xp = jnp.concatenate([jnp.subtract(xp[-1:], period), xp, jnp.add(xp[:1], period)])
        fp = jnp.concatenate([fp[-1:], fp, fp[:1]])
    n = get_aval(xp).shape[0]
    if n == 1:
        i = jnp.zeros(get_aval(x).shape, np.int32)
        lo_f = take(fp, i)
        out = lo_f
    else:
        i = jnp.clip(searchsorted(xp, x, side="right"), 1, n - 1)
        x0, x1 = take(xp, jnp.subtract(i, 1)), take(xp, i)
        f0, f1 = take(fp, jnp.subtract(i, 1)), take(fp, i)
        dx = jnp.subtract(x1, x0)
        zero_dx = jnp.equal(dx, 0)
        safe_dx = jnp.where(zero_dx, jnp.ones_like(dx), dx)
        w = jnp.divide(jnp.subtract(x, x0), safe_dx)
        out = jnp.where(zero_dx, f1, jnp.add(f0, jnp.multiply(w, jnp.subtract(f1, f0))))
    if period is None:
        if not (isinstance(left, str) and left == "extrapolate"):
            lv = fp[0] if left is None else jnp.asarray(left, get_aval(out).dtype)
            out = jnp.where(jnp.less(x, xp[0]), lv, out)
        if not (isinstance(right, str) and right == "extrapolate"):
            rv = fp[-1] if right is None else jnp.asarray(right, get_aval(out).dtype)
            out = jnp.where(jnp.greater(x, xp[-1]), rv, out)
    return out


def unwrap(p, discont=None, axis: int = -1, period=2 * np.pi):
    """`p` with jumps larger than `discont` (default period/2) along `axis` replaced by their
    complement modulo `period`."""
    p = _as_operand(p)
    p, = jnp.promote_dtypes_inexact(p)
    dt = get_aval(p).dtype
    nd = get_aval(p).ndim
    axis = axis % nd
    n = get_aval(p).shape[axis]
    if n == 0:
        return p
    from jumba._src.numpy.cumulative import cumsum, diff

    period = jnp.asarray(period, dt)
    half = jnp.divide(period, 2)
    discont = half if discont is None else jnp.maximum(jnp.asarray(discont, dt), half)
    dd = diff(p, axis=axis)
    ddmod = jnp.subtract(jnp.remainder(jnp.add(dd, half), period), half)
    ddmod = jnp.where(jnp.logical_and(jnp.equal(ddmod, jnp.negative(half)),
                                      jnp.greater(dd, 0)), half, ddmod)
    correct = jnp.subtract(ddmod, dd)
    correct = jnp.where(jnp.less(jnp.absolute(dd), discont), jnp.zeros((), dt), correct)
    pad = [(0, 0, 0)] * nd
    pad[axis] = (1, 0, 0)
    total = st.pad(cumsum(correct, axis=axis), np.zeros((), dt), pad)
    return jnp.add(p, total)


def select(condlist, choicelist, default=0):
    """The choice of the first true condition at each position (`default` where none)."""
    if len(condlist) != len(choicelist):
        raise ValueError(f"jumba.numpy.select: condlist and choicelist need the same length, "
                         f"got {len(condlist)} and {len(choicelist)}")
    if not condlist:
        raise ValueError("jumba.numpy.select: condlist must be non-empty")
    choices = jnp.promote_dtypes(*choicelist, default)
    out = choices[-1]
    for cond, choice in reversed(list(zip(condlist, choices[:-1]))):
        cond = _as_operand(cond)
        if get_aval(cond).dtype != np.bool_:
            raise TypeError(f"jumba.numpy.select: condlist entries must be boolean, got "
                            f"{get_aval(cond).str_short()}")
        out = jnp.where(cond, choice, out)
    return out


def piecewise(x, condlist, funclist, *args, **kw):
    """Piecewise function: funclist[i](x) where condlist[i] holds (a later condition wins, as
    NumPy); an extra last function (or constant) applies where no condition holds."""
    x = _as_operand(x)
    if isinstance(condlist, (bool, np.bool_)) or (
            not isinstance(condlist, (list, tuple)) and get_aval(
                _as_operand(condlist)).ndim == get_aval(x).ndim and get_aval(x).ndim == 0):
        condlist = [condlist]
    conds = [_as_operand(c) for c in (condlist if isinstance(condlist, (list, tuple))
                                      else list(_as_operand(condlist)))]
    n = len(conds)
    if len(funclist) not in (n, n + 1):
        raise ValueError(f"jumba.numpy.piecewise: funclist needs {n} or {n + 1} entries, got "
                         f"{len(funclist)}")
    dt = get_aval(x).dtype

    def value(f):
        r = f(x, *args, **kw) if callable(f) else f
        return jnp.broadcast_to(jnp.astype(jnp.asarray(r), dt), get_aval(x).shape)

    if len(funclist) == n + 1:
        none = jnp.logical_not(jnp.any(jnp.stack([jnp.broadcast_to(c, get_aval(x).shape)
                                                  for c in conds]), axis=0)) if n else None
        conds = conds + ([none] if n else [])
        if not n:
            return value(funclist[0])
    out = jnp.zeros_like(x)
    for c, f in zip(conds, funclist):
        out = jnp.where(c, value(f), out)
    return out


# ---------------------------------------------------------------------------------------
# Products


def cross(a, b, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None):
    """Cross product of (arrays of) 2- or 3-vectors."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = jnp.promote_dtypes(_as_operand(a), _as_operand(b))
    a, b = jnp.moveaxis(a, axisa, -1), jnp.moveaxis(b, axisb, -1)
    na, nb = get_aval(a).shape[-1], get_aval(b).shape[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError(f"jumba.numpy.cross: incompatible dimensions for cross product "
                         f"(dimension must be 2 or 3), got {na} and {nb}")
    a0, a1 = a[..., 0], a[..., 1]
    b0, b1 = b[..., 0], b[..., 1]
    a2 = a[..., 2] if na == 3 else None
    b2 = b[..., 2] if nb == 3 else None
    mul, sub = jnp.multiply, jnp.subtract
    if na == 2 and nb == 2:
        return sub(mul(a0, b1), mul(a1, b0))
    zero = jnp.zeros((), get_aval(a).dtype)
    a2 = zero if a2 is None else a2
    b2 = zero if b2 is None else b2
    c = jnp.stack(jnp.broadcast_arrays(sub(mul(a1, b2), mul(a2, b1)),
                                       sub(mul(a2, b0), mul(a0, b2)),
                                       sub(mul(a0, b1), mul(a1, b0))), axis=-1)
    return jnp.moveaxis(c, -1, axisc)


def kron(a, b):
    """Kronecker product: blocks a[i, j] * b."""
    a, b = jnp.promote_dtypes(_as_operand(a), _as_operand(b))
    nd = max(get_aval(a).ndim, get_aval(b).ndim)
    a = jnp.reshape(a, (1,) * (nd - get_aval(a).ndim) + get_aval(a).shape)
    b = jnp.reshape(b, (1,) * (nd - get_aval(b).ndim) + get_aval(b).shape)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    ea = jnp.reshape(a, tuple(s for d in sa for s in (d, 1)))
    eb = jnp.reshape(b, tuple(s for d in sb for s in (1, d)))
    return jnp.reshape(jnp.multiply(ea, eb), tuple(x * y for x, y in zip(sa, sb)))


def _conj(x):
    if get_aval(x).dtype.kind == "c":
        from jumba._src.numpy import complex_numbers as cn

        return cn.conjugate(x)
    return x


def vecdot(x1, x2, /, *, axis: int = -1, precision=None, preferred_element_type=None):
    """Vector dot product over `axis` (the first argument conjugated), batched."""
    x1, x2 = jnp.promote_dtypes(_as_operand(x1), _as_operand(x2))
    if get_aval(x1).shape[axis] != get_aval(x2).shape[axis]:
        raise ValueError(f"jumba.numpy.vecdot: axis {axis} has lengths "
                         f"{get_aval(x1).shape[axis]} and {get_aval(x2).shape[axis]}")
    x1, x2 = jnp.moveaxis(x1, axis, -1), jnp.moveaxis(x2, axis, -1)
    out = jnp.matmul(jnp.expand_dims(_conj(x1), -2), jnp.expand_dims(x2, -1))[..., 0, 0]
    return out if preferred_element_type is None else jnp.astype(out, preferred_element_type)


def matvec(x1, x2, /):
    """Batched matrix-vector product: x1 (..., m, n) times x2 (..., n) -> (..., m)."""
    x1, x2 = _as_operand(x1), _as_operand(x2)
    return jnp.matmul(x1, jnp.expand_dims(x2, -1))[..., 0]


def vecmat(x1, x2, /):
    """Batched vector-matrix product: conj(x1) (..., n) times x2 (..., n, m) -> (..., m)."""
    x1, x2 = _as_operand(x1), _as_operand(x2)
    return jnp.matmul(jnp.expand_dims(_conj(x1), -2), x2)[..., 0, :]


# ---------------------------------------------------------------------------------------
# Bit packing


def packbits(a, axis: int | None = None, bitorder: str = "big"):
    """Pack the truth values of `a` into uint8, 8 per byte (zero-padded), along `axis`."""
    if bitorder not in ("big", "little"):
        raise ValueError(f"jumba.numpy.packbits: bitorder must be 'big' or 'little', got "
                         f"{bitorder!r}")
    a = _as_operand(a)
    if get_aval(a).dtype.kind not in "iub":
        raise TypeError(f"jumba.numpy.packbits: needs an integer or boolean array, got "
                        f"{get_aval(a).str_short()}")
    if axis is None:
        a, axis = jnp.ravel(a), 0
    a = jnp.moveaxis(jnp.astype(jnp.not_equal(a, 0), np.uint8), axis, -1)
    n = get_aval(a).shape[-1]
    pad = (-n) % 8
    if pad:
        cfg = [(0, 0, 0)] * (get_aval(a).ndim - 1) + [(0, pad, 0)]
        a = st.pad(a, np.zeros((), np.uint8), cfg)
    a = jnp.reshape(a, get_aval(a).shape[:-1] + ((n + pad) // 8, 8))
    shifts = np.arange(8)[::-1] if bitorder == "big" else np.arange(8)
    weights = (1 << shifts).astype(np.uint8)
    out = jnp.sum(jnp.multiply(a, weights), axis=-1, dtype=np.uint8)
    return jnp.moveaxis(out, -1, axis)


def unpackbits(a, axis: int | None = None, count: int | None = None, bitorder: str = "big"):
    """Unpack uint8 `a` into its bits (0/1 uint8) along `axis`; `count` keeps (or zero-pads
    to) that many bits."""
    if bitorder not in ("big", "little"):
        raise ValueError(f"jumba.numpy.unpackbits: bitorder must be 'big' or 'little', got "
                         f"{bitorder!r}")
    a = _as_operand(a)
    if get_aval(a).dtype != np.uint8:
        raise TypeError(f"jumba.numpy.unpackbits: expected an input of dtype uint8, got "
                        f"{get_aval(a).str_short()}")
    if axis is None:
        a, axis = jnp.ravel(a), 0
    a = jnp.moveaxis(a, axis, -1)
    shifts = np.arange(8)[::-1] if bitorder == "big" else np.arange(8)
    bits = ew.bitwise_and(ew.shift_right_logical(jnp.expand_dims(a, -1),
                                                 shifts.astype(np.uint8)), np.uint8(1))
    bits = jnp.reshape(bits, get_aval(a).shape[:-1] + (8 * get_aval(a).shape[-1],))
    if count is not None:
        total = get_aval(bits).shape[-1]
        if count < 0:
            count = max(total + count, 0)
        if count <= total:
            bits = bits[..., :count]
        else:
            cfg = [(0, 0, 0)] * (get_aval(bits).ndim - 1) + [(0, count - total, 0)]
            bits = st.pad(bits, np.zeros((), np.uint8), cfg)
    return jnp.moveaxis(bits, -1, axis)

