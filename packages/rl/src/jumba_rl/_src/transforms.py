"""Value transforms and their inverse pairs, used by the transformed Bellman operators.

A ``TxPair`` holds ``apply`` (values to the transformed space) and ``apply_inv`` (back). The
signed hyperbolic transform ``h(x) = sign(x)(sqrt(|x|+1) - 1) + εx`` of Pohlen et al. (2018),
"Observe and look further: achieving consistent performance on Atari", and its exact inverse
(the signed parabolic) compress large returns; two-hot encodings represent a scalar on a fixed
support of bins (Schrittwieser et al. 2020, MuZero).
"""

from __future__ import annotations

import collections
import functools

import jumba.nn as nn
import jumba.numpy as jnp
from jumba_rl._src import base

Array = base.Array


def _float(fn, x):
    base.check_args(fn, "x", (x,), None, float)
    return jnp.asarray(x)


def identity(x: Array) -> Array:
    """The identity transform."""
    return _float("identity", x)


def sigmoid(x: Array) -> Array:
    """The logistic function ``1 / (1 + exp(-x))``."""
    return nn.sigmoid(_float("sigmoid", x))


def logit(x: Array) -> Array:
    """The inverse of the sigmoid, ``log(x / (1 - x))`` for x in (0, 1)."""
    return -jnp.log(1.0 / _float("logit", x) - 1.0)


def signed_logp1(x: Array) -> Array:
    """``sign(x) log(1 + |x|)``."""
    x = _float("signed_logp1", x)
    return jnp.sign(x) * jnp.log1p(jnp.abs(x))


def signed_expm1(x: Array) -> Array:
    """``sign(x) (exp(|x|) - 1)``, the inverse of ``signed_logp1``."""
    x = _float("signed_expm1", x)
    return jnp.sign(x) * jnp.expm1(jnp.abs(x))


def signed_hyperbolic(x: Array, eps: float = 1e-3) -> Array:
    """``sign(x) (sqrt(|x| + 1) - 1) + eps x`` (Pohlen et al. 2018)."""
    x = _float("signed_hyperbolic", x)
    return jnp.sign(x) * (jnp.sqrt(jnp.abs(x) + 1) - 1) + eps * x


def signed_parabolic(x: Array, eps: float = 1e-3) -> Array:
    """The inverse of ``signed_hyperbolic`` with the same ``eps``."""
    x = _float("signed_parabolic", x)
    z = jnp.sqrt(1 + 4 * eps * (eps + 1 + jnp.abs(x))) / 2 / eps - 1 / 2 / eps
    return jnp.sign(x) * (jnp.square(z) - 1)


def hyperbolic_sin(x: Array) -> Array:
    """``sinh(x)``."""
    return jnp.sinh(_float("hyperbolic_sin", x))


def hyperbolic_arcsin(x: Array) -> Array:
    """``arcsinh(x)``, the inverse of ``hyperbolic_sin``."""
    return jnp.arcsinh(_float("hyperbolic_arcsin", x))


def power(x: Array, p: float) -> Array:
    """Signed power transform ``sign(x) ((|x|/sqrt(p) + 1)^p - 1) / sqrt(p)``."""
    x = _float("power", x)
    q = p**0.5
    return jnp.sign(x) * (jnp.power(jnp.abs(x) / q + 1.0, p) - 1) / q


def transform_to_2hot(scalar: Array, min_value: float, max_value: float,
                      num_bins: int) -> Array:
    """Two-hot encodes scalars on ``num_bins`` evenly spaced bins over [min_value, max_value].

    The mass goes to the two bins around the (clipped) scalar, in proportion to closeness, so
    ``transform_from_2hot`` recovers the scalar.

    Returns:
      Probabilities of shape ``scalar.shape + (num_bins,)``.
    """
    scalar = jnp.clip(jnp.asarray(scalar), min_value, max_value)
    scalar_bin = (scalar - min_value) / (max_value - min_value) * (num_bins - 1)
    lower, upper = jnp.floor(scalar_bin), jnp.ceil(scalar_bin)
    lower_value = lower / (num_bins - 1.0) * (max_value - min_value) + min_value
    upper_value = upper / (num_bins - 1.0) * (max_value - min_value) + min_value
    p_lower = (upper_value - scalar) / (upper_value - lower_value + 1e-5)
    p_upper = 1 - p_lower
    lower_hot = base.one_hot(lower.astype(jnp.int32), num_bins, dtype=scalar.dtype)
    upper_hot = base.one_hot(upper.astype(jnp.int32), num_bins, dtype=scalar.dtype)
    return lower_hot * p_lower[..., None] + upper_hot * p_upper[..., None]


def transform_from_2hot(probs: Array, min_value: float, max_value: float,
                        num_bins: int) -> Array:
    """The expected value of bin probabilities (shape [..., num_bins]) on the even support."""
    probs = jnp.asarray(probs)
    support = jnp.linspace(min_value, max_value, num_bins).astype(probs.dtype)
    return jnp.sum(probs * support, axis=-1)


def transform_to_2hot_nonlinear(scalar: Array, bins: Array) -> Array:
    """Two-hot encodes scalars on an increasing, not necessarily even, support ``bins``."""
    bins = jnp.asarray(bins)
    num_bins = bins.shape[0]
    scalar = jnp.clip(jnp.asarray(scalar), bins[0], bins[-1])
    upper_index = jnp.argmax(scalar[..., None] <= bins, axis=-1)
    # At the lowest bin upper_index is 0; p_lower is then 0, so the wrapped index is harmless.
    upper_value = bins[upper_index]
    lower_value = bins[upper_index - 1]
    p_lower = (upper_value - scalar) / (upper_value - lower_value)
    p_upper = 1 - p_lower
    lower_hot = nn.one_hot(upper_index - 1, num_bins) * p_lower[..., None]
    upper_hot = nn.one_hot(upper_index, num_bins) * p_upper[..., None]
    return lower_hot + upper_hot


def transform_from_2hot_nonlinear(probs: Array, bins: Array) -> Array:
    """The expected value of bin probabilities on the support ``bins``."""
    return jnp.sum(jnp.asarray(probs) * jnp.asarray(bins), axis=-1)


TxPair = collections.namedtuple("TxPair", ["apply", "apply_inv"])

IDENTITY_PAIR = TxPair(identity, identity)
SIGNED_LOGP1_PAIR = TxPair(signed_logp1, signed_expm1)
SIGNED_HYPERBOLIC_PAIR = TxPair(signed_hyperbolic, signed_parabolic)
HYPERBOLIC_SIN_PAIR = TxPair(hyperbolic_arcsin, hyperbolic_sin)
DISCOUNT_TRANSFORM_PAIR = TxPair(lambda x: -jnp.log(1 - x), lambda x: 1 - jnp.exp(-x))


def twohot_pair(min_value: float, max_value: float, num_bins: int) -> TxPair:
    """The pair (two-hot encode, expected value) on an even support."""
    kw = dict(min_value=min_value, max_value=max_value, num_bins=num_bins)
    return TxPair(functools.partial(transform_to_2hot, **kw),
                  functools.partial(transform_from_2hot, **kw))


def compose_tx(*tx_list: TxPair) -> TxPair:
    """Chains pairs: ``apply`` runs them in order, ``apply_inv`` undoes them in reverse."""

    def apply_fn(x):
        for tx in tx_list:
            x = tx.apply(x)
        return x

    def apply_inv_fn(x):
        for tx in reversed(tx_list):
            x = tx.apply_inv(x)
        return x

    return TxPair(apply_fn, apply_inv_fn)


def muzero_pair(min_value: float, max_value: float, num_bins: int, tx: TxPair) -> TxPair:
    """MuZero's value encoding: transform ``tx`` then two-hot encode on an even support."""
    return compose_tx(tx, twohot_pair(min_value, max_value, num_bins))


def unbiased_transform_pair(min_value: float, max_value: float, num_bins: int,
                            tx: TxPair) -> TxPair:
    """Two-hot encoding on the support ``tx.apply_inv(linspace(min, max, num_bins))``.

    Encoding directly on the transformed support keeps the expected value unbiased, unlike
    transforming first and encoding evenly (``muzero_pair``).
    """
    bins = tx.apply_inv(jnp.linspace(min_value, max_value, num_bins))
    pair = TxPair(functools.partial(transform_to_2hot_nonlinear, bins=bins),
                  functools.partial(transform_from_2hot_nonlinear, bins=bins))
    return compose_tx(IDENTITY_PAIR, pair)
