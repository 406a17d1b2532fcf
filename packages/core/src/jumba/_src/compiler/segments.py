"""Runs of small equations compiled whole, as one numba function.

Fusion makes a kernel of a chain of elementwise operations over one shape, closed by a
reduction; a computation on small arrays that alternates reductions and broadcasts back
(softmax, cross-entropy and their gradients: about 40 equations on a 128x10 array in an
MLP step) stays as one NumPy call per equation, ~5 µs each, far more than the arithmetic.
Such a run of consecutive small equations is compiled here by the loop compiler
(`loops.py`) as a loop of one iteration: its inputs are the loop's constants, its results
the loop's outputs (with a leading axis of 1, dropped by a reshape), every intermediate a
local or a small buffer of the one kernel. A run the loop compiler cannot lower stays as
it was.
"""

from __future__ import annotations

from jumba._src.compiler import kernel_cache, loops
from jumba._src.core import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, ShapedArray, Var

MAX_SIZE = 4096  # elements of every value in a run: small arrays only (the rest fuses)
MIN_OPS = 8  # shorter runs cost less in NumPy calls than a kernel call and its compilation


def _small(node) -> bool:
    if not isinstance(node, JaxprEqn) or node.primitive.name in (
            "scan", "while", "cond", "dot_general", "pjit", "custom_jvp_call",
            "custom_vjp_call"):
        return False
    if any(isinstance(v, ShapedArray) for v in node.params.values()):
        return False
    vals = [v for v in (*node.inputs, *node.outputs) if type(v) is not Literal]
    return bool(node.outputs) and all(v.aval.size <= MAX_SIZE for v in vals)


class Segment(loops.LoopNode):
    """A run of equations compiled as a one-iteration loop; outputs are the run's values."""

    def __init__(self, kernel, outputs, eqns):
        super().__init__(kernel)
        self.scan_outputs = kernel.eqn.outputs
        self.outputs = outputs
        self.eqns = eqns

    def call_lines(self, k, names, ref, namespace):
        tmp = {s: f"{names(v)}_1" for s, v in zip(self.scan_outputs, self.outputs)}
        lines = loops.call_lines(self.kernel, k, lambda v: tmp.get(v) or names(v), ref,
                                 namespace)
        lines[0] = f"# loop_{k}: {len(self.eqns)} small equations compiled whole " \
                   f"(a loop of one iteration)"
        for s, v in zip(self.scan_outputs, self.outputs):
            lines.append(f"{names(v)} = {tmp[s]}.reshape({v.aval.shape!r})")
        return lines


def _segment(run, used_after) -> Segment | None:
    from jumba._src.lax.control_flow.loops import scan_p

    made, ins = set(), []
    for e in run:
        for v in e.inputs:
            if isinstance(v, Var) and v not in made and v not in ins:
                ins.append(v)
        made.update(e.outputs)
    outs = [v for e in run for v in e.outputs if v in used_after]
    if not outs:
        return None
    body = ClosedJaxpr(Jaxpr([], ins, outs, list(run)), [])
    scan_outs = [Var(ShapedArray((1, *v.aval.shape), v.aval.dtype, v.aval.weak_type))
                 for v in outs]
    eqn = JaxprEqn(scan_p, list(ins), dict(jaxpr=body, num_consts=len(ins), num_carry=0,
                                            length=1, reverse=False, unroll=1,
                                            linear=(False,) * len(ins)), scan_outs)
    lk = loops.loop_kernel(eqn)
    return None if lk is None else Segment(lk, outs, list(run))


def compile_runs(jaxpr, nodes, cached_only=False) -> tuple[list, bool]:
    """Replace each run of at least MIN_OPS consecutive small equations by a Segment.
    With `cached_only`, only runs whose kernel is in the kernel cache (a segment of ~40
    equations takes seconds to compile: see `jit._Compiled.compile_tier1`). Returns the
    nodes and whether a run was left out for that reason."""
    reads_after: list = [set() for _ in range(len(nodes) + 1)]
    acc = {v for v in jaxpr.outvars if isinstance(v, Var)}
    reads_after[len(nodes)] = set(acc)
    for i in range(len(nodes) - 1, -1, -1):
        acc = acc | {v for v in getattr(nodes[i], "inputs", ()) if isinstance(v, Var)}
        reads_after[i] = acc
    out, i, left_out = [], 0, False
    while i < len(nodes):
        j = i
        while j < len(nodes) and _small(nodes[j]):
            j += 1
        if j - i >= MIN_OPS:
            seg = _segment(nodes[i:j], reads_after[j])
            if seg is not None and cached_only and not kernel_cache.is_cached(
                    seg.kernel.source):
                seg, left_out = None, True
            if seg is not None:
                out.append(seg)
                i = j
                continue
        out.extend(nodes[i:max(j, i + 1)])
        i = max(j, i + 1)
    return out, left_out
