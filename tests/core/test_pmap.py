"""jumba.pmap: JAX's signature and semantics on thread devices; the devices API."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba as jb
import jumba.numpy as jnp
from jumba import lax
from jumba._src.runtime import blas, devices

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def four_devices():
    devices.set_local_device_count(4)
    yield
    devices.set_local_device_count(None)


# Programs without collectives: pmap must equal vmap.
PROGRAMS = {
    "elementwise": lambda x, y: jnp.tanh(x) * y + 1.0,
    "dot": lambda x, y: jnp.dot(x, y.T).sum(0),
    "reductions": lambda x, y: (x.max(), jnp.mean(y, axis=0)),
    "cond": lambda x, y: lax.cond(x.sum() > 0, lambda a: a * 2.0, lambda a: -a, y),
    "fori_loop": lambda x, y: lax.fori_loop(0, 3, lambda i, c: c * 0.5 + x, y),
    "scan": lambda x, y: lax.scan(lambda c, v: (c + v, c * v), 0.0, x)[1] + y,
    "grad": lambda x, y: jb.grad(lambda a: jnp.sum(jnp.sin(a) * y))(x),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
@settings(max_examples=5, deadline=None)
@given(n=st.sampled_from([1, 2, 4]), seed=st.integers(0, 2**16))
def test_pmap_equals_vmap(name, n, seed):
    f = PROGRAMS[name]
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.standard_normal((n, 3)).astype(np.float32))
    y = jnp.asarray(rng.standard_normal((n, 3)).astype(np.float32))
    expected = jb.vmap(f)(x, y)
    got = jb.pmap(f)(x, y)
    for g, e in zip(jb.tree_util.tree_leaves(got), jb.tree_util.tree_leaves(expected)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-5, atol=1e-6)
        assert g.dtype == e.dtype and g.shape == e.shape


def test_in_axes_out_axes_static_and_kwargs():
    x = jnp.arange(12.0).reshape(3, 4)
    w = jnp.asarray([1.0, 2.0, 3.0])
    f = jb.pmap(lambda a, b: a * b, in_axes=(1, None))
    np.testing.assert_allclose(np.asarray(f(x, w)), np.asarray(x).T * np.asarray(w))
    g = jb.pmap(lambda a: a + 1, in_axes=1, out_axes=1)
    np.testing.assert_allclose(np.asarray(g(x)), np.asarray(x) + 1)
    h = jb.pmap(lambda d: d["a"] - d["b"], in_axes=({"a": 0, "b": None},))
    np.testing.assert_allclose(np.asarray(h({"a": x, "b": 1.0})), np.asarray(x) - 1)
    s = jb.pmap(lambda a, k: a * k, static_broadcasted_argnums=1)
    assert s(jnp.ones(2), 3).tolist() == [3.0, 3.0]
    assert s(jnp.ones(2), 4).tolist() == [4.0, 4.0]
    kw = jb.pmap(lambda a, b: a + b)
    assert kw(jnp.ones(2), b=jnp.asarray([1.0, 2.0])).tolist() == [2.0, 3.0]
    u = jb.pmap(lambda a: lax.psum(a, "i"), axis_name="i", in_axes=None, out_axes=None,
                axis_size=3)
    assert float(u(2.0)) == 6.0
    d = jb.pmap(lambda a: a * 2, donate_argnums=0)
    assert d(jnp.ones(2)).tolist() == [2.0, 2.0]


def test_composes_with_jit_grad_vmap():
    x = jnp.asarray(np.arange(8.0, dtype=np.float32).reshape(4, 2))

    def f(v):
        return jnp.sin(v) * lax.psum(v, "i")

    ref = np.sin(np.asarray(x)) * np.asarray(x).sum(0)
    p = jb.pmap(f, axis_name="i")
    np.testing.assert_allclose(np.asarray(p(x)), ref, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(jb.jit(p)(x)), ref, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(jb.pmap(jb.jit(f), axis_name="i")(x)), ref,
                               rtol=1e-6)
    # grad of pmap == grad of the same program under vmap(axis_name)
    gp = jb.grad(lambda a: p(a).sum())(x)
    gv = jb.grad(lambda a: jb.vmap(f, axis_name="i")(a).sum())(x)
    np.testing.assert_allclose(np.asarray(gp), np.asarray(gv), rtol=1e-6)
    gj = jb.jit(jb.grad(lambda a: jb.jit(p)(a).sum()))(x)
    np.testing.assert_allclose(np.asarray(gj), np.asarray(gv), rtol=1e-6)
    # vmap of pmap and pmap of vmap
    xs = jnp.stack([x, 2 * x, 3 * x])
    vp = jb.vmap(p)(xs)
    np.testing.assert_allclose(np.asarray(vp), np.stack([np.asarray(p(x * k)) for k in
                                                         (1, 2, 3)]), rtol=1e-6)
    pv = jb.pmap(jb.vmap(lambda v: lax.psum(v, "i") + lax.psum(v, "j"), axis_name="j"),
                 axis_name="i")(x)
    X = np.asarray(x)
    np.testing.assert_allclose(np.asarray(pv), X.sum(0)[None] + X.sum(1)[:, None])
    # nested pmap runs the inner one vectorised
    nested = jb.pmap(jb.pmap(lambda v: lax.psum(v, "j"), axis_name="j"))(jnp.ones((2, 2)))
    assert nested.tolist() == [[2.0, 2.0], [2.0, 2.0]]


@pytest.mark.parametrize("mapper", [jb.pmap, jb.vmap])
def test_collectives_inside_control_flow(mapper):
    x = jnp.asarray([1.0, 2.0, 3.0, 4.0])
    loop = mapper(lambda v: lax.fori_loop(0, 2, lambda i, c: lax.pmean(c * c, "i"), v),
                  axis_name="i")
    m = np.mean(np.asarray(x) ** 2)
    np.testing.assert_allclose(np.asarray(loop(x)), np.full(4, m * m), rtol=1e-6)
    branch = mapper(lambda v: lax.cond(v > 2, lambda a: a, lambda a: -a, lax.psum(v, "i")),
                    axis_name="i")
    assert branch(x).tolist() == [-10.0, -10.0, 10.0, 10.0]
    while_ = mapper(lambda v: lax.while_loop(lambda c: lax.psum(c, "i") < 100.0,
                                             lambda c: c * 2.0, v), axis_name="i")
    assert while_(x).tolist() == [16.0, 32.0, 48.0, 64.0]  # sums 10, 20, 40, 80, 160
    scan = mapper(lambda v: lax.scan(lambda c, e: (c + lax.psum(e, "i"), c), v,
                                     jnp.arange(3.0) * v)[0], axis_name="i")
    assert scan(x).tolist() == [31.0, 32.0, 33.0, 34.0]


def test_devices_run_in_their_own_threads_with_single_threaded_blas():
    seen = []
    lock = threading.Lock()

    def record(i):
        with lock:
            seen.append((int(i), threading.get_ident(), blas.num_threads()))

    def f(v):
        jb.debug.callback(record, lax.axis_index("i"))
        return lax.psum(v, "i")  # a rendezvous: would deadlock unless devices are threads

    assert jb.pmap(f, axis_name="i")(jnp.ones(4)).tolist() == [4.0] * 4
    assert sorted(i for i, _, _ in seen) == [0, 1, 2, 3]
    assert len({t for _, t, _ in seen}) == 4
    assert {n for _, _, n in seen} == {1}


def test_an_error_on_one_device_stops_all():
    def boom(i):
        if int(i) == 2:
            raise RuntimeError("device 2 failed")

    def f(v):
        jb.debug.callback(boom, lax.axis_index("i"))
        return lax.psum(v, "i")

    with pytest.raises(RuntimeError, match="device 2 failed"):
        jb.pmap(f, axis_name="i")(jnp.ones(4))
    # the pool is still usable afterwards
    assert jb.pmap(lambda v: lax.psum(v, "i"), axis_name="i")(jnp.ones(4)).tolist() == [4.0] * 4


def test_errors_are_explained():
    with pytest.raises(ValueError, match=r"size 5.*only 4 CPU device.*JUMBA_NUM_CPU_DEVICES=5"):
        jb.pmap(lambda v: v)(jnp.ones((5, 2)))
    with pytest.raises(ValueError, match="inconsistent sizes"):
        jb.pmap(lambda a, b: a + b)(jnp.ones(2), jnp.ones(3))
    with pytest.raises(ValueError, match="devices.*must be equal"):
        jb.pmap(lambda v: v, devices=jb.devices()[:2])(jnp.ones(3))
    with pytest.raises(ValueError, match="in_axes.*len"):
        jb.pmap(lambda a, b: a, in_axes=(0,))(jnp.ones(2), jnp.ones(2))
    with pytest.raises(ValueError, match=r"pmap\(<lambda>\).*argument .v. along axis 1.*rank"):
        jb.pmap(lambda v: v, in_axes=1)(jnp.ones(2))
    with pytest.raises(NameError, match="unbound axis name 'j'"):
        jb.pmap(lambda v: lax.psum(v, "j"), axis_name="i")(jnp.ones(2))
    with pytest.raises(TypeError, match="callable"):
        jb.pmap(3)


# ---------------------------------------------------------------------------------------
# Devices


def test_devices_api():
    assert jb.device_count() == jb.local_device_count() == 4
    assert jb.process_index() == 0 and jb.process_count() == 1
    ds = jb.devices()
    assert [d.id for d in ds] == [0, 1, 2, 3] and jb.local_devices() == ds
    assert all(d.platform == "cpu" and d.process_index == 0 for d in ds)
    x = jnp.ones(3)
    assert x.devices() == {ds[0]} and x.device == ds[0]
    y = jb.device_put(np.arange(3.0), ds[2])
    assert y.devices() == {ds[2]} and y.device == ds[2]
    assert np.asarray(y).tolist() == [0.0, 1.0, 2.0]
    out = jb.pmap(lambda v: v * 2)(jnp.ones((2, 3)))
    assert out.devices() == {ds[0], ds[1]}
    sh = jb.device_put_sharded([jnp.ones(2), jnp.zeros(2)], ds[:2])
    assert sh.shape == (2, 2) and sh.devices() == {ds[0], ds[1]}
    rep = jb.device_put_replicated({"w": jnp.ones(3)}, ds)
    assert rep["w"].shape == (4, 3)
    with pytest.raises(TypeError, match="expected a device"):
        jb.device_put(x, "cpu:1")
    with pytest.raises(ValueError, match="not one of this process's devices"):
        jb.device_put(x, devices.CpuDevice(7))
    with pytest.raises(RuntimeError, match="Unknown backend 'gpu'"):
        jb.devices("gpu")


@pytest.mark.parametrize("env, expected", [
    ({"JUMBA_NUM_CPU_DEVICES": "3"}, "3 3"),
    ({"XLA_FLAGS": "--xla_force_host_platform_device_count=5"}, "5 5"),
])
def test_device_count_from_environment(env, expected):
    full = {k: v for k, v in os.environ.items()
            if k not in ("JUMBA_NUM_CPU_DEVICES", "XLA_FLAGS")}
    full.update(env)
    full["PYTHONPATH"] = str(ROOT / "packages" / "core" / "src")
    code = "import jumba as jb; print(jb.device_count(), len(jb.local_devices()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=full, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected
