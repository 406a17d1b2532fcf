"""jumba.debug.print / callback under every transformation, in program order, and the
jax_debug_nans check naming the first primitive that produced a NaN."""

from __future__ import annotations

import numpy as np
import pytest

import jumba as jb
import jumba.numpy as jnp
from jumba._src import debugging
from jumba._src.core import Primitive


def f(x):
    jb.debug.print("x: {x}", x=x)
    y = jnp.sin(x)
    jb.debug.print("y: {}", y)
    return (y * 2.0).sum()


def _lines(capsys):
    return capsys.readouterr().out.splitlines()


X = np.array([0.0, 1.0, 2.0], np.float32)
X_LINE = "x: [0. 1. 2.]"
Y_LINE = f"y: {np.sin(X)}"


def test_print_eager(capsys):
    f(jnp.asarray(X))
    assert _lines(capsys) == [X_LINE, Y_LINE]


def test_print_under_jit_runs_at_run_time_in_order(capsys):
    jf = jb.jit(f)
    jf(jnp.asarray(X))
    jf(jnp.asarray(X + 1))
    assert _lines(capsys) == [X_LINE, Y_LINE, f"x: {X + 1}", f"y: {np.sin(X + 1)}"]
    text = str(jb.make_jaxpr(f)(X))
    assert text.count("debug_callback") == 2
    capsys.readouterr()


def test_print_survives_dead_code_elimination(capsys):
    @jb.jit
    def g(x):
        jb.debug.print("unused: {}", jnp.cos(x))  # no output depends on it
        return x

    g(jnp.array(0.0))
    g(jnp.array(0.0))
    assert _lines(capsys) == ["unused: 1.0", "unused: 1.0"]


def test_print_under_vmap_once_per_element(capsys):
    jb.vmap(f)(jnp.asarray(X))
    # As JAX: each print runs for every batch element before the next print.
    assert _lines(capsys) == ["x: 0.0", "x: 1.0", "x: 2.0",
                              *[f"y: {v}" for v in np.sin(X)]]
    jb.jit(jb.vmap(f))(jnp.asarray(X))
    assert len(_lines(capsys)) == 6


def test_print_under_grad_sees_primals(capsys):
    jb.grad(f)(jnp.asarray(X))
    assert _lines(capsys) == [X_LINE, Y_LINE]
    jb.jit(jb.grad(f))(jnp.asarray(X))
    assert _lines(capsys) == [X_LINE, Y_LINE]
    jb.jvp(f, (jnp.asarray(X),), (jnp.ones(3),))
    assert _lines(capsys) == [X_LINE, Y_LINE]


def test_print_two_call_form_and_positional(capsys):
    jb.debug.print(ordered=True)("{} and {b}", jnp.array(1), b=jnp.array([2, 3]))
    assert _lines(capsys) == ["1 and [2 3]"]


def test_callback(capsys):
    seen = []

    def record(a, *, b):
        seen.append((np.asarray(a).tolist(), np.asarray(b["k"]).tolist()))

    @jb.jit
    def g(x):
        jb.debug.callback(record, x, b={"k": x * 2})
        return x + 1

    g(jnp.arange(2.0))
    jb.vmap(g)(jnp.arange(2.0))
    assert seen == [([0.0, 1.0], [0.0, 2.0]), (0.0, 0.0), (1.0, 2.0)]


def test_print_errors():
    with pytest.raises(ValueError, match="refers to 'y', which was not passed"):
        jb.debug.print("{y}", x=1.0)
    with pytest.raises(ValueError, match="positional argument 1"):
        jb.debug.print("{} {}", 1.0)
    with pytest.raises(TypeError, match="expects a callable"):
        jb.debug.callback(1.0, 2.0)


# ---------------------------------------------------------------------------------------
# jax_debug_nans


def test_debug_nans_eager_names_the_primitive():
    with jb.debug_nans():
        with pytest.raises(FloatingPointError, match="invalid value \\(nan\\) encountered in log"):
            jnp.log(jnp.array([1.0, -1.0]))
        # The operators' eager fast paths are checked too.
        with pytest.raises(FloatingPointError, match="encountered in div"):
            jnp.array(0.0) / jnp.array(0.0)
        assert float(jnp.log(jnp.array(2.0))) == pytest.approx(np.log(2.0))  # no NaN: fine
    # Off again: NaN is a result, and nothing is installed on the hot paths.
    assert np.isnan(float(jnp.log(jnp.array(-1.0))))
    assert Primitive.eval is debugging._plain_eval


def test_debug_nans_config_update_and_jit():
    g = jb.jit(lambda x: jnp.sqrt(x - 2.0) * 3.0)
    assert np.isnan(float(g(jnp.array(1.0))))  # compiled before the flag is on
    jb.config.update("jax_debug_nans", True)
    try:
        with pytest.raises(FloatingPointError, match="encountered in sqrt"):
            g(jnp.array(1.0))
        assert float(g(jnp.array(6.0))) == 6.0
        with pytest.raises(FloatingPointError, match="encountered in sqrt"):
            jb.grad(lambda x: jnp.sqrt(x))(-1.0)
        with pytest.raises(FloatingPointError, match="encountered in log"):
            jb.vmap(jnp.log)(jnp.array([1.0, -1.0]))
    finally:
        jb.config.update("jax_debug_nans", False)
    assert np.isnan(float(g(jnp.array(1.0))))
    assert Primitive.eval is debugging._plain_eval
