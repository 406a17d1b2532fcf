"""Rematerialisation: `checkpoint` / `remat` and the saving policies.

`checkpoint(f)` traces `f` to a Jaxpr and binds it as one `checkpoint` equation. Its
forward value is the body's; the difference is in reverse mode. Under Jumba's direct
linearize, differentiating an ordinary function saves every intermediate value its tangent
operations use (the linear Jaxpr's constants). Differentiating a checkpointed one instead
stages a single linear `remat_lin` equation that keeps only the body's *inputs* (plus the
values the policy says to save); its transpose re-runs the body's forward computation on
those inputs (linearizing it again) and transposes that. Staged (jit, make_jaxpr), the
recomputation is wrapped in a `checkpoint` equation of its own, so common-subexpression
elimination cannot merge it with the forward pass (JAX's `prevent_cse`).

Policies are JAX's: `policy(prim, *avals, **params) -> bool` says whether the output of an
equation may be saved rather than recomputed (`checkpoint_name` marks values by name).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from types import SimpleNamespace

from jumba._src import core, dtypes
from jumba._src.core import Primitive, Tracer, get_aval
from jumba._src.custom_derivatives import (
    batch_closed,
    call_abstract_eval,
    call_impl,
    call_weak_types,
    eval_closed,
    fun_name,
    is_linearize_tangent,
    resolve_kwargs,
    trace_flat,
)
from jumba._src.interpreters import ad, batching, tape
from jumba._src.interpreters.ad import Zero
from jumba._src.tree_util import tree_flatten, tree_unflatten

# ---------------------------------------------------------------------------------------
# Names and policies


name_p = Primitive("name")
name_p.def_impl(lambda x, *, name: x)
name_p.def_abstract_eval(lambda x, *, name: x)
name_p.weak_type_rule = core.all_weak
ad.deflinear(name_p, lambda ct, x, *, name: [ct])
batching.defvectorized(name_p)


def checkpoint_name(x, name: str):
    """Tag `x` with `name`, for the `save_only_these_names`-style policies (identity)."""
    from jumba._src.tree_util import tree_map

    return tree_map(lambda v: name_p.bind(v, name=name), x)


def _is_dot(prim) -> bool:
    return prim.name == "dot_general"


def everything_saveable(prim, *avals, **params) -> bool:
    """Save every value: no recomputation (as without checkpoint)."""
    return True


def nothing_saveable(prim, *avals, **params) -> bool:
    """Save only the inputs: recompute everything on the backward pass (the default)."""
    return False


def dots_saveable(prim, *avals, **params) -> bool:
    """Save the results of matrix products; recompute the rest."""
    return _is_dot(prim)


checkpoint_dots = dots_saveable


def dots_with_no_batch_dims_saveable(prim, *avals, **params) -> bool:
    """Save the results of matrix products without batch dimensions."""
    if not _is_dot(prim):
        return False
    (_, (lhs_batch, _)) = params["dimension_numbers"]
    return not lhs_batch


def save_only_these_names(*names: str) -> Callable:
    """A policy saving only the values tagged by `checkpoint_name` with one of `names`."""
    wanted = frozenset(names)

    def policy(prim, *avals, **params):
        return prim is name_p and params["name"] in wanted

    policy.__name__ = f"save_only_these_names{tuple(sorted(wanted))}"
    return policy


def save_any_names_but_these(*names: str) -> Callable:
    """A policy saving every named value except those tagged with one of `names`."""
    excluded = frozenset(names)

    def policy(prim, *avals, **params):
        return prim is name_p and params["name"] not in excluded

    policy.__name__ = f"save_any_names_but_these{tuple(sorted(excluded))}"
    return policy


def save_anything_except_these_names(*names: str) -> Callable:
    """A policy saving every value except those tagged with one of `names`."""
    excluded = frozenset(names)

    def policy(prim, *avals, **params):
        return not (prim is name_p and params["name"] in excluded)

    policy.__name__ = f"save_anything_except_these_names{tuple(sorted(excluded))}"
    return policy


def save_from_both_policies(policy_1: Callable, policy_2: Callable) -> Callable:
    """A policy saving what either policy saves."""
    def policy(prim, *avals, **params):
        return policy_1(prim, *avals, **params) or policy_2(prim, *avals, **params)

    return policy


checkpoint_policies = SimpleNamespace(
    everything_saveable=everything_saveable,
    nothing_saveable=nothing_saveable,
    dots_saveable=dots_saveable,
    checkpoint_dots=checkpoint_dots,
    dots_with_no_batch_dims_saveable=dots_with_no_batch_dims_saveable,
    checkpoint_dots_with_no_batch_dims=dots_with_no_batch_dims_saveable,
    save_only_these_names=save_only_these_names,
    save_any_names_but_these=save_any_names_but_these,
    save_anything_except_these_names=save_anything_except_these_names,
    save_from_both_policies=save_from_both_policies,
)


# ---------------------------------------------------------------------------------------
# checkpoint


def checkpoint(fun: Callable, *, prevent_cse: bool = True, policy: Callable | None = None,
               static_argnums: int | Sequence[int] = ()) -> Callable:
    """Make `fun` recompute its intermediate values on the backward pass instead of storing
    them (as `jax.checkpoint` / `jax.remat`): less memory, more compute.

    Args:
      fun: the function to rematerialise.
      prevent_cse: keep the recomputation apart from the forward pass in staged programs
        (Jumba always stages it in its own equation, so this is accepted and always on).
      policy: which intermediate values may be saved, e.g.
        `jumba.checkpoint_policies.dots_saveable` (default: none, recompute all).
      static_argnums: positional arguments that are Python values, not arrays.

    Examples:
      >>> import jumba as jb, jumba.numpy as jnp
      >>> f = jb.checkpoint(lambda x: jnp.sin(jnp.sin(x)))
      >>> round(float(jb.grad(f)(1.0)), 4)
      0.36
    """
    if fun is None or not callable(fun):
        raise TypeError(f"checkpoint expects a callable, got {type(fun).__name__}")
    statics = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    name = fun_name(fun)
    policy = nothing_saveable if policy is None else policy

    @functools.wraps(fun)
    def remat_f(*args, **kwargs):
        if core._state.eval_only:
            return fun(*args, **kwargs)  # no transformation: nothing to save or recompute
        args = resolve_kwargs(fun, args, kwargs)
        static = {i % len(args) for i in statics}
        dyn_nums = [i for i in range(len(args)) if i not in static]
        leaves, in_tree = tree_flatten(tuple(args[i] for i in dyn_nums))
        leaves = [x if isinstance(x, Tracer) or type(x) is core.Array else core.to_array(x)
                  for x in leaves]
        store = {}

        def flat_fun(*xs):
            full = list(args)
            for i, v in zip(dyn_nums, tree_unflatten(in_tree, xs)):
                full[i] = v
            out_leaves, store["tree"] = tree_flatten(fun(*full))
            return out_leaves

        closed, hoisted = trace_flat(flat_fun, [get_aval(x) for x in leaves], name,
                                     "checkpoint")
        outs = remat_p.bind(*hoisted, *leaves, call_jaxpr=closed, prevent_cse=prevent_cse,
                            policy=policy, differentiated=False)
        return tree_unflatten(store["tree"], outs)

    return remat_f


remat = checkpoint


remat_p = Primitive("checkpoint", multiple_results=True)
remat_p.def_impl(call_impl)
remat_p.def_abstract_eval(call_abstract_eval)
remat_p.weak_type_rule = call_weak_types


def _forward_saving(closed, primals, policy):
    """Evaluate the body on `primals`; returns (outputs, saved values, their positions)."""
    jaxpr = closed.jaxpr
    env = dict(zip(jaxpr.constvars, closed.consts))
    env.update(zip(jaxpr.invars, primals))

    def read(v):
        return v.val if type(v) is core.Literal else env[v]

    saved, where = [], []
    for i, eqn in enumerate(jaxpr.eqns):
        out = eqn.primitive.bind(*[read(v) for v in eqn.inputs], **eqn.params)
        outs = out if eqn.primitive.multiple_results else [out]
        env.update(zip(eqn.outputs, outs))
        if policy is not nothing_saveable and policy(
                eqn.primitive, *[v.aval for v in eqn.inputs], **eqn.params):
            for k, o in enumerate(outs):
                saved.append(o)
                where.append((i, k))
    return [read(v) for v in jaxpr.outvars], saved, tuple(where)


def _remat_jvp(primals, tangents, *, call_jaxpr, prevent_cse, policy, differentiated):
    if policy is everything_saveable or not any(is_linearize_tangent(t) for t in tangents):
        # Forward mode (or nothing to recompute): the body's JVP.
        return ad.jvp_flat(lambda *xs: eval_closed(call_jaxpr, *xs), primals, tangents,
                           instantiate=False)
    outs, saved, where = _forward_saving(call_jaxpr, primals, policy)
    diff = tuple(dtypes.is_inexact(get_aval(p).dtype) for p in primals)
    lin = [ad.instantiate_zeros(t) for t, d in zip(tangents, diff) if d]
    touts = remat_lin_p.bind(*primals, *saved, *lin, call_jaxpr=call_jaxpr, saved_at=where,
                             diff=diff, prevent_cse=prevent_cse, policy=policy)
    return outs, touts


def _remat_batch(size, vals, dims, *, call_jaxpr, prevent_cse, policy, differentiated):
    vals = [batching.bdim_at_front(v, d, size) for v, d in zip(vals, dims)]
    batched = batch_closed(call_jaxpr, vals, size, "checkpoint", "vmap")
    outs = remat_p.bind(*vals, call_jaxpr=batched, prevent_cse=prevent_cse, policy=policy,
                        differentiated=differentiated)
    return outs, [0] * len(outs)


ad.primitive_jvps[remat_p] = _remat_jvp
batching.primitive_batchers[remat_p] = _remat_batch


# remat_lin: the tangent map of a checkpointed body at saved inputs. Operands: the body's
# primal inputs, the values the policy saved, then the tangents of the inexact inputs.
remat_lin_p = Primitive("remat_lin", multiple_results=True)


def _split_lin(args, call_jaxpr, saved_at, diff):
    n = len(call_jaxpr.jaxpr.invars)
    primals, rest = list(args[:n]), list(args[n:])
    saved, lin = rest[:len(saved_at)], rest[len(saved_at):]
    it = iter(lin)
    tangents = [next(it) if d else Zero(ad.tangent_aval(get_aval(p)))
                for p, d in zip(primals, diff)]
    return primals, saved, tangents


def _remat_lin_forward(*args, call_jaxpr, saved_at, diff, prevent_cse, policy):
    """Forward evaluation (jvp of a linearized function): the body's tangents."""
    primals, _, tangents = _split_lin(args, call_jaxpr, saved_at, diff)
    _, touts = ad.jvp_flat(lambda *xs: eval_closed(call_jaxpr, *xs), primals, tangents)
    return touts


remat_lin_p.def_impl(lambda *vals, **params: [
    core.to_numpy(o) for o in _remat_lin_forward(*[core.to_array(v) for v in vals],
                                                 **params)])
remat_lin_p.def_abstract_eval(lambda *avals, call_jaxpr, **_: [
    ad.tangent_aval(a) for a in call_jaxpr.out_avals])


def _remat_lin_jvp(primals, tangents, **params):
    return ad.jvp_flat(lambda *xs: _remat_lin_forward(*xs, **params), primals, tangents,
                       instantiate=False)


def _remat_lin_batch(size, vals, dims, **params):
    return batching.batch_flat(lambda *xs: _remat_lin_forward(*xs, **params), vals, dims,
                               size)


def _eval_with_saved(closed, saved_at, primals, saved):
    """The body on `primals` where the policy's saved values replace what their equations
    compute (their tangents are still derived, from recomputed operands)."""
    jaxpr = closed.jaxpr
    env = dict(zip(jaxpr.constvars, closed.consts))
    env.update(zip(jaxpr.invars, primals))
    by_eqn: dict = {}
    for (i, k), val in zip(saved_at, saved):
        by_eqn.setdefault(i, {})[k] = val

    def read(v):
        return v.val if type(v) is core.Literal else env[v]

    for i, eqn in enumerate(jaxpr.eqns):
        out = eqn.primitive.bind(*[read(v) for v in eqn.inputs], **eqn.params)
        outs = list(out) if eqn.primitive.multiple_results else [out]
        for k, val in by_eqn.get(i, {}).items():
            o = outs[k]
            # Keep the tangent, take the saved primal (the recomputed one is then dead code).
            if isinstance(o, ad.JVPTracer):
                outs[k] = ad.JVPTracer(o._trace, val, o.tangent)
            elif isinstance(o, tape.TapeTracer):  # eager reverse mode: keep the tape node
                outs[k] = tape.TapeTracer(o._trace, val, o.node)
            else:
                outs[k] = val
        env.update(zip(eqn.outputs, outs))
    return [read(v) for v in jaxpr.outvars]


def _remat_lin_transpose(cts, *invals, call_jaxpr, saved_at, diff, prevent_cse, policy):
    n = len(call_jaxpr.jaxpr.invars)
    primals, saved = list(invals[:n]), list(invals[n:n + len(saved_at)])
    cts = [ad.instantiate_zeros(c) for c in cts]
    n_saved = len(saved)

    def backward(*args):
        ps, sv, cs = args[:n], args[n:n + n_saved], args[n + n_saved:]
        _, f_vjp = ad.vjp_flat(lambda *xs: _eval_with_saved(call_jaxpr, saved_at, xs, sv), ps)
        return [c for c, d in zip(f_vjp(list(cs)), diff) if d]

    operands = [*primals, *saved, *cts]
    if not any(isinstance(x, Tracer) for x in operands):
        cts_in = backward(*operands)  # eager: recompute at once
    else:
        # Staged: the recomputation goes in its own checkpoint equation, apart from the
        # forward pass (so CSE cannot fold it back into the saved values).
        from jumba._src.compiler.passes import dce

        closed, hoisted = trace_flat(backward, [get_aval(x) for x in operands],
                                     "checkpoint_bwd", "checkpoint")
        cts_in = remat_p.bind(*hoisted, *operands, call_jaxpr=dce(closed),
                              prevent_cse=prevent_cse, policy=policy, differentiated=True)
    return [None] * (n + n_saved) + list(cts_in)


ad.primitive_jvps[remat_lin_p] = _remat_lin_jvp
ad.primitive_transposes[remat_lin_p] = _remat_lin_transpose
batching.primitive_batchers[remat_lin_p] = _remat_lin_batch
