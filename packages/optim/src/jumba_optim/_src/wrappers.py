"""Wrappers that change how, when or where an inner transformation applies: masking,
skipping non-finite steps, gradient accumulation, flattening and lookahead."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jumba
import jumba.numpy as jnp
from jumba_optim._src import base
from jumba_optim._src import tree_utils as otu
from jumba_optim._src.combine import MaskedNode, partition
from jumba_optim._src.numerics import safe_increment, tree_is_finite

_map = jumba.tree_util.tree_map


def _select_tree(cond, on_true, on_false):
    """``where(cond, a, b)`` over two trees of equal structure (our stand-in for lax.cond:
    both branches are computed, which is cheap for optimizer updates)."""
    return _map(lambda a, b: jnp.where(cond, a, b), on_true, on_false)


class MaskedState(NamedTuple):
    """The inner state of :func:`masked` (built on the masked params)."""

    inner_state: Any


def masked(
    inner: base.GradientTransformation,
    mask: base.MaskOrFn,
    *,
    mask_compatible_extra_args: bool = False,
) -> base.GradientTransformationExtraArgs:
    """Applies ``inner`` only to the leaves where ``mask`` is true; the others pass unchanged.

    Args:
        inner: the transformation to apply to the selected leaves.
        mask: a tree of booleans shaped like the params (or a prefix of them), or a function
            of the params (or updates) returning one.
        mask_compatible_extra_args: also mask extra args shaped like the params.

    Returns:
        A transformation whose state is a :class:`MaskedState`.

    Examples:
        >>> import jumba_optim as optim
        >>> tx = optim.masked(optim.add_decayed_weights(1e-4), {"w": True, "b": False})
    """

    def mask_tree(tree, mask_t):
        return _map(lambda m, p: p if bool(m) else MaskedNode(), mask_t, tree)

    def init_fn(params):
        mask_t = mask(params) if callable(mask) else mask
        return MaskedState(inner.init(mask_tree(params, mask_t)))

    def update_fn(updates, state, params=None, **extra_args):
        mask_t = mask(updates) if callable(mask) else mask
        if mask_compatible_extra_args:
            extra_args = {
                k: mask_tree(v, mask_t)
                if jumba.tree_util.tree_structure(v) == jumba.tree_util.tree_structure(updates)
                else v
                for k, v in extra_args.items()
            }
        masked_updates = mask_tree(updates, mask_t)
        masked_params = None if params is None else mask_tree(params, mask_t)
        tx = base.with_extra_args_support(inner)
        new_masked, new_inner = tx.update(masked_updates, state.inner_state, masked_params,
                                          **extra_args)
        new_updates = _map(lambda m, new, old: new if bool(m) else old, mask_t, new_masked,
                           updates)
        return new_updates, MaskedState(new_inner)

    return base.GradientTransformationExtraArgs(init_fn, update_fn)


def freeze(mask: base.MaskOrFn) -> base.GradientTransformationExtraArgs:
    """Zeroes the updates of the leaves where ``mask`` is true (those params stay fixed).

    Chain it with an optimizer, e.g. ``chain(freeze({"encoder": True, "head": False}),
    adam(1e-3))``, or use :func:`selective_transform`.
    """
    return masked(base.set_to_zero(), mask)


def selective_transform(
    optimizer: base.GradientTransformation, *, freeze_mask: base.MaskOrFn
) -> base.GradientTransformationExtraArgs:
    """Runs ``optimizer`` on the unfrozen leaves only; frozen leaves get zero updates and
    no optimizer state."""

    def labels(params):
        m = freeze_mask(params) if callable(freeze_mask) else freeze_mask
        return _map(lambda f: "frozen" if bool(f) else "trained", m)

    return partition({"trained": optimizer, "frozen": base.set_to_zero()}, labels)


class ApplyIfFiniteState(NamedTuple):
    """Counters of non-finite steps and the inner state of :func:`apply_if_finite`."""

    notfinite_count: Any
    last_finite: Any
    total_notfinite: Any
    inner_state: Any


def apply_if_finite(
    inner: base.GradientTransformation, max_consecutive_errors: int
) -> base.GradientTransformationExtraArgs:
    """Skips (zero update, state unchanged) steps whose gradients contain NaN or inf.

    After more than ``max_consecutive_errors`` non-finite steps in a row the update is
    applied anyway, so that the failure shows instead of training silently stalling.
    """

    def init_fn(params):
        return ApplyIfFiniteState(
            jnp.zeros([], jnp.int32), jnp.asarray(True), jnp.zeros([], jnp.int32),
            inner.init(params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        isfinite = tree_is_finite(updates)
        notfinite_count = jnp.where(isfinite, jnp.zeros([], jnp.int32),
                                    safe_increment(state.notfinite_count))
        total = jnp.where(isfinite, state.total_notfinite, safe_increment(state.total_notfinite))
        tx = base.with_extra_args_support(inner)
        new_updates, new_inner = tx.update(updates, state.inner_state, params, **extra_args)
        apply = jnp.logical_or(isfinite, notfinite_count > max_consecutive_errors)
        new_updates = _select_tree(apply, new_updates, otu.tree_zeros_like(updates))
        new_inner = _select_tree(apply, new_inner, state.inner_state)
        return new_updates, ApplyIfFiniteState(notfinite_count, isfinite, total, new_inner)

    return base.GradientTransformationExtraArgs(init_fn, update_fn)


ShouldSkipUpdateFunction = Callable[[Any, Any, Any], tuple[Any, Any]]


def skip_not_finite(updates: Any, gradient_step: Any, params: Any) -> tuple[Any, Any]:
    """A :class:`MultiSteps` ``should_skip_update_fn``: skip if any update is not finite.

    Returns:
        ``(should_skip, {"should_skip": ..., "num_not_finite": ...})``.
    """
    del gradient_step, params
    leaves = jumba.tree_util.tree_leaves(updates)
    num = sum(jnp.sum(jnp.logical_not(jnp.isfinite(x))).astype(jnp.int32) for x in leaves)
    num = jnp.asarray(num, jnp.int32)
    should_skip = num > 0
    return should_skip, dict(should_skip=should_skip, num_not_finite=num)


def skip_large_updates(
    updates: Any, gradient_step: Any, params: Any, max_squared_norm: float
) -> tuple[Any, Any]:
    """A ``should_skip_update_fn``: skip if ``||u||^2 >= max_squared_norm`` (or is NaN).

    Bind ``max_squared_norm`` with ``functools.partial``.
    """
    del gradient_step, params
    norm_sq = otu.tree_l2_norm(updates, squared=True)
    should_skip = jnp.logical_not(norm_sq < max_squared_norm)
    return should_skip, dict(should_skip=should_skip, norm_squared=norm_sq)


class MultiStepsState(NamedTuple):
    """State of :class:`MultiSteps`.

    Attributes:
        mini_step: micro-steps accumulated since the last real update.
        gradient_step: real updates made so far.
        inner_opt_state: the wrapped optimizer's state.
        acc_grads: accumulated gradients (their running mean by default).
        skip_state: what ``should_skip_update_fn`` reported on the last step.
    """

    mini_step: Any
    gradient_step: Any
    inner_opt_state: Any
    acc_grads: Any
    skip_state: Any = ()


class MultiSteps:
    """Accumulates gradients over ``every_k_schedule`` micro-steps, then updates once.

    In between, ``update`` returns zero updates. With ``use_grad_mean`` the inner optimizer
    sees the mean of the micro-batch gradients (else their sum).

    Examples:
        >>> import jumba_optim as optim
        >>> opt = optim.MultiSteps(optim.adam(1e-3), every_k_schedule=4)
        >>> tx = opt.gradient_transformation()
    """

    def __init__(
        self,
        opt: base.GradientTransformation,
        every_k_schedule: int | Callable[[Any], Any],
        use_grad_mean: bool = True,
        should_skip_update_fn: ShouldSkipUpdateFunction | None = None,
    ):
        self._opt = base.with_extra_args_support(opt)
        if isinstance(every_k_schedule, int):
            if every_k_schedule < 1:
                raise ValueError(
                    f"MultiSteps: every_k_schedule must be >= 1, got {every_k_schedule}."
                )
            k = every_k_schedule
            self._every_k_schedule = lambda step: k
        else:
            self._every_k_schedule = every_k_schedule
        self._use_grad_mean = use_grad_mean
        self._should_skip_update_fn = should_skip_update_fn

    @property
    def inner_opt(self):
        return self._opt

    def init(self, params: Any) -> MultiStepsState:
        skip_state = ()
        if self._should_skip_update_fn is not None:
            _, skip_state = self._should_skip_update_fn(
                otu.tree_zeros_like(params), jnp.zeros([], jnp.int32), params
            )
        return MultiStepsState(
            jnp.zeros([], jnp.int32), jnp.zeros([], jnp.int32), self._opt.init(params),
            otu.tree_zeros_like(params), skip_state,
        )

    def update(self, updates, state, params=None, **extra_args):
        k_steps = self._every_k_schedule(state.gradient_step)
        skip_state = state.skip_state
        should_skip = jnp.asarray(False)
        if self._should_skip_update_fn is not None:
            should_skip, skip_state = self._should_skip_update_fn(
                updates, state.gradient_step, params
            )
        n = state.mini_step.astype(jnp.float32)
        if self._use_grad_mean:
            acc = _map(lambda u, a: a + (u - a) / (n + 1.0), updates, state.acc_grads)
        else:
            acc = _map(lambda u, a: a + u, updates, state.acc_grads)
        final_updates, final_inner = self._opt.update(acc, state.inner_opt_state, params,
                                                      **extra_args)
        is_final = jnp.logical_not(state.mini_step < k_steps - 1)
        zeros = otu.tree_zeros_like(updates)
        new_updates = _select_tree(is_final, final_updates, zeros)
        new_state = MultiStepsState(
            jnp.where(is_final, jnp.zeros([], jnp.int32), safe_increment(state.mini_step)),
            jnp.where(is_final, safe_increment(state.gradient_step), state.gradient_step),
            _select_tree(is_final, final_inner, state.inner_opt_state),
            _select_tree(is_final, otu.tree_zeros_like(acc), acc),
            skip_state,
        )
        # A skipped micro-step leaves everything as it was.
        new_updates = _select_tree(should_skip, zeros, new_updates)
        old = state._replace(skip_state=skip_state)
        new_state = _select_tree(should_skip, old, new_state)
        return new_updates, new_state

    def has_updated(self, state: MultiStepsState) -> Any:
        """True when the last ``update`` made a real step (the accumulator was emptied)."""
        return jnp.logical_and(state.mini_step == 0, state.gradient_step > 0)

    def gradient_transformation(self) -> base.GradientTransformationExtraArgs:
        """This accumulator as a plain gradient transformation."""
        return base.GradientTransformationExtraArgs(self.init, self.update)


class ApplyEvery(NamedTuple):
    """Counter and gradient accumulator of :func:`apply_every`."""

    count: Any
    grad_acc: Any


def apply_every(k: int = 1) -> base.GradientTransformation:
    """Accumulates updates and emits their sum every ``k`` steps (zeros in between)."""

    def init_fn(params):
        return ApplyEvery(jnp.zeros([], jnp.int32), otu.tree_zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        c = state.count % k
        acc = c != 0
        grad_acc = _map(lambda g, ga: jnp.where(acc, ga, 0.0) + g, updates, state.grad_acc)
        emit = c == (k - 1)
        updates = _map(lambda ga: jnp.where(emit, ga, jnp.zeros_like(ga)), grad_acc)
        return updates, ApplyEvery(safe_increment(state.count) % k, grad_acc)

    return base.GradientTransformation(init_fn, update_fn)


def _ravel(tree):
    leaves = jumba.tree_util.tree_leaves(tree)
    if not leaves:
        return jnp.zeros((0,))
    return jnp.concatenate([jnp.ravel(x) for x in leaves])


def _unravel_like(flat, like):
    leaves, treedef = jumba.tree_util.tree_flatten(like)
    out, start = [], 0
    for x in leaves:
        size = int(jnp.size(x))
        out.append(jnp.reshape(flat[start:start + size], jnp.shape(x)).astype(jnp.asarray(x).dtype))
        start += size
    return treedef.unflatten(out)


def flatten(inner: base.GradientTransformation) -> base.GradientTransformationExtraArgs:
    """Runs ``inner`` on one flat vector made of all the leaves (fewer, larger ops)."""

    def init_fn(params):
        return inner.init(_ravel(params))

    def update_fn(updates, state, params=None, **extra_args):
        flat_params = None if params is None else _ravel(params)
        tx = base.with_extra_args_support(inner)
        new, state = tx.update(_ravel(updates), state, flat_params, **extra_args)
        return _unravel_like(new, updates), state

    return base.GradientTransformationExtraArgs(init_fn, update_fn)


class LookaheadState(NamedTuple):
    """The fast optimizer's state and the steps since the last synchronisation."""

    fast_state: Any
    steps_since_sync: Any


class LookaheadParams(NamedTuple):
    """Fast and slow parameters for :func:`lookahead`; use ``.fast`` for evaluation steps
    during training and ``.slow`` at the end."""

    fast: Any
    slow: Any

    @classmethod
    def init_synced(cls, params: Any) -> LookaheadParams:
        """Both copies equal to ``params``."""
        return cls(fast=params, slow=params)


def lookahead(
    fast_optimizer: base.GradientTransformation,
    sync_period: int,
    slow_step_size: float,
    reset_state: bool = False,
) -> base.GradientTransformation:
    """Lookahead (Zhang et al., 2019): every ``sync_period`` steps the slow weights move
    ``slow_step_size`` of the way to the fast ones, and the fast weights jump there::

        s <- s + alpha (f - s);  f <- s

    Params and updates are :class:`LookaheadParams`.
    """
    if sync_period < 1:
        raise ValueError(f"lookahead: sync_period must be >= 1, got {sync_period}.")

    def init_fn(params):
        if not isinstance(params, LookaheadParams):
            raise TypeError(
                "lookahead expects LookaheadParams; wrap your params with "
                "LookaheadParams.init_synced(params)."
            )
        return LookaheadState(fast_optimizer.init(params.fast), jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None):
        if params is None or not isinstance(params, LookaheadParams):
            raise ValueError("lookahead needs LookaheadParams as params in update.")
        upd = updates.fast if isinstance(updates, LookaheadParams) else updates
        fast_updates, fast_state = fast_optimizer.update(upd, state.fast_state, params.fast)
        sync = state.steps_since_sync == sync_period - 1
        diff = _map(lambda f, u, s: f + u - s, params.fast, fast_updates, params.slow)
        slow_u = _map(lambda d: jnp.where(sync, slow_step_size * d, jnp.zeros_like(d)), diff)
        fast_u = _map(
            lambda f, u, s, d: jnp.where(sync, s + slow_step_size * d - f, u),
            params.fast, fast_updates, params.slow, diff,
        )
        if reset_state:
            fast_state = _select_tree(sync, fast_optimizer.init(params.fast), fast_state)
        steps = (state.steps_since_sync + 1) % sync_period
        return LookaheadParams(fast_u, slow_u), LookaheadState(fast_state, steps)

    return base.GradientTransformation(init_fn, update_fn)


class ConditionallyMaskState(NamedTuple):
    """Step counter and inner state of :func:`conditionally_mask`."""

    step: Any
    inner_state: Any


def conditionally_mask(
    inner: base.GradientTransformation,
    should_transform_fn: Callable[[Any], Any],
    forward_extra_args: bool = False,
) -> base.GradientTransformationExtraArgs:
    """Applies ``inner`` when ``should_transform_fn(step)`` is true, else outputs zeros
    (and keeps the inner state)."""

    def init_fn(params):
        return ConditionallyMaskState(jnp.zeros([], jnp.int32), inner.init(params))

    def update_fn(updates, state, params=None, **extra_args):
        tx = base.with_extra_args_support(inner)
        kw = extra_args if forward_extra_args else {}
        new, inner_state = tx.update(updates, state.inner_state, params, **kw)
        ok = jnp.asarray(should_transform_fn(state.step))
        new = _select_tree(ok, new, otu.tree_zeros_like(updates))
        inner_state = _select_tree(ok, inner_state, state.inner_state)
        return new, ConditionallyMaskState(safe_increment(state.step), inner_state)

    return base.GradientTransformationExtraArgs(init_fn, update_fn)


class ConditionallyTransformState(NamedTuple):
    """Inner state and step counter of :func:`conditionally_transform`."""

    inner_state: Any
    step: Any


def conditionally_transform(
    inner: base.GradientTransformation,
    should_transform_fn: Callable[[Any], Any],
    forward_extra_args: bool = False,
) -> base.GradientTransformationExtraArgs:
    """Applies ``inner`` when ``should_transform_fn(step)`` is true, else passes the
    updates through unchanged."""

    def init_fn(params):
        return ConditionallyTransformState(inner.init(params), jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None, **extra_args):
        tx = base.with_extra_args_support(inner)
        kw = extra_args if forward_extra_args else {}
        new, inner_state = tx.update(updates, state.inner_state, params, **kw)
        ok = jnp.asarray(should_transform_fn(state.step))
        new = _select_tree(ok, new, updates)
        inner_state = _select_tree(ok, inner_state, state.inner_state)
        return new, ConditionallyTransformState(inner_state, safe_increment(state.step))

    return base.GradientTransformationExtraArgs(init_fn, update_fn)
