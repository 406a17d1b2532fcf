"""A small causal transformer language model over characters, in jumba_nn's linen style.

Trains on twelve Shakespeare sonnets (examples/data/sonnets.txt, public domain) with
jumba_optim.adam, printing a falling loss and a progress bar, then samples a passage.

    python examples/char_transformer.py              # default run, under ~2 minutes on 2 cores
    python examples/char_transformer.py --steps 50   # quicker

The model: token embedding + learned positions, pre-LayerNorm blocks of causal
``SelfAttention`` (mask from ``nn.make_causal_mask``) and a GELU MLP, a final LayerNorm, and
logits tied to the embedding (``Embed.attend``).
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

TEXT = Path(__file__).resolve().parent / "data" / "sonnets.txt"


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    num_heads: int
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x, mask, train: bool):
        d = x.shape[-1]
        h = nn.SelfAttention(num_heads=self.num_heads, dropout_rate=self.dropout,
                             deterministic=not train)(nn.LayerNorm()(x), mask=mask)
        x = x + h
        h = nn.Dense(4 * d)(nn.LayerNorm()(x))
        h = nn.Dense(d)(nn.gelu(h))
        return x + nn.Dropout(self.dropout, deterministic=not train)(h)


class CharTransformer(nn.Module):
    vocab_size: int
    block_size: int
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    dropout: float = 0.0

    @nn.compact
    def __call__(self, tokens, train: bool = False):
        length = tokens.shape[-1]
        embed = nn.Embed(self.vocab_size, self.d_model)
        pos = self.param("pos_embedding", nn.initializers.normal(0.02),
                         (self.block_size, self.d_model))
        x = embed(tokens) + pos[:length]
        mask = nn.make_causal_mask(tokens)          # (batch, 1, length, length)
        for _ in range(self.num_layers):
            x = Block(self.num_heads, self.dropout)(x, mask, train)
        return embed.attend(nn.LayerNorm()(x))       # logits tied to the embedding


def progress(i: int, total: int, loss: float, width: int = 24) -> str:
    done = int(width * (i + 1) / total)
    return f"\r[{'#' * done}{'.' * (width - done)}] {i + 1:4d}/{total}  loss {loss:.3f}"


def sample(model, params, prompt_ids, length: int, block_size: int, key, temperature=0.8):
    """Generates ``length`` characters after the prompt (the window slides past block_size)."""

    @jumba.jit
    def next_logits(p, window):
        return model.apply({"params": p}, window[None])[0, -1]

    ids = list(prompt_ids)
    for _ in range(length):
        window = ids[-block_size:]
        window = [0] * (block_size - len(window)) + window if len(window) < block_size \
            else window
        # Left padding keeps one input shape (one trace); position i still predicts i + 1.
        logits = next_logits(params, jnp.asarray(np.array(window, np.int32)))
        key, sub = jr.split(key)
        ids.append(int(jr.categorical(sub, logits / temperature)))
    return ids


def main(steps: int = 300, batch: int = 32, block_size: int = 48, d_model: int = 64,
         num_layers: int = 2, lr: float = 3e-3, print_every: int = 50, sample_len: int = 200,
         seed: int = 0) -> list[float]:
    text = TEXT.read_text()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = np.array([stoi[c] for c in text], np.int32)
    print(f"{len(text)} characters, vocabulary {len(chars)}; {steps} steps of {batch} "
          f"windows of {block_size}")

    model = CharTransformer(len(chars), block_size, d_model=d_model, num_layers=num_layers)
    key = jr.key(seed)
    params = model.init(key, jnp.zeros((1, block_size), jnp.int32))["params"]
    n_params = sum(int(np.prod(p.shape)) for p in jumba.tree_util.tree_leaves(params))
    print(f"{n_params:,} parameters")
    tx = optim.adam(lr)
    state = tx.init(params)

    def loss_fn(p, x, y):
        logits = model.apply({"params": p}, x, train=True)
        return jnp.mean(optim.softmax_cross_entropy_with_integer_labels(logits, y))

    @jumba.jit
    def step(p, s, x, y):
        loss, grads = jumba.value_and_grad(loss_fn)(p, x, y)
        updates, s = tx.update(grads, s, p)
        return optim.apply_updates(p, updates), s, loss

    rng = np.random.default_rng(seed)
    history = []
    start = time.perf_counter()
    for i in range(steps):
        idx = rng.integers(0, len(data) - block_size - 1, size=batch)
        x = np.stack([data[j:j + block_size] for j in idx])
        y = np.stack([data[j + 1:j + block_size + 1] for j in idx])
        params, state, loss = step(params, state, jnp.asarray(x), jnp.asarray(y))
        history.append(float(loss))
        sys.stdout.write(progress(i, steps, history[-1]))
        if i % print_every == 0 or i == steps - 1:
            sys.stdout.write(f"\nstep {i:4d}  loss {history[-1]:.4f}  "
                             f"({time.perf_counter() - start:.1f} s)\n")
        sys.stdout.flush()

    prompt = "Shall I compare thee"
    ids = sample(model, params, [stoi[c] for c in prompt], sample_len, block_size,
                 jr.key(seed + 1))
    print("\nsample:\n" + "".join(chars[i] for i in ids))
    return history


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--block-size", type=int, default=48)
    parser.add_argument("--d-model", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--print-every", type=int, default=50)
    parser.add_argument("--sample-len", type=int, default=200)
    args = parser.parse_args()
    main(args.steps, args.batch, args.block_size, args.d_model, args.layers, args.lr,
         args.print_every, args.sample_len)
