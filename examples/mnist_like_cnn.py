"""Train a Flax-linen-style CNN (Conv, BatchNorm, Dropout, Dense) on the shipped 8x8 digits.

    python examples/mnist_like_cnn.py                      # ~98% test accuracy
    python examples/mnist_like_cnn.py --epochs 1           # a quick look
    python examples/mnist_like_cnn.py --plot cnn.png       # + loss/accuracy curves

This script is also the reference for how BatchNorm's running statistics flow through
jumba_nn, which is the same as in Flax linen:

* ``model.init(rngs, x)`` returns the variables ``{"params": ..., "batch_stats": ...}``.
  ``params`` are what the optimiser trains; ``batch_stats`` hold each BatchNorm's running
  ``mean`` and ``var``, which are *not* trained by gradients.
* In training, BatchNorm normalises with the statistics of the current batch and updates
  the running averages. Updating a variable is a side effect, so ``apply`` must be told
  which collections it may write: ``mutable=["batch_stats"]``. It then returns
  ``(output, {"batch_stats": new_stats})``, and the training step hands the new stats
  back to the caller together with the new params (a jitted function has no side effects).
* In evaluation, ``use_running_average=True`` makes BatchNorm use the running averages
  (so a prediction does not depend on the other examples of the batch); nothing is written,
  so ``apply`` needs no ``mutable`` and returns only the output.

Dropout draws its mask from the ``"dropout"`` rng stream: training passes
``rngs={"dropout": key}`` with a fresh key split from a ``jumba.random`` key at every step;
evaluation sets ``deterministic=True`` and needs no rng.

The test set is a fixed 20% of the 1,797 images (a permutation seeded independently of
``--seed``, so runs with different seeds are scored on the same images).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import jumba
import jumba.numpy as jnp
import jumba.random as jr
import jumba_nn as nn
import jumba_optim as optim

DATA = Path(__file__).resolve().parent / "data" / "digits.npz"
SPLIT_SEED = 1234  # fixed: the held-out images never change with --seed


class CNN(nn.Module):
    """(batch, 8, 8, 1) images in [0, 1] -> (batch, 10) logits."""

    dropout_rate: float = 0.25
    # Flax's default momentum 0.99 averages over ~100 steps; one epoch here is only ~22
    # steps, so 0.9 lets the running averages (used in evaluation) catch up within an epoch.
    bn_momentum: float = 0.9

    @nn.compact
    def __call__(self, x, train: bool):
        # `train` is a Python bool, so each mode traces its own program under jit.
        for features in (32, 64):
            x = nn.Conv(features, (3, 3), padding="SAME", use_bias=False)(x)  # BN adds bias
            # Training: batch statistics, and writes batch_stats (needs mutable=...).
            # Evaluation: reads batch_stats, writes nothing.
            x = nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum)(x)
            x = nn.relu(x)
            x = nn.max_pool(x, (2, 2), strides=(2, 2))  # 8x8 -> 4x4 -> 2x2
        x = x.reshape((x.shape[0], -1))
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)  # draws from "dropout"
        return nn.Dense(10)(x)


def load_digits():
    """The digits as float32 NHWC images in [0, 1] and int32 labels, split 80/20."""
    data = np.load(DATA)
    x = (data["images"].astype(np.float32) / 16.0)[..., None]
    y = data["labels"].astype(np.int32)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(y))
    n_test = len(y) // 5
    test, train = order[:n_test], order[n_test:]
    return (x[train], y[train]), (x[test], y[test])


def progress(done: int, total: int, text: str, width: int = 30) -> None:
    """A text progress bar (no dependency): redrawn in place on a terminal, a line per
    tenth of the run when the output is a file or a pipe."""
    filled = width * done // total
    line = f"  [{'#' * filled}{'.' * (width - filled)}] {done:4d}/{total} steps  {text}"
    if sys.stdout.isatty():
        print("\r" + line, end="\n" if done == total else "", flush=True)
    elif done == total or (done * 10) // total != ((done - 1) * 10) // total:
        print(line, flush=True)


def train(epochs: int, seed: int, batch_size: int = 64, lr: float = 3e-3):
    """Train the CNN; returns (test accuracy, per-step losses, per-epoch test accuracies)."""
    (x_train, y_train), (x_test, y_test) = load_digits()
    model = CNN()

    # init: "params" initialises the weights; BatchNorm creates batch_stats (mean 0, var 1)
    # and does not update them during init.
    key = jr.PRNGKey(seed)
    key, init_key = jr.split(key)
    variables = model.init(init_key, jnp.asarray(x_train[:2]), train=False)
    params, batch_stats = variables["params"], variables["batch_stats"]

    # Decay the learning rate over the run: the last epochs settle instead of bouncing.
    steps_per_epoch = len(y_train) // batch_size
    total = epochs * steps_per_epoch
    schedule = optim.cosine_decay_schedule(lr, max(total, 1), alpha=0.05)
    tx = optim.adam(schedule)
    opt_state = tx.init(params)

    def loss_fn(params, batch_stats, x, y, dropout_key):
        # Training mode: mutable=["batch_stats"] lets BatchNorm write its running averages;
        # apply returns them as the second output. rngs feeds Dropout's "dropout" stream.
        logits, updates = model.apply({"params": params, "batch_stats": batch_stats}, x,
                                      train=True, mutable=["batch_stats"],
                                      rngs={"dropout": dropout_key})
        loss = jnp.mean(optim.softmax_cross_entropy_with_integer_labels(logits, y))
        return loss, updates["batch_stats"]

    @jumba.jit
    def train_step(params, batch_stats, opt_state, x, y, dropout_key):
        # has_aux: the new batch_stats ride along with the loss; only params get gradients.
        (loss, batch_stats), grads = jumba.value_and_grad(loss_fn, has_aux=True)(
            params, batch_stats, x, y, dropout_key)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), batch_stats, opt_state, loss

    @jumba.jit
    def predict(params, batch_stats, x):
        # Evaluation mode: BatchNorm reads the running averages, Dropout is off; nothing is
        # mutable, so apply returns just the logits (and needs no rngs).
        logits = model.apply({"params": params, "batch_stats": batch_stats}, x, train=False)
        return jnp.argmax(logits, axis=-1)

    x_test_j = jnp.asarray(x_test)
    rng = np.random.default_rng(seed)
    losses, accuracies = [], []
    for epoch in range(epochs):
        perm = rng.permutation(len(y_train))
        for i in range(steps_per_epoch):
            idx = perm[i * batch_size:(i + 1) * batch_size]
            key, dropout_key = jr.split(key)  # a fresh dropout mask at every step
            params, batch_stats, opt_state, loss = train_step(
                params, batch_stats, opt_state, jnp.asarray(x_train[idx]),
                jnp.asarray(y_train[idx]), dropout_key)
            losses.append(float(loss))
            done = epoch * steps_per_epoch + i + 1
            progress(done, total, f"epoch {epoch + 1}/{epochs}  "
                     f"loss {np.mean(losses[-steps_per_epoch:]):.4f}"
                     + (f"  test acc {accuracies[-1]:.1%}" if accuracies else ""))
        predictions = np.asarray(predict(params, batch_stats, x_test_j))
        accuracies.append(float(np.mean(predictions == y_test)))
    # The running averages that evaluation used: they moved away from init's (0, 1).
    for name, stats in sorted(batch_stats.items()):
        mean, var = np.asarray(stats["mean"]), np.asarray(stats["var"])
        print(f"  batch_stats/{name}: {mean.size} channels, mean |mean| "
              f"{np.abs(mean).mean():.3f}, mean var {var.mean():.3f}")
    return accuracies[-1], losses, accuracies


def save_curves(losses, accuracies, path: Path) -> None:
    """Loss per step and test accuracy per epoch as a PNG (matplotlib is optional)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("  (matplotlib is not installed: no plot; pip install matplotlib)")
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(losses, lw=0.8)
    ax1.set(xlabel="step", ylabel="cross-entropy", yscale="log", title="training loss")
    ax2.plot(np.arange(1, len(accuracies) + 1), np.asarray(accuracies) * 100, marker="o")
    ax2.set(xlabel="epoch", ylabel="%", title="test accuracy (running averages)")
    ax2.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle("linen-style CNN on 8x8 digits (jumba_nn + jumba_optim.adam)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"  curves saved to {path}")


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path, default=None,
                        help="save loss/accuracy curves to this PNG (needs matplotlib)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")

    start = time.perf_counter()
    accuracy, losses, accuracies = train(args.epochs, args.seed)
    print(f"trained {args.epochs} epochs in {time.perf_counter() - start:.1f} s "
          "(compile included)")
    print(f"test accuracy: {accuracy:.1%}")
    if args.plot is not None:
        save_curves(losses, accuracies, args.plot)
    return accuracy


if __name__ == "__main__":
    main()
