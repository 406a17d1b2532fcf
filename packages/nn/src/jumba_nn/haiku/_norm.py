"""Haiku's normalisation layers and moving averages.

BatchNorm keeps its statistics in *state* (use `hk.transform_with_state`): two
`ExponentialMovingAverage` submodules, ``batch_norm/~/mean_ema`` and
``batch_norm/~/var_ema``, each with state ``counter``, ``hidden`` and ``average``.
``is_training=True`` normalises with the batch's statistics and updates the averages;
``is_training=False`` normalises with the averages.
"""

from __future__ import annotations

import re

import numpy as np

import jumba.lax as lax
import jumba.numpy as jnp
from jumba_nn.haiku import _kernels, initializers
from jumba_nn.haiku._base import get_parameter, get_state, set_state
from jumba_nn.haiku._conv import get_channel_index
from jumba_nn.haiku._module import Module


def _axes(axis, ndim):
    if isinstance(axis, slice):
        return tuple(range(ndim))[axis]
    if isinstance(axis, int):
        return (axis % ndim,)
    return tuple(a % ndim for a in axis)


def _scale_offset(module, shape, dtype, scale, offset):
    if module.create_scale and scale is not None:
        raise ValueError("Cannot pass `scale` at call time if `create_scale=True`.")
    if module.create_offset and offset is not None:
        raise ValueError("Cannot pass `offset` at call time if `create_offset=True`.")
    if module.create_scale:
        scale = get_parameter("scale", shape, dtype, init=module.scale_init)
    if module.create_offset:
        offset = get_parameter("offset", shape, dtype, init=module.offset_init)
    return scale, offset


class LayerNorm(Module):
    """Normalises over `axis` to zero mean and unit variance, then ``* scale + offset``
    (``scale`` ones, ``offset`` zeros, shaped as the `param_axis` dims (default -1))."""

    def __init__(self, axis, create_scale: bool, create_offset: bool, eps: float = 1e-5,
                 scale_init=None, offset_init=None, use_fast_variance: bool = False,
                 name: str | None = None, *, param_axis=None):
        super().__init__(name=name)
        if not create_scale and scale_init is not None:
            raise ValueError("Cannot set `scale_init` if `create_scale=False`.")
        if not create_offset and offset_init is not None:
            raise ValueError("Cannot set `offset_init` if `create_offset=False`.")
        self.axis, self.eps = axis, eps
        self.create_scale, self.create_offset = create_scale, create_offset
        self.scale_init = scale_init or jnp.ones
        self.offset_init = offset_init or jnp.zeros
        self.use_fast_variance = use_fast_variance
        self.param_axis = (-1,) if param_axis is None else param_axis

    def __call__(self, inputs, scale=None, offset=None):
        axes = _axes(self.axis, inputs.ndim)
        pax = _axes(self.param_axis, inputs.ndim)
        shape = tuple(inputs.shape[a] for a in pax)
        scale, offset = _scale_offset(self, shape, inputs.dtype, scale, offset)
        bshape = tuple(inputs.shape[i] if i in pax else 1 for i in range(inputs.ndim))
        scale = None if scale is None else jnp.reshape(scale, bshape)
        offset = None if offset is None else jnp.reshape(offset, bshape)
        return _kernels.layer_norm(inputs, scale, offset, reduction_axes=axes,
                                   epsilon=self.eps, use_fast_variance=self.use_fast_variance)


class RMSNorm(Module):
    """``x / sqrt(mean(x**2, axis) + eps) * scale`` (``scale`` ones)."""

    def __init__(self, axis, eps: float = 1e-5, scale_init=None, name: str | None = None,
                 create_scale: bool = True, *, param_axis=None):
        super().__init__(name=name)
        if not create_scale and scale_init is not None:
            raise ValueError("Cannot set `scale_init` if `create_scale=False`.")
        self.axis, self.eps, self.create_scale = axis, eps, create_scale
        self.create_offset, self.offset_init = False, None
        self.scale_init = scale_init or jnp.ones
        self.param_axis = (-1,) if param_axis is None else param_axis

    def __call__(self, inputs):
        axes = _axes(self.axis, inputs.ndim)
        pax = _axes(self.param_axis, inputs.ndim)
        shape = tuple(inputs.shape[a] for a in pax)
        scale = None
        if self.create_scale:
            scale = get_parameter("scale", shape, inputs.dtype, init=self.scale_init)
            bshape = tuple(inputs.shape[i] if i in pax else 1 for i in range(inputs.ndim))
            scale = jnp.reshape(scale, bshape)
        return _kernels.rms_norm(inputs, scale, reduction_axes=axes, epsilon=self.eps)


class InstanceNorm(LayerNorm):
    """LayerNorm over the spatial axes of each example and channel."""

    def __init__(self, create_scale: bool, create_offset: bool, eps: float = 1e-5,
                 scale_init=None, offset_init=None, data_format: str = "channels_last",
                 name: str | None = None):
        channel = get_channel_index(data_format)
        axis = slice(1, -1) if channel == -1 else slice(2, None)
        super().__init__(axis, create_scale, create_offset, eps, scale_init, offset_init,
                         name=name, param_axis=channel)
        self.data_format = data_format


class GroupNorm(Module):
    """Normalises groups of channels (`groups` of them) over `axis` (default all but the
    batch axis); ``scale``/``offset`` shaped ``(channels,)``."""

    def __init__(self, groups: int, axis=slice(1, None), create_scale: bool = True,
                 create_offset: bool = True, eps: float = 1e-5, scale_init=None,
                 offset_init=None, data_format: str = "channels_last", name: str | None = None):
        super().__init__(name=name)
        if not create_scale and scale_init is not None:
            raise ValueError("Cannot set `scale_init` if `create_scale=False`.")
        if not create_offset and offset_init is not None:
            raise ValueError("Cannot set `offset_init` if `create_offset=False`.")
        self.groups, self.axis, self.eps = groups, axis, eps
        self.create_scale, self.create_offset = create_scale, create_offset
        self.scale_init = scale_init or jnp.ones
        self.offset_init = offset_init or jnp.zeros
        self.data_format = data_format
        self.channel_index = get_channel_index(data_format)

    def __call__(self, x, scale=None, offset=None):
        ch = self.channel_index % x.ndim
        channels = x.shape[ch]
        if channels % self.groups:
            raise ValueError(f"hk.GroupNorm: {channels} channels do not divide into "
                             f"{self.groups} groups.")
        axes = _axes(self.axis, x.ndim)
        scale, offset = _scale_offset(self, (channels,), x.dtype, scale, offset)
        # The shared kernel wants channels last: move them there and back.
        order = [i for i in range(x.ndim) if i != ch] + [ch]
        red = tuple(order.index(a) for a in axes if a != ch)
        y = _kernels.group_norm(jnp.transpose(x, order), self.groups, scale, offset,
                                epsilon=self.eps, reduction_axes=red,
                                use_fast_variance=False)
        return jnp.transpose(y, [order.index(i) for i in range(x.ndim)])


class ExponentialMovingAverage(Module):
    """An exponential moving average in state: ``hidden = decay * hidden + (1 - decay) *
    value``; ``average = hidden / (1 - decay**counter)`` with `zero_debias`."""

    def __init__(self, decay, zero_debias: bool = True, warmup_length: int = 0,
                 name: str | None = None):
        super().__init__(name=name)
        if warmup_length < 0:
            raise ValueError(f"warmup_length must be >= 0, got {warmup_length}.")
        if warmup_length and zero_debias:
            raise ValueError("zero_debias and a warmup_length > 0 cannot be combined.")
        self.decay, self.zero_debias, self.warmup_length = decay, zero_debias, warmup_length

    def initialize(self, shape, dtype=jnp.float32):
        """Creates the state (if new) without updating it."""
        get_state("counter", (), jnp.int32,
                  init=initializers.Constant(-self.warmup_length))
        get_state("hidden", shape, dtype, init=jnp.zeros)
        get_state("average", shape, dtype, init=jnp.zeros)

    def __call__(self, value, update_stats: bool = True):
        value = jnp.asarray(value)
        counter = get_state("counter", (), jnp.int32,
                            init=initializers.Constant(-self.warmup_length)) + 1
        decay = jnp.asarray(self.decay, value.dtype)
        if self.warmup_length > 0:
            decay = jnp.where(counter <= 0, jnp.zeros_like(decay), decay)
        one = jnp.ones([], value.dtype)
        hidden = get_state("hidden", value.shape, value.dtype, init=jnp.zeros)
        hidden = hidden * decay + value * (one - decay)
        average = hidden
        if self.zero_debias:
            average = average / (one - jnp.power(decay, counter.astype(value.dtype)))
        if update_stats:
            set_state("counter", counter)
            set_state("hidden", hidden)
            set_state("average", average)
        return average

    @property
    def average(self):
        return get_state("average")


class EMAParamsTree(Module):
    """An ExponentialMovingAverage per leaf of a ``{module: {name: array}}`` tree."""

    def __init__(self, decay, zero_debias: bool = True, warmup_length: int = 0,
                 ignore_regex: str = "", name: str | None = None):
        super().__init__(name=name)
        self.decay, self.zero_debias, self.warmup_length = decay, zero_debias, warmup_length
        self.ignore_regex = ignore_regex

    def __call__(self, tree, update_stats: bool = True):
        out = {}
        for module_name, leaves in tree.items():
            out[module_name] = {}
            for k, v in leaves.items():
                path = f"{module_name}/{k}"
                if self.ignore_regex and re.match(self.ignore_regex, path):
                    out[module_name][k] = v
                    continue
                ema_name = path.replace("/", "__").replace("~", "_tilde_")
                out[module_name][k] = ExponentialMovingAverage(
                    self.decay, self.zero_debias, self.warmup_length, name=ema_name)(
                        v, update_stats=update_stats)
        return out


class BatchNorm(Module):
    """Batch normalisation with moving averages of the statistics in state.

    ``bn(x, is_training)``: in training, normalise with the batch's mean and variance
    (over all axes but the channel one, or `axis`) and update the EMAs (decay
    `decay_rate`); in evaluation, normalise with the EMAs. Parameters ``scale``/``offset``
    are shaped like the statistics (``(1, ..., 1, C)``).

    Examples:
        >>> f = hk.transform_with_state(lambda x, t: hk.BatchNorm(True, True, 0.9)(x, t))
        >>> params, state = f.init(None, x, True)
        >>> y, state = f.apply(params, state, None, x, True)    # updates the averages
        >>> y, _ = f.apply(params, state, None, x, False)       # uses them
    """

    def __init__(self, create_scale: bool, create_offset: bool, decay_rate: float,
                 eps: float = 1e-5, scale_init=None, offset_init=None, axis=None,
                 cross_replica_axis=None, cross_replica_axis_index_groups=None,
                 data_format: str = "channels_last", name: str | None = None):
        super().__init__(name=name)
        if not create_scale and scale_init is not None:
            raise ValueError("Cannot set `scale_init` if `create_scale=False`.")
        if not create_offset and offset_init is not None:
            raise ValueError("Cannot set `offset_init` if `create_offset=False`.")
        if cross_replica_axis_index_groups is not None:
            raise ValueError("cross_replica_axis_index_groups is not supported.")
        self.create_scale, self.create_offset = create_scale, create_offset
        self.eps = eps
        self.scale_init = scale_init or jnp.ones
        self.offset_init = offset_init or jnp.zeros
        self.axis = axis
        self.cross_replica_axis = cross_replica_axis
        self.channel_index = get_channel_index(data_format)
        # Zero-debiased, as Haiku's: the first average equals the first batch's statistic.
        self.mean_ema = ExponentialMovingAverage(decay_rate, name="mean_ema")
        self.var_ema = ExponentialMovingAverage(decay_rate, name="var_ema")

    def __call__(self, inputs, is_training, test_local_stats: bool = False, scale=None,
                 offset=None):
        if not isinstance(is_training, bool | np.bool_):
            raise TypeError(f"hk.BatchNorm: is_training must be a Python bool (it selects "
                            f"code paths), got {type(is_training).__name__}. Fix: pass it as "
                            f"a static argument.")
        ch = self.channel_index % inputs.ndim
        axis = tuple(self.axis) if self.axis is not None else \
            tuple(i for i in range(inputs.ndim) if i != ch)
        stats_shape = tuple(1 if i in axis else inputs.shape[i] for i in range(inputs.ndim))
        if is_training or test_local_stats:
            mean = jnp.mean(inputs, axis, keepdims=True)
            mean_sq = jnp.mean(jnp.square(inputs), axis, keepdims=True)
            if self.cross_replica_axis:
                mean = lax.pmean(mean, axis_name=self.cross_replica_axis)
                mean_sq = lax.pmean(mean_sq, axis_name=self.cross_replica_axis)
            var = mean_sq - jnp.square(mean)
        else:
            self.mean_ema.initialize(stats_shape, inputs.dtype)
            self.var_ema.initialize(stats_shape, inputs.dtype)
            mean = self.mean_ema.average.astype(inputs.dtype)
            var = self.var_ema.average.astype(inputs.dtype)
        if is_training:
            self.mean_ema(mean)
            self.var_ema(var)
        scale, offset = _scale_offset(self, stats_shape, inputs.dtype, scale, offset)
        return _kernels.batch_norm(inputs, mean, var, scale, offset, epsilon=self.eps)


class SpectralNorm(Module):
    """Divides a weight by an estimate of its largest singular value (power iteration,
    the vector ``u0`` and estimate ``sigma`` in state)."""

    def __init__(self, eps: float = 1e-4, n_steps: int = 1, name: str | None = None):
        super().__init__(name=name)
        self.eps, self.n_steps = eps, n_steps

    def __call__(self, value, update_stats: bool = True, *, error_on_non_matrix=False):
        value = jnp.asarray(value)
        if value.ndim <= 1:
            raise ValueError("hk.SpectralNorm needs a value with at least 2 dimensions.")
        if value.ndim > 2:
            if error_on_non_matrix:
                raise ValueError(f"hk.SpectralNorm: value of shape {value.shape} is not a "
                                 f"matrix.")
            mat = jnp.reshape(value, (-1, value.shape[-1]))
        else:
            mat = value
        u0 = get_state("u0", [1, mat.shape[-1]], mat.dtype,
                       init=initializers.RandomNormal())
        u = u0
        v = None
        for _ in range(self.n_steps):
            v = _l2_normalize(u @ mat.T, self.eps)
            u = _l2_normalize(v @ mat, self.eps)
        u, v = lax.stop_gradient(u), lax.stop_gradient(v)
        sigma = jnp.squeeze(v @ mat @ u.T)
        if update_stats:
            set_state("u0", u)
            set_state("sigma", sigma)
        return jnp.reshape(mat / sigma, value.shape)


def _l2_normalize(x, eps):
    return x * lax.rsqrt(jnp.maximum(jnp.sum(jnp.square(x)), eps))


class SNParamsTree(Module):
    """A SpectralNorm per matrix leaf of a ``{module: {name: array}}`` tree."""

    def __init__(self, eps: float = 1e-4, n_steps: int = 1, ignore_regex: str = "",
                 name: str | None = None):
        super().__init__(name=name)
        self.eps, self.n_steps, self.ignore_regex = eps, n_steps, ignore_regex

    def __call__(self, tree, update_stats: bool = True):
        out = {}
        for module_name, leaves in tree.items():
            out[module_name] = {}
            for k, v in leaves.items():
                path = f"{module_name}/{k}"
                if (self.ignore_regex and re.match(self.ignore_regex, path)) or v.ndim < 2:
                    out[module_name][k] = v
                    continue
                sn_name = path.replace("/", "__").replace("~", "_tilde_")
                out[module_name][k] = SpectralNorm(self.eps, self.n_steps, name=sn_name)(
                    v, update_stats=update_stats)
        return out
