"""Jumba: JAX's composable function transformations on a NumPy/numba core.

    import jumba as jb
    import jumba.numpy as jnp

    jb.grad(lambda x: jnp.sin(x) ** 2)(1.0)
"""

import warnings as _warnings

# Floating-point events in NumPy implementations (log(0) = -inf, overflow = inf) are
# results, not warnings, as in JAX.
_warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"jumba\._src(\..*)?$")

# Order matters: jumba.numpy installs the array operators that the later modules use.
from jumba import debug, lax, numpy, tree, tree_util  # noqa: E402, I001
from jumba import random  # noqa: E402
from jumba import nn  # noqa: E402
from jumba import scipy  # noqa: E402
from jumba import dtypes  # noqa: E402
from jumba._src.api import (  # noqa: E402
    block_until_ready,
    device_get,
    eval_shape,
    grad,
    hessian,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    linear_transpose,
    linearize,
    make_jaxpr,
    value_and_grad,
    vjp,
    vmap,
)
from jumba._src.checkpoint import checkpoint, checkpoint_policies, remat  # noqa: E402
from jumba._src.config import (  # noqa: E402
    config,  # noqa: E402
    config_context,
    debug_nans,
    disable_jit,
    enable_x64,
)
from jumba._src.core import (  # noqa: E402  # noqa: E402
    Array,
    ConcretizationTypeError,
    ShapeDtypeStruct,
    TracerBoolConversionError,
    TracerIntegerConversionError,
    UnexpectedTracerError,
)
from jumba._src.environment_info import print_environment_info  # noqa: E402
from jumba._src.custom_derivatives import (  # noqa: E402
    closure_convert,
    custom_gradient,
    custom_jvp,
    custom_vjp,
)
from jumba._src.jit import clear_caches, jit  # noqa: E402
from jumba._src.lax import lowering_rules as _lowering_rules  # noqa: E402, F401
from jumba._src.numpy import array_methods as _array_methods  # noqa: E402, F401
from jumba._src.runtime.devices import (  # noqa: E402
    default_device,
    device_count,
    devices,
    local_device_count,
    local_devices,
    process_count,
    process_index,
)
from jumba._src.pmap import (  # noqa: E402
    device_put,
    device_put_replicated,
    device_put_sharded,
    pmap,
)
from jumba import distributed  # noqa: E402

__version__ = "0.1.0"


def typeof(x):
    """The abstract value (shape, dtype, weak type) of `x`."""
    from jumba._src.core import get_aval

    return get_aval(x)


def __getattr__(name: str):
    # Public submodules loaded on first use (`jumba.dlpack.from_dlpack(...)` works after
    # `import jumba`), so that `import jumba` does not pay for zipfile and friends.
    if name in ("checkpoint_io", "dlpack"):
        import importlib

        return importlib.import_module(f"jumba.{name}")
    raise AttributeError(f"module 'jumba' has no attribute {name!r}")
