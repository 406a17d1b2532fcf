"""Shared pieces of the RL examples: an MLP on dict params, a progress bar, a learning-curve plot.

The networks are plain jumba functions over ``{"w0": ..., "b0": ..., ...}`` dicts: nothing
here needs a neural-network library.
"""

from __future__ import annotations

import sys
import time

import numpy as np

import jumba
import jumba.numpy as jnp
import jumba.random as jr


# --------------------------------------------------------------------------------------
# Networks
# --------------------------------------------------------------------------------------
def mlp_init(key, sizes, scales=None):
    """Orthogonal weights (gain ``scales[i]``, default sqrt 2) and zero biases for an MLP."""
    scales = scales or [np.sqrt(2.0)] * (len(sizes) - 1)
    keys = jr.split(key, len(sizes) - 1)
    params = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        params[f"w{i}"] = jumba.nn.initializers.orthogonal(scales[i])(keys[i], (n_in, n_out))
        params[f"b{i}"] = jnp.zeros((n_out,), jnp.float32)
    return params


def mlp_apply(params, x, activation=jnp.tanh):
    """The MLP: ``activation`` between layers, a linear last layer."""
    n = len(params) // 2
    for i in range(n):
        x = x @ params[f"w{i}"] + params[f"b{i}"]
        if i < n - 1:
            x = activation(x)
    return x


# --------------------------------------------------------------------------------------
# Logging
# --------------------------------------------------------------------------------------
class Progress:
    """A progress bar over environment steps showing the recent mean episode return.

    Uses ``tqdm`` when it is installed (optional), else a one-line text bar on stderr.
    """

    def __init__(self, total: int, desc: str, enabled: bool = True):
        self.total, self.desc, self.enabled = total, desc, enabled
        self.n, self.start, self._last = 0, time.perf_counter(), 0.0
        self._bar = None
        if enabled:
            try:
                from tqdm import tqdm
                self._bar = tqdm(total=total, desc=desc, unit="step", unit_scale=True,
                                 dynamic_ncols=True)
            except ImportError:
                pass

    def update(self, steps: int, mean_return: float | None):
        self.n += steps
        if not self.enabled:
            return
        text = "return n/a" if mean_return is None else f"return {mean_return:7.1f}"
        if self._bar is not None:
            self._bar.update(steps)
            self._bar.set_postfix_str(text, refresh=False)
            return
        now = time.perf_counter()
        if now - self._last < 0.5 and self.n < self.total:
            return
        self._last = now
        frac = min(1.0, self.n / self.total)
        bar = "#" * int(30 * frac) + "-" * (30 - int(30 * frac))
        sys.stderr.write(f"\r{self.desc} [{bar}] {self.n:>9,}/{self.total:,} {text} "
                         f"{now - self.start:6.1f}s")
        sys.stderr.flush()

    def note(self, text: str):
        """A line above the bar (e.g. an evaluation result)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            sys.stderr.write("\r" + text.ljust(100) + "\n")

    def close(self):
        if self._bar is not None:
            self._bar.close()
        elif self.enabled:
            sys.stderr.write("\n")


class ReturnLog:
    """Completed episodes' (env step, return), and a running mean of the last ``window``."""

    def __init__(self, window: int = 20):
        self.steps: list[int] = []
        self.returns: list[float] = []
        self.window = window

    def add(self, step: int, returns):
        for r in np.atleast_1d(np.asarray(returns, np.float64)):
            self.steps.append(int(step))
            self.returns.append(float(r))

    def add_masked(self, step: int, returns, dones):
        """Episodes that ended in a batch of steps: ``returns[dones]``."""
        self.add(step, np.asarray(returns)[np.asarray(dones, bool)])

    def recent_mean(self) -> float | None:
        return float(np.mean(self.returns[-self.window:])) if self.returns else None


def plot_curve(log: ReturnLog, path: str, title: str):
    """Save the learning curve (episode return against env steps) to a PNG (needs matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("--plot needs matplotlib (pip install matplotlib); no plot written.",
              file=sys.stderr)
        return False
    fig, ax = plt.subplots(figsize=(6, 3.5))
    steps, rets = np.asarray(log.steps), np.asarray(log.returns)
    ax.plot(steps, rets, ".", ms=2, alpha=0.3, label="episode")
    if len(rets) >= 2:
        w = min(log.window, len(rets))
        smooth = np.convolve(rets, np.ones(w) / w, mode="valid")
        ax.plot(steps[w - 1:], smooth, label=f"mean of {w}")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def evaluate(env, policy_fn, params, key, num_envs: int = 32):
    """Mean return of one full episode in each of ``num_envs`` copies (jitted, vmapped).

    ``policy_fn(params, obs) -> action`` for one observation. Episodes end at termination
    or at the environment's time limit; the first episode of each copy is counted, and the
    loop stops when every copy has finished one.
    """
    key_ = (env, policy_fn, num_envs)
    if key_ not in _EVALUATORS:  # one trace per agent: later evaluations reuse it
        _EVALUATORS[key_] = jumba.jit(_evaluator(env, policy_fn, num_envs))
    returns = _EVALUATORS[key_](params, key)
    return float(np.mean(np.asarray(returns)))


_EVALUATORS: dict = {}


def _evaluator(env, policy_fn, num_envs):
    limit = env.max_episode_steps or 1000
    policy = jumba.vmap(policy_fn, in_axes=(None, 0))
    step = jumba.vmap(env.step)

    def run(params, key):
        state, obs = jumba.vmap(env.reset)(jr.split(key, num_envs))

        def body(carry):
            t, state, obs, ret, alive = carry
            state, obs, reward, done, _ = step(state, policy(params, obs))
            return t + 1, state, obs, ret + jnp.where(alive, reward, 0.0), alive & ~done

        def cond(carry):
            return (carry[0] < limit) & jnp.any(carry[4])

        carry = (jnp.zeros((), jnp.int32), state, obs, jnp.zeros((num_envs,), jnp.float32),
                 jnp.ones((num_envs,), bool))
        return jumba.lax.while_loop(cond, body, carry)[3]

    return run
