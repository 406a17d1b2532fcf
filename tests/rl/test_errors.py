"""Bad input gets an error that names the function, the argument, the problem and the fix."""

import numpy as np
import pytest

import jumba
import jumba.numpy as jnp
import jumba_rl as rl

Q = jnp.asarray([1.0, 2.0, 3.0])
V = jnp.asarray([0.1, 0.2, 0.3, 0.4])


def test_batched_input_to_an_unbatched_function_suggests_vmap():
    with pytest.raises(ValueError, match=r"jumba_rl\.td_learning: argument `v_tm1` must have "
                                         r"rank 0.*shape \(4,\).*jumba\.vmap"):
        rl.td_learning(V, 1.0, 0.9, 0.5)
    # ... and vmap is indeed the fix.
    out = jumba.vmap(rl.td_learning)(V, V, V, V)
    np.testing.assert_allclose(np.asarray(out), np.asarray(V + V * V - V), rtol=1e-6)


def test_float_action_is_a_type_error_naming_the_argument():
    with pytest.raises(TypeError, match=r"q_learning: argument `a_tm1` must have an integer "
                                        r"dtype, got float32; pass integer action indices"):
        rl.q_learning(Q, jnp.asarray(1.0), 1.0, 0.9, Q)


def test_integer_values_are_a_type_error():
    with pytest.raises(TypeError, match=r"lambda_returns: argument `r_t` must have a floating "
                                        r"dtype, got int32; cast it"):
        rl.lambda_returns(jnp.asarray([1, 2]), jnp.asarray([0.9, 0.9]), jnp.asarray([0.0, 1.0]))


def test_mismatched_trajectory_lengths_name_every_shape():
    with pytest.raises(ValueError, match=r"lambda_returns: these arguments must have the same "
                                         r"shape, got `r_t` \(4,\), `discount_t` \(3,\)"):
        rl.lambda_returns(V, Q, V)
    with pytest.raises(ValueError, match=r"vtrace: .*same shape.*`rho_tm1` \(3,\)"):
        rl.vtrace(V, V, V, V, Q)
    with pytest.raises(ValueError, match=r"truncated_generalized_advantage_estimation: .*"
                                         r"`values\[1:\]` \(3,\)"):
        rl.truncated_generalized_advantage_estimation(V, V, 0.9, V)


def test_lambda_of_rank_two_is_rejected():
    with pytest.raises(ValueError, match=r"td_lambda: argument `lambda_` must have rank 0 or 1"):
        rl.td_lambda(V, V, V, V, jnp.ones((4, 1)))


def test_vtrace_mask_must_be_boolean():
    with pytest.raises(TypeError, match=r"vtrace: argument `sample_mask` must have a boolean"):
        rl.vtrace(V, V, V, V, V, sample_mask=jnp.ones(4))


def test_n_step_needs_a_positive_int():
    with pytest.raises(ValueError, match=r"n_step_bootstrapped_returns: `n` must be a Python "
                                         r"int >= 1, got 0"):
        rl.n_step_bootstrapped_returns(V, V, V, 0)


def test_rank_errors_work_under_jit_and_vmap():
    with pytest.raises(ValueError, match=r"sarsa: argument `q_tm1` must have rank 1"):
        jumba.jit(rl.sarsa)(jnp.ones((2, 3)), 0, 1.0, 0.9, Q, 1)
    with pytest.raises(ValueError, match=r"retrace: argument `mu_t` must have rank 1"):
        jumba.vmap(rl.retrace, in_axes=(0, 0, 0, 0, 0, 0, 0, 0, None))(
            *(jnp.ones((2, 4, 3)),) * 2, *(jnp.zeros((2, 4), jnp.int32),) * 2,
            *(jnp.ones((2, 4)),) * 2, jnp.ones((2, 4, 3)), jnp.ones((2, 4, 3)), 0.9)


def test_helpers_explain_shape_problems():
    with pytest.raises(ValueError, match=r"lhs_broadcast: source shape \(3,\) is not compatible "
                                         r"with target shape \(4, 2\)"):
        rl.lhs_broadcast(Q, jnp.ones((4, 2)))
    with pytest.raises(ValueError, match=r"batched_index: `indices` shape \(2,\) must equal the "
                                         r"leading shape of `values` \(4,\)"):
        rl.batched_index(jnp.ones((4, 3)), jnp.asarray([0, 1]))
    with pytest.raises(TypeError, match=r"batched_index: `indices` must be integers"):
        rl.batched_index(jnp.ones((4, 3)), jnp.ones(4))
    with pytest.raises(ValueError, match=r"tree_select: the two branches must have the same"):
        rl.tree_select(True, {"a": 1.0}, (1.0,))
    with pytest.raises(ValueError, match=r"tree_map_zipped: all elements must share"):
        rl.tree_map_zipped(lambda a, b: a, [{"a": 1}, {"b": 1}])


def test_options_are_checked():
    with pytest.raises(ValueError, match=r"feature_control_rewards: unknown cumulant_type "
                                         r"'bogus'; use 'feature'"):
        rl.feature_control_rewards(jnp.ones((3, 2)), "bogus")
    with pytest.raises(ValueError, match=r"epsilon_greedy: no epsilon given"):
        rl.epsilon_greedy().probs(Q)
    with pytest.raises(ValueError, match=r"gaussian_diagonal: no sigma given"):
        rl.gaussian_diagonal().entropy(Q)
    with pytest.raises(ValueError, match=r"get_top_k_weights: `top_k_fraction` must be in"):
        rl.vmpo_loss(V, V, rl.LagrangePenalty(jnp.asarray(1.0), 0.1), [], top_k_fraction=0.0)
    with pytest.raises(ValueError, match=r"mpo_loss: `sample_axis` 3 is not an axis"):
        rl.mpo_loss(jnp.ones((2, 3)), jnp.ones((2, 3)),
                    rl.LagrangePenalty(jnp.asarray(1.0), 0.1), [], sample_axis=3)
    with pytest.raises(ValueError, match=r"pixel_control_rewards: cell_size 3 must divide"):
        rl.pixel_control_rewards(jnp.ones((2, 4, 4, 1)), 3)
    with pytest.raises(ValueError, match=r"extract_subsequences: trajectories have length 3"):
        rl.extract_subsequences(jnp.ones((3, 2)), jnp.zeros((2, 1), jnp.int32), 2, 3)
    with pytest.raises(ValueError, match=r"sample_start_indices: cannot draw 5 distinct"):
        rl.sample_start_indices(jumba.random.PRNGKey(0), 2, 5, 3)


def test_collectives_outside_a_named_axis_are_reported_by_jumba():
    with pytest.raises(NameError, match=r"unbound axis name 'devices'"):
        rl.AllSum("devices")(V)
    with pytest.raises(ValueError, match=r"vmpo_compute_weights_and_temperature_loss: with an "
                                         r"axis_name .* pass use_stop_gradient=True"):
        jumba.vmap(lambda a: rl.vmpo_loss(a, a, rl.LagrangePenalty(jnp.asarray(1.0), 0.1), [],
                                          axis_name="i", use_stop_gradient=False),
                   axis_name="i")(jnp.ones((2, 3)))
