"""Action distributions as bundles of pure functions, and categorical/Gaussian divergences.

As in RLax, a distribution is a named tuple of functions (``sample``, ``probs``/``prob``,
``logprob``, ``entropy``, ``kl`` ...) taking the distribution's parameters explicitly, so that
they compose with ``vmap``/``jit``/``grad``. RLax builds them on distrax; here the formulas are
written out on ``jumba.numpy``, with the same conventions (for example, the greedy policy spreads
its mass evenly over tied maxima).
"""

from __future__ import annotations

import collections
import math

import jumba.nn as nn
import jumba.numpy as jnp
import jumba.random as jrandom
from jumba_rl._src import base

Array = base.Array
Numeric = base.Numeric

DiscreteDistribution = collections.namedtuple(
    "DiscreteDistribution", ["sample", "probs", "logprob", "entropy", "kl"])
ContinuousDistribution = collections.namedtuple(
    "ContinuousDistribution",
    ["sample", "prob", "logprob", "entropy", "kl_to_standard_normal", "kl"])

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _xlogy(p, log_q):
    """``p * log_q`` with 0 where ``p == 0`` (so that -inf log-probabilities do not give nan)."""
    safe = jnp.where(p == 0, jnp.zeros_like(log_q), log_q)
    return jnp.where(p == 0, jnp.zeros_like(p), p * safe)


def _categorical_logprob(log_probs, sample):
    sample = jnp.asarray(sample)
    picked = jnp.take_along_axis(log_probs, sample[..., None].astype(jnp.int32), axis=-1)
    return jnp.squeeze(picked, axis=-1)


def _categorical_entropy(probs, log_probs):
    return -jnp.sum(_xlogy(probs, log_probs), axis=-1)


def _sample_from_log_probs(key, log_probs):
    return jrandom.categorical(key, log_probs, axis=-1)


def softmax(temperature: float = 1.0) -> DiscreteDistribution:
    """A softmax (Boltzmann) policy over logits, ``π(a) ∝ exp(logits[a] / temperature)``.

    Args:
      temperature: positive temperature; lower is greedier.

    Returns:
      A ``DiscreteDistribution`` whose functions take ``logits`` of shape [..., A]:
      ``sample(key, logits)``, ``probs(logits)``, ``logprob(sample, logits)``,
      ``entropy(logits)``, ``kl(p_logits, q_logits)``.
    """

    def log_probs_fn(logits):
        return nn.log_softmax(jnp.asarray(logits) / temperature, axis=-1)

    def sample_fn(key, logits):
        return _sample_from_log_probs(key, log_probs_fn(logits))

    def probs_fn(logits):
        return nn.softmax(jnp.asarray(logits) / temperature, axis=-1)

    def logprob_fn(sample, logits):
        return _categorical_logprob(log_probs_fn(logits), sample)

    def entropy_fn(logits):
        log_p = log_probs_fn(logits)
        return _categorical_entropy(jnp.exp(log_p), log_p)

    def kl_fn(p_logits, q_logits):
        return categorical_kl_divergence(p_logits, q_logits, temperature)

    return DiscreteDistribution(sample_fn, probs_fn, logprob_fn, entropy_fn, kl_fn)


def clipped_entropy_softmax(temperature: float = 1.0,
                            entropy_clip: float = 1.0) -> DiscreteDistribution:
    """A softmax policy whose entropy is capped at ``entropy_clip * log(A)``.

    Capping the entropy stops an entropy bonus from pushing the policy all the way to uniform.

    Args:
      temperature: positive temperature.
      entropy_clip: fraction of the maximum entropy ``log(A)`` kept.

    Returns:
      A ``DiscreteDistribution`` (``sample``/``probs``/``logprob`` accept and ignore an
      ``action_spec`` argument, as RLax's do).
    """
    dist = softmax(temperature)

    def sample_fn(key, logits, action_spec=None):
        del action_spec
        return dist.sample(key, logits)

    def probs_fn(logits, action_spec=None):
        del action_spec
        return dist.probs(logits)

    def logprob_fn(sample, logits, action_spec=None):
        del action_spec
        return dist.logprob(sample, logits)

    def entropy_fn(logits):
        num_actions = jnp.shape(logits)[-1]
        return jnp.minimum(dist.entropy(logits), entropy_clip * math.log(num_actions))

    return DiscreteDistribution(sample_fn, probs_fn, logprob_fn, entropy_fn, dist.kl)


def _greedy_probs(preferences):
    preferences = jnp.asarray(preferences)
    is_max = (preferences == jnp.max(preferences, axis=-1, keepdims=True))
    dtype = preferences.dtype if jnp.issubdtype(preferences.dtype, jnp.floating) else jnp.float32
    is_max = is_max.astype(dtype)
    return is_max / jnp.sum(is_max, axis=-1, keepdims=True)


def _discrete_from_probs(probs_of):
    def sample_fn(key, preferences, *extra):
        return _sample_from_log_probs(key, jnp.log(probs_of(preferences, *extra)))

    def logprob_fn(sample, preferences, *extra):
        return _categorical_logprob(jnp.log(probs_of(preferences, *extra)), sample)

    def entropy_fn(preferences, *extra):
        p = probs_of(preferences, *extra)
        return _categorical_entropy(p, jnp.log(p))

    return sample_fn, logprob_fn, entropy_fn


def greedy() -> DiscreteDistribution:
    """The greedy policy: all mass on the maximal preferences (split evenly between ties).

    Returns:
      A ``DiscreteDistribution`` on ``preferences`` of shape [..., A] (``kl`` is None).
    """
    sample_fn, logprob_fn, entropy_fn = _discrete_from_probs(_greedy_probs)
    return DiscreteDistribution(sample_fn, _greedy_probs, logprob_fn, entropy_fn, None)


def epsilon_greedy(epsilon: float | None = None) -> DiscreteDistribution:
    """The ε-greedy policy: greedy with probability 1-ε, uniform with probability ε.

    Args:
      epsilon: exploration probability; can also be passed to each function, which lets it be
        a traced value (an annealed schedule under ``jit``).

    Returns:
      A ``DiscreteDistribution`` on ``preferences`` of shape [..., A] (``kl`` is None).
    """

    def probs_fn(preferences, epsilon=epsilon):
        if epsilon is None:
            raise ValueError("jumba_rl.epsilon_greedy: no epsilon given; pass it to "
                             "epsilon_greedy(epsilon) or to the function call.")
        greedy_p = _greedy_probs(preferences)
        num_actions = greedy_p.shape[-1]
        return (1.0 - epsilon) * greedy_p + epsilon / num_actions

    sample_fn, logprob_fn, entropy_fn = _discrete_from_probs(probs_fn)

    def sample(key, preferences, epsilon=epsilon):
        return sample_fn(key, preferences, epsilon)

    def logprob(sample, preferences, epsilon=epsilon):
        return logprob_fn(sample, preferences, epsilon)

    def entropy(preferences, epsilon=epsilon):
        return entropy_fn(preferences, epsilon)

    return DiscreteDistribution(sample, probs_fn, logprob, entropy, None)


def _normal_diag_logprob(x, mu, sigma):
    z = (x - mu) / sigma
    return jnp.sum(-0.5 * z * z - jnp.log(sigma) - _HALF_LOG_2PI, axis=-1)


def _normal_diag_entropy(sigma):
    return jnp.sum(0.5 + _HALF_LOG_2PI + jnp.log(sigma), axis=-1)


def _normal_diag_kl(mu_0, sigma_0, mu_1, sigma_1):
    ratio = sigma_0 / sigma_1
    diff = (mu_0 - mu_1) / sigma_1
    return jnp.sum(0.5 * (ratio * ratio + diff * diff - 1.0) - jnp.log(ratio), axis=-1)


def gaussian_diagonal(sigma: Numeric | None = None) -> ContinuousDistribution:
    """A Gaussian policy with diagonal covariance, ``N(mu, diag(sigma²))`` over the last axis.

    Args:
      sigma: default standard deviation (scalar or array broadcasting against ``mu``); each
        function also accepts it as an argument.

    Returns:
      A ``ContinuousDistribution``: ``sample(key, mu, sigma)``, ``prob(x, mu, sigma)``,
      ``logprob(x, mu, sigma)``, ``entropy(mu, sigma)``, ``kl_to_standard_normal(mu, sigma)``,
      ``kl(mu_0, sigma_0, mu_1, sigma_1)``.
    """

    def _scale(mu, s):
        if s is None:
            raise ValueError("jumba_rl.gaussian_diagonal: no sigma given; pass it to "
                             "gaussian_diagonal(sigma) or to the function call.")
        return jnp.ones_like(mu) * s

    def sample_fn(key, mu, sigma=sigma):
        mu = jnp.asarray(mu)
        return mu + _scale(mu, sigma) * jrandom.normal(key, mu.shape, mu.dtype)

    def logprob_fn(sample, mu, sigma=sigma):
        mu = jnp.asarray(mu)
        return _normal_diag_logprob(sample, mu, _scale(mu, sigma))

    def prob_fn(sample, mu, sigma=sigma):
        return jnp.exp(logprob_fn(sample, mu, sigma))

    def entropy_fn(mu, sigma=sigma):
        return _normal_diag_entropy(_scale(jnp.asarray(mu), sigma))

    def kl_to_standard_normal_fn(mu, sigma=sigma):
        mu = jnp.asarray(mu)
        return _normal_diag_kl(mu, _scale(mu, sigma), jnp.zeros_like(mu), jnp.ones_like(mu))

    def kl_fn(mu_0, sigma_0, mu_1, sigma_1):
        mu_0, mu_1 = jnp.asarray(mu_0), jnp.asarray(mu_1)
        return _normal_diag_kl(mu_0, jnp.ones_like(mu_0) * sigma_0,
                               mu_1, jnp.ones_like(mu_1) * sigma_1)

    return ContinuousDistribution(sample_fn, prob_fn, logprob_fn, entropy_fn,
                                  kl_to_standard_normal_fn, kl_fn)


def squashed_gaussian(sigma_min: float = -4, sigma_max: float = 0.0) -> ContinuousDistribution:
    """A tanh-squashed diagonal Gaussian policy for bounded continuous actions.

    The pre-activations are mapped to ``loc = tanh(mu)`` and
    ``scale = exp(sigma_min + (sigma_max - sigma_min) (tanh(sigma) + 1) / 2)``; a sample is
    ``tanh(loc + scale * ε)``, then affinely mapped onto ``[action_spec.minimum,
    action_spec.maximum]`` when an action spec is given. ``entropy`` and the KLs are those of the
    Gaussian before squashing, as in RLax.

    Args:
      sigma_min: log of the smallest standard deviation.
      sigma_max: log of the largest standard deviation.

    Returns:
      A ``ContinuousDistribution``: ``sample(key, mu, sigma, action_spec)``,
      ``prob``/``logprob(sample, mu, sigma, action_spec)``, ``entropy(mu, sigma)``,
      ``kl_to_standard_normal(mu, sigma)``, ``kl(mu_0, sigma_0, mu_1, sigma_1)``.
    """

    def params(mu, sigma):
        loc = jnp.tanh(jnp.asarray(mu))
        scale = jnp.exp(sigma_min + 0.5 * (sigma_max - sigma_min) * (jnp.tanh(sigma) + 1.0))
        return loc, jnp.ones_like(loc) * scale

    def affine(action_spec):
        if action_spec is None:
            return None
        return 0.5 * (action_spec.maximum - action_spec.minimum), action_spec.minimum

    def sample_fn(key, mu, sigma, action_spec=None):
        loc, scale = params(mu, sigma)
        y = jnp.tanh(loc + scale * jrandom.normal(key, loc.shape, loc.dtype))
        a = affine(action_spec)
        return y if a is None else a[1] + a[0] * (y + 1.0)

    def logprob_fn(sample, mu, sigma, action_spec=None):
        loc, scale = params(mu, sigma)
        y = jnp.asarray(sample)
        log_det = jnp.zeros(y.shape[:-1], y.dtype)
        a = affine(action_spec)
        if a is not None:
            y = (y - a[1]) / a[0] - 1.0
            log_det = log_det + jnp.sum(jnp.log(jnp.abs(jnp.ones_like(y) * a[0])), axis=-1)
        x = jnp.arctanh(y)
        # log |d tanh(x)/dx| = 2 (log 2 - x - softplus(-2x)), stable for large |x|.
        log_det = log_det + jnp.sum(2.0 * (math.log(2.0) - x - nn.softplus(-2.0 * x)), axis=-1)
        return _normal_diag_logprob(x, loc, scale) - log_det

    def prob_fn(sample, mu, sigma, action_spec=None):
        return jnp.exp(logprob_fn(sample, mu, sigma, action_spec))

    def entropy_fn(mu, sigma):
        return _normal_diag_entropy(params(mu, sigma)[1])

    def kl_to_standard_normal_fn(mu, sigma):
        loc, scale = params(mu, sigma)
        return _normal_diag_kl(loc, scale, jnp.zeros_like(loc), jnp.ones_like(loc))

    def kl_fn(mu_0, sigma_0, mu_1, sigma_1):
        return _normal_diag_kl(*params(mu_0, sigma_0), *params(mu_1, sigma_1))

    return ContinuousDistribution(sample_fn, prob_fn, logprob_fn, entropy_fn,
                                  kl_to_standard_normal_fn, kl_fn)


def categorical_importance_sampling_ratios(pi_logits_t: Array, mu_logits_t: Array,
                                           a_t: Array) -> Array:
    """Importance ratios ``π(a_t)/μ(a_t)`` of two softmax policies given by their logits.

    Args:
      pi_logits_t: target policy logits, shape [T, A].
      mu_logits_t: behaviour policy logits, shape [T, A].
      a_t: actions taken, shape [T].

    Returns:
      The ratios, shape [T].
    """
    base.check_args("categorical_importance_sampling_ratios", "pi_logits_t mu_logits_t a_t",
                    (pi_logits_t, mu_logits_t, a_t), None, [float, float, int])
    log_pi = _categorical_logprob(nn.log_softmax(pi_logits_t, axis=-1), a_t)
    log_mu = _categorical_logprob(nn.log_softmax(mu_logits_t, axis=-1), a_t)
    return jnp.exp(log_pi - log_mu)


def categorical_cross_entropy(labels: Array, logits: Array) -> Array:
    """Cross-entropy ``-Σ labels · log softmax(logits)`` over the last axis.

    Args:
      labels: target probabilities, shape [..., A].
      logits: predicted logits, shape [..., A].

    Returns:
      The cross-entropies, shape [...].
    """
    base.check_args("categorical_cross_entropy", "labels logits", (labels, logits), None, float)
    return -jnp.sum(_xlogy(jnp.asarray(labels), nn.log_softmax(logits, axis=-1)), axis=-1)


def categorical_kl_divergence(p_logits: Array, q_logits: Array,
                              temperature: float = 1.0) -> Array:
    """KL divergence ``KL(p || q)`` of two softmax distributions given by logits.

    Args:
      p_logits: logits of p, shape [..., A].
      q_logits: logits of q, shape [..., A].
      temperature: temperature applied to both.

    Returns:
      The divergences, shape [...].
    """
    log_p = nn.log_softmax(jnp.asarray(p_logits) / temperature, axis=-1)
    log_q = nn.log_softmax(jnp.asarray(q_logits) / temperature, axis=-1)
    return jnp.sum(_xlogy(jnp.exp(log_p), log_p - log_q), axis=-1)


def multivariate_normal_kl_divergence(mu_0: Array, sigma_0: Numeric, mu_1: Array,
                                      sigma_1: Numeric) -> Array:
    """KL divergence between two diagonal Gaussians ``N(mu_0, sigma_0²)`` and ``N(mu_1, sigma_1²)``.

    Args:
      mu_0: mean of the first, shape [..., D].
      sigma_0: standard deviations of the first (broadcasts against ``mu_0``).
      mu_1: mean of the second, shape [..., D].
      sigma_1: standard deviations of the second.

    Returns:
      The divergences, shape [...].
    """
    mu_0, mu_1 = jnp.asarray(mu_0), jnp.asarray(mu_1)
    return _normal_diag_kl(mu_0, jnp.ones_like(mu_0) * sigma_0, mu_1, jnp.ones_like(mu_1) * sigma_1)


def categorical_sample(key: Array, probs: Array) -> Array:
    """Samples an index from each distribution ``probs`` (shape [..., A]) over the last axis."""
    return _sample_from_log_probs(key, jnp.log(jnp.asarray(probs)))
