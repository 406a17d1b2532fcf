"""Pytree helpers: selecting, splitting, masking and transposing nests of arrays."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import jumba.numpy as jnp
import jumba.random as jrandom
from jumba.tree_util import tree_flatten, tree_leaves, tree_map, tree_structure, tree_unflatten
from jumba_rl._src import base

Array = base.Array


def tree_select(pred: Array, on_true: Any, on_false: Any) -> Any:
    """Selects, leaf by leaf, ``on_true`` where ``pred`` else ``on_false`` (same structures).

    Args:
      pred: a boolean scalar (or an array broadcasting against every leaf).
      on_true: a pytree.
      on_false: a pytree with the same structure.

    Returns:
      The selected pytree.
    """
    if tree_structure(on_true) != tree_structure(on_false):
        raise ValueError(f"jumba_rl.tree_select: the two branches must have the same structure, "
                         f"got {tree_structure(on_true)} and {tree_structure(on_false)}.")
    return tree_map(lambda x, y: jnp.where(pred, x, y), on_true, on_false)


def tree_map_zipped(fn: Callable[..., Any], nests: Sequence[Any]) -> Any:
    """Maps ``fn`` over the leaves of several same-structured nests, zipped leaf by leaf."""
    if not nests:
        return nests
    treedef = tree_structure(nests[0])
    if any(tree_structure(x) != treedef for x in nests[1:]):
        raise ValueError("jumba_rl.tree_map_zipped: all elements must share the same tree "
                         "structure.")
    leaves = [tree_leaves(x) for x in nests]
    return tree_unflatten(treedef, [fn(*d) for d in zip(*leaves)])


def tree_split_key(rng_key: Array, tree_like: Any):
    """Splits a key into a new key and one key per leaf of ``tree_like``.

    Returns:
      ``(new_key, tree_of_keys)``.
    """
    leaves, treedef = tree_flatten(tree_like)
    keys = jrandom.split(rng_key, len(leaves) + 1)
    return keys[0], tree_unflatten(treedef, [keys[i + 1] for i in range(len(leaves))])


def tree_split_leaves(tree_like: Any, axis: int = 0, keepdim: bool = False):
    """Splits every leaf along ``axis`` into a tuple of pytrees, one per index.

    Works on concrete (NumPy-convertible) leaves, like RLax's version which uses ``np.split``.

    Args:
      tree_like: a pytree whose leaves share the size of ``axis``.
      axis: the axis to split.
      keepdim: keep the split axis with size 1.

    Returns:
      A tuple of pytrees, one per index along ``axis``.
    """
    if len(tree_like) == 0:
        return tree_like
    leaves, treedef = tree_flatten(tree_like)
    leaves = [np.asarray(leaf) for leaf in leaves]
    size = leaves[0].shape[axis]
    pieces = [np.split(leaf, size, axis=axis) for leaf in leaves]

    def pick(p, i):
        return p[i] if keepdim else np.squeeze(p[i], axis)

    return tuple(tree_unflatten(treedef, [pick(p, i) for p in pieces]) for i in range(size))


def tree_replace_masked(tree_data: Any, tree_replacement: Any, mask: Array) -> Any:
    """``replace_masked`` on each leaf: entries where ``mask`` holds come from the replacement.

    Args:
      tree_data: a pytree of arrays with a common leading shape.
      tree_replacement: a pytree of the same structure (None: zeros).
      mask: boolean array of the leading shape.

    Returns:
      The pytree with masked entries replaced.
    """
    if tree_replacement is None:
        tree_replacement = tree_map(jnp.zeros_like, tree_data)
    return tree_map(lambda d, r: base.replace_masked(d, r, mask), tree_data, tree_replacement)


def tree_fn(fn: Callable[..., Any], **unmapped_kwargs) -> Callable[..., Any]:
    """Wraps ``fn`` to map it over the leaves of its positional arguments.

    Keyword arguments given here are passed unmapped to every call.
    """
    pfn = functools.partial(fn, **unmapped_kwargs)

    def _wrapped(*args):
        return tree_map(pfn, *args)

    return _wrapped


def transpose_last_axis_to_first(tree: Any) -> Any:
    """Moves the last axis of every leaf to the front."""
    return tree_map(lambda x: jnp.transpose(x, [x.ndim - 1] + list(range(x.ndim - 1))), tree)


def transpose_first_axis_to_last(tree: Any) -> Any:
    """Moves the first axis of every leaf to the end."""
    return tree_map(lambda x: jnp.transpose(x, list(range(1, x.ndim)) + [0]), tree)


def conditional_update(new_tensors: Any, old_tensors: Any, is_time: Array) -> Any:
    """Takes ``new_tensors`` where the scalar ``is_time`` holds, else ``old_tensors``.

    Args:
      new_tensors: the candidate pytree.
      old_tensors: the current pytree (same structure).
      is_time: boolean scalar (may be traced).

    Returns:
      The selected pytree.
    """
    return tree_map(lambda new, old: jnp.where(is_time, new, old), new_tensors, old_tensors)


def periodic_update(new_tensors: Any, old_tensors: Any, steps: Array, update_period: int) -> Any:
    """Takes ``new_tensors`` every ``update_period`` steps (e.g. a target network's weights).

    Args:
      new_tensors: the online pytree.
      old_tensors: the target pytree.
      steps: the step counter (integer scalar).
      update_period: the period of the copies.

    Returns:
      ``new_tensors`` if ``steps % update_period == 0`` else ``old_tensors``.
    """
    return conditional_update(new_tensors, old_tensors, steps % update_period == 0)
