"""A pool of large output buffers, recycled once nothing refers to them.

A fresh large NumPy allocation is mapped from the OS and every page faults (and is zeroed)
on first touch, which costs as much as writing the data once more: a jitted `x * x * x` on
64 MB spent half its time there. The pool keeps the raw buffers of large outputs; a buffer
is handed out again only when no array or view uses it any longer (every view keeps its
base alive, so its reference count tells), so reuse is never visible to the user.
"""

from __future__ import annotations

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
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
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


def clear():
    global _pooled_bytes
    with _lock:
        _pool.clear()
        _pooled_bytes = 0
