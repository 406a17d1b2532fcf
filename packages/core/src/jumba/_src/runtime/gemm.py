"""BLAS gemm with an accumulating output, and independent products run side by side.

`gemm_update(p, a, b, alpha)` is `p + alpha * (a @ b)` as one gemm: the output starts as a
copy of `p` and BLAS adds `alpha * a @ b` into it (beta = 1). That is the shape of every
gradient-descent update (`w - lr * x.T @ delta`) and of residual products; done as a
product and then an elementwise kernel it writes the product, reads it back with `p` and
writes the result (three passes over the matrix, plus OpenBLAS's own zeroing pass for
beta = 0); folded, it is one copy and the gemm. NumPy has no such call, so the BLAS that
NumPy itself uses (found by threadpoolctl, `blas.blas_libraries()` lists it first; never
SciPy's own OpenBLAS, whose threads would spin beside NumPy's) is called through ctypes;
without a usable cblas the update is computed with NumPy in two passes.

`matmul_pair` runs two independent products at once, one per core, each single-threaded,
where BLAS cannot thread them itself: on two cores that beats splitting each product in
halves (each half packs the shared operand again, and every split costs a hand-off). Where
BLAS threads both better than a split (`blas.prefers_blas_threads`), the two run one after
the other on its threads (the MLP's dW2 and dX2: 0.79 ms against 1.18 ms as a pair).
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np

from jumba._src.runtime import blas, buffers

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_cblas: dict | None = None  # dtype -> (ctypes function, scalar type), found on first use
_cblas_lock = threading.Lock()


def _find_cblas() -> dict:
    """cblas_sgemm/dgemm of NumPy's BLAS, by the symbol names OpenBLAS builds use (the
    scipy-openblas wheels NumPy ships prefix `scipy_` and suffix `64_` for 64-bit ints)."""
    for c in blas.blas_libraries():
        try:
            lib = ctypes.CDLL(c.filepath)
        except OSError:
            continue
        for prefix in ("scipy_cblas_", "cblas_"):
            for suffix, int_t in (("64_", ctypes.c_int64), ("", ctypes.c_int)):
                try:
                    fns = {np.dtype(np.float32): getattr(lib, f"{prefix}sgemm{suffix}"),
                           np.dtype(np.float64): getattr(lib, f"{prefix}dgemm{suffix}")}
                except AttributeError:
                    continue
                if suffix == "" and c.internal_api == "openblas" and "64" in c.prefix:
                    continue  # an ILP64 library's unsuffixed names may take 32-bit ints
                found = {}
                for dt, fn in fns.items():
                    scalar = ctypes.c_float if dt == np.float32 else ctypes.c_double
                    ptr = ctypes.c_void_p
                    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, int_t, int_t,
                                   int_t, scalar, ptr, int_t, ptr, int_t, scalar, ptr, int_t]
                    fn.restype = None
                    found[dt] = (fn, scalar)
                if all(_works(dt, *f) for dt, f in found.items()):
                    return found
    return {}


def _works(dtype, fn, scalar) -> bool:
    """One small product through `fn` against NumPy's (a wrong guess of the interface
    gives wrong numbers, and the fold then stays off)."""
    a = np.arange(6, dtype=dtype).reshape(3, 2)
    b = np.arange(8, dtype=dtype).reshape(2, 4) - 3
    out = np.ones((3, 4), dtype)
    _gemm_into(out, a, b.T.copy().T, 2.0, fn, scalar)
    return bool(np.array_equal(out, 1 + 2 * (a @ b)))


def _gemm_fn(dtype):
    global _cblas
    if _cblas is None:
        with _cblas_lock:
            if _cblas is None:
                try:
                    _cblas = _find_cblas()
                except Exception:  # an unexpected BLAS: fall back to NumPy
                    _cblas = {}
    return _cblas.get(dtype)


def _operand(x: np.ndarray):
    """(transpose flag, leading dimension) of a 2-D operand BLAS can read in place, or
    None (then it is copied first)."""
    s0, s1 = (s // x.itemsize for s in x.strides)
    rows, cols = x.shape
    if (s1 == 1 or cols == 1) and s0 >= max(cols, 1) and x.strides[0] % x.itemsize == 0:
        return _NO_TRANS, max(s0, 1)
    if (s0 == 1 or rows == 1) and s1 >= max(rows, 1) and x.strides[1] % x.itemsize == 0:
        return _TRANS, max(s1, 1)
    return None


def _gemm_into(out, a, b, alpha, fn, scalar):
    """out += alpha * a @ b (out: a row-major 2-D view)."""
    m, k = a.shape
    n = b.shape[1]
    if m == 0 or n == 0:
        return
    if k == 0:
        return  # the product is zero: out stays p
    oa, ob = _operand(a), _operand(b)
    if oa is None:
        a = np.ascontiguousarray(a)
        oa = (_NO_TRANS, k)
    if ob is None:
        b = np.ascontiguousarray(b)
        ob = (_NO_TRANS, n)
    fn(_ROW_MAJOR, oa[0], ob[0], m, n, k, scalar(alpha), a.ctypes.data, oa[1],
       b.ctypes.data, ob[1], scalar(1.0), out.ctypes.data, out.strides[0] // out.itemsize)


def gemm_update(p: np.ndarray, a: np.ndarray, b: np.ndarray, alpha) -> np.ndarray:
    """A new array `p + alpha * (a @ b)`: 2-D float operands of one dtype, `p` of the
    product's shape. Split over the helper threads like `blas.matmul` when big."""
    dtype = p.dtype
    found = _gemm_fn(dtype) if a.dtype == b.dtype == dtype else None
    if found is None:
        with blas.single_threaded(2.0 * a.size * b.shape[1]):
            t = np.matmul(a, b)
        t *= alpha
        t += p
        return t
    fn, scalar = found
    alpha = float(alpha)
    flops = 2.0 * a.size * b.shape[1]
    out = buffers.empty(p.shape, dtype)  # large: recycled pages, no faults on the copy
    if blas.blas_threads_now(flops, *a.shape):
        np.copyto(out, p)
        key = ("gemm", a.shape, b.shape, a.strides, b.strides, dtype)
        blas.run_threaded(key, flops, lambda: _gemm_into(out, a, b, alpha, fn, scalar))
        return out

    def block(lo, hi, out):
        if axis:
            np.copyto(out[:, lo:hi], p[:, lo:hi])
            _gemm_into(out[:, lo:hi], a, b[:, lo:hi], alpha, fn, scalar)
        else:
            np.copyto(out[lo:hi], p[lo:hi])
            _gemm_into(out[lo:hi], a[lo:hi], b, alpha, fn, scalar)

    axis = blas._split_axis(a, b)
    extent = b.shape[1] if axis else a.shape[0]
    n = blas.num_threads()
    with blas.single_threaded(flops):
        if flops < blas.PARALLEL_FLOPS or n < 2 or extent < 2 or not blas.split_now():
            block(0, extent, out)
            return out
        align = 16 if extent >= 16 * 2 * n else 1
        return blas.run_blocks(block, blas.chunk_bounds(extent, n, align), out, axis)


def matmul_pair(f0, f1, work0: float = 1.0, work1: float = 1.0, blas_threads: bool = True):
    """(f0(), f1()): two independent products (computing with single-threaded BLAS,
    unsplit) run on two threads at once when a helper is free. `work0`, `work1`: their
    relative sizes (flops), for judging how long to wait for the helper. With
    `blas_threads` (both products of shapes `blas.prefers_blas_threads`), they run in turn
    on BLAS's own threads instead while those are usable.

    The helper's product is claimed like a chunk of `blas.run_claimed`: if the helper has
    not started when the caller finishes its own, the caller computes both; if the helper
    stalls, the caller recomputes its product (each call allocates its own result, so the
    helper's late result is simply dropped)."""
    if (blas.num_threads() < 2 or (blas_threads and blas.blas_threads_usable())
            or not blas.split_now()):
        return f0(), f1()  # (each product on BLAS's own threads, if it can use them)
    results = [None, None]
    fns = (f0, f1)

    def chunk(lo, hi):
        i = 0 if lo == 0 else 1
        with blas.no_splitting():
            results[i] = fns[i]()

    # Pinned: the products' own single_threaded blocks must not restore BLAS's thread
    # count while the other thread's product runs.
    with blas.pinned_single_thread():
        abandoned = blas.run_claimed(chunk, [0.0, work0, work0 + work1],
                                     patience=blas.MATMUL_PATIENCE)
        if abandoned:
            with blas.no_splitting():
                return (f0() if 0 in abandoned else results[0],
                        f1() if 1 in abandoned else results[1])
    return results[0], results[1]


def thin_product(kernel, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """`x.T @ y` for x: K x m and y: K x n, by `kernel` (`blas_nodes.THIN_KERNEL`) on this
    thread. (Split into row chunks over two threads it ran slower, 0.74 ms against 0.39:
    the loop is bound by the updates of its accumulators, which two hyperthreads share.)"""
    swap = x.shape[1] > y.shape[1]  # the thin side goes first: the inner loop runs along
    if swap:                        # the wide one
        x, y = y, x
    out = np.empty((x.shape[1], y.shape[1]), np.result_type(x, y))
    kernel(np.ascontiguousarray(x), np.ascontiguousarray(y), out)
    return np.ascontiguousarray(out.T) if swap else out
