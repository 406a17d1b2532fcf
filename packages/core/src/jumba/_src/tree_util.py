"""Pytrees: JAX's ``jax.tree_util`` semantics on optree.

Every function here works in optree's ``"jumba"`` registry namespace with ``None`` as an
empty node (``none_is_leaf=False``), which is what JAX does: ``None`` has no children and
survives ``tree_map`` unchanged; dict keys are sorted; ``OrderedDict`` keeps insertion
order; namedtuples, tuples, lists, dicts and ``defaultdict`` are built-in nodes.

Tree definitions are optree ``PyTreeSpec`` objects (exported as ``PyTreeDef``): hashable,
comparable, with ``.num_leaves`` and ``.unflatten(leaves)``.

Transformations flatten on every call, so the hot functions (``tree_flatten``,
``tree_unflatten``, ``flatten_args``) are one call into optree's C++ core and nothing more.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

import optree
from optree import PyTreeSpec

try:
    # optree.tree_flatten is a pure-Python frame around this C++ function; calling it
    # directly means our wrappers cost no more than optree's own.
    from optree._C import flatten as _flatten
except ImportError:  # pragma: no cover - only if a future optree moves its extension

    def _flatten(tree, is_leaf, none_is_leaf, namespace):
        return optree.tree_flatten(tree, is_leaf, none_is_leaf=none_is_leaf, namespace=namespace)


__all__ = [
    "NAMESPACE",
    "DictKey",
    "FlattenedIndexKey",
    "GetAttrKey",
    "KeyEntry",
    "KeyPath",
    "Partial",
    "PyTreeDef",
    "SequenceKey",
    "all_leaves",
    "flatten_args",
    "keystr",
    "register_dataclass",
    "register_pytree_node",
    "register_pytree_node_class",
    "register_pytree_with_keys",
    "register_pytree_with_keys_class",
    "register_static",
    "tree_all",
    "tree_flatten",
    "tree_flatten_with_path",
    "tree_leaves",
    "tree_leaves_with_path",
    "tree_map",
    "tree_map_with_path",
    "tree_reduce",
    "tree_structure",
    "tree_transpose",
    "tree_unflatten",
    "treedef_children",
    "treedef_is_leaf",
]

NAMESPACE = "jumba"
"""The optree registry namespace holding every node type registered through Jumba."""

PyTreeDef = PyTreeSpec
KeyEntry = Hashable
KeyPath = tuple[KeyEntry, ...]

T = TypeVar("T")
Typ = TypeVar("Typ", bound=type)
IsLeaf = Callable[[Any], bool] | None


# --------------------------------------------------------------------------------------
# Flatten / unflatten: the hot path.


def tree_flatten(tree: Any, is_leaf: IsLeaf = None) -> tuple[list[Any], PyTreeDef]:
    """Flattens a pytree into its leaves and its structure.

    Args:
        tree: a pytree: nested containers (tuples, lists, dicts, namedtuples, ``None``
            and registered types) holding leaves.
        is_leaf: optional predicate; a subtree for which it returns ``True`` is a leaf.

    Returns:
        ``(leaves, treedef)``: the leaves in order (dict keys sorted) and the structure.

    Examples:
        >>> leaves, treedef = tree_flatten({"b": [1, None], "a": 2})
        >>> leaves
        [2, 1]
        >>> treedef
        PyTreeSpec({'a': *, 'b': [*, None]})
    """
    return _flatten(tree, is_leaf, False, NAMESPACE)


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
    """Builds a pytree of structure ``treedef`` from ``leaves`` (the inverse of flatten).

    Examples:
        >>> leaves, treedef = tree_flatten((1, {"x": 2}))
        >>> tree_unflatten(treedef, [10, 20])
        (10, {'x': 20})
    """
    return treedef.unflatten(leaves)


def flatten_args(args: tuple[Any, ...], kwargs: dict[str, Any] | None = None):
    """Flattens a call's arguments in one pass, for transformations.

    Args:
        args: the positional arguments, as a tuple.
        kwargs: the keyword arguments, or ``None`` for none.

    Returns:
        ``(leaves, treedef)`` where ``tree_unflatten(treedef, leaves) == (args, kwargs)``
        (``kwargs`` is ``{}`` when ``None`` was passed).

    Examples:
        >>> leaves, treedef = flatten_args((1, [2, 3]), {"scale": 4})
        >>> leaves
        [1, 2, 3, 4]
        >>> tree_unflatten(treedef, leaves)
        ((1, [2, 3]), {'scale': 4})
    """
    return _flatten((args, {} if kwargs is None else kwargs), None, False, NAMESPACE)


def tree_leaves(tree: Any, is_leaf: IsLeaf = None) -> list[Any]:
    """Returns the leaves of ``tree`` in flattening order.

    Examples:
        >>> tree_leaves([1, (None, 2), {"b": 3, "a": 4}])
        [1, 2, 4, 3]
    """
    return _flatten(tree, is_leaf, False, NAMESPACE)[0]


def tree_structure(tree: Any, is_leaf: IsLeaf = None) -> PyTreeDef:
    """Returns the structure (treedef) of ``tree``.

    Examples:
        >>> tree_structure((1, [2, None]))
        PyTreeSpec((*, [*, None]))
    """
    return _flatten(tree, is_leaf, False, NAMESPACE)[1]


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
    """Whether ``treedef`` is a single node: a leaf, or an empty node such as ``None``."""
    return treedef.num_nodes == 1


def treedef_children(treedef: PyTreeDef) -> list[PyTreeDef]:
    """Returns the structures of the root's children.

    Examples:
        >>> treedef_children(tree_structure((1, [2, 3])))
        [PyTreeSpec(*), PyTreeSpec([*, *])]
    """
    return treedef.children()


def all_leaves(iterable: Iterable[Any], is_leaf: IsLeaf = None) -> bool:
    """Whether every element of ``iterable`` is a leaf (``None`` is not: it is a node).

    Examples:
        >>> all_leaves([1, 2.0, "x"]), all_leaves([1, (2,)]), all_leaves([None])
        (True, False, False)
    """
    return optree.all_leaves(iterable, is_leaf, none_is_leaf=False, namespace=NAMESPACE)


# --------------------------------------------------------------------------------------
# Maps and reductions.


def _mismatch_error(fn_name: str, treedef: PyTreeDef, i: int, other: Any, detail: str):
    other_def = tree_structure(other)
    msg = (
        f"{fn_name}: rest[{i}] (tree argument {i + 2}) does not have the structure of "
        f"`tree` (tree argument 1).\n"
        f"  tree    structure: {treedef}\n"
        f"  rest[{i}] structure: {other_def}\n"
        f"  first difference: {detail}\n"
        f"Fix: pass trees of the same structure. An extra tree may also be deeper than "
        f"`tree` (`tree` a prefix of it): then each of `tree`'s leaves is paired with a "
        f"whole subtree."
    )
    if "None" in detail:
        msg += " Note that None is an empty pytree node, not a leaf."
    return ValueError(msg)


def _rest_leaves(fn_name: str, treedef: PyTreeDef, rest: tuple[Any, ...]) -> list[list[Any]]:
    out = []
    for i, other in enumerate(rest):
        try:
            out.append(treedef.flatten_up_to(other))
        except ValueError as e:
            raise _mismatch_error(fn_name, treedef, i, other, str(e)) from None
    return out


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any, is_leaf: IsLeaf = None) -> Any:
    """Maps ``f`` over the leaves of ``tree`` (and of ``rest``), keeping the structure.

    Args:
        f: called as ``f(x, *xs)`` for each leaf ``x`` of ``tree``.
        tree: the pytree whose structure the result has.
        *rest: more pytrees, each with the structure of ``tree`` or with ``tree`` as a
            prefix (``xs`` then holds whole subtrees).
        is_leaf: optional predicate marking extra leaves of ``tree``.

    Returns:
        A pytree of ``tree``'s structure holding ``f(x, *xs)`` at each leaf.

    Raises:
        ValueError: if a tree in ``rest`` does not match ``tree``; the message shows both
            structures.

    Examples:
        >>> tree_map(lambda x, y: x + y, {"a": 1, "b": (2, None)}, {"a": 10, "b": (20, None)})
        {'a': 11, 'b': (22, None)}
    """
    leaves, treedef = _flatten(tree, is_leaf, False, NAMESPACE)
    if not rest:
        return treedef.unflatten(map(f, leaves))
    return treedef.unflatten(map(f, leaves, *_rest_leaves("tree_map", treedef, rest)))


_NO_INITIALIZER = object()


def tree_reduce(
    function: Callable[[Any, Any], Any],
    tree: Any,
    initializer: Any = _NO_INITIALIZER,
    is_leaf: IsLeaf = None,
) -> Any:
    """``functools.reduce(function, leaves[, initializer])`` over the leaves of ``tree``.

    Examples:
        >>> import operator
        >>> tree_reduce(operator.add, [1, (2, 3), {"a": 4}])
        10
    """
    leaves, treedef = _flatten(tree, is_leaf, False, NAMESPACE)
    if initializer is _NO_INITIALIZER:
        if not leaves:
            raise TypeError(
                f"tree_reduce: the tree (structure {treedef}) has no leaves and no "
                f"`initializer` was given. Fix: pass one, e.g. tree_reduce(f, tree, 0)."
            )
        return functools.reduce(function, leaves)
    return functools.reduce(function, leaves, initializer)


def tree_all(tree: Any, *, is_leaf: IsLeaf = None) -> bool:
    """``all()`` over the leaves of ``tree`` (``True`` for a tree with no leaves).

    Examples:
        >>> tree_all([True, {"a": 1}]), tree_all([True, (0,)]), tree_all([None])
        (True, False, True)
    """
    return all(_flatten(tree, is_leaf, False, NAMESPACE)[0])


def tree_transpose(
    outer_treedef: PyTreeDef, inner_treedef: PyTreeDef | None, pytree_to_transpose: Any
) -> Any:
    """Turns a tree of structure (outer, inner) into one of structure (inner, outer).

    Args:
        outer_treedef: the structure of the outer tree.
        inner_treedef: the structure of each inner tree, or ``None`` to take it from the
            first subtree at the outer tree's leaves.
        pytree_to_transpose: the tree to transpose.

    Returns:
        The transposed pytree.

    Raises:
        TypeError: if ``pytree_to_transpose`` is not ``outer`` composed with ``inner``.

    Examples:
        >>> tree = [(1, 2, 3), (4, 5, 6)]
        >>> outer, inner = tree_structure([0, 0]), tree_structure((0, 0, 0))
        >>> tree_transpose(outer, inner, tree)
        ([1, 4], [2, 5], [3, 6])
        >>> tree_transpose(outer, None, tree)
        ([1, 4], [2, 5], [3, 6])
    """
    flat, treedef = _flatten(pytree_to_transpose, None, False, NAMESPACE)
    if inner_treedef is None:
        try:
            first = outer_treedef.flatten_up_to(pytree_to_transpose)[0]
        except (ValueError, IndexError) as e:
            raise TypeError(
                f"tree_transpose: cannot infer `inner_treedef` from the tree "
                f"{treedef} with outer structure {outer_treedef} ({e}). Fix: pass "
                f"inner_treedef explicitly."
            ) from None
        inner_treedef = tree_structure(first)
    expected = outer_treedef.compose(inner_treedef)
    if treedef != expected:
        raise TypeError(
            f"tree_transpose: the tree's structure is not outer composed with inner.\n"
            f"  expected: {expected}  (outer {outer_treedef}, inner {inner_treedef})\n"
            f"  got:      {treedef}"
        )
    inner_size = inner_treedef.num_leaves
    by_outer = zip(*[iter(flat)] * inner_size)
    subtrees = map(outer_treedef.unflatten, zip(*by_outer))
    return inner_treedef.unflatten(subtrees)


# --------------------------------------------------------------------------------------
# Key paths.


@dataclasses.dataclass(frozen=True, slots=True)
class SequenceKey:
    """Key of a child of a sequence node (tuple, list): ``str`` is ``[idx]``."""

    idx: int

    def __str__(self) -> str:
        return f"[{self.idx!r}]"


@dataclasses.dataclass(frozen=True, slots=True)
class DictKey:
    """Key of a child of a mapping node (dict and its kin): ``str`` is ``[key!r]``."""

    key: Hashable

    def __str__(self) -> str:
        return f"[{self.key!r}]"


@dataclasses.dataclass(frozen=True, slots=True)
class GetAttrKey:
    """Key of an attribute child (namedtuple, dataclass): ``str`` is ``.name``."""

    name: str

    def __str__(self) -> str:
        return f".{self.name}"


@dataclasses.dataclass(frozen=True, slots=True)
class FlattenedIndexKey:
    """Key of the i-th child of a node registered without keys: ``[<flat index i>]``."""

    key: int

    def __str__(self) -> str:
        return f"[<flat index {self.key}>]"


def keystr(keys: KeyPath, *, simple: bool = False, separator: str = "") -> str:
    """Renders a key path as a string.

    Args:
        keys: a tuple of key entries (or anything with a ``str``).
        simple: if ``True``, render each key bare (``0``, ``foo``) instead of as an
            accessor (``[0]``, ``['foo']``, ``.foo``); shorter but ambiguous.
        separator: put between the rendered keys.

    Examples:
        >>> params = {"foo": {"bar": {"baz": 1, "bat": [2, 3]}}}
        >>> [keystr(path) for path, _ in tree_leaves_with_path(params)]
        ["['foo']['bar']['bat'][0]", "['foo']['bar']['bat'][1]", "['foo']['bar']['baz']"]
        >>> [keystr(p, simple=True, separator="/") for p, _ in tree_leaves_with_path(params)]
        ['foo/bar/bat/0', 'foo/bar/bat/1', 'foo/bar/baz']
    """
    return separator.join(map(_simple_keystr if simple else str, keys))


def _simple_keystr(key: Any) -> str:
    match key:
        case SequenceKey(idx):
            return str(idx)
        case DictKey(k):
            return str(k)
        case GetAttrKey(name):
            return name
        case FlattenedIndexKey(i):
            return str(i)
    return str(key)


class _FlattenedIndexEntry(optree.FlattenedEntry):
    """optree path entry of a node registered without keys; ``entry`` is the index."""

    __slots__ = ()

    def __call__(self, obj: Any) -> Any:
        return optree.tree_flatten_one_level(obj, namespace=NAMESPACE)[0][self.entry]


class _KeyEntry(optree.PyTreeEntry):
    """optree path entry whose ``entry`` is already a user-given JAX-style key."""

    __slots__ = ()

    def __call__(self, obj: Any) -> Any:
        # A key labels a child; it need not be a way to reach it (a DictKey on a class
        # that is not a mapping), so find the child by flattening one level.
        children, _, keys, _ = optree.tree_flatten_one_level(obj, namespace=NAMESPACE)
        return children[list(keys).index(self.entry)]

    def codify(self, node: str = "") -> str:
        return f"{node}{self.entry}"


def _key_of_entry(entry: optree.PyTreeEntry) -> KeyEntry:
    # Subclasses first: NamedTupleEntry and StructSequenceEntry are SequenceEntries.
    if isinstance(entry, _KeyEntry):
        return entry.entry
    if isinstance(entry, optree.NamedTupleEntry | optree.StructSequenceEntry):
        return GetAttrKey(entry.field)
    if isinstance(entry, optree.SequenceEntry):
        return SequenceKey(entry.entry)
    if isinstance(entry, optree.MappingEntry):
        return DictKey(entry.entry)
    if isinstance(entry, optree.GetAttrEntry):
        return GetAttrKey(entry.name)
    return FlattenedIndexKey(entry.entry)


def _key_paths(treedef: PyTreeDef) -> list[KeyPath]:
    return [tuple(map(_key_of_entry, accessor)) for accessor in treedef.accessors()]


def tree_flatten_with_path(
    tree: Any, is_leaf: IsLeaf = None
) -> tuple[list[tuple[KeyPath, Any]], PyTreeDef]:
    """Like :func:`tree_flatten`, but each leaf comes with its key path.

    Returns:
        ``([(path, leaf), ...], treedef)``; ``treedef`` equals ``tree_structure(tree)``.

    Examples:
        >>> pairs, treedef = tree_flatten_with_path({"a": [10, 20]})
        >>> pairs[1]
        ((DictKey(key='a'), SequenceKey(idx=1)), 20)
        >>> treedef
        PyTreeSpec({'a': [*, *]})
    """
    leaves, treedef = _flatten(tree, is_leaf, False, NAMESPACE)
    return list(zip(_key_paths(treedef), leaves)), treedef


def tree_leaves_with_path(tree: Any, is_leaf: IsLeaf = None) -> list[tuple[KeyPath, Any]]:
    """Like :func:`tree_leaves`, but returns ``(key_path, leaf)`` pairs."""
    return tree_flatten_with_path(tree, is_leaf)[0]


def tree_map_with_path(f: Callable[..., Any], tree: Any, *rest: Any, is_leaf: IsLeaf = None) -> Any:
    """Like :func:`tree_map`, but calls ``f(key_path, x, *xs)``.

    Examples:
        >>> tree_map_with_path(lambda p, x: f"{keystr(p)}={x}", {"w": [1, 2]})
        {'w': ["['w'][0]=1", "['w'][1]=2"]}
    """
    leaves, treedef = _flatten(tree, is_leaf, False, NAMESPACE)
    rest_leaves = _rest_leaves("tree_map_with_path", treedef, rest)
    return treedef.unflatten(map(f, _key_paths(treedef), leaves, *rest_leaves))


# --------------------------------------------------------------------------------------
# Registration.


def register_pytree_node(
    nodetype: type[T],
    flatten_func: Callable[[T], tuple[Iterable[Any], Hashable]],
    unflatten_func: Callable[[Hashable, Iterable[Any]], T],
    flatten_with_keys_func: Callable[[T], tuple[Iterable[tuple[KeyEntry, Any]], Hashable]]
    | None = None,
) -> None:
    """Makes ``nodetype`` a pytree node.

    Args:
        nodetype: the class to register.
        flatten_func: ``node -> (children, aux_data)``; ``aux_data`` is static, hashable
            and compared to tell structures apart.
        unflatten_func: ``(aux_data, children) -> node``.
        flatten_with_keys_func: optional ``node -> ([(key, child), ...], aux_data)``
            giving key paths (see :func:`register_pytree_with_keys`); without it the
            children's keys are :class:`FlattenedIndexKey`.

    Raises:
        ValueError: if ``nodetype`` is already registered.

    Examples:
        >>> class Pair:
        ...     def __init__(self, a, b):
        ...         self.a, self.b = a, b
        >>> register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda _, c: Pair(*c))
        >>> tree_leaves([Pair(1, (2, 3))])
        [1, 2, 3]
    """
    if flatten_with_keys_func is not None:
        register_pytree_with_keys(nodetype, flatten_with_keys_func, unflatten_func, flatten_func)
        return
    optree.register_pytree_node(
        nodetype,
        flatten_func,
        unflatten_func,
        path_entry_type=_FlattenedIndexEntry,
        namespace=NAMESPACE,
    )


def register_pytree_with_keys(
    nodetype: type[T],
    flatten_with_keys: Callable[[T], tuple[Iterable[tuple[KeyEntry, Any]], Hashable]],
    unflatten_func: Callable[[Hashable, Iterable[Any]], T],
    flatten_func: Callable[[T], tuple[Iterable[Any], Hashable]] | None = None,
) -> None:
    """Makes ``nodetype`` a pytree node whose children carry keys in key paths.

    Args:
        nodetype: the class to register.
        flatten_with_keys: ``node -> ([(key, child), ...], aux_data)``; keys are usually
            :class:`GetAttrKey`, :class:`DictKey` or :class:`SequenceKey`.
        unflatten_func: ``(aux_data, children) -> node``.
        flatten_func: accepted for JAX compatibility and unused: optree keeps one flatten
            function per type, so ``flatten_with_keys`` serves every traversal.

    Examples:
        >>> class Point:
        ...     def __init__(self, x, y):
        ...         self.x, self.y = x, y
        >>> register_pytree_with_keys(
        ...     Point,
        ...     lambda p: (((GetAttrKey("x"), p.x), (GetAttrKey("y"), p.y)), None),
        ...     lambda _, c: Point(*c),
        ... )
        >>> [keystr(k) for k, _ in tree_leaves_with_path({"p": Point(1, 2)})]
        ["['p'].x", "['p'].y"]
    """
    del flatten_func

    def flatten(node):
        key_children, aux = flatten_with_keys(node)
        key_children = tuple(key_children)  # may be a generator; read it once
        return [c for _, c in key_children], aux, [k for k, _ in key_children]

    optree.register_pytree_node(
        nodetype,
        flatten,
        unflatten_func,
        path_entry_type=_KeyEntry,
        namespace=NAMESPACE,
    )


def register_pytree_node_class(cls: Typ) -> Typ:
    """Class decorator: registers ``cls`` through its ``tree_flatten``/``tree_unflatten``.

    ``cls.tree_flatten(self)`` returns ``(children, aux_data)``; the classmethod
    ``cls.tree_unflatten(aux_data, children)`` rebuilds an instance.

    Examples:
        >>> @register_pytree_node_class
        ... class Box:
        ...     def __init__(self, value, label):
        ...         self.value, self.label = value, label
        ...     def tree_flatten(self):
        ...         return (self.value,), self.label
        ...     @classmethod
        ...     def tree_unflatten(cls, label, children):
        ...         return cls(*children, label)
        >>> tree_map(lambda v: v * 2, Box(21, "answer")).value
        42
    """
    register_pytree_node(cls, operator.methodcaller("tree_flatten"), cls.tree_unflatten)
    return cls


def register_pytree_with_keys_class(cls: Typ) -> Typ:
    """Class decorator: like :func:`register_pytree_node_class`, with
    ``tree_flatten_with_keys(self) -> ([(key, child), ...], aux_data)`` giving key paths.
    """
    register_pytree_with_keys(
        cls, operator.methodcaller("tree_flatten_with_keys"), cls.tree_unflatten
    )
    return cls


def register_static(cls: Typ) -> Typ:
    """Class decorator: instances of ``cls`` become leafless nodes (static, in the
    treedef). Instances must be hashable.
    """
    register_pytree_with_keys(cls, lambda obj: ((), obj), lambda obj, _: obj)
    return cls


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """A fast ``obj -> tuple(getattr(obj, n) for n in names)``."""
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        get = operator.attrgetter(names[0])
        return lambda obj: (get(obj),)
    return operator.attrgetter(*names)


def register_dataclass(
    nodetype: Typ,
    data_fields: Sequence[str] | None = None,
    meta_fields: Sequence[str] | None = None,
    drop_fields: Sequence[str] = (),
) -> Typ:
    """Makes a dataclass-like type a pytree node with data (children) and meta (static) fields.

    Args:
        nodetype: the class; rebuilt as ``nodetype(**fields)``.
        data_fields: names of the fields that are children (leaves or subtrees).
        meta_fields: names of the static fields, kept in the treedef; their values must
            be hashable.
        drop_fields: ``init=True`` dataclass fields to leave out of both.

        ``data_fields`` and ``meta_fields`` are given together or not at all. When both
        are omitted, ``nodetype`` must be a dataclass: its ``init`` fields marked
        ``field(metadata=dict(static=True))`` are meta and the rest are data.

    Returns:
        ``nodetype``, so this can be used as a decorator.

    Raises:
        TypeError: if only one of ``data_fields``/``meta_fields`` is given, or neither
            for a non-dataclass.
        ValueError: if, for a dataclass, the fields given are not exactly its ``init``
            fields (less ``drop_fields``).

    Examples:
        >>> @register_dataclass
        ... @dataclasses.dataclass
        ... class Linear:
        ...     w: float
        ...     b: float
        ...     name: str = dataclasses.field(default="lin", metadata=dict(static=True))
        >>> leaves, treedef = tree_flatten(Linear(1.0, 2.0))
        >>> leaves
        [1.0, 2.0]
        >>> tree_unflatten(treedef, [3.0, 4.0])
        Linear(w=3.0, b=4.0, name='lin')
    """
    if data_fields is None or meta_fields is None:
        if (data_fields is None) != (meta_fields is None):
            raise TypeError(
                f"register_dataclass({nodetype.__name__}): data_fields and meta_fields "
                f"must be given together or not at all; got data_fields={data_fields!r}, "
                f"meta_fields={meta_fields!r}."
            )
        if not dataclasses.is_dataclass(nodetype):
            raise TypeError(
                f"register_dataclass({nodetype.__name__}): the fields can only be inferred "
                f"for a dataclass. Fix: decorate the class with @dataclasses.dataclass, or "
                f"pass data_fields=[...] and meta_fields=[...]."
            )
        fields = [f for f in dataclasses.fields(nodetype) if f.init and f.name not in drop_fields]
        data_fields = [f.name for f in fields if not f.metadata.get("static", False)]
        meta_fields = [f.name for f in fields if f.metadata.get("static", False)]
    # Tuples, so a caller mutating its lists later cannot change the registration.
    data_fields, meta_fields = tuple(data_fields), tuple(meta_fields)

    if dataclasses.is_dataclass(nodetype):
        init_fields = {f.name for f in dataclasses.fields(nodetype) if f.init}
        init_fields.difference_update(drop_fields)
        given = {*data_fields, *meta_fields}
        if given != init_fields:
            msg = (
                f"register_dataclass({nodetype.__name__}): data_fields and meta_fields "
                f"must list every dataclass field with init=True, and only those."
            )
            if missing := sorted(init_fields - given):
                msg += f" Missing: {missing}; add them to one of the lists or to drop_fields."
            if unexpected := sorted(given - init_fields):
                msg += f" Not init fields of {nodetype.__name__}: {unexpected}."
            raise ValueError(msg)

    get_data, get_meta = _getter(data_fields), _getter(meta_fields)

    def flatten(node):
        return get_data(node), get_meta(node), data_fields

    def unflatten(meta, data):
        kwargs = dict(zip(meta_fields, meta))
        kwargs.update(zip(data_fields, data))
        return nodetype(**kwargs)

    optree.register_pytree_node(
        nodetype,
        flatten,
        unflatten,
        path_entry_type=optree.GetAttrEntry,
        namespace=NAMESPACE,
    )
    return nodetype


# --------------------------------------------------------------------------------------
# Partial.


class _BoxedPartial:
    """Hides a ``functools.partial`` from ``Partial.__new__``, which would otherwise merge
    its arguments into the new object's (changing which arguments are pytree children).
    """

    __slots__ = ("fun",)

    def __init__(self, fun: functools.partial):
        self.fun = fun

    def __call__(self, *args, **kwargs):
        return self.fun(*args, **kwargs)

    def __hash__(self) -> int:
        return hash(self.fun)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _BoxedPartial):
            return self.fun == other.fun
        return self.fun == other

    def __repr__(self) -> str:
        return repr(self.fun)


class Partial(functools.partial):
    """A ``functools.partial`` that is a pytree: bound arguments are children, ``func``
    is static.

    Pass it through transformations where a plain ``functools.partial`` (a leaf that is
    not an array) would fail.

    Examples:
        >>> import operator
        >>> add_one = Partial(operator.add, 1)
        >>> add_one(2)
        3
        >>> tree_leaves(add_one)
        [1]
        >>> tree_map(lambda x: x * 10, add_one)(2)
        12
    """

    def __new__(cls, func, /, *args, **keywords):
        if isinstance(func, functools.partial):
            func = _BoxedPartial(func)
        return super().__new__(cls, func, *args, **keywords)


register_pytree_node(
    Partial,
    lambda p: ((p.args, p.keywords), p.func),
    lambda func, children: Partial(func, *children[0], **children[1]),
)
