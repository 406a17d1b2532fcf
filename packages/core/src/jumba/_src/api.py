"""The public transformations: grad, value_and_grad, jvp, vjp, linearize, linear_transpose,
jacfwd, jacrev, hessian, vmap, jit, make_jaxpr, eval_shape.

Each wrapper flattens its pytree arguments once, runs a flat interpreter from
`_src/interpreters`, and unflattens the results.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np
import optree

from jumba._src import core, dtypes
from jumba._src.core import Array, ShapeDtypeStruct, Tracer, get_aval
from jumba._src.interpreters import ad, batching
from jumba._src.interpreters import partial_eval as pe
from jumba._src.tree_util import (
    tree_flatten,
    tree_map,
    tree_structure,
    tree_unflatten,
)

# ---------------------------------------------------------------------------------------
# Argument helpers


def _fun_name(fun) -> str:
    return getattr(fun, "__name__", None) or type(fun).__name__


def _normalize_argnums(argnums, nargs, fun, transform) -> tuple[int, ...]:
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    out = []
    for a in nums:
        if not isinstance(a, (int, np.integer)):
            raise TypeError(f"{transform}: argnums must be an int or tuple of ints, got {a!r}")
        if not -nargs <= a < nargs:
            raise ValueError(
                f"{transform}({_fun_name(fun)}): argnums={argnums} refers to positional "
                f"argument {a}, but the function was called with {nargs} positional "
                "argument(s).")
        out.append(int(a) % nargs)
    return tuple(out)


def _check_inexact_inputs(flat, what, allow_int, fix):
    """Differentiated inputs must be real or complex (integers only with allow_int)."""
    for x in flat:
        dt = get_aval(x).dtype
        if not (dtypes.is_inexact(dt) or allow_int):
            raise TypeError(f"{what} requires real- or complex-valued inputs (float dtypes), "
                            f"but got {dt.name}. {fix}")


def _replace_args(args, argnums, new_vals):
    args = list(args)
    for i, v in zip(argnums, new_vals):
        args[i] = v
    return args


def _describe(x) -> str:
    if isinstance(x, (tuple, list)):
        return f"a {type(x).__name__} of length {len(x)}"
    if core.is_valid_operand(x):
        return f"a single array of shape {get_aval(x).shape}"
    return f"a value of type {type(x).__name__}"


def _split_aux(out, transform, fun):
    """`(output, aux)` from a `has_aux=True` function's result, or an error saying so."""
    if isinstance(out, (tuple, list)) and len(out) == 2:
        return out
    name = _fun_name(fun)
    raise TypeError(
        f"{transform}({name}, has_aux=True) requires {name} to return a pair (output, aux), "
        f"but it returned {_describe(out)}. Return `output, aux` (e.g. "
        "`return loss, {'accuracy': acc}`), or drop has_aux=True.")


def _check_operand_leaves(leaves, what):
    for x in leaves:
        if not core.is_valid_operand(x) and not hasattr(x, "__array__"):
            raise TypeError(
                f"{what}: argument leaf {x!r} of type {type(x).__name__} is not an array. "
                "Pass arrays, NumPy arrays or Python scalars (in pytrees), or mark non-array "
                "arguments static.")


# ---------------------------------------------------------------------------------------
# grad and value_and_grad


def value_and_grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                   holomorphic: bool = False, allow_int: bool = False,
                   reduce_axes=()) -> Callable:
    """A function that returns `fun`'s value and its gradient with respect to `argnums`.

    Args:
      fun: a function returning a scalar (or `(scalar, aux)` when `has_aux`).
      argnums: which positional argument(s) to differentiate.
      has_aux: whether `fun` returns a pair whose second element is auxiliary data.
      allow_int: allow integer inputs (their gradient is a float0 zero).

    Returns:
      A function with `fun`'s signature returning `(value, grad)` or
      `((value, aux), grad)`.
    """
    name = _fun_name(fun)
    what = f"grad({name})"

    @functools.wraps(fun)
    def value_and_grad_f(*args, **kwargs):
        if type(argnums) is int and 0 <= argnums < len(args):
            nums = (argnums,)  # the common case, without _normalize_argnums' checks
            x = args[argnums]
            tx = type(x)
            if tx is Array or tx is float or tx is int or tx is complex or tx is bool:
                # One leaf: what tree_flatten([x]) gives, without flattening.
                flat, in_tree = [x], _ONE_LEAF_LIST
            else:
                flat, in_tree = tree_flatten([x])
        else:
            nums = _normalize_argnums(argnums, len(args), fun, "grad")
            flat, in_tree = tree_flatten([args[i] for i in nums])
        _check_operand_leaves(flat, what)
        # Python scalars enter as (weakly typed) arrays, as in JAX: the primal computation
        # then takes the eager fast paths.
        flat = [core.to_array(x) if type(x) in _PY_SCALARS else x for x in flat]
        _check_inexact_inputs(flat, f"grad({name})", allow_int,
                              "Convert the input with .astype(float), or use jumba.vjp / "
                              "allow_int=True for integer inputs.")
        aux_box = []

        def flat_fun(*flat_in):
            if in_tree is _ONE_LEAF_LIST:
                new_args = list(args)
                new_args[nums[0]] = flat_in[0]
            else:
                new_args = _replace_args(args, nums, tree_unflatten(in_tree, flat_in))
            out = fun(*new_args, **kwargs)
            if has_aux:
                out, aux = _split_aux(out, "grad", fun)
                aux_leaves, aux_tree = tree_flatten(aux)
                aux_box.append(aux_tree)
            else:
                aux_leaves = []
            aval = get_aval(out) if core.is_valid_operand(out) else None
            if aval is None or aval.shape != ():
                shape = f"shape {aval.shape}" if aval is not None else type(out).__name__
                raise TypeError(
                    f"Gradient only defined for scalar-output functions; {name} returned "
                    f"{shape}. Reduce the output (e.g. .sum() or .mean()), or use "
                    "jumba.jacrev / jumba.vjp for non-scalar outputs.")
            if not dtypes.is_inexact(aval.dtype):
                raise TypeError(
                    f"grad({name}) requires real- or complex-valued outputs, but the output "
                    f"dtype is {aval.dtype.name}.")
            return [out, *aux_leaves]

        outs, f_vjp = ad.vjp_flat(flat_fun, flat)
        ans = outs[0] if isinstance(outs[0], (Array, Tracer)) else core.to_array(outs[0])
        ct = Array(np.array(1, get_aval(ans).dtype), False)
        grads = f_vjp([ct] + [None] * (len(outs) - 1))
        grads = [_match_input_dtype(g, x) for g, x in zip(grads, flat)]
        g = grads if in_tree is _ONE_LEAF_LIST else tree_unflatten(in_tree, grads)
        g = g[0] if isinstance(argnums, int) else tuple(g)
        if has_aux:
            aux = tree_unflatten(aux_box[0], outs[1:])
            return (ans, aux), g
        return ans, g

    return value_and_grad_f


_PY_SCALARS = (bool, int, float, complex)
_ONE_LEAF_LIST = tree_structure([0.0])  # the tree of [leaf]


def _match_input_dtype(g, x):
    """The gradient has its input's dtype and weak type (as in JAX: grad at a Python float
    gives a weakly typed float32)."""
    aval = get_aval(x)
    if type(g) is Array and g._value.dtype == aval.dtype:  # at most the weak type differs
        return g if g.weak_type == aval.weak_type else Array(g._value, aval.weak_type)
    gaval = get_aval(g)
    if dtypes.is_inexact(aval.dtype) and (gaval.dtype, gaval.weak_type) != (aval.dtype,
                                                                           aval.weak_type):
        from jumba._src.lax.structural import convert_element_type

        return convert_element_type(g, aval.dtype, aval.weak_type)
    return g


def grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
         holomorphic: bool = False, allow_int: bool = False, reduce_axes=()) -> Callable:
    """The gradient of a scalar function with respect to `argnums` (as `jax.grad`).

    Examples:
      >>> import jumba as jb, jumba.numpy as jnp
      >>> float(jb.grad(lambda x: x ** 3)(2.0))
      12.0
    """
    vg = value_and_grad(fun, argnums, has_aux, holomorphic, allow_int)

    @functools.wraps(fun)
    def grad_f(*args, **kwargs):
        (v, g) = vg(*args, **kwargs)
        if has_aux:
            return g, v[1]
        return g

    return grad_f


# ---------------------------------------------------------------------------------------
# jvp, vjp, linearize, linear_transpose


def _check_tangents(primals_flat, tangents_flat, tree_p, tree_t, what="jvp"):
    if tree_p != tree_t:
        raise TypeError(f"{what}: primal and tangent arguments must have the same tree "
                        f"structure; got {tree_p} and {tree_t}. Pass one tangent per primal, "
                        "with the primal's structure.")
    for p, t in zip(primals_flat, tangents_flat):
        pa, ta = get_aval(p), get_aval(t)
        if pa.shape != ta.shape:
            raise ValueError(f"{what}: primal shape {pa.shape} and tangent shape {ta.shape} "
                             "differ; each tangent must have its primal's shape.")
        expected = ad.tangent_aval(pa).dtype
        if ta.dtype != expected and not (dtypes.is_inexact(pa.dtype)
                                         and dtypes.is_inexact(ta.dtype)):
            hint = (" Integer and boolean primals take float0 tangents: "
                    "np.zeros(shape, jumba.numpy.float0)." if expected == dtypes.float0 else "")
            name = lambda dt: "float0" if dt == dtypes.float0 else dt.name
            raise TypeError(
                f"{what}: primal dtype {name(pa.dtype)} expects a tangent of dtype "
                f"{name(expected)}, got {name(ta.dtype)}.{hint}")


def jvp(fun: Callable, primals, tangents, has_aux: bool = False):
    """Evaluate `fun` at `primals` and its directional derivative along `tangents`."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples or lists, with one entry "
                        "per positional argument of the function.")
    if len(primals) != len(tangents):
        raise TypeError(f"jvp: got {len(primals)} primals and {len(tangents)} tangents.")
    flat_p, tree_p = tree_flatten(tuple(primals))
    flat_t, tree_t = tree_flatten(tuple(tangents))
    _check_tangents(flat_p, flat_t, tree_p, tree_t)
    store = {}

    def flat_fun(*xs):
        out = fun(*tree_unflatten(tree_p, xs))
        if has_aux:
            out, aux = _split_aux(out, "jvp", fun)
            store["aux"] = aux
        leaves, store["tree"] = tree_flatten(out)
        return leaves

    # Python scalars enter as (weakly typed) arrays, as in JAX.
    flat_p = [core.to_array(x) if type(x) in _PY_SCALARS else x for x in flat_p]
    tangents_in = [ad.Zero(ad.tangent_aval(get_aval(p))) if get_aval(t).dtype == dtypes.float0
                   else core.to_array(t) if type(t) in _PY_SCALARS else t
                   for p, t in zip(flat_p, flat_t)]
    if has_aux:
        def flat_fun_aux(*xs):
            outs = flat_fun(*xs)
            aux_leaves, store["aux_tree"] = tree_flatten(store.pop("aux"))
            store["n"] = len(outs)
            return outs + aux_leaves

        p_out, t_out = ad.jvp_flat(flat_fun_aux, flat_p, tangents_in)
        n = store["n"]
        aux = tree_unflatten(store["aux_tree"], p_out[n:])
        return (tree_unflatten(store["tree"], p_out[:n]),
                tree_unflatten(store["tree"], t_out[:n]), aux)
    p_out, t_out = ad.jvp_flat(flat_fun, flat_p, tangents_in)
    return tree_unflatten(store["tree"], p_out), tree_unflatten(store["tree"], t_out)


def vjp(fun: Callable, *primals, has_aux: bool = False):
    """Evaluate `fun` and return `(out, vjp_fun)`; `vjp_fun(ct)` pulls back a cotangent of
    the output's structure to a tuple of cotangents, one per primal."""
    flat_p, tree_p = tree_flatten(primals)
    store = {}

    def flat_fun(*xs):
        out = fun(*tree_unflatten(tree_p, xs))
        if has_aux:
            out, aux = _split_aux(out, "vjp", fun)
            aux_leaves, store["aux_tree"] = tree_flatten(aux)
        else:
            aux_leaves = []
        leaves, store["tree"] = tree_flatten(out)
        store["n"] = len(leaves)
        return leaves + aux_leaves

    outs, f_vjp_flat = ad.vjp_flat(flat_fun, flat_p)
    n, out_tree = store["n"], store["tree"]
    out_avals = [get_aval(o) for o in outs[:n]]

    def vjp_fun(ct):
        flat_ct, ct_tree = tree_flatten(ct)
        if ct_tree != out_tree:
            raise TypeError(f"vjp: the cotangent must have the output's tree structure "
                            f"{out_tree}, got {ct_tree}.")
        for c, a in zip(flat_ct, out_avals):
            if get_aval(c).shape != a.shape:
                raise ValueError(f"vjp: cotangent shape {get_aval(c).shape} does not match "
                                 f"the output shape {a.shape}.")
        cts = f_vjp_flat(list(flat_ct) + [None] * (len(outs) - n))
        cts = [_match_input_dtype(c, p) if dtypes.is_inexact(get_aval(p).dtype) else c
               for c, p in zip(cts, flat_p)]
        return tuple(tree_unflatten(tree_p, cts))

    out = tree_unflatten(out_tree, outs[:n])
    if has_aux:
        return out, vjp_fun, tree_unflatten(store["aux_tree"], outs[n:])
    return out, vjp_fun


def linearize(fun: Callable, *primals):
    """Returns `(fun(*primals), f_jvp)` where `f_jvp(*tangents)` evaluates the JVP at
    `primals` without re-running `fun`'s nonlinear part."""
    flat_p, tree_p = tree_flatten(primals)
    store = {}

    def flat_fun(*xs):
        leaves, store["tree"] = tree_flatten(fun(*tree_unflatten(tree_p, xs)))
        return leaves

    outs, closed, diff_mask = ad.linearize_flat(flat_fun, flat_p)

    def f_jvp(*tangents):
        flat_t, tree_t = tree_flatten(tangents)
        _check_tangents(flat_p, flat_t, tree_p, tree_t, "linearize's f_jvp")
        ts = [t for t, d in zip(flat_t, diff_mask) if d]
        return tree_unflatten(store["tree"], core.eval_jaxpr(closed.jaxpr, closed.consts, *ts))

    return tree_unflatten(store["tree"], outs), f_jvp


def linear_transpose(fun: Callable, *primals, reduce_axes=()):
    """The transpose of a linear function, at the shapes and dtypes of `primals`."""
    flat_p, tree_p = tree_flatten(primals)
    in_avals = [get_aval(p).strip_weak_type() for p in flat_p]
    store = {}

    def flat_fun(*xs):
        leaves, store["tree"] = tree_flatten(fun(*tree_unflatten(tree_p, xs)))
        return leaves

    closed = pe.trace_to_jaxpr(flat_fun, in_avals, fun_name=_fun_name(fun),
                               kind="linear_transpose")

    def transposed(*cts):
        ct = cts[0] if len(cts) == 1 else cts
        flat_ct, ct_tree = tree_flatten(ct)
        if ct_tree != store["tree"]:
            raise TypeError(f"linear_transpose: cotangent structure {ct_tree} does not match "
                            f"the output structure {store['tree']}.")
        args = [ad.UndefinedPrimal(a) for a in in_avals]
        res = ad.backward_pass(closed.jaxpr, closed.consts, args, flat_ct)
        res = [ad.zeros_like_aval(a) if r is None else r for r, a in zip(res, in_avals)]
        return tuple(tree_unflatten(tree_p, res))

    return transposed


# ---------------------------------------------------------------------------------------
# Jacobians


def _std_basis(flat, dtype_of):
    """Stacked one-hot tangents over all input elements: shape (n_total, *leaf.shape)."""
    sizes = [int(np.prod(get_aval(x).shape, dtype=np.int64)) for x in flat]
    total = sum(sizes)
    basis, start = [], 0
    for x, n in zip(flat, sizes):
        aval = get_aval(x)
        eye = np.zeros((total, n), dtype_of(aval))
        eye[start:start + n] = np.eye(n, dtype=dtype_of(aval))
        basis.append(Array(eye.reshape((total, *aval.shape))))
        start += n
    return basis, sizes


def jacfwd(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False) -> Callable:
    """The Jacobian of `fun` by forward mode: one JVP per input element, vectorised."""
    def jac(*args, **kwargs):
        nums = _normalize_argnums(argnums, len(args), fun, "jacfwd")
        dyn = [args[i] for i in nums]
        flat, in_tree = tree_flatten(dyn)
        _check_operand_leaves(flat, f"jacfwd({_fun_name(fun)})")
        _check_inexact_inputs(flat, f"jacfwd({_fun_name(fun)})", False,
                              "Convert the input with .astype(float).")

        def pushfwd(*tangent_flat):
            def f_flat(*xs):
                out = fun(*_replace_args(args, nums, tree_unflatten(in_tree, xs)), **kwargs)
                if has_aux:
                    return tuple(_split_aux(out, "jacfwd", fun))
                return out

            if has_aux:
                out, t_out, aux = jvp(f_flat, list(flat), list(tangent_flat), has_aux=True)
                return t_out, (out, aux)
            out, t_out = jvp(f_flat, list(flat), list(tangent_flat))
            return t_out, out

        basis, sizes = _std_basis(flat, lambda a: a.dtype)
        t_out, extra = vmap(pushfwd, out_axes=(-1, None))(*basis)
        in_shapes = [get_aval(x).shape for x in flat]
        jac_tree = tree_map(lambda t: _split_last(t, sizes, in_shapes, in_tree,
                                                  isinstance(argnums, int)), t_out)
        if has_aux:
            return jac_tree, extra[1]
        return jac_tree

    return jac


def _split_last(t, sizes, shapes, in_tree, single):
    from jumba._src.lax.structural import reshape, slice

    aval = get_aval(t)
    lead = aval.shape[:-1]
    parts, start = [], 0
    for n, shp in zip(sizes, shapes):
        s = slice(t, (0,) * len(lead) + (start,), (*lead, start + n))
        parts.append(reshape(s, (*lead, *shp)))
        start += n
    out = tree_unflatten(in_tree, parts)
    return out[0] if single else tuple(out)


def jacrev(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False, allow_int: bool = False) -> Callable:
    """The Jacobian of `fun` by reverse mode: one VJP per output element, vectorised.

    The result has `fun`'s output structure outside and the structure of the
    differentiated argument(s) inside (a tuple of them when `argnums` is a tuple); each
    leaf has shape `out_leaf.shape + in_leaf.shape`, as `jax.jacrev`.
    """
    name = _fun_name(fun)

    def jac(*args, **kwargs):
        nums = _normalize_argnums(argnums, len(args), fun, "jacrev")
        dyn = tuple(args[i] for i in nums)
        flat_dyn, _ = tree_flatten(dyn)
        _check_operand_leaves(flat_dyn, f"jacrev({name})")
        _check_inexact_inputs(flat_dyn, f"jacrev({name})", allow_int,
                              "Convert the input with .astype(float), or pass allow_int=True.")

        def f_dyn(*d):
            return fun(*_replace_args(args, nums, d), **kwargs)

        if has_aux:
            out, f_vjp, aux = vjp(f_dyn, *dyn, has_aux=True)
        else:
            out, f_vjp = vjp(f_dyn, *dyn)
        flat_out, out_tree = tree_flatten(out)
        for o in flat_out:
            if not dtypes.is_inexact(get_aval(o).dtype):
                raise TypeError(
                    f"jacrev({name}) requires real- or complex-valued outputs, but an output "
                    f"has dtype {get_aval(o).dtype.name}. Convert it with .astype(float).")
        basis, sizes = _std_basis(flat_out, lambda a: a.dtype)
        out_shapes = [get_aval(o).shape for o in flat_out]

        def pull(*ct_flat):
            return f_vjp(tree_unflatten(out_tree, ct_flat))

        # One cotangent per input leaf, each with a leading axis over all output elements.
        cts = vmap(pull)(*basis) if basis else f_vjp(out)
        flat_cts, in_tree = tree_flatten(cts)
        per_in = [_split_first(ct, sizes, out_shapes) for ct in flat_cts]
        leaves = []
        for j in range(len(flat_out)):
            by_arg = tree_unflatten(in_tree, [parts[j] for parts in per_in])
            leaves.append(by_arg[0] if isinstance(argnums, int) else by_arg)
        result = tree_unflatten(out_tree, leaves)
        if has_aux:
            return result, aux
        return result

    return jac


def _split_first(ct, sizes, shapes):
    """Split a stacked cotangent `(sum(sizes), *in_shape)` into `(*shape_j, *in_shape)`."""
    from jumba._src.lax.structural import reshape, slice

    rest = get_aval(ct).shape[1:]
    parts, start = [], 0
    for n, shp in zip(sizes, shapes):
        s = slice(ct, (start,) + (0,) * len(rest), (start + n, *rest))
        parts.append(reshape(s, (*shp, *rest)))
        start += n
    return parts


jacobian = jacrev


def hessian(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
            holomorphic: bool = False) -> Callable:
    """The Hessian, as `jacfwd(jacrev(fun))`."""
    return jacfwd(jacrev(fun, argnums, has_aux=has_aux), argnums, has_aux=has_aux)


# ---------------------------------------------------------------------------------------
# vmap


_NONE = object()  # stands for None inside axis specifications (None is an empty pytree)


def _flatten_axes(what, treedef, axis_tree, allow_none=True):
    """Broadcast an axis specification (a tree prefix) to the leaves of `treedef`."""
    spec = optree.tree_map(lambda a: _NONE if a is None else a, axis_tree, none_is_leaf=True)
    dummy = tree_unflatten(treedef, [object()] * treedef.num_leaves)
    try:
        full = optree.tree_broadcast_prefix(spec, dummy, namespace="jumba")
    except ValueError:
        raise ValueError(
            f"{what} specification must be a tree prefix of the corresponding value, got "
            f"specification {axis_tree!r} for value tree {treedef}.") from None
    leaves = optree.tree_leaves(full, namespace="jumba")
    return [None if a is _NONE else a for a in leaves]


def vmap(fun: Callable, in_axes=0, out_axes=0, axis_name=None, axis_size=None,
         spmd_axis_name=None) -> Callable:
    """Vectorise `fun` over a new leading (or `in_axes`) axis of its arguments.

    Examples:
      >>> import jumba as jb, jumba.numpy as jnp
      >>> jb.vmap(lambda x, y: x @ y, in_axes=(0, None))(jnp.ones((3, 2)), jnp.ones(2)).shape
      (3,)
    """
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    if not (in_axes is None or isinstance(in_axes, (int, np.integer, tuple))):
        raise TypeError(
            f"vmap({_fun_name(fun)}) in_axes must be an int, None, or a tuple of entries "
            f"corresponding to the positional arguments passed to the function, but got "
            f"{in_axes!r}."
            + (f" For a single dict argument write in_axes=({in_axes!r},)."
               if isinstance(in_axes, dict) else ""))
    _check_axis_spec("in_axes", in_axes)
    _check_axis_spec("out_axes", out_axes)
    name = _fun_name(fun)

    @functools.wraps(fun)
    def vmap_f(*args, **kwargs):
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError(
                f"vmap({name}) in_axes must be an int, None, or a tuple of entries "
                f"corresponding to the positional arguments passed to the function, but got "
                f"len(in_axes)={len(in_axes)}, len(args)={len(args)}.")
        flat, in_tree = tree_flatten((args, kwargs))
        axes_args = _flatten_axes(f"vmap({name}) in_axes", tree_structure(args), in_axes)
        kw_leaves = len(flat) - len(axes_args)
        axes = axes_args + [0] * kw_leaves  # keyword arguments are always mapped at 0
        size = _mapped_size(name, flat, axes, axis_size,
                            lambda: _leaf_names(fun, args, kwargs), len(axes_args))
        axes = [None if a is None else _normalize_axis(a, get_aval(x).ndim)
                for x, a in zip(flat, axes)]
        store = {}

        def flat_fun(*xs):
            a, k = tree_unflatten(in_tree, xs)
            out = fun(*a, **k)
            leaves, store["tree"] = tree_flatten(out)
            return leaves

        outs, dims = batching.batch_flat(flat_fun, flat, axes, size, axis_name, name)
        out_tree = store["tree"]
        out_ax = _flatten_axes(f"vmap({name}) out_axes", out_tree, out_axes)
        results = []
        for i, o in enumerate(outs):
            if not isinstance(o, (Array, Tracer)):
                if not core.is_valid_operand(o):
                    raise TypeError(
                        f"vmap({name}) returned a value of type {type(o).__name__} ({o!r:.60})"
                        "; vmapped functions must return arrays, scalars or pytrees of them.")
                outs[i] = core.to_array(o)
        for o, d, a in zip(outs, dims, out_ax):
            if a is not None:
                a = _normalize_axis(a, get_aval(o).ndim + (d is None))
            if a is None and d is not None:
                raise ValueError(
                    f"vmap({name}) has out_axes=None for an output that is mapped (it depends "
                    "on a mapped input). Use an integer out_axes for it.")
            results.append(batching.matchaxis(o, d, a, size) if a is not None else o)
        return tree_unflatten(out_tree, results)

    return vmap_f


def _check_axis_spec(what, spec):
    for a in optree.tree_leaves(spec, none_is_leaf=True):
        if a is not None and not isinstance(a, (int, np.integer)):
            raise TypeError(f"vmap {what} must be ints, None, or pytrees of them; got {a!r}")


def _normalize_axis(a, ndim):
    if not -ndim <= a < max(ndim, 1) and not (ndim == 0 and a in (0, -1)):
        raise ValueError(f"axis {a} is out of bounds for rank {ndim}")
    return a % ndim if ndim else 0


def _leaf_names(fun, args, kwargs) -> list[str]:
    """A name per argument leaf, as the user wrote it: "x", "params['w']", "args[2]"."""
    import inspect

    from jumba._src.tree_util import keystr, tree_flatten_with_path

    try:
        params = [p.name for p in inspect.signature(fun).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = []
    for i, a in enumerate(args):
        base = params[i] if i < len(params) else f"args[{i}]"
        names += [base + keystr(path) for path, _ in tree_flatten_with_path(a)[0]]
    for k, v in sorted(kwargs.items()):
        names += [k + keystr(path) for path, _ in tree_flatten_with_path(v)[0]]
    return names


def _mapped_size(name, flat, axes, axis_size, leaf_names, kw_start):
    sizes = []
    for i, (x, a) in enumerate(zip(flat, axes)):
        if a is None:
            continue
        try:
            aval = get_aval(x)
        except TypeError:
            raise TypeError(
                f"vmap({name}): argument {leaf_names()[i]!r} of type {type(x).__name__} "
                f"({x!r:.60}) is not an array and cannot be mapped. Pass arrays (pytrees of "
                "arrays), or leave it unmapped with None at its place in in_axes, or close "
                "over it.") from None
        if not -aval.ndim <= a < aval.ndim:
            raise ValueError(
                f"vmap({name}) was requested to map argument {leaf_names()[i]!r} along axis "
                f"{a}, which implies its rank should be at least "
                f"{(a if a >= 0 else -a - 1) + 1}, but it is only {aval.ndim} (its shape is "
                f"{aval.shape}). Fix in_axes for it (None leaves it unmapped).")
        sizes.append((leaf_names()[i], aval.shape[a], aval.shape, a, i >= kw_start))
    if not sizes:
        if axis_size is None:
            raise ValueError(f"vmap({name}) needs at least one mapped (non-None) input in "
                             "in_axes, or an explicit axis_size.")
        return int(axis_size)
    distinct = {s for _, s, _, _, _ in sizes}
    if len(distinct) > 1 or (axis_size is not None and distinct != {axis_size}):
        lines = "\n".join(f"  * axis {a} of {'keyword ' if kw else ''}argument {n!r} (shape "
                          f"{shp}) has size {s}" for n, s, shp, a, kw in sizes)
        given = f" and axis_size={axis_size}" if axis_size is not None else ""
        kw_note = (" Keyword arguments are always mapped over axis 0: pass an unmapped value "
                   "positionally, with None at its place in in_axes."
                   if any(kw for *_, kw in sizes) else "")
        raise ValueError(
            f"vmap({name}) got inconsistent sizes for the mapped axes{given}; every mapped "
            f"axis must have the same size:\n{lines}\nFix in_axes, or pass arguments that "
            f"should not be mapped with in_axes=None.{kw_note}")
    return sizes[0][1]


# ---------------------------------------------------------------------------------------
# make_jaxpr, eval_shape


def _abstractify(x):
    if isinstance(x, ShapeDtypeStruct):
        return core.ShapedArray(x.shape, dtypes.canonicalize_dtype(x.dtype), x.weak_type)
    return get_aval(x)


def make_jaxpr(fun: Callable, static_argnums=(), return_shape=False) -> Callable:
    """A function that traces `fun` and returns its ClosedJaxpr (printable)."""
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    @functools.wraps(fun)
    def make(*args, **kwargs):
        dyn = [a for i, a in enumerate(args) if i not in static]
        flat, in_tree = tree_flatten((dyn, kwargs))
        store = {}

        def flat_fun(*xs):
            d, k = tree_unflatten(in_tree, xs)
            it = iter(d)
            full = [args[i] if i in static else next(it) for i in range(len(args))]
            leaves, store["tree"] = tree_flatten(fun(*full, **k))
            return leaves

        closed = pe.trace_to_jaxpr(flat_fun, [_abstractify(x) for x in flat],
                                   fun_name=_fun_name(fun), kind="make_jaxpr")
        if return_shape:
            shapes = [ShapeDtypeStruct(a.shape, a.dtype, a.weak_type)
                      for a in closed.out_avals]
            return closed, tree_unflatten(store["tree"], shapes)
        return closed

    return make


def eval_shape(fun: Callable, *args, **kwargs):
    """Shapes and dtypes of `fun`'s outputs, without computing anything."""
    closed, shapes = make_jaxpr(fun, return_shape=True)(*args, **kwargs)
    return shapes


# ---------------------------------------------------------------------------------------
# Devices and transfers


def block_until_ready(x):
    """Wait for every array in the pytree `x` (Jumba computes synchronously)."""
    return x


def device_put(x, device=None, *, src=None, donate=False, may_alias=None):
    """Place arrays on a device: NumPy values and Python scalars become `jumba.Array`s."""
    return tree_map(lambda v: v if isinstance(v, (Array, Tracer)) else core.to_array(v), x)


def device_get(x):
    """Fetch arrays as NumPy values."""
    return tree_map(lambda v: np.asarray(v) if isinstance(v, Array) else v, x)

