"""Control flow (jumba.lax.cond/switch/scan/fori_loop/while_loop/map/associative_scan):
values against Python-loop references, derivatives against finite differences, vmap
against a loop over the batch, jit against eager, and the error messages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba as jb
import jumba.numpy as jnp
from jumba import lax
from jumba.test_util import check_grads

RTOL = 1e-5


def close(a, b, rtol=RTOL, atol=1e-6):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def tree_close(a, b, **kw):
    la, ta = jb.tree_util.tree_flatten(a)
    lb, tb = jb.tree_util.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        close(x, y, **kw)


floats = st.lists(st.floats(-2, 2, width=32), min_size=1, max_size=6)

# ---------------------------------------------------------------------------------------
# The functions under test and their Python-loop references


def scan_fn(x, w):
    def body(c, xi):
        c = c * jnp.sin(xi) + w * xi
        return c, jnp.cos(c) * xi
    return lax.scan(body, w, x)


def scan_ref(x, w):
    c, ys = np.float64(w), []
    for xi in np.asarray(x, np.float64):
        c = c * np.sin(xi) + w * xi
        ys.append(np.cos(c) * xi)
    return c, np.array(ys)


def cond_fn(p, x):
    return lax.cond(p > 0, lambda a: jnp.sin(a) * a, lambda a: jnp.exp(a) - a, x)


def switch_fn(i, x):
    return lax.switch(i, [lambda a: a * a, lambda a: jnp.sin(a), lambda a: a + 2.0], x)


def fori_fn(x):
    return lax.fori_loop(0, 4, lambda i, c: c * jnp.cos(c) + i * x, x)


def fori_ref(x):
    c = np.float64(x)
    for i in range(4):
        c = c * np.cos(c) + i * x
    return c


def while_fn(x):
    return lax.while_loop(lambda c: c[0] < 5, lambda c: (c[0] + 1, c[1] * 1.1 + jnp.sin(c[1])),
                          (0, x))[1]


def while_ref(x):
    c = np.float64(x)
    for _ in range(5):
        c = c * 1.1 + np.sin(c)
    return c


# ---------------------------------------------------------------------------------------
# Values


@settings(max_examples=15, deadline=None)
@given(floats, st.floats(-1.5, 1.5, width=32))
def test_scan_matches_loop(xs, w):
    x = np.array(xs, np.float32)
    c, ys = scan_fn(x, np.float32(w))
    rc, rys = scan_ref(x, np.float32(w))
    close(c, rc, rtol=1e-4, atol=1e-5)
    close(ys, rys, rtol=1e-4, atol=1e-5)


def test_scan_pytrees_reverse_and_none_xs():
    xs = {"a": jnp.arange(4.0), "b": jnp.ones((4, 2))}

    def body(c, x):
        s, n = c
        s = s + x["a"] * x["b"]
        return (s, n + 1), {"out": s.sum(), "n": n}

    (s, n), ys = lax.scan(body, (jnp.zeros(2), 0), xs, reverse=True)
    close(s, [6.0, 6.0])
    assert int(n) == 4
    close(ys["out"], [12.0, 12.0, 10.0, 6.0])
    assert np.asarray(ys["n"]).tolist() == [3, 2, 1, 0]
    c, ys = lax.scan(lambda c, _: (c * 2, c), 1.0, None, length=5)
    close(c, 32.0)
    close(ys, [1, 2, 4, 8, 16])
    c, ys = lax.scan(lambda c, x: (c, None), 1.0, jnp.zeros((0, 3)))
    close(c, 1.0)
    assert ys is None


def test_scan_zero_length_stacks_empty():
    c, ys = lax.scan(lambda c, x: (c + x, c * x), 1.0, jnp.zeros((0,)))
    close(c, 1.0)
    assert np.asarray(ys).shape == (0,)


def test_cond_and_switch_values():
    for p in (True, False, 0, 3, -1.5):
        x = jnp.float32(0.7)
        close(cond_fn(jnp.asarray(p, jnp.float32), x),
              np.sin(0.7) * 0.7 if p > 0 else np.exp(0.7) - 0.7)
    close(lax.cond(0.0, lambda: 1.0, lambda: 2.0), 2.0)
    refs = [0.7 * 0.7, np.sin(0.7), 2.7]
    for i in range(-2, 5):
        close(switch_fn(i, jnp.float32(0.7)), refs[min(max(i, 0), 2)])
    # pytrees and multiple operands; the old operand convention
    out = lax.cond(True, lambda a, b: {"s": a + b}, lambda a, b: {"s": a - b}, 1.0, 2.0)
    close(out["s"], 3.0)
    close(lax.cond(False, 1.0, lambda a: a + 1, 2.0, lambda b: b * 10), 20.0)


def test_cond_closes_over_values():
    w = jnp.arange(3.0)
    f = jb.jit(lambda p, x: lax.cond(p, lambda: x * w, lambda: w - x))
    close(f(True, 2.0), [0, 2, 4])
    close(f(False, 2.0), [-2, -1, 0])


def test_loops_match_references():
    for x in (0.3, -0.8, 1.2):
        close(fori_fn(jnp.float32(x)), fori_ref(x), rtol=1e-4)
        close(while_fn(jnp.float32(x)), while_ref(x), rtol=1e-4)
    assert int(lax.fori_loop(3, 1, lambda i, c: c + i, 0)) == 0
    # traced bounds become a while loop
    g = jb.jit(lambda n, x: lax.fori_loop(0, n, lambda i, c: c + i * x, 0.0))
    close(g(5, 2.0), 20.0)
    assert int(lax.while_loop(lambda i: i < 10, lambda i: i + 3, 0)) == 12


def test_fori_loop_promotes_weak_carry():
    out = lax.fori_loop(0, 3, lambda i, x: x + jnp.float32(1), 0.0)
    assert out.dtype == np.float32 and not out.weak_type
    close(out, 3.0)


def test_map_and_batch_size():
    x = jnp.arange(7.0)
    close(lax.map(lambda v: v * v + 1, x), np.arange(7.0) ** 2 + 1)
    for bs in (1, 3, 7, 10):
        close(lax.map(lambda v: v * v + 1, x, batch_size=bs), np.arange(7.0) ** 2 + 1)
    out = lax.map(lambda d: {"s": d["a"].sum()}, {"a": jnp.ones((3, 2))})
    close(out["s"], [2, 2, 2])


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 9), st.booleans(), st.integers(0, 1))
def test_associative_scan_matches_cumulative(n, reverse, axis):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, 3) if axis == 0 else (3, n)).astype(np.float32)
    out = lax.associative_scan(jnp.add, x, reverse=reverse, axis=axis)
    ref = np.flip(np.cumsum(np.flip(x, axis), axis), axis) if reverse else np.cumsum(x, axis)
    close(out, ref, rtol=1e-4, atol=1e-5)
    prod = lax.associative_scan(jnp.multiply, x, reverse=reverse, axis=axis)
    ref = np.flip(np.cumprod(np.flip(x, axis), axis), axis) if reverse else np.cumprod(x, axis)
    close(prod, ref, rtol=1e-4, atol=1e-5)


def test_associative_scan_pytree_linear_recurrence():
    # (a, b) pairs compose affine maps h -> a h + b: the scan is a linear recurrence.
    a = np.array([0.5, 2.0, -1.0, 0.3, 1.5], np.float32)
    b = np.array([1.0, -1.0, 0.5, 2.0, 0.1], np.float32)

    def fn(x, y):
        return (x[0] * y[0], y[0] * x[1] + y[1])

    _, h = lax.associative_scan(fn, (a, b))
    ref, acc = [], 0.0
    for ai, bi in zip(a, b):
        acc = ai * acc + bi
        ref.append(acc)
    close(h, ref, rtol=1e-5)


# ---------------------------------------------------------------------------------------
# jit == eager; nested loops


def test_jit_matches_eager():
    x = jnp.linspace(-1.0, 1.0, 5)
    tree_close(jb.jit(scan_fn)(x, 0.5), scan_fn(x, 0.5))
    for p in (-1.0, 1.0):
        close(jb.jit(cond_fn)(p, 0.3), cond_fn(p, 0.3))
    for i in (0, 1, 2, 7):
        close(jb.jit(switch_fn)(i, 0.3), switch_fn(i, 0.3))
    close(jb.jit(fori_fn)(0.4), fori_fn(0.4))
    close(jb.jit(while_fn)(0.4), while_fn(0.4))
    close(jb.jit(lambda v: lax.map(jnp.sin, v, batch_size=2))(x), np.sin(x))
    close(jb.jit(lambda v: lax.associative_scan(jnp.add, v))(x), np.cumsum(x), atol=1e-5)


def nested(x):
    def outer(c, xi):
        inner = lax.fori_loop(0, 3, lambda i, d: d * jnp.sin(xi) + c, c)
        c2 = lax.cond(xi > 0, lambda: inner * 0.5, lambda: inner + xi)
        return c2, lax.scan(lambda e, _: (e * 0.9, e), c2, None, length=2)[1].sum()
    return lax.scan(outer, 0.1, x)


def nested_ref(x):
    c, ys = 0.1, []
    for xi in np.asarray(x, np.float64):
        d = c
        for _ in range(3):
            d = d * np.sin(xi) + c
        c = d * 0.5 if xi > 0 else d + xi
        ys.append(c + 0.9 * c)
    return c, np.array(ys)


def test_nested_loops():
    x = jnp.array([0.5, -0.3, 1.0, -1.2])
    tree_close(nested(x), nested_ref(x), rtol=1e-4, atol=1e-5)
    tree_close(jb.jit(nested)(x), nested_ref(x), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------
# Derivatives


def test_grads_scan():
    x = jnp.array([0.3, -0.5, 0.8], jnp.float32)
    check_grads(lambda a, w: scan_fn(a, w), (x, jnp.float32(0.7)), order=2,
                modes=("fwd", "rev"), atol=5e-2, rtol=5e-2)


def test_grads_cond_and_switch():
    for p in (-1.0, 1.0):
        check_grads(lambda x, p=p: cond_fn(jnp.float32(p), x), (jnp.float32(0.4),), order=2,
                    modes=("fwd", "rev"))
    for i in (0, 1, 2):
        check_grads(lambda x, i=i: switch_fn(i, x), (jnp.float32(0.4),), order=2,
                    modes=("fwd", "rev"))
    # operands of several types, an integer operand and a closed-over array
    w = jnp.array([1.0, 2.0])

    def f(x, y):
        return lax.cond(x.sum() > 0, lambda a, n, b: (a * b * w, n),
                        lambda a, n, b: (a + b, n + 1), x, 3, y)[0]
    check_grads(f, (jnp.array([0.2, 0.5]), jnp.float32(1.5)), order=2, modes=("fwd", "rev"))


def test_grads_fori_and_nested():
    check_grads(fori_fn, (jnp.float32(0.3),), order=2, modes=("fwd", "rev"))
    x = jnp.array([0.5, -0.3, 1.0], jnp.float32)
    check_grads(lambda v: nested(v)[1], (x,), order=1, modes=("fwd", "rev"), atol=5e-2,
                rtol=5e-2)


def test_grad_matches_reference_derivative():
    x = np.array([0.3, -0.5, 0.8])
    eps = 1e-3
    g = jb.grad(lambda v: scan_fn(v, 0.7)[1].sum())(jnp.asarray(x, jnp.float32))
    num = [(scan_ref(x + eps * e, 0.7)[1].sum() - scan_ref(x - eps * e, 0.7)[1].sum())
           / (2 * eps) for e in np.eye(3)]
    close(g, num, rtol=1e-3, atol=1e-3)
    # grad of grad through scan
    h = jb.grad(jb.grad(lambda w: scan_fn(jnp.asarray(x, jnp.float32), w)[0]))(0.7)
    num2 = (scan_ref(x, 0.7 + eps)[0] - 2 * scan_ref(x, 0.7)[0] + scan_ref(x, 0.7 - eps)[0]) \
        / eps ** 2
    close(h, num2, rtol=2e-2, atol=2e-2)


def test_while_loop_forward_mode_and_reverse_error():
    t = jb.jvp(while_fn, (jnp.float32(0.3),), (jnp.float32(1.0),))[1]
    eps = 1e-4
    close(t, (while_ref(0.3 + eps) - while_ref(0.3 - eps)) / (2 * eps), rtol=1e-2)
    close(jb.jacfwd(while_fn)(0.3), t)
    with pytest.raises(ValueError, match="Reverse-mode differentiation does not work for "
                                         "lax.while_loop"):
        jb.grad(while_fn)(0.3)
    with pytest.raises(ValueError, match="fori_loop with static"):
        jb.grad(jb.jit(lambda x, n: lax.fori_loop(0, n, lambda i, c: c * x, x)))(0.3, 3)


def test_hessian_jacrev_and_linearize():
    x = jnp.array([0.3, -0.5, 0.8])
    f = lambda v: scan_fn(v, 0.7)[1].sum()  # noqa: E731
    eps = 1e-3

    def g(v):
        return np.array([(scan_ref(v + eps * e, 0.7)[1].sum()
                          - scan_ref(v - eps * e, 0.7)[1].sum()) / (2 * eps)
                         for e in np.eye(3)])
    x64 = np.asarray(x, np.float64)
    h_num = np.stack([(g(x64 + eps * e) - g(x64 - eps * e)) / (2 * eps) for e in np.eye(3)])
    close(jb.hessian(f)(x), h_num, rtol=2e-2, atol=2e-2)
    fy = lambda v: scan_fn(v, 0.7)[1]  # noqa: E731
    close(jb.jacrev(fy)(x), jb.jacfwd(fy)(x), rtol=1e-5)
    # linearize through a while loop (forward mode): the primal output is a value
    y, f_jvp = jb.linearize(while_fn, 0.3)
    close(y, while_ref(0.3), rtol=1e-5)
    close(f_jvp(1.0), jb.jvp(while_fn, (0.3,), (1.0,))[1])
    # the reverse-mode error surfaces even when the loop's output is used further
    with pytest.raises(ValueError, match="lax.while_loop"):
        jb.grad(lambda v: jnp.sin(while_fn(v)))(0.3)


def test_grads_map_and_associative_scan():
    x = jnp.array([0.3, -0.5, 0.8, 1.1, -0.2])
    close(jb.grad(lambda v: lax.map(jnp.sin, v, batch_size=2).sum())(x), np.cos(x))
    check_grads(lambda v: lax.associative_scan(jnp.multiply, v), (x,), order=2,
                modes=("fwd", "rev"))
    check_grads(lambda v: lax.map(lambda a: a * jnp.sin(a), v), (x,), order=2,
                modes=("fwd", "rev"))


def test_reverse_mode_stages_a_reverse_scan():
    text = str(jb.make_jaxpr(jb.grad(lambda v: scan_fn(v, 0.7)[1].sum()))(jnp.ones(3)))
    assert text.count("scan[") >= 2 and "reverse=True" in text


def test_jit_of_grad_and_grad_of_jit():
    x = jnp.array([0.3, -0.5, 0.8])
    f = lambda v: scan_fn(v, 0.7)[1].sum()  # noqa: E731
    g = jb.grad(f)(x)
    close(jb.jit(jb.grad(f))(x), g)
    close(jb.grad(jb.jit(f))(x), g)
    c = lambda v: cond_fn(v.sum(), v).sum()  # noqa: E731
    close(jb.jit(jb.grad(c))(x), jb.grad(c)(x))


# ---------------------------------------------------------------------------------------
# vmap == loop over the batch


def _vmap_check(f, *args, in_axes=0):
    out = jb.vmap(f, in_axes=in_axes)(*args)
    axes = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
    n = next(np.shape(a)[ax] for a, ax in zip(args, axes) if ax is not None)
    loop = [f(*[a if ax is None else np.take(np.asarray(a), i, ax)
                for a, ax in zip(args, axes)]) for i in range(n)]
    stacked = jb.tree_util.tree_map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *loop)
    tree_close(out, stacked, rtol=1e-4, atol=1e-5)


def test_vmap_scan():
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    w = np.array([0.1, 0.5, -0.7], np.float32)
    _vmap_check(scan_fn, x, w)
    _vmap_check(scan_fn, x, np.float32(0.3), in_axes=(0, None))
    _vmap_check(scan_fn, x.T, w, in_axes=(1, 0))
    _vmap_check(lambda w: scan_fn(jnp.arange(3.0), w), w)  # only the carry is batched


def test_vmap_cond_switch_batched_and_unbatched_index():
    x = np.array([0.3, -0.2, 1.5, 0.8], np.float32)
    p = np.array([1.0, -1.0, -2.0, 3.0], np.float32)
    _vmap_check(cond_fn, p, x)  # batched predicate: a select of both branches
    _vmap_check(cond_fn, np.float32(1.0), x, in_axes=(None, 0))
    i = np.array([0, 1, 2, 5], np.int32)
    _vmap_check(switch_fn, i, x)
    _vmap_check(switch_fn, np.int32(1), x, in_axes=(None, 0))
    _vmap_check(switch_fn, i, np.float32(0.5), in_axes=(0, None))


def test_vmap_while_and_fori_batched_trip_counts():
    x = np.array([0.3, -0.2, 1.5], np.float32)
    _vmap_check(while_fn, x)
    n = np.array([0, 3, 6], np.int32)

    def f(n, x):
        return lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 0.5 + 1.0),
                              (0, x))

    _vmap_check(f, n, x)
    _vmap_check(f, n, np.float32(2.0), in_axes=(0, None))
    g = lambda n, x: lax.fori_loop(0, n, lambda i, c: c + i * x, x)  # noqa: E731
    _vmap_check(g, n, x)
    _vmap_check(fori_fn, x)


def test_vmap_map_assoc_scan_and_nested():
    x = np.random.default_rng(1).standard_normal((3, 5)).astype(np.float32)
    _vmap_check(lambda v: lax.map(jnp.sin, v, batch_size=2), x)
    _vmap_check(lambda v: lax.associative_scan(jnp.add, v), x)
    _vmap_check(lambda v: nested(v), x[:, :3])


def test_vmap_and_jit_compose():
    x = np.random.default_rng(3).standard_normal((2, 3)).astype(np.float32)
    f = lambda v: scan_fn(v, 0.7)  # noqa: E731
    tree_close(jb.jit(jb.vmap(f))(x), jb.vmap(f)(x))
    tree_close(jb.vmap(jb.jit(f))(x), jb.vmap(f)(x))
    g = lambda n, v: lax.fori_loop(0, n, lambda i, c: c * 0.5 + v, v)  # noqa: E731
    n = np.array([1, 4], np.int32)
    close(jb.jit(jb.vmap(g))(n, x[:, 0]), jb.vmap(g)(n, x[:, 0]))


def test_vmap_of_grad_and_grad_of_vmap():
    x = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    f = lambda v: scan_fn(v, 0.7)[1].sum()  # noqa: E731
    _vmap_check(jb.grad(f), x)
    _vmap_check(jb.grad(lambda v: cond_fn(v.sum(), v).sum()), x)
    _vmap_check(jb.grad(lambda v: switch_fn((v[0] > 0).astype(jnp.int32), v).sum()), x)
    g = jb.grad(lambda v: jb.vmap(f)(v).sum())(x)
    close(g, np.stack([np.asarray(jb.grad(f)(r)) for r in x]), rtol=1e-4)


# ---------------------------------------------------------------------------------------
# x64


def test_x64():
    with jb.enable_x64(True):
        x = jnp.array([0.3, -0.5, 0.8])
        c, ys = scan_fn(x, 0.7)
        assert c.dtype == np.float64 and ys.dtype == np.float64
        rc, rys = scan_ref(np.array([0.3, -0.5, 0.8]), 0.7)
        close(c, rc, rtol=1e-12)
        check_grads(lambda v: scan_fn(v, 0.7), (x,), order=2, modes=("fwd", "rev"))
        check_grads(lambda v: cond_fn(v.sum(), v), (x,), order=2, modes=("fwd", "rev"))


# ---------------------------------------------------------------------------------------
# Errors


def test_errors():
    with pytest.raises(TypeError, match="(?s)true_fun and false_fun output must have identical "
                                        "types.*f32.*i32"):
        lax.cond(True, lambda x: x, lambda x: x.astype(jnp.int32), jnp.float32(1))
    with pytest.raises(TypeError, match="same pytree structure"):
        lax.cond(True, lambda x: (x, x), lambda x: x, 1.0)
    with pytest.raises(TypeError, match="pred must be a scalar"):
        lax.cond(jnp.ones(2) > 0, lambda: 1.0, lambda: 2.0)
    with pytest.raises(TypeError, match="index must be an integer"):
        lax.switch(1.0, [lambda: 1.0], )
    with pytest.raises(ValueError, match="empty branch sequence"):
        lax.switch(0, [])
    with pytest.raises(TypeError, match=r"(?s)body_fun output and input must have identical "
                                        r"types.*\[1\]"):
        lax.scan(lambda c, x: ((c[0], c[1].sum()), None), (1.0, jnp.zeros(2)), jnp.ones(3))
    with pytest.raises(TypeError, match="same pytree structure"):
        lax.scan(lambda c, x: ((c, c), None), 1.0, jnp.ones(3))
    with pytest.raises(TypeError, match=r"must return a pair \(carry, y\)"):
        lax.scan(lambda c, x: c, 1.0, jnp.ones(3))
    with pytest.raises(ValueError, match="no leading axis"):
        lax.scan(lambda c, x: (c, x), 1.0, jnp.float32(1))
    with pytest.raises(ValueError, match="disagrees with leading axis sizes"):
        lax.scan(lambda c, x: (c, x), 1.0, jnp.ones(3), length=4)
    with pytest.raises(ValueError, match="`length` not provided"):
        lax.scan(lambda c, x: (c, x), 1.0, None)
    with pytest.raises(TypeError, match="body_fun output and input must have identical types"):
        lax.while_loop(lambda x: x < 3, lambda x: jnp.ones(2), 1.0)
    with pytest.raises(TypeError, match="cond_fun must return a boolean scalar"):
        lax.while_loop(lambda x: x, lambda x: x + 1, 1.0)
    with pytest.raises(TypeError, match="lower must be an integer scalar"):
        lax.fori_loop(0.5, 3, lambda i, x: x, 1.0)
    with pytest.raises(ValueError, match="same size along axis"):
        lax.associative_scan(lambda a, b: a, (jnp.ones(3), jnp.ones(4)))
    with pytest.raises(ValueError, match="batch_size must be a positive"):
        lax.map(jnp.sin, jnp.ones(3), batch_size=0)


def test_concretization_error_points_to_lax_control_flow():
    def f(x):
        if x > 0:
            return x
        return -x
    with pytest.raises(jb.ConcretizationTypeError, match="jumba.lax.cond") as e:
        jb.jit(f)(1.0)
    assert "fori_loop" in str(e.value)
    # the suggested replacement works
    close(jb.jit(lambda x: lax.cond(x > 0, lambda: x, lambda: -x))(-2.0), 2.0)


def test_make_jaxpr_shows_bodies():
    text = str(jb.make_jaxpr(lambda x: scan_fn(x, 0.5))(jnp.ones(3)))
    assert "scan[" in text and "sin" in text
    text = str(jb.make_jaxpr(lambda p, x: cond_fn(p, x))(1.0, 2.0))
    assert "cond[" in text and "branches=" in text
