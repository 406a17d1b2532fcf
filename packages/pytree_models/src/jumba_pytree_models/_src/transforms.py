"""Filtered transformations: grad, vmap, pmap, jvp, vjp, jacobians, eval_shape,
make_jaxpr and checkpoint over arbitrary pytrees (arrays transformed, the rest static)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jumba
import jumba.numpy as jnp
from jumba import tree_util as jtu
from jumba_pytree_models._src.filters import (
    combine,
    if_array,
    is_array,
    is_inexact_array,
    partition,
)

__all__ = [
    "filter_checkpoint",
    "filter_eval_shape",
    "filter_grad",
    "filter_hessian",
    "filter_jacfwd",
    "filter_jacrev",
    "filter_jvp",
    "filter_make_jaxpr",
    "filter_pmap",
    "filter_value_and_grad",
    "filter_vjp",
    "filter_vmap",
    "nondifferentiable",
    "nondifferentiable_backward",
]


class _Dyn:
    __slots__ = ()


_DYN = _Dyn()


def _split(tree, pred=is_array):
    """(selected leaves, template with _DYN at their places, treedef)."""
    leaves, treedef = jtu.tree_flatten(tree)
    dyn, template = [], []
    for x in leaves:
        if pred(x):
            dyn.append(x)
            template.append(_DYN)
        else:
            template.append(x)
    return dyn, template, treedef


def _join(dyn, template, treedef):
    it = iter(dyn)
    return treedef.unflatten([next(it) if s is _DYN else s for s in template])


def _wraps(fun):
    def deco(wrapper):
        try:
            return functools.wraps(fun)(wrapper)
        except AttributeError:
            return wrapper
    return deco


def _maybe_decorator(transform):
    """Lets ``transform`` be used as ``@transform`` and ``@transform(**options)``."""
    @functools.wraps(transform)
    def wrapper(fun=None, **kwargs):
        if fun is None:
            return functools.partial(transform, **kwargs)
        return transform(fun, **kwargs)
    return wrapper


# --------------------------------------------------------------------------------------
# Gradients


@_maybe_decorator
def filter_value_and_grad(fun: Callable, *, has_aux: bool = False) -> Callable:
    """``value_and_grad`` with respect to the floating-point arrays of the first argument.

    Other leaves of the first argument (integer arrays, Python scalars, functions,
    static fields) are held constant; their gradient is ``None``.

    Returns:
        ``(value, grads)`` (``((value, aux), grads)`` with ``has_aux``); ``grads`` has the
        first argument's structure with ``None`` at non-differentiated leaves.
    """
    @_wraps(fun)
    def wrapper(x, *args, **kwargs):
        diff_x, nondiff_x = partition(x, is_inexact_array)
        store = {}

        def inner(d):
            out = fun(combine(d, nondiff_x), *args, **kwargs)
            if not has_aux:
                return out
            value, aux = out
            # Non-array auxiliary outputs (strings, functions) pass around the trace.
            aux_dyn, template, aux_def = _split(aux)
            store["aux"] = (template, aux_def)
            return value, aux_dyn

        out, grads = jumba.value_and_grad(inner, has_aux=has_aux)(diff_x)
        if has_aux:
            value, aux_dyn = out
            out = (value, _join(aux_dyn, *store["aux"]))
        return out, grads

    return wrapper


@_maybe_decorator
def filter_grad(fun: Callable, *, has_aux: bool = False) -> Callable:
    """``grad`` with respect to the floating-point arrays of the first argument.

    Examples:
        >>> import jumba.numpy as jnp
        >>> g = filter_grad(lambda p: jnp.sum(p["w"] * p["scale"]))
        >>> g({"w": jnp.ones(2), "scale": 3})["w"].tolist()
        [3.0, 3.0]
    """
    vg = filter_value_and_grad(fun, has_aux=has_aux)

    @_wraps(fun)
    def wrapper(*args, **kwargs):
        value, grads = vg(*args, **kwargs)
        if has_aux:
            return grads, value[1]
        return grads

    return wrapper


def _diff_first_arg(transform, fun, has_aux):
    @_wraps(fun)
    def wrapper(x, *args, **kwargs):
        diff_x, nondiff_x = partition(x, is_inexact_array)

        def inner(d):
            return fun(combine(d, nondiff_x), *args, **kwargs)

        return transform(inner, has_aux=has_aux)(diff_x)

    return wrapper


def filter_jacfwd(fun: Callable, has_aux: bool = False) -> Callable:
    """Forward-mode Jacobian with respect to the first argument's floating arrays."""
    return _diff_first_arg(jumba.jacfwd, fun, has_aux)


def filter_jacrev(fun: Callable, has_aux: bool = False) -> Callable:
    """Reverse-mode Jacobian with respect to the first argument's floating arrays."""
    return _diff_first_arg(jumba.jacrev, fun, has_aux)


def filter_hessian(fun: Callable, has_aux: bool = False) -> Callable:
    """Hessian with respect to the first argument's floating arrays."""
    return _diff_first_arg(jumba.hessian, fun, has_aux)


def filter_jvp(fn: Callable, primals: tuple, tangents: tuple, **kwargs: Any):
    """Jacobian-vector product over the floating arrays of ``primals``.

    Args:
        fn: the function, called as ``fn(*primals, **kwargs)`` (keyword arguments are not
            differentiated).
        primals: the positional arguments (any pytrees).
        tangents: like ``primals``, with a tangent for each floating array and ``None``
            elsewhere (a ``None`` tangent for a floating array means zero).

    Returns:
        ``(out, tangent_out)``; ``tangent_out`` is ``None`` at non-array outputs.
    """
    p_leaves, p_def = jtu.tree_flatten(tuple(primals))
    try:
        t_subtrees = p_def.flatten_up_to(tuple(tangents))
    except ValueError:
        t_subtrees = jtu.tree_flatten(tuple(tangents), is_leaf=lambda t: t is None)[0]
        if len(t_subtrees) != len(p_leaves):
            raise ValueError("filter_jvp: tangents must have the structure of primals "
                             "(None for leaves that are not floating arrays).") from None
    diff_idx = [i for i, x in enumerate(p_leaves) if is_inexact_array(x)]
    diff_p = [p_leaves[i] for i in diff_idx]
    diff_t = [jnp.zeros_like(p_leaves[i]) if t_subtrees[i] is None else t_subtrees[i]
              for i in diff_idx]
    store = {}

    def inner(*d):
        leaves = list(p_leaves)
        for i, v in zip(diff_idx, d):
            leaves[i] = v
        out = fn(*p_def.unflatten(leaves), **kwargs)
        dyn, template, out_def = _split(out, is_array)
        store["out"] = (template, out_def)
        return dyn

    out_dyn, t_dyn = jumba.jvp(inner, tuple(diff_p), tuple(diff_t))
    template, out_def = store["out"]
    out = _join(out_dyn, template, out_def)
    t_template = [s if s is _DYN else None for s in template]
    return out, _join(t_dyn, t_template, out_def)


def filter_vjp(fun: Callable, *primals: Any, has_aux: bool = False):
    """Vector-Jacobian product over the floating arrays of ``primals``.

    Returns:
        ``(out, vjp_fn)`` (``(out, vjp_fn, aux)`` with ``has_aux``); ``vjp_fn(cotangent)``
        takes a cotangent shaped like the array parts of ``out`` (``None`` elsewhere) and
        returns a tuple like ``primals`` with ``None`` at non-floating leaves.
    """
    diff, nondiff = partition(tuple(primals), is_inexact_array)
    store = {}

    def inner(d):
        out = fun(*combine(d, nondiff))
        if has_aux:
            out, aux = out
            store["aux"] = aux
        dyn, template, out_def = _split(out, is_array)
        store["out"] = (template, out_def)
        return dyn

    out_dyn, vjp_dyn = jumba.vjp(inner, diff)
    template, out_def = store["out"]
    out = _join(out_dyn, template, out_def)

    def vjp_fn(cotangent):
        ct_leaves = out_def.flatten_up_to(cotangent)
        cts = [jnp.zeros_like(o) if c is None else c
               for c, o in zip([c for c, s in zip(ct_leaves, template) if s is _DYN],
                               out_dyn)]
        (grads,) = vjp_dyn(cts)
        return grads

    if has_aux:
        return out, vjp_fn, store["aux"]
    return out, vjp_fn


# --------------------------------------------------------------------------------------
# vmap / pmap

_ARRAYS_AT_0 = if_array(0)  # the default in_axes/out_axes: map every array along axis 0


def _resolve_axes(tree, spec, check=True):
    """The axis (or None) of each leaf of `tree`, from a prefix `spec` of ints, None and
    callables."""
    spec_leaves, spec_def = jtu.tree_flatten(
        spec, is_leaf=lambda s: s is None or callable(s))
    subtrees = spec_def.flatten_up_to(tree)
    axes = []
    for s, sub in zip(spec_leaves, subtrees):
        for leaf in jtu.tree_leaves(sub):
            a = s(leaf) if callable(s) else s
            if a is not None and not is_array(leaf) and check:
                raise ValueError(f"filter_vmap: in_axes maps a non-array leaf {leaf!r:.40} "
                                 f"along axis {a}; only arrays can be mapped. Use "
                                 "eqx.if_array(0) to map arrays only.")
            axes.append(a)
    return axes


def _filter_map(transform, name, fun, in_axes, out_axes, axis_name, axis_size, extra):
    @_wraps(fun)
    def wrapper(*args, **kwargs):
        # As Equinox: in_axes is a prefix of the positional arguments; keyword
        # arguments are mapped along their leading axis (arrays only).
        args_all = (args, kwargs)
        spec = (in_axes, if_array(0))
        axes = _resolve_axes(args_all, spec)
        leaves, treedef = jtu.tree_flatten(args_all)
        dyn_idx = [i for i, x in enumerate(leaves) if is_array(x)]
        dyn = [leaves[i] for i in dyn_idx]
        dyn_axes = [axes[i] for i in dyn_idx]
        store = {}

        def inner(*d):
            full = list(leaves)
            for i, v in zip(dyn_idx, d):
                full[i] = v
            a, k = treedef.unflatten(full)
            out = fun(*a, **k)
            o_dyn, template, out_def = _split(out, is_array)
            store["out"] = (template, out_def)
            return o_dyn

        opts = dict(in_axes=tuple(dyn_axes), out_axes=0, axis_name=axis_name, **extra)
        if axis_size is not None:
            opts["axis_size"] = axis_size
        if not dyn:
            raise ValueError(f"{name}: no array is mapped (all in_axes are None); pass "
                             "axis_size or map at least one array.")
        o_dyn = transform(inner, **opts)(*dyn)
        template, out_def = store["out"]
        out = _join(o_dyn, template, out_def)
        # Move each output to its requested axis (None: unmapped, take one copy).
        out_axes_leaves = _resolve_axes(out, out_axes, check=False)
        leaves_o, def_o = jtu.tree_flatten(out)
        moved = []
        for x, a in zip(leaves_o, out_axes_leaves):
            if not is_array(x) or a == 0:
                moved.append(x)
            elif a is None:
                moved.append(x[0])
            else:
                moved.append(jnp.moveaxis(x, 0, a))
        return def_o.unflatten(moved)

    return wrapper


def filter_vmap(fun: Callable | None = None, *, in_axes: Any = _ARRAYS_AT_0,
                out_axes: Any = _ARRAYS_AT_0, axis_name: Any = None,
                axis_size: int | None = None) -> Callable:
    """``vmap`` over pytrees mixing arrays and other values.

    Args:
        fun: the function (or use as a decorator with options).
        in_axes: a pytree prefix of the positional arguments whose leaves are an int,
            ``None`` (not mapped) or a callable ``leaf -> int | None``. The default maps
            every array along axis 0. Non-array leaves are never mapped.
        out_axes: likewise for the output.
        axis_name: name for collectives.
        axis_size: the mapped size, when no argument is mapped.

    Examples:
        >>> import jumba.numpy as jnp
        >>> f = filter_vmap(lambda x, n: x * n)
        >>> f(jnp.arange(3.0), 2).tolist()
        [0.0, 2.0, 4.0]
    """
    if fun is None:
        return functools.partial(filter_vmap, in_axes=in_axes, out_axes=out_axes,
                                 axis_name=axis_name, axis_size=axis_size)
    return _filter_map(jumba.vmap, "filter_vmap", fun, in_axes, out_axes, axis_name,
                       axis_size, {})


def filter_pmap(fun: Callable | None = None, *, in_axes: Any = _ARRAYS_AT_0,
                out_axes: Any = _ARRAYS_AT_0, axis_name: Any = None,
                axis_size: int | None = None, donate: str = "none") -> Callable:
    """``pmap`` over pytrees mixing arrays and other values (as :func:`filter_vmap`, each
    mapped index runs on its own device)."""
    if fun is None:
        return functools.partial(filter_pmap, in_axes=in_axes, out_axes=out_axes,
                                 axis_name=axis_name, axis_size=axis_size, donate=donate)

    def pmap(f, **opts):
        pmap_fn = getattr(jumba, "pmap", None)
        if pmap_fn is None:
            raise NotImplementedError("filter_pmap needs jumba.pmap, which this version "
                                      "of jumba does not provide; use filter_vmap.")
        opts.pop("axis_size", None)
        return pmap_fn(f, **opts)

    return _filter_map(pmap, "filter_pmap", fun, in_axes, out_axes, axis_name, axis_size,
                       {})


# --------------------------------------------------------------------------------------
# Shapes, jaxprs, checkpointing


def filter_eval_shape(fun: Callable, *args: Any, **kwargs: Any) -> Any:
    """The output of ``fun(*args, **kwargs)`` with arrays replaced by
    ``jumba.ShapeDtypeStruct`` (non-array outputs are returned as they are), computed
    without doing the work."""
    dyn, template, treedef = _split((fun, args, kwargs),
                                    lambda x: is_array(x) or isinstance(
                                        x, jumba.ShapeDtypeStruct))
    store = {}

    def inner(*d):
        f, a, k = _join(d, template, treedef)
        o_dyn, o_template, out_def = _split(f(*a, **k))
        store["out"] = (o_template, out_def)
        return o_dyn

    shapes = jumba.eval_shape(inner, *dyn)
    o_template, out_def = store["out"]
    return _join(shapes, o_template, out_def)


def filter_make_jaxpr(fun: Callable) -> Callable:
    """``fun(*args, **kwargs) -> (closed jaxpr, output shapes, output static part)``,
    the jaxpr taking the array leaves of ``(args, kwargs)`` as inputs."""
    def wrapper(*args, **kwargs):
        dyn, template, treedef = _split((args, kwargs))
        store = {}

        def inner(*d):
            a, k = _join(d, template, treedef)
            o_dyn, o_template, out_def = _split(fun(*a, **k))
            store["out"] = (o_template, out_def)
            return o_dyn

        jaxpr, shapes = jumba.make_jaxpr(inner, return_shape=True)(*dyn)
        o_template, out_def = store["out"]
        static = out_def.unflatten([None if s is _DYN else s for s in o_template])
        dyn_struct = out_def.unflatten([s if s is _DYN else None for s in o_template])
        it = iter(shapes)
        dyn_struct = jtu.tree_map(lambda s: next(it) if s is _DYN else None, dyn_struct)
        return jaxpr, dyn_struct, static

    return wrapper


@_maybe_decorator
def filter_checkpoint(fun: Callable, *, prevent_cse: bool = True,
                      policy: Callable | None = None) -> Callable:
    """``checkpoint`` (rematerialisation) over pytrees: arrays are saved or recomputed,
    other values are static."""
    @_wraps(fun)
    def wrapper(*args, **kwargs):
        dyn, template, treedef = _split((args, kwargs))
        store = {}

        def inner(*d):
            a, k = _join(d, template, treedef)
            o_dyn, o_template, out_def = _split(fun(*a, **k))
            store["out"] = (o_template, out_def)
            return o_dyn

        out = jumba.checkpoint(inner, prevent_cse=prevent_cse, policy=policy)(*dyn)
        o_template, out_def = store["out"]
        return _join(out, o_template, out_def)

    return wrapper


# --------------------------------------------------------------------------------------
# nondifferentiable


def _nondiff_leaf(x, name):
    @jumba.custom_jvp
    def ident(v):
        return v

    @ident.defjvp
    def ident_jvp(primals, tangents):
        raise RuntimeError(f"Unexpected tangent: {name or 'this value'} is marked "
                           "nondifferentiable (eqx.nondifferentiable); it must not be "
                           "differentiated. Wrap it in jax.lax.stop_gradient if a zero "
                           "gradient is intended.")

    return ident(x)


def nondifferentiable(x: Any, *, name: str | None = None) -> Any:
    """Identity on ``x`` that raises an error if any floating array inside it is
    differentiated (forward or reverse mode)."""
    return jtu.tree_map(lambda v: _nondiff_leaf(v, name) if is_inexact_array(v) else v, x)


def _nondiff_backward_leaf(x, msg):
    @jumba.custom_vjp
    def ident(v):
        return v

    def bwd(_, ct):
        raise RuntimeError(msg)

    ident.defvjp(lambda v: (v, None), bwd)
    return ident(x)


def nondifferentiable_backward(x: Any, msg: str | None = None) -> Any:
    """Identity on ``x`` that allows forward-mode derivatives but raises ``RuntimeError``
    (with ``msg``) if reverse mode reaches its floating arrays."""
    msg = msg or ("Unexpected cotangent: this value is marked nondifferentiable_backward; "
                  "it must not be differentiated in reverse mode.")
    return jtu.tree_map(lambda v: _nondiff_backward_leaf(v, msg) if is_inexact_array(v)
                        else v, x)
