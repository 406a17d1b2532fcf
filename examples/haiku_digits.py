"""Train a Haiku-style CNN (Conv2D, BatchNorm, dropout, Linear) on the 8x8 digits.

Shows `hk.transform_with_state` (BatchNorm's moving averages are *state*: `apply` returns
the new state in training, and evaluation with ``is_training=False`` uses the averages),
`hk.next_rng_key()` for dropout, and a jitted training step with jumba_optim's Adam.

    python examples/haiku_digits.py --epochs 8
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import jumba
import jumba.nn as jnn
import jumba.numpy as jnp
import jumba.random as jr
import jumba_nn.haiku as hk
import jumba_optim as optim

DATA = Path(__file__).resolve().parent / "data" / "digits.npz"


def forward(x, is_training: bool):
    """(batch, 8, 8, 1) images -> (batch, 10) logits."""
    x = hk.Conv2D(16, 3)(x)
    x = jnn.relu(hk.BatchNorm(True, True, decay_rate=0.9)(x, is_training))
    x = hk.MaxPool(2, 2, "VALID")(x)                          # 4x4
    x = jnn.relu(hk.Conv2D(32, 3)(x))
    x = hk.Flatten()(x)
    if is_training:
        x = hk.dropout(hk.next_rng_key(), 0.2, x)
    return hk.Linear(10)(x)


def load(seed: int = 0):
    data = np.load(DATA)
    x = (data["images"].astype(np.float32) / 16.0)[..., None]
    y = data["labels"].astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(y))
    x, y = x[order], y[order]
    n_test = len(y) // 5
    return (x[n_test:], y[n_test:]), (x[:n_test], y[:n_test])


def progress(done: int, total: int, text: str) -> None:
    width = 30
    filled = width * done // total
    sys.stdout.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {text}")
    sys.stdout.flush()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    args = parser.parse_args(argv)

    (x_train, y_train), (x_test, y_test) = load()
    model = hk.transform_with_state(forward)
    params, state = model.init(jr.PRNGKey(0), jnp.asarray(x_train[:2]), True)
    opt = optim.adam(args.lr)
    opt_state = opt.init(params)

    def loss_fn(params, state, key, x, y):
        logits, state = model.apply(params, state, key, x, True)
        loss = jnp.mean(optim.softmax_cross_entropy_with_integer_labels(logits, y))
        return loss, state

    @jumba.jit
    def step(params, state, opt_state, key, x, y):
        (loss, state), grads = jumba.value_and_grad(loss_fn, has_aux=True)(
            params, state, key, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), state, opt_state, loss

    @jumba.jit
    def predict(params, state, x):
        return jnp.argmax(model.apply(params, state, None, x, False)[0], axis=-1)

    key = jr.PRNGKey(1)
    steps = len(y_train) // args.batch
    start = time.perf_counter()
    for epoch in range(args.epochs):
        order = np.random.default_rng(epoch).permutation(len(y_train))
        losses = []
        for i in range(steps):
            idx = order[i * args.batch:(i + 1) * args.batch]
            key, sub = jr.split(key)
            params, state, opt_state, loss = step(params, state, opt_state, sub,
                                                  jnp.asarray(x_train[idx]),
                                                  jnp.asarray(y_train[idx]))
            losses.append(float(loss))
            progress(i + 1, steps, f"epoch {epoch + 1}/{args.epochs} loss {np.mean(losses):.4f}")
        acc = float(np.mean(np.asarray(predict(params, state, jnp.asarray(x_test))) == y_test))
        sys.stdout.write(f"  test accuracy {acc:.4f}\n")
    print(f"trained in {time.perf_counter() - start:.1f} s; parameters: "
          f"{sorted(params)}; state: {sorted(state)}")


if __name__ == "__main__":
    main()
