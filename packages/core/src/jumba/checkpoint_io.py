"""Saving and restoring pytrees of arrays (`jumba.checkpoint` is rematerialisation).

A checkpoint is one `.npz` file (an uncompressed zip): `manifest.json` — the tree structure,
each leaf's path, dtype, shape and sha256 — then one `.npy` per leaf. There is no pickle
anywhere: loading a checkpoint never executes code. Writes are atomic (temporary file, fsync,
rename, fsync of the directory), so a crash mid-save leaves the previous file intact; a
truncated or altered file raises `CheckpointError` naming the file and the leaf.

    import jumba.checkpoint_io as ckio

    ckio.save("params.npz", params)
    params = ckio.restore("params.npz", like=params)

    mngr = ckio.CheckpointManager("ckpts", max_to_keep=3, keep_every_n_steps=1000)
    mngr.save(step, {"params": params, "opt_state": opt_state})
    state = mngr.restore(mngr.latest_step(), like={"params": params, "opt_state": opt_state})
"""

from __future__ import annotations

from jumba._src.checkpoint_io import format as _format
from jumba._src.checkpoint_io.format import CheckpointError
from jumba._src.checkpoint_io.manager import CheckpointManager

__all__ = ["CheckpointError", "CheckpointManager", "restore", "save"]


def save(path, pytree) -> str:
    """Save a pytree of arrays and scalars to the file `path`, atomically.

    Leaves may be `jumba.Array`s, NumPy arrays (any non-object dtype), objects with
    `__array__`, Python and NumPy scalars and strings; nodes are dicts (str/int/float/bool
    keys), lists, tuples, namedtuples, `None` and any registered pytree node.

    Args:
        path: the file to write (its directory is created if missing). An existing file is
            replaced only once the new one is complete on disk.
        pytree: what to save.

    Returns:
        The absolute path written.

    Examples:
        >>> import os, tempfile, jumba.numpy as jnp
        >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
        >>> _ = save(path, {"w": jnp.ones(2), "step": 3})
        >>> restore(path)
        {'step': 3, 'w': Array([1., 1.], dtype=float32)}
    """
    return _format.save(path, pytree)


def restore(path, like=None):
    """Load a checkpoint written by `save`, verifying every leaf's checksum.

    Args:
        path: the checkpoint file.
        like: optional pytree with the structure to restore into (its leaves may be
            arrays, `ShapeDtypeStruct`s or scalars; shapes and dtypes are checked). Without
            it, dicts, lists, tuples and `None` come back as saved, namedtuples and other
            custom nodes as dicts of their fields (recreating a class would mean running code),
            and each leaf as the kind it was saved as (jumba or NumPy array, Python scalar).

    Returns:
        The restored pytree.

    Raises:
        FileNotFoundError: `path` does not exist.
        CheckpointError: the file is truncated, altered or not a checkpoint (the message
            names the file and the leaf), or does not match `like`.
    """
    return _format.restore(path, like=like)
