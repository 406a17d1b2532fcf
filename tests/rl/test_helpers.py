"""Sampling, exploration noise, pytree helpers, moving averages, policy targets, memory, and
the cross-device (named axis) forms of PopArt, V-MPO and the EMA."""

import numpy as np
import pytest

import jumba
import jumba.numpy as jnp
import jumba.random as jr
import jumba_rl as rl

KEY = jr.PRNGKey(0)


def test_greedy_sample_is_the_argmax_and_ties_share_mass():
    prefs = jnp.asarray([[0.1, 2.0, -1.0], [3.0, 3.0, 0.0]])
    sample = rl.greedy().sample(KEY, prefs)
    assert np.asarray(sample)[0] == 1 and np.asarray(sample)[1] in (0, 1)
    np.testing.assert_allclose(np.asarray(rl.greedy().probs(prefs)),
                               [[0, 1, 0], [0.5, 0.5, 0]])


def test_epsilon_greedy_and_softmax_sample_with_their_probabilities():
    logits = jnp.asarray([0.0, 1.0, 2.0, -1.0])
    keys = jr.split(KEY, 4000)
    for dist in (rl.epsilon_greedy(0.3), rl.softmax(0.7)):
        draws = np.asarray(jumba.vmap(lambda k, d=dist: d.sample(k, logits))(keys))
        freq = np.bincount(draws, minlength=4) / len(draws)
        np.testing.assert_allclose(freq, np.asarray(dist.probs(logits)), atol=0.03)
    # epsilon can be passed per call (e.g. a traced schedule value).
    p = jumba.jit(lambda e: rl.epsilon_greedy().probs(logits, e))(jnp.asarray(0.4))
    np.testing.assert_allclose(np.asarray(p), [0.1, 0.1, 0.7, 0.1], rtol=1e-6)


def test_gaussian_samples_have_the_right_moments():
    mu, sigma = jnp.asarray([1.0, -2.0]), jnp.asarray([0.5, 2.0])
    draws = np.asarray(jumba.vmap(lambda k: rl.gaussian_diagonal().sample(k, mu, sigma))(
        jr.split(KEY, 4000)))
    np.testing.assert_allclose(draws.mean(0), [1.0, -2.0], atol=0.1)
    np.testing.assert_allclose(draws.std(0), [0.5, 2.0], rtol=0.06)


def test_squashed_gaussian_samples_respect_the_action_spec():
    class Spec:
        minimum = np.asarray([-2.0, 0.0], np.float32)
        maximum = np.asarray([3.0, 1.0], np.float32)

    mu, sigma = jnp.asarray([0.2, -0.3]), jnp.asarray([0.0, 0.5])
    draws = np.asarray(jumba.vmap(lambda k: rl.squashed_gaussian().sample(k, mu, sigma, Spec))(
        jr.split(KEY, 500)))
    assert np.all(draws >= Spec.minimum) and np.all(draws <= Spec.maximum)
    lp = rl.squashed_gaussian().logprob(jnp.asarray(draws[:3]), mu, sigma, Spec)
    assert np.all(np.isfinite(np.asarray(lp)))


def test_categorical_sample_follows_probs():
    probs = jnp.asarray([0.2, 0.0, 0.8])
    draws = np.asarray(jumba.vmap(lambda k: rl.categorical_sample(k, probs))(jr.split(KEY, 3000)))
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / 3000, [0.2, 0.0, 0.8], atol=0.03)


def test_exploration_noise():
    action = jnp.asarray([0.5, -0.5, 0.0])
    noisy = np.asarray(jumba.vmap(lambda k: rl.add_gaussian_noise(k, action, 0.3))(
        jr.split(KEY, 3000)))
    np.testing.assert_allclose(noisy.std(0), 0.3, rtol=0.08)
    ou = rl.add_ornstein_uhlenbeck_noise(KEY, action, jnp.asarray([1.0, 1.0, 1.0]), 0.5, 0.0)
    np.testing.assert_allclose(np.asarray(ou), [1.0, 0.0, 0.5])
    prior = jnp.asarray([[0.5, 0.5, 0.0], [0.1, 0.2, 0.7]])
    mixed = np.asarray(rl.add_dirichlet_noise(KEY, prior, 0.3, 0.25))
    np.testing.assert_allclose(mixed.sum(-1), 1.0, rtol=1e-5)
    assert np.all(mixed >= 0.75 * np.asarray(prior) - 1e-6)


def test_tree_helpers():
    tree = {"a": jnp.arange(6.0).reshape(2, 3), "b": (jnp.ones((2, 1)),)}
    key, keys = rl.tree_split_key(KEY, tree)
    assert jumba.tree_util.tree_structure(keys) == jumba.tree_util.tree_structure(tree)
    assert not np.array_equal(np.asarray(keys["a"]), np.asarray(keys["b"][0]))
    parts = rl.tree_split_leaves(tree)
    assert len(parts) == 2 and np.asarray(parts[1]["a"]).tolist() == [3.0, 4.0, 5.0]
    assert np.asarray(rl.tree_split_leaves(tree, keepdim=True)[0]["a"]).shape == (1, 3)
    summed = rl.tree_map_zipped(lambda x, y: x + y, [tree, tree])
    np.testing.assert_allclose(np.asarray(summed["a"]), 2 * np.asarray(tree["a"]))
    masked = rl.tree_replace_masked(tree, None, jnp.asarray([True, False]))
    np.testing.assert_allclose(np.asarray(masked["a"]), [[0, 0, 0], [3, 4, 5]])
    picked = jumba.jit(rl.tree_select)(jnp.asarray(False), tree, summed)
    np.testing.assert_allclose(np.asarray(picked["a"]), np.asarray(summed["a"]))
    scaled = rl.tree_fn(lambda x, s: x * s, s=3.0)(tree)
    np.testing.assert_allclose(np.asarray(scaled["b"][0]), 3.0)
    moved = rl.transpose_last_axis_to_first(tree)
    assert np.asarray(moved["a"]).shape == (3, 2)
    back = rl.transpose_first_axis_to_last(moved)
    np.testing.assert_allclose(np.asarray(back["a"]), np.asarray(tree["a"]))


def test_periodic_update_copies_every_period_under_jit():
    online, target = {"w": jnp.ones(2)}, {"w": jnp.zeros(2)}
    update = jumba.jit(lambda s: rl.periodic_update(online, target, s, 3))
    assert [float(update(jnp.asarray(s))["w"][0]) for s in range(4)] == [1.0, 0.0, 0.0, 1.0]
    same = rl.conditional_update(online, target, False)
    np.testing.assert_allclose(np.asarray(same["w"]), 0.0)


def test_ema_debiases_the_zero_start():
    init, update = rl.create_ema(decay=0.9)
    state = init({"x": jnp.ones(3)})
    moments, state = update({"x": jnp.full((3,), 2.0)}, state)
    np.testing.assert_allclose(float(moments.mean["x"]), 2.0, rtol=1e-5)
    np.testing.assert_allclose(float(moments.variance["x"]), 0.0, atol=1e-5)
    moments, state = jumba.jit(update)({"x": jnp.full((3,), 4.0)}, state)
    np.testing.assert_allclose(float(moments.mean["x"]), (0.9 * 0.1 * 2 + 0.1 * 4) / 0.19,
                               rtol=1e-5)


class _Categorical:
    """Just enough of distrax's interface for the policy-target helpers."""

    batch_shape = (2,)

    def __init__(self, logits):
        self.logits = jnp.asarray(logits)

    def sample(self, seed, sample_shape):
        return jr.categorical(seed, self.logits, shape=tuple(sample_shape) + self.batch_shape)

    def log_prob(self, actions):
        logp = jumba.nn.log_softmax(self.logits, axis=-1)
        return jnp.take_along_axis(jnp.broadcast_to(logp, actions.shape + (3,)),
                                   actions[..., None], axis=-1)[..., 0]


def test_policy_targets_and_distillation_loss():
    dist = _Categorical([[0.0, 1.0, 2.0], [1.0, 0.0, -1.0]])
    target = rl.constant_policy_targets(dist, KEY, 5, 0.5)
    assert np.asarray(target.actions).shape == (5, 2)
    np.testing.assert_allclose(np.asarray(target.weights), 0.5)
    assert np.all(np.asarray(rl.zero_policy_targets(dist, KEY, 4).weights) == 0)
    loss = rl.sampled_policy_distillation_loss(dist, target)
    want = -np.mean(0.5 * np.asarray(dist.log_prob(target.actions)))
    np.testing.assert_allclose(float(loss), want, rtol=1e-6)


def test_sample_start_indices_are_distinct_and_in_range():
    starts = np.asarray(rl.sample_start_indices(KEY, 4, 3, 5))
    assert starts.shape == (4, 3) and starts.min() >= 0 and starts.max() <= 5
    assert all(len(set(row)) == 3 for row in starts)


def test_episodic_memory_rewards_run_and_update_the_memory():
    emb = jr.normal(KEY, (4, 3))
    reward, state = rl.episodic_memory_intrinsic_rewards(emb, 2, 1.0, max_memory_size=16)
    assert np.asarray(reward).shape == (4,) and np.all(np.isfinite(np.asarray(reward)))
    np.testing.assert_allclose(np.asarray(state.memory)[:4], np.asarray(emb))
    reward, state = rl.episodic_memory_intrinsic_rewards(emb, 2, 1.0, state, max_memory_size=16)
    assert int(state.next_memory_index) == 8
    nn = rl.knn_query(state.memory[:8], emb[:1], 2)
    np.testing.assert_allclose(np.asarray(nn.neighbor_neg_distances), 0.0, atol=1e-6)


def test_users_vmap_unbatched_functions_over_a_batch():
    r = np.random.default_rng(0)
    q_tm1, q_t = r.normal(size=(8, 3)).astype(np.float32), r.normal(size=(8, 3)).astype(np.float32)
    a = r.integers(0, 3, 8).astype(np.int32)
    batched = jumba.jit(jumba.vmap(rl.q_learning))(q_tm1, a, jnp.ones(8), jnp.full(8, 0.9), q_t)
    want = 1.0 + 0.9 * q_t.max(1) - q_tm1[np.arange(8), a]
    np.testing.assert_allclose(np.asarray(batched), want, rtol=1e-6)


# ---------------------------------------------------------------- named-axis (cross-device) forms
def test_allsum_sums_across_a_named_axis():
    x = jnp.arange(6.0).reshape(2, 3)
    out = jumba.vmap(lambda v: rl.AllSum("i")(v), axis_name="i")(x)
    np.testing.assert_allclose(np.asarray(out), [15.0, 15.0])


def test_vmpo_split_over_an_axis_equals_the_whole_batch():
    r = np.random.default_rng(1)
    logp, adv = (r.normal(size=6).astype(np.float32) for _ in range(2))
    penalty = rl.LagrangePenalty(jnp.asarray(0.8), 0.1)

    def loss(lp, a, axis_name=None):
        return rl.vmpo_loss(lp, a, penalty, [(jnp.abs(a), rl.LagrangePenalty(
            jnp.asarray(0.5), 0.01))], axis_name=axis_name)

    whole, whole_out = loss(jnp.asarray(logp), jnp.asarray(adv))
    split, split_out = jumba.vmap(lambda lp, a: loss(lp, a, "i"), axis_name="i")(
        jnp.asarray(logp.reshape(2, 3)), jnp.asarray(adv.reshape(2, 3)))
    np.testing.assert_allclose(np.asarray(split).reshape(6), np.asarray(whole), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(np.asarray(split_out.normalized_weights).reshape(6),
                               np.asarray(whole_out.normalized_weights), rtol=1e-5)


def test_art_and_ema_split_over_an_axis_equal_the_whole_batch():
    targets = jnp.asarray([1.0, 2.0, -1.0, 0.5, 3.0, 2.5])
    indices = jnp.asarray([0, 1, 1, 2, 0, 2])
    state = rl.PopArtState(jnp.zeros(3), jnp.ones(3), jnp.ones(3))
    whole = rl.art(state, targets, indices, 0.1, 0.01, 100.0)
    split = jumba.vmap(lambda t, i: rl.art(state, t, i, 0.1, 0.01, 100.0, axis_name="d"),
                       axis_name="d")(targets.reshape(2, 3), indices.reshape(2, 3))
    for got, want in zip(split, whole):
        np.testing.assert_allclose(np.asarray(got)[0], np.asarray(want), rtol=1e-6)
    init, update = rl.create_ema(0.9, pmean_axis_name="d")
    moments = jumba.vmap(lambda t: update(t, init(t))[0], axis_name="d")(targets.reshape(2, 3))
    np.testing.assert_allclose(np.asarray(moments.mean), float(np.mean(targets)), rtol=1e-5)


@pytest.mark.parametrize("name", ["popart"])
def test_popart_preserves_unnormalised_outputs(name):
    init, update = rl.popart(2, 0.5, 1e-3, 1e3)
    params = {"w": jnp.asarray([[1.0, -2.0], [0.5, 0.3]]), "b": jnp.asarray([0.1, -0.2])}
    state = init()
    x = jnp.asarray([0.7, -1.1])
    before = rl.unnormalize(state, x @ params["w"] + params["b"], jnp.asarray([0, 1]))
    params, state = update(params, state, jnp.asarray([10.0, -5.0, 3.0]), jnp.asarray([0, 1, 1]))
    after = rl.unnormalize(state, x @ params["w"] + params["b"], jnp.asarray([0, 1]))
    np.testing.assert_allclose(np.asarray(after), np.asarray(before), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(rl.normalize(state, after, jnp.asarray([0, 1]))),
                               np.asarray(x @ params["w"] + params["b"]), rtol=1e-5)
