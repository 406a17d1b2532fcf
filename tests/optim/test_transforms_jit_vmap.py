"""Every optimizer also runs inside ``jumba.jit`` and under ``jumba.vmap`` over a batch of
parameter sets, agreeing with the eager step."""

import numpy as np
import pytest

import jumba
import jumba.numpy as jnp
import jumba_optim as optim

from ._cases import OPTIMIZERS, quad, run, start

EXTRA = {
    "optimistic_adam": lambda: optim.optimistic_adam(0.01),
    "optimistic_adam_v2": lambda: optim.optimistic_adam_v2(0.01),
    "amsgrad_flatten": lambda: optim.flatten(optim.amsgrad(0.01)),
    "adagrad_zero_init": lambda: optim.adagrad(0.1, initial_accumulator_value=0.0),
    "adafactor_momentum_wd": lambda: optim.adafactor(0.01, momentum=0.9, weight_decay_rate=0.1),
    "adan_wd": lambda: optim.adan(0.01, weight_decay=0.1),
    "rmsprop_bias_correction": lambda: optim.rmsprop(0.01, bias_correction=True,
                                                     eps_in_sqrt=False),
    "radam_nesterov": lambda: optim.radam(0.01, nesterov=True),
    "scale_by_dog": lambda: optim.chain(optim.scale_by_distance_over_gradients(),
                                        optim.scale(-1.0)),
    "normalized": lambda: optim.chain(optim.normalize_by_update_norm(), optim.sgd(0.1)),
}
ALL = {**OPTIMIZERS, **EXTRA}
STEPS = 3


def _step(tx):
    def step(params, state):
        grads = jumba.grad(quad)(params)
        updates, state = tx.update(grads, state, params)
        return optim.apply_updates(params, updates), state

    return step


def _close(a, b, rtol=2e-5, atol=1e-6):
    for x, y in zip(jumba.tree_util.tree_leaves(a), jumba.tree_util.tree_leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", sorted(ALL))
def test_jit_matches_eager(name):
    tx = ALL[name]()
    params = start("quad")
    want = run(tx, quad, params, STEPS)[-1]
    step = jumba.jit(_step(tx))
    state = tx.init(params)
    for _ in range(STEPS):
        params, state = step(params, state)
    _close(params, want)


@pytest.mark.parametrize("name", sorted(ALL))
def test_vmap_over_parameter_sets_matches_loop(name):
    tx = ALL[name]()
    base = start("quad")
    scales = [1.0, -0.5, 2.0]
    sets = [jumba.tree_util.tree_map(lambda x, s=s: x * s, base) for s in scales]
    want = [run(tx, quad, p, STEPS)[-1] for p in sets]
    batched = jumba.tree_util.tree_map(lambda *xs: jnp.stack(xs), *sets)
    state = jumba.vmap(tx.init)(batched)
    step = jumba.vmap(_step(tx))
    for _ in range(STEPS):
        batched, state = step(batched, state)
    for i, w in enumerate(want):
        _close(jumba.tree_util.tree_map(lambda x, i=i: x[i], batched), w)
