"""Error messages of the transformations: each names what is wrong, where (the argument,
the operation, the shapes) and how to fix it."""

from __future__ import annotations

import re

import numpy as np
import pytest

import jumba as jb
import jumba.numpy as jnp


def raises(exc, *fragments):
    """Assert that the message contains every fragment (plain substrings)."""

    class _Check:
        def __enter__(self):
            self.ctx = pytest.raises(exc)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *a):
            suppressed = self.ctx.__exit__(*a)
            msg = str(self.info.value)
            for frag in fragments:
                assert frag in msg, f"{frag!r} not in message:\n{msg}"
            return suppressed

    return _Check()


# ---------------------------------------------------------------------------------------
# Concretization: Python control flow and conversions on traced values


def f_if(x, n):
    if n > 0:
        return x
    return -x


def f_while(x, n):
    while n > 0:
        n = n - 1
    return x


def f_int(x, n):
    return x * int(n)


def f_float(x, n):
    return x * float(n)


def f_bool(x, n):
    return x if bool(n) else -x


def f_index(x, n):
    return x * [1.0, 2.0, 3.0][n]


def f_range(x, n):
    for _ in range(n):
        x = x + 1
    return x


CONCRETIZATION_CASES = [
    (f_if, jb.TracerBoolConversionError, "bool()"),
    (f_while, jb.TracerBoolConversionError, "bool()"),
    (f_bool, jb.TracerBoolConversionError, "bool()"),
    (f_int, jb.TracerIntegerConversionError, "int()"),
    (f_float, jb.ConcretizationTypeError, "float()"),
    (f_index, jb.TracerIntegerConversionError, "index"),
    (f_range, jb.TracerIntegerConversionError, "index"),
]


@pytest.mark.parametrize("fun, exc, what", CONCRETIZATION_CASES,
                         ids=[c[0].__name__ for c in CONCRETIZATION_CASES])
def test_concretization_under_jit_names_argument_and_fixes(fun, exc, what):
    with raises(exc, what, f"while tracing {fun.__name__} for jit",
                "depends on the argument 'n'", "static_argnames=('n',)",
                "jumba.lax.cond") as info:
        jb.jit(fun)(jnp.ones(2), 2)
    assert isinstance(info.value, jb.ConcretizationTypeError)
    assert isinstance(info.value, TypeError)
    # The suggested fix works.
    out = jb.jit(fun, static_argnames=("n",))(jnp.ones(2), 2)
    np.testing.assert_allclose(np.asarray(out), np.asarray(fun(jnp.ones(2), 2)))


def test_concretization_names_pytree_leaf_and_positional_only_argument():
    def f(params, x):
        return x if params["flag"] > 0 else -x

    with raises(jb.ConcretizationTypeError, "\"params['flag']\"",
                "static_argnames=('params',)"):
        jb.jit(f)({"flag": 1}, jnp.ones(2))

    def g(x, *rest):
        return x if rest[1] > 0 else -x

    with raises(jb.ConcretizationTypeError, "'rest[1]'", "static_argnums=(2,)"):
        jb.jit(g)(1.0, 2.0, 3.0)


@pytest.mark.parametrize("fun, exc, what", CONCRETIZATION_CASES[:5],
                         ids=[c[0].__name__ for c in CONCRETIZATION_CASES[:5]])
def test_concretization_under_vmap_suggests_where_or_unmapped(fun, exc, what):
    with raises(exc, what, "while vmapping", "jumba.numpy.where", "in_axes=None"):
        jb.vmap(fun)(jnp.ones(3), jnp.arange(3))
    # Unmapped values stay concrete, as the message says.
    jb.vmap(fun, in_axes=(0, None))(jnp.ones(3), 2)


def test_concretization_under_make_jaxpr_and_grad_of_jit():
    with raises(jb.ConcretizationTypeError, "make_jaxpr"):
        jb.make_jaxpr(lambda x: x if x > 0 else -x)(1.0)
    # grad alone keeps concrete values (Python control flow works), jit inside does not.
    assert float(jb.grad(lambda x: x**2 if x > 0 else -x)(2.0)) == 4.0
    with raises(jb.ConcretizationTypeError, "depends on the argument 'x'"):
        jb.grad(jb.jit(lambda x: x**2 if x > 0 else -x))(2.0)


def test_traced_value_is_unhashable_and_not_convertible_to_numpy():
    with raises(TypeError, "unhashable", "static"):
        jb.jit(lambda x: {x: 1})(1.0)
    with raises(jb.ConcretizationTypeError, "NumPy array"):
        jb.jit(lambda x: np.asarray(x))(jnp.ones(2))


# ---------------------------------------------------------------------------------------
# Leaked tracers


@pytest.mark.parametrize("transform", ["jit", "grad", "vmap"])
def test_leaked_tracer_is_reported_when_used(transform):
    store = []

    def f(x):
        store.append(x * 2)
        return jnp.sum(x)

    wrapped = {"jit": jb.jit, "grad": jb.grad, "vmap": jb.vmap}[transform](f)
    wrapped(jnp.ones(3))
    leaked = store[0]
    kind = {"jit": "jit", "grad": "grad", "vmap": "vmap"}[transform]
    fix = "Return the value from the function instead of storing it"
    with raises(jb.UnexpectedTracerError, "escaped", kind, fix):
        leaked + 1.0
    with raises(jb.UnexpectedTracerError, "escaped", fix):
        jnp.sin(leaked)
    with raises(jb.UnexpectedTracerError, "escaped"):
        jb.jit(lambda y: y + leaked)(jnp.ones(3))
    if transform != "vmap":  # a leaked vmap tracer of a 0-d value has no concrete value
        with raises(jb.UnexpectedTracerError, "escaped"):
            float(jnp.sum(leaked)) if transform == "jit" else float(jnp.sum(store[0]))


# ---------------------------------------------------------------------------------------
# Shape errors


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_broadcasting_failure_names_op_and_shapes(jit):
    f = lambda a, b: a * b
    f = jb.jit(f) if jit else f
    with raises(ValueError, "mul", "(3,)", "(4,)", "broadcast"):
        f(jnp.ones(3), jnp.ones(4))
    g = jb.jit(jnp.add) if jit else jnp.add
    with raises(ValueError, "add", "(2, 3)", "(3, 2)"):
        g(jnp.ones((2, 3)), jnp.ones((3, 2)))


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_matmul_and_dot_shape_errors(jit):
    wrap = jb.jit if jit else (lambda f: f)
    with raises(ValueError, "(3, 4)", "(3, 4)") as info:
        wrap(lambda a, b: a @ b)(jnp.ones((3, 4)), jnp.ones((3, 4)))
    assert re.search("matmul|dot", str(info.value))
    with raises(ValueError, "(3,)", "(4,)"):
        wrap(jnp.dot)(jnp.ones(3), jnp.ones(4))


def test_shape_error_under_vmap_and_grad():
    with raises(ValueError, "mul", "(3,)", "(4,)"):
        jb.vmap(lambda a: a * jnp.ones(4))(jnp.ones((2, 3)))
    with raises(ValueError, "add", "(3,)", "(4,)"):
        jb.grad(lambda a: jnp.sum(a + jnp.ones(4)))(jnp.ones(3))


# ---------------------------------------------------------------------------------------
# grad, jvp, vjp misuse


def test_grad_of_non_scalar_output():
    with raises(TypeError, "scalar", "shape (3,)", ".sum()", "jacrev"):
        jb.grad(lambda x: x * 2)(jnp.ones(3))
    with raises(TypeError, "scalar"):
        jb.grad(lambda x: (x, x))(1.0)


def test_grad_of_integer_input_or_output():
    with raises(TypeError, "int32", "float", "allow_int=True"):
        jb.grad(lambda x: x * 1.0)(3)
    with raises(TypeError, "int32"):
        jb.grad(lambda x: x * 1.0)(jnp.arange(3))
    with raises(TypeError, "output", "int32"):
        jb.grad(lambda x: jnp.sum(x).astype(jnp.int32))(jnp.ones(3))
    with raises(TypeError, "jacrev", "int32", "allow_int"):
        jb.jacrev(lambda x: x * 1.0)(jnp.arange(3))


@pytest.mark.parametrize("bad", [lambda x: jnp.sum(x), lambda x: (jnp.sum(x), 1, 2)],
                         ids=["single", "triple"])
def test_has_aux_requires_a_pair(bad):
    x = jnp.ones(3)
    for transform in [lambda f: jb.grad(f, has_aux=True)(x),
                      lambda f: jb.value_and_grad(f, has_aux=True)(x),
                      lambda f: jb.vjp(f, x, has_aux=True),
                      lambda f: jb.jvp(f, (x,), (x,), has_aux=True),
                      lambda f: jb.jacrev(f, has_aux=True)(x),
                      lambda f: jb.jacfwd(f, has_aux=True)(x)]:
        with raises(TypeError, "has_aux=True", "pair (output, aux)", "returned a"):
            transform(bad)


def test_argnums_out_of_range():
    with raises(ValueError, "argnums=2", "1 positional"):
        jb.grad(lambda x: x)(1.0)
        jb.grad(lambda x: x, argnums=2)(1.0)
    with raises(ValueError, "argnums=2", "1 positional"):
        jb.grad(lambda x: x, argnums=2)(1.0)


def test_jvp_and_vjp_structure_errors():
    x = jnp.ones(3)
    with raises(TypeError, "same tree structure"):
        jb.jvp(lambda a: a, (x,), ((x,),))
    with raises(ValueError, "shape (3,)", "(4,)"):
        jb.jvp(lambda a: a, (x,), (jnp.ones(4),))
    with raises(TypeError, "float32", "int32"):
        jb.jvp(lambda a: a, (x,), (jnp.ones(3, jnp.int32),))
    with raises(TypeError, "int32", "float0", "jumba.numpy.float0"):
        jb.jvp(lambda a, n: a * n, (x, 3), (x, 1.0))
    with raises(TypeError, "tuples or lists"):
        jb.jvp(lambda a: a, x, x)
    _, f_vjp = jb.vjp(lambda a: (a, a), x)
    with raises(TypeError, "tree structure"):
        f_vjp(x)
    _, f_vjp = jb.vjp(lambda a: a, x)
    with raises(ValueError, "(4,)", "(3,)"):
        f_vjp(jnp.ones(4))
    _, f_jvp = jb.linearize(lambda a: a * 2, x)
    with raises(ValueError, "(4,)"):
        f_jvp(jnp.ones(4))
    with raises(TypeError, "structure"):
        jb.linear_transpose(lambda a: (a, a), x)(x)


# ---------------------------------------------------------------------------------------
# vmap misuse


def test_vmap_in_axes_length_mismatch():
    with raises(ValueError, "in_axes", "len(in_axes)=3", "len(args)=2"):
        jb.vmap(lambda a, b: a + b, in_axes=(0, 0, 0))(jnp.ones(2), jnp.ones(2))


def test_vmap_in_axes_tree_mismatch():
    with raises(ValueError, "in_axes", "tree prefix"):
        jb.vmap(lambda d: d["a"], in_axes=({"b": 0},))({"a": jnp.ones(2)})
    with raises(TypeError, "in_axes must be an int, None, or a tuple", "in_axes=({"):
        jb.vmap(lambda d: d["a"], in_axes={"a": 0})({"a": jnp.ones(2)})
    with raises(TypeError, "in_axes must be an int, None, or a tuple", "'0'"):
        jb.vmap(lambda a: a, in_axes="0")
    with raises(TypeError, "in_axes", "ints, None"):
        jb.vmap(lambda a, b: a, in_axes=(0, "1"))


def test_vmap_axis_out_of_range_names_argument():
    with raises(ValueError, "argument 'b'", "axis 1", "rank", "(3,)", "in_axes"):
        jb.vmap(lambda a, b: a + b, in_axes=(0, 1))(jnp.ones((3, 3)), jnp.ones(3))
    with raises(ValueError, "argument 'a'", "rank", "()"):
        jb.vmap(lambda a: a)(1.0)


def test_vmap_inconsistent_sizes_names_arguments():
    with raises(ValueError, "inconsistent sizes", "argument 'a'", "size 3",
                "argument \"d['w']\"", "size 4"):
        jb.vmap(lambda a, d: a)(jnp.ones(3), {"w": jnp.ones(4)})
    with raises(ValueError, "keyword argument 'y'", "always mapped over axis 0"):
        jb.vmap(lambda x, y: x + y)(jnp.ones(3), y=jnp.ones(2))
    with raises(ValueError, "inconsistent", "axis_size=5"):
        jb.vmap(lambda a: a, axis_size=5)(jnp.ones(3))


def test_vmap_needs_a_mapped_input_or_axis_size():
    with raises(ValueError, "axis_size"):
        jb.vmap(lambda a: a, in_axes=None)(jnp.ones(3))


def test_vmap_out_axes_tree_mismatch():
    with raises(ValueError, "out_axes", "tree prefix"):
        jb.vmap(lambda x: (x, x), out_axes=(0, 1, 2))(jnp.ones(3))


def test_vmap_out_axes_none_for_mapped_output():
    with raises(ValueError, "out_axes=None", "mapped"):
        jb.vmap(lambda a: a * 2, out_axes=None)(jnp.ones(3))


def test_vmap_non_array_argument_and_output():
    with raises(TypeError, "argument 'a'", "str", "not an array", "None"):
        jb.vmap(lambda a: a)("s")
    with raises(TypeError, "returned a value of type str"):
        jb.vmap(lambda a: "s")(jnp.ones(2))


# ---------------------------------------------------------------------------------------
# jit misuse


def test_unhashable_static_argument():
    with raises(ValueError, "static argument", "unhashable", "list", "tuple"):
        jb.jit(lambda x, shape: x.reshape(shape), static_argnums=1)(jnp.ones(4), [2, 2])
    with raises(ValueError, "array", "static"):
        jb.jit(lambda x, n: x, static_argnums=1)(jnp.ones(4), jnp.ones(2))


@pytest.mark.parametrize("value", ["relu", object(), [1, "a"]], ids=["str", "object", "list"])
def test_non_array_argument_to_jit(value):
    with raises(TypeError, "argument 'act", "not an array", "static_argnames=('act',)"):
        jb.jit(lambda x, act: x)(jnp.ones(2), value)


def test_non_array_output_of_jit():
    with raises(TypeError, "returned a value of type str"):
        jb.jit(lambda x: "s")(1.0)


def test_jit_of_non_callable():
    with raises(TypeError, "callable"):
        jb.jit(3)
