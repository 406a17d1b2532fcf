"""Exploration: action noise (Gaussian, Ornstein-Uhlenbeck, Dirichlet) and episodic novelty."""

from __future__ import annotations

from typing import NamedTuple

import jumba.lax as lax
import jumba.numpy as jnp
import jumba.random as jrandom
from jumba_rl._src import base

Array = base.Array
Scalar = base.Numeric


def add_gaussian_noise(key: Array, action: Array, stddev: float) -> Array:
    """Adds ``N(0, stddev²)`` noise to a continuous action (as in DDPG/TD3 exploration).

    Args:
      key: a PRNG key.
      action: continuous action (floating).
      stddev: standard deviation of the noise.

    Returns:
      The noisy action.
    """
    base.check_args("add_gaussian_noise", "action", (action,), None, float)
    action = jnp.asarray(action)
    return action + jrandom.normal(key, action.shape, action.dtype) * stddev


def add_ornstein_uhlenbeck_noise(key: Array, action: Array, noise_tm1: Array, damping: float,
                                 stddev: float) -> Array:
    """Adds temporally correlated Ornstein-Uhlenbeck noise to a continuous action.

    ``noise_t = (1 - damping) noise_{t-1} + N(0, stddev²)``; the returned action is
    ``action + noise_t`` (recover ``noise_t`` as the difference to carry it to the next step).
    See Uhlenbeck & Ornstein (1930) and Lillicrap et al. (2016), "Continuous control with deep
    reinforcement learning".

    Args:
      key: a PRNG key.
      action: continuous action, shape [D].
      noise_tm1: the previous noise, shape [D].
      damping: how fast the noise decays to zero, in [0, 1].
      stddev: standard deviation of the fresh noise.

    Returns:
      The noisy action, shape [D].
    """
    base.check_args("add_ornstein_uhlenbeck_noise", "action noise_tm1", (action, noise_tm1), 1,
                    float)
    action = jnp.asarray(action)
    noise_t = ((1.0 - damping) * noise_tm1
               + jrandom.normal(key, action.shape, action.dtype) * stddev)
    return action + noise_t


def add_dirichlet_noise(key: Array, prior: Array, dirichlet_alpha: float,
                        dirichlet_fraction: float) -> Array:
    """Mixes Dirichlet noise into a batch of prior policies, as AlphaZero does at the root.

    ``(1 - fraction) prior + fraction Dir(alpha)``. See Silver et al. (2017), "Mastering the
    game of Go without human knowledge".

    Args:
      key: a PRNG key.
      prior: prior probabilities, shape [B, A].
      dirichlet_alpha: concentration of the symmetric Dirichlet.
      dirichlet_fraction: weight of the noise, in [0, 1].

    Returns:
      The noisy priors, shape [B, A].
    """
    base.check_args("add_dirichlet_noise", "prior dirichlet_alpha dirichlet_fraction",
                    (prior, dirichlet_alpha, dirichlet_fraction), [2, None, None],
                    [None, float, float])
    prior = jnp.asarray(prior)
    batch_size, num_actions = prior.shape
    noise = jrandom.dirichlet(key, jnp.full((num_actions,), dirichlet_alpha, prior.dtype),
                              shape=(batch_size,))
    return (1 - dirichlet_fraction) * prior + dirichlet_fraction * noise


class KNNQueryResult(NamedTuple):
    """Nearest neighbours of each query: the points, their indices and negated distances."""

    neighbors: Array
    neighbor_indices: Array
    neighbor_neg_distances: Array


def knn_query(data: Array, query_points: Array, num_neighbors: int) -> KNNQueryResult:
    """The ``num_neighbors`` nearest rows of ``data`` to each query, by squared Euclidean distance.

    Args:
      data: the memory, shape [N, D].
      query_points: queries, shape [Q, D].
      num_neighbors: how many neighbours (at most N are returned).

    Returns:
      ``KNNQueryResult`` with shapes [Q, k, D], [Q, k] and [Q, k], nearest first.
    """
    base.check_args("knn_query", "data query_points", (data, query_points), 2)
    data, query_points = jnp.asarray(data), jnp.asarray(query_points)
    if data.shape[-1] != query_points.shape[-1]:
        raise ValueError(f"jumba_rl.knn_query: data has feature size {data.shape[-1]} but the "
                         f"queries have {query_points.shape[-1]}; they must match.")
    diff = query_points[:, None, :] - data[None, :, :]
    neg_distances = -jnp.sum(diff * diff, axis=-1)
    neg_distances, indices = lax.top_k(neg_distances, min(num_neighbors, data.shape[0]))
    return KNNQueryResult(data[indices], indices, neg_distances)


class IntrinsicRewardState(NamedTuple):
    """Episodic memory and running statistics of the neighbour distances."""

    memory: Array
    next_memory_index: Scalar = 0
    distance_sum: Scalar = 0.0
    distance_count: Scalar = 0


def episodic_memory_intrinsic_rewards(embeddings: Array, num_neighbors: int,
                                      reward_scale: float,
                                      intrinsic_reward_state: IntrinsicRewardState | None = None,
                                      constant: float = 1e-3, epsilon: float = 1e-4,
                                      cluster_distance: float = 8e-3, max_similarity: float = 8.0,
                                      max_memory_size: int = 30_000):
    """Episodic novelty rewards of Never Give Up: large when an embedding is far from memory.

    See Badia et al. (2020), "Never give up: learning directed exploration strategies". The
    similarity to the ``num_neighbors`` nearest memories (by a kernel on distances normalised by
    their running mean) gives ``reward = reward_scale / similarity`` (0 past ``max_similarity``).

    Args:
      embeddings: controllable-state embeddings of a batch, shape [B, D].
      num_neighbors: neighbours used by the kernel.
      reward_scale: scale of the rewards.
      intrinsic_reward_state: the memory state (None starts a new one).
      constant: small constant of the kernel and the similarity.
      epsilon: kernel width.
      cluster_distance: distances below this count as the same cluster.
      max_similarity: above this similarity the reward is 0.
      max_memory_size: number of memory slots.

    Returns:
      ``(rewards [B], new IntrinsicRewardState)``.
    """
    embeddings = jnp.asarray(embeddings)
    feature_size = embeddings.shape[-1]
    if intrinsic_reward_state is None:
        memory = jnp.full((max_memory_size, feature_size), jnp.inf, embeddings.dtype)
        memory = memory.at[:num_neighbors].set(0.0)
        intrinsic_reward_state = IntrinsicRewardState(memory=memory)
    elif tuple(intrinsic_reward_state.memory.shape) != (max_memory_size, feature_size):
        raise ValueError(f"jumba_rl.episodic_memory_intrinsic_rewards: memory has shape "
                         f"{tuple(intrinsic_reward_state.memory.shape)}, expected "
                         f"{(max_memory_size, feature_size)} (max_memory_size, embedding size).")
    memory = intrinsic_reward_state.memory
    nn_distances_sq = knn_query(memory, embeddings, num_neighbors).neighbor_neg_distances
    start_index = intrinsic_reward_state.next_memory_index % memory.shape[0]
    indices = (jnp.arange(embeddings.shape[0]) + start_index) % memory.shape[0]
    memory = memory.at[indices].set(embeddings)
    distance_sum = intrinsic_reward_state.distance_sum + jnp.sum(nn_distances_sq)
    distance_count = intrinsic_reward_state.distance_count + nn_distances_sq.size
    mean_distance = distance_sum / distance_count
    distance_rate = nn_distances_sq / (mean_distance + constant)
    distance_rate = jnp.maximum(distance_rate - cluster_distance, 0.0)
    kernel = epsilon / (distance_rate + epsilon)
    similarity = jnp.sqrt(jnp.sum(kernel, axis=-1)) + constant
    reward = jnp.where(similarity > max_similarity, 0.0, 1.0 / similarity) * reward_scale
    # As in RLax, the index advances by (batch % max_memory_size) without wrapping here; the
    # modulo is taken on the next call.
    new_state = IntrinsicRewardState(
        memory=memory,
        next_memory_index=start_index + embeddings.shape[0] % max_memory_size,
        distance_sum=distance_sum, distance_count=distance_count)
    return reward, new_state
