"""Matrix products on all cores, without two thread pools fighting over them.

Big 2-D products (over `PARALLEL_FLOPS`) of moderate height and depth use NumPy's BLAS
with its own threads: on the 2-core machines here OpenBLAS's two threads share one packed
panel and ran the MLP's products 1.3-2x faster than a split into blocks computed by Jumba's
own worker threads with single-threaded BLAS (128x784 @ 784x512: 0.63 ms against 0.88 ms;
784x128 @ 128x512: 0.50 ms against 0.97 ms). Tall products (a batch of 16384 rows) and
those with a long contraction are split by Jumba instead (`prefers_blas_threads`), as are
memory-bound ones over `PARALLEL_BYTES`. Smaller products run on one thread (waking BLAS's
workers costs more than they take); setting BLAS's thread count costs about 1.5 µs
(threadpoolctl), paid only by products big enough for BLAS to have threaded them.
Batched products, and every product when NumPy's BLAS has one thread or cannot be driven,
are split into blocks claimed by Jumba's worker threads instead. `JUMBA_BLAS_THREADS=n`
turns all of this off and fixes BLAS's own thread count to n.

Threading is adaptive, because these machines are often shared. OpenBLAS's threads wait
for each other by spinning, so on a loaded machine a threaded product can take 10x its
one-thread time (19 ms against 3 ms seen here): a threaded product slower than its shape
ran on one thread (`run_threaded`), or a split that did not keep more than `OVERLAP`
cores busy on average, makes the next products of its kind run on one thread for a while
(see `Backoff`). Jumba's own split claims chunks (the caller never waits
for a helper that has not started) and redoes a helper's stalled chunk after a bounded
wait (see `run_claimed`).
"""

from __future__ import annotations

import functools
import itertools
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

SMALL_FLOPS = 1e5  # BLAS runs these on one thread by itself: no switch needed
PARALLEL_FLOPS = 2e7  # a worker round trip is ~40 µs: split only products well above that
MATMUL_PATIENCE = 1.5  # wait for a helper's block at most 1.5x its time at our pace
OVERLAP = 1.3  # a split that kept fewer than 1.3 cores busy on average was not worth it

_controllers = None  # threadpoolctl controllers of numpy's BLAS, found on first use
_all_controllers: list = []  # every BLAS found (also when JUMBA_BLAS_THREADS fixes them)
_default_threads: list[int] = []
_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()
_local = threading.local()  # .single: this thread is a pmap device (no splitting)


@functools.cache
def _fixed_threads() -> int | None:
    v = os.environ.get("JUMBA_BLAS_THREADS")
    return int(v) if v else None


_CPUS = os.cpu_count() or 1  # (os.cpu_count() takes 4 µs: read once, not per product)


def _blas_controllers():
    global _controllers, _numpy_blas_threads
    if _controllers is None:
        try:
            from threadpoolctl import ThreadpoolController

            found = [c for c in ThreadpoolController().lib_controllers
                     if c.user_api == "blas"]
        except Exception:  # no threadpoolctl, or a BLAS it cannot drive: leave BLAS alone
            found = []
        # NumPy's own first: its cblas is the one `gemm` calls (SciPy's OpenBLAS, a second
        # library with a thread pool of its own, must not serve threaded products beside it).
        found.sort(key=lambda c: not _is_numpys(c))
        _default_threads[:] = [c.num_threads for c in found]
        _all_controllers[:] = found
        if _fixed_threads() is not None:
            for c in found:
                c.set_num_threads(_fixed_threads())
            found = []  # fixed for good: nothing to switch per product
        ours = [n for c, n in zip(found, _default_threads) if _is_numpys(c)]
        _numpy_blas_threads = min(ours) if ours else 0
        _controllers = found
    return _controllers


def _is_numpys(controller) -> bool:
    """Whether a BLAS library is the one NumPy links (a wheel's copy in numpy.libs, or a
    system library NumPy was built against: then SciPy shares it)."""
    path = str(controller.filepath).lower()
    return "numpy" in path or ("scipy" not in path)


_numpy_blas_threads = 0  # NumPy's BLAS's own thread count (0: unknown or not drivable)
_scipy_found: tuple | None = None


def scipy_blas_controllers() -> tuple[list, list[int]]:
    """(threadpoolctl controllers, default thread counts) of SciPy's own BLAS, the one
    numba's gemm reaches (empty when SciPy shares NumPy's, or `JUMBA_BLAS_THREADS` fixes
    the thread counts)."""
    global _scipy_found
    if _scipy_found is None:
        found = []
        if _fixed_threads() is None:
            try:
                import scipy.linalg.cython_blas  # noqa: F401 (loaded, so threadpoolctl sees it)
                from threadpoolctl import ThreadpoolController

                found = [c for c in ThreadpoolController().lib_controllers
                         if c.user_api == "blas" and not _is_numpys(c)]
            except Exception:  # no SciPy or threadpoolctl, or a BLAS it cannot drive
                found = []
        _scipy_found = (found, [c.num_threads for c in found])
    return _scipy_found


def _blas_threads_possible() -> bool:
    """NumPy's BLAS can thread, and may here (not on a pmap device's thread, nor while
    BLAS is pinned at one thread)."""
    _blas_controllers()
    return _numpy_blas_threads >= 2 and num_threads() >= 2 and not _pin.count


def blas_threads_usable() -> bool:
    """Whether a big 2-D product should use NumPy's BLAS with its own threads now (possible,
    and threaded products not backing off)."""
    return _blas_threads_possible() and _threads.skip == 0


# One-thread times of big products by shape: the yardstick of their threaded runs.
# (Process CPU time cannot tell whether BLAS's threads overlapped: the kernel adds another
# thread's CPU time to it only at its next tick, 4 ms, longer than most products.)
_one_thread: dict = {}
_probes = itertools.count()
PROBE_EVERY = 256  # re-time a shape on one thread every 256 threaded products


def run_threaded(key, flops: float, product):
    """`product()`, a BLAS call of shape `key`, at BLAS's own thread count; the first time
    a shape is seen (and now and then after) on one thread instead, timed. A threaded run
    well over the shape's one-thread time means the other core is busy (BLAS's threads spin
    waiting for each other there): then the next products back off to one thread."""
    one = _one_thread.get(key)
    if one is None or next(_probes) % PROBE_EVERY == 0:
        if len(_one_thread) > 4096:
            _one_thread.clear()
        with single_threaded(flops):
            t0 = time.perf_counter()
            out = product()
        _one_thread[key] = time.perf_counter() - t0
        return out
    t0 = time.perf_counter()
    out = product()
    _threads.note(time.perf_counter() - t0 > 2 * one)  # (2: not mere jitter)
    return out


class single_threaded:
    """`with single_threaded(flops):` keeps BLAS on one thread for the enclosed product (if
    it would have threaded it). (A class: a generator context manager cost 2 µs a use.)"""

    __slots__ = ("_controllers",)

    def __init__(self, flops: float):
        self._controllers = _blas_controllers() if flops >= SMALL_FLOPS and not _pin.count \
            else ()

    def __enter__(self):
        for c in self._controllers:
            c.set_num_threads(1)

    def __exit__(self, *exc):
        for c, n in zip(self._controllers, _default_threads):
            c.set_num_threads(n)


def blas_libraries() -> list:
    """threadpoolctl's controllers of the BLAS libraries loaded (NumPy's among them)."""
    _blas_controllers()
    return list(_all_controllers)


def num_threads() -> int:
    if _fixed_threads() is not None or getattr(_local, "single", False):
        return 1
    return _CPUS


def set_thread_local_single(flag: bool):
    """Mark this thread as a pmap device: its products and kernels are not split over
    helper threads (each device is one core's worth of work)."""
    _local.single = flag


@contextmanager
def no_splitting():
    """Products and kernels of this thread run unsplit in the enclosed block (it already
    runs beside other work, as in `gemm.matmul_pair`)."""
    was = getattr(_local, "single", False)
    _local.single = True
    try:
        yield
    finally:
        _local.single = was


class OneThreadHold:
    """A counted hold of some BLAS libraries at one thread: several threads may hold at
    once; the first one in pins the libraries, the last one out restores their default
    thread counts (restoring per holder would race: one thread restoring the default while
    another multiplies). `find()` gives (threadpoolctl controllers, their defaults)."""

    def __init__(self, find):
        self._find = find
        self._lock = threading.Lock()
        self.count = 0  # holders now

    @contextmanager
    def hold(self):
        controllers, defaults = self._find()
        if not controllers:
            yield
            return
        with self._lock:
            self.count += 1
            if self.count == 1:
                for c in controllers:
                    c.set_num_threads(1)
        try:
            yield
        finally:
            with self._lock:
                self.count -= 1
                if self.count == 0:
                    for c, n in zip(controllers, defaults):
                        c.set_num_threads(n)


_pin = OneThreadHold(lambda: (_blas_controllers(), _default_threads))


def pinned_single_thread():
    """Hold BLAS at one thread while pmap's device threads run: concurrent devices must not
    fight over cores (`single_threaded` then leaves the thread count alone)."""
    return _pin.hold()


def _workers() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max(num_threads() - 1, 1),
                                           thread_name_prefix="jumba-blas")
    return _pool


def chunk_bounds(extent: int, threads: int, align: int = 1) -> list[int]:
    """Chunk bounds over `extent` for work claiming: the caller's first chunk is 1/threads
    of the work, the rest is cut in 2 * (threads - 1) equal chunks (two per helper), each
    bound rounded to a multiple of `align` (BLAS's register-block width)."""
    fractions = [0.0, 1.0 / threads]
    rest = 2 * (threads - 1)
    fractions += [1.0 / threads + (1.0 - 1.0 / threads) * (i + 1) / rest for i in range(rest)]
    bounds = [min(extent, int(round(f * extent / align)) * align) for f in fractions]
    bounds[-1] = extent
    return sorted(set(bounds))


def run_claimed(run_chunk, bounds, patience: float | None = None) -> list[int]:
    """Run `run_chunk(lo, hi)` over the chunks `bounds` on this thread and the helpers.

    Chunks are claimed, not assigned: the caller takes the first (the biggest) and then
    whatever is left; a helper thread takes chunks only once it is actually running. On a
    busy machine, where a helper may wait milliseconds for a core, the caller simply does
    the work itself instead of waiting for the helper; with a free core the work ends up
    split evenly.

    Without `patience`, every chunk a helper claimed is waited for and [] returned. With
    it, the caller waits for a helper's chunk at most `patience` times as long as the chunk
    would take at the caller's own pace (a helper preempted mid-chunk on a loaded machine
    can stall for many milliseconds), and returns the chunks it gave up on: the caller
    must redo them into a fresh buffer, since the helper still writes into the old one."""
    n = len(bounds) - 1
    claim = itertools.count().__next__  # atomic under the GIL (one C call)
    done = [threading.Lock() for _ in range(n)]
    for lock in done:
        lock.acquire()
    errors = []
    cpu = []  # CPU seconds of each chunk (thread_time: not counting time preempted)

    def work():
        while (i := claim()) < n:
            c0 = time.thread_time()
            try:
                run_chunk(bounds[i], bounds[i + 1])
            except BaseException as e:  # re-raised by the caller
                errors.append(e)
            finally:
                cpu.append(time.thread_time() - c0)
                done[i].release()

    start = time.perf_counter()
    pool = _workers()
    for _ in range(min(num_threads() - 1, n - 1)):
        pool.submit(work)
    mine = 0  # extent the caller computed
    while (i := claim()) < n:
        c0 = time.thread_time()
        try:
            run_chunk(bounds[i], bounds[i + 1])
        finally:
            cpu.append(time.thread_time() - c0)
            done[i].release()
        mine += bounds[i + 1] - bounds[i]
    per_unit = (time.perf_counter() - start) / max(mine, 1)
    abandoned = []
    for i, lock in enumerate(done):
        if patience is None or not mine:  # (no pace of our own to judge the helper's by)
            lock.acquire()
        elif not lock.acquire(timeout=patience * per_unit * (bounds[i + 1] - bounds[i])
                              + 1e-4):
            abandoned.append(i)
    if errors:
        raise errors[0]
    # Useful only if the chunks really overlapped: on a loaded (or one-core) machine the
    # helper runs, if at all, instead of the caller, and the CPU time adds up to the wall.
    _splits.note(bool(abandoned) or sum(cpu) < OVERLAP * (time.perf_counter() - start))
    return abandoned


# Adaptive back-off: a split whose chunks did not overlap (the helper never came, stalled,
# or only ran instead of the caller) says Jumba's helper could not get a core; a threaded
# product well over its one-thread time says BLAS's worker could not. Then the next
# `backoff` products of that kind run on the caller's thread alone, doubling on each
# further miss up to 512, so a loaded machine costs an occasional probe; a use that paid
# resets it. The two kinds back off apart: in a CNN step a dropout kernel's split missed
# every time (BLAS's worker, spinning after the convolutions' threaded products, held the
# other core), and a shared back-off then kept the next convolutions off BLAS's threads
# in two steps of three (apart: all three threaded in every step, the kernel unsplit; the
# step's time did not change measurably here, as BLAS's threads gain little on the
# narrowest of them). The first back-off is short: on a shared host a vCPU descheduled
# for a millisecond makes one product in ~130 miss with no load behind it, and a first
# back-off of 128 products (tried) left half the MLP step's products on one thread (1,800
# of 3,700 in a benchmark run; the step's median, timed in turn with each setting: 4.8-5.5
# ms with 128, 3.9-5.1 ms with 8). Sustained load still reaches the long back-off after
# about seven misses.
FIRST_BACKOFF = 8
MAX_BACKOFF = 512


class Backoff:
    """The back-off of one way of using the other cores (see above)."""

    __slots__ = ("backoff", "skip")

    def __init__(self):
        self.backoff = 0  # products to skip after the next miss (doubling)
        self.skip = 0  # products still to run on the caller's thread alone

    def note(self, missed: bool):
        if missed:
            self.backoff = min(max(2 * self.backoff, FIRST_BACKOFF), MAX_BACKOFF)
            self.skip = self.backoff
        else:
            self.backoff = 0

    def take(self) -> bool:
        """Whether to use the other cores for this product (False while backing off)."""
        if self.skip > 0:
            self.skip -= 1
            return False
        return True


_splits = Backoff()  # splits over Jumba's helper threads
_threads = Backoff()  # products on BLAS's own threads


def split_now() -> bool:
    """Whether to offer this product (or kernel) to the helpers."""
    return _splits.take()


# OpenBLAS's idle workers spin for ~0.1 s after each threaded call, holding the second
# core: Jumba's helper thread then started late on the kernels that followed, whose splits
# missed and backed off (in a PPO update, 88% of splits were skipped). So BLAS threads only
# the products it threads better than Jumba's split: those of moderate height (the MLP's,
# above). A tall product (the rows of a 16384-sample batch) splits by rows as fast, and a
# product with a long contraction (a weight gradient over that batch) gained 10% from
# BLAS's threads; those run on Jumba's helpers (alone, or side by side in a pair).
TALL = 4096
# Memory-bound products (few flops per byte: 16384x64 @ 64x2) gain from a split by rows
# of a big `a` laid out by rows as well: two cores stream it faster than one (0.32 -> 0.22
# ms). (Not a split through the rows of a transposed `a` or by columns of `b`: each part
# would still read every cache line.)
PARALLEL_BYTES = 2 << 20


def prefers_blas_threads(m: int, k: int) -> bool:
    """Whether an m x k by k x n product is better threaded by BLAS itself than split."""
    return m < TALL and k < TALL


def blas_threads_now(flops: float, m: int, k: int) -> bool:
    """Whether this 2-D product (m x k by k x n) goes to BLAS's own threads now: big, of a
    shape BLAS threads best, and BLAS's threads usable (see `run_threaded`)."""
    return (flops >= PARALLEL_FLOPS and prefers_blas_threads(m, k)
            and _blas_threads_possible() and _threads.take())


def _split_axis(a: np.ndarray, b: np.ndarray) -> int:
    """Split a 2-D product where each thread then packs the least: by columns of `b` (every
    thread packs all of `a` and its part of `b`) when `b` is the bigger operand, else by
    rows of `a`. On the MLP's 128x784 @ 784x512 this took 0.81 ms instead of 0.94 ms."""
    return 1 if b.ndim == 2 and a.ndim == 2 and b.size > a.size else 0


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`a @ b` for 2-D, or batched 3-D, arrays. A big 2-D product of moderate height and
    depth runs on BLAS's own threads; other big ones (or any, when BLAS cannot thread) are
    split into blocks of rows or columns (or of batch entries) claimed by worker threads."""
    flops = 2.0 * a.size * b.shape[-1]
    if flops < SMALL_FLOPS:
        return np.matmul(a, b)  # (BLAS keeps these on one thread itself)
    if a.ndim == 2 and blas_threads_now(flops, *a.shape):
        return run_threaded((a.shape, b.shape, a.strides, b.strides, a.dtype), flops,
                            lambda: np.matmul(a, b))
    n = num_threads()
    axis = _split_axis(a, b)
    extent = b.shape[-1] if axis else a.shape[0]
    small = flops < PARALLEL_FLOPS and (axis or a.nbytes < PARALLEL_BYTES
                                        or a.strides[-1] != a.itemsize)
    if small or n < 2 or extent < 2 or not split_now():
        with single_threaded(flops):
            return np.matmul(a, b)
    out = np.empty((*a.shape[:-1], b.shape[-1]), np.result_type(a, b))

    def block(lo, hi, out=out):
        if axis:
            np.matmul(a, b[:, lo:hi], out=out[:, lo:hi])
        else:
            np.matmul(a[lo:hi], b[lo:hi] if b.ndim == 3 else b, out=out[lo:hi])

    align = 16 if a.ndim == 2 and extent >= 16 * 2 * n else 1
    with single_threaded(flops):
        return run_blocks(block, chunk_bounds(extent, n, align), out, axis)


def run_chunks(part, bounds):
    """`part(lo, hi)` over every chunk of `bounds`: claimed by this thread and the helpers
    (`run_claimed`), or all on this thread in order when there is no helper or products
    back off (the same chunks either way, so a chunked result does not depend on load)."""
    if num_threads() >= 2 and split_now():
        run_claimed(part, bounds)
    else:
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            part(lo, hi)


def run_blocks(block, bounds, out, axis):
    """Run `block(lo, hi, out)` over the chunks `bounds` (along `axis` of `out`) on this
    thread and the helpers (`run_claimed`); returns `out`, or, when a helper stalled, a
    fresh buffer with the stalled chunks redone (the helper still writes the old one)."""
    abandoned = run_claimed(lambda lo, hi: block(lo, hi, out), bounds,
                            patience=MATMUL_PATIENCE)
    if not abandoned:
        return out
    fresh = np.empty_like(out)
    for i in range(len(bounds) - 1):
        lo, hi = bounds[i], bounds[i + 1]
        if i in abandoned:
            block(lo, hi, fresh)
        elif axis:
            fresh[:, lo:hi] = out[:, lo:hi]
        else:
            fresh[lo:hi] = out[lo:hi]
    return fresh


# Flat kernels are split over the workers above this much work (elements x operations:
# 2M elements of a 2-op kernel, 300K of a 14-op Adam update, 40K of a 100-op Threefry):
# below it the ~40 µs round trip costs more than the second core gains.
PARALLEL_WORK = 1 << 22


def split_flat_kernel(n: int, num_ops: int) -> bool:
    """Whether a flat kernel of `n` elements and `num_ops` operations is worth splitting."""
    return n * num_ops >= PARALLEL_WORK and num_threads() >= 2


def run_flat_kernel(kernel, n, arrays, scalars, outs):
    """Run a flat (1-D, elementwise) numba kernel, split into contiguous ranges claimed by
    the worker threads when it is big: kernels release the GIL (nogil), so the halves run on
    two cores at once."""
    def part(lo, hi):
        kernel(hi - lo, *[a[lo:hi] for a in arrays], *scalars, *[o[lo:hi] for o in outs])

    if split_now():
        run_claimed(part, chunk_bounds(n, num_threads(), 64))
    else:  # backing off: the other cores are busy
        part(0, n)


def run_nest_kernel(kernel, extents, arrays, split, scalars, outs):
    """Run a loop-nest kernel split along its first axis (not a reduced one) over the worker
    threads: `split[i]` says whether array input i runs along that axis (else it is
    broadcast, and every part reads all of it); every output runs along it."""
    def part(lo, hi):
        kernel(hi - lo, *extents[1:], *[a[lo:hi] if s else a for a, s in zip(arrays, split)],
               *scalars, *[o[lo:hi] for o in outs])

    if split_now():
        run_claimed(part, chunk_bounds(extents[0], num_threads()))
    else:
        part(0, extents[0])
