"""PRNG keys and random bits, as JAX's default Threefry-2x32 implementation with
`jax_threefry_partitionable=True` (JAX's default since 0.5).

A key is two uint32 words. Every derivation encrypts a counter under the key:

* `split(key, shape)`: key `i` (row-major index of `shape`, as a 64-bit count split into
  high and low words `(hi, lo)`) is the pair `threefry2x32(key, (hi, lo))`;
* `fold_in(key, data)`: `threefry2x32(key, (0, uint32(data)))`;
* `random_bits(key, 32, shape)`: element `i` is `y1 ^ y2` of `threefry2x32(key, (hi, lo))`;
  64-bit draws are `y1 << 32 | y2`, and 8/16-bit draws truncate the 32-bit ones.

So a sample's value depends only on its index, never on the shape of the draw: the first
five entries of `bits(key, (1000,))` are `bits(key, (5,))`.

Keys come in two kinds, as in JAX: legacy keys (`PRNGKey(seed)`, uint32 arrays whose last
axis has size 2) and typed keys (`key(seed)`, `PRNGKeyArray`, whose shape leaves that axis
out). Every function here accepts both and returns the kind it was given.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from jumba._src import core, dtypes
from jumba._src import tree_util as _tree_util
from jumba._src.config import config as _config
from jumba._src.core import Tracer, get_aval
from jumba._src.lax import elementwise as ew
from jumba._src.lax import structural as st
from jumba._src.lax.prng import threefry2x32

IMPL_NAME = "threefry2x32"

# ---------------------------------------------------------------------------------------
# Typed keys


class KeyDType:
    """The dtype of typed keys (`key<fry>`), as JAX's extended key dtypes."""

    name = "key<fry>"
    impl = IMPL_NAME

    def __repr__(self):
        return self.name

    __str__ = __repr__

    def __eq__(self, other):
        return isinstance(other, KeyDType)

    def __hash__(self):
        return hash(KeyDType)


key_dtype = KeyDType()


class PRNGKeyArray:
    """An array of typed PRNG keys (what `jumba.random.key` returns).

    Its shape is the shape of the key array (a single key has shape ()); the two uint32
    words of each key are its trailing, hidden axis (`jumba.random.key_data` shows them).
    It is a pytree whose one leaf is that uint32 data, so keys pass through `jit`, `vmap`
    (mapping over leading key axes) and `lax` control flow like arrays.
    """

    __slots__ = ("_base",)
    __array_priority__ = 100

    def __init__(self, base):
        self._base = base

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(get_aval(self._base).shape[:-1])

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def dtype(self) -> KeyDType:
        return key_dtype

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a single (unbatched) PRNG key")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __getitem__(self, idx):
        if not isinstance(idx, tuple):
            idx = (idx,)
        if any(i is Ellipsis for i in idx):
            # The hidden axis stays last: spell out the ellipsis before adding it.
            k = idx.index(Ellipsis)
            named = sum(1 for i in idx if i is not None and i is not Ellipsis)
            idx = idx[:k] + (slice(None),) * (self.ndim - named) + idx[k + 1:]
        return PRNGKeyArray(self._base[idx + (slice(None),)])

    def reshape(self, *shape):
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = tuple(shape[0])
        return PRNGKeyArray(self._base.reshape(*shape, 2))

    def block_until_ready(self):
        return self

    def __repr__(self):
        data = self._base
        if isinstance(data, Tracer):
            return f"PRNGKeyArray[{self.shape}, key<fry>] tracing {data!r}"
        return (f"Array({self.shape}, dtype=key<fry>) overlaying:\n"
                f"{np.asarray(core.to_numpy(data))}")

    def __eq__(self, other):
        if not isinstance(other, PRNGKeyArray):
            return NotImplemented
        from jumba._src.lax.reductions import reduce_and

        return reduce_and(ew.eq(self._base, other._base), (self.ndim,))

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else ew.bitwise_not(eq)

    __hash__ = None


_tree_util.register_pytree_node(
    PRNGKeyArray, lambda k: ((k._base,), None), lambda _, children: PRNGKeyArray(*children))

# ---------------------------------------------------------------------------------------
# Checking arguments


def _describe(x) -> str:
    aval = get_aval(x)
    return f"{aval.dtype.name}{list(aval.shape)}"


def _check_key_data(name: str, data):
    """`data` as a uint32[..., 2] operand, or a TypeError naming `name`'s mistake."""
    try:
        aval = get_aval(data)
    except TypeError:
        aval = None
    if aval is None or aval.dtype != np.uint32 or not aval.shape or aval.shape[-1] != 2:
        got = _describe(data) if aval is not None else type(data).__name__
        raise TypeError(
            f"jumba.random.{name}: expected a PRNG key, made by jumba.random.PRNGKey(seed) "
            f"(a uint32 array of shape (2,), or (..., 2) for several keys) or "
            f"jumba.random.key(seed) (a typed key), but got {got}. Create a key with "
            f"key = jumba.random.PRNGKey(0) and derive new ones with jumba.random.split(key); "
            f"do not pass a seed or other array where a key is expected.")
    if not isinstance(data, Tracer) and type(data) is not core.Array:
        data = core.to_array(data)
    return data


def check_prng_key(name: str, key, *, single: bool = True):
    """Unwrap `key` into (uint32 data of shape (..., 2), whether it was a typed key)."""
    if isinstance(key, PRNGKeyArray):
        data, typed = key._base, True
    else:
        data, typed = _check_key_data(name, key), False
    if single:
        shape = get_aval(data).shape[:-1]
        if shape:
            shown = shape if typed else shape + (2,)
            raise ValueError(
                f"jumba.random.{name} accepts a single key, but was given a key array of "
                f"shape {shown} (a single key has shape {() if typed else (2,)}). To draw "
                f"with each of several keys, map over them with jumba.vmap: "
                f"jumba.vmap(lambda k: jumba.random.{name}(k, ...))(keys).")
    return data, typed


def wrap(data, typed: bool):
    return PRNGKeyArray(data) if typed else data


def canonicalize_shape(name: str, shape, what: str = "shape") -> tuple[int, ...]:
    """A static shape tuple, or a TypeError explaining that shapes cannot be traced."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        items = tuple(shape)
    except TypeError:
        items = None
    if isinstance(shape, Tracer) or items is None or any(isinstance(d, Tracer) for d in items):
        raise TypeError(
            f"jumba.random.{name}: {what} must be static (a tuple of Python ints), but got "
            f"{shape!r}. Array shapes are fixed when a function is traced, so a {what} "
            f"computed from a traced value cannot be used: under jit, pass it as a static "
            f"argument (jumba.jit(f, static_argnums=...)) or compute it from .shape.")
    try:
        out = tuple(operator.index(d) for d in items)
    except TypeError:
        raise TypeError(f"jumba.random.{name}: {what} must be a tuple of ints, got "
                        f"{shape!r}") from None
    if any(d < 0 for d in out):
        raise ValueError(f"jumba.random.{name}: {what} {out} has a negative dimension")
    return out


# ---------------------------------------------------------------------------------------
# Seeds


def _seed_words(seed):
    """(hi, lo) uint32 words of an integer seed, as JAX's `threefry_seed`."""
    aval = get_aval(seed)
    if aval.shape:
        raise TypeError(f"PRNG key seed must be a scalar; got an array of shape {aval.shape}. "
                        "To make several keys, split one: jumba.random.split(key, n).")
    if aval.dtype.kind not in "iu":
        raise TypeError(f"PRNG key seed must be an integer; got {aval.dtype.name} "
                        f"{seed!r}. Convert it with int(seed).")
    lo = st.convert_element_type(seed, np.uint32)
    if aval.dtype.itemsize == 8:
        shift = np.asarray(32, aval.dtype)
        hi = st.convert_element_type(ew.shift_right_logical(seed, shift), np.uint32)
    else:
        hi = np.zeros((), np.uint32)
    return hi, lo


def _seed_operand(seed):
    if isinstance(seed, bool):
        raise TypeError("PRNG key seed must be an integer; got a bool")
    if isinstance(seed, int):
        # As JAX: a Python int goes through int64 (OverflowError past 64 bits), then takes
        # the default integer type, so x64-off keeps the low 32 bits of large seeds.
        if not -(2 ** 63) <= seed < 2 ** 63:
            raise OverflowError(f"PRNG key seed {seed} does not fit in 64 bits; reduce it, "
                                "e.g. seed % 2**63")
        return np.asarray(np.int64(seed).astype(dtypes.default_int_dtype()))
    if isinstance(seed, float):
        raise TypeError(f"PRNG key seed must be an integer; got float {seed!r}. "
                        "Convert it with int(seed).")
    return seed


def PRNGKey(seed, *, impl=None):  # noqa: N802 (JAX's name)
    """A legacy PRNG key: a uint32 array of shape (2,) holding `seed`'s two words.

    Args:
      seed: an integer (Python int, or an integer scalar array; 64-bit seeds keep both
        words with x64 on, as in JAX).
      impl: only the default 'threefry2x32' is supported.

    Returns:
      uint32[2] key data, `[seed >> 32, seed & 0xFFFFFFFF]`.

    Examples:
      >>> import jumba.random as jr
      >>> jr.PRNGKey(42)
      Array([ 0, 42], dtype=uint32)
    """
    _check_impl(impl)
    hi, lo = _seed_words(_seed_operand(seed))
    return st.concatenate([st.reshape(hi, (1,)), st.reshape(lo, (1,))], 0)


def key(seed, *, impl=None) -> PRNGKeyArray:
    """A typed PRNG key (shape (), dtype key<fry>) from an integer seed.

    Args:
      seed: an integer seed, as for `PRNGKey`.
      impl: only the default 'threefry2x32' is supported.

    Returns:
      A `PRNGKeyArray` of shape (); `key_data` gives its uint32[2] words.
    """
    return PRNGKeyArray(PRNGKey(seed, impl=impl))


def _check_impl(impl):
    if impl is not None and str(impl) not in (IMPL_NAME, "threefry"):
        raise ValueError(f"PRNG implementation {impl!r} is not supported; Jumba implements "
                         f"only JAX's default, {IMPL_NAME!r}")


def key_data(keys):
    """The uint32 words of `keys` (shape `keys.shape + (2,)`), typed or legacy."""
    data, _ = check_prng_key("key_data", keys, single=False)
    return data


def wrap_key_data(key_bits_array, *, impl=None) -> PRNGKeyArray:
    """Typed keys from uint32 key data of shape (..., 2) (inverse of `key_data`)."""
    _check_impl(impl)
    if isinstance(key_bits_array, PRNGKeyArray):
        raise TypeError("wrap_key_data: the argument is already a typed key array; pass "
                        "uint32 key data (jumba.random.key_data(keys)) instead")
    return PRNGKeyArray(_check_key_data("wrap_key_data", key_bits_array))


def key_impl(keys) -> str:
    """The name of the PRNG implementation of `keys` (always 'threefry2x32')."""
    check_prng_key("key_impl", keys, single=False)
    return IMPL_NAME


def clone(key):
    """A copy of `key` (keys are immutable values here, so `key` itself)."""
    check_prng_key("clone", key, single=False)
    return key


# ---------------------------------------------------------------------------------------
# Counters and derivations


def _key_words(data):
    """The two uint32 scalar words of a single key's data (shape (2,))."""
    w0 = st.reshape(st.slice(data, (0,), (1,)), ())
    w1 = st.reshape(st.slice(data, (1,), (2,)), ())
    return w0, w1


def _iota_2x32(shape):
    """The row-major index of every position of `shape`, as (hi, lo) uint32 words."""
    n = math.prod(shape)
    if n > 2 ** 64:
        raise NotImplementedError(f"random draws of more than 2**64 values (shape {shape})")
    if n <= 2 ** 32:
        return np.zeros((), np.uint32), np.arange(n, dtype=np.uint32).reshape(shape)
    idx = np.arange(n, dtype=np.uint64).reshape(shape)
    return (idx >> np.uint64(32)).astype(np.uint32), idx.astype(np.uint32)


def threefry_counter_words(data, shape):
    """`threefry2x32(key, (hi, lo))` for every index of `shape`: two uint32 arrays."""
    k1, k2 = _key_words(data)
    hi, lo = _iota_2x32(shape)
    y1, y2 = threefry2x32(k1, k2, hi, lo)
    shape = tuple(shape)
    if get_aval(y1).shape != shape:  # a () draw has a () iota: already the right shape
        y1, y2 = st.broadcast_to(y1, shape), st.broadcast_to(y2, shape)
    return y1, y2


def split_data(data, shape):
    """Split one key's data into keys of `shape` (data of shape `shape + (2,)`)."""
    y1, y2 = threefry_counter_words(data, shape)
    n = len(shape)
    return st.concatenate([st.expand_dims(y1, (n,)), st.expand_dims(y2, (n,))], n)


def split(key, num=2):
    """Split a PRNG key into `num` new keys (as `jax.random.split`).

    Args:
      key: a single key (legacy uint32[2] or typed).
      num: the number of keys, or a shape for an array of keys.

    Returns:
      Keys of shape `(num,)` (or `num` if a shape), of the same kind as `key`.
    """
    data, typed = check_prng_key("split", key)
    shape = canonicalize_shape("split", num, "num")
    return wrap(split_data(data, shape), typed)


def unsafe_split2(data):
    """Two keys from one key's data (the common `k1, k2 = split(key)`)."""
    keys = split_data(data, (2,))
    return st.reshape(st.slice(keys, (0, 0), (1, 2)), (2,)), \
        st.reshape(st.slice(keys, (1, 0), (2, 2)), (2,))


def split_n(data, n):
    """A list of `n` single keys split from one key's data."""
    keys = split_data(data, (n,))
    return [st.reshape(st.slice(keys, (i, 0), (i + 1, 2)), (2,)) for i in range(n)]


def fold_in(key, data):
    """A new key that folds the integer `data` into `key` (as `jax.random.fold_in`).

    Args:
      key: a single key (legacy or typed).
      data: a 32-bit integer (Python int or integer scalar array; taken modulo 2**32).

    Returns:
      A key of the same kind as `key`.
    """
    kdata, typed = check_prng_key("fold_in", key)
    if isinstance(data, int) and not isinstance(data, bool):
        data = np.asarray(data % 2 ** 32, np.uint32)
    aval = get_aval(data)
    if aval.shape or aval.dtype.kind not in "iu":
        raise TypeError(f"jumba.random.fold_in: data must be an integer scalar, got "
                        f"{_describe(data)}; fold each value in separately (or vmap)")
    k1, k2 = _key_words(kdata)
    y1, y2 = threefry2x32(k1, k2, np.zeros((), np.uint32), st.convert_element_type(data, np.uint32))
    return wrap(st.concatenate([st.reshape(y1, (1,)), st.reshape(y2, (1,))], 0), typed)


_UINT = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}


def random_bits(data, bit_width: int, shape):
    """Unsigned integers of `bit_width` bits drawn with one key's data."""
    y1, y2 = threefry_counter_words(data, shape)
    if bit_width == 64:
        hi = st.convert_element_type(y1, np.uint64)
        lo = st.convert_element_type(y2, np.uint64)
        return ew.bitwise_or(ew.shift_left(hi, np.asarray(32, np.uint64)), lo)
    bits = ew.bitwise_xor(y1, y2)
    if bit_width != 32:
        bits = st.convert_element_type(bits, _UINT[bit_width])
    return bits


def bits(key, shape=(), dtype=None):
    """Random unsigned integers filling every bit of `dtype` (as `jax.random.bits`).

    Args:
      key: a single key.
      shape: the output shape.
      dtype: an unsigned integer dtype (default uint32; uint64 with x64 on).

    Returns:
      An array of `shape` and `dtype`.
    """
    data, _ = check_prng_key("bits", key)
    shape = canonicalize_shape("bits", shape)
    dtype = np.dtype(dtypes.default_uint_dtype() if dtype is None else dtype)
    if dtype.kind != "u":
        raise ValueError(f"dtype argument to `bits` must be an unsigned int dtype, got "
                         f"{dtype.name}; use jumba.numpy.uint32 (or uint8/16/64)")
    if dtype.itemsize == 8 and not _config.jax_enable_x64:
        dtype = np.dtype(np.uint32)  # canonicalized, as JAX does with x64 off
    return random_bits(data, dtype.itemsize * 8, shape)
