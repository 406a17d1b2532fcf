"""Normalisation: LayerNorm, RMSNorm, GroupNorm, BatchNorm (stateful), SpectralNorm
(stateful) and WeightNorm."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import jumba.lax as lax
import jumba.numpy as jnp
import jumba.random as jr
from jumba_pytree_models._src.filters import tree_at
from jumba_pytree_models._src.module import Module, field
from jumba_pytree_models._src.nn.basic import default_floating_dtype
from jumba_pytree_models._src.nn.state import State, StatefulLayer, StateIndex

__all__ = ["BatchNorm", "GroupNorm", "LayerNorm", "RMSNorm", "SpectralNorm", "WeightNorm"]

_sentinel = object()


def _with_state(out, state):
    return out if state is _sentinel else (out, state)


class LayerNorm(Module):
    """Normalise over the whole (unbatched) input of shape ``shape``:
    ``(x - mean) / sqrt(var + eps) * weight + bias``.

    Called as ``layer(x)`` or, inside stateful models, ``layer(x, state)`` (then the
    state is returned unchanged beside the output).
    """

    weight: Any
    bias: Any
    shape: tuple = field(static=True)
    eps: float = field(static=True)
    use_weight: bool = field(static=True)
    use_bias: bool = field(static=True)

    def __init__(self, shape, eps: float = 1e-5, use_weight: bool = True,
                 use_bias: bool = True, dtype=None, *, elementwise_affine: bool | None = None):
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        if elementwise_affine is not None:
            use_weight = use_bias = elementwise_affine
        dtype = default_floating_dtype() if dtype is None else dtype
        self.shape, self.eps = shape, eps
        self.use_weight, self.use_bias = use_weight, use_bias
        self.weight = jnp.ones(shape, dtype=dtype) if use_weight else None
        self.bias = jnp.zeros(shape, dtype=dtype) if use_bias else None

    def __call__(self, x, state=_sentinel, *, key=None):
        if jnp.shape(x) != self.shape:
            raise ValueError(f"LayerNorm{self.shape} got an input of shape {jnp.shape(x)}; "
                             "it normalises one example: use jax.vmap(layer)(xs) for a "
                             "batch.")
        mean = jnp.mean(x, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), keepdims=True)
        out = (x - mean) * lax.rsqrt(jnp.maximum(var, 0.0) + self.eps)
        if self.weight is not None:
            out = out * self.weight
        if self.bias is not None:
            out = out + self.bias
        return _with_state(out, state)


class RMSNorm(Module):
    """``x / sqrt(mean(x**2) + eps) * weight + bias`` over the whole input."""

    weight: Any
    bias: Any
    shape: tuple = field(static=True)
    eps: float = field(static=True)
    use_weight: bool = field(static=True)
    use_bias: bool = field(static=True)

    def __init__(self, shape, eps: float = 1e-5, use_weight: bool = True,
                 use_bias: bool = True, dtype=None):
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        dtype = default_floating_dtype() if dtype is None else dtype
        self.shape, self.eps = shape, eps
        self.use_weight, self.use_bias = use_weight, use_bias
        self.weight = jnp.ones(shape, dtype=dtype) if use_weight else None
        self.bias = jnp.zeros(shape, dtype=dtype) if use_bias else None

    def __call__(self, x, state=_sentinel, *, key=None):
        if jnp.shape(x) != self.shape:
            raise ValueError(f"RMSNorm{self.shape} got an input of shape {jnp.shape(x)}.")
        out = x * lax.rsqrt(jnp.mean(jnp.square(x)) + self.eps)
        if self.weight is not None:
            out = out * self.weight
        if self.bias is not None:
            out = out + self.bias
        return _with_state(out, state)


class GroupNorm(Module):
    """Split the channels of a ``(C, *spatial)`` input in ``groups`` and normalise each
    group; then a per-channel affine map."""

    weight: Any
    bias: Any
    groups: int = field(static=True)
    channels: int | None = field(static=True)
    eps: float = field(static=True)
    channelwise_affine: bool = field(static=True)

    def __init__(self, groups: int, channels: int | None = None, eps: float = 1e-5,
                 channelwise_affine: bool = True, dtype=None):
        if channels is not None and channels % groups:
            raise ValueError(f"GroupNorm: channels ({channels}) must be divisible by "
                             f"groups ({groups}).")
        if channels is None and channelwise_affine:
            raise ValueError("GroupNorm: pass channels= when channelwise_affine=True.")
        dtype = default_floating_dtype() if dtype is None else dtype
        self.groups, self.channels, self.eps = groups, channels, eps
        self.channelwise_affine = channelwise_affine
        self.weight = jnp.ones(channels, dtype=dtype) if channelwise_affine else None
        self.bias = jnp.zeros(channels, dtype=dtype) if channelwise_affine else None

    def __call__(self, x, state=_sentinel, *, key=None):
        channels = x.shape[0]
        if channels % self.groups:
            raise ValueError(f"GroupNorm: {channels} channels are not divisible by "
                             f"{self.groups} groups.")
        y = x.reshape(self.groups, -1)
        mean = jnp.mean(y, axis=1, keepdims=True)
        var = jnp.var(y, axis=1, keepdims=True)
        out = ((y - mean) * lax.rsqrt(var + self.eps)).reshape(x.shape)
        if self.channelwise_affine:
            shape = (channels,) + (1,) * (x.ndim - 1)
            out = out * self.weight.reshape(shape) + self.bias.reshape(shape)
        return _with_state(out, state)


class BatchNorm(StatefulLayer):
    """Batch normalisation over a named (vmapped) batch axis, with running statistics in
    the State: ``y, state = jax.vmap(bn, axis_name="batch", in_axes=(0, None),
    out_axes=(0, None))(xs, state)``.

    ``mode="ema"`` (the default): training normalises with the exponential moving average
    of the batch statistics (first call: the batch statistics) and updates it;
    ``mode="batch"``: training normalises with the batch statistics and updates a
    debiased running average, used in inference. ``inference=True`` (or
    ``nn.inference_mode``) uses the running statistics and leaves the state unchanged.
    """

    weight: Any
    bias: Any
    ema_first_time_index: Any
    ema_state_index: Any
    batch_counter: Any
    batch_state_index: Any
    inference: bool
    axis_name: Any = field(static=True)
    input_size: int = field(static=True)
    eps: float = field(static=True)
    channelwise_affine: bool = field(static=True)
    momentum: float = field(static=True)
    mode: str = field(static=True)

    def __init__(self, input_size: int, axis_name: Hashable | Sequence[Hashable],
                 eps: float = 1e-5, channelwise_affine: bool = True, momentum: float = 0.99,
                 inference: bool = False, dtype=None, mode: str = "ema"):
        if mode == "legacy":
            mode = "ema"
        if mode not in ("ema", "batch"):
            raise ValueError(f"BatchNorm: mode must be 'ema' or 'batch'; got {mode!r}.")
        dtype = default_floating_dtype() if dtype is None else dtype
        self.weight = jnp.ones((input_size,), dtype) if channelwise_affine else None
        self.bias = jnp.zeros((input_size,), dtype) if channelwise_affine else None
        if mode == "ema":
            self.ema_first_time_index = StateIndex(jnp.array(True))
            self.ema_state_index = StateIndex((jnp.zeros((input_size,), dtype),
                                               jnp.zeros((input_size,), dtype)))
            self.batch_counter = self.batch_state_index = None
        else:
            self.batch_counter = StateIndex(jnp.array(0))
            self.batch_state_index = StateIndex((jnp.zeros((input_size,), dtype),
                                                 jnp.ones((input_size,), dtype)))
            self.ema_first_time_index = self.ema_state_index = None
        self.mode, self.inference, self.axis_name = mode, inference, axis_name
        self.input_size, self.eps = input_size, eps
        self.channelwise_affine, self.momentum = channelwise_affine, momentum

    def __call__(self, x, state: State, *, key=None, inference: bool | None = None):
        if x.shape[0] != self.input_size:
            raise ValueError(f"BatchNorm({self.input_size}) got an input with "
                             f"{x.shape[0]} channels (shape {x.shape}); the input is one "
                             "channel-first example, vmapped with axis_name.")
        if inference is None:
            inference = self.inference
        axes = tuple(range(1, x.ndim))

        def stats(y):
            mean = lax.pmean(jnp.mean(y, axis=axes), self.axis_name)
            var = lax.pmean(jnp.mean(jnp.square(y - mean.reshape(mean.shape + (1,) * len(axes))),
                                     axis=axes), self.axis_name)
            return mean, jnp.maximum(var, 0.0)

        m = self.momentum
        if self.mode == "ema":
            if inference:
                mean, var = state.get(self.ema_state_index)
            else:
                first = state.get(self.ema_first_time_index)
                state = state.set(self.ema_first_time_index, jnp.array(False))
                batch_mean, batch_var = stats(x)
                run_mean, run_var = state.get(self.ema_state_index)
                mean = jnp.where(first, batch_mean, (1 - m) * batch_mean + m * run_mean)
                var = jnp.where(first, batch_var, (1 - m) * batch_var + m * run_var)
                state = state.set(self.ema_state_index, (mean, var))
        else:
            counter = state.get(self.batch_counter)
            hidden_mean, hidden_var = state.get(self.batch_state_index)
            if inference:
                scale = jnp.where(counter == 0, 1, 1 - m ** counter)
                mean, var = hidden_mean / scale, hidden_var / scale
            else:
                mean, var = stats(x)
                state = state.set(self.batch_counter, counter + 1)
                state = state.set(self.batch_state_index,
                                  (hidden_mean * m + mean * (1 - m),
                                   hidden_var * m + var * (1 - m)))
        shape = (self.input_size,) + (1,) * (x.ndim - 1)
        out = (x - mean.reshape(shape)) * lax.rsqrt(var.reshape(shape) + self.eps)
        if self.channelwise_affine:
            out = out * self.weight.reshape(shape) + self.bias.reshape(shape)
        return out, state


def _power_iteration(weight, u, v, eps):
    u = weight @ v
    u = u / jnp.maximum(eps, jnp.sqrt(jnp.sum(u ** 2)))
    v = weight.T @ u
    v = v / jnp.maximum(eps, jnp.sqrt(jnp.sum(v ** 2)))
    return u, v


class SpectralNorm(StatefulLayer):
    """Wraps a layer so that its weight ``W`` is used as ``W / sigma(W)``, with
    ``sigma`` (the largest singular value) estimated by power iterations kept in the
    State and advanced on each training call (Miyato et al. 2018, "Spectral
    Normalization for Generative Adversarial Networks")."""

    layer: Any
    uv_index: Any
    inference: bool
    weight_name: str = field(static=True)
    num_power_iterations: int = field(static=True)
    eps: float = field(static=True)

    def __init__(self, layer, weight_name: str, num_power_iterations: int = 1,
                 eps: float = 1e-12, inference: bool = False, *, key):
        weight = getattr(layer, weight_name)
        if weight.ndim < 2:
            raise ValueError(f"SpectralNorm: {weight_name} must have at least 2 "
                             f"dimensions; got shape {weight.shape}.")
        w = jnp.reshape(weight, (weight.shape[0], -1))
        ukey, vkey = jr.split(key)
        u = jr.normal(ukey, (w.shape[0],), dtype=w.dtype)
        v = jr.normal(vkey, (w.shape[1],), dtype=w.dtype)
        for _ in range(15):
            u, v = _power_iteration(w, u, v, eps)
        self.layer, self.weight_name = layer, weight_name
        self.num_power_iterations, self.eps, self.inference = num_power_iterations, eps, \
            inference
        self.uv_index = StateIndex((u, v))

    def __call__(self, x, state: State, *, key=None, inference: bool | None = None):
        u, v = state.get(self.uv_index)
        weight = getattr(self.layer, self.weight_name)
        shape = weight.shape
        w = jnp.reshape(weight, (shape[0], -1))
        if inference is None:
            inference = self.inference
        if not inference:
            stop_w = lax.stop_gradient(w)
            for _ in range(self.num_power_iterations):
                u, v = _power_iteration(stop_w, u, v, self.eps)
            state = state.set(self.uv_index, (u, v))
        sigma = jnp.einsum("i,ij,j->", u, w, v)
        layer = tree_at(lambda m: getattr(m, self.weight_name), self.layer,
                        jnp.reshape(w / sigma, shape))
        return layer(x), state


def _norm_except_axis(v, axis):
    axes = tuple(i for i in range(v.ndim) if i != axis % v.ndim)
    return jnp.sqrt(jnp.sum(jnp.square(v), axis=axes, keepdims=True))


class WeightNorm(Module):
    """Reparametrises a layer's weight as ``g * v / ||v||`` (norm over all axes but
    ``axis``), training the direction ``v`` and the length ``g`` separately (Salimans &
    Kingma 2016)."""

    layer: Any
    g: Any
    weight_name: str = field(static=True)
    axis: int | None = field(static=True)

    def __init__(self, layer, weight_name: str = "weight", axis: int | None = 0):
        weight = getattr(layer, weight_name)
        self.layer, self.weight_name, self.axis = layer, weight_name, axis
        self.g = (jnp.sqrt(jnp.sum(jnp.square(weight))) if axis is None
                  else _norm_except_axis(weight, axis))

    def _weight(self):
        v = getattr(self.layer, self.weight_name)
        norm = (jnp.sqrt(jnp.sum(jnp.square(v))) if self.axis is None
                else _norm_except_axis(v, self.axis))
        return v * (self.g / norm)

    def __call__(self, x, *, key=None):
        layer = tree_at(lambda m: getattr(m, self.weight_name), self.layer, self._weight())
        return layer(x)
