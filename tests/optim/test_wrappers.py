"""Behaviour of the combinators, wrappers and stateless transformations."""

import functools

import numpy as np
import pytest

import jumba
import jumba.numpy as jnp
import jumba_optim as optim
from jumba_optim import tree_utils as otu

tmap = jumba.tree_util.tree_map


def _np(tree):
    return tmap(np.asarray, tree)


def _params():
    return {"w": jnp.asarray([[1.0, -2.0], [3.0, 0.5]]), "b": jnp.asarray([0.5, -1.0])}


def _grads():
    return {"w": jnp.asarray([[0.1, 0.2], [-0.3, 0.4]]), "b": jnp.asarray([1.0, -2.0])}


def test_gradient_transformation_is_a_named_pair_and_chain_composes():
    tx = optim.chain(optim.scale(2.0), optim.scale(-0.5))
    assert isinstance(tx, optim.GradientTransformation)
    init, update = tx
    state = init(_params())
    u, _ = update(_grads(), state)
    np.testing.assert_allclose(u["b"], -np.asarray(_grads()["b"]))


def test_chain_rejects_non_transformations_with_a_clear_error():
    with pytest.raises(TypeError, match="argument 1 is float"):
        optim.chain(optim.scale(1.0), 0.1)


def test_named_chain_state_is_keyed_by_name():
    tx = optim.named_chain(("clip", optim.clip(0.15)), ("sgd", optim.sgd(1.0, momentum=0.5)))
    state = tx.init(_params())
    assert set(state) == {"clip", "sgd"}
    u, _ = tx.update(_grads(), state)
    np.testing.assert_allclose(u["b"], [-0.15, 0.15])


def test_extra_args_reach_only_transformations_that_accept_them():
    tx = optim.chain(optim.scale(1.0), optim.scale_by_polyak(max_learning_rate=10.0))
    state = tx.init(_params())
    u, _ = tx.update(_grads(), state, value=jnp.asarray(2.0))
    sq = float(otu.tree_l2_norm(_grads(), squared=True))
    np.testing.assert_allclose(u["b"], np.asarray(_grads()["b"]) * 2.0 / sq, rtol=1e-6)
    with pytest.raises(ValueError, match="value=loss"):
        tx.update(_grads(), state)


def test_masked_only_touches_selected_leaves():
    tx = optim.masked(optim.sgd(1.0, momentum=0.9), {"w": True, "b": False})
    state = tx.init(_params())
    u, state = tx.update(_grads(), state)
    np.testing.assert_allclose(u["w"], -np.asarray(_grads()["w"]))
    np.testing.assert_allclose(u["b"], np.asarray(_grads()["b"]))  # passed through unchanged
    assert isinstance(state.inner_state[0], optim.TraceState)
    # A mask given as a function of the params.
    tx = optim.masked(optim.scale(0.0), lambda p: tmap(lambda x: x.ndim == 1, p))
    u, _ = tx.update(_grads(), tx.init(_params()))
    assert float(jnp.sum(jnp.abs(u["b"]))) == 0.0 and float(jnp.sum(jnp.abs(u["w"]))) > 0


def test_add_decayed_weights_mask_and_missing_params_error():
    tx = optim.add_decayed_weights(0.1, mask={"w": False, "b": True})
    u, _ = tx.update(_grads(), tx.init(_params()), _params())
    np.testing.assert_allclose(u["b"], np.asarray(_grads()["b"]) + 0.1 * np.asarray(_params()["b"]))
    np.testing.assert_allclose(u["w"], np.asarray(_grads()["w"]))
    with pytest.raises(ValueError, match="needs the parameters"):
        optim.add_decayed_weights(0.1).update(_grads(), optim.EmptyState())


def test_freeze_keeps_frozen_parameters_fixed():
    tx = optim.chain(optim.freeze({"w": True, "b": False}), optim.adam(0.1))
    params = _params()
    state = tx.init(params)
    for _ in range(3):
        u, state = tx.update(_grads(), state, params)
        params = optim.apply_updates(params, u)
    np.testing.assert_array_equal(params["w"], _params()["w"])
    assert not np.allclose(params["b"], _params()["b"])
    sel = optim.selective_transform(optim.adam(0.1), freeze_mask={"w": True, "b": False})
    u, _ = sel.update(_grads(), sel.init(_params()), _params())
    assert float(jnp.sum(jnp.abs(u["w"]))) == 0.0


def test_multi_transform_applies_one_transformation_per_label():
    tx = optim.multi_transform({"fast": optim.sgd(1.0), "slow": optim.sgd(0.1)},
                               {"w": "slow", "b": "fast"})
    u, _ = tx.update(_grads(), tx.init(_params()), _params())
    np.testing.assert_allclose(u["w"], -0.1 * np.asarray(_grads()["w"]), rtol=1e-6)
    np.testing.assert_allclose(u["b"], -np.asarray(_grads()["b"]))
    with pytest.raises(ValueError, match="no transformation"):
        optim.partition({"fast": optim.sgd(1.0)}, {"w": "slow", "b": "fast"}).init(_params())


def test_apply_if_finite_skips_bad_steps_then_gives_up():
    tx = optim.apply_if_finite(optim.sgd(1.0, momentum=0.9), max_consecutive_errors=2)
    state = tx.init(_params())
    bad = {"w": jnp.full((2, 2), jnp.nan), "b": jnp.asarray([1.0, jnp.inf])}
    u, state = tx.update(bad, state)
    assert float(jnp.sum(jnp.abs(u["w"]))) == 0.0
    assert int(state.notfinite_count) == 1 and not bool(state.last_finite)
    np.testing.assert_array_equal(state.inner_state[0].trace["w"], 0.0)
    u, state = tx.update(_grads(), state)
    assert int(state.notfinite_count) == 0 and int(state.total_notfinite) == 1
    np.testing.assert_allclose(u["b"], -np.asarray(_grads()["b"]))
    for _ in range(3):
        u, state = tx.update(bad, state)
    assert np.isnan(np.asarray(u["w"])).all()  # applied after 2 consecutive errors
    assert int(state.total_notfinite) == 4


def test_multisteps_equals_one_step_on_the_mean_gradient():
    k = 3
    ms = optim.MultiSteps(optim.adam(0.1), every_k_schedule=k)
    grads = [tmap(lambda g, i=i: g * (i + 1.0), _grads()) for i in range(k)]
    state = ms.init(_params())
    for i, g in enumerate(grads):
        u, state = ms.update(g, state, _params())
        if i < k - 1:
            assert float(jnp.sum(jnp.abs(u["w"]))) == 0.0
            assert not bool(ms.has_updated(state))
    assert bool(ms.has_updated(state))
    mean = tmap(lambda *xs: sum(xs) / k, *grads)
    adam = optim.adam(0.1)
    want, _ = adam.update(mean, adam.init(_params()))
    for key in ("w", "b"):
        np.testing.assert_allclose(u[key], want[key], rtol=1e-5)
    assert isinstance(ms.gradient_transformation(), optim.GradientTransformationExtraArgs)


def test_multisteps_skip_not_finite():
    ms = optim.MultiSteps(optim.sgd(1.0), every_k_schedule=2,
                          should_skip_update_fn=optim.skip_not_finite)
    state = ms.init(_params())
    bad = tmap(lambda g: g * jnp.nan, _grads())
    u, state = ms.update(bad, state)
    assert int(state.mini_step) == 0 and int(state.skip_state["num_not_finite"]) == 6
    assert np.isfinite(np.asarray(state.acc_grads["w"])).all()
    big = functools.partial(optim.skip_large_updates, max_squared_norm=1.0)
    skip, info = big(_grads(), 0, None)
    assert bool(skip) and float(info["norm_squared"]) > 1.0


def test_apply_every_accumulates_and_emits():
    tx = optim.apply_every(k=2)
    state = tx.init(_params())
    u1, state = tx.update(_grads(), state)
    u2, state = tx.update(_grads(), state)
    assert float(jnp.sum(jnp.abs(u1["b"]))) == 0.0
    np.testing.assert_allclose(u2["b"], 2 * np.asarray(_grads()["b"]))


def test_inject_hyperparams_changes_lr_without_retracing():
    traces = []
    tx = optim.inject_hyperparams(optim.adam)(learning_rate=0.1)

    @jumba.jit
    def step(params, state):
        traces.append(1)
        u, state = tx.update(_grads(), state, params)
        return optim.apply_updates(params, u), state

    params, state = _params(), tx.init(_params())
    assert float(state.hyperparams["learning_rate"]) == pytest.approx(0.1)
    params, state = step(params, state)
    state.hyperparams["learning_rate"] = jnp.asarray(0.0, jnp.float32)
    frozen = params
    params, state = step(params, state)
    assert len(traces) == 1
    np.testing.assert_allclose(params["w"], frozen["w"])
    # Against plain adam: identical first step.
    ref = optim.adam(0.1)
    u, _ = ref.update(_grads(), ref.init(_params()))
    np.testing.assert_allclose(np.asarray(frozen["b"]), np.asarray(_params()["b"]) + u["b"],
                               rtol=1e-5)


def test_inject_hyperparams_evaluates_schedules_on_the_count():
    sched = optim.linear_schedule(1.0, 0.0, 4)
    tx = optim.inject_hyperparams(optim.sgd)(learning_rate=sched, momentum=0.5)
    state = tx.init(_params())
    lrs = []
    for _ in range(3):
        _, state = tx.update(_grads(), state)
        lrs.append(float(state.hyperparams["learning_rate"]))
    assert lrs == pytest.approx([1.0, 0.75, 0.5])
    assert float(state.hyperparams["momentum"]) == pytest.approx(0.5)
    with pytest.raises(TypeError, match="must match sgd"):
        optim.inject_hyperparams(optim.sgd)(learning_rate=0.1, bogus=1)


def test_lookahead_syncs_every_period():
    tx = optim.lookahead(optim.sgd(0.1), sync_period=2, slow_step_size=0.5)
    params = optim.LookaheadParams.init_synced({"x": jnp.asarray([1.0])})
    state = tx.init(params)
    g = {"x": jnp.asarray([1.0])}
    u, state = tx.update(optim.LookaheadParams(g, g), state, params)
    params = optim.apply_updates(params, u)
    np.testing.assert_allclose(params.fast["x"], [0.9])
    np.testing.assert_allclose(params.slow["x"], [1.0])
    u, state = tx.update(optim.LookaheadParams(g, g), state, params)
    params = optim.apply_updates(params, u)
    # fast went to 0.8; slow moves halfway: 1 + 0.5 (0.8 - 1) = 0.9; fast resets to slow.
    np.testing.assert_allclose(params.slow["x"], [0.9], rtol=1e-6)
    np.testing.assert_allclose(params.fast["x"], [0.9], rtol=1e-6)
    with pytest.raises(TypeError, match="init_synced"):
        tx.init({"x": jnp.asarray([1.0])})


def test_clipping_transforms():
    g = _grads()
    u, _ = optim.clip(0.25).update(g, optim.EmptyState())
    assert float(jnp.max(jnp.abs(u["b"]))) == 0.25
    u, _ = optim.clip_by_global_norm(1.0).update(g, optim.EmptyState())
    assert float(optim.global_norm(u)) == pytest.approx(1.0, rel=1e-6)
    small = tmap(lambda x: x * 1e-3, g)
    u, _ = optim.clip_by_global_norm(1.0).update(small, optim.EmptyState())
    np.testing.assert_array_equal(u["w"], small["w"])
    u, _ = optim.clip_by_block_rms(0.1).update(g, optim.EmptyState())
    assert float(jnp.sqrt(jnp.mean(u["b"] ** 2))) == pytest.approx(0.1, rel=1e-6)
    u, _ = optim.adaptive_grad_clip(0.01).update(g, optim.EmptyState(), _params())
    assert float(optim.global_norm(u)) < float(optim.global_norm(g))
    clipped, n = optim.per_example_global_norm_clip([jnp.asarray([[3.0, 4.0], [0.3, 0.4]])], 1.0)
    np.testing.assert_allclose(clipped[0], [0.6 + 0.3, 0.8 + 0.4], rtol=1e-6)
    assert int(n) == 1


def test_constraints_and_stateless_transforms():
    u, state = optim.zero_nans().update({"a": jnp.asarray([1.0, jnp.nan])},
                                        optim.zero_nans().init({"a": jnp.zeros(2)}))
    np.testing.assert_array_equal(u["a"], [1.0, 0.0])
    assert bool(state.found_nan["a"])
    p = {"a": jnp.asarray([1.0, 0.5])}
    u, _ = optim.keep_params_nonnegative().update({"a": jnp.asarray([-2.0, -0.1])},
                                                  optim.EmptyState(), p)
    np.testing.assert_allclose(u["a"], [-1.0, -0.1])
    u, _ = optim.centralize().update(_grads(), optim.EmptyState())
    np.testing.assert_allclose(np.asarray(u["w"]).mean(axis=1), 0.0, atol=1e-7)
    np.testing.assert_array_equal(u["b"], _grads()["b"])
    u, _ = optim.set_to_zero().update(_grads(), optim.EmptyState())
    assert float(jnp.sum(jnp.abs(u["w"]))) == 0.0
    u, _ = optim.identity().update(_grads(), optim.EmptyState())
    assert u is not None
    u, _ = optim.stateless(lambda g, p: tmap(lambda x: 2 * x, g)).update(_grads(), ())
    np.testing.assert_allclose(u["b"], 2 * np.asarray(_grads()["b"]))
    wrapped = optim.with_extra_args_support(optim.scale(3.0))
    u, _ = wrapped.update(_grads(), optim.EmptyState(), None, anything=1)
    np.testing.assert_allclose(u["b"], 3 * np.asarray(_grads()["b"]))


def test_ema_trace_and_schedule_scaling():
    tx = optim.ema(0.5, debias=True)
    u, state = tx.update({"a": jnp.asarray([2.0])}, tx.init({"a": jnp.zeros(1)}))
    np.testing.assert_allclose(u["a"], [2.0])  # debiased first value is the value itself
    tx = optim.trace(0.5)
    s = tx.init({"a": jnp.zeros(1)})
    _, s = tx.update({"a": jnp.asarray([1.0])}, s)
    u, s = tx.update({"a": jnp.asarray([1.0])}, s)
    np.testing.assert_allclose(u["a"], [1.5])
    tx = optim.scale_by_schedule(lambda c: 1.0 / (c + 1.0))
    s = tx.init({})
    _, s = tx.update({"a": jnp.ones(1)}, s)
    u, s = tx.update({"a": jnp.ones(1)}, s)
    np.testing.assert_allclose(u["a"], [0.5])
    with pytest.raises(TypeError, match="function of the step count"):
        optim.scale_by_schedule(0.1)
    with pytest.raises(ValueError, match="learning_rate is None"):
        optim.scale_by_learning_rate(None)


def test_conditional_transforms():
    tx = optim.conditionally_mask(optim.sgd(1.0), lambda step: step >= 1)
    s = tx.init(_params())
    u, s = tx.update(_grads(), s)
    assert float(jnp.sum(jnp.abs(u["b"]))) == 0.0
    u, s = tx.update(_grads(), s)
    np.testing.assert_allclose(u["b"], -np.asarray(_grads()["b"]))
    tx = optim.conditionally_transform(optim.scale(0.0), lambda step: step >= 1)
    s = tx.init(_params())
    u, s = tx.update(_grads(), s)
    np.testing.assert_allclose(u["b"], _grads()["b"])


def test_update_helpers():
    p = {"a": jnp.asarray([1.0], jnp.float32)}
    new = optim.apply_updates(p, {"a": jnp.asarray([0.5], jnp.float32)})
    assert new["a"].dtype == jnp.float32
    assert optim.apply_updates({"a": jnp.ones(1), "b": jnp.ones(1)},
                               {"a": jnp.ones(1), "b": None})["b"] is not None
    np.testing.assert_allclose(
        optim.incremental_update({"a": jnp.asarray([2.0])}, {"a": jnp.asarray([0.0])}, 0.25)["a"],
        [0.5])
    np.testing.assert_allclose(
        optim.periodic_update({"a": jnp.asarray([2.0])}, {"a": jnp.asarray([0.0])},
                              jnp.asarray(4), 2)["a"], [2.0])
    np.testing.assert_allclose(
        optim.periodic_update({"a": jnp.asarray([2.0])}, {"a": jnp.asarray([0.0])},
                              jnp.asarray(3), 2)["a"], [0.0])


def test_tree_utils():
    x, y = {"a": jnp.asarray([1.0, 2.0])}, {"a": jnp.asarray([3.0, 4.0])}
    np.testing.assert_allclose(otu.tree_add(x, y)["a"], [4.0, 6.0])
    np.testing.assert_allclose(otu.tree_sub(y, x)["a"], [2.0, 2.0])
    np.testing.assert_allclose(otu.tree_scalar_mul(2.0, x)["a"], [2.0, 4.0])
    assert float(otu.tree_vdot(x, y)) == 11.0
    np.testing.assert_allclose(otu.tree_zeros_like(x)["a"], [0.0, 0.0])
    assert float(otu.tree_l2_norm(x, squared=True)) == 5.0
    assert float(otu.tree_l2_norm(x)) == pytest.approx(5**0.5)
    tx = optim.adam(0.1)
    state = tx.init(_params())
    halved = optim.tree_map_params(tx, lambda v: v + 1.0, state)
    np.testing.assert_allclose(halved[0].mu["w"], 1.0)
    assert int(halved[0].count) == 0  # not params-shaped: untouched
    state2 = optim.tree_map_params(tx, lambda v: v, state, transform_non_params=lambda v: v * 0)
    assert int(state2[0].count) == 0


def test_numerics_are_safe_at_the_edges():
    g = jumba.grad(lambda x: optim.safe_norm(x, 0.0))(jnp.zeros(3))
    assert np.isfinite(np.asarray(g)).all()
    assert float(optim.safe_norm(jnp.asarray([3.0, 4.0]), 10.0)) == 10.0
    c = jnp.asarray(np.iinfo(np.int32).max, jnp.int32)
    assert int(optim.safe_int32_increment(c)) == np.iinfo(np.int32).max
    with pytest.raises(TypeError, match="int32"):
        optim.safe_int32_increment(jnp.asarray(1.0))
    assert float(optim.safe_root_mean_squares(jnp.zeros(2), 0.1)) == pytest.approx(0.1)
    g = jumba.grad(lambda x: jnp.sum(optim.scale_gradient(x, 0.5) ** 2))(jnp.asarray([2.0]))
    np.testing.assert_allclose(g, [2.0])


def test_power_iteration_and_microbatch():
    a = jnp.asarray([[2.0, 1.0], [1.0, 3.0]])
    v, lam = optim.power_iteration(a, num_iters=200)
    np.testing.assert_allclose(float(lam), np.linalg.eigvalsh(np.asarray(a)).max(), rtol=1e-4)
    f = optim.microbatch(lambda x: jnp.mean(x ** 2), argnums=0, microbatch_size=2)
    x = jnp.arange(6.0)
    assert float(f(x)) == pytest.approx(float(jnp.mean(x ** 2)))


def test_noise_needs_jumba_random():
    try:
        import jumba.random  # noqa: F401
    except ImportError:
        pytest.skip("jumba.random has not landed yet: add_noise/noisy_sgd cannot run.")
    tx = optim.noisy_sgd(0.1, eta=0.01, seed=0)
    state = tx.init(_params())
    u1, state = tx.update(_grads(), state)
    u2, state = tx.update(_grads(), state)
    assert not np.allclose(np.asarray(u1["w"]), np.asarray(u2["w"]))
    diff = np.asarray(u1["b"]) + 0.1 * np.asarray(_grads()["b"])
    assert np.abs(diff).max() < 0.1  # noise of std 0.1 * sqrt(0.01 / 2^0.55)
