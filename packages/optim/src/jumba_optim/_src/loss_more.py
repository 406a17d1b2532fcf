"""Structured losses: CTC, contrastive and metric losses, dice, sparsemax and
Fenchel-Young losses. Per-example values unless the docstring says otherwise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jumba
import jumba.numpy as jnp

sg = jumba.lax.stop_gradient


def _log_softmax(x, axis=-1):
    m = sg(jnp.max(x, axis=axis, keepdims=True))
    shifted = x - m
    return shifted - jnp.log(jnp.sum(jnp.exp(shifted), axis=axis, keepdims=True))


def ctc_loss_with_forward_probs(
    logits: Any, logit_paddings: Any, labels: Any, label_paddings: Any,
    blank_id: int = 0, log_epsilon: float = -1e5,
) -> tuple[Any, Any, Any]:
    """Connectionist temporal classification (Graves et al., 2006), with the forward
    variables.

    Args:
        logits: ``[B, T, K]`` unnormalised class scores per frame.
        logit_paddings: ``[B, T]``, 1.0 for padded frames.
        labels: ``[B, N]`` integer label sequences.
        label_paddings: ``[B, N]``, 1.0 for padded labels (padding only at the end).
        blank_id: the blank class.
        log_epsilon: the "log of zero" used for impossible transitions.

    Returns:
        ``(per_seq_loss [B], logalpha_phi [T, B, N+1], logalpha_emit [T, B, N])``: the
        negative log-likelihoods, and the forward log-probabilities of being in a blank
        state (after ``n`` labels) or in the emitting state of label ``n``.
    """
    if logits.ndim != 3 or labels.ndim != 2:
        raise ValueError(
            f"ctc_loss: logits must be [B, T, K] and labels [B, N]; got {logits.shape} and "
            f"{labels.shape}."
        )
    batch, max_t, num_classes = logits.shape
    max_n = labels.shape[1]
    logprobs = _log_softmax(logits)
    label_lens = max_n - jnp.sum(label_paddings, axis=1).astype(jnp.int32)
    # repeat[b, n] = 1 when label n+1 repeats label n: a blank must separate them.
    repeat = (labels[:, :-1] == labels[:, 1:]).astype(logits.dtype)
    repeat = jnp.concatenate([repeat, jnp.zeros((batch, 1), logits.dtype)], axis=1)
    logprobs_phi = logprobs[:, :, blank_id]  # [B, T]
    one_hot = (jnp.expand_dims(labels, -1) == jnp.arange(num_classes)).astype(logits.dtype)
    logprobs_emit = jnp.einsum("btk,bnk->btn", logprobs, one_hot)  # [B, T, N]

    def add_to_phi(phi, score):
        return jnp.concatenate([phi[:, :1], jnp.logaddexp(phi[:, 1:], score)], axis=1)

    phi = jnp.concatenate(
        [jnp.zeros((batch, 1), logits.dtype), jnp.full((batch, max_n), log_epsilon, logits.dtype)],
        axis=1,
    )
    emit = jnp.full((batch, max_n), log_epsilon, logits.dtype)
    phis, emits = [], []
    # T is a static size: an unrolled loop (jumba has no lax.scan yet).
    for t in range(max_t):
        le, lp = logprobs_emit[:, t, :], logprobs_phi[:, t:t + 1]
        pad = logit_paddings[:, t:t + 1].astype(logits.dtype)
        prev_phi_orig = phi
        prev_phi = add_to_phi(phi, emit + log_epsilon * repeat)
        next_emit = jnp.logaddexp(prev_phi[:, :-1] + le, emit + le)
        next_phi = prev_phi + lp
        next_phi = add_to_phi(next_phi, emit + lp + log_epsilon * (1.0 - repeat))
        emit = pad * emit + (1.0 - pad) * next_emit
        phi = pad * prev_phi_orig + (1.0 - pad) * next_phi
        phis.append(phi)
        emits.append(emit)
    last_phi = add_to_phi(phis[-1], emits[-1])
    phis[-1] = last_phi
    pick = (jnp.expand_dims(label_lens, -1) == jnp.arange(max_n + 1)).astype(logits.dtype)
    per_seq_loss = -jnp.sum(last_phi * pick, axis=1)
    return per_seq_loss, jnp.stack(phis), jnp.stack(emits)


def ctc_loss(
    logits: Any, logit_paddings: Any, labels: Any, label_paddings: Any,
    blank_id: int = 0, log_epsilon: float = -1e5,
) -> Any:
    """CTC negative log-likelihood per sequence (see :func:`ctc_loss_with_forward_probs`)."""
    return ctc_loss_with_forward_probs(
        logits, logit_paddings, labels, label_paddings, blank_id, log_epsilon
    )[0]


def _cosine_matrix(x):
    xn = x / jnp.maximum(jnp.sqrt(jnp.sum(x * x, axis=-1, keepdims=True)), 1e-12)
    return xn @ xn.T


def ntxent(embeddings: Any, labels: Any, temperature: float = 0.07) -> Any:
    """NT-Xent contrastive loss (Chen et al., 2020), averaged over positive pairs.

    For an anchor ``i`` and a positive ``j`` (same label, ``j != i``):
    ``-log(exp(s_ij / T) / (exp(s_ij / T) + sum_{k: label differs} exp(s_ik / T)))`` with
    ``s`` the cosine similarity.

    Args:
        embeddings: ``[B, D]``.
        labels: ``[B]`` integer labels; equal labels mark positive pairs.
        temperature: softmax temperature.

    Returns:
        A scalar.
    """
    if embeddings.ndim != 2 or labels.shape != embeddings.shape[:1]:
        raise ValueError(
            f"ntxent: embeddings must be [B, D] and labels [B]; got {embeddings.shape} "
            f"and {labels.shape}."
        )
    sims = _cosine_matrix(embeddings) / temperature
    same = jnp.expand_dims(labels, 1) == jnp.expand_dims(labels, 0)
    eye = jnp.eye(labels.shape[0], dtype=bool)
    positives = jnp.logical_and(same, jnp.logical_not(eye))
    negatives = jnp.logical_not(same)
    shift = sg(jnp.max(sims, axis=1, keepdims=True))
    neg_sum = jnp.sum(jnp.where(negatives, jnp.exp(sims - shift), 0.0), axis=1, keepdims=True)
    log_denom = jnp.log(jnp.exp(sims - shift) + neg_sum) + shift
    per_pair = jnp.where(positives, log_denom - sims, 0.0)
    return jnp.sum(per_pair) / jnp.maximum(jnp.sum(positives), 1)


def triplet_margin_loss(
    anchors: Any, positives: Any, negatives: Any, axis: int = -1, norm_degree: float = 2,
    margin: float = 1.0, eps: float = 1e-6,
) -> Any:
    """Triplet margin loss (Schroff et al., 2015): ``max(d(a, p) - d(a, n) + margin, 0)``
    with ``d(x, y) = ||x - y + eps||_norm_degree`` along ``axis``."""

    def dist(x, y):
        return jnp.sum(jnp.abs(x - y + eps) ** norm_degree, axis=axis) ** (1.0 / norm_degree)

    return jnp.maximum(dist(anchors, positives) - dist(anchors, negatives) + margin, 0.0)


def ranking_softmax_loss(
    logits: Any, labels: Any, *, where: Any = None, weights: Any = None,
    reduce_fn: Callable[..., Any] | None = jnp.mean,
) -> Any:
    """Listwise softmax ranking loss (Bruch et al., 2019): cross entropy between the
    softmax of ``logits`` and the normalised ``labels`` of each list (last axis).

    Returns:
        Per-list losses reduced by ``reduce_fn`` (``None`` keeps them).
    """
    labels = labels.astype(logits.dtype)
    if weights is not None:
        labels = labels * weights
    if where is not None:
        logits = jnp.where(where, logits, -1e30)
        labels = jnp.where(where, labels, 0.0)
    total = jnp.sum(labels, axis=-1, keepdims=True)
    norm_labels = labels / jnp.where(total == 0, 1.0, total)
    losses = -jnp.sum(norm_labels * _log_softmax(logits), axis=-1)
    return losses if reduce_fn is None else reduce_fn(losses)


def _reduce(x, reduction, name):
    if reduction == "mean":
        return jnp.mean(x)
    if reduction == "sum":
        return jnp.sum(x)
    if reduction == "none":
        return x
    raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}.")


def _softmax(x, axis=-1):
    return jnp.exp(_log_softmax(x, axis))


def dice_loss(
    predictions: Any, targets: Any, *, class_weights: Any = None, smooth: float = 1.0,
    apply_softmax: bool = True, reduction: str = "mean", ignore_background: bool = False,
) -> Any:
    """Soft Dice loss (Milletari et al., 2016) for segmentation, classes on the last axis::

        dice_c = (2 sum(p_c t_c) + smooth) / (sum(p_c) + sum(t_c) + smooth)
        loss = 1 - weighted mean over classes of dice_c   (per example)

    Args:
        predictions: ``[B, ..., C]`` logits (or probabilities with ``apply_softmax=False``).
        targets: one-hot ``[B, ..., C]`` or integer ``[B, ...]`` labels.
        class_weights: optional ``[C]`` weights.
        smooth: additive smoothing.
        apply_softmax: softmax the predictions over classes first.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` over the batch.
        ignore_background: drop class 0.
    """
    num_classes = predictions.shape[-1]
    if targets.ndim == predictions.ndim - 1:
        targets = (jnp.expand_dims(targets, -1) == jnp.arange(num_classes)).astype(
            predictions.dtype)
    p = _softmax(predictions) if apply_softmax else predictions
    if ignore_background:
        p, targets = p[..., 1:], targets[..., 1:]
    axes = tuple(range(1, p.ndim - 1))
    inter = jnp.sum(p * targets, axis=axes) if axes else p * targets
    denom = (jnp.sum(p, axis=axes) + jnp.sum(targets, axis=axes)) if axes else p + targets
    dice = (2.0 * inter + smooth) / (denom + smooth)  # [B, C]
    if class_weights is not None:
        w = jnp.asarray(class_weights)[1:] if ignore_background else jnp.asarray(class_weights)
        per_example = 1.0 - jnp.sum(dice * w, axis=-1) / jnp.sum(w)
    else:
        per_example = 1.0 - jnp.mean(dice, axis=-1)
    return _reduce(per_example, reduction, "dice_loss")


def binary_dice_loss(
    predictions: Any, targets: Any, *, smooth: float = 1.0, apply_sigmoid: bool = True,
    reduction: str = "mean",
) -> Any:
    """Dice loss for one foreground channel: ``predictions`` are ``[B, ...]`` logits."""
    p = jumba.lax.logistic(predictions) if apply_sigmoid else predictions
    axes = tuple(range(1, p.ndim))
    inter = jnp.sum(p * targets, axis=axes)
    denom = jnp.sum(p, axis=axes) + jnp.sum(targets, axis=axes)
    return _reduce(1.0 - (2.0 * inter + smooth) / (denom + smooth), reduction, "binary_dice_loss")


def multiclass_generalized_dice_loss(
    predictions: Any, targets: Any, *, smooth: float = 1e-6, apply_softmax: bool = True,
    reduction: str = "mean",
) -> Any:
    """Generalised Dice loss (Sudre et al., 2017): classes weighted by ``1 / (sum t_c)^2``."""
    num_classes = predictions.shape[-1]
    if targets.ndim == predictions.ndim - 1:
        targets = (jnp.expand_dims(targets, -1) == jnp.arange(num_classes)).astype(
            predictions.dtype)
    p = _softmax(predictions) if apply_softmax else predictions
    axes = tuple(range(1, p.ndim - 1))
    t_sum = jnp.sum(targets, axis=axes)
    w = 1.0 / jnp.maximum(t_sum * t_sum, 1e-12)
    inter = jnp.sum(w * jnp.sum(p * targets, axis=axes), axis=-1)
    denom = jnp.sum(w * (jnp.sum(p, axis=axes) + t_sum), axis=-1)
    loss = 1.0 - (2.0 * inter + smooth) / (denom + smooth)
    return _reduce(loss, reduction, "multiclass_generalized_dice_loss")


def _sparsemax(z):
    """Euclidean projection of ``z`` onto the simplex (Martins & Astudillo, 2016), last axis.

    Found without sorting: ``z_i`` is in the support iff ``1 + k_i z_i > sum_{z_j >= z_i} z_j``
    with ``k_i = #{j: z_j >= z_i}``; pairwise comparisons cost O(K^2), fine for class counts.
    """
    ge = (jnp.expand_dims(z, -2) >= jnp.expand_dims(z, -1)).astype(z.dtype)  # [.., i, j]
    k = jnp.sum(ge, axis=-1)
    s = jnp.sum(ge * jnp.expand_dims(z, -2), axis=-1)
    support = (1.0 + k * z > s).astype(z.dtype)
    k_z = jnp.sum(support, axis=-1, keepdims=True)
    tau = (jnp.sum(support * z, axis=-1, keepdims=True) - 1.0) / k_z
    return jnp.maximum(z - sg(tau), 0.0)


def multiclass_sparsemax_loss(scores: Any, labels: Any) -> Any:
    """Sparsemax loss (Martins & Astudillo, 2016) for integer labels: the Fenchel-Young
    loss of ``Omega(p) = ||p||^2 / 2``: ``<p - y, z> - ||p||^2 / 2 + 1/2``."""
    one_hot = (jnp.expand_dims(labels, -1) == jnp.arange(scores.shape[-1])).astype(scores.dtype)
    p = sg(_sparsemax(scores))
    return jnp.sum((p - one_hot) * scores, axis=-1) - 0.5 * jnp.sum(p * p, axis=-1) + 0.5


def sparsemax_loss(logits: Any, labels: Any) -> Any:
    """Binary sparsemax loss: ``sparse_plus(-x)`` for label 1, ``sparse_plus(x)`` for 0,
    with ``sparse_plus(x) = 0 (x <= -1), (x + 1)^2 / 4 (|x| < 1), x (x >= 1)``."""
    x = jnp.where(labels == 1, -logits, logits)
    return jnp.where(x <= -1.0, 0.0, jnp.where(x >= 1.0, x, (x + 1.0) ** 2 / 4.0))


def make_fenchel_young_loss(max_fun: Callable[[Any], Any]) -> Callable[..., Any]:
    """The Fenchel-Young loss (Blondel et al., 2020) of a regularised max function::

        loss(scores, targets) = max_fun(scores) - <scores, targets>

    Args:
        max_fun: a convex function of a score vector (e.g. ``logsumexp``); batches are
            handled by ``jumba.vmap``.
    """

    def fy_loss(scores, targets, *args, **kwargs):
        return max_fun(scores, *args, **kwargs) - jnp.vdot(scores, targets)

    return fy_loss
