"""The special functions compiled to numba (tier 1) agree with their scipy impls (tier 0).

igamma, igammac, igamma_grad_a, betainc, bessel_i0e/i1e, zeta, polygamma, ndtri, float64
erf_inv and 64-bit mulhi are scalar helpers (compiler/kernel_helpers_special.py) called
from inside fused kernels. Each test jits one program applying a family of them, checks in
the generated source that the orchestrating function calls no impl for them (they are in
a kernel), and compares the outputs with the eager (scipy) results on hypothesis-drawn
inputs plus the edge cases (zeros, infinities, nan, invalid arguments), float32 and
float64. Inputs have a fixed length, so every example after the first reuses the program.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jumba as jb
from jumba import lax
from jumba._src.compiler import fusion
from jumba.scipy import special as jsp

pytestmark = pytest.mark.numba

# No shrinking: an example is a batch of values, the failure message shows the bad ones,
# and shrinking a batch through a compiled program takes minutes.
_SETTINGS = settings(max_examples=15, deadline=None,
                     phases=[Phase.explicit, Phase.reuse, Phase.generate])
N = 48  # drawn values per argument (edge cases are appended)
_F32, _F64 = np.float32, np.float64
DTYPES = pytest.mark.parametrize("dtype", [_F32, _F64], ids=["float32", "float64"])
_HELPERS = ("igamma", "igammac", "igamma_grad_a", "betainc", "bessel_i0e", "bessel_i1e",
            "zeta", "polygamma", "ndtri", "erf_inv", "mulhi64")


@pytest.fixture(autouse=True)
def _kernels_for_small_programs(monkeypatch):
    monkeypatch.setattr(fusion, "MIN_KERNEL_SIZE", 0)


def _floats(lo, hi, log=False):
    """N floats in [lo, hi], log-uniformly spread when `log` (float64; cast later)."""
    if log:
        elems = st.floats(np.log(lo), np.log(hi)).map(np.exp)
    else:
        elems = st.floats(lo, hi, allow_subnormal=False)
    return hnp.arrays(np.float64, N, elements=elems)


def _with_edges(drawn, edges, dtype):
    return np.concatenate([drawn, np.asarray(edges, np.float64)]).astype(dtype)


def _run(f, *args):
    """f jitted on tier 1 and eagerly (scipy impls); the tier-1 source must call no
    special-function impl, and every helper named in `f`'s kernels must be one of ours."""
    x64 = any(np.asarray(a).dtype.itemsize == 8 for a in args)
    with jb.enable_x64(x64), jb.config_context(jumba_compile="eager"):
        jf = jb.jit(f)
        got = jf(*args)
        text = jf.lower(*args).as_text()
        want = f(*args)
    assert "# Tier 1 (numba kernels)" in text, text
    orchestrator = text.split("# Tier 1 (numba kernels)")[1].split("# kernel_0")[0]
    called = set(re.findall(r"= (\w+)_\d+\(", orchestrator))  # impls run between kernels
    assert not called & {"igamma", "igammac", "igamma_grad_a", "regularized_incomplete_beta",
                         "bessel_i0e", "bessel_i1e", "zeta", "polygamma", "ndtri",
                         "erf_inv", "mulhi"}, orchestrator
    assert set(re.findall(r"_kh\.(\w+)\(", text)) & set(_HELPERS), text
    return ({k: np.asarray(v) for k, v in got.items()},
            {k: np.asarray(v) for k, v in want.items()})


def _ordered(x):
    i = x.view(np.int32 if x.dtype.itemsize == 4 else np.int64).astype(np.int64)
    return np.where(i < 0, -(i & np.iinfo(np.int64).max), i)


def _assert_close(name, got, want, rtol64, ulp32=2, atol=0.0):
    """float32: within `ulp32` ulp (both round a float64 result); float64: relative
    `rtol64`; either: or within `atol` (at least the smallest normal number: scipy flushes
    some subnormal results to zero). nan where the impl gives nan, infinities equal."""
    assert got.dtype == want.dtype and got.shape == want.shape, name
    atol = max(atol, np.finfo(want.dtype).tiny)
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(got.astype(np.float64) - want)
        if want.dtype == np.float32:
            ok = np.abs(_ordered(got) - _ordered(want)) <= ulp32
        else:
            ok = err <= rtol64 * np.abs(want)
    bad = ~(same | (ok & np.isfinite(got) & np.isfinite(want)) | (err <= atol))
    assert not bad.any(), (f"{name}: {bad.sum()} bad of {got.size}: got {got[bad][:4]}, "
                           f"want {want[bad][:4]}")


# ---------------------------------------------------------------------------------------
# Incomplete gamma: P, Q, dP/da

_GAMMA_EDGES = ([0.0, 0.0, 1.0, 2.0, 3.0, -1.0, 1.0, np.nan, 1.0, np.inf, 2.5, 0.5],
                [0.0, 1.0, 0.0, np.inf, -1.0, 1.0, np.nan, 1.0, 1e-30, 2.0, 700.0, 1e-3])


def _gamma_family(a, x):
    return {"igamma": lax.igamma(a, x), "igammac": lax.igammac(a, x),
            "igamma_grad_a": lax.igamma_grad_a(a, x)}


@DTYPES
@_SETTINGS
@given(a=_floats(0.01, 150.0, log=True), ratio=_floats(1e-3, 4.0, log=True))
def test_incomplete_gamma_family(dtype, a, ratio):
    x = a * ratio  # around a, where the regime switch and most of the mass are
    x[: N // 4] = ratio[: N // 4]  # and below 10, where the series meets small a
    got, want = _run(_gamma_family, _with_edges(a, _GAMMA_EDGES[0], dtype),
                     _with_edges(x, _GAMMA_EDGES[1], dtype))
    _assert_close("igamma", got["igamma"], want["igamma"], 1e-11)
    _assert_close("igammac", got["igammac"], want["igammac"], 1e-11)
    # The impl sums the lower series for dP/da even where P is close to 1 and the terms
    # cancel: there it is off by ~1e-15 absolute (the kernel follows XLA's continued fraction).
    _assert_close("igamma_grad_a", got["igamma_grad_a"], want["igamma_grad_a"], 1e-10,
                  ulp32=4, atol=1e-13)


@_SETTINGS
@given(a=_floats(0.05, 200.0, log=True), ratio=_floats(0.05, 5.0, log=True))
def test_igamma_grad_a_is_the_derivative_of_igamma(a, ratio):
    # The compiled dP/da against central differences of the compiled P (float64).
    x = a * ratio
    h = 1e-5 * a

    def f(a, h, x):
        return {"d": lax.igamma_grad_a(a, x),
                "fd": (lax.igamma(a + h, x) - lax.igamma(a - h, x)) / (2 * h)}

    got, _ = _run(f, a, h, x)
    np.testing.assert_allclose(got["d"], got["fd"], rtol=1e-6, atol=1e-10)


def test_incomplete_gamma_kernels_against_mpmath():
    # Where the impls themselves are approximations (scipy's P in the far tail; dP/da
    # where P is near 1), the compiled family (the float64 program above: its kernel is
    # cached) against 30-digit values.
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 30
    points = [(0.5, 0.3), (2.0, 5.0), (10.0, 8.0), (50.0, 60.0), (100.0, 100.0),
              (172.3, 305.4), (5.0, 30.0), (0.01, 0.5), (400.0, 410.0), (25.6, 0.003)]
    a, x = (np.array(v) for v in zip(*points))
    got, _ = _run(_gamma_family, a, x)
    for i, (ai, xi) in enumerate(points):
        p = float(mp.gammainc(ai, 0, xi, regularized=True))
        q = float(mp.gammainc(ai, xi, mp.inf, regularized=True))
        d = float(mp.diff(lambda s, xi=xi: mp.gammainc(s, 0, xi, regularized=True), ai))
        assert got["igamma"][i] == pytest.approx(p, rel=1e-12), (ai, xi)
        assert got["igammac"][i] == pytest.approx(q, rel=1e-12), (ai, xi)
        assert got["igamma_grad_a"][i] == pytest.approx(d, rel=1e-10), (ai, xi)


# ---------------------------------------------------------------------------------------
# Incomplete beta

_BETA_EDGES = ([0.0, 1.0, 0.0, 1.0, 1.0, -1.0, 1.0, np.inf, 1.0, 2.0, np.nan, 0.5],
               [1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, np.inf, 3.0, 1.0, 0.5],
               [0.5, 0.5, 0.5, 0.0, 1.0, 0.5, 1.5, 0.5, 0.5, -0.1, 0.5, 1e-300])


@DTYPES
@_SETTINGS
@given(a=_floats(0.01, 300.0, log=True), b=_floats(0.01, 300.0, log=True),
       x=_floats(0.0, 1.0))
def test_betainc(dtype, a, b, x):
    a, b, x = (_with_edges(v, e, dtype) for v, e in zip((a, b, x), _BETA_EDGES))
    # Two equations (a one-equation group runs on NumPy): I_x(a, b) and I_(1-x)(b, a).
    got, want = _run(lambda a, b, x: {"betainc": lax.betainc(a, b, x),
                                      "mirrored": lax.betainc(b, a, 1 - x)}, a, b, x)
    # SciPy flushes some tiny results to 0 that are normal numbers: I_0.0341(230.4, 26.3)
    # is 1.846e-304 (mpmath at 50 digits, and the kernel), SciPy gives 0.
    _assert_close("betainc", got["betainc"], want["betainc"], 1e-11, atol=1e-300)
    _assert_close("mirrored", got["mirrored"], want["mirrored"], 1e-11, atol=1e-300)


# ---------------------------------------------------------------------------------------
# Bessel i0e / i1e, ndtri, erf_inv, zeta and polygamma in one program

_ONE_ARG_EDGES = [0.0, -0.0, 8.0, -8.0, np.inf, -np.inf, np.nan, 1e-300, 700.0, -1e5]
_QUANTILE_EDGES = [0.0, 1.0, 0.5, -0.1, 1.1, np.nan, 1e-300, 1e-20, 1 - 1e-16, 0.02425]
_ZETA_EDGES = ([1.0, 0.5, 2.0, 2.0, 2.0, 2.5, 2.0, np.nan, 3.0, 2.0],
               [1.0, 1.0, 0.0, -1.0, -1.5, -1.5, np.inf, 1.0, 1e9, 1e-6])
_POLYGAMMA_EDGES = ([0.0, 1.0, 2.0, 3.0, 0.5, -1.0, np.nan, 1.0, 0.0, 4.0],
                    [0.0, 0.0, -1.0, -1.5, 2.0, 2.0, 1.0, np.inf, -2.5, 1e-3])


def _misc_family(x, p, y, s, q, m, z):
    return {"i0e": lax.bessel_i0e(x), "i1e": lax.bessel_i1e(x), "ndtri": jsp.ndtri(p),
            "erf_inv": lax.erf_inv(y), "zeta": lax.zeta(s, q), "polygamma": lax.polygamma(m, z)}


@DTYPES
@_SETTINGS
@given(x=_floats(-60.0, 60.0), p=_floats(1e-30, 1.0, log=True), y=_floats(-1.0, 1.0),
       s=_floats(1.001, 40.0, log=True), q=_floats(1e-3, 1e3, log=True),
       m=hnp.arrays(np.float64, N, elements=st.integers(0, 6).map(float)),
       z=_floats(-20.0, 40.0))
def test_bessel_quantile_zeta_polygamma(dtype, x, p, y, s, q, m, z):
    p[::2] = 1 - p[::2]  # both tails of the quantile
    args = [_with_edges(x, _ONE_ARG_EDGES, dtype), _with_edges(p, _QUANTILE_EDGES, dtype),
            _with_edges(y, [-1.0, 1.0, 0.0, -0.0, 2.0, np.nan, 1e-300, 0.9515, -0.9515,
                            1 - 2.0**-52], dtype),
            _with_edges(s, _ZETA_EDGES[0], dtype), _with_edges(q, _ZETA_EDGES[1], dtype),
            _with_edges(m, _POLYGAMMA_EDGES[0], dtype),
            _with_edges(z, _POLYGAMMA_EDGES[1], dtype)]
    got, want = _run(_misc_family, *args)
    for name in ("i0e", "i1e", "ndtri", "erf_inv", "zeta"):
        _assert_close(name, got[name], want[name], 1e-14)
    # digamma's helper (polygamma's order 0) is a few ulp from scipy's; order >= 1 goes
    # through zeta, whose relative error grows with m near the poles.
    _assert_close("polygamma", got["polygamma"], want["polygamma"], 1e-12, ulp32=4,
                  atol=1e-12 if dtype == _F64 else 1e-6)


# ---------------------------------------------------------------------------------------
# 64-bit mulhi


@pytest.mark.parametrize("dtype", [np.int64, np.uint64])
@_SETTINGS
@given(data=st.data())
def test_mulhi_64_bit(dtype, data):
    info = np.iinfo(dtype)
    ints = hnp.arrays(dtype, N, elements=st.integers(int(info.min), int(info.max)))
    x, y = data.draw(ints), data.draw(ints)
    edges = [0, 1, info.max, info.min, info.max, -1 if info.min else 2]
    x = np.concatenate([x, np.asarray(edges, dtype)])
    y = np.concatenate([y, np.asarray(edges[::-1], dtype)])
    # Both orders: one group of two equations (a one-equation group runs on NumPy).
    got, want = _run(lambda x, y: {"mulhi": lax.mulhi(x, y), "yx": lax.mulhi(y, x)}, x, y)
    np.testing.assert_array_equal(got["mulhi"], want["mulhi"])
    np.testing.assert_array_equal(got["yx"], want["mulhi"])
    exact = (x.astype(object) * y.astype(object)) >> 64  # Python's unbounded integers
    np.testing.assert_array_equal(got["mulhi"].astype(object), exact)


# ---------------------------------------------------------------------------------------
# Inside a compiled loop


@DTYPES
def test_special_functions_in_a_compiled_fori_loop(dtype):
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 20.0, 64).astype(dtype)
    x = rng.uniform(0.0, 30.0, 64).astype(dtype)

    def f(a, x):
        def body(i, acc):
            t = lax.convert_element_type(i, a.dtype)
            b = a + t
            return acc + lax.igamma(b, x) + lax.igammac(b, x) * lax.bessel_i0e(x - t) \
                + lax.betainc(b, a, x / (x + b)) + lax.zeta(b + 1, x + 1) \
                + jsp.ndtri(x / (x + b + 1))

        return {"acc": lax.fori_loop(0, 5, body, jb.numpy.zeros_like(a))}

    got, want = _run(f, a, x)
    with jb.enable_x64(dtype == _F64), jb.config_context(jumba_compile="eager"):
        text = jb.jit(f).lower(a, x).as_text()
    assert text.count("# loop_") == 1, text
    # float32: five rounded terms summed, each of size up to ~10, in either order.
    tol = 1e-5 if dtype == _F32 else 1e-11
    np.testing.assert_allclose(got["acc"], want["acc"], rtol=tol,
                               atol=tol * np.abs(want["acc"]).max())
