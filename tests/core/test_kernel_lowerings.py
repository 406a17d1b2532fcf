"""Kernel lowerings of the special-function, complex, bit and remaining elementwise
primitives agree with their NumPy impls (tier 0), and `random.normal` fused into one kernel
stays within 4 ulp of JAX's stream.

Compiling a kernel costs ~0.5 s, so each case builds one program that applies a whole
family to one input: fusion puts every operation reading that input in one kernel with one
output per operation (checked), and each output is compared to the eager result: bit for
bit where the impl is exact, in ulps for transcendental functions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import jumba as jb
import jumba.numpy as jnp
import jumba.random as jr
from jumba import lax
from jumba._src.compiler import fusion, passes
from jumba._src.compiler.lowering import expansion_rules, reduction_rules, scalar_rules
from jumba._src.compiler.tier1 import Tier1Executable
from jumba._src.core import Primitive
from jumba._src.lax import bits, elementwise, special
from jumba._src.lax import complex as lax_complex
from jumba.scipy import special as jsp

pytestmark = pytest.mark.numba

DATA = Path(__file__).resolve().parent.parent / "data"

# Elementwise primitives that keep their NumPy/SciPy impl under jit: none (the special
# functions' own checks are in test_special_kernels.py).
NO_KERNEL: set = set()


@pytest.fixture(autouse=True)
def _kernels_for_small_programs(monkeypatch):
    monkeypatch.setattr(fusion, "MIN_KERNEL_SIZE", 0)


def test_every_elementwise_primitive_has_a_kernel_rule_or_is_listed():
    missing = []
    for module in (elementwise, special, lax_complex, bits):
        for p in vars(module).values():
            if isinstance(p, Primitive) and p not in scalar_rules and \
                    p not in reduction_rules and p not in expansion_rules and \
                    p.name not in NO_KERNEL:
                missing.append(p.name)
    assert not missing, f"elementwise primitives without a kernel rule: {missing}"


def _ordered(x):
    """Float bit patterns as integers ordered like the floats (ulp distances)."""
    x = np.asarray(x)
    i = x.view(np.int32 if x.dtype.itemsize == 4 else np.int64)
    return np.where(i < 0, -(i & np.iinfo(i.dtype).max), i).astype(np.int64)


def _assert_close(name, got, want, how):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, name
    if how == "exact" or want.dtype.kind not in "fc":
        if want.dtype.kind in "fc":  # bit for bit, nan payloads aside
            same = (got == want) | (np.isnan(got) & np.isnan(want))
            assert same.all() and (np.signbit(got.real) == np.signbit(want.real)).all(), name
        else:
            np.testing.assert_array_equal(got, want, err_msg=name)
        return
    if want.dtype.kind == "c":  # normwise: a cancelling real or imaginary part is no error
        with np.errstate(invalid="ignore"):
            err = np.abs(got - want)
        scale = how * np.finfo(want.dtype).eps * np.abs(want)
        bad = ~((err <= scale) | (got == want) | (np.isnan(got) & np.isnan(want)))
        assert not bad.any(), f"{name}: got {got[bad][:3]}, want {want[bad][:3]}"
        return
    both_nan = np.isnan(got) & np.isnan(want)
    dist = np.where(both_nan, 0, np.abs(_ordered(got) - _ordered(want)))
    # Or within `how` eps in absolute terms: near a zero of the function (lgamma at 1 and 2)
    # a few-ulp error of the argument's function shows as many ulps of a tiny result.
    with np.errstate(invalid="ignore"):  # inf - inf where both are inf
        tiny = np.abs(got.astype(np.float64) - want) <= how * np.finfo(want.dtype).eps
    bad = (dist > how) & ~tiny
    assert not bad.any(), (f"{name}: {bad.sum()} values differ by more than {how} ulp "
                           f"(worst {dist.max()}): got {got[bad][:3]}, want {want[bad][:3]}")


def _check_one_kernel(family, *args):
    """Run `family` (returning {name: (value, how)}) through one tier-1 kernel."""
    if any(np.asarray(a).dtype.itemsize == 8 or np.asarray(a).dtype == np.complex128
           for a in args):
        with jb.enable_x64():
            return _check_one_kernel_now(family, *args)
    return _check_one_kernel_now(family, *args)


def _check_one_kernel_now(family, *args):
    names = list(family(*args))

    def f(*xs):
        return [v for v, _ in family(*xs).values()]

    closed = passes.optimize(jb.make_jaxpr(f)(*args))
    nodes = fusion.partition(closed.jaxpr)
    outside = [n.primitive.name for n in nodes if not isinstance(n, fusion.FusedGroup)]
    assert not outside, f"ran outside the kernel: {outside}"
    assert len(nodes) == 1, f"{len(nodes)} kernels, expected one"
    outs = Tier1Executable(closed, "family")([np.asarray(a) for a in args])
    for name, out, (want, how) in zip(names, outs, family(*args).values()):
        _assert_close(name, out, want, how)


def _float_family(x):
    u = x * np.asarray(0.25, x.dtype)  # in (-1, 1), for erf_inv
    tr = 4 if x.dtype == np.float32 else 64  # float64 digamma / log_ndtr: few-ulp helpers
    out = {
        # float64 erf/erfc: numba's math.erf(c) (CPython's algorithm) against scipy's
        "erf": (lax.erf(x), tr), "erfc": (lax.erfc(x), tr), "lgamma": (lax.lgamma(x), 4),
        "digamma": (lax.digamma(x), tr), "log_ndtr": (jsp.log_ndtr(x), tr),
        "logistic": (lax.logistic(x), 2),
        "round_even": (lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN), "exact"),
        "round_away": (lax.round(x, lax.RoundingMethod.AWAY_FROM_ZERO), "exact"),
        "pow3": (lax.integer_pow(x, 3), "exact"), "pow5": (lax.integer_pow(x, 5), "exact"),
        "pow_m2": (lax.integer_pow(x, -2), "exact"), "pow0": (lax.integer_pow(x, 0), "exact"),
        "sinc": (jnp.sinc(x), 4),
        "bitcast": (lax.bitcast_convert_type(x, np.int32 if x.dtype == np.float32
                                             else np.int64), "exact"),
        "to_complex": (lax.convert_element_type(x, np.complex64 if x.dtype == np.float32
                                                else np.complex128), "exact"),
        "clamp": (lax.clamp(np.asarray(-1, x.dtype), x, np.asarray(2, x.dtype)), "exact"),
    }
    out["erf_inv"] = (lax.erf_inv(u), 2)
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_float_family_in_one_kernel(dtype):
    rng = np.random.default_rng(0)
    x = rng.uniform(-3.9, 3.9, 500).astype(dtype)
    x[:12] = [0.0, -0.0, 0.5, -0.5, 1.5, -2.5, 2.5, 1.0, 3.0, 1e-30, -1e-8, 1.4616321]
    x[12:16] = [-40.0, 30.0, -1.0, -3.0]  # log_ndtr's tails, lgamma / digamma poles
    _check_one_kernel(_float_family, x)


def _int_family(x, y):
    out = {
        "popcount": (lax.population_count(x), "exact"), "clz": (lax.clz(x), "exact"),
        "shl": (lax.shift_left(x, y), "exact"),
        "shr_logical": (lax.shift_right_logical(x, y), "exact"),
        "shr_arith": (lax.shift_right_arithmetic(x, y), "exact"),
        "pow3": (lax.integer_pow(x, 3), "exact"),
        "div": (lax.div(x, y), "exact"), "rem": (lax.rem(x, y), "exact"),
        "select3": (lax.select_n(lax.convert_element_type(lax.rem(y, np.asarray(3, y.dtype))
                                                          & np.asarray(1, y.dtype), np.int32),
                                 x, y), "exact"),
    }
    out["mulhi"] = (lax.mulhi(x, y), "exact")
    if x.dtype.itemsize == 4:
        out["bitcast"] = (lax.bitcast_convert_type(x, np.float32), "exact")
    return out


@pytest.mark.parametrize("dtype", [np.int32, np.uint32, np.int8, np.int64, np.uint64])
def test_int_family_in_one_kernel(dtype):
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype)
    x = rng.integers(info.min, info.max, 300, dtype=dtype, endpoint=True)
    x[:4] = [0, 1, info.max, info.min]
    y = rng.integers(0 if info.min == 0 else -3, 8 * x.itemsize + 3, 300).astype(dtype)
    _check_one_kernel(_int_family, x, y)


def _complex_family(z):
    return {
        "real": (lax.real(z), "exact"), "imag": (lax.imag(z), "exact"),
        "conj": (lax.conj(z), "exact"),
        "complex": (lax.complex(lax.imag(z), lax.real(z)), "exact"),
        "abs": (jnp.abs(z), 2),
        "to_real": (lax.convert_element_type(z, lax.real(z).dtype), "exact"),
        "pow3": (lax.integer_pow(z, 3), 4),
    }


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128], ids=["c64", "c128"])
def test_complex_family_in_one_kernel(dtype):
    rng = np.random.default_rng(2)
    z = (rng.normal(size=200) + 1j * rng.normal(size=200)).astype(dtype)
    z[:3] = [0, complex(np.inf, 1), complex(1, -np.inf)]
    _check_one_kernel(_complex_family, z)


def test_reduce_xor_is_a_kernel_reduction():
    x = np.random.default_rng(3).integers(0, 2**31, (6, 50)).astype(np.uint32)
    _check_one_kernel(lambda x: {"xor": (lax.reduce_xor(x ^ np.uint32(5), (1,)), "exact")}, x)


def test_erf_inv_and_log1p_helpers_on_many_values():
    # erf_inv's whole domain (and beyond: nan), log1p's range, endpoints and special values;
    # one input array so that both land in one kernel.
    rng = np.random.default_rng(4)
    v = np.concatenate([rng.uniform(-1, 1, 20000), 1 - np.geomspace(1e-7, 0.5, 200),
                        rng.uniform(-1, 4, 5000), np.geomspace(1e-30, 1e30, 300),
                        -np.geomspace(1e-30, 0.99, 300),
                        np.geomspace(1e-45, 1e-37, 100),  # subnormal (log's scaling)
                        [-1.0, 1.0, 0.0, -0.0, 1.5, -2.0, np.nan, 1e-38, 1e-40, np.inf,
                         -np.inf, 3.4e38]]).astype(np.float32)
    _check_one_kernel(lambda v: {"erf_inv": (lax.erf_inv(v), 2),
                                 "log1p": (lax.log1p(v), 2), "log": (lax.log(v), 2)}, v)


def test_normal_in_one_kernel_matches_jax():
    ref = json.loads((DATA / "jax_random.json").read_text())
    cases = [c for c in ref["cases"] if "normal_1000" in c]
    assert cases
    draw = lambda k: jr.normal(k, (1000,))  # noqa: E731
    closed = passes.optimize(jb.make_jaxpr(draw)(jr.PRNGKey(0)))
    ex = Tier1Executable(closed, "normal")
    # One kernel draws the bits (threefry's rotations), makes the uniform and applies
    # erf_inv, in two loops passing the uniform through the output buffer.
    (source,) = [s for s in ex.kernel_sources if "_kh.erf_inv_f32" in s]
    assert "<<" in source and source.count("for i0 in range(n0):") == 2
    for case in cases:  # one kernel, every seed
        want = np.array(case["normal_1000"]["bits_u32"], np.uint32).view(np.float32)
        (got,) = ex([np.asarray(jr.PRNGKey(case["seed"]))])
        dist = np.abs(_ordered(np.asarray(got)) - _ordered(want))
        assert dist.max() <= 4, f"seed {case['seed']}: {dist.max()} ulp from JAX's normal"
