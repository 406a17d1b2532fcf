"""Arithmetic on pytrees of arrays, as ``optax.tree_utils``.

Every function maps leaf by leaf; ``None`` leaves (JAX's empty nodes) pass through.
"""

from __future__ import annotations

from typing import Any

import jumba
import jumba.numpy as jnp
from jumba_optim._src.numerics import abs_sq

_map = jumba.tree_util.tree_map
_leaves = jumba.tree_util.tree_leaves


def tree_add(tree_x: Any, tree_y: Any, *other_trees: Any) -> Any:
    """``x + y (+ ...)`` leaf by leaf."""
    return _map(lambda *xs: sum(xs[1:], xs[0]), tree_x, tree_y, *other_trees)


def tree_sub(tree_x: Any, tree_y: Any) -> Any:
    """``x - y`` leaf by leaf."""
    return _map(lambda x, y: x - y, tree_x, tree_y)


def tree_mul(tree_x: Any, tree_y: Any) -> Any:
    """``x * y`` leaf by leaf."""
    return _map(lambda x, y: x * y, tree_x, tree_y)


def tree_div(tree_x: Any, tree_y: Any) -> Any:
    """``x / y`` leaf by leaf."""
    return _map(lambda x, y: x / y, tree_x, tree_y)


def tree_scalar_mul(scalar: Any, tree: Any) -> Any:
    """``scalar * x`` for every leaf, keeping each leaf's dtype."""
    return _map(lambda x: (scalar * x).astype(jnp.asarray(x).dtype), tree)


def tree_add_scale(tree_x: Any, scalar: Any, tree_y: Any) -> Any:
    """``x + scalar * y`` leaf by leaf."""
    return _map(lambda x, y: x + scalar * y, tree_x, tree_y)


def tree_vdot(tree_x: Any, tree_y: Any) -> Any:
    """The inner product ``sum_leaves sum(x * y)`` as a scalar."""
    prods = [jnp.sum(x * y) for x, y in zip(_leaves(tree_x), _leaves(tree_y), strict=True)]
    return sum(prods[1:], prods[0]) if prods else jnp.asarray(0.0)


def tree_sum(tree: Any) -> Any:
    """The sum of every element of every leaf."""
    sums = [jnp.sum(x) for x in _leaves(tree)]
    return sum(sums[1:], sums[0]) if sums else jnp.asarray(0.0)


def tree_l2_norm(tree: Any, squared: bool = False) -> Any:
    """The 2-norm of the tree seen as one flat vector (its square if ``squared``)."""
    sq = [jnp.sum(abs_sq(x)) for x in _leaves(tree)]
    total = sum(sq[1:], sq[0]) if sq else jnp.asarray(0.0)
    return total if squared else jnp.sqrt(total)


def global_norm(updates: Any) -> Any:
    """``sqrt(sum over leaves of sum(u^2))``: the norm used by gradient clipping."""
    return tree_l2_norm(updates)


def tree_zeros_like(tree: Any, dtype: Any = None) -> Any:
    """Zeros shaped like every leaf (optionally of ``dtype``)."""
    return _map(lambda x: jnp.zeros_like(x, dtype=dtype), tree)


def tree_ones_like(tree: Any, dtype: Any = None) -> Any:
    """Ones shaped like every leaf (optionally of ``dtype``)."""
    return _map(lambda x: jnp.ones_like(x, dtype=dtype), tree)


def tree_full_like(tree: Any, fill_value: Any, dtype: Any = None) -> Any:
    """``fill_value`` shaped like every leaf."""
    return _map(lambda x: jnp.full_like(x, fill_value, dtype=dtype), tree)


def tree_cast(tree: Any, dtype: Any) -> Any:
    """Casts every leaf to ``dtype`` (no-op when ``dtype`` is ``None``)."""
    if dtype is None:
        return tree
    return _map(lambda x: jnp.asarray(x).astype(dtype), tree)


def tree_where(condition: Any, tree_x: Any, tree_y: Any) -> Any:
    """``where(condition, x, y)`` leaf by leaf, with one boolean ``condition``."""
    return _map(lambda x, y: jnp.where(condition, x, y), tree_x, tree_y)


def tree_select(condition: Any, tree_x: Any, tree_y: Any) -> Any:
    """Alias of :func:`tree_where` (a scalar condition picks whole trees)."""
    return tree_where(condition, tree_x, tree_y)


def tree_update_moment(updates: Any, moments: Any, decay: Any, order: int) -> Any:
    """``m_t = (1 - decay) * g_t^order + decay * m_{t-1}`` (an EMA of ``g^order``)."""
    if order == 1:  # the common case, without a pow in the traced program
        return _map(lambda g, t: (1 - decay) * g + decay * t, updates, moments)
    return _map(lambda g, t: (1 - decay) * (g**order) + decay * t, updates, moments)


def tree_update_moment_per_elem_norm(updates: Any, moments: Any, decay: Any, order: int) -> Any:
    """``m_t = (1 - decay) * |g_t|^order + decay * m_{t-1}``."""

    def orderth_norm(g):
        if order == 2:
            return abs_sq(g)
        return jnp.abs(g) ** order

    return _map(lambda g, t: (1 - decay) * orderth_norm(g) + decay * t, updates, moments)


def tree_update_infinity_moment(updates: Any, moments: Any, decay: Any, eps: Any) -> Any:
    """``m_t = max(|g_t| + eps, decay * m_{t-1})`` (Adamax's infinity norm)."""
    return _map(lambda g, t: jnp.maximum(jnp.abs(g) + eps, decay * t), updates, moments)


def tree_bias_correction(moment: Any, decay: Any, count: Any) -> Any:
    """``m_hat = m / (1 - decay^count)``, Adam's correction of the zero initialisation."""
    correction = 1 - decay ** jnp.asarray(count)
    return _map(lambda t: t / correction.astype(t.dtype), moment)


class _ParamsPlaceholder:
    """A pytree node with no children: ``tree_map`` over it returns it unchanged.

    Calling ``tx.init`` on it therefore yields the state with a placeholder wherever a
    params-shaped subtree would be, which is how :func:`tree_map_params` finds them.
    """


jumba.tree_util.register_pytree_node(
    _ParamsPlaceholder, lambda p: ((), None), lambda aux, children: _ParamsPlaceholder()
)


def tree_map_params(
    initable: Any,
    f: Any,
    state: Any,
    /,
    *args: Any,
    transform_non_params: Any = None,
    is_leaf: Any = None,
    **kwargs: Any,
) -> Any:
    """Applies ``f`` to the params-shaped parts of an optimizer state.

    Useful to shard, cast or inspect the moments of an optimizer without knowing how its
    state is laid out.

    Args:
        initable: anything with an ``init(params)`` (a gradient transformation).
        f: function applied to every leaf of each params-shaped subtree of ``state``.
        state: the optimizer state, as returned by ``initable.init``.
        *args: extra trees mapped alongside (shaped like params).
        transform_non_params: optional function applied to the other leaves.
        is_leaf: passed to ``tree_map`` over the params-shaped subtrees.
        **kwargs: passed to ``f``.

    Returns:
        The state with ``f`` applied.
    """
    placeholder_state = initable.init(_ParamsPlaceholder())

    def map_params(maybe_placeholder, value):
        if isinstance(maybe_placeholder, _ParamsPlaceholder):
            return _map(lambda *xs: f(*xs, **kwargs), value, *args, is_leaf=is_leaf)
        if transform_non_params is not None:
            return transform_non_params(value)
        return value

    return _map(
        map_params,
        placeholder_state,
        state,
        is_leaf=lambda v: isinstance(v, _ParamsPlaceholder),
    )


# Optax's top-level names for the moment helpers.
update_moment = tree_update_moment
update_moment_per_elem_norm = tree_update_moment_per_elem_norm
update_infinity_moment = tree_update_infinity_moment
bias_correction = tree_bias_correction
