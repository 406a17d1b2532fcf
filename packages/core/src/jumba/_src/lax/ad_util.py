"""stop_gradient: the identity whose derivative is zero."""

from __future__ import annotations

from jumba._src.core import Primitive, get_aval
from jumba._src.interpreters import ad, batching
from jumba._src.tree_util import tree_map

stop_gradient_p = Primitive("stop_gradient")
stop_gradient_p.def_impl(lambda x: x)
stop_gradient_p.def_abstract_eval(lambda x: x)
stop_gradient_p.weak_type_rule = lambda w: w
batching.defvectorized(stop_gradient_p)
ad.primitive_jvps[stop_gradient_p] = lambda primals, tangents: (
    stop_gradient_p.bind(*primals), ad.Zero(ad.tangent_aval(get_aval(primals[0]))))
ad.zero_derivative.add(stop_gradient_p)


def stop_gradient(x):
    """The identity on a pytree, with zero derivative (as jax.lax.stop_gradient)."""
    return tree_map(stop_gradient_p.bind, x)
