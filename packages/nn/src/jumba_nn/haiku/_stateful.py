"""JAX transformations inside a Haiku function: parameters, state and keys threaded through.

Each lift runs the user's function as a pure function of ``(params, state, key)`` and writes
the results back into the enclosing frame. As in Haiku, `scan` unrolls its first step in
`init` (so parameters are created outside the loop), and `vmap` treats parameters and state
as unbatched (``in_axes=None``, ``out_axes=None``).
"""

from __future__ import annotations

import functools

import jumba
import jumba.lax as lax
import jumba.numpy as jnp
import jumba.random as jr
from jumba import tree_util
from jumba_nn.haiku import _base, _module


def _pure(fun, outer, freeze_params=None):
    """``pure(internal, *args, **kwargs) -> (out, internal)`` running `fun` in a new frame."""

    def pure(internal, *args, **kwargs):
        with _base._temporary_frame(outer, internal, freeze_params) as frame:
            out = fun(*args, **kwargs)
            return out, _base._frame_internal_state(frame)

    return pure


def _frame_and_state(caller):
    frame = _base.current_frame(caller)
    return frame, _base._internal_state(frame, _base._outer_key(frame))


def _check_no_new_params(before, after, caller):
    new = sorted(f"{m}/{n}" for m, d in after.items() for n in d
                 if n not in before.get(m, {}))
    if new:
        raise ValueError(f"hk.{caller} cannot create parameters ({new}); create them before "
                         f"(e.g. call the module once outside hk.{caller}).")


def vmap(fun, in_axes=0, out_axes=0, axis_name=None, axis_size=None, *, split_rng: bool):
    """`jumba.vmap` of a function that uses Haiku parameters, state and keys.

    Args:
        fun, in_axes, out_axes, axis_name, axis_size: as `jumba.vmap`.
        split_rng: if True, each element of the batch draws different random keys; if
            False, all draw the same ones (Haiku makes you choose).

    Returns:
        The batched function. Parameters and state are shared across the batch.
    """

    @functools.wraps(fun)
    def wrapped(*args):
        frame, (params, state, key) = _frame_and_state("vmap")
        axes = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
        size = axis_size
        for x, a in zip(args, axes, strict=False):
            if size is not None:
                break
            xl, al = tree_util.tree_leaves(x), tree_util.tree_leaves(a)
            if xl and al and al[0] is not None:
                size = jnp.shape(xl[0])[al[0]]
        pure = _pure(fun, frame)
        key_axis, next_key = None, key
        if split_rng and key is not None:
            next_key, sub = jr.split(key)
            key = jr.split(sub, size)
            key_axis = 0

        def body(p, s, k, *a):
            out, (p2, s2, _) = pure((p, s, k), *a)
            return out, p2, s2

        out, params2, state2 = jumba.vmap(
            body, in_axes=(None, None, key_axis, *axes), out_axes=(out_axes, None, None),
            axis_name=axis_name, axis_size=size)(params, state, key, *args)
        _base._update_from(frame, (params2, state2, next_key))
        return out

    return wrapped


def scan(f, init, xs, length=None, reverse=False, unroll=1):
    """`jumba.lax.scan` of a function that uses Haiku parameters, state and keys.

    In `init` the first step runs outside the loop, creating the parameters; the loop
    runs the remaining steps (the outputs are the same as a loop over all steps).
    """
    frame, _ = _frame_and_state("scan")
    if xs is None and length is None:
        raise ValueError("hk.scan: give xs or length.")
    n = length if length is not None else tree_util.tree_leaves(xs)[0].shape[0]
    y0 = None
    names = _module._name_snapshot(frame)
    if not frame.freeze_params and n > 0:
        i = n - 1 if reverse else 0
        x0 = None if xs is None else tree_util.tree_map(lambda x: x[i], xs)
        init, y0 = f(init, x0)
        xs = None if xs is None else tree_util.tree_map(
            lambda x: x[:-1] if reverse else x[1:], xs)
        n -= 1
        _module._name_restore(frame, names)  # the loop body makes the same modules again
    _, (params, state, key) = _frame_and_state("scan")
    pure = _pure(f, frame)

    def body(carry, x):
        c, s, k = carry
        (c, y), (p2, s2, k2) = pure((params, s, k), c, x)
        _check_no_new_params(params, p2, "scan")
        return (c, s2, k2), y

    if n > 0 or y0 is None:
        (carry, state2, key2), ys = lax.scan(body, (init, state, key), xs, length=n,
                                             reverse=reverse, unroll=unroll)
        _base._update_from(frame, ({}, state2, key2))
    else:
        carry, ys = init, tree_util.tree_map(lambda y: jnp.zeros((0, *jnp.shape(y)),
                                                                 jnp.result_type(y)), y0)
    if y0 is not None:
        join = (lambda a, b: jnp.concatenate([b, a[None]])) if reverse else \
            (lambda a, b: jnp.concatenate([a[None], b]))
        ys = tree_util.tree_map(join, y0, ys)
    return carry, ys


def map(f, xs):  # noqa: A001 (Haiku's name)
    """`jumba.lax.map` with Haiku state threaded through (via `hk.scan`)."""
    return scan(lambda _, x: ((), f(x)), (), xs)[1]


def fori_loop(lower, upper, body_fun, init_val):
    """`jumba.lax.fori_loop` with Haiku state threaded through (bounds must be concrete)."""
    try:
        lo, hi = int(lower), int(upper)
    except Exception as e:  # noqa: BLE001
        raise ValueError("hk.fori_loop needs concrete (Python int) bounds; use "
                         "hk.while_loop for traced bounds.") from e
    if hi <= lo:
        return init_val
    return scan(lambda c, i: (body_fun(i, c), None), init_val,
                jnp.arange(lo, hi, dtype=jnp.int32))[0]


def while_loop(cond_fun, body_fun, init_val):
    """`jumba.lax.while_loop` with Haiku state threaded through (parameters cannot be
    created in the loop, as in Haiku)."""
    frame, (params, state, key) = _frame_and_state("while_loop")
    pure_body, pure_cond = _pure(body_fun, frame), _pure(cond_fun, frame)

    def body(carry):
        v, s, k = carry
        v, (p2, s2, k2) = pure_body((params, s, k), v)
        _check_no_new_params(params, p2, "while_loop")
        return v, s2, k2

    def cond(carry):
        v, s, k = carry
        return pure_cond((params, s, k), v)[0]

    val, state2, key2 = lax.while_loop(cond, body, (init_val, state, key))
    _base._update_from(frame, ({}, state2, key2))
    return val


def switch(index, branches, *operands):
    """`jumba.lax.switch` with Haiku state threaded through; in `init` every branch runs
    once first so that all their parameters exist."""
    frame, _ = _frame_and_state("switch")
    names = _module._name_snapshot(frame)
    if not frame.freeze_params:
        for branch in branches:
            branch(*operands)
    # lax.switch traces the branches in the same order: their modules get the same names.
    _module._name_restore(frame, names)
    _, (params, state, key) = _frame_and_state("switch")

    def make(branch):
        pure = _pure(branch, frame)

        def run(s, k, *ops):
            out, (p2, s2, k2) = pure((params, s, k), *ops)
            _check_no_new_params(params, p2, "switch")
            return out, s2, k2
        return run

    out, state2, key2 = lax.switch(index, [make(b) for b in branches], state, key, *operands)
    _base._update_from(frame, ({}, state2, key2))
    return out


def cond(pred, true_fun, false_fun, *operands):
    """`jumba.lax.cond` with Haiku state threaded through."""
    return switch(jnp.asarray(pred).astype(jnp.int32), [false_fun, true_fun], *operands)


def value_and_grad(fun, argnums=0, has_aux=False, holomorphic=False):
    """`jumba.value_and_grad` of a function that uses Haiku parameters and state (the
    gradient is with respect to the arguments; state updates are kept)."""
    del holomorphic

    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        frame, internal = _frame_and_state("value_and_grad")
        pure = _pure(fun, frame)

        def g(*a):
            out, new_internal = pure(internal, *a, **kwargs)
            if has_aux:
                out, aux = out
                return out, (aux, new_internal)
            return out, (None, new_internal)

        (value, (aux, new_internal)), grads = jumba.value_and_grad(
            g, argnums=argnums, has_aux=True)(*args)
        _base._update_from(frame, new_internal)
        return ((value, aux), grads) if has_aux else (value, grads)

    return wrapped


def grad(fun, argnums=0, has_aux=False, holomorphic=False):
    """`jumba.grad` of a function that uses Haiku parameters and state."""
    vg = value_and_grad(fun, argnums, has_aux, holomorphic)

    @functools.wraps(fun)
    def wrapped(*args, **kwargs):
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapped


def remat(fun, prevent_cse=True, policy=None, static_argnums=()):
    """`jumba.checkpoint` of a function that uses Haiku parameters, state and keys."""
    del static_argnums

    @functools.wraps(fun)
    def wrapped(*args):
        frame, internal = _frame_and_state("remat")
        if not frame.freeze_params:
            return fun(*args)  # params are created eagerly in init
        pure = _pure(fun, frame)
        out, new_internal = jumba.checkpoint(pure, prevent_cse=prevent_cse,
                                             policy=policy)(internal, *args)
        _base._update_from(frame, new_internal)
        return out

    return wrapped


def eval_shape(fun, *args, **kwargs):
    """`jumba.eval_shape` of a function that uses Haiku parameters and state (which are
    left unchanged)."""
    frame, internal = _frame_and_state("eval_shape")
    pure = _pure(fun, frame)
    return jumba.eval_shape(lambda *a: pure(internal, *a, **kwargs)[0], *args)


# ---------------------------------------------------------------------------------------
# Lifting an inner transformed function's parameters into the outer one


def _lift_prefix(module, transparent):
    return "" if transparent else module.module_name + "/"


def _make_lifting_module():
    from jumba_nn.haiku._module import Module

    class LiftingModule(Module):
        def __init__(self, init_fn, transparent=False, name="lifted", with_state=False):
            super().__init__(name=name)
            self._init_fn, self._transparent, self._with_state = init_fn, transparent, with_state

        def __call__(self, *args, **kwargs):
            frame = _base.current_frame("lift")
            prefix = _lift_prefix(self, self._transparent)
            if not frame.freeze_params:
                out = self._init_fn(*args, **kwargs)
                params, state = out if self._with_state else (out, {})
                for k, v in params.items():
                    frame.params.setdefault(prefix + k, {}).update(v)
                for k, v in state.items():
                    for n, x in v.items():
                        frame.state.setdefault(prefix + k, {})[n] = _base._StatePair(x, x)
                return out
            params = {k[len(prefix):]: dict(v) for k, v in frame.params.items()
                      if k.startswith(prefix)}
            if not self._with_state:
                return params
            state = {k[len(prefix):]: {n: p.current for n, p in v.items()}
                     for k, v in frame.state.items() if k.startswith(prefix)}
            return params, state

    return LiftingModule


def lift(init_fn, *, allow_reuse: bool = False, name: str = "lifted"):
    """Registers the parameters made by an inner transform's `init_fn` in the outer one.

    ``params = hk.lift(inner.init)(rng, x)`` returns the inner parameters (created in the
    outer init, read from the outer params in apply), stored under ``lifted/...``.
    """
    del allow_reuse
    return _make_lifting_module()(init_fn, name=name)


def transparent_lift(init_fn, *, allow_reuse: bool = False):
    """`lift` without the extra ``lifted/`` name scope."""
    del allow_reuse
    return _make_lifting_module()(init_fn, transparent=True, name="transparent_lifted")


class LiftWithStateUpdater:
    """Writes the inner transform's new state back into the outer state."""

    def __init__(self, module):
        self._module = module

    def update(self, state) -> None:
        frame = _base.current_frame("LiftWithStateUpdater.update")
        prefix = _lift_prefix(self._module, self._module._transparent)
        for k, v in state.items():
            bucket = frame.state.setdefault(prefix + k, {})
            for n, x in v.items():
                pair = bucket.get(n)
                bucket[n] = _base._StatePair(x, x) if pair is None else pair._replace(current=x)


def lift_with_state(init_fn, *, allow_reuse: bool = False, name: str = "lifted"):
    """`lift` for a TransformedWithState's init: returns ``(lifted_fn, updater)``;
    ``params, state = lifted_fn(rng, x)``, then ``updater.update(new_state)``."""
    del allow_reuse
    module = _make_lifting_module()(init_fn, name=name, with_state=True)
    return module, LiftWithStateUpdater(module)


def transparent_lift_with_state(init_fn, *, allow_reuse: bool = False):
    """`lift_with_state` without the extra name scope."""
    del allow_reuse
    module = _make_lifting_module()(init_fn, transparent=True, name="transparent_lifted",
                                    with_state=True)
    return module, LiftWithStateUpdater(module)
