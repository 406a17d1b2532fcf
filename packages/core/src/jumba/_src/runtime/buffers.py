"""A pool of large output buffers, recycled once nothing refers to them.

A fresh large NumPy allocation is mapped from the OS and every page faults (and is zeroed)
on first touch, which costs as much as writing the data once more: a jitted `x * x * x` on
64 MB spent half its time there. The pool keeps the raw buffers of large outputs; a buffer
is handed out again only when no array or view uses it any longer (every view keeps its
base alive, so its reference count tells), so reuse is never visible to the user.

The pool covers the kernels' outputs; the arrays NumPy itself allocates (the results of
matrix products and of the primitives left to NumPy) come from malloc, which glibc serves
from fresh mappings or gives back to the OS once a few megabytes are free at the top of
its heap. A program whose temporaries are a few megabytes each (a PPO minibatch update:
dozens of 16384x64 float32 arrays) then faulted on every page of them on every call:
13,000 page faults and 1.8x the time per update. `retain_freed_memory` makes glibc keep
such memory for reuse (as XLA's allocator keeps its own), once per process, when the
first program is built.
"""

from __future__ import annotations

import math
import os
import sys
import threading

import numpy as np

MIN_BYTES = 1 << 20  # smaller arrays come from malloc's free lists, already warm
MAX_POOLED_BYTES = 512 << 20

_lock = threading.Lock()
_pool: dict[int, list[np.ndarray]] = {}  # nbytes -> raw uint8 buffers
_pooled_bytes = 0
# References to a free raw buffer: the pool's list and getrefcount's argument.
_FREE_REFCOUNT = 2


def empty(shape, dtype) -> np.ndarray:
    """Like np.empty, reusing a free pooled buffer for large arrays."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize  # (np.prod: 4 µs a call)
    if nbytes < MIN_BYTES:
        return np.empty(shape, dtype)
    raw = _take(nbytes)
    return raw.view(dtype).reshape(shape)


def _take(nbytes: int) -> np.ndarray:
    global _pooled_bytes
    with _lock:
        bufs = _pool.get(nbytes)
        if bufs:
            for raw in bufs:
                if sys.getrefcount(raw) <= _FREE_REFCOUNT + 1:  # +1: the loop variable
                    return raw
        raw = np.empty(nbytes, np.uint8)
        if _pooled_bytes + nbytes > MAX_POOLED_BYTES:
            _evict_free(nbytes)
        if _pooled_bytes + nbytes <= MAX_POOLED_BYTES:
            _pool.setdefault(nbytes, []).append(raw)
            _pooled_bytes += nbytes
        return raw


def _evict_free(needed: int):
    """Drop free buffers (largest first) until `needed` more bytes fit."""
    global _pooled_bytes
    for size in sorted(_pool, reverse=True):
        bufs = _pool[size]
        keep = []
        for raw in bufs:
            if _pooled_bytes + needed > MAX_POOLED_BYTES and \
                    sys.getrefcount(raw) <= _FREE_REFCOUNT + 1:
                _pooled_bytes -= size
            else:
                keep.append(raw)
        if keep:
            _pool[size] = keep
        else:
            del _pool[size]


# glibc's mallopt parameters (malloc.h) and the values set: blocks below 32 MB (glibc's own
# ceiling for its adaptive threshold) come from the heap, and up to 256 MB of free memory
# at the heap's top is kept (glibc's default would trim at twice the largest block freed).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 256 << 20
_retained: bool | None = None  # None: not tried yet


def retain_freed_memory() -> bool:
    """Make glibc's malloc keep freed blocks of up to `MMAP_THRESHOLD` bytes warm for reuse
    (see the module docstring). Once per process; off with JUMBA_RETAIN_FREED_MEMORY=0, a
    no-op on other C libraries. Returns whether the setting is in effect."""
    global _retained
    if _retained is None:
        _retained = False
        if os.environ.get("JUMBA_RETAIN_FREED_MEMORY", "1") != "0" and \
                sys.platform.startswith("linux"):
            try:
                import ctypes

                libc = ctypes.CDLL(None)
                # Both are set: setting either turns glibc's adaptive threshold off.
                _retained = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
                    bool(libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
            except (OSError, AttributeError):  # not glibc (musl has no mallopt)
                pass
    return _retained


def clear():
    global _pooled_bytes
    with _lock:
        _pool.clear()
        _pooled_bytes = 0
