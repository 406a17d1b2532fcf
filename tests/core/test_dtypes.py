"""Dtype rules and configuration flags: JAX's promotion table, canonicalization, config."""

import itertools
import os
import subprocess
import sys
import threading
import weakref
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import jumba
from jumba._src import config as config_module
from jumba._src import dtypes
from jumba._src.config import (
    config,
    config_context,
    disable_jit,
    enable_x64,
    flags,
    numpy_rank_promotion,
)

# ---------------------------------------------------------------------------------------
# JAX's binary promotion table, transcribed from "Type promotion semantics" in JAX's
# documentation. Row and column codes: b1 bool, uN/iN N-byte (un)signed ints, bf bfloat16,
# fN/cN N-byte floats/complex, and i*, f*, c* the weak (Python) int, float and complex.

PROMOTION_TABLE = """
     b1  u1  u2  u4  u8  i1  i2  i4  i8  bf  f2  f4  f8  c8  c16 i*  f*  c*
b1   b1  u1  u2  u4  u8  i1  i2  i4  i8  bf  f2  f4  f8  c8  c16 i*  f*  c*
u1   u1  u1  u2  u4  u8  i2  i2  i4  i8  bf  f2  f4  f8  c8  c16 u1  f*  c*
u2   u2  u2  u2  u4  u8  i4  i4  i4  i8  bf  f2  f4  f8  c8  c16 u2  f*  c*
u4   u4  u4  u4  u4  u8  i8  i8  i8  i8  bf  f2  f4  f8  c8  c16 u4  f*  c*
u8   u8  u8  u8  u8  u8  f*  f*  f*  f*  bf  f2  f4  f8  c8  c16 u8  f*  c*
i1   i1  i2  i4  i8  f*  i1  i2  i4  i8  bf  f2  f4  f8  c8  c16 i1  f*  c*
i2   i2  i2  i4  i8  f*  i2  i2  i4  i8  bf  f2  f4  f8  c8  c16 i2  f*  c*
i4   i4  i4  i4  i8  f*  i4  i4  i4  i8  bf  f2  f4  f8  c8  c16 i4  f*  c*
i8   i8  i8  i8  i8  f*  i8  i8  i8  i8  bf  f2  f4  f8  c8  c16 i8  f*  c*
bf   bf  bf  bf  bf  bf  bf  bf  bf  bf  bf  f4  f4  f8  c8  c16 bf  bf  c8
f2   f2  f2  f2  f2  f2  f2  f2  f2  f2  f4  f2  f4  f8  c8  c16 f2  f2  c8
f4   f4  f4  f4  f4  f4  f4  f4  f4  f4  f4  f4  f4  f8  c8  c16 f4  f4  c8
f8   f8  f8  f8  f8  f8  f8  f8  f8  f8  f8  f8  f8  f8  c16 c16 f8  f8  c16
c8   c8  c8  c8  c8  c8  c8  c8  c8  c8  c8  c8  c8  c16 c8  c16 c8  c8  c8
c16  c16 c16 c16 c16 c16 c16 c16 c16 c16 c16 c16 c16 c16 c16 c16 c16 c16 c16
i*   i*  u1  u2  u4  u8  i1  i2  i4  i8  bf  f2  f4  f8  c8  c16 i*  f*  c*
f*   f*  f*  f*  f*  f*  f*  f*  f*  f*  bf  f2  f4  f8  c8  c16 f*  f*  c*
c*   c*  c*  c*  c*  c*  c*  c*  c*  c*  c8  c8  c8  c16 c8  c16 c*  c*  c*
"""


def _parse_table(text):
    header, *rows = [line.split() for line in text.strip().splitlines()]
    table = {}
    for row in rows:
        assert len(row) == len(header) + 1
        for col, cell in zip(header, row[1:]):
            table[row[0], col] = cell
    return header, table


CODES_ALL, TABLE = _parse_table(PROMOTION_TABLE)
# bfloat16 exists only with ml_dtypes; without it its row and column are not checked.
CODES = [c for c in CODES_ALL if c != "bf" or dtypes.bfloat16 is not None]
WEAK = {"i*": int, "f*": float, "c*": complex}
KIND_OF_WEAK = {"i*": "i", "f*": "f", "c*": "c"}


def strong_dtype(code):
    if code == "bf":
        return dtypes.bfloat16
    kind = {"b": "b", "u": "u", "i": "i", "f": "f", "c": "c"}[code[0]]
    return np.dtype(f"{kind}{code[1:]}")


def canonical_code(code, x64):
    if x64 or code in WEAK:
        return code
    return {"u8": "u4", "i8": "i4", "f8": "f4", "c16": "c8"}.get(code, code)


def expected(code, x64):
    """(dtype, weak_type) that result_type gives for a table cell."""
    if code in WEAK:
        bits = 64 if x64 else 32
        kind = KIND_OF_WEAK[code]
        return np.dtype(f"{kind}{bits // 8 * (2 if kind == 'c' else 1)}"), True
    return strong_dtype(canonical_code(code, x64)), False


def as_dtype_like(code):
    return WEAK.get(code) or strong_dtype(code)


class FakeArray:
    """Stands for a Jumba array or tracer: a dtype and a weak_type flag."""

    def __init__(self, dtype, weak_type=False):
        self.dtype = np.dtype(dtype)
        self.weak_type = weak_type

    def __repr__(self):
        return f"FakeArray({self.dtype}, weak_type={self.weak_type})"


def as_value(code, x64, form):
    """An operand of the code's type: a NumPy array or a Python scalar, or a fake array."""
    if code in WEAK:
        if form == "numpy":
            return {"i*": 3, "f*": 2.5, "c*": 1j}[code]
        return FakeArray(expected(code, x64)[0], weak_type=True)
    if form == "numpy":
        return np.zeros(2, strong_dtype(code))
    return FakeArray(strong_dtype(code))


@pytest.fixture(autouse=True)
def restore_config():
    saved = config.values()
    yield
    for name, value in saved.items():
        config.update(name, value)
    assert config_module._n_overrides == 0, "a test left a config context open"


PAIRS = list(itertools.product(CODES, CODES))


# ---------------------------------------------------------------------------------------
# The promotion table


@pytest.mark.parametrize("x64", [True, False], ids=["x64", "x32"])
def test_result_type_matches_jax_table_for_dtypes(x64):
    config.update("jax_enable_x64", x64)
    wrong = []
    for a, b in PAIRS:
        # With x64 off the inputs are canonicalized first: int64 is int32 there.
        want = expected(TABLE[canonical_code(a, x64), canonical_code(b, x64)], x64)
        got = dtypes.result_type(as_dtype_like(a), as_dtype_like(b), return_weak_type_flag=True)
        if got != want:
            wrong.append((a, b, got, want))
    assert not wrong


@pytest.mark.parametrize("form", ["numpy", "fake"])
@pytest.mark.parametrize("x64", [True, False], ids=["x64", "x32"])
def test_result_type_matches_jax_table_for_values(x64, form):
    config.update("jax_enable_x64", x64)
    wrong = []
    for a, b in PAIRS:
        want = expected(TABLE[canonical_code(a, x64), canonical_code(b, x64)], x64)
        va, vb = as_value(a, x64, form), as_value(b, x64, form)
        got = dtypes.result_type(va, vb, return_weak_type_flag=True)
        if got != want:
            wrong.append((a, b, got, want))
        if dtypes.result_type(va, vb) != want[0]:
            wrong.append((a, b, "without the weak flag"))
    assert not wrong


def test_promote_types_matches_jax_table_with_x64():
    config.update("jax_enable_x64", True)
    for a, b in PAIRS:
        want = expected(TABLE[a, b], True)[0]
        assert dtypes.promote_types(as_dtype_like(a), as_dtype_like(b)) == want, (a, b)


def test_promote_types_is_not_canonicalized():
    # As jnp.promote_types: inputs and result keep their width, weak results are 64-bit.
    assert dtypes.promote_types(int, int) == np.int64
    assert dtypes.promote_types(np.uint64, np.int8) == np.float64
    assert dtypes.promote_types("float16", float) == np.float16
    assert dtypes.promote_types("uint8", int) == np.uint8
    # JAX's x32 lattice puts uint32 below int32, so no 64-bit type is formed.
    assert dtypes.promote_types(np.uint32, np.int32) == np.int32
    config.update("jax_enable_x64", True)
    assert dtypes.promote_types(np.uint32, np.int32) == np.int64


@pytest.mark.parametrize(
    "args, x64, want",
    [
        ((np.float32, 2.0), False, (np.float32, False)),
        ((np.int32, 2.0), False, (np.float32, True)),
        ((np.int8, 1), False, (np.int8, False)),
        ((np.int8, np.uint8), False, (np.int16, False)),
        ((np.int64, np.uint64), True, (np.float64, True)),
        ((np.uint64, int), True, (np.uint64, False)),
        ((1, 2.0), False, (np.float32, True)),
        ((1, 2.0), True, (np.float64, True)),
        ((True, 1), False, (np.int32, True)),
        ((True, False), False, (np.bool_, False)),
        ((None, np.int8), False, (np.float32, False)),
        ((np.zeros(2, np.int64), 2.0), False, (np.float32, True)),
        ((np.float64(1.0), np.float16), False, (np.float32, False)),
        ((np.zeros(2, ">f4"), np.zeros(2, "<f4")), False, (np.float32, False)),
        ((np.int8, np.int16, np.uint8, 2.0), False, (np.float32, True)),
        ((np.int8, np.int16, np.uint8, np.int8, np.bool_, 3), False, (np.int16, False)),
        ((FakeArray(np.int16, True), FakeArray(np.float16, True)), False, (np.float32, True)),
        ((FakeArray(np.float32, True),), False, (np.float32, True)),
        ((FakeArray(np.float16, True),), True, (np.float64, True)),
        ((dtypes.float0, dtypes.float0), False, (dtypes.float0, False)),
        ((np.zeros(2, dtypes.float0), np.zeros(3, dtypes.float0)), False, (dtypes.float0, False)),
        ((FakeArray(dtypes.float0),), False, (dtypes.float0, False)),
    ],
)
def test_result_type_examples(args, x64, want):
    config.update("jax_enable_x64", x64)
    assert dtypes.result_type(*args, return_weak_type_flag=True) == (np.dtype(want[0]), want[1])


def test_result_type_errors():
    with pytest.raises(ValueError, match="at least one"):
        dtypes.result_type()
    with pytest.raises(dtypes.TypePromotionError, match="float0"):
        dtypes.result_type(dtypes.float0, np.float32)
    with pytest.raises(TypeError, match="not a valid Jumba array type"):
        dtypes.result_type(np.array(["a"]), np.float32)
    with pytest.raises(TypeError, match="not a valid Jumba array type"):
        dtypes.result_type(np.dtype(object))
    with pytest.raises(TypeError):
        dtypes.result_type("not-a-dtype")


def test_result_type_does_not_keep_operands_alive():
    value = FakeArray(dtypes.float0)
    ref = weakref.ref(value)
    dtypes.result_type(value, dtypes.float0)
    dtypes.result_type(value, value, value)
    del value
    assert ref() is None


def test_result_type_cache_follows_x64():
    assert dtypes.result_type(np.float64, np.float64) == np.float32
    with enable_x64():
        assert dtypes.result_type(np.float64, np.float64) == np.float64
    assert dtypes.result_type(np.float64, np.float64) == np.float32


# ---------------------------------------------------------------------------------------
# Algebra of the join, on arbitrary operands

OPERAND_CODES = st.sampled_from(CODES)


def _join(a, b):
    d, w = dtypes.result_type(a, b, return_weak_type_flag=True)
    return FakeArray(d, w)


@given(OPERAND_CODES, OPERAND_CODES, st.booleans())
def test_result_type_is_commutative(a, b, x64):
    with enable_x64(x64):
        va, vb = as_value(a, x64, "fake"), as_value(b, x64, "fake")
        assert dtypes.result_type(va, vb, return_weak_type_flag=True) == dtypes.result_type(
            vb, va, return_weak_type_flag=True
        )
        assert dtypes.promote_types(as_dtype_like(a), as_dtype_like(b)) == dtypes.promote_types(
            as_dtype_like(b), as_dtype_like(a)
        )


STRONG_CODES = st.sampled_from([c for c in CODES if c not in WEAK])


@given(STRONG_CODES, STRONG_CODES, STRONG_CODES, st.booleans())
def test_result_type_is_associative_on_strong_dtypes(a, b, c, x64):
    with enable_x64(x64):
        va, vb, vc = (FakeArray(strong_dtype(code)) for code in (a, b, c))
        left, right = _join(_join(va, vb), vc), _join(va, _join(vb, vc))
        whole = dtypes.result_type(va, vb, vc, return_weak_type_flag=True)
        assert (left.dtype, left.weak_type) == (right.dtype, right.weak_type) == whole


@given(OPERAND_CODES, OPERAND_CODES, OPERAND_CODES, st.booleans())
def test_result_type_is_associative_with_weak_operands(a, b, c, x64):
    # Holds too when intermediate results carry their weak flag, as Jumba arrays do.
    with enable_x64(x64):
        va, vb, vc = (as_value(code, x64, "fake") for code in (a, b, c))
        left, right = _join(_join(va, vb), vc), _join(va, _join(vb, vc))
        assert (left.dtype, left.weak_type) == (right.dtype, right.weak_type)


@given(STRONG_CODES)
def test_join_with_itself_is_identity(a):
    with enable_x64():
        assert dtypes.result_type(strong_dtype(a), strong_dtype(a)) == strong_dtype(a)


# ---------------------------------------------------------------------------------------
# Canonicalization, defaults, dtype of values

CANONICAL_X32 = [
    (np.float64, np.float32),
    (np.int64, np.int32),
    (np.uint64, np.uint32),
    (np.complex128, np.complex64),
    (np.float32, np.float32),
    (np.float16, np.float16),
    (np.int8, np.int8),
    (np.uint16, np.uint16),
    (np.bool_, np.bool_),
    (np.complex64, np.complex64),
]


@pytest.mark.parametrize("given_dtype, x32", CANONICAL_X32)
def test_canonicalize_dtype(given_dtype, x32):
    for spelling in (given_dtype, np.dtype(given_dtype), np.dtype(given_dtype).name):
        assert dtypes.canonicalize_dtype(spelling) == x32
        assert type(dtypes.canonicalize_dtype(spelling)) is type(np.dtype(x32))
        with enable_x64():
            assert dtypes.canonicalize_dtype(spelling) == np.dtype(given_dtype)
    assert dtypes.canonicalize_dtype(dtypes.float0) == dtypes.float0


def test_default_dtypes_follow_x64():
    defaults = (
        dtypes.default_float_dtype,
        dtypes.default_int_dtype,
        dtypes.default_uint_dtype,
        dtypes.default_complex_dtype,
    )
    assert [f() for f in defaults] == [np.float32, np.int32, np.uint32, np.complex64]
    with enable_x64():
        assert [f() for f in defaults] == [np.float64, np.int64, np.uint64, np.complex128]


def test_python_scalar_dtypes():
    assert dtypes.python_scalar_dtype(True) == np.bool_
    assert dtypes.python_scalar_dtype(3) == np.int32
    assert dtypes.python_scalar_dtype(float) == np.float32
    assert dtypes.python_scalar_dtype(1j) == np.complex64
    with enable_x64():
        assert dtypes.python_scalar_dtype(3) == np.int64
        assert dtypes.python_scalar_dtype(2.0) == np.float64
    with pytest.raises(TypeError, match="not a Python scalar"):
        dtypes.python_scalar_dtype(np.float32(1))


def test_weak_types():
    assert dtypes.is_weakly_typed(1)
    assert dtypes.is_weakly_typed(1.0)
    assert dtypes.is_weakly_typed(1j)
    assert not dtypes.is_weakly_typed(True)
    assert not dtypes.is_weakly_typed(np.float64(1.0))  # a float subclass, but NumPy's
    assert not dtypes.is_weakly_typed(np.zeros(2))
    assert dtypes.is_weakly_typed(FakeArray(np.float32, True))
    assert not dtypes.is_weakly_typed(FakeArray(np.float32, False))
    assert dtypes.dtype_and_weak_type(2.0) == (np.float32, True)


def test_dtype_of_values():
    assert dtypes.dtype(1.0) == np.float32
    assert dtypes.dtype(True) == np.bool_
    assert dtypes.dtype(np.arange(3, dtype=np.int8)) == np.int8
    assert dtypes.dtype(np.arange(3, dtype=np.int64)) == np.int32
    assert dtypes.dtype(np.arange(3, dtype=np.int64), canonicalize=False) == np.int64
    assert dtypes.dtype("float64") == np.float32
    assert dtypes.dtype([1, 2.5]) == np.float32
    assert dtypes.dtype(FakeArray(np.float16)) == np.float16
    with enable_x64():
        assert dtypes.dtype(1.0) == np.float64
    with pytest.raises(TypeError, match="not a valid Jumba array type"):
        dtypes.dtype(np.array(["text"]))
    with pytest.raises(TypeError):
        dtypes.dtype(None)


def test_float0():
    assert dtypes.float0 == np.dtype([("float0", np.void, 0)])
    assert dtypes.float0.itemsize == 0
    assert np.zeros((3, 2), dtypes.float0).nbytes == 0
    assert dtypes.issubdtype(dtypes.float0, np.void)
    with pytest.raises(TypeError, match="float0"):
        dtypes.scalar_type_of(np.zeros(2, dtypes.float0))


@pytest.mark.parametrize(
    "value, want",
    [
        (np.uint8(1), int),
        (np.int64(1), int),
        (np.bool_(True), bool),
        (np.zeros(2, np.float16), float),
        (np.complex64(1), complex),
        (1.0, float),
        (3, int),
    ],
)
def test_scalar_type_of(value, want):
    assert dtypes.scalar_type_of(value) is want


@pytest.mark.parametrize(
    "dtype, is_float, is_int, is_complex",
    [
        (np.float16, True, False, False),
        (np.float64, True, False, False),
        (np.int8, False, True, False),
        (np.uint64, False, True, False),
        (np.bool_, False, False, False),
        (np.complex64, False, False, True),
    ],
)
def test_kind_predicates(dtype, is_float, is_int, is_complex):
    assert dtypes.is_float(dtype) is is_float
    assert dtypes.is_int(dtype) is is_int
    assert dtypes.is_complex(dtype) is is_complex
    assert dtypes.is_inexact(dtype) is (is_float or is_complex)
    assert dtypes.is_float(np.zeros(1, dtype)) is is_float  # arrays too


@pytest.mark.parametrize(
    "given_dtype, x32, x64",
    [
        (np.bool_, np.float32, np.float32),
        (np.int8, np.float32, np.float32),
        (np.uint32, np.float32, np.float32),
        (np.int64, np.float32, np.float64),
        (np.float16, np.float16, np.float16),
        (np.float64, np.float32, np.float64),
        (np.complex64, np.complex64, np.complex64),
    ],
)
def test_to_inexact_dtype(given_dtype, x32, x64):
    # As current JAX: small integers become float32 even with x64 on.
    assert dtypes.to_inexact_dtype(given_dtype) == x32
    with enable_x64():
        assert dtypes.to_inexact_dtype(given_dtype) == x64


def test_issubdtype_finfo_iinfo():
    assert dtypes.issubdtype(np.float32, np.floating)
    assert dtypes.issubdtype(np.int8, np.signedinteger)
    assert not dtypes.issubdtype(np.int8, np.inexact)
    assert dtypes.issubdtype(np.complex64, np.complexfloating)
    assert dtypes.finfo(np.float32).eps == np.finfo(np.float32).eps
    assert dtypes.iinfo(np.int8).max == 127


# ---------------------------------------------------------------------------------------
# Config flags

DEFAULTS = {
    "jax_enable_x64": False,
    "jax_disable_jit": False,
    "jumba_compile": "background",
    "jax_debug_nans": False,
    "jax_numpy_rank_promotion": "allow",
    "jax_default_matmul_precision": None,
}

VALID = [
    ("jax_enable_x64", True),
    ("jax_disable_jit", True),
    ("jumba_compile", "eager"),
    ("jumba_compile", "never"),
    ("jax_debug_nans", True),
    ("jax_numpy_rank_promotion", "raise"),
    ("jax_numpy_rank_promotion", "warn"),
    ("jax_default_matmul_precision", "highest"),
]

INVALID = [
    ("jax_enable_x64", "yes", TypeError),
    ("jax_enable_x64", 2, TypeError),
    ("jax_disable_jit", None, TypeError),
    ("jumba_compile", "sometimes", ValueError),
    ("jumba_compile", True, ValueError),
    ("jax_numpy_rank_promotion", "forbid", ValueError),
    ("jax_default_matmul_precision", "double", ValueError),
]


def test_jumba_exports_config():
    assert jumba.config is config
    assert jumba.enable_x64 is enable_x64
    assert jumba.disable_jit is disable_jit


def test_flags_and_defaults():
    assert set(config.flag_names) == set(DEFAULTS)
    env_set = [e for f in config_module._FLAGS.values() for e in f.env_names if e in os.environ]
    if not env_set:
        assert config.values() == DEFAULTS


@pytest.mark.parametrize("name, value", VALID)
def test_update_and_read(name, value):
    config.update(name, value)
    assert config.read(name) == value
    assert getattr(config, name) == value
    assert getattr(flags, name) == value


@pytest.mark.parametrize("name, value, error", INVALID)
def test_update_validates(name, value, error):
    before = config.read(name)
    with pytest.raises(error, match=name):
        config.update(name, value)
    with pytest.raises(error, match=name):
        config_context(**{name: value})
    assert config.read(name) == before


def test_update_normalises():
    config.update("jax_enable_x64", 1)
    assert config.jax_enable_x64 is True
    config.update("jax_enable_x64", np.bool_(False))
    assert config.jax_enable_x64 is False
    config.update("jax_numpy_rank_promotion", "RAISE")
    assert config.jax_numpy_rank_promotion == "raise"


def test_unknown_flags_list_the_known_ones():
    for access in (
        lambda: config.jax_enable_x46,
        lambda: config.read("jax_enable_x46"),
        lambda: config.update("jax_enable_x46", True),
        lambda: config_context(jax_enable_x46=True),
    ):
        with pytest.raises(AttributeError, match="unknown config flag 'jax_enable_x46'") as info:
            access()
        assert all(name in str(info.value) for name in DEFAULTS)
    assert not hasattr(config, "jax_enable_x46")


def test_assignment_points_to_update():
    with pytest.raises(AttributeError, match=r"config\.update\('jax_enable_x64'"):
        config.jax_enable_x64 = True
    with pytest.raises(AttributeError, match="unknown config flag"):
        config.some_flag = 1


def test_repr_and_dir():
    assert "jax_enable_x64=False" in repr(config)
    assert "jumba_compile" in dir(config)


def test_trace_context():
    assert config.trace_context() == (False, "allow", None)
    assert config_module.trace_context() == config.trace_context()
    config.update("jax_numpy_rank_promotion", "raise")
    assert config.trace_context() == (False, "raise", None)
    with enable_x64():
        assert config.trace_context() == (True, "raise", None)
    config.update("jax_debug_nans", True)  # not a tracing flag
    assert config.trace_context() == (False, "raise", None)
    hash(config.trace_context())


def test_context_managers_set_and_restore():
    with enable_x64():
        assert config.jax_enable_x64 and flags.jax_enable_x64
        with enable_x64(False):
            assert not config.jax_enable_x64
        assert config.jax_enable_x64
    assert not config.jax_enable_x64
    with jumba.disable_jit():
        assert config.jax_disable_jit
        assert config.read("jax_disable_jit")
    assert not config.jax_disable_jit
    with numpy_rank_promotion("warn"):
        assert config.jax_numpy_rank_promotion == "warn"
    before = config.jumba_compile  # the test suite runs with JUMBA_COMPILE=never
    with config_context(jumba_compile="eager", jax_debug_nans=True):
        assert (config.jumba_compile, config.jax_debug_nans) == ("eager", True)
    assert (config.jumba_compile, config.jax_debug_nans) == (before, False)


def test_context_restores_after_an_exception():
    with pytest.raises(RuntimeError), enable_x64():
        raise RuntimeError
    assert not config.jax_enable_x64
    # With no context left, reads are plain slot reads again.
    slot = type(flags).__dict__["jax_enable_x64"]
    assert slot is config_module._SLOTS["jax_enable_x64"]


def test_context_as_decorator():
    @enable_x64()
    def read():
        return config.jax_enable_x64

    assert read() and read()
    assert not config.jax_enable_x64


def test_context_wins_over_update_until_it_ends():
    with enable_x64(False):
        config.update("jax_enable_x64", True)
        assert config.jax_enable_x64 is False
    assert config.jax_enable_x64 is True


def _in_thread(fn):
    out = []
    thread = threading.Thread(target=lambda: out.append(fn()))
    thread.start()
    thread.join()
    return out[0]


def test_contexts_are_thread_local():
    with enable_x64():
        assert config.jax_enable_x64
        assert _in_thread(lambda: config.jax_enable_x64) is False
        assert _in_thread(lambda: config.trace_context()[0]) is False

    entered, release = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with disable_jit(), enable_x64():
            seen["worker"] = (config.jax_disable_jit, config.jax_enable_x64)
            entered.set()
            release.wait(10)
        seen["worker after"] = (config.jax_disable_jit, config.jax_enable_x64)

    thread = threading.Thread(target=worker)
    thread.start()
    assert entered.wait(10)
    try:
        seen["main"] = (config.jax_disable_jit, config.jax_enable_x64)
        config.update("jax_disable_jit", False)  # a global update under another's context
    finally:
        release.set()
        thread.join()
    assert seen == {
        "worker": (True, True),
        "main": (False, False),
        "worker after": (False, False),
    }


def test_global_update_is_seen_by_other_threads():
    config.update("jax_enable_x64", True)
    assert _in_thread(lambda: config.jax_enable_x64) is True


def test_concurrent_contexts_in_many_threads():
    errors = []
    barrier = threading.Barrier(8)

    def worker(i):
        want = i % 2 == 0
        barrier.wait(10)
        for _ in range(200):
            with enable_x64(want):
                if config.jax_enable_x64 is not want or dtypes.default_float_dtype() != (
                    np.float64 if want else np.float32
                ):
                    errors.append(i)
        if config.jax_enable_x64 is not False:
            errors.append(("leak", i))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert config_module._n_overrides == 0


SRC = str(Path(dtypes.__file__).resolve().parents[2])


def _flags_in_subprocess(env):
    code = (
        "from jumba._src.config import config; "
        "print(config.jax_enable_x64, config.jumba_compile, config.jax_debug_nans)"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "JUMBA_"))}
    clean["PYTHONPATH"] = SRC
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "env, want",
    [
        ({}, "False background False"),
        ({"JAX_ENABLE_X64": "1"}, "True background False"),
        ({"JAX_ENABLE_X64": "true"}, "True background False"),
        ({"JUMBA_ENABLE_X64": "Yes"}, "True background False"),
        ({"JAX_ENABLE_X64": "1", "JUMBA_ENABLE_X64": "0"}, "False background False"),
        ({"JUMBA_COMPILE": "eager", "JAX_DEBUG_NANS": "1"}, "False eager True"),
    ],
)
def test_environment_sets_defaults(env, want):
    result = _flags_in_subprocess(env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == want


@pytest.mark.parametrize(
    "env", [{"JAX_ENABLE_X64": "maybe"}, {"JUMBA_COMPILE": "later"}], ids=["x64", "compile"]
)
def test_invalid_environment_is_a_clear_error(env):
    result = _flags_in_subprocess(env)
    assert result.returncode != 0
    (name,) = env
    assert name in result.stderr
