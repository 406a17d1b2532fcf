"""Bit-level primitives: population_count, clz, mulhi, reduce_xor, bitcast_convert_type.

None of them has a derivative (their outputs are integers or reinterpreted bits), so their
JVPs are symbolic zeros, as in JAX.
"""

from __future__ import annotations

import numpy as np

from jumba._src import dtypes
from jumba._src.core import Primitive, ShapedArray, get_aval
from jumba._src.interpreters import batching
from jumba._src.lax.elementwise import defjvp_zero, standard_op
from jumba._src.lax.reductions import _reducer


def _integer(dt) -> bool:
    return np.dtype(dt).kind in "iu"


def _unsigned_view(x):
    return x.view(np.dtype(f"u{x.dtype.itemsize}"))


def _population_count_impl(x):
    return np.bitwise_count(_unsigned_view(np.ascontiguousarray(x))).astype(x.dtype)


def _clz_impl(x):
    u = _unsigned_view(np.ascontiguousarray(x)).copy()
    bits = 8 * x.dtype.itemsize
    # Smear the highest set bit into every lower position; the leading zeros are then the
    # bits left unset.
    shift = 1
    while shift < bits:
        u |= u >> np.asarray(shift, u.dtype)
        shift *= 2
    return (bits - np.bitwise_count(u).astype(np.int64)).astype(x.dtype)


def _mulhi_unsigned64(a, b):
    """High 64 bits of the 128-bit product of two uint64 arrays (schoolbook on 32-bit halves)."""
    mask, s32 = np.uint64(0xFFFFFFFF), np.uint64(32)
    a_lo, a_hi, b_lo, b_hi = a & mask, a >> s32, b & mask, b >> s32
    lo_lo, hi_lo, lo_hi, hi_hi = a_lo * b_lo, a_hi * b_lo, a_lo * b_hi, a_hi * b_hi
    middle = (lo_lo >> s32) + (hi_lo & mask) + (lo_hi & mask)
    return hi_hi + (hi_lo >> s32) + (lo_hi >> s32) + (middle >> s32)


def _mulhi_impl(x, y):
    x, y = np.broadcast_arrays(x, y)
    dt, bits = x.dtype, 8 * x.dtype.itemsize
    if bits < 64:
        wide = np.int64 if dt.kind == "i" else np.uint64
        product = x.astype(wide) * y.astype(wide)
        return (product >> np.asarray(bits, wide)).astype(dt)
    with np.errstate(over="ignore"):
        hi = _mulhi_unsigned64(_unsigned_view(x), _unsigned_view(y))
        if dt.kind == "i":  # two's complement: subtract the other factor for each negative one
            hi = hi - np.where(x < 0, _unsigned_view(y), np.uint64(0)) \
                - np.where(y < 0, _unsigned_view(x), np.uint64(0))
    return hi.view(dt)


population_count_p = standard_op("population_count", _population_count_impl, accept=_integer)
clz_p = standard_op("clz", _clz_impl, accept=_integer)
mulhi_p = standard_op("mulhi", _mulhi_impl, nargs=2, accept=_integer)
reduce_xor_p = _reducer("reduce_xor",
                        lambda x, *, axes: np.bitwise_xor.reduce(x, axis=axes).astype(x.dtype))


# ---------------------------------------------------------------------------------------
# bitcast_convert_type: reinterpret the bytes, growing or shrinking the last axis when the
# item sizes differ (as XLA's BitcastConvert).

bitcast_convert_type_p = Primitive("bitcast_convert_type")


def _bitcast_shape(shape, old, new):
    old_size, new_size = np.dtype(old).itemsize, np.dtype(new).itemsize
    if old_size == new_size:
        return tuple(shape)
    if old_size > new_size:
        return (*shape, old_size // new_size)
    ratio = new_size // old_size
    if not shape or shape[-1] != ratio:
        raise TypeError(
            f"bitcast_convert_type from {np.dtype(old)} to {np.dtype(new)} needs a last axis "
            f"of size {ratio} (the ratio of the item sizes) to merge; got shape {tuple(shape)}")
    return tuple(shape[:-1])


@bitcast_convert_type_p.def_impl
def _bitcast_impl(x, *, new_dtype):
    out_shape = _bitcast_shape(x.shape, x.dtype, new_dtype)
    return np.ascontiguousarray(x).view(new_dtype).reshape(out_shape)


@bitcast_convert_type_p.def_abstract_eval
def _bitcast_abstract_eval(x, *, new_dtype):
    return ShapedArray(_bitcast_shape(x.shape, x.dtype, new_dtype), np.dtype(new_dtype))


bitcast_convert_type_p.weak_type_rule = lambda w, **params: False


def _bitcast_batch(size, vals, dims, *, new_dtype):
    (x,), (d,) = vals, dims
    x = batching.bdim_at_front(x, d, size)  # the last axis may change size: keep it last
    return bitcast_convert_type_p.bind(x, new_dtype=new_dtype), 0


batching.primitive_batchers[bitcast_convert_type_p] = _bitcast_batch
for _p in (population_count_p, clz_p, mulhi_p, reduce_xor_p, bitcast_convert_type_p):
    defjvp_zero(_p)


# ---------------------------------------------------------------------------------------
# The lax API


def _require_integers(name, *xs):
    # Checked here, not only in abstract eval: eager calls skip abstract evaluation, and the
    # NumPy implementations would happily reinterpret float bits.
    for x in xs:
        dt = get_aval(x).dtype
        if not _integer(dt):
            raise TypeError(f"lax.{name} takes integer arrays, got {dt.name}; convert with "
                            f"lax.convert_element_type or view the bits with "
                            f"lax.bitcast_convert_type")


def population_count(x):
    """Number of set bits in each element of an integer array."""
    _require_integers("population_count", x)
    return population_count_p.bind(x)


def clz(x):
    """Number of leading zero bits in each element of an integer array."""
    _require_integers("clz", x)
    return clz_p.bind(x)


def mulhi(x, y):
    """High half of the bits of the double-width product `x * y` (integers)."""
    _require_integers("mulhi", x, y)
    return mulhi_p.bind(x, y)


def reduce_xor(operand, axes):
    """Bitwise XOR of the elements of an integer or boolean array over `axes`."""
    aval = get_aval(operand)
    if aval.dtype.kind not in "iub":
        raise TypeError(f"reduce_xor takes integer or boolean arrays, got {aval.dtype}")
    return reduce_xor_p.bind(operand, axes=tuple(sorted(int(a) % max(aval.ndim, 1)
                                                        for a in axes)))


def bitcast_convert_type(operand, new_dtype):
    """Reinterpret the bits of `operand` as `new_dtype` (no value conversion).

    When the item sizes differ, a wider source gains a trailing axis (e.g. float32 -> uint8
    adds an axis of 4) and a narrower source must end in an axis of that ratio, which is
    merged.
    """
    new_dtype = dtypes.canonicalize_dtype(np.dtype(new_dtype))
    return bitcast_convert_type_p.bind(operand, new_dtype=new_dtype)
