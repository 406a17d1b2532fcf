"""JAX's dtype rules: canonical dtypes, weak types and the type promotion lattice.

As in JAX (see its "Type promotion semantics"):

- With ``jax_enable_x64`` off, 64-bit types are *canonicalized* to their 32-bit
  counterparts (float64 -> float32, int64 -> int32, uint64 -> uint32,
  complex128 -> complex64), and the default types are float32/int32.
- Python scalars (``int``, ``float``, ``complex``) and arrays made from them are *weakly
  typed*: they take the kind they need from the lattice but leave the width to the other
  operand, so ``float32_array * 2.0`` stays float32 and ``int8_array + 1`` stays int8.
- Two types promote to their least upper bound (join) on the lattice below. It is not
  NumPy's table: integers never promote to a wider float than the float operand
  (``int64 + float32 -> float32``), and ``uint64 + int`` of any width is a weak float.

``result_type`` is on the hot path of every eager binary operation, so its answers are
memoized on the operands' ``(dtype, weak_type)`` keys and the x64 flag; a call whose
operands have been seen before costs two attribute reads per operand and one dict lookup.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jumba._src.config import flags as _flags

__all__ = [
    "TypePromotionError",
    "bfloat16",
    "bool_",
    "canonicalize_dtype",
    "complex64",
    "complex128",
    "default_complex_dtype",
    "default_float_dtype",
    "default_int_dtype",
    "default_uint_dtype",
    "dtype",
    "dtype_and_weak_type",
    "finfo",
    "float0",
    "float16",
    "float32",
    "float64",
    "iinfo",
    "int8",
    "int16",
    "int32",
    "int64",
    "is_complex",
    "is_float",
    "is_inexact",
    "is_int",
    "is_weakly_typed",
    "issubdtype",
    "promote_types",
    "python_scalar_dtype",
    "python_scalar_dtypes",
    "result_type",
    "scalar_type_of",
    "supported_dtypes",
    "to_inexact_dtype",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
]


class TypePromotionError(ValueError):
    """Raised when two types have no common type on the promotion lattice (as JAX's)."""


# ---------------------------------------------------------------------------------------
# The dtypes

bool_ = np.dtype(np.bool_)
int8, int16, int32, int64 = (np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64))
uint8, uint16, uint32, uint64 = (np.dtype(t) for t in (np.uint8, np.uint16, np.uint32, np.uint64))
float16, float32, float64 = (np.dtype(t) for t in (np.float16, np.float32, np.float64))
complex64, complex128 = np.dtype(np.complex64), np.dtype(np.complex128)

try:  # bfloat16 exists only where ml_dtypes is installed; Jumba does not depend on it.
    import ml_dtypes as _ml_dtypes
except ImportError:  # pragma: no cover - depends on the environment
    _ml_dtypes = None
    bfloat16 = None
    finfo = np.finfo
else:  # pragma: no cover - depends on the environment
    bfloat16 = np.dtype(_ml_dtypes.bfloat16)
    finfo = _ml_dtypes.finfo  # a subclass of np.finfo that also knows bfloat16
iinfo = np.iinfo

# JAX's tangent dtype for integer and boolean primals: a zero-size void, so a float0 array
# holds no data. Not on the promotion lattice: it only promotes with itself.
float0 = np.dtype([("float0", np.void, 0)])

# Lattice names as in JAX's table: kind and itemsize; weak types are i*, f*, c*.
_CODES: dict[np.dtype, str] = {
    bool_: "b1",
    **{d: f"u{d.itemsize}" for d in (uint8, uint16, uint32, uint64)},
    **{d: f"i{d.itemsize}" for d in (int8, int16, int32, int64)},
    **{d: f"f{d.itemsize}" for d in (float16, float32, float64)},
    complex64: "c8",
    complex128: "c16",
}
if bfloat16 is not None:  # pragma: no cover - depends on the environment
    _CODES[bfloat16] = "bf"
_DTYPE_OF_CODE: dict[str, np.dtype] = {code: d for d, code in _CODES.items()}

supported_dtypes: tuple[np.dtype, ...] = (*_CODES, float0)
_SUPPORTED = frozenset(supported_dtypes)

_TO_32 = {int64: int32, uint64: uint32, float64: float32, complex128: complex64}

# Each node's immediate successors; bf appears only with ml_dtypes. The join of two types
# is their least upper bound here, which gives JAX's table cell by cell.
_LATTICE: dict[str, tuple[str, ...]] = {
    "b1": ("i*",),
    "i*": ("u1", "i1"),
    "u1": ("u2", "i2"),
    "u2": ("u4", "i4"),
    "u4": ("u8", "i8"),
    "u8": ("f*",),
    "i1": ("i2",),
    "i2": ("i4",),
    "i4": ("i8",),
    "i8": ("f*",),
    "f*": ("c*", "f2", "bf") if bfloat16 is not None else ("c*", "f2"),
    "bf": ("f4",),
    "f2": ("f4",),
    "f4": ("f8", "c8"),
    "f8": ("c16",),
    "c*": ("c8",),
    "c8": ("c16",),
    "c16": (),
}
if bfloat16 is None:
    del _LATTICE["bf"]
_WEAK_CODES = {"i*": "i", "f*": "f", "c*": "c"}


def _upper_bounds(lattice: dict[str, tuple[str, ...]]) -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}

    def visit(node: str) -> frozenset[str]:
        if node not in out:
            ub = {node}
            for up in lattice[node]:
                ub |= visit(up)
            out[node] = frozenset(ub)
        return out[node]

    for node in lattice:
        visit(node)
    return out


# With x64 off, JAX avoids the lattice's one join that forms a 64-bit type from narrower
# inputs, u4 x i4 -> i8, by putting u4 below i4. On canonical (32-bit) inputs this equals
# joining on the full lattice and canonicalizing; promote_types, which does not
# canonicalize its inputs, shows the difference: promote_types(uint32, int32) is int32.
_UB = {
    True: _upper_bounds(_LATTICE),
    False: _upper_bounds({**_LATTICE, "u4": ("u8", "i4")}),
}


def _join(codes: frozenset[str], x64: bool) -> str:
    """The least upper bound of lattice nodes ``codes``."""
    ub = _UB[x64]
    common = frozenset.intersection(*(ub[c] for c in codes))
    # A common upper bound that is also an input bounds every other input; otherwise the
    # least of the common bounds is the one whose upper bounds hold all the others.
    least = (common & codes) or {c for c in common if common <= ub[c]}
    if len(least) != 1:  # pragma: no cover - the lattice above has unique joins
        raise TypePromotionError(f"no unique least upper bound for {sorted(codes)}")
    return next(iter(least))


# ---------------------------------------------------------------------------------------
# Defaults and canonicalization


def default_int_dtype() -> np.dtype:
    """int64 with x64 on, else int32."""
    return int64 if _flags.jax_enable_x64 else int32


def default_uint_dtype() -> np.dtype:
    """uint64 with x64 on, else uint32."""
    return uint64 if _flags.jax_enable_x64 else uint32


def default_float_dtype() -> np.dtype:
    """float64 with x64 on, else float32."""
    return float64 if _flags.jax_enable_x64 else float32


def default_complex_dtype() -> np.dtype:
    """complex128 with x64 on, else complex64."""
    return complex128 if _flags.jax_enable_x64 else complex64


_DEFAULTS = {  # kind -> (x32 default, x64 default)
    "b": (bool_, bool_),
    "i": (int32, int64),
    "u": (uint32, uint64),
    "f": (float32, float64),
    "c": (complex64, complex128),
}

# Non-canonical dtypes of Python scalars, as JAX's ``python_scalar_dtypes``.
python_scalar_dtypes: dict[type, np.dtype] = {
    bool: bool_,
    int: int64,
    float: float64,
    complex: complex128,
}
_WEAK_PY_TYPES = (int, float, complex)

# Per x64 value: dtype-like -> canonical np.dtype.
_CANONICAL: tuple[dict[Any, np.dtype], dict[Any, np.dtype]] = ({}, {})


def _as_np_dtype(x: Any) -> np.dtype:
    try:
        dt = np.dtype(x)
    except TypeError as e:
        raise TypeError(f"{x!r} is not a dtype: {e}") from None
    return dt if dt.isnative else dt.newbyteorder("=")


def canonicalize_dtype(dtype: Any) -> np.dtype:
    """The dtype Jumba uses for ``dtype`` under the current ``jax_enable_x64``.

    With x64 off, 64-bit types become their 32-bit counterparts; other dtypes, and every
    dtype with x64 on, are returned as ``np.dtype`` objects unchanged.

    Examples:
        >>> canonicalize_dtype("float64")  # x64 off by default
        dtype('float32')
        >>> canonicalize_dtype(np.int8)
        dtype('int8')
    """
    x64 = _flags.jax_enable_x64
    try:
        return _CANONICAL[x64][dtype]
    except (KeyError, TypeError):
        pass
    dt = _as_np_dtype(dtype)
    out = dt if x64 else _TO_32.get(dt, dt)
    try:
        _CANONICAL[x64][dtype] = out
    except TypeError:  # unhashable dtype-like, e.g. a list of fields
        pass
    return out


def python_scalar_dtype(x: Any) -> np.dtype:
    """The canonical dtype of a Python scalar value or type: bool, or the default int/float/complex.

    Examples:
        >>> python_scalar_dtype(2.0)
        dtype('float32')
        >>> python_scalar_dtype(bool)
        dtype('bool')
    """
    t = x if isinstance(x, type) else type(x)
    try:
        dt = python_scalar_dtypes[t]
    except KeyError:
        raise TypeError(f"{x!r} is not a Python scalar (bool, int, float or complex)") from None
    return _DEFAULTS[dt.kind][_flags.jax_enable_x64]


# ---------------------------------------------------------------------------------------
# Values: dtype and weak type


def is_weakly_typed(x: Any) -> bool:
    """Whether ``x`` is weakly typed: a Python int/float/complex, or a weak array or tracer.

    Examples:
        >>> is_weakly_typed(1.0), is_weakly_typed(True), is_weakly_typed(np.float32(1))
        (True, False, False)
    """
    if type(x) in _WEAK_PY_TYPES:
        return True
    return bool(getattr(x, "weak_type", False))


def _name(dt: np.dtype) -> str:
    return "float0" if dt == float0 else str(dt)


def _check_supported(dt: np.dtype, x: Any) -> np.dtype:
    if dt not in _SUPPORTED:
        what = (
            f"dtype {dt}"
            if isinstance(x, (str, type, np.dtype))
            else f"{x!r} has dtype {dt}, which"
        )
        raise TypeError(
            f"{what} is not a valid Jumba array type: only bool, integer, floating and "
            "complex dtypes are supported."
        )
    return dt


def _raw_dtype(x: Any) -> np.dtype:
    """The validated, not yet canonicalized dtype of a value or dtype-like."""
    if x is None:
        raise TypeError("None has no dtype")
    dt = python_scalar_dtypes.get(x if isinstance(x, type) else type(x))
    if dt is not None:
        return dt
    dt = getattr(x, "dtype", None)
    if not isinstance(dt, np.dtype):
        if isinstance(x, (str, np.dtype, type)):
            dt = _as_np_dtype(x)
        else:  # a nested sequence, or an object with __array__
            try:
                dt = np.asarray(x).dtype
            except (TypeError, ValueError) as e:
                raise TypeError(f"cannot determine the dtype of {x!r}: {e}") from None
    elif not dt.isnative:
        dt = dt.newbyteorder("=")
    return _check_supported(dt, x)


def dtype(x: Any, *, canonicalize: bool = True) -> np.dtype:
    """The dtype of a value, or the dtype a dtype-like names, canonicalized by default.

    Python scalars and Python scalar types give the default types (``dtype(1.0)`` is
    float32 with x64 off); arrays, NumPy scalars, strings and dtypes give their dtype.

    Raises:
        TypeError: ``x`` has no dtype, or one that Jumba arrays cannot hold.

    Examples:
        >>> dtype(1.0), dtype(np.arange(3, dtype=np.int8)), dtype("float64")
        (dtype('float32'), dtype('int8'), dtype('float32'))
    """
    dt = _raw_dtype(x)
    return canonicalize_dtype(dt) if canonicalize else dt


def dtype_and_weak_type(x: Any) -> tuple[np.dtype, bool]:
    """``(dtype(x), is_weakly_typed(x))`` for a value: what an abstract value records."""
    return dtype(x), is_weakly_typed(x)


def scalar_type_of(x: Any) -> type:
    """The Python scalar type matching the dtype of ``x``: bool, int, float or complex.

    Examples:
        >>> scalar_type_of(np.uint8(1)), scalar_type_of(np.zeros(2, np.float16))
        (<class 'int'>, <class 'float'>)
    """
    dt = _raw_dtype(x)
    if dt == float0:
        raise TypeError(f"{x!r} has dtype float0, which has no scalar type")
    if dt == bfloat16:  # pragma: no cover - needs ml_dtypes
        return float
    return {"b": bool, "i": int, "u": int, "f": float, "c": complex}[dt.kind]


# ---------------------------------------------------------------------------------------
# Promotion

# A result_type operand's key is the class of its dtype (numpy.dtypes.Float32DType, ...), or
# (class, True) if it is weakly typed. Classes hash by identity, where np.dtype objects
# compute a hash on every call: on this path that difference is most of the cost. A class
# stands for its dtype in either byte order, and both promote alike. float0 (a void dtype,
# whose class it shares with every structured dtype) is its own key.
_CLASS_DTYPE: dict[type, np.dtype] = {}  # dtype class -> the supported native dtype
for _char in np.typecodes["All"]:
    _dt = np.dtype(_char)
    if _dt.kind in "biufc" and np.dtype(f"{_dt.kind}{_dt.itemsize}") in _CODES:
        _CLASS_DTYPE[type(_dt)] = np.dtype(f"{_dt.kind}{_dt.itemsize}")
if bfloat16 is not None:  # pragma: no cover - needs ml_dtypes
    _CLASS_DTYPE[type(bfloat16)] = bfloat16
del _char, _dt

# Python scalars share the key of a weak 64-bit array, as in JAX.
_SCALAR_KEYS: dict[type, Any] = {
    bool: type(bool_),
    int: (type(int64), True),
    float: (type(float64), True),
    complex: (type(complex128), True),
}
_DTYPE_LIKE_KEYS: dict[Any, Any] = {}  # dtype-like operand (string, type, np.dtype) -> key


def _dtype_like_key(x: Any) -> Any:
    """The key of an operand that is not a Python scalar nor an array with a plain dtype."""
    try:
        return _DTYPE_LIKE_KEYS[x]
    except (KeyError, TypeError):
        pass
    if any(x is t for t in _WEAK_PY_TYPES):  # identity: np.dtype('f8') == float holds
        key = _SCALAR_KEYS[x]
    elif x is None:  # as JAX: None stands for the default float
        key = type(float64)
    else:
        dt = _raw_dtype(x)
        key = float0 if dt == float0 else type(dt)
        if getattr(x, "weak_type", False):
            key = (key, True)
    if isinstance(x, (str, type, np.dtype)):  # never a value: the cache would keep it alive
        _DTYPE_LIKE_KEYS[x] = key
    return key


def _key(x: Any) -> Any:
    key = _SCALAR_KEYS.get(type(x))
    if key is not None:
        return key
    if type(x) in _CLASS_DTYPE:  # an np.dtype operand, as in result_type(x.dtype, y.dtype)
        return type(x)
    cls = type(getattr(x, "dtype", None))
    if cls in _CLASS_DTYPE:
        return (cls, True) if getattr(x, "weak_type", False) else cls
    return _dtype_like_key(x)


def _key_pair(key: Any) -> tuple[np.dtype, bool]:
    k, weak = key if type(key) is tuple else (key, False)
    return (k if k is float0 else _CLASS_DTYPE[k]), weak


# (operand keys..., x64) -> (dtype, weak_type); more than two operands' keys are gathered
# in one tuple (up to four) or frozenset.
_RESULT_CACHE: dict[Any, tuple[np.dtype, bool]] = {}


def result_type(*args: Any, return_weak_type_flag: bool = False) -> Any:
    """The dtype of an operation on ``args`` under JAX's promotion rules.

    Args:
        *args: arrays, tracers, NumPy values, Python scalars, or dtype-likes (dtypes,
            strings, scalar types; the Python types ``int``, ``float`` and ``complex`` are
            weak, as Python scalars are). Objects with a ``weak_type`` attribute that is
            true are weak. ``None`` stands for the default float type.
        return_weak_type_flag: also return whether the result is weakly typed.

    Returns:
        The canonical result dtype, or ``(dtype, weak_type)``. A weak result has the
        default width of its kind (``result_type(1, 2.0)`` is float32, weak, with x64 off).

    Raises:
        TypePromotionError: no common type (``float0`` with anything but itself).
        TypeError: an operand has no dtype Jumba arrays can hold.

    Examples:
        >>> result_type(np.int8, np.uint8)
        dtype('int16')
        >>> result_type(np.zeros(2, np.float16), 2.0)
        dtype('float16')
        >>> result_type(np.int32, 2.0, return_weak_type_flag=True)
        (dtype('float32'), True)
    """
    if len(args) == 2:
        # _key inlined for the common case, arrays with a plain dtype: this is the hot path.
        x, y = args
        kx = type(getattr(x, "dtype", None))
        if kx not in _CLASS_DTYPE:
            kx = _key(x)
        elif getattr(x, "weak_type", False):
            kx = (kx, True)
        ky = type(getattr(y, "dtype", None))
        if ky not in _CLASS_DTYPE:
            ky = _key(y)
        elif getattr(y, "weak_type", False):
            ky = (ky, True)
        key = (kx, ky, _flags.jax_enable_x64)
    elif len(args) == 1:
        key = (_key(args[0]), _flags.jax_enable_x64)
    elif args:
        keys = [_key(x) for x in args]
        # The join depends only on the set of keys; a set bounds the cache for long calls.
        key = (tuple(keys) if len(keys) <= 4 else frozenset(keys), _flags.jax_enable_x64)
    else:
        raise ValueError("result_type needs at least one array or dtype")
    out = _RESULT_CACHE.get(key)
    if out is None:
        keys = key[0] if len(args) > 2 else key[:-1]
        out = _RESULT_CACHE[key] = _promote([_key_pair(k) for k in keys], key[-1])
    return out if return_weak_type_flag else out[0]


def _canonical(dt: np.dtype, x64: bool) -> np.dtype:
    return dt if x64 else _TO_32.get(dt, dt)


def _promote(pairs, x64: bool) -> tuple[np.dtype, bool]:
    """JAX's lattice result type of operands' ``(dtype, weak_type)``, without the cache."""
    # Inputs are canonicalized first, as JAX does for NumPy operands: an int64 array with
    # x64 off is an int32 array.
    pairs = {(_canonical(d, x64), w) for d, w in pairs}
    dtypes = {d for d, _ in pairs}
    if len(pairs) == 1:
        out, weak = next(iter(pairs))
    elif len(dtypes) == 1 and not all(w for _, w in pairs):
        out, weak = next(iter(dtypes)), False  # same dtype, one strong: float0 gets here
    else:
        if float0 in dtypes:
            raise TypePromotionError(
                f"float0 does not promote with other types: {sorted(map(_name, dtypes))}. "
                "float0 is the tangent type of integer inputs; do not mix it with numbers."
            )
        if all(w for _, w in pairs):
            # All weak: join the strong types and apply the weak type at the end, so weak
            # int16 + weak float16 is a weak float rather than float16.
            out, weak = _DTYPE_OF_CODE[_join(frozenset(_CODES[d] for d in dtypes), x64)], True
        else:
            code = _join(frozenset(_node(d, w) for d, w in pairs), x64)
            if code in _WEAK_CODES:
                out, weak = _DEFAULTS[_WEAK_CODES[code]][x64], True
            else:
                out, weak = _DTYPE_OF_CODE[code], False
        out = _canonical(out, x64)
    weak = weak and out != bool_
    if weak:
        out = _DEFAULTS["f" if out == bfloat16 else out.kind][x64]
    return out, weak


def _node(dt: np.dtype, weak: bool) -> str:
    if not weak or dt == bool_:
        return _CODES[dt]
    if dt == bfloat16:  # pragma: no cover - needs ml_dtypes; its kind is "V"
        return "f*"
    return {"i": "i*", "u": "i*", "f": "f*", "c": "c*"}[dt.kind]


def promote_types(a: Any, b: Any) -> np.dtype:
    """The type two dtypes promote to, as ``jnp.promote_types``: JAX's lattice join.

    The Python types ``int``, ``float`` and ``complex`` are weak: ``promote_types("uint8",
    int)`` is uint8. The result is never weak and, as in JAX, neither inputs nor result are
    canonicalized: a weak result is the 64-bit type of its kind. With x64 off, uint32 and
    a signed type up to 32 bits give int32 rather than int64 (as in JAX).

    Examples:
        >>> promote_types("int8", "uint8"), promote_types("float16", float)
        (dtype('int16'), dtype('float16'))
        >>> promote_types(np.uint64, np.int64)
        dtype('float64')
    """
    codes = []
    for t in (a, b):
        if any(t is w for w in _WEAK_PY_TYPES):
            codes.append(_node(python_scalar_dtypes[t], True))
        else:
            dt = _as_np_dtype(t)
            code = _CODES.get(dt)
            if code is None:
                if dt == float0:
                    codes.append("float0")
                    continue
                _check_supported(dt, t)
            codes.append(code)
    if codes[0] == codes[1] == "float0":
        return float0
    if "float0" in codes:
        raise TypePromotionError("float0 does not promote with other types")
    code = _join(frozenset(codes), _flags.jax_enable_x64)
    if code in _WEAK_CODES:
        return _DEFAULTS[_WEAK_CODES[code]][True]
    return _DTYPE_OF_CODE[code]


# ---------------------------------------------------------------------------------------
# Predicates


def _dtype_of(x: Any) -> np.dtype:
    dt = getattr(x, "dtype", None)
    return dt if isinstance(dt, np.dtype) else _as_np_dtype(x)


def issubdtype(a: Any, b: Any) -> bool:
    """``np.issubdtype``, also knowing bfloat16 (a floating type) and float0 (a void type).

    Examples:
        >>> issubdtype(np.float32, np.floating), issubdtype(np.int8, np.inexact)
        (True, False)
    """
    if bfloat16 is not None and a is not None and _as_np_dtype(a) == bfloat16:  # pragma: no cover
        if isinstance(b, type) and issubclass(b, np.generic):
            return b in (np.floating, np.inexact, np.number, np.generic) or b is bfloat16.type
        return _as_np_dtype(b) == bfloat16
    return bool(np.issubdtype(a, b))


def is_float(dtype: Any) -> bool:
    """Whether ``dtype`` (or the dtype of an array) is a real floating type."""
    dt = _dtype_of(dtype)
    return dt.kind == "f" or dt == bfloat16


def is_int(dtype: Any) -> bool:
    """Whether ``dtype`` is a signed or unsigned integer type (bool is not)."""
    return _dtype_of(dtype).kind in "iu"


def is_complex(dtype: Any) -> bool:
    """Whether ``dtype`` is a complex type."""
    return _dtype_of(dtype).kind == "c"


def is_inexact(dtype: Any) -> bool:
    """Whether ``dtype`` is a floating or complex type."""
    if isinstance(dtype, np.dtype):  # fast path (hot in tracing): NumPy's own kinds
        kind = dtype.kind
        if kind in "fc":
            return True
        if kind in "biu":
            return False
    return is_float(dtype) or is_complex(dtype)


def to_inexact_dtype(dtype: Any) -> np.dtype:
    """The floating type an integer or bool dtype becomes in e.g. ``sqrt``, canonicalized.

    As current JAX: bool and integers up to 32 bits become float32, 64-bit integers
    float64 (float32 with x64 off); inexact dtypes are returned canonicalized.

    Examples:
        >>> to_inexact_dtype(np.int8), to_inexact_dtype(np.float16)
        (dtype('float32'), dtype('float16'))
    """
    dt = _dtype_of(dtype)
    if dt.kind in "biu":
        dt = float64 if dt.itemsize == 8 else float32
    return canonicalize_dtype(dt)
