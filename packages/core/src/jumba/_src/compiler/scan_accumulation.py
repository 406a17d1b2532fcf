"""Carries that only sum products move their sum out of the loop (a Jaxpr pass).

Reverse mode through a scan accumulates each weight's gradient in a carry: `dW = dW +
outer(g_t, h_t)` at every step. Summed over the steps that is one product of the stacked
factors, `dW = dW_0 + G^T H`: a single gemm after the loop instead of a rank-1 update per
iteration (the 1,000-step RNN's backward sweep spent two thirds of its time in them). The
loop then stacks the factors as outputs, which is less memory than the carry whenever the
factors are smaller than the product (an outer product), the only case rewritten.

A carry qualifies when the body's new value is `carry + dot_general(a, b)` (add or
add_any, either order), the carry is read by nothing else, the product has no batch
dimensions and the same shape and dtype as the carry, and a and b together have fewer
elements than the carry. Results change only by the order of the additions.
"""

from __future__ import annotations

from jumba._src.core import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, ShapedArray, Var


def sums_of_products_after_loops(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Rewrite every top-level scan's accumulating carries (see the module docstring)."""
    from jumba._src.lax.control_flow.loops import scan_p

    eqns, changed = [], False
    for eqn in closed.jaxpr.eqns:
        after = []
        while eqn.primitive is scan_p and (found := _accumulating_carry(eqn)) is not None:
            eqn, post = _rewrite(eqn, *found)
            after.extend(post)
        changed = changed or bool(after)
        eqns.append(eqn)
        eqns.extend(after)
    if not changed:
        return closed
    jaxpr = closed.jaxpr
    return ClosedJaxpr(Jaxpr(jaxpr.constvars, jaxpr.invars, jaxpr.outvars, eqns),
                       closed.consts)


def _accumulating_carry(eqn):
    """(k, the add equation, the dot_general equation) of the first qualifying carry."""
    from jumba._src.interpreters.ad import add_any_p
    from jumba._src.lax.dot import dot_general_p
    from jumba._src.lax.elementwise import add_p

    p = eqn.params
    body, nc, nk = p["jaxpr"].jaxpr, p["num_consts"], p["num_carry"]
    uses: dict = {}
    for e in body.eqns:
        for v in e.inputs:
            if isinstance(v, Var):
                uses[v] = uses.get(v, 0) + 1
    for v in body.outvars:
        if isinstance(v, Var):
            uses[v] = uses.get(v, 0) + 1
    producer = {o: e for e in body.eqns for o in e.outputs}
    for k in range(nk):
        c_in, c_out = body.invars[nc + k], body.outvars[k]
        add = producer.get(c_out) if isinstance(c_out, Var) else None
        if add is None or add.primitive not in (add_p, add_any_p) or uses[c_out] != 1 \
                or uses.get(c_in) != 1 or c_in not in add.inputs:
            continue
        other = add.inputs[1] if add.inputs[0] is c_in else add.inputs[0]
        dot = producer.get(other) if isinstance(other, Var) else None
        if dot is None or dot.primitive is not dot_general_p or uses[other] != 1:
            continue
        (xc, yc), (xb, yb) = dot.params["dimension_numbers"]
        a, b = dot.inputs
        if xb or yb or isinstance(a, Literal) or isinstance(b, Literal) \
                or other.aval.shape != c_in.aval.shape or other.aval.dtype != c_in.aval.dtype \
                or c_in.aval.dtype.kind != "f" \
                or a.aval.size + b.aval.size >= c_in.aval.size:
            continue
        return k, add, dot
    return None


def _rewrite(eqn, k, add, dot):
    """The scan without carry k, stacking the product's factors instead, and the equations
    that add their product to the carry's initial value after the loop."""
    from jumba._src.lax.dot import dot_general_p

    p = eqn.params
    closed_body = p["jaxpr"]
    body, nc, nk = closed_body.jaxpr, p["num_consts"], p["num_carry"]
    xs_in = body.invars[nc + nk:]
    length = p["length"]
    # A factor that is a slice of an `xs` input is that input, stacked already (in the same
    # order, reverse or not); any other factor becomes an output of the loop.
    stacked, new_ys = [], []
    for v in dot.inputs:
        j = next((j for j, x in enumerate(xs_in) if x is v), None)
        if j is not None:
            stacked.append(eqn.inputs[nc + nk + j])
        else:
            stacked.append(Var(ShapedArray((length, *v.aval.shape), v.aval.dtype)))
            new_ys.append(v)
    new_body = Jaxpr(
        body.constvars,
        body.invars[:nc + k] + body.invars[nc + k + 1:],
        body.outvars[:k] + body.outvars[k + 1:] + new_ys,
        [e for e in body.eqns if e is not add and e is not dot])
    linear = tuple(p["linear"])
    scan = JaxprEqn(eqn.primitive,
                    eqn.inputs[:nc + k] + eqn.inputs[nc + k + 1:],
                    {**p, "jaxpr": ClosedJaxpr(new_body, closed_body.consts),
                     "num_carry": nk - 1, "linear": linear[:nc + k] + linear[nc + k + 1:]},
                    eqn.outputs[:k] + eqn.outputs[k + 1:]
                    + [w for w, v in zip(stacked, dot.inputs) if v in new_ys])
    # sum over t of dot(a_t, b_t): contract the stacking axis with the product's own.
    (xc, yc), _ = dot.params["dimension_numbers"]
    dims = (((0, *(c + 1 for c in xc)), (0, *(c + 1 for c in yc))), ((), ()))
    total = Var(dot.outputs[0].aval)
    post = [JaxprEqn(dot_general_p, stacked, {**dot.params, "dimension_numbers": dims},
                     [total]),
            JaxprEqn(add.primitive, [eqn.inputs[nc + k], total], {}, [eqn.outputs[k]])]
    return scan, post
