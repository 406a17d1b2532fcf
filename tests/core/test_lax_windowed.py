"""lax.reduce_window (sum, max, min, and the generic form): an OpSpec table through the
five checks against a loop-over-windows NumPy reference, then pooling conventions and
errors."""

import itertools

import numpy as np
import pytest
from hypothesis import strategies as st

import jumba as jb
import jumba.lax as lax
import jumba.numpy as jnp
from jumba.test_util import check_grads
from tests.core.numpy_checks import OpSpec, table_tests

_IDENTITY = {"sum": 0.0, "max": -np.inf, "min": np.inf}
_REDUCE = {"sum": np.sum, "max": np.max, "min": np.min}


def window_reference(x, kind, window_dimensions, window_strides, padding, base_dilation=None,
                     window_dilation=None):
    """Each output element reduced from its own window of the dilated, padded input."""
    nd = x.ndim
    bd = base_dilation or (1,) * nd
    wd = window_dilation or (1,) * nd
    if x.dtype.kind in "iu":
        info = np.iinfo(x.dtype)
        ident = {"sum": 0, "max": info.min, "min": info.max}[kind]
        xf = x
    else:
        ident = _IDENTITY[kind]
        xf = x.astype(np.float64)
    xd = np.full([(n - 1) * d + 1 if n else 0 for n, d in zip(x.shape, bd)], ident, xf.dtype)
    xd[tuple(slice(None, None, d) for d in bd)] = xf
    ke = [(k - 1) * d + 1 for k, d in zip(window_dimensions, wd)]
    if isinstance(padding, str):
        pads = []
        for n, k, s in zip(xd.shape, ke, window_strides):
            total = max(0, (-(-n // s) - 1) * s + k - n) if padding == "SAME" else 0
            pads.append((total // 2, total - total // 2))
        padding = pads
    for ax, (lo, hi) in enumerate(padding):
        widths = [(0, 0)] * nd
        widths[ax] = (max(lo, 0), max(hi, 0))
        xd = np.pad(xd, widths, constant_values=ident)
        xd = np.take(xd, np.arange(max(-lo, 0), xd.shape[ax] - max(-hi, 0)), axis=ax)
    out_shape = [max(0, (p - k) // s + 1) if p >= k else 0
                 for p, k, s in zip(xd.shape, ke, window_strides)]
    out = np.full(out_shape, ident, xf.dtype)
    for pos in itertools.product(*[range(o) for o in out_shape]):
        idx = tuple(slice(p * s, p * s + k, d) for p, s, k, d in zip(pos, window_strides, ke, wd))
        out[pos] = _REDUCE[kind](xd[idx]) if xd[idx].size else ident
    return out.astype(x.dtype)


@st.composite
def _problem(draw, *, dilations=True, string_padding=True):
    nd = draw(st.integers(1, 3), label="ndim")
    shape = tuple(draw(st.integers(1, 5)) for _ in range(nd))
    window = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    strides = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    bd = tuple(draw(st.integers(1, 2)) for _ in range(nd)) if dilations else None
    wd = tuple(draw(st.integers(1, 2)) for _ in range(nd)) if dilations else None
    if string_padding and not dilations and draw(st.booleans()):
        padding = draw(st.sampled_from(["SAME", "VALID"]))
    else:
        # Padding smaller than the window: no window is all padding (finite maxima).
        padding = tuple((draw(st.integers(-1, w - 1)), draw(st.integers(-1, w - 1)))
                        for w in window)
    return shape, dict(window_dimensions=window, window_strides=strides, padding=padding,
                       base_dilation=bd, window_dilation=wd)


def _args(**kw):
    def draw(data, dtype):
        shape, kwargs = data.draw(_problem(**kw), label="problem")
        rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
        if np.dtype(dtype).kind in "iu":
            return [rng.integers(-9, 10, shape).astype(dtype)], kwargs
        return [rng.standard_normal(shape).astype(dtype)], kwargs

    return draw


def _generic(kind, computation):
    def fn(x, **kw):
        dt = np.dtype(x.dtype)
        init = np.asarray(_IDENTITY[kind]).astype(dt) if dt.kind == "f" else \
            {"sum": 0, "max": np.iinfo(dt).min, "min": np.iinfo(dt).max}[kind]
        return lax.reduce_window(x, init, computation, **kw)

    return fn


def _ref(kind):
    def ref(x, **kw):
        return window_reference(x, kind, **kw)

    return ref


def _mul_ref(x, **kw):
    return np.exp(window_reference(np.log(x.astype(np.float64)), "sum", **kw)).astype(x.dtype)


def _pos_args(data, dtype):
    arrays, kwargs = _args()(data, dtype)
    return [np.abs(arrays[0]) + np.asarray(0.5, dtype)], kwargs


SPECS = [
    OpSpec("reduce_window_sum", lambda x, **kw: lax.reduce_window_sum(x, **kw), _ref("sum"),
           args=_args(), dtypes=(np.float32, np.int32), tol=1e-5),
    OpSpec("reduce_window_max", lambda x, **kw: lax.reduce_window_max(x, **kw), _ref("max"),
           args=_args(), dtypes=(np.float32, np.int32)),
    OpSpec("reduce_window_min", lambda x, **kw: lax.reduce_window_min(x, **kw), _ref("min"),
           args=_args(), dtypes=(np.float32, np.int32)),
    OpSpec("reduce_window_string_padding", _generic("max", lax.max), _ref("max"),
           args=_args(dilations=False)),
    OpSpec("reduce_window_generic_add", _generic("sum", lax.add), _ref("sum"), args=_args(),
           tol=1e-5),
    OpSpec("reduce_window_generic_min", _generic("min", lax.min), _ref("min"), args=_args()),
    # Not a monoid the primitives know: folded over the window with traced multiplies.
    OpSpec("reduce_window_generic_mul",
           lambda x, **kw: lax.reduce_window(x, 1.0, lax.mul, **kw), _mul_ref,
           args=_pos_args, tol=1e-4),
]

globals().update(table_tests(SPECS, examples=(10, 3, 3, 3, 2)))


def test_max_pool_gradient_goes_to_the_first_maximum():
    x = np.array([[1.0, 3.0, 3.0, 2.0]], np.float32)
    g = jb.grad(lambda x: jnp.sum(lax.reduce_window_max(x, (1, 2), (1, 2), "VALID")))(x)
    np.testing.assert_array_equal(g, [[0.0, 1.0, 1.0, 0.0]])
    g = jb.grad(lambda x: jnp.sum(lax.reduce_window_max(x, (1, 3), (1, 1), "VALID")))(x)
    np.testing.assert_array_equal(g, [[0.0, 2.0, 0.0, 0.0]])


def test_avg_pool_with_same_padding_grads_order_2():
    rng = np.random.default_rng(0)
    with jb.enable_x64():
        x = rng.standard_normal((2, 5, 6, 3))

        def avg_pool(x):
            s = lax.reduce_window(x, 0.0, lax.add, (1, 3, 3, 1), (1, 2, 2, 1), "SAME")
            n = lax.reduce_window(jnp.ones_like(x), 0.0, lax.add, (1, 3, 3, 1), (1, 2, 2, 1),
                                  "SAME")
            return s / n

        check_grads(avg_pool, (x,), order=2, modes=("fwd", "rev"))


def test_large_windows_use_the_window_view():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 9, 9)).astype(np.float32)
    out = lax.reduce_window_max(x, (1, 7, 7), (1, 1, 1), ((0, 0), (1, 1), (2, 0)))
    np.testing.assert_allclose(out, window_reference(x, "max", (1, 7, 7), (1, 1, 1),
                                                     ((0, 0), (1, 1), (2, 0))))


def test_shape_tuple():
    assert lax.reduce_window_shape_tuple((7, 8), (3, 2), (2, 2), ((1, 1), (0, 0))) == (4, 4)


@pytest.mark.parametrize("call,match", [
    (lambda: lax.reduce_window_sum(np.ones((3, 3)), (2,), (1, 1), "VALID"),
     "window_dimensions"),
    (lambda: lax.reduce_window(np.ones((3, 3)), 0.0, lax.add, (2, 2), (1, 1), "FULL"),
     "Unknown padding"),
    (lambda: lax.reduce_window_max(np.ones((3, 3)), (2, 2), (0, 1), "VALID"), ">= 1"),
])
def test_bad_arguments_name_the_problem(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()
