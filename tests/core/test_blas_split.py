"""Matrix products and kernels split over Jumba's helper threads (runtime/blas.py): every
split gives NumPy's result, each chunk runs exactly once, a stalled helper is worked around,
and a split that did not overlap makes the next ones run unsplit for a while."""

import threading
import time

import numpy as np
import pytest

from jumba._src.runtime import blas


class _NoBackoff(blas.Backoff):
    """Splits that never back off (the tests judge where products go, not the load)."""

    def note(self, missed):
        pass


@pytest.fixture(autouse=True)
def _fresh_backoff(monkeypatch):
    monkeypatch.setattr(blas, "_splits", blas.Backoff())
    monkeypatch.setattr(blas, "_threads", blas.Backoff())
    monkeypatch.setattr(blas, "num_threads", lambda: 2)
    # A BLAS that cannot thread by itself: big products are split over Jumba's helpers
    # (the threaded path has tests of its own below).
    blas._blas_controllers()
    monkeypatch.setattr(blas, "_numpy_blas_threads", 1)


@pytest.mark.parametrize("sa, sb, transpose_a", [
    ((128, 784), (784, 512), False),  # b bigger: split by columns
    ((784, 128), (128, 512), True),   # a bigger (and transposed): split by rows
    ((4, 96, 300), (4, 300, 200), False),  # batched: split by batch entries
    ((3, 100), (100, 70001), False),  # odd column count
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_matmul_matches_numpy(sa, sb, transpose_a, dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(sa[::-1] if transpose_a else sa).astype(dtype)
    a = a.T if transpose_a else a
    b = rng.standard_normal(sb).astype(dtype)
    assert 2.0 * a.size * b.shape[-1] >= blas.PARALLEL_FLOPS
    got = blas.matmul(a, b)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, np.matmul(a, b), rtol=tol, atol=tol * 30)
    assert got.flags.c_contiguous and got.dtype == dtype


def test_split_axis_and_shares():
    assert blas._split_axis(np.empty((128, 784)), np.empty((784, 512))) == 1
    assert blas._split_axis(np.empty((784, 128)), np.empty((128, 512))) == 0
    assert blas.chunk_bounds(512, 2, 16) == [0, 256, 384, 512]
    assert blas.chunk_bounds(3, 2) == [0, 2, 3]
    bounds = blas.chunk_bounds(1000, 4)
    assert bounds[0] == 0 and bounds[-1] == 1000 and bounds == sorted(set(bounds))


def test_each_chunk_runs_once():
    seen, lock = [], threading.Lock()

    def chunk(lo, hi):
        with lock:
            seen.append((lo, hi))

    bounds = blas.chunk_bounds(100, 2)
    assert blas.run_claimed(chunk, bounds) == []
    assert sorted(seen) == list(zip(bounds[:-1], bounds[1:]))


def test_helper_error_is_raised():
    main = threading.get_ident()

    def chunk(lo, hi):
        if threading.get_ident() != main or lo > 0:
            raise ValueError("chunk failed")
        time.sleep(0.05)  # let the helper claim the rest

    with pytest.raises(ValueError, match="chunk failed"):
        blas.run_claimed(chunk, [0, 1, 2, 3])


def test_stalled_helper_is_abandoned_and_product_still_right(monkeypatch):
    """A helper that stalls (preempted on a busy machine) is not waited for: its chunk is
    redone in a fresh buffer, and the helper's late writes land in the abandoned one."""
    main = threading.get_ident()
    real = np.matmul
    release = threading.Event()

    def matmul(a, b, out=None):
        if threading.get_ident() != main:
            release.wait(5)  # stall the helper until the caller has given up on it
        elif out is not None:
            time.sleep(0.01)  # the caller's chunk is slow enough for the helper to claim
        return real(a, b, out=out)

    monkeypatch.setattr(blas.np, "matmul", matmul)
    rng = np.random.default_rng(1)
    a = rng.standard_normal((64, 400)).astype(np.float32)
    b = rng.standard_normal((400, 1024)).astype(np.float32)
    got = blas.matmul(a, b)
    release.set()
    np.testing.assert_allclose(got, real(a, b), rtol=1e-4, atol=1e-3)
    assert blas._splits.skip > 0  # the stall made the next products run unsplit


def test_backoff_after_non_overlapping_split():
    splits = blas._splits
    splits.note(True)
    assert splits.skip == 8 and not blas.split_now() and splits.skip == 7
    splits.note(True)
    assert splits.skip == 16
    for _ in range(10):  # sustained load: the back-off doubles up to its cap
        splits.note(True)
    assert splits.skip == blas.MAX_BACKOFF == 512
    splits.note(False)
    assert splits.backoff == 0
    splits.skip = 0
    assert blas.split_now()


def test_missed_splits_do_not_keep_products_off_blas_threads(monkeypatch):
    # A kernel split that found the other core busy with BLAS's spinning worker says
    # nothing about BLAS's own threads: the two kinds back off apart.
    monkeypatch.setattr(blas, "_numpy_blas_threads", 2)
    blas._splits.note(True)
    assert not blas.split_now() and blas.blas_threads_usable()
    assert blas.blas_threads_now(1e9, 128, 784)
    blas._threads.note(True)
    assert not blas.blas_threads_usable() and not blas.blas_threads_now(1e9, 128, 784)
    assert blas._threads.skip == blas.FIRST_BACKOFF - 1  # that product ran on one thread
    blas._splits.skip = 0
    assert blas.split_now()


def test_backing_off_runs_kernels_unsplit():
    calls = []

    def kernel(n, x, out):
        calls.append(n)
        out[:] = 2 * x

    x = np.arange(1000.0)
    out = np.empty_like(x)
    blas._splits.skip = 5
    blas.run_flat_kernel(kernel, 1000, (x,), (), (out,))
    assert calls == [1000] and np.array_equal(out, 2 * x)
    blas._splits.skip = 0
    blas.run_flat_kernel(kernel, 1000, (x,), (), (out,))
    assert sum(calls[1:]) == 1000 and np.array_equal(out, 2 * x)


def test_pmap_device_thread_does_not_split(monkeypatch):
    monkeypatch.undo()  # the real num_threads, which honours the device flag
    blas.set_thread_local_single(True)
    try:
        assert blas.num_threads() == 1
    finally:
        blas.set_thread_local_single(False)


def test_one_thread_hold_pins_on_first_holder_and_restores_on_last():
    class Fake:  # a threadpoolctl controller
        def __init__(self, n):
            self.num_threads = n

        def set_num_threads(self, n):
            self.num_threads = n

    libs = [Fake(4), Fake(2)]
    hold = blas.OneThreadHold(lambda: (libs, [4, 2]))
    with hold.hold():
        assert [c.num_threads for c in libs] == [1, 1] and hold.count == 1
        with hold.hold():  # a second holder (another device thread)
            assert hold.count == 2
        assert [c.num_threads for c in libs] == [1, 1]  # still held by the first
    assert [c.num_threads for c in libs] == [4, 2] and hold.count == 0
    with blas.OneThreadHold(lambda: ([], [])).hold():  # no BLAS found: nothing to do
        pass


# ------------------------------------------------------------- BLAS's own threads

def test_threaded_product_matches_numpy_and_backs_off_when_slower_than_one_thread(
        monkeypatch):
    monkeypatch.setattr(blas, "_numpy_blas_threads", 2)
    monkeypatch.setattr(blas, "_one_thread", {})
    assert blas.blas_threads_usable()
    rng = np.random.default_rng(2)
    a = rng.standard_normal((128, 784)).astype(np.float32)
    b = rng.standard_normal((784, 512)).astype(np.float32)
    calls = []
    real = np.matmul

    def matmul(x, y, out=None):
        calls.append(threading.get_ident())
        return real(x, y, out=out)

    monkeypatch.setattr(blas.np, "matmul", matmul)
    got = blas.matmul(a, b)  # a new shape: timed on one thread first
    np.testing.assert_allclose(got, real(a, b), rtol=1e-4, atol=1e-3)
    assert calls == [threading.get_ident()] and len(blas._one_thread) == 1
    (key,) = blas._one_thread
    monkeypatch.setattr(blas, "_probes", iter(range(1, 10**6)))  # no re-timing probe now
    blas._one_thread[key] = 1e-9  # "one thread took no time": the threaded run is slower
    np.testing.assert_allclose(blas.matmul(a, b), real(a, b), rtol=1e-4, atol=1e-3)
    assert len(calls) == 2  # one call on BLAS's threads, no split
    assert blas._threads.skip == blas.FIRST_BACKOFF and not blas.blas_threads_usable()
    blas.matmul(a, b)  # backing off: not on BLAS's threads (split or not: splits back off
    assert blas._threads.skip == blas.FIRST_BACKOFF - 1 and len(calls) >= 3  # apart)
    blas._threads.skip = 0
    blas._one_thread[key] = 10.0  # one thread was slow: a threaded run is no miss
    blas.matmul(a, b)
    assert blas._threads.skip == 0 and blas._threads.backoff == 0


def test_threaded_blas_not_used_by_pmap_devices_or_small_products(monkeypatch):
    monkeypatch.setattr(blas, "_numpy_blas_threads", 2)
    assert blas.blas_threads_usable()
    with blas.pinned_single_thread():  # pmap's devices run: BLAS stays at one thread
        assert not blas.blas_threads_usable()
    monkeypatch.setattr(blas, "_numpy_blas_threads", 1)
    assert not blas.blas_threads_usable()


def test_numpys_blas_is_listed_first():
    class Fake:
        def __init__(self, path):
            self.filepath = path

    numpys = Fake("/venv/site-packages/numpy.libs/libscipy_openblas64_-1.so")
    scipys = Fake("/venv/site-packages/scipy.libs/libscipy_openblas-2.so")
    system = Fake("/usr/lib/x86_64-linux-gnu/libopenblas.so.0")
    assert blas._is_numpys(numpys) and blas._is_numpys(system)
    assert not blas._is_numpys(scipys)
    libs = blas.blas_libraries()
    if libs:
        flags = [blas._is_numpys(c) for c in libs]
        assert flags == sorted(flags, reverse=True)  # NumPy's before SciPy's own


def test_tall_and_long_products_split_instead_of_using_blas_threads(monkeypatch):
    # OpenBLAS's idle workers spin after a threaded call, holding the core Jumba's helper
    # needs: only products of moderate height and depth are left to BLAS's threads.
    monkeypatch.setattr(blas, "_numpy_blas_threads", 2)
    monkeypatch.setattr(blas, "_splits", _NoBackoff())
    assert blas.prefers_blas_threads(128, 784) and blas.prefers_blas_threads(784, 128)
    assert not blas.prefers_blas_threads(16384, 64)  # a batch of rows: split by rows
    assert not blas.prefers_blas_threads(64, 16384)  # a gradient over the batch
    threaded, splits = [], []
    monkeypatch.setattr(blas, "run_threaded", lambda key, flops, product:
                        threaded.append(key) or product())
    real = blas.run_blocks
    monkeypatch.setattr(blas, "run_blocks", lambda *a: splits.append(a[1]) or real(*a))
    rng = np.random.default_rng(3)
    tall = rng.standard_normal((16384, 64)).astype(np.float32)
    w = rng.standard_normal((64, 64)).astype(np.float32)
    np.testing.assert_allclose(blas.matmul(tall, w), tall @ w, rtol=1e-4, atol=1e-4)
    assert not threaded and splits == [blas.chunk_bounds(16384, 2, 16)]
    a, b = rng.standard_normal((128, 784)), rng.standard_normal((784, 512))
    np.testing.assert_allclose(blas.matmul(a, b), a @ b, rtol=1e-10)
    assert len(threaded) == 1 and len(splits) == 1


def test_memory_bound_products_split_by_rows_of_a_row_major_a_only(monkeypatch):
    monkeypatch.setattr(blas, "_splits", _NoBackoff())
    splits = []
    real = blas.run_blocks
    monkeypatch.setattr(blas, "run_blocks", lambda *a: splits.append(a[3]) or real(*a))
    rng = np.random.default_rng(4)
    x = rng.standard_normal((16384, 64)).astype(np.float32)  # 4 MB, 2 flops per element
    for a, b in [(x, rng.standard_normal((64, 2)).astype(np.float32)),
                 (x.T, rng.standard_normal((16384, 2)).astype(np.float32)),
                 (x[:1000], rng.standard_normal((64, 2)).astype(np.float32))]:
        assert 2.0 * a.size * b.shape[1] < blas.PARALLEL_FLOPS
        np.testing.assert_allclose(blas.matmul(a, b), a @ b, rtol=1e-4, atol=1e-3)
    # Only the first: the transposed `a` (each row part would read every cache line of
    # it) and the small one run whole.
    assert splits == [0]
