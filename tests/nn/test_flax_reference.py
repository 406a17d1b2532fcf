"""jumba_nn's linen layers against Flax: same variables and inputs, same outputs.

The reference (tests/data/flax_linen_reference.npz) was written by Flax 0.12 with
tests/data/make_flax_linen_reference.py. Each case also checks that jumba_nn's ``init`` builds
a variable tree with exactly Flax's names and shapes.
"""

from pathlib import Path

import numpy as np
import pytest

import jumba.numpy as jnp
import jumba.random as jr
import jumba_nn as nn
from jumba.tree_util import tree_map

DATA = np.load(Path(__file__).resolve().parents[1] / "data" / "flax_linen_reference.npz")

MODULES = {
    "dense": lambda: nn.Dense(3),
    "dense_general": lambda: nn.DenseGeneral((2, 3), axis=(-2, -1)),
    "einsum": lambda: nn.Einsum((5, 3, 2), "abc,cde->abde"),
    "conv_same": lambda: nn.Conv(4, (3, 3)),
    "conv_strided_valid_dilated": lambda: nn.Conv(4, (3, 2), strides=(2, 1), padding="VALID",
                                                  kernel_dilation=(1, 2)),
    "conv_circular": lambda: nn.Conv(2, (3, 4), padding="CIRCULAR"),
    "conv_causal_1d": lambda: nn.Conv(3, (3,), padding="CAUSAL", kernel_dilation=2),
    "conv_groups": lambda: nn.Conv(6, (3, 3), feature_group_count=3, padding=((1, 0), (2, 1))),
    "conv_3d_unbatched": lambda: nn.Conv(2, (2, 2, 2)),
    "conv_transpose_same": lambda: nn.ConvTranspose(4, (3, 3), strides=(2, 2)),
    "conv_transpose_valid": lambda: nn.ConvTranspose(2, (3,), strides=(2,), padding="VALID"),
    "conv_local": lambda: nn.ConvLocal(3, (3, 3)),
    "conv_local_strided": lambda: nn.ConvLocal(2, (2, 3), strides=2, padding="VALID"),
    "embed": lambda: nn.Embed(7, 4),
    "layer_norm": lambda: nn.LayerNorm(),
    "rms_norm": lambda: nn.RMSNorm(),
    "group_norm": lambda: nn.GroupNorm(num_groups=2),
    "instance_norm": lambda: nn.InstanceNorm(),
    "batch_norm_train": lambda: nn.BatchNorm(use_running_average=False, momentum=0.9),
    "batch_norm_eval": lambda: nn.BatchNorm(use_running_average=True),
    "attention_causal": lambda: nn.MultiHeadDotProductAttention(num_heads=2, qkv_features=8),
    "attention_cross": lambda: nn.MultiHeadDotProductAttention(num_heads=3, out_features=4),
    "self_attention": lambda: nn.SelfAttention(num_heads=2, normalize_qk=True),
    "lstm_cell": lambda: nn.LSTMCell(3),
    "optimized_lstm_cell": lambda: nn.OptimizedLSTMCell(3),
    "gru_cell": lambda: nn.GRUCell(3),
    "mgu_cell": lambda: nn.MGUCell(3),
    "simple_cell": lambda: nn.SimpleCell(3),
    "conv_lstm_cell": lambda: nn.ConvLSTMCell(2, (3, 3)),
    "rnn_lstm": lambda: nn.RNN(nn.LSTMCell(3)),
    "rnn_gru_reverse": lambda: nn.RNN(nn.GRUCell(3), reverse=True, keep_order=True,
                                      return_carry=True),
    "bidirectional": lambda: nn.Bidirectional(nn.RNN(nn.SimpleCell(3)),
                                              nn.RNN(nn.SimpleCell(3))),
    "spectral_norm": lambda: nn.SpectralNorm(nn.Dense(3), n_steps=3),
    "weight_norm": lambda: nn.WeightNorm(nn.Dense(3)),
    "prelu": lambda: nn.PReLU(),
}
MUTABLE = {"batch_norm_train", "spectral_norm"}

FUNCTIONS = {
    "max_pool": lambda x: nn.max_pool(x, (2, 2), strides=(2, 1), padding="SAME"),
    "avg_pool_nopad": lambda x: nn.avg_pool(x, (3, 3), padding="SAME", count_include_pad=False),
    "avg_pool": lambda x: nn.avg_pool(x, (2,), strides=(2,)),
    "min_pool": lambda x: nn.min_pool(x, (2, 2), padding=((1, 0), (0, 1))),
    "dot_product_attention": lambda q, k, v, b, m: nn.dot_product_attention(q, k, v, bias=b,
                                                                           mask=m),
    "make_attention_mask": lambda a, b: nn.make_attention_mask(a > 0, b > 0),
    "make_causal_mask": lambda x: nn.make_causal_mask(x),
}


def _load(case: str, kind: str):
    """Rebuilds the tree stored under ``case::kind`` (numeric keys become tuples)."""
    prefix = f"{case}::{kind}"
    tree: dict = {}
    found = False
    for key in DATA.files:
        if key != prefix and not key.startswith(prefix + "::"):
            continue
        found = True
        parts = key[len(prefix) + 2:].split("::") if key != prefix else []
        if not parts:
            return DATA[key]
        node = tree
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = DATA[key]
    if not found:
        return None

    def fix(t):
        if isinstance(t, dict):
            t = {k: fix(v) for k, v in t.items()}
            if t and all(k.isdigit() for k in t):
                return tuple(t[str(i)] for i in range(len(t)))
        return t

    return fix(tree)


def _close(a, b, name):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-4, atol=2e-5,
                               err_msg=name)


def _shapes(tree):
    return tree_map(lambda x: tuple(np.shape(x)), tree)


@pytest.mark.parametrize("case", sorted(MODULES))
def test_layer_matches_flax(case):
    variables = _load(case, "var")
    args = _load(case, "in")
    kwargs = _load(case, "kw") or {}
    kwargs = {k: (bool(v) if np.asarray(v).dtype == bool else v) for k, v in kwargs.items()}
    model = MODULES[case]()
    ours = model.init(jr.key(0), *args, **kwargs)
    assert _shapes(ours) == _shapes(variables), case
    if case in MUTABLE:
        y, upd = model.apply(variables, *args, mutable=["batch_stats"], **kwargs)
        tree_map(lambda a, b: _close(a, b, case + " batch_stats"), upd, _load(case, "upd"))
    else:
        y = model.apply(variables, *args, **kwargs)
    tree_map(lambda a, b: _close(a, b, case), y, _load(case, "out"))


@pytest.mark.parametrize("case", sorted(FUNCTIONS))
def test_function_matches_flax(case):
    args = _load(case, "in")
    out = FUNCTIONS[case](*[jnp.asarray(a) for a in args])
    _close(out, _load(case, "out"), case)
