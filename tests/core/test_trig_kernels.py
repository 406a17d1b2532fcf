"""float32 sin/cos/tan of arrays in generated kernels (compiler/kernel_helpers.py): the
helpers against a float64 reference and NumPy over the float32 range (dense grids,
arguments near multiples of pi/2, huge arguments, +-inf, nan, -0.0); fused kernels and
compiled loops (tier 1) against tier 0; the CartPole rollout of benchmarks/bench_loops.py
on tier 1 against a plain-Python reference (one system: scalar code with libm) and
vmapped against tier 0. Division by a constant under jit rounds as XLA does (x * (1/c)),
in loop bodies too.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jumba as jb
import jumba.numpy as jnp
from jumba import lax
from tests.core.loop_workloads import CARTPOLE_POLICY, CARTPOLE_THETA_LIMIT, cartpole_step
from tests.core.tier_runs import run_tier0, run_tier1

F32 = np.float32
numba_only = pytest.mark.numba


@pytest.fixture(autouse=True, scope="module")
def _kernels_for_small_programs():
    from jumba._src.compiler import fusion

    old, fusion.MIN_KERNEL_SIZE = fusion.MIN_KERNEL_SIZE, 0
    yield
    fusion.MIN_KERNEL_SIZE = old


def _ulps(got, ref64):
    """|got - ref| in units of the float32 spacing at ref (ref in float64)."""
    ref32 = ref64.astype(F32)
    return np.abs(got.astype(np.float64) - ref64) / np.spacing(np.abs(ref32)).astype(
        np.float64)


@pytest.fixture(scope="module")
def helpers():
    import numba

    from jumba._src.compiler import kernel_helpers as kh

    @numba.njit(error_model="numpy")
    def all_three(x, s, c, t):
        for i in range(x.size):
            s[i] = kh.sin_f32(x[i])
            c[i] = kh.cos_f32(x[i])
            t[i] = kh.tan_f32(x[i])

    def run(x):
        x = np.ascontiguousarray(x, F32)
        s, c, t = (np.empty_like(x) for _ in range(3))
        all_three(x, s, c, t)
        return s, c, t

    return run


def _finite_grid():
    rng = np.random.default_rng(0)
    # Every 4099th positive float32 (all exponents, subnormals to the largest), both signs.
    bits = np.arange(0, 0x7F800000, 4099, dtype=np.uint32)
    grid = bits.view(F32)
    # Arguments near multiples of pi/2 (where the reduction cancels), up to |x| ~ 1.6e6,
    # and their neighbours.
    k = np.concatenate([np.arange(1, 20000), rng.integers(1, 2**20, 20000)])
    near = (k * (np.pi / 2)).astype(F32)
    near = np.concatenate([near, np.nextafter(near, F32(np.inf)),
                           np.nextafter(near, F32(0))])
    dense = rng.uniform(-8 * np.pi, 8 * np.pi, 100_000).astype(F32)
    big = (2.0 ** rng.uniform(19, 128, 50_000)).astype(F32)
    x = np.concatenate([grid, near, dense, big])
    x = x[np.isfinite(x)]
    return np.concatenate([x, -x])


@numba_only
def test_helpers_within_one_ulp_of_float64_and_two_of_numpy(helpers):
    x = _finite_grid()
    s, c, t = helpers(x)
    xd = x.astype(np.float64)
    for name, got, ref in (("sin", s, np.sin), ("cos", c, np.cos), ("tan", t, np.tan)):
        err = _ulps(got, ref(xd))
        worst = np.argmax(err)
        # float64 evaluation rounded once: essentially correctly rounded.
        assert err.max() <= 0.51, f"{name}({x[worst]!r}) = {got[worst]!r}: {err.max()} ulp"
        if name != "tan":  # (NumPy's float32 tan is itself ~4 ulp off)
            assert _ulps(got, ref(x).astype(np.float64)).max() <= 2, name


@numba_only
def test_helpers_special_values(helpers):
    x = np.array([np.inf, -np.inf, np.nan, -np.nan, 0.0, -0.0, 1e-45, -1e-45,
                  1.17549435e-38, 3.4028235e38, -3.4028235e38], F32)
    s, c, t = helpers(x)
    assert np.isnan(s[:4]).all() and np.isnan(c[:4]).all() and np.isnan(t[:4]).all()
    for got in (s, t):  # odd functions keep the sign of zero and tiny arguments
        assert got[4] == 0 and not np.signbit(got[4])
        assert got[5] == 0 and np.signbit(got[5])
        np.testing.assert_array_equal(got[6:9], x[6:9])
    np.testing.assert_array_equal(c[4:9], np.ones(5, F32))
    xd = x[9:].astype(np.float64)
    for got, ref in ((s, np.sin), (c, np.cos), (t, np.tan)):
        assert _ulps(got[9:], ref(xd)).max() <= 0.51


def test_bits_of_two_over_pi_match_mpmath():
    # The Payne-Hanek reduction shifts its 96-bit windows out of these five words (64
    # zero bits, then 2/pi); the accuracy tests above cover every exponent that uses them.
    mpmath = pytest.importorskip("mpmath")
    from jumba._src.compiler import kernel_helpers as kh

    words = (kh._TOPI_W0, kh._TOPI_W1, kh._TOPI_W2, kh._TOPI_W3, kh._TOPI_W4)
    got = 0
    for w in words:
        got = got << 64 | int(w)
    with mpmath.workprec(400):
        want = int(mpmath.floor(mpmath.ldexp(2 / mpmath.pi, 256)))
    assert got == want


_tier0, _tier1 = run_tier0, run_tier1


def _trig_family(x):
    # One fused kernel: sin and cos of one input share their reduction.
    return jnp.sin(x), jnp.cos(x), jnp.tan(x), jnp.sin(x) * jnp.cos(x) + 1.5


_floats = hnp.arrays(F32, st.integers(2, 300),
                     elements=st.floats(width=32, allow_nan=True, allow_infinity=True))


@numba_only
@settings(max_examples=25, deadline=None)
@given(_floats)
def test_fused_kernel_agrees_with_tier0(x):
    (s, c, t, p), text = _tier1(_trig_family, x)
    assert "_kh.sin_f32" in text and "_kh.cos_f32" in text and "_kh.tan_f32" in text
    s0, c0, t0, p0 = _tier0(_trig_family, x)
    xd = x.astype(np.float64)
    for got, want, ref in ((s, s0, np.sin), (c, c0, np.cos), (t, t0, np.tan)):
        got, want = np.asarray(got), np.asarray(want)
        assert got.dtype == F32
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        fin = np.isfinite(x)
        with np.errstate(invalid="ignore"):
            assert (_ulps(got[fin], ref(xd[fin])) <= 0.51).all()
    np.testing.assert_allclose(np.asarray(p), np.asarray(p0), rtol=5e-7, atol=5e-7)


@numba_only
def test_float64_keeps_libm():
    x = np.linspace(-1e3, 1e3, 501)
    with jb.enable_x64():
        (s, c, _, _), text = _tier1(_trig_family, x)
    assert "_kh.sin_f32" not in text and "np.sin(" in text
    np.testing.assert_array_equal(np.asarray(s), np.sin(x))
    np.testing.assert_array_equal(np.asarray(c), np.cos(x))


# ---------------------------------------------------------------------------------------
# CartPole (benchmarks/bench_loops.py, workloads (a) and (b))

_W, _LIMIT = CARTPOLE_POLICY, CARTPOLE_THETA_LIMIT


def _cartpole_reference(state, steps):
    """The same step in plain Python on float32 scalars, rounding as XLA does: a division
    by a constant is a product with its float32 reciprocal; sin and cos correctly rounded
    (float64, rounded once)."""
    x, x_dot, theta, theta_dot = (F32(v) for v in state)
    inv = F32(1) / F32(1.1)
    rewards = []
    for _ in range(steps):
        a = _W[0] * x + _W[1] * x_dot + _W[2] * theta + _W[3] * theta_dot
        force = F32(10.0) if a > 0 else F32(-10.0)
        cos, sin = F32(math.cos(theta)), F32(math.sin(theta))
        temp = (force + F32(0.05) * (theta_dot * theta_dot) * sin) * inv
        theta_acc = (F32(9.8) * sin - cos * temp) / (
            F32(0.5) * (F32(4.0 / 3.0) - F32(0.1) * (cos * cos) * inv))
        x_acc = temp - F32(0.05) * theta_acc * cos * inv
        x, x_dot, theta, theta_dot = (x + F32(0.02) * x_dot, x_dot + F32(0.02) * x_acc,
                                      theta + F32(0.02) * theta_dot,
                                      theta_dot + F32(0.02) * theta_acc)
        done = abs(x) > F32(2.4) or abs(theta) > F32(_LIMIT)
        if done:
            x = x_dot = theta = theta_dot = F32(0.01)
        rewards.append(F32(0.0) if done else F32(1.0))
    return (x, x_dot, theta, theta_dot), np.array(rewards, F32)


@numba_only
@settings(max_examples=4, deadline=None)
@given(st.tuples(*[st.floats(-0.0625, 0.0625, width=32)] * 4), st.integers(50, 400))
def test_cartpole_scan_on_tier1_matches_python_reference(state, steps):
    def rollout(s):
        return lax.scan(cartpole_step, s, None, length=steps)

    s0 = tuple(F32(v) for v in state)
    (final, rewards), text = _tier1(rollout, s0)
    # One system: scalar code, libm's sinf/cosf (LLVM merges them into one sincosf call).
    assert text.count("# loop_") == 1 and "np.sin(" in text and "_kh.sin_f32" not in text
    # The divisions by constants became products (XLA's rounding); one division is left.
    assert text.count(" / ") == 1, text
    ref_final, ref_rewards = _cartpole_reference(s0, steps)
    np.testing.assert_array_equal(np.asarray(rewards), ref_rewards)
    # (libm's sinf is within an ulp of the reference's correctly rounded sin)
    np.testing.assert_allclose(np.array([np.asarray(v) for v in final]),
                               np.array(ref_final), rtol=1e-4, atol=1e-6)


@numba_only
def test_vmapped_cartpole_on_tier1_agrees_with_tier0():
    rng = np.random.default_rng(1)
    states = tuple(rng.uniform(-0.05, 0.05, 64).astype(F32) for _ in range(4))

    def rollout(s):
        return lax.scan(cartpole_step, s, None, length=60)

    f = jb.vmap(rollout)
    (final, rewards), text = _tier1(f, states)
    # 64 systems: the vectorisable helpers.
    assert text.count("# loop_") == 1 and "_kh.sin_f32" in text and "_kh.cos_f32" in text
    (final0, rewards0) = _tier0(f, states)
    # Tier 0 has NumPy's float32 sin (within 2 ulp of these): trajectories agree closely.
    np.testing.assert_array_equal(np.asarray(rewards), np.asarray(rewards0))
    for a, b in zip(final, final0):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------
# x / c -> x * (1/c) (compiler/passes.py), tier 0: no numba needed


@pytest.mark.parametrize("c", [1.1, 3.0, 0.25, -7.5, 1e-30])
def test_division_by_a_constant_rounds_as_xla_under_jit(c):
    x = np.random.default_rng(2).standard_normal(1000).astype(F32)
    recip = F32(1) / F32(c)
    want = x * recip
    np.testing.assert_array_equal(np.asarray(_tier0(lambda x: x / c, x)), want)

    def body(carry, _):
        return carry / c, carry / c

    final, ys = _tier0(lambda x: lax.scan(body, x, None, length=2), x)
    np.testing.assert_array_equal(np.asarray(ys)[0], want)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(np.asarray(final), want * recip)
    # Eager division stays exact (NumPy's).
    np.testing.assert_array_equal(np.asarray(jnp.asarray(x) / c), x / F32(c))


@pytest.mark.parametrize("c", [0.0, -0.0, np.inf, 1e-45])
def test_division_by_a_constant_without_a_normal_reciprocal_stays_a_division(c):
    x = np.array([1.0, -2.0, 0.0, np.inf], F32)
    jaxpr = jb.make_jaxpr(lambda x: x / c)(x)
    from jumba._src.compiler import passes

    opt = passes.optimize(jaxpr)
    assert [e.primitive.name for e in opt.eqns] == ["div"]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        np.testing.assert_array_equal(np.asarray(_tier0(lambda x: x / c, x)), x / F32(c))


def test_integer_division_by_a_constant_is_untouched():
    x = np.arange(-10, 10, dtype=np.int32)
    np.testing.assert_array_equal(np.asarray(_tier0(lambda x: x // 3, x)), x // 3)
    from jumba._src.compiler import passes

    opt = passes.optimize(jb.make_jaxpr(lambda x: lax.div(x, 3))(x))
    assert "mul" not in [e.primitive.name for e in opt.eqns]
