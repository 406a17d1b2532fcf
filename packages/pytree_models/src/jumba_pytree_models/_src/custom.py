"""`filter_custom_jvp` and `filter_custom_vjp`: custom derivatives for functions of
arbitrary pytrees (floating arrays differentiated, everything else passed through)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jumba
import jumba.numpy as jnp
from jumba import tree_util as jtu
from jumba_pytree_models._src.filters import is_array, is_inexact_array

__all__ = ["filter_custom_jvp", "filter_custom_vjp"]


def _flatten_dyn(tree):
    leaves, treedef = jtu.tree_flatten(tree)
    idx = [i for i, x in enumerate(leaves) if is_array(x)]
    return leaves, treedef, idx


def _rebuild(leaves, treedef, idx, dyn):
    full = list(leaves)
    for i, v in zip(idx, dyn):
        full[i] = v
    return treedef.unflatten(full)


def _split_out(out, store):
    leaves, treedef, idx = _flatten_dyn(out)
    store["out"] = (leaves, treedef, idx)
    return [leaves[i] for i in idx]


class filter_custom_jvp:  # noqa: N801 (Equinox's name)
    """A function with a custom JVP rule, over any pytrees.

    The positional arguments' floating arrays are differentiated; keyword arguments are
    not. The rule receives ``(primals, tangents, **kwargs)`` where ``tangents`` mirrors
    ``primals`` with ``None`` for non-floating leaves (and for zero tangents), and returns
    ``(out, tangent_out)``.

    Examples:
        >>> import jumba as jb, jumba.numpy as jnp
        >>> @filter_custom_jvp
        ... def double(x, *, label):
        ...     return 2 * x
        >>> @double.def_jvp
        ... def double_jvp(primals, tangents, *, label):
        ...     (x,), (tx,) = primals, tangents
        ...     return 2 * x, 10 * tx   # a deliberately "wrong" derivative
        >>> float(jb.grad(lambda x: double(x, label="a"))(1.0))
        10.0
    """

    def __init__(self, fn: Callable):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.jvp = None

    def def_jvp(self, jvp: Callable) -> Callable:
        self.jvp = jvp
        return jvp

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.jvp is None:
            raise RuntimeError(f"filter_custom_jvp({self.fn.__name__}): no JVP rule; "
                               f"define one with @{self.fn.__name__}.def_jvp.")
        leaves, treedef, idx = _flatten_dyn((args, kwargs))
        n_args = len(jtu.tree_leaves(args))
        diff = [i < n_args and is_inexact_array(leaves[i]) for i in idx]
        store = {}

        @jumba.custom_jvp
        def inner(*dyn):
            a, k = _rebuild(leaves, treedef, idx, dyn)
            return _split_out(self.fn(*a, **k), store)

        @inner.defjvp
        def inner_jvp(primals, tangents):
            a, k = _rebuild(leaves, treedef, idx, primals)
            t_leaves = [None] * len(leaves)
            for i, t, d in zip(idx, tangents, diff):
                t_leaves[i] = t if d else None
            t_args, _ = treedef.unflatten(t_leaves)
            out, t_out = self.jvp(a, t_args, **k)
            o_dyn = _split_out(out, store)
            o_leaves, o_def, o_idx = store["out"]
            t_out_leaves = o_def.flatten_up_to(t_out) if t_out is not None else \
                [None] * len(o_leaves)
            t_dyn = [jnp.zeros_like(o_leaves[i]) if t_out_leaves[i] is None
                     else t_out_leaves[i] for i in o_idx]
            return o_dyn, t_dyn

        out = inner(*[leaves[i] for i in idx])
        o_leaves, o_def, o_idx = store["out"]
        return _rebuild(o_leaves, o_def, o_idx, out)


class filter_custom_vjp:  # noqa: N801 (Equinox's name)
    """A function with a custom VJP rule, over any pytrees; the first argument is the one
    differentiated.

    Define ``fn(vjp_arg, *args, **kwargs)``, then ``@fn.def_fwd``
    ``fwd(perturbed, vjp_arg, *args, **kwargs) -> (out, residuals)`` and ``@fn.def_bwd``
    ``bwd(residuals, grad_obj, perturbed, vjp_arg, *args, **kwargs) -> grad of vjp_arg``.
    ``perturbed`` mirrors ``vjp_arg`` with True at its floating arrays; ``grad_obj`` is
    the output cotangent. The gradient returned may hold ``None`` for zero.
    """

    def __init__(self, fn: Callable):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.fwd = None
        self.bwd = None

    def def_fwd(self, fwd: Callable) -> Callable:
        self.fwd = fwd
        return fwd

    def def_bwd(self, bwd: Callable) -> Callable:
        self.bwd = bwd
        return bwd

    def __call__(self, vjp_arg: Any, *args: Any, **kwargs: Any) -> Any:
        if self.fwd is None or self.bwd is None:
            raise RuntimeError(f"filter_custom_vjp({self.fn.__name__}): define both rules "
                               f"with @{self.fn.__name__}.def_fwd and .def_bwd.")
        leaves, treedef, idx = _flatten_dyn((vjp_arg, args, kwargs))
        n_vjp = len(jtu.tree_leaves(vjp_arg))
        diff = [i < n_vjp and is_inexact_array(leaves[i]) for i in idx]
        perturbed = jtu.tree_map(is_inexact_array, vjp_arg)
        store = {}

        @jumba.custom_vjp
        def inner(*dyn):
            v, a, k = _rebuild(leaves, treedef, idx, dyn)
            return _split_out(self.fn(v, *a, **k), store)

        def inner_fwd(*dyn):
            v, a, k = _rebuild(leaves, treedef, idx, dyn)
            out, res = self.fwd(perturbed, v, *a, **k)
            r_leaves, r_def, r_idx = _flatten_dyn(res)
            store["res"] = (r_leaves, r_def, r_idx)
            return _split_out(out, store), ([r_leaves[i] for i in r_idx], list(dyn))

        def inner_bwd(saved, cts):
            r_dyn, dyn = saved
            res = _rebuild(*store["res"], r_dyn)
            v, a, k = _rebuild(leaves, treedef, idx, dyn)
            o_leaves, o_def, o_idx = store["out"]
            ct_leaves = [None] * len(o_leaves)
            for i, c in zip(o_idx, cts):
                ct_leaves[i] = c
            grad = self.bwd(res, o_def.unflatten(ct_leaves), perturbed, v, *a, **k)
            g_leaves = jtu.tree_structure(vjp_arg).flatten_up_to(grad)
            out = []
            for j, i in enumerate(idx):
                g = g_leaves[i] if i < n_vjp else None
                if not diff[j] or g is None:
                    out.append(None if not diff[j] else jnp.zeros_like(dyn[j]))
                else:
                    out.append(g)
            return tuple(out)

        inner.defvjp(inner_fwd, inner_bwd)
        out = inner(*[leaves[i] for i in idx])
        o_leaves, o_def, o_idx = store["out"]
        return _rebuild(o_leaves, o_def, o_idx, out)
