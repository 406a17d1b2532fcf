"""jumba_rl.envs: dynamics against Gymnasium's own environments, jit/vmap, automatic reset."""

import numpy as np
import pytest

import jumba
import jumba.numpy as jnp
import jumba.random as jr
from jumba_rl import envs

try:
    import gymnasium
except ImportError:  # the comparisons need it; the jit/vmap/reset tests do not
    gymnasium = None
needs_gymnasium = pytest.mark.skipif(gymnasium is None, reason="gymnasium not installed")

CLASSIC = ["CartPole-v1", "Pendulum-v1", "MountainCar-v0", "Acrobot-v1"]
TIME_LIMITS = {"CartPole-v1": 500, "Pendulum-v1": 200, "MountainCar-v0": 200,
               "Acrobot-v1": 500, "CliffWalking-v1": None}


def _gym(env_id):
    env = gymnasium.make(env_id, disable_env_checker=True)
    env.reset(seed=0)
    return env


def _sync(gym_env, env_id, physics):
    """Put our physics state into Gymnasium's environment."""
    if env_id == "CliffWalking-v1":
        gym_env.unwrapped.s = int(physics.position)
    else:
        gym_env.unwrapped.state = np.array([np.asarray(v, np.float64) for v in physics])


def _actions(env_id, n, seed=0):
    rng = np.random.default_rng(seed)
    if env_id == "Pendulum-v1":
        return rng.uniform(-2.5, 2.5, (n, 1)).astype(np.float32)  # some beyond the clip
    return rng.integers(0, {"CartPole-v1": 2, "CliffWalking-v1": 4}.get(env_id, 3), n)


def _gym_action(env_id, a):
    return np.asarray(a, np.float32) if env_id == "Pendulum-v1" else int(a)


def _compare(env_id, steps, obs_tol, x64):
    env = envs.make(env_id)
    gym_env = _gym(env_id)
    step = jumba.jit(env.step)
    ctx = jumba.enable_x64() if x64 else jumba.enable_x64(False)
    with ctx:
        state, obs = env.reset(jr.PRNGKey(3))
        _sync(gym_env, env_id, state.physics)
        episodes = 0
        for a in _actions(env_id, steps):
            g_obs, g_rew, g_term, g_trunc, _ = gym_env.step(_gym_action(env_id, a))
            state, obs, rew, done, info = step(state, jnp.asarray(a))
            np.testing.assert_allclose(np.asarray(info["final_observation"]), g_obs,
                                       rtol=obs_tol, atol=obs_tol)
            np.testing.assert_allclose(float(rew), g_rew, rtol=1e-5, atol=1e-5)
            assert bool(info["terminated"]) == g_term
            assert bool(info["truncated"]) == g_trunc
            assert bool(done) == (g_term or g_trunc)
            if done:  # our env has reset itself: restart Gymnasium from the same state
                episodes += 1
                gym_env.reset()
                _sync(gym_env, env_id, state.physics)
    return episodes


@needs_gymnasium
@pytest.mark.parametrize("env_id", CLASSIC + ["CliffWalking-v1"])
def test_trajectories_match_gymnasium_x64(env_id):
    # In float64 the equations are Gymnasium's own, so whole trajectories (with resets) agree.
    episodes = _compare(env_id, 300, 1e-6, x64=True)
    if env_id == "CartPole-v1":
        assert episodes >= 3  # random actions end CartPole episodes: resets were exercised


@needs_gymnasium
@pytest.mark.parametrize("env_id", CLASSIC)
def test_trajectories_match_gymnasium_float32(env_id):
    # Default float32 physics: the first steps agree to float32 rounding.
    _compare(env_id, 12, 2e-4, x64=False)


@needs_gymnasium
@pytest.mark.parametrize("env_id", CLASSIC)
def test_time_limit_truncates_like_gymnasium(env_id):
    env = envs.make(env_id)
    limit = TIME_LIMITS[env_id]
    assert env.max_episode_steps == limit
    gym_env = _gym(env_id)
    assert gym_env.spec.max_episode_steps == limit
    with jumba.enable_x64():
        state, _ = env.reset(jr.PRNGKey(0))
        state = state._replace(time=jnp.asarray(limit - 2, jnp.int32))
        _sync(gym_env, env_id, state.physics)
        gym_env._elapsed_steps = limit - 2  # Gymnasium's TimeLimit wrapper counter
        a = _actions(env_id, 1)[0] if env_id != "MountainCar-v0" else 1
        for k in range(2):
            _, _, _, g_trunc, _ = gym_env.step(_gym_action(env_id, a))
            state, _, _, done, info = env.step(state, jnp.asarray(a))
            assert bool(info["truncated"]) == g_trunc == (k == 1)
        assert bool(done) and int(state.time) == 0 and int(info["episode_length"]) == limit


@pytest.mark.parametrize("env_id", CLASSIC)
def test_reset_distribution(env_id):
    env = envs.make(env_id)
    states, obs = jumba.vmap(env.reset)(jr.split(jr.PRNGKey(0), 200))
    phys = np.stack([np.asarray(v) for v in states.physics], -1)
    bounds = {"CartPole-v1": ([-0.05] * 4, [0.05] * 4), "Acrobot-v1": ([-0.1] * 4, [0.1] * 4),
              "Pendulum-v1": ([-np.pi, -1], [np.pi, 1]), "MountainCar-v0": ([-0.6, 0], [-0.4, 0])}
    lo, hi = bounds[env_id]
    assert np.all(phys >= lo) and np.all(phys <= hi)
    assert np.all(phys.std(0)[np.array(hi) > np.array(lo)] > 0)  # really random
    assert obs.dtype == jnp.float32 and obs.shape == (200, *env.observation_space.shape)
    assert all(env.observation_space.contains(o) for o in np.asarray(obs)[:20])


@pytest.mark.parametrize("env_id", CLASSIC + ["CliffWalking-v1"])
def test_jit_and_vmap_equal_eager_loop(env_id):
    env = envs.make(env_id)
    n = 3
    keys = jr.split(jr.PRNGKey(1), n)
    actions = jnp.asarray(_actions(env_id, n, seed=1))
    states, obs = jumba.vmap(env.reset)(keys)
    out = jumba.jit(jumba.vmap(env.step))(states, actions)
    for i in range(n):
        s_i, o_i = env.reset(keys[i])
        np.testing.assert_allclose(np.asarray(obs[i]), np.asarray(o_i), rtol=1e-6)
        eager = env.step(s_i, actions[i])
        jitted = jumba.jit(env.step)(s_i, actions[i])
        for batched, e, j in zip(jumba.tree_util.tree_leaves(out),
                                 jumba.tree_util.tree_leaves(eager),
                                 jumba.tree_util.tree_leaves(jitted)):
            np.testing.assert_allclose(np.asarray(batched)[i], np.asarray(e), rtol=1e-6)
            np.testing.assert_allclose(np.asarray(j), np.asarray(e), rtol=1e-6)


def test_scan_rollout_with_auto_reset():
    env = envs.make("CartPole-v1")

    def rollout(key):
        state, obs = env.reset(key)

        def body(state, t):
            state, obs, reward, done, info = env.step(state, t % 2)
            return state, (reward, done, info["episode_return"])

        return jumba.lax.scan(body, state, jnp.arange(60))

    keys = jr.split(jr.PRNGKey(0), 4)
    _, (rewards, dones, returns) = jumba.jit(jumba.vmap(rollout))(keys)
    assert rewards.shape == dones.shape == (4, 60)
    dones, returns = np.asarray(dones), np.asarray(returns)
    assert dones.any()  # alternating pushes still topple the pole within 60 steps sometimes
    # The running return counts up by 1 and restarts after each done.
    for d, r in zip(dones, returns):
        expected, run = [], 0.0
        for done in d:
            run += 1.0
            expected.append(run)
            run = 0.0 if done else run
        np.testing.assert_array_equal(r, expected)


def test_auto_reset_starts_a_new_episode():
    env = envs.make("CartPole-v1")
    state, _ = env.reset(jr.PRNGKey(0))
    # A pole past 12 degrees: this step terminates.
    physics = state.physics._replace(theta=jnp.asarray(0.3, jnp.float32))
    state = state._replace(physics=physics, time=jnp.asarray(7, jnp.int32),
                           episode_return=jnp.asarray(7.0, jnp.float32))
    new_state, obs, reward, done, info = env.step(state, 0)
    assert bool(done) and bool(info["terminated"]) and not bool(info["truncated"])
    assert float(reward) == 1.0 and float(info["episode_return"]) == 8.0
    assert int(info["episode_length"]) == 8
    assert int(new_state.time) == 0 and float(new_state.episode_return) == 0.0
    assert float(info["final_observation"][2]) > 0.2  # the terminal observation
    assert np.all(np.abs(np.asarray(obs)) <= 0.05)  # the reset observation
    assert not np.array_equal(np.asarray(new_state.key), np.asarray(state.key))
    # Deterministic: the same state and action give the same reset.
    again = env.step(state, 0)
    np.testing.assert_array_equal(np.asarray(again[1]), np.asarray(obs))


def test_explicit_params_and_overrides():
    env = envs.make("CartPole-v1")
    state, _ = env.reset(jr.PRNGKey(0))
    heavy = env.params._replace(gravity=20.0)
    a = env.step(state, 1)[1]
    b = env.step(state, 1, heavy)[1]
    c = envs.make("CartPole-v1", gravity=20.0).step(state, 1)[1]
    assert not np.allclose(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(np.asarray(b), np.asarray(c))
    assert envs.make("CartPole-v1", max_episode_steps=10).max_episode_steps == 10
    assert envs.make("CliffWalking-v1", max_episode_steps=None).max_episode_steps is None


def test_spaces():
    env = envs.make("Pendulum-v1")
    a = env.action_space.sample(jr.PRNGKey(0))
    assert a.shape == (1,) and env.action_space.contains(np.asarray(a))
    assert not env.action_space.contains(np.array([3.0], np.float32))
    d = envs.make("MountainCar-v0").action_space
    assert d.n == 3 and d.contains(2) and not d.contains(3)
    assert 0 <= int(d.sample(jr.PRNGKey(1))) < 3


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="Unknown environment 'LunarLander-v3'.*GymnasiumEnv"):
        envs.make("LunarLander-v3")
    with pytest.raises(TypeError, match="no parameter.*'gravty'.*gravity"):
        envs.make("CartPole-v1", gravty=1.0)
    with pytest.raises(ValueError, match="max_episode_steps must be a positive integer"):
        envs.make("CartPole-v1", max_episode_steps=0)
    env = envs.make("CartPole-v1")
    with pytest.raises(TypeError, match="PRNG key.*vmap reset over split keys"):
        env.reset(jr.split(jr.PRNGKey(0), 4))
    # Typed keys work too, and seed the same episode as the raw key.
    np.testing.assert_array_equal(np.asarray(env.reset(jr.key(4))[1]),
                                  np.asarray(env.reset(jr.PRNGKey(4))[1]))
    state, _ = env.reset(jr.PRNGKey(0))
    with pytest.raises(ValueError, match=r"action int.*\[\] = .*2.*Discrete\(2\)"):
        env.step(state, 2)
    with pytest.raises(ValueError, match="not in the action space.*vmap step"):
        env.step(state, np.array([0, 1]))
    with pytest.raises(ValueError, match="Box"):
        envs.make("Pendulum-v1").step(envs.make("Pendulum-v1").reset(jr.PRNGKey(0))[0], 1)
    with pytest.raises(TypeError, match="expects the EnvState"):
        env.step(np.zeros(4), 0)


@needs_gymnasium
def test_gymnasium_wrapper_runs_any_env_in_a_python_loop():
    env = envs.GymnasiumEnv("CartPole-v1", disable_env_checker=True)
    assert isinstance(env.action_space, envs.Discrete) and env.action_space.n == 2
    assert env.observation_space.shape == (4,) and env.max_episode_steps == 500
    state, obs = env.reset(jr.PRNGKey(0))
    assert obs.dtype == np.float32 and obs.shape == (4,)
    lengths = []
    for t in range(200):
        state, obs, reward, done, info = env.step(state, t % 2)
        assert reward == 1.0
        if done:
            lengths.append(info["episode_length"])
            assert info["terminated"] and state["time"] == 0
            final = info["final_observation"]
            assert abs(final[2]) > 0.2 or abs(final[0]) > 2.4
    assert lengths and all(n > 0 for n in lengths)
    # Same key, same episode.
    _, o1 = env.reset(jr.PRNGKey(5))
    _, o2 = env.reset(jr.PRNGKey(5))
    np.testing.assert_array_equal(o1, o2)
    env.close()
    # Continuous actions: a Box space, truncation by Gymnasium's TimeLimit.
    pend = envs.GymnasiumEnv("Pendulum-v1", disable_env_checker=True)
    assert isinstance(pend.action_space, envs.Box) and pend.action_space.shape == (1,)
    state, obs = pend.reset(jr.PRNGKey(1))
    for _ in range(200):
        state, obs, reward, done, info = pend.step(state, np.array([0.5], np.float32))
    assert done and info["truncated"] and not info["terminated"]
    assert info["episode_length"] == 200 and info["episode_return"] < 0
    with pytest.raises(TypeError, match="only accepted with an environment id"):
        envs.GymnasiumEnv(gymnasium.make("CartPole-v1"), foo=1)


@pytest.mark.parametrize("draw", ["uniform", "categorical"])
def test_random_draws_inside_a_vmapped_scan(draw):
    # Regression (core): uniform's float32 FMA emulation used float64 constants, which a
    # scan body replayed under vmap (x64 off) demoted to float32 and then rejected. Every
    # environment reset inside a vmapped rollout depends on this.
    def sample(k):
        if draw == "uniform":
            return jr.uniform(k, (), minval=-0.05, maxval=0.05)
        return jr.categorical(k, jnp.zeros(3)).astype(jnp.float32)

    def f(key):
        def body(c, t):
            return c + sample(jr.fold_in(key, t)), None
        return jumba.lax.scan(body, jnp.zeros((), jnp.float32), jnp.arange(3))[0]

    keys = jr.split(jr.PRNGKey(0), 2)
    batched = jumba.jit(jumba.vmap(f))(keys)
    np.testing.assert_allclose(np.asarray(batched), [float(f(k)) for k in keys], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(jumba.vmap(f)(keys)), np.asarray(batched), rtol=1e-6)
