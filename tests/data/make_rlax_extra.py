# ruff: noqa: E501  (the calls are recorded verbatim, one per line)
"""Regenerate tests/data/rlax_extra.json with RLax (run with benchmarks/.venv's python):

    benchmarks/.venv/bin/python tests/data/make_rlax_extra.py

Cases beyond /work/shared/testdata/rlax_reference.json (copied to tests/data/): the RLax
functions that file does not call (or, for retrace, calls with a behaviour-policy argument of the
wrong rank, so that it has no output), non-default arguments, and a few gradients. Inputs are the
reference file's inputs plus a few extra arrays drawn here; each call is Python source evaluated
with ``rlax`` (RLax / jumba_rl), ``jax`` (jax / jumba), ``jnp``, ``np``, ``ns`` (a namespace
constructor for action specs), ``ms`` (RLax's multistep module / jumba_rl, for a function
RLax does not export) and ``d`` (the inputs), and its output is recorded as nested lists
(named tuples and dataclasses as dicts of their fields).
"""

import dataclasses
import json
import types
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import rlax
from rlax._src import multistep

HERE = Path(__file__).resolve().parent

CALLS = {
    "retrace": 'rlax.retrace(d["Q_tm1"], d["Q_t"], d["A_tm1"], d["A_t"], d["r_t"], d["discount_t"], d["pi_t"], rlax.batched_index(d["mu_t"], d["A_t"]), 0.9)',
    "retrace_continuous": 'rlax.retrace_continuous(d["v_tm1"], d["v_t"][:-1], d["v_t"], d["r_t"], d["discount_t"], 0.3 * d["v_tm1"][1:], 0.9)',
    "transformed_retrace": 'rlax.transformed_retrace(d["Q_tm1"], d["Q_t"], d["A_tm1"], d["A_t"], d["r_t"], d["discount_t"], d["pi_t"], rlax.batched_index(d["mu_t"], d["A_t"]), 0.9, tx_pair=rlax.SIGNED_LOGP1_PAIR)',
    "transformed_q_lambda": 'rlax.transformed_q_lambda(d["Q_tm1"], d["A_tm1"], d["r_t"], d["discount_t"], d["Q_t"], d["lambda_"], tx_pair=rlax.HYPERBOLIC_SIN_PAIR)',
    "transformed_lambda_returns": 'rlax.transformed_lambda_returns(rlax.SIGNED_LOGP1_PAIR, d["r_t"], d["discount_t"], d["v_t"], d["discount_t"])',
    "transformed_n_step_returns": 'rlax.transformed_n_step_returns(rlax.IDENTITY_PAIR, d["r_t"], d["discount_t"], d["v_t"], 4, 0.7)',
    "transformed_general_off_policy_returns_from_action_values": 'rlax.transformed_general_off_policy_returns_from_action_values(rlax.SIGNED_LOGP1_PAIR, d["Q_t"], d["A_t"], d["r_t"], d["discount_t"], d["c_t"], d["pi_t"])',
    "td_lambda_vector_lambda": 'rlax.td_lambda(d["v_tm1"], d["r_t"], d["discount_t"], d["v_t"], d["discount_t"])',
    "qv_max": 'rlax.qv_max(d["v_tm1"][0], d["r"], d["discount"], d["q_t"])',
    "quantile_expected_sarsa": 'rlax.quantile_expected_sarsa(d["dist_q_tm1"], d["tau"], d["a_tm1"], d["r"], d["discount"], d["dist_q_t"], d["probs"], huber_param=1.0)',
    "quantile_regression_loss_plain": 'rlax.quantile_regression_loss(d["dist_q_tm1"][:, 1], d["tau"], d["dist_q_t"][:, 2])',
    "importance_corrected_td_errors": 'ms.importance_corrected_td_errors(d["r_t"], d["discount_t"], d["rho_tm1"], d["lambda_"], d["values"])',
    "general_off_policy_returns_from_q_and_v": 'rlax.general_off_policy_returns_from_q_and_v(d["v_tm1"][:-1], d["v_t"], d["r_t"], d["discount_t"], d["c_t"][:-1])',
    "leaky_vtrace_td_error_and_advantage": 'rlax.leaky_vtrace_td_error_and_advantage(d["v_tm1"], d["v_t"], d["r_t"], d["discount_t"], d["rho_tm1"], 0.5, 0.9)',
    "vtrace_masked": 'rlax.vtrace(d["v_tm1"], d["v_t"], d["r_t"], d["discount_t"], d["rho_tm1"], 0.9, 1.2, True, d["v_tm1"] > 0)',
    "vtrace_td_error_and_advantage_clips": 'rlax.vtrace_td_error_and_advantage(d["v_tm1"], d["v_t"], d["r_t"], d["discount_t"], d["rho_tm1"], 0.8, 1.5, 0.7)',
    "discounted_returns_scalar_bootstrap": 'rlax.discounted_returns(d["r_t"], d["discount_t"], 1.5)',
    "n_step_bootstrapped_returns_lambda": 'rlax.n_step_bootstrapped_returns(d["r_t"], d["discount_t"], d["v_t"], 4, 0.7)',
    "n_step_bootstrapped_returns_long": 'rlax.n_step_bootstrapped_returns(d["r_t"], d["discount_t"], d["v_t"], 8)',
    "lambda_returns_vector_lambda": 'rlax.lambda_returns(d["r_t"], d["discount_t"], d["v_t"], d["discount_t"])',
    "categorical_cross_entropy": 'rlax.categorical_cross_entropy(jax.nn.softmax(d["v_logits_t"]), d["v_logits_tm1"])',
    "categorical_kl_divergence": 'rlax.categorical_kl_divergence(d["logits_t"], d["Q_t"], 2.0)',
    "categorical_importance_sampling_ratios": 'rlax.categorical_importance_sampling_ratios(d["logits_t"], d["Q_t"], d["A_t"])',
    "multivariate_normal_kl_divergence": 'rlax.multivariate_normal_kl_divergence(d["v_tm1"], jnp.abs(d["r_t"]) + 0.5, d["v_t"], d["discount_t"])',
    "gaussian_logprob": 'rlax.gaussian_diagonal().logprob(d["v_t"], d["v_tm1"], 0.8)',
    "gaussian_prob": 'rlax.gaussian_diagonal().prob(d["v_t"] * 0.1, d["v_tm1"] * 0.1, 0.8)',
    "gaussian_entropy": 'rlax.gaussian_diagonal().entropy(d["v_tm1"], jnp.abs(d["r_t"]) + 0.5)',
    "gaussian_kl_to_standard_normal": 'rlax.gaussian_diagonal().kl_to_standard_normal(d["v_tm1"], 0.8)',
    "gaussian_kl": 'rlax.gaussian_diagonal().kl(d["v_tm1"], 0.8, d["v_t"], 1.2)',
    "squashed_logprob": 'rlax.squashed_gaussian().logprob(jnp.tanh(d["v_t"]) * 0.9, d["v_tm1"], d["r_t"], None)',
    "squashed_logprob_spec": 'rlax.squashed_gaussian().logprob(jnp.tanh(d["v_t"]) * 2.0 + 0.5, d["v_tm1"], d["r_t"], ns(minimum=-2.0, maximum=3.0))',
    "squashed_entropy": 'rlax.squashed_gaussian().entropy(d["v_tm1"], d["r_t"])',
    "squashed_kl_to_standard_normal": 'rlax.squashed_gaussian(-3.0, 1.0).kl_to_standard_normal(d["v_tm1"], d["r_t"])',
    "squashed_kl": 'rlax.squashed_gaussian().kl(d["v_tm1"], d["r_t"], d["v_t"], d["discount_t"])',
    "clipped_entropy_softmax_entropy": 'rlax.clipped_entropy_softmax(1.0, 0.5).entropy(d["logits_t"])',
    "softmax_kl": 'rlax.softmax(2.0).kl(d["logits_t"], d["Q_t"])',
    "softmax_probs": 'rlax.softmax(0.5).probs(d["logits_t"])',
    "greedy_entropy": 'rlax.greedy().entropy(d["Q_t"])',
    "epsilon_greedy_logprob": 'rlax.epsilon_greedy(0.2).logprob(d["A_t"], d["logits_t"])',
    "epsilon_greedy_entropy": 'rlax.epsilon_greedy(0.2).entropy(d["logits_t"])',
    "likelihood": 'rlax.likelihood(jax.nn.sigmoid(d["x"]), (d["x"] > 0).astype(jnp.float32))',
    "log_loss": 'rlax.log_loss(jax.nn.sigmoid(d["x"]), jnp.abs(jnp.tanh(d["x"])))',
    "expectile_loss": 'rlax.expectile_loss(d["v_tm1"], d["v_t"], 0.3)',
    "l2_loss_targets": 'rlax.l2_loss(d["v_tm1"], d["v_t"])',
    "huber_loss_small_delta": 'rlax.huber_loss(d["x"], 0.5)',
    "signed_logp1": 'rlax.signed_logp1(d["x"])',
    "signed_expm1": 'rlax.signed_expm1(d["x"])',
    "hyperbolic_sin": 'rlax.HYPERBOLIC_SIN_PAIR.apply_inv(d["x"])',
    "hyperbolic_arcsin": 'rlax.HYPERBOLIC_SIN_PAIR.apply(d["x"])',
    "power": 'rlax.power(d["x"], 2.0)',
    "sigmoid": 'rlax.sigmoid(d["x"])',
    "logit": 'rlax.logit(jax.nn.sigmoid(d["x"]))',
    "identity": 'rlax.identity(d["x"])',
    "transform_to_2hot": 'rlax.transform_to_2hot(d["x"], -3.0, 3.0, 11)',
    "transform_from_2hot": 'rlax.transform_from_2hot(jax.nn.softmax(d["Q_t"]), -1.0, 2.0, 3)',
    "twohot_pair_roundtrip": 'rlax.twohot_pair(-3.0, 3.0, 13).apply_inv(rlax.twohot_pair(-3.0, 3.0, 13).apply(d["x"]))',
    "muzero_pair_apply": 'rlax.muzero_pair(-2.0, 2.0, 9, rlax.SIGNED_HYPERBOLIC_PAIR).apply(d["x"])',
    "unbiased_pair_apply": 'rlax.unbiased_transform_pair(-2.0, 2.0, 9, rlax.SIGNED_HYPERBOLIC_PAIR).apply(d["x"])',
    "unbiased_pair_roundtrip": 'rlax.unbiased_transform_pair(-2.0, 2.0, 9, rlax.SIGNED_HYPERBOLIC_PAIR).apply_inv(rlax.unbiased_transform_pair(-2.0, 2.0, 9, rlax.SIGNED_HYPERBOLIC_PAIR).apply(d["x"]))',
    "compose_tx_apply": 'rlax.compose_tx(rlax.SIGNED_LOGP1_PAIR, rlax.HYPERBOLIC_SIN_PAIR).apply(d["x"])',
    "discount_transform_pair": 'rlax.DISCOUNT_TRANSFORM_PAIR.apply(d["discount_t"] * 0.9)',
    "dpg_loss": 'rlax.dpg_loss(d["v_tm1"], d["v_t"], 1.0)',
    "dpg_loss_unclipped": 'rlax.dpg_loss(d["v_tm1"], d["v_t"])',
    "mpo_loss": 'rlax.mpo_loss(d["Q_tm1"], d["Q_t"], rlax.LagrangePenalty(jnp.asarray(0.7), 0.1), [(jnp.abs(d["r_t"][:3]), rlax.LagrangePenalty(jnp.asarray(1.3), 0.01))])',
    "mpo_loss_per_dimension": 'rlax.mpo_loss(d["Q_tm1"], d["Q_t"], rlax.LagrangePenalty(jnp.asarray(0.7), 0.1), [(jnp.abs(d["Q_tm1"]), rlax.LagrangePenalty(jnp.asarray([1.3, 0.2, 0.5]), 0.01, True))], sample_axis=1)',
    "mpo_compute_weights_and_temperature_loss": 'rlax.mpo_compute_weights_and_temperature_loss(d["Q_t"], rlax.LagrangePenalty(jnp.asarray(0.7), 0.1), lambda x: jnp.clip(x, 1e-10), sample_axis=1)',
    "vmpo_loss": 'rlax.vmpo_loss(d["r_t"], d["v_t"], rlax.LagrangePenalty(jnp.asarray(0.5), 0.1), [(jnp.abs(d["v_tm1"]), rlax.LagrangePenalty(jnp.asarray(0.9), 0.01))])',
    "vmpo_compute_weights_and_temperature_loss": 'rlax.vmpo_compute_weights_and_temperature_loss(d["v_t"], (d["v_tm1"] > -0.5).astype(jnp.float32), d["discount_t"], rlax.LagrangePenalty(jnp.asarray(0.5), 0.1), lambda x: jnp.clip(x, 1e-10), 0.5)',
    "compute_parametric_kl_penalty_and_dual_loss": 'rlax.compute_parametric_kl_penalty_and_dual_loss([(jnp.abs(d["v_tm1"]), rlax.LagrangePenalty(jnp.asarray(0.9), 0.01)), (jnp.abs(d["v_t"]), rlax.LagrangePenalty(jnp.asarray(-0.3), 0.2))], lambda x: jnp.clip(x, 1e-10))',
    "art": 'rlax.art(rlax.PopArtState(jnp.zeros(3), jnp.ones(3), jnp.ones(3)), d["r_t"], d["A_t"], 0.1, 0.01, 100.0)',
    "pop": 'rlax.pop({"w": d["Q_tm1"][:2], "b": d["q_t"]}, rlax.PopArtState(jnp.zeros(3), jnp.ones(3), jnp.ones(3)), rlax.art(rlax.PopArtState(jnp.zeros(3), jnp.ones(3), jnp.ones(3)), d["r_t"], d["A_t"], 0.1, 0.01, 100.0))',
    "popart_update": 'rlax.popart(3, 0.2, 0.1, 10.0)[1]({"w": d["Q_tm1"][:2], "b": d["q_t"]}, rlax.popart(3, 0.2, 0.1, 10.0)[0](), d["r_t"], d["A_t"])',
    "normalize": 'rlax.normalize(rlax.PopArtState(d["q_t"], jnp.abs(d["q_tm1"]) + 0.5, jnp.ones(3)), d["r_t"], d["A_t"])',
    "unnormalize": 'rlax.unnormalize(rlax.PopArtState(d["q_t"], jnp.abs(d["q_tm1"]) + 0.5, jnp.ones(3)), d["r_t"], d["A_t"])',
    "unnormalize_linear": 'rlax.unnormalize_linear(rlax.PopArtState(d["q_t"], jnp.abs(d["q_tm1"]) + 0.5, jnp.ones(3)), d["Q_t"], d["A_t"])',
    "create_ema": 'rlax.create_ema(0.9)[1]({"a": d["v_tm1"], "b": d["Q_t"]}, rlax.create_ema(0.9)[1]({"a": d["v_t"], "b": d["Q_tm1"]}, rlax.create_ema(0.9)[0]({"a": d["v_t"], "b": d["Q_tm1"]}))[1])',
    "embed_oar": 'rlax.embed_oar(d["Q_tm1"], d["A_tm1"], d["r_t"], 3)',
    "fix_step_type_on_interruptions": 'rlax.fix_step_type_on_interruptions(d["step_type"])',
    "extract_subsequences": 'rlax.extract_subsequences(d["Q_tm1"], d["starts"], 2)',
    "pixel_control_rewards": 'rlax.pixel_control_rewards(d["obs"], 2)',
    "pixel_control_loss": 'rlax.pixel_control_loss(d["obs"], d["pixel_actions"], d["pixel_q"], 0.9, 2)',
    "pixel_control_loss_vector_discount": 'rlax.pixel_control_loss(d["obs"], d["pixel_actions"], d["pixel_q"], d["discount_t"][:2], 2)',
    "feature_control_rewards": 'rlax.feature_control_rewards(d["Q_tm1"], "potential", 0.9)',
    "feature_control_rewards_abs": 'rlax.feature_control_rewards(d["Q_tm1"])',
    "knn_query": 'rlax.knn_query(d["Q_tm1"], d["Q_t"][:2], 3)',
    "replace_masked": 'rlax.replace_masked(d["Q_tm1"], None, d["A_tm1"] == 0)',
    "one_hot": 'rlax.one_hot(d["A_t"], 4)',
    "batched_index": 'rlax.batched_index(d["Q_t"], d["A_t"], True)',
    "transpose_first_axis_to_last": 'rlax.transpose_first_axis_to_last({"a": d["pixel_q"]})',
    "grad_clip_gradient": 'jax.grad(lambda x: jnp.sum(rlax.clip_gradient(x, -0.5, 0.5) ** 2))(d["x"])',
    "grad_vtrace_no_stop": 'jax.grad(lambda v: jnp.sum(rlax.vtrace(v, d["v_t"], d["r_t"], d["discount_t"], d["rho_tm1"], stop_target_gradients=False) ** 2))(d["v_tm1"])',
    "grad_vtrace_stop": 'jax.grad(lambda v: jnp.sum(rlax.vtrace(v, v * 0.5, d["r_t"], d["discount_t"], d["rho_tm1"]) ** 2))(d["v_tm1"])',
    "grad_policy_gradient_loss": 'jax.grad(rlax.policy_gradient_loss)(d["logits_t"], d["A_t"], d["adv_t"], d["w_t"])',
    "grad_categorical_td_learning": 'jax.grad(rlax.categorical_td_learning, argnums=(1, 5))(d["atoms"], d["v_logits_tm1"], d["r"], d["discount"], d["atoms"], d["v_logits_t"])',
    "grad_quantile_q_learning": 'jax.grad(lambda q: rlax.quantile_q_learning(q, d["tau"], d["a_tm1"], d["r"], d["discount"], q, q, huber_param=1.0))(d["dist_q_tm1"])',
    "grad_clipped_surrogate": 'jax.grad(rlax.clipped_surrogate_pg_loss)(d["ratios"], d["adv_t"], 0.2)',
    "grad_mpo_alpha": 'jax.grad(lambda a: rlax.mpo_loss(d["Q_tm1"], d["Q_t"], rlax.LagrangePenalty(a, 0.1), [(jnp.abs(d["r_t"][:3]), rlax.LagrangePenalty(a * 2.0, 0.01))])[0].sum())(jnp.asarray(0.7))',
    "grad_lambda_returns_no_stop": 'jax.grad(lambda v: jnp.sum(rlax.lambda_returns(d["r_t"], d["discount_t"], v, d["lambda_"]) ** 2))(d["v_t"])',
    "grad_q_lambda_stop": 'jax.grad(lambda q: jnp.sum(rlax.q_lambda(q, d["A_tm1"], d["r_t"], d["discount_t"], q, d["lambda_"]) ** 2))(d["Q_tm1"])',
    "grad_retrace_no_stop": 'jax.grad(lambda q: jnp.sum(rlax.retrace(q, q, d["A_tm1"], d["A_t"], d["r_t"], d["discount_t"], d["pi_t"], rlax.batched_index(d["mu_t"], d["A_t"]), 0.9, stop_target_gradients=False) ** 2))(d["Q_t"])',
    "grad_double_q_learning": 'jax.grad(lambda q: rlax.double_q_learning(q, d["a_tm1"], d["r"], d["discount"], q, d["q_t_sel"], stop_target_gradients=False) ** 2)(d["q_tm1"])',
    "grad_huber_loss": 'jax.grad(lambda x: jnp.sum(rlax.huber_loss(x, 0.5)))(d["x"])',
}


def extra_inputs(seed):
    rng = np.random.RandomState(1000 + seed)
    return {
        "obs": rng.uniform(size=(3, 4, 4, 2)).astype(np.float32).tolist(),
        "pixel_actions": rng.randint(0, 3, size=(2,)).tolist(),
        "pixel_q": rng.normal(size=(3, 2, 2, 3)).astype(np.float32).tolist(),
        "step_type": [[0, 1, 0], [1, 1, 2], [0, 2, 0], [1, 0, 1]],
        "starts": [[0, 1], [2, 3], [1, 4]],
    }


def to_array(value):
    if isinstance(value, list):
        array = np.asarray(value)
        return jnp.asarray(array.astype(np.float32 if array.dtype.kind == "f" else np.int32))
    return value


def serialise(out):
    if hasattr(out, "_asdict"):
        return {k: serialise(v) for k, v in out._asdict().items()}
    if dataclasses.is_dataclass(out):
        return {f.name: serialise(getattr(out, f.name)) for f in dataclasses.fields(out)}
    if isinstance(out, dict):
        return {k: serialise(v) for k, v in out.items()}
    if isinstance(out, (tuple, list)):
        return [serialise(v) for v in out]
    return np.asarray(out).tolist()


def main():
    reference = json.loads((HERE / "rlax_reference.json").read_text())
    cases = []
    for case in reference["cases"]:
        inputs = dict(case["inputs"], **extra_inputs(case["seed"]))
        d = {k: to_array(v) for k, v in inputs.items()}
        scope = {"rlax": rlax, "jax": jax, "jnp": jnp, "np": np, "ns": types.SimpleNamespace,
                 "ms": multistep, "d": d}
        outputs = {}
        for name, call in CALLS.items():
            try:
                outputs[name] = serialise(eval(call, scope))
            except Exception as error:  # report every failing call, then stop
                print(f"{name}: {type(error).__name__}: {error}")
        if len(outputs) != len(CALLS):
            raise SystemExit("some calls failed")
        cases.append({"seed": case["seed"], "inputs": inputs, "outputs": outputs})
    about = (f"RLax {rlax.__version__} (jax {jax.__version__}) outputs, float32, of the calls in "
             f"'calls' on the inputs of each case; generated by make_rlax_extra.py.")
    out = {"_about": about, "calls": CALLS, "cases": cases}
    (HERE / "rlax_extra.json").write_text(json.dumps(out))


if __name__ == "__main__":
    main()
