"""Module machinery, filtering, tree surgery and helpers of jumba_pytree_models."""

import dataclasses
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba
import jumba.numpy as jnp
import jumba_pytree_models as eqx
from jumba import tree_util as jtu


class Affine(eqx.Module):
    weight: Any
    bias: Any
    activation: Any = eqx.field(static=True, default=jnp.tanh)

    def __call__(self, x):
        return self.activation(self.weight * x + self.bias)

    def double(self, x):
        return 2 * self(x)


def _affine():
    return Affine(jnp.array([1.0, 2.0]), jnp.array(0.5))


def test_module_is_a_pytree_with_static_fields():
    m = _affine()
    leaves, treedef = jtu.tree_flatten(m)
    assert len(leaves) == 2
    m2 = jtu.tree_unflatten(treedef, [jnp.zeros(2), jnp.ones(())])
    assert type(m2) is Affine and m2.activation is jnp.tanh
    assert [jtu.keystr(p) for p, _ in jtu.tree_flatten_with_path(m)[0]] == [".weight", ".bias"]
    # Static fields are in the structure: a different value is a different structure.
    other = Affine(jnp.array([1.0, 2.0]), jnp.array(0.5), activation=jnp.sin)
    assert jtu.tree_structure(other) != treedef


def test_frozen_after_init_with_clear_error():
    m = _affine()
    with pytest.raises(dataclasses.FrozenInstanceError) as e:
        m.weight = jnp.zeros(2)
    assert "Wrong" in str(e.value) and "eqx.tree_at" in str(e.value)

    class Counter(eqx.Module):
        n: int

        def bump(self):
            self.n = self.n + 1

    with pytest.raises(dataclasses.FrozenInstanceError, match="tree_at"):
        Counter(1).bump()
    with pytest.raises(dataclasses.FrozenInstanceError):
        del m.weight
    assert eqx.FROZEN_ERROR.startswith("Cannot set attribute")


def test_custom_init_missing_field_and_undeclared_attribute():
    class Good(eqx.Module):
        a: Any
        b: int = eqx.field(static=True)
        c: float = 3.0

        def __init__(self, a):
            self.a = a
            self.b = 7

    g = Good(jnp.ones(1))
    assert g.b == 7 and g.c == 3.0  # defaults filled in for unassigned fields

    class Missing(eqx.Module):
        a: Any
        b: Any

        def __init__(self, a):
            self.a = a

    with pytest.raises(TypeError, match="without setting field 'b'") as e:
        Missing(1)
    assert "Right" in str(e.value)

    class Undeclared(eqx.Module):
        a: Any

        def __init__(self, a):
            self.a = a
            self.extra = 1

    with pytest.raises(AttributeError, match="not a field"):
        Undeclared(1)


def test_converter_and_check_init_and_subclass_init():
    class Base(eqx.Module):
        x: Any = eqx.field(converter=jnp.asarray)

        def __check_init__(self):
            if jnp.ndim(self.x) != 1:
                raise ValueError("x must be a vector")

    class Child(Base):
        y: int = eqx.field(static=True, default=1)

        def __init__(self, x):
            super().__init__(x)  # the parent's (generated) __init__ must not freeze early
            self.y = 5

        def __check_init__(self):
            assert self.y == 5

    c = Child([1.0, 2.0])
    assert isinstance(c.x, jumba.Array) and c.y == 5
    with pytest.raises(ValueError, match="vector"):
        Child(1.0)  # the parent's __check_init__ runs too


def test_bound_methods_are_pytrees_and_pass_through_jit():
    m = _affine()
    method = m.double
    assert len(jtu.tree_leaves(method)) == 2
    out = jumba.jit(lambda f, x: f(x))(method, jnp.ones(2))  # plain jit takes it too
    np.testing.assert_allclose(np.asarray(out), np.asarray(method(jnp.ones(2))))
    traced = eqx.filter_jit(m.double)(jnp.ones(2))
    np.testing.assert_allclose(np.asarray(traced), np.asarray(m.double(jnp.ones(2))))
    g = eqx.filter_grad(lambda f, x: jnp.sum(f(x)))(m.double, jnp.ones(2))
    assert g.__self__.weight.shape == (2,)
    assert Affine.double(m, jnp.ones(2)).shape == (2,)  # unbound call through the class


def test_equality_hash_and_repr():
    a, b = _affine(), _affine()
    assert a == b and a != eqx.tree_at(lambda m: m.bias, a, jnp.array(0.0))
    assert "Affine(" in repr(a) and "f32[2]" in repr(a)
    hash(Affine(1.0, 2.0))  # hashable when the leaves are


def test_abstract_var_is_not_a_field():
    class Abstract(eqx.Module):
        size: eqx.AbstractVar[int]

    class Concrete(Abstract):
        size: int

    assert [f.name for f in dataclasses.fields(Abstract)] == []
    assert Concrete(3).size == 3


def test_filter_partition_combine():
    tree = {"w": jnp.ones(2), "n": 3, "f": jnp.sin, "i": jnp.arange(2), "s": "name"}
    dyn, static = eqx.partition(tree, eqx.is_array)
    assert dyn["n"] is None and static["w"] is None and dyn["i"] is not None
    assert eqx.tree_equal(eqx.combine(dyn, static), tree)
    inexact = eqx.filter(tree, eqx.is_inexact_array)
    assert inexact["i"] is None and inexact["w"] is not None
    inv = eqx.filter(tree, eqx.is_inexact_array, inverse=True, replace=0)
    assert inv["w"] == 0 and inv["s"] == "name"
    # A prefix spec of bools.
    spec = {"w": True, "n": False, "f": False, "i": eqx.is_array, "s": False}
    kept = eqx.filter(tree, spec)
    assert kept["n"] is None and kept["i"] is not None
    assert eqx.is_array_like(1.0) and eqx.is_inexact_array_like(1.0)
    assert not eqx.is_inexact_array_like(1) and not eqx.is_array(1.0)
    with pytest.raises(ValueError, match="prefix"):
        eqx.filter(tree, [True])


def test_tree_at_cases():
    m = _affine()
    m2 = eqx.tree_at(lambda t: t.weight, m, jnp.zeros(2))
    assert m2.weight.tolist() == [0.0, 0.0] and m.weight.tolist() == [1.0, 2.0]
    m3 = eqx.tree_at(lambda t: (t.weight, t.bias), m, replace_fn=lambda v: v * 10)
    assert m3.bias.tolist() == 5.0 and m3.weight.tolist() == [10.0, 20.0]
    # Replacing a None field, a whole subtree, and list elements.
    tree = {"a": None, "b": [1, 2, (3, 4)], "c": m}
    t2 = eqx.tree_at(lambda t: t["a"], tree, jnp.ones(1))
    assert t2["a"].tolist() == [1.0]
    t3 = eqx.tree_at(lambda t: t["b"][2], tree, "replaced")
    assert t3["b"] == [1, 2, "replaced"]
    t4 = eqx.tree_at(lambda t: [t["b"][0], t["c"].bias], tree, [10, jnp.array(1.0)])
    assert t4["b"][0] == 10 and float(t4["c"].bias) == 1.0
    # Equal leaves at different places stay distinct.
    t5 = eqx.tree_at(lambda t: t[1], (1, 1, 1), 9)
    assert t5 == (1, 9, 1)
    with pytest.raises(ValueError, match="not a node"):
        eqx.tree_at(lambda t: t.activation, m, jnp.cos)  # a static field
    with pytest.raises(ValueError, match="exactly one"):
        eqx.tree_at(lambda t: t.weight, m)
    with pytest.raises(ValueError, match="sequence"):
        eqx.tree_at(lambda t: (t.weight, t.bias), m, jnp.zeros(2))


def test_tree_equal_pformat_and_check():
    a = {"x": jnp.ones(2), "y": "s"}
    assert eqx.tree_equal(a, {"x": jnp.ones(2), "y": "s"})
    assert not eqx.tree_equal(a, {"x": jnp.ones(3), "y": "s"})
    assert not eqx.tree_equal(a, {"x": jnp.ones(2), "y": "t"})
    assert eqx.tree_equal(jnp.ones(2), jnp.ones(2) + 1e-7, rtol=1e-5)
    traced = jumba.jit(lambda x, y: eqx.tree_equal(x, y))(jnp.ones(2), jnp.ones(2))
    assert bool(traced)
    text = eqx.tree_pformat({"w": jnp.zeros((2, 3)), "n": [1, 2]})
    assert text == "{'w': f32[2,3], 'n': [1, 2]}"
    long = eqx.tree_pformat(eqx.nn.MLP(2, 2, 4, 1, key=jumba.random.PRNGKey(0)), width=40)
    assert long.startswith("MLP(\n") and "Linear(" in long
    assert "1., 2." in eqx.tree_pformat(jnp.array([1.0, 2.0]), short_arrays=False)
    shared = _affine()
    with pytest.raises(ValueError, match="more than once"):
        eqx.tree_check([shared, shared])
    eqx.tree_check([_affine(), _affine()])
    children, treedef = eqx.tree_flatten_one_level({"a": 1, "b": [2]})
    assert children == [1, [2]]


def test_apply_updates_partial_nondifferentiable():
    model = {"w": jnp.ones(2), "f": jnp.sin, "n": 3}
    new = eqx.apply_updates(model, {"w": jnp.ones(2), "f": None, "n": None})
    assert new["w"].tolist() == [2.0, 2.0] and new["f"] is jnp.sin
    p = eqx.Partial(lambda a, b, c=0: a * b + c, jnp.array(2.0), c=1.0)
    assert float(p(3.0)) == 7.0 and len(jtu.tree_leaves(p)) == 3  # func is a child too
    assert float(eqx.filter_jit(lambda f, x: f(x))(p, 3.0)) == 7.0
    x = eqx.nondifferentiable(jnp.array(1.0), name="x")
    assert float(x) == 1.0
    with pytest.raises(RuntimeError, match="nondifferentiable"):
        jumba.grad(lambda v: eqx.nondifferentiable(v, name="v") * 2)(1.0)


def test_error_if_and_enumeration():
    x = jnp.array([1.0, 2.0])
    assert eqx.error_if(x, x < 0, "neg") is x
    with pytest.raises(eqx.EquinoxRuntimeError, match="neg"):
        eqx.error_if(x, x > 1, "neg")
    f = jumba.jit(lambda v: eqx.error_if(v, v > 1, "too big") * 2)
    assert f(jnp.array([0.5])).tolist() == [1.0]
    with pytest.raises(eqx.EquinoxRuntimeError, match="too big"):
        f(jnp.array([2.0]))
    with pytest.raises(eqx.EquinoxRuntimeError, match="second"):
        eqx.branched_error_if(x, True, 1, ["first", "second"])

    class Colour(eqx.Enumeration):
        red = "warm"
        blue = "cold"

    c = Colour.where(jnp.array(False), Colour.red, Colour.blue)
    assert bool(c == Colour.blue) and Colour[c] == "cold" and len(Colour) == 2
    out = eqx.filter_jit(lambda c: c == Colour.red)(Colour.red)
    assert bool(out)


def test_nondifferentiable_backward():
    f = lambda v: eqx.nondifferentiable_backward(v, msg="no reverse") * 2  # noqa: E731
    assert float(f(1.0)) == 2.0
    with pytest.raises(RuntimeError, match="no reverse"):
        jumba.grad(f)(1.0)


_leaf = st.one_of(st.integers(-3, 3), st.floats(-2, 2, width=32), st.text(max_size=2),
                  st.builds(lambda n: jnp.arange(float(n)), st.integers(0, 3)),
                  st.none())
_trees = st.recursive(_leaf, lambda kids: st.one_of(
    st.lists(kids, max_size=3), st.tuples(kids, kids),
    st.dictionaries(st.sampled_from("abc"), kids, max_size=3)), max_leaves=8)


@settings(max_examples=40, deadline=None)
@given(_trees)
def test_partition_combine_and_tree_at_round_trip(tree):
    for spec in (eqx.is_array, eqx.is_inexact_array, eqx.is_array_like):
        assert eqx.tree_equal(eqx.combine(*eqx.partition(tree, spec)), tree)
    # Replacing every leaf by itself (one at a time) gives the same tree back.
    leaves = jtu.tree_leaves(tree)
    for i in range(len(leaves)):
        def where(t, i=i):
            return jtu.tree_leaves(t)[i]
        assert eqx.tree_equal(eqx.tree_at(where, tree, replace_fn=lambda v: v), tree)
        marked = eqx.tree_at(where, tree, "<marked>")
        assert jtu.tree_leaves(marked)[i] == "<marked>"


def test_layers_follow_the_x64_flag():
    with jumba.enable_x64():
        lin = eqx.nn.Linear(2, 2, key=jumba.random.PRNGKey(0))
        assert lin.weight.dtype == jnp.float64 and lin(jnp.ones(2)).dtype == jnp.float64
        g = eqx.filter_grad(lambda m: jnp.sum(m(jnp.ones(2))))(lin)
        assert g.weight.dtype == jnp.float64
    assert eqx.nn.Linear(2, 2, key=jumba.random.PRNGKey(0)).weight.dtype == jnp.float32
