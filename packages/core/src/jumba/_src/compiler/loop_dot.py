"""Loop-body lowering of `dot_general` (compiler/loop_body.py calls it).

Up to `MAX_DOT_WORK` multiply-adds per iteration a product is written out: a short
contraction as one expression, a matrix-vector product with unit-stride rows as a call of
a helper that may reassociate its sums (so that they vectorise, as BLAS and XLA do), rows
of a matrix used transposed added in turn (axpy-style), an outer product one product per
element; `carry + product` adds into the carry's buffer (`loop_carry.py`). A larger product
calls gemm from the loop's function (`loop_blas.py`).
"""

from __future__ import annotations

import math

from jumba._src.compiler import loop_blas
from jumba._src.compiler.loop_body import (
    MAX_DOT_WORK,
    SMALL_DOT,
    Unsupported,
    Val,
    _flat_index,
    _innermost,
    _nest,
    _prod,
)
from jumba._src.compiler.lowering import cast, typed_const


def dot_general(body, eqn, ins):
    """The lowering of a `dot_general` equation into the loop body `body` (a `_Body`)."""
    x, y = ins
    (xc, yc), (xb, yb) = eqn.params["dimension_numbers"]
    aval = eqn.outputs[0].aval
    xa = eqn.inputs[0].aval
    if aval.dtype.kind == "c":
        raise Unsupported("complex dot")
    work = aval.size * math.prod(xa.shape[a] for a in xc)
    if work > MAX_DOT_WORK:
        return _blas(body, eqn, ins, work)
    xf = [a for a in range(len(x.shape)) if a not in xc and a not in xb]
    yf = [b for b in range(len(y.shape)) if b not in yc and b not in yb]
    into = body.accumulate.get(eqn)
    # `carry + this product`: add into the carry's buffer (seen in the product's shape).
    out = (Val(into.name, body.em.syms(aval.shape), aval.dtype) if into is not None
           else body.em.new_value(aval))
    put = "+=" if into is not None else "="
    xi, yi = [None] * len(x.shape), [None] * len(y.shape)
    oidx: list[str] = []
    depth = [0]

    def loop(n):
        if n == "1":
            return "0"
        j = body.em.fresh("j")
        body.emit(f"for {j} in range({n}):", depth[0])
        depth[0] += 1
        return j

    def contract():
        for a, b in zip(xc, yc):
            j = loop(x.shape[a])
            xi[a], yi[b] = j, j

    def free():
        for a in xf:
            xi[a] = loop(x.shape[a])
            oidx.append(xi[a])
        for b in yf:
            yi[b] = loop(y.shape[b])
            oidx.append(yi[b])

    if (not xb and len(xc) == 1 and out.shape and _innermost(x.shape, xc[0])
            and _innermost(y.shape, yc[0]) and all(y.shape[b] == "1" for b in yf)
            and x.shape[xc[0]] != "1" and aval.dtype.kind == "f"
            and x.dtype == y.dtype == aval.dtype
            and not (x.splat or y.splat or x.scalar or y.scalar)):
        # A matrix-vector product with unit-stride rows: one call of a helper that may
        # reassociate its sums (as BLAS and XLA do), so that they vectorise instead of
        # waiting on one add at a time (~10x faster at 64x64, measured).
        rows = _prod([x.shape[a] for a in xf])
        helper = body.em.matvec_helper(aval.dtype, accumulate=into is not None)
        body.emit(f"{helper}({x.name}, {y.name}, {x.shape[xc[0]]}, {rows}, {out.name})")
        return [out]
    for a, b in zip(xb, yb):
        j = loop(x.shape[a])
        xi[a], yi[b] = j, j
        oidx.append(j)
    big_shape, big_c = (x.shape, xc) if len(x.shape) >= len(y.shape) else (y.shape, yc)
    xe = lambda: cast(body.em.elem(x, _flat_index(xi, x.shape)), aval.dtype)  # noqa: E731
    ye = lambda: cast(body.em.elem(y, _flat_index(yi, y.shape)), aval.dtype)  # noqa: E731
    if out.shape and xc and (len(big_shape) - 1) not in big_c:
        # The larger operand is contiguous along a free axis: zero this batch block of
        # the output (unless accumulating into a carry), then accumulate with that
        # axis innermost (a strided dot product would not vectorise; rows of a matrix
        # used transposed are added in turn, axpy-style, as BLAS does).
        nb = len(oidx)
        lines: list[str] = []
        if into is None:
            _nest(lines, out.shape[nb:], body.ind + depth[0], lambda idx: [
                f"{out.name}[{_flat_index(oidx + idx, out.shape)}] = "
                f"{typed_const(0, aval.dtype)}"], body.em)
        body.lines.extend(lines)
        contract()
        free()
        body.emit(f"{out.name}[{_flat_index(oidx, out.shape)}] += {xe()} * {ye()}",
                  depth[0])
        return [out]
    free()
    acc = body.em.fresh("acc")
    n_contract = math.prod(xa.shape[a] for a in xc)
    if len(xc) == 1 and 1 < n_contract <= SMALL_DOT:
        # A short contraction (a policy's weights times a 4-number observation) is
        # written out as one expression: no loop, no call.
        terms = []
        for k in range(n_contract):
            xi[xc[0]] = yi[yc[0]] = str(k)
            terms.append(f"{xe()} * {ye()}")
        e = " + ".join(terms)
        body.emit(f"{out.name}[{_flat_index(oidx, out.shape)}] {put} {e}" if out.shape
                  else f"{out.name} = {cast(e, aval.dtype)}", depth[0])
        return [out]
    if n_contract == 1 and out.shape:
        # Nothing to sum (an outer product): one product per element, no accumulator.
        contract()
        body.emit(f"{out.name}[{_flat_index(oidx, out.shape)}] {put} {xe()} * {ye()}",
                  depth[0])
        return [out]
    if (len(xc) == 1 and _innermost(x.shape, xc[0]) and _innermost(y.shape, yc[0])
            and x.shape[xc[0]] != "1" and aval.dtype.kind == "f"
            and x.dtype == y.dtype == aval.dtype
            and not (x.splat or y.splat or x.scalar or y.scalar)):
        # Unit-stride dot product: a helper that may reassociate the sum (as BLAS and
        # XLA do), so that it vectorises instead of waiting on one add at a time.
        xi[xc[0]] = yi[yc[0]] = "0"
        helper = body.em.dot_helper(aval.dtype)
        body.emit(f"{acc} = {helper}({x.name}, {_flat_index(xi, x.shape)}, {y.name}, "
                  f"{_flat_index(yi, y.shape)}, {x.shape[xc[0]]})", depth[0])
        body.emit(f"{out.name}[{_flat_index(oidx, out.shape)}] {put} {acc}" if out.shape
                  else f"{out.name} = {acc}", depth[0])
        return [out]
    body.emit(f"{acc} = {typed_const(0, aval.dtype)}", depth[0])
    outer = depth[0]
    contract()
    body.emit(f"{acc} += {xe()} * {ye()}", depth[0])
    if not out.shape:
        body.emit(f"{out.name} = {acc}", outer)
    else:
        body.emit(f"{out.name}[{_flat_index(oidx, out.shape)}] {put} {acc}", outer)
    return [out]


def _blas(body, eqn, ins, work):
    """A large product: gemm called from the loop's function (`loop_blas.py`)."""
    outs = loop_blas.dot_general(body, eqn, ins)
    if outs is None:
        raise Unsupported(f"dot_general of {work} multiply-adds without a BLAS type")
    return outs
