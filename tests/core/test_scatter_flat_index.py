"""The scatter family's NumPy implementation combines through one flat index into the
output buffer (lax/gather_scatter.py): the same results as updating element by element in
order, repeated and out-of-bounds indices included, and take_along_axis's gradient (a
scatter-add of one element per row) matches finite differences."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba as jb
import jumba.numpy as jnp
from jumba.test_util import check_grads


def _loop(x, rows, cols, vals, combine):
    """Element by element, in order: the reference."""
    out = x.copy()
    for r, c, v in zip(rows, cols, vals):
        if 0 <= r < x.shape[0] and 0 <= c < x.shape[1]:
            out[r, c] = combine(out[r, c], v)
    return out


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 60), rows=st.integers(1, 6),
       cols=st.integers(1, 5), op=st.sampled_from(["add", "mul", "min", "max", "set"]))
def test_scatters_match_an_in_order_loop(seed, n, rows, cols, op):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    r = rng.integers(-rows, rows + 2, n)  # negative: from the end; >= rows: dropped
    c = rng.integers(0, cols, n)
    v = rng.standard_normal(n).astype(np.float32)
    combine = {"add": np.add, "mul": np.multiply, "min": np.minimum, "max": np.maximum,
               "set": lambda old, new: new}[op]
    keep = r < rows

    def f(x, v):
        return getattr(jnp.asarray(x).at[r, c], op)(v, mode="drop")

    want = _loop(x, r[keep] % rows, c[keep], v[keep], combine)
    got = np.asarray(f(x, v))
    if op == "set":  # the last of repeated indices wins, as in the loop
        np.testing.assert_array_equal(got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(jb.jit(f)(x, v)), got, rtol=1e-6, atol=1e-6)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 40), k=st.integers(1, 4))
def test_take_along_axis_gradient(seed, n, k):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, k))
    idx = rng.integers(0, k, (n, 1)).astype(np.int32)
    w = rng.standard_normal(n)

    def f(x):
        return jnp.sum(jnp.take_along_axis(x, idx, 1)[:, 0] ** 2 * w)

    with jb.config_context(jax_enable_x64=True):
        g = np.asarray(jb.grad(f)(x))
        want = np.zeros_like(x)
        want[np.arange(n), idx[:, 0]] = 2 * x[np.arange(n), idx[:, 0]] * w
        np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-12)
        check_grads(f, (x,), order=2, modes=["fwd", "rev"])
