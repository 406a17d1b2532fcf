"""Filtering pytrees into parts, putting them back together, and tree surgery."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import jumba
import jumba.numpy as jnp
from jumba import tree_util as jtu
from jumba.core import Tracer
from jumba_pytree_models._src.module import Module

__all__ = [
    "apply_updates",
    "combine",
    "filter",
    "if_array",
    "is_array",
    "is_array_like",
    "is_inexact_array",
    "is_inexact_array_like",
    "partition",
    "tree_at",
    "tree_check",
    "tree_equal",
    "tree_flatten_one_level",
]

ARRAY_TYPES = (jumba.Array, Tracer, np.ndarray, np.generic)
_SCALAR_TYPES = (bool, int, float, complex)


def is_array(element: Any) -> bool:
    """True for arrays: ``jumba.Array``, traced arrays, NumPy arrays and NumPy scalars."""
    return isinstance(element, ARRAY_TYPES)


def is_array_like(element: Any) -> bool:
    """True for arrays and Python ``bool``/``int``/``float``/``complex``."""
    return isinstance(element, ARRAY_TYPES + _SCALAR_TYPES) or hasattr(element,
                                                                        "__jax_array__")


def _is_inexact_dtype(dtype) -> bool:
    return np.issubdtype(np.dtype(dtype), np.inexact)


def is_inexact_array(element: Any) -> bool:
    """True for floating or complex arrays (the ones ``filter_grad`` differentiates)."""
    return isinstance(element, ARRAY_TYPES) and _is_inexact_dtype(element.dtype)


def is_inexact_array_like(element: Any) -> bool:
    """True for floating or complex arrays and Python ``float``/``complex``."""
    if isinstance(element, (float, complex)):
        return True
    return is_inexact_array(element)


def if_array(axis: int) -> Callable[[Any], int | None]:
    """``lambda x: axis if is_array(x) else None``: an ``in_axes`` for ``filter_vmap``."""
    def spec(x):
        return axis if is_array(x) else None
    return spec


# --------------------------------------------------------------------------------------
# filter / partition / combine


def _is_none(x) -> bool:
    return x is None


def _apply_spec(spec, subtree, inverse, replace, is_leaf):
    """Keep or replace the leaves of `subtree` as the filter-spec leaf `spec` says."""
    if isinstance(spec, bool):
        if spec != inverse:
            return subtree
        return jtu.tree_map(lambda _: replace, subtree, is_leaf=is_leaf)
    if callable(spec):
        return jtu.tree_map(lambda x: x if bool(spec(x)) != inverse else replace, subtree,
                            is_leaf=is_leaf)
    raise ValueError(f"filter_spec leaves must be bools or callables (x -> bool); got "
                     f"{spec!r} of type {type(spec).__name__}.")


def _spec_leaf(x) -> bool:
    return isinstance(x, bool) or (callable(x) and not isinstance(x, Module))


def filter(pytree: Any, filter_spec: Any, inverse: bool = False, replace: Any = None,  # noqa: A001
           is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Keep the leaves the filter selects; replace the others with ``replace`` (None).

    Args:
        pytree: the tree to filter.
        filter_spec: a pytree prefix of ``pytree`` whose leaves are bools (keep or drop the
            whole subtree) or callables ``leaf -> bool`` (``eqx.is_array`` and the like).
        inverse: keep what the filter rejects instead.
        replace: the value put in place of dropped leaves.
        is_leaf: extra leaves of ``pytree``.

    Returns:
        A tree of the same structure (dropped leaves replaced).

    Examples:
        >>> import jumba.numpy as jnp
        >>> filter([jnp.ones(2), 3, "x"], is_array)
        [Array([1., 1.], dtype=float32), None, None]
    """
    if callable(filter_spec) and not isinstance(filter_spec, Module):
        return _apply_spec(filter_spec, pytree, inverse, replace, is_leaf)
    spec_leaves, spec_def = jtu.tree_flatten(filter_spec, is_leaf=_spec_leaf)
    try:
        subtrees = spec_def.flatten_up_to(pytree)
    except ValueError as e:
        raise ValueError(f"filter: filter_spec must be a pytree prefix of pytree (the same "
                         f"structure, or a leaf standing for a whole subtree). {e}") from None
    return spec_def.unflatten(_apply_spec(s, t, inverse, replace, is_leaf)
                              for s, t in zip(spec_leaves, subtrees))


def partition(pytree: Any, filter_spec: Any, replace: Any = None,
              is_leaf: Callable[[Any], bool] | None = None) -> tuple[Any, Any]:
    """Split ``pytree`` in two: ``(filter(pytree, spec), filter(pytree, spec, inverse=True))``.

    Put the halves back together with :func:`combine`.

    Examples:
        >>> import jumba.numpy as jnp
        >>> dynamic, static = partition((jnp.ones(2), jnp.tanh), is_array)
        >>> static[0] is None and dynamic[1] is None
        True
    """
    return (filter(pytree, filter_spec, replace=replace, is_leaf=is_leaf),
            filter(pytree, filter_spec, inverse=True, replace=replace, is_leaf=is_leaf))


def _combine_leaves(*xs):
    for x in xs:
        if x is not None:
            return x
    return None


def combine(*pytrees: Any, is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Merge trees of the same structure, taking at each leaf the first non-None value.

    The inverse of :func:`partition`: ``combine(*partition(t, spec)) == t``.
    """
    if is_leaf is None:
        leaf = _is_none
    else:
        def leaf(x):
            return x is None or is_leaf(x)
    return jtu.tree_map(_combine_leaves, *pytrees, is_leaf=leaf)


def apply_updates(model: Any, updates: Any) -> Any:
    """``model + updates`` leaf by leaf; leaves whose update is None are left unchanged
    (so the updates of a partitioned model apply to the whole model)."""
    return jtu.tree_map(lambda u, p: p if u is None else p + u, updates, model,
                        is_leaf=_is_none)


# --------------------------------------------------------------------------------------
# tree_at


class _Leaf:
    """A stand-in for one leaf (or None, or an empty node) while `where` runs."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __repr__(self):
        return f"<leaf {self.value!r:.40}>"


class _NoneNode:
    """Stands for one None while `where` runs: a pytree node without children."""

    __slots__ = ()


jtu.register_pytree_node(_NoneNode, lambda n: ((), None), lambda aux, children: _NoneNode())


def tree_flatten_one_level(pytree: Any) -> tuple[list[Any], Any]:
    """The children of the root and the one-level structure (``unflatten(children)``
    rebuilds the root). A leaf gives ``([pytree], leaf structure)``."""
    return jtu.tree_flatten(pytree, is_leaf=lambda x: x is not pytree)


_sentinel = object()


def _is_leaf_def(children, node) -> bool:
    # (An empty container also has a one-node structure, but it is not a leaf.)
    return len(children) == 1 and children[0] is node


def tree_at(where: Callable[[Any], Any], pytree: Any, replace: Any = _sentinel,
            replace_fn: Callable[[Any], Any] = _sentinel,
            is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """A copy of ``pytree`` with the nodes ``where(pytree)`` selects replaced.

    Args:
        where: ``pytree -> node`` or ``pytree -> sequence of nodes``, e.g.
            ``lambda m: m.layers[0].weight`` or ``lambda m: (m.w, m.b)``. It may select
            leaves, subtrees, and ``None`` fields.
        pytree: the tree (it is not modified).
        replace: the new value (a sequence of values when ``where`` selects several).
        replace_fn: or a function of the old value giving the new one.
        is_leaf: extra leaves.

    Returns:
        The new tree.

    Raises:
        ValueError: if neither or both of ``replace``/``replace_fn`` are given, if
            ``where`` selects something that is not a node of the tree (for instance a
            static field), or if the number of replacements is wrong.

    Examples:
        >>> tree_at(lambda t: t["b"][0], {"a": 1, "b": [2, 3]}, 20)
        {'a': 1, 'b': [20, 3]}
    """
    if (replace is _sentinel) == (replace_fn is _sentinel):
        raise ValueError("tree_at: pass exactly one of replace= (the new value) and "
                         "replace_fn= (old value -> new value).")
    paths: dict[int, tuple] = {}
    keep = []  # the stand-ins, alive while `where` runs so that ids stay unique

    def mark(node, path):
        if node is None:
            # A leafless stand-in, unique per place, so that `where` may select None
            # fields while tree_leaves inside `where` still sees what it would see.
            m = _NoneNode()
        elif is_leaf is not None and is_leaf(node):
            m = _Leaf(node)
        else:
            children, treedef = tree_flatten_one_level(node)
            if _is_leaf_def(children, node):
                m = _Leaf(node)
            elif not children:
                m = node
            else:
                m = treedef.unflatten([mark(c, path + (i,)) for i, c in enumerate(children)])
        keep.append(m)
        paths.setdefault(id(m), path)
        return m

    marked = mark(pytree, ())
    selected = where(marked)
    if id(selected) in paths:
        targets, single = [selected], True
    elif isinstance(selected, (tuple, list)):
        targets, single = list(selected), False
    else:
        targets, single = [selected], True
    target_paths = []
    for t in targets:
        p = paths.get(id(t))
        if p is None:
            raise ValueError(
                f"tree_at: `where` returned {t!r:.60}, which is not a node of the pytree. "
                "`where` must select leaves or subtrees of the tree it is given, e.g. "
                "`lambda m: m.weight`; static fields (eqx.field(static=True)) and values "
                "computed inside `where` cannot be replaced.")
        target_paths.append(p)
    if replace is not _sentinel:
        if single:
            new_values = [replace]
        else:
            if not isinstance(replace, (tuple, list)) or len(replace) != len(targets):
                raise ValueError(f"tree_at: `where` selected {len(targets)} nodes, so "
                                 "`replace` must be a sequence of as many values; got "
                                 f"{replace!r:.60}.")
            new_values = list(replace)
        by_path = {p: (lambda old, v=v: v) for p, v in zip(target_paths, new_values)}
    else:
        by_path = {p: replace_fn for p in target_paths}
    prefixes = {p[:k] for p in by_path for k in range(len(p))}

    def rebuild(node, path):
        fn = by_path.get(path)
        if fn is not None:
            return fn(node)
        if path not in prefixes:
            return node
        children, treedef = tree_flatten_one_level(node)
        return treedef.unflatten([rebuild(c, path + (i,)) for i, c in enumerate(children)])

    return rebuild(pytree, ())


# --------------------------------------------------------------------------------------
# tree_equal / tree_check


def _leaf_equal(a, b, typematch, rtol, atol):
    if is_array(a) or is_array(b):
        if not (is_array(a) and is_array(b)):
            if typematch:
                return False
        a_arr, b_arr = jnp.asarray(a), jnp.asarray(b)
        if a_arr.shape != b_arr.shape or a_arr.dtype != b_arr.dtype:
            return False
        if isinstance(a, Tracer) or isinstance(b, Tracer):
            if rtol == 0 and atol == 0:
                return jnp.all(a_arr == b_arr)
            return jnp.all(jnp.abs(a_arr - b_arr) <= atol + rtol * jnp.abs(b_arr))
        a_np, b_np = np.asarray(a), np.asarray(b)
        if rtol == 0 and atol == 0:
            return bool(np.array_equal(a_np, b_np))
        return bool(np.allclose(a_np, b_np, rtol=rtol, atol=atol))
    if typematch and type(a) is not type(b):
        return False
    try:
        return bool(a == b)
    except Exception:  # objects whose == is not a bool
        return a is b


def tree_equal(*pytrees: Any, typematch: bool = False, rtol: float = 0.0,
               atol: float = 0.0) -> bool | Any:
    """True when all trees have the same structure and equal leaves (arrays equal in
    shape, dtype and values, within ``rtol``/``atol`` when given). With traced arrays the
    result is a traced boolean array.

    Examples:
        >>> import jumba.numpy as jnp
        >>> tree_equal([jnp.ones(2), "a"], [jnp.ones(2), "a"])
        True
        >>> tree_equal([jnp.ones(2)], [jnp.zeros(2)])
        False
    """
    first, *rest = pytrees
    leaves0, def0 = jtu.tree_flatten(first)
    result = True
    for other in rest:
        leaves, treedef = jtu.tree_flatten(other)
        if treedef != def0:
            return False
        for a, b in zip(leaves0, leaves):
            eq = _leaf_equal(a, b, typematch, rtol, atol)
            if eq is False:
                return False
            if eq is not True:
                result = eq if result is True else jnp.logical_and(result, eq)
    return result


def tree_check(pytree: Any) -> None:
    """Raise ``ValueError`` if a node object appears twice in ``pytree`` (shared
    sub-modules are copied, not shared, by every transformation; use ``nn.Shared``) or
    if the tree has a cycle."""
    seen: set[int] = set()

    def walk(node, path, stack):
        if id(node) in stack:
            raise ValueError(f"tree_check: the pytree has a cycle at {path or 'root'}.")
        children, treedef = tree_flatten_one_level(node)
        if _is_leaf_def(children, node) or not children:
            return
        if isinstance(node, Module) and id(node) in seen:
            raise ValueError(
                f"tree_check: the module at {path or 'root'} ({type(node).__name__}) "
                "appears more than once in the pytree. Transformations copy each "
                "occurrence separately; to tie weights use eqx.nn.Shared.")
        seen.add(id(node))
        for i, c in enumerate(children):
            walk(c, f"{path}[{i}]", stack | {id(node)})

    walk(pytree, "", frozenset())


class Partial(Module):
    """A ``functools.partial`` that is a Module: the function and the bound arguments are
    all children, so arrays anywhere inside are traced or differentiated.

    Examples:
        >>> import operator
        >>> Partial(operator.add, 1)(2)
        3
    """

    func: Callable
    args: tuple
    keywords: dict

    def __init__(self, func, /, *args, **kwargs):
        self.func = func
        self.args = args
        self.keywords = kwargs

    def __call__(self, *args, **kwargs):
        return self.func(*self.args, *args, **{**self.keywords, **kwargs})
