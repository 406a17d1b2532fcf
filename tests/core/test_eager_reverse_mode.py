"""Eager reverse mode (interpreters/tape.py): grad on concrete values records a tape instead
of staging a Jaxpr. It must give what the staged path (the same grad under jit) gives, for
every kind of tape entry, and fall back to linearizing an application where it must."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jumba as jb
import jumba.lax as lax
import jumba.numpy as jnp
from jumba._src.interpreters import ad, tape
from jumba.test_util import check_grads

FLOATS = st.floats(-2, 2, width=32)


def both(fun, *args, argnums=0):
    """The eager (tape) and staged (jit) gradients."""
    g = jb.grad(fun, argnums=argnums)
    return g(*args), jb.jit(g)(*args)


def assert_trees_close(a, b, rtol=1e-5, atol=1e-6):
    for x, y in zip(jb.tree_util.tree_leaves(a), jb.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


def test_the_eager_path_records_a_tape_not_a_jaxpr(monkeypatch):
    calls = []
    original = ad.linearize_flat
    monkeypatch.setattr(ad, "linearize_flat", lambda *a, **k: calls.append(1) or original(*a, **k))

    def logistic(x):
        return jnp.exp(x) / (jnp.exp(x) + 1)

    assert float(jb.grad(logistic)(1.0)) == pytest.approx(0.19661194, rel=1e-6)
    assert calls == []  # exp, add, div: all transposed from their JVP terms
    jb.grad(lambda x: jnp.max(x))(jnp.arange(3.0))  # reduce_max: linearized on its own
    assert calls == [1]


@given(x=hnp.arrays(np.float32, (3, 4), elements=FLOATS),
       y=hnp.arrays(np.float32, (4,), elements=FLOATS))
def test_elementwise_broadcasting_and_linear_entries(x, y):
    def f(x, y):
        z = jnp.tanh(x * y + 1.0) - jnp.sin(y) / (2.0 + jnp.cos(x))
        return jnp.sum(jnp.reshape(z, (4, 3)).T ** 2) + jnp.sum(jnp.maximum(x, 0.1) * y)

    for argnums in (0, 1, (0, 1)):
        eager, staged = both(f, x, y, argnums=argnums)
        assert_trees_close(eager, staged)


def test_python_control_flow_on_values_and_mixed_entries():
    def f(w, x):
        h = jnp.dot(x, w)
        if float(jnp.sum(h)) > 0:  # concrete values under eager grad
            h = jnp.where(h > 0, h, 0.01 * h)
        return jnp.mean(jnp.log1p(jnp.exp(h))) + jnp.sum(w[1:, ::2] ** 2)

    w = jnp.asarray(np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32))
    x = jnp.asarray(np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32))
    eager = jb.grad(f)(w, x)
    # The same function traced with the branch fixed to the one taken, under jit.
    taken = float(jnp.sum(jnp.dot(x, w))) > 0

    def f_staged(w, x):
        h = jnp.dot(x, w)
        if taken:
            h = jnp.where(h > 0, h, 0.01 * h)
        return jnp.mean(jnp.log1p(jnp.exp(h))) + jnp.sum(w[1:, ::2] ** 2)

    assert_trees_close(eager, jb.jit(jb.grad(f_staged))(w, x))
    check_grads(lambda w: f(w, x), (w,), order=1, modes=("rev",))


def test_control_flow_custom_rules_and_checkpoint_inside_eager_grad():
    def body(c, xi):
        c = jnp.sin(c) * xi + c
        return c, c ** 2

    @jb.custom_vjp
    def clip_grad(x):
        return x

    clip_grad.defvjp(lambda x: (x, None), lambda _, g: (jnp.clip(g, -0.5, 0.5),))

    def f(x):
        c, ys = lax.scan(body, x[0], x)
        y = lax.cond(c > 0, lambda v: v * 2.0, lambda v: v - 1.0, c)
        z = jb.checkpoint(lambda v: jnp.sum(jnp.tanh(v) ** 3),
                          policy=jb.checkpoint_policies.dots_saveable)(x)
        return y + jnp.sum(ys) + z + jnp.sum(clip_grad(x * 3.0))

    x = jnp.asarray(np.linspace(-1, 1, 5, dtype=np.float32))
    eager, staged = both(f, x)
    assert_trees_close(eager, staged, rtol=1e-4, atol=1e-5)


def test_higher_order_and_composition_with_other_transformations():
    f = lambda x: jnp.sum(jnp.sin(x) * x ** 3)  # noqa: E731
    x = jnp.asarray(np.array([0.3, -1.2, 2.0], np.float32))
    hess_eager = jb.jacrev(jb.grad(f))(x)
    hess_fwd = jb.jacfwd(jb.grad(f))(x)
    assert_trees_close(hess_eager, hess_fwd, rtol=1e-4, atol=1e-4)
    per_example = [jb.grad(f)(x[i:i + 1]) for i in range(3)]
    assert_trees_close(jb.vmap(jb.grad(f))(x[:, None]), jnp.stack(per_example))
    g2 = jb.grad(jb.grad(lambda s: jnp.exp(s) / (jnp.exp(s) + 1)))(1.0)
    s = 1 / (1 + np.exp(-1.0))
    assert float(g2) == pytest.approx(s * (1 - s) * (1 - 2 * s), rel=1e-5)


def test_integer_inputs_outputs_and_unused_inputs():
    def f(x, n, unused):
        return jnp.sum(x * n) + jnp.argmax(x).astype(jnp.float32)

    x = jnp.asarray([1.0, 3.0, 2.0])
    gx, gn, gu = jb.grad(f, argnums=(0, 1, 2), allow_int=True)(x, jnp.asarray(2),
                                                                jnp.zeros(2))
    np.testing.assert_allclose(np.asarray(gx), [2.0, 2.0, 2.0])
    assert gn.dtype == jb.dtypes.float0 and np.all(np.asarray(gu) == 0)
    out, f_vjp = jb.vjp(lambda x: (x * 2.0, jnp.floor(x)), x)
    cts = f_vjp((jnp.ones(3), jnp.ones(3)))
    np.testing.assert_allclose(np.asarray(cts[0]), [2.0, 2.0, 2.0])  # floor: zero derivative
    again = f_vjp((jnp.full(3, 0.5), jnp.zeros(3)))  # a vjp function can be called again
    np.testing.assert_allclose(np.asarray(again[0]), [1.0, 1.0, 1.0])


def test_leaked_tape_tracer_is_reported():
    leaked = []

    def f(x):
        leaked.append(x)
        return x * 2.0

    jb.grad(f)(1.0)
    assert isinstance(leaked[0], tape.TapeTracer)
    with pytest.raises(jb.UnexpectedTracerError, match="escaped"):
        leaked[0] + 1.0
