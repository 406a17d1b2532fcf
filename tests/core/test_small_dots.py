"""Products with a tiny contraction written as broadcast multiplies for tier 1
(compiler/small_dots.py): the rewritten program computes the product (any dimension
numbers, batch dimensions included), only small float contractions with large outputs are
rewritten, and on tier 1 the product fuses into its elementwise consumers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba as jb
import jumba.numpy as jnp
from jumba import lax
from jumba._src.compiler import passes, small_dots
from jumba._src.core import eval_jaxpr
from tests.core.tier_runs import run_tier1


def _expanded(f, *args):
    closed = jb.make_jaxpr(f)(*args)
    return closed, passes.expand_for_kernels(closed)


def _names(closed):
    return [e.primitive.name for e in closed.jaxpr.eqns]


@st.composite
def _products(draw):
    """Operands and dimension numbers of a dot_general with a contraction of 1-4 elements
    (in one or two axes), 0-1 batch axes and 1-2 free axes per side, axes in any order."""
    k_shape = draw(st.sampled_from([(1,), (2,), (3,), (4,), (2, 2), (1, 3)]))
    batch = draw(st.lists(st.integers(1, 3), max_size=1))
    x_free = draw(st.lists(st.integers(1, 70), min_size=1, max_size=2))
    y_free = draw(st.lists(st.integers(1, 70), min_size=1, max_size=2))

    def operand(free):
        axes = [("b", i, n) for i, n in enumerate(batch)] + \
            [("c", i, n) for i, n in enumerate(k_shape)] + \
            [("f", i, n) for i, n in enumerate(free)]
        return draw(st.permutations(axes))

    xa, ya = operand(x_free), operand(y_free)

    def dims(axes, kind):
        """Positions of the `kind` axes, in the order of their index (so x's and y's pair)."""
        return tuple(p for p, _ in sorted(((p, a[1]) for p, a in enumerate(axes)
                                           if a[0] == kind), key=lambda t: t[1]))

    dn = ((dims(xa, "c"), dims(ya, "c")), (dims(xa, "b"), dims(ya, "b")))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal([a[2] for a in xa]).astype(np.float32)
    y = rng.standard_normal([a[2] for a in ya]).astype(np.float32)
    return x, y, dn


@settings(max_examples=40, deadline=None)
@given(case=_products())
def test_rewritten_products_match_a_float64_product(case):
    x, y, dn = case

    def f(x, y):
        return lax.dot_general(x, y, dn)

    min_size, small_dots.MIN_SIZE = small_dots.MIN_SIZE, 0
    try:
        closed, expanded = _expanded(f, x, y)
    finally:
        small_dots.MIN_SIZE = min_size
    assert "dot_general" not in _names(expanded)
    (got,) = eval_jaxpr(expanded.jaxpr, expanded.consts, x, y)
    with jb.config_context(jax_enable_x64=True):
        want = np.asarray(f(x.astype(np.float64), y.astype(np.float64)))
    assert want.dtype == np.float64
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-5)


def test_only_small_float_contractions_with_large_outputs_are_rewritten():
    rng = np.random.default_rng(0)

    def kept(x, y):
        return "dot_general" in _names(_expanded(jnp.matmul, x, y)[1])

    f32 = np.float32
    assert not kept(rng.standard_normal((4096, 4)).astype(f32),
                    rng.standard_normal((4, 2)).astype(f32))
    assert kept(rng.standard_normal((4096, 5)).astype(f32),  # K = 5: BLAS
                rng.standard_normal((5, 2)).astype(f32))
    assert kept(rng.standard_normal((64, 4)).astype(f32),  # a small output: one call
                rng.standard_normal((4, 2)).astype(f32))
    assert kept(np.ones((4096, 2), np.int32), np.ones((2, 2), np.int32))  # integers
    with jb.config_context(jax_enable_x64=True):
        x64 = rng.standard_normal((4096, 2))
        assert kept(x64, rng.standard_normal((2, 3)))  # float64, K > 1: BLAS
        assert not kept(x64[:, :1], rng.standard_normal((1, 3)))  # K = 1: a multiply
        # A product accumulated in a wider type than its operands keeps its dot.
        assert "dot_general" in _names(_expanded(
            lambda x, y: lax.dot(x, y, preferred_element_type=np.float64),
            x64.astype(f32), np.ones((2, 3), f32))[1])


def test_gradients_through_the_rewritten_program_match_the_dot():
    """The value head's backward outer product and the first layer's K=4 product of an
    MLP: a tier-0 run of the expanded gradient program equals the unexpanded one."""
    rng = np.random.default_rng(1)
    obs = rng.standard_normal((4096, 4)).astype(np.float32)
    w0 = rng.standard_normal((4, 16)).astype(np.float32)
    w1 = rng.standard_normal((16, 1)).astype(np.float32)

    def loss(w0, w1):
        return jnp.sum(jnp.tanh(obs @ w0) @ w1) ** 2 / obs.shape[0]

    closed, expanded = _expanded(jb.grad(loss, argnums=(0, 1)), w0, w1)
    assert "dot_general" in _names(closed)
    assert _names(expanded).count("dot_general") < _names(closed).count("dot_general")
    got = eval_jaxpr(expanded.jaxpr, expanded.consts, w0, w1)
    want = eval_jaxpr(closed.jaxpr, closed.consts, w0, w1)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=2e-5, atol=1e-4)


@pytest.mark.numba
def test_tier1_fuses_small_products_into_their_consumers():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((16384, 4)).astype(np.float32)
    w = rng.standard_normal((4, 64)).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    c = rng.standard_normal(16384).astype(np.float32)
    m = rng.standard_normal(64).astype(np.float32)

    def f(x, w, b, c, m):
        h = jnp.tanh(x @ w + b)
        return h, (c[:, None] @ m[None, :]) * h

    (h, g), text = run_tier1(f, x, w, b, c, m)
    tier1 = text.split("# Tier 1")[1].split("# kernel_0")[0]
    assert "dot_general" not in tier1 and "_matmul" not in tier1
    h64 = np.tanh(x.astype(np.float64) @ w + b)
    np.testing.assert_allclose(np.asarray(h), h64, rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(np.asarray(g), np.outer(c, m) * h64, rtol=1e-5, atol=1e-5)
    assert np.asarray(h).dtype == np.float32


def test_a_broadcast_operand_along_the_first_axis_is_split_with_the_loop():
    """A kernel split along its first axis slices the inputs that run along it: a (N,)
    column broadcast to (N, M) along axis 0 is one (its reads index i0), a (M,) row is
    not, whatever their ranks say under NumPy's trailing alignment."""
    from jumba._src.compiler import fusion
    from jumba._src.compiler.kernels import kernel_spec

    def f(c, r, h):
        return lax.broadcast_in_dim(c, h.shape, (0,)) * h + r

    args = (np.ones(8192, np.float32), np.ones(4, np.float32), np.ones((8192, 4), np.float32))
    closed = passes.optimize(jb.make_jaxpr(f)(*args))
    (group,) = [n for n in fusion.partition(closed.jaxpr) if isinstance(n, fusion.FusedGroup)]
    spec = kernel_spec(group)
    along = dict(zip(spec.array_inputs, spec.along_first))
    c, r, h = closed.jaxpr.invars
    assert along == {c: True, r: False, h: True}


@pytest.mark.numba
def test_tier1_split_kernels_read_broadcast_columns_by_row(monkeypatch):
    from jumba._src.runtime import blas

    monkeypatch.setattr(blas, "num_threads", lambda: 2)
    monkeypatch.setattr(blas, "split_now", lambda: True)
    monkeypatch.setattr(blas, "PARALLEL_WORK", 0)
    rng = np.random.default_rng(3)
    c = rng.standard_normal(16384).astype(np.float32)
    h = rng.standard_normal((16384, 64)).astype(np.float32)

    def f(c, h):
        return jnp.tanh(lax.broadcast_in_dim(c, h.shape, (0,)) * h)

    out, text = run_tier1(f, c, h)
    assert "_run_nest(" in text
    np.testing.assert_allclose(np.asarray(out), np.tanh(c[:, None] * h.astype(np.float64)),
                               rtol=1e-5, atol=2e-6)
