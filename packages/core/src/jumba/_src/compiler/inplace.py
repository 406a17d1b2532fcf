"""In-place updates of dead buffers: which `dynamic_update_slice`/`scatter` equations of a
program may write into their operand instead of copying it.

`x.at[i].set(v)` on a large `x` costs a copy of `x` per call; in a loop run per iteration
from Python (a replay buffer carried by a `scan` whose body holds matmuls) that is a
copy of the whole buffer per iteration (DQN: five 100k-row buffers). XLA avoids it by
buffer donation and liveness; this module proves the same from the Jaxpr, conservatively:

- Each value gets the set of buffers ("roots") its memory may belong to. An input, a
  constant, or a donated input is its own root. The output of an update primitive
  (`slicing.INPLACE_IMPLS`: its copying form allocates) is its own root; an update done
  in place shares its operand's buffer. Any other output may be a view of its inputs, or memory
  the program does not own (a cached constant, a read-only broadcast), so it has its
  inputs' roots plus `UNOWNED`.
- An update may write into its operand when the operand's roots are all owned (fresh
  outputs, or inputs the caller donated: a per-iteration loop's carries, copied once by
  the loop) and no value that may share one of those roots is read afterwards: by a later
  node, by the same equation's other inputs, or as an output of the program.

Function inputs and constants are never written (they are never owned), and the runtime
guard in `inplace_impl` copies when the operand is not a writable NumPy array.
"""

from __future__ import annotations

import numpy as np

from jumba._src.core import JaxprEqn, Literal

UNOWNED = object()  # the root of memory the program may not write


def _inplace_impls():
    from jumba._src.lax import slicing
    return slicing.INPLACE_IMPLS


def _reads(node):
    ins = node.inputs if isinstance(node, JaxprEqn) else getattr(node, "inputs", ())
    return [v for v in ins if type(v) is not Literal]


def inplace_nodes(jaxpr, nodes, donated=()) -> set[int]:
    """Indices into `nodes` (JaxprEqns, fused groups, loop nodes) of the update equations
    that may write into their operand. `donated`: the invars whose buffers the caller
    hands over (it owns them, no other value it passes shares their memory, and it reads
    them no more)."""
    impls = _inplace_impls()
    if not any(isinstance(n, JaxprEqn) and n.primitive in impls for n in nodes):
        return set()
    roots: dict = {v: frozenset([v]) for v in (*jaxpr.invars, *jaxpr.constvars)}
    owned = set(donated)
    last_read: dict = {}  # root -> index of the last node reading a value it may hold

    def roots_of(v):
        return roots.get(v, frozenset([UNOWNED]))

    candidates = []
    for i, node in enumerate(nodes):
        reads = _reads(node)
        for v in reads:
            for r in roots_of(v):
                last_read[r] = i
        if isinstance(node, JaxprEqn) and node.primitive in impls:
            candidates.append(i)
            for o in node.outputs:  # the copying form allocates its result
                roots[o] = frozenset([o])
                owned.add(o)
        else:
            union = frozenset([UNOWNED]).union(*(roots_of(v) for v in reads))
            for o in node.outputs:
                roots[o] = union
    for v in jaxpr.outvars:
        if type(v) is not Literal:
            for r in roots_of(v):
                last_read[r] = len(nodes)  # read by the caller
    # Buffers: a root and the outputs of the updates done in place on it share one.
    parent: dict = {}

    def find(r):
        while parent.get(r, r) is not r:
            r = parent[r]
        return r

    buffer_last = dict(last_read)
    chosen = set()
    for i in candidates:
        node = nodes[i]
        x = node.inputs[0]
        if type(x) is Literal or any(v is x for v in node.inputs[1:]):
            continue
        rx = roots_of(x)
        if not rx or not all(r in owned for r in rx):
            continue
        bufs = {find(r) for r in rx}
        if any(buffer_last.get(b, -1) > i for b in bufs):
            continue  # a value in the operand's buffer is read later
        if any(find(r) in bufs for v in _reads(node)[1:] for r in roots_of(v)):
            continue  # the update or an index is (a view of) the operand
        chosen.add(i)
        (o,) = node.outputs
        for b in bufs:  # the result lives in the operand's buffer
            parent[b] = o
            buffer_last[o] = max(buffer_last.get(o, -1), buffer_last.get(b, -1))
    return chosen


def inplace_impl(prim):
    """The impl writing into its operand when that is a writable array, else copying."""
    into = _inplace_impls()[prim]
    copy = prim.impl

    def impl(x, *args, **params):
        if type(x) is np.ndarray and x.flags.writeable and x.flags.c_contiguous:
            return into(x, *args, **params)
        return copy(x, *args, **params)

    impl.__name__ = f"{prim.name.replace('-', '_')}_inplace"
    return impl


# Loop bodies run per iteration with their carries donated, one per (ClosedJaxpr,
# donated positions); keyed by id, holding the ClosedJaxpr so the id stays unique; bounded.
_RUNNERS: dict = {}


def donating_runner(closed, donate):
    """(run, written) for a loop body run per iteration from Python: `run(values)` is the
    tier-0 body with the invars at positions `donate` (carries) donated, and `written`
    lists the donated positions some update writes into. The loop must own those
    buffers: see `LoopOwner`."""
    key = (id(closed), tuple(donate))
    hit = _RUNNERS.get(key)
    if hit is not None and hit[0] is closed:
        return hit[1]
    from jumba._src.compiler.numpy_executor import NumpyExecutable

    try:
        exe = NumpyExecutable(closed, "body", donated=tuple(donate))
        out = (exe, exe.donated_written)
    except Exception:  # fall back to the copying body (never fail on codegen)
        from jumba._src.lax.control_flow import common
        out = (common.body_runner(closed), [])
    if len(_RUNNERS) >= 512:
        _RUNNERS.clear()
    _RUNNERS[key] = (closed, out)
    return out


class LoopOwner:
    """Keeps a per-iteration loop's written carries in buffers only the loop refers to.

    The initial carries are copied once; after an iteration a written carry is kept as is
    when the body returned the very buffer it was given (updated in place) and no other
    carry is a view of it, else it is copied (one copy, as the copying update made)."""

    def __init__(self, positions):
        self.positions = positions  # indices into the carry list

    def start(self, carry):
        carry = list(carry)
        for k in self.positions:
            carry[k] = np.array(carry[k], copy=True)
        return carry

    def keep(self, old, new):
        new = list(new)
        for k in self.positions:
            c = new[k]
            if c is not old[k] or any(
                    j != k and (d is c or (type(d) is np.ndarray and d.base is not None
                                           and np.may_share_memory(c, d)))
                    for j, d in enumerate(new)):
                new[k] = np.array(c, copy=True)
        return new
