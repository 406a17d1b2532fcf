"""Eager reverse mode: a tape of primitive applications, transposed without staging.

`grad`/`vjp` of a function called on concrete values, with no transformation around it,
records each primitive application on a tape as it runs (the values are concrete, so every
operation runs at once on NumPy), then walks the tape backwards. Most operations need no
Jaxpr at all:

- an elementwise primitive whose JVP is given per argument (`ad.defjvp`/`defjvp2`), on real
  floating values: the JVP term of an argument scales its tangent pointwise, a linear map
  that is its own transpose, so the argument's cotangent is that term evaluated at the
  output's cotangent, summed over the axes the argument was broadcast along;
- a primitive linear in all its arguments (`ad.deflinear`): its transpose rule;
- a primitive with a zero derivative: nothing is recorded.

Anything else (reductions with a custom JVP, gathers, control flow, custom derivatives, ...)
is linearized on its own when it runs — JVP plus staging of that one application, the
general recipe of `ad.linearize_flat` — and its small linear Jaxpr is transposed on the
way back. Under `jit`, `vmap` or an outer transformation, reverse mode stages the whole
program instead (`ad.linearize_flat`), as JAX does.
"""

from __future__ import annotations

from jumba._src import core, dtypes
from jumba._src.core import Trace, Tracer, get_aval
from jumba._src.interpreters import ad
from jumba._src.runtime.array import Array

_CONSTANT = -1  # the node of a value that depends on no differentiated input

# Tape entry kinds.
_ELEMENTWISE, _LINEAR, _LINEARIZED = 0, 1, 2


class TapeTracer(Tracer):
    __slots__ = ("primal", "node", "_aval")

    def __init__(self, trace, primal, node, aval=None):
        self._trace = trace
        self.primal = primal
        self.node = node
        self._aval = aval

    @property
    def aval(self):
        aval = self._aval
        if aval is None:
            aval = self._aval = get_aval(self.primal)
        return aval

    def concrete_value(self):
        return self.primal


class Tape:
    __slots__ = ("entries", "count")

    def __init__(self):
        self.entries: list[tuple] = []
        self.count = 0  # nodes handed out: differentiated inputs and recorded outputs


def _dtype(x):
    return x._value.dtype if type(x) is Array else get_aval(x).dtype


class TapeTrace(Trace):
    kind = "grad"

    def pure(self, val):
        return TapeTracer(self, val, _CONSTANT)

    lift = pure

    def process_primitive(self, primitive, tracers, params):
        n = len(tracers)
        if n == 2:  # the common cases, without comprehensions' frames
            x, y = tracers
            primals = (x.primal, y.primal)
            nodes = (x.node, y.node)
            constant = x.node == _CONSTANT and y.node == _CONSTANT
        elif n == 1:
            x = tracers[0]
            primals = (x.primal,)
            nodes = (x.node,)
            constant = x.node == _CONSTANT
        else:
            primals = tuple(t.primal for t in tracers)
            nodes = tuple(t.node for t in tracers)
            constant = max(nodes, default=_CONSTANT) == _CONSTANT
        if constant or primitive in ad.zero_derivative:
            return self._constant(primitive.bind(*primals, **params), primitive)
        tape = self.main.global_data
        if primitive.elementwise and primitive in ad.jvp_terms:
            for p, nd in zip(primals, nodes):  # real floating values only (see the docstring)
                if nd != _CONSTANT and (p._value.dtype.kind if type(p) is Array
                                        else _dtype(p).kind) != "f":
                    break
            else:
                out = primitive.bind(*primals, **params)
                if (out._value.dtype.kind if type(out) is Array else _dtype(out).kind) != "f":
                    return TapeTracer(self, out, _CONSTANT)  # comparisons: no gradient
                node = tape.count
                tape.count = node + 1
                tape.entries.append((_ELEMENTWISE, primitive, params, primals, out, nodes,
                                     node))
                return TapeTracer(self, out, node)
        if primitive in ad.linear_primitives and not primitive.multiple_results:
            out = primitive.bind(*primals, **params)
            node = tape.count
            tape.count = node + 1
            tape.entries.append((_LINEAR, primitive, params, primals, nodes, node))
            return TapeTracer(self, out, node)
        return self._linearized(tape, primitive, primals, nodes, params)

    def _constant(self, out, primitive):
        if primitive.multiple_results:
            return [TapeTracer(self, o, _CONSTANT) for o in out]
        return TapeTracer(self, out, _CONSTANT)

    def _linearized(self, tape, primitive, primals, nodes, params):
        """Linearize this one application: JVP with staged tangents, as ad.linearize_flat."""
        multiple = primitive.multiple_results
        # Only the inputs on the tape get tangents (rules may look at which are perturbed).
        varying = [i for i, nd in enumerate(nodes) if nd != _CONSTANT]

        def apply(*dynamic):
            args = list(primals)
            for i, v in zip(varying, dynamic):
                args[i] = v
            out = primitive.bind(*args, **params)
            return list(out) if multiple else [out]

        outs, closed, diff_mask = ad.linearize_flat(apply, [primals[i] for i in varying])
        nodes = [nodes[i] for i in varying]
        out_nodes = []
        for o in outs:
            if dtypes.is_inexact(_dtype(o)):
                out_nodes.append(tape.count)
                tape.count += 1
            else:
                out_nodes.append(_CONSTANT)
        tape.entries.append((_LINEARIZED, closed, diff_mask, nodes, out_nodes))
        tracers = [TapeTracer(self, o, nd) for o, nd in zip(outs, out_nodes)]
        return tracers if multiple else tracers[0]


def _accumulate(cts, node, ct):
    prev = cts[node]
    cts[node] = ct if prev is None else ad.add_any_p.bind(prev, ct)


def backward(tape: Tape, out_nodes, cts_out) -> list:
    """Cotangents of every node, from the cotangents of the outputs (None: zero)."""
    from jumba._src.lax.elementwise import unbroadcast

    Zero, UndefinedPrimal, add_any = ad.Zero, ad.UndefinedPrimal, ad.add_any_p.bind
    cts: list = [None] * tape.count
    for node, ct in zip(out_nodes, cts_out):
        if node != _CONSTANT and ct is not None and type(ct) is not Zero:
            _accumulate(cts, node, ct)
    for entry in reversed(tape.entries):
        kind = entry[0]
        if kind == _ELEMENTWISE:
            _, primitive, params, primals, ans, nodes, node = entry
            g = cts[node]
            if g is None:
                continue
            cts[node] = None  # consumed: its memory can go
            rules, use_ans = ad.jvp_terms[primitive]
            for rule, nd, x in zip(rules, nodes, primals):
                if nd == _CONSTANT or rule is None:
                    continue
                term = rule(g, ans, *primals, **params) if use_ans else \
                    rule(g, *primals, **params)
                if type(term) is Zero:
                    continue
                term = unbroadcast(term, x._value.shape if type(x) is Array
                                   else get_aval(x).shape)
                prev = cts[nd]
                cts[nd] = term if prev is None else add_any(prev, term)
        elif kind == _LINEAR:
            _, primitive, params, primals, nodes, node = entry
            g = cts[node]
            if g is None:
                continue
            cts[node] = None
            args = [UndefinedPrimal(get_aval(x)) for x in primals]
            cts_in = ad.primitive_transposes[primitive](g, *args, **params)
            for nd, c in zip(nodes, cts_in):
                if nd != _CONSTANT and c is not None and type(c) is not Zero:
                    _accumulate(cts, nd, c)
        else:
            _, closed, diff_mask, nodes, outs = entry
            gs = [None if nd == _CONSTANT else cts[nd] for nd in outs]
            if all(g is None for g in gs):
                continue
            jaxpr = closed.jaxpr
            gs = [Zero(v.aval) if g is None else g for g, v in zip(gs, jaxpr.outvars)]
            args = [UndefinedPrimal(v.aval) for v in jaxpr.invars]
            cts_in = iter(ad.backward_pass(jaxpr, closed.consts, args, gs))
            for nd, differentiable in zip(nodes, diff_mask):
                if not differentiable:
                    continue
                c = next(cts_in)
                if nd != _CONSTANT and c is not None and type(c) is not Zero:
                    _accumulate(cts, nd, c)
    return cts


def vjp_flat(fun, primals):
    """`ad.vjp_flat` for concrete primals and no enclosing transformation (see the module
    docstring); same results and conventions."""
    tape = Tape()
    in_nodes, in_avals = [], []
    with core.new_main(TapeTrace, tape, kind="grad") as main:
        trace = main.trace = TapeTrace(main)
        tracers = []
        for p in primals:
            aval = get_aval(p)
            in_avals.append(aval)
            if dtypes.is_inexact(aval.dtype):
                node = tape.count
                tape.count += 1
            else:
                node = _CONSTANT
            in_nodes.append(node)
            tracers.append(TapeTracer(trace, p, node, aval))
        outs = fun(*tracers)
        primals_out, out_nodes = [], []
        for o in outs:
            if type(o) is TapeTracer and o._trace.main is main:
                primals_out.append(o.primal)
                out_nodes.append(o.node)
            else:
                primals_out.append(o)
                out_nodes.append(_CONSTANT)

    def f_vjp(cts_out):
        cts = backward(tape, out_nodes, cts_out)
        result = []
        for aval, node in zip(in_avals, in_nodes):
            if node == _CONSTANT:
                result.append(ad.zeros_like_aval(ad.tangent_aval(aval)))
            else:
                ct = cts[node]
                result.append(ad.zeros_like_aval(aval.strip_weak_type()) if ct is None else ct)
        return result

    return primals_out, f_vjp
