"""Fusion: partition a Jaxpr into fused groups and single equations.

A group is a chain of fusible elementwise equations over one loop shape; values made inside
a group always have the full loop shape, while inputs from outside may broadcast (NumPy
rules). A reduction whose operand is made in an open group joins it and closes it, so the
reduction reads its producers from registers instead of a temporary array. A cumulative scan
(cumsum, cummax, ...) joins its operand's group too, or starts one, and leaves it open to
elementwise consumers (they read the running value at the same index) and to more scans
along the same axis in the same direction (a loop nest each would be a second pass over
memory); a group holds one reduction or such scans, never both.

To keep the graph acyclic, an equation joins a group only if every input it takes from
outside the group was computed before the group's first equation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from jumba._src.compiler.lowering import reduction_rules, scalar_rules, scan_rule
from jumba._src.core import Jaxpr, JaxprEqn, Literal, Var
from jumba._src.lax.structural import broadcast_in_dim_p

# Small groups of few operations run op by op with NumPy: a few microseconds per call,
# against ~0.4 s to compile a kernel. Long chains are compiled whatever their size (each
# NumPy call costs ~1.5 µs). Tests of the compiler lower the size to 0.
MIN_KERNEL_SIZE = 4096
MIN_KERNEL_OPS = 6


@dataclass(eq=False)
class FusedGroup:
    shape: tuple
    eqns: list = field(default_factory=list)
    first_index: int = 0
    reduction: JaxprEqn | None = None
    scans: list = field(default_factory=list)  # cumulative scans, one axis and direction
    inputs: list = field(default_factory=list)  # Vars (and Literals) read from outside
    outputs: list = field(default_factory=list)  # Vars used after the group
    merged_into: FusedGroup | None = None

    def resolve(self) -> FusedGroup:
        g = self
        while g.merged_into is not None:
            g = g.merged_into
        return g

    def absorb(self, other: FusedGroup, group_of: dict):
        """Take `other`'s equations (neither group depends on the other)."""
        self.eqns.extend(other.eqns)
        self.scans.extend(other.scans)
        for e in other.eqns:
            for o in e.outputs:
                group_of[o] = self
        other.eqns, other.scans = [], []
        other.merged_into = self

    @property
    def closed(self) -> bool:
        return self.reduction is not None

    def takes_scan(self, eqn: JaxprEqn) -> bool:
        """Can the scan `eqn` of a value of this group run in its loop nest?"""
        return (self.reduction is None and self.shape == eqn.inputs[0].aval.shape and
                all(_scan_key(s) == _scan_key(eqn) for s in self.scans))


def _scan_key(eqn: JaxprEqn) -> tuple:
    return eqn.params["axis"], eqn.params["reverse"]


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
    group_of: dict[Var, FusedGroup] = {}
    # The groups each value depends on (its own group included): an equation may join a
    # group only if none of its outside inputs depends on that group, else the groups
    # would form a cycle.
    deps: dict[Var, frozenset] = {}
    nodes: list = []  # (index, node) in creation order
    groups: list[FusedGroup] = []

    def group(v):
        g = group_of.get(v) if isinstance(v, Var) else None
        return g.resolve() if g is not None else None

    def depends_on(v, g) -> bool:
        return isinstance(v, Var) and any(h.resolve() is g for h in deps.get(v, ()))

    def joinable(eqn, g) -> bool:
        if g.closed or g.shape != eqn.outputs[0].aval.shape:
            return False
        if eqn.primitive is broadcast_in_dim_p and group(eqn.inputs[0]) is g:
            return False  # a broadcast reads its operand with an index map: from outside
        return not any(group(u) is not g and depends_on(u, g) for u in eqn.inputs)

    def mergeable(g, h) -> bool:
        if h is g or h.closed or g.closed or h.shape != g.shape or \
                not all(g.takes_scan(e) for e in h.scans):
            return False
        return not (any(depends_on(u, g) for e in h.eqns for u in e.inputs
                        if group(u) is not h) or
                    any(depends_on(u, h) for e in g.eqns for u in e.inputs
                        if group(u) is not g))

    for i, eqn in enumerate(jaxpr.eqns):
        in_deps = frozenset().union(*(deps.get(v, ()) for v in eqn.inputs
                                      if isinstance(v, Var)))
        if is_fusible(eqn):
            producers = [] if eqn.primitive is broadcast_in_dim_p else list(dict.fromkeys(
                g for g in map(group, eqn.inputs) if g is not None))
            target = next((g for g in producers if joinable(eqn, g)), None)
            if target is not None:
                # An equation reading two groups' values merges them into one loop.
                for h in producers:
                    if h is not target and mergeable(target, h):
                        target.absorb(h, group_of)
                if not joinable(eqn, target):
                    target = None
            if target is None and not producers:
                # No producer in a group: join an open group that reads one of the same
                # inputs (a related computation). Unrelated chains stay apart: merging them
                # makes one loop over many memory streams, slower than separate loops.
                mine = {v for v in eqn.inputs if isinstance(v, Var)}
                target = next((g for g in reversed(groups) if g.merged_into is None and
                               joinable(eqn, g) and
                               any(v in mine for e in g.eqns for v in e.inputs
                                   if isinstance(v, Var))), None)
            if target is None:
                target = FusedGroup(shape=eqn.outputs[0].aval.shape, first_index=i)
                groups.append(target)
                nodes.append((i, target))
            target.eqns.append(eqn)
            for o in eqn.outputs:
                group_of[o] = target
                deps[o] = in_deps | {target}
            continue
        if _groupable_reduction(eqn):
            (v,) = eqn.inputs
            g = group(v)
            if g is not None and not g.closed and not g.scans and g.shape == v.aval.shape:
                g.eqns.append(eqn)
                g.reduction = eqn
                group_of[eqn.outputs[0]] = g
                deps[eqn.outputs[0]] = in_deps | {g}
                continue
        if scan_rule(eqn) is not None:
            # The group of an operand, if the scan fits its nest and its other operands
            # do not depend on it.
            g = next((h for h in map(group, eqn.inputs) if h is not None and
                      h.takes_scan(eqn) and not any(group(u) is not h and depends_on(u, h)
                                                    for u in eqn.inputs)), None)
            if g is None:
                g = FusedGroup(shape=eqn.outputs[0].aval.shape, first_index=i)
                groups.append(g)
                nodes.append((i, g))
            g.eqns.append(eqn)
            g.scans.append(eqn)
            group_of[eqn.outputs[0]] = g
            deps[eqn.outputs[0]] = in_deps | {g}
            continue
        nodes.append((i, eqn))
        for o in eqn.outputs:
            deps[o] = in_deps

    nodes = [(i, n) for i, n in nodes if not isinstance(n, FusedGroup) or n.merged_into is None]
    groups = [g for g in groups if g.merged_into is None]
    _assign_interfaces(jaxpr, groups, group_of)
    ordered = _schedule(nodes, group_of)
    # A one-equation group gains nothing from a kernel (a lone scan aside: its kernel ran
    # 4-8x faster than np.cumsum on 1000x1000 float32), and a small one not enough to pay
    # for its compilation (~0.4 s): run those with NumPy.
    out = []
    for n in ordered:
        if isinstance(n, FusedGroup) and ((len(n.eqns) == 1 and not n.scans) or (
                _loop_size(n) < MIN_KERNEL_SIZE and len(n.eqns) < MIN_KERNEL_OPS)):
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
