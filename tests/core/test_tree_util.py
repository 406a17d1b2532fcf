"""Tests for jumba.tree_util and jumba.tree: JAX's pytree semantics on optree."""

import collections
import dataclasses
import functools
import operator
from typing import Any, NamedTuple

import optree
import pytest
from hypothesis import given
from hypothesis import strategies as st

import jumba.tree
import jumba.tree_util as tu
from jumba._src.tree_util import NAMESPACE, flatten_args
from jumba.tree_util import (
    DictKey,
    FlattenedIndexKey,
    GetAttrKey,
    Partial,
    SequenceKey,
    keystr,
    tree_flatten,
    tree_leaves,
    tree_map,
    tree_structure,
    tree_unflatten,
)

# ---------------------------------------------------------------------------------------
# Node types, one per registration route. Registered once, at import.


class Point(NamedTuple):
    x: Any
    y: Any


class Plain:
    """Registered with register_pytree_node: keys are FlattenedIndexKey."""

    def __init__(self, a, b, tag="t"):
        self.a, self.b, self.tag = a, b, tag

    def __eq__(self, other):
        return type(other) is Plain and (self.a, self.b, self.tag) == (other.a, other.b, other.tag)

    __hash__ = None


tu.register_pytree_node(
    Plain, lambda p: ((p.a, p.b), p.tag), lambda tag, children: Plain(*children, tag)
)


class Keyed:
    """Registered with register_pytree_with_keys: keys are GetAttrKey."""

    def __init__(self, a, b):
        self.a, self.b = a, b

    def __eq__(self, other):
        return type(other) is Keyed and (self.a, self.b) == (other.a, other.b)

    __hash__ = None


tu.register_pytree_with_keys(
    Keyed,
    # A generator of (key, child) pairs: the registration must read it only once.
    lambda k: (((GetAttrKey(n), getattr(k, n)) for n in ("a", "b")), None),
    lambda _, children: Keyed(*children),
)


@tu.register_pytree_node_class
class ClassRoute:
    def __init__(self, value, label):
        self.value, self.label = value, label

    def tree_flatten(self):
        return (self.value,), self.label

    @classmethod
    def tree_unflatten(cls, label, children):
        return cls(*children, label)

    def __eq__(self, other):
        return type(other) is ClassRoute and (self.value, self.label) == (other.value, other.label)

    __hash__ = None


@tu.register_pytree_with_keys_class
class KeyedClassRoute:
    def __init__(self, items):
        self.items = dict(items)

    def tree_flatten_with_keys(self):
        names = sorted(self.items)
        return [(DictKey(n), self.items[n]) for n in names], tuple(names)

    @classmethod
    def tree_unflatten(cls, names, children):
        return cls(zip(names, children))

    def __eq__(self, other):
        return type(other) is KeyedClassRoute and self.items == other.items

    __hash__ = None


@tu.register_dataclass
@dataclasses.dataclass
class Inferred:
    w: Any
    b: Any
    name: str = dataclasses.field(default="layer", metadata=dict(static=True))


@functools.partial(tu.register_dataclass, data_fields=["w"], meta_fields=["act"])
@dataclasses.dataclass
class Explicit:
    act: str
    w: Any


@tu.register_static
@dataclasses.dataclass(frozen=True)
class Config:
    lr: float


class NotRegistered:
    pass


# ---------------------------------------------------------------------------------------
# Helpers.


def strict_equal(a, b):
    """==, but also requiring equal types all the way down (tuple != namedtuple, etc.)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Partial):
        return a.func is b.func and strict_equal((a.args, a.keywords), (b.args, b.keywords))
    if isinstance(a, tuple | list | collections.deque):
        return len(a) == len(b) and all(map(strict_equal, a, b))
    if isinstance(a, dict):
        same_order = not isinstance(a, collections.OrderedDict) or list(a) == list(b)
        return (
            same_order
            and a.keys() == b.keys()
            and all(strict_equal(a[k], b[k]) for k in a)
            and getattr(a, "default_factory", None) == getattr(b, "default_factory", None)
        )
    if dataclasses.is_dataclass(a):
        fields = dataclasses.fields(a)
        return all(strict_equal(getattr(a, f.name), getattr(b, f.name)) for f in fields)
    if isinstance(a, Plain | Keyed | ClassRoute | KeyedClassRoute):
        return strict_equal(vars(a), vars(b))
    return a == b


def follow(tree, path):
    """The subtree of ``tree`` at key path ``path``."""
    for key in path:
        match key:
            case SequenceKey(i):
                tree = tree[i]
            case DictKey(k):
                tree = tree.items[k] if isinstance(tree, KeyedClassRoute) else tree[k]
            case GetAttrKey(name):
                tree = getattr(tree, name)
            case FlattenedIndexKey(i):
                tree = optree.tree_flatten_one_level(tree, namespace=NAMESPACE)[0][i]
            case _:
                raise AssertionError(f"unexpected key {key!r}")
    return tree


# ---------------------------------------------------------------------------------------
# None is an empty node.


def test_none_is_an_empty_node_not_a_leaf():
    tree = [None, 1, {"a": None, "b": (None, 2)}]
    leaves, treedef = tree_flatten(tree)
    assert leaves == [1, 2]
    assert treedef.num_leaves == 2
    assert tree_unflatten(treedef, [10, 20]) == [None, 10, {"a": None, "b": (None, 20)}]
    assert tree_leaves(None) == []
    assert tu.treedef_is_leaf(tree_structure(None))
    assert not tu.all_leaves([None])


def test_tree_map_passes_none_through_without_calling_f():
    calls = []

    def f(x):
        calls.append(x)
        return x * 2

    assert tree_map(f, {"a": None, "b": [1, None]}) == {"a": None, "b": [2, None]}
    assert calls == [1]


def test_is_leaf_can_make_none_a_leaf():
    assert tree_leaves([None, 1], is_leaf=lambda x: x is None) == [None, 1]
    assert tree_map(lambda x: 0 if x is None else x, [None, 1], is_leaf=lambda x: x is None) == [
        0,
        1,
    ]


def test_none_against_a_value_is_a_structure_mismatch():
    with pytest.raises(ValueError, match="None is an empty pytree node"):
        tree_map(lambda x, y: x, [1, None], [1, 2])


# ---------------------------------------------------------------------------------------
# Built-in containers.


def test_dict_leaves_come_in_sorted_key_order():
    assert tree_leaves({"b": 1, "a": 2, "c": 3}) == [2, 1, 3]
    assert tree_structure({"b": 1, "a": 2}) == tree_structure({"a": 0, "b": 0})
    assert hash(tree_structure({"b": 1, "a": 2})) == hash(tree_structure({"a": 0, "b": 0}))
    paths = [keystr(p) for p, _ in tu.tree_leaves_with_path({"b": 1, "a": 2})]
    assert paths == ["['a']", "['b']"]


def test_ordered_dict_keeps_insertion_order_and_type():
    od = collections.OrderedDict([("b", 1), ("a", 2)])
    leaves, treedef = tree_flatten(od)
    assert leaves == [1, 2]
    out = tree_unflatten(treedef, [3, 4])
    assert type(out) is collections.OrderedDict
    assert list(out.items()) == [("b", 3), ("a", 4)]
    assert treedef != tree_structure(collections.OrderedDict([("a", 1), ("b", 2)]))


def test_defaultdict_keeps_default_factory():
    dd = collections.defaultdict(list, {"b": 1, "a": 2})
    leaves, treedef = tree_flatten(dd)
    assert leaves == [2, 1]
    out = tree_unflatten(treedef, [5, 6])
    assert type(out) is collections.defaultdict and out.default_factory is list
    assert dict(out) == {"a": 5, "b": 6}


def test_namedtuple_is_a_node_with_attribute_keys():
    tree = Point(1, [2, 3])
    leaves, treedef = tree_flatten(tree)
    assert leaves == [1, 2, 3]
    assert strict_equal(tree_unflatten(treedef, [4, 5, 6]), Point(4, [5, 6]))
    assert treedef != tree_structure((1, [2, 3]))
    paths = [p for p, _ in tu.tree_leaves_with_path(tree)]
    assert paths == [
        (GetAttrKey("x"),),
        (GetAttrKey("y"), SequenceKey(0)),
        (GetAttrKey("y"), SequenceKey(1)),
    ]


CONTAINERS = [
    pytest.param(1.5, [1.5], id="bare-leaf"),
    pytest.param((), [], id="empty-tuple"),
    pytest.param([1, (2, [3])], [1, 2, 3], id="list-tuple"),
    pytest.param({"z": {"y": 1, "x": 2}, "a": [3]}, [3, 2, 1], id="nested-dict"),
    pytest.param(Point(Point(1, 2), None), [1, 2], id="namedtuple"),
    pytest.param(collections.deque([1, 2]), [1, 2], id="deque"),
    pytest.param("a string", ["a string"], id="str-is-leaf"),
    pytest.param(NotRegistered, [NotRegistered], id="class-object-is-leaf"),
]


@pytest.mark.parametrize("tree, expected_leaves", CONTAINERS)
def test_builtin_containers_round_trip(tree, expected_leaves):
    leaves, treedef = tree_flatten(tree)
    assert leaves == expected_leaves
    assert treedef.num_leaves == len(expected_leaves)
    rebuilt = tree_unflatten(treedef, leaves)
    assert type(rebuilt) is type(tree)
    assert rebuilt == tree


def test_unflatten_with_wrong_leaf_count_raises():
    treedef = tree_structure([1, 2, 3])
    with pytest.raises(ValueError, match="Too few leaves"):
        tree_unflatten(treedef, [1, 2])


# ---------------------------------------------------------------------------------------
# Custom node types, every registration route.

ROUTES = [
    # (id, instance, leaves, key strings of its leaves)
    ("register_pytree_node", Plain(1, 2), [1, 2], ["[<flat index 0>]", "[<flat index 1>]"]),
    ("register_pytree_with_keys", Keyed(1, 2), [1, 2], [".a", ".b"]),
    ("register_pytree_node_class", ClassRoute(1, "l"), [1], ["[<flat index 0>]"]),
    (
        "register_pytree_with_keys_class",
        KeyedClassRoute({"q": 1, "p": 2}),
        [2, 1],
        ["['p']", "['q']"],
    ),
    ("register_dataclass-inferred", Inferred(1, 2), [1, 2], [".w", ".b"]),
    ("register_dataclass-explicit", Explicit("relu", 1), [1], [".w"]),
    ("register_static", Config(0.1), [], []),
]


@pytest.mark.parametrize("name, node, leaves, keys", ROUTES, ids=[r[0] for r in ROUTES])
def test_registration_route_flattens_maps_and_names_keys(name, node, leaves, keys):
    got_leaves, treedef = tree_flatten(node)
    assert got_leaves == leaves
    assert strict_equal(tree_unflatten(treedef, got_leaves), node)
    assert [keystr(p) for p, _ in tu.tree_leaves_with_path(node)] == keys
    doubled = tree_map(lambda x: x * 2, node)
    assert type(doubled) is type(node)
    assert tree_leaves(doubled) == [2 * x for x in leaves]


@pytest.mark.parametrize("name, node, leaves, keys", ROUTES, ids=[r[0] for r in ROUTES])
def test_registration_route_nests_inside_containers(name, node, leaves, keys):
    tree = {"outer": [node, Keyed(node, None)], "n": 0}
    got, treedef = tree_flatten(tree)
    assert got == [0, *leaves, *leaves]
    assert strict_equal(tree_unflatten(treedef, got), tree)
    for path, leaf in tu.tree_leaves_with_path(tree):
        assert follow(tree, path) == leaf


@pytest.mark.parametrize("name, node, leaves, keys", ROUTES, ids=[r[0] for r in ROUTES])
def test_registration_is_in_the_jumba_namespace_only(name, node, leaves, keys):
    # optree's global registry does not see our types: other optree users are unaffected.
    assert optree.tree_leaves(node) == [node]


def test_custom_nodes_nest_in_each_other():
    tree = Plain(Keyed(Inferred([1, 2], None), ClassRoute(3, "c")), Explicit("tanh", (4,)))
    leaves, treedef = tree_flatten(tree)
    assert leaves == [1, 2, 3, 4]
    assert strict_equal(tree_unflatten(treedef, leaves), tree)
    assert [keystr(p) for p, _ in tu.tree_leaves_with_path(tree)] == [
        "[<flat index 0>].a.w[0]",
        "[<flat index 0>].a.w[1]",
        "[<flat index 0>].b[<flat index 0>]",
        "[<flat index 1>].w[0]",
    ]


def test_aux_data_is_part_of_the_structure():
    assert tree_structure(Plain(1, 2, "x")) == tree_structure(Plain(3, 4, "x"))
    assert hash(tree_structure(Plain(1, 2, "x"))) == hash(tree_structure(Plain(3, 4, "x")))
    assert tree_structure(Plain(1, 2, "x")) != tree_structure(Plain(1, 2, "y"))
    assert tree_structure(Inferred(1, 2, "a")) != tree_structure(Inferred(1, 2, "b"))
    assert tree_structure(Config(0.1)) != tree_structure(Config(0.2))
    assert tree_unflatten(tree_structure(Config(0.1)), []) == Config(0.1)


def test_registering_twice_raises():
    with pytest.raises(ValueError, match="already registered"):
        tu.register_pytree_node(Plain, lambda p: ((), None), lambda a, c: Plain(0, 0))


def test_register_pytree_node_with_keys_func_uses_the_keys():
    class WithKeys:
        def __init__(self, v):
            self.v = v

    tu.register_pytree_node(
        WithKeys,
        lambda o: ((o.v,), None),
        lambda _, c: WithKeys(*c),
        flatten_with_keys_func=lambda o: (((GetAttrKey("v"), o.v),), None),
    )
    assert [keystr(p) for p, _ in tu.tree_leaves_with_path(WithKeys(1))] == [".v"]


# ---------------------------------------------------------------------------------------
# register_dataclass.


def test_dataclass_meta_fields_are_static_and_data_fields_are_children():
    leaves, treedef = tree_flatten(Inferred(w=[1, 2], b=3, name="dense"))
    assert leaves == [1, 2, 3]
    assert strict_equal(tree_unflatten(treedef, [4, 5, 6]), Inferred([4, 5], 6, "dense"))


def test_dataclass_inference_skips_init_false_fields_and_drop_fields():
    @functools.partial(tu.register_dataclass, drop_fields=["cache"])
    @dataclasses.dataclass
    class Layer:
        w: Any
        cache: Any = None
        count: int = dataclasses.field(default=0, init=False)

    layer = Layer(w=1, cache="c")
    leaves, treedef = tree_flatten(layer)
    assert leaves == [1]
    assert tree_unflatten(treedef, [2]).w == 2


def test_dataclass_fields_must_come_together():
    @dataclasses.dataclass
    class A:
        x: Any

    with pytest.raises(TypeError, match="together"):
        tu.register_dataclass(A, data_fields=["x"])


def test_dataclass_fields_must_cover_init_fields():
    @dataclasses.dataclass
    class B:
        x: Any
        y: Any

    with pytest.raises(ValueError, match=r"Missing: \['y'\]"):
        tu.register_dataclass(B, data_fields=["x"], meta_fields=[])
    with pytest.raises(ValueError, match=r"Not init fields of B: \['z'\]"):
        tu.register_dataclass(B, data_fields=["x", "y", "z"], meta_fields=[])


def test_dataclass_inference_needs_a_dataclass():
    class C:
        pass

    with pytest.raises(TypeError, match="@dataclasses.dataclass"):
        tu.register_dataclass(C)


def test_register_dataclass_accepts_a_plain_class_with_explicit_fields():
    class Pt:
        def __init__(self, x, y, unit):
            self.x, self.y, self.unit = x, y, unit

    tu.register_dataclass(Pt, data_fields=("x", "y"), meta_fields=("unit",))
    leaves, treedef = tree_flatten(Pt(1, 2, "m"))
    assert leaves == [1, 2]
    out = tree_unflatten(treedef, [3, 4])
    assert (out.x, out.y, out.unit) == (3, 4, "m")


# ---------------------------------------------------------------------------------------
# Partial.


def test_partial_is_a_pytree_whose_func_is_static():
    p = Partial(operator.add, 1)
    assert isinstance(p, functools.partial)
    assert p(2) == 3
    leaves, treedef = tree_flatten(p)
    assert leaves == [1]
    assert treedef == tree_structure(Partial(operator.add, 5))
    assert treedef != tree_structure(Partial(operator.sub, 5))


def test_partial_passes_through_tree_map_and_still_calls():
    def affine(x, a, *, b):
        return a * x + b

    p = Partial(affine, 2, b=3)
    assert tree_leaves(p) == [2, 3]
    q = tree_map(lambda v: v * 10, p)
    assert type(q) is Partial
    assert q.args == (20,) and q.keywords == {"b": 30}
    assert q(1) == 50
    assert [keystr(k) for k, _ in tu.tree_leaves_with_path(p)] == [
        "[<flat index 0>][0]",
        "[<flat index 1>]['b']",
    ]


def test_partial_of_a_partial_keeps_the_inner_arguments_static():
    inner = functools.partial(operator.sub, 10)
    p = Partial(inner, 3)
    assert p() == 7
    assert tree_leaves(p) == [3]  # not merged into (10, 3)
    inner_partial = Partial(operator.sub, 10)
    pp = Partial(inner_partial, 3)
    assert tree_leaves(pp) == [3]
    assert tree_map(lambda x: x + 1, pp)() == 6


# ---------------------------------------------------------------------------------------
# tree_map structure errors and prefixes.


def test_tree_map_mismatch_names_both_structures():
    with pytest.raises(ValueError) as info:
        tree_map(lambda x, y: x + y, [1, 2], {"a": 1, "b": 2})
    msg = str(info.value)
    assert "tree_map" in msg and "rest[0]" in msg
    assert str(tree_structure([1, 2])) in msg
    assert str(tree_structure({"a": 1, "b": 2})) in msg


def test_tree_map_mismatch_names_which_extra_tree():
    with pytest.raises(ValueError, match=r"rest\[1\]") as info:
        tree_map(lambda *xs: 0, {"a": 1}, {"a": 2}, {"a": 3, "b": 4})
    assert "'b'" in str(info.value)


def test_tree_map_with_path_mismatch_is_reported_the_same_way():
    with pytest.raises(ValueError, match=r"tree_map_with_path: rest\[0\]"):
        tu.tree_map_with_path(lambda p, x, y: x, (1, 2), (1, 2, 3))


def test_errors_raised_by_f_are_not_rewritten():
    def f(x, y):
        raise ValueError("boom from f")

    with pytest.raises(ValueError, match="^boom from f$"):
        tree_map(f, [1], [2])


def test_extra_trees_may_be_deeper_than_the_first():
    out = tree_map(lambda x, sub: (x, sub), [1, 2], [(3, 4), {"a": 5}])
    assert out == [(1, (3, 4)), (2, {"a": 5})]


def test_tree_map_multiple_trees_and_is_leaf():
    out = tree_map(
        lambda x, y, z: x + y + z, {"a": 1, "b": [2]}, {"a": 10, "b": [20]}, {"a": 100, "b": [200]}
    )
    assert out == {"a": 111, "b": [222]}
    pairs = tree_map(lambda p: sum(p), [(1, 2), (3, 4)], is_leaf=lambda x: isinstance(x, tuple))
    assert pairs == [3, 7]


# ---------------------------------------------------------------------------------------
# Reductions and transposition.


def test_tree_reduce_and_tree_all():
    assert tu.tree_reduce(operator.add, [1, (2, None), {"a": 3}]) == 6
    assert tu.tree_reduce(operator.add, [], 7) == 7
    assert tu.tree_reduce(operator.mul, {"x": 2, "y": 5}, initializer=1) == 10
    with pytest.raises(TypeError, match="initializer"):
        tu.tree_reduce(operator.add, [None, ()])
    assert tu.tree_all([True, {"a": 1}]) is True
    assert tu.tree_all([True, (0,)]) is False
    assert tu.tree_all([]) is True
    assert tu.tree_all([[1, 0]], is_leaf=lambda x: isinstance(x, list)) is True


def test_tree_transpose_explicit_and_inferred_inner():
    tree = [(1, 2, 3), (4, 5, 6)]
    outer, inner = tree_structure([0, 0]), tree_structure((0, 0, 0))
    assert tu.tree_transpose(outer, inner, tree) == ([1, 4], [2, 5], [3, 6])
    assert tu.tree_transpose(outer, None, tree) == ([1, 4], [2, 5], [3, 6])


def test_tree_transpose_dicts_and_round_trip():
    tree = {"a": {"x": 1, "y": 2}, "b": {"x": 3, "y": 4}}
    outer, inner = tree_structure({"a": 0, "b": 0}), tree_structure({"x": 0, "y": 0})
    t = tu.tree_transpose(outer, inner, tree)
    assert t == {"x": {"a": 1, "b": 3}, "y": {"a": 2, "b": 4}}
    assert tu.tree_transpose(inner, outer, t) == tree


def test_tree_transpose_structure_mismatch_raises():
    outer, inner = tree_structure([0, 0]), tree_structure((0, 0))
    with pytest.raises(TypeError, match="not outer composed with inner"):
        tu.tree_transpose(outer, inner, [(1, 2), (3, 4, 5)])


def test_treedef_helpers():
    treedef = tree_structure((1, [2, 3], None))
    children = tu.treedef_children(treedef)
    assert children == [tree_structure(0), tree_structure([0, 0]), tree_structure(None)]
    assert [tu.treedef_is_leaf(c) for c in children] == [True, False, True]
    assert not tu.treedef_is_leaf(treedef)
    assert tu.all_leaves([1, "a", 2.0]) and not tu.all_leaves([1, [2]])
    assert tu.all_leaves([[1], [2]], is_leaf=lambda x: isinstance(x, list))


# ---------------------------------------------------------------------------------------
# Key paths.


def test_key_entry_str_repr_and_attributes():
    cases = [
        (SequenceKey(2), "[2]", "SequenceKey(idx=2)", "idx", 2),
        (DictKey("w"), "['w']", "DictKey(key='w')", "key", "w"),
        (DictKey(3), "[3]", "DictKey(key=3)", "key", 3),
        (GetAttrKey("bias"), ".bias", "GetAttrKey(name='bias')", "name", "bias"),
        (FlattenedIndexKey(1), "[<flat index 1>]", "FlattenedIndexKey(key=1)", "key", 1),
    ]
    for key, s, r, attr, value in cases:
        assert str(key) == s
        assert repr(key) == r
        assert getattr(key, attr) == value
        assert key == type(key)(value) and hash(key) == hash(type(key)(value))
    assert SequenceKey(0) != FlattenedIndexKey(0)


def test_tree_flatten_with_path_paths_leaves_and_treedef():
    tree = {"params": [Point(1.0, 2.0), (3.0,)], "step": 4}
    pairs, treedef = tu.tree_flatten_with_path(tree)
    assert treedef == tree_structure(tree)
    assert [leaf for _, leaf in pairs] == tree_leaves(tree)
    assert [p for p, _ in pairs] == [
        (DictKey("params"), SequenceKey(0), GetAttrKey("x")),
        (DictKey("params"), SequenceKey(0), GetAttrKey("y")),
        (DictKey("params"), SequenceKey(1), SequenceKey(0)),
        (DictKey("step"),),
    ]
    assert tu.tree_flatten_with_path(5) == ([((), 5)], tree_structure(5))


def test_keystr_plain_simple_and_separator():
    params = {"foo": {"bar": {"baz": 1, "bat": [2, 3]}}, "p": Point(4, None)}
    paths = [p for p, _ in tu.tree_leaves_with_path(params)]
    assert [keystr(p) for p in paths] == [
        "['foo']['bar']['bat'][0]",
        "['foo']['bar']['bat'][1]",
        "['foo']['bar']['baz']",
        "['p'].x",
    ]
    assert [keystr(p, simple=True, separator="/") for p in paths] == [
        "foo/bar/bat/0",
        "foo/bar/bat/1",
        "foo/bar/baz",
        "p/x",
    ]
    assert keystr((FlattenedIndexKey(3), "raw", 7), simple=True, separator=".") == "3.raw.7"
    assert keystr(()) == ""


def test_tree_map_with_path():
    tree = {"w": [1, 2], "b": 3}
    out = tu.tree_map_with_path(
        lambda p, x, y: f"{keystr(p)}:{x + y}", tree, {"w": [10, 20], "b": 30}
    )
    assert out == {"b": "['b']:33", "w": ["['w'][0]:11", "['w'][1]:22"]}


# ---------------------------------------------------------------------------------------
# flatten_args (the transformations' helper).


def test_flatten_args_round_trips_and_keys_the_cache():
    args, kwargs = (1, [2, None]), {"z": 3, "a": (4,)}
    leaves, treedef = flatten_args(args, kwargs)
    assert leaves == [1, 2, 4, 3]
    assert tree_unflatten(treedef, leaves) == (args, kwargs)
    assert (leaves, treedef) == tree_flatten((args, kwargs))
    assert flatten_args((5, [6, None]), {"a": (7,), "z": 8})[1] == treedef
    assert flatten_args(args, {"y": 3, "a": (4,)})[1] != treedef


def test_flatten_args_without_kwargs():
    leaves, treedef = flatten_args((1, 2))
    assert leaves == [1, 2]
    assert tree_unflatten(treedef, leaves) == ((1, 2), {})
    assert treedef == flatten_args((3, 4), {})[1]


# ---------------------------------------------------------------------------------------
# The jumba.tree namespace.

TREE_ALIASES = {
    "all": "tree_all",
    "flatten": "tree_flatten",
    "flatten_with_path": "tree_flatten_with_path",
    "leaves": "tree_leaves",
    "leaves_with_path": "tree_leaves_with_path",
    "map": "tree_map",
    "map_with_path": "tree_map_with_path",
    "reduce": "tree_reduce",
    "structure": "tree_structure",
    "transpose": "tree_transpose",
    "unflatten": "tree_unflatten",
}


@pytest.mark.parametrize("short, long", TREE_ALIASES.items())
def test_jumba_tree_namespace_aliases_tree_util(short, long):
    assert getattr(jumba.tree, short) is getattr(tu, long)
    assert short in jumba.tree.__all__


def test_public_tree_util_exports_exist():
    for name in tu.__all__:
        assert hasattr(tu, name), name


# ---------------------------------------------------------------------------------------
# Property tests on generated trees.

_leaves = st.one_of(
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=3),
    st.booleans(),
    st.none(),  # None is a node, but it is generated in leaf positions
)


def _extend(children):
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=3), children, max_size=4),
        st.dictionaries(st.integers(-5, 5), children, max_size=3).map(
            lambda d: collections.OrderedDict(reversed(list(d.items())))
        ),
        st.builds(Point, children, children),
        st.builds(Plain, children, children, st.sampled_from(["p", "q"])),
        st.builds(Keyed, children, children),
        st.builds(Inferred, children, children, st.sampled_from(["l1", "l2"])),
        st.builds(Partial, st.just(operator.add), children),
    )


trees = st.recursive(_leaves, _extend, max_leaves=25)


@given(trees)
def test_flatten_unflatten_round_trip(tree):
    leaves, treedef = tree_flatten(tree)
    assert len(leaves) == treedef.num_leaves
    assert strict_equal(tree_unflatten(treedef, leaves), tree)
    assert strict_equal(tree_map(lambda x: x, tree), tree)
    assert tree_structure(tree_unflatten(treedef, list(range(len(leaves))))) == treedef


@given(trees)
def test_generated_key_paths_lead_to_their_leaves(tree):
    pairs, treedef = tu.tree_flatten_with_path(tree)
    assert treedef == tree_structure(tree)
    paths = [p for p, _ in pairs]
    assert len(set(paths)) == len(paths)
    for path, leaf in pairs:
        assert follow(tree, path) is leaf
    # optree's own accessors also work on every node type we register.
    for accessor, (_, leaf) in zip(treedef.accessors(), pairs):
        assert accessor(tree) is leaf


class Box:
    """An unregistered class: a leaf."""

    def __init__(self, v):
        self.v = v


@given(trees)
def test_generated_tree_map_matches_leafwise_map(tree):
    leaves, treedef = tree_flatten(tree)
    mapped = tree_map(Box, tree)
    assert tree_structure(mapped) == treedef
    assert [b.v for b in tree_leaves(mapped)] == leaves
    assert all(b.v is x for b, x in zip(tree_leaves(mapped), leaves))
