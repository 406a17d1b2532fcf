"""Shared test fixtures: the reference problems and how each reference optimizer was built.

The constructors follow ``tests/data/optax_reference.json``; where its ``constructor`` strings
are garbled (they name a neighbour), the hyperparameters below are the ones that reproduce
its trajectories (Optax's defaults with the learning rate shown).
"""

import json
from pathlib import Path

import jumba
import jumba.numpy as jnp
import jumba_optim as optim

DATA = Path(__file__).resolve().parents[1] / "data" / "optax_reference.json"
REFERENCE = json.loads(DATA.read_text())

_W = [1.0, 10.0, 0.1]


def quad(p):
    return 0.5 * jnp.sum(jnp.asarray(_W) * p["x"] ** 2) + 0.1 * jnp.sum(p["y"] ** 2)


def rosen(p):
    x = p["x"]
    # y is a parameter with zero gradient, as in the reference.
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2 + 0.0 * jnp.sum(p["y"])


PROBLEMS = {"quad": quad, "rosen": rosen}


def start(problem):
    x = [1.0, -2.0, 3.0] if problem == "quad" else [-1.2, 1.0]
    return {"x": jnp.asarray(x), "y": jnp.asarray([0.5, -0.5])}


OPTIMIZERS = {
    "sgd": lambda: optim.sgd(0.01),
    "sgd_momentum": lambda: optim.sgd(0.01, momentum=0.9),
    "sgd_nesterov": lambda: optim.sgd(0.01, momentum=0.9, nesterov=True),
    "adam": lambda: optim.adam(0.01),
    "adamw": lambda: optim.adamw(0.01, weight_decay=0.1),
    "adamax": lambda: optim.adamax(0.01),
    "adamaxw": lambda: optim.adamaxw(0.01),
    "nadam": lambda: optim.nadam(0.01),
    "nadamw": lambda: optim.nadamw(0.01),
    "radam": lambda: optim.radam(0.01),
    "amsgrad": lambda: optim.amsgrad(0.01),
    "adabelief": lambda: optim.adabelief(0.01),
    "adagrad": lambda: optim.adagrad(0.1),
    "adadelta": lambda: optim.adadelta(),
    "adafactor": lambda: optim.adafactor(0.01),
    "adan": lambda: optim.adan(0.01),
    "lamb": lambda: optim.lamb(0.01),
    "lars": lambda: optim.lars(0.01),
    "lion": lambda: optim.lion(0.001),
    "novograd": lambda: optim.novograd(0.01),
    "rmsprop": lambda: optim.rmsprop(0.01),
    "rmsprop_centered_momentum": lambda: optim.rmsprop(0.01, centered=True, momentum=0.9),
    "yogi": lambda: optim.yogi(0.01),
    "fromage": lambda: optim.fromage(0.01),
    "sm3": lambda: optim.sm3(0.1),
    "sign_sgd": lambda: optim.sign_sgd(0.01),
    "signum": lambda: optim.signum(0.01),
    "rprop": lambda: optim.rprop(0.01),
    "optimistic_gradient_descent": lambda: optim.optimistic_gradient_descent(0.01),
    "chain_clip_adam": lambda: optim.chain(optim.clip_by_global_norm(1.0), optim.adam(0.01)),
    "adamw_cosine": lambda: optim.adamw(optim.warmup_cosine_decay_schedule(0.0, 0.01, 5, 20)),
}


def run(tx, f, params, steps):
    """Params after each of `steps` eager steps."""
    state = tx.init(params)
    out = []
    for _ in range(steps):
        grads = jumba.grad(f)(params)
        updates, state = tx.update(grads, state, params)
        params = optim.apply_updates(params, updates)
        out.append(params)
    return out
