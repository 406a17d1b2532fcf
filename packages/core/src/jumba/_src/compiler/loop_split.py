"""Compiled loops run on every core: a `scan` whose body works row by row over a batch
axis (a vmapped environment step, a policy over a batch of observations) is one loop over
the whole batch or, equally, one loop per block of rows. Its kernel (`loops.py`) is
generic over sizes, so the same compiled function runs each block, on the caller's thread
and a helper's at once (kernels are `nogil`; blocks are claimed, `runtime/blas.run_claimed`,
so on a busy machine the caller waits for one block of a preempted helper at most, and
backs off from splitting after a split that did not overlap). Blocks are cache-sized, so
even one after the other on one thread they run faster than the whole batch.

Whether a loop splits is decided on its Jaxpr, and the analysis must hold for every program
it accepts. A candidate batch size `B` is read off the carries; then the batch axis of any
value is the axis of size `B`, and the rule is:

- every value of the body (nested bodies and expanded primitives included) has at most one
  axis of size `B` (so the kernel's size symbol for `B` stands for batch axes only: a
  block passes its own row count for it and nothing else changes size), and no nested
  loop runs `B` iterations;
- every equation maps rows to rows: row `i` of each output with a batch axis depends only
  on row `i` of its inputs with one, and on inputs without (parameters, a shared key).
  Elementwise ops (any broadcasting), `broadcast_in_dim` (a new batch axis repeats its
  operand, which every block repeats alike), transposes and reshapes that keep the rows
  apart, reductions, cumulative ops, slices and dynamic slices not along the batch axis,
  `dot_general` with the batch axis free or paired with the other operand's, `gather`
  pairing the batch axes of operand and indices (or with a batch-free operand), `cond`
  with a batch-free predicate, and nested `scan`/`while`, recursively. Anything else (an
  `iota` or a slice along the batch axis, a reduction over it, a product contracting it, a
  gather across rows, an unknown primitive) refuses the split.

Values without a batch axis (the carried key of the policy's sampling, here) can then
depend only on values without one (the only ops that drop a batch axis are refused), so
every block computes them alike: the first block's are kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from jumba._src.compiler.loops import sub_jaxprs
from jumba._src.core import Literal
from jumba._src.lax.dot import _free

# Split only loops with at least this many rows and this much work (iterations x rows x
# operations): a helper's round trip is ~40 µs and xs/ys with the batch axis second are
# copied per block.
MIN_ROWS = 128
MIN_WORK = 1 << 22


class _Refuse(Exception):
    pass


@dataclass
class SplitPlan:
    """How to run a loop kernel over blocks of rows: `rows` = the batch size `B`; per
    operand and output of the loop equation, its batch axis (in the full array) or None."""

    rows: int
    in_axes: list
    out_axes: list
    row_bytes: int = 0  # bytes per row of the body's batched values (its working set)


def _axis(aval, rows):
    """The batch axis of a value of this type, or None; refuses two axes of size `rows`."""
    found = [a for a, n in enumerate(getattr(aval, "shape", ())) if n == rows]
    if len(found) > 1:
        raise _Refuse("two axes of the batch size")
    return found[0] if found else None


def split_plan(eqn) -> SplitPlan | None:
    """The plan to run a `scan` equation's compiled loop over blocks of rows, or None when
    its body is not provably row by row (or is too small to pay)."""
    if eqn.primitive.name != "scan":
        return None
    p = eqn.params
    nc, nk = p["num_consts"], p["num_carry"]
    carries = eqn.inputs[nc:nc + nk]
    candidates = sorted({v.aval.shape[0] for v in carries if getattr(v.aval, "shape", ())},
                        reverse=True)
    for rows in candidates:
        if rows < MIN_ROWS or p["length"] * rows * _num_eqns(p["jaxpr"]) < MIN_WORK:
            continue
        try:
            plan = _plan(eqn, rows)
        except _Refuse:
            continue
        if any(a is not None for a in plan.in_axes[nc:nc + nk]):
            return plan
    return None


def _num_eqns(closed) -> int:
    return sum(1 + sum(_num_eqns(c) for c in sub_jaxprs(e)) for e in closed.jaxpr.eqns)


def _plan(eqn, rows) -> SplitPlan:
    p = eqn.params
    first_x = p["num_consts"] + p["num_carry"]
    in_axes = []
    for k, v in enumerate(eqn.inputs):
        if k >= first_x:  # xs: the scan's own axis leads
            a = _axis(_drop_lead(v.aval), rows)
            in_axes.append(None if a is None else a + 1)
        else:
            in_axes.append(_axis(v.aval, rows))
    out_axes = []
    for k, v in enumerate(eqn.outputs):
        if k >= p["num_carry"]:
            a = _axis(_drop_lead(v.aval), rows)
            out_axes.append(None if a is None else a + 1)
        else:
            out_axes.append(_axis(v.aval, rows))
    body = p["jaxpr"].jaxpr
    _check_jaxpr(body, rows)
    row_bytes = sum(v.aval.size * v.aval.dtype.itemsize // rows
                    for e in body.eqns for v in e.outputs if rows in v.aval.shape)
    return SplitPlan(rows, in_axes, out_axes, row_bytes)


@dataclass
class _Lead:
    shape: tuple


def _drop_lead(aval):
    """The type of one row of xs/ys (the scan's axis dropped)."""
    return _Lead(tuple(aval.shape[1:]))


def _check_jaxpr(jaxpr, rows):
    for v in jaxpr.invars:
        _axis(v.aval, rows)
    for v in jaxpr.constvars:  # passed whole to every block (`loops.LoopKernel.extra_consts`)
        if _axis(v.aval, rows) is not None:
            raise _Refuse("a constant with the batch size")
    for e in jaxpr.eqns:
        _check_eqn(e, rows)


def _check_eqn(eqn, rows):
    from jumba._src.compiler.lowering import (
        expansion_rules,
        reduction_rules,
        scalar_rules,
        scan_rules,
    )

    for v in eqn.inputs:
        if isinstance(v, Literal) and np.shape(v.val) != ():
            _axis(v.aval, rows)
    ins = [_axis(v.aval, rows) for v in eqn.inputs]
    outs = [_axis(v.aval, rows) for v in eqn.outputs]
    prim, name = eqn.primitive, eqn.primitive.name
    if prim in expansion_rules:  # checked as the loop's compiler writes it: expanded
        from jumba._src.interpreters import partial_eval as pe

        def fun(*xs):
            out = expansion_rules[prim](*xs, **eqn.params)
            return list(out) if prim.multiple_results else [out]

        inner = pe.trace_to_jaxpr(fun, [v.aval for v in eqn.inputs], kind="jit")
        _check_jaxpr(inner.jaxpr, rows)
        return
    rule = _RULES.get(name)
    if rule is None:
        if prim in reduction_rules or name in ("argmax", "argmin"):
            rule = _reduce
        elif prim in scan_rules:
            rule = _cumulative
        elif prim in scalar_rules:
            rule = _elementwise
        else:
            raise _Refuse(name)
    if not rule(eqn, ins, outs, rows):
        raise _Refuse(name)


def _elementwise(eqn, ins, outs, rows):
    """NumPy broadcasting: an operand's axes align with the output's from the right."""
    for v, o in zip(eqn.outputs, outs):
        r_out = len(v.aval.shape)
        for x, a in zip(eqn.inputs, ins):
            if a is not None and a + r_out - len(x.aval.shape) != o:
                return False
    return True


def _broadcast_in_dim(eqn, ins, outs, rows):
    (a,), (o,) = ins, outs
    return a is None or eqn.params["broadcast_dimensions"][a] == o


def _reshape(eqn, ins, outs, rows):
    """Rows stay apart when the elements before the batch axis number the same."""
    (a, *_), (o,) = ins, outs
    if a is None or o is None:
        return a is None and o is None
    return math.prod(eqn.inputs[0].aval.shape[:a]) == math.prod(eqn.outputs[0].aval.shape[:o])


def _transpose(eqn, ins, outs, rows):
    (a,), (o,) = ins, outs
    return a is None and o is None or (o is not None and eqn.params["permutation"][o] == a)


def _reduce(eqn, ins, outs, rows):
    (a,), (o,) = ins, outs
    axes = eqn.params["axes"]
    if a is None:
        return o is None
    return a not in axes and o == a - sum(1 for x in axes if x < a)


def _cumulative(eqn, ins, outs, rows):
    axis = eqn.params["axis"]
    return all(a is None or a != axis for a in ins) and _elementwise(eqn, ins, outs, rows)


def _slice(eqn, ins, outs, rows):
    (a,), (o,) = ins, outs
    if a is None:
        return o is None
    p = eqn.params
    strides = p["strides"] or (1,) * len(p["start_indices"])
    return (o == a and p["start_indices"][a] == 0 and p["limit_indices"][a] == rows
            and strides[a] == 1)


def _dynamic_slice(eqn, ins, outs, rows):
    """Whole along the batch axis: its start is clamped to 0 at any row count."""
    a, o = ins[0], outs[0]
    if any(i is not None for i in ins[1:]):
        return False
    return a is None and o is None or (a == o and eqn.params["slice_sizes"][a] == rows)


def _dynamic_update_slice(eqn, ins, outs, rows):
    a, u, o = ins[0], ins[1], outs[0]
    if any(i is not None for i in ins[2:]):
        return False
    return a == o and (u is None and a is None or u == a)


def _concatenate(eqn, ins, outs, rows):
    (o,) = outs
    return o != eqn.params["dimension"] and all(a == o for a in ins)


def _dot_general(eqn, ins, outs, rows):
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    (la, ra), (o,) = ins, outs
    l_rank, r_rank = len(eqn.inputs[0].aval.shape), len(eqn.inputs[1].aval.shape)
    l_free, r_free = _free(l_rank, lc, lb), _free(r_rank, rc, rb)
    if la is not None and ra is not None:  # paired batch dimensions of the product
        return la in lb and ra in rb and list(lb).index(la) == list(rb).index(ra) == o
    if la is not None:
        return la in l_free and o == len(lb) + l_free.index(la)
    if ra is not None:
        return ra in r_free and o == len(lb) + len(l_free) + r_free.index(ra)
    return o is None


def _gather(eqn, ins, outs, rows):
    """The rows of the indices pick from the same rows of the operand (batching dims), or
    from an operand without batch axis; either way an output row is an index row's."""
    dn = eqn.params["dimension_numbers"]
    (oa, ia), (o,) = ins, outs
    if ia is None:
        return oa is None and o is None
    if ia == len(eqn.inputs[1].aval.shape) - 1:  # the index vector itself
        return False
    if oa is not None:
        pairs = list(zip(dn.operand_batching_dims, dn.start_indices_batching_dims))
        if (oa, ia) not in pairs:
            return False
    batch_positions = [d for d in range(len(eqn.outputs[0].aval.shape))
                       if d not in dn.offset_dims]
    return o is not None and o in batch_positions and batch_positions.index(o) == ia


def _cond(eqn, ins, outs, rows):
    if ins[0] is not None:
        return False
    for b in eqn.params["branches"]:
        _check_jaxpr(b.jaxpr, rows)
    return True


def _scan(eqn, ins, outs, rows):
    if eqn.params["length"] == rows:
        return False
    _check_jaxpr(eqn.params["jaxpr"].jaxpr, rows)
    return True


def _while(eqn, ins, outs, rows):
    _check_jaxpr(eqn.params["cond_jaxpr"].jaxpr, rows)
    _check_jaxpr(eqn.params["body_jaxpr"].jaxpr, rows)
    return True


_RULES = {
    "broadcast_in_dim": _broadcast_in_dim, "reshape": _reshape, "squeeze": _reshape,
    "expand_dims": _reshape, "transpose": _transpose, "slice": _slice,
    "dynamic_slice": _dynamic_slice, "dynamic_update_slice": _dynamic_update_slice,
    "concatenate": _concatenate, "dot_general": _dot_general, "gather": _gather,
    "cond": _cond, "scan": _scan, "while": _while,
    "select_n": _elementwise, "convert_element_type": _elementwise,
}


# --------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------
def _block(x, axis, lo, hi):
    """Rows lo:hi of `x` along `axis`, flat (a view when they are contiguous)."""
    if axis == 0:
        return x[lo:hi].reshape(-1)
    return np.ascontiguousarray(x[(slice(None),) * axis + (slice(lo, hi),)]).reshape(-1)


def run_split(kernel, plan: SplitPlan, lead, dims, row_dim, ins, extra, outs):
    """Run `kernel(*lead, *dims, *ins, *extra, *outs)` over blocks of rows: `row_dim` is
    the position in `dims` of the batch size; `ins`: the loop's operands (arrays in their
    shapes, scalars as they are); `outs`: its outputs (full arrays, filled in place)."""
    from jumba._src.runtime import blas

    def part(lo, hi):
        d = list(dims)
        d[row_dim] = hi - lo
        args = [x if a is None or np.ndim(x) == 0 else _block(x, a, lo, hi)
                for x, a in zip(ins, plan.in_axes)]
        args = [x.reshape(-1) if isinstance(x, np.ndarray) and x.ndim > 1 else x
                for x in args]
        dest, back = [], []
        for o, a in zip(outs, plan.out_axes):
            if a is None:  # alike in every block: the first block's is kept
                dest.append(o.reshape(-1) if lo == 0 else np.empty(o.size, o.dtype))
            elif a == 0:
                dest.append(o[lo:hi].reshape(-1))
            else:
                idx = (slice(None),) * a + (slice(lo, hi),)
                tmp = np.empty(o[idx].shape, o.dtype)
                dest.append(tmp.reshape(-1))
                back.append((o, idx, tmp))
        kernel(*lead, *d, *args, *extra, *dest)
        for o, idx, tmp in back:
            o[idx] = tmp

    blas.run_chunks(part, _blocks(plan.rows, blas.num_threads(), plan.row_bytes))


# Rows per block: as many as keep a block's working set about `BLOCK_BYTES` (in L2: the
# rollout's body, ~3.9 KB a row, ran 8 blocks of 128 rows one after the other in 59 ms of
# CPU against 62-68 ms for the whole batch of 1,024, and 68 ms in blocks of 64 or 256),
# but at least `BLOCK_ROWS`, so that products stay big enough for gemm to run at speed.
BLOCK_BYTES = 1 << 19
BLOCK_ROWS = 64


def _blocks(rows: int, threads: int, row_bytes: int) -> list[int]:
    """Bounds of equal blocks of rows (multiples of 8): cache-sized, and, with helpers, two
    per thread where rows allow (a helper preempted on a busy machine then holds the
    caller up by one block at most), one per thread at least."""
    per = max(BLOCK_ROWS, BLOCK_BYTES // max(row_bytes, 1))
    n = -(-rows // per)
    if threads > 1:
        n = max(n, min(2 * threads, max(threads, rows // BLOCK_ROWS)))
    bounds = [min(rows, (rows * i // n + 4) // 8 * 8) for i in range(n)] + [rows]
    return sorted(set(bounds))
