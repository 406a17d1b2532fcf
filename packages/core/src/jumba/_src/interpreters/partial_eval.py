"""Tracing to a Jaxpr: `DynamicJaxprTrace` records primitive applications in order.

Pushed as the *dynamic* trace (make_jaxpr, jit), it stages everything, operations on
constants included. Pushed as an ordinary trace (`ad.linearize_flat`), it stages only the
operations that touch its tracers — the tangents — while everything else is computed; the
computed values the staged operations use become the Jaxpr's constants (JAX's "direct
linearize", which needs no separate partial-evaluation interpreter).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jumba._src import core
from jumba._src.core import (
    ClosedJaxpr,
    Jaxpr,
    JaxprEqn,
    Literal,
    Trace,
    Tracer,
    Var,
    get_aval,
)
from jumba._src.runtime.array import Array

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
