"""`CheckpointManager`: numbered checkpoints in one directory with retention rules."""

from __future__ import annotations

import os
import re

from jumba._src.checkpoint_io import format as fmt

_NAME = re.compile(r"^checkpoint_(\d+)\.npz$")
_TEMP = re.compile(r"^\.checkpoint_\d+\.npz\..*\.tmp$")


class CheckpointManager:
    """Saves numbered checkpoints into `directory` and prunes old ones.

    Each step is one file, `directory/checkpoint_<step>.npz`, written atomically by
    `jumba.checkpoint_io.save`, so a crash during `save` leaves every earlier step intact.
    One process should write to a directory at a time.

    Args:
        directory: where the checkpoints live (created if missing).
        max_to_keep: keep at most this many of the newest checkpoints (None: keep all).
        keep_every_n_steps: additionally keep, forever, every checkpoint whose step is a
            multiple of this (Orbax's `keep_period`).

    Examples:
        >>> import tempfile
        >>> mngr = CheckpointManager(tempfile.mkdtemp(), max_to_keep=2)
        >>> for step in range(4):
        ...     _ = mngr.save(step, {"w": step})
        >>> mngr.all_steps(), mngr.latest_step(), mngr.restore()["w"]
        ([2, 3], 3, 3)
    """

    def __init__(self, directory, max_to_keep: int | None = None,
                 keep_every_n_steps: int | None = None):
        if max_to_keep is not None and (not isinstance(max_to_keep, int) or max_to_keep < 1):
            raise ValueError(f"CheckpointManager: max_to_keep must be a positive int or None, "
                             f"got {max_to_keep!r}.")
        if keep_every_n_steps is not None and (
                not isinstance(keep_every_n_steps, int) or keep_every_n_steps < 1):
            raise ValueError("CheckpointManager: keep_every_n_steps must be a positive int or "
                             f"None, got {keep_every_n_steps!r}.")
        self.directory = os.path.abspath(os.fspath(directory))
        self.max_to_keep = max_to_keep
        self.keep_every_n_steps = keep_every_n_steps
        os.makedirs(self.directory, exist_ok=True)
        # Temporary files left by a save that crashed are garbage: the rename never happened.
        for name in os.listdir(self.directory):
            if _TEMP.match(name):
                try:
                    os.unlink(os.path.join(self.directory, name))
                except OSError:
                    pass

    def _path(self, step: int) -> str:
        return os.path.join(self.directory, f"checkpoint_{step}.npz")

    def all_steps(self) -> list[int]:
        """The steps saved in the directory, ascending."""
        return sorted(int(m.group(1)) for m in map(_NAME.match, os.listdir(self.directory)) if m)

    def latest_step(self) -> int | None:
        """The newest saved step, or None if there is none."""
        steps = self.all_steps()
        return steps[-1] if steps else None

    def save(self, step: int, items, *, force: bool = False) -> str:
        """Save the pytree `items` as `step`, then delete checkpoints the rules drop.

        Args:
            step: a non-negative int.
            items: any pytree `jumba.checkpoint_io.save` accepts.
            force: overwrite an existing checkpoint of the same step.

        Returns:
            The path of the checkpoint file.
        """
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"CheckpointManager.save: step must be a non-negative int, got "
                             f"{step!r}.")
        path = self._path(step)
        if not force and os.path.exists(path):
            raise ValueError(f"CheckpointManager.save: step {step} already exists at {path}; "
                             "pass force=True to overwrite it.")
        fmt.save(path, items)
        self._prune()
        return path

    def _prune(self):
        if self.max_to_keep is None:
            return
        steps = self.all_steps()
        recent = set(steps[-self.max_to_keep:])
        removed = False
        for s in steps:
            if s in recent or (self.keep_every_n_steps and s % self.keep_every_n_steps == 0):
                continue
            try:
                os.unlink(self._path(s))
                removed = True
            except FileNotFoundError:
                pass
        if removed:
            fmt.fsync_dir(self.directory)

    def restore(self, step: int | None = None, like=None):
        """Load checkpoint `step` (default: the latest), shaped like `like` if given."""
        if step is None:
            step = self.latest_step()
            if step is None:
                raise FileNotFoundError(f"CheckpointManager.restore: no checkpoints in "
                                        f"{self.directory}.")
        elif not os.path.exists(self._path(step)):
            raise FileNotFoundError(f"CheckpointManager.restore: no checkpoint for step "
                                    f"{step} in {self.directory}; saved steps: "
                                    f"{self.all_steps()}.")
        return fmt.restore(self._path(step), like=like)
