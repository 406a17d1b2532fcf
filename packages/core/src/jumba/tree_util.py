"""Utilities for pytrees: nested containers of arrays, as in ``jax.tree_util``.

A pytree is a leaf or a node holding pytrees. The nodes are tuples, lists, dicts
(children in sorted key order), ``collections.OrderedDict`` (insertion order),
``collections.defaultdict``, namedtuples, ``None`` (a node with no children, so it is never
a leaf and passes through :func:`tree_map` unchanged), :class:`Partial`, and any type
registered here. Everything else is a leaf.

Flattening and unflattening:
    :func:`tree_flatten`, :func:`tree_unflatten`, :func:`tree_leaves`,
    :func:`tree_structure`, :func:`treedef_is_leaf`, :func:`treedef_children`,
    :func:`all_leaves`.

Mapping and reducing:
    :func:`tree_map`, :func:`tree_reduce`, :func:`tree_all`, :func:`tree_transpose`.

Key paths (where each leaf sits):
    :func:`tree_flatten_with_path`, :func:`tree_leaves_with_path`,
    :func:`tree_map_with_path`, :func:`keystr`, and the key entries :class:`SequenceKey`,
    :class:`DictKey`, :class:`GetAttrKey`, :class:`FlattenedIndexKey`.

Registering node types:
    :func:`register_pytree_node`, :func:`register_pytree_with_keys`,
    :func:`register_pytree_node_class`, :func:`register_pytree_with_keys_class`,
    :func:`register_dataclass`, :func:`register_static`.

A tree structure (``PyTreeDef``) is an optree ``PyTreeSpec``: hashable, comparable, with
``num_leaves`` and ``unflatten(leaves)``.

Examples:
    >>> from jumba import tree_util
    >>> leaves, treedef = tree_util.tree_flatten({"b": None, "w": [1.0, 2.0]})
    >>> leaves
    [1.0, 2.0]
    >>> tree_util.tree_unflatten(treedef, [3.0, 4.0])
    {'b': None, 'w': [3.0, 4.0]}
"""

from jumba._src.tree_util import (
    DictKey,
    FlattenedIndexKey,
    GetAttrKey,
    KeyEntry,
    KeyPath,
    Partial,
    PyTreeDef,
    SequenceKey,
    all_leaves,
    keystr,
    register_dataclass,
    register_pytree_node,
    register_pytree_node_class,
    register_pytree_with_keys,
    register_pytree_with_keys_class,
    register_static,
    tree_all,
    tree_flatten,
    tree_flatten_with_path,
    tree_leaves,
    tree_leaves_with_path,
    tree_map,
    tree_map_with_path,
    tree_reduce,
    tree_structure,
    tree_transpose,
    tree_unflatten,
    treedef_children,
    treedef_is_leaf,
)

__all__ = [
    "DictKey",
    "FlattenedIndexKey",
    "GetAttrKey",
    "KeyEntry",
    "KeyPath",
    "Partial",
    "PyTreeDef",
    "SequenceKey",
    "all_leaves",
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
