"""Train a small MLP with jumba_optim: AdamW + warmup-cosine schedule + global-norm clipping,
the whole step under ``jumba.jit``.

The data is made here: 2-D points labelled by which of three interleaved spirals they lie
on. Run ``python examples/optim_mlp.py --steps 300``; the loss printed falls.
"""

from __future__ import annotations

import argparse

import numpy as np

import jumba
import jumba.numpy as jnp
import jumba_optim as optim


def make_data(n_per_class: int, seed: int = 0):
    """Three noisy spiral arms in the plane; labels 0, 1, 2."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(3):
        r = np.linspace(0.1, 1.0, n_per_class)
        t = np.linspace(c * 2.1, c * 2.1 + 3.0, n_per_class) + rng.normal(0, 0.15, n_per_class)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(n_per_class, c))
    return (jnp.asarray(np.concatenate(xs).astype(np.float32)),
            jnp.asarray(np.concatenate(ys).astype(np.int32)))


def init_params(sizes, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [
        {"w": jnp.asarray((rng.normal(size=(m, n)) * np.sqrt(2.0 / m)).astype(np.float32)),
         "b": jnp.zeros(n)}
        for m, n in zip(sizes[:-1], sizes[1:], strict=True)
    ]


def forward(params, x):
    for layer in params[:-1]:
        x = jnp.maximum(x @ layer["w"] + layer["b"], 0.0)
    return x @ params[-1]["w"] + params[-1]["b"]


def loss_fn(params, x, y):
    logits = forward(params, x)
    return jnp.mean(optim.softmax_cross_entropy_with_integer_labels(logits, y))


def main(steps: int = 300, hidden: int = 32, print_every: int = 50) -> list[float]:
    x, y = make_data(100)
    params = init_params([2, hidden, hidden, 3])
    schedule = optim.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=2e-2, warmup_steps=max(steps // 10, 1), decay_steps=steps,
        end_value=1e-4)
    tx = optim.chain(optim.clip_by_global_norm(1.0), optim.adamw(schedule, weight_decay=1e-4))
    state = tx.init(params)

    @jumba.jit
    def step(params, state, x, y):
        loss, grads = jumba.value_and_grad(loss_fn)(params, x, y)
        updates, state = tx.update(grads, state, params)
        return optim.apply_updates(params, updates), state, loss

    history = []
    for i in range(steps):
        params, state, loss = step(params, state, x, y)
        history.append(float(loss))
        if i % print_every == 0 or i == steps - 1:
            acc = float(jnp.mean(jnp.argmax(forward(params, x), axis=-1) == y))
            print(f"step {i:4d}  loss {float(loss):.4f}  accuracy {acc:.2f}")
    return history


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--print-every", type=int, default=50)
    args = parser.parse_args()
    main(args.steps, args.hidden, args.print_every)
