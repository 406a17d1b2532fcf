"""Shared machinery of the control-flow primitives: tracing user functions to Jaxprs, type
checks with readable errors, and the Jaxpr-to-Jaxpr transformations their rules use
(JVP, linearize into a primal and a linear part, batching, transposition).

A control-flow primitive's params hold ClosedJaxprs of its bodies. Jaxprs traced from user
functions have their constants hoisted into leading operands (so that values closed over
from an enclosing transformation are seen by it); Jaxprs built by the rules below may keep
concrete constants in `ClosedJaxpr.consts`.
"""

from __future__ import annotations

import numpy as np

from jumba._src import core, dtypes
from jumba._src.core import ClosedJaxpr, Jaxpr, ShapedArray, Tracer, get_aval
from jumba._src.interpreters import ad, batching
from jumba._src.interpreters import partial_eval as pe
from jumba._src.interpreters.ad import UndefinedPrimal, Zero
from jumba._src.tree_util import keystr, tree_flatten, tree_flatten_with_path, tree_unflatten

# ---------------------------------------------------------------------------------------
# Tracing user functions


def fun_name(f) -> str:
    return getattr(f, "__name__", None) or type(f).__name__


def trace_pytree_fun(f, args_tree, in_avals, *, name, kind):
    """Trace `f(*tree_unflatten(args_tree, leaves))` on `in_avals`.

    Returns (jaxpr, consts, out_tree): `jaxpr` takes the constants first, then the leaves
    (its own `consts` are empty), so the constants become operands of the primitive.
    """
    store = {}

    def flat_fun(*leaves):
        out = f(*tree_unflatten(args_tree, leaves))
        out_leaves, store["tree"] = tree_flatten(out)
        for x in out_leaves:
            if not core.is_valid_operand(x) and not hasattr(x, "__array__"):
                raise TypeError(
                    f"{kind}: {name} returned a leaf {x!r} of type {type(x).__name__}, which "
                    "is not an array. Return arrays (or pytrees of arrays) from the function.")
        return out_leaves

    closed = pe.trace_to_jaxpr(flat_fun, in_avals, fun_name=name, kind=kind)
    return hoist_consts(closed), list(closed.consts), store["tree"]


def hoist_consts(closed: ClosedJaxpr) -> ClosedJaxpr:
    """The same program with its constants as leading inputs."""
    j = closed.jaxpr
    return ClosedJaxpr(Jaxpr([], j.constvars + j.invars, j.outvars, j.eqns), [])


def describe_value(x) -> str:
    if isinstance(x, (tuple, list)):
        return f"a {type(x).__name__} of length {len(x)}"
    if core.is_valid_operand(x):
        return f"an array of shape {get_aval(x).shape}"
    return f"a value of type {type(x).__name__}"


def abstractify(x) -> ShapedArray:
    return get_aval(x)


def eval_closed(closed: ClosedJaxpr, *args):
    return core.eval_jaxpr(closed.jaxpr, closed.consts, *args)


# Bodies run on NumPy through the tier-0 executor (a generated function calling the
# primitives' implementations: no tracing machinery per iteration), one per ClosedJaxpr.
# Keyed by id, holding the ClosedJaxpr so that the id stays unique; bounded.
_EXECUTABLES: dict[int, tuple] = {}


def body_runner(closed: ClosedJaxpr):
    """A function from a list of NumPy values to the list of `closed`'s outputs."""
    hit = _EXECUTABLES.get(id(closed))
    if hit is not None and hit[0] is closed:
        return hit[1]
    from jumba._src.compiler.numpy_executor import NumpyExecutable

    try:
        exe = NumpyExecutable(closed, "body")
    except Exception:  # the interpreter is always there: never fail on codegen
        def exe(args, closed=closed):
            arrays = [core.to_array(a) for a in args]
            return [core.to_numpy(o) for o in eval_closed(closed, *arrays)]
    if len(_EXECUTABLES) >= 512:
        _EXECUTABLES.clear()
    _EXECUTABLES[id(closed)] = (closed, exe)
    return exe


def run_numpy(closed: ClosedJaxpr, args):
    """Evaluate eagerly on NumPy values (the tier-0 implementation of a body)."""
    return [np.asarray(o) for o in body_runner(closed)(list(args))]


def out_weak_rule(closed_of):
    """A weak_type_rule giving the weak flags of a body Jaxpr's outputs."""
    def rule(*weak, **params):
        return [a.weak_type for a in closed_of(params)]
    return rule


# ---------------------------------------------------------------------------------------
# Type checks with readable errors


def _paths(tree, n):
    leaves_with_path, _ = tree_flatten_with_path(tree_unflatten(tree, list(range(n))))
    return [keystr(p) for p, _ in leaves_with_path]


def _str(a: ShapedArray) -> str:
    weak = "{weak_type=True}" if a.weak_type else ""
    return a.str_short() + weak


def check_tree_match(what_in, tree_in, what_out, tree_out, prefix):
    if tree_in != tree_out:
        raise TypeError(f"{prefix}: {what_in} and {what_out} must have the same pytree "
                        f"structure, but they differ:\n  {what_in}: {tree_in}\n"
                        f"  {what_out}: {tree_out}")


def type_mismatches(tree, avals_a, avals_b, ignore_weak=True):
    """(path, a, b) for each leaf whose types differ."""
    paths = _paths(tree, len(avals_a))
    out = []
    for p, a, b in zip(paths, avals_a, avals_b):
        if a.shape != b.shape or a.dtype != b.dtype or (not ignore_weak and
                                                         a.weak_type != b.weak_type):
            out.append((p or "(root)", a, b))
    return out


def describe_mismatches(mismatches, name_a, name_b) -> str:
    return "\n".join(f"  * at {p}: {name_a} has type {_str(a)} but {name_b} has type {_str(b)}"
                     for p, a, b in mismatches)


def promote_weak_carry(init_leaves, in_avals, out_avals):
    """JAX's rule for carries: a weakly typed initial value takes the type of the body's
    output when only weak typing (or a weak dtype) differs. Returns new leaves or None."""
    changed = False
    new = list(init_leaves)
    for i, (x, a, b) in enumerate(zip(init_leaves, in_avals, out_avals)):
        if a == b or a.shape != b.shape:
            continue
        if a.dtype == b.dtype and a.weak_type and not b.weak_type:
            new[i] = _convert(x, b.dtype, False)
            changed = True
        elif a.weak_type and a.dtype != b.dtype and \
                np.result_type(a.dtype, b.dtype) == b.dtype:
            new[i] = _convert(x, b.dtype, b.weak_type)
            changed = True
    return new if changed else None


def _convert(x, dtype, weak):
    from jumba._src.lax.structural import convert_element_type_p

    return convert_element_type_p.bind(x, new_dtype=np.dtype(dtype), weak_type=bool(weak))


def match_aval(x, aval: ShapedArray):
    """`x` with `aval`'s dtype (rules' outputs feed carries of fixed types)."""
    a = get_aval(x)
    if a.dtype != aval.dtype:
        return _convert(x, aval.dtype, aval.weak_type)
    return x


def zeros(aval: ShapedArray):
    """Zeros of `aval`, staged (a broadcast of a scalar) when tracing."""
    from jumba._src.lax.structural import broadcast_in_dim

    return broadcast_in_dim(np.zeros((), aval.dtype), aval.shape, ())


# ---------------------------------------------------------------------------------------
# Forward mode


def nonzero_tangents(tangents):
    return [type(t) is not Zero for t in tangents]


def _instantiate_ok(aval, inst):
    # Only inexact values have tangents to instantiate (integers' are float0, always zero).
    return inst and dtypes.is_inexact(aval.dtype)


def jvp_jaxpr(closed: ClosedJaxpr, nonzeros, instantiate):
    """The JVP of `closed` as one Jaxpr: (primals, nonzero tangents) -> (outputs, nonzero
    output tangents). Returns (jaxpr, nonzeros_out)."""
    in_avals = closed.in_avals
    n = len(in_avals)
    store = {}

    def fun(*args):
        primals, it = args[:n], iter(args[n:])
        tangents = [next(it) if nz else Zero(ad.tangent_aval(a))
                    for a, nz in zip(in_avals, nonzeros)]
        outs, touts = ad.jvp_flat(lambda *xs: eval_closed(closed, *xs), primals, tangents,
                                  instantiate=False)
        inst = instantiate if isinstance(instantiate, (list, tuple)) else \
            [instantiate] * len(outs)
        nz_out = []
        for i, (o, t) in enumerate(zip(outs, touts)):
            aval = get_aval(o)
            if type(t) is Zero and _instantiate_ok(aval, inst[i]):
                touts[i] = zeros(ad.tangent_aval(aval))
            nz_out.append(type(touts[i]) is not Zero)
        store["nz"] = nz_out
        return list(outs) + [t for t in touts if type(t) is not Zero]

    tan_avals = [ad.tangent_aval(a) for a, nz in zip(in_avals, nonzeros) if nz]
    jaxpr = pe.trace_to_jaxpr(fun, list(in_avals) + tan_avals, fun_name="jvp", kind="jvp")
    return jaxpr, store["nz"]


def linearize_jaxpr(closed: ClosedJaxpr, nonzeros, instantiate):
    """Split the JVP of `closed` into a primal part and a linear tangent part.

    Returns (primal, tangent, nonzeros_out, num_res) where
      primal:  inputs -> outputs + residuals (the values the tangent part needs, per call)
      tangent: residuals + nonzero input tangents -> nonzero output tangents (linear in
               the tangents; values that depend on no input stay its constants).
    This is how the JVP of a loop becomes a primal loop, run at once, and a linear loop
    that reverse mode can transpose (JAX's partial evaluation of scan and cond).
    """
    in_avals = closed.in_avals
    store = {}

    def fun(*primals):
        builder = pe.JaxprBuilder("linearized", kind="linearize")
        with core.new_main(pe.DynamicJaxprTrace, builder, kind="linearize") as main:
            trace = main.trace = pe.DynamicJaxprTrace(main)
            tangents, tracers = [], []
            for a, nz in zip(in_avals, nonzeros):
                if nz:
                    t = trace.new_arg(ad.tangent_aval(a))
                    tracers.append(t)
                    tangents.append(t)
                else:
                    tangents.append(Zero(ad.tangent_aval(a)))
            outs, touts = ad.jvp_flat(lambda *xs: eval_closed(closed, *xs), primals,
                                      tangents, instantiate=False)
            inst = instantiate if isinstance(instantiate, (list, tuple)) else \
                [instantiate] * len(outs)
            nz_out, out_tracers = [], []
            for i, (o, t) in enumerate(zip(outs, touts)):
                aval = get_aval(o)
                if type(t) is Zero and _instantiate_ok(aval, inst[i]):
                    t = ad.zeros_like_aval(ad.tangent_aval(aval))
                nz_out.append(type(t) is not Zero)
                if type(t) is not Zero:
                    out_tracers.append(trace.full_raise(t))
            lin = builder.build(tracers, out_tracers)
        # Residuals that are values of this trace vary per call: they become outputs of the
        # primal part. Concrete ones (constants of the body) stay constants of the tangent
        # part.
        res_vars, res_vals, const_vars, const_vals = [], [], [], []
        for v, c in zip(lin.jaxpr.constvars, lin.consts):
            if isinstance(c, Tracer):
                res_vars.append(v)
                res_vals.append(c)
            else:
                const_vars.append(v)
                const_vals.append(c)
        j = lin.jaxpr
        store["tangent"] = ClosedJaxpr(
            Jaxpr(const_vars, res_vars + j.invars, j.outvars, j.eqns), const_vals)
        store["nz"] = nz_out
        store["num_res"] = len(res_vals)
        return list(outs) + res_vals

    primal = pe.trace_to_jaxpr(fun, list(in_avals), fun_name="linearize", kind="linearize")
    return primal, store["tangent"], store["nz"], store["num_res"]


def permute_invars(closed: ClosedJaxpr, order) -> ClosedJaxpr:
    """`closed` with its inputs reordered: new input i is old input order[i]."""
    j = closed.jaxpr
    return ClosedJaxpr(Jaxpr(j.constvars, [j.invars[i] for i in order], j.outvars, j.eqns),
                       closed.consts)


# ---------------------------------------------------------------------------------------
# Reverse mode


def transpose_jaxpr(closed: ClosedJaxpr, linear, ct_avals=None) -> ClosedJaxpr:
    """The transpose of `closed`, linear in the inputs flagged `linear`:
    (non-linear inputs, output cotangents) -> cotangents of the linear inputs (zeros
    instantiated)."""
    in_avals = closed.in_avals
    ct_avals = ct_avals or [ad.tangent_aval(a) for a in closed.out_avals]
    n_res = sum(not lin for lin in linear)

    def fun(*args):
        res, cts = iter(args[:n_res]), list(args[n_res:])
        ins = [UndefinedPrimal(a) if lin else next(res) for a, lin in zip(in_avals, linear)]
        cts_in = ad.backward_pass(closed.jaxpr, closed.consts, ins, cts)
        out = []
        for a, lin, ct in zip(in_avals, linear, cts_in):
            if lin:
                out.append(zeros(a) if ct is None or type(ct) is Zero else match_aval(ct, a))
        return out

    res_avals = [a for a, lin in zip(in_avals, linear) if not lin]
    return pe.trace_to_jaxpr(fun, res_avals + list(ct_avals), fun_name="transpose",
                             kind="transpose")


def check_linear_operands(name, args, linear):
    """Operands that are not linear must be known when transposing."""
    for a, lin in zip(args, linear):
        if not lin and ad.is_undefined_primal(a):
            raise NotImplementedError(
                f"Transpose of {name}: a non-linear operand depends on the linear inputs. "
                "This Jaxpr is not linear in the inputs being transposed.")


def instantiate_cts(cts, avals):
    return [ad.zeros_like_aval(a) if type(c) is Zero or c is None else c
            for c, a in zip(cts, avals)]


# ---------------------------------------------------------------------------------------
# Batching


def batch_jaxpr(closed: ClosedJaxpr, size: int, batched, instantiate, axis_name=None):
    """`closed` vectorised over a leading axis of size `size` on the inputs flagged in
    `batched`. Returns (jaxpr, out_batched); outputs flagged in `instantiate` are batched
    (broadcast) even when they do not depend on a batched input."""
    in_avals = closed.in_avals
    batched_avals = [a.update(shape=(size, *a.shape)) if b else a
                     for a, b in zip(in_avals, batched)]
    store = {}

    def fun(*args):
        dims = [0 if b else None for b in batched]
        outs, out_dims = batching.batch_flat(lambda *xs: _eval_for_batching(closed, xs),
                                             args, dims, size, axis_name)
        inst = instantiate if isinstance(instantiate, (list, tuple)) else \
            [instantiate] * len(outs)
        res, out_b = [], []
        for o, d, i in zip(outs, out_dims, inst):
            if d is None and not i:
                res.append(o)
                out_b.append(False)
            else:
                res.append(batching.bdim_at_front(o, d, size))
                out_b.append(True)
        store["out_batched"] = out_b
        return res

    jaxpr = pe.trace_to_jaxpr(fun, batched_avals, fun_name="vmap", kind="vmap")
    return jaxpr, store["out_batched"]


def _eval_for_batching(closed: ClosedJaxpr, args):
    """eval_jaxpr, with add_any bound as add: add_any's batching rule does not broadcast
    an unbatched operand against a batched one, which a staged (traced) add_any rejects;
    add does, and is the same operation on tangents of equal types."""
    from jumba._src.lax.elementwise import add_p

    jaxpr = closed.jaxpr
    if not any(e.primitive is ad.add_any_p for e in jaxpr.eqns):
        return eval_closed(closed, *args)
    env = dict(zip(jaxpr.constvars, closed.consts))
    env.update(zip(jaxpr.invars, args))

    def read(v):
        return v.val if type(v) is core.Literal else env[v]

    for eqn in jaxpr.eqns:
        prim = add_p if eqn.primitive is ad.add_any_p else eqn.primitive
        out = prim.bind(*[read(v) for v in eqn.inputs], **eqn.params)
        env.update(zip(eqn.outputs, out if prim.multiple_results else [out]))
    return [read(v) for v in jaxpr.outvars]


def to_front(x, d, size, want: bool):
    """Move a batch axis to the front (or broadcast an unbatched value when `want`)."""
    if d is None:
        return batching.bdim_at_front(x, None, size) if want else x
    return batching.moveaxis(x, d, 0)
