"""Every jumba.numpy elementwise and reduction function agrees between tier 1 (fused numba
kernels) and eager execution.

Each function is wrapped between identity operations (`maximum(x, x)`) so that it lands in
a fused group instead of running alone through NumPy. Inputs are fixed (one draw per
function and dtype, with a broadcasting operand): the hypothesis-driven tables in
test_numpy_*.py cover values on tier 0, this covers the kernel lowering of each function.
"""

import zlib

import numpy as np
import pytest

import jumba as jb
import jumba.numpy as jnp
from jumba._src.compiler import fusion, passes
from jumba._src.compiler.lowering import reduction_rules
from tests.core import test_numpy_elementwise as elementwise

pytestmark = pytest.mark.numba


@pytest.fixture(autouse=True)
def _kernels_for_small_programs(monkeypatch, request):
    # These tests use small arrays; by default groups that small run with NumPy.
    monkeypatch.setattr(fusion, "MIN_KERNEL_SIZE", 0)
    # Half of the cases also run their kernels split over threads (as big arrays do).
    if zlib.crc32(request.node.name.encode()) % 2:
        from jumba._src.runtime import blas

        monkeypatch.setattr(blas, "PARALLEL_WORK", 1)


def _same(x):
    return jnp.maximum(x, x)  # the identity, as a fusible operation


def _inputs(spec, dtype, rng):
    samplers = spec.samplers()
    shapes = [(3, 4)] + [(4,)] * (spec.nargs - 1)  # later operands broadcast
    return [np.asarray(s(rng, shp, dtype)) for s, shp in zip(samplers, shapes)]


def _cases(specs):
    return [pytest.param(s, np.dtype(d), id=f"{s.name}-{np.dtype(d).name}")
            for s in specs for d in s.dtypes if s.kwargs is None and s.args is None]


def _assert_tier1_if_fusible(f, arrays, text):
    closed = passes.optimize(jb.make_jaxpr(f)(*arrays))
    if len(closed.eqns) > 1 and all(fusion.is_fusible(e) or e.primitive in reduction_rules
                                    for e in closed.eqns):
        assert "# Tier 1" in text, "a fully fusible program did not reach tier 1"


def _check(f, arrays, tol):
    eager = f(*arrays)
    with jb.config_context(jumba_compile="eager"):
        jf = jb.jit(f)
        out = jf(*arrays)
        text = jf.lower(*arrays).as_text()
    for e, o in zip(jb.tree_util.tree_leaves(eager), jb.tree_util.tree_leaves(out)):
        e, o = np.asarray(e), np.asarray(o)
        assert o.dtype == e.dtype and o.shape == e.shape
        if e.dtype.kind == "f":
            np.testing.assert_allclose(o, e, rtol=tol, atol=tol, equal_nan=True)
        else:
            np.testing.assert_array_equal(o, e)
    return text


@pytest.mark.parametrize("spec,dtype", _cases([s for s in elementwise.SPECS if s.nargs]))
def test_elementwise_in_a_kernel_agrees(spec, dtype):
    arrays = _inputs(spec, dtype, np.random.default_rng(0))

    def f(*xs):
        return _same(spec.fn(*[_same(x) for x in xs]))

    text = _check(f, arrays, max(spec.tol, 2e-6) * 10)
    _assert_tier1_if_fusible(f, arrays, text)


REDUCTIONS = ["sum", "prod", "max", "min", "mean", "var", "std", "any", "all", "argmax",
              "argmin"]


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)], ids=str)
@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.int32], ids=["float32", "int32"])
def test_reduction_in_a_kernel_agrees(name, dtype, axis):
    if name in ("argmax", "argmin") and isinstance(axis, tuple):
        pytest.skip("argmax/argmin take one axis")
    x = np.random.default_rng(1).uniform(-3, 3, (5, 7)).astype(dtype)
    fn = getattr(jnp, name)
    f = lambda x: fn(_same(x), axis=axis)  # noqa: E731
    _assert_tier1_if_fusible(f, [x], _check(f, [x], 1e-5))


def test_kernels_were_really_used():
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    text = _check(lambda x: _same(jnp.tanh(_same(x))), [x], 1e-5)
    assert "@numba.njit" in text and "tanh" in text
