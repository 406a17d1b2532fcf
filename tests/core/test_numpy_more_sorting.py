"""Sorting, searching and set operations (lexsort, partition, searchsorted, unique,
count_nonzero, isin, union1d, intersect1d, setdiff1d, setxor1d): the five table checks on
hypothesis-drawn inputs, then `size=` under jit and the error messages."""

import numpy as np
import pytest
from hypothesis import strategies as st

import jumba as jb
import jumba.numpy as jnp
from tests.core.numpy_checks import FLOAT, NUMERIC, OpSpec, table_tests, uniform, with_specials

SMALL_INTS = uniform(-3, 3)


def _searchsorted_args(data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    n = data.draw(st.integers(0, 6))
    a = np.sort(rng.integers(-4, 5, n)).astype(dtype)
    shape = data.draw(st.lists(st.integers(0, 3), max_size=2).map(tuple))
    v = rng.integers(-5, 6, shape).astype(dtype)
    if dtype.kind == "f" and data.draw(st.booleans()):
        v = np.where(rng.random(shape) < 0.3, np.nan, v).astype(dtype)
    side = data.draw(st.sampled_from(["left", "right"]))
    method = data.draw(st.sampled_from(["scan", "scan_unrolled", "compare_all", "sort"]))
    return [a, v], {"side": side, "method": method}


def _searchsorted_ref(a, v, side, method):
    return np.searchsorted(a, v, side)


def _axis_kw(shapes):
    nd = len(shapes[0])
    return st.fixed_dictionaries({"axis": st.integers(-nd, nd - 1)})


def _partition_args(data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple))
    x = rng.integers(-4, 5, shape).astype(dtype)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    kth = data.draw(st.integers(0, shape[axis] - 1))
    return [x], {"kth": kth, "axis": axis}


def _partition_check(x, kth, axis):
    # Only the kth element's value is specified by NumPy, and the partition property.
    p = jnp.partition(x, kth, axis)
    return jnp.take(p, jnp.array([kth]), axis=axis)


def _partition_ref(x, kth, axis):
    return np.take(np.partition(x, kth, axis), [kth], axis=axis)


def _lexsort_args(data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple))
    return [rng.integers(0, 3, shape).astype(dtype), rng.integers(0, 3, shape).astype(dtype)], \
        {}


def _unique_kw(shapes):
    return st.fixed_dictionaries({"return_index": st.booleans(),
                                  "return_inverse": st.booleans(),
                                  "return_counts": st.booleans()})


def _unique_sized(x, **kw):
    n = max(np.size(x), 1)
    return jnp.unique(x, size=n + 2, fill_value=-7, **kw)


def _unique_sized_ref(x, **kw):
    res = np.unique(np.ravel(x), **kw)
    res = res if isinstance(res, tuple) else (res,)
    n = max(np.size(x), 1) + 2
    out = []
    names = ["values"] + [k for k in ("return_index", "return_inverse", "return_counts")
                          if kw.get(k)]
    for name, r in zip(names, res):
        if name == "return_inverse":
            out.append(r.reshape(np.shape(x)))
            continue
        fill = -7 if name == "values" else 0
        out.append(np.concatenate([r, np.full(n - r.size, fill, r.dtype)]))
    return tuple(out) if len(out) > 1 else out[0]


def _set_args(data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    a = rng.integers(-3, 4, data.draw(st.integers(1, 6))).astype(dtype)
    b = rng.integers(-3, 4, data.draw(st.integers(1, 6))).astype(dtype)
    return [a, b], {}


def _sized(name):
    def fn(a, b):
        return getattr(jnp, name)(a, b, size=8, fill_value=99)

    def ref(a, b):
        r = getattr(np, name)(a, b)
        return np.concatenate([r, np.full(8 - r.size, 99, r.dtype)])

    return fn, ref


SPECS = [
    OpSpec("searchsorted", jnp.searchsorted, _searchsorted_ref, nargs=2,
           args=_searchsorted_args, dtypes=NUMERIC, grad_order=None),
    OpSpec("partition", _partition_check, _partition_ref, args=_partition_args,
           dtypes=NUMERIC, grad_order=None),
    OpSpec("argpartition_values", lambda x, kth, axis: jnp.take(jnp.take_along_axis(
        x, jnp.argpartition(x, kth, axis), axis), jnp.array([kth]), axis=axis),
        _partition_ref, args=_partition_args, dtypes=NUMERIC, grad_order=None),
    OpSpec("lexsort", lambda a, b: jnp.lexsort((a, b)), lambda a, b: np.lexsort((a, b)),
           nargs=2, args=_lexsort_args, dtypes=NUMERIC, grad_order=None),
    OpSpec("unique_sized", _unique_sized, _unique_sized_ref, domain=with_specials(
        SMALL_INTS), dtypes=NUMERIC, kwargs=_unique_kw, grad_order=None, vmap=False),
    OpSpec("count_nonzero", jnp.count_nonzero, np.count_nonzero,
           domain=SMALL_INTS, dtypes=NUMERIC + (np.bool_,), min_dims=1, kwargs=_axis_kw,
           grad_order=None),
    OpSpec("isin", jnp.isin, np.isin, nargs=2, args=_set_args, dtypes=NUMERIC,
           grad_order=None),
    *[OpSpec(f"{n}_sized", *_sized(n), nargs=2, args=_set_args, dtypes=NUMERIC,
             grad_order=None) for n in ("union1d", "intersect1d", "setdiff1d", "setxor1d")],
    OpSpec("sort_grad", lambda x: jnp.sort(x, axis=-1) * 1.5, lambda x: np.sort(x) * 1.5,
           dtypes=FLOAT, min_dims=1),
]

globals().update(table_tests(SPECS, examples=(6, 2, 2, 2, 1)))


def test_unique_without_size_is_eager_numpy():
    x = jnp.array([[3, 1], [1, 2]])
    vals, idx, inv, cnt = jnp.unique(x, return_index=True, return_inverse=True,
                                     return_counts=True)
    np.testing.assert_array_equal(vals, [1, 2, 3])
    np.testing.assert_array_equal(inv, [[2, 0], [0, 1]])
    np.testing.assert_array_equal(cnt, [2, 1, 1])
    np.testing.assert_array_equal(jnp.unique(x, axis=0), np.unique(np.asarray(x), axis=0))
    r = jnp.unique_all(x)
    np.testing.assert_array_equal(r.values, [1, 2, 3])
    np.testing.assert_array_equal(jnp.unique_counts(x).counts, [2, 1, 1])
    np.testing.assert_array_equal(jnp.unique_values(x), [1, 2, 3])
    np.testing.assert_array_equal(jnp.unique_inverse(x).inverse_indices, [[2, 0], [0, 1]])


def test_unique_default_fill_is_the_minimum():
    out = jb.jit(lambda x: jnp.unique(x, size=4))(jnp.array([5, 3, 5]))
    np.testing.assert_array_equal(out, [3, 5, 3, 3])


def test_value_dependent_shapes_need_size_under_jit():
    x = jnp.array([1, 2, 2])
    for fn in (lambda x: jnp.unique(x), lambda x: jnp.setdiff1d(x, x),
               lambda x: jnp.intersect1d(x, x), lambda x: jnp.bincount(x)):
        with pytest.raises(jb.ConcretizationTypeError, match="size=|length="):
            jb.jit(fn)(x)


def test_intersect1d_return_indices_sized():
    a, b = jnp.array([4, 1, 3, 1]), jnp.array([3, 9, 4])
    v, i, j = jb.jit(lambda a, b: jnp.intersect1d(a, b, return_indices=True, size=3))(a, b)
    np.testing.assert_array_equal(v, [3, 4, 3])
    np.testing.assert_array_equal(i, [2, 0, 4])
    np.testing.assert_array_equal(j, [0, 2, 3])
    v, i, j = jnp.intersect1d(a, b, return_indices=True)
    ev, ei, ej = np.intersect1d(np.asarray(a), np.asarray(b), return_indices=True)
    np.testing.assert_array_equal(i, ei)
    np.testing.assert_array_equal(j, ej)


def test_sort_complex_and_descending():
    np.testing.assert_array_equal(jnp.sort_complex(jnp.array([3, 1, 2])), [1, 2, 3])
    assert jnp.sort_complex(jnp.array([3, 1, 2])).dtype == jnp.complex64


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="side must be"):
        jnp.searchsorted(jnp.arange(3), 1, side="middle")
    with pytest.raises(ValueError, match="method must be"):
        jnp.searchsorted(jnp.arange(3), 1, method="fast")
    with pytest.raises(ValueError, match="1-D"):
        jnp.searchsorted(jnp.ones((2, 2)), 1)
    with pytest.raises(ValueError, match="out of bounds"):
        jnp.partition(jnp.arange(3), 3)
    with pytest.raises(TypeError, match="static int"):
        jnp.partition(jnp.arange(3), jnp.array([1]))
    with pytest.raises(ValueError, match="same shape"):
        jnp.lexsort((jnp.ones(2), jnp.ones(3)))
