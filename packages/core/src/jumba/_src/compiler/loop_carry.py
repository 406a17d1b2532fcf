"""Which equations of a loop body write a carry's new value straight into its buffer.

A carry array is a buffer allocated once before the loop; at the end of an iteration its
new value is copied into it. Two shapes of update skip the copy, and the second also the
temporary that the new value would be built in:

- an elementwise equation (same shape, no broadcasting) that makes the new value and is
  the only reader of the carry: element j of the carry is read just before element j of
  the new value is written over it (`h = tanh(h * a + b)`);
- `acc + dot_general(...)` (`add` or `add_any`, either order) where the carry is read by
  that add only and the product by nothing else: the product accumulates into the carry
  buffer in its own loop nest (`dW += outer(g, h)`, `v += M @ x`), as a reverse-mode sweep
  accumulates the cotangents of loop-invariant weights. Summing the products into the
  carry one by one reassociates the sum (acc + (a + b) becomes (acc + a) + b), as BLAS's
  beta = 1 and XLA's output fusion do.
"""

from __future__ import annotations

import math

from jumba._src.compiler.lowering import scalar_rules
from jumba._src.core import Literal

_ACCUMULATING_ADDS = ("add", "add_any")


def carry_updates(jaxpr, carry_pos, env, max_dot_work) -> tuple[dict, dict, dict]:
    """For the carries (invar position -> outvar position `carry_pos`; buffers in `env`):
    (elementwise equation -> carry buffer it writes over, dot_general equation -> carry
    buffer it accumulates into, absorbed add equation -> that carry buffer). Only products
    of up to `max_dot_work` multiply-adds accumulate (the loop nests that do it); larger
    ones go elsewhere, and their add stays."""
    uses: dict = {}
    for e in jaxpr.eqns:
        for v in e.inputs:
            if not isinstance(v, Literal):
                uses[v] = uses.get(v, 0) + 1
    for v in jaxpr.outvars:
        if not isinstance(v, Literal):
            uses[v] = uses.get(v, 0) + 1
    producer = {o: e for e in jaxpr.eqns for o in e.outputs}
    in_place, accumulate, absorbed = {}, {}, {}
    for i, k in carry_pos.items():
        cv, ov = jaxpr.invars[i], jaxpr.outvars[k]
        e = producer.get(ov) if not isinstance(ov, Literal) else None
        c = env[cv]
        # The new value is made by one equation that is the carry's only reader, and is
        # no other output.
        if (e is None or c.scalar or c.splat or uses.get(cv) != 1 or cv not in e.inputs
                or uses.get(ov) != 1 or len(e.outputs) != 1 or e in in_place
                or e in absorbed):
            continue
        dot = _accumulated_dot(e, cv, ov, uses, producer, max_dot_work)
        if dot is not None and dot not in accumulate:
            accumulate[dot] = absorbed[e] = c
        elif (e.primitive in scalar_rules
              and all(v.aval.shape in ((), ov.aval.shape) for v in e.inputs)):
            in_place[e] = c
    return in_place, accumulate, absorbed


def _accumulated_dot(add, cv, ov, uses, producer, max_dot_work):
    """The dot_general equation of `ov = add(cv, dot)` (either order) whose product only
    this add reads, with the carry's shape and dtype; None if `add` is not that."""
    if add.primitive.name not in _ACCUMULATING_ADDS or len(add.inputs) != 2:
        return None
    a, b = add.inputs
    other = b if a is cv else a
    if other is cv or isinstance(other, Literal) or uses.get(other) != 1:
        return None
    dot = producer.get(other)
    # Through reshapes (a matrix-vector product of a vector seen as a column): the product
    # is then written in the dot's shape over the same flat buffer.
    while (dot is not None and dot.primitive.name == "reshape"
           and dot.params.get("dimensions") is None and not isinstance(dot.inputs[0], Literal)
           and uses.get(dot.inputs[0]) == 1):
        dot = producer.get(dot.inputs[0])
    if (dot is None or dot.primitive.name != "dot_general"
            or other.aval.shape != ov.aval.shape or other.aval.dtype != ov.aval.dtype
            or cv.aval.shape != ov.aval.shape or cv.aval.dtype != ov.aval.dtype):
        return None
    (xc, _), _ = dot.params["dimension_numbers"]
    xshape = dot.inputs[0].aval.shape
    if math.prod(ov.aval.shape) * math.prod(xshape[a] for a in xc) > max_dot_work:
        return None
    return dot
