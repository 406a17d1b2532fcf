"""FrozenDict: an immutable, hashable mapping registered as a pytree.

Flax 0.12's ``init`` returns plain dicts, as jumba_nn's does; FrozenDict remains for code that
wants immutability.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jumba.tree_util import DictKey, register_pytree_with_keys


class FrozenDict(Mapping):
    """An immutable dict; nested dicts are frozen too."""

    __slots__ = ("_dict", "_hash")

    def __init__(self, *args, **kwargs):
        self._dict = {k: _freeze(v) for k, v in dict(*args, **kwargs).items()}
        self._hash = None

    def __getitem__(self, key):
        return self._dict[key]

    def __setitem__(self, key, value):
        raise ValueError("FrozenDict is immutable; use `fd.copy({key: value})` or unfreeze it.")

    def __contains__(self, key):
        return key in self._dict

    def __iter__(self):
        return iter(self._dict)

    def __len__(self):
        return len(self._dict)

    def __repr__(self):
        return f"FrozenDict({self._dict!r})"

    def __hash__(self):
        if self._hash is None:
            self._hash = hash(tuple((k, v) for k, v in sorted(self._dict.items(), key=str)))
        return self._hash

    def __eq__(self, other):
        if isinstance(other, FrozenDict):
            return self._dict == other._dict
        return NotImplemented

    def copy(self, add_or_replace: Mapping | None = None) -> FrozenDict:
        """A new FrozenDict with entries added or replaced."""
        return type(self)({**self._dict, **dict(add_or_replace or {})})

    def pop(self, key) -> tuple[FrozenDict, Any]:
        """``(dict without key, value)``."""
        value = self._dict[key]
        return type(self)({k: v for k, v in self._dict.items() if k != key}), value

    def unfreeze(self) -> dict:
        """A mutable deep copy as plain dicts."""
        return unfreeze(self)

    def pretty_repr(self, num_spaces: int = 4) -> str:
        return pretty_repr(self, num_spaces)

    def tree_flatten_with_keys(self):
        keys = sorted(self._dict)
        return [(DictKey(k), self._dict[k]) for k in keys], tuple(keys)

    @classmethod
    def tree_unflatten(cls, keys, values):
        fd = object.__new__(cls)
        fd._dict = dict(zip(keys, values))
        fd._hash = None
        return fd


register_pytree_with_keys(
    FrozenDict, lambda fd: fd.tree_flatten_with_keys(), FrozenDict.tree_unflatten)


def _freeze(x):
    if isinstance(x, dict):
        return FrozenDict(x)
    return x


def freeze(xs: Mapping) -> FrozenDict:
    """Freezes a nested dict."""
    return FrozenDict(xs)


def unfreeze(x):
    """Turns (nested) FrozenDicts into plain dicts; other values are returned as they are."""
    if isinstance(x, Mapping):
        return {k: unfreeze(v) for k, v in x.items()}
    return x


def copy(x: Mapping, add_or_replace: Mapping | None = None):
    """A copy of a FrozenDict or dict with entries added or replaced (same type)."""
    if isinstance(x, FrozenDict):
        return x.copy(add_or_replace)
    return {**unfreeze(x), **dict(add_or_replace or {})}


def pop(x: Mapping, key):
    """``(copy without key, value)`` for a FrozenDict or dict."""
    if isinstance(x, FrozenDict):
        return x.pop(key)
    x = dict(x)
    value = x.pop(key)
    return x, value


def pretty_repr(x, num_spaces: int = 4) -> str:
    """An indented multi-line repr of nested mappings."""

    def rec(v, depth):
        if not isinstance(v, Mapping):
            return repr(v)
        if not v:
            return "{}"
        pad = " " * (num_spaces * (depth + 1))
        items = [f"{pad}{k}: {rec(val, depth + 1)}," for k, val in v.items()]
        return "{\n" + "\n".join(items) + "\n" + " " * (num_spaces * depth) + "}"

    out = rec(x, 0)
    return f"FrozenDict({out})" if isinstance(x, FrozenDict) else out
