"""In-place updates of dead buffers (compiler/inplace.py) and loops run from Python with
tier-1 bodies (compiler/loop_tier1.py): same answers as copying, never a write into a
value read later, a function input or a constant."""

from __future__ import annotations

import numpy as np
import pytest

import jumba as jb
import jumba.numpy as jnp
from jumba import lax
from jumba._src.compiler import inplace, loop_tier1, passes
from jumba._src.compiler.numpy_executor import NumpyExecutable


def _exe(f, *args, donated=()):
    closed = passes.optimize(jb.make_jaxpr(f)(*args))
    return NumpyExecutable(closed, "f", donated=donated)


def _ring(buf, xs):
    def body(b, x):
        i, v = x
        b = b.at[i % b.shape[0]].set(v)
        b = lax.dynamic_update_slice(b, jnp.full((2,), v * 2), (i + 1,))
        return b, b[0]
    return lax.scan(body, buf, xs)


def _ring_ref(buf, xs):
    b, ys = np.array(buf), []
    for i, v in zip(*xs):
        b[i % b.shape[0]] = v
        s = min(max(i + 1, 0), b.shape[0] - 2)
        b[s:s + 2] = v * 2
        ys.append(b[0])
    return b, np.array(ys)


def test_scan_carry_updated_in_place_gives_the_copying_answer():
    buf = np.zeros(10, np.float32)
    xs = (np.arange(7, dtype=np.int32), np.arange(7, dtype=np.float32) + 1)
    ref_b, ref_ys = _ring_ref(buf, xs)
    for run in (lambda: _ring(buf, xs), lambda: jb.jit(_ring)(buf, xs)):
        b, ys = run()
        np.testing.assert_array_equal(np.asarray(b), ref_b)
        np.testing.assert_array_equal(np.asarray(ys), ref_ys)
    np.testing.assert_array_equal(buf, 0)  # the caller's buffer is untouched
    body = jb.make_jaxpr(lambda b, i, v: _ring(b, (i, v)))(
        buf, xs[0][:1], xs[1][:1]).eqns[-1].params["jaxpr"]
    _, written = inplace.donating_runner(body, [0])
    assert written == [0]  # both updates write into the donated carry


def test_function_inputs_and_constants_are_never_written():
    x = np.zeros(5, np.float32)
    const = np.zeros(5, np.float32)

    def f(x):
        x = jnp.asarray(x)
        return (x.at[1].set(3.0), (x * 0 + const).at[2].set(4.0),
                lax.dynamic_update_slice(const, x[:1] + 1.0, (0,)))

    exe = _exe(f, x)
    assert exe.donated_written == []
    for g in (f, jb.jit(f)):
        a, b, c = g(x)
        np.testing.assert_array_equal(np.asarray(a), [0, 3, 0, 0, 0])
        np.testing.assert_array_equal(np.asarray(c), [1, 0, 0, 0, 0])
    np.testing.assert_array_equal(x, 0)
    np.testing.assert_array_equal(const, 0)


def test_operand_read_later_is_copied():
    # The old carry is read after the update (its sum, and as an output): no in place.
    def body(b, i):
        b2 = b.at[i].set(9.0)
        return b2, (b.sum(), b)

    buf = np.arange(4, dtype=np.float32)
    c, (sums, olds) = lax.scan(body, buf, np.arange(3, dtype=np.int32))
    np.testing.assert_array_equal(np.asarray(sums), [6, 15, 23])
    np.testing.assert_array_equal(np.asarray(olds[1]), [9, 1, 2, 3])
    np.testing.assert_array_equal(np.asarray(c), [9, 9, 9, 3])
    exe = _exe(body, buf, np.int32(0), donated=(0,))
    assert exe.donated_written == []


def test_update_that_is_a_view_of_the_operand_is_not_in_place():
    def body(b):
        return lax.dynamic_update_slice(b, b[0:2], (1,))

    exe = _exe(body, np.arange(4, dtype=np.float32), donated=(0,))
    assert exe.donated_written == []  # the update is a slice (a view) of the operand
    b = np.arange(4, dtype=np.float32)
    (out,) = exe([b])
    np.testing.assert_array_equal(out, [0, 0, 1, 3])


def test_chained_updates_of_a_fresh_copy_are_in_place_and_correct():
    def f(x):
        y = x.at[0].set(1.0)  # a copy (x is an input) ...
        y = y.at[1].set(2.0)  # ... then written in place
        return y.at[2].add(3.0), x.sum()

    closed = passes.optimize(jb.make_jaxpr(f)(np.zeros(4, np.float32)))
    chosen = inplace.inplace_nodes(closed.jaxpr, closed.jaxpr.eqns)
    assert len(chosen) == 2
    x = np.zeros(4, np.float32)
    out, s = jb.jit(f)(x)
    np.testing.assert_array_equal(np.asarray(out), [1, 2, 3, 0])
    assert float(s) == 0 and not x.any()


def test_value_read_after_an_in_place_candidate_blocks_it():
    def f(x):
        y = x.at[0].set(1.0)
        z = y.at[1].set(2.0)  # y is read below: z must be a copy
        return z, y

    closed = passes.optimize(jb.make_jaxpr(f)(np.zeros(3, np.float32)))
    assert inplace.inplace_nodes(closed.jaxpr, closed.jaxpr.eqns) == set()
    z, y = jb.jit(f)(np.zeros(3, np.float32))
    np.testing.assert_array_equal(np.asarray(z), [1, 2, 0])
    np.testing.assert_array_equal(np.asarray(y), [1, 0, 0])


def test_carries_returned_twice_do_not_share_a_written_buffer():
    # Both carries come back as the same updated buffer: the loop must copy one, or the
    # next in-place update of one would change the other.
    def body(c, i):
        a, b = c
        a2 = a.at[i].set(a[i] + b[i] + 1.0)
        return (a2, a2), a2.sum()

    z = np.zeros(3, np.float32)
    (a, b), s = lax.scan(body, (z, z), np.array([0, 0, 1], np.int32))
    ref_a = np.zeros(3, np.float32)
    ref_b = ref_a.copy()
    sums = []
    for i in (0, 0, 1):
        ref_a = ref_a.copy()
        ref_a[i] = ref_a[i] + ref_b[i] + 1.0
        ref_b = ref_a
        sums.append(ref_a.sum())
    np.testing.assert_array_equal(np.asarray(a), ref_a)
    np.testing.assert_array_equal(np.asarray(b), ref_b)
    np.testing.assert_array_equal(np.asarray(s), sums)


def test_while_loop_carry_in_place():
    def f(buf):
        def body(c):
            i, b = c
            return i + 1, b.at[i].set(i.astype(jnp.float32) * 2)
        return lax.while_loop(lambda c: c[0] < 4, body, (jnp.int32(0), buf))[1]

    buf = np.full(6, -1, np.float32)
    out = jb.jit(f)(buf)
    np.testing.assert_array_equal(np.asarray(out), [0, 2, 4, 6, -1, -1])
    np.testing.assert_array_equal(buf, -1)


def test_scatter_add_in_place_keeps_repeated_indices():
    def body(b, idx):
        return b.at[idx].add(1.0), None

    idx = np.array([[0, 0, 2], [1, 2, 2]], np.int32)
    out, _ = lax.scan(body, np.zeros(3, np.float32), idx)
    np.testing.assert_array_equal(np.asarray(out), [2, 1, 3])


def test_libm_bodies_stay_on_tier0_and_small_bodies_are_not_worth_tier1():
    w = np.ones((64, 64), np.float32)

    def tanh_body(h, _):
        return jnp.tanh(h @ w), None

    def relu_body(h, _):
        return jnp.maximum(h @ w, 0.0) * 0.5, None

    big = np.ones((64, 64), np.float32)  # fused kernels from 4,096 elements
    for body, expect in ((tanh_body, False), (relu_body, True)):
        closed = jb.make_jaxpr(lambda h, body=body: lax.scan(body, h, None, length=2))(big)
        (eqn,) = [e for e in closed.eqns if e.primitive.name == "scan"]
        assert loop_tier1.worth_control_node(eqn) == expect
    small = np.ones((2, 64), np.float32)  # 128 elements: not worth kernels
    closed = jb.make_jaxpr(lambda h: lax.scan(relu_body, h, None, length=2))(small)
    (eqn,) = [e for e in closed.eqns if e.primitive.name == "scan"]
    assert not loop_tier1.worth_control_node(eqn)


@pytest.mark.numba
def test_tier1_bodies_agree_with_tier0():
    w = (np.arange(64 * 64, dtype=np.float32).reshape(64, 64) % 7 - 3) / 64

    def f(h, buf):
        def body(c, i):
            h, buf = c
            h = jnp.maximum(h @ w, 0.0) * 0.5 + 0.25
            buf = buf.at[i].set(h[0, :4])
            return (h, buf), h.sum()
        return lax.scan(body, (h, buf), jnp.arange(5))

    h = np.ones((64, 64), np.float32)
    buf = np.zeros((8, 4), np.float32)
    with jb.config_context(jumba_compile="never"):
        ref = jb.jit(f)(h, buf)
    with jb.config_context(jumba_compile="eager"):
        jf = jb.jit(f)
        out = jf(h, buf)
        text = jf.lower(h, buf).as_text()
    assert "run from Python with tier-1 bodies" in text
    for o, r in zip(jb.tree_util.tree_leaves(out), jb.tree_util.tree_leaves(ref)):
        np.testing.assert_allclose(np.asarray(o), np.asarray(r), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(buf, 0)


@pytest.mark.numba
def test_tier1_bodies_leave_libm_to_numpy_and_run_while_and_cond():
    w = (np.arange(64 * 64, dtype=np.float32).reshape(64, 64) % 5 - 2) / 64

    def f(h, buf):
        def body(c):
            i, h, buf = c
            # (sin: float32 tanh/exp/log fuse, their kernel helpers vectorise; see
            # test_vector_exp_tanh.py)
            h = jnp.sin(h @ w * 0.5 + 0.1) * 0.9 + 0.05
            h = lax.cond(i % 2 == 0, lambda h: jnp.maximum(h * 2.0 - 0.1, 0.0) * 0.5 + 0.01,
                         lambda h: h, h)
            return i + 1, h, buf.at[i].set(h[1, :4])
        return lax.while_loop(lambda c: c[0] < 5, body, (jnp.int32(0), h, buf))

    h = np.ones((64, 64), np.float32)
    buf = np.zeros((8, 4), np.float32)
    with jb.config_context(jumba_compile="never"):
        ref = jb.jit(f)(h, buf)
    closed = passes.optimize(jb.make_jaxpr(f)(h, buf))
    (eqn,) = [e for e in closed.eqns if e.primitive.name == "while"]
    node = loop_tier1.ControlNode(eqn)
    assert node.written == [2]  # the buffer carry is updated in place
    assert node.body.kernel_sources and not any("np.sin(" in s
                                                for s in node.body.kernel_sources)
    with jb.config_context(jumba_compile="eager"):
        out = jb.jit(f)(h, buf)
    for o, r in zip(jb.tree_util.tree_leaves(out), jb.tree_util.tree_leaves(ref)):
        np.testing.assert_allclose(np.asarray(o), np.asarray(r), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(buf, 0)
