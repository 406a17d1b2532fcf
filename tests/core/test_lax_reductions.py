"""lax reductions over leading axes with short kept rows (a per-channel sum or max over
N, H, W), which the NumPy implementations fold into longer rows: same results as NumPy
(exact for integers, max and min; float sums against a float64 reference)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from jumba._src.lax import reductions

_SHAPES = st.lists(st.integers(0, 12), min_size=2, max_size=4).map(tuple)


@settings(deadline=None)
@given(shape=_SHAPES, lead=st.integers(1, 3), seed=st.integers(0, 2**16),
       dtype=st.sampled_from([np.float32, np.float64, np.int32, np.int64]))
def test_leading_axis_reductions_match_numpy(shape, lead, seed, dtype):
    lead = min(lead, len(shape) - 1)
    axes = tuple(range(lead))
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 100).astype(dtype)
    got = reductions._sum_impl(x, axes=axes)
    assert got.dtype == x.dtype and got.shape == shape[lead:]
    if x.dtype.kind == "f":
        want = np.sum(x.astype(np.float64), axis=axes)
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * np.abs(x).sum())
    else:
        np.testing.assert_array_equal(got, np.sum(x, axis=axes, dtype=x.dtype))
    if x.size:  # (an empty max is the identity: checked by the numpy-level tests)
        np.testing.assert_array_equal(reductions._max_impl(x, axes=axes),
                                      np.max(x, axis=axes))
        np.testing.assert_array_equal(reductions._min_impl(x, axes=axes),
                                      np.min(x, axis=axes))


def test_per_channel_statistics_fold_and_keep_nans():
    # BatchNorm's statistics in the CNN benchmark: (128, 8, 8, 32) over (0, 1, 2).
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 8, 8, 32)).astype(np.float32)
    assert reductions._fold_leading(np.max, x, (0, 1, 2)) is not None
    x[5, 3, 2, 7] = np.nan
    mx = reductions._max_impl(x, axes=(0, 1, 2))
    assert np.isnan(mx[7]) and not np.isnan(np.delete(mx, 7)).any()
    np.testing.assert_array_equal(mx, np.max(x, axis=(0, 1, 2)))
    # Not folded: a reduction over the last axis, or a strided input.
    assert reductions._fold_leading(np.max, x, (3,)) is None
    assert reductions._fold_leading(np.max, x[:, ::2], (0, 1, 2)) is None
    # Empty operands (a sum over an empty batch) are left to NumPy.
    assert reductions._fold_leading(np.sum, np.zeros((0, 4, 32)), (0, 1)) is None
    assert reductions._fold_leading(np.sum, np.zeros((8, 4, 0)), (0, 1)) is None
