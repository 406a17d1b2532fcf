"""checkpoint / remat: same values and gradients as the plain function under every
transformation, and the backward pass recomputes (or saves what the policy says)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba as jb
import jumba.numpy as jnp
from jumba.ad_checkpoint import checkpoint_name
from jumba.test_util import check_grads

vectors = st.lists(st.floats(-3.0, 3.0, allow_nan=False, width=32), min_size=1,
                   max_size=4).map(lambda v: np.array(v, np.float32))


def f(x):
    return jnp.sin(jnp.sin(x) * 2.0).sum()


def mlp(w, x):
    h = checkpoint_name(jnp.tanh(w @ x), "hidden")
    return jnp.sin(h).sum()


def _eqns(jaxpr):
    """Every equation, with those inside nested Jaxprs (checkpoint bodies)."""
    out = []
    for e in jaxpr.eqns:
        out.append(e)
        for p in e.params.values():
            inner = getattr(p, "jaxpr", None)
            if inner is not None and hasattr(inner, "eqns"):
                out += _eqns(inner)
    return out


def _count(closed, name):
    return sum(e.primitive.name == name for e in _eqns(closed.jaxpr))


@settings(max_examples=10, deadline=None)
@given(vectors)
def test_remat_values_and_gradients_equal_plain(x):
    g = jb.checkpoint(f)
    np.testing.assert_allclose(g(x), f(x), rtol=1e-6)
    expected = jb.grad(f)(x)
    np.testing.assert_allclose(jb.grad(g)(x), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jb.jit(jb.grad(g))(x), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jb.grad(jb.jit(g))(x), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jb.jvp(g, (x,), (np.ones_like(x),))[1],
                               jb.jvp(f, (x,), (np.ones_like(x),))[1], rtol=1e-5, atol=1e-6)
    xs = np.stack([x, 2 * x])
    np.testing.assert_allclose(jb.vmap(jb.grad(g))(xs), jb.vmap(jb.grad(f))(xs), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(jb.grad(lambda v: jb.vmap(g)(v).sum())(xs),
                               jb.vmap(jb.grad(f))(xs), rtol=1e-5, atol=1e-6)


def test_remat_check_grads_and_hessian():
    x = np.array([0.3, -0.7, 1.1], np.float32)
    check_grads(jb.checkpoint(f), (x,), order=2, modes=("fwd", "rev"))
    np.testing.assert_allclose(jb.hessian(jb.remat(f))(x), jb.hessian(f)(x), rtol=1e-4,
                               atol=1e-5)


def test_grad_jaxpr_recomputes_forward_in_its_own_equation():
    x = jnp.arange(3.0)
    plain = jb.make_jaxpr(jb.grad(f))(x)
    remat = jb.make_jaxpr(jb.grad(jb.checkpoint(f)))(x)
    # Plain: sin computed once per use on the forward pass, its residuals saved.
    assert _count(plain, "sin") == 2
    # Remat: the backward checkpoint equation recomputes the inner sin (the outer one's
    # value is not needed by the backward pass, so it is not recomputed).
    bwd = [e for e in remat.jaxpr.eqns if e.primitive.name == "checkpoint"]
    assert len(bwd) == 1 and bwd[0].params["differentiated"]
    assert _count(bwd[0].params["call_jaxpr"], "sin") == 1
    assert _count(remat, "sin") == 3
    # The linearized program saves only the body's input: no cos on the forward pass.
    assert not any(e.primitive.name == "cos" for e in remat.jaxpr.eqns)
    assert str(remat).count("cos") == 2  # both cosines inside the backward equation


def test_policies_choose_what_is_saved():
    w, x = jnp.ones((4, 3)) * 0.1, jnp.arange(3.0)
    expected = jb.grad(mlp)(w, x)
    policies = jb.checkpoint_policies
    counts = {}
    for name, pol in [("nothing", policies.nothing_saveable),
                      ("dots", policies.dots_saveable),
                      ("checkpoint_dots", policies.checkpoint_dots),
                      ("names", policies.save_only_these_names("hidden")),
                      ("names_but", policies.save_any_names_but_these("other")),
                      ("everything", policies.everything_saveable)]:
        g = jb.checkpoint(mlp, policy=pol)
        np.testing.assert_allclose(jb.grad(g)(w, x), expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(jb.jit(jb.grad(g))(w, x), expected, rtol=1e-5, atol=1e-6)
        closed = jb.make_jaxpr(jb.grad(g))(w, x)
        bwd = [e for e in closed.jaxpr.eqns if e.primitive.name == "checkpoint"]
        counts[name] = None if not bwd else (_count(bwd[0].params["call_jaxpr"], "dot_general"),
                                             _count(bwd[0].params["call_jaxpr"], "tanh"))
    assert counts["nothing"] == (3, 1)  # forward dot recomputed, plus two transposed dots
    assert counts["dots"] == counts["checkpoint_dots"] == (2, 1)  # the product is saved
    assert counts["names"] == counts["names_but"] == (3, 1)  # tanh' needs tanh: recomputed
    assert counts["everything"] is None  # no recomputation at all


def test_named_value_is_not_recomputed_when_saved():
    def g(x):
        y = checkpoint_name(jnp.sin(x) * 2.0, "y")
        return jnp.sin(y).sum()

    x = jnp.arange(3.0)
    counts = {}
    for names in [(), ("y",)]:
        r = jb.checkpoint(g, policy=jb.checkpoint_policies.save_only_these_names(*names))
        np.testing.assert_allclose(jb.grad(r)(x), jb.grad(g)(x), rtol=1e-5)
        closed = jb.make_jaxpr(jb.grad(r))(x)
        (bwd,) = [e for e in closed.jaxpr.eqns if e.primitive.name == "checkpoint"]
        counts[names] = _count(bwd.params["call_jaxpr"], "sin")
    # Unsaved, y = 2 sin(x) is recomputed for cos(y); saved, no sin runs on the way back.
    assert counts == {(): 1, ("y",): 0}


def test_static_argnums_kwargs_and_pytrees():
    def h(params, x, n):
        for _ in range(n):
            x = jnp.tanh(params["w"] * x + params["b"])
        return x.sum()

    params = {"w": jnp.array(0.5), "b": jnp.array(0.1)}
    x = jnp.arange(3.0)
    r = jb.checkpoint(h, static_argnums=(2,))
    expected = jb.grad(h)(params, x, 3)
    got = jb.grad(r)(params, x, 3)
    for k in params:
        np.testing.assert_allclose(got[k], expected[k], rtol=1e-5)
    got = jb.jit(jb.grad(lambda p, x: r(p, x, n=3)))(params, x)
    for k in params:
        np.testing.assert_allclose(got[k], expected[k], rtol=1e-5)


def test_remat_closure_over_outer_tracer():
    def outer(w, x):
        return jb.checkpoint(lambda x: jnp.sin(w * x).sum())(x)

    w, x = jnp.array(1.5), jnp.arange(3.0)
    gw, gx = jb.grad(outer, argnums=(0, 1))(w, x)
    ew, ex = jb.grad(lambda w, x: jnp.sin(w * x).sum(), argnums=(0, 1))(w, x)
    np.testing.assert_allclose(gw, ew, rtol=1e-5)
    np.testing.assert_allclose(gx, ex, rtol=1e-5)


def test_checkpoint_errors():
    with pytest.raises(TypeError, match="checkpoint expects a callable"):
        jb.checkpoint(3)
