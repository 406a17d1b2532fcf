"""Tracing to a Jaxpr.

Two interpreters:
- `DynamicJaxprTrace` stages every primitive into a Jaxpr (make_jaxpr, jit). It is pushed as
  the *dynamic* trace, so even operations on constants are staged.
- `PartialEvalTrace` evaluates what is known and stages only what depends on unknown
  inputs; `linearize` uses it to split a JVP into primal values and a linear Jaxpr.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from jumba._src import core
from jumba._src.core import (
    ClosedJaxpr,
    Jaxpr,
    JaxprEqn,
    Literal,
    ShapedArray,
    Trace,
    Tracer,
    Var,
    get_aval,
)
from jumba._src.runtime.array import Array

# Custom partial-evaluation rules (control flow, custom derivatives) by primitive.
partial_eval_rules: dict = {}

# ---------------------------------------------------------------------------------------
# Staging everything: the dynamic Jaxpr trace


class DynamicJaxprTracer(Tracer):
    __slots__ = ("aval", "var")  # var: the tracer's variable in its builder's Jaxpr

    def __init__(self, trace, aval, var=None):
        self._trace = trace
        self.aval = aval
        self.var = var


class JaxprBuilder:
    """Collects equations, constants and the mapping from tracers to variables."""

    def __init__(self, fun_name: str = "fun", arg_names=None, kind: str = "jit"):
        self.eqns: list[JaxprEqn] = []
        # Constants by id(); `consts_alive` keeps them alive so that ids stay unique.
        self.const_tracers: dict[int, DynamicJaxprTracer] = {}
        self.consts_alive: list = []
        self.constvar_vals: dict[Var, Any] = {}
        self.invars: list[Var] = []
        self.fun_name = fun_name
        self.arg_names = arg_names
        self.kind = kind

    def new_tracer(self, trace, aval) -> DynamicJaxprTracer:
        return DynamicJaxprTracer(trace, aval, Var(aval))

    @staticmethod
    def getvar(t) -> Var:
        return t.var

    def const_tracer(self, trace, val) -> DynamicJaxprTracer:
        return trace.pure(val)  # DynamicJaxprTrace.pure holds the logic (hot path)

    def build(self, in_tracers, out_tracers) -> ClosedJaxpr:
        invars = [t.var for t in in_tracers]
        outvars = [t.var for t in out_tracers]
        constvars, consts = [], []
        literal_of: dict[Var, Literal] = {}
        # A linearized Jaxpr is transposed at once, not compiled: its scalar constants stay
        # constants (the values themselves, weak types included; no Literals to rebuild).
        literals = self.kind != "linearize"
        for v, val in self.constvar_vals.items():
            if literals and _is_literal_candidate(val, v.aval):
                literal_of[v] = Literal(_literal_value(val, v.aval), v.aval)
            else:
                constvars.append(v)
                consts.append(val)
        eqns = self.eqns
        if literal_of:
            eqns = [
                JaxprEqn(e.primitive, [literal_of.get(v, v) for v in e.inputs], e.params,
                         e.outputs)
                for e in eqns
            ]
            outvars = [literal_of.get(v, v) for v in outvars]
        jaxpr = Jaxpr(constvars, invars, outvars, eqns)
        return ClosedJaxpr(jaxpr, consts)

    def dependent_args(self, tracer) -> list[str]:
        """The names of the traced function's inputs that a value depends on."""
        var = getattr(tracer, "var", None)
        if var is None or self.arg_names is None:
            return []
        deps = {var}
        for eqn in reversed(self.eqns):
            if any(o in deps for o in eqn.outputs):
                deps.update(v for v in eqn.inputs if isinstance(v, Var))
        return [n for v, n in zip(self.invars, self.arg_names) if v in deps]

    def describe_tracer(self, tracer) -> str:
        """Which inputs of the traced function a value depends on (for error messages)."""
        names = self.dependent_args(tracer)
        where = f" while tracing {self.fun_name} for {self.kind}"
        if names:
            return f"{where}; it depends on the argument{'s' if len(names) > 1 else ''} " + \
                ", ".join(repr(n) for n in names)
        return where


def _is_literal_candidate(val, aval) -> bool:
    if aval.shape != ():
        return False
    return isinstance(val, (bool, int, float, complex, np.generic, np.ndarray, Array))


def _literal_value(val, aval):
    v = val._value if type(val) is Array else val
    return np.asarray(v, dtype=aval.dtype)[()]


class DynamicJaxprTrace(Trace):
    kind = "jit"

    @property
    def builder(self) -> JaxprBuilder:
        return self.main.global_data

    def new_arg(self, aval) -> DynamicJaxprTracer:
        builder = self.main.global_data
        t = builder.new_tracer(self, aval)
        builder.invars.append(t.var)
        return t

    def pure(self, val):
        # JaxprBuilder.const_tracer, inlined (a residual of every linearized operation).
        builder = self.main.global_data
        t = builder.const_tracers.get(id(val))
        if t is None:
            aval = get_aval(val)
            var = Var(aval)
            t = builder.const_tracers[id(val)] = DynamicJaxprTracer(self, aval, var)
            builder.constvar_vals[var] = val
            builder.consts_alive.append(val)  # keep the constant alive: its id is a key
        return t

    lift = pure

    def process_primitive(self, primitive, tracers, params):
        n = len(tracers)
        if n == 2:  # the common cases, without comprehensions' frames
            x, y = tracers
            avals_out = primitive.abstract_eval(x.aval, y.aval, **params)
            invars = [x.var, y.var]
        elif n == 1:
            x = tracers[0]
            avals_out = primitive.abstract_eval(x.aval, **params)
            invars = [x.var]
        else:
            avals_out = primitive.abstract_eval(*[t.aval for t in tracers], **params)
            invars = [t.var for t in tracers]
        eqns = self.main.global_data.eqns
        if not primitive.multiple_results:
            var = Var(avals_out)
            eqns.append(JaxprEqn(primitive, invars, params, [var]))
            return DynamicJaxprTracer(self, avals_out, var)
        out_tracers = [DynamicJaxprTracer(self, a, Var(a)) for a in avals_out]
        eqns.append(JaxprEqn(primitive, invars, params, [t.var for t in out_tracers]))
        return out_tracers


def trace_to_jaxpr(fun, in_avals, *, fun_name="fun", arg_names=None, kind="jit"):
    """Trace `fun` (flat list of args -> flat list of outputs) to a ClosedJaxpr."""
    builder = JaxprBuilder(fun_name, arg_names, kind)
    with core.new_main(DynamicJaxprTrace, builder, dynamic=True, kind=kind) as main:
        trace = DynamicJaxprTrace(main)
        in_tracers = [trace.new_arg(a) for a in in_avals]
        outs = fun(*in_tracers)
        out_tracers = [trace.full_raise(o) for o in outs]
        closed = builder.build(in_tracers, out_tracers)
    return closed


# ---------------------------------------------------------------------------------------
# Partial evaluation: known values are computed, unknown ones staged


class PartialVal(NamedTuple):
    aval: ShapedArray
    const: Any  # None when unknown

    @classmethod
    def known(cls, val):
        return cls(get_aval(val), val)

    @classmethod
    def unknown(cls, aval):
        return cls(aval, None)

    @property
    def is_known(self):
        return self.const is not None


class _LambdaBinding(NamedTuple):
    pass


class _ConstRecipe(NamedTuple):
    val: Any


class _EqnRecipe(NamedTuple):
    primitive: Any
    tracers_in: list
    params: dict
    avals_out: list
    tracer_refs_out: list


class PartialEvalTracer(Tracer):
    __slots__ = ("pval", "recipe")

    def __init__(self, trace, pval: PartialVal, recipe):
        self._trace = trace
        self.pval = pval
        self.recipe = recipe

    aval = property(lambda self: self.pval.aval)

    def full_lower(self):
        if self.pval.is_known:
            return core.full_lower(self.pval.const)
        return self

    def concrete_value(self):
        c = self.pval.const
        if c is None:
            return None
        return c.concrete_value() if isinstance(c, Tracer) else c


class PartialEvalTrace(Trace):
    kind = "linearize"

    def new_arg(self, pval: PartialVal) -> PartialEvalTracer:
        return PartialEvalTracer(self, pval, _LambdaBinding())

    def pure(self, val):
        return PartialEvalTracer(self, PartialVal.known(val), None)

    lift = pure

    def instantiate_const(self, tracer: PartialEvalTracer) -> PartialEvalTracer:
        if tracer.pval.is_known:
            return PartialEvalTracer(self, PartialVal.unknown(tracer.aval),
                                     _ConstRecipe(tracer.pval.const))
        return tracer

    def process_primitive(self, primitive, tracers, params):
        if all(t.pval.is_known for t in tracers):
            return primitive.bind(*[t.pval.const for t in tracers], **params)
        rule = partial_eval_rules.get(primitive)
        if rule is not None:
            return rule(self, tracers, **params)
        return self.default_process_primitive(primitive, tracers, params)

    def default_process_primitive(self, primitive, tracers, params):
        tracers_in = [self.instantiate_const(t) for t in tracers]
        avals_out = primitive.abstract_eval(*[t.aval for t in tracers_in], **params)
        if not primitive.multiple_results:
            avals_out = [avals_out]
        outs = [PartialEvalTracer(self, PartialVal.unknown(a), None) for a in avals_out]
        recipe = _EqnRecipe(primitive, tracers_in, params, avals_out, outs)
        for t in outs:
            t.recipe = recipe
        return outs if primitive.multiple_results else outs[0]


def tracers_to_jaxpr(tracers_in, tracers_out) -> ClosedJaxpr:
    """Build the Jaxpr of the unknown computation from the recipes of partial evaluation."""
    tracer_to_var: dict[int, Var] = {id(t): Var(t.aval) for t in tracers_in}
    constvars: dict[int, Var] = {}
    constvals: list = []
    const_varlist: list[Var] = []
    eqns: list[JaxprEqn] = []
    processed: set[int] = set()

    def const_var(t, val):
        var = constvars.get(id(val))
        if var is None:
            var = constvars[id(val)] = Var(t.aval)
            const_varlist.append(var)
            constvals.append(val)
        tracer_to_var[id(t)] = var

    for t in _toposort(tracers_out):
        recipe = t.recipe
        if id(t) in tracer_to_var and not isinstance(recipe, _EqnRecipe):
            continue
        if recipe is None and t.pval.is_known:
            const_var(t, t.pval.const)  # a known output: it becomes a constant of the jaxpr
        elif isinstance(recipe, _LambdaBinding):
            if id(t) not in tracer_to_var:
                raise core.UnexpectedTracerError(
                    "A tangent from another linearization (an enclosing jvp/linearize/grad "
                    "or one that has finished) reached this one. Pass the value in as an "
                    "argument of the differentiated function instead of closing over it.")
        elif isinstance(recipe, _ConstRecipe):
            const_var(t, recipe.val)
        elif isinstance(recipe, _EqnRecipe):
            if id(recipe) in processed:
                continue
            processed.add(id(recipe))
            outvars = [Var(a) for a in recipe.avals_out]
            for ref, v in zip(recipe.tracer_refs_out, outvars):
                tracer_to_var[id(ref)] = v
            eqns.append(JaxprEqn(recipe.primitive, [tracer_to_var[id(x)] for x in
                                                    recipe.tracers_in], recipe.params, outvars))
        else:
            raise TypeError(f"unexpected recipe {recipe!r}")
    jaxpr = Jaxpr(const_varlist, [tracer_to_var[id(t)] for t in tracers_in],
                  [tracer_to_var[id(t)] for t in tracers_out], eqns)
    return ClosedJaxpr(jaxpr, constvals)


def _parents(t):
    r = t.recipe
    return r.tracers_in if isinstance(r, _EqnRecipe) else []


def _toposort(out_nodes):
    """Nodes in dependency order (parents first), iteratively to survive long chains."""
    order, seen = [], set()
    for root in out_nodes:
        if id(root) in seen:
            continue
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            for p in _parents(node):
                if id(p) not in seen:
                    stack.append((p, False))
    return order
