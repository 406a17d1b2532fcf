"""Collectives (jumba.lax.psum, all_gather, ...) against NumPy references, on 1, 2 and 4
thread devices under pmap and on the same axis under vmap(axis_name=...), and their
derivatives (JAX's pmap semantics: psum transposes to psum)."""

from __future__ import annotations

import numpy as np
import pytest

import jumba as jb
import jumba.numpy as jnp
from jumba import lax
from jumba._src.runtime import devices
from jumba.test_util import check_grads


@pytest.fixture(params=[1, 2, 4], ids=lambda n: f"{n}dev")
def ndev(request):
    devices.set_local_device_count(request.param)
    yield request.param
    devices.set_local_device_count(None)


def _map(mode, f, **kw):
    if mode == "pmap":
        return jb.pmap(f, axis_name="i", **kw)
    return jb.vmap(f, axis_name="i", **kw)


def _data(n, shape, seed=0):
    return np.random.default_rng(seed).standard_normal((n, *shape)).astype(np.float32)


def _all_to_all_ref(X, split, concat, tiled):
    n = X.shape[0]
    out = []
    for j in range(n):
        if tiled:
            chunks = [np.split(X[i], n, axis=split)[j] for i in range(n)]
            out.append(np.concatenate(chunks, axis=concat))
        else:
            out.append(np.stack([np.take(X[i], j, axis=split) for i in range(n)], axis=concat))
    return np.stack(out)


# name -> (per-device function of n, per-device shape of n, reference on the stack X)
CASES = {
    "psum": (lambda n: lambda v: lax.psum(v, "i"), lambda n: (3,),
             lambda X: np.broadcast_to(X.sum(0), X.shape)),
    "psum_tuple_pytree": (lambda n: lambda v: lax.psum((v, {"a": 2 * v}), "i")[1]["a"],
                          lambda n: (2, 3), lambda X: np.broadcast_to(2 * X.sum(0), X.shape)),
    "pmean": (lambda n: lambda v: lax.pmean(v, "i"), lambda n: (3,),
              lambda X: np.broadcast_to(X.mean(0), X.shape)),
    "pmax": (lambda n: lambda v: lax.pmax(v, "i"), lambda n: (4,),
             lambda X: np.broadcast_to(X.max(0), X.shape)),
    "pmin": (lambda n: lambda v: lax.pmin(v, "i"), lambda n: (2, 2),
             lambda X: np.broadcast_to(X.min(0), X.shape)),
    "all_gather": (lambda n: lambda v: lax.all_gather(v, "i"), lambda n: (3,),
                   lambda X: np.broadcast_to(X, (X.shape[0], *X.shape))),
    "all_gather_axis1": (lambda n: lambda v: lax.all_gather(v, "i", axis=1), lambda n: (2, 3),
                         lambda X: np.broadcast_to(np.moveaxis(X, 0, 1),
                                                   (X.shape[0], 2, X.shape[0], 3))),
    "all_gather_tiled": (lambda n: lambda v: lax.all_gather(v, "i", tiled=True),
                         lambda n: (2, 3),
                         lambda X: np.broadcast_to(np.concatenate(list(X)),
                                                   (X.shape[0], 2 * X.shape[0], 3))),
    "psum_scatter": (lambda n: lambda v: lax.psum_scatter(v, "i"), lambda n: (n, 3),
                     lambda X: X.sum(0)),
    "psum_scatter_dim1_tiled": (
        lambda n: lambda v: lax.psum_scatter(v, "i", scatter_dimension=1, tiled=True),
        lambda n: (2, 2 * n),
        lambda X: np.stack(np.split(X.sum(0), X.shape[0], axis=1))),
    "all_to_all_0_1": (lambda n: lambda v: lax.all_to_all(v, "i", 0, 1), lambda n: (n, 3),
                       lambda X: _all_to_all_ref(X, 0, 1, False)),
    "all_to_all_1_0": (lambda n: lambda v: lax.all_to_all(v, "i", 1, 0), lambda n: (2, n),
                       lambda X: _all_to_all_ref(X, 1, 0, False)),
    "all_to_all_tiled": (lambda n: lambda v: lax.all_to_all(v, "i", 0, 1, tiled=True),
                         lambda n: (2 * n, 3), lambda X: _all_to_all_ref(X, 0, 1, True)),
    "ppermute_ring": (lambda n: lambda v: lax.ppermute(v, "i", [(k, (k + 1) % n)
                                                               for k in range(n)]),
                      lambda n: (3,), lambda X: np.roll(X, 1, axis=0)),
    "ppermute_partial": (lambda n: lambda v: lax.ppermute(v, "i", [(0, n - 1)]),
                         lambda n: (2,),
                         lambda X: np.concatenate([np.zeros_like(X[:-1]), X[:1]])
                         if X.shape[0] > 1 else X),
    "axis_index": (lambda n: lambda v: v * 0 + lax.axis_index("i"), lambda n: (2,),
                   lambda X: np.broadcast_to(np.arange(X.shape[0])[:, None], X.shape)),
    "axis_size": (lambda n: lambda v: v * 0 + lax.axis_size("i"), lambda n: (2,),
                  lambda X: np.full(X.shape, X.shape[0])),
}


@pytest.mark.parametrize("mode", ["pmap", "vmap"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_collective_matches_numpy(case, mode, ndev):
    fn, shape, ref = CASES[case]
    X = _data(ndev, shape(ndev))
    out = _map(mode, fn(ndev))(jnp.asarray(X))
    np.testing.assert_allclose(np.asarray(out), ref(X), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", ["psum", "all_gather_tiled", "all_to_all_0_1",
                                  "ppermute_ring", "psum_scatter"])
def test_collective_under_jit_and_inside_jit(case):
    devices.set_local_device_count(2)
    try:
        fn, shape, ref = CASES[case]
        X = _data(2, shape(2), seed=3)
        expected = ref(X)
        np.testing.assert_allclose(np.asarray(jb.jit(jb.pmap(fn(2), axis_name="i"))(X)),
                                   expected, rtol=1e-6)
        np.testing.assert_allclose(np.asarray(jb.pmap(jb.jit(fn(2)), axis_name="i")(X)),
                                   expected, rtol=1e-6)
        np.testing.assert_allclose(np.asarray(jb.vmap(jb.jit(fn(2)), axis_name="i")(X)),
                                   expected, rtol=1e-6)
    finally:
        devices.set_local_device_count(None)


def test_collective_over_an_outer_vmap_axis():
    # psum over the outer axis "i" from inside an inner vmap over "j".
    X = _data(3, (4, 2))
    f = jb.vmap(jb.vmap(lambda v: lax.psum(v, "i"), axis_name="j"), axis_name="i")
    np.testing.assert_allclose(np.asarray(f(X)), np.broadcast_to(X.sum(0), X.shape),
                               rtol=1e-6)
    g = jb.vmap(jb.vmap(lambda v: lax.psum(v, ("i", "j")), axis_name="j"), axis_name="i")
    np.testing.assert_allclose(np.asarray(g(X)), np.broadcast_to(X.sum((0, 1)), X.shape),
                               rtol=1e-5)
    h = jb.vmap(jb.vmap(lambda v: lax.all_gather(v, "i"), axis_name="j"), axis_name="i")
    np.testing.assert_allclose(np.asarray(h(X)),
                               np.broadcast_to(np.moveaxis(X, 0, 1)[None], (3, 4, 3, 2)))


def test_psum_of_a_constant_is_the_axis_size():
    assert jb.vmap(lambda v: lax.psum(1, "i"), axis_name="i")(jnp.zeros(5)).tolist() == [5] * 5
    devices.set_local_device_count(2)
    try:
        out = jb.pmap(lambda v: lax.psum(1.0, "i"), axis_name="i")(jnp.zeros(2))
        assert out.tolist() == [2.0, 2.0]
    finally:
        devices.set_local_device_count(None)


# ---------------------------------------------------------------------------------------
# Derivatives


def test_grad_through_psum_matches_jax():
    devices.set_local_device_count(2)
    try:
        x = jnp.asarray([1.0, 2.0])
        # JAX 0.10.2 prints these for the same programs on 2 devices.
        g = jb.pmap(jb.grad(lambda v: lax.psum(v ** 2, "i")), axis_name="i")(x)
        assert g.tolist() == [4.0, 8.0]
        g = jb.pmap(jb.grad(lambda v: lax.psum(v, "i")), axis_name="i")(x)
        assert g.tolist() == [2.0, 2.0]
        g = jb.pmap(jb.grad(lambda v: lax.pmean(v * v, "i")), axis_name="i")(x)
        assert g.tolist() == [2.0, 4.0]
        g = jb.vmap(jb.grad(lambda v: lax.psum(v, "i")), axis_name="i")(x)
        assert g.tolist() == [2.0, 2.0]
        outer = jb.grad(lambda v: jb.pmap(lambda y: lax.psum(y, "i"), axis_name="i")(v).sum())
        assert outer(x).tolist() == [2.0, 2.0]
    finally:
        devices.set_local_device_count(None)


GRAD_CASES = {
    "psum": lambda v: lax.psum(jnp.sin(v), "i"),
    "pmean": lambda v: lax.pmean(v * v, "i"),
    "pmax": lambda v: lax.pmax(v * v, "i"),
    "pmin": lambda v: lax.pmin(jnp.sin(v), "i"),
    "all_gather": lambda v: lax.all_gather(v * v, "i", axis=1),
    "all_gather_tiled": lambda v: lax.all_gather(jnp.sin(v), "i", tiled=True),
    "psum_scatter": lambda v: lax.psum_scatter(jnp.sin(v).reshape(3, 2), "i",
                                               scatter_dimension=0),
    "ppermute": lambda v: lax.ppermute(v * v, "i", [(0, 1), (1, 2), (2, 0)]),
    "all_to_all": lambda v: lax.all_to_all(jnp.sin(v).reshape(3, 2), "i", 0, 1),
}


@pytest.mark.parametrize("case", sorted(GRAD_CASES))
def test_collective_gradients_by_finite_differences(case):
    f = GRAD_CASES[case]
    x = jnp.asarray(_data(3, (6,), seed=7).astype(np.float64) * 0.5 + np.arange(3)[:, None])
    with jb.enable_x64():
        check_grads(lambda a: jb.vmap(f, axis_name="i")(a), (jnp.asarray(np.asarray(x),
                                                                          np.float64),),
                    order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("case", sorted(GRAD_CASES))
def test_pmap_of_grad_equals_vmap_of_grad(case):
    devices.set_local_device_count(3)
    try:
        f = GRAD_CASES[case]
        X = jnp.asarray(_data(3, (6,), seed=5) + np.arange(3)[:, None])
        loss = jb.grad(lambda v: (f(v) ** 2).sum())
        p = jb.pmap(loss, axis_name="i")(X)
        v = jb.vmap(loss, axis_name="i")(X)
        np.testing.assert_allclose(np.asarray(p), np.asarray(v), rtol=1e-5, atol=1e-6)
    finally:
        devices.set_local_device_count(None)


# ---------------------------------------------------------------------------------------
# Errors


def test_unbound_axis_name_is_explained():
    with pytest.raises(NameError, match=r"unbound axis name 'i'.*vmap\(f, axis_name='i'\)"):
        lax.psum(jnp.ones(3), "i")
    with pytest.raises(NameError, match="unbound axis name 'j'.*axis names in scope are"):
        jb.vmap(lambda v: lax.psum(v, "j"), axis_name="i")(jnp.ones(3))


def test_bad_collective_arguments_are_explained():
    with pytest.raises(ValueError, match="ppermute.*twice"):
        jb.vmap(lambda v: lax.ppermute(v, "i", [(0, 1), (0, 2)]), axis_name="i")(jnp.ones(3))
    with pytest.raises(ValueError, match="outside the axis"):
        jb.vmap(lambda v: lax.ppermute(v, "i", [(0, 5)]), axis_name="i")(jnp.ones(3))
    with pytest.raises(ValueError, match="must equal the axis size 3"):
        jb.vmap(lambda v: lax.psum_scatter(v, "i"), axis_name="i")(jnp.ones((3, 4)))
    with pytest.raises(ValueError, match="must equal the axis size 3"):
        jb.vmap(lambda v: lax.all_to_all(v, "i", 0, 0), axis_name="i")(jnp.ones((3, 2)))
    with pytest.raises(NotImplementedError, match="axis_index_groups"):
        jb.vmap(lambda v: lax.psum(v, "i", axis_index_groups=[[0]]),
                axis_name="i")(jnp.ones(3))
