"""Composing transformations: ``chain``, ``named_chain``, ``partition``/``multi_transform``;
and applying updates to parameters."""

from __future__ import annotations

import inspect
from collections.abc import Hashable, Mapping
from typing import Any, NamedTuple

import jumba
import jumba.numpy as jnp
from jumba_optim._src import base

_map = jumba.tree_util.tree_map


def _accepts_extra_args(tx: base.GradientTransformation) -> bool:
    if isinstance(tx, base.GradientTransformationExtraArgs):
        return True
    try:
        params = inspect.signature(tx.update).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _call_update(tx, updates, state, params, extra_args):
    if extra_args and _accepts_extra_args(tx):
        return tx.update(updates, state, params, **extra_args)
    return tx.update(updates, state, params)


def chain(*args: base.GradientTransformation) -> base.GradientTransformationExtraArgs:
    """Applies transformations one after the other: ``u = tx_n(...tx_2(tx_1(g)))``.

    The state is the tuple of the members' states. Extra keyword arguments given to
    ``update`` reach every member that accepts them.

    Args:
        *args: gradient transformations.

    Returns:
        A :class:`GradientTransformationExtraArgs`.

    Examples:
        >>> import jumba_optim as optim
        >>> tx = optim.chain(optim.clip_by_global_norm(1.0), optim.adam(1e-3))
    """
    for i, tx in enumerate(args):
        if not (hasattr(tx, "init") and hasattr(tx, "update")):
            raise TypeError(
                f"chain: argument {i} is {type(tx).__name__}, not a gradient transformation; "
                "pass GradientTransformation objects such as optim.scale(0.1), "
                "not functions or numbers."
            )

    def init_fn(params):
        return tuple(tx.init(params) for tx in args)

    def update_fn(updates, state, params=None, **extra_args):
        if len(state) != len(args):
            raise ValueError(
                f"chain: the state has {len(state)} parts but the chain has {len(args)} "
                "transformations; build the state with this chain's init."
            )
        new_state = []
        for tx, s in zip(args, state, strict=True):
            updates, s = _call_update(tx, updates, s, params, extra_args)
            new_state.append(s)
        return updates, tuple(new_state)

    return base.GradientTransformationExtraArgs(init_fn, update_fn)


def named_chain(
    *transforms: tuple[str, base.GradientTransformation],
) -> base.GradientTransformationExtraArgs:
    """:func:`chain` whose state is a dict keyed by the given names."""
    names = [name for name, _ in transforms]
    if len(set(names)) != len(names):
        raise ValueError(f"named_chain: names must be unique, got {names}.")

    def init_fn(params):
        return {name: tx.init(params) for name, tx in transforms}

    def update_fn(updates, state, params=None, **extra_args):
        new_state = {}
        for name, tx in transforms:
            updates, new_state[name] = _call_update(tx, updates, state[name], params, extra_args)
        return updates, new_state

    return base.GradientTransformationExtraArgs(init_fn, update_fn)


class MaskedNode(NamedTuple):
    """Stands for a leaf that a :func:`masked` transformation does not touch."""


class PartitionState(NamedTuple):
    """The states of :func:`partition`'s inner transformations, by label."""

    inner_states: Mapping[Hashable, Any]


MultiTransformState = PartitionState


def _labels_tree(param_labels, params):
    return param_labels(params) if callable(param_labels) else param_labels


def partition(
    transforms: Mapping[Hashable, base.GradientTransformation],
    param_labels: Any,
    *,
    mask_compatible_extra_args: bool = False,
) -> base.GradientTransformationExtraArgs:
    """Applies a different transformation to each labelled group of parameters.

    Args:
        transforms: mapping from label to transformation.
        param_labels: a tree of labels shaped like the params (or a prefix of them), or a
            function of the params returning one.
        mask_compatible_extra_args: accepted for Optax compatibility (extra args are passed
            unmasked).

    Returns:
        A transformation whose state is a :class:`PartitionState`.
    """
    del mask_compatible_extra_args
    from jumba_optim._src.wrappers import masked

    def make_mask(labels, group):
        return _map(lambda label: label == group, labels)

    def init_fn(params):
        labels = _labels_tree(param_labels, params)
        label_set = set(jumba.tree_util.tree_leaves(labels))
        missing = label_set - set(transforms)
        if missing:
            raise ValueError(
                f"partition: labels {sorted(map(str, missing))} have no transformation; add "
                f"them to `transforms` (it has {sorted(map(str, transforms))})."
            )
        return PartitionState(
            {g: masked(tx, make_mask(labels, g)).init(params) for g, tx in transforms.items()}
        )

    def update_fn(updates, state, params=None, **extra_args):
        labels = _labels_tree(param_labels, updates if params is None else params)
        new_inner = {}
        for group, tx in transforms.items():
            mtx = masked(tx, make_mask(labels, group))
            updates, new_inner[group] = mtx.update(
                updates, state.inner_states[group], params, **extra_args
            )
        return updates, PartitionState(new_inner)

    return base.GradientTransformationExtraArgs(init_fn, update_fn)


def multi_transform(
    transforms: Mapping[Hashable, base.GradientTransformation],
    param_labels: Any,
    *,
    mask_compatible_extra_args: bool = False,
) -> base.GradientTransformationExtraArgs:
    """Optax's older name for :func:`partition`."""
    return partition(
        transforms, param_labels, mask_compatible_extra_args=mask_compatible_extra_args
    )


def apply_updates(params: Any, updates: Any) -> Any:
    """``p_{t+1} = p_t + u_t`` leaf by leaf, keeping each parameter's dtype.

    Args:
        params: the parameters.
        updates: updates shaped like ``params`` (``None`` leaves leave the parameter alone).

    Returns:
        The updated parameters.
    """

    def add(p, u):
        if u is None:
            return p
        p = jnp.asarray(p)
        return (p + u).astype(p.dtype)

    return _map(add, params, updates, is_leaf=lambda x: x is None)


def incremental_update(new_tensors: Any, old_tensors: Any, step_size: Any) -> Any:
    """Polyak averaging: ``step_size * new + (1 - step_size) * old``."""
    return _map(lambda n, o: step_size * n + (1.0 - step_size) * o, new_tensors, old_tensors)


def periodic_update(
    new_tensors: Any, old_tensors: Any, steps: Any, update_period: int
) -> Any:
    """``new`` when ``steps`` is a multiple of ``update_period``, else ``old``."""
    cond = jnp.mod(steps, update_period) == 0
    return _map(lambda n, o: jnp.where(cond, n, o), new_tensors, old_tensors)


__all__ = [
    "MaskedNode",
    "MultiTransformState",
    "PartitionState",
    "apply_updates",
    "chain",
    "incremental_update",
    "multi_transform",
    "named_chain",
    "partition",
    "periodic_update",
]

