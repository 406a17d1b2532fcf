"""Derivatives: finite-difference checks (float64, order 2, forward and reverse) and the
stop-gradient conventions of RLax's tests (targets carry no gradient unless asked)."""

import functools

import numpy as np
import pytest

import jumba
import jumba.numpy as jnp
import jumba_rl as rl
from jumba.test_util import check_grads

T, A, K = 5, 3, 4


def _rng(seed=0):
    return np.random.default_rng(seed)


def _inputs(seed=0):
    r = _rng(seed)
    return dict(
        v_tm1=r.normal(size=T), v_t=r.normal(size=T), r_t=r.normal(size=T),
        discount_t=r.uniform(0.5, 0.99, size=T), values=r.normal(size=T + 1),
        # Ratios kept away from the clipping threshold 1, where min(1, rho) has a kink.
        rho_tm1=np.where(r.uniform(size=T) < 0.5, r.uniform(0.2, 0.8, T), r.uniform(1.2, 2, T)),
        q_tm1=r.normal(size=(T, A)), q_t=r.normal(size=(T, A)), logits=r.normal(size=(T, A)),
        a_tm1=r.integers(0, A, T).astype(np.int32), a_t=r.integers(0, A, T).astype(np.int32),
        pi_t=r.dirichlet(np.ones(A), size=T), c_t=r.uniform(0.1, 0.9, T),
        adv=r.normal(size=T), w=r.uniform(0.5, 1.5, T),
        atoms=np.linspace(-2.0, 2.0, K), v_logits=r.normal(size=K),
        dist=r.normal(size=(K, A)), tau=(np.arange(K) + 0.5) / K,
        x=r.uniform(0.2, 3.0, size=T) * r.choice([-1, 1], size=T),
    )


# (name, function of the float arguments, names of the differentiated inputs).
SMOOTH = [
    ("td_learning", lambda v, r, d, vt: rl.td_learning(v, r, d, vt, stop_target_gradients=False),
     lambda i: (i["v_tm1"][0], i["r_t"][0], i["discount_t"][0], i["v_t"][0])),
    ("td_lambda", lambda v, r, vt: rl.td_lambda(v, r, D, vt, 0.8, stop_target_gradients=False),
     lambda i: (i["v_tm1"], i["r_t"], i["v_t"])),
    ("lambda_returns", lambda r, d, v: rl.lambda_returns(r, d, v, 0.7),
     lambda i: (i["r_t"], i["discount_t"], i["v_t"])),
    ("n_step_bootstrapped_returns", lambda r, d, v: rl.n_step_bootstrapped_returns(r, d, v, 3, 0.9),
     lambda i: (i["r_t"], i["discount_t"], i["v_t"])),
    ("discounted_returns", lambda r, d, v: rl.discounted_returns(r, d, v),
     lambda i: (i["r_t"], i["discount_t"], i["v_t"])),
    ("truncated_gae", lambda r, v: rl.truncated_generalized_advantage_estimation(r, D, 0.9, v),
     lambda i: (i["r_t"], i["values"])),
    ("general_off_policy_returns", lambda q, r, c, pi:
     rl.general_off_policy_returns_from_action_values(q, AT, r, D, c, pi),
     lambda i: (i["q_t"], i["r_t"], i["c_t"], i["pi_t"])),
    ("sarsa_lambda", lambda q, r: rl.sarsa_lambda(q, ATM1, r, D, q, AT, 0.5,
                                                  stop_target_gradients=False),
     lambda i: (i["q_tm1"], i["r_t"])),
    ("retrace", lambda q, qt, pi: rl.retrace(q, qt, ATM1, AT, R, D, pi, MU, 0.9,
                                             stop_target_gradients=False),
     lambda i: (i["q_tm1"], i["q_t"], i["pi_t"] * 0.5)),
    ("vtrace", lambda v, vt, r, rho: rl.vtrace(v, vt, r, D, rho, 0.9,
                                               stop_target_gradients=False),
     lambda i: (i["v_tm1"], i["v_t"], i["r_t"], i["rho_tm1"])),
    ("vtrace_td_error_and_advantage", lambda v, vt, rho: rl.vtrace_td_error_and_advantage(
        v, vt, R, D, rho, stop_target_gradients=False).pg_advantage,
     lambda i: (i["v_tm1"], i["v_t"], i["rho_tm1"])),
    ("policy_gradient_loss", lambda z, adv: rl.policy_gradient_loss(z, AT, adv, W,
                                                                    use_stop_gradient=False),
     lambda i: (i["logits"], i["adv"])),
    ("entropy_loss", lambda z, w: rl.entropy_loss(z, w), lambda i: (i["logits"], i["w"])),
    ("qpg_loss", lambda z, q: rl.qpg_loss(z, q, use_stop_gradient=False),
     lambda i: (i["logits"], i["q_t"])),
    ("softmax_logprob", lambda z: rl.softmax(1.5).logprob(AT, z), lambda i: (i["logits"],)),
    ("categorical_kl_divergence", lambda p, q: rl.categorical_kl_divergence(p, q, 2.0),
     lambda i: (i["logits"], i["q_t"])),
    ("gaussian_logprob", lambda x, mu, s: rl.gaussian_diagonal().logprob(x, mu, s),
     lambda i: (i["r_t"], i["v_t"], i["discount_t"])),
    ("squashed_logprob", lambda mu, s: rl.squashed_gaussian().logprob(
        np.tanh(np.linspace(-1, 1, T)), mu, s, None), lambda i: (i["v_t"], i["r_t"])),
    ("categorical_td_learning", lambda z, zt: rl.categorical_td_learning(
        ATOMS, z, 0.3, 0.9, ATOMS, zt, stop_target_gradients=False),
     lambda i: (i["v_logits"], i["v_logits"][::-1])),
    ("categorical_l2_project", lambda p: rl.categorical_l2_project(ATOMS * 1.3 + 0.1, p, ATOMS),
     lambda i: (np.abs(i["v_logits"]),)),
    ("quantile_q_learning", lambda q: rl.quantile_q_learning(q, TAU, 1, 0.5, 0.9, q, q * 0.5,
                                                             huber_param=1.0,
                                                             stop_target_gradients=False),
     lambda i: (i["dist"],)),
    ("signed_hyperbolic", rl.signed_hyperbolic, lambda i: (i["x"],)),
    ("signed_parabolic", rl.signed_parabolic, lambda i: (i["x"],)),
    ("transformed_q_lambda", lambda q, r: rl.transformed_q_lambda(
        q, ATM1, r, D, q * 0.5, 0.8, stop_target_gradients=False,
        tx_pair=rl.SIGNED_HYPERBOLIC_PAIR), lambda i: (i["q_tm1"], i["r_t"])),
    ("mpo_loss", lambda lp, q, a: rl.mpo_loss(
        lp, q, rl.LagrangePenalty(a, 0.1), [(jnp.abs(lp[0]), rl.LagrangePenalty(a * 2, 0.01))],
        use_stop_gradient=False)[0],
     lambda i: (i["q_tm1"], i["q_t"], np.float64(0.7))),
    ("l2_loss", rl.l2_loss, lambda i: (i["x"],)),
    ("log_loss", lambda p: rl.log_loss(p, np.linspace(0.1, 0.9, T)),
     lambda i: (np.linspace(0.2, 0.8, T),)),
]
# Constants used inside the table (fixed so that only the listed inputs are differentiated).
_I = _inputs()
D, R, AT, ATM1, W = _I["discount_t"], _I["r_t"], _I["a_t"], _I["a_tm1"], _I["w"]
MU = _I["pi_t"][np.arange(T), _I["a_t"]] * 0.8 + 0.1
ATOMS, TAU = _I["atoms"], _I["tau"]


@pytest.mark.parametrize("name, fn, args", SMOOTH, ids=[s[0] for s in SMOOTH])
def test_check_grads_float64(name, fn, args):
    with jumba.enable_x64():
        check_grads(fn, tuple(np.asarray(a, np.float64) for a in args(_I)), order=2,
                    modes=("fwd", "rev"))


def _grad(f, *args, argnums=0):
    return jumba.grad(lambda *a: jnp.sum(f(*a)), argnums=argnums)(*args)


@pytest.mark.parametrize("stop", [True, False])
def test_q_learning_gradients_reach_only_the_taken_action(stop):
    q_tm1 = jnp.asarray([1.0, 2.0, 3.0])
    q_t = jnp.asarray([0.5, 4.0, -1.0])
    g_tm1, g_t = jumba.grad(
        lambda a, b: rl.q_learning(a, 1, 0.5, 0.9, b, stop_target_gradients=stop),
        argnums=(0, 1))(q_tm1, q_t)
    np.testing.assert_allclose(np.asarray(g_tm1), [0.0, -1.0, 0.0])
    np.testing.assert_allclose(np.asarray(g_t), [0.0, 0.0, 0.0] if stop else [0.0, 0.9, 0.0])


# Each entry: a function of (prediction-side input, target-side input) computing a TD error.
TARGETS = {
    "td_learning": lambda v, t, s: rl.td_learning(v[0], 0.5, 0.9, t[0], s),
    "td_lambda": lambda v, t, s: rl.td_lambda(v, R, D, t, 0.7, s),
    "sarsa": lambda v, t, s: rl.sarsa(v[:3], 1, 0.5, 0.9, t[:3], 2, s),
    "expected_sarsa": lambda v, t, s: rl.expected_sarsa(v[:3], 1, 0.5, 0.9, t[:3],
                                                        jnp.asarray([0.2, 0.3, 0.5]), s),
    "double_q_learning": lambda v, t, s: rl.double_q_learning(v[:3], 1, 0.5, 0.9, t[:3], t[:3], s),
    "persistent_q_learning": lambda v, t, s: rl.persistent_q_learning(v[:3], 1, 0.5, 0.9, t[:3],
                                                                      0.3, s),
    "qv_learning": lambda v, t, s: rl.qv_learning(v[:3], 1, 0.5, 0.9, t[0], s),
    "qv_max": lambda v, t, s: rl.qv_max(v[0], 0.5, 0.9, t[:3], s),
    "q_lambda": lambda v, t, s: rl.q_lambda(jnp.stack([v, v], 1), ATM1 % 2, R, D,
                                            jnp.stack([t, t], 1), 0.7, s),
    "retrace_continuous": lambda v, t, s: rl.retrace_continuous(v, t[:-1], t, R, D, -R[:-1] ** 2,
                                                                0.9, s),
    "vtrace": lambda v, t, s: rl.vtrace(v, t, R, D, jnp.asarray(_I["rho_tm1"]),
                                        stop_target_gradients=s),
    "leaky_vtrace": lambda v, t, s: rl.leaky_vtrace(v, t, R, D, jnp.asarray(_I["rho_tm1"]), 0.5,
                                                    stop_target_gradients=s),
    "transformed_n_step_q_learning": lambda v, t, s: rl.transformed_n_step_q_learning(
        jnp.stack([v, v], 1), ATM1 % 2, jnp.stack([t, t], 1), AT % 2, R, D, 2, s,
        rl.SIGNED_HYPERBOLIC_PAIR),
    "categorical_q_learning": lambda v, t, s: rl.categorical_q_learning(
        ATOMS[:2], jnp.reshape(v[:4], (2, 2)), 1, 0.5, 0.9, ATOMS[:2], jnp.reshape(t[:4], (2, 2)),
        s),
    "quantile_expected_sarsa": lambda v, t, s: rl.quantile_expected_sarsa(
        jnp.reshape(v[:4], (2, 2)), jnp.asarray([0.25, 0.75]), 0, 0.5, 0.9,
        jnp.reshape(t[:4], (2, 2)), jnp.asarray([0.4, 0.6]), 1.0, s),
}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_stop_target_gradients_is_honoured(name):
    fn = TARGETS[name]
    v = jnp.asarray(_I["v_tm1"], jnp.float32)
    t = jnp.asarray(_I["v_t"], jnp.float32)
    g_pred, g_target = jumba.grad(lambda a, b: jnp.sum(fn(a, b, True)), argnums=(0, 1))(v, t)
    assert np.any(np.asarray(g_pred) != 0)
    np.testing.assert_array_equal(np.asarray(g_target), 0.0)
    g_free = jumba.grad(lambda b: jnp.sum(fn(v, b, False)))(t)
    assert np.any(np.asarray(g_free) != 0), f"{name}: no gradient to the target when asked"


def test_stop_target_gradients_accepts_a_traced_flag():
    v, t = jnp.asarray([1.0, 2.0]), jnp.asarray([0.5, -1.0])

    def loss(b, flag):
        return jnp.sum(rl.td_lambda(v, b, jnp.asarray([0.9, 0.9]), t, 0.5, flag))

    assert np.all(np.asarray(jumba.grad(loss)(t, jnp.asarray(True))) == 0)
    assert np.any(np.asarray(jumba.jit(jumba.grad(loss))(t, jnp.asarray(False))) != 0)


def test_dpg_loss_gradient_is_minus_dqda():
    a_t = jnp.asarray([0.3, -0.2, 0.5])
    dqda = jnp.asarray([1.0, -2.0, 0.5])
    g = _grad(rl.dpg_loss, a_t, dqda)
    np.testing.assert_allclose(np.asarray(g), -np.asarray(dqda), rtol=1e-6)
    clipped = _grad(functools.partial(rl.dpg_loss, dqda_clipping=1.0), a_t, dqda)
    norm = np.linalg.norm(np.asarray(dqda))
    np.testing.assert_allclose(np.asarray(clipped), -np.asarray(dqda) / norm, rtol=1e-6)


def test_clip_gradient_clips_only_the_backward_pass():
    x = jnp.asarray([-3.0, 0.1, 2.0])
    np.testing.assert_array_equal(np.asarray(rl.clip_gradient(x, -1.0, 1.0)), np.asarray(x))
    g = jumba.grad(lambda x: jnp.sum(rl.clip_gradient(x, -1.0, 1.0) ** 2))(x)
    np.testing.assert_allclose(np.asarray(g), [-1.0, 0.2, 1.0], rtol=1e-6)
    g = jumba.jit(jumba.grad(lambda x: jnp.sum(rl.clip_gradient(x * 3.0, -0.5, 0.5))))(x)
    np.testing.assert_allclose(np.asarray(g), [1.5, 1.5, 1.5], rtol=1e-6)


def test_huber_loss_gradient_is_the_clipped_error():
    x = jnp.asarray([-3.0, -0.5, 0.2, 4.0])
    g = _grad(rl.huber_loss, x, 1.0)
    np.testing.assert_allclose(np.asarray(g), [-1.0, -0.5, 0.2, 1.0], rtol=1e-6)


def test_art_statistics_carry_no_gradient():
    state = rl.PopArtState(jnp.zeros(3), jnp.ones(3), jnp.ones(3))

    def f(targets):
        new = rl.art(state, targets, jnp.asarray([0, 1, 1]), 0.1, 0.01, 100.0)
        return jnp.sum(new.shift) + jnp.sum(new.scale)

    np.testing.assert_array_equal(np.asarray(jumba.grad(f)(jnp.asarray([1.0, 2.0, 3.0]))), 0.0)
