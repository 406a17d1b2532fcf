"""Models as pytrees for Jumba, in the manner of Equinox.

    import jumba_pytree_models as eqx

Modules are dataclass pytrees (parameters are leaves, ``eqx.field(static=True)`` marks
metadata), so a model passes straight through ``grad``, ``jit`` and ``vmap``; the
``filter_*`` transformations trace arrays and keep everything else static. Built on
jumba's public API only.
"""

from jumba_pytree_models import nn
from jumba_pytree_models._src.custom import filter_custom_jvp, filter_custom_vjp
from jumba_pytree_models._src.filters import (
    Partial,
    apply_updates,
    combine,
    filter,  # noqa: A004
    if_array,
    is_array,
    is_array_like,
    is_inexact_array,
    is_inexact_array_like,
    partition,
    tree_at,
    tree_check,
    tree_equal,
    tree_flatten_one_level,
)
from jumba_pytree_models._src.jit import clear_caches, filter_jit
from jumba_pytree_models._src.misc import (
    Enumeration,
    EquinoxRuntimeError,
    EquinoxTracetimeError,
    branched_error_if,
    error_if,
    tree_inference,
)
from jumba_pytree_models._src.module import (
    ASSIGN_NON_FIELD_ERROR,
    FROZEN_ERROR,
    MISSING_FIELD_ERROR,
    AbstractClassVar,
    AbstractVar,
    Module,
    StrictConfig,
    field,
    module_update_wrapper,
    static_field,
)
from jumba_pytree_models._src.pretty import tree_pformat, tree_pprint
from jumba_pytree_models._src.serialisation import (
    default_deserialise_filter_spec,
    default_serialise_filter_spec,
    tree_deserialise_leaves,
    tree_serialise_leaves,
)
from jumba_pytree_models._src.transforms import (
    filter_checkpoint,
    filter_eval_shape,
    filter_grad,
    filter_hessian,
    filter_jacfwd,
    filter_jacrev,
    filter_jvp,
    filter_make_jaxpr,
    filter_pmap,
    filter_value_and_grad,
    filter_vjp,
    filter_vmap,
    nondifferentiable,
    nondifferentiable_backward,
)

__version__ = "0.1.0"

__all__ = [
    "ASSIGN_NON_FIELD_ERROR",
    "AbstractClassVar",
    "AbstractVar",
    "Enumeration",
    "EquinoxRuntimeError",
    "EquinoxTracetimeError",
    "FROZEN_ERROR",
    "MISSING_FIELD_ERROR",
    "Module",
    "Partial",
    "StrictConfig",
    "apply_updates",
    "branched_error_if",
    "clear_caches",
    "combine",
    "default_deserialise_filter_spec",
    "default_serialise_filter_spec",
    "error_if",
    "field",
    "filter",
    "filter_checkpoint",
    "filter_custom_jvp",
    "filter_custom_vjp",
    "filter_eval_shape",
    "filter_grad",
    "filter_hessian",
    "filter_jacfwd",
    "filter_jacrev",
    "filter_jit",
    "filter_jvp",
    "filter_make_jaxpr",
    "filter_pmap",
    "filter_value_and_grad",
    "filter_vjp",
    "filter_vmap",
    "if_array",
    "is_array",
    "is_array_like",
    "is_inexact_array",
    "is_inexact_array_like",
    "module_update_wrapper",
    "nn",
    "nondifferentiable",
    "nondifferentiable_backward",
    "partition",
    "static_field",
    "tree_at",
    "tree_check",
    "tree_deserialise_leaves",
    "tree_equal",
    "tree_flatten_one_level",
    "tree_inference",
    "tree_pformat",
    "tree_pprint",
    "tree_serialise_leaves",
]
