"""custom_jvp, custom_vjp and custom_gradient: the user's rule is used under every
transformation (jvp, grad, vjp, jacfwd/jacrev, hessian, vmap, jit), values agree with the
plain function, and misuse raises JAX's errors."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba as jb
import jumba.numpy as jnp
from jumba.custom_derivatives import SymbolicZero
from jumba.test_util import check_grads

floats = st.floats(-20.0, 20.0, allow_nan=False, width=32)
vectors = st.lists(floats, min_size=1, max_size=5).map(lambda v: np.array(v, np.float32))


# ---------------------------------------------------------------------------------------
# custom_jvp: a numerically stable log(1 + exp(x))


@jb.custom_jvp
def log1pexp(x):
    return jnp.log1p(jnp.exp(x))


@log1pexp.defjvp
def _log1pexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return log1pexp(x), t * (1.0 - 1.0 / (1.0 + jnp.exp(x)))


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.float64(x)))


def test_custom_jvp_rule_is_used_where_autodiff_gives_nan():
    # Plain autodiff of log1p(exp(x)) at 100 gives inf/inf = nan; the rule gives 1.
    assert np.isnan(float(jb.grad(lambda x: jnp.log1p(jnp.exp(x)))(100.0)))
    assert float(jb.grad(log1pexp)(100.0)) == 1.0
    assert float(jb.jit(jb.grad(log1pexp))(100.0)) == 1.0
    assert float(jb.jvp(log1pexp, (100.0,), (1.0,))[1]) == 1.0


@settings(max_examples=15, deadline=None)
@given(vectors)
def test_custom_jvp_under_transformations(x):
    expected = _sigmoid(x)
    np.testing.assert_allclose(log1pexp(x), np.log1p(np.exp(np.float64(x))), rtol=1e-5,
                               atol=1e-6)
    g = jb.vmap(jb.grad(log1pexp))(x)
    np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-6)
    g2 = jb.grad(lambda v: jb.vmap(log1pexp)(v).sum())(x)
    np.testing.assert_allclose(g2, expected, rtol=1e-5, atol=1e-6)
    g3 = jb.jit(jb.grad(lambda v: log1pexp(v).sum()))(x)
    np.testing.assert_allclose(g3, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jb.jacfwd(log1pexp)(x), np.diag(expected), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jb.jacrev(log1pexp)(x), np.diag(expected), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(jb.jit(log1pexp)(x), log1pexp(x), rtol=1e-6)


def test_custom_jvp_hessian_differentiates_the_rule():
    h = jb.hessian(log1pexp)(0.5)
    s = _sigmoid(0.5)
    np.testing.assert_allclose(h, s * (1 - s), rtol=1e-5)


def test_custom_jvp_check_grads():
    check_grads(log1pexp, (np.array([-1.5, 0.3, 2.0], np.float32),), order=2,
                modes=("fwd", "rev"))
    with jb.enable_x64():
        check_grads(log1pexp, (np.array([-1.5, 0.3, 2.0]),), order=2, modes=("fwd", "rev"))


def test_custom_jvp_rule_is_what_differentiation_sees():
    @jb.custom_jvp
    def f(x):
        return jnp.sin(x)

    f.defjvp(lambda p, t: (f(p[0]), 3.0 * t[0]))  # deliberately not cos: we see the rule
    assert float(jb.grad(f)(0.7)) == 3.0
    assert float(jb.jvp(f, (0.7,), (1.0,))[1]) == 3.0
    np.testing.assert_allclose(jb.vmap(jb.grad(f))(jnp.arange(3.0)), [3.0, 3.0, 3.0])
    np.testing.assert_allclose(jb.grad(lambda x: jb.vmap(f)(x).sum())(jnp.arange(3.0)),
                               [3.0, 3.0, 3.0])
    assert float(jb.jit(jb.grad(f))(0.7)) == 3.0
    assert float(jb.grad(jb.jit(f))(0.7)) == 3.0
    np.testing.assert_allclose(f(0.7), np.sin(np.float32(0.7)), rtol=1e-6)


def test_custom_jvp_defjvps_and_pytrees():
    @jb.custom_jvp
    def f(x, y):
        return x * y

    f.defjvps(lambda tx, ans, x, y: 2.0 * tx * y, lambda ty, ans, x, y: 2.0 * x * ty)
    gx, gy = jb.grad(f, argnums=(0, 1))(3.0, 4.0)
    assert (float(gx), float(gy)) == (8.0, 6.0)

    @jb.custom_jvp
    def g(d):
        return {"s": d["a"] + d["b"], "p": d["a"] * d["b"]}

    @g.defjvp
    def _g_jvp(primals, tangents):
        (d,), (t,) = primals, tangents
        return g(d), {"s": t["a"] + t["b"], "p": t["a"] * d["b"] + d["a"] * t["b"]}

    d = {"a": jnp.array(2.0), "b": jnp.array(5.0)}
    grads = jb.grad(lambda d: g(d)["p"] + g(d)["s"])(d)
    assert (float(grads["a"]), float(grads["b"])) == (6.0, 3.0)


def test_custom_jvp_nondiff_argnums():
    @functools.partial(jb.custom_jvp, nondiff_argnums=(0,))
    def app(f, x):
        return f(x)

    @app.defjvp
    def _app_jvp(f, primals, tangents):
        (x,), (t,) = primals, tangents
        return app(f, x), 10.0 * t

    assert float(jb.grad(lambda x: app(jnp.sin, x))(1.0)) == 10.0
    assert float(jb.jit(jb.grad(lambda x: app(jnp.sin, x)))(1.0)) == 10.0

    fix = jb.custom_jvp(lambda n, x: x ** n, nondiff_argnums=(0,))
    fix.defjvp(lambda n, p, t: (fix(n, p[0]), n * p[0] ** (n - 1) * t[0]))
    assert float(jb.grad(fix, argnums=1)(3, 2.0)) == 12.0


def test_custom_jvp_closure_over_jit_value():
    @jb.jit
    def outer(w, x):
        @jb.custom_jvp
        def f(x):
            return w * jnp.sin(x)

        f.defjvp(lambda p, t: (f(p[0]), w * jnp.cos(p[0]) * t[0]))
        return jb.grad(f)(x)

    np.testing.assert_allclose(outer(2.0, 0.5), 2.0 * np.cos(0.5), rtol=1e-6)


def test_custom_jvp_errors():
    f = jb.custom_jvp(lambda x: x)
    with pytest.raises(AttributeError, match="No JVP defined for custom_jvp function"):
        jb.grad(f)(1.0)

    g = jb.custom_jvp(lambda x: (x, x))
    g.defjvp(lambda p, t: (g(p[0]), t[0]))  # tangent structure differs from the output
    with pytest.raises(TypeError, match="equal container"):
        jb.jvp(g, (1.0,), (1.0,))

    h = jb.custom_jvp(lambda x: x * 2)
    h.defjvp(lambda p, t: (h(p[0]), jnp.ones(3)))
    with pytest.raises(ValueError, match="equal shapes"):
        jb.jvp(h, (1.0,), (1.0,))

    k = jb.custom_jvp(lambda x: x * 2)
    k.defjvp(lambda p, t: h(p[0]))
    with pytest.raises(TypeError, match="must produce a pair"):
        jb.grad(k)(1.0)


def test_custom_jvp_make_jaxpr_shows_the_call():
    text = str(jb.make_jaxpr(log1pexp)(1.0))
    assert "custom_jvp_call" in text and "log1p" in text


# ---------------------------------------------------------------------------------------
# custom_vjp: gradient clipping


@jb.custom_vjp
def clip_gradient(lo, hi, x):
    return x


def _clip_fwd(lo, hi, x):
    return x, (lo, hi)


def _clip_bwd(res, g):
    lo, hi = res
    return (None, None, jnp.clip(g, lo, hi))


clip_gradient.defvjp(_clip_fwd, _clip_bwd)


def _loss(x):
    return (4.0 * clip_gradient(-1.0, 1.0, x)).sum()


@settings(max_examples=10, deadline=None)
@given(vectors)
def test_custom_vjp_under_transformations(x):
    ones = np.ones_like(x)
    np.testing.assert_array_equal(clip_gradient(-1.0, 1.0, x), x)
    np.testing.assert_array_equal(jb.grad(_loss)(x), ones)
    np.testing.assert_array_equal(jb.jit(jb.grad(_loss))(x), ones)
    np.testing.assert_array_equal(jb.grad(jb.jit(_loss))(x), ones)
    np.testing.assert_array_equal(
        jb.vmap(jb.grad(lambda v: 4.0 * clip_gradient(-1.0, 1.0, v)))(x), ones)
    np.testing.assert_array_equal(
        jb.grad(lambda v: jb.vmap(lambda e: 4.0 * clip_gradient(-1.0, 1.0, e))(v).sum())(x),
        ones)
    np.testing.assert_array_equal(jb.jacrev(lambda v: 4.0 * clip_gradient(-1.0, 1.0, v))(x),
                                  np.eye(len(x)))
    out, f_vjp = jb.vjp(lambda v: clip_gradient(-0.5, 0.5, v), x)
    np.testing.assert_array_equal(f_vjp(jnp.full(x.shape, 3.0))[0], 0.5 * ones)


def test_custom_vjp_forward_mode_raises_jax_error():
    msg = "can't apply forward-mode autodiff \\(jvp\\) to a custom_vjp function"
    x = jnp.arange(3.0)
    with pytest.raises(TypeError, match=msg):
        jb.jvp(_loss, (x,), (jnp.ones(3),))
    with pytest.raises(TypeError, match=msg):
        jb.jacfwd(_loss)(x)
    with pytest.raises(TypeError, match=msg):
        jb.jit(lambda x, t: jb.jvp(_loss, (x,), (t,)))(x, jnp.ones(3))
    _, f_jvp = jb.linearize(_loss, x)
    with pytest.raises(TypeError, match=msg):
        f_jvp(jnp.ones(3))


def test_custom_vjp_pytree_residuals_and_second_order():
    @jb.custom_vjp
    def f(x, y):
        return jnp.sin(x) * y

    def fwd(x, y):
        # Not f(x, y): forward mode (the outer jacfwd of hessian) cannot enter a custom_vjp
        # function, but it can go through fwd's own operations.
        return jnp.sin(x) * y, {"cos": jnp.cos(x), "parts": (jnp.sin(x), y)}

    def bwd(res, g):
        sin_x, y = res["parts"]
        return (g * res["cos"] * y, g * sin_x)

    f.defvjp(fwd, bwd)
    x, y = 0.3, 2.0
    gx, gy = jb.grad(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose([gx, gy], [np.cos(x) * y, np.sin(x)], rtol=1e-6)
    # Second order: forward mode through fwd and bwd (jacfwd of jacrev), as in JAX.
    h = jb.hessian(f)(x, y)
    np.testing.assert_allclose(h, -np.sin(x) * y, rtol=1e-5)
    hh = jb.grad(jb.grad(f))(x, y)
    np.testing.assert_allclose(hh, -np.sin(x) * y, rtol=1e-5)
    # vmap of the function and its gradient, jit of both.
    xs = jnp.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(jb.vmap(jb.grad(f), in_axes=(0, None))(xs, y),
                               np.cos(np.asarray(xs)) * y, rtol=1e-6)
    np.testing.assert_allclose(jb.jit(jb.vmap(f, in_axes=(0, None)))(xs, y),
                               np.sin(np.asarray(xs)) * y, rtol=1e-6)
    gy_batched = jb.grad(lambda y: jb.vmap(f, in_axes=(0, None))(xs, y).sum())(y)
    np.testing.assert_allclose(gy_batched, np.sin(np.asarray(xs)).sum(), rtol=1e-6)


def test_custom_vjp_nondiff_argnums_and_integer_inputs():
    @functools.partial(jb.custom_vjp, nondiff_argnums=(0,))
    def scale(k, x, n):
        return x * k * n
    scale.defvjp(lambda k, x, n: (scale(k, x, n), n), lambda k, n, g: (g * k * 100, None))
    assert float(jb.grad(scale, argnums=1)(2.0, 3.0, 1)) == 200.0


def test_custom_vjp_symbolic_zeros():
    seen = {}

    @jb.custom_vjp
    def f(x, y):
        return x * y

    def fwd(x, y):
        seen["perturbed"] = (x.perturbed, y.perturbed)
        return f(x.value, y.value), (x.value, y.value)

    def bwd(res, g):
        x, y = res
        return (g * y, g * x)

    f.defvjp(fwd, bwd, symbolic_zeros=True)
    assert float(jb.grad(f)(2.0, 5.0)) == 5.0
    assert seen["perturbed"] == (True, False)


def test_custom_vjp_errors():
    f = jb.custom_vjp(lambda x: x)
    with pytest.raises(AttributeError, match="No VJP defined for custom_vjp function"):
        jb.grad(f)(1.0)

    g = jb.custom_vjp(lambda x, y: x * y)
    g.defvjp(lambda x, y: (x * y, (x, y)), lambda res, ct: (ct,))  # one cotangent short
    with pytest.raises(TypeError, match="one cotangent per"):
        jb.grad(g)(1.0, 2.0)

    h = jb.custom_vjp(lambda x: x)
    h.defvjp(lambda x: x, lambda res, ct: (ct,))  # fwd returns no residuals
    with pytest.raises(TypeError, match="must produce a pair"):
        jb.grad(h)(1.0)

    k = jb.custom_vjp(lambda x: x * 2)
    k.defvjp(lambda x: (x * 2, None), lambda res, ct: (jnp.ones(3),))
    with pytest.raises(ValueError, match="shapes of the primal arguments"):
        jb.grad(k)(1.0)


# ---------------------------------------------------------------------------------------
# custom_gradient


def test_custom_gradient():
    @jb.custom_gradient
    def f(x):
        y = jnp.sin(x)
        return y, lambda g: (g * 10.0 * jnp.cos(x),)

    np.testing.assert_allclose(f(0.4), np.sin(0.4), rtol=1e-6)
    np.testing.assert_allclose(jb.grad(f)(0.4), 10.0 * np.cos(0.4), rtol=1e-6)
    np.testing.assert_allclose(jb.jit(jb.grad(f))(0.4), 10.0 * np.cos(0.4), rtol=1e-6)
    xs = jnp.array([0.1, 0.2])
    np.testing.assert_allclose(jb.vmap(jb.grad(f))(xs), 10.0 * np.cos(np.asarray(xs)),
                               rtol=1e-6)
    np.testing.assert_allclose(jb.grad(lambda v: jb.vmap(f)(v).sum())(xs),
                               10.0 * np.cos(np.asarray(xs)), rtol=1e-6)


def test_closing_over_a_differentiated_value_is_an_error():
    def outer(w):
        f = jb.custom_vjp(lambda x: w * x)
        f.defvjp(lambda x: (w * x, None), lambda res, g: (g * w,))
        return f(2.0)

    with pytest.raises(TypeError, match="closes over a value that is being differentiated"):
        jb.grad(outer)(3.0)


def test_custom_jvp_symbolic_zeros():
    seen = []

    @jb.custom_jvp
    def f(x, y):
        return x * y

    @functools.partial(f.defjvp, symbolic_zeros=True)
    def _f_jvp(primals, tangents):
        (x, y), (tx, ty) = primals, tangents
        seen.append(tuple(type(t).__name__ for t in tangents))
        out = tx * y
        if not isinstance(ty, SymbolicZero):
            out = out + x * ty
        return f(x, y), out

    assert float(jb.grad(f)(2.0, 5.0)) == 5.0
    assert seen[-1][1] == "SymbolicZero"

