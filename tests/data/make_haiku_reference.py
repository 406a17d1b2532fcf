"""Writes haiku_reference.npz: dm-haiku's parameters, state and outputs for every case in
tests/nn/_haiku_cases.py (run with benchmarks/.venv/bin/python from the repo root)."""

import sys
from pathlib import Path

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "nn"))
import _haiku_cases as cases  # noqa: E402


def flat(prefix, tree):
    if isinstance(tree, dict):
        return {f"{prefix}|{m}/{n}": np.asarray(v) for m, d in tree.items() for n, v in d.items()}
    return {f"{prefix}|{i}": np.asarray(v) for i, v in enumerate(jax.tree_util.tree_leaves(tree))}


out = {}
for case in cases.CASES:
    params, state, y = cases.run(case, hk, jax.nn, jnp, jax.random.PRNGKey)
    out.update(flat(f"{case}|params", params))
    out.update(flat(f"{case}|state", state))
    out.update(flat(f"{case}|out", y))
np.savez_compressed(HERE / "haiku_reference.npz", **out)
print(f"{len(out)} arrays from {len(cases.CASES)} cases, haiku {hk.__version__}, "
      f"jax {jax.__version__}")
