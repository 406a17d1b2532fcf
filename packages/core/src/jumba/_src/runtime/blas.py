"""Matrix products on all cores, with BLAS itself kept single-threaded.

Waking BLAS's own worker threads costs far more than small and medium products take: on the
2-core machines here numpy's OpenBLAS ran a 128x784 @ 784x512 product in 1.2 ms on one
thread and in 25 ms on two (a 256^3 one: 0.34 ms vs 15 ms). Splitting the product into row
blocks computed by Jumba's own worker threads, each calling single-threaded BLAS (which
releases the GIL), took 0.75 ms. So BLAS runs on one thread for every product Jumba makes;
products over `PARALLEL_FLOPS` are split over `num_threads()` workers. Setting BLAS's
thread count costs about 1.5 µs (threadpoolctl), paid only by products big enough for BLAS
to have threaded them. `JUMBA_BLAS_THREADS=n` turns the splitting off and fixes BLAS's own
thread count to n instead.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

SMALL_FLOPS = 1e5  # BLAS runs these on one thread by itself: no switch needed
PARALLEL_FLOPS = 2e7  # a worker round trip is ~40 µs: split only products well above that

_controllers = None  # threadpoolctl controllers of numpy's BLAS, found on first use
_default_threads: list[int] = []
_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()
_pinned = 0  # pmap runs holding BLAS at one thread (see pinned_single_thread)
_local = threading.local()  # .single: this thread is a pmap device (no splitting)


def _fixed_threads() -> int | None:
    v = os.environ.get("JUMBA_BLAS_THREADS")
    return int(v) if v else None


def _blas_controllers():
    global _controllers
    if _controllers is None:
        try:
            from threadpoolctl import ThreadpoolController

            found = [c for c in ThreadpoolController().lib_controllers
                     if c.user_api == "blas"]
        except Exception:  # no threadpoolctl, or a BLAS it cannot drive: leave BLAS alone
            found = []
        _default_threads[:] = [c.num_threads for c in found]
        if _fixed_threads() is not None:
            for c in found:
                c.set_num_threads(_fixed_threads())
            found = []  # fixed for good: nothing to switch per product
        _controllers = found
    return _controllers


@contextmanager
def single_threaded(flops: float):
    """Keep BLAS on one thread for the enclosed product (if it would have threaded it)."""
    controllers = _blas_controllers() if flops >= SMALL_FLOPS and not _pinned else ()
    for c in controllers:
        c.set_num_threads(1)
    try:
        yield
    finally:
        for c, n in zip(controllers, _default_threads):
            c.set_num_threads(n)


def num_threads() -> int:
    if _fixed_threads() is not None or getattr(_local, "single", False):
        return 1
    return os.cpu_count() or 1


def set_thread_local_single(flag: bool):
    """Mark this thread as a pmap device: its products and kernels are not split over
    helper threads (each device is one core's worth of work)."""
    _local.single = flag


@contextmanager
def pinned_single_thread():
    """Hold BLAS at one thread while pmap's device threads run: concurrent devices must not
    fight over cores, and per-product switching from several threads at once would race
    (one thread restoring the default while another multiplies)."""
    global _pinned
    controllers = _blas_controllers()
    with _lock:
        _pinned += 1
        if _pinned == 1:
            for c in controllers:
                c.set_num_threads(1)
    try:
        yield
    finally:
        with _lock:
            _pinned -= 1
            if _pinned == 0:
                for c, n in zip(controllers, _default_threads):
                    c.set_num_threads(n)


def _workers() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max(num_threads() - 1, 1),
                                           thread_name_prefix="jumba-blas")
    return _pool


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`a @ b` for 2-D, or batched 3-D, arrays: split into blocks of rows (or of batch
    entries) over worker threads when the product is big enough to pay for it."""
    flops = 2.0 * a.size * b.shape[-1]
    n = num_threads()
    rows = a.shape[0]
    if flops < PARALLEL_FLOPS or n < 2 or rows < 2:
        with single_threaded(flops):
            return np.matmul(a, b)
    out = np.empty((*a.shape[:-1], b.shape[-1]), np.result_type(a, b))
    bounds = [round(i * rows / min(n, rows)) for i in range(min(n, rows) + 1)]

    def block(lo, hi):
        np.matmul(a[lo:hi], b[lo:hi] if b.ndim == 3 else b, out=out[lo:hi])

    with single_threaded(flops):
        futures = [_workers().submit(block, lo, hi)
                   for lo, hi in zip(bounds[1:-1], bounds[2:])]
        block(bounds[0], bounds[1])
        for f in futures:
            f.result()
    return out


# Flat kernels are split over the workers above this much work (elements x operations:
# 2M elements of a 2-op kernel, 300K of a 14-op Adam update, 40K of a 100-op Threefry):
# below it the ~40 µs round trip costs more than the second core gains.
PARALLEL_WORK = 1 << 22


def split_flat_kernel(n: int, num_ops: int) -> bool:
    """Whether a flat kernel of `n` elements and `num_ops` operations is worth splitting."""
    return n * num_ops >= PARALLEL_WORK and num_threads() >= 2


def run_flat_kernel(kernel, n, arrays, scalars, outs):
    """Run a flat (1-D, elementwise) numba kernel, split into contiguous ranges over the
    worker threads when it is big: kernels release the GIL (nogil), so the halves run on
    two cores at once."""
    threads = num_threads()
    bounds = [n * i // threads for i in range(threads + 1)]

    def part(lo, hi):
        kernel(hi - lo, *[a[lo:hi] for a in arrays], *scalars, *[o[lo:hi] for o in outs])

    futures = [_workers().submit(part, lo, hi) for lo, hi in zip(bounds[1:-1], bounds[2:])]
    part(bounds[0], bounds[1])
    for f in futures:
        f.result()


def run_nest_kernel(kernel, extents, arrays, split, scalars, outs):
    """Run a loop-nest kernel split along its first axis (not a reduced one) over the worker
    threads: `split[i]` says whether array input i runs along that axis (else it is
    broadcast, and every part reads all of it); every output runs along it."""
    threads = num_threads()
    n0 = extents[0]
    bounds = [n0 * i // threads for i in range(threads + 1)]

    def part(lo, hi):
        kernel(hi - lo, *extents[1:], *[a[lo:hi] if s else a for a, s in zip(arrays, split)],
               *scalars, *[o[lo:hi] for o in outs])

    futures = [_workers().submit(part, lo, hi) for lo, hi in zip(bounds[1:-1], bounds[2:])]
    part(bounds[0], bounds[1])
    for f in futures:
        f.result()
