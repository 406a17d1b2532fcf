"""Fast paths of the NumPy impls that a PPO epoch's shuffle runs (`random.permutation`
then `x[perm]`): the sort of one integer key (packed with its positions into uint64s)
is the stable argsort, and a gather of whole slices along one axis (one `np.take`) equals
the general index-array gather, in every out-of-bounds mode.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jumba as jb
import jumba.numpy as jnp
import jumba.random as jr
from jumba import lax
from jumba._src.lax import gather_scatter, sorting
from jumba._src.lax.slicing import GatherDimensionNumbers, GatherScatterMode

KEY_DTYPES = [np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32, np.bool_]


@st.composite
def _keys_and_axis(draw):
    dtype = draw(st.sampled_from(KEY_DTYPES))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=9))
    # Few distinct values (many ties) or the whole range.
    elements = (st.integers(0, 3) if dtype is not np.bool_ and draw(st.booleans())
                else hnp.from_dtype(np.dtype(dtype)))
    keys = draw(hnp.arrays(dtype, shape, elements=elements))
    return keys, draw(st.integers(0, len(shape) - 1))


@given(_keys_and_axis())
def test_packed_argsort_is_the_stable_argsort(case):
    keys, axis = case
    got = sorting._packed_argsort(keys, axis)
    np.testing.assert_array_equal(got, np.argsort(keys, axis=axis, kind="stable"))


@given(_keys_and_axis())
def test_sort_with_payload_matches_numpy(case):
    keys, axis = case
    payload = np.arange(keys.size, dtype=np.float32).reshape(keys.shape)
    k, v = lax.sort((keys, payload), dimension=axis, num_keys=1)
    perm = np.argsort(keys, axis=axis, kind="stable")
    np.testing.assert_array_equal(np.asarray(k), np.take_along_axis(keys, perm, axis))
    np.testing.assert_array_equal(np.asarray(v), np.take_along_axis(payload, perm, axis))


def test_permutation_is_unchanged_and_jit_agrees():
    # The stream is fixed by the key bits and the sort's order: both paths must agree.
    key = jr.PRNGKey(3)
    p = np.asarray(jr.permutation(key, 1000))
    assert sorted(p.tolist()) == list(range(1000))
    np.testing.assert_array_equal(np.asarray(jb.jit(lambda k: jr.permutation(k, 1000))(key)),
                                  p)


def _general_gather(x, indices, dn, sizes, mode):
    """The gather by index arrays (what the fast path replaces)."""
    index, valid = gather_scatter._window_index(x.shape, indices, dn.start_index_map, [],
                                                sizes, mode)
    return x[tuple(index)], valid


@st.composite
def _whole_slice_gathers(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6))
    d = draw(st.integers(0, len(shape) - 1))
    batch = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=5))
    n = shape[d]
    indices = draw(hnp.arrays(np.int32, (*batch, 1), elements=st.integers(-2, n + 2)))
    mode = draw(st.sampled_from([GatherScatterMode.CLIP, GatherScatterMode.FILL_OR_DROP,
                                 GatherScatterMode.PROMISE_IN_BOUNDS]))
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    return x, indices, d, mode


@given(_whole_slice_gathers())
def test_whole_slice_gather_equals_the_index_array_gather(case):
    x, indices, d, mode = case
    sizes = tuple(1 if e == d else n for e, n in enumerate(x.shape))
    dn = GatherDimensionNumbers(offset_dims=(), collapsed_slice_dims=(d,),
                                start_index_map=(d,))
    assert gather_scatter._whole_slices_along(x.shape, (d,), [], sizes) == d
    got, got_valid = gather_scatter._take_slices(x, indices, d, mode)
    want, want_valid = _general_gather(x, indices, dn, sizes, mode)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_valid, want_valid)


@pytest.mark.parametrize("mode", ["clip", "fill"])
def test_take_rows_through_the_primitive(mode):
    x = np.arange(40, dtype=np.float32).reshape(10, 4)
    idx = np.array([3, -1, 12, 0, 9], np.int32)
    got = np.asarray(jnp.take(x, idx, axis=0, mode=mode))
    # As JAX: "clip" clamps the raw index; "fill" counts negative ones from the end.
    wrapped = np.where(idx < 0, idx + 10, idx) if mode == "fill" else idx
    ref = np.take(x, np.clip(wrapped, 0, 9), axis=0)
    if mode == "fill":
        ref[wrapped > 9] = np.nan
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(np.asarray(jnp.take(x, idx, axis=1, mode=mode)[:, :0]),
                                  np.zeros((10, 0), np.float32))
    # A partial window along another axis is not a whole slice: the general path runs.
    assert gather_scatter._whole_slices_along((10, 4), (0,), [], (1, 2)) is None
