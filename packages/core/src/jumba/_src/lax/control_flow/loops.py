"""Loops: `scan` (and `map`, `fori_loop` with static bounds, built on it) and
`while_loop` (and `fori_loop` with traced bounds).

`scan_p` operands are (consts, initial carry, xs); its `jaxpr` maps (consts, carry, x) to
(carry, y). Its JVP is a primal scan that also stacks the residuals of every iteration,
and a linear scan of the tangents over them; the transpose of a linear scan is a reverse
scan of cotangents (JAX's partial evaluation and transposition of scan). `while_p` has a
dynamic trip count: it is differentiable in forward mode only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from jumba._src import core
from jumba._src.compiler import inplace, loop_tier1
from jumba._src.core import Primitive, Tracer, get_aval
from jumba._src.interpreters import ad, batching
from jumba._src.interpreters import partial_eval as pe
from jumba._src.interpreters.ad import Zero
from jumba._src.lax.control_flow import common
from jumba._src.tree_util import tree_flatten, tree_unflatten

# ---------------------------------------------------------------------------------------
# scan_p(*consts, *init, *xs, jaxpr, num_consts, num_carry, length, reverse, unroll, linear)

scan_p = Primitive("scan", multiple_results=True)


def _split(xs, *sizes):
    out, start = [], 0
    for n in sizes:
        out.append(list(xs[start:start + n]))
        start += n
    out.append(list(xs[start:]))
    return out


@scan_p.def_impl
def _scan_impl(*args, jaxpr, num_consts, num_carry, length, reverse, unroll, linear):
    consts, carry, xs = _split(args, num_consts, num_carry)
    y_avals = jaxpr.out_avals[num_carry:]
    # Carries donated to the body: updates of dead carry buffers (a replay memory) are
    # done in place, in buffers the loop owns (compiler/inplace.py).
    run, written = inplace.donating_runner(jaxpr, range(num_consts, num_consts + num_carry))
    return loop_tier1.drive_scan(run, [k - num_consts for k in written], consts, carry, xs,
                                 length, reverse, y_avals)


@scan_p.def_abstract_eval
def _scan_abstract_eval(*avals, jaxpr, num_consts, num_carry, length, reverse, unroll,
                        linear):
    consts, carry, xs = _split(avals, num_consts, num_carry)
    body_in = jaxpr.in_avals
    expected = consts + carry + [x.update(shape=x.shape[1:]) for x in xs]
    for a, b in zip(expected, body_in):
        if (a.shape, a.dtype) != (b.shape, b.dtype):
            raise TypeError(f"scan: operand type {a.str_short()} does not match the body's "
                            f"input type {b.str_short()}")
    for x in xs:
        if not x.shape or x.shape[0] != length:
            raise TypeError(f"scan: scanned operand {x.str_short()} has no leading axis of "
                            f"length {length}")
    outs = jaxpr.out_avals
    return list(outs[:num_carry]) + [a.update(shape=(length, *a.shape))
                                     for a in outs[num_carry:]]


scan_p.weak_type_rule = common.out_weak_rule(lambda p: p["jaxpr"].out_avals)


def _scan_jvp(primals, tangents, *, jaxpr, num_consts, num_carry, length, reverse, unroll,
              linear):
    nc, nk = num_consts, num_carry
    ny = len(jaxpr.out_avals) - nk
    nz = common.nonzero_tangents(tangents)
    nz_consts, nz_carry, nz_xs = _split(nz, nc, nk)
    # Fixed point: a carry has a tangent if its initial value or the body gives it one.
    for _ in range(nk + 1):
        *_, nz_out, _ = common.linearize_jaxpr(jaxpr, nz_consts + nz_carry + nz_xs,
                                               instantiate=nz_carry + [False] * ny)
        new = [a or b for a, b in zip(nz_carry, nz_out[:nk])]
        if new == nz_carry:
            break
        nz_carry = new
    nz_in = nz_consts + nz_carry + nz_xs
    primal_j, tangent_j, nz_out, n_res = common.linearize_jaxpr(
        jaxpr, nz_in, instantiate=nz_carry + [False] * ny)
    consts, init, xs = _split(primals, nc, nk)
    outs = scan_p.bind(*primals, jaxpr=primal_j, num_consts=nc, num_carry=nk, length=length,
                       reverse=reverse, unroll=unroll, linear=(False,) * len(primals))
    carry_out, ys, res = _split(outs, nk, ny)
    out_primals = carry_out + ys
    if not any(nz_out):
        return out_primals, [Zero(ad.tangent_aval(get_aval(o))) for o in out_primals]
    t_consts, t_init, t_xs = _split(tangents, nc, nk)
    dconsts = [t for t, z in zip(t_consts, nz_consts) if z]
    dinit = [ad.instantiate_zeros(t) for t, z in zip(t_init, nz_carry) if z]
    dxs = [t for t, z in zip(t_xs, nz_xs) if z]
    # tangent_j's inputs are (residuals, dconsts, dcarry, dxs); the scan wants (consts,
    # carry, xs) with the residuals scanned over.
    nd_c, nd_k, nd_x = len(dconsts), len(dinit), len(dxs)
    order = ([n_res + i for i in range(nd_c)] + [n_res + nd_c + i for i in range(nd_k)]
             + list(range(n_res)) + [n_res + nd_c + nd_k + i for i in range(nd_x)])
    tangent_scan = common.permute_invars(tangent_j, order)
    lin = (True,) * (nd_c + nd_k) + (False,) * n_res + (True,) * nd_x
    touts = scan_p.bind(*dconsts, *dinit, *res, *dxs, jaxpr=tangent_scan, num_consts=nd_c,
                        num_carry=nd_k, length=length, reverse=reverse, unroll=unroll,
                        linear=lin)
    it = iter(touts)
    return out_primals, [next(it) if z else Zero(ad.tangent_aval(get_aval(o)))
                         for o, z in zip(out_primals, nz_out)]


def _scan_transpose(cts, *args, jaxpr, num_consts, num_carry, length, reverse, unroll,
                    linear):
    nc, nk = num_consts, num_carry
    common.check_linear_operands("scan", args, linear)
    lin_c, lin_k, lin_x = _split(linear, nc, nk)
    if not all(lin_k):
        raise NotImplementedError("Transpose of scan: every carry must be linear.")
    consts, _, xs = _split(args, nc, nk)
    in_avals = jaxpr.in_avals
    c_avals, k_avals, x_avals = _split(in_avals, nc, nk)
    res_c = [c for c, lin in zip(consts, lin_c) if not lin]
    res_x = [x for x, lin in zip(xs, lin_x) if not lin]
    lc_avals = [a for a, lin in zip(c_avals, lin_c) if lin]
    out_avals = jaxpr.out_avals
    ct_avals = [ad.tangent_aval(a) for a in out_avals]
    ct_carry, ct_ys = _split(cts, nk)
    ct_carry = common.instantiate_cts(ct_carry, ct_avals[:nk])
    ct_ys = common.instantiate_cts(
        ct_ys, [a.update(shape=(length, *a.shape)) for a in ct_avals[nk:]])
    body_t = common.transpose_jaxpr(jaxpr, linear, ct_avals)
    from jumba._src.lax import elementwise as ew

    n_rc, n_lc = len(res_c), len(lc_avals)

    # The transposed body: consts = residual consts; carry = (accumulated cotangents of the
    # linear consts, carry cotangents); xs = (residual xs, cotangents of ys).
    def body(*a):
        rc, acc, ctk, rx, cty = _split(a, n_rc, n_lc, nk, len(res_x))
        cts_in = common.eval_closed(body_t, *rc, *rx, *ctk, *cty)
        d_lc, d_k, d_lx = _split(cts_in, n_lc, nk)
        # add, not add_any: under vmap the sum may mix batched and unbatched terms, which
        # add_any's batching rule does not broadcast when traced.
        acc = [ew.add(s, common.match_aval(d, s.aval)) for s, d in zip(acc, d_lc)]
        return acc + d_k + d_lx

    avals = ([a for a, lin in zip(c_avals, lin_c) if not lin] + lc_avals + list(k_avals)
             + [a for a, lin in zip(x_avals, lin_x) if not lin] + ct_avals[nk:])
    body_j = pe.trace_to_jaxpr(body, avals, fun_name="scan_transpose", kind="transpose")
    acc0 = [ad.zeros_like_aval(a) for a in lc_avals]
    outs = scan_p.bind(*res_c, *acc0, *ct_carry, *res_x, *ct_ys, jaxpr=body_j,
                       num_consts=n_rc, num_carry=n_lc + nk, length=length,
                       reverse=not reverse, unroll=unroll,
                       linear=(False,) * n_rc + (True,) * (n_lc + nk) + (False,) * len(res_x)
                       + (True,) * len(ct_ys))
    ct_lc, ct_init, ct_lx = _split(outs, n_lc, nk)
    it_c, it_x = iter(ct_lc), iter(ct_lx)
    return ([next(it_c) if lin else None for lin in lin_c] + ct_init
            + [next(it_x) if lin else None for lin in lin_x])


def _scan_batch(size, vals, dims, *, jaxpr, num_consts, num_carry, length, reverse, unroll,
                linear):
    nc, nk = num_consts, num_carry
    ny = len(jaxpr.out_avals) - nk
    b = [d is not None for d in dims]
    b_c, b_k, b_x = _split(b, nc, nk)
    for _ in range(nk + 1):
        _, out_b = common.batch_jaxpr(jaxpr, size, b_c + b_k + b_x, b_k + [False] * ny)
        new = [x or y for x, y in zip(b_k, out_b[:nk])]
        if new == b_k:
            break
        b_k = new
    body, out_b = common.batch_jaxpr(jaxpr, size, b_c + b_k + b_x, b_k + [False] * ny)
    consts, init, xs = _split(vals, nc, nk)
    d_c, d_k, d_x = _split(dims, nc, nk)
    consts = [common.to_front(x, d, size, False) for x, d in zip(consts, d_c)]
    init = [common.to_front(x, d, size, w) for x, d, w in zip(init, d_k, b_k)]
    # Scanned operands keep the scan axis first: their batch axis goes second.
    xs = [x if d is None else batching.moveaxis(x, d, 1) for x, d in zip(xs, d_x)]
    outs = scan_p.bind(*consts, *init, *xs, jaxpr=body, num_consts=nc, num_carry=nk,
                       length=length, reverse=reverse, unroll=unroll, linear=linear)
    return outs, [0 if w else None for w in b_k] + [1 if w else None for w in out_b[nk:]]


ad.primitive_jvps[scan_p] = _scan_jvp
ad.primitive_transposes[scan_p] = _scan_transpose
batching.primitive_batchers[scan_p] = _scan_batch

# ---------------------------------------------------------------------------------------
# while_p(*cond_consts, *body_consts, *init, cond_jaxpr, body_jaxpr, cond_nconsts,
#         body_nconsts)

while_p = Primitive("while", multiple_results=True)


@while_p.def_impl
def _while_impl(*args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cc, bc, carry = _split(args, cond_nconsts, body_nconsts)
    cond = common.body_runner(cond_jaxpr)
    body, written = inplace.donating_runner(
        body_jaxpr, range(body_nconsts, body_nconsts + len(carry)))
    return loop_tier1.drive_while(cond, body, [k - body_nconsts for k in written], cc, bc,
                                  carry)


@while_p.def_abstract_eval
def _while_abstract_eval(*avals, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    _, _, carry = _split(avals, cond_nconsts, body_nconsts)
    outs = body_jaxpr.out_avals
    for a, b in zip(carry, outs):
        if (a.shape, a.dtype) != (b.shape, b.dtype):
            raise TypeError(f"while: body output type {b.str_short()} differs from the carry "
                            f"type {a.str_short()}")
    return list(outs)


while_p.weak_type_rule = common.out_weak_rule(lambda p: p["body_jaxpr"].out_avals)


def _while_jvp(primals, tangents, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    # Forward mode: one loop carrying primals and tangents together.
    ncc, nbc = cond_nconsts, body_nconsts
    nz = common.nonzero_tangents(tangents)
    _, nz_bc, nz_k = _split(nz, ncc, nbc)
    nk = len(nz_k)
    for _ in range(nk + 1):
        _, nz_out = common.jvp_jaxpr(body_jaxpr, nz_bc + nz_k, instantiate=nz_k)
        new = [a or b for a, b in zip(nz_k, nz_out)]
        if new == nz_k:
            break
        nz_k = new
    body_jvp, _ = common.jvp_jaxpr(body_jaxpr, nz_bc + nz_k, instantiate=nz_k)
    cc, bc, init = _split(primals, ncc, nbc)
    _, t_bc, t_k = _split(tangents, ncc, nbc)
    dbc = [t for t, z in zip(t_bc, nz_bc) if z]
    dinit = [ad.instantiate_zeros(t) for t, z in zip(t_k, nz_k) if z]
    nd_bc, nd_k = len(dbc), len(dinit)
    # body_jvp takes (bc, carry, dbc, dcarry): reorder to (bc, dbc) + (carry, dcarry).
    order = (list(range(nbc)) + [nbc + nk + i for i in range(nd_bc)]
             + [nbc + i for i in range(nk)] + [nbc + nk + nd_bc + i for i in range(nd_k)])
    body = common.permute_invars(body_jvp, order)
    k_avals = body_jaxpr.out_avals
    dk_avals = [ad.tangent_aval(a) for a, z in zip(k_avals, nz_k) if z]
    n_cc = ncc

    def cond_fun(*a):
        return common.eval_closed(cond_jaxpr, *a[:n_cc + nk])

    cond = pe.trace_to_jaxpr(cond_fun, cond_jaxpr.in_avals + dk_avals, kind="while")
    outs = while_p.bind(*cc, *bc, *dbc, *init, *dinit, cond_jaxpr=cond, body_jaxpr=body,
                        cond_nconsts=ncc, body_nconsts=nbc + nd_bc)
    carry, dcarry = outs[:nk], iter(outs[nk:])
    if any(_staged_apart(t) for t in dbc + dinit):
        # Linearize stages the joint loop (it touches tangents): its primal outputs would be
        # staged too. Compute them with a primal-only loop so that the rest of the program
        # sees values; transposing the staged joint loop raises the reverse-mode error.
        carry = while_p.bind(*cc, *bc, *init, cond_jaxpr=cond_jaxpr, body_jaxpr=body_jaxpr,
                             cond_nconsts=ncc, body_nconsts=nbc)
    return carry, [next(dcarry) if z else Zero(ad.tangent_aval(a))
                   for a, z in zip(k_avals, nz_k)]


def _staged_apart(t) -> bool:
    """Is `t` staged by a Jaxpr trace other than the dynamic one (linearize)?"""
    return isinstance(t, pe.DynamicJaxprTracer) and t._trace.main is not core._state.dynamic


_WHILE_REVERSE_MESSAGE = (
    "Reverse-mode differentiation does not work for lax.while_loop or lax.fori_loop with "
    "dynamic start/stop values: the number of iterations is not known when the backward "
    "pass is built. Use lax.fori_loop with static (Python int) bounds, or lax.scan with a "
    "fixed length; forward mode (jvp, jacfwd) works with while_loop.")


def _while_transpose(cts, *args, **params):
    raise ValueError(_WHILE_REVERSE_MESSAGE)


def _while_batch(size, vals, dims, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    from jumba._src.lax import elementwise as ew
    from jumba._src.lax.reductions import reduce_or
    from jumba._src.lax.structural import broadcast_in_dim

    ncc, nbc = cond_nconsts, body_nconsts
    b = [d is not None for d in dims]
    b_cc, b_bc, b_k = _split(b, ncc, nbc)
    nk = len(b_k)
    for _ in range(nk + 2):
        _, out_b = common.batch_jaxpr(body_jaxpr, size, b_bc + b_k, b_k)
        _, (pred_b,) = common.batch_jaxpr(cond_jaxpr, size, b_cc + b_k, False)
        new = [x or y or pred_b for x, y in zip(b_k, out_b)]
        if new == b_k:
            break
        b_k = new
    body_b, _ = common.batch_jaxpr(body_jaxpr, size, b_bc + b_k, b_k)
    cond_b, (pred_b,) = common.batch_jaxpr(cond_jaxpr, size, b_cc + b_k, False)
    cc, bc, init = _split(vals, ncc, nbc)
    d_cc, d_bc, d_k = _split(dims, ncc, nbc)
    cc = [common.to_front(x, d, size, False) for x, d in zip(cc, d_cc)]
    bc = [common.to_front(x, d, size, False) for x, d in zip(bc, d_bc)]
    init = [common.to_front(x, d, size, w) for x, d, w in zip(init, d_k, b_k)]
    out_dims = [0 if w else None for w in b_k]
    if not pred_b:
        outs = while_p.bind(*cc, *bc, *init, cond_jaxpr=cond_b, body_jaxpr=body_b,
                            cond_nconsts=ncc, body_nconsts=nbc)
        return outs, out_dims
    # A batched predicate: loop while any example is running; finished examples keep
    # their carry (every carry is batched).
    n_cc = len(cc)

    def any_fun(*a):
        return [reduce_or(common.eval_closed(cond_b, *a)[0], (0,))]

    def step_fun(*a):
        ccs, bcs, carry = a[:n_cc], a[n_cc:n_cc + nbc], a[n_cc + nbc:]
        (pred,) = common.eval_closed(cond_b, *ccs, *carry)
        new = common.eval_closed(body_b, *bcs, *carry)
        return [ew.select_n(broadcast_in_dim(pred, get_aval(o).shape, (0,)), o, n)
                for o, n in zip(carry, new)]

    k_avals = [get_aval(x) for x in init]
    cc_avals = [get_aval(x) for x in cc]
    bc_avals = [get_aval(x) for x in bc]
    any_j = pe.trace_to_jaxpr(any_fun, cc_avals + k_avals, kind="while")
    step_j = pe.trace_to_jaxpr(step_fun, cc_avals + bc_avals + k_avals, kind="while")
    outs = while_p.bind(*cc, *cc, *bc, *init, cond_jaxpr=any_j, body_jaxpr=step_j,
                        cond_nconsts=n_cc, body_nconsts=n_cc + nbc)
    return outs, out_dims


ad.primitive_jvps[while_p] = _while_jvp
ad.primitive_transposes[while_p] = _while_transpose
batching.primitive_batchers[while_p] = _while_batch

# ---------------------------------------------------------------------------------------
# The lax API


def _check_carry(kind, body_name, in_tree, out_tree, in_avals, out_avals, what):
    if in_tree != out_tree:
        raise TypeError(
            f"{kind}: {body_name} output and input must have the same pytree structure "
            f"({what}), but they differ:\n  input:  {in_tree}\n  output: {out_tree}")
    bad = common.type_mismatches(in_tree, in_avals, out_avals)
    if bad:
        raise TypeError(
            f"{kind}: {body_name} output and input must have identical types ({what}), "
            f"got\n{common.describe_mismatches(bad, 'the input', 'the output')}\nMake the "
            "body return values of the carry's shapes and dtypes (e.g. with .astype(...) or "
            "by giving the initial value the right dtype).")


def _trace_carry_fun(f, args_tree, carry, rest_avals, kind, name):
    """Trace `f` on (carry leaves, other avals); weakly typed initial carries whose type
    the body changes are promoted to the body's output types (as JAX) and traced again.
    Returns (jaxpr, consts, out_tree, carry leaves)."""
    nk = len(carry)
    for _ in range(2):
        avals = [get_aval(x) for x in carry] + list(rest_avals)
        j, consts, out_tree = common.trace_pytree_fun(f, args_tree, avals, name=name,
                                                      kind=kind)
        new = common.promote_weak_carry(carry, avals[:nk], j.out_avals[:nk])
        if new is None:
            break
        carry = new
    return j, consts, out_tree, carry


def scan(f: Callable, init, xs=None, length: int | None = None, reverse: bool = False,
         unroll: int | bool = 1, _split_transpose: bool = False):
    """Loop `f` over the leading axis of `xs`, carrying state, as `jax.lax.scan`.

    Semantically::

        def scan(f, init, xs, length=None):
            carry, ys = init, []
            for x in xs:
                carry, y = f(carry, x)
                ys.append(y)
            return carry, np.stack(ys)

    Args:
      f: `f(carry, x) -> (carry, y)`; the carry keeps its pytree structure and types.
      init: the initial carry (a pytree of arrays).
      xs: a pytree of arrays scanned along their leading axis, or None (then `length`
        gives the number of iterations and `x` is None).
      length: the number of iterations (needed when `xs` is None).
      reverse: scan from the end of `xs` to the start (outputs stay in `xs`'s order).
      unroll: kept for API compatibility (the tier-0 loop is not unrolled).

    Returns:
      `(final carry, stacked ys)`.

    Examples:
      >>> import jumba.numpy as jnp
      >>> from jumba import lax
      >>> lax.scan(lambda c, x: (c + x, c), 0.0, jnp.arange(3.0))[1].tolist()
      [0.0, 0.0, 1.0]
    """
    name = common.fun_name(f)
    xs_leaves, xs_tree = tree_flatten(xs)
    lengths = []
    for x in xs_leaves:
        shape = get_aval(x).shape
        if not shape:
            raise ValueError(f"scan got value with no leading axis to scan over: {x!r} has "
                             "shape (). Every leaf of xs needs a leading axis.")
        lengths.append(shape[0])
    if length is not None:
        length = int(core.concrete_or_error(length, "the `length` argument of scan"))
        if any(n != length for n in lengths):
            raise ValueError(f"scan got `length` argument of {length} which disagrees with "
                             f"leading axis sizes {lengths}.")
    elif lengths:
        if len(set(lengths)) > 1:
            raise ValueError("scan got values with different leading axis sizes: "
                             f"{lengths}. Every leaf of xs must have the same length.")
        length = lengths[0]
    else:
        raise ValueError("scan got no values to scan over and `length` not provided: pass "
                         "xs or length=...")
    init_leaves, init_tree = tree_flatten(init)
    nk = len(init_leaves)
    x_avals = [get_aval(x).update(shape=get_aval(x).shape[1:]) for x in xs_leaves]

    def body(carry, x):
        out = f(carry, x)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise TypeError(f"scan body function {name} must return a pair (carry, y), got "
                            f"{common.describe_value(out)}.")
        return tuple(out)

    _, args_tree = tree_flatten((init, xs))
    j, consts, out_tree, init_leaves = _trace_carry_fun(body, args_tree, init_leaves,
                                                        x_avals, "lax.scan", name)
    carry_tree = out_tree.children()[0]
    _check_carry("scan", "body_fun", init_tree, carry_tree,
                 [get_aval(x) for x in init_leaves], j.out_avals[:nk], "the carry")
    operands = list(consts) + list(init_leaves) + list(xs_leaves)
    outs = scan_p.bind(*operands, jaxpr=j, num_consts=len(consts), num_carry=nk,
                       length=length, reverse=bool(reverse), unroll=int(unroll),
                       linear=(False,) * len(operands))
    carry_leaves, y_leaves = outs[:nk], outs[nk:]
    carry_tree, y_tree = out_tree.children()
    return tree_unflatten(carry_tree, carry_leaves), tree_unflatten(y_tree, y_leaves)


def while_loop(cond_fun: Callable, body_fun: Callable, init_val):
    """Repeat `body_fun` while `cond_fun` is true, as `jax.lax.while_loop`.

    Semantically::

        def while_loop(cond_fun, body_fun, init_val):
            val = init_val
            while cond_fun(val):
                val = body_fun(val)
            return val

    Forward-mode differentiable; reverse mode needs a static trip count (use `scan` or
    `fori_loop` with Python int bounds).

    Args:
      cond_fun: `cond_fun(val) -> boolean scalar`.
      body_fun: `body_fun(val) -> val` with the same pytree structure and types.
      init_val: the initial value (a pytree of arrays).

    Returns:
      The final value.

    Examples:
      >>> from jumba import lax
      >>> int(lax.while_loop(lambda i: i < 10, lambda i: i + 3, 0))
      12
    """
    init_leaves, init_tree = tree_flatten(init_val)
    _, args_tree = tree_flatten((init_val,))
    bj, bconsts, body_tree, init_leaves = _trace_carry_fun(
        body_fun, args_tree, init_leaves, [], "lax.while_loop", common.fun_name(body_fun))
    _check_carry("while_loop", "body_fun", init_tree, body_tree,
                 [get_aval(x) for x in init_leaves], bj.out_avals, "the loop value")
    cj, cconsts, cond_tree = common.trace_pytree_fun(
        cond_fun, args_tree, [get_aval(x) for x in init_leaves],
        name=common.fun_name(cond_fun), kind="lax.while_loop")
    outs = cj.out_avals
    if len(outs) != 1 or outs[0].shape != () or outs[0].dtype != np.bool_:
        raise TypeError(
            "while_loop: cond_fun must return a boolean scalar, but got output type(s) "
            f"{[a.str_short() for a in outs]}. Compare (e.g. `i < n`) rather than return a "
            "number.")
    outs = while_p.bind(*cconsts, *bconsts, *init_leaves, cond_jaxpr=cj, body_jaxpr=bj,
                        cond_nconsts=len(cconsts), body_nconsts=len(bconsts))
    return tree_unflatten(init_tree, outs)


def _concrete_int(x):
    if isinstance(x, Tracer):
        v = x.concrete_value()
        if v is None:
            return None
        x = v
    v = np.asarray(core.to_numpy(x))
    if v.shape != () or v.dtype.kind not in "iu":
        raise TypeError(f"fori_loop: lower and upper must be integer scalars, got {v!r}")
    return int(v)


def fori_loop(lower, upper, body_fun: Callable, init_val, *, unroll: int | bool | None = None):
    """`body_fun(i, val)` for i in [lower, upper), as `jax.lax.fori_loop`.

    With concrete bounds (Python ints) it is a `scan`, differentiable in both modes; with
    traced bounds it is a `while_loop` (forward mode only).

    Args:
      lower: the first index (an integer scalar).
      upper: one past the last index.
      body_fun: `body_fun(i, val) -> val` with the same pytree structure and types.
      init_val: the initial value.
      unroll: kept for API compatibility (needs static bounds, as in JAX).

    Returns:
      The final value.

    Examples:
      >>> from jumba import lax
      >>> float(lax.fori_loop(0, 4, lambda i, x: x + i, 0.0))
      6.0
    """
    for name, v in (("lower", lower), ("upper", upper)):
        aval = get_aval(v)
        if aval.shape != () or aval.dtype.kind not in "iu":
            raise TypeError(f"fori_loop: {name} must be an integer scalar, got "
                            f"{aval.str_short()}.")
    from jumba._src import dtypes
    from jumba._src.lax import elementwise as ew
    from jumba._src.lax.structural import convert_element_type

    la, ua = get_aval(lower), get_aval(upper)
    dt = dtypes.result_type(lower, upper)
    lo, hi = _concrete_int(lower), _concrete_int(upper)
    if lo is not None and hi is not None:
        # Static trip count: a scan over (i, val).
        weak = la.weak_type and ua.weak_type
        i0 = convert_element_type(lower, dt, weak_type=weak)

        def step(carry, _):
            i, x = carry
            return (ew.add(i, np.asarray(1, dt)), body_fun(i, x)), None

        (_, out), _ = scan(step, (i0, init_val), None, length=max(hi - lo, 0),
                           unroll=1 if unroll is None else unroll)
        return out
    if unroll not in (None, 1, False):
        raise ValueError("fori_loop: unroll needs static (Python int) lower and upper "
                         "bounds.")
    i0 = convert_element_type(lower, dt)
    hi_t = convert_element_type(upper, dt)

    def cond(c):
        return ew.lt(c[0], c[1])

    def body(c):
        i, u, x = c
        return ew.add(i, np.asarray(1, dt)), u, body_fun(i, x)

    return while_loop(cond, body, (i0, hi_t, init_val))[2]


def map(f: Callable, xs, *, batch_size: int | None = None):  # noqa: A001
    """`f` applied to each slice of `xs` along its leading axis, as `jax.lax.map`.

    Args:
      f: a function of one slice (a pytree).
      xs: a pytree of arrays with a common leading axis.
      batch_size: when given, slices are processed `batch_size` at a time with `vmap`
        (the remainder, if any, in one more vmapped call).

    Returns:
      The stacked outputs.

    Examples:
      >>> import jumba.numpy as jnp
      >>> from jumba import lax
      >>> lax.map(lambda x: x * 2, jnp.arange(3)).tolist()
      [0, 2, 4]
    """
    if batch_size is None:
        return scan(lambda _, x: ((), f(x)), (), xs)[1]
    from jumba._src.api import vmap
    from jumba._src.lax.structural import concatenate, reshape
    from jumba._src.lax.structural import slice as lax_slice
    from jumba._src.tree_util import tree_map

    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"lax.map: batch_size must be a positive integer, got {batch_size}")
    leaves, tree = tree_flatten(xs)
    if not leaves:
        raise ValueError("lax.map: xs has no arrays to map over")
    n = get_aval(leaves[0]).shape[0]
    nb, rem = divmod(n, batch_size)

    def part(x, start, stop):
        shape = get_aval(x).shape
        return lax_slice(x, (start,) + (0,) * (len(shape) - 1), (stop, *shape[1:]))

    outs = []
    if nb:
        main = tree_map(lambda x: reshape(part(x, 0, nb * batch_size),
                                          (nb, batch_size, *get_aval(x).shape[1:])), xs)
        ys = scan(lambda _, x: ((), vmap(f)(x)), (), main)[1]
        outs.append(tree_map(lambda y: reshape(y, (nb * batch_size, *get_aval(y).shape[2:])),
                             ys))
    if rem:
        outs.append(vmap(f)(tree_map(lambda x: part(x, nb * batch_size, n), xs)))
    if len(outs) == 1:
        return outs[0]
    return tree_map(lambda a, b: concatenate([a, b], 0), *outs)
