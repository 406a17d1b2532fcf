"""`hk.layer_stack`: the same layer applied `num_layers` times with stacked parameters."""

from __future__ import annotations

import functools

import jumba.lax as lax
import jumba.random as jr
from jumba_nn.haiku import _stateful, _transform
from jumba_nn.haiku._base import maybe_next_rng_key


def _keys(key, n):
    return None if key is None else jr.split(key, n)


def layer_stack(num_layers: int, with_per_layer_inputs: bool = False, unroll: int = 1,
                pass_reverse_to_layer_fn: bool = False, transparent: bool = False,
                transparency_map=None, name: str | None = None):
    """Decorates a layer function so it runs `num_layers` times over one `lax.scan`, each
    time with its own parameters (stacked along a new leading axis of size `num_layers`).

    ``f(x) -> x`` (or, with `with_per_layer_inputs`, ``f(x, *ys) -> (x, z)`` where each
    ``ys`` has a leading `num_layers` axis, returning ``(x, zs)``). The parameters live
    under ``__layer_stack_no_per_layer/...`` (or ``__layer_stack_with_per_layer/...``, or
    `name`), initialised layer by layer from keys split as Haiku does.

    Examples:
        >>> @hk.layer_stack(4)
        ... def block(x):
        ...     return x + jnn.relu(hk.Linear(x.shape[-1])(x))
    """
    if transparent or transparency_map is not None:
        raise NotImplementedError("hk.layer_stack(transparent=True) is not supported: its "
                                  "parameters live under the layer stack's own name.")
    if num_layers <= 0:
        raise ValueError(f"hk.layer_stack: num_layers must be positive, got {num_layers}.")

    def decorator(f):
        @functools.wraps(f)
        def wrapped(x, *args, reverse: bool = False):
            if args and not with_per_layer_inputs:
                raise ValueError("hk.layer_stack: extra arguments are per-layer inputs; "
                                 "pass with_per_layer_inputs=True.")
            kwargs = {"reverse": reverse} if pass_reverse_to_layer_fn else {}

            def body(c, *a):
                if with_per_layer_inputs:
                    return f(c, *a, **kwargs)
                return f(c, **kwargs), None

            inner = _transform.transform_with_state(body)

            def init_all(x0, key):
                def step(carry, a):
                    c, k = carry
                    init_key = apply_key = nxt = None
                    if k is not None:
                        ks = jr.split(k, 3)
                        init_key, nxt, apply_key = ks[0], ks[1], ks[2]
                    params, state = inner.init(init_key, c, *a)
                    (c, _), _ = inner.apply(params, state, apply_key, c, *a)
                    return (c, nxt), (params, state)

                _, (params, state) = lax.scan(step, (x0, key), args, length=num_layers)
                return params, state

            stack_name = name or ("__layer_stack_with_per_layer" if with_per_layer_inputs
                                  else "__layer_stack_no_per_layer")
            lifted, updater = _stateful.lift_with_state(init_all, name=stack_name)
            params, state = lifted(x, maybe_next_rng_key())
            keys = _keys(maybe_next_rng_key(), num_layers)

            def layer(c, scanned):
                p, s, k, a = scanned
                (c, z), s = inner.apply(p, s, k, c, *a)
                return c, (z, s)

            out, (zs, states) = lax.scan(layer, x, (params, state, keys, args),
                                         length=num_layers, unroll=unroll, reverse=reverse)
            updater.update(states)
            return (out, zs) if with_per_layer_inputs else out

        return wrapped

    return decorator
