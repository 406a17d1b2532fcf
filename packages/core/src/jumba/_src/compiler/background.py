"""The background compile thread: one daemon worker that builds tier-1 programs while
tier 0 serves calls. Daemon, so that a pending compilation never delays interpreter exit
(numba writes its cache files atomically)."""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

_lock = threading.Lock()
_worker: _Worker | None = None


class _Worker:
    def __init__(self):
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="jumba-compile", daemon=True)
        self._thread.start()

    def submit(self, fn) -> Future:
        future: Future = Future()
        self._jobs.put((fn, future))
        return future

    def _run(self):
        while True:
            fn, future = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as e:  # reported to whoever waits on the future
                future.set_exception(e)


def background_compiler() -> _Worker:
    global _worker
    if _worker is None:
        with _lock:
            if _worker is None:
                _worker = _Worker()
    return _worker


def wait_idle():
    """Block until every compilation queued so far has run (including those they queue in
    turn, such as a program's second build of its segments). For benchmarks: a build still
    running in the background would take a core from whatever is being timed."""
    while _worker is not None:
        done = _worker.submit(lambda: None)
        done.result()
        if _worker._jobs.empty():
            return
