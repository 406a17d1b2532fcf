"""float32 exp and tanh in kernels are vectorisable helpers (`kernel_helpers.exp_f32`,
`tanh_f32`) within 1 ulp (exp), 2 (logistic) and 6 (tanh: a rational approximation, as
XLA's, whose CPU tanh is within 5) of the correctly rounded result over the whole float32
range (overflow, gradual underflow, signed zeros, inf, nan), and tier-1 loop bodies now fuse
float32 tanh/exp chains instead of leaving them to NumPy (`loop_tier1.libm_group`).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jumba as jb
import jumba.numpy as jnp
from jumba import lax
from jumba._src.compiler import fusion, loop_tier1, passes
from jumba._src.compiler.tier1 import Tier1Executable

pytestmark = pytest.mark.numba

SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 88.72, 88.73, 89.0, -87.3, -103.2, -103.9,
           -104.5, 1e-30, -1e-30, 1e-45, 0.625, -0.625, 0.62499994, 9.0, -9.1, 20.0, 1.0]


def _family(x):
    return [lax.exp(x), lax.tanh(x), lax.logistic(x)]


def _references(x):
    # Correctly rounded float32 results (float64 evaluation, then one rounding).
    with np.errstate(over="ignore", invalid="ignore"):  # (nan payloads cast with a warning)
        x64 = x.astype(np.float64)
        return [np.exp(x64).astype(np.float32), np.tanh(x64).astype(np.float32),
                (1 / (1 + np.exp(-x64))).astype(np.float32)]


def _ulps(got, want):
    def ordered(v):
        i = v.view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)

    both_nan = np.isnan(got) & np.isnan(want)
    return np.where(both_nan, 0, np.abs(ordered(got) - ordered(want)))


_EXE = {}


def _kernel_program(n):
    """One tier-1 program (one fused kernel) of the family over float32[n]."""
    if n not in _EXE:
        x = np.zeros(n, np.float32)
        closed = passes.optimize(jb.make_jaxpr(_family)(x))
        nodes = fusion.partition(closed.jaxpr)
        assert [type(nd) for nd in nodes] == [fusion.FusedGroup], "not one kernel"
        exe = Tier1Executable(closed, "family")
        src = "\n".join(exe.kernel_sources)
        assert "_kh.exp_f32(np.float32(" in src and "_kh.tanh_f32(np.float32(" in src
        assert "np.exp(" not in src and "np.tanh(" not in src  # no libm call per element
        _EXE[n] = exe
    return _EXE[n]


@pytest.fixture(autouse=True)
def _kernels_for_small_programs(monkeypatch):
    monkeypatch.setattr(fusion, "MIN_KERNEL_SIZE", 0)


def _check(x):
    outs = _kernel_program(x.size)([x])
    for name, got, want, tol in zip(["exp", "tanh", "logistic"], outs, _references(x),
                                    [1, 6, 2]):
        assert got.dtype == np.float32, name
        d = _ulps(np.asarray(got), want)
        assert d.max() <= tol, (f"{name}: {int((d > tol).sum())} values off by more than {tol} "
                                f"ulp (worst {d.max()} at x={x[d.argmax()]!r}: got "
                                f"{got[d.argmax()]!r}, want {want[d.argmax()]!r})")
    # Signs of zero as NumPy: tanh(-0.0) = -0.0.
    z = x == 0
    assert (np.signbit(outs[1][z]) == np.signbit(x[z])).all()


def test_whole_float32_range_and_special_values():
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32)
    x = np.concatenate([np.array(SPECIAL, np.float32), bits.view(np.float32),
                        rng.uniform(-110, 95, 200_000).astype(np.float32),
                        rng.normal(0, 2, 200_000).astype(np.float32)])
    _check(x)


@given(hnp.arrays(np.float32, 64, elements=st.floats(-120, 100, width=32)))
def test_drawn_inputs(x):
    _check(x)


def test_float32_tanh_layers_fuse_in_loop_bodies_float64_stay_on_numpy():
    # A body's `add + tanh` over a large float32 array is a kernel (vectorised helper);
    # in float64 the kernel would call libm per element, so NumPy keeps it.
    def body(h, b):
        t = jnp.tanh(h + b)
        return t, 1 - t * t

    for dtype, fused in ((np.float32, True), (np.float64, False)):
        with jb.enable_x64(dtype == np.float64):
            h = np.ones((512, 64), dtype)
            b = np.ones(64, dtype)
            closed = passes.optimize(jb.make_jaxpr(body)(h, b))
            groups = [n for n in fusion.partition(closed.jaxpr)
                      if isinstance(n, fusion.FusedGroup)]
            assert groups
            assert any(loop_tier1.libm_group(g) for g in groups) is not fused, dtype


def test_a_tanh_layer_counts_as_heavy_work_and_is_split_over_the_helpers(monkeypatch):
    from jumba._src.compiler import codegen, kernels
    from jumba._src.runtime import blas

    monkeypatch.setattr(blas, "num_threads", lambda: 2)

    def program(f):
        x, b = np.ones((16384, 64), np.float32), np.ones(64, np.float32)
        closed = passes.optimize(jb.make_jaxpr(f)(x, b))
        (group,) = [n for n in fusion.partition(closed.jaxpr)
                    if isinstance(n, fusion.FusedGroup)]
        spec = kernels.kernel_spec(group)
        return spec, "\n".join(codegen._kernel_lines(spec, 0, str, str))

    spec, src = program(lambda x, b: jnp.tanh(x + b))
    assert spec.num_ops == 1 + kernels._HELPER_WORK
    assert "_run_nest(kernel_0" in src  # 1M elements of a tanh: worth a second core
    spec, src = program(lambda x, b: x * b + 1.0)
    assert spec.num_ops == 2 and "_run_nest" not in src  # two simple ops: not worth it


@pytest.mark.numba
def test_fma_helper_rounds_once():
    import numba

    from jumba._src.compiler import kernel_helpers as kh

    @numba.njit
    def f(a, b, c):
        return kh.fma(a, b, c), a * b + c

    a = np.float32(1 + 2.0**-12)  # a * a = 1 + 2^-11 + 2^-24: the 2^-24 is lost if rounded
    fused, separate = f(a, a, np.float32(-(1 + 2.0**-11)))
    assert fused == np.float32(2.0**-24) and separate == 0
    assert f(2.0**-30, 2.0**-30, 1.0)[0] == 1.0  # float64 too
