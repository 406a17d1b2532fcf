"""Semantics of the transformations (grad, jvp, vjp, linearize, jacobians, vmap, jit,
make_jaxpr, eval_shape, devices), each checked against the plain function, NumPy, or
finite differences (`check_grads`). Behaviour follows JAX's documentation."""

from __future__ import annotations

import dataclasses
from collections import namedtuple

import numpy as np
import pytest

import jumba as jb
import jumba.numpy as jnp
from jumba import lax
from jumba.test_util import check_grads
from jumba.tree_util import register_dataclass, tree_map, tree_structure

RNG = np.random.default_rng(0)


def rand(*shape):
    return jnp.asarray(RNG.standard_normal(shape).astype(np.float32))


def close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64),
                               rtol=tol, atol=tol)


def tree_close(a, b, tol=1e-5):
    assert tree_structure(a) == tree_structure(b), (tree_structure(a), tree_structure(b))
    tree_map(lambda x, y: close(x, y, tol), a, b)


def shapes(tree):
    return tree_map(lambda x: tuple(x.shape), tree)


Point = namedtuple("Point", ["x", "y"])


@dataclasses.dataclass
class Params:
    w: object
    b: object
    name: str = dataclasses.field(default="layer", metadata=dict(static=True))


register_dataclass(Params)


# ---------------------------------------------------------------------------------------
# grad and value_and_grad


def test_grad_scalar_against_analytic():
    f = lambda x: jnp.sin(x) * x**2
    x = 0.7
    close(jb.grad(f)(x), np.cos(x) * x**2 + 2 * x * np.sin(x))
    check_grads(f, (x,), order=2)


@pytest.mark.parametrize("argnums, expected", [
    (0, lambda x, y, z: 2 * x * y),
    (1, lambda x, y, z: x**2 + z),
    (-1, lambda x, y, z: y),
    ((0, 2), lambda x, y, z: (2 * x * y, y)),
    ((2, 0), lambda x, y, z: (y, 2 * x * y)),
])
def test_grad_argnums(argnums, expected):
    f = lambda x, y, z: x**2 * y + y * z
    args = (1.5, -2.0, 0.5)
    g = jb.grad(f, argnums=argnums)(*args)
    want = expected(*args)
    assert isinstance(g, tuple) == isinstance(argnums, tuple)
    tree_close(g, want)


def test_value_and_grad_and_has_aux():
    def loss(w, x):
        pred = x @ w
        return jnp.sum(pred**2), {"pred": pred, "n": 3}

    w, x = rand(3), rand(4, 3)
    (val, aux), g = jb.value_and_grad(loss, has_aux=True)(w, x)
    close(val, np.sum((np.asarray(x) @ np.asarray(w)) ** 2))
    close(aux["pred"], np.asarray(x) @ np.asarray(w))
    close(aux["n"], 3)
    close(g, 2 * np.asarray(x).T @ (np.asarray(x) @ np.asarray(w)), 1e-4)
    g2, aux2 = jb.grad(loss, has_aux=True)(w, x)
    close(g2, g)
    close(aux2["pred"], aux["pred"])


def test_grad_pytree_arguments():
    def f(d, p, pt, params):
        return (jnp.sum(d["a"] * 2.0) + jnp.sum(d["b"][0] ** 2) + p[0] * p[1]
                + pt.x * pt.y + jnp.sum(params.w * params.b))

    d = {"a": rand(3), "b": (rand(2), None)}
    p = (2.0, 3.0)
    pt = Point(1.0, 4.0)
    params = Params(rand(2), rand(2), name="dense")
    gd, gp, gpt, gparams = jb.grad(f, argnums=(0, 1, 2, 3))(d, p, pt, params)
    assert tree_structure(gd) == tree_structure(d)  # None stays None
    assert gd["b"][1] is None
    close(gd["a"], 2 * np.ones(3))
    close(gd["b"][0], 2 * np.asarray(d["b"][0]))
    tree_close(gp, (3.0, 2.0))
    assert isinstance(gpt, Point)
    tree_close(gpt, Point(4.0, 1.0))
    assert isinstance(gparams, Params) and gparams.name == "dense"
    close(gparams.w, params.b)
    close(gparams.b, params.w)


def test_grad_dtypes_follow_inputs():
    assert jb.grad(lambda x: x * 2)(3.0).dtype == np.float32
    assert jb.grad(lambda x: jnp.sum(x))(np.ones(3)).dtype == np.float32  # canonicalized
    with jb.enable_x64():
        g = jb.grad(lambda x: jnp.sum(x * 2))(np.ones(3))
        assert g.dtype == np.float64
    g = jb.grad(lambda x: jnp.sum(x * 2))(np.float64(3.0))  # np scalar subclass of float
    close(g, 2.0)


def test_grad_allow_int():
    f = lambda x, n: x * n
    gx, gn = jb.grad(f, argnums=(0, 1), allow_int=True)(2.0, 3)
    close(gx, 3.0)
    assert gn.dtype == jnp.float0 and gn.shape == ()
    g = jb.grad(lambda x, n: jnp.sum(x * n))(rand(3), jnp.arange(3))
    close(g, np.arange(3))  # integer arguments not differentiated need nothing special


def test_grad_of_output_independent_of_input_is_zeros():
    x = rand(2, 3)
    for f in [lambda x: 3.0, lambda x: jnp.sum(jnp.ones(4)), lambda x: jnp.sum(x * 0.0)]:
        g = jb.grad(f)(x)
        assert g.shape == x.shape and g.dtype == x.dtype
        close(g, np.zeros((2, 3)))
    g = jb.grad(lambda a, b: jnp.sum(b), argnums=0)(jnp.ones(3), jnp.ones(2))
    assert g.shape == (3,)
    close(g, 0.0)


def test_higher_order_grad_and_closures_over_tracers():
    f = lambda x: x**4
    close(jb.grad(jb.grad(jb.grad(f)))(2.0), 24 * 2.0)

    def outer(x):
        def inner(y):
            return jnp.sin(x * y)  # closes over the outer tracer
        return jb.grad(inner)(1.5) * x

    x = 0.3
    # outer(x) = x**2 cos(1.5 x)
    close(jb.grad(outer)(x), 2 * x * np.cos(1.5 * x) - 1.5 * x**2 * np.sin(1.5 * x), 1e-4)
    check_grads(outer, (x,), order=2, atol=5e-2)


def test_stop_gradient():
    f = lambda x: x * lax.stop_gradient(x**2)
    close(jb.grad(f)(3.0), 9.0)
    g = jb.grad(lambda x: jnp.sum(lax.stop_gradient({"a": x})["a"] * x))(jnp.ones(2))
    close(g, np.ones(2))


def test_grad_through_numpy_functions_check_grads():
    def f(x, w):
        h = jnp.tanh(x @ w)
        return jnp.sum(jnp.exp(-h**2) * jnp.mean(x, axis=0))

    check_grads(f, (rand(3, 4), rand(4, 4) * 0.5), order=2, atol=5e-2, rtol=5e-2)


# ---------------------------------------------------------------------------------------
# jvp, vjp, linearize, linear_transpose


def test_jvp_pytrees_and_has_aux():
    def f(d):
        return {"s": jnp.sin(d["x"]) * d["y"], "t": (d["x"] ** 2,)}

    d = {"x": rand(3), "y": rand(3)}
    t = {"x": rand(3), "y": rand(3)}
    out, tan = jb.jvp(f, (d,), (t,))
    x, y, tx, ty = (np.asarray(v) for v in (d["x"], d["y"], t["x"], t["y"]))
    close(out["s"], np.sin(x) * y)
    close(tan["s"], np.cos(x) * tx * y + np.sin(x) * ty)
    close(tan["t"][0], 2 * x * tx)
    out, tan, aux = jb.jvp(lambda a: (a * 2, {"sq": a**2}), (x,), (tx,), has_aux=True)
    close(tan, 2 * tx)
    close(aux["sq"], x**2)


def test_jvp_integer_primal_takes_float0_tangent():
    n = jnp.asarray(3)
    out, tan = jb.jvp(lambda x, n: x * n, (2.0, n), (1.0, np.zeros((), jnp.float0)))
    close(out, 6.0)
    close(tan, 3.0)


def test_vjp_pytrees_has_aux_and_integer_inputs():
    def f(x, p):
        return {"a": x * p.x, "b": jnp.sum(x) * p.y}, x.shape[0]

    x, pt = rand(3), Point(2.0, 3.0)
    out, f_vjp, aux = jb.vjp(f, x, pt, has_aux=True)
    assert aux == 3
    ct = {"a": jnp.ones(3), "b": 2.0}
    gx, gpt = f_vjp(ct)
    close(gx, 2.0 + 2 * 3.0 * np.ones(3))
    assert isinstance(gpt, Point)
    close(gpt.x, np.sum(x))
    close(gpt.y, 2 * np.sum(x))
    _, f_vjp = jb.vjp(lambda x, n: x * n, rand(2), jnp.arange(2))
    gx, gn = f_vjp(jnp.ones(2))
    close(gx, [0, 1])
    assert gn.dtype == jnp.float0 and gn.shape == (2,)


def test_vjp_with_constant_and_literal_outputs():
    x = rand(3)
    out, f_vjp = jb.vjp(lambda a: (a * 2, jnp.ones(3), 5.0), x)
    close(out[2], 5.0)
    (g,) = f_vjp((jnp.ones(3), jnp.ones(3), 1.0))
    close(g, 2 * np.ones(3))


def test_linearize():
    f = lambda x, y: jnp.sin(x) * y
    x, y = rand(3), rand(3)
    out, f_jvp = jb.linearize(f, x, y)
    close(out, np.sin(x) * np.asarray(y))
    tx, ty = rand(3), rand(3)
    _, want = jb.jvp(f, (x, y), (tx, ty))
    close(f_jvp(tx, ty), want)
    close(f_jvp(tx * 2, ty * 2), 2 * np.asarray(want), 1e-4)  # linear


def test_linearize_integer_inputs_and_constant_outputs():
    out, f_jvp = jb.linearize(lambda x, n: (x * n, 3.0, jnp.ones(2)), rand(2), jnp.asarray(3))
    t = f_jvp(jnp.ones(2), np.zeros((), jnp.float0))
    close(t[0], [3, 3])
    close(t[1], 0.0)
    close(t[2], [0, 0])


def test_linear_transpose():
    A = rand(3, 4)
    f = lambda x: A @ x
    ft = jb.linear_transpose(f, jnp.zeros(4))
    ct = rand(3)
    (g,) = ft(ct)
    close(g, np.asarray(A).T @ np.asarray(ct), 1e-4)
    # Pytrees in and out, a scale computed inside the function, a constant output.
    f2 = lambda d: (d["a"] * jnp.sin(2.0) + d["b"], jnp.ones(2))
    (gd,) = jb.linear_transpose(f2, {"a": jnp.zeros(2), "b": jnp.zeros(2)})(
        (jnp.ones(2), jnp.ones(2)))
    close(gd["a"], np.sin(2.0) * np.ones(2))
    close(gd["b"], np.ones(2))
    # An input the function ignores gets a zero cotangent.
    gx, gy = jb.linear_transpose(lambda x, y: x * 3.0, 1.0, 1.0)(2.0)
    close(gx, 6.0)
    close(gy, 0.0)


# ---------------------------------------------------------------------------------------
# Jacobians and Hessians


def f_dict_out(a, b):
    return {"s": a * b, "t": jnp.sum(a**2)}


@pytest.mark.parametrize("jac", [jb.jacfwd, jb.jacrev, jb.jacobian])
def test_jacobian_structure_tuple_argnums_dict_output(jac):
    a, b = rand(3), rand(2, 1)
    J = jac(f_dict_out, argnums=(0, 1))(a, b)
    # Output structure outside, a tuple over argnums inside; shapes out.shape + in.shape.
    assert shapes(J) == {"s": ((2, 3, 3), (2, 3, 2, 1)), "t": ((3,), (2, 1))}
    an, bn = np.asarray(a), np.asarray(b)
    ds_da = np.einsum("ij,jk->ijk", np.broadcast_to(bn, (2, 3)), np.eye(3))
    close(J["s"][0], ds_da)
    ds_db = np.zeros((2, 3, 2, 1))
    for i in range(2):
        ds_db[i, :, i, 0] = an
    close(J["s"][1], ds_db)
    close(J["t"][0], 2 * an)
    close(J["t"][1], np.zeros((2, 1)))


@pytest.mark.parametrize("jac", [jb.jacfwd, jb.jacrev])
def test_jacobian_pytree_input_single_argnum(jac):
    f = lambda d: {"u": d["a"] * 2.0, "v": jnp.sum(d["b"]) * d["a"][0]}
    d = {"a": rand(3), "b": rand(2, 2)}
    J = jac(f)(d)
    assert shapes(J) == {"u": {"a": (3, 3), "b": (3, 2, 2)}, "v": {"a": (3,), "b": (2, 2)}}
    close(J["u"]["a"], 2 * np.eye(3))
    close(J["u"]["b"], 0.0)
    close(J["v"]["a"], np.eye(3)[0] * np.sum(d["b"]), 1e-4)
    close(J["v"]["b"], np.full((2, 2), float(d["a"][0])))


def test_jacfwd_equals_jacrev_and_has_aux():
    f = lambda x: (jnp.tanh(x[:, None] * x[None, :]), {"norm": jnp.sum(x**2)})
    x = rand(3)
    Jf, auxf = jb.jacfwd(f, has_aux=True)(x)
    Jr, auxr = jb.jacrev(f, has_aux=True)(x)
    assert Jf.shape == Jr.shape == (3, 3, 3)
    close(Jf, Jr, 1e-5)
    close(auxf["norm"], auxr["norm"])


def test_hessian():
    f = lambda x: jnp.sum(x**3) + x[0] * x[1]
    x = rand(3)
    H = jb.hessian(f)(x)
    want = np.diag(6 * np.asarray(x))
    want[0, 1] = want[1, 0] = 1.0
    close(H, want, 1e-4)
    H2 = jb.hessian(lambda a, b: jnp.sum(a * b * a), argnums=(0, 1))(rand(2), rand(2))
    assert shapes(H2) == (((2, 2), (2, 2)), ((2, 2), (2, 2)))
    Hd = jb.hessian(lambda d: jnp.sum(d["a"] ** 2) * d["c"])({"a": rand(2), "c": 2.0})
    assert shapes(Hd) == {"a": {"a": (2, 2), "c": (2,)}, "c": {"a": (2,), "c": ()}}


def test_jacobian_of_scalar_function_and_scalar_input():
    close(jb.jacrev(lambda x: x**2)(3.0), 6.0)
    close(jb.jacfwd(lambda x: x**2)(3.0), 6.0)
    J = jb.jacrev(lambda x: jnp.stack([x, x**2]))(2.0)
    assert J.shape == (2,)
    close(J, [1.0, 4.0])


# ---------------------------------------------------------------------------------------
# vmap


def loop(f, *xs):
    return np.stack([np.asarray(f(*[x[i] for x in xs])) for i in range(len(xs[0]))])


def test_vmap_matches_python_loop():
    f = lambda x, y: jnp.tanh(x @ y) + jnp.sum(x)
    x, y = rand(5, 3, 4), rand(5, 4)
    close(jb.vmap(f)(x, y), loop(f, x, y), 1e-5)


@pytest.mark.parametrize("in_axes, out_axes, shape_x, want_shape", [
    (0, 0, (2, 3, 4), (2, 3, 4)),
    (1, 0, (2, 3, 4), (3, 2, 4)),
    (-1, 0, (2, 3, 4), (4, 2, 3)),
    (0, 1, (2, 3, 4), (3, 2, 4)),
    (0, -1, (2, 3, 4), (3, 4, 2)),
    (2, -1, (2, 3, 4), (2, 3, 4)),
])
def test_vmap_axes(in_axes, out_axes, shape_x, want_shape):
    x = rand(*shape_x)
    out = jb.vmap(lambda a: a * 2.0, in_axes=in_axes, out_axes=out_axes)(x)
    assert out.shape == want_shape
    close(np.moveaxis(np.asarray(out), out_axes, 0), np.moveaxis(2 * np.asarray(x), in_axes, 0))


def test_vmap_none_and_pytree_in_axes():
    w, xs = rand(3, 4), rand(5, 3)
    out = jb.vmap(lambda x, w: x @ w, in_axes=(0, None))(xs, w)
    close(out, np.asarray(xs) @ np.asarray(w), 1e-5)
    d = {"a": rand(5, 2), "b": rand(2)}
    out = jb.vmap(lambda d: d["a"] * d["b"], in_axes=({"a": 0, "b": None},))(d)
    close(out, np.asarray(d["a"]) * np.asarray(d["b"]))
    # A prefix: one axis for a whole tuple; a list is accepted like a tuple.
    out = jb.vmap(lambda p, s: p[0] + p[1] * s, in_axes=[0, None])((rand(5), rand(5)), 2.0)
    assert out.shape == (5,)
    # Dict arguments are mapped leaf by leaf.
    out = jb.vmap(lambda d: d["a"].sum() + d["b"])({"a": rand(4, 3), "b": rand(4)})
    assert out.shape == (4,)


def test_vmap_out_axes_pytrees_and_unmapped_non_arrays():
    x = rand(3, 2)
    out = jb.vmap(lambda x: {"a": x, "b": x * 2}, out_axes={"a": 0, "b": 1})(x)
    assert shapes(out) == {"a": (3, 2), "b": (2, 3)}
    out = jb.vmap(lambda x: (x, (x, x)), out_axes=(0, 1))(x)
    assert shapes(out) == ((3, 2), ((2, 3), (2, 3)))
    out = jb.vmap(lambda x, act: getattr(jnp, act)(x), in_axes=(0, None))(x, "tanh")
    close(out, np.tanh(np.asarray(x)))


def test_transformations_compose():
    x = rand(3)
    f = lambda a: jnp.sum(jnp.sin(a) * a)
    H = jb.hessian(f)(x)
    close(jb.jit(jb.hessian(f))(x), H, 1e-5)
    close(jb.jacfwd(jb.jit(jb.grad(f)))(x), H, 1e-5)
    close(jb.jacrev(jb.vmap(jnp.sin))(x), np.diag(np.cos(np.asarray(x))), 1e-6)
    close(jb.vmap(jb.linear_transpose(lambda a: a * 2.0, 1.0))(x)[0], 2 * np.asarray(x))
    close(jb.vmap(lambda c: jb.vjp(jnp.sin, 1.0)[1](c)[0])(x), np.cos(1.0) * np.asarray(x))
    close(jb.jit(lambda a: jb.linearize(jnp.sin, a)[1](2.0))(1.0), 2 * np.cos(1.0))
    w = rand(3)
    close(jb.jit(lambda w: jb.grad(lambda v: jnp.sum(v * w))(x))(w), w)


def test_vmap_kwargs_are_mapped_at_zero():
    x, y = rand(3, 2), rand(3, 2)
    out = jb.vmap(lambda a, b: a * b, in_axes=(1,))(x.T, b=y)
    close(out, np.asarray(x) * np.asarray(y))


def test_vmap_axis_size_with_unmapped_inputs_and_out_axes_none():
    out = jb.vmap(lambda x: x + 1.0, in_axes=None, axis_size=4)(jnp.ones(2))
    assert out.shape == (4, 2)
    out = jb.vmap(lambda: jnp.zeros(3), axis_size=2)()
    assert out.shape == (2, 3)
    a, b = jb.vmap(lambda x, c: (x * 2, c + 1.0), in_axes=(0, None), out_axes=(0, None))(
        rand(3), jnp.ones(2))
    assert a.shape == (3,) and b.shape == (2,)
    c = jb.vmap(lambda x: 5.0, out_axes=None)(rand(3))
    close(c, 5.0)
    assert isinstance(c, jb.Array)


def test_vmap_nested_and_outer_product():
    x, y = rand(3), rand(4)
    out = jb.vmap(jb.vmap(lambda a, b: a * b, in_axes=(None, 0)), in_axes=(0, None))(x, y)
    close(out, np.outer(x, y))
    out = jb.vmap(jb.vmap(lambda a: a.sum(), in_axes=1), in_axes=2)(rand(2, 3, 4))
    assert out.shape == (4, 3)


def test_vmap_of_grad_and_grad_of_vmap():
    f = lambda w, x: jnp.sum(jnp.tanh(x * w))
    w, xs = rand(3), rand(5, 3)
    per_example = jb.vmap(jb.grad(f), in_axes=(None, 0))(w, xs)
    close(per_example, loop(lambda x: jb.grad(f)(w, x), xs), 1e-5)
    total = jb.grad(lambda w: jnp.sum(jb.vmap(f, in_axes=(None, 0))(w, xs)))(w)
    close(total, np.sum(np.asarray(per_example), axis=0), 1e-4)
    J = jb.vmap(jb.jacrev(lambda x: jnp.sin(x) * x[0]))(xs)
    assert J.shape == (5, 3, 3)
    close(J[1], jb.jacrev(lambda x: jnp.sin(x) * x[0])(xs[1]))


# ---------------------------------------------------------------------------------------
# jit


class Counter:
    def __init__(self, fun):
        self.fun, self.n = fun, 0

    def __call__(self, *args, **kwargs):
        self.n += 1  # a Python side effect: runs only while tracing
        return self.fun(*args, **kwargs)


def test_jit_matches_eager():
    f = lambda x, y: {"a": jnp.sin(x) @ y, "b": (x.sum(), None)}
    x, y = rand(2, 3), rand(3)
    tree_close(jb.jit(f)(x, y), f(x, y))


def test_jit_cache_retraces_only_when_signature_changes():
    c = Counter(lambda x, y: x * y)
    f = jb.jit(c)
    x = rand(3)
    f(x, 2.0), f(x, 3.0), f(rand(3), 2.0)
    assert c.n == 1  # same shapes/dtypes: cached
    f(rand(4), 2.0)
    assert c.n == 2  # new shape
    f(x.astype(jnp.int32), 2.0)
    assert c.n == 3  # new dtype
    f(x, jnp.float32(2.0))
    assert c.n == 4  # weakly typed Python float vs strongly typed float32
    f((x, x), 2.0) if False else f(x, 2.0)
    assert c.n == 4
    with jb.enable_x64():
        f(x, 2.0)
    assert c.n == 5  # config is part of the key
    f(x, 2.0)
    assert c.n == 5


def test_jit_retraces_on_tree_structure():
    c = Counter(lambda d: sum(jnp.sum(v) for v in d.values()))
    f = jb.jit(c)
    f({"a": jnp.ones(2)}), f({"a": jnp.zeros(2)})
    assert c.n == 1
    f({"a": jnp.ones(2), "b": jnp.ones(2)})
    assert c.n == 2
    f([jnp.ones(2)]) if False else None


def test_jit_static_argnums_and_argnames():
    c = Counter(lambda x, n, *, mode="sum": getattr(jnp, mode)(x * n))
    f = jb.jit(c, static_argnums=1, static_argnames="mode")
    x = rand(4)
    close(f(x, 3), np.sum(np.asarray(x) * 3), 1e-5)
    f(x, 3)
    assert c.n == 1
    f(x, 4)
    assert c.n == 2  # a new static value retraces
    close(f(x, 4, mode="max"), np.max(np.asarray(x) * 4), 1e-5)
    assert c.n == 3

    g = jb.jit(lambda x, n: x.reshape((n, -1)), static_argnames="n")
    assert g(jnp.ones(6), 2).shape == (2, 3)  # static by name, passed by position
    assert g(jnp.ones(6), n=3).shape == (3, 2)  # and by keyword
    h = jb.jit(lambda x, n: x.reshape((n, -1)), static_argnums=1)
    assert h(jnp.ones(6), n=3).shape == (3, 2)  # static by position, passed by keyword
    assert jb.jit(lambda x, n: x * n, static_argnums=-1)(jnp.ones(2), 3).shape == (2,)


def test_jit_static_control_flow_on_static_value():
    @jb.jit
    def no_static(x):
        return x * 2

    f = jb.jit(lambda x, flag: jnp.sin(x) if flag else jnp.cos(x), static_argnums=1)
    close(f(1.0, True), np.sin(1.0))
    close(f(1.0, False), np.cos(1.0))
    close(no_static(2.0), 4.0)


def test_disable_jit():
    f = jb.jit(lambda x: float(x.sum()) * 2)  # would fail under tracing
    with jb.disable_jit():
        assert f(jnp.ones(3)) == 6.0
    jb.config.update("jax_disable_jit", True)
    try:
        assert f(jnp.ones(3)) == 6.0
    finally:
        jb.config.update("jax_disable_jit", False)
    with pytest.raises(jb.ConcretizationTypeError):
        f(jnp.ones(3))


def test_jit_closures_and_nesting_with_grad_and_vmap():
    w = rand(3)
    f = jb.jit(lambda x: jnp.sum(jnp.sin(x * w)))
    x = rand(3)
    close(f(x), np.sum(np.sin(np.asarray(x) * np.asarray(w))))
    close(jb.grad(f)(x), np.cos(np.asarray(x) * np.asarray(w)) * np.asarray(w), 1e-5)
    close(jb.jit(jb.grad(lambda x: jnp.sum(jnp.sin(x * w))))(x), jb.grad(f)(x))
    xs = rand(4, 3)
    close(jb.vmap(f)(xs), loop(f, xs), 1e-5)
    close(jb.jit(jb.vmap(f))(xs), loop(f, xs), 1e-5)

    def outer(s):
        return jb.jit(lambda y: y * s)(2.0)  # closes over an outer grad tracer

    close(jb.grad(outer)(3.0), 2.0)
    close(jb.jit(jb.jit(lambda y: y + 1.0))(1.0), 2.0)


def test_jit_methods():
    class Model:
        def __init__(self):
            self.scale = 3.0

        @jb.jit
        def untraceable(self, x):
            return x

        def __hash__(self):
            return id(self)

    from functools import partial

    class Scaled(Model):
        @partial(jb.jit, static_argnums=0)
        def apply(self, x):
            return x * self.scale

    m = Scaled()
    close(m.apply(jnp.ones(2)), [3.0, 3.0])
    assert "apply" in repr(m.apply)
    assert "Jaxpr" in m.apply.lower(jnp.ones(2)).as_text()
    with pytest.raises(TypeError, match="static_argnames=\\('self',\\)"):
        m.untraceable(jnp.ones(2))


def test_jit_varargs_and_kwargs():
    f = jb.jit(lambda *xs, **kw: sum(xs) * kw["s"])
    close(f(1.0, 2.0, s=3.0), 9.0)
    close(f(jnp.ones(2), jnp.ones(2), s=2.0), [4.0, 4.0])


def test_jit_lower_as_text():
    @jb.jit
    def affine(x, w):
        return jnp.tanh(x @ w) + 1.0

    text = affine.lower(jnp.ones((2, 3)), jnp.ones((3, 4))).as_text()
    assert "lambda ; a:f32[2,3] b:f32[3,4]" in text
    assert "dot_general" in text and "tanh" in text
    assert "def affine(a, b):" in text  # the generated tier-0 function
    lowered = affine.lower(jnp.ones((2, 3)), jnp.ones((3, 4)))
    close(lowered(jnp.ones((2, 3)), jnp.ones((3, 4))), np.tanh(3 * np.ones((2, 4))) + 1)


def test_jit_returns_arrays_for_python_outputs_and_none():
    out = jb.jit(lambda x: (x, 1.0, None))(jnp.ones(2))
    assert isinstance(out[1], jb.Array) and out[2] is None
    close(out[1], 1.0)


# ---------------------------------------------------------------------------------------
# make_jaxpr, eval_shape


def test_make_jaxpr_readable():
    jaxpr = jb.make_jaxpr(lambda x, y: jnp.sin(x) * y + 1.0)(jnp.ones(3), jnp.ones(3))
    text = str(jaxpr)
    assert text.splitlines()[0] == "{ lambda ; a:f32[3] b:f32[3]. let"
    assert "c:f32[3] = sin a" in text
    assert "d:f32[3] = mul c b" in text
    assert "e:f32[3] = add d 1.0" in text
    assert text.rstrip().endswith("in (e,) }")
    assert [a.shape for a in jaxpr.in_avals] == [(3,), (3,)]
    assert len(jaxpr.eqns) == 3
    close(jaxpr(jnp.ones(3), jnp.ones(3))[0], np.sin(1.0) + 1.0)


def test_make_jaxpr_constants_params_and_transformations():
    c = rand(3)
    text = str(jb.make_jaxpr(lambda x: x * c)(jnp.ones(3)))
    assert text.startswith("{ lambda a:f32[3]; b:f32[3]. let")  # closed-over constant
    text = str(jb.make_jaxpr(lambda x: jnp.sum(x, axis=1))(jnp.ones((2, 3))))
    assert "reduce_sum[axes=(1,)]" in text
    text = str(jb.make_jaxpr(jb.grad(lambda x: jnp.sum(jnp.sin(x))))(jnp.ones(3)))
    assert "cos" in text
    text = str(jb.make_jaxpr(lambda x, n: x * n, static_argnums=1)(jnp.ones(2), 3))
    assert "b:f32[]" not in text and "mul" in text
    _, shape = jb.make_jaxpr(lambda x: {"y": x.sum()}, return_shape=True)(jnp.ones(2))
    assert shape == {"y": jb.ShapeDtypeStruct((), jnp.float32)}


def test_eval_shape():
    def f(x, d):
        return {"y": x @ d["w"], "n": jnp.sum(x).astype(jnp.int32)}

    out = jb.eval_shape(f, jb.ShapeDtypeStruct((5, 3), jnp.float32),
                        {"w": jnp.ones((3, 2))})
    assert out["y"].shape == (5, 2) and out["y"].dtype == np.float32
    assert out["n"].shape == () and out["n"].dtype == np.int32
    assert isinstance(out["y"], jb.ShapeDtypeStruct)
    assert jb.jit(f).eval_shape(jnp.ones((5, 3)), {"w": jnp.ones((3, 2))}) == out


# ---------------------------------------------------------------------------------------
# Devices and transfers


def test_devices_and_transfers():
    devs = jb.devices()
    assert len(devs) >= 1 and jb.device_count() == len(devs)
    x = jb.device_put(np.arange(3.0))
    assert isinstance(x, jb.Array) and x.dtype == np.float32
    tree = jb.device_put({"a": np.ones(2), "b": [1.0, None]}, devs[0])
    assert isinstance(tree["a"], jb.Array) and tree["b"][1] is None
    back = jb.device_get(tree)
    assert isinstance(back["a"], np.ndarray)
    y = jnp.ones(3)
    assert y.block_until_ready() is y
    assert jb.block_until_ready({"y": y})["y"] is y


# ---------------------------------------------------------------------------------------
# Details that match JAX


def test_weak_types_and_python_outputs():
    g = jb.grad(lambda x: x * 2)(3.0)
    assert g.dtype == np.float32 and g.weak_type  # grad at a Python float is weak
    assert not jb.grad(lambda x: x * 2)(jnp.float32(3.0)).weak_type
    v, g = jb.value_and_grad(lambda x: 3.0)(jnp.ones(2))
    assert isinstance(v, jb.Array)
    close(v, 3.0)


def test_make_jaxpr_output_tuple_syntax():
    assert str(jb.make_jaxpr(lambda a: (a, a * 2))(1.0)).rstrip().endswith("in (a, b) }")
    assert str(jb.make_jaxpr(lambda a: a)(1.0)).rstrip().endswith("in (a,) }")
    assert str(jb.make_jaxpr(lambda a: ())(1.0)).rstrip().endswith("in () }")


def test_lower_accepts_shape_dtype_structs():
    text = jb.jit(lambda a: a.sum()).lower(jb.ShapeDtypeStruct((3,), jnp.float32)).as_text()
    assert "a:f32[3]" in text and "reduce_sum" in text


def test_staged_known_outputs_and_backward_pass_constants():
    # A known (constant) output of a staged linear function (as linearize stages tangents)
    # becomes a constant of the Jaxpr.
    from jumba._src import core
    from jumba._src.interpreters import ad
    from jumba._src.interpreters import partial_eval as pe

    builder = pe.JaxprBuilder("linearized", kind="linearize")
    with core.new_main(pe.DynamicJaxprTrace, builder, kind="linearize") as main:
        trace = pe.DynamicJaxprTrace(main)
        t_in = trace.new_arg(core.ShapedArray((2,), np.float32))
        known = trace.pure(jnp.ones(2))
        closed = builder.build([t_in], [known, t_in])
    outs = core.eval_jaxpr(closed.jaxpr, closed.consts, jnp.zeros(2))
    close(outs[0], [1, 1])
    close(outs[1], [0, 0])
    # Transposing it: the constant output contributes nothing.
    (ct,) = ad.backward_pass(closed.jaxpr, closed.consts,
                             [ad.UndefinedPrimal(core.ShapedArray((2,), np.float32))],
                             [jnp.ones(2), jnp.full(2, 3.0)])
    close(ct, [3, 3])


def test_vmap_of_add_any_with_an_unbatched_operand():
    # Tangent sums (add_any) take operands of one shape: vmap broadcasts the unbatched one.
    from jumba._src.interpreters import ad

    f = jb.jit(jb.vmap(lambda x, y: ad.add_any_p.bind(x, y), in_axes=(0, None)))
    close(f(jnp.ones((3, 2)), jnp.arange(2.0)), [[1, 2]] * 3)


def test_jvp_with_python_scalar_tangents():
    p, t = jb.jvp(lambda x, y: x * y + 3.0, (1.0, 2.0), (1.0, 0.5))
    close(p, 5.0)
    close(t, 2.5)


def test_jit_of_a_function_whose_name_a_captured_constant_also_gets():
    # The generated code names constants a, b, c, ...: a function `g` capturing seven
    # arrays must not shadow the constant `g` (found by the jumba_rl tests).
    consts = [jnp.asarray(np.full(3, float(i))) for i in range(8)]

    def g(x):
        for c in consts:
            x = x * 1.5 + c
        return x

    expected = np.ones(3, np.float32)
    for c in consts:
        expected = expected * np.float32(1.5) + np.asarray(c)
    np.testing.assert_allclose(np.asarray(jb.jit(g)(jnp.ones(3))), expected, rtol=1e-6)
    assert "def g(" in jb.jit(g).lower(jnp.ones(3)).as_text()  # the constant is g_
