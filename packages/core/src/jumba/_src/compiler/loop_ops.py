"""Loop-body lowerings of `argmax`/`argmin` and `gather` (compiler/loop_body.py calls them).

A policy step samples actions with `argmax` (random.categorical) and picks their
log-probabilities with `take_along_axis` (a gather): without these, a rollout's scan ran
from Python one iteration at a time. Both are written as loop nests over flat buffers.
"""

from __future__ import annotations

import numpy as np

from jumba._src.compiler.loop_body import Unsupported, _flat_index, _nest
from jumba._src.compiler.lowering import typed_const


def arg_reduce(body, eqn, ins):
    """argmax/argmin along one axis: the first index of the extremum; a NaN is the
    extremum (its first index), as in NumPy and XLA."""
    (x,) = ins
    em = body.em
    (axis,) = eqn.params["axes"]
    aval = eqn.outputs[0].aval
    if x.scalar:
        raise Unsupported("argmax of a scalar")
    cmp = ">" if eqn.primitive.name == "argmax" else "<"
    out = em.new_value(aval)
    kept = [a for a in range(len(x.shape)) if a != axis]
    idx: list = [None] * len(x.shape)
    depth = 0
    for a in kept:
        if x.shape[a] == "1":
            idx[a] = "0"
            continue
        idx[a] = em.fresh("j")
        body.emit(f"for {idx[a]} in range({x.shape[a]}):", depth)
        depth += 1
    best, pos, j = em.fresh("best"), em.fresh("pos"), em.fresh("j")
    idx[axis] = "0"
    body.emit(f"{best} = {em.elem(x, _flat_index(idx, x.shape))}", depth)
    body.emit(f"{pos} = 0", depth)
    idx[axis] = j
    v = em.fresh()
    body.emit(f"for {j} in range(1, {x.shape[axis]}):", depth)
    body.emit(f"{v} = {em.elem(x, _flat_index(idx, x.shape))}", depth + 1)
    # Once best is NaN nothing replaces it; a first NaN replaces any number.
    body.emit(f"if {v} {cmp} {best} or ({v} != {v} and {best} == {best}):", depth + 1)
    body.emit(f"{best} = {v}", depth + 2)
    body.emit(f"{pos} = {j}", depth + 2)
    res = f"np.{np.dtype(aval.dtype).name}({pos})"
    if not out.shape:
        body.emit(f"{out.name} = {res}", depth)
    else:
        kidx = [idx[a] for a in kept]
        body.emit(f"{out.name}[{_flat_index(kidx, out.shape)}] = {res}", depth)
    return [out]


def gather(body, eqn, ins):
    """XLA's gather (index vector along the last axis of `indices`, as JAX makes it), with
    its CLIP / PROMISE_IN_BOUNDS (starts clamped) and FILL_OR_DROP modes."""
    from jumba._src.lax.gather_scatter import _default_fill
    from jumba._src.lax.slicing import GatherScatterMode

    x, ind = ins
    em = body.em
    p = eqn.params
    dn, sizes, mode = p["dimension_numbers"], p["slice_sizes"], p["mode"]
    aval = eqn.outputs[0].aval
    if x.scalar or not aval.shape:
        raise Unsupported("gather of or into a scalar")
    xa, ia = eqn.inputs[0].aval, eqn.inputs[1].aval
    nvec = ia.shape[-1]
    batch_shape = ind.shape[:-1] if not ind.scalar else ()
    out = em.new_value(aval)
    offset_dims = list(dn.offset_dims)
    batch_pos = [a for a in range(len(aval.shape)) if a not in offset_dims]
    collapsed = set(dn.collapsed_slice_dims) | set(dn.operand_batching_dims)
    window_dims = [d for d in range(xa.ndim) if d not in collapsed]
    fill = mode is GatherScatterMode.FILL_OR_DROP
    if fill:
        value = _default_fill(xa.dtype) if p["fill_value"] is None else p["fill_value"]
        fill_expr = typed_const(np.asarray(value).astype(xa.dtype)[()], xa.dtype)

    def assign(oidx):
        lines = []
        bidx = [oidx[a] for a in batch_pos]
        start: list = [None] * xa.ndim
        ok = []
        for k, d in enumerate(dn.start_index_map):
            raw = em.elem(ind, _flat_index(bidx + [str(k)], ind.shape)) if nvec else "0"
            s = em.fresh("s")
            hi = f"{x.shape[d]} - {em.sym(sizes[d])}"
            lines.append(f"{s} = np.intp({raw})")
            if fill:  # tested before the clamp below
                okv = em.fresh("ok")
                lines.append(f"{okv} = 0 <= {s} <= {hi}")
                ok.append(okv)
            lines.append(f"{s} = min(max({s}, 0), {hi})")
            start[d] = s
        for od, bd in zip(dn.operand_batching_dims, dn.start_indices_batching_dims):
            start[od] = bidx[bd]
        sub = []
        for d in range(xa.ndim):
            parts = [start[d]] if start[d] is not None else []
            if d in window_dims:
                parts.append(oidx[offset_dims[window_dims.index(d)]])
            sub.append(" + ".join(parts) if parts else "0")
        val = em.elem(x, _flat_index(sub, x.shape))
        if ok:
            val = f"{val} if {' and '.join(ok)} else {fill_expr}"
        lines.append(f"{out.name}[{_flat_index(oidx, out.shape)}] = {val}")
        return lines

    del batch_shape
    lines: list[str] = []
    _nest(lines, out.shape, body.ind, assign, em)
    body.lines.extend(lines)
    return [out]


HANDLERS = {"argmax": arg_reduce, "argmin": arg_reduce, "gather": gather}
