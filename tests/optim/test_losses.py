"""Losses: one table, each loss put through NumPy-float64 agreement, jit == eager,
vmap == loop, check_grads (order 2 where smooth, forward and reverse) and the x64 flag, on
hypothesis-drawn inputs; then the shape/dtype errors."""

import dataclasses
import itertools
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba
import jumba.numpy as jnp
import jumba_optim as optim
from jumba.test_util import check_grads
from jumba_optim import losses

B, K = 3, 4  # batch and classes of the drawn inputs


def _lsm(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def _sparsemax_ref(z):
    out = np.zeros_like(z)
    for idx in np.ndindex(z.shape[:-1]):
        v = z[idx]
        s = np.sort(v)[::-1]
        cs = np.cumsum(s)
        k = np.arange(1, len(v) + 1)
        kz = k[1 + k * s > cs].max()
        tau = (cs[kz - 1] - 1) / kz
        out[idx] = np.maximum(v - tau, 0)
    return out


def _ctc_ref(logits, labels):
    """CTC by enumerating every frame alignment (tiny T and K only)."""
    t_len, k = logits.shape
    logp = _lsm(logits)
    total = -np.inf
    for path in itertools.product(range(k), repeat=t_len):
        collapsed = [c for i, c in enumerate(path) if i == 0 or c != path[i - 1]]
        if [c for c in collapsed if c != 0] == list(labels):
            total = np.logaddexp(total, sum(logp[t, c] for t, c in enumerate(path)))
    return -total


def _ctc_jumba(logits, labels):
    pad_t = jnp.zeros(logits.shape[:2])
    pad_n = jnp.zeros(labels.shape)
    return optim.ctc_loss(logits, pad_t, labels, pad_n)


def _ctc_numpy(logits, labels):
    return np.array([_ctc_ref(lg, lb) for lg, lb in zip(logits, labels, strict=True)])


def _onehot(rng):
    return np.eye(K, dtype=np.float32)[rng.integers(0, K, B)]


def _probs(rng):
    p = rng.uniform(0.05, 1.0, (B, K))
    return (p / p.sum(-1, keepdims=True)).astype(np.float32)


def _f(rng, shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, shape).astype(np.float32)


def _away(rng, shape, points, margin=0.1):
    x = _f(rng, shape)
    for p in points:
        x = np.where(np.abs(x - p) < margin, p + 2 * margin, x).astype(np.float32)
    return x


@dataclasses.dataclass
class LossSpec:
    name: str
    fn: Callable
    ref: Callable
    draw: Callable  # rng -> tuple of np arrays
    grad_argnums: tuple | None = (0,)
    grad_order: int = 2
    tol: float = 2e-5


def _sbce(x, y):
    return -y * -np.logaddexp(0, -x) - (1 - y) * -np.logaddexp(0, x)


def _focal(x, y, gamma=2.0, alpha=0.25):
    p = 1 / (1 + np.exp(-x))
    pt = p * y + (1 - p) * (1 - y)
    return (alpha * y + (1 - alpha) * (1 - y)) * _sbce(x, y) * (1 - pt) ** gamma


def _cos(a, b):
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


def _huber(p, t, d=0.5):
    e = np.abs(p - t)
    return np.where(e <= d, 0.5 * e**2, d * (e - 0.5 * d))


def _ntxent_ref(x, labels, temp=0.5):
    xn = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = xn @ xn.T / temp
    tot, n = 0.0, 0
    for i in range(len(x)):
        for j in range(len(x)):
            if i != j and labels[i] == labels[j]:
                neg = [s[i, k] for k in range(len(x)) if labels[k] != labels[i]]
                tot += -(s[i, j] - np.logaddexp.reduce([s[i, j], *neg]))
                n += 1
    return np.asarray(tot / max(n, 1))


def _dice_ref(logits, labels, smooth=1.0):
    p = np.exp(_lsm(logits))
    t = np.eye(K)[labels]
    inter = (p * t).sum(1)
    den = p.sum(1) + t.sum(1)
    return np.mean(1 - np.mean((2 * inter + smooth) / (den + smooth), -1))


SPECS = [
    LossSpec("l2_loss", losses.l2_loss, lambda p, t: 0.5 * (p - t) ** 2,
             lambda r: (_f(r, (B, K)), _f(r, (B, K))), (0, 1)),
    LossSpec("squared_error", losses.squared_error, lambda p, t: (p - t) ** 2,
             lambda r: (_f(r, (B, K)), _f(r, (B, K))), (0, 1)),
    LossSpec("huber_loss", lambda p, t: losses.huber_loss(p, t, delta=0.5), _huber,
             lambda r: (_away(r, (B, K), [-0.5, 0.5]), np.zeros((B, K), np.float32))),
    LossSpec("log_cosh", losses.log_cosh, lambda p, t: np.log(np.cosh(p - t)),
             lambda r: (_f(r, (B, K)), _f(r, (B, K))), (0, 1)),
    LossSpec("smooth_labels", lambda y: losses.smooth_labels(y, 0.2),
             lambda y: 0.8 * y + 0.2 / K, lambda r: (_probs(r),)),
    LossSpec("softmax_cross_entropy", losses.softmax_cross_entropy,
             lambda x, y: -(y * _lsm(x)).sum(-1), lambda r: (_f(r, (B, K)), _probs(r)), (0, 1)),
    LossSpec("softmax_cross_entropy_axis0",
             lambda x, y: losses.softmax_cross_entropy(x, y, axis=0),
             lambda x, y: -(y * _lsm(x, 0)).sum(0), lambda r: (_f(r, (B, K)), _probs(r))),
    LossSpec("softmax_cross_entropy_with_integer_labels",
             losses.softmax_cross_entropy_with_integer_labels,
             lambda x, y: -np.take_along_axis(_lsm(x), y[:, None], -1)[:, 0],
             lambda r: (_f(r, (B, K)), r.integers(0, K, B).astype(np.int32))),
    LossSpec("poly_loss_cross_entropy", losses.poly_loss_cross_entropy,
             lambda x, y: -(y * _lsm(x)).sum(-1) + 2.0 * (y * (1 - np.exp(_lsm(x)))).sum(-1),
             lambda r: (_f(r, (B, K)), _onehot(r))),
    LossSpec("sigmoid_binary_cross_entropy", losses.sigmoid_binary_cross_entropy, _sbce,
             lambda r: (_f(r, (B, K), -4, 4), r.uniform(0, 1, (B, K)).astype(np.float32)),
             (0, 1)),
    LossSpec("sigmoid_focal_loss", lambda x, y: losses.sigmoid_focal_loss(x, y, alpha=0.25),
             _focal, lambda r: (_f(r, (B, K)), (r.random((B, K)) < 0.5).astype(np.float32))),
    LossSpec("hinge_loss", losses.hinge_loss, lambda x, y: np.maximum(0, 1 - x * y),
             lambda r: (_away(r, (B, K), [-1.0, 1.0]), np.sign(_f(r, (B, K))) + 0.0), None),
    LossSpec("perceptron_loss", losses.perceptron_loss, lambda x, y: np.maximum(0, -x * y),
             lambda r: (_away(r, (B, K), [0.0]), np.sign(_f(r, (B, K))) + 0.0), None),
    LossSpec("multiclass_hinge_loss", losses.multiclass_hinge_loss,
             lambda s, y: (s + 1 - np.eye(K)[y]).max(-1) - np.take_along_axis(
                 s, y[:, None], -1)[:, 0],
             lambda r: (_f(r, (B, K)), r.integers(0, K, B).astype(np.int32)), None),
    LossSpec("multiclass_perceptron_loss", losses.multiclass_perceptron_loss,
             lambda s, y: s.max(-1) - np.take_along_axis(s, y[:, None], -1)[:, 0],
             lambda r: (_f(r, (B, K)), r.integers(0, K, B).astype(np.int32)), None),
    LossSpec("cosine_similarity", losses.cosine_similarity, _cos,
             lambda r: (_f(r, (B, K)), _f(r, (B, K))), (0, 1)),
    LossSpec("cosine_distance", losses.cosine_distance, lambda a, b: 1 - _cos(a, b),
             lambda r: (_f(r, (B, K)), _f(r, (B, K)))),
    LossSpec("kl_divergence", losses.kl_divergence,
             lambda lp, t: (t * (np.log(t) - lp)).sum(-1),
             lambda r: (_lsm(_f(r, (B, K))).astype(np.float32), _probs(r))),
    LossSpec("kl_divergence_with_log_targets", losses.kl_divergence_with_log_targets,
             lambda lp, lt: (np.exp(lt) * (lt - lp)).sum(-1),
             lambda r: (_lsm(_f(r, (B, K))).astype(np.float32),
                        np.log(_probs(r)).astype(np.float32)), (0, 1)),
    LossSpec("convex_kl_divergence", losses.convex_kl_divergence,
             lambda lp, t: (t * (np.log(t) - lp)).sum(-1) + (np.exp(lp) - t).sum(-1),
             lambda r: (_f(r, (B, K)), _probs(r))),
    LossSpec("triplet_margin_loss", losses.triplet_margin_loss,
             lambda a, p, n: np.maximum(
                 np.linalg.norm(a - p + 1e-6, axis=-1) - np.linalg.norm(a - n + 1e-6, axis=-1)
                 + 1.0, 0),
             lambda r: (_f(r, (B, K)), _f(r, (B, K)), _f(r, (B, K))), None),
    LossSpec("ntxent", lambda x, y: losses.ntxent(x, y, temperature=0.5), _ntxent_ref,
             lambda r: (_f(r, (6, K)), np.asarray([0, 0, 1, 1, 2, 2], np.int32))),
    LossSpec("sparsemax_loss", losses.sparsemax_loss,
             lambda x, y: (lambda z: np.where(z <= -1, 0, np.where(z >= 1, z, (z + 1) ** 2 / 4)))(
                 np.where(y == 1, -x, x)),
             lambda r: (_away(r, (B, K), [-1.0, 1.0]),
                        (r.random((B, K)) < 0.5).astype(np.int32)), None),
    LossSpec("multiclass_sparsemax_loss", losses.multiclass_sparsemax_loss,
             lambda s, y: (lambda p, t: ((p - t) * s).sum(-1) - 0.5 * (p * p).sum(-1) + 0.5)(
                 _sparsemax_ref(s), np.eye(K)[y]),
             lambda r: (_f(r, (B, K)), r.integers(0, K, B).astype(np.int32)), (0,), 1),
    LossSpec("dice_loss", losses.dice_loss, _dice_ref,
             lambda r: (_f(r, (B, 5, K)), r.integers(0, K, (B, 5)).astype(np.int32))),
    LossSpec("binary_dice_loss", losses.binary_dice_loss,
             lambda x, t: np.mean(1 - (2 * ((1 / (1 + np.exp(-x))) * t).sum(1) + 1)
                                  / ((1 / (1 + np.exp(-x))).sum(1) + t.sum(1) + 1)),
             lambda r: (_f(r, (B, 5)), (r.random((B, 5)) < 0.5).astype(np.float32))),
    LossSpec("ranking_softmax_loss", losses.ranking_softmax_loss,
             lambda x, y: np.mean(-((y / y.sum(-1, keepdims=True)) * _lsm(x)).sum(-1)),
             lambda r: (_f(r, (B, K)), r.uniform(0.1, 1, (B, K)).astype(np.float32))),
    LossSpec("fenchel_young_logsumexp",
             optim.losses.make_fenchel_young_loss(
                 lambda s: jnp.log(jnp.sum(jnp.exp(s)))),
             lambda s, y: np.log(np.exp(s).sum()) - (s * y).sum(),
             lambda r: (_f(r, (K,)), _probs(r)[0])),
    LossSpec("ctc_loss", _ctc_jumba, _ctc_numpy,
             lambda r: (_f(r, (2, 4, 3)), np.asarray([[1, 2], [2, 2]], np.int32)), (0,), 1,
             1e-4),
]
IDS = [s.name for s in SPECS]
SEEDS = st.integers(0, 2**31 - 1)


def _draw(spec, seed, x64=False):
    args = spec.draw(np.random.default_rng(seed))
    if x64:
        args = tuple(a.astype(np.float64) if a.dtype == np.float32 else a for a in args)
    return args


def _close(got, want, tol):
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64),
                               rtol=tol, atol=tol)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@settings(max_examples=6, deadline=None)
@given(seed=SEEDS)
def test_agrees_with_numpy(spec, seed):
    args = _draw(spec, seed)
    ref = spec.ref(*(a.astype(np.float64) if a.dtype == np.float32 else a for a in args))
    out = spec.fn(*map(jnp.asarray, args))
    assert np.asarray(out).dtype == np.float32
    _close(out, ref, spec.tol)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@settings(max_examples=2, deadline=None)
@given(seed=SEEDS)
def test_jit_equals_eager(spec, seed):
    args = tuple(map(jnp.asarray, _draw(spec, seed)))
    _close(jumba.jit(spec.fn)(*args), spec.fn(*args), 1e-5)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@settings(max_examples=2, deadline=None)
@given(seed=SEEDS)
def test_vmap_equals_loop(spec, seed):
    draws = [_draw(spec, seed + i) for i in range(3)]
    stacked = [jnp.asarray(np.stack(xs)) for xs in zip(*draws, strict=True)]
    out = jumba.vmap(spec.fn)(*stacked)
    for i, d in enumerate(draws):
        _close(np.asarray(out)[i], spec.fn(*map(jnp.asarray, d)), 1e-5)


GRAD_SPECS = [s for s in SPECS if s.grad_argnums is not None]


@pytest.mark.parametrize("spec", GRAD_SPECS, ids=[s.name for s in GRAD_SPECS])
@settings(max_examples=2, deadline=None)
@given(seed=SEEDS)
def test_grads(spec, seed):
    with jumba.enable_x64():
        args = [jnp.asarray(a) for a in _draw(spec, seed, x64=True)]

        def f(*diff):
            xs = list(args)
            for i, d in zip(spec.grad_argnums, diff, strict=True):
                xs[i] = d
            return jnp.sum(spec.fn(*xs))

        check_grads(f, tuple(args[i] for i in spec.grad_argnums), order=spec.grad_order,
                    modes=("fwd", "rev"), atol=1e-4, rtol=1e-4, eps=1e-5)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
@settings(max_examples=1, deadline=None)
@given(seed=SEEDS)
def test_x64(spec, seed):
    with jumba.enable_x64():
        args = _draw(spec, seed, x64=True)
        out = spec.fn(*map(jnp.asarray, args))
        assert np.asarray(out).dtype == np.float64
        _close(out, spec.ref(*args), 1e-8 if spec.tol < 1e-4 else spec.tol)


def test_bad_inputs_name_the_problem():
    x = jnp.zeros((2, 3))
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*shape \(2, 4\)"):
        losses.softmax_cross_entropy(x, jnp.zeros((2, 4)))
    with pytest.raises(TypeError, match="labels must be integers"):
        losses.softmax_cross_entropy_with_integer_labels(x, jnp.zeros(2))
    with pytest.raises(ValueError, match=r"labels of shape \(2,\)"):
        losses.softmax_cross_entropy_with_integer_labels(x, jnp.zeros(3, jnp.int32))
    with pytest.raises(ValueError, match="reduction must be"):
        losses.dice_loss(jnp.zeros((2, 3, 2)), jnp.zeros((2, 3), jnp.int32), reduction="avg")
    with pytest.raises(ValueError, match=r"\[B, T, K\]"):
        losses.ctc_loss(jnp.zeros((2, 3)), jnp.zeros((2, 3)), jnp.zeros((2, 1), jnp.int32),
                        jnp.zeros((2, 1)))


def test_masks_and_edge_cases():
    logits = jnp.asarray([[1.0, 2.0, -jnp.inf]])
    labels = jnp.asarray([[0.5, 0.5, 0.0]])
    assert np.isfinite(float(losses.softmax_cross_entropy(logits, labels)[0]))
    where = jnp.asarray([[True, True, False]])
    full = losses.softmax_cross_entropy(jnp.asarray([[1.0, 2.0]]), jnp.asarray([[0.5, 0.5]]))
    masked = losses.softmax_cross_entropy(jnp.asarray([[1.0, 2.0, 9.0]]), labels, where=where)
    np.testing.assert_allclose(masked, full, rtol=1e-6)
    # ctc: a padded frame changes nothing.
    lg = jnp.asarray(np.random.default_rng(0).normal(size=(1, 3, 3)).astype(np.float32))
    lab = jnp.asarray([[1]], jnp.int32)
    a = optim.ctc_loss(lg, jnp.zeros((1, 3)), lab, jnp.zeros((1, 1)))
    padded = jnp.concatenate([lg, jnp.zeros((1, 1, 3))], axis=1)
    b = optim.ctc_loss(padded, jnp.asarray([[0.0, 0.0, 0.0, 1.0]]), lab, jnp.zeros((1, 1)))
    np.testing.assert_allclose(a, b, rtol=1e-6)
    loss, phi, emit = optim.ctc_loss_with_forward_probs(lg, jnp.zeros((1, 3)), lab,
                                                        jnp.zeros((1, 1)))
    assert phi.shape == (3, 1, 2) and emit.shape == (3, 1, 1)
    assert float(optim.kl_divergence(jnp.log(jnp.asarray([0.5, 0.5])),
                                     jnp.asarray([1.0, 0.0]))) == pytest.approx(np.log(2))
