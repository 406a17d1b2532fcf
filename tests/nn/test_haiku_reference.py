"""jumba_nn.haiku against dm-haiku: the same programs (tests/nn/_haiku_cases.py), the same
seed, the same parameter names, shapes, initial values, state and outputs
(tests/data/haiku_reference.npz, written by tests/data/make_haiku_reference.py)."""

from pathlib import Path

import numpy as np
import pytest

import jumba.nn as jnn
import jumba.numpy as jnp
import jumba.random as jr
import jumba_nn.haiku as hk
from jumba import tree_util

from . import _haiku_cases as cases

REF = np.load(Path(__file__).resolve().parents[1] / "data" / "haiku_reference.npz")
# Initial values follow from jumba.random reproducing JAX's stream; outputs go through
# float32 arithmetic in a different order (and XLA's own transcendental functions).
TOL = {"orthogonal": 1e-4, "spectral_norm": 1e-4}


def _flat(prefix, tree):
    if isinstance(tree, dict):
        return {f"{prefix}|{m}/{n}": np.asarray(v) for m, d in tree.items()
                for n, v in d.items()}
    return {f"{prefix}|{i}": np.asarray(v)
            for i, v in enumerate(tree_util.tree_leaves(tree))}


def _ref(prefix):
    return {k: REF[k] for k in REF.files if k.startswith(prefix + "|")}


@pytest.mark.parametrize("case", sorted(cases.CASES))
def test_matches_haiku(case):
    params, state, out = cases.run(case, hk, jnn, jnp, jr.PRNGKey)
    tol = TOL.get(case, 2e-5)
    for what, tree in (("params", params), ("state", state), ("out", out)):
        got, want = _flat(f"{case}|{what}", tree), _ref(f"{case}|{what}")
        assert sorted(got) == sorted(want), f"{case} {what}: names differ"
        for k in want:
            assert got[k].shape == want[k].shape, (k, got[k].shape, want[k].shape)
            np.testing.assert_allclose(got[k], want[k], rtol=tol, atol=tol, err_msg=k)
