"""Fusion: partition a Jaxpr into fused groups and single equations.

A group is a chain of fusible elementwise equations over one loop shape; values made inside
a group always have the full loop shape, while inputs from outside may broadcast (NumPy
rules). A reduction whose operand is made in an open group joins it and closes it, so the
reduction reads its producers from registers instead of a temporary array.

To keep the graph acyclic, an equation joins a group only if every input it takes from
outside the group was computed before the group's first equation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from jumba._src.compiler.lowering import reduction_rules, scalar_rules
from jumba._src.core import Jaxpr, JaxprEqn, Literal, Var
from jumba._src.lax.structural import broadcast_in_dim_p

# Groups over fewer elements run op by op with NumPy: a few microseconds per call, against
# a compilation per kernel. Tests of the compiler lower it to 0.
MIN_KERNEL_SIZE = 4096


@dataclass
class FusedGroup:
    shape: tuple
    eqns: list = field(default_factory=list)
    first_index: int = 0
    reduction: JaxprEqn | None = None
    inputs: list = field(default_factory=list)  # Vars (and Literals) read from outside
    outputs: list = field(default_factory=list)  # Vars used after the group

    @property
    def closed(self) -> bool:
        return self.reduction is not None


def is_fusible(eqn: JaxprEqn) -> bool:
    if eqn.primitive is broadcast_in_dim_p:
        return True
    rule = scalar_rules.get(eqn.primitive)
    if rule is None or len(eqn.outputs) != 1:
        return False
    args = [f"a{i}" for i in range(len(eqn.inputs))]
    return rule(args, eqn.params, [v.aval for v in eqn.inputs], eqn.outputs[0].aval) \
        is not None


def _groupable_reduction(eqn: JaxprEqn) -> bool:
    return eqn.primitive in reduction_rules


def partition(jaxpr: Jaxpr) -> list:
    """Return a list of nodes in execution order: JaxprEqn or FusedGroup."""
    defined_at: dict[Var, int] = {}  # var -> index of the equation that made it
    group_of: dict[Var, FusedGroup] = {}
    nodes: list = []  # (index, node)
    groups: list[FusedGroup] = []

    def external_ok(v, group):
        if isinstance(v, Literal) or v not in defined_at:
            return True  # literal, input or constant
        if group_of.get(v) is group:
            return True
        return defined_at[v] < group.first_index

    for i, eqn in enumerate(jaxpr.eqns):
        target = None
        if is_fusible(eqn):
            shape = eqn.outputs[0].aval.shape
            # A broadcast reads its operand with an index map, so the operand must come
            # from outside the group (values made inside always have the full shape).
            candidates = [] if eqn.primitive is broadcast_in_dim_p else \
                [group_of.get(v) for v in eqn.inputs if isinstance(v, Var)]
            if not any(c is not None for c in candidates):
                # No producer in a group: join an open group that reads one of the same
                # inputs (a related computation). Unrelated chains stay apart: merging them
                # makes one loop over many memory streams, slower than separate loops.
                mine = {v for v in eqn.inputs if isinstance(v, Var)}
                candidates = [g for g in reversed(groups) if not g.closed and
                              any(v in mine for e in g.eqns for v in e.inputs
                                  if isinstance(v, Var))]
            for g in candidates:
                if g is not None and not g.closed and g.shape == shape and \
                        all(external_ok(u, g) for u in eqn.inputs) and \
                        all(u.aval.shape == shape for u in eqn.inputs
                            if isinstance(u, Var) and group_of.get(u) is g) and \
                        not (eqn.primitive is broadcast_in_dim_p and
                             group_of.get(eqn.inputs[0]) is g):
                    target = g
                    break
            if target is None:
                target = FusedGroup(shape=shape, first_index=i)
                groups.append(target)
                nodes.append((i, target))
            target.eqns.append(eqn)
            for o in eqn.outputs:
                group_of[o] = target
        elif _groupable_reduction(eqn):
            (v,) = eqn.inputs
            g = group_of.get(v) if isinstance(v, Var) else None
            if g is not None and not g.closed and g.shape == v.aval.shape:
                g.eqns.append(eqn)
                g.reduction = eqn
                group_of[eqn.outputs[0]] = g
            else:
                nodes.append((i, eqn))
        else:
            nodes.append((i, eqn))
        for o in eqn.outputs:
            defined_at[o] = i

    _assign_interfaces(jaxpr, groups, group_of)
    ordered = _schedule(nodes, group_of)
    # A one-equation group gains nothing from a kernel, and a small one not enough to pay
    # for its compilation (~0.4 s): run those with NumPy.
    out = []
    for n in ordered:
        if isinstance(n, FusedGroup) and (len(n.eqns) == 1 or _loop_size(n) < MIN_KERNEL_SIZE):
            out.extend(n.eqns)
        else:
            out.append(n)
    return out


def _loop_size(group: FusedGroup) -> int:
    shape = group.reduction.inputs[0].aval.shape if group.reduction is not None else group.shape
    return math.prod(shape)


def _assign_interfaces(jaxpr, groups, group_of):
    used_outside: set = {v for v in jaxpr.outvars if isinstance(v, Var)}
    for eqn in jaxpr.eqns:
        g = group_of.get(eqn.outputs[0]) if eqn.outputs else None  # effects: no outputs
        for v in eqn.inputs:
            if isinstance(v, Var) and (g is None or group_of.get(v) is not g):
                used_outside.add(v)
    for g in groups:
        inside: set = set()
        for eqn in g.eqns:
            for v in eqn.inputs:
                # Literals become scalar kernel arguments, so kernels are shared across
                # programs that differ only in constants.
                if isinstance(v, Literal) or (v not in inside and
                                              not any(x is v for x in g.inputs)):
                    g.inputs.append(v)
            inside.update(eqn.outputs)
        g.outputs = [v for eqn in g.eqns for v in eqn.outputs if v in used_outside]


def _schedule(nodes, group_of):
    """Order nodes so that every node runs after the producers of its inputs (a depth-first
    topological sort, iterative so that long programs don't hit the recursion limit)."""
    producer = {}
    for _, node in nodes:
        outs = ([v for e in node.eqns for v in e.outputs] if isinstance(node, FusedGroup)
                else node.outputs)
        for v in outs:
            producer[v] = node
    order, done = [], set()
    for _, root in nodes:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in done:
                continue
            done.add(id(node))
            stack.append((node, True))
            for v in node.inputs:
                p = producer.get(v) if isinstance(v, Var) else None
                if p is not None and p is not node and id(p) not in done:
                    stack.append((p, False))
    return order
