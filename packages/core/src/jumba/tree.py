"""The ``jax.tree`` namespace: short names for the :mod:`jumba.tree_util` functions.

``jumba.tree.map`` is ``jumba.tree_util.tree_map``, and so on; the semantics are the same
(``None`` is an empty node, dict keys are sorted).

Examples:
    >>> import jumba.tree
    >>> jumba.tree.map(lambda x: x + 1, {"a": 1, "b": (2, None)})
    {'a': 2, 'b': (3, None)}
    >>> jumba.tree.leaves([1, [2, 3]])
    [1, 2, 3]
"""

from jumba._src.tree_util import tree_all as all
from jumba._src.tree_util import tree_flatten as flatten
from jumba._src.tree_util import tree_flatten_with_path as flatten_with_path
from jumba._src.tree_util import tree_leaves as leaves
from jumba._src.tree_util import tree_leaves_with_path as leaves_with_path
from jumba._src.tree_util import tree_map as map
from jumba._src.tree_util import tree_map_with_path as map_with_path
from jumba._src.tree_util import tree_reduce as reduce
from jumba._src.tree_util import tree_structure as structure
from jumba._src.tree_util import tree_transpose as transpose
from jumba._src.tree_util import tree_unflatten as unflatten

__all__ = [
    "all",
    "flatten",
    "flatten_with_path",
    "leaves",
    "leaves_with_path",
    "map",
    "map_with_path",
    "reduce",
    "structure",
    "transpose",
    "unflatten",
]
