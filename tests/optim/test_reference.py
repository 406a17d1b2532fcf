"""Every trajectory, schedule value and loss value in the Optax reference file, to float32
tolerance."""

import numpy as np
import pytest

import jumba.numpy as jnp
import jumba_optim as optim

from ._cases import OPTIMIZERS, PROBLEMS, REFERENCE, run, start

RTOL, ATOL = 1e-5, 1e-6
# RAdam's rectifier sqrt((rho - 4)(rho - 2)...) is evaluated where rho - 4 is about 1, so a
# one-ulp difference in float32 pow(b2, t) between XLA and NumPy is amplified ~1000x.
LOOSER = {"radam": 5e-5}


def test_every_reference_optimizer_has_a_constructor():
    assert set(REFERENCE["optimizers"]) == set(OPTIMIZERS)


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_trajectory_matches_optax(name, problem):
    ref = REFERENCE["optimizers"][name][problem]
    traj = run(OPTIMIZERS[name](), PROBLEMS[problem], start(problem), len(ref))
    for step, (got, want) in enumerate(zip(traj, ref, strict=True)):
        for key in ("x", "y"):
            np.testing.assert_allclose(
                np.asarray(got[key]), np.asarray(want[key], np.float32),
                rtol=LOOSER.get(name, RTOL), atol=ATOL,
                err_msg=f"{name} on {problem}, step {step + 1}, {key}",
            )


SCHEDULES = {
    "constant_0.1": lambda: optim.constant_schedule(0.1),
    "linear_1_0_10": lambda: optim.linear_schedule(1.0, 0.0, 10),
    "polynomial_1_0_2_10": lambda: optim.polynomial_schedule(1.0, 0.0, 2, 10),
    "exponential_decay_1_5_0.5": lambda: optim.exponential_decay(1.0, 5, 0.5),
    "exponential_decay_staircase": lambda: optim.exponential_decay(1.0, 5, 0.5, staircase=True),
    "cosine_decay_1_20": lambda: optim.cosine_decay_schedule(1.0, 20),
    "cosine_decay_1_20_alpha0.1": lambda: optim.cosine_decay_schedule(1.0, 20, alpha=0.1),
    "warmup_cosine_0_1_5_20": lambda: optim.warmup_cosine_decay_schedule(0.0, 1.0, 5, 20),
    "cosine_onecycle_20_1": lambda: optim.cosine_onecycle_schedule(20, 1.0),
    "piecewise_constant": lambda: optim.piecewise_constant_schedule(1.0, {5: 0.5, 10: 0.1}),
    "join_linear_const": lambda: optim.join_schedules(
        [optim.linear_schedule(0.0, 1.0, 5), optim.constant_schedule(0.5)], [5]),
    "sgdr": lambda: optim.sgdr_schedule([
        dict(init_value=0.0, peak_value=1.0, warmup_steps=2, decay_steps=10),
        dict(init_value=0.0, peak_value=0.5, warmup_steps=2, decay_steps=10)]),
}


def test_every_reference_schedule_is_checked():
    assert set(REFERENCE["schedules"]) == set(SCHEDULES)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_matches_optax(name):
    ref = np.asarray(REFERENCE["schedules"][name], np.float32)
    sched = SCHEDULES[name]()
    got = np.array([float(sched(jnp.asarray(i, jnp.int32))) for i in range(len(ref))])
    np.testing.assert_allclose(got, ref, rtol=RTOL, atol=ATOL)
    # Python ints work too (Optax accepts both).
    assert abs(float(sched(3)) - ref[3]) <= ATOL + RTOL * abs(ref[3])


def _inputs():
    raw = REFERENCE["losses"]["inputs"]
    out = {k: jnp.asarray(np.asarray(v, np.float32)) for k, v in raw.items()}
    out["labels_int"] = jnp.asarray(np.asarray(raw["labels_int"], np.int32))
    return out


def _log_softmax(x):
    return x - jnp.log(jnp.sum(jnp.exp(x), axis=-1, keepdims=True))


LOSSES = {
    "softmax_cross_entropy": lambda i: optim.softmax_cross_entropy(i["logits"], i["labels_onehot"]),
    "softmax_cross_entropy_with_integer_labels":
        lambda i: optim.softmax_cross_entropy_with_integer_labels(i["logits"], i["labels_int"]),
    "sigmoid_binary_cross_entropy": lambda i: optim.sigmoid_binary_cross_entropy(
        i["pred"], (i["targ"] > 0).astype(jnp.float32)),
    "l2_loss": lambda i: optim.l2_loss(i["pred"], i["targ"]),
    "squared_error": lambda i: optim.squared_error(i["pred"], i["targ"]),
    "huber_loss": lambda i: optim.huber_loss(i["pred"], i["targ"], delta=0.5),
    "log_cosh": lambda i: optim.log_cosh(i["pred"], i["targ"]),
    "cosine_similarity": lambda i: optim.cosine_similarity(i["pred"], i["targ"]),
    "cosine_distance": lambda i: optim.cosine_distance(i["pred"], i["targ"]),
    "hinge_loss": lambda i: optim.hinge_loss(i["pred"][:, 0], jnp.sign(i["targ"][:, 0])),
    "kl_divergence": lambda i: optim.kl_divergence(
        _log_softmax(i["pred"]), jnp.exp(_log_softmax(i["targ"]))),
    "smooth_labels_0.1": lambda i: optim.smooth_labels(i["labels_onehot"], 0.1),
}


def test_every_reference_loss_is_checked():
    assert set(REFERENCE["losses"]) - {"inputs"} == set(LOSSES)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_matches_optax(name):
    got = np.asarray(LOSSES[name](_inputs()))
    want = np.asarray(REFERENCE["losses"][name], np.float32)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def test_global_norm_matches_optax():
    tree = {"a": jnp.asarray([3.0]), "b": jnp.asarray([4.0, 12.0])}
    assert float(optim.global_norm(tree)) == REFERENCE["utils"]["global_norm_3_4_12"]
