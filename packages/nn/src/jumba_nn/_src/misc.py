"""Small pieces of the linen surface: PReLU, BatchApply, method interception, no-op naming."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
from collections.abc import Callable
from typing import Any

import jumba.numpy as jnp
from jumba.nn import initializers
from jumba.tree_util import tree_leaves, tree_map
from jumba_nn._src.module import Module, compact


class PReLU(Module):
    """Parametric ReLU: ``x`` if ``x >= 0`` else ``negative_slope * x``, with a learned scalar
    ``negative_slope`` (initialised to ``negative_slope_init``, default 0.01)."""

    param_dtype: Any = jnp.float32
    negative_slope_init: float = 0.01

    @compact
    def __call__(self, inputs):
        slope = self.param("negative_slope", initializers.constant(self.negative_slope_init),
                           (), self.param_dtype)
        return jnp.where(inputs >= 0, inputs, jnp.asarray(slope, inputs.dtype) * inputs)


class BatchApply:
    """Merges the leading ``num_dims`` axes of every input, calls ``f``, splits them again.

    ``BatchApply(nn.Dense(3))(x)`` with ``x`` ``(T, B, F)`` calls the Dense on ``(T*B, F)``.
    """

    def __init__(self, f: Callable, num_dims: int = 2):
        self.f, self.num_dims = f, num_dims

    def __call__(self, *args, **kwargs):
        leaves = [x for x in tree_leaves((args, kwargs)) if hasattr(x, "shape")]
        if not leaves:
            raise ValueError("BatchApply needs at least one array argument.")
        lead = tuple(leaves[0].shape[:self.num_dims])
        flat = math.prod(lead)

        def merge(x):
            return jnp.reshape(x, (flat,) + tuple(x.shape[self.num_dims:])) \
                if hasattr(x, "shape") else x

        out = self.f(*tree_map(merge, args), **tree_map(merge, kwargs))
        return tree_map(lambda y: jnp.reshape(y, lead + tuple(y.shape[1:])), out)


@dataclasses.dataclass(frozen=True)
class InterceptorContext:
    """What an interceptor sees: the module, the method name and the original method."""

    module: Module
    method_name: str
    orig_method: Callable


class _Interceptors(threading.local):
    def __init__(self):
        self.stack: list[Callable] = []


_interceptors = _Interceptors()


@contextlib.contextmanager
def intercept_methods(interceptor: Callable):
    """Within the context, module method calls go through
    ``interceptor(next_fun, args, kwargs, context)``, which must call ``next_fun(*args,
    **kwargs)`` to run the method (or return something else)."""
    _interceptors.stack.append(interceptor)
    try:
        yield
    finally:
        _interceptors.stack.pop()


def run_intercepted(module, fun, name, args, kwargs):
    """Calls ``fun`` through the active interceptors (innermost last)."""
    call = lambda *a, **k: fun(module, *a, **k)
    for icpt in reversed(_interceptors.stack):
        context = InterceptorContext(module, name, fun)
        call = (lambda nxt, ic, ctx: lambda *a, **k: ic(nxt, a, k, ctx))(call, icpt, context)
    return call(*args, **kwargs)


def has_interceptors() -> bool:
    return bool(_interceptors.stack)


_NAMED_CALL = [False]


def enable_named_call():
    """Accepted for compatibility; jumba's traces carry no call names."""
    _NAMED_CALL[0] = True


def disable_named_call():
    """Accepted for compatibility; jumba's traces carry no call names."""
    _NAMED_CALL[0] = False


@contextlib.contextmanager
def override_named_call(enable: bool = True):
    """Context manager form of ``enable_named_call``/``disable_named_call``."""
    old = _NAMED_CALL[0]
    _NAMED_CALL[0] = enable
    try:
        yield
    finally:
        _NAMED_CALL[0] = old


def unbox(tree):
    """Returns ``tree``: jumba_nn stores no partitioning metadata boxes."""
    return tree
