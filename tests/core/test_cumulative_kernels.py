"""Cumulative scans (cumsum, cumprod, cummax, cummin, cumlogsumexp, and the linear
recurrence their derivatives use) compiled into numba kernels agree with their NumPy impls
(tier 0), fuse with their producers and consumers, and leave no NumPy accumulate in tier-1
programs; derivatives computed by jitted programs agree with finite differences of the
jitted function.

Compiling a kernel costs ~0.5 s, so each drawn case is one program holding every scan of
one operand along one axis in one direction: they share one kernel (checked).
"""

from __future__ import annotations

import re
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba as jb
import jumba.numpy as jnp
from jumba import lax
from jumba._src.compiler import fusion, passes
from jumba._src.compiler.tier1 import Tier1Executable
from jumba._src.lax import cumulative
from jumba._src.runtime import blas

pytestmark = pytest.mark.numba

SCANS = {"cumsum": lax.cumsum, "cumprod": lax.cumprod, "cummax": lax.cummax,
         "cummin": lax.cummin, "cumlogsumexp": lax.cumlogsumexp}


@pytest.fixture(autouse=True)
def _kernels_for_small_programs(monkeypatch):
    monkeypatch.setattr(fusion, "MIN_KERNEL_SIZE", 0)


def _every_scan(axis, reverse):
    def f(x):
        # A producer chain (it fuses into the scans' loop) that keeps integers integers.
        y = x * 3 + 1 if x.dtype.kind == "i" else x * 1.5 - 0.25
        outs = {name: fn(y, axis, reverse) for name, fn in SCANS.items()
                if name != "cumlogsumexp" or x.dtype.kind == "f"}
        outs["consumer"] = outs["cumsum"] - y  # reads the running sum in the same loop
        outs["linear_recurrence"] = cumulative.linear_recurrence(y - 1, y, axis, reverse)
        return outs

    return f


@st.composite
def _cases(draw):
    dtype = np.dtype(draw(st.sampled_from(["float32", "float64", "int32"])))
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=3)))
    axis = draw(st.integers(0, len(shape) - 1))
    reverse = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if dtype.kind == "i":
        # The full range: sums and products wrap around as NumPy's do.
        big = draw(st.booleans())
        lim = 2**31 - 1 if big else 4
        x = rng.integers(-lim, lim, shape, endpoint=True).astype(dtype)
    else:
        x = rng.uniform(-3, 3, shape).astype(dtype)
        if x.size and draw(st.booleans()):  # nan and infinities at drawn places
            flat = x.reshape(-1)
            for v in draw(st.lists(st.sampled_from([np.nan, np.inf, -np.inf]), max_size=3)):
                flat[draw(st.integers(0, flat.size - 1))] = v
    split = draw(st.booleans())  # also run the kernel split over threads along axis 0
    return x, axis, reverse, split


def _same_bits(got, want, name):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape, name
    if want.dtype.kind == "f":
        same = (got == want) | (np.isnan(got) & np.isnan(want))
        assert same.all(), f"{name}: got {got[~same][:4]}, want {want[~same][:4]}"
        assert (np.signbit(got) == np.signbit(want))[~np.isnan(want)].all(), name
    else:
        np.testing.assert_array_equal(got, want, err_msg=name)


def _ulps(got, want):
    """ulp distances of two float arrays (nan against nan, inf against inf: 0)."""
    got, want = np.asarray(got), np.asarray(want)
    equal = (got == want) | (np.isnan(got) & np.isnan(want))
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(got.astype(np.float64) - want.astype(np.float64))
        ulp = np.spacing(np.abs(want)).astype(np.float64)
        return np.where(equal, 0.0, err / ulp)


@settings(max_examples=15, deadline=None)
@given(_cases())
def test_scans_in_one_kernel_agree_with_the_numpy_impls(case):
    x, axis, reverse, split = case
    f = _every_scan(axis, reverse)
    with jb.config_context(jax_enable_x64=True):  # float64 stays float64
        want = f(x)
        closed = passes.optimize(jb.make_jaxpr(f)(x))
    with mock.patch.object(blas, "PARALLEL_WORK", 1 if split else blas.PARALLEL_WORK):
        ex = Tier1Executable(closed, "f")
        outs = ex([x])
    # Every scan, its producers and its consumer in one kernel; nothing left to NumPy.
    assert ex.num_kernels == 1 and not re.search(r"= (cum|linear)\w+_\d+\(", ex.source), \
        ex.source
    got = dict(zip(sorted(want), outs))  # outputs are the flattened dict, in key order
    for name, w in want.items():
        if name == "cumlogsumexp":
            # logaddexp: a few roundings, as NumPy's; numba's may differ by an ulp or two.
            assert np.asarray(got[name]).dtype == np.asarray(w).dtype
            assert _ulps(got[name], w).max(initial=0) <= 4, name
        else:
            # Sums, products and extrema: the same operations in the same order and dtype.
            _same_bits(got[name], w, name)


@pytest.mark.parametrize("name", sorted(SCANS))
def test_jit_leaves_no_numpy_accumulate_at_the_default_sizes(name, monkeypatch):
    monkeypatch.undo()  # the default MIN_KERNEL_SIZE: a lone 64x64 scan is a kernel
    x = np.random.default_rng(3).uniform(-1, 1, (64, 64)).astype(np.float32)
    fn = SCANS[name]

    def f(x):
        return fn(x, 0, True), fn(x, 1, False)

    with jb.config_context(jumba_compile="eager"):
        jf = jb.jit(f)
        text = jf.lower(x).as_text()
        outs = jf(x)
    assert "# Tier 1" in text
    code = text.split("# kernel_0\n")[0]  # the orchestrating function
    assert not re.search(rf"= {name}_\d+\(", code), code
    assert code.count(f"{name} over [64, 64] along axis") == 2, code
    for o, w in zip(outs, f(x)):
        assert _ulps(o, w).max() <= (4 if name == "cumlogsumexp" else 0)


def _check_grads_tier1(f, x, t, ct, eps, tol):
    """check_grads' two checks with every program jitted at tier 1: the JVP against central
    differences of jit(f), and the VJP against the JVP (<vjp(ct), t> == <ct, jvp(t)>).
    Returns the derivative programs' text."""
    jf = jb.jit(f)
    jvp = jb.jit(lambda x, t: jb.jvp(f, (x,), (t,))[1])
    vjp = jb.jit(lambda x, ct: jb.vjp(f, x)[1](ct)[0])
    numeric = (np.asarray(jf(x + eps * t)) - np.asarray(jf(x - eps * t))) / (2 * eps)
    analytic = np.asarray(jvp(x, t))
    np.testing.assert_allclose(analytic, numeric, rtol=tol, atol=tol)
    lhs = float(np.vdot(np.asarray(vjp(x, ct)), t))
    rhs = float(np.vdot(ct, analytic))
    assert abs(lhs - rhs) <= tol * max(1.0, abs(lhs), abs(rhs))
    return jvp.lower(x, t).as_text() + vjp.lower(x, ct).as_text()


@pytest.mark.parametrize("name,axis,reverse", [
    ("cumsum", 0, False), ("cumsum", 1, True), ("cumprod", 1, False),
    ("cumprod", 0, True), ("cumlogsumexp", 1, True), ("cumlogsumexp", 0, False)])
def test_derivatives_of_jitted_scans(name, axis, reverse):
    rng = np.random.default_rng(7)
    x, t, ct = (rng.uniform(0.3, 0.9, (6, 5)) for _ in range(3))
    fn = SCANS[name]

    def f(x):
        return jnp.sin(fn(x * x + 0.25, axis, reverse))

    with jb.config_context(jax_enable_x64=True, jumba_compile="eager"):
        text = _check_grads_tier1(f, x, t, ct, 1e-6, 1e-6)
        # The JVP and VJP programs compute the scan in a kernel, and the transposed cumsum
        # (a cumsum the other way) and linear recurrences too.
        assert re.search(rf"# kernel_\d+: .*\b{name}\b.* along axis {axis}", text), text
        assert not re.search(r"= (cum|linear)\w+_\d+\(", text), text
        if name == "cumsum":
            other = "" if reverse else " from the end"
            assert re.search(rf"# kernel_\d+: .*\bcumsum\b.* along axis {axis}{other}$", text,
                             re.M), text
        # The same gradient as tier 0.
        g = jb.jit(jb.grad(lambda x: jnp.vdot(ct, f(x))))(x)
    with jb.config_context(jax_enable_x64=True):
        want = jb.grad(lambda x: jnp.vdot(ct, f(x)))(x)
    np.testing.assert_allclose(np.asarray(g), np.asarray(want), rtol=1e-12, atol=1e-12)


def test_a_scan_in_a_loop_body_compiles_with_the_loop():
    def f(c, xs):
        def body(c, x):
            y = jnp.cumsum(x * c, axis=1) + lax.cummax(x, 0, reverse=True)
            h = cumulative.linear_recurrence(x - 0.5, y, 1, reverse=True)
            return c + jnp.sum(y) * 1e-3, lax.cumlogsumexp(h, 0)

        return lax.scan(body, c, xs)

    c = np.float32(0.5)
    xs = np.random.default_rng(5).uniform(-1, 1, (7, 3, 4)).astype(np.float32)
    with jb.config_context(jumba_compile="eager"):
        jf = jb.jit(f)
        text = jf.lower(c, xs).as_text()
        got = jf(c, xs)
    assert "compiled whole" in text, text
    assert not re.search(r"= (scan|cum\w+|linear\w+)_\d+\(", text), text
    for g, w in zip(jb.tree_util.tree_leaves(got), jb.tree_util.tree_leaves(f(c, xs))):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-6, atol=2e-6)


def test_partition_puts_scans_of_one_axis_and_direction_in_one_group():
    def f(x):
        y = x * 2.0
        a, b = lax.cumsum(y, 0), lax.cummax(y, 0)  # one loop nest
        c = a + b  # a consumer: reads both running values in that loop
        d = lax.cumsum(y, 0, reverse=True)  # the other direction: another kernel
        return c, d, jnp.sum(c, axis=1)  # a reduction has its own nest: not in the scans'

    closed = passes.optimize(jb.make_jaxpr(f)(np.ones((4, 3), np.float32)))
    groups = [[e.primitive.name for e in n.eqns] for n in fusion.partition(closed.jaxpr)
              if isinstance(n, fusion.FusedGroup)]
    assert sorted(groups) == [["cumsum"], ["mul", "cumsum", "cummax", "add"]], groups


def test_cumlogsumexp_kernel_is_stable_where_exp_overflows():
    x = np.array([[1000.0, 1000.5, -1000.0, 88.0, 89.0, -np.inf],
                  [-np.inf, -np.inf, 3.0, np.inf, 1.0, np.nan]], np.float32)
    f = lambda x: lax.cumlogsumexp(x, 1)  # noqa: E731
    closed = passes.optimize(jb.make_jaxpr(f)(x))
    ex = Tier1Executable(closed, "f")
    assert ex.num_kernels == 1
    (got,) = ex([x])
    want = np.asarray(f(x))
    assert np.isfinite(got[0, :5]).all() and got[0, 5] == got[0, 4]
    assert got[1, 0] == got[1, 1] == -np.inf and got[1, 3] == np.inf and np.isnan(got[1, 5])
    assert _ulps(got, want).max() <= 4
