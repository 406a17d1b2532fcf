"""Hyperparameters as state: ``inject_hyperparams`` and its stateful variant.

Hyperparameters live in the optimizer state as arrays, so changing them (for example
``state.hyperparams["learning_rate"] = jnp.asarray(1e-4)``) does not retrace a jitted step,
and schedules are evaluated on the state's step count.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, Protocol

import numpy as np

import jumba
import jumba.numpy as jnp
from jumba_optim._src import base
from jumba_optim._src.numerics import safe_increment


class InjectHyperparamsState(NamedTuple):
    """Step count, current hyperparameter values (arrays) and the inner state."""

    count: Any
    hyperparams: dict[str, Any]
    inner_state: Any


class InjectStatefulHyperparamsState(NamedTuple):
    """As :class:`InjectHyperparamsState`, plus the states of stateful schedules."""

    count: Any
    hyperparams: dict[str, Any]
    hyperparams_states: dict[str, Any]
    inner_state: Any


class StatefulSchedule(Protocol):
    """A schedule with its own state: ``init()``, ``update(state, **extra_args)`` and
    ``__call__(state, **extra_args) -> value``."""

    def init(self) -> Any: ...

    def update(self, state: Any, **extra_args: Any) -> Any: ...

    def __call__(self, state: Any, **extra_args: Any) -> Any: ...


class WrappedSchedule:
    """Marks a callable hyperparameter that is to be passed through as a function (not
    evaluated on the step count) by :func:`inject_hyperparams`."""

    def __init__(self, sched_fn: Callable[[Any], Any]):
        self.sched_fn = sched_fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.sched_fn(*args, **kwargs)


def _convert(value, dtype):
    value = jnp.asarray(value)
    if dtype is not None and jnp.issubdtype(value.dtype, jnp.floating):
        return value.astype(dtype)
    return value


def _first_float_dtype(tree):
    for leaf in jumba.tree_util.tree_leaves(tree):
        dtype = getattr(leaf, "dtype", None)
        if dtype is not None and jnp.issubdtype(dtype, jnp.floating):
            return dtype
    return None


def _split_hyperparams(inner_factory, static_args, args, kwargs):
    sig = inspect.signature(inner_factory)
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(
            f"inject_hyperparams({inner_factory.__name__}): {e}; the arguments must match "
            f"{inner_factory.__name__}{sig}."
        ) from None
    bound.apply_defaults()
    sched, numeric, other = {}, {}, {}
    for name, value in bound.arguments.items():
        if name in static_args or isinstance(value, bool) or value is None:
            other[name] = value
        elif isinstance(value, WrappedSchedule):
            other[name] = value.sched_fn
        elif callable(value):
            sched[name] = value
        elif isinstance(value, (int, float, np.ndarray, np.number, jumba.Array)):
            numeric[name] = value
        else:
            other[name] = value
    return sched, numeric, other


def inject_hyperparams(
    inner_factory: Callable[..., base.GradientTransformation],
    static_args: str | Iterable[str] = (),
    hyperparam_dtype: Any = None,
) -> Callable[..., base.GradientTransformationExtraArgs]:
    """Wraps an optimizer factory so its numeric hyperparameters live in the state.

    Numeric arguments become arrays in ``state.hyperparams``; callable arguments are
    schedules evaluated on ``state.count`` each step (their current value is stored too);
    booleans, ``None`` and ``static_args`` are passed through unchanged.

    Args:
        inner_factory: e.g. :func:`adam`.
        static_args: names of arguments that must stay Python values.
        hyperparam_dtype: dtype of the float hyperparameters (default: the params').

    Returns:
        A factory with the signature of ``inner_factory``.

    Examples:
        >>> import jumba.numpy as jnp
        >>> import jumba_optim as optim
        >>> tx = optim.inject_hyperparams(optim.adam)(learning_rate=1e-3)
        >>> state = tx.init({"w": jnp.zeros(3)})
        >>> state.hyperparams["learning_rate"] = jnp.asarray(1e-4)
    """
    static = {static_args} if isinstance(static_args, str) else set(static_args)

    def wrapped(*args, **kwargs):
        sched, numeric, other = _split_hyperparams(inner_factory, static, args, kwargs)

        def schedule_values(count, dtype):
            return {k: _convert(f(count), dtype) for k, f in sched.items()}

        def init_fn(params):
            count = jnp.zeros([], jnp.int32)
            dtype = hyperparam_dtype or _first_float_dtype(params)
            hparams = {k: _convert(v, dtype) for k, v in numeric.items()}
            hparams.update(schedule_values(count, dtype))
            inner = inner_factory(**other, **hparams)
            return InjectHyperparamsState(count, hparams, inner.init(params))

        def update_fn(updates, state, params=None, **extra_args):
            dtype = hyperparam_dtype or _first_float_dtype(updates)
            hparams = {k: _convert(state.hyperparams[k], dtype) for k in numeric}
            hparams.update(schedule_values(state.count, dtype))
            inner = base.with_extra_args_support(inner_factory(**other, **hparams))
            updates, inner_state = inner.update(updates, state.inner_state, params, **extra_args)
            return updates, InjectHyperparamsState(
                safe_increment(state.count), hparams, inner_state
            )

        return base.GradientTransformationExtraArgs(init_fn, update_fn)

    wrapped.__name__ = getattr(inner_factory, "__name__", "wrapped")
    wrapped.__doc__ = inner_factory.__doc__
    return wrapped


def inject_stateful_hyperparams(
    inner_factory: Callable[..., base.GradientTransformation],
    static_args: str | Iterable[str] = (),
    hyperparam_dtype: Any = None,
) -> Callable[..., base.GradientTransformationExtraArgs]:
    """:func:`inject_hyperparams` that also accepts :class:`StatefulSchedule` arguments
    (objects with ``init``/``update``/``__call__``), whose states are kept in
    ``state.hyperparams_states`` and updated with the step's extra args."""
    static = {static_args} if isinstance(static_args, str) else set(static_args)

    def is_stateful(v):
        return all(hasattr(v, a) for a in ("init", "update")) and callable(v)

    def wrapped(*args, **kwargs):
        sched, numeric, other = _split_hyperparams(inner_factory, static, args, kwargs)
        stateful = {k: v for k, v in sched.items() if is_stateful(v)}
        plain = {k: v for k, v in sched.items() if k not in stateful}

        def init_fn(params):
            count = jnp.zeros([], jnp.int32)
            dtype = hyperparam_dtype or _first_float_dtype(params)
            hstates = {k: s.init() for k, s in stateful.items()}
            hparams = {k: _convert(v, dtype) for k, v in numeric.items()}
            hparams.update({k: _convert(f(count), dtype) for k, f in plain.items()})
            hparams.update({k: _convert(s(hstates[k]), dtype) for k, s in stateful.items()})
            inner = inner_factory(**other, **hparams)
            return InjectStatefulHyperparamsState(count, hparams, hstates, inner.init(params))

        def update_fn(updates, state, params=None, **extra_args):
            dtype = hyperparam_dtype or _first_float_dtype(updates)
            hparams = {k: _convert(state.hyperparams[k], dtype) for k in numeric}
            hparams.update({k: _convert(f(state.count), dtype) for k, f in plain.items()})
            hparams.update({
                k: _convert(s(state.hyperparams_states[k], **extra_args), dtype)
                for k, s in stateful.items()
            })
            hstates = {
                k: s.update(state.hyperparams_states[k], **extra_args)
                for k, s in stateful.items()
            }
            inner = base.with_extra_args_support(inner_factory(**other, **hparams))
            updates, inner_state = inner.update(updates, state.inner_state, params, **extra_args)
            return updates, InjectStatefulHyperparamsState(
                safe_increment(state.count), hparams, hstates, inner_state
            )

        return base.GradientTransformationExtraArgs(init_fn, update_fn)

    wrapped.__name__ = getattr(inner_factory, "__name__", "wrapped")
    return wrapped
