"""Table-driven checks for jumba.numpy, shared by the test_numpy_* modules.

Each function under test is described once by an `OpSpec` (the jumba function, its NumPy
reference, how to draw its inputs, its dtypes, tolerance and gradient order) and is put
through five checks:

1. `check_numpy`: values and dtype agree with NumPy on hypothesis-drawn shapes (broadcasting
   included) and values;
2. `check_jit`: `jb.jit(f)` equals eager `f`;
3. `check_vmap`: `jb.vmap(f)` equals a Python loop, with batch axes drawn per argument
   (`None` mixed in);
4. `check_spec_grads`: `check_grads(order, modes=("fwd", "rev"))` in float64, on the
   spec's differentiable arguments and its safe (kink-free) domain;
5. `check_x64`: check 1 again with 64-bit types enabled.

Inputs are drawn as a hypothesis seed feeding NumPy's generator (fast to draw and shrink)
plus hypothesis-drawn shapes; samplers turn `(rng, shape, dtype)` into an array.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jumba as jb
from jumba._src import dtypes
from jumba.test_util import check_grads

FLOAT = (np.float32,)
INT = (np.int32,)
BOOL = (np.bool_,)
NUMERIC = (np.float32, np.int32)
ALL = (np.float32, np.int32, np.bool_)
_X64 = {np.dtype(np.float32): np.float64, np.dtype(np.int32): np.int64}

Sampler = Callable[[np.random.Generator, tuple, Any], np.ndarray]


# ---------------------------------------------------------------------------------------
# Samplers: (rng, shape, dtype) -> array. Integer and boolean dtypes are drawn by kind;
# float ranges apply to inexact dtypes (and bound integer draws where they make sense).


def uniform(lo: float = -3.0, hi: float = 3.0) -> Sampler:
    def sample(rng, shape, dtype):
        dtype = np.dtype(dtype)
        if dtype == np.bool_:
            return rng.random(shape) < 0.5
        if dtype.kind in "iu":
            return rng.integers(int(np.floor(lo)), int(np.ceil(hi)) + 1, shape).astype(dtype)
        return rng.uniform(lo, hi, shape).astype(dtype)

    return sample


def away_from(points: Sequence[float], lo: float = -3.0, hi: float = 3.0,
              margin: float = 0.1) -> Sampler:
    """Uniform on [lo, hi] but at least `margin` from each of `points` (kinks, poles)."""
    base = uniform(lo, hi)

    def sample(rng, shape, dtype):
        x = base(rng, shape, dtype)
        if np.dtype(dtype).kind != "f":
            return x
        for p in points:
            near = np.abs(x - p) < margin
            x = np.where(near, p + np.where(x >= p, margin, -margin) * 1.5, x).astype(dtype)
        return x

    return sample


def away_from_halves(lo: float = -3.0, hi: float = 3.0) -> Sampler:
    """Away from integers and half-integers (the jumps of floor, ceil, round)."""
    def sample(rng, shape, dtype):
        if np.dtype(dtype).kind != "f":
            return uniform(lo, hi)(rng, shape, dtype)
        k = rng.integers(int(lo), int(hi), shape)
        frac = rng.choice([0.15, 0.3, 0.65, 0.85], shape) + rng.uniform(-0.05, 0.05, shape)
        return (k + frac).astype(dtype)

    return sample


def well_spread(lo: float = -3.0, hi: float = 3.0) -> Sampler:
    """Floats no two of which are closer than (hi - lo) / (2 * size): a shuffled grid with
    jitter. For formulas that cancel in float32 on nearly equal values (a variance as
    E[x^2] - E[x]^2, as JAX's "fast" standardize computes it)."""
    def sample(rng, shape, dtype):
        n = int(np.prod(shape))
        step = (hi - lo) / max(n, 1)
        grid = lo + step * (np.arange(n) + 0.5 + rng.uniform(-0.25, 0.25, n))
        return rng.permutation(grid).reshape(shape).astype(dtype)

    return sample


def nonzero(lo: float = -5.0, hi: float = 5.0) -> Sampler:
    """Integers or floats that are never 0 (divisors)."""
    def sample(rng, shape, dtype):
        x = uniform(lo, hi)(rng, shape, dtype)
        if np.dtype(dtype) == np.bool_:
            return np.ones(shape, bool)
        return np.where(x == 0, np.asarray(1, dtype), x).astype(dtype)

    return sample


def with_specials(base: Sampler | None = None) -> Sampler:
    """Mix nan, ±inf and ±0.0 into float draws."""
    base = base or uniform()
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -np.nan])

    def sample(rng, shape, dtype):
        x = base(rng, shape, dtype)
        if np.dtype(dtype).kind != "f":
            return x
        mask = rng.random(shape) < 0.4
        return np.where(mask, rng.choice(specials, shape), x).astype(dtype)

    return sample


def int_range(lo: int, hi: int) -> Sampler:
    """Integers in [lo, hi] for integer dtypes, floats in [lo, hi] otherwise."""
    return uniform(lo, hi)


# ---------------------------------------------------------------------------------------
# The spec


@dataclasses.dataclass(frozen=True)
class OpSpec:
    """One jumba.numpy function and how to test it.

    Attributes:
      name: test id.
      fn: the jumba.numpy function (positional array arguments, then static keywords).
      ref: the NumPy reference with the same signature.
      nargs: number of array arguments.
      domain: one sampler, or one per argument.
      dtypes: input dtypes to try (float32/int32/bool; doubled under x64).
      tol: relative and absolute tolerance for float results (per 32-bit; x64 uses tol**2
        bounded below by 1e-12).
      grad_order: order for check_grads, or None for non-differentiable functions.
      grad_domain: sampler(s) for gradient checks (defaults to `domain`).
      grad_argnums: which arguments are differentiated (others are closed over).
      kwargs: `shapes -> strategy of dicts`: static keyword arguments to draw.
      args: `(data, dtype) -> (arrays, kwargs)`: a custom draw replacing shapes/domain.
      min_side / max_dims: shape drawing bounds.
      out_dtype: `(*input dtypes, **kwargs) -> dtype` when jumba's result dtype is not
        NumPy's canonicalised (JAX promotes differently); 64-bit answers are canonicalised.
      check_dtype: compare result dtypes at all.
    """

    name: str
    fn: Callable
    ref: Callable
    nargs: int = 1
    domain: Sampler | tuple[Sampler, ...] = uniform()
    dtypes: tuple = FLOAT
    tol: float = 1e-6
    grad_order: int | None = 2
    grad_domain: Sampler | tuple[Sampler, ...] | None = None
    grad_argnums: tuple[int, ...] | None = None
    kwargs: Callable[[tuple], st.SearchStrategy] | None = None
    args: Callable | None = None
    min_side: int = 0
    min_dims: int = 0
    max_dims: int = 3
    out_dtype: Callable | None = None
    check_dtype: bool = True
    vmap: bool = True

    def __repr__(self):
        return self.name

    def samplers(self, grad=False):
        d = self.grad_domain if grad and self.grad_domain is not None else self.domain
        return d if isinstance(d, tuple) else (d,) * self.nargs


def ids(specs):
    return [s.name for s in specs]


# ---------------------------------------------------------------------------------------
# Drawing inputs


def _draw_shapes(data, spec: OpSpec):
    if spec.nargs == 1:
        return [data.draw(hnp.array_shapes(min_dims=spec.min_dims, max_dims=spec.max_dims,
                                           min_side=spec.min_side, max_side=4), label="shape")]
    shapes = data.draw(hnp.mutually_broadcastable_shapes(
        num_shapes=spec.nargs, min_dims=spec.min_dims, max_dims=spec.max_dims,
        min_side=spec.min_side, max_side=4), label="shapes")
    return list(shapes.input_shapes)


def draw_inputs(data, spec: OpSpec, dtype, *, grad=False):
    """Draw `(arrays, kwargs)` for one call of `spec.fn`."""
    dtype = np.dtype(dtype)
    if spec.args is not None:
        arrays, kwargs = spec.args(data, dtype)
        shapes = [np.shape(a) for a in arrays]
    else:
        shapes = _draw_shapes(data, spec)
        kwargs = data.draw(spec.kwargs(tuple(shapes)), label="kwargs") if spec.kwargs else {}
        arrays = None
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    if arrays is None:
        arrays = []
        for sampler, shape in zip(spec.samplers(grad), shapes):
            arrays.append(np.asarray(sampler(rng, tuple(shape), dtype), dtype))
    return list(arrays), kwargs


B = 3  # vmap batch size


def _redraw(spec, rng, a, i, grad, argnum=0):
    if spec.args is not None:
        # Custom draws: perturb values, keeping dtype and sign structure.
        if a.dtype.kind == "f":
            return (a * (1 + 0.1 * i)).astype(a.dtype)
        return a
    sampler = spec.samplers(grad)[argnum]
    return np.asarray(sampler(rng, a.shape, a.dtype), a.dtype)


# ---------------------------------------------------------------------------------------
# Comparison


def _tol(spec, dtype):
    if np.dtype(dtype).itemsize >= 8:
        return max(spec.tol ** 2, 1e-12)
    return spec.tol


def assert_allclose(actual, expected, tol, *, what="", check_dtype=True):
    a = np.asarray(actual)
    e = np.asarray(expected)
    if check_dtype:
        assert a.dtype == e.dtype, f"{what}: dtype {a.dtype} != expected {e.dtype}"
    assert a.shape == e.shape, f"{what}: shape {a.shape} != expected {e.shape}"
    if a.dtype.kind in "fc" or e.dtype.kind in "fc":
        wide = np.complex128 if "c" in (a.dtype.kind, e.dtype.kind) else np.float64
        np.testing.assert_allclose(a.astype(wide), e.astype(wide), rtol=tol,
                                   atol=tol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(a, e, err_msg=what)


def _expected_dtype(spec, in_dtypes, ref_out, kwargs):
    if spec.out_dtype is not None:
        return dtypes.canonicalize_dtype(np.dtype(spec.out_dtype(*in_dtypes, **kwargs)))
    return dtypes.canonicalize_dtype(np.asarray(ref_out).dtype)


def _call(f, arrays, kwargs):
    return f(*arrays, **kwargs)


def _ref(spec, arrays, kwargs):
    # NumPy's reference may warn (empty slices, division by zero); its value is still the
    # reference.
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _call(spec.ref, [np.asarray(a) for a in arrays], kwargs)


# ---------------------------------------------------------------------------------------
# The five checks


def check_numpy(spec: OpSpec, data, dtype):
    """Values, shape and dtype agree with NumPy."""
    arrays, kwargs = draw_inputs(data, spec, dtype)
    out = _call(spec.fn, arrays, kwargs)
    expected = _ref(spec, arrays, kwargs)
    _compare_outputs(spec, arrays, kwargs, out, expected, dtype)


def _compare_outputs(spec, arrays, kwargs, out, expected, dtype):
    outs = out if isinstance(out, tuple) else (out,)
    exps = expected if isinstance(expected, tuple) else (expected,)
    for o, e in zip(outs, exps):
        e = np.asarray(e)
        what = f"{spec.name}{tuple(np.shape(a) for a in arrays)} {kwargs}"
        if spec.check_dtype:
            want = _expected_dtype(spec, [np.asarray(a).dtype for a in arrays], e, kwargs)
            assert np.asarray(o).dtype == want, \
                f"{what}: dtype {np.asarray(o).dtype}, expected {want}"
        # A reference computed in 32 bits is only as exact as 32 bits, x64 or not.
        tol_dtype = e.dtype if e.dtype.kind == "f" and e.dtype.itemsize < 8 else dtype
        assert_allclose(o, e.astype(np.asarray(o).dtype) if e.dtype.kind not in "fc" else e,
                        _tol(spec, tol_dtype), what=what, check_dtype=False)


def check_jit(spec: OpSpec, data, dtype):
    """jit(f) equals eager f (the static keywords are closed over)."""
    arrays, kwargs = draw_inputs(data, spec, dtype)
    eager = _call(spec.fn, arrays, kwargs)
    jitted = jb.jit(lambda *xs: spec.fn(*xs, **kwargs))(*arrays)
    # jit may round differently in the last bit (x / c as x * (1 / c), reassociated
    # sums), which a cancellation (x - mean(x)) scales up: 16 ulps of 1 at least.
    floor = 16 * np.finfo(dtype).eps if np.dtype(dtype).kind in "fc" else 0.0
    for e, j in zip(_leaves(eager), _leaves(jitted)):
        assert_allclose(j, e, max(_tol(spec, dtype) * 1e-2, floor),
                        what=f"jit {spec.name} {kwargs}")


def _leaves(x):
    return x if isinstance(x, (tuple, list)) else (x,)


def check_vmap(spec: OpSpec, data, dtype):
    """vmap(f) over drawn in_axes (None mixed in) equals a Python loop over the batch."""
    n = spec.nargs
    if n == 0:
        return
    # Every argument gets a batch axis position or None; at least one is batched.
    choice = data.draw(st.lists(st.one_of(st.none(), st.integers(0, 4)), min_size=n,
                                max_size=n), label="axes_choice")
    if all(c is None for c in choice):
        choice[0] = 0
    base, kwargs = draw_inputs(data, spec, dtype)
    in_axes = [None if c is None else c % (np.ndim(a) + 1) for c, a in zip(choice, base)]
    rng = np.random.default_rng(0)
    arrays = []
    for argnum, (a, ax) in enumerate(zip(base, in_axes)):
        if ax is None:
            arrays.append(a)
        else:
            draws = [a] + [_redraw(spec, rng, a, i, False, argnum) for i in range(1, B)]
            arrays.append(np.stack(draws, axis=ax))
    f = lambda *xs: spec.fn(*xs, **kwargs)
    out = jb.vmap(f, in_axes=tuple(in_axes))(*arrays)
    rows = []
    for i in range(B):
        xs = [a if ax is None else np.take(a, i, axis=ax) for a, ax in zip(arrays, in_axes)]
        rows.append(f(*xs))
    for k, o in enumerate(_leaves(out)):
        want = np.stack([np.asarray(_leaves(r)[k]) for r in rows])
        assert_allclose(o, want, _tol(spec, dtype),
                        what=f"vmap {spec.name} in_axes={in_axes} {kwargs}")


def check_spec_grads(spec: OpSpec, data):
    """check_grads(order, fwd and rev) in float64 on the differentiable arguments."""
    if spec.grad_order is None:
        return
    with jb.enable_x64():
        arrays, kwargs = draw_inputs(data, spec, np.float64, grad=True)
        kwargs.pop("dtype", None)  # a dtype= keyword would change what is differentiated
        argnums = spec.grad_argnums if spec.grad_argnums is not None else tuple(
            range(len(arrays)))
        fixed = list(arrays)

        def f(*diff):
            xs = list(fixed)
            for i, d in zip(argnums, diff):
                xs[i] = d
            return spec.fn(*xs, **kwargs)

        diff_args = tuple(arrays[i] for i in argnums)
        # Derivatives are checked where the function is finite (e.g. not a mean over an
        # empty `where` selection).
        assume(all(np.all(np.isfinite(np.asarray(o))) for o in _leaves(f(*diff_args))))
        check_grads(f, diff_args, order=spec.grad_order,
                    modes=("fwd", "rev"), atol=1e-4, rtol=1e-4, eps=1e-5)


def check_x64(spec: OpSpec, data, dtype):
    """check_numpy with 64-bit types enabled, on the 64-bit version of `dtype`."""
    with jb.enable_x64():
        check_numpy(spec, data, _X64.get(np.dtype(dtype), dtype))


# ---------------------------------------------------------------------------------------
# Keyword strategies for reductions


def axis_kwargs(shape, *, allow_tuple=True, allow_none=True, allow_empty=True):
    """Strategy for `axis`: None, an int (possibly negative) or a tuple of distinct ints."""
    nd = len(shape)
    options = [st.none()] if allow_none or nd == 0 else []
    if nd:
        options.append(st.integers(-nd, nd - 1))
        if allow_tuple:
            axes = st.lists(st.integers(0, nd - 1), unique=True,
                            min_size=0 if allow_empty else 1, max_size=nd)
            options.append(axes.flatmap(
                lambda axes: st.permutations(axes).map(
                    lambda p: tuple(a - nd if i % 2 else a for i, a in enumerate(p)))))
    return st.one_of(*options)


# ---------------------------------------------------------------------------------------
# The five checks as test functions, for a module's table of specs


def draw_arrays(data, shapes, dtype):
    """Arrays of `shapes` from a hypothesis-drawn seed (for custom `args` draws)."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    return [np.asarray(uniform()(rng, tuple(s), dtype), dtype) for s in shapes]


def draw_shape(data, min_dims=0, max_dims=3, min_side=0, max_side=4):
    return data.draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                                      max_side=max_side), label="shape")


def table_tests(specs, *, examples=(12, 3, 4, 2, 3), by_dtype=True,
                vmap_specs=None) -> dict:
    """Test functions running the five checks over `specs`, to add to a test module with
    `globals().update(table_tests(SPECS))`.

    Args:
      specs: the module's OpSpecs.
      examples: hypothesis examples for (numpy, jit, vmap, grads, x64).
      by_dtype: run jit, vmap and x64 over every dtype of each spec (else its first dtype
        only); NumPy agreement always covers every dtype.
      vmap_specs: the specs whose vmap is checked (default: those with `vmap=True`).
    """
    import pytest
    from hypothesis import given, settings

    n_numpy, n_jit, n_vmap, n_grads, n_x64 = examples
    vmap_specs = [s for s in specs if s.vmap] if vmap_specs is None else vmap_specs
    grad_specs = [s for s in specs if s.grad_order is not None]

    def cases(ss, all_dtypes=False):
        return [pytest.param(s, np.dtype(dt), id=f"{s.name}-{np.dtype(dt).name}")
                for s in ss for dt in (s.dtypes if by_dtype or all_dtypes else s.dtypes[:1])]

    def table(check, ss, n, all_dtypes=False):
        @pytest.mark.parametrize("spec,dtype", cases(ss, all_dtypes))
        @settings(max_examples=n, deadline=None)
        @given(data=st.data())
        def test(spec, dtype, data):
            check(spec, data, dtype)

        return test

    @pytest.mark.parametrize("spec", grad_specs, ids=[s.name for s in grad_specs])
    @settings(max_examples=n_grads, deadline=None)
    @given(data=st.data())
    def test_grads(spec, data):
        check_spec_grads(spec, data)

    return {
        "test_agrees_with_numpy": table(check_numpy, specs, n_numpy, all_dtypes=True),
        "test_jit_equals_eager": table(check_jit, specs, n_jit),
        "test_vmap_equals_loop": table(check_vmap, vmap_specs, n_vmap),
        "test_grads": test_grads,
        "test_x64": table(check_x64, specs, n_x64),
    }
