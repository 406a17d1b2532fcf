"""Shared helpers: argument checks, indexing and broadcasting utilities.

The checks play the part of chex's ``assert_rank``/``assert_type`` in RLax, but raise errors that
name the function, the argument, what was expected and what to do about it. They only look at
static properties (shape, dtype), so they work on tracers under ``jit``/``vmap``/``grad`` alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import jumba.lax as lax
import jumba.numpy as jnp
from jumba.tree_util import tree_map

Array = Any
Numeric = Any

_KIND_NAMES = {float: "a floating", int: "an integer", bool: "a boolean"}


def _ndim(x) -> int:
    ndim = getattr(x, "ndim", None)
    return int(ndim) if ndim is not None else int(np.ndim(x))


def _shape(x) -> tuple:
    shape = getattr(x, "shape", None)
    return tuple(shape) if shape is not None else tuple(np.shape(x))


def _kind(x):
    """Returns ``float``, ``int`` or ``bool`` for a value's element type (None if other)."""
    if isinstance(x, (bool, np.bool_)):
        return bool
    if isinstance(x, int):
        return int
    if isinstance(x, float):
        return float
    dtype = getattr(x, "dtype", None)
    dtype = np.dtype(dtype) if dtype is not None else np.asarray(x).dtype
    if dtype == np.bool_:
        return bool
    if np.issubdtype(dtype, np.integer):
        return int
    if np.issubdtype(dtype, np.floating):
        return float
    return None


def _as_list(spec, n):
    if isinstance(spec, (list, tuple)):
        if len(spec) != n:
            raise ValueError(f"internal error: {len(spec)} specs for {n} arguments")
        return list(spec)
    return [spec] * n


def check_args(fn: str, names: str, values: Sequence, ranks=None, types=None) -> None:
    """Checks the ranks and element types of a function's arguments.

    Args:
      fn: name of the public function, for the error message.
      names: the arguments' names, separated by spaces.
      values: the arguments, in the same order.
      ranks: an int, a set of allowed ints, or a list of those (one per argument); None skips.
      types: ``float``, ``int``, ``bool``, or a list of those (None entries skip).

    Raises:
      ValueError: an argument has the wrong rank.
      TypeError: an argument has the wrong element type.
    """
    names = names.split()
    if len(names) != len(values):
        raise ValueError(f"internal error: {len(names)} names for {len(values)} values")
    if ranks is not None:
        for name, value, rank in zip(names, values, _as_list(ranks, len(names))):
            if rank is None:
                continue
            allowed = rank if isinstance(rank, (set, frozenset)) else {rank}
            if _ndim(value) not in allowed:
                want = " or ".join(str(r) for r in sorted(allowed))
                raise ValueError(
                    f"jumba_rl.{fn}: argument `{name}` must have rank {want}, got shape "
                    f"{_shape(value)} (rank {_ndim(value)}). jumba_rl functions take one "
                    f"unbatched transition or trajectory; for a batch, wrap the call in "
                    f"jumba.vmap.")
    if types is not None:
        for name, value, kind in zip(names, values, _as_list(types, len(names))):
            if kind is None:
                continue
            got = _kind(value)
            if got is not kind:
                dtype = getattr(value, "dtype", type(value).__name__)
                hint = ("cast it with .astype(jnp.float32)" if kind is float else
                        "pass integer action indices (e.g. .astype(jnp.int32))"
                        if kind is int else "pass a boolean mask")
                raise TypeError(
                    f"jumba_rl.{fn}: argument `{name}` must have {_KIND_NAMES[kind]} dtype, "
                    f"got {dtype}; {hint}.")


def check_equal_shape(fn: str, names: str, values: Sequence) -> None:
    """Checks that the arguments all have the same shape (ValueError naming them if not)."""
    names = names.split()
    shapes = [_shape(v) for v in values]
    if any(s != shapes[0] for s in shapes[1:]):
        listing = ", ".join(f"`{n}` {s}" for n, s in zip(names, shapes))
        raise ValueError(
            f"jumba_rl.{fn}: these arguments must have the same shape, got {listing}.")


def maybe_stop_gradient(flag, x):
    """``stop_gradient(x)`` if ``flag``; ``flag`` may be a Python bool or a traced boolean."""
    if isinstance(flag, (bool, np.bool_)):
        return tree_map(lax.stop_gradient, x) if flag else x
    return tree_map(lambda v: jnp.where(flag, lax.stop_gradient(v), v), x)


def batched_index(values: Array, indices: Array, keepdims: bool = False) -> Array:
    """Picks ``values[..., indices]`` along the last axis, one index per leading position.

    Args:
      values: array of shape ``[..., N]``.
      indices: integer array of shape ``[...]`` (the leading shape of ``values``).
      keepdims: keep a trailing axis of size 1.

    Returns:
      ``values[i..., indices[i...]]`` with shape ``[...]`` (or ``[..., 1]``).
    """
    indices = jnp.asarray(indices)
    if _kind(indices) is not int:
        raise TypeError(f"jumba_rl.batched_index: `indices` must be integers, got "
                        f"{indices.dtype}; cast with .astype(jnp.int32).")
    if _shape(indices) != _shape(values)[:-1]:
        raise ValueError(
            f"jumba_rl.batched_index: `indices` shape {_shape(indices)} must equal the leading "
            f"shape of `values` {_shape(values)[:-1]} (values has shape {_shape(values)}).")
    picked = jnp.take_along_axis(jnp.asarray(values), indices[..., None], axis=-1)
    return picked if keepdims else jnp.squeeze(picked, axis=-1)


def one_hot(indices: Array, num_classes: int, dtype=jnp.float32) -> Array:
    """One-hot encodes integer ``indices`` into a new trailing axis of size ``num_classes``."""
    indices = jnp.asarray(indices)
    return (indices[..., None] == jnp.arange(num_classes)).astype(dtype)


def lhs_broadcast(source: Array, target: Array) -> Array:
    """Reshapes ``source`` to broadcast against ``target`` from the left (leading axes).

    ``source``'s axes must each equal ``target``'s leading axis or be 1; trailing axes of size 1
    are appended so that ``source`` broadcasts over ``target``'s remaining axes.
    """
    s, t = _shape(source), _shape(target)
    if len(s) > len(t) or any(a != b and a != 1 for a, b in zip(s, t[:len(s)])):
        raise ValueError(
            f"jumba_rl.lhs_broadcast: source shape {s} is not compatible with target shape {t}: "
            f"each source axis must equal the target's leading axis or be 1.")
    return jnp.reshape(source, s + (1,) * (len(t) - len(s)))


def replace_masked(data: Array, replacement: Array | None, mask: Array) -> Array:
    """Where ``mask`` (broadcast from the left) is true, takes ``replacement`` (zeros if None)."""
    if replacement is None:
        replacement = jnp.zeros_like(data)
    return jnp.where(lhs_broadcast(mask, data), replacement, data)


class AllSum:
    """Sums over axes, and across devices too when built with an ``axis_name``."""

    def __init__(self, axis_name: str | None = None):
        self._axis_name = axis_name

    def __call__(self, x: Array, axis=None) -> Array:
        total = jnp.sum(x, axis=axis)
        if self._axis_name:
            total = lax.psum(total, axis_name=self._axis_name)
        return total
