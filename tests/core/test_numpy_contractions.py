"""Contractions against NumPy: dot, matmul/@, vdot, inner, outer, tensordot, einsum and
lax.dot_general over every placement of batch/contracting/free dimensions. Each goes
through the five table checks (NumPy, jit, vmap incl. one batched operand, grads order 2
fwd+rev, x64), then targeted cases and the errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jumba as jb
import jumba.lax as lax
import jumba.numpy as jnp
from jumba.test_util import check_grads
from tests.core.numpy_checks import (
    NUMERIC,
    OpSpec,
    draw_arrays,
    table_tests,
)


def _side(data, label="side"):
    return data.draw(st.integers(1, 4), label=label)


def _matmul_draw(data, dtype):
    kind = data.draw(st.sampled_from(["vv", "vm", "mv", "mm"]), label="kind")
    k = _side(data, "k")
    batch = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3),
                      label="batch").input_shapes
    a = (k,) if kind[0] == "v" else (*batch[0], _side(data, "m"), k)
    b = (k,) if kind[1] == "v" else (*batch[1], k, _side(data, "n"))
    return draw_arrays(data, [a, b], dtype), {}


def _dot_draw(data, dtype):
    ra = data.draw(st.integers(0, 3), label="rank_a")
    rb = data.draw(st.integers(0, 3), label="rank_b")
    a = [_side(data) for _ in range(ra)]
    b = [_side(data) for _ in range(rb)]
    if ra and rb:
        b[0 if rb == 1 else -2] = a[-1]
    return draw_arrays(data, [a, b], dtype), {}


def _inner_draw(data, dtype):
    ra = data.draw(st.integers(0, 3), label="rank_a")
    rb = data.draw(st.integers(0, 3), label="rank_b")
    a = [_side(data) for _ in range(ra)]
    b = [_side(data) for _ in range(rb)]
    if ra and rb:
        b[-1] = a[-1]
    return draw_arrays(data, [a, b], dtype), {}


def _vdot_draw(data, dtype):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    other = data.draw(st.permutations(shape), label="other")  # same size, other shape
    return draw_arrays(data, [shape, tuple(other)], dtype), {}


def _outer_draw(data, dtype):
    shapes = [data.draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3))
              for _ in range(2)]
    return draw_arrays(data, shapes, dtype), {}


def _tensordot_draw(data, dtype):
    nc = data.draw(st.integers(0, 2), label="n_contract")
    fa = [_side(data) for _ in range(data.draw(st.integers(0, 2)))]
    fb = [_side(data) for _ in range(data.draw(st.integers(0, 2)))]
    c = [_side(data) for _ in range(nc)]
    if data.draw(st.booleans(), label="int_axes"):
        return draw_arrays(data, [(*fa, *c), (*c, *fb)], dtype), {"axes": nc}
    # Pair form: contracted axes scattered in each operand, listed in a drawn order.
    pa = data.draw(st.permutations(range(len(fa) + nc)), label="perm_a")
    pb = data.draw(st.permutations(range(len(fb) + nc)), label="perm_b")
    sa = [0] * (len(fa) + nc)
    sb = [0] * (len(fb) + nc)
    for i, d in enumerate([*c, *fa]):
        sa[pa[i]] = d
    for i, d in enumerate([*c, *fb]):
        sb[pb[i]] = d
    axes_a = [pa[i] - len(sa) if i % 2 else pa[i] for i in range(nc)]
    axes_b = [pb[i] for i in range(nc)]
    if nc == 1 and data.draw(st.booleans(), label="scalar_axes"):
        axes = (axes_a[0], axes_b[0])
    else:
        axes = (axes_a, axes_b)
    return draw_arrays(data, [sa, sb], dtype), {"axes": axes}


EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->ji", [(3, 3, 2)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,i", [(3,), (3,)]),
    ("...ij,...jk->...ik", [(2, 2, 3), (3, 4)]),
    ("...,...", [(2, 1), (3,)]),
    ("i...->...", [(2, 3, 4)]),
    ("abc,cd,de->ae", [(2, 3, 4), (4, 2), (2, 3)]),
    ("ab,bc,cd,da->", [(2, 3), (3, 4), (4, 2), (2, 2)]),
    ("iji,jk->k", [(3, 2, 3), (2, 4)]),
    ("ijk,jil->kl", [(2, 3, 4), (3, 2, 2)]),
    ("ij,ij,ij->i", [(2, 3), (2, 3), (2, 3)]),
    ("aB,Bc", [(2, 3), (3, 4)]),
    ("ab,ab->ba", [(2, 3), (2, 3)]),
    ("i,->i", [(3,), ()]),
    ("ijk,k->ji", [(0, 3, 2), (2,)]),
]


def _einsum_draw(data, dtype):
    sub, shapes = data.draw(st.sampled_from(EINSUM_CASES), label="case")
    optimize = data.draw(st.sampled_from(["optimal", "greedy", False]), label="optimize")
    return draw_arrays(data, shapes, dtype), {"subscripts": sub, "optimize": optimize}


def _einsum_fn(*xs, subscripts, optimize):
    return jnp.einsum(subscripts, *xs, optimize=optimize)


def _einsum_ref(*xs, subscripts, optimize):
    return np.einsum(subscripts, *xs)


def _dot_general_draw(data, dtype):
    """Batch, contracting and free dimensions in drawn positions of each operand."""
    nb, nc = data.draw(st.integers(0, 2), label="nb"), data.draw(st.integers(0, 2), label="nc")
    fa = [_side(data) for _ in range(data.draw(st.integers(0, 2), label="nfa"))]
    fb = [_side(data) for _ in range(data.draw(st.integers(0, 2), label="nfb"))]
    bs = [_side(data) for _ in range(nb)]
    cs = [_side(data) for _ in range(nc)]

    def place(free, label):
        sizes = [*bs, *cs, *free]
        perm = data.draw(st.permutations(range(len(sizes))), label=label)
        shape = [0] * len(sizes)
        for i, p in enumerate(perm):
            shape[p] = sizes[i]
        return shape, perm[:nb], perm[nb:nb + nc]

    sa, ba, ca = place(fa, "perm_a")
    sb, bb, cb = place(fb, "perm_b")
    dn = ((tuple(ca), tuple(cb)), (tuple(ba), tuple(bb)))
    return draw_arrays(data, [sa, sb], dtype), {"dimension_numbers": dn}


def _dot_general_ref(a, b, *, dimension_numbers):
    (ca, cb), (ba, bb) = dimension_numbers
    letters = iter("abcdefghijklmnop")
    la = [next(letters) for _ in range(a.ndim)]
    lb = [next(letters) for _ in range(b.ndim)]
    for i, j in zip(ca, cb):
        lb[j] = la[i]
    for i, j in zip(ba, bb):
        lb[j] = la[i]
    out = [la[i] for i in ba] + [c for i, c in enumerate(la) if i not in ca and i not in ba] \
        + [c for i, c in enumerate(lb) if i not in cb and i not in bb]
    spec = "".join(la) + "," + "".join(lb) + "->" + "".join(out)
    res = np.einsum(spec, a.astype(np.float64), b.astype(np.float64))
    return res.astype(np.result_type(a, b))


SPECS = [
    OpSpec("matmul", jnp.matmul, np.matmul, nargs=2, args=_matmul_draw, dtypes=NUMERIC,
           tol=1e-5),
    OpSpec("matmul_operator", lambda a, b: jnp.asarray(a) @ b, np.matmul, nargs=2,
           args=_matmul_draw, tol=1e-5),
    OpSpec("dot", jnp.dot, np.dot, nargs=2, args=_dot_draw, dtypes=NUMERIC, tol=1e-5),
    OpSpec("vdot", jnp.vdot, np.vdot, nargs=2, args=_vdot_draw, dtypes=NUMERIC, tol=1e-5),
    OpSpec("inner", jnp.inner, np.inner, nargs=2, args=_inner_draw, dtypes=NUMERIC, tol=1e-5),
    OpSpec("outer", jnp.outer, np.outer, nargs=2, args=_outer_draw, dtypes=NUMERIC, tol=1e-5),
    OpSpec("tensordot", jnp.tensordot, np.tensordot, nargs=2, args=_tensordot_draw,
           dtypes=NUMERIC, tol=1e-5),
    OpSpec("einsum", _einsum_fn, _einsum_ref, nargs=3, args=_einsum_draw, tol=1e-5),
    OpSpec("dot_general", lax.dot_general, _dot_general_ref, nargs=2, args=_dot_general_draw,
           dtypes=NUMERIC, tol=1e-5),
]



globals().update(table_tests(SPECS, examples=(25, 6, 12, 3, 3), by_dtype=False,
                             vmap_specs=[s for s in SPECS if s.name != "einsum"]))


# ---------------------------------------------------------------------------------------
# einsum under vmap (operand counts vary per case, so in_axes are drawn here)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_einsum_vmap_equals_loop(data):
    sub, shapes = data.draw(st.sampled_from(EINSUM_CASES), label="case")
    xs = draw_arrays(data, shapes, np.float32)
    axes = [data.draw(st.one_of(st.none(), st.integers(0, len(s))), label="in_axis")
            for s in shapes]
    if all(a is None for a in axes):
        axes[data.draw(st.integers(0, len(axes) - 1))] = 0
    rng = np.random.default_rng(0)
    batched = [x if a is None else np.stack([x] + [rng.standard_normal(x.shape).astype(
        np.float32) for _ in range(2)], a) for x, a in zip(xs, axes)]
    out = jb.vmap(lambda *ys: jnp.einsum(sub, *ys), in_axes=tuple(axes))(*batched)
    want = np.stack([np.einsum(sub, *[x if a is None else np.take(x, i, a)
                                      for x, a in zip(batched, axes)]) for i in range(3)])
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sub,shapes", EINSUM_CASES, ids=[c[0] or "scalar" for c in EINSUM_CASES])
def test_einsum_grads(sub, shapes):
    with jb.enable_x64():
        rng = np.random.default_rng(0)
        xs = tuple(rng.standard_normal(s) for s in shapes)
        check_grads(lambda *ys: jnp.einsum(sub, *ys), xs, order=2, modes=("fwd", "rev"))


# ---------------------------------------------------------------------------------------
# Targeted cases


def test_einsum_path_and_explicit_path():
    a, b, c = np.ones((2, 30)), np.ones((30, 40)), np.ones((40, 3))
    path, report = jnp.einsum_path("ij,jk,kl->il", a, b, c, optimize="optimal")
    assert path[0] == "einsum_path" and isinstance(report, str)
    assert path == np.einsum_path("ij,jk,kl->il", a, b, c, optimize="optimal")[0]
    out = jnp.einsum("ij,jk,kl->il", a, b, c, optimize=path)
    np.testing.assert_allclose(out, a @ b @ c)


def test_einsum_contracts_pairwise_with_dot_general():
    jaxpr = jb.make_jaxpr(lambda a, b, c: jnp.einsum("ij,jk,kl->il", a, b, c))(
        np.ones((2, 30)), np.ones((30, 40)), np.ones((40, 3)))
    prims = [e.primitive.name for e in jaxpr.eqns]
    assert prims.count("dot_general") == 2 and "mul" not in prims, prims


def test_einsum_interleaved_form():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(3.0)
    np.testing.assert_allclose(jnp.einsum(a, [0, 1], b, [1], [0]), a @ b)


def test_integer_matmul_is_exact():
    a = np.full((2, 3), 2**20, np.int32)
    b = np.full((3, 2), 3, np.int32)
    out = jnp.matmul(a, b)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, a @ b)


@pytest.mark.parametrize("fn", [jnp.matmul, jnp.dot, jnp.inner,
                                lambda a, b, **k: jnp.einsum("ij,kj->ik", a, b, **k)])
def test_preferred_element_type(fn):
    a = np.full((2, 3), 100, np.int8)
    out = fn(a, a.T if fn in (jnp.matmul, jnp.dot) else a, preferred_element_type=np.int32)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, np.full((2, 2), 30000))
    outf = fn(a, a.T if fn in (jnp.matmul, jnp.dot) else a, preferred_element_type=np.float32)
    assert outf.dtype == np.float32


def test_dot_general_preferred_element_type_grad():
    x = np.ones((2, 3), np.float16)
    f = lambda x: jnp.sum(lax.dot_general(x, x, (((1,), (1,)), ((), ())),  # noqa: E731
                                          preferred_element_type=np.float32))
    g = jb.grad(f)(x)
    assert g.dtype == np.float16
    np.testing.assert_allclose(g, 4 * np.ones((2, 3)))


def test_matmul_mixed_dtypes_promote():
    out = jnp.matmul(np.ones((2, 3), np.int32), np.ones((3,), np.float32))
    assert out.dtype == np.float32


ERRORS = [
    ("matmul-core", lambda: jnp.matmul(np.ones((2, 3)), np.ones((4, 5))), ValueError,
     ("matmul", "(2, 3)", "(4, 5)")),
    ("matmul-vector", lambda: jnp.ones((2, 3)) @ jnp.ones(4), ValueError,
     ("matmul", "(2, 3)", "(4,)")),
    ("matmul-batch", lambda: jnp.matmul(np.ones((2, 2, 3)), np.ones((3, 3, 4))), ValueError,
     ("matmul", "(2, 2, 3)", "(3, 3, 4)")),
    ("matmul-scalar", lambda: jnp.matmul(np.ones(3), 2.0), ValueError, ("matmul",)),
    ("dot", lambda: jnp.dot(np.ones((2, 3)), np.ones((4, 5))), ValueError,
     ("dot", "(2, 3)", "(4, 5)")),
    ("inner", lambda: jnp.inner(np.ones((2, 3)), np.ones((4, 5))), ValueError,
     ("inner", "(2, 3)", "(4, 5)")),
    ("vdot", lambda: jnp.vdot(np.ones(3), np.ones(4)), ValueError, ("vdot", "(3,)", "(4,)")),
    ("tensordot", lambda: jnp.tensordot(np.ones((2, 3)), np.ones((4, 5)), 1), ValueError,
     ("tensordot", "(2, 3)", "(4, 5)")),
    ("einsum-sizes", lambda: jnp.einsum("ij,jk", np.ones((2, 3)), np.ones((4, 5))),
     ValueError, ("einsum", "(2, 3)", "(4, 5)")),
    ("einsum-operands", lambda: jnp.einsum("ij,jk", np.ones((2, 3))), ValueError,
     ("einsum", "2 operands")),
    ("einsum-rank", lambda: jnp.einsum("ijk", np.ones((2, 3))), ValueError,
     ("einsum", "(2, 3)", "'ijk'")),
    ("einsum-output", lambda: jnp.einsum("ij->k", np.ones((2, 3))), ValueError,
     ("einsum", "'k'")),
    ("dot_general", lambda: lax.dot_general(np.ones((2, 3), np.float32),
                                            np.ones((4, 5), np.float32),
                                            (((1,), (0,)), ((), ()))), TypeError,
     ("dot_general", "(2, 3)", "(4, 5)")),
]


@pytest.mark.parametrize("name,thunk,exc,parts", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(name, thunk, exc, parts):
    with pytest.raises(exc) as info:
        thunk()
    assert all(re.search(re.escape(p), str(info.value)) for p in parts), str(info.value)
