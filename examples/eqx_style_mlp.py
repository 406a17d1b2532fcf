"""Fit an MLP to noisy sin(x), Equinox style: the model is a pytree, the training step is
``filter_value_and_grad`` + ``jumba_optim.adam`` under ``filter_jit``, and the trained
model is saved with ``tree_serialise_leaves`` and loaded back into a fresh model.

    python examples/eqx_style_mlp.py                 # 600 steps, final MSE < 0.01
    python examples/eqx_style_mlp.py --steps 50      # a quick run
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

import jumba
import jumba.numpy as jnp
import jumba.random as jr
import jumba_optim as optim
import jumba_pytree_models as eqx


def make_data(n: int = 256, noise: float = 0.05, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = np.linspace(-np.pi, np.pi, n, dtype=np.float32)[:, None]
    y = np.sin(x) + noise * rng.standard_normal(x.shape).astype(np.float32)
    return jnp.asarray(x), jnp.asarray(y)


def make_model(key, width: int = 32):
    # Two hidden layers of `width` with tanh; the model holds arrays (weights), static
    # metadata (sizes) and functions (the activations) side by side.
    return eqx.nn.MLP(1, 1, width_size=width, depth=2, activation=jnp.tanh, key=key)


def mse(model, x, y):
    pred = jumba.vmap(model)(x)
    return jnp.mean((pred - y) ** 2)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--print-every", type=int, default=250)
    ap.add_argument("--save", default=None, help="where to save the model (default: a "
                    "temporary file)")
    args = ap.parse_args(argv)

    x, y = make_data()
    model = make_model(jr.PRNGKey(0), args.width)
    tx = optim.adam(args.lr)
    opt_state = tx.init(eqx.filter(model, eqx.is_array))

    @eqx.filter_jit
    def step(model, opt_state, x, y):
        loss, grads = eqx.filter_value_and_grad(mse)(model, x, y)
        updates, opt_state = tx.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, updates), opt_state, loss

    for i in range(1, args.steps + 1):
        model, opt_state, loss = step(model, opt_state, x, y)
        if i % args.print_every == 0 or i == args.steps:
            print(f"step {i:5d}  mse {float(loss):.5f}")
    final = float(mse(model, x, y))
    print(f"final mse {final:.5f}")

    path = args.save or os.path.join(tempfile.mkdtemp(), "sin_mlp.eqx")
    eqx.tree_serialise_leaves(path, model)
    loaded = eqx.tree_deserialise_leaves(path, make_model(jr.PRNGKey(1), args.width))
    reloaded = float(mse(loaded, x, y))
    assert eqx.tree_equal(loaded, model), "the loaded model differs from the saved one"
    print(f"saved to {path}; reloaded model mse {reloaded:.5f}")
    return final


if __name__ == "__main__":
    main()
