"""Smaller RLax helpers: moving averages, sampled policy targets, step types, embeddings and
sub-sequence sampling for model learning."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

import jumba
import jumba.lax
import jumba.nn as nn
import jumba.numpy as jnp
import jumba.random as jrandom
from jumba.tree_util import tree_map
from jumba_rl._src import base

Array = base.Array


# ----------------------------------------------------------------------------- moving averages
class EmaMoments(NamedTuple):
    """Debiased exponential moving estimates of the mean and variance."""

    mean: Any
    variance: Any


class EmaState(NamedTuple):
    """Moving first (``mu``) and second (``nu``) moments and the product of the decays so far."""

    mu: Any
    nu: Any
    decay_product: Any

    def debiased_moments(self) -> EmaMoments:
        """Moments divided by ``1 - decay_product`` to remove the bias of the zero start."""
        decay_product = jnp.asarray(self.decay_product)
        tiny = float(np.finfo(np.dtype(decay_product.dtype)).tiny)
        debias = 1.0 / jnp.maximum(1 - decay_product, tiny)
        mean = tree_map(lambda m1: m1 * debias, self.mu)
        variance = tree_map(lambda m2, m: jnp.maximum(0.0, m2 * debias - jnp.square(m)),
                            self.nu, mean)
        return EmaMoments(mean=mean, variance=variance)


def create_ema(decay: float = 0.999, pmean_axis_name: str | None = None):
    """Exponential moving averages of the mean and variance of each leaf of a pytree.

    Args:
      decay: the decay of the averages.
      pmean_axis_name: also average the means across this named axis (pmap or vmap).

    Returns:
      ``(init_state(template_tree) -> EmaState, update_moments(tree, state) ->
      (EmaMoments, EmaState))``.
    """

    def init_state(template_tree):
        zeros = tree_map(lambda x: jnp.zeros_like(jnp.mean(x)), template_tree)
        return EmaState(mu=zeros, nu=zeros, decay_product=jnp.ones([], dtype=jnp.float32))

    def _update(moment, value):
        mean = jnp.mean(value)
        if pmean_axis_name is not None:
            mean = jumba.lax.pmean(mean, axis_name=pmean_axis_name)
        return decay * moment + (1 - decay) * mean

    def update_moments(tree, state):
        mu = tree_map(_update, state.mu, tree)
        nu = tree_map(_update, state.nu, tree_map(jnp.square, tree))
        state = EmaState(mu=mu, nu=nu, decay_product=state.decay_product * decay)
        return state.debiased_moments(), state

    return init_state, update_moments


# ------------------------------------------------------------------------------ policy targets
class PolicyTarget(NamedTuple):
    """Sampled actions and their weights, a target for policy distillation."""

    actions: Array
    weights: Array


def constant_policy_targets(distribution: Any, rng_key: Array, num_samples: int,
                            weights_scale: float = 1.0) -> PolicyTarget:
    """Samples ``num_samples`` actions from ``distribution`` with constant weights.

    Args:
      distribution: any object with distrax's interface: ``sample(seed=, sample_shape=)`` and
        ``batch_shape``.
      rng_key: a PRNG key.
      num_samples: number of actions to sample.
      weights_scale: the constant weight.

    Returns:
      ``PolicyTarget`` with actions [num_samples, ...] and weights
      [num_samples, *batch_shape].
    """
    actions = distribution.sample(seed=rng_key, sample_shape=(num_samples,))
    weights = weights_scale * jnp.ones((num_samples,) + tuple(distribution.batch_shape))
    return PolicyTarget(actions=actions, weights=weights)


def zero_policy_targets(distribution: Any, rng_key: Array, num_samples: int) -> PolicyTarget:
    """``constant_policy_targets`` with zero weights (a placeholder that trains nothing)."""
    return constant_policy_targets(distribution, rng_key, num_samples, weights_scale=0.0)


def sampled_policy_distillation_loss(distribution: Any, policy_targets: PolicyTarget,
                                     stop_target_gradients: bool = True) -> Array:
    """Weighted negative log-likelihood of sampled target actions under ``distribution``.

    Args:
      distribution: an object with ``log_prob(actions)`` (distrax's interface).
      policy_targets: the sampled actions and their weights.
      stop_target_gradients: stop gradients through the targets.

    Returns:
      ``-mean(weights * max(log_prob(actions), finfo.min))``.
    """
    weights = base.maybe_stop_gradient(stop_target_gradients, policy_targets.weights)
    actions = base.maybe_stop_gradient(stop_target_gradients, policy_targets.actions)
    log_probs = jnp.asarray(distribution.log_prob(actions))
    base.check_equal_shape("sampled_policy_distillation_loss", "weights log_probs",
                           (weights, log_probs))
    min_logp = float(np.finfo(np.dtype(log_probs.dtype)).min)
    return -jnp.mean(weights * jnp.maximum(log_probs, min_logp))


# ----------------------------------------------------------------------------- sequences, steps
_FIRST, _MID, _LAST = 0, 1, 2   # dm_env.StepType values


def fix_step_type_on_interruptions(step_type: Array) -> Array:
    """Marks as LAST a MID step followed by a FIRST (an episode cut short by a reset).

    Args:
      step_type: dm_env step types (FIRST=0, MID=1, LAST=2), shape [T, B].

    Returns:
      The corrected step types, shape [T, B].
    """
    base.check_args("fix_step_type_on_interruptions", "step_type", (step_type,), 2)
    step_type = jnp.asarray(step_type)
    next_type = jnp.concatenate(
        [step_type[1:], jnp.full(step_type[:1].shape, _MID, dtype=step_type.dtype)], axis=0)
    interrupted = (next_type == _FIRST) & (step_type == _MID)
    return jnp.where(interrupted, jnp.asarray(_LAST, step_type.dtype), step_type)


def embed_oar(features: Array, action: Array, reward: Array, num_actions: int) -> Array:
    """Concatenates features, one-hot actions and ``tanh``-squashed rewards ([B, D+A+1])."""
    base.check_args("embed_oar", "features action reward", (features, action, reward), [2, 1, 1])
    action = nn.one_hot(action, num_actions)
    reward = jnp.tanh(jnp.asarray(reward))
    while reward.ndim < action.ndim:
        reward = reward[..., None]
    return jnp.concatenate([jnp.asarray(features), action, reward], axis=-1)


def extract_subsequences(trajectories: Array, start_indices: Array, subsequence_len: int = 1,
                         max_valid_start_idx: int | None = None) -> Array:
    """Gathers sub-sequences of a batch of trajectories at given start times.

    Args:
      trajectories: shape [T, B, ...].
      start_indices: start times, shape [B, num_subsequences] (integers).
      subsequence_len: length of each sub-sequence.
      max_valid_start_idx: if given, check that ``T >= max_valid_start_idx + subsequence_len``.

    Returns:
      Sub-sequences of shape [subsequence_len, B, num_subsequences, ...].
    """
    trajectories = jnp.asarray(trajectories)
    if max_valid_start_idx is not None:
        min_len = max_valid_start_idx + subsequence_len
        if trajectories.shape[0] < min_len:
            raise ValueError(f"jumba_rl.extract_subsequences: trajectories have length "
                             f"{trajectories.shape[0]} but need at least {min_len} "
                             f"(max_valid_start_idx + subsequence_len).")
    start_indices = jnp.asarray(start_indices)
    batch_size, num_subs = start_indices.shape
    time_idx = jnp.arange(subsequence_len)[:, None, None] + start_indices[None]
    batch_idx = jnp.broadcast_to(jnp.arange(batch_size)[None, :, None], time_idx.shape)
    return trajectories[time_idx, batch_idx]


def sample_start_indices(rng_key: Array, batch_size: int, num_start_indices: int,
                         max_valid_start_idx: int) -> Array:
    """Samples distinct start times in ``[0, max_valid_start_idx]`` for each batch element.

    Returns:
      Integer array of shape [batch_size, num_start_indices].
    """
    if num_start_indices > max_valid_start_idx + 1:
        raise ValueError(f"jumba_rl.sample_start_indices: cannot draw {num_start_indices} distinct "
                         f"start indices from {max_valid_start_idx + 1} positions.")
    window = jnp.arange(max_valid_start_idx + 1)

    def choose(key):
        return jrandom.choice(key, window, shape=(num_start_indices,), replace=False)

    return jumba.vmap(choose)(jrandom.split(rng_key, batch_size))
