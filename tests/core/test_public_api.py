"""The public names the core promises (JAX's), so a JAX user's habits transfer."""

import pytest

import jumba as jb
import jumba.numpy as jnp
import jumba.tree
import jumba.tree_util

TRANSFORMS_AND_CORE = """
grad value_and_grad jvp vjp linearize linear_transpose jacfwd jacrev jacobian hessian vmap
jit make_jaxpr eval_shape ShapeDtypeStruct block_until_ready device_put device_get devices
local_devices device_count local_device_count disable_jit config Array
""".split()

NUMPY = """
array asarray zeros ones full empty arange linspace eye identity zeros_like ones_like full_like
empty_like
add subtract multiply divide true_divide floor_divide remainder mod power sqrt cbrt square
reciprocal abs absolute sign floor ceil trunc round rint exp exp2 expm1 log log2 log10 log1p
logaddexp sin cos tan arcsin arccos arctan arctan2 hypot sinh cosh tanh arcsinh arccosh
arctanh maximum minimum clip where isnan isinf isfinite logical_and logical_or logical_xor
logical_not bitwise_and bitwise_or bitwise_xor bitwise_not invert left_shift right_shift
equal not_equal less less_equal greater greater_equal
sum prod mean var std max min argmax argmin any all
reshape ravel transpose moveaxis swapaxes expand_dims squeeze concatenate stack hstack vstack
split broadcast_to broadcast_arrays tile repeat flip
dot matmul tensordot einsum outer
take take_along_axis nonzero
""".split()

TREE_UTIL = """
tree_map tree_leaves tree_flatten tree_unflatten tree_structure register_pytree_node
register_pytree_node_class register_dataclass tree_map_with_path keystr Partial
""".split()

TREE = "map leaves flatten unflatten structure reduce all transpose".split()


@pytest.mark.parametrize("module,names", [
    (jb, TRANSFORMS_AND_CORE), (jnp, NUMPY), (jumba.tree_util, TREE_UTIL),
    (jumba.tree, TREE),
])
def test_names_exist(module, names):
    missing = [n for n in names if not hasattr(module, n)]
    assert not missing, f"{module.__name__} lacks {missing}"


def test_logistic_example_from_the_readme():
    def logistic(x):
        return jnp.exp(x) / (jnp.exp(x) + 1)

    assert f"{jb.grad(logistic)(1.0):.8f}" == "0.19661194"


def test_repr_shows_dtype_and_weak_type_as_jax():
    assert repr(jb.grad(lambda x: x * x)(1.0)) == "Array(2., dtype=float32, weak_type=True)"
    assert repr(jnp.ones(2)) == "Array([1., 1.], dtype=float32)"
