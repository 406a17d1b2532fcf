"""One table of Haiku programs, run by dm-haiku (tests/data/make_haiku_reference.py writes
tests/data/haiku_reference.npz) and by jumba_nn.haiku (tests/nn/test_haiku_reference.py).

Each case is written against the module objects `hk`, `jnn` (activations), `jnp`, so the
same source runs on both. A case: (build(hk, jnn, jnp) -> f, inputs, is_training-like
static extras). `f(*inputs)` is transformed with `transform_with_state`, initialised with
PRNGKey(SEED) and applied with PRNGKey(SEED + 1).
"""

import numpy as np

SEED = 42


def _x(*shape, seed=0):
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape).astype(np.float32)


def _ids(*shape, high=7):
    return np.random.default_rng(3).integers(0, high, shape).astype(np.int32)


def _vs(hk):
    return hk.initializers.VarianceScaling(1.0)


def _init_zoo(hk, jnn, jnp):
    inits = {
        "vs_fan_avg_uniform": hk.initializers.VarianceScaling(1.0, "fan_avg", "uniform"),
        "vs_fan_out_normal": hk.initializers.VarianceScaling(2.0, "fan_out", "normal"),
        "vs_fan_in_trunc": hk.initializers.VarianceScaling(0.5),
        "uniform": hk.initializers.RandomUniform(-2.0, 3.0),
        "normal": hk.initializers.RandomNormal(0.5, 1.0),
        "trunc": hk.initializers.TruncatedNormal(0.3, 0.1),
        "constant": hk.initializers.Constant(1.5),
        "uniform_scaling": hk.initializers.UniformScaling(2.0),
        "identity": hk.initializers.Identity(2.0),
    }

    def f(x):
        return [hk.get_parameter(n, [3, 4, 5] if n.startswith("vs") else [4, 5], init=i)
                for n, i in inits.items()]
    return f


def _ortho(hk, jnn, jnp):
    def f(x):
        w = hk.get_parameter("w", [6, 4], init=hk.initializers.Orthogonal())
        return w.T @ w
    return f


def _scan_linear(hk, jnn, jnp):
    def f(xs):
        lin = hk.Linear(3)

        def step(c, x):
            y = jnp.tanh(lin(x) + c)
            return y, y * 2
        return hk.scan(step, jnp.zeros((2, 3)), xs)
    return f


def _vmap_linear(hk, jnn, jnp):
    def f(x):
        return hk.vmap(lambda v: hk.Linear(3)(v), split_rng=False)(x)
    return f


def _batch_norm(hk, jnn, jnp):
    def f(x):
        bn = hk.BatchNorm(True, True, 0.9)
        train = bn(x, is_training=True)
        train2 = bn(x * 2 + 1, is_training=True)
        return train, train2, bn(x, is_training=False)
    return f


def _dropout(hk, jnn, jnp):
    def f(x):
        return hk.dropout(hk.next_rng_key(), 0.3, x), hk.dropout(hk.next_rng_key(), 0.5, x,
                                                                   broadcast_dims=(0,))
    return f


def _rnn(core_fn, batch_major=False):
    def build(hk, jnn, jnp):
        def f(xs):
            core = core_fn(hk, jnn)
            return hk.dynamic_unroll(core, xs, core.initial_state(xs.shape[1]))
        return f
    return build


def _static_rnn(hk, jnn, jnp):
    def f(xs):
        core = hk.LSTM(3)
        return hk.static_unroll(core, xs, core.initial_state(xs.shape[1]))
    return f


def _layer_stack(hk, jnn, jnp):
    def f(x):
        y = hk.layer_stack(3)(lambda v: jnp.tanh(hk.Linear(4)(v)))(x)
        return hk.layer_stack(2, with_per_layer_inputs=True)(
            lambda v, a: (jnp.tanh(hk.Linear(4, name="l")(v)) + a, v * 2))(
                y, jnp.ones((2, 1, 4)))
    return f


CASES = {
    "linear": (lambda hk, jnn, jnp: lambda x: hk.Linear(3)(x), [_x(2, 4)]),
    "linear_nobias_3d": (lambda hk, jnn, jnp: lambda x: hk.Linear(2, with_bias=False)(x),
                         [_x(2, 3, 4)]),
    "mlp": (lambda hk, jnn, jnp: lambda x: hk.nets.MLP([5, 3])(x), [_x(2, 4)]),
    "bias": (lambda hk, jnn, jnp: lambda x: hk.Bias(b_init=jnp.ones)(x), [_x(2, 4)]),
    "sequential": (lambda hk, jnn, jnp: lambda x: hk.Sequential(
        [hk.Linear(4), jnn.relu, hk.Linear(2)])(x), [_x(3, 5)]),
    "conv1d": (lambda hk, jnn, jnp: lambda x: hk.Conv1D(3, 2)(x), [_x(2, 7, 3)]),
    "conv1d_ncw": (lambda hk, jnn, jnp: lambda x: hk.Conv1D(3, 3, data_format="NCW")(x),
                   [_x(2, 3, 7)]),
    "conv2d_stride": (lambda hk, jnn, jnp: lambda x: hk.Conv2D(4, 3, stride=2)(x),
                      [_x(2, 6, 6, 3)]),
    "conv2d_rate_valid": (lambda hk, jnn, jnp: lambda x: hk.Conv2D(
        2, (3, 2), rate=2, padding="VALID")(x), [_x(1, 7, 6, 2)]),
    "conv2d_groups_unbatched": (lambda hk, jnn, jnp: lambda x: hk.Conv2D(
        4, 3, feature_group_count=2)(x), [_x(5, 5, 4)]),
    "conv3d": (lambda hk, jnn, jnp: lambda x: hk.Conv3D(2, 2)(x), [_x(1, 3, 4, 4, 2)]),
    "conv1d_transpose": (lambda hk, jnn, jnp: lambda x: hk.Conv1DTranspose(2, 3, stride=2)(x),
                         [_x(2, 5, 3)]),
    "conv2d_transpose": (lambda hk, jnn, jnp: lambda x: hk.Conv2DTranspose(2, 3, stride=2)(x),
                         [_x(1, 4, 4, 3)]),
    "conv2d_transpose_valid": (lambda hk, jnn, jnp: lambda x: hk.Conv2DTranspose(
        2, 3, stride=2, padding="VALID")(x), [_x(1, 4, 4, 3)]),
    "conv2d_transpose_outshape": (lambda hk, jnn, jnp: lambda x: hk.Conv2DTranspose(
        2, 3, stride=2, output_shape=(7, 7))(x), [_x(1, 4, 4, 3)]),
    "depthwise2d": (lambda hk, jnn, jnp: lambda x: hk.DepthwiseConv2D(2, 3)(x),
                    [_x(2, 5, 5, 3)]),
    "separable2d": (lambda hk, jnn, jnp: lambda x: hk.SeparableDepthwiseConv2D(2, 3)(x),
                    [_x(1, 5, 5, 3)]),
    "max_pool": (lambda hk, jnn, jnp: lambda x: hk.MaxPool(2, 2, "SAME")(x),
                 [_x(2, 5, 5, 3)]),
    "avg_pool_same": (lambda hk, jnn, jnp: lambda x: hk.AvgPool((1, 3, 3, 1), 2, "SAME")(x),
                      [_x(2, 5, 5, 3)]),
    "avg_pool_valid": (lambda hk, jnn, jnp: lambda x: hk.avg_pool(x, 2, 1, "VALID"),
                       [_x(2, 4, 4, 3)]),
    "layer_norm": (lambda hk, jnn, jnp: lambda x: hk.LayerNorm(-1, True, True)(x),
                   [_x(3, 5)]),
    "layer_norm_axes": (lambda hk, jnn, jnp: lambda x: hk.LayerNorm(
        (1, 2), True, False, param_axis=-1)(x), [_x(2, 3, 4)]),
    "rms_norm": (lambda hk, jnn, jnp: lambda x: hk.RMSNorm(-1)(x), [_x(3, 5)]),
    "group_norm": (lambda hk, jnn, jnp: lambda x: hk.GroupNorm(2)(x), [_x(2, 3, 3, 4)]),
    "instance_norm": (lambda hk, jnn, jnp: lambda x: hk.InstanceNorm(True, True)(x),
                      [_x(2, 3, 3, 4)]),
    "batch_norm": (_batch_norm, [_x(4, 3, 3, 2)]),
    "ema": (lambda hk, jnn, jnp: lambda x: [hk.ExponentialMovingAverage(0.9)(x),
                                            hk.ExponentialMovingAverage(0.5)(x * 3)],
            [_x(3)]),
    "embed": (lambda hk, jnn, jnp: lambda i: hk.Embed(7, 3)(i), [_ids(2, 5)]),
    "embed_one_hot": (lambda hk, jnn, jnp: lambda i: hk.Embed(
        7, 3, lookup_style="ONE_HOT")(i), [_ids(4)]),
    "mha": (lambda hk, jnn, jnp: lambda q, k: hk.MultiHeadAttention(
        2, 3, w_init=_vs(hk))(q, k, k), [_x(2, 4, 5), _x(2, 6, 5)]),
    "mha_mask": (lambda hk, jnn, jnp: lambda q: hk.MultiHeadAttention(
        2, 3, w_init=_vs(hk), value_size=2, model_size=4)(
            q, q, q, mask=jnp.tril(jnp.ones((1, 1, 4, 4), bool))), [_x(2, 4, 5)]),
    "lstm": (_rnn(lambda hk, jnn: hk.LSTM(4)), [_x(5, 2, 3)]),
    "gru": (_rnn(lambda hk, jnn: hk.GRU(4)), [_x(5, 2, 3)]),
    "vanilla": (_rnn(lambda hk, jnn: hk.VanillaRNN(4)), [_x(5, 2, 3)]),
    "deep_rnn": (_rnn(lambda hk, jnn: hk.DeepRNN([hk.LSTM(3), jnn.relu, hk.GRU(2)])),
                 [_x(4, 2, 3)]),
    "deep_skip": (_rnn(lambda hk, jnn: hk.deep_rnn_with_skip_connections(
        [hk.LSTM(3), hk.VanillaRNN(2)])), [_x(4, 2, 3)]),
    "static_lstm": (_static_rnn, [_x(3, 2, 3)]),
    "conv2d_lstm": (_rnn(lambda hk, jnn: hk.Conv2DLSTM((4, 4), 3, 3)),
                    [_x(3, 2, 4, 4, 2)]),
    "dropout": (_dropout, [_x(4, 6)]),
    "initializers": (_init_zoo, [_x(1)]),
    "orthogonal": (_ortho, [_x(1)]),
    "scan_linear": (_scan_linear, [_x(4, 2, 3)]),
    "vmap_linear": (_vmap_linear, [_x(3, 4)]),
    "flatten": (lambda hk, jnn, jnp: lambda x: hk.Flatten()(x) + hk.Reshape((-1,))(x),
                [_x(2, 3, 4)]),
    "layer_stack": (_layer_stack, [_x(1, 4)]),
    "spectral_norm": (lambda hk, jnn, jnp: lambda x: hk.SpectralNorm()(x), [_x(4, 3)]),
}


def run(case, hk, jnn, jnp, key_fn):
    """Init and apply a case; returns (params, state, out)."""
    build, inputs = CASES[case]
    f = hk.transform_with_state(build(hk, jnn, jnp))
    params, state = f.init(key_fn(SEED), *inputs)
    out, state = f.apply(params, state, key_fn(SEED + 1), *inputs)
    return params, state, out
