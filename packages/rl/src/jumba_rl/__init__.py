"""Reinforcement-learning building blocks for Jumba.

Mirrors RLax: pure functions on one unbatched trajectory (returns, TD errors, policy-gradient
losses) that users ``vmap`` over a batch; plus environments whose ``reset``/``step`` are jittable.
Built on jumba's public API only.
"""

# The environments (jumba_rl.envs) and, at top level, the building blocks under RLax's public
# names (one module per family under _src/).
from jumba_rl import envs  # noqa: F401
from jumba_rl._src.base import AllSum, batched_index, lhs_broadcast, one_hot, replace_masked
from jumba_rl._src.distributional import (
    categorical_double_q_learning,
    categorical_l2_project,
    categorical_q_learning,
    categorical_td_learning,
    quantile_expected_sarsa,
    quantile_q_learning,
    quantile_regression_loss,
)
from jumba_rl._src.distributions import (
    ContinuousDistribution,
    DiscreteDistribution,
    categorical_cross_entropy,
    categorical_importance_sampling_ratios,
    categorical_kl_divergence,
    categorical_sample,
    clipped_entropy_softmax,
    epsilon_greedy,
    gaussian_diagonal,
    greedy,
    multivariate_normal_kl_divergence,
    softmax,
    squashed_gaussian,
)
from jumba_rl._src.exploration import (
    IntrinsicRewardState,
    KNNQueryResult,
    add_dirichlet_noise,
    add_gaussian_noise,
    add_ornstein_uhlenbeck_noise,
    episodic_memory_intrinsic_rewards,
    knn_query,
)
from jumba_rl._src.losses import (
    clip_gradient,
    expectile_loss,
    feature_control_rewards,
    huber_loss,
    l2_loss,
    likelihood,
    log_loss,
    pixel_control_loss,
    pixel_control_rewards,
)
from jumba_rl._src.misc import (
    EmaMoments,
    EmaState,
    PolicyTarget,
    constant_policy_targets,
    create_ema,
    embed_oar,
    extract_subsequences,
    fix_step_type_on_interruptions,
    sample_start_indices,
    sampled_policy_distillation_loss,
    zero_policy_targets,
)
from jumba_rl._src.mpo_ops import (
    LagrangePenalty,
    MpoOutputs,
    compute_parametric_kl_penalty_and_dual_loss,
    mpo_compute_weights_and_temperature_loss,
    mpo_loss,
    vmpo_compute_weights_and_temperature_loss,
    vmpo_loss,
)
from jumba_rl._src.multistep import (
    discounted_returns,
    general_off_policy_returns_from_action_values,
    general_off_policy_returns_from_q_and_v,
    lambda_returns,
    n_step_bootstrapped_returns,
    truncated_generalized_advantage_estimation,
)
from jumba_rl._src.nonlinear_bellman import (
    transformed_general_off_policy_returns_from_action_values,
    transformed_lambda_returns,
    transformed_n_step_q_learning,
    transformed_n_step_returns,
    transformed_q_lambda,
    transformed_retrace,
)
from jumba_rl._src.policy_gradients import (
    clipped_surrogate_pg_loss,
    dpg_loss,
    entropy_loss,
    policy_gradient_loss,
    qpg_loss,
    rm_loss,
    rpg_loss,
)
from jumba_rl._src.pop_art import (
    PopArtOutput,
    PopArtState,
    art,
    normalize,
    pop,
    popart,
    unnormalize,
    unnormalize_linear,
)
from jumba_rl._src.transforms import (
    DISCOUNT_TRANSFORM_PAIR,
    HYPERBOLIC_SIN_PAIR,
    IDENTITY_PAIR,
    SIGNED_HYPERBOLIC_PAIR,
    SIGNED_LOGP1_PAIR,
    TxPair,
    compose_tx,
    identity,
    logit,
    muzero_pair,
    power,
    sigmoid,
    signed_expm1,
    signed_hyperbolic,
    signed_logp1,
    signed_parabolic,
    transform_from_2hot,
    transform_to_2hot,
    twohot_pair,
    unbiased_transform_pair,
)
from jumba_rl._src.tree_util import (
    conditional_update,
    periodic_update,
    transpose_first_axis_to_last,
    transpose_last_axis_to_first,
    tree_fn,
    tree_map_zipped,
    tree_replace_masked,
    tree_select,
    tree_split_key,
    tree_split_leaves,
)
from jumba_rl._src.value_learning import (
    double_q_learning,
    expected_sarsa,
    persistent_q_learning,
    q_lambda,
    q_learning,
    qv_learning,
    qv_max,
    retrace,
    retrace_continuous,
    sarsa,
    sarsa_lambda,
    td_lambda,
    td_learning,
)
from jumba_rl._src.vtrace import (
    VTraceOutput,
    leaky_vtrace,
    leaky_vtrace_td_error_and_advantage,
    vtrace,
    vtrace_td_error_and_advantage,
)

__version__ = "0.1.0"
