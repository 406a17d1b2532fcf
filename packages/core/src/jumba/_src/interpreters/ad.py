"""Automatic differentiation: JVP (forward mode), linearize, and transposition (reverse mode).

Reverse mode is JAX's recipe: linearize (JVP + partial evaluation: primal values are
computed, the tangent computation is staged into a linear Jaxpr) and then transpose that
Jaxpr. Tangents may be the symbolic `Zero`, so that inputs nobody differentiates cost
nothing.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from jumba._src import core, dtypes
from jumba._src.core import Primitive, ShapedArray, Trace, Tracer, get_aval
from jumba._src.interpreters import partial_eval as pe
from jumba._src.runtime.array import Array

primitive_jvps: dict[Primitive, Any] = {}
primitive_transposes: dict[Primitive, Any] = {}
# What eager reverse mode (interpreters/tape.py) needs to know of a primitive's rules to
# skip staging: the per-argument JVP terms of defjvp/defjvp2 (rules, use_ans), the
# primitives linear in all arguments (deflinear) and those with a zero derivative.
jvp_terms: dict[Primitive, tuple] = {}
linear_primitives: set[Primitive] = set()
zero_derivative: set[Primitive] = set()

# ---------------------------------------------------------------------------------------
# Tangent values


class Zero:
    """A symbolic zero tangent or cotangent of the given abstract value."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self):
        return f"Zero({self.aval.str_short()})"


def tangent_aval(aval: ShapedArray) -> ShapedArray:
    """Tangent space of a value: integers and booleans have the trivial space `float0`."""
    if dtypes.is_inexact(aval.dtype):
        return aval
    return ShapedArray(aval.shape, dtypes.float0, False)


def zeros_like_aval(aval: ShapedArray):
    # A zero-stride view: no memory is written, whatever the shape.
    return Array(np.broadcast_to(np.zeros((), aval.dtype), aval.shape), aval.weak_type)


def instantiate_zeros(t):
    return zeros_like_aval(t.aval) if type(t) is Zero else t


def add_tangents(x, y):
    if type(x) is Zero:
        return y
    if type(y) is Zero:
        return x
    return add_any_p.bind(x, y)


# add_any: the sum of two tangents of the same shape (no promotion, no broadcasting).
add_any_p = Primitive("add_any")
add_any_p.def_impl(lambda x, y: np.add(x, y))  # its own function: errors name add_any
add_any_p.weak_type_rule = core.all_weak


@add_any_p.def_abstract_eval
def _add_any_abstract_eval(x, y):
    if x.shape != y.shape:
        raise TypeError(f"add_any: shapes differ: {x.shape} and {y.shape}")
    weak = x.weak_type and y.weak_type
    return x if weak == x.weak_type else x.update(weak_type=weak)  # avals are immutable


# ---------------------------------------------------------------------------------------
# Forward mode


class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent", "_aval")

    def __init__(self, trace, primal, tangent, aval=None):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent
        self._aval = aval  # the primal's aval, when the caller has it (else computed lazily)

    @property
    def aval(self):
        # The primal never changes: its aval is computed once (it is read many times).
        aval = self._aval
        if aval is None:
            aval = self._aval = get_aval(self.primal)
        return aval

    def concrete_value(self):
        p = self.primal
        return p.concrete_value() if isinstance(p, Tracer) else p


class JVPTrace(Trace):
    kind = "jvp/grad"

    def pure(self, val):
        aval = get_aval(val)
        return JVPTracer(self, val, Zero(aval if aval.dtype.kind in "fc" else tangent_aval(aval)),
                         aval)

    lift = pure

    def process_primitive(self, primitive, tracers, params):
        n = len(tracers)
        if n == 2:  # the common cases, without comprehensions' frames
            x, y = tracers
            primals = [x.primal, y.primal]
            tangents = [x.tangent, y.tangent]
        elif n == 1:
            x = tracers[0]
            primals = [x.primal]
            tangents = [x.tangent]
        else:
            primals = [t.primal for t in tracers]
            tangents = [t.tangent for t in tracers]
        for t in tangents:
            if type(t) is not Zero:
                break
        else:  # all tangents are zero
            out = primitive.bind(*primals, **params)
            if primitive.multiple_results:
                return [JVPTracer(self, o, Zero(tangent_aval(get_aval(o)))) for o in out]
            aval = get_aval(out)
            return JVPTracer(
                self, out, Zero(aval if aval.dtype.kind in "fc" else tangent_aval(aval)), aval)
        rule = primitive_jvps.get(primitive)
        if rule is None:
            raise NotImplementedError(
                f"Differentiation rule for '{primitive.name}' is not implemented.")
        primal_out, tangent_out = rule(primals, tangents, **params)
        if primitive.multiple_results:
            return [JVPTracer(self, p, t) for p, t in zip(primal_out, tangent_out)]
        return JVPTracer(self, primal_out, tangent_out)


def jvp_flat(fun, primals, tangents, *, instantiate=True):
    """Push tangents through `fun` (flat args -> flat outputs)."""
    with core.new_main(JVPTrace) as main:
        trace = main.trace = JVPTrace(main)
        tracers_in = [JVPTracer(trace, x, t) for x, t in zip(primals, tangents)]
        outs = fun(*tracers_in)
        primals_out, tangents_out = [], []
        for o in outs:  # one loop, no comprehensions: this runs on every grad call
            t = trace.full_raise(o)
            primals_out.append(core.full_lower(t.primal))
            tangents_out.append(t.tangent)
    if instantiate:
        tangents_out = [instantiate_zeros(t) for t in tangents_out]
    return primals_out, tangents_out


# ---------------------------------------------------------------------------------------
# Rule shapes for forward mode


def _broadcast_tangent(t, shape):
    if type(t) is Zero or t.shape == tuple(shape):
        return t
    from jumba._src.lax.structural import broadcast_to

    return broadcast_to(t, shape)


def defjvp(primitive, *jvp_rules):
    """Per-argument JVP rules: `rule(g, *primals, **params)` gives the contribution of
    argument i's tangent g (None marks a non-differentiable argument)."""
    # A partial (no Python frame of its own): called as rule(primals, tangents, **params).
    primitive_jvps[primitive] = functools.partial(_jvp_by_argument, primitive, jvp_rules, False)
    jvp_terms[primitive] = (jvp_rules, False)


def defjvp2(primitive, *jvp_rules):
    """Like defjvp, with the primal output: `rule(g, ans, *primals, **params)`."""
    primitive_jvps[primitive] = functools.partial(_jvp_by_argument, primitive, jvp_rules, True)
    jvp_terms[primitive] = (jvp_rules, True)


def _jvp_by_argument(primitive, rules, use_ans, primals, tangents, /, **params):
    ans = primitive.bind(*primals, **params)
    total = out_shape = None
    for rule, t in zip(rules, tangents):
        if rule is None or type(t) is Zero:
            continue
        term = rule(t, ans, *primals, **params) if use_ans else rule(t, *primals, **params)
        if type(term) is Zero:
            continue
        if out_shape is None:
            out_shape = ans._value.shape if type(ans) is Array else get_aval(ans).shape
        tt = type(term)
        if (term._value.shape if tt is Array else term.aval.shape if tt in core._TRACER_TYPES
                else term.shape) != out_shape:
            term = _broadcast_tangent(term, out_shape)
        total = term if total is None else add_any_p.bind(total, term)
    if total is None:
        total = Zero(tangent_aval(get_aval(ans)))
    return ans, total


def deflinear(primitive, transpose_rule):
    """A primitive linear in all its arguments: its JVP applies it to the tangents."""
    primitive_jvps[primitive] = lambda p, t, **params: _linear_jvp(primitive, p, t, params)
    primitive_transposes[primitive] = transpose_rule
    linear_primitives.add(primitive)


def _linear_jvp(primitive, primals, tangents, params):
    ans = primitive.bind(*primals, **params)
    tangents = [instantiate_zeros(t) for t in tangents]
    return ans, primitive.bind(*tangents, **params)


# ---------------------------------------------------------------------------------------
# Linearize and transpose


class UndefinedPrimal:
    """Marks the linear input of an equation during transposition."""

    __slots__ = ("aval",)

    def __init__(self, aval):
        self.aval = aval

    def __repr__(self):
        return f"UndefinedPrimal({self.aval.str_short()})"


def is_undefined_primal(x) -> bool:
    return type(x) is UndefinedPrimal


def linearize_flat(fun, primals):
    """Evaluate `fun` at `primals` and stage its JVP as a linear ClosedJaxpr.

    Primal values are computed as usual; tangents are tracers of a Jaxpr builder that is
    not the dynamic trace, so only operations touching a tangent are recorded, in program
    order (JAX's "direct linearize"). Primal values they use become the Jaxpr's constants
    (the residuals).

    Returns (primals_out, linear_jaxpr, diff_mask) where the jaxpr takes one tangent per
    differentiable (inexact) input and returns one tangent per output.
    """
    builder = pe.JaxprBuilder("linearized", kind="linearize")
    with core.new_main(pe.DynamicJaxprTrace, builder, kind="linearize") as main:
        trace = main.trace = pe.DynamicJaxprTrace(main)
        diff_mask, tangent_tracers, tangents = [], [], []
        for p in primals:  # one loop, no comprehensions: this runs on every grad call
            a = get_aval(p)
            d = dtypes.is_inexact(a.dtype)
            diff_mask.append(d)
            if d:
                t = trace.new_arg(a)
                tangent_tracers.append(t)
                tangents.append(t)
            else:
                tangents.append(Zero(tangent_aval(a)))
        primals_out, tangents_out = jvp_flat(fun, primals, tangents, instantiate=True)
        out_tracers = [trace.full_raise(t) for t in tangents_out]
        jaxpr = builder.build(tangent_tracers, out_tracers)
    return primals_out, jaxpr, diff_mask


_MISSING = object()


def backward_pass(jaxpr, consts, args, cts_out):
    """Transpose a linear Jaxpr: cotangents of the outputs -> cotangents of the
    UndefinedPrimal inputs (None where the cotangent is zero)."""
    primal_env: dict = {}
    ct_env: dict = {}

    Literal = core.Literal

    def read_primal(v):
        if type(v) is Literal:
            return v.val
        val = primal_env.get(v, _MISSING)
        return UndefinedPrimal(v.aval) if val is _MISSING else val

    def write_cotangent(v, ct):
        if ct is None or type(ct) is Zero or type(v) is Literal:
            return
        prev = ct_env.get(v)
        ct_env[v] = ct if prev is None else add_any_p.bind(prev, ct)

    primal_env.update(zip(jaxpr.constvars, consts))
    for v, a in zip(jaxpr.invars, args):
        if type(a) is not UndefinedPrimal:
            primal_env[v] = a
    # Equations that do not depend on the linear inputs (a traced function may compute
    # constants, e.g. `x * sin(2.0)`) are evaluated forward; only the rest is transposed.
    linear_eqns = []
    for eqn in jaxpr.eqns:
        for v in eqn.inputs:
            if type(v) is not Literal and v not in primal_env:
                linear_eqns.append(eqn)
                break
        else:
            out = eqn.primitive.bind(*[read_primal(v) for v in eqn.inputs], **eqn.params)
            outs = out if eqn.primitive.multiple_results else [out]
            primal_env.update(zip(eqn.outputs, outs))
    for v, ct in zip(jaxpr.outvars, cts_out):
        if type(v) is not core.Literal and v in primal_env:
            continue  # a constant output: its cotangent reaches no input
        write_cotangent(v, ct)

    for eqn in reversed(linear_eqns):
        if eqn.primitive.multiple_results:
            cts = [ct_env.pop(v, None) for v in eqn.outputs]
            if all(c is None for c in cts):
                continue
            cts = [Zero(v.aval) if c is None else c for v, c in zip(eqn.outputs, cts)]
        else:
            cts = ct_env.pop(eqn.outputs[0], None)
            if cts is None:
                continue
        rule = primitive_transposes.get(eqn.primitive)
        if rule is None:
            raise NotImplementedError(
                f"Transpose rule (reverse-mode differentiation) for '{eqn.primitive.name}' "
                "is not implemented.")
        invals = []  # read_primal, inlined
        for v in eqn.inputs:
            if type(v) is Literal:
                invals.append(v.val)
            else:
                val = primal_env.get(v, _MISSING)
                invals.append(UndefinedPrimal(v.aval) if val is _MISSING else val)
        cts_in = rule(cts, *invals, **eqn.params)
        for v, ct in zip(eqn.inputs, cts_in):  # write_cotangent, inlined
            if ct is None or type(ct) is Zero or type(v) is Literal or v in primal_env:
                continue
            prev = ct_env.get(v)
            ct_env[v] = ct if prev is None else add_any_p.bind(prev, ct)
    return [ct_env.get(v) for v in jaxpr.invars]


primitive_jvps[add_any_p] = lambda p, t: (add_any_p.bind(*p), add_tangents(*t))
primitive_transposes[add_any_p] = lambda ct, x, y: [ct, ct]


def vjp_flat(fun, primals):
    """Returns (primals_out, f_vjp) where f_vjp maps output cotangents to input cotangents
    (float0 zeros for non-differentiable inputs)."""
    if core._state.eval_only:  # no transformation around: record a tape, stage nothing
        for p in primals:
            if type(p) in core._TRACER_TYPES:
                break  # a leaked tracer: let the staged path raise its error
        else:
            from jumba._src.interpreters import tape

            return tape.vjp_flat(fun, primals)
    primals_out, closed, diff_mask = linearize_flat(fun, primals)
    in_avals = [get_aval(p) for p in primals]

    def f_vjp(cts_out):
        args = [UndefinedPrimal(v.aval) for v in closed.jaxpr.invars]
        cts = backward_pass(closed.jaxpr, closed.consts, args, cts_out)
        it = iter(cts)
        result = []
        for aval, d in zip(in_avals, diff_mask):
            if d:
                ct = next(it)
                result.append(zeros_like_aval(aval.strip_weak_type()) if ct is None else ct)
            else:
                result.append(zeros_like_aval(tangent_aval(aval)))
        return result

    return primals_out, f_vjp
