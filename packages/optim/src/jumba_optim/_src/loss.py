"""Losses, as ``optax.losses``: elementwise or per-example values, never reduced over the
batch (take the mean yourself). Regression and classification losses live here; the
structured ones (CTC, contrastive, dice, sparsemax) in ``loss_more.py``."""

from __future__ import annotations

from typing import Any

import jumba
import jumba.numpy as jnp
from jumba_optim._src.loss_more import (
    binary_dice_loss,
    ctc_loss,
    ctc_loss_with_forward_probs,
    dice_loss,
    make_fenchel_young_loss,
    multiclass_generalized_dice_loss,
    multiclass_sparsemax_loss,
    ntxent,
    ranking_softmax_loss,
    sparsemax_loss,
    triplet_margin_loss,
)

sg = jumba.lax.stop_gradient


def _check_same_shape(name, a, b):
    if jnp.shape(a) != jnp.shape(b):
        raise ValueError(
            f"{name}: predictions have shape {jnp.shape(a)} but targets have shape "
            f"{jnp.shape(b)}; they must match (broadcast or reshape one of them first)."
        )


def _log_softmax(x, axis=-1, where=None):
    if where is not None:
        x = jnp.where(where, x, -jnp.inf)
    m = sg(jnp.max(x, axis=axis, keepdims=True))
    m = jnp.where(jnp.isfinite(m), m, 0.0)
    shifted = x - m
    e = jnp.exp(shifted)
    if where is not None:
        e = jnp.where(where, e, 0.0)
    return shifted - jnp.log(jnp.sum(e, axis=axis, keepdims=True))


def _softmax(x, axis=-1):
    return jnp.exp(_log_softmax(x, axis))


def _log_sigmoid(x):
    # log(sigmoid(x)) = -softplus(-x) = -logaddexp(0, -x), stable for large |x|.
    return -jnp.logaddexp(0.0, -x)


def squared_error(predictions: Any, targets: Any = None) -> Any:
    """``(predictions - targets)^2`` elementwise (targets default to 0)."""
    if targets is not None:
        _check_same_shape("squared_error", predictions, targets)
    errors = predictions - targets if targets is not None else predictions
    return errors**2


def l2_loss(predictions: Any, targets: Any = None) -> Any:
    """``0.5 * (predictions - targets)^2``: half the squared error."""
    return 0.5 * squared_error(predictions, targets)


def huber_loss(predictions: Any, targets: Any = None, delta: float = 1.0) -> Any:
    """Huber loss (Huber, 1964): ``0.5 e^2`` for ``|e| <= delta``,
    ``delta (|e| - 0.5 delta)`` beyond."""
    errors = predictions - targets if targets is not None else predictions
    abs_errors = jnp.abs(errors)
    quadratic = jnp.minimum(abs_errors, delta)
    linear = abs_errors - quadratic
    return 0.5 * quadratic**2 + delta * linear


def log_cosh(predictions: Any, targets: Any = None) -> Any:
    """``log(cosh(predictions - targets))``, computed stably as
    ``logaddexp(e, -e) - log 2``."""
    errors = predictions - targets if targets is not None else predictions
    return jnp.logaddexp(errors, -errors) - jnp.log(2.0).astype(jnp.asarray(errors).dtype)


def smooth_labels(labels: Any, alpha: float) -> Any:
    """Label smoothing (Szegedy et al., 2016): ``(1 - alpha) y + alpha / num_classes``."""
    num_categories = labels.shape[-1]
    return (1.0 - alpha) * labels + alpha / num_categories


def softmax_cross_entropy(
    logits: Any, labels: Any, axis: int | tuple[int, ...] = -1, where: Any = None
) -> Any:
    """``-sum(labels * log_softmax(logits), axis)`` for probability-vector labels.

    Args:
        logits: unnormalised log-probabilities.
        labels: target distributions, same shape as ``logits``.
        axis: the class axis (or axes).
        where: optional boolean mask of the classes to include.

    Returns:
        The per-example cross entropy (``logits`` shape without ``axis``).
    """
    _check_same_shape("softmax_cross_entropy", logits, labels)
    log_p = _log_softmax(logits, axis=axis, where=where)
    # 0 * (-inf) is 0 here, as for classes masked out or with -inf logits.
    terms = jnp.where(labels == 0, 0.0, labels * log_p)
    if where is not None:
        terms = jnp.where(where, terms, 0.0)
    return -jnp.sum(terms, axis=axis)


def safe_softmax_cross_entropy(logits: Any, labels: Any) -> Any:
    """:func:`softmax_cross_entropy` that gives 0 (not NaN) for ``-inf`` logits whose label
    is zero."""
    return softmax_cross_entropy(logits, labels)


def softmax_cross_entropy_with_integer_labels(
    logits: Any, labels: Any, axis: int = -1, where: Any = None
) -> Any:
    """Cross entropy with integer class labels: ``logsumexp(logits) - logits[label]``.

    Args:
        logits: unnormalised log-probabilities, classes on ``axis``.
        labels: integer labels with the shape of ``logits`` without ``axis``.
        axis: the class axis.
        where: optional mask of the examples to include (0 elsewhere).
    """
    labels = jnp.asarray(labels)
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise TypeError(
            f"softmax_cross_entropy_with_integer_labels: labels must be integers, got "
            f"{labels.dtype}; for one-hot or soft labels use softmax_cross_entropy."
        )
    axis = axis % logits.ndim
    expected = tuple(s for i, s in enumerate(logits.shape) if i != axis)
    if labels.shape != expected:
        raise ValueError(
            f"softmax_cross_entropy_with_integer_labels: labels have shape {labels.shape} "
            f"but logits {logits.shape} need labels of shape {expected} (class axis {axis})."
        )
    logits_max = sg(jnp.max(logits, axis=axis, keepdims=True))
    shifted = logits - logits_max
    label_logits = jnp.take_along_axis(shifted, jnp.expand_dims(labels, axis), axis=axis)
    label_logits = jnp.squeeze(label_logits, axis)
    log_norm = jnp.log(jnp.sum(jnp.exp(shifted), axis=axis))
    out = log_norm - label_logits
    if where is not None:
        out = jnp.where(where, out, 0.0)
    return out


def poly_loss_cross_entropy(
    logits: Any, labels: Any, epsilon: float = 2.0, axis: int = -1, where: Any = None
) -> Any:
    """PolyLoss (Leng et al., 2022): ``CE + epsilon * (1 - p_t)`` with
    ``p_t = sum(labels * softmax(logits))``."""
    p = jnp.exp(_log_softmax(logits, axis=axis, where=where))
    one_minus_pt = jnp.sum(labels * (1 - p), axis=axis) if where is None else jnp.sum(
        jnp.where(where, labels * (1 - p), 0.0), axis=axis)
    return softmax_cross_entropy(logits, labels, axis=axis, where=where) + epsilon * one_minus_pt


def sigmoid_binary_cross_entropy(logits: Any, labels: Any) -> Any:
    """``-y log sigmoid(x) - (1 - y) log sigmoid(-x)`` elementwise, stable in ``x``."""
    return -labels * _log_sigmoid(logits) - (1.0 - labels) * _log_sigmoid(-logits)


def sigmoid_focal_loss(
    logits: Any, labels: Any, alpha: float | None = None, gamma: float = 2.0
) -> Any:
    """Focal loss (Lin et al., 2017): ``(1 - p_t)^gamma * BCE``, optionally weighted by
    ``alpha`` for positives and ``1 - alpha`` for negatives."""
    p = jumba.lax.logistic(logits)
    ce = sigmoid_binary_cross_entropy(logits, labels)
    p_t = p * labels + (1 - p) * (1 - labels)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha is not None:
        loss = (alpha * labels + (1 - alpha) * (1 - labels)) * loss
    return loss


def hinge_loss(predictor_outputs: Any, targets: Any) -> Any:
    """``max(0, 1 - y * f(x))`` for targets in ``{-1, +1}``."""
    return jnp.maximum(0.0, 1.0 - predictor_outputs * targets)


def perceptron_loss(predictor_outputs: Any, targets: Any) -> Any:
    """``max(0, -y * f(x))`` for targets in ``{-1, +1}``."""
    return jnp.maximum(0.0, -predictor_outputs * targets)


def _one_hot(labels, num_classes, dtype):
    return (jnp.expand_dims(labels, -1) == jnp.arange(num_classes)).astype(dtype)


def multiclass_hinge_loss(scores: Any, labels: Any) -> Any:
    """Crammer-Singer hinge: ``max_k(scores_k + [k != y]) - scores_y``."""
    one_hot = _one_hot(labels, scores.shape[-1], scores.dtype)
    return jnp.max(scores + 1.0 - one_hot, axis=-1) - jnp.sum(scores * one_hot, axis=-1)


def multiclass_perceptron_loss(scores: Any, labels: Any) -> Any:
    """``max_k scores_k - scores_y``."""
    one_hot = _one_hot(labels, scores.shape[-1], scores.dtype)
    return jnp.max(scores, axis=-1) - jnp.sum(scores * one_hot, axis=-1)


def cosine_similarity(
    predictions: Any, targets: Any, epsilon: float = 0.0, axis: int = -1, where: Any = None
) -> Any:
    """``<a, b> / (max(||a||, eps) max(||b||, eps))`` along ``axis``."""
    _check_same_shape("cosine_similarity", predictions, targets)
    if where is not None:
        predictions = jnp.where(where, predictions, 0.0)
        targets = jnp.where(where, targets, 0.0)

    def normalize(x):
        norm = jnp.sqrt(jnp.sum(x * x, axis=axis, keepdims=True))
        return x / jnp.maximum(norm, epsilon)

    return jnp.sum(normalize(predictions) * normalize(targets), axis=axis)


def cosine_distance(
    predictions: Any, targets: Any, epsilon: float = 0.0, axis: int = -1, where: Any = None
) -> Any:
    """``1 - cosine_similarity``."""
    return 1.0 - cosine_similarity(predictions, targets, epsilon, axis, where)


def kl_divergence(
    log_predictions: Any, targets: Any, axis: int = -1, where: Any = None
) -> Any:
    """``KL(targets || predictions) = sum(t (log t - log p))`` with ``0 log 0 = 0``.

    Args:
        log_predictions: log-probabilities of the predicted distribution.
        targets: probabilities of the target distribution.
    """
    _check_same_shape("kl_divergence", log_predictions, targets)
    safe_t = jnp.where(targets == 0, 1.0, targets)
    loss = targets * jnp.where(targets == 0, 0.0, jnp.log(safe_t) - log_predictions)
    if where is not None:
        loss = jnp.where(where, loss, 0.0)
    return jnp.sum(loss, axis=axis)


def kl_divergence_with_log_targets(
    log_predictions: Any, log_targets: Any, axis: int = -1, where: Any = None
) -> Any:
    """``sum(exp(log_t) (log_t - log_p))``: KL with targets given as log-probabilities."""
    loss = jnp.exp(log_targets) * (log_targets - log_predictions)
    if where is not None:
        loss = jnp.where(where, loss, 0.0)
    return jnp.sum(loss, axis=axis)


def convex_kl_divergence(
    log_predictions: Any, targets: Any, axis: int = -1, where: Any = None
) -> Any:
    """KL plus ``sum(exp(log_p) - t)``: convex in ``log_predictions``, equal to the KL for
    normalised inputs."""
    extra = jnp.exp(log_predictions) - targets
    if where is not None:
        extra = jnp.where(where, extra, 0.0)
    return kl_divergence(log_predictions, targets, axis, where) + jnp.sum(extra, axis=axis)


def generalized_kl_divergence(
    log_predictions: Any, targets: Any, axis: int = -1, where: Any = None
) -> Any:
    """Generalised KL for unnormalised measures: ``sum(t log(t / p) - t + p)``."""
    return convex_kl_divergence(log_predictions, targets, axis, where)


__all__ = [
    "binary_dice_loss",
    "convex_kl_divergence",
    "cosine_distance",
    "cosine_similarity",
    "ctc_loss",
    "ctc_loss_with_forward_probs",
    "dice_loss",
    "generalized_kl_divergence",
    "hinge_loss",
    "huber_loss",
    "kl_divergence",
    "kl_divergence_with_log_targets",
    "l2_loss",
    "log_cosh",
    "make_fenchel_young_loss",
    "multiclass_generalized_dice_loss",
    "multiclass_hinge_loss",
    "multiclass_perceptron_loss",
    "multiclass_sparsemax_loss",
    "ntxent",
    "perceptron_loss",
    "poly_loss_cross_entropy",
    "ranking_softmax_loss",
    "safe_softmax_cross_entropy",
    "sigmoid_binary_cross_entropy",
    "sigmoid_focal_loss",
    "smooth_labels",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
    "sparsemax_loss",
    "squared_error",
    "triplet_margin_loss",
]
