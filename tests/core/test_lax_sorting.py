"""Sorting: lax.sort (multi-operand, num_keys), argsort, top_k and jnp.sort/argsort through
the five checks against NumPy, then ordering conventions (stability, NaN, ties) and
errors."""

import numpy as np
import pytest
from hypothesis import strategies as st

import jumba as jb
import jumba.lax as lax
import jumba.numpy as jnp
from tests.core.numpy_checks import NUMERIC, OpSpec, table_tests, uniform


def _axis(shape):
    nd = len(shape[0])
    return st.fixed_dictionaries({"axis": st.integers(-nd, nd - 1)})


def _np_sort_by_keys(*ops, dimension, num_keys):
    keys = [np.moveaxis(k, dimension, -1) for k in ops[:num_keys]]
    perm = np.moveaxis(np.lexsort(keys[::-1], axis=-1), -1, dimension)
    return tuple(np.take_along_axis(o, perm, axis=dimension) for o in ops)


def _sort_args(nops, num_keys):
    def draw(data, dtype):
        shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3), label="shape")
        dim = data.draw(st.integers(0, len(shape) - 1), label="dimension")
        rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
        # Few distinct key values, so that ties (and so the later keys) matter.
        ops = [rng.integers(0, 3, shape).astype(dtype) if i < num_keys - 1
               else rng.standard_normal(shape).astype(dtype) for i in range(nops)]
        return ops, {"dimension": dim, "num_keys": num_keys}

    return draw


def _lax_sort(*ops, dimension, num_keys):
    return lax.sort(ops, dimension=dimension, num_keys=num_keys)


def _top_k_args(data, dtype):
    shape = data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=3), label="shape")
    k = data.draw(st.integers(0, shape[-1]), label="k")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    return [rng.standard_normal(shape).astype(dtype)], {"k": k}


def _np_top_k(x, k):
    idx = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    return np.take_along_axis(x, idx, axis=-1), idx.astype(np.int32)


SPECS = [
    OpSpec("sort", jnp.sort, np.sort, dtypes=NUMERIC, kwargs=_axis, min_dims=1),
    OpSpec("sort_flat", lambda x: jnp.sort(x, axis=None), lambda x: np.sort(x, axis=None),
           dtypes=NUMERIC),
    OpSpec("sort_descending", lambda x, axis: jnp.sort(x, axis=axis, descending=True),
           lambda x, axis: np.flip(np.sort(x, axis=axis), axis=axis), kwargs=_axis,
           min_dims=1),
    OpSpec("argsort", jnp.argsort, lambda x, axis: np.argsort(x, axis, kind="stable"),
           dtypes=NUMERIC, kwargs=_axis, min_dims=1, domain=uniform(-3, 3), grad_order=None,
           check_dtype=False),
    OpSpec("argsort_descending", lambda x, axis: jnp.argsort(x, axis=axis, descending=True),
           lambda x, axis: np.argsort(-x, axis, kind="stable"), dtypes=(np.int32,),
           kwargs=_axis, min_dims=1, grad_order=None, check_dtype=False),
    OpSpec("lax_sort_two_operands", _lax_sort, _np_sort_by_keys, nargs=2,
           args=_sort_args(2, 1)),
    OpSpec("lax_sort_two_keys", _lax_sort, _np_sort_by_keys, nargs=3, args=_sort_args(3, 2),
           grad_argnums=(1, 2)),
    OpSpec("top_k", lambda x, k: lax.top_k(x, k), _np_top_k, args=_top_k_args,
           check_dtype=False, grad_order=None),
    OpSpec("top_k_values", lambda x, k: lax.top_k(x, k)[0], lambda x, k: _np_top_k(x, k)[0],
           args=_top_k_args),
]

globals().update(table_tests(SPECS, examples=(10, 3, 3, 3, 2)))


def test_sort_is_stable_and_puts_nan_last():
    x = np.array([3.0, np.nan, 1.0, -np.inf, 1.0, np.inf], np.float32)
    np.testing.assert_array_equal(jnp.sort(x), np.sort(x))
    keys = np.array([1, 0, 1, 0, 1], np.int32)
    vals = np.arange(5, dtype=np.int32)
    _, v = lax.sort_key_val(keys, vals)
    np.testing.assert_array_equal(v, [1, 3, 0, 2, 4])
    np.testing.assert_array_equal(jnp.argsort(np.array([2, 1, 2, 1])), [1, 3, 0, 2])


def test_top_k_breaks_ties_by_lower_index_and_counts_nan_largest():
    x = np.array([[1.0, 3.0, 3.0, 2.0, 3.0]], np.float32)
    vals, idx = lax.top_k(x, 2)
    np.testing.assert_array_equal(idx, [[1, 2]])
    np.testing.assert_array_equal(vals, [[3.0, 3.0]])
    vals, idx = lax.top_k(np.array([1.0, np.nan, 5.0], np.float32), 2)
    np.testing.assert_array_equal(idx, [1, 2])
    assert np.isnan(vals[0]) and vals[1] == 5.0


def test_sort_gradient_follows_the_permutation():
    x = np.array([3.0, 1.0, 2.0], np.float32)
    w = np.array([1.0, 10.0, 100.0], np.float32)
    g = jb.grad(lambda x: jnp.sum(jnp.sort(x) * w))(x)
    np.testing.assert_array_equal(g, [100.0, 1.0, 10.0])


def test_vmap_of_top_k_over_the_last_axis():
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    vals, idx = jb.vmap(lambda r: lax.top_k(r, 2), in_axes=1, out_axes=1)(x.T.copy().T)
    want_v, want_i = _np_top_k(x.T, 2)
    np.testing.assert_array_equal(vals, want_v.T)
    np.testing.assert_array_equal(idx, want_i.T)


@pytest.mark.parametrize("call,match", [
    (lambda: lax.top_k(np.ones(3, np.float32), 4), "k=4"),
    (lambda: lax.sort((np.ones(3), np.ones(4))), "one shape"),
    (lambda: lax.sort(np.ones(3), dimension=2), "out of range"),
    (lambda: lax.sort((np.ones(3), np.ones(3)), num_keys=3), "num_keys"),
    (lambda: jnp.sort(np.ones(3), order="x"), "order"),
    (lambda: jnp.argsort(np.float32(1.0), axis=0), "scalar"),
])
def test_bad_arguments_name_the_problem(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()
