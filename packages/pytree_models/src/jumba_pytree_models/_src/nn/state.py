"""Explicit state for layers such as BatchNorm and SpectralNorm.

A stateful layer holds a :class:`StateIndex` (a key plus the initial value). The values
live outside the model in a :class:`State`, passed in and returned explicitly:
``y, state = layer(x, state)``. ``make_with_state(Cls)(...)`` builds the model and its
initial state together.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from jumba import tree_util as jtu
from jumba_pytree_models._src.filters import tree_at
from jumba_pytree_models._src.misc import tree_inference
from jumba_pytree_models._src.module import Module, field

__all__ = ["State", "StateIndex", "StatefulLayer", "delete_init_state", "inference_mode",
           "make_with_state"]

_markers = itertools.count()


class StateIndex(Module):
    """A handle to one piece of state; ``init`` is its initial value (any pytree of
    arrays), kept until :func:`delete_init_state` (done by :func:`make_with_state`)."""

    marker: int = field(static=True)
    init: Any

    def __init__(self, init: Any):
        self.marker = next(_markers)
        self.init = init


def _is_index(x) -> bool:
    return isinstance(x, StateIndex)


class State(Module):
    """The values of all the state of a model, keyed by its :class:`StateIndex` es.

    Build it from a model (``State(model)`` collects every index's initial value) or
    with :func:`make_with_state`. It is a pytree of arrays, immutable: :meth:`set` returns
    a new State.
    """

    _state: dict

    def __init__(self, model: Any):
        values = {}
        for leaf in jtu.tree_leaves(model, is_leaf=_is_index):
            if isinstance(leaf, StateIndex):
                if leaf.init is None:
                    raise ValueError(
                        "State(model): a StateIndex's initial value was already deleted. "
                        "Build the state from the model before delete_init_state, or use "
                        "eqx.nn.make_with_state(Cls)(...) which does both.")
                values[leaf.marker] = leaf.init
        self._state = values

    def get(self, item: StateIndex) -> Any:
        """The current value for ``item``."""
        try:
            return self._state[item.marker]
        except KeyError:
            raise ValueError("State.get: this StateIndex does not belong to this State (was "
                             "the state built from a different model?).") from None

    def set(self, item: StateIndex, value: Any) -> State:
        """A new State with ``item``'s value replaced; ``value`` must have the old value's
        structure, shapes and dtypes."""
        old = self.get(item)
        old_leaves, old_def = jtu.tree_flatten(old)
        new_leaves, new_def = jtu.tree_flatten(value)
        if old_def != new_def:
            raise ValueError(f"State.set: the new value's structure {new_def} differs from "
                             f"the old one {old_def}.")
        for a, b in zip(old_leaves, new_leaves):
            if np.shape(a) != np.shape(b):
                raise ValueError(f"State.set: the new value has shape {np.shape(b)}, the "
                                 f"old one {np.shape(a)}; state must keep its shapes.")
        new = dict(self._state)
        new[item.marker] = value
        return _state_from_dict(new)

    def substate(self, pytree: Any) -> State:
        """The part of this state that the StateIndexes inside ``pytree`` refer to."""
        markers = {x.marker for x in jtu.tree_leaves(pytree, is_leaf=_is_index)
                   if isinstance(x, StateIndex)}
        return _state_from_dict({k: v for k, v in self._state.items() if k in markers})

    def update(self, substate: State) -> State:
        """This state with the values of ``substate`` (from :meth:`substate`) put back."""
        new = dict(self._state)
        new.update(substate._state)
        return _state_from_dict(new)

    def __repr__(self):
        return f"State({len(self._state)} entries)"


def _state_from_dict(values: dict) -> State:
    obj = object.__new__(State)
    object.__setattr__(obj, "_state", values)
    return obj


class StatefulLayer(Module):
    """Base class of layers called as ``y, state = layer(x, state)``; ``Sequential``
    threads the state through the layers for which :meth:`is_stateful` is True."""

    def is_stateful(self) -> bool:
        return True


def delete_init_state(model: Any) -> Any:
    """``model`` with every StateIndex's initial value dropped (it lives in the State)."""
    indices = [x for x in jtu.tree_leaves(model, is_leaf=_is_index) if isinstance(x, StateIndex)]
    if not indices:
        return model

    def where(m):
        return tuple(x.init for x in jtu.tree_leaves(m, is_leaf=_is_index)
                     if isinstance(x, StateIndex))

    return tree_at(where, model, replace=tuple(None for _ in indices))


def make_with_state(make_model: Callable[..., Any]) -> Callable[..., tuple[Any, State]]:
    """``make_with_state(Cls)(*args, **kwargs) -> (model, state)``.

    Examples:
        >>> import jumba_pytree_models as eqx
        >>> bn, state = eqx.nn.make_with_state(eqx.nn.BatchNorm)(3, axis_name="batch")
    """
    def make(*args, **kwargs):
        model = make_model(*args, **kwargs)
        state = State(model)
        return delete_init_state(model), state

    return make


def inference_mode(model: Any, value: bool = True) -> Any:
    """``model`` with every ``inference`` flag (Dropout, BatchNorm, ...) set to ``value``."""
    return tree_inference(model, value)
