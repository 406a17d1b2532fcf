"""Writes tests/data/flax_linen_reference.npz: Flax linen layers' variables, inputs and outputs.

Run with the benchmark environment (it has flax): ``benchmarks/.venv/bin/python
tests/data/make_flax_linen_reference.py``. Each case stores the variables Flax's ``init``
created, the inputs, and the output of ``apply`` (and the updated collections when some are
mutable); tests/nn/test_flax_reference.py feeds the same variables and inputs to jumba_nn.
Keys are ``case::kind::path`` with tree levels separated by ``::``.
"""

from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

R = np.random.RandomState(0)


def normal(*shape):
    return R.normal(size=shape).astype(np.float32)


def ids(*shape, n=7):
    return R.randint(0, n, size=shape).astype(np.int32)


CASES = {
    "dense": (lambda: nn.Dense(3), (normal(2, 4),), {}, False),
    "dense_general": (lambda: nn.DenseGeneral((2, 3), axis=(-2, -1)), (normal(2, 4, 5),), {},
                      False),
    "einsum": (lambda: nn.Einsum((5, 3, 2), "abc,cde->abde"), (normal(2, 4, 5),), {}, False),
    "conv_same": (lambda: nn.Conv(4, (3, 3)), (normal(2, 6, 6, 3),), {}, False),
    "conv_strided_valid_dilated": (
        lambda: nn.Conv(4, (3, 2), strides=(2, 1), padding="VALID", kernel_dilation=(1, 2)),
        (normal(2, 9, 8, 3),), {}, False),
    "conv_circular": (lambda: nn.Conv(2, (3, 4), padding="CIRCULAR"), (normal(1, 5, 6, 2),), {},
                      False),
    "conv_causal_1d": (lambda: nn.Conv(3, (3,), padding="CAUSAL", kernel_dilation=2),
                       (normal(2, 7, 2),), {}, False),
    "conv_groups": (lambda: nn.Conv(6, (3, 3), feature_group_count=3, padding=((1, 0), (2, 1))),
                    (normal(2, 5, 5, 3),), {}, False),
    "conv_3d_unbatched": (lambda: nn.Conv(2, (2, 2, 2)), (normal(4, 4, 4, 3),), {}, False),
    "conv_transpose_same": (lambda: nn.ConvTranspose(4, (3, 3), strides=(2, 2)),
                            (normal(2, 4, 4, 3),), {}, False),
    "conv_transpose_valid": (lambda: nn.ConvTranspose(2, (3,), strides=(2,), padding="VALID"),
                             (normal(2, 5, 3),), {}, False),
    "conv_local": (lambda: nn.ConvLocal(3, (3, 3)), (normal(2, 5, 5, 2),), {}, False),
    "conv_local_strided": (lambda: nn.ConvLocal(2, (2, 3), strides=2, padding="VALID"),
                           (normal(2, 6, 7, 2),), {}, False),
    "embed": (lambda: nn.Embed(7, 4), (ids(2, 3),), {}, False),
    "layer_norm": (lambda: nn.LayerNorm(), (normal(2, 3, 5) * 3 + 1,), {}, False),
    "rms_norm": (lambda: nn.RMSNorm(), (normal(2, 3, 5) * 3 + 1,), {}, False),
    "group_norm": (lambda: nn.GroupNorm(num_groups=2), (normal(2, 4, 4, 6) * 2 + 1,), {}, False),
    "instance_norm": (lambda: nn.InstanceNorm(), (normal(2, 4, 4, 3) * 2 + 1,), {}, False),
    "batch_norm_train": (lambda: nn.BatchNorm(use_running_average=False, momentum=0.9),
                         (normal(8, 3, 4) * 2 + 1,), {}, True),
    "batch_norm_eval": (lambda: nn.BatchNorm(use_running_average=True),
                        (normal(8, 4) * 2 + 1,), {}, False),
    "attention_causal": (lambda: nn.MultiHeadDotProductAttention(num_heads=2, qkv_features=8),
                         (normal(2, 5, 6),),
                         {"mask": np.asarray(nn.make_causal_mask(jnp.ones((2, 5))))}, False),
    "attention_cross": (lambda: nn.MultiHeadDotProductAttention(num_heads=3, out_features=4),
                        (normal(2, 4, 6), normal(2, 7, 6)), {}, False),
    "self_attention": (lambda: nn.SelfAttention(num_heads=2, normalize_qk=True),
                       (normal(1, 3, 4),), {}, False),
    "lstm_cell": (lambda: nn.LSTMCell(3), ((normal(2, 3), normal(2, 3)), normal(2, 4)), {},
                  False),
    "optimized_lstm_cell": (lambda: nn.OptimizedLSTMCell(3),
                            ((normal(2, 3), normal(2, 3)), normal(2, 4)), {}, False),
    "gru_cell": (lambda: nn.GRUCell(3), (normal(2, 3), normal(2, 4)), {}, False),
    "mgu_cell": (lambda: nn.MGUCell(3), (normal(2, 3), normal(2, 4)), {}, False),
    "simple_cell": (lambda: nn.SimpleCell(3), (normal(2, 3), normal(2, 4)), {}, False),
    "conv_lstm_cell": (lambda: nn.ConvLSTMCell(2, (3, 3)),
                       ((normal(1, 4, 4, 2), normal(1, 4, 4, 2)), normal(1, 4, 4, 3)), {}, False),
    "rnn_lstm": (lambda: nn.RNN(nn.LSTMCell(3)), (normal(2, 5, 4),),
                 {"seq_lengths": np.array([3, 5], np.int32)}, False),
    "rnn_gru_reverse": (lambda: nn.RNN(nn.GRUCell(3), reverse=True, keep_order=True,
                                       return_carry=True), (normal(2, 4, 2),), {}, False),
    "bidirectional": (lambda: nn.Bidirectional(nn.RNN(nn.SimpleCell(3)),
                                               nn.RNN(nn.SimpleCell(3))),
                      (normal(2, 4, 2),), {}, False),
    "spectral_norm": (lambda: nn.SpectralNorm(nn.Dense(3), n_steps=3), (normal(2, 4),),
                      {"update_stats": True}, True),
    "weight_norm": (lambda: nn.WeightNorm(nn.Dense(3)), (normal(2, 4),), {}, False),
    "prelu": (lambda: nn.PReLU(), (normal(2, 4),), {}, False),
}

FUNCTIONS = {
    "max_pool": (lambda x: nn.max_pool(x, (2, 2), strides=(2, 1), padding="SAME"),
                 (normal(2, 5, 5, 3),)),
    "avg_pool_nopad": (lambda x: nn.avg_pool(x, (3, 3), padding="SAME", count_include_pad=False),
                       (normal(2, 4, 5, 3),)),
    "avg_pool": (lambda x: nn.avg_pool(x, (2,), strides=(2,)), (normal(2, 6, 3),)),
    "min_pool": (lambda x: nn.pooling.min_pool(x, (2, 2), padding=((1, 0), (0, 1))),
                 (normal(1, 4, 4, 2),)),
    "dot_product_attention": (
        lambda q, k, v, b, m: nn.dot_product_attention(q, k, v, bias=b, mask=m),
        (normal(2, 3, 2, 4), normal(2, 5, 2, 4), normal(2, 5, 2, 3), normal(2, 1, 3, 5),
         (R.rand(2, 1, 3, 5) > 0.3).astype(np.float32))),
    "make_attention_mask": (lambda a, b: nn.make_attention_mask(a > 0, b > 0),
                            (ids(2, 3, n=3), ids(2, 4, n=3))),
    "make_causal_mask": (lambda x: nn.make_causal_mask(x), (ids(2, 4),)),
}


def flatten(tree, prefix, out):
    if isinstance(tree, dict):
        for k, v in tree.items():
            flatten(v, prefix + (str(k),), out)
    elif isinstance(tree, tuple | list):
        for i, v in enumerate(tree):
            flatten(v, prefix + (str(i),), out)
    else:
        out["::".join(prefix)] = np.asarray(tree)


def main():
    out = {}
    for name, (make, args, kwargs, mutable) in CASES.items():
        model = make()
        variables = model.init(jax.random.key(1), *args, **kwargs)
        flatten(jax.device_get(variables), (name, "var"), out)
        flatten(args, (name, "in"), out)
        flatten(kwargs, (name, "kw"), out)
        if mutable:
            y, upd = model.apply(variables, *args, mutable=["batch_stats"], **kwargs)
            flatten(jax.device_get(upd), (name, "upd"), out)
        else:
            y = model.apply(variables, *args, **kwargs)
        flatten(jax.device_get(y), (name, "out"), out)
    for name, (fn, args) in FUNCTIONS.items():
        flatten(args, (name, "in"), out)
        flatten(jax.device_get(fn(*args)), (name, "out"), out)
    path = Path(__file__).with_name("flax_linen_reference.npz")
    np.savez_compressed(path, **out)
    print(f"wrote {len(out)} arrays to {path}")


if __name__ == "__main__":
    main()
