"""Saving and loading the leaves of a pytree: one ``.npy`` record per leaf, one file.

The structure is not stored: loading takes a like-shaped pytree (for example a freshly
built model) and fills its leaves in order, checking each one's shape and dtype. No pickle
is ever used (``allow_pickle=False`` both ways), so a file cannot run code when loaded.
"""

from __future__ import annotations

import os
import pathlib
import tempfile
from collections.abc import Callable
from typing import IO, Any

import numpy as np

import jumba
import jumba.numpy as jnp
from jumba import tree_util as jtu
from jumba_pytree_models._src.filters import is_array

__all__ = [
    "default_deserialise_filter_spec",
    "default_serialise_filter_spec",
    "tree_deserialise_leaves",
    "tree_serialise_leaves",
]


class _LeafMismatch(ValueError):
    pass


def default_serialise_filter_spec(f: IO[bytes], x: Any) -> None:
    """Write leaf ``x`` to ``f``: arrays and Python ``bool``/``int``/``float``/``complex``
    as ``.npy`` records; any other leaf (functions, strings, ...) is skipped."""
    if is_array(x):
        np.save(f, np.asarray(x), allow_pickle=False)
    elif isinstance(x, (bool, int, float, complex)):
        np.save(f, np.asarray(x), allow_pickle=False)


def default_deserialise_filter_spec(f: IO[bytes], x: Any) -> Any:
    """Read the value of leaf ``x`` (the like-shaped tree's leaf) from ``f``, checking
    that it has ``x``'s shape and dtype; other leaves are returned unchanged."""
    if is_array(x) or isinstance(x, jumba.ShapeDtypeStruct):
        try:
            value = np.load(f, allow_pickle=False)
        except (EOFError, ValueError) as e:
            raise _LeafMismatch(f"the file has no array record for it ({e})") from None
        want_shape, want_dtype = tuple(x.shape), np.dtype(x.dtype)
        if value.shape != want_shape or value.dtype != want_dtype:
            raise _LeafMismatch(f"the file holds {value.dtype}{list(value.shape)}, the "
                                f"like-shaped tree {want_dtype}{list(want_shape)}")
        if isinstance(x, np.ndarray):
            return value
        if isinstance(x, np.generic):
            return value[()]
        return jnp.asarray(value)
    if isinstance(x, (bool, int, float, complex)):
        try:
            value = np.load(f, allow_pickle=False)
        except (EOFError, ValueError) as e:
            raise _LeafMismatch(f"the file has no record for it ({e})") from None
        if value.shape != ():
            raise _LeafMismatch(f"expected a scalar {type(x).__name__}, the file holds an "
                                f"array of shape {value.shape}")
        return type(x)(value.item())
    return x


def _with_suffix(path) -> pathlib.Path:
    path = pathlib.Path(path)
    return path if path.suffix else path.with_suffix(".eqx")


def _specs(filter_spec, pytree, is_leaf):
    """One writer/reader per leaf: `filter_spec` is a prefix tree of callables."""
    leaves, treedef = jtu.tree_flatten(pytree, is_leaf=is_leaf)
    if callable(filter_spec):
        return leaves, [filter_spec] * len(leaves), treedef
    spec_leaves, spec_def = jtu.tree_flatten(filter_spec, is_leaf=callable)
    subtrees = spec_def.flatten_up_to(pytree)
    specs = []
    for s, sub in zip(spec_leaves, subtrees):
        specs.extend([s] * len(jtu.tree_leaves(sub, is_leaf=is_leaf)))
    return leaves, specs, treedef


def tree_serialise_leaves(path_or_file: str | os.PathLike | IO[bytes], pytree: Any,
                          filter_spec: Callable | Any = default_serialise_filter_spec,
                          is_leaf: Callable[[Any], bool] | None = None) -> None:
    """Save the leaves of ``pytree`` to a file (``.eqx`` is appended to a path without
    it). The write is atomic: a temporary file is renamed into place when complete.

    Args:
        path_or_file: a path or a binary file object.
        pytree: the tree; only its leaves are written (arrays and Python numbers by
            default), in flattening order.
        filter_spec: ``(file, leaf) -> None`` writing one leaf, or a prefix tree of such
            functions.
        is_leaf: extra leaves.

    Examples:
        >>> import tempfile, os, jumba.numpy as jnp
        >>> path = os.path.join(tempfile.mkdtemp(), "model.eqx")
        >>> tree_serialise_leaves(path, {"w": jnp.ones(2), "n": 3})
        >>> tree_deserialise_leaves(path, {"w": jnp.zeros(2), "n": 0})["n"]
        3
    """
    leaves, specs, _ = _specs(filter_spec, pytree, is_leaf)
    if hasattr(path_or_file, "write"):
        for spec, x in zip(specs, leaves):
            spec(path_or_file, x)
        return
    path = _with_suffix(path_or_file)
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            for spec, x in zip(specs, leaves):
                spec(f, x)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def tree_deserialise_leaves(path_or_file: str | os.PathLike | IO[bytes], like: Any,
                            filter_spec: Callable | Any = default_deserialise_filter_spec,
                            is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Load leaves saved by :func:`tree_serialise_leaves` into the structure of ``like``.

    Args:
        path_or_file: a path or a binary file object.
        like: a pytree of the same structure as the saved one (e.g. a freshly initialised
            model, or one from ``filter_eval_shape``); its leaves give each leaf's
            expected shape and dtype.
        filter_spec: ``(file, like_leaf) -> leaf``, or a prefix tree of such functions.
        is_leaf: extra leaves.

    Returns:
        ``like`` with its leaves replaced by the saved values.

    Raises:
        ValueError: naming the leaf's path (e.g. ``.layers[0].weight``) when its shape or
            dtype differs from the file's, when the file ends early, or when the file
            has data left over after the last leaf.
    """
    leaves, specs, treedef = _specs(filter_spec, like, is_leaf)
    paths = [jtu.keystr(p) for p, _ in jtu.tree_flatten_with_path(like, is_leaf=is_leaf)[0]]
    own = not hasattr(path_or_file, "read")
    f = open(_with_suffix(path_or_file), "rb") if own else path_or_file
    try:
        out = []
        for spec, x, p in zip(specs, leaves, paths):
            try:
                out.append(spec(f, x))
            except _LeafMismatch as e:
                raise ValueError(f"tree_deserialise_leaves: leaf {p or '<root>'} does not "
                                 f"match: {e}. Build `like` with the same hyperparameters "
                                 "as the saved model.") from None
        if own and f.read(1):
            raise ValueError("tree_deserialise_leaves: the file has more data than `like` "
                             "has leaves; `like` has a different structure from the saved "
                             "pytree.")
    finally:
        if own:
            f.close()
    return treedef.unflatten(out)
