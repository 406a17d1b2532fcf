"""Filtered transformations on modules mixing arrays, static fields, functions and Python
scalars; filter_jit's cache (retraces only when the static structure changes) and its
per-call overhead."""

import time
from typing import Any

import numpy as np
import pytest

import jumba
import jumba.numpy as jnp
import jumba.random as jr
import jumba_pytree_models as eqx
from jumba import tree_util as jtu


class Mixed(eqx.Module):
    weight: Any                    # float array: traced and differentiated
    index: Any                     # int array: traced, not differentiated
    scale: float                   # Python scalar: static under filter_jit
    activation: Any                # function: static
    name: str = eqx.field(static=True, default="mixed")

    def __call__(self, x):
        return self.activation(self.weight * x)[self.index] * self.scale


def _mixed(scale=2.0, activation=jnp.tanh):
    return Mixed(jnp.array([0.5, -1.0, 2.0]), jnp.array([0, 2]), scale, activation)


def _allclose(a, b, **kw):
    for x, y in zip(jtu.tree_leaves(a), jtu.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6, **kw)


def test_filter_jit_matches_eager_and_returns_static_values():
    m = _mixed()

    @eqx.filter_jit
    def f(model, x, label):
        return {"y": model(x), "label": label, "fn": model.activation, "n": 3}

    out = f(m, jnp.ones(3), "hello")
    _allclose(out["y"], m(jnp.ones(3)))
    assert out["label"] == "hello" and out["fn"] is jnp.tanh and out["n"] == 3


def test_filter_jit_retraces_only_when_static_structure_changes():
    traces = []

    @eqx.filter_jit
    def f(model, x):
        traces.append(1)
        return model(x)

    m = _mixed()
    f(m, jnp.ones(3))
    f(m, jnp.ones(3) * 2)                                      # new values: no retrace
    f(eqx.tree_at(lambda t: t.weight, m, jnp.zeros(3)), jnp.ones(3))
    f(m, np.ones(3, np.float32))                               # NumPy arrays are traced
    assert len(traces) == 1
    f(m, jnp.ones(1))                                          # new shape
    assert len(traces) == 2
    f(_mixed(scale=3.0), jnp.ones(3))                          # new Python scalar
    f(_mixed(activation=jnp.sin), jnp.ones(3))                 # new function
    assert len(traces) == 4
    f(_mixed(scale=3.0), jnp.ones(3))                          # both cached now
    f(_mixed(activation=jnp.sin), jnp.ones(3))
    assert len(traces) == 4
    assert f._cache_size() == 3


def test_filter_jit_static_output_depending_on_shape():
    f = eqx.filter_jit(lambda x: (x * 2, x.shape))
    assert f(jnp.ones(2))[1] == (2,)
    assert f(jnp.ones(5))[1] == (5,)
    assert f(jnp.ones(2))[1] == (2,)


def test_filter_jit_methods_and_decorated_methods():
    class Model(eqx.Module):
        w: Any

        @eqx.filter_jit
        def apply(self, x):
            return self.w * x

    m = Model(jnp.array(3.0))
    assert float(m.apply(2.0)) == 6.0
    assert float(eqx.filter_jit(m.apply)(jnp.array(2.0))) == 6.0
    with pytest.raises(ValueError, match="donate"):
        eqx.filter_jit(lambda x: x, donate="sometimes")


def test_filter_jit_unhashable_static_leaf_error():
    class Unhashable:
        __hash__ = None

    f = eqx.filter_jit(lambda x, obj: x)
    with pytest.raises(TypeError, match="not hashable"):
        f(jnp.ones(1), Unhashable())


def test_filter_jit_overhead_is_small():
    """filter_jit's own per-call work stays close to jumba.jit's (issue target <= 1.5x;
    asserted loosely here because the test machine is shared)."""
    model = eqx.nn.MLP(4, 2, 8, 2, key=jr.PRNGKey(0))
    x = jnp.ones(4)
    params, static = eqx.partition(model, eqx.is_array)
    plain = jumba.jit(lambda p, x: eqx.combine(p, static)(x))
    filtered = eqx.filter_jit(lambda m, x: m(x))
    plain(params, x), filtered(model, x)

    def best(fn, n=200):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    ratio = best(lambda: filtered(model, x)) / best(lambda: plain(params, x))
    assert ratio < 2.5, ratio


def test_filter_grad_and_value_and_grad_on_mixed_module():
    m = _mixed()
    x = jnp.array([1.0, 2.0, 3.0])
    grads = eqx.filter_grad(lambda model, x: jnp.sum(model(x)))(m, x)
    assert grads.index is None and grads.activation is None and grads.scale is None
    w = np.asarray(m.weight)
    ref = np.zeros(3)
    for i in (0, 2):
        ref[i] = m.scale * (1 - np.tanh(w[i] * float(x[i])) ** 2) * float(x[i])
    np.testing.assert_allclose(np.asarray(grads.weight), ref, rtol=1e-5)
    (value, aux), g2 = eqx.filter_value_and_grad(
        lambda model, x: (jnp.sum(model(x)), "aux"), has_aux=True)(m, x)
    assert aux == "aux" and float(value) == pytest.approx(float(jnp.sum(m(x))))
    _allclose(g2.weight, grads.weight)
    g3, aux3 = eqx.filter_grad(lambda model: (jnp.sum(model(x)), 1), has_aux=True)(m)
    assert aux3 == 1
    # Under filter_jit, with Python scalars in the model.
    g4 = eqx.filter_jit(eqx.filter_grad(lambda model, x: jnp.sum(model(x))))(m, x)
    _allclose(g4.weight, grads.weight)


def test_filter_vmap_in_and_out_axes():
    m = _mixed()
    xs = jnp.arange(12.0).reshape(4, 3)
    ys = eqx.filter_vmap(lambda model, x: model(x), in_axes=(None, 0))(m, xs)
    for i in range(4):
        _allclose(ys[i], m(xs[i]))
    # Default in_axes map every array: an ensemble of models built by vmap.
    keys = jr.split(jr.PRNGKey(0), 3)
    ensemble = eqx.filter_vmap(lambda k: eqx.nn.Linear(2, 2, key=k))(keys)
    assert ensemble.weight.shape == (3, 2, 2) and ensemble.in_features == 2
    out = eqx.filter_vmap(lambda lin, x: lin(x), in_axes=(eqx.if_array(0), None))(
        ensemble, jnp.ones(2))
    assert out.shape == (3, 2)
    t = eqx.filter_vmap(lambda x: (x, 7), out_axes=1)(jnp.ones((2, 3)))
    assert t[0].shape == (3, 2) and t[1] == 7
    with pytest.raises(ValueError, match="non-array"):
        eqx.filter_vmap(lambda a, n: a, in_axes=(0, 0))(jnp.ones(2), 3)


def test_filter_pmap():
    if not hasattr(jumba, "pmap"):
        pytest.skip("jumba.pmap is not available yet")
    n = jumba.device_count()
    out = eqx.filter_pmap(lambda x, s: x * s)(jnp.arange(float(n)), 2.0)
    assert out.tolist() == [2.0 * i for i in range(n)]


def test_filter_eval_shape_jvp_vjp_jacobians():
    m = _mixed()
    shape = eqx.filter_eval_shape(lambda model, x: (model(x), "s"), m, jnp.ones(3))
    assert shape[0].shape == (2,) and shape[1] == "s"
    lazy = eqx.filter_eval_shape(eqx.nn.Linear, 3, 2, key=jr.PRNGKey(0))
    assert isinstance(lazy.weight, jumba.ShapeDtypeStruct) and lazy.weight.shape == (2, 3)

    x = jnp.array([1.0, 2.0, 3.0])
    tangent = eqx.tree_at(lambda t: t.weight, jtu.tree_map(lambda _: None, m),
                          jnp.ones(3))
    out, t_out = eqx.filter_jvp(lambda model, x: model(x), (m, x), (tangent, None))
    jac = eqx.filter_jacfwd(lambda model: model(x))(m).weight
    _allclose(out, m(x))
    _allclose(t_out, jnp.sum(jac, axis=1))

    out, vjp_fn = eqx.filter_vjp(lambda model, x: model(x), m, x)
    g_model, g_x = vjp_fn(jnp.ones(2))
    assert g_model.index is None
    _allclose(g_model.weight, eqx.filter_grad(lambda model: jnp.sum(model(x)))(m).weight)
    jr_ = eqx.filter_jacrev(lambda model: model(x))(m).weight
    _allclose(jr_, jac)
    h = eqx.filter_hessian(lambda model: jnp.sum(model.weight ** 3) * model.scale)(m)
    _allclose(h.weight.weight, np.diag(6 * np.asarray(m.weight)) * m.scale)


def test_filter_make_jaxpr_and_checkpoint():
    m = _mixed()
    jaxpr, out_shape, static = eqx.filter_make_jaxpr(lambda model, x: (model(x), 3))(
        m, jnp.ones(3))
    assert "tanh" in str(jaxpr) and out_shape[0].shape == (2,) and static == (None, 3)
    f = eqx.filter_checkpoint(lambda model, x: jnp.sum(model(x)))
    g = eqx.filter_grad(f)(m, jnp.ones(3))
    _allclose(g.weight, eqx.filter_grad(lambda model, x: jnp.sum(model(x)))(
        m, jnp.ones(3)).weight)


def test_filter_custom_jvp():
    @eqx.filter_custom_jvp
    def clipped(x, n, *, fn):
        return fn(x) * n

    @clipped.def_jvp
    def clipped_jvp(primals, tangents, *, fn):
        x, n = primals
        tx, tn = tangents
        assert tn is None  # int argument: no tangent
        return clipped(x, n, fn=fn), 100.0 * tx

    g = jumba.grad(lambda x: clipped(x, jnp.array(2), fn=jnp.sin))(1.0)
    assert float(g) == 100.0
    assert float(clipped(1.0, jnp.array(2), fn=jnp.sin)) == pytest.approx(2 * np.sin(1.0))


def test_filter_custom_vjp():
    @eqx.filter_custom_vjp
    def scale(model, x):
        return model.w * x

    @scale.def_fwd
    def scale_fwd(perturbed, model, x):
        assert perturbed.w is True and perturbed.tag is False
        return scale(model, x), x

    @scale.def_bwd
    def scale_bwd(residual, grad_out, perturbed, model, x):
        return eqx.tree_at(lambda t: t.w, jtu.tree_map(lambda _: None, model),
                           -grad_out * residual)

    class M(eqx.Module):
        w: Any
        tag: str

    m = M(jnp.array(2.0), "t")
    g = eqx.filter_grad(lambda model: scale(model, 3.0))(m)
    assert float(g.w) == -3.0


def test_filter_transforms_on_function_in_pytree():
    """A Partial (function + arrays) and a bound method pass through every transform."""
    p = eqx.Partial(lambda w, x: w * x, jnp.array(2.0))
    assert float(eqx.filter_jit(lambda f, x: f(x))(p, 3.0)) == 6.0
    g = eqx.filter_grad(lambda f: f(3.0))(p)
    assert float(g.args[0]) == 3.0
    ys = eqx.filter_vmap(lambda f, x: f(x), in_axes=(None, 0))(p, jnp.arange(3.0))
    assert ys.tolist() == [0.0, 2.0, 4.0]
