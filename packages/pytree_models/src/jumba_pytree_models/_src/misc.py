"""Runtime errors (`error_if`), `Enumeration`, and `tree_inference`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import jumba
import jumba.numpy as jnp
from jumba import tree_util as jtu
from jumba.core import Tracer
from jumba_pytree_models._src.filters import tree_at
from jumba_pytree_models._src.module import Module, field

__all__ = [
    "Enumeration",
    "EquinoxRuntimeError",
    "EquinoxTracetimeError",
    "branched_error_if",
    "error_if",
    "tree_inference",
]


class EquinoxRuntimeError(RuntimeError):
    """Raised by :func:`error_if` when its condition holds at run time."""


class EquinoxTracetimeError(RuntimeError):
    """Raised by :func:`error_if` when its condition is already known to hold while
    tracing."""


def _raise_if(pred, index, msgs, cls):
    pred = np.asarray(pred)
    if pred.any():
        raise cls(msgs[int(np.asarray(index))])


def branched_error_if(x: Any, pred: Any, index: Any, msgs: Sequence[str]) -> Any:
    """Like :func:`error_if`, with the message ``msgs[index]`` (``index`` may be traced).

    Returns:
        ``x`` unchanged.
    """
    msgs = tuple(msgs)
    if not isinstance(pred, Tracer) and not isinstance(index, Tracer):
        _raise_if(pred, index, msgs, EquinoxRuntimeError)
        return x
    jumba.debug.callback(lambda p, i: _raise_if(p, i, msgs, EquinoxRuntimeError),
                         jnp.any(pred), jnp.asarray(index))
    return x


def error_if(x: Any, pred: Any, msg: str) -> Any:
    """Return ``x``, raising :class:`EquinoxRuntimeError` with ``msg`` if any element of
    ``pred`` is True — immediately when ``pred`` is concrete, when the program runs
    (including under ``jit``) when it is traced.

    Examples:
        >>> import jumba.numpy as jnp
        >>> x = jnp.array([1.0, -1.0])
        >>> error_if(x, x < 0, "negative input")
        Traceback (most recent call last):
        ...
        jumba_pytree_models._src.misc.EquinoxRuntimeError: negative input
    """
    return branched_error_if(x, pred, 0, (msg,))


def tree_inference(pytree: Any, value: bool) -> Any:
    """Set every ``inference`` field (Dropout, BatchNorm, ...) in ``pytree`` to ``value``."""
    def where(tree):
        return tuple(m.inference for m in jtu.tree_leaves(tree, is_leaf=_has_inference)
                     if _has_inference(m))

    if not where(pytree):
        return pytree
    return tree_at(where, pytree, replace_fn=lambda _: value)


def _has_inference(x) -> bool:
    return isinstance(x, Module) and hasattr(x, "inference")


class _EnumerationItem(Module):
    _value: Any
    _enumeration: type = field(static=True)

    def __eq__(self, other):
        if not isinstance(other, _EnumerationItem) or other._enumeration is not \
                self._enumeration:
            raise ValueError(f"cannot compare an item of {self._enumeration.__name__} "
                             f"with {other!r}")
        return self._value == other._value

    def __hash__(self):
        return hash((self._enumeration, int(np.asarray(self._value))))

    def __repr__(self):
        if isinstance(self._value, Tracer):
            return f"{self._enumeration.__name__}.<traced>"
        return f"{self._enumeration.__name__}.{self._enumeration._names[int(self._value)]}"


class _EnumerationMeta(type):
    def __iter__(cls):
        return iter(cls._items)

    def __len__(cls):
        return len(cls._items)


class Enumeration(metaclass=_EnumerationMeta):
    """An enumeration whose items are pytrees (a scalar int32 array), so a choice can be
    traced and passed through ``jit``/``vmap``.

    Examples:
        >>> class Colour(Enumeration):
        ...     red = "warm"
        ...     blue = "cold"
        >>> c = Colour.where(jnp.array(True), Colour.red, Colour.blue)
        >>> bool(c == Colour.red), Colour[Colour.blue]
        (True, 'cold')
    """

    _names: tuple = ()
    _items: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        names = [k for k, v in cls.__dict__.items()
                 if not k.startswith("_") and isinstance(v, str)]
        inherited = list(cls._names)
        all_names = inherited + [n for n in names if n not in inherited]
        docs = {n: cls.__dict__[n] for n in names}
        cls._names = tuple(all_names)
        cls._docs = {**getattr(cls, "_docs", {}), **docs}
        items = []
        for i, n in enumerate(all_names):
            item = _EnumerationItem(jnp.asarray(i, dtype=jnp.int32), cls)
            setattr(cls, n, item)
            items.append(item)
        cls._items = tuple(items)

    def __class_getitem__(cls, item):
        if isinstance(item, _EnumerationItem):
            return cls._docs[cls._names[int(np.asarray(item._value))]]
        return super().__class_getitem__(item)

    @classmethod
    def where(cls, pred, a, b):
        """``a`` where ``pred`` else ``b``, for two items of this enumeration."""
        return _EnumerationItem(jnp.where(pred, a._value, b._value), cls)
