"""Atomic file writes, shared by the kernel cache and checkpoint_io: the data goes to a
temporary file beside the target, is flushed and fsync'ed, then renamed over the target, so
a crash leaves either the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager


@contextmanager
def atomic_write(path, mode: str = "wb"):
    """`with atomic_write(path) as f: f.write(...)`: `path` appears, whole, only when the
    block finishes; if it raises, the temporary file is removed and `path` is untouched."""
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
