"""Lifted transformations: jumba's jit, vmap, scan, checkpoint, ... over modules.

A lifted transform turns the module call into a pure function of (the module's variables, rng
keys, arguments) -> (output, updated variables), applies the jumba transformation to that, and
writes the updated variables back. Each works on a Module class (``nn.jit(nn.Dense)``) or on a
function whose first argument is a module (``nn.scan(lambda cell, c, x: cell(c, x), ...)``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import jumba
import jumba.lax as lax
import jumba.numpy as jnp
import jumba.random as jr
from jumba.tree_util import tree_leaves, tree_map
from jumba_nn._src.module import Module, _Frame


class _Broadcast:
    def __repr__(self):
        return "broadcast"


broadcast = _Broadcast()
"""Marks an argument of ``scan``'s ``in_axes`` that is passed whole to every step."""


def _filter(spec, name: str) -> bool:
    """Flax collection filters: True/False, a name, or a collection of names."""
    if spec is True or spec is False:
        return spec
    if isinstance(spec, str):
        return spec == name
    if spec is None:
        return False
    return name in spec


def _detached(module: Module) -> Module:
    cls = type(module).__dict__.get("_lift_base") or type(module)
    kwargs = {}
    for f in module.__dataclass_fields__.values():
        if f.init and f.name not in ("parent", "name"):
            kwargs[f.name] = module._state.sources.get(f.name, getattr(module, f.name))
    return cls(parent=None, **kwargs)


def _inner_apply(inner: Module, variables, rngs, is_mutable, initializing, fn, args, kwargs,
                 outer=None):
    frame = _Frame(variables, rngs, is_mutable, initializing)
    if outer is not None and outer[0].call_log is not None:
        # tabulate: calls inside the transformation are listed under the lifted module's path.
        frame.call_log = outer[0].call_log
        frame.log_prefix = outer[0].log_prefix + tuple(outer[1])
    out = fn(inner._bound_root(frame), *args, **kwargs)
    return out, {c: v for c, v in frame.variables.items() if is_mutable(c)}


def _outer_state(module: Module):
    frame = module._frame
    if frame is None:
        raise RuntimeError(f"A lifted transformation of {type(module).__name__} needs a bound "
                           "module (call it inside init/apply).")
    path = module.path
    sub = {}
    for col in frame.variables:
        node = frame.subtree(col, path)
        if node is not None:
            sub[col] = node
    return frame, path, sub


def _write_back(frame: _Frame, path, new: Mapping):
    for col, tree in new.items():
        if frame.is_mutable(col) and (tree or frame.subtree(col, path) is not None):
            frame.set_subtree(col, path, tree)


def _rng_keys(module: Module, frame: _Frame) -> dict:
    return {name: module.make_rng(name) for name in frame.rngs}


def _lift(target, make_lifted: Callable, methods=None, prefix: str = ""):
    """Applies ``make_lifted(fn)`` to a function or to the methods of a Module class (whose
    name gets ``prefix``, as Flax names ``JitDense``, ``ScanBlock``, ...)."""
    if isinstance(target, type) and issubclass(target, Module):
        methods = ["__call__"] if methods is None else list(methods)
        attrs = {"_lift_base": target, "setup": lambda self: None}
        for name in methods:
            lifted = make_lifted(lambda m, *a, _n=name, **k: getattr(m, _n)(*a, **k))

            def method(self, *args, _lifted=lifted, **kwargs):
                return _lifted(self, *args, **kwargs)

            method.__name__ = name
            method.nowrap = True
            attrs[name] = method
        attrs["__module__"] = target.__module__
        return type(prefix + target.__name__, (target,), attrs)
    return make_lifted(target)


# ------------------------------------------------------------------------------------- jit

_JIT_CACHE: dict = {}


def _cache_key(*parts):
    try:
        key = tuple(parts)
        hash(key)
        return key
    except TypeError:
        return None


def _module_fields(module):
    return tuple((f.name, getattr(module, f.name)) for f in module.__dataclass_fields__.values()
                 if f.name not in ("parent", "name"))


def jit(target, variables=True, rngs=True, static_argnums=(), static_argnames=(),
        donate_argnums=(), device=None, backend=None, methods=None):
    """Compiles a module (class) or a function of a module with ``jumba.jit``.

    Static arguments are counted without the module (``static_argnums=(0,)`` is the first
    argument after it).
    """
    static_argnums = (static_argnums,) if isinstance(static_argnums, int) else static_argnums

    def make(fn):
        def lifted(module, *args, **kwargs):
            frame, path, sub = _outer_state(module)
            keys = _rng_keys(module, frame)
            inner = _detached(module)
            key = _cache_key(fn, type(inner), _module_fields(inner), frame.initializing,
                             tuple(sorted(kwargs.items())), _mut_sig(frame, sub))
            jitted = _JIT_CACHE.get(key) if key is not None else None
            if jitted is None:
                def pure(sub, keys, *args):
                    return _inner_apply(inner, sub, keys, frame.is_mutable, frame.initializing,
                                        fn, args, kwargs, outer=(frame, path))

                jitted = jumba.jit(pure, static_argnums=tuple(i + 2 for i in static_argnums))
                if key is not None:
                    if len(_JIT_CACHE) > 256:
                        _JIT_CACHE.clear()
                    _JIT_CACHE[key] = jitted
            out, new = jitted(sub, keys, *args)
            _write_back(frame, path, new)
            return out

        return lifted

    return _lift(target, make, methods, "Jit")


def _mut_sig(frame, sub):
    cols = set(sub) | {"params", "batch_stats", "cache", "intermediates"}
    return tuple(sorted(c for c in cols if frame.is_mutable(c)))


# ------------------------------------------------------------------------------ checkpoint

def checkpoint(target, variables=True, rngs=True, concrete=False, prevent_cse=True,
               static_argnums=(), policy=None, methods=None):
    """Rematerialises a module's activations in the backward pass (``jumba.checkpoint``)."""

    def make(fn):
        def lifted(module, *args, **kwargs):
            frame, path, sub = _outer_state(module)
            keys = _rng_keys(module, frame)
            inner = _detached(module)

            def pure(sub, keys, *args):
                return _inner_apply(inner, sub, keys, frame.is_mutable, frame.initializing, fn,
                                    args, kwargs, outer=(frame, path))

            out, new = jumba.checkpoint(pure, prevent_cse=prevent_cse, policy=policy)(
                sub, keys, *args)
            _write_back(frame, path, new)
            return out

        return lifted

    return _lift(target, make, methods, "Checkpoint")


remat = checkpoint


# ------------------------------------------------------------------------------------ vmap

def vmap(target, variable_axes: Mapping[str, int | None] | None = None,
         split_rngs: Mapping[str, bool] | None = None, in_axes=0, out_axes=0,
         axis_size: int | None = None, axis_name: str | None = None, spmd_axis_name=None,
         metadata_params=None, methods=None):
    """Vectorises a module over a batch axis.

    Args:
      target: a Module class or a function ``fn(module, *args)``.
      variable_axes: per collection, the axis of its batched copies (e.g. ``{"params": 0}``
        gives each batch element its own parameters) or None to share one copy.
        Collections not listed are shared.
      split_rngs: per rng stream, whether each batch element gets its own key
        (``{"params": True}`` for independent initialisation).
      in_axes, out_axes, axis_size, axis_name: as in ``jumba.vmap``.
    """
    variable_axes = dict(variable_axes or {})
    split_rngs = dict(split_rngs or {})

    def make(fn):
        def lifted(module, *args, **kwargs):
            frame, path, sub = _outer_state(module)
            keys = _rng_keys(module, frame)
            inner = _detached(module)
            size = axis_size or _axis_size(args, in_axes)
            split = {n for n in keys if split_rngs.get(n, split_rngs.get(True, False)) is True}
            keys = {n: (jr.split(k, size) if n in split else k) for n, k in keys.items()}
            out_cols = sorted(c for c in set(sub) | set(variable_axes) if frame.is_mutable(c))

            def pure(sub, keys, *args):
                out, new = _inner_apply(inner, sub, keys, frame.is_mutable, frame.initializing,
                                        fn, args, kwargs, outer=(frame, path))
                return out, {c: new.get(c, {}) for c in out_cols}

            sub_axes = {c: variable_axes.get(c) for c in sub}
            key_axes = {n: (0 if n in split else None) for n in keys}
            args_axes = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
            mapped = jumba.vmap(pure, in_axes=(sub_axes, key_axes) + tuple(args_axes),
                                out_axes=(out_axes, {c: variable_axes.get(c) for c in out_cols}),
                                axis_size=size, axis_name=axis_name)
            out, new = mapped(sub, keys, *args)
            _write_back(frame, path, new)
            return out

        return lifted

    return _lift(target, make, methods, "Vmap")


def _axis_size(args, in_axes):
    axes = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args)
    for arg, ax in zip(args, axes):
        if ax is None:
            continue
        for leaf in tree_leaves(arg):
            return jnp.shape(leaf)[ax]
    raise ValueError("nn.vmap could not infer the batch size: give axis_size= or a mapped "
                     "array argument.")


# ------------------------------------------------------------------------------------ scan

def _cols(spec, names) -> set:
    return {c for c in names if _filter(spec, c)}


def scan(target, variable_axes: Mapping[str, int] | None = None, variable_broadcast=False,
         variable_carry=False, split_rngs: Mapping[str, bool] | None = None, in_axes=0,
         out_axes=0, length: int | None = None, reverse: bool = False, unroll: int = 1,
         data_transform=None, metadata_params=None, methods=None, _split_transpose=False):
    """Loops a module over a sequence with ``lax.scan``: ``fn(module, carry, *xs) -> (carry, y)``.

    Args:
      target: a Module class whose ``__call__(carry, *xs)`` returns ``(carry, y)``, or such a
        function of a module.
      variable_axes: collections with one copy per step, stacked on axis 0
        (e.g. ``{"params": 0}`` for a stack of layers).
      variable_broadcast: collections shared by all steps (e.g. "params" for an RNN cell);
        created before the loop during init.
      variable_carry: collections threaded through the steps (read and written each step).
      split_rngs: per stream, whether each step gets its own key.
      in_axes, out_axes: the scanned axis of the inputs/outputs (``broadcast`` for an input
        passed whole to every step).
      length, reverse, unroll: as in ``lax.scan``.
    """
    variable_axes = dict(variable_axes or {})
    split_rngs = dict(split_rngs or {})

    def make(fn):
        def lifted(module, carry, *xs, **kwargs):
            frame, path, sub = _outer_state(module)
            names = set(sub) | set(variable_axes) | {"params", "batch_stats", "cache",
                                                      "intermediates"}
            bcast = _cols(variable_broadcast, names)
            carried = _cols(variable_carry, names)
            axis_cols = set(variable_axes)
            axes = in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(xs)
            scanned = [i for i, a in enumerate(axes) if a is not broadcast]
            xs_s = [tree_map(lambda a, ax=axes[i]: jnp.moveaxis(a, ax, 0), xs[i]) if axes[i]
                    else xs[i] for i in scanned]
            n = length or (jnp.shape(tree_leaves(xs_s)[0])[0] if xs_s else None)
            if n is None:
                raise ValueError("nn.scan needs length= when no input is scanned.")
            keys = _rng_keys(module, frame)
            split = {k for k in keys if split_rngs.get(k, split_rngs.get(True, False)) is True}
            inner = _detached(module)

            def assemble(step_xs):
                it = iter(step_xs)
                return tuple(next(it) if a is not broadcast else x for x, a in zip(xs, axes))

            if frame.initializing:
                # Broadcast and carried collections must exist before the loop: create them by
                # running one step (on the first slice) outside it.
                first = [tree_map(lambda a: a[0], x) for x in xs_s]
                step_keys = {k: (jr.split(v, n)[0] if k in split else v) for k, v in keys.items()}
                _, created = _inner_apply(inner, sub, step_keys, frame.is_mutable, True, fn,
                                          (carry,) + assemble(first), kwargs, outer=(frame, path))
                for col in bcast | carried:
                    if col in created and col not in sub:
                        sub[col] = created[col]
                        _write_back(frame, path, {col: created[col]})

            bvars = {c: sub[c] for c in bcast if c in sub}
            cvars = {c: sub[c] for c in carried if c in sub}
            avars = {c: sub[c] for c in axis_cols if c in sub}
            init_axis = frame.initializing and any(c not in sub for c in axis_cols)

            def mutable_in_loop(c):
                return frame.is_mutable(c) and c not in bcast

            step_keys_all = {k: jr.split(v, n) for k, v in keys.items() if k in split}
            const_keys = {k: v for k, v in keys.items() if k not in split}

            def body(c_all, x_all):
                c, cv = c_all
                step_xs, av, sk = x_all
                variables = {**bvars, **cv, **av}
                (c2, y), new = _inner_apply(inner, variables, {**const_keys, **sk},
                                            mutable_in_loop, init_axis, fn,
                                            (c,) + assemble(step_xs), kwargs, outer=(frame, path))
                new_cv = {k: new.get(k, cv[k]) for k in cv}
                new_av = {k: new[k] for k in axis_cols if k in new and frame.is_mutable(k)}
                return (c2, new_cv), (y, new_av)

            (carry, cvars), (ys, new_av) = lax.scan(
                body, (carry, cvars), (xs_s, avars, step_keys_all), length=n, reverse=reverse,
                unroll=unroll)
            _write_back(frame, path, {k: v for k, v in cvars.items() if frame.is_mutable(k)})
            _write_back(frame, path, new_av)
            if out_axes:
                ys = tree_map(lambda a: jnp.moveaxis(a, 0, out_axes), ys)
            return carry, ys

        return lifted

    return _lift(target, make, methods, "Scan")


# ----------------------------------------------------------------------- small combinators

def map_variables(target, mapped_collections="params", trans_in_fn: Callable = lambda x: x,
                  trans_out_fn: Callable = lambda x: x, init: bool = False,
                  mutable: bool = False, rngs=True, variables=True, methods=None):
    """Calls a module with its ``mapped_collections`` transformed by ``trans_in_fn``.

    ``trans_in_fn`` maps the module's collection subtree (a dict) to the one it sees; with
    ``mutable=True`` the values it writes are mapped back by ``trans_out_fn``.
    """
    cols = [mapped_collections] if isinstance(mapped_collections, str) else \
        list(mapped_collections)

    def make(fn):
        def lifted(module, *args, **kwargs):
            frame, path, sub = _outer_state(module)
            inner = _detached(module)
            keys = _rng_keys(module, frame)
            if frame.initializing and any(c not in sub for c in cols):
                _, created = _inner_apply(inner, sub, keys, frame.is_mutable, True, fn, args,
                                          kwargs, outer=(frame, path))
                for c in cols:
                    if c in created:
                        sub[c] = created[c]
                        _write_back(frame, path, {c: created[c]})
            seen = dict(sub)
            for c in cols:
                seen[c] = trans_in_fn(sub.get(c, {}))
            is_mut = (lambda c: frame.is_mutable(c)) if mutable else \
                (lambda c: frame.is_mutable(c) and c not in cols)
            out, new = _inner_apply(inner, seen, keys, is_mut, False, fn, args, kwargs,
                                    outer=(frame, path))
            for c in cols:
                if c in new:
                    new[c] = trans_out_fn(new[c])
            _write_back(frame, path, new)
            return out

        return lifted

    return _lift(target, make, methods, "MapVariables")


def cond(pred, true_fun: Callable, false_fun: Callable, mdl: Module, *operands):
    """``lax.cond`` over two functions of a module; both must create the same variables."""
    frame, path, sub = _outer_state(mdl)
    keys = _rng_keys(mdl, frame)
    inner = _detached(mdl)
    if frame.initializing:
        for f in (true_fun, false_fun):
            _, created = _inner_apply(inner, sub, keys, frame.is_mutable, True, f, operands, {},
                                      outer=(frame, path))
            sub.update({c: v for c, v in created.items() if c not in sub})
        _write_back(frame, path, sub)

    def branch(f):
        return lambda sub, keys, *ops: _inner_apply(inner, sub, keys, frame.is_mutable, False,
                                                    f, ops, {}, outer=(frame, path))

    out, new = lax.cond(pred, branch(true_fun), branch(false_fun), sub, keys, *operands)
    _write_back(frame, path, new)
    return out


def switch(index, branches, mdl: Module, *operands):
    """``lax.switch`` over functions of a module; all must create the same variables."""
    frame, path, sub = _outer_state(mdl)
    keys = _rng_keys(mdl, frame)
    inner = _detached(mdl)
    if frame.initializing:
        for f in branches:
            _, created = _inner_apply(inner, sub, keys, frame.is_mutable, True, f, operands, {},
                                      outer=(frame, path))
            sub.update({c: v for c, v in created.items() if c not in sub})
        _write_back(frame, path, sub)
    fns = [functools.partial(lambda f, sub, keys, *ops: _inner_apply(
        inner, sub, keys, frame.is_mutable, False, f, ops, {},
        outer=(frame, path)), f) for f in branches]
    out, new = lax.switch(index, fns, sub, keys, *operands)
    _write_back(frame, path, new)
    return out


def while_loop(cond_fn: Callable, body_fn: Callable, mdl: Module, init, carry_variables=False,
               broadcast_variables=True, split_rngs=None):
    """``lax.while_loop`` with ``cond_fn(mdl, c)`` and ``body_fn(mdl, c)``.

    Variables are read-only inside the loop except the ``carry_variables`` collections.
    """
    frame, path, sub = _outer_state(mdl)
    keys = _rng_keys(mdl, frame)
    inner = _detached(mdl)
    carried = {c for c in sub if _filter(carry_variables, c)}
    const = {c: v for c, v in sub.items() if c not in carried}

    def c_fn(state):
        c, cv = state
        return _inner_apply(inner, {**const, **cv}, keys, lambda _: False, False,
                            cond_fn, (c,), {}, outer=(frame, path))[0]

    def b_fn(state):
        c, cv = state
        out, new = _inner_apply(inner, {**const, **cv}, keys, lambda col: col in carried, False,
                                body_fn, (c,), {}, outer=(frame, path))
        return out, {k: new.get(k, cv[k]) for k in cv}

    c, cv = lax.while_loop(c_fn, b_fn, (init, {k: sub[k] for k in carried}))
    _write_back(frame, path, {k: v for k, v in cv.items() if frame.is_mutable(k)})
    return c


def _initialized_state(mdl: Module, fn: Callable, args):
    """The module's state, after creating its variables by one plain call during init."""
    frame, path, sub = _outer_state(mdl)
    keys = _rng_keys(mdl, frame)
    inner = _detached(mdl)
    if frame.initializing:
        _, created = _inner_apply(inner, sub, keys, frame.is_mutable, True, fn, args, {},
                                  outer=(frame, path))
        _write_back(frame, path, created)
        sub = {**sub, **created}
    return frame, path, sub, keys, inner


def grad(fn: Callable, mdl: Module, *primals, has_aux=False, reduce_axes=(),
         variables=True):
    """Gradients of ``fn(mdl, *primals)`` w.r.t. the primals, inside a module.

    Returns:
      A tuple with one gradient per primal (a single gradient for one primal).
    """
    out = value_and_grad(fn, mdl, *primals, has_aux=has_aux)
    return out[1]


def value_and_grad(fn: Callable, mdl: Module, *primals, has_aux=False, reduce_axes=(),
                   variables=True):
    """``(value, grads)`` of ``fn(mdl, *primals)`` w.r.t. the primals, inside a module."""
    frame, path, sub, keys, inner = _initialized_state(mdl, fn, primals)

    def pure(*xs):
        out, _ = _inner_apply(inner, sub, keys, lambda _: False, False, fn, xs, {},
                              outer=(frame, path))
        return out

    argnums = tuple(range(len(primals)))
    value, grads = jumba.value_and_grad(pure, argnums=argnums, has_aux=has_aux)(*primals)
    if len(primals) == 1:
        grads = grads[0]
    return value, grads


def jvp(fn: Callable, mdl: Module, primals, tangents, variable_tangents=None, rngs=True,
        variables=True):
    """``jumba.jvp`` of ``fn(mdl, *primals)``; ``variable_tangents`` are tangents of the
    module's collections (e.g. ``{"params": ...}``).

    Returns:
      ``(out, out_tangent)``.
    """
    frame, path, sub, keys, inner = _initialized_state(mdl, fn, tuple(primals))
    var_t = dict(variable_tangents or {})
    vt_cols = sorted(var_t)

    def pure(vs, *xs):
        merged = {**sub, **vs}
        return _inner_apply(inner, merged, keys, lambda _: False, False, fn, xs, {},
                            outer=(frame, path))[0]

    vs = {c: sub[c] for c in vt_cols}
    vt = {c: var_t[c] for c in vt_cols}
    return jumba.jvp(pure, (vs,) + tuple(primals), (vt,) + tuple(tangents))


def vjp(fn: Callable, mdl: Module, *primals, has_aux=False, reduce_axes=(),
        vjp_variables="params", variables=True, rngs=True):
    """``jumba.vjp`` of ``fn(mdl, *primals)``.

    Returns:
      ``(out, vjp_fn)`` where ``vjp_fn(cotangent)`` returns ``(variable_grads, *input_grads)``
      with ``variable_grads`` a dict of the ``vjp_variables`` collections.
    """
    frame, path, sub, keys, inner = _initialized_state(mdl, fn, primals)
    cols = [vjp_variables] if isinstance(vjp_variables, str) else list(vjp_variables)
    vs = {c: sub[c] for c in cols if c in sub}

    def pure(vs, *xs):
        return _inner_apply(inner, {**sub, **vs}, keys, lambda _: False, False, fn, xs, {},
                            outer=(frame, path))[0]

    return jumba.vjp(pure, vs, *primals, has_aux=has_aux)


def custom_vjp(fn: Callable, forward_fn: Callable, backward_fn: Callable,
               grad_vars="params", nondiff_argnums=()):
    """A module function with a custom VJP.

    ``forward_fn(mdl, *args) -> (out, residuals)``; ``backward_fn(residuals, g) ->
    (variable_grads, *arg_grads)`` where ``variable_grads`` holds the ``grad_vars``
    collections.
    """
    cols = [grad_vars] if isinstance(grad_vars, str) else list(grad_vars)

    def lifted(mdl: Module, *args):
        frame, path, sub = _outer_state(mdl)
        keys = _rng_keys(mdl, frame)
        inner = _detached(mdl)
        if frame.initializing:
            return fn(mdl, *args)
        const = {c: v for c, v in sub.items() if c not in cols}

        def run(f, vs, xs):
            return _inner_apply(inner, {**const, **vs}, keys, lambda _: False, False, f, xs,
                                {}, outer=(frame, path))[0]

        @jumba.custom_vjp
        def pure(vs, *xs):
            return run(fn, vs, xs)

        def fwd(vs, *xs):
            return run(forward_fn, vs, xs)

        def bwd(res, g):
            return tuple(backward_fn(res, g))

        pure.defvjp(fwd, bwd)
        return pure({c: sub[c] for c in cols if c in sub}, *args)

    return lifted


def named_call(fn: Callable, name: str | None = None) -> Callable:
    """Returns ``fn`` unchanged (jumba's traces carry no call names)."""
    return fn



def fold_rngs(target, variables=True, rngs=True, methods=None):
    """Runs a module with rng streams folded into fresh keys per call (a pass-through lift)."""

    def make(fn):
        def lifted(module, *args, **kwargs):
            frame, path, sub = _outer_state(module)
            keys = _rng_keys(module, frame)
            out, new = _inner_apply(_detached(module), sub, keys, frame.is_mutable,
                                    frame.initializing, fn, args, kwargs, outer=(frame, path))
            _write_back(frame, path, new)
            return out

        return lifted

    return _lift(target, make, methods, "FoldRngs")


def remat_scan(body_fn, lengths=(), policy=None, variable_broadcast=False,
               variable_carry=False, variable_axes=None, split_rngs=None):
    """Stacks ``prod(lengths)`` rematerialised copies of a Module class applied in sequence.

    ``body_fn`` is a Module class whose ``__call__(x)`` returns the next ``x``; its parameters
    get one leading axis per entry of ``lengths`` (``(2, 3)``: a 2 x 3 stack of layers).
    """
    variable_axes = variable_axes or {"params": 0}
    split_rngs = split_rngs or {"params": True}

    def step_call(self, c):
        return body_fn.__call__(self, c), None

    step_call.nowrap = True
    cls = checkpoint(type(body_fn.__name__, (body_fn,), {"__call__": step_call}), policy=policy)
    for n in reversed(tuple(lengths)):
        cls = scan(cls, variable_axes=variable_axes, variable_broadcast=variable_broadcast,
                   variable_carry=variable_carry, split_rngs=split_rngs, length=n)

    def call(self, c):
        return cls.__call__(self, c)[0]

    call.nowrap = True
    return type("RematScan" + body_fn.__name__, (cls,),
                {"__call__": call, "_lift_base": cls.__dict__["_lift_base"]})
