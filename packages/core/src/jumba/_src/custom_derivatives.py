"""User-defined derivative rules: `custom_jvp`, `custom_vjp` and `custom_gradient`.

Eagerly (no transformation active) a decorated function simply runs. Under a
transformation it is traced to a Jaxpr and bound as a call primitive that carries the
user's rule as a Python callable in its params:

- `custom_jvp_call`: impl evaluates the function; its JVP rule calls the user's rule; its
  batching rule vmaps both the function and the rule.
- `custom_vjp_call`: impl evaluates the function; its JVP rule runs the user's `fwd` on the
  primal values and stages one linear `custom_lin` equation on the tangents, whose
  transpose calls the user's `bwd` with the residuals. Under Jumba's direct linearize
  (`ad.linearize_flat`) that is exactly reverse mode; a `custom_lin` evaluated forward is
  forward-mode differentiation, which raises JAX's error.

Values a function closes over that are tracers of an enclosing transformation are hoisted
into explicit leading operands (`num_consts`), so that staged Jaxprs stay self-contained.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from jumba._src import core, dtypes
from jumba._src.core import ClosedJaxpr, Jaxpr, Primitive, Tracer, get_aval
from jumba._src.interpreters import ad, batching
from jumba._src.interpreters import partial_eval as pe
from jumba._src.interpreters.ad import Zero
from jumba._src.runtime.array import Array
from jumba._src.tree_util import tree_flatten, tree_map, tree_unflatten

# ---------------------------------------------------------------------------------------
# Shared helpers (also used by checkpoint)


def fun_name(fun) -> str:
    return getattr(fun, "__name__", None) or type(fun).__name__


def resolve_kwargs(fun, args, kwargs) -> tuple:
    """Keyword arguments turned positional (rules see positional arguments only)."""
    if not kwargs:
        return tuple(args)
    try:
        bound = inspect.signature(fun).bind(*args, **kwargs)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{fun_name(fun)}: could not match the arguments to its signature: "
                        f"{e}") from None
    bound.apply_defaults()
    if bound.kwargs:
        raise TypeError(
            f"{fun_name(fun)}: keyword-only arguments {sorted(bound.kwargs)} are not supported "
            "by custom derivative rules; make them positional, or close over them.")
    return tuple(bound.args)


def check_argnums(argnums, nargs, what) -> tuple[int, ...]:
    out = []
    for i in argnums:
        if not -nargs <= i < nargs:
            raise ValueError(f"{what}: argnum {i} is out of range for a call with {nargs} "
                             "positional arguments.")
        out.append(i % nargs)
    return tuple(sorted(set(out)))


def trace_flat(fun, avals, name, kind) -> tuple[ClosedJaxpr, list]:
    """Trace `fun` (flat args -> flat outputs) to a ClosedJaxpr whose constants are concrete.

    Closed-over tracers of enclosing transformations become leading inputs; returns the
    Jaxpr and those tracers (to pass as the first operands).
    """
    closed = pe.trace_to_jaxpr(fun, avals, fun_name=name, kind=kind)
    jaxpr = closed.jaxpr
    keep_v, keep_c, hoist_v, hoist_c = [], [], [], []
    for v, c in zip(jaxpr.constvars, closed.consts):
        if isinstance(c, Tracer):
            hoist_v.append(v)
            hoist_c.append(c)
        else:
            keep_v.append(v)
            keep_c.append(c)
    if not hoist_v:
        return closed, []
    new = Jaxpr(keep_v, hoist_v + jaxpr.invars, jaxpr.outvars, jaxpr.eqns)
    return ClosedJaxpr(new, keep_c), hoist_c


def eval_closed(closed: ClosedJaxpr, *args):
    return core.eval_jaxpr(closed.jaxpr, closed.consts, *args)


def call_impl(*vals, call_jaxpr, **_):
    """Evaluate a call primitive's Jaxpr on NumPy values (the tier-0 / eager impl)."""
    outs = eval_closed(call_jaxpr, *[core.to_array(v) for v in vals])
    return [core.to_numpy(o) for o in outs]


def call_abstract_eval(*avals, call_jaxpr, **_):
    return list(call_jaxpr.out_avals)


def call_weak_types(*weak, call_jaxpr, **_):
    return [a.weak_type for a in call_jaxpr.out_avals]


def batch_closed(closed: ClosedJaxpr, vals, size, name, kind) -> ClosedJaxpr:
    """The Jaxpr of `closed` vmapped over axis 0 of every input (outputs: axis 0)."""
    def batched(*xs):
        outs, dims = batching.batch_flat(lambda *ys: eval_closed(closed, *ys), xs,
                                         [0] * len(xs), size)
        return [batching.matchaxis(o, d, 0, size) for o, d in zip(outs, dims)]

    out, hoisted = trace_flat(batched, [get_aval(v) for v in vals], name, kind)
    assert not hoisted
    return out


def all_at_front(vals, dims, size) -> list:
    """Every operand batched along axis 0 (unbatched ones broadcast: their cotangents then
    sum over the batch through the broadcast's transpose)."""
    return [batching.bdim_at_front(v, d, size) for v, d in zip(vals, dims)]


def batch_callable(fun, size):
    """`fun` (flat list -> flat list) vmapped over axis 0 of every input; outputs axis 0."""
    def batched(*xs):
        outs, dims = batching.batch_flat(lambda *ys: fun(*ys), xs, [0] * len(xs), size)
        return [batching.matchaxis(o, d, 0, size) for o, d in zip(outs, dims)]

    return batched


def is_linearize_tangent(t) -> bool:
    """Whether a tangent is being staged by reverse mode's direct linearize (rather than
    pushed forward: jvp, jacfwd, or a linearized function being evaluated)."""
    return isinstance(t, pe.DynamicJaxprTracer) and t._trace.main.kind == "linearize"


class SymbolicZero:
    """A zero tangent or cotangent passed to rules declared with `symbolic_zeros=True`."""

    def __init__(self, aval):
        self.aval = aval

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)

    def instantiate(self):
        return ad.zeros_like_aval(self.aval)

    def __repr__(self):
        return f"SymbolicZero({self.aval.str_short()})"


class CustomVJPPrimal:
    """A primal argument of a `symbolic_zeros=True` fwd rule: `value` and whether it is
    `perturbed` (has a non-zero tangent)."""

    def __init__(self, value, perturbed: bool):
        self.value = value
        self.perturbed = perturbed

    def __repr__(self):
        return f"CustomVJPPrimal(value={self.value!r}, perturbed={self.perturbed})"


def _closure_error(kind: str, name: str) -> TypeError:
    return TypeError(
        f"{kind} function {name} closes over a value that is being differentiated (a tracer "
        "of an enclosing grad/jvp). Its rule cannot see that dependence. Pass the value as an "
        f"explicit argument of {name} instead of closing over it.")


def _as_operand(x):
    if isinstance(x, Tracer) or type(x) is Array:
        return x
    return core.to_array(x)


class Rule:
    """A rule held in an equation's params: a callable printed by name (e.g. `f_jvp`)."""

    __slots__ = ("fn", "__name__", "name")

    def __init__(self, fn, name: str, fun_name: str = ""):
        self.fn = fn
        self.__name__ = name
        self.name = fun_name  # the user's function, for error messages

    def __call__(self, *args):
        return self.fn(*args)

    def __repr__(self):
        return self.__name__


def _split_args(self_, args, kwargs, kind):
    """(full positional args, diff argnums, diff leaves, their tree) for a call."""
    args = resolve_kwargs(self_.fun, args, kwargs)
    nondiff = check_argnums(self_.nondiff_argnums, len(args), f"{kind}({self_.__name__})")
    diff_nums = tuple(i for i in range(len(args)) if i not in nondiff)
    leaves, in_tree = tree_flatten(tuple(args[i] for i in diff_nums))
    for x in leaves:
        if not core.is_valid_operand(x) and not hasattr(x, "__array__"):
            raise TypeError(
                f"{kind}({self_.__name__}): argument leaf {x!r} of type {type(x).__name__} is "
                "not an array. Pass arrays (pytrees of arrays), or list the argument in "
                "nondiff_argnums.")
    return args, nondiff, diff_nums, [_as_operand(x) for x in leaves], in_tree


def _rebuild(args, diff_nums, in_tree, leaves):
    """The positional arguments: `args` (a tuple, or a dict of the nondiff ones) with the
    differentiated ones taken from `leaves`."""
    n = len(diff_nums) + (len(args) if isinstance(args, dict) else 0)
    full = [args.get(i) for i in range(n)] if isinstance(args, dict) else list(args)
    for i, v in zip(diff_nums, tree_unflatten(in_tree, leaves)):
        full[i] = v
    return full


# ---------------------------------------------------------------------------------------
# custom_jvp


class custom_jvp:  # noqa: N801 (JAX's name)
    """A function with a custom JVP (forward-mode) rule, as `jax.custom_jvp`.

    Reverse mode follows from the rule by linearization and transposition, so the rule
    must be linear in the tangents.

    Args:
      fun: the primal function.
      nondiff_argnums: positional arguments that are not differentiated (Python values such
        as functions or flags); the rule receives them first.

    Examples:
      >>> import jumba as jb, jumba.numpy as jnp
      >>> @jb.custom_jvp
      ... def log1pexp(x):
      ...     return jnp.log1p(jnp.exp(x))
      >>> @log1pexp.defjvp
      ... def log1pexp_jvp(primals, tangents):
      ...     (x,), (t,) = primals, tangents
      ...     return log1pexp(x), t * (1 - 1 / (1 + jnp.exp(x)))
      >>> float(jb.grad(log1pexp)(100.0))
      1.0
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp: Callable | None = None
        self.symbolic_zeros = False

    def defjvp(self, jvp: Callable, symbolic_zeros: bool = False) -> Callable:
        """Set the rule `jvp(*nondiff_args, primals, tangents) -> (primal_out, tangent_out)`.

        With `symbolic_zeros=True` the rule may receive `SymbolicZero` tangents (and may
        return them) instead of arrays of zeros.
        """
        self.jvp = jvp
        self.symbolic_zeros = bool(symbolic_zeros)
        return jvp

    def defjvps(self, *jvps: Callable | None) -> None:
        """One rule per argument, `rule(tangent, primal_out, *primals)`, giving that
        argument's contribution to the output tangent (None: the argument's contribution is
        zero); the contributions are summed."""
        if self.nondiff_argnums:
            raise TypeError("Can't use defjvps with nondiff_argnums; use defjvp.")

        def jvp(primals, tangents):
            primal_out = self(*primals)
            terms = [rule(t, primal_out, *primals) for rule, t in zip(jvps, tangents)
                     if rule is not None]
            zeros = tree_map(lambda o: ad.zeros_like_aval(ad.tangent_aval(get_aval(o))),
                             primal_out)
            return primal_out, functools.reduce(
                lambda a, b: tree_map(lambda x, y: x + y, a, b), terms, zeros)

        self.defjvp(jvp)

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args, **kwargs):
        name = self.__name__
        if self.jvp is None:
            raise AttributeError(
                f"No JVP defined for custom_jvp function {name} using defjvp. Define the "
                f"rule with @{name}.defjvp (or {name}.defjvps) before calling it.")
        if core._state.eval_only:
            return self.fun(*args, **kwargs)
        args, nondiff, diff_nums, leaves, in_tree = _split_args(self, args, kwargs,
                                                                "custom_jvp")
        store = {}

        def flat_fun(*xs):
            out = self.fun(*_rebuild(args, diff_nums, in_tree, xs))
            out_leaves, store["tree"] = tree_flatten(out)
            return [_as_operand(o) for o in out_leaves]

        closed, hoisted = trace_flat(flat_fun, [get_aval(x) for x in leaves], name,
                                     "custom_jvp")
        out_tree = store["tree"]
        static = {i: args[i] for i in nondiff}  # the rule must not hold the traced args
        jvp = Rule(functools.partial(_custom_jvp_rule_flat, self.jvp, name, static, nondiff,
                                     diff_nums, in_tree, out_tree, self.symbolic_zeros),
                   f"{fun_name(self.jvp)}", name)
        outs = custom_jvp_call_p.bind(*hoisted, *leaves, call_jaxpr=closed, jvp=jvp,
                                      num_consts=len(hoisted),
                                      symbolic_zeros=self.symbolic_zeros)
        return tree_unflatten(out_tree, outs)


def _custom_jvp_rule_flat(rule, name, args, nondiff, diff_nums, in_tree, out_tree,
                          symbolic_zeros, primals, tangents):
    """Call the user's rule on flat primals and tangents; flat (primals_out, tangents_out)
    with the checks JAX makes."""
    primals = tree_unflatten(in_tree, primals)
    tangents = tree_unflatten(in_tree, tangents)
    out = rule(*[args[i] for i in nondiff], tuple(primals), tuple(tangents))
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(
            f"Custom JVP rule of {name} must produce a pair (list or tuple of length two) "
            f"representing primal and tangent outputs, got {out!r:.200}.")
    p_leaves, p_tree = tree_flatten(out[0])
    t_leaves, t_tree = tree_flatten(out[1], is_leaf=lambda x: isinstance(x, SymbolicZero))
    if p_tree != out_tree:
        raise TypeError(
            f"Custom JVP rule of {name} must produce primal outputs with the same container "
            f"(pytree) structure as {name} itself, but {name} returns {out_tree} and the rule "
            f"returns {p_tree}.")
    if p_tree != t_tree:
        raise TypeError(
            f"Custom JVP rule of {name} must produce primal and tangent outputs with equal "
            f"container (pytree) structures, but got {p_tree} and {t_tree} respectively.")
    tangents_out = []
    for p, t in zip(p_leaves, t_leaves):
        pa = get_aval(p)
        if isinstance(t, SymbolicZero) or not dtypes.is_inexact(pa.dtype):
            tangents_out.append(Zero(ad.tangent_aval(pa)))
            continue
        ta = get_aval(t)
        if ta.shape != pa.shape:
            raise ValueError(
                f"Custom JVP rule of {name} must produce primal and tangent outputs with "
                f"equal shapes, but got primal shape {pa.shape} and tangent shape "
                f"{ta.shape}.")
        if ta.dtype != pa.dtype:
            from jumba._src.lax.structural import convert_element_type

            t = convert_element_type(t, pa.dtype)
        tangents_out.append(t)
    return [_as_operand(p) for p in p_leaves], tangents_out


def _prepare_tangents(tangents, symbolic_zeros):
    if symbolic_zeros:
        return [SymbolicZero(t.aval) if type(t) is Zero else t for t in tangents]
    return [ad.instantiate_zeros(t) for t in tangents]


custom_jvp_call_p = Primitive("custom_jvp_call", multiple_results=True)
custom_jvp_call_p.def_impl(call_impl)
custom_jvp_call_p.def_abstract_eval(call_abstract_eval)
custom_jvp_call_p.weak_type_rule = call_weak_types


def _custom_jvp_call_jvp(primals, tangents, *, call_jaxpr, jvp, num_consts, symbolic_zeros):
    if any(type(t) is not Zero for t in tangents[:num_consts]):
        raise _closure_error("custom_jvp", getattr(jvp, "name", "") or "(custom_jvp)")
    outs, tangents_out = jvp(primals[num_consts:],
                             _prepare_tangents(tangents[num_consts:], symbolic_zeros))
    return outs, tangents_out


def _custom_jvp_call_batch(size, vals, dims, *, call_jaxpr, jvp, num_consts,
                           symbolic_zeros):
    vals = all_at_front(vals, dims, size)
    batched_jaxpr = batch_closed(call_jaxpr, vals, size, "custom_jvp", "vmap")

    def batched_jvp(primals, tangents):
        n = len(primals)
        tangents = [ad.zeros_like_aval(t.aval) if isinstance(t, (Zero, SymbolicZero)) else t
                    for t in tangents]
        box = {}

        def flat(*xs):
            outs, touts = jvp(xs[:n], list(xs[n:]))
            box["n"] = len(outs)
            return [*outs, *[ad.instantiate_zeros(t) for t in touts]]

        res = batch_callable(flat, size)(*primals, *tangents)
        return res[:box["n"]], res[box["n"]:]

    outs = custom_jvp_call_p.bind(*vals, call_jaxpr=batched_jaxpr,
                                  jvp=Rule(batched_jvp, f"vmap({jvp.__name__})",
                                           getattr(jvp, "name", "")),
                                  num_consts=num_consts, symbolic_zeros=False)
    return outs, [0] * len(outs)


ad.primitive_jvps[custom_jvp_call_p] = _custom_jvp_call_jvp
batching.primitive_batchers[custom_jvp_call_p] = _custom_jvp_call_batch


# ---------------------------------------------------------------------------------------
# custom_vjp

_FWD_MODE_ERROR = (
    "can't apply forward-mode autodiff (jvp) to a custom_vjp function. A custom_vjp function "
    "only has a reverse-mode rule (fwd/bwd): use grad, vjp or jacrev with it, or define the "
    "function with jumba.custom_jvp if you need forward mode (jvp, jacfwd, linearize).")


class custom_vjp:  # noqa: N801 (JAX's name)
    """A function with a custom VJP (reverse-mode) rule, as `jax.custom_vjp`.

    `fwd(*args) -> (out, residuals)` runs on the forward pass; `bwd(*nondiff_args,
    residuals, out_cotangent) -> tuple` gives one cotangent per differentiated argument
    (None for a zero cotangent). Residuals may be any pytree of arrays. Forward mode (jvp,
    jacfwd) raises, as in JAX.

    Examples:
      >>> import jumba as jb, jumba.numpy as jnp
      >>> @jb.custom_vjp
      ... def clip_gradient(x):
      ...     return x
      >>> clip_gradient.defvjp(lambda x: (x, None),
      ...                      lambda _, g: (jnp.clip(g, -1.0, 1.0),))
      >>> float(jb.grad(lambda x: 5.0 * clip_gradient(x))(2.0))
      1.0
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd: Callable | None = None
        self.bwd: Callable | None = None
        self.symbolic_zeros = False

    def defvjp(self, fwd: Callable, bwd: Callable, symbolic_zeros: bool = False,
               optimize_remat: bool = False) -> None:
        """Set the forward and backward rules.

        With `symbolic_zeros=True`, `fwd` receives `CustomVJPPrimal(value, perturbed)`
        arguments and `bwd` may receive (and return) `SymbolicZero` cotangents.
        `optimize_remat` is accepted for JAX compatibility and has no effect.
        """
        self.fwd, self.bwd = fwd, bwd
        self.symbolic_zeros = bool(symbolic_zeros)

    def __get__(self, obj, objtype=None):
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args, **kwargs):
        name = self.__name__
        if self.fwd is None:
            raise AttributeError(
                f"No VJP defined for custom_vjp function {name} using defvjp. Define the "
                f"rules with {name}.defvjp(fwd, bwd) before calling it.")
        if core._state.eval_only:
            return self.fun(*args, **kwargs)
        args, nondiff, diff_nums, leaves, in_tree = _split_args(self, args, kwargs,
                                                                "custom_vjp")
        for i in nondiff:
            if any(isinstance(x, Tracer) for x in tree_flatten(args[i])[0]):
                raise TypeError(
                    f"custom_vjp({name}): argument {i} is in nondiff_argnums but holds a "
                    "traced array. nondiff_argnums are for Python values (functions, flags, "
                    "sizes); pass arrays as regular arguments and return None as their "
                    "cotangent from bwd.")
        store = {}

        def flat_fun(*xs):
            out = self.fun(*_rebuild(args, diff_nums, in_tree, xs))
            out_leaves, store["tree"] = tree_flatten(out)
            return [_as_operand(o) for o in out_leaves]

        in_avals = [get_aval(x) for x in leaves]
        closed, hoisted = trace_flat(flat_fun, in_avals, name, "custom_vjp")
        out_tree = store["tree"]
        static = {i: args[i] for i in nondiff}  # the rules must not hold the traced args
        common = (self, name, static, nondiff, diff_nums, in_tree, out_tree)
        fwd = Rule(functools.partial(_custom_vjp_fwd_flat, *common), fun_name(self.fwd), name)
        bwd = Rule(functools.partial(_custom_vjp_bwd_flat, *common, in_avals),
                   fun_name(self.bwd), name)
        outs = custom_vjp_call_p.bind(*hoisted, *leaves, call_jaxpr=closed, fwd=fwd, bwd=bwd,
                                      num_consts=len(hoisted),
                                      symbolic_zeros=self.symbolic_zeros)
        return tree_unflatten(out_tree, outs)


def _custom_vjp_fwd_flat(self_, name, args, nondiff, diff_nums, in_tree, out_tree, primals,
                         perturbed):
    """Run the user's fwd: flat (outputs, residual leaves, residual tree)."""
    if self_.symbolic_zeros:
        primals = [CustomVJPPrimal(p, bool(d)) for p, d in zip(primals, perturbed)]
    full = _rebuild(args, diff_nums, in_tree, primals)
    out = self_.fwd(*full)
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(
            f"Custom VJP fwd rule of {name} must produce a pair (list or tuple of length two) "
            "representing primal outputs and residuals (values stored from the forward pass "
            f"for use on the backward pass), got {out!r:.200}.")
    o_leaves, o_tree = tree_flatten(out[0])
    if o_tree != out_tree:
        raise TypeError(
            f"Custom VJP fwd rule of {name} must produce primal outputs with the same "
            f"container (pytree) structure as {name} itself: {name} returns {out_tree}, fwd "
            f"returns {o_tree}.")
    r_leaves, r_tree = tree_flatten(out[1])
    for r in r_leaves:
        if not core.is_valid_operand(r) and not hasattr(r, "__array__"):
            raise TypeError(
                f"Custom VJP fwd rule of {name} returned a residual of type "
                f"{type(r).__name__} ({r!r:.60}); residuals must be pytrees of arrays. Keep "
                "Python values in nondiff_argnums or a closure instead.")
    return [_as_operand(o) for o in o_leaves], [_as_operand(r) for r in r_leaves], r_tree


def _custom_vjp_bwd_flat(self_, name, args, nondiff, diff_nums, in_tree, out_tree, in_avals,
                         res_tree, res, cts):
    """Run the user's bwd: one cotangent array per flat primal input."""
    res = tree_unflatten(res_tree, res)
    cts = tree_unflatten(out_tree, cts)
    out = self_.bwd(*[args[i] for i in nondiff], res, cts)  # args: the nondiff values
    n_args = len(diff_nums)
    if isinstance(out, list):
        out = tuple(out)
    if not isinstance(out, tuple) or len(out) != n_args:
        raise TypeError(
            f"Custom VJP bwd rule of {name} must produce a tuple with one cotangent per "
            f"differentiated argument of {name} ({n_args}), but got "
            f"{type(out).__name__}{'' if not isinstance(out, tuple) else f' of length {len(out)}'}"
            ". Return e.g. `(g_x,)` for one argument (None for a zero cotangent).")
    arg_trees = in_tree.children()
    flat = []
    it = iter(in_avals)
    for k, (ct, tree) in enumerate(zip(out, arg_trees)):
        avals = [next(it) for _ in range(tree.num_leaves)]
        if ct is None or isinstance(ct, SymbolicZero):
            flat += [ad.zeros_like_aval(ad.tangent_aval(a)) for a in avals]
            continue
        leaves, ct_tree = tree_flatten(ct, is_leaf=lambda x: isinstance(x, SymbolicZero))
        if ct_tree != tree:
            raise TypeError(
                f"Custom VJP bwd rule of {name} must produce an output with the same container "
                f"(pytree) structure as the args tuple of the primal function: argument {k} "
                f"has structure {tree}, its cotangent {ct_tree}.")
        for c, a in zip(leaves, avals):
            ta = ad.tangent_aval(a)
            if c is None or isinstance(c, SymbolicZero) or ta.dtype == dtypes.float0:
                flat.append(ad.zeros_like_aval(ta))
                continue
            ca = get_aval(c)
            if ca.shape != a.shape:
                raise ValueError(
                    f"Custom VJP bwd rule of {name} must produce cotangents with the shapes of "
                    f"the primal arguments: argument {k} has shape {a.shape}, its cotangent "
                    f"{ca.shape}.")
            if ca.dtype != a.dtype:
                from jumba._src.lax.structural import convert_element_type

                c = convert_element_type(c, a.dtype)
            flat.append(c)
    return flat


custom_vjp_call_p = Primitive("custom_vjp_call", multiple_results=True)
custom_vjp_call_p.def_impl(call_impl)
custom_vjp_call_p.def_abstract_eval(call_abstract_eval)
custom_vjp_call_p.weak_type_rule = call_weak_types


def _custom_vjp_call_jvp(primals, tangents, *, call_jaxpr, fwd, bwd, num_consts,
                         symbolic_zeros):
    if any(type(t) is not Zero for t in tangents[:num_consts]):
        raise _closure_error("custom_vjp", getattr(fwd, "name", "") or "(custom_vjp)")
    primals, tangents = primals[num_consts:], tangents[num_consts:]
    perturbed = [type(t) is not Zero for t in tangents]
    for t, p in zip(tangents, perturbed):
        if p and not is_linearize_tangent(t):
            raise TypeError(_FWD_MODE_ERROR)
    outs, res, res_tree = fwd(primals, perturbed)
    diff = tuple(dtypes.is_inexact(get_aval(p).dtype) for p in primals)
    lin = [ad.instantiate_zeros(t) for t, d in zip(tangents, diff) if d]
    out_avals = tuple(ad.tangent_aval(get_aval(o)) for o in outs)
    touts = custom_lin_p.bind(*res, *lin, num_res=len(res),
                              bwd=Rule(functools.partial(bwd, res_tree), getattr(bwd, "__name__",
                                                                                   "bwd")),
                              diff=diff, out_avals=out_avals, symbolic_zeros=symbolic_zeros)
    return outs, touts


def _custom_vjp_call_batch(size, vals, dims, *, call_jaxpr, fwd, bwd, num_consts,
                           symbolic_zeros):
    vals = all_at_front(vals, dims, size)
    batched_jaxpr = batch_closed(call_jaxpr, vals, size, "custom_vjp", "vmap")

    def batched_fwd(primals, perturbed):
        box = {}

        def flat(*xs):
            outs, res, box["tree"] = fwd(list(xs), perturbed)
            box["n"] = len(outs)
            return [*outs, *res]

        got = batch_callable(flat, size)(*primals)
        return got[:box["n"]], got[box["n"]:], box["tree"]

    def batched_bwd(res_tree, res, cts):
        n = len(res)
        cts = [c.instantiate() if isinstance(c, SymbolicZero) else c for c in cts]
        return batch_callable(lambda *xs: bwd(res_tree, list(xs[:n]), list(xs[n:])),
                              size)(*res, *cts)

    outs = custom_vjp_call_p.bind(*vals, call_jaxpr=batched_jaxpr,
                                  fwd=Rule(batched_fwd, f"vmap({fwd.__name__})", fwd.name),
                                  bwd=Rule(batched_bwd, f"vmap({bwd.__name__})", bwd.name),
                                  num_consts=num_consts,
                                  symbolic_zeros=symbolic_zeros)
    return outs, [0] * len(outs)


def _custom_vjp_call_transpose(cts, *invals, call_jaxpr, fwd, bwd, num_consts,
                               symbolic_zeros):
    # Reached only when a custom_vjp function is applied to tangents, inside another rule
    # (e.g. custom_linear_solve's JVP). Tangent maps are linear, so the function is linear
    # in those operands and its VJP is the same at every point: take it at zero.
    if any(ad.is_undefined_primal(x) for x in invals[:num_consts]):
        raise _closure_error("custom_vjp", getattr(fwd, "name", "") or "(custom_vjp)")
    args = invals[num_consts:]
    linear = [ad.is_undefined_primal(x) for x in args]
    primals = [ad.zeros_like_aval(x.aval) if u else x for x, u in zip(args, linear)]
    _, res, res_tree = fwd(primals, linear)
    cts = _prepare_tangents(cts, symbolic_zeros)
    cts_in = bwd(res_tree, res, cts)
    return [None] * num_consts + [c if u else None for c, u in zip(cts_in, linear)]


ad.primitive_jvps[custom_vjp_call_p] = _custom_vjp_call_jvp
ad.primitive_transposes[custom_vjp_call_p] = _custom_vjp_call_transpose
batching.primitive_batchers[custom_vjp_call_p] = _custom_vjp_call_batch


# custom_lin: the linear tangent map of a custom_vjp function, staged by linearize. Its
# transpose is the user's bwd; evaluating it forward is forward-mode differentiation.
custom_lin_p = Primitive("custom_lin", multiple_results=True)


def _custom_lin_forward(*args, **params):
    raise TypeError(_FWD_MODE_ERROR)


custom_lin_p.def_impl(_custom_lin_forward)
custom_lin_p.def_abstract_eval(lambda *avals, out_avals, **_: list(out_avals))


def _custom_lin_transpose(cts, *invals, num_res, bwd, diff, out_avals, symbolic_zeros):
    res = list(invals[:num_res])
    cts = _prepare_tangents(cts, symbolic_zeros)
    cts_in = bwd(res, cts)
    return [None] * num_res + [c for c, d in zip(cts_in, diff) if d]


ad.primitive_jvps[custom_lin_p] = lambda primals, tangents, **params: _custom_lin_forward()
ad.primitive_transposes[custom_lin_p] = _custom_lin_transpose
batching.primitive_batchers[custom_lin_p] = \
    lambda size, vals, dims, **params: _custom_lin_forward()


# ---------------------------------------------------------------------------------------
# custom_gradient


def custom_gradient(fun: Callable) -> Callable:
    """A function whose gradient is given by the function itself, as `jax.custom_gradient`.

    `fun(*args)` returns `(out, vjp_fn)` where `vjp_fn(out_cotangent)` returns one
    cotangent per argument (a tuple). The backward pass calls `fun` again on the saved
    arguments to obtain `vjp_fn` (so it may close over anything `fun` computes).

    Examples:
      >>> import jumba as jb, jumba.numpy as jnp
      >>> @jb.custom_gradient
      ... def f(x):
      ...     return x ** 2, lambda g: (g * 10.0,)
      >>> float(jb.grad(f)(3.0))
      10.0
    """
    def primal(*args):
        return fun(*args)[0]

    primal.__name__ = fun_name(fun)
    wrapped = custom_vjp(primal)

    def fwd(*args):
        return fun(*args)[0], args

    def bwd(args, g):
        cts = fun(*args)[1](g)
        if not isinstance(cts, (tuple, list)):
            cts = (cts,)  # JAX allows a bare cotangent for a one-argument function
        return tuple(cts)

    wrapped.defvjp(fwd, bwd)
    functools.update_wrapper(wrapped, fun)
    return wrapped


def closure_convert(fun: Callable, *example_args) -> tuple[Callable, list[Any]]:
    """As `jax.closure_convert`: returns `(converted, consts)` where `converted(*args,
    *consts)` equals `fun(*args)` and closed-over traced values are explicit in `consts`."""
    leaves, in_tree = tree_flatten(example_args)
    store = {}

    def flat(*xs):
        out = fun(*tree_unflatten(in_tree, xs))
        o, store["tree"] = tree_flatten(out)
        return o

    closed, hoisted = trace_flat(flat, [get_aval(x) for x in leaves], fun_name(fun),
                                 "closure_convert")
    n = len(hoisted)

    def converted(*args_and_consts):
        args, consts = args_and_consts[:len(args_and_consts) - n], \
            args_and_consts[len(args_and_consts) - n:]
        flat_args, tree = tree_flatten(args)
        if tree != in_tree:
            raise TypeError(f"closure_convert: the arguments' structure {tree} differs from "
                            f"the example's {in_tree}")
        outs = eval_closed(closed, *consts, *flat_args)
        return tree_unflatten(store["tree"], outs)

    return converted, list(hoisted)

