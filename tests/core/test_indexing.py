"""Indexing: x[idx], x.at[idx], the lax slicing primitives and the index functions.

Index expressions are drawn by hypothesis (ints, slices with any step, None, Ellipsis,
broadcasting integer arrays, boolean masks) and compared with NumPy; updates are compared
with NumPy's in-place forms (`np.add.at` and friends, where repeated indices accumulate);
gradients go through `check_grads` (order 2, forward and reverse); jit must equal eager and
vmap a Python loop.
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
from jumba._src.numpy.indexing import NonConcreteBooleanIndexError
from jumba.test_util import check_grads


@pytest.fixture(autouse=True, scope="module")
def _numpy_executor_only():
    # Semantics are tested on the NumPy executor: hypothesis traces hundreds of programs, and
    # a numba kernel per program would not fit the time budget.
    saved = jb.config.jumba_compile
    jb.config.update("jumba_compile", "never")
    yield
    jb.config.update("jumba_compile", saved)


# ---------------------------------------------------------------------------------------
# Strategies


@st.composite
def index_cases(draw, advanced=True, allow_none=True, masks=False):
    """(x, idx): an array and a NumPy-valid index expression for it."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=5))
    bshape = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    x = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) - 7
    kinds = ["int", "slice", "full"] + (["array", "array"] if advanced else [])
    n_used = draw(st.integers(1, len(shape)))
    idx: list = []
    axis = 0
    while axis < n_used:
        n = shape[axis]
        if allow_none and draw(st.integers(0, 6)) == 0:
            idx.append(None)
        if masks and axis == 0 and draw(st.booleans()):
            k = draw(st.integers(1, len(shape)))
            mask = draw(hnp.arrays(np.bool_, shape[:k]))
            idx.append(mask)
            axis += k
            kinds = ["int", "slice", "full"]  # other advanced indices must match its count
            continue
        kind = draw(st.sampled_from(kinds))
        if kind == "int":
            idx.append(draw(st.integers(-n, n - 1)))
        elif kind == "full":
            idx.append(slice(None))
        elif kind == "slice":
            step = draw(st.sampled_from([None, 1, 2, 3, -1, -2]))
            bound = st.one_of(st.none(), st.integers(-n - 2, n + 2))
            idx.append(slice(draw(bound), draw(bound), step))
        else:
            # A suffix of the common shape with some axes set to 1: they broadcast together.
            s = tuple(1 if draw(st.booleans()) else d
                      for d in bshape[draw(st.integers(0, len(bshape))):])
            idx.append(draw(hnp.arrays(np.int32, s, elements=st.integers(-n, n - 1))))
        axis += 1
    if allow_none and draw(st.booleans()):
        # `...` stands for the axes not indexed: anywhere if there are none, else at the end.
        idx.insert(draw(st.integers(0, len(idx))) if n_used == len(shape) else len(idx),
                   Ellipsis)
    return x, tuple(idx)


def _dynamic_split(idx):
    """Split an index into its traceable leaves (int arrays, ints) and a rebuilder."""
    leaves = [i for i in idx if isinstance(i, (int, np.ndarray)) and not isinstance(i, bool)
              and not (isinstance(i, np.ndarray) and i.dtype == np.bool_)]

    def rebuild(*vals):
        it = iter(vals)
        return tuple(next(it) if any(i is leaf for leaf in leaves) else i for i in idx)

    return [np.asarray(v, np.int32) for v in leaves], rebuild


# ---------------------------------------------------------------------------------------
# x[idx] against NumPy


@given(index_cases(masks=True))
def test_getitem_matches_numpy(case):
    x, idx = case
    expected = x[idx]
    got = jnp.asarray(x)[idx]
    assert got.shape == expected.shape
    np.testing.assert_array_equal(np.asarray(got), expected)


@given(index_cases())
def test_getitem_jit_with_traced_indices_equals_eager(case):
    x, idx = case
    leaves, rebuild = _dynamic_split(idx)
    f = jb.jit(lambda x, *vals: x[rebuild(*vals)])
    np.testing.assert_array_equal(np.asarray(f(jnp.asarray(x), *leaves)), x[idx])


def test_getitem_examples():
    x = np.arange(60.0).reshape(3, 4, 5)
    jx = jnp.asarray(x)
    for idx in [(0, slice(None), np.array([0, 1])),  # separated: advanced axes go first
                (np.array([0, 1]), slice(None), 0),
                (slice(None), np.array([[0], [2]]), np.array([1, -1])),  # adjacent: in place
                (np.array([0]), None, np.array([0])),  # None separates advanced indices
                (slice(None), np.array([0, 1]), Ellipsis, np.array([1, 2])),  # so does `...`
                (Ellipsis, slice(None, None, -2)), (True,), (np.array([1]), False),
                (x[..., 0] > 20,), (slice(None), x[0] > 3)]:
        np.testing.assert_array_equal(np.asarray(jx[idx]), x[idx])


def test_getitem_errors():
    x = jnp.zeros((3, 4))
    with pytest.raises(IndexError, match="out of bounds"):
        x[3]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="integer"):
        x[jnp.array([0.5])]
    with pytest.raises(TypeError, match="non-tuple sequence"):
        x[[0, 1]]
    with pytest.raises(IndexError, match="boolean index did not match"):
        x[np.array([True, False])]


def test_out_of_bounds_retrieval_clamps_and_fill_mode():
    x = jnp.arange(5.0)
    np.testing.assert_array_equal(np.asarray(x[jnp.array([7, -9])]), [4.0, 0.0])
    np.testing.assert_array_equal(
        np.asarray(x.at[jnp.array([1, 7])].get(mode="fill", fill_value=-1.0)), [1.0, -1.0])
    np.testing.assert_array_equal(np.asarray(jb.jit(lambda x, i: x[i])(x, 9)), 4.0)


def test_boolean_mask_under_jit_names_the_problem():
    x = jnp.arange(6.0)
    with pytest.raises(NonConcreteBooleanIndexError) as info:
        jb.jit(lambda x: x[x > 2])(x)
    msg = str(info.value)
    assert "bool[6]" in msg and "shape depends on the mask" in msg
    assert "jnp.where(mask, x, 0)" in msg and "size=" in msg
    # A whole-array mask with a scalar update keeps its shape, so it works under jit.
    out = jb.jit(lambda x: x.at[x > 2].set(0.0))(x)
    np.testing.assert_array_equal(np.asarray(out), [0, 1, 2, 0, 0, 0])


# ---------------------------------------------------------------------------------------
# x.at[idx] against NumPy's in-place updates


_UFUNC_AT = {"add": np.add.at, "multiply": np.multiply.at, "min": np.minimum.at,
             "max": np.maximum.at, "subtract": np.subtract.at}


@pytest.mark.parametrize("op", ["set", *_UFUNC_AT])
@given(case=index_cases(), seed=st.integers(0, 2**16))
def test_at_updates_match_numpy(op, case, seed):
    x, idx = case
    view = x[idx].shape
    rng = np.random.default_rng(seed)
    y = rng.integers(-3, 4, view).astype(np.float32)
    ref = x.copy()
    if op == "set":
        positions = np.arange(x.size).reshape(x.shape)[idx].ravel()
        if len(np.unique(positions)) != positions.size:
            y = np.float32(2.0)  # repeated locations: which update wins is unspecified
        ref[idx] = y
    else:
        _UFUNC_AT[op](ref, idx, y)
    got = getattr(jnp.asarray(x).at[idx], op)(y)
    np.testing.assert_array_equal(np.asarray(got), ref)
    leaves, rebuild = _dynamic_split(idx)
    f = jb.jit(lambda x, y, *vals: getattr(x.at[rebuild(*vals)], op)(y))
    np.testing.assert_array_equal(np.asarray(f(jnp.asarray(x), y, *leaves)), ref)


def test_at_misc():
    x = jnp.arange(1.0, 6.0)
    i = jnp.array([0, 0, 3])
    np.testing.assert_allclose(np.asarray(x.at[i].divide(2.0)), [0.25, 2, 3, 2, 5])
    np.testing.assert_allclose(np.asarray(x.at[1:3].power(2.0)), [1, 4, 9, 4, 5])
    np.testing.assert_allclose(np.asarray(x.at[i].apply(jnp.negative)), [-1, 2, 3, -4, 5])
    np.testing.assert_array_equal(np.asarray(x.at[i].get()), [1, 1, 4])
    # Out-of-bounds updates are dropped by default, clamped with mode="clip".
    np.testing.assert_array_equal(np.asarray(x.at[7].set(0.0)), np.arange(1.0, 6.0))
    np.testing.assert_array_equal(np.asarray(x.at[7].set(0.0, mode="clip")), [1, 2, 3, 4, 0])
    np.testing.assert_array_equal(np.asarray(x.at[jnp.array([1, 2])].add(
        1.0, indices_are_sorted=True, unique_indices=True)), [1, 3, 4, 4, 5])
    with pytest.raises(ValueError, match="cannot broadcast"):
        x.at[1:3].set(jnp.ones(3))


# ---------------------------------------------------------------------------------------
# Gradients


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float64)


GETITEM_GRAD_INDICES = [
    (1, slice(None, None, -2)), (np.array([0, 2, 2]), slice(1, 3)),
    (slice(None), np.array([[0], [3]]), np.array([1, -1])), (Ellipsis, None, -1),
]


@pytest.mark.parametrize("idx", GETITEM_GRAD_INDICES, ids=str)
def test_getitem_grads(idx):
    with jb.enable_x64():
        check_grads(lambda x: jnp.asarray(x)[idx], (_rand(3, 4, 2),), order=2)


def test_at_grads():
    with jb.enable_x64():
        x, y = _rand(5, 3), _rand(3, 3, seed=1)
        dup = np.array([0, 4, 0])
        check_grads(lambda x, y: jnp.asarray(x).at[dup].set(y), (x, y), order=2)
        check_grads(lambda x, y: jnp.asarray(x).at[dup].add(y), (x, y), order=2)
        unique = np.array([3, 1, 0])
        check_grads(lambda x, y: jnp.asarray(x).at[unique].multiply(y, unique_indices=True),
                    (x, y), order=2)
        check_grads(lambda x, y: jnp.asarray(x).at[1:4].multiply(y), (x, y), order=2)
        check_grads(lambda x, y: jnp.asarray(x).at[dup].max(y), (x, y), order=1)
        check_grads(lambda x, y: jnp.asarray(x).at[dup].min(y), (x, y), order=1)


def test_gather_scatter_add_grads():
    dn = lax.GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,),
                                    start_index_map=(0,))
    sdn = lax.ScatterDimensionNumbers(update_window_dims=(1,), inserted_window_dims=(0,),
                                      scatter_dims_to_operand_dims=(0,))
    idx = np.array([[2], [0], [2]], np.int32)
    with jb.enable_x64():
        check_grads(lambda x: lax.gather(x, idx, dn, (1, 3)), (_rand(4, 3),), order=2)
        check_grads(lambda x: lax.gather(x, idx, dn, (1, 3), mode="clip"), (_rand(4, 3),),
                    order=2)
        check_grads(lambda x, u: lax.scatter_add(x, idx, u, sdn), (_rand(4, 3), _rand(3, 3)),
                    order=2)


def test_dynamic_slice_grads():
    with jb.enable_x64():
        x, u = _rand(5, 4), _rand(2, 3, seed=1)
        check_grads(lambda x: lax.dynamic_slice(x, (np.int32(4), np.int32(-2)), (2, 3)),
                    (x,), order=2)
        check_grads(lambda x, u: lax.dynamic_update_slice(x, u, (np.int32(1), np.int32(3))),
                    (x, u), order=2)
        check_grads(lambda x: jb.jit(lambda x, i: x[i, 1:])(x, 2), (x,), order=2)
        check_grads(lambda x: jb.jit(lambda x, i: x.at[i, 1:].set(x[0, :3]))(x, 2), (x,),
                    order=2)


def test_scatter_mul_repeated_indices_grad_needs_unique():
    with pytest.raises(NotImplementedError, match="unique_indices"):
        jb.grad(lambda y: jnp.zeros(3).at[jnp.array([0, 0])].multiply(y).sum())(jnp.ones(2))


# ---------------------------------------------------------------------------------------
# lax primitives against references


def test_dynamic_slice_clamps():
    x = jnp.arange(10)
    np.testing.assert_array_equal(np.asarray(lax.dynamic_slice(x, [8], [3])), [7, 8, 9])
    np.testing.assert_array_equal(np.asarray(lax.dynamic_slice_in_dim(x, -2, 2)), [8, 9])
    np.testing.assert_array_equal(np.asarray(lax.dynamic_update_slice(
        x, jnp.array([-1, -1]), [9])), [0, 1, 2, 3, 4, 5, 6, 7, -1, -1])
    np.testing.assert_array_equal(np.asarray(lax.dynamic_index_in_dim(
        x.reshape(2, 5), 1, 1, keepdims=False)), [1, 6])
    np.testing.assert_array_equal(np.asarray(lax.dynamic_update_index_in_dim(
        jnp.zeros((2, 3), jnp.int32), jnp.array([7, 8]), 2, 1)), [[0, 0, 7], [0, 0, 8]])
    np.testing.assert_array_equal(np.asarray(lax.slice_in_dim(x, 1, None, 3)), [1, 4, 7])
    np.testing.assert_array_equal(np.asarray(lax.index_in_dim(x, -1, keepdims=False)), 9)
    with pytest.raises(TypeError, match="slice_sizes"):
        lax.dynamic_slice(x, [0], [11])


def test_gather_modes_and_batching_dims():
    x = jnp.arange(12.0).reshape(3, 4)
    dn = lax.GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(1,),
                                    start_index_map=(1,), operand_batching_dims=(0,),
                                    start_indices_batching_dims=(0,))
    idx = jnp.array([[[1], [5]], [[0], [3]], [[-1], [2]]])
    fill = lax.gather(x, idx, dn, (1, 1))
    np.testing.assert_array_equal(np.asarray(fill), [[1, np.nan], [4, 7], [np.nan, 10]])
    clip = lax.gather(x, idx, dn, (1, 1), mode="clip")
    np.testing.assert_array_equal(np.asarray(clip), [[1, 3], [4, 7], [8, 10]])
    sdn = lax.ScatterDimensionNumbers((), (1,), (1,), (0,), (0,))
    out = lax.scatter_add(jnp.zeros((3, 4)), idx, jnp.ones((3, 2)), sdn)
    ref = np.zeros((3, 4))
    ref[0, 1] = ref[1, 0] = ref[1, 3] = ref[2, 2] = 1
    np.testing.assert_array_equal(np.asarray(out), ref)
    with pytest.raises(TypeError, match="offset_dims"):
        lax.gather(x, idx, dn._replace(offset_dims=(0,)), (1, 1))


def test_scatter_variants():
    sdn = lax.ScatterDimensionNumbers((), (0,), (0,))
    idx = jnp.array([[1], [1], [3], [9]])
    u = jnp.array([2.0, 3.0, -1.0, 5.0])
    x = jnp.ones(5)
    np.testing.assert_array_equal(np.asarray(lax.scatter_mul(x, idx, u, sdn)), [1, 6, 1, -1, 1])
    np.testing.assert_array_equal(np.asarray(lax.scatter_min(x, idx, u, sdn)), [1, 1, 1, -1, 1])
    np.testing.assert_array_equal(np.asarray(lax.scatter_max(x, idx, u, sdn)), [1, 3, 1, 1, 1])
    np.testing.assert_array_equal(np.asarray(lax.scatter_sub(x, idx, u, sdn)), [1, -4, 1, 2, 1])
    np.testing.assert_array_equal(np.asarray(lax.scatter(x, idx, u, sdn, mode="clip")),
                                  [1, 3, 1, -1, 5])


# ---------------------------------------------------------------------------------------
# vmap against a Python loop


def _loop(f, *args, in_axes):
    size = next(np.shape(a)[ax] for a, ax in zip(args, in_axes) if ax is not None)
    outs = [f(*[a if ax is None else np.take(a, b, axis=ax) for a, ax in zip(args, in_axes)])
            for b in range(size)]
    return np.stack([np.asarray(o) for o in outs])


VMAP_CASES = {
    "getitem": (lambda x, i: x[i, ::-1], (5, 4), (3,)),
    "getitem_mixed": (lambda x, i: x[1:, i], (5, 4), (2, 3)),
    "scalar": (lambda x, i: x[i], (5, 4), ()),
    "at_set": (lambda x, i: x.at[i].set(-1.0), (5, 4), (3,)),
    "at_add": (lambda x, i: x.at[:, i].add(x[0, :3]), (5, 4), (3,)),
    "take_along": (lambda x, i: jnp.take_along_axis(x, i, 1), (5, 4), (5, 2)),
    "dyn_slice": (lambda x, i: lax.dynamic_slice(x, (i, i), (2, 2)), (5, 4), ()),
    "dyn_update": (lambda x, i: lax.dynamic_update_slice(x, x[:2, :2] * 2, (i, 1)), (5, 4), ()),
}


@pytest.mark.parametrize("in_axes", [(0, None), (None, 0), (0, 0), (1, 0)], ids=str)
@pytest.mark.parametrize("name", sorted(VMAP_CASES))
def test_vmap_equals_loop(name, in_axes):
    f, x_shape, i_shape = VMAP_CASES[name]
    rng = np.random.default_rng(0)
    b = 3
    x = rng.standard_normal(x_shape).astype(np.float32)
    i = rng.integers(-3, 3, i_shape).astype(np.int32)
    if in_axes[0] is not None:
        x = np.stack([x + k for k in range(b)], axis=in_axes[0])
    if in_axes[1] is not None:
        i = np.stack([(i + k) % 3 for k in range(b)], axis=in_axes[1])
    expected = _loop(lambda x, i: f(jnp.asarray(x), jnp.asarray(i)), x, i, in_axes=in_axes)
    got = jb.vmap(f, in_axes=in_axes)(jnp.asarray(x), jnp.asarray(i))
    np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6)


def test_vmap_of_grad_through_scatter():
    f = jb.grad(lambda x, i: (x.at[i].set(x[0] ** 2) ** 2).sum())
    x = np.random.default_rng(1).standard_normal((4, 5)).astype(np.float32)
    i = np.array([1, 3, 3, 2], np.int32)
    expected = _loop(lambda x, i: f(jnp.asarray(x), jnp.asarray(i)), x, i, in_axes=(0, 0))
    np.testing.assert_allclose(np.asarray(jb.vmap(f)(x, i)), expected, rtol=1e-5)


# ---------------------------------------------------------------------------------------
# Index functions


def test_take():
    a = np.arange(12.0).reshape(3, 4)
    i = np.array([[0, -1], [2, 1]])
    for axis in (None, 0, 1, -1):
        np.testing.assert_array_equal(np.asarray(jnp.take(a, i, axis=axis)),
                                      np.take(a, i, axis=axis))
    np.testing.assert_array_equal(np.asarray(jnp.take(a, np.array([5, -5]), axis=1)),
                                  [[np.nan] * 2, [np.nan] * 2, [np.nan] * 2])
    np.testing.assert_array_equal(np.asarray(jnp.take(a, np.array([5, -5]), axis=1,
                                                      mode="clip")), np.take(a, [3, 0], 1))
    np.testing.assert_array_equal(np.asarray(jnp.take(a, np.array([5, -5]), axis=1,
                                                      mode="wrap")), np.take(a, [5, -5], 1,
                                                                             mode="wrap"))
    np.testing.assert_array_equal(np.asarray(jnp.take(a, np.array([7]), fill_value=-1.0)),
                                  [7.0])


@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
       data=st.data())
def test_take_and_put_along_axis(shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    k = data.draw(st.integers(1, 4))
    rng = np.random.default_rng(data.draw(st.integers(0, 100)))
    a = rng.standard_normal(shape).astype(np.float32)
    i_shape = list(shape)
    i_shape[axis] = k
    i = rng.integers(-shape[axis], shape[axis], i_shape).astype(np.int32)
    np.testing.assert_array_equal(np.asarray(jnp.take_along_axis(a, i, axis)),
                                  np.take_along_axis(a, i, axis))
    i_unique = np.argsort(rng.random(shape), axis=axis).astype(np.int32)
    ref = a.copy()
    np.put_along_axis(ref, i_unique, -5.0, axis)
    np.testing.assert_array_equal(np.asarray(
        jnp.put_along_axis(a, i_unique, -5.0, axis, inplace=False)), ref)
    with pytest.raises(ValueError, match="inplace=False"):
        jnp.put_along_axis(a, i, 0.0, axis)


def test_nonzero_family():
    x = np.array([[0, 3, 0], [1, 0, 2]])
    for got, ref in [(jnp.nonzero(x), np.nonzero(x)), (jnp.argwhere(x), np.argwhere(x)),
                     (jnp.flatnonzero(x), np.flatnonzero(x)),
                     (jnp.extract(x > 1, x), np.extract(x > 1, x)),
                     (jnp.compress(np.array([0, 1, 1]), x, axis=1),
                      np.compress([0, 1, 1], x, axis=1))]:
        for g, r in zip(np.atleast_1d(got) if isinstance(got, tuple) else [got],
                        ref if isinstance(ref, tuple) else [ref]):
            np.testing.assert_array_equal(np.asarray(g), r)
    f = jb.jit(lambda x: jnp.nonzero(x, size=4, fill_value=-1))
    rows, cols = f(x)
    np.testing.assert_array_equal(np.asarray(rows), [0, 1, 1, -1])
    np.testing.assert_array_equal(np.asarray(cols), [1, 0, 2, -1])
    np.testing.assert_array_equal(np.asarray(jb.jit(lambda x: jnp.argwhere(x, size=2))(x)),
                                  [[0, 1], [1, 0]])
    np.testing.assert_array_equal(np.asarray(
        jb.jit(lambda x: jnp.where(x, size=2)[1])(x)), [1, 0])
    np.testing.assert_array_equal(np.asarray(
        jb.jit(lambda c, x: jnp.compress(c, x, size=3, fill_value=9))(x[1] > 0, x[0])),
        [0, 0, 9])
    with pytest.raises(jb.ConcretizationTypeError, match="size="):
        jb.jit(jnp.nonzero)(x)


def test_diagonals_and_triangles():
    m = np.arange(24.0).reshape(2, 3, 4)
    for k in (-2, -1, 0, 1, 3, 5):
        np.testing.assert_array_equal(np.asarray(jnp.diagonal(m, k, 1, 2)),
                                      np.diagonal(m, k, 1, 2))
        np.testing.assert_array_equal(np.asarray(jnp.tril(m, k)), np.tril(m, k))
        np.testing.assert_array_equal(np.asarray(jnp.triu(m, k)), np.triu(m, k))
        np.testing.assert_array_equal(np.asarray(jnp.trace(m[0], k)), np.trace(m[0], k))
        np.testing.assert_array_equal(np.asarray(jnp.diag(m[0, 0], k)), np.diag(m[0, 0], k))
        np.testing.assert_array_equal(np.asarray(jnp.diag(m[0], k)), np.diag(m[0], k))
    np.testing.assert_array_equal(np.asarray(jnp.diagonal(m, 0, 2, 0)), np.diagonal(m, 0, 2, 0))
    with jb.enable_x64():
        check_grads(lambda v: jnp.diag(v, 1), (_rand(3),), order=2)
        check_grads(lambda a: jnp.trace(a) + jnp.tril(a).sum(), (_rand(3, 3),), order=2)


def test_choose_and_index_helpers():
    a = np.array([0, 2, 1, 2])
    choices = [np.arange(4), np.arange(4) * 10, np.arange(4) * 100]
    np.testing.assert_array_equal(np.asarray(jnp.choose(a, choices)), np.choose(a, choices))
    np.testing.assert_array_equal(np.asarray(jnp.choose(a + 2, choices, mode="wrap")),
                                  np.choose(a + 2, choices, mode="wrap"))
    for got, ref in [(jnp.tril_indices(3, 1), np.tril_indices(3, 1)),
                     (jnp.triu_indices(3, 0, 4), np.triu_indices(3, 0, 4)),
                     (jnp.diag_indices(3), np.diag_indices(3)),
                     (jnp.unravel_index(np.array([5, 7]), (2, 4)),
                      np.unravel_index([5, 7], (2, 4))),
                     (jnp.ix_(np.array([0, 1]), np.array([2, 0, 1])),
                      np.ix_([0, 1], [2, 0, 1]))]:
        for g, r in zip(got, ref):
            np.testing.assert_array_equal(np.asarray(g), r)
    np.testing.assert_array_equal(
        np.asarray(jnp.ravel_multi_index((np.array([1, 0]), np.array([2, 3])), (2, 4))),
        np.ravel_multi_index(([1, 0], [2, 3]), (2, 4)))


def test_x64_indexing():
    with jb.enable_x64():
        x = jnp.arange(10.0)
        i = jnp.array([1, -1], dtype=jnp.int64)
        assert x[i].dtype == np.float64
        np.testing.assert_array_equal(np.asarray(x.at[i].add(1.0)),
                                      np.arange(10.0) + np.isin(np.arange(10), [1, 9]))
        np.testing.assert_array_equal(np.asarray(jb.jit(lambda x, j: x[j])(x, np.int64(-2))),
                                      8.0)
