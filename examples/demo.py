"""Jumba in three minutes: the seed programs, then a small model trained to a test accuracy.

    python examples/demo.py                 # everything (the README's first command runs this)
    python examples/demo.py --epochs 5      # a shorter training run
    python examples/demo.py --no-seeds      # only the training part

Part 1 runs examples/seed/{grad,jit,vmap,pmap}.py and shows what each prints. Part 2 trains
a two-layer MLP on the 8x8 handwritten digits shipped in examples/data/digits.npz, with
`jumba.jit(jumba.value_and_grad(...))` and `jumba_optim.adam`, shows a progress bar, prints the
test accuracy, and saves the loss curve as a PNG when matplotlib is installed. The time of
each part is reported at the end, compile time included.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEEDS = [("grad.py", []), ("jit.py", ["2000"]), ("vmap.py", []), ("pmap.py", [])]


def run_seeds() -> dict[str, float]:
    """Run each seed example as its own program (as a user would) and echo its output."""
    times = {}
    for name, args in SEEDS:
        path = HERE / "seed" / name
        if not path.exists():
            print(f"--- {name}: not present in this checkout, skipped")
            continue
        print(f"--- python examples/seed/{name} {' '.join(args)}".rstrip())
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(path), *args], capture_output=True,
                              text=True, env=os.environ.copy())
        times[f"seed {name}"] = time.perf_counter() - start
        print(proc.stdout.rstrip())
        if proc.returncode != 0:
            print(proc.stderr.rstrip(), file=sys.stderr)
            raise SystemExit(f"examples/seed/{name} failed (exit code {proc.returncode})")
    return times


def progress(done: int, total: int, loss: float, width: int = 30) -> None:
    """A text progress bar (no dependency): redrawn in place on a terminal, a line per tenth
    of the run when the output is a file or a pipe."""
    filled = int(width * done / total)
    line = f"  [{'#' * filled}{'.' * (width - filled)}] {done:4d}/{total} steps  loss {loss:.4f}"
    if sys.stdout.isatty():
        print("\r" + line, end="\n" if done == total else "", flush=True)
    elif done == total or done // max(total // 10, 1) != (done - 10) // max(total // 10, 1):
        print(line, flush=True)


def train_digits(epochs: int, batch_size: int, seed: int, plot: Path | None) -> float:
    """Train an MLP on the digits; returns the test accuracy."""
    import jumba as jb
    import jumba.numpy as jnp
    import jumba_optim as optim

    data = np.load(HERE / "data" / "digits.npz")
    images = data["images"].reshape(len(data["images"]), -1).astype(np.float32) / 16.0
    labels = data["labels"].astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(labels))
    split = int(0.8 * len(labels))
    train, test = order[:split], order[split:]
    x_train, y_train = images[train], labels[train]
    x_test, y_test = jnp.asarray(images[test]), jnp.asarray(labels[test])

    key = jb.random.key(seed)
    k1, k2 = jb.random.split(key)
    init = jb.nn.initializers.he_normal()
    params = {"w1": init(k1, (64, 128)), "b1": jnp.zeros(128),
              "w2": init(k2, (128, 10)), "b2": jnp.zeros(10)}

    def logits_fn(params, x):
        hidden = jb.nn.relu(x @ params["w1"] + params["b1"])
        return hidden @ params["w2"] + params["b2"]

    def loss_fn(params, x, y):
        logits = logits_fn(params, x)
        return optim.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    tx = optim.adam(3e-3)
    opt_state = tx.init(params)

    @jb.jit
    def step(params, opt_state, x, y):
        loss, grads = jb.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss

    rng = np.random.default_rng(seed + 1)
    steps_per_epoch = len(y_train) // batch_size
    total = epochs * steps_per_epoch
    losses = []
    for epoch in range(epochs):
        perm = rng.permutation(len(y_train))
        for i in range(steps_per_epoch):
            idx = perm[i * batch_size:(i + 1) * batch_size]
            params, opt_state, loss = step(params, opt_state, x_train[idx], y_train[idx])
            losses.append(float(loss))
            done = epoch * steps_per_epoch + i + 1
            if done % 10 == 0 or done == total:
                progress(done, total, float(np.mean(losses[-10:])))
    predictions = jnp.argmax(jb.jit(logits_fn)(params, x_test), axis=-1)
    accuracy = float(jnp.mean(predictions == y_test))
    print(f"  test accuracy: {accuracy:.1%} on {len(y_test)} held-out digits "
          f"(trained {total} steps of {batch_size})")
    if plot is not None:
        save_loss_curve(losses, plot)
    return accuracy


def save_loss_curve(losses: list[float], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("  (matplotlib is not installed: no loss curve; pip install matplotlib)")
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(losses, lw=0.8, alpha=0.5, label="per step")
    window = 20
    if len(losses) >= window:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window - 1, len(losses)), smooth, lw=2,
                label=f"mean of the last {window}")
    ax.set(xlabel="step", ylabel="cross-entropy", yscale="log",
           title="MLP on 8x8 digits (jumba + jumba_optim.adam)")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"  loss curve saved to {path.resolve()}")


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path, default=Path("demo_loss.png"),
                        help="where to save the loss curve (PNG)")
    parser.add_argument("--no-seeds", action="store_true", help="skip part 1")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    times = {}
    if not args.no_seeds:
        print("== Part 1: the seed programs")
        times.update(run_seeds())
    print("== Part 2: an MLP on the 8x8 digits, jitted, with jumba_optim.adam")
    t0 = time.perf_counter()
    accuracy = train_digits(args.epochs, args.batch_size, args.seed, args.plot)
    times["training (compile included)"] = time.perf_counter() - t0
    print("== Time per part")
    for name, seconds in times.items():
        print(f"  {name:<30s} {seconds:6.1f} s")
    print(f"  {'total':<30s} {time.perf_counter() - start:6.1f} s")
    return accuracy


if __name__ == "__main__":
    main()
