"""Multistep returns and trace corrections against plain NumPy loops (float64), on
hypothesis-drawn trajectories: lengths, rewards, discounts (including episode ends), lambdas."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba
import jumba_rl as rl
from jumba_rl._src import multistep

SETTINGS = settings(max_examples=15, deadline=None)


@st.composite
def trajectories(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    length = draw(st.integers(1, 9))
    r = np.random.default_rng(seed)
    discount = r.uniform(0.0, 1.0, length)
    discount[r.uniform(size=length) < 0.2] = 0.0          # episode ends inside the trajectory
    return dict(
        r_t=r.normal(size=length), discount_t=discount, v_t=r.normal(size=length),
        values=r.normal(size=length + 1), lam=r.uniform(0, 1, length),
        rho=r.uniform(0.1, 2.0, length), c=r.uniform(0, 1, length),
        q=r.normal(size=length), mask=r.uniform(size=length) < 0.8,
        n=int(r.integers(1, length + 3)), scalar_lam=float(r.uniform()),
    )


def _lambda_returns(r, d, v, lam):
    g = v[-1]
    out = np.zeros_like(r)
    for t in reversed(range(len(r))):
        g = r[t] + d[t] * ((1 - lam[t]) * v[t] + lam[t] * g)
        out[t] = g
    return out


def _n_step(r, d, v, n, lam):
    # Iterating the lambda-return recursion n times from the bootstrap values v[t+n-1]: with
    # lam = 1 this is the classic n-step return; past the end, zero reward and discount one.
    T = len(r)
    out = np.zeros(T)
    for t in range(T):
        g = v[min(t + n - 1, T - 1)]
        for k in reversed(range(n)):
            i = t + k
            if i < T:
                g = r[i] + d[i] * ((1 - lam[i]) * v[i] + lam[i] * g)
            else:
                g = (1 - 1.0) * v[-1] + 1.0 * g
        out[t] = g
    return out


def _gae(r, d, lam, values):
    adv, acc = np.zeros_like(r), 0.0
    for t in reversed(range(len(r))):
        acc = r[t] + d[t] * values[t + 1] - values[t] + d[t] * lam[t] * acc
        adv[t] = acc
    return adv


def _off_policy_q_v(q, v, r, d, c):
    g = r[-1] + d[-1] * v[-1]
    out = [g]
    for t in reversed(range(len(r) - 1)):
        g = r[t] + d[t] * (v[t] - c[t] * q[t] + c[t] * g)
        out.append(g)
    return np.asarray(out[::-1])


def _vtrace(v_tm1, v_t, r, d, rho, lam, mask, clip=1.0):
    c = np.minimum(1.0, rho) * lam
    td = np.minimum(clip, rho) * (r + d * v_t - v_tm1)
    acc, out = 0.0, np.zeros_like(r)
    for t in reversed(range(len(r))):
        acc = td[t] + d[t] * c[t] * acc if mask[t] else acc
        out[t] = acc
    return out


def _x64(fn, *args, **kwargs):
    with jumba.enable_x64():
        return np.asarray(fn(*args, **kwargs))


@SETTINGS
@given(trajectories())
def test_lambda_returns(tr):
    for lam in (tr["lam"], np.full_like(tr["lam"], tr["scalar_lam"])):
        got = _x64(rl.lambda_returns, tr["r_t"], tr["discount_t"], tr["v_t"], lam)
        np.testing.assert_allclose(got, _lambda_returns(tr["r_t"], tr["discount_t"], tr["v_t"],
                                                        lam), rtol=1e-10, atol=1e-12)
    got = _x64(rl.lambda_returns, tr["r_t"], tr["discount_t"], tr["v_t"], tr["scalar_lam"])
    want = _lambda_returns(tr["r_t"], tr["discount_t"], tr["v_t"],
                           np.full_like(tr["lam"], tr["scalar_lam"]))
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@SETTINGS
@given(trajectories())
def test_discounted_returns(tr):
    r, d = tr["r_t"], tr["discount_t"]
    want, g = np.zeros_like(r), tr["v_t"][-1]
    for t in reversed(range(len(r))):
        g = r[t] + d[t] * g
        want[t] = g
    np.testing.assert_allclose(_x64(rl.discounted_returns, r, d, tr["v_t"]), want, rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(_x64(rl.discounted_returns, r, d, tr["v_t"][-1]), want,
                               rtol=1e-10, atol=1e-12)


@SETTINGS
@given(trajectories())
def test_n_step_bootstrapped_returns(tr):
    r, d, v, n = tr["r_t"], tr["discount_t"], tr["v_t"], tr["n"]
    for lam in (np.ones_like(r), tr["lam"]):
        got = _x64(rl.n_step_bootstrapped_returns, r, d, v, n, lam)
        np.testing.assert_allclose(got, _n_step(r, d, v, n, lam), rtol=1e-10, atol=1e-12)


@SETTINGS
@given(trajectories())
def test_n_step_with_lambda_one_is_the_classic_n_step_return(tr):
    r, d, v, n = tr["r_t"], tr["discount_t"], tr["v_t"], tr["n"]
    T = len(r)
    want = np.zeros(T)
    for t in range(T):
        end = min(t + n, T)
        g, scale = 0.0, 1.0
        for i in range(t, end):
            g += scale * r[i]
            scale *= d[i]
        want[t] = g + scale * v[end - 1]
    np.testing.assert_allclose(_x64(rl.n_step_bootstrapped_returns, r, d, v, n), want,
                               rtol=1e-10, atol=1e-12)


@SETTINGS
@given(trajectories())
def test_truncated_generalized_advantage_estimation(tr):
    got = _x64(rl.truncated_generalized_advantage_estimation, tr["r_t"], tr["discount_t"],
               tr["lam"], tr["values"])
    np.testing.assert_allclose(got, _gae(tr["r_t"], tr["discount_t"], tr["lam"], tr["values"]),
                               rtol=1e-10, atol=1e-12)


@SETTINGS
@given(trajectories())
def test_gae_equals_lambda_returns_minus_values(tr):
    # A classic identity: GAE(λ) advantages are λ-returns bootstrapped from the values minus
    # the values.
    r, d, lam, values = tr["r_t"], tr["discount_t"], tr["lam"], tr["values"]
    adv = _x64(rl.truncated_generalized_advantage_estimation, r, d, lam, values)
    returns = _x64(rl.lambda_returns, r, d, values[1:], lam)
    np.testing.assert_allclose(adv, returns - values[:-1], rtol=1e-9, atol=1e-10)


@SETTINGS
@given(trajectories())
def test_general_off_policy_returns_from_q_and_v(tr):
    r, d, v, c, q = tr["r_t"], tr["discount_t"], tr["v_t"], tr["c"][:-1], tr["q"][:-1]
    got = _x64(rl.general_off_policy_returns_from_q_and_v, q, v, r, d, c)
    np.testing.assert_allclose(got, _off_policy_q_v(q, v, r, d, c), rtol=1e-10, atol=1e-12)


@SETTINGS
@given(trajectories(), st.integers(2, 4))
def test_general_off_policy_returns_from_action_values(tr, num_actions):
    T = len(tr["r_t"])
    r = np.random.default_rng(T * num_actions)
    q_t = r.normal(size=(T, num_actions))
    pi_t = r.dirichlet(np.ones(num_actions), size=T)
    a_t = r.integers(0, num_actions, T).astype(np.int32)
    got = _x64(rl.general_off_policy_returns_from_action_values, q_t, a_t, tr["r_t"],
               tr["discount_t"], tr["c"], pi_t)
    want = _off_policy_q_v(q_t[np.arange(T), a_t][:-1], (pi_t * q_t).sum(-1), tr["r_t"],
                           tr["discount_t"], tr["c"][:-1])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@SETTINGS
@given(trajectories())
def test_vtrace_with_mask(tr):
    v_tm1 = tr["values"][:-1]
    got = _x64(rl.vtrace, v_tm1, tr["v_t"], tr["r_t"], tr["discount_t"], tr["rho"], tr["lam"],
               sample_mask=tr["mask"])
    want = _vtrace(v_tm1, tr["v_t"], tr["r_t"], tr["discount_t"], tr["rho"], tr["lam"],
                   tr["mask"])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@SETTINGS
@given(trajectories())
def test_vtrace_with_unit_ratios_is_td_lambda(tr):
    # On-policy (ρ = 1) with consistent values (v_t[t] = v_tm1[t+1]), V-trace is TD(λ).
    v_tm1, v_t = tr["values"][:-1], tr["values"][1:]
    ones = np.ones_like(tr["rho"])
    got = _x64(rl.vtrace, v_tm1, v_t, tr["r_t"], tr["discount_t"], ones, tr["lam"])
    want = _x64(rl.td_lambda, v_tm1, tr["r_t"], tr["discount_t"], v_t, tr["lam"])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10)


@SETTINGS
@given(trajectories())
def test_importance_corrected_td_errors(tr):
    r, d, rho, lam, values = tr["r_t"], tr["discount_t"], tr["rho"], tr["lam"], tr["values"]
    delta = r + d * values[1:] - values[:-1]
    rho_next = np.concatenate([rho[1:], [1.0]])
    acc, errors = 0.0, np.zeros_like(r)
    for t in reversed(range(len(r))):
        acc = delta[t] + d[t] * rho_next[t] * lam[t] * acc
        errors[t] = acc
    got = _x64(multistep.importance_corrected_td_errors, r, d, rho, lam, values)
    np.testing.assert_allclose(got, rho * errors, rtol=1e-10, atol=1e-12)
