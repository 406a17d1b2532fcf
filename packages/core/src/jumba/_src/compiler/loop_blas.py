"""BLAS inside compiled loops: a large `dot_general` of a loop body -> gemm calls made from
the loop's numba function itself.

The call goes through numba's own BLAS entry point, the C function `numba_xxgemm` of its
helper library (as `numba/np/linalg.py` uses it), declared as an external function: the
kernel names the symbol, not an address, so numba caches it on disk like any other kernel
(a kernel embedding a ctypes function pointer could not be cached). `numba_xxgemm` forwards
to SciPy's `cython_blas` ([sd]gemm, column-major Fortran BLAS) and takes the transpose
flags and leading dimensions, so transposed operands cost no copy.

Layout: every buffer of a loop kernel is flat and row-major. A row-major product
C (m x n) = op(A) @ op(B) is, read column-major, C^T = op(B)^T @ op(A)^T: the same gemm with
the operands swapped, the same transpose flags and the same leading dimensions (the row
strides), which is what the `gemm_<dtype>` helper written into the kernel does.

Dimension numbers: an operand whose non-unit axes are (batch..., free..., contracting...)
or (batch..., contracting..., free...), with its batch axes leading in order and its
contracting axes in the same relative order as its partner's, is used where it lies (the
second layout with the transpose flag); any other operand is first copied into the
layout (batch, free, contracting) (x) or (batch, contracting, free) (y). Batch axes become
a loop of gemms over contiguous blocks. Axes of size 1 are ignored.

SciPy's BLAS is a library of its own (not NumPy's): `single_threaded` holds it at one
thread while a loop kernel runs, for the reason `runtime/blas.py` gives (waking BLAS's
threads costs more than these products take on the shared 2-core machines).
"""

from __future__ import annotations

import numpy as np

from jumba._src.compiler.loop_body import Val, _flat_index, _nest, _prod
from jumba._src.runtime import blas

_GEMM_DTYPES = {"float32": "s", "float64": "d"}


def _gemm_helper(dt: str) -> str:
    kind = ord(_GEMM_DTYPES[dt])
    return (
        "@numba.njit(cache=True, nogil=True, error_model='numpy')\n"
        f"def gemm_{dt}(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, add):\n"
        "    # Row-major c (m x n) = op(a) @ op(b) (+ c if add), as column-major\n"
        "    # c^T = op(b)^T op(a)^T: the same flags and leading dimensions.\n"
        "    if m == 0 or n == 0:\n"
        "        return\n"
        f"    beta = _LB_ONE_{dt} if add else _LB_ZERO_{dt}\n"
        f"    _lb_{dt}(np.int8({kind}), np.int8(tb), np.int8(ta), n, m, k, "
        f"_LB_ONE_{dt}.ctypes, b.ctypes, max(ldb, 1), a.ctypes, max(lda, 1), "
        f"beta.ctypes, c.ctypes, max(ldc, 1))\n")


def module_header(lines) -> str:
    """The imports and constants a kernel calling `gemm_<dtype>` needs ('' if none)."""
    used = [dt for dt in _GEMM_DTYPES if any(f"gemm_{dt}(" in ln for ln in lines)]
    if not used:
        return ""
    out = ["from jumba._src.compiler.loop_blas import gemm_externals as _lb_externals", ""]
    for dt in used:
        out += [f"_lb_{dt} = _lb_externals(np.{dt})",
                f"_LB_ONE_{dt} = np.ones(1, np.{dt})",
                f"_LB_ZERO_{dt} = np.zeros(1, np.{dt})"]
    return "\n".join(out) + "\n"


_externals: dict = {}


def gemm_externals(dtype):
    """numba's `numba_xxgemm` for `dtype` as an external function (BLAS loaded first)."""
    dt = np.dtype(dtype).name
    ext = _externals.get(dt)
    if ext is None:
        from numba import types
        from numba.np.linalg import ensure_blas

        ensure_blas()
        t = types.float32 if dt == "float32" else types.float64
        p = types.CPointer(t)
        sig = types.intc(types.char, types.char, types.char, types.intp, types.intp,
                         types.intp, p, p, types.intp, p, types.intp, p, p, types.intp)
        ext = _externals[dt] = types.ExternalFunction("numba_xxgemm", sig)
    return ext


def _layout(shape, batch, contract, free):
    """'n' if the operand's non-unit axes are (batch, free, contract) in memory, 't' if
    (batch, contract, free), None otherwise (`batch`, `contract`: axes in pair order)."""
    keep = [a for a in range(len(shape)) if shape[a] != "1"]
    b = [a for a in batch if shape[a] != "1"]
    c = [a for a in contract if shape[a] != "1"]
    f = [a for a in free if shape[a] != "1"]
    if keep[:len(b)] != b:
        return None
    rest = keep[len(b):]
    if rest == f + c:
        return "n"
    if rest == c + f:
        return "t"
    return None


def _relayout(body, v, batch, first, second):
    """`v` copied into the layout (batch, first, second), and those axes' new positions."""
    v = _copy_to(body, v, batch + first + second)
    nb, n1 = len(batch), len(first)
    return v, list(range(nb)), list(range(nb, nb + n1)), list(range(nb + n1, len(v.shape)))


def _copy_to(body, x: Val, order) -> Val:
    """A copy of `x` with its axes permuted to `order` (row-major)."""
    em = body.em
    shape = tuple(x.shape[a] for a in order)
    out = em.buffer(shape, x.dtype)
    lines: list[str] = []

    def assign(idx):
        src = [None] * len(order)
        for o, a in enumerate(order):
            src[a] = idx[o]
        return [f"{out.name}[{_flat_index(idx, shape)}] = "
                f"{em.elem(x, _flat_index(src, x.shape))}"]

    _nest(lines, shape, body.ind, assign, em)
    body.lines.extend(lines)
    return out


def dot_general(body, eqn, ins) -> list[Val] | None:
    """Emit `eqn` as gemm calls into `body`, or return None when BLAS does not apply (not
    float32/float64 throughout, or a scalar operand)."""
    x, y = ins
    (xc, yc), (xb, yb) = eqn.params["dimension_numbers"]
    aval = eqn.outputs[0].aval
    dt = np.dtype(aval.dtype).name
    if dt not in _GEMM_DTYPES or not (x.dtype == y.dtype == aval.dtype):
        return None
    if x.scalar or y.scalar or not aval.shape:
        return None
    x, y = body._materialize(x), body._materialize(y)
    xb, yb, xc, yc = list(xb), list(yb), list(xc), list(yc)
    xf = [a for a in range(len(x.shape)) if a not in xc and a not in xb]
    yf = [b for b in range(len(y.shape)) if b not in yc and b not in yb]
    # Pair the contracting axes in x's memory order, so x is usable where it lies.
    pairs = sorted(zip(xc, yc))
    xc, yc = [a for a, _ in pairs], [b for _, b in pairs]
    lx = _layout(x.shape, xb, xc, xf)
    if lx is None:
        x, xb, xf, xc = _relayout(body, x, xb, xf, xc)
        lx = "n"
    ly = _layout(y.shape, yb, yc, yf)
    if ly is None:
        y, yb, yc, yf = _relayout(body, y, yb, yc, yf)
        ly = "t"
    em = body.em
    nbatch = _prod([x.shape[a] for a in xb])
    m = _prod([x.shape[a] for a in xf])
    k = _prod([x.shape[a] for a in xc])
    n = _prod([y.shape[b] for b in yf])
    # `carry + this product` (when the body's carry analysis marks it: `accumulate`) adds
    # into the carry's buffer with beta = 1, as the small products' loop nests do.
    into = getattr(body, "accumulate", {}).get(eqn)
    out = (Val(into.name, em.syms(aval.shape), aval.dtype) if into is not None
           else em.new_value(aval))
    add = int(into is not None)
    # Row-major storage: x is (m x k) ('n') or (k x m) ('t'); y is (k x n) under 't' of
    # _layout's naming -- (batch, contract, free) -- and (n x k) under 'n'.
    ta, lda = (0 if lx == "n" else 1), (k if lx == "n" else m)
    tb, ldb = (0 if ly == "t" else 1), (n if ly == "t" else k)
    ta_c, tb_c = ord("T") if ta else ord("N"), ord("T") if tb else ord("N")
    body.em.helpers[f"gemm_{dt}"] = _gemm_helper(dt)
    call = f"gemm_{dt}({ta_c}, {tb_c}, {m}, {n}, {k}, "
    if nbatch == "1":
        body.emit(call + f"{x.name}, {lda}, {y.name}, {ldb}, {out.name}, {n}, {add})")
    else:
        j = em.fresh("j")
        body.emit(f"for {j} in range({nbatch}):")

        def at(v, size):
            return f"{v.name}[{j}*{size}:]" if size != "1" else f"{v.name}[{j}:]"

        body.emit(call + f"{at(x, _prod((m, k)))}, {lda}, {at(y, _prod((k, n)))}, {ldb}, "
                  f"{at(out, _prod((m, n)))}, {n}, {add})", 1)
    return [out]


# -- SciPy's BLAS threads ------------------------------------------------------------

_hold = blas.OneThreadHold(blas.scipy_blas_controllers)


def single_threaded():
    """Hold SciPy's BLAS at one thread while loop kernels run (counted: loops may run in
    several pmap device threads at once; the last one out restores the default)."""
    return _hold.hold()
