"""The gradient-transformation protocol: ``init``/``update`` pairs over pytrees.

A gradient transformation is a pair of pure functions. ``init(params)`` builds the state
(a pytree, usually a ``NamedTuple``) and ``update(updates, state, params=None)`` returns the
transformed updates and the next state. Because both are pure and the state is a pytree,
a whole optimizer step passes through ``jumba.jit`` and ``jumba.vmap``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import jumba
import jumba.numpy as jnp

Params = Any
Updates = Any
OptState = Any
Schedule = Callable[[Any], Any]
ScalarOrSchedule = float | Any | Schedule
MaskOrFn = Any | Callable[[Params], Any]


class TransformInitFn(Protocol):
    """``init(params) -> state``."""

    def __call__(self, params: Params) -> OptState: ...


class TransformUpdateFn(Protocol):
    """``update(updates, state, params=None) -> (updates, state)``."""

    def __call__(
        self, updates: Updates, state: OptState, params: Params | None = None
    ) -> tuple[Updates, OptState]: ...


class TransformUpdateExtraArgsFn(Protocol):
    """``update(updates, state, params=None, **extra_args) -> (updates, state)``."""

    def __call__(
        self, updates: Updates, state: OptState, params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, OptState]: ...


class GradientTransformation(NamedTuple):
    """An optimizer building block: a pure ``init`` and a pure ``update``.

    Attributes:
        init: ``init(params) -> state``.
        update: ``update(updates, state, params=None) -> (new_updates, new_state)``.
    """

    init: TransformInitFn
    update: TransformUpdateFn


class GradientTransformationExtraArgs(GradientTransformation):
    """A gradient transformation whose ``update`` accepts keyword ``**extra_args``.

    Extra arguments (for example ``value=`` for Polyak step sizes, or ``value``, ``grad``
    and ``value_fn`` for line searches) are passed by :func:`chain` to every member that
    accepts them, and dropped for the others.
    """

    update: TransformUpdateExtraArgsFn


class EmptyState(NamedTuple):
    """The state of a stateless transformation."""


def init_empty_state(params: Params) -> EmptyState:
    """An ``init`` function for stateless transformations."""
    del params
    return EmptyState()


def identity() -> GradientTransformation:
    """Leaves updates unchanged: ``u_t = g_t``."""

    def update_fn(updates, state, params=None):
        del params
        return updates, state

    return GradientTransformation(init_empty_state, update_fn)


def set_to_zero() -> GradientTransformation:
    """Replaces every update by zeros: ``u_t = 0`` (used by :func:`freeze`)."""

    def update_fn(updates, state, params=None):
        del params
        return jumba.tree_util.tree_map(jnp.zeros_like, updates), state

    return GradientTransformation(init_empty_state, update_fn)


def stateless(
    f: Callable[[Updates, Params | None], Updates],
) -> GradientTransformation:
    """A stateless transformation from ``f(updates, params) -> updates``.

    Args:
        f: function of the whole updates tree and the params tree (or ``None``).

    Returns:
        A :class:`GradientTransformation` with an :class:`EmptyState`.
    """

    def update_fn(updates, state, params=None):
        return f(updates, params), state

    return GradientTransformation(init_empty_state, update_fn)


def stateless_with_tree_map(f: Callable[[Any, Any], Any]) -> GradientTransformation:
    """A stateless transformation applying ``f(update, param)`` leaf by leaf."""

    def update_fn(updates, state, params=None):
        if params is not None:
            return jumba.tree_util.tree_map(f, updates, params), state
        return jumba.tree_util.tree_map(lambda u: f(u, None), updates), state

    return GradientTransformation(init_empty_state, update_fn)


def with_extra_args_support(tx: GradientTransformation) -> GradientTransformationExtraArgs:
    """Wraps ``tx`` so that its ``update`` accepts (and ignores) ``**extra_args``."""
    if isinstance(tx, GradientTransformationExtraArgs):
        return tx

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        return tx.update(updates, state, params)

    return GradientTransformationExtraArgs(tx.init, update_fn)
