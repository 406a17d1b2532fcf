"""Jaxpr passes run before execution: dead-code elimination and common-subexpression
elimination. Each takes and returns a ClosedJaxpr and never changes results, but one:
`divisions_by_constants_as_products` rounds as XLA does (within 1 ulp of the quotient)."""

from __future__ import annotations

import numpy as np

from jumba._src.compiler.scan_accumulation import sums_of_products_after_loops
from jumba._src.core import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, Var

# Primitives with effects (debug callbacks, ...) register here to survive DCE.
effectful_primitives: set = set()


def optimize(closed: ClosedJaxpr) -> ClosedJaxpr:
    closed = dce(cse(outer_products_as_multiplies(fold_constants(closed))))
    closed = divisions_by_constants_as_products(closed)
    return sums_of_products_after_loops(hoist_stacked_loop_constants(closed))


def dce(closed: ClosedJaxpr) -> ClosedJaxpr:
    jaxpr = closed.jaxpr
    live = {v for v in jaxpr.outvars if isinstance(v, Var)}
    kept = []
    for eqn in reversed(jaxpr.eqns):
        if eqn.primitive in effectful_primitives or any(o in live for o in eqn.outputs):
            kept.append(eqn)
            live.update(v for v in eqn.inputs if isinstance(v, Var))
    kept.reverse()
    used_consts = [(v, c) for v, c in zip(jaxpr.constvars, closed.consts) if v in live]
    new = Jaxpr([v for v, _ in used_consts], jaxpr.invars, jaxpr.outvars, kept)
    return ClosedJaxpr(new, [c for _, c in used_consts])


def _param_key(params):
    try:
        key = tuple(sorted(params.items()))
        hash(key)
        return key
    except TypeError:
        return None


def cse(closed: ClosedJaxpr) -> ClosedJaxpr:
    jaxpr = closed.jaxpr
    subst: dict[Var, Var] = {}
    seen: dict = {}
    eqns = []

    def sub(v):
        return v if isinstance(v, Literal) else subst.get(v, v)

    for eqn in jaxpr.eqns:
        inputs = [sub(v) for v in eqn.inputs]
        pkey = _param_key(eqn.params)
        key = None
        if pkey is not None and eqn.primitive not in effectful_primitives:
            key = (eqn.primitive, tuple(("lit", repr(v), v.aval) if isinstance(v, Literal)
                                        else v for v in inputs), pkey)
            prev = seen.get(key)
            if prev is not None:
                for old, new in zip(eqn.outputs, prev.outputs):
                    subst[old] = new
                continue
        new_eqn = JaxprEqn(eqn.primitive, inputs, eqn.params, eqn.outputs)
        if key is not None:
            seen[key] = new_eqn
        eqns.append(new_eqn)
    outvars = [sub(v) for v in jaxpr.outvars]
    return ClosedJaxpr(Jaxpr(jaxpr.constvars, jaxpr.invars, outvars, eqns), closed.consts)


def fold_constants(closed: ClosedJaxpr, max_size: int = 1) -> ClosedJaxpr:
    """Evaluate equations whose inputs are all literals and whose result is a scalar: they
    become literals, so fused groups are not split by constant arithmetic."""
    from jumba._src.core import run_impl

    jaxpr = closed.jaxpr
    subst: dict = {}
    eqns = []
    for eqn in jaxpr.eqns:
        inputs = [subst.get(v, v) if isinstance(v, Var) else v for v in eqn.inputs]
        out_avals = [v.aval for v in eqn.outputs]
        if (inputs and all(isinstance(v, Literal) for v in inputs)
                and not eqn.primitive.multiple_results
                and eqn.primitive not in effectful_primitives
                and out_avals[0].size <= max_size and out_avals[0].shape == ()):
            val = run_impl(eqn.primitive.impl, [v.val for v in inputs], eqn.params)
            subst[eqn.outputs[0]] = Literal(np.asarray(val, out_avals[0].dtype)[()],
                                            out_avals[0])
            continue
        eqns.append(JaxprEqn(eqn.primitive, inputs, eqn.params, eqn.outputs))
    outvars = [subst.get(v, v) if isinstance(v, Var) else v for v in jaxpr.outvars]
    return ClosedJaxpr(Jaxpr(jaxpr.constvars, jaxpr.invars, outvars, eqns), closed.consts)


def outer_products_as_multiplies(closed: ClosedJaxpr) -> ClosedJaxpr:
    """A dot_general with no contracting dimensions (vmap of a product gives them) is a
    broadcasting multiply: write it as broadcast_in_dim + mul, which fuse into a kernel."""
    from jumba._src.lax.dot import _free, dot_general_p
    from jumba._src.lax.elementwise import mul_p
    from jumba._src.lax.structural import broadcast_in_dim_p

    jaxpr = closed.jaxpr
    eqns = []
    changed = False
    for eqn in jaxpr.eqns:
        if eqn.primitive is not dot_general_p:
            eqns.append(eqn)
            continue
        (xc, yc), (xb, yb) = eqn.params["dimension_numbers"]
        x, y = eqn.inputs
        out = eqn.outputs[0]
        if xc or eqn.params["preferred_element_type"] not in (None, out.aval.dtype) or \
                x.aval.dtype != out.aval.dtype or isinstance(x, Literal) or \
                isinstance(y, Literal):
            eqns.append(eqn)
            continue
        changed = True
        nb = len(xb)
        xf, yf = _free(x.aval.ndim, xc, xb), _free(y.aval.ndim, yc, yb)
        # Output axes: batch, then x's free axes, then y's free axes.
        x_pos = {a: i for i, a in enumerate(xb)} | {a: nb + i for i, a in enumerate(xf)}
        y_pos = {a: i for i, a in enumerate(yb)} | {a: nb + len(xf) + i
                                                    for i, a in enumerate(yf)}
        operands = []
        for v, pos in ((x, x_pos), (y, y_pos)):
            # broadcast_in_dim needs increasing target axes: transpose-free when sorted.
            dims = tuple(pos[a] for a in range(v.aval.ndim))
            if list(dims) != sorted(dims):
                eqns.append(eqn)
                break
            b = Var(out.aval.update(weak_type=v.aval.weak_type))
            eqns.append(JaxprEqn(broadcast_in_dim_p, [v],
                                 {"shape": out.aval.shape, "broadcast_dimensions": dims}, [b]))
            operands.append(b)
        else:
            eqns.append(JaxprEqn(mul_p, operands, {}, [out]))
            continue
        del eqns[-1 - len(operands):-1]  # undo the broadcasts of a skipped equation
    if not changed:
        return closed
    return ClosedJaxpr(Jaxpr(jaxpr.constvars, jaxpr.invars, jaxpr.outvars, eqns),
                       closed.consts)


def _reciprocal_literal(v):
    """The Literal 1/v for a float scalar Literal v whose reciprocal is a normal number
    (else None): then x * (1/v) is within 1 ulp of x / v (exact for powers of two)."""
    if not isinstance(v, Literal) or v.aval.dtype.kind != "f" or v.aval.shape != ():
        return None
    dt = v.aval.dtype
    val = np.asarray(v.val, dt)[()]
    with np.errstate(divide="ignore", over="ignore"):
        r = dt.type(1) / val
    if not np.isfinite(r) or abs(r) < np.finfo(dt).tiny:
        return None
    return Literal(r, v.aval)


def _map_subjaxprs(params, fn):
    """params with fn applied to every ClosedJaxpr in them (loop and branch bodies)."""
    def walk(p):
        if isinstance(p, ClosedJaxpr):
            return fn(p)
        if isinstance(p, (tuple, list)):
            out = [walk(q) for q in p]
            return p if all(a is b for a, b in zip(out, p)) else type(p)(out)
        return p

    return {k: walk(v) for k, v in params.items()}


def divisions_by_constants_as_products(closed: ClosedJaxpr) -> ClosedJaxpr:
    """x / c -> x * (1/c) for a float constant c, in loop and branch bodies too, as XLA's
    algebraic simplifier does (so JAX's jitted results): a multiply takes 4 cycles, a
    division 11-15, and a loop carrying a value through divisions (a simulation step)
    waits on each one. Within 1 ulp of the quotient; exact for powers of two."""
    from jumba._src.lax.elementwise import div_p, mul_p

    jaxpr = closed.jaxpr
    eqns, changed = [], False
    for eqn in jaxpr.eqns:
        new = eqn
        if eqn.primitive is div_p and eqn.inputs[0].aval.dtype.kind == "f":
            r = _reciprocal_literal(eqn.inputs[1])
            if r is not None:
                new = JaxprEqn(mul_p, [eqn.inputs[0], r], {}, eqn.outputs)
        elif any(isinstance(v, (ClosedJaxpr, tuple, list)) for v in eqn.params.values()):
            params = _map_subjaxprs(eqn.params, divisions_by_constants_as_products)
            if any(params[k] is not eqn.params[k] for k in params):
                new = JaxprEqn(eqn.primitive, eqn.inputs, params, eqn.outputs)
        changed |= new is not eqn
        eqns.append(new)
    if not changed:
        return closed
    return ClosedJaxpr(Jaxpr(jaxpr.constvars, jaxpr.invars, jaxpr.outvars, eqns),
                       closed.consts)


def expand_for_kernels(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Inline the expansion (lowering.expansion_rules) of every primitive that has one, so
    that tier 1 fuses the primitives it is made of. Results are unchanged, but for the
    rounding of products with a tiny contraction (`small_dots.py`: k terms summed in
    order, as a dot of that length without fused multiply-adds)."""
    from jumba._src.compiler import small_dots
    from jumba._src.compiler.lowering import expansion_rules
    from jumba._src.interpreters import partial_eval as pe

    jaxpr = closed.jaxpr
    # Products with a tiny contraction become broadcast multiplies (small_dots.py).
    rules = [expansion_rules.get(e.primitive) or small_dots.expansion(e) for e in jaxpr.eqns]
    if not any(rules):
        return closed
    constvars, consts = list(jaxpr.constvars), list(closed.consts)
    subst: dict = {}
    eqns = []

    def sub(v):
        return subst.get(v, v) if isinstance(v, Var) else v

    for eqn, rule in zip(jaxpr.eqns, rules):
        inputs = [sub(v) for v in eqn.inputs]
        if rule is None:
            eqns.append(JaxprEqn(eqn.primitive, inputs, eqn.params, eqn.outputs))
            continue

        def fun(*xs, rule=rule, eqn=eqn):
            out = rule(*xs, **eqn.params)
            return list(out) if eqn.primitive.multiple_results else [out]

        inner = pe.trace_to_jaxpr(fun, [v.aval for v in eqn.inputs], kind="jit")
        env = dict(zip(inner.jaxpr.invars, inputs))
        constvars += inner.jaxpr.constvars
        consts += list(inner.consts)
        for e in inner.jaxpr.eqns:
            eqns.append(JaxprEqn(e.primitive, [env.get(v, v) if isinstance(v, Var) else v
                                               for v in e.inputs], e.params, e.outputs))
        for o, v in zip(eqn.outputs, inner.jaxpr.outvars):
            subst[o] = env.get(v, v) if isinstance(v, Var) else v
    outvars = [sub(v) for v in jaxpr.outvars]
    return ClosedJaxpr(Jaxpr(constvars, jaxpr.invars, outvars, eqns), consts)



def hoist_stacked_loop_constants(closed: ClosedJaxpr) -> ClosedJaxpr:
    """A scan output that stacks a loop constant (reverse mode saves a weight matrix as a
    residual of every iteration) and is scanned over by a later scan is passed to that
    scan as a constant instead; the stacked copy (length x the constant) is dropped when
    nothing else reads it. Results are unchanged."""
    from jumba._src.lax.control_flow.loops import scan_p

    jaxpr = closed.jaxpr
    stacked: dict = {}  # stacked output -> the constant operand it repeats
    for eqn in jaxpr.eqns:
        if eqn.primitive is not scan_p:
            continue
        p = eqn.params
        body, nc, nk = p["jaxpr"].jaxpr, p["num_consts"], p["num_carry"]
        consts = body.invars[:nc]
        for k, ov in enumerate(body.outvars[nk:]):
            if isinstance(ov, Var) and any(ov is c for c in consts):
                stacked[eqn.outputs[nk + k]] = eqn.inputs[consts.index(ov)]
    if not stacked:
        return closed
    eqns, changed = [], False
    for eqn in jaxpr.eqns:
        p = eqn.params
        if eqn.primitive is scan_p:
            nc, nk = p["num_consts"], p["num_carry"]
            xs = eqn.inputs[nc + nk:]
            move = [i for i, v in enumerate(xs) if isinstance(v, Var) and v in stacked]
            if move:
                changed = True
                keep = [i for i in range(len(xs)) if i not in move]
                body = p["jaxpr"].jaxpr
                x_in, lin = body.invars[nc + nk:], p["linear"]

                def order(seq, n_c=nc, n_k=nk, move=move, keep=keep):
                    head, carry, rest = seq[:n_c], seq[n_c:n_c + n_k], seq[n_c + n_k:]
                    return (list(head) + [rest[i] for i in move] + list(carry)
                            + [rest[i] for i in keep])

                new_body = ClosedJaxpr(Jaxpr(body.constvars, order(body.invars), body.outvars,
                                             body.eqns), p["jaxpr"].consts)
                inputs = order(eqn.inputs)
                inputs[nc:nc + len(move)] = [stacked[xs[i]] for i in move]
                del x_in
                eqn = JaxprEqn(scan_p, inputs, {**p, "jaxpr": new_body,
                                                "num_consts": nc + len(move),
                                                "linear": tuple(order(lin))}, eqn.outputs)
        eqns.append(eqn)
    if not changed:
        return closed
    used = {v for e in eqns for v in e.inputs if isinstance(v, Var)}
    used.update(v for v in jaxpr.outvars if isinstance(v, Var))
    for n, eqn in enumerate(eqns):
        if eqn.primitive is not scan_p:
            continue
        nk = eqn.params["num_carry"]
        drop = {k for k, o in enumerate(eqn.outputs) if k >= nk and o in stacked
                and o not in used}
        if drop:
            body = eqn.params["jaxpr"]
            outvars = [v for k, v in enumerate(body.jaxpr.outvars) if k not in drop]
            new_body = ClosedJaxpr(Jaxpr(body.jaxpr.constvars, body.jaxpr.invars, outvars,
                                         body.jaxpr.eqns), body.consts)
            eqns[n] = JaxprEqn(scan_p, eqn.inputs, {**eqn.params, "jaxpr": new_body},
                               [o for k, o in enumerate(eqn.outputs) if k not in drop])
    return ClosedJaxpr(Jaxpr(jaxpr.constvars, jaxpr.invars, jaxpr.outvars, eqns),
                       closed.consts)
