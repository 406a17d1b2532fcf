"""Conditionals: `cond` and `switch`, one primitive (`cond`) choosing a branch by index.

`cond_p` takes the branch index (an int32 scalar, clamped to the branches) then the
operands; its `branches` param holds one ClosedJaxpr per branch, all with the same input
and output types. Under vmap a batched index turns it into a `select_n` of every branch
run batched (as JAX). Its JVP is a primal cond that also returns the residuals and a linear
cond of the tangents (transposed into a cond of transposed branches).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from jumba._src import dtypes
from jumba._src.core import Primitive, get_aval
from jumba._src.interpreters import ad, batching
from jumba._src.interpreters.ad import Zero
from jumba._src.lax.control_flow import common
from jumba._src.tree_util import tree_flatten, tree_unflatten

# ---------------------------------------------------------------------------------------
# cond_p(index, *operands, branches, linear)

cond_p = Primitive("cond", multiple_results=True)


def _clamp_index(i, n):
    return min(max(int(i), 0), n - 1)


@cond_p.def_impl
def _cond_impl(index, *ops, branches, linear):
    return common.run_numpy(branches[_clamp_index(index, len(branches))], ops)


@cond_p.def_abstract_eval
def _cond_abstract_eval(index, *ops, branches, linear):
    if index.shape != () or index.dtype.kind not in "iu":
        raise TypeError(f"cond: the branch index must be an integer scalar, got "
                        f"{index.str_short()}")
    for b in branches:
        if [(a.shape, a.dtype) for a in b.in_avals] != [(a.shape, a.dtype) for a in ops]:
            raise TypeError("cond: branch input types "
                            f"{[a.str_short() for a in b.in_avals]} differ from the operand "
                            f"types {[a.str_short() for a in ops]}")
    return list(branches[0].out_avals)


cond_p.weak_type_rule = common.out_weak_rule(lambda p: p["branches"][0].out_avals)


def _cond_jvp(primals, tangents, *, branches, linear):
    index, *ops = primals
    nz = common.nonzero_tangents(tangents[1:])
    nz_out = [False] * len(branches[0].out_avals)
    for b in branches:
        _, _, nzb, _ = common.linearize_jaxpr(b, nz, instantiate=False)
        nz_out = [x or y for x, y in zip(nz_out, nzb)]
    lins = [common.linearize_jaxpr(b, nz, instantiate=nz_out) for b in branches]
    res_avals = [lin[0].out_avals[len(nz_out):] for lin in lins]
    all_res = [a for avals in res_avals for a in avals]
    n_out = len(nz_out)

    # Every primal branch returns every branch's residuals (zeros for the others'), so that
    # all branches have the same output types.
    def primal_branch(i):
        def fun(*xs):
            outs = common.eval_closed(lins[i][0], *xs)
            res = []
            for j, avals in enumerate(res_avals):
                res += outs[n_out:] if j == i else [common.zeros(a) for a in avals]
            return outs[:n_out] + res
        return fun

    def tangent_branch(i):
        start = sum(len(a) for a in res_avals[:i])
        stop = start + len(res_avals[i])

        def fun(*xs):
            res, ts = xs[:len(all_res)], xs[len(all_res):]
            return common.eval_closed(lins[i][1], *res[start:stop], *ts)
        return fun

    from jumba._src.interpreters import partial_eval as pe

    op_avals = [get_aval(x) for x in ops]
    primal_branches = tuple(pe.trace_to_jaxpr(primal_branch(i), op_avals, kind="cond")
                            for i in range(len(branches)))
    outs = cond_p.bind(index, *ops, branches=primal_branches, linear=(False,) * len(ops))
    outs, res = outs[:n_out], outs[n_out:]
    ts = [t for t, z in zip(tangents[1:], nz) if z]
    if not any(nz_out):
        return outs, [Zero(ad.tangent_aval(get_aval(o))) for o in outs]
    t_avals = all_res + [ad.tangent_aval(a) for a, z in zip(op_avals, nz) if z]
    tangent_branches = tuple(pe.trace_to_jaxpr(tangent_branch(i), t_avals, kind="cond")
                             for i in range(len(branches)))
    touts = cond_p.bind(index, *res, *ts, branches=tangent_branches,
                        linear=(False,) * len(res) + (True,) * len(ts))
    it = iter(touts)
    return outs, [next(it) if z else Zero(ad.tangent_aval(get_aval(o)))
                  for o, z in zip(outs, nz_out)]


def _cond_transpose(cts, index, *ops, branches, linear):
    if ad.is_undefined_primal(index):
        raise ValueError("cond is not linear in its branch index")
    common.check_linear_operands("cond", ops, linear)
    ct_avals = [ad.tangent_aval(a) for a in branches[0].out_avals]
    cts = common.instantiate_cts(cts, ct_avals)
    res = [x for x, lin in zip(ops, linear) if not lin]
    t_branches = tuple(common.transpose_jaxpr(b, linear, ct_avals) for b in branches)
    outs = cond_p.bind(index, *res, *cts, branches=t_branches,
                       linear=(False,) * len(res) + (True,) * len(cts))
    it = iter(outs)
    return [None] + [next(it) if lin else None for lin in linear]


def _cond_batch(size, vals, dims, *, branches, linear):
    (index, *ops), (index_dim, *op_dims) = vals, dims
    op_b = [d is not None for d in op_dims]
    if index_dim is None:
        out_b = [False] * len(branches[0].out_avals)
        for b in branches:
            _, ob = common.batch_jaxpr(b, size, op_b, instantiate=False)
            out_b = [x or y for x, y in zip(out_b, ob)]
        new = tuple(common.batch_jaxpr(b, size, op_b, instantiate=out_b)[0] for b in branches)
        ops = [common.to_front(x, d, size, False) for x, d in zip(ops, op_dims)]
        outs = cond_p.bind(index, *ops, branches=new, linear=linear)
        return outs, [0 if b else None for b in out_b]
    # A batched index: run every branch on the whole batch and select per example.
    from jumba._src.lax import elementwise as ew
    from jumba._src.lax.structural import broadcast_in_dim

    ops = [common.to_front(x, d, size, False) for x, d in zip(ops, op_dims)]
    index = batching.moveaxis(index, index_dim, 0)
    index = ew.max(ew.min(index, np.asarray(len(branches) - 1, get_aval(index).dtype)),
                   np.asarray(0, get_aval(index).dtype))
    results = []
    for b in branches:
        bj, _ = common.batch_jaxpr(b, size, op_b, instantiate=True)
        results.append(common.eval_closed(bj, *ops))
    outs = []
    for cases in zip(*results):
        shape = get_aval(cases[0]).shape
        which = broadcast_in_dim(index, shape, (0,))
        outs.append(ew.select_n(which, *cases))
    return outs, [0] * len(outs)


ad.primitive_jvps[cond_p] = _cond_jvp
ad.primitive_transposes[cond_p] = _cond_transpose
batching.primitive_batchers[cond_p] = _cond_batch

# ---------------------------------------------------------------------------------------
# The lax API


def _trace_branches(branches, ops, kind):
    """Trace every branch on the operands' types; check their outputs agree."""
    leaves, tree = tree_flatten(ops)
    avals = [common.abstractify(x) for x in leaves]
    traced = []
    for f in branches:
        traced.append(common.trace_pytree_fun(f, tree, avals, name=common.fun_name(f),
                                              kind=f"lax.{kind}"))
    return leaves, traced


def _check_branch_outputs(traced, names, kind):
    (j0, _, t0), name0 = traced[0], names[0]
    for (j, _, t), name in zip(traced[1:], names[1:]):
        if t != t0:
            raise TypeError(
                f"{kind}: {name0} and {name} must return the same pytree structure, but they "
                f"differ:\n  {name0}: {t0}\n  {name}: {t}")
        out0 = j0.out_avals
        bad = common.type_mismatches(t0, out0, j.out_avals)
        if bad:
            raise TypeError(
                f"{kind}: {name0} and {name} output must have identical types, got\n"
                f"{common.describe_mismatches(bad, name0, name)}\nMake the branches return "
                "arrays of the same shapes and dtypes (e.g. with .astype(...)).")


def _bind_cond(index, traced, leaves):
    # One operand list for all branches: each branch takes every branch's constants and
    # ignores the others'.
    all_consts = [c for _, consts, _ in traced for c in consts]
    from jumba._src.interpreters import partial_eval as pe

    avals = [get_aval(c) for c in all_consts] + [common.abstractify(x) for x in leaves]
    n_consts = len(all_consts)
    branches = []
    start = 0
    for j, consts, _ in traced:
        lo, hi = start, start + len(consts)
        start = hi

        def fun(*xs, j=j, lo=lo, hi=hi):
            return common.eval_closed(j, *xs[lo:hi], *xs[n_consts:])

        branches.append(pe.trace_to_jaxpr(fun, avals, kind="cond") if n_consts else j)
    # Outputs are weak only where every branch's is.
    operands = all_consts + leaves
    outs = cond_p.bind(index, *operands, branches=tuple(branches),
                       linear=(False,) * len(operands))
    return outs


def _weak_join(traced, outs):
    """JAX's output types: weak only where every branch is weak."""
    weak = [all(w) for w in zip(*[[a.weak_type for a in j.out_avals] for j, _, _ in traced])]
    res = []
    for o, w, a in zip(outs, weak, traced[0][0].out_avals):
        if get_aval(o).weak_type and not w:
            o = common._convert(o, a.dtype, False)
        res.append(o)
    return res


def switch(index, branches: Sequence[Callable], *operands, operand=None):
    """Apply the branch chosen by `index`, clamped to `[0, len(branches) - 1]`.

    As `jax.lax.switch`: every branch is traced and must return the same types; only the
    chosen branch runs (under vmap with a batched index, all run and results are selected).

    Args:
      index: an integer scalar.
      branches: a sequence of functions, each called as `branch(*operands)`.
      *operands: the operands (pytrees of arrays) passed to the chosen branch.

    Returns:
      The chosen branch's output.

    Examples:
      >>> import jumba.lax as lax
      >>> float(lax.switch(1, [lambda x: x + 1.0, lambda x: x * 2.0], 3.0))
      6.0
    """
    if operand is not None:
        operands = (*operands, operand)
    branches = list(branches)
    if not branches:
        raise ValueError("switch: empty branch sequence; pass at least one function.")
    for b in branches:
        if not callable(b):
            raise TypeError(f"switch: branches must be callables, got {b!r}")
    aval = get_aval(index)
    if aval.shape != ():
        raise TypeError(f"switch: the branch index must be a scalar, got an array of shape "
                        f"{aval.shape}.")
    if aval.dtype.kind not in "iu":
        raise TypeError(f"switch: the branch index must be an integer, got "
                        f"{aval.dtype.name}. Convert it with .astype(jnp.int32).")
    from jumba._src.lax.structural import convert_element_type

    index = convert_element_type(index, np.int32)
    return _apply_branches(index, branches, operands, "switch")


def _apply_branches(index, branches, operands, kind):
    leaves, traced = _trace_branches(branches, operands, kind)
    if kind == "cond":  # branches are (false_fun, true_fun): check in the user's order
        _check_branch_outputs(traced[::-1], ["true_fun", "false_fun"], kind)
    else:
        names = [f"branches[{i}] ({common.fun_name(b)})" for i, b in enumerate(branches)]
        _check_branch_outputs(traced, names, kind)
    if len(branches) == 1:
        outs = common.eval_closed(traced[0][0], *traced[0][1], *leaves)
    else:
        outs = _weak_join(traced, _bind_cond(index, traced, leaves))
    return tree_unflatten(traced[0][2], outs)


def cond(pred, true_fun: Callable, false_fun: Callable, *operands, operand=None):
    """`true_fun(*operands)` if `pred` else `false_fun(*operands)`, as `jax.lax.cond`.

    Both functions are traced and must return the same types; only the chosen one runs.
    The old calling convention `cond(pred, true_operand, true_fun, false_operand,
    false_fun)` is accepted too.

    Args:
      pred: a boolean or numeric scalar (nonzero means true).
      true_fun: called when `pred` is true.
      false_fun: called when `pred` is false.
      *operands: the operands (pytrees of arrays) passed to the chosen function.

    Returns:
      The chosen function's output.

    Examples:
      >>> import jumba.lax as lax
      >>> float(lax.cond(True, lambda x: x + 1.0, lambda x: x - 1.0, 2.0))
      3.0
    """
    if operand is not None:
        operands = (*operands, operand)
    if not callable(true_fun) and len(operands) == 2 and callable(false_fun) and \
            callable(operands[1]):
        # The old convention: cond(pred, true_operand, true_fun, false_operand, false_fun).
        true_op, tf, false_op, ff = true_fun, false_fun, operands[0], operands[1]
        return cond(pred, lambda ops: tf(ops[0]), lambda ops: ff(ops[1]), (true_op, false_op))
    if not callable(true_fun) or not callable(false_fun):
        raise TypeError("cond: true_fun and false_fun must be callables: call "
                        "cond(pred, true_fun, false_fun, *operands).")
    aval = get_aval(pred)
    if aval.shape != ():
        raise TypeError(f"cond: pred must be a scalar, got an array of shape {aval.shape}. "
                        "For elementwise choices use jumba.numpy.where (or lax.select).")
    if aval.dtype != np.bool_ and not dtypes.issubdtype(aval.dtype, np.number):
        raise TypeError(f"cond: pred must be a boolean or a number, got {aval.dtype.name}.")
    from jumba._src.lax import elementwise as ew
    from jumba._src.lax.structural import convert_element_type

    if aval.dtype != np.bool_:
        pred = ew.ne(pred, np.zeros((), aval.dtype))
    index = convert_element_type(pred, np.int32)
    # Branch 0 is false_fun, as in JAX.
    return _apply_branches(index, [false_fun, true_fun], operands, "cond")
