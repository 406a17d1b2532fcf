"""Writes eqx_reference.npz: Equinox layers' parameters and outputs for test_nn_layers.py.

    benchmarks/.venv/bin/python tests/data/make_eqx_reference.py

Each case builds a layer with ``jax.random.PRNGKey(0)`` (jumba reproduces JAX's random
streams, so jumba_pytree_models.nn must produce the same initial parameters) and applies
it to a fixed input. The case table (CASES) is imported by the test too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# name: (constructor source using `nn` and `key`, input shape, parameter attributes)
CASES = {
    "linear": ("nn.Linear(5, 3, key=key)", (5,), ["weight", "bias"]),
    "linear_nobias": ("nn.Linear(4, 2, use_bias=False, key=key)", (4,), ["weight"]),
    "linear_scalar": ("nn.Linear('scalar', 'scalar', key=key)", (), ["weight", "bias"]),
    "mlp": ("nn.MLP(3, 2, 8, 2, key=key)", (3,),
            ["layers[0].weight", "layers[1].bias", "layers[2].weight"]),
    "conv1d": ("nn.Conv1d(2, 3, 3, stride=2, padding=1, key=key)", (2, 9), ["weight", "bias"]),
    "conv2d": ("nn.Conv2d(2, 4, (3, 2), dilation=(1, 2), padding='SAME', key=key)",
               (2, 6, 7), ["weight", "bias"]),
    "conv2d_groups": ("nn.Conv2d(4, 6, 3, groups=2, key=key)", (4, 5, 5), ["weight"]),
    "conv1d_reflect": ("nn.Conv1d(2, 2, 3, padding=2, padding_mode='REFLECT', key=key)",
                       (2, 7), ["weight"]),
    "conv1d_circular": ("nn.Conv1d(1, 2, 3, padding='SAME', padding_mode='CIRCULAR', "
                        "key=key)", (1, 6), ["weight"]),
    "conv3d": ("nn.Conv3d(1, 2, 2, key=key)", (1, 3, 4, 3), ["weight", "bias"]),
    "convt1d": ("nn.ConvTranspose1d(2, 3, 3, stride=2, output_padding=1, padding=1, "
                "key=key)", (2, 5), ["weight", "bias"]),
    "convt2d": ("nn.ConvTranspose2d(3, 2, (2, 3), stride=(2, 1), padding='SAME', key=key)",
                (3, 4, 4), ["weight", "bias"]),
    "maxpool2d": ("nn.MaxPool2d(2, stride=2, use_ceil=True)", (2, 5, 5), []),
    "avgpool1d": ("nn.AvgPool1d(3, stride=2, padding=1)", (2, 8), []),
    "maxpool3d": ("nn.MaxPool3d(2)", (1, 3, 3, 3), []),
    "adaptive_avg2d": ("nn.AdaptiveAvgPool2d((2, 3))", (2, 5, 7), []),
    "adaptive_max1d": ("nn.AdaptiveMaxPool1d(3)", (2, 8), []),
    "layernorm": ("nn.LayerNorm((3, 4))", (3, 4), []),
    "rmsnorm": ("nn.RMSNorm(6)", (6,), []),
    "groupnorm": ("nn.GroupNorm(2, 4)", (4, 3, 2), []),
    "embedding": ("nn.Embedding(7, 3, key=key)", "index", ["weight"]),
    "prelu": ("nn.PReLU(0.1)", (5,), []),
    "gru": ("nn.GRUCell(3, 4, key=key)", "gru", ["weight_ih", "weight_hh", "bias", "bias_n"]),
    "lstm": ("nn.LSTMCell(3, 4, key=key)", "lstm", ["weight_ih", "weight_hh", "bias"]),
    "mha": ("nn.MultiheadAttention(2, 6, use_query_bias=True, use_output_bias=True, "
            "key=key)", "mha", ["query_proj.weight", "query_proj.bias", "output_proj.weight"]),
    "rope": ("nn.RotaryPositionalEmbedding(6)", (5, 6), []),
    "weightnorm": ("nn.WeightNorm(nn.Linear(3, 2, key=key))", (3,), ["g"]),
    "dropout": ("nn.Dropout(0.5)", "dropout", []),
}


def inputs(name, kind, np_mod):
    """The input(s) of a case, from a seeded NumPy generator (identical in both envs)."""
    rng = np.random.default_rng(sum(map(ord, name)))
    if kind == "index":
        return (np_mod.asarray(4),)
    if kind == "gru":
        return (np_mod.asarray(rng.standard_normal(3).astype(np.float32)),
                np_mod.asarray(rng.standard_normal(4).astype(np.float32)))
    if kind == "lstm":
        x, h, c = (rng.standard_normal(n).astype(np.float32) for n in (3, 4, 4))
        return (np_mod.asarray(x), (np_mod.asarray(h), np_mod.asarray(c)))
    if kind == "mha":
        q, k, v = (rng.standard_normal(s).astype(np.float32) for s in ((3, 6), (4, 6), (4, 6)))
        mask = np.array([[1, 1, 0, 1], [0, 1, 1, 1], [1, 0, 0, 1]], bool)
        return tuple(np_mod.asarray(a) for a in (q, k, v, mask))
    if kind == "dropout":
        return (np_mod.asarray(rng.standard_normal(20).astype(np.float32)),)
    return (np_mod.asarray(rng.standard_normal(kind).astype(np.float32)),)


def get_attr(obj, path):
    return eval("obj." + path, {"obj": obj})  # noqa: S307 (paths from the table above)


def main():
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    nn = eqx.nn
    out = {}
    for name, (src, kind, attrs) in CASES.items():
        key = jax.random.PRNGKey(0)
        layer = eval(src, {"nn": nn, "key": key})  # noqa: S307
        args = inputs(name, kind, jnp)
        if kind == "dropout":
            y = layer(*args, key=jax.random.PRNGKey(1))
        else:
            y = layer(*args)
        for i, leaf in enumerate(jax.tree_util.tree_leaves(y)):
            out[f"{name}/y{i}"] = np.asarray(leaf)
        for a in attrs:
            out[f"{name}/{a}"] = np.asarray(get_attr(layer, a))
    # BatchNorm, both modes: two training steps then inference, over a batch of 4.
    for mode in ("ema", "batch"):
        bn, state = nn.make_with_state(nn.BatchNorm)(3, "batch", mode=mode, momentum=0.9)
        xs = [np.random.default_rng(s).standard_normal((4, 3, 2)).astype(np.float32)
              for s in (1, 2)]
        f = jax.vmap(bn, axis_name="batch", in_axes=(0, None), out_axes=(0, None))
        for i, x in enumerate(xs):
            y, state = f(jnp.asarray(x), state)
            out[f"batchnorm_{mode}/y{i}"] = np.asarray(y)
        y, _ = jax.vmap(nn.inference_mode(bn), axis_name="batch", in_axes=(0, None),
                        out_axes=(0, None))(jnp.asarray(xs[0]), state)
        out[f"batchnorm_{mode}/inference"] = np.asarray(y)
    # SpectralNorm of a Linear: the initial power iterations and one training call.
    key = jax.random.PRNGKey(0)
    lin = nn.Linear(4, 3, key=key)
    sn, state = nn.make_with_state(nn.SpectralNorm)(lin, "weight", key=jax.random.PRNGKey(3))
    x = np.random.default_rng(5).standard_normal(4).astype(np.float32)
    y, state = sn(jnp.asarray(x), state)
    out["spectralnorm/y0"] = np.asarray(y)
    out["spectralnorm/u"] = np.asarray(state.get(sn.uv_index)[0])
    np.savez_compressed(Path(__file__).with_name("eqx_reference.npz"), **out)
    print(f"wrote {len(out)} arrays (equinox {eqx.__version__})")


if __name__ == "__main__":
    main()
