"""`transform` and friends: impure Haiku functions to pure (init, apply) pairs."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from jumba_nn.haiku import _base


class Transformed(NamedTuple):
    """`init(rng, *args) -> params` and `apply(params, rng, *args) -> out`."""

    init: Callable
    apply: Callable


class TransformedWithState(NamedTuple):
    """`init(rng, *args) -> (params, state)`; `apply(params, state, rng, *args) -> (out,
    state)`."""

    init: Callable
    apply: Callable


class MultiTransformed(NamedTuple):
    """`init(rng, *args) -> params` and a pytree of `apply(params, rng, *args)` functions."""

    init: Callable
    apply: Any


class MultiTransformedWithState(NamedTuple):
    """`init(rng, *args) -> (params, state)` and a pytree of apply functions with state."""

    init: Callable
    apply: Any


def _rng_sequence(rng, where):
    if rng is None:
        return None
    if isinstance(rng, _base.PRNGSequence):
        return rng
    if not isinstance(rng, int) and not _base._is_key(rng):
        raise ValueError(
            f"hk: {where} expects a PRNG key (or None) in its rng position, got "
            f"{type(rng).__name__} of shape {getattr(rng, 'shape', None)}. If your function "
            f"needs no randomness in apply, wrap the transform in hk.without_apply_rng and call "
            f"`apply(params, *args)`; otherwise pass jumba.random.PRNGKey(seed).")
    return _base.PRNGSequence(rng)


def _check_mapping(value, what, where):
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(
            f"hk: {where} expects {what} as a mapping {{module_name: {{name: array}}}} (what "
            f"init returned), got {type(value).__name__}. Fix: `{what} = f.init(rng, x)` and "
            f"pass that.")
    return {k: dict(v) for k, v in value.items()}


def _state_pairs(state):
    return {k: {n: _base._StatePair(v, v) for n, v in d.items()} for k, d in state.items()}


def _run(f, params, state, rng, freeze, args, kwargs):
    frame = _base._Frame(params, state, rng, freeze)
    with _base._push_frame(frame):
        out = f(*args, **kwargs)
    return out, frame


def transform_with_state(f: Callable) -> TransformedWithState:
    """Turns `f`, which may use parameters, state and random keys, into pure functions.

    Args:
        f: a function that uses `hk.Module`s, `hk.get_parameter`, `hk.get_state`/`set_state`
            and `hk.next_rng_key`.

    Returns:
        `TransformedWithState(init, apply)`: ``params, state = init(rng, *args)``;
        ``out, new_state = apply(params, state, rng, *args)``. `init` returns the *initial*
        state (the values given at creation), `apply` the state after the call.

    Examples:
        >>> def f(x):
        ...     c = hk.get_state("count", [], init=jnp.zeros)
        ...     hk.set_state("count", c + 1)
        ...     return hk.Linear(2)(x)
        >>> t = hk.transform_with_state(f)
        >>> params, state = t.init(jr.PRNGKey(0), jnp.ones((1, 3)))
        >>> out, state = t.apply(params, state, None, jnp.ones((1, 3)))
    """

    @functools.wraps(f)
    def init_fn(rng, *args, **kwargs):
        _, frame = _run(f, {}, {}, _rng_sequence(rng, "init"), False, args, kwargs)
        initial = {k: {n: p.initial for n, p in d.items()} for k, d in frame.state.items()}
        return frame.params, initial

    @functools.wraps(f)
    def apply_fn(params, state, rng, *args, **kwargs):
        params = _check_mapping(params, "params", "apply")
        state = _state_pairs(_check_mapping(state, "state", "apply"))
        out, frame = _run(f, params, state, _rng_sequence(rng, "apply"), True, args, kwargs)
        return out, {k: {n: p.current for n, p in d.items()} for k, d in frame.state.items()}

    init_fn.__name__, apply_fn.__name__ = "init_fn", "apply_fn"
    return TransformedWithState(init_fn, apply_fn)


def transform(f: Callable, *, apply_rng: bool = True) -> Transformed:
    """Turns `f`, which may use parameters and random keys, into pure `init` and `apply`.

    Args:
        f: a function that uses `hk.Module`s, `hk.get_parameter` and `hk.next_rng_key`
            (not state: use `transform_with_state` for that).
        apply_rng: must be True (kept for Haiku compatibility); use `without_apply_rng`.

    Returns:
        `Transformed(init, apply)`: ``params = init(rng, *args)``,
        ``out = apply(params, rng, *args)``.

    Examples:
        >>> f = hk.transform(lambda x: hk.Linear(3)(x))
        >>> params = f.init(jr.PRNGKey(42), jnp.ones((1, 4)))
        >>> out = f.apply(params, None, jnp.ones((1, 4)))
    """
    if not apply_rng:
        raise ValueError("hk.transform(apply_rng=False) is gone in Haiku too: use "
                         "hk.without_apply_rng(hk.transform(f)).")
    return without_state(transform_with_state(f))


def _no_state_error():
    return ValueError(
        "hk.transform: the function uses hk.get_state/hk.set_state, so it has state that "
        "init/apply of hk.transform cannot return. Fix: use hk.transform_with_state(f), whose "
        "init returns (params, state) and apply takes and returns state.")


def without_state(f: TransformedWithState) -> Transformed:
    """A stateless view of a TransformedWithState (fails if the function uses state)."""

    def init_fn(*args, **kwargs):
        params, state = f.init(*args, **kwargs)
        if state:
            raise _no_state_error()
        return params

    def apply_fn(params, *args, **kwargs):
        if "state" in kwargs:
            raise TypeError("hk: apply of a stateless transform takes no `state`.")
        out, state = f.apply(params, {}, *args, **kwargs)
        if state:
            raise _no_state_error()
        return out

    return Transformed(init_fn, apply_fn)


def with_empty_state(f: Transformed) -> TransformedWithState:
    """A Transformed made to look like TransformedWithState (with empty state)."""

    def init_fn(*args, **kwargs):
        return f.init(*args, **kwargs), {}

    def apply_fn(params, state, *args, **kwargs):
        del state
        return f.apply(params, *args, **kwargs), {}

    return TransformedWithState(init_fn, apply_fn)


def without_apply_rng(f):
    """Removes the rng argument of `apply`: ``apply(params, *args)`` (or with state)."""
    if isinstance(f, TransformedWithState):
        return TransformedWithState(f.init, lambda params, state, *a, **k:
                                    f.apply(params, state, None, *a, **k))
    if isinstance(f, Transformed):
        return Transformed(f.init, lambda params, *a, **k: f.apply(params, None, *a, **k))
    if isinstance(f, MultiTransformedWithState):
        from jumba import tree_util
        apply = tree_util.tree_map(lambda fn: (lambda p, s, *a, **k: fn(p, s, None, *a, **k)),
                                   f.apply)
        return MultiTransformedWithState(f.init, apply)
    if isinstance(f, MultiTransformed):
        from jumba import tree_util
        apply = tree_util.tree_map(lambda fn: (lambda p, *a, **k: fn(p, None, *a, **k)),
                                   f.apply)
        return MultiTransformed(f.init, apply)
    raise TypeError(f"hk.without_apply_rng expects the result of an hk.transform*, got "
                    f"{type(f).__name__}.")


def multi_transform_with_state(f: Callable) -> MultiTransformedWithState:
    """Several apply functions sharing parameters.

    `f()` returns ``(template_fn, fns)``: `init(rng, *args)` runs ``template_fn(*args)`` to
    create every parameter; `fns` is a pytree of functions, each becoming
    ``apply(params, state, rng, *args)``.
    """
    from jumba import tree_util

    def init_fn(rng, *args, **kwargs):
        def run(*a, **k):
            template, _ = f()
            return template(*a, **k)
        return transform_with_state(run).init(rng, *args, **kwargs)

    def shape_of_fns():
        # The functions can only be made inside a transform (they may build modules).
        box = []

        def probe():
            box.append(f()[1])
        _run(probe, {}, {}, None, False, (), {})
        return box[0]

    def make_apply(path):
        def run(*a, **k):
            _, fns = f()
            fn = fns
            for key in path:
                fn = fn[key]
            return fn(*a, **k)
        return transform_with_state(run).apply

    fns = shape_of_fns()
    paths, treedef = tree_util.tree_flatten_with_path(fns)
    applies = [make_apply([_path_key(p) for p in path]) for path, _ in paths]
    return MultiTransformedWithState(init_fn, tree_util.tree_unflatten(treedef, applies))


def _path_key(p):
    for attr in ("key", "idx", "name"):
        if hasattr(p, attr):
            return getattr(p, attr)
    return p


def multi_transform(f: Callable) -> MultiTransformed:
    """`multi_transform_with_state` for functions without state."""
    from jumba import tree_util

    t = multi_transform_with_state(f)
    return MultiTransformed(without_state(TransformedWithState(t.init, None)).init,
                            tree_util.tree_map(
                                lambda fn: without_state(TransformedWithState(None, fn)).apply,
                                t.apply))
