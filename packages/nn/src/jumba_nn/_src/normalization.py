"""Normalisation layers and Dropout.

BatchNorm keeps running statistics in the "batch_stats" collection. Training updates them, so
the collection must be mutable::

    variables = model.init(key, x)                       # {"params": ..., "batch_stats": ...}
    y, updates = model.apply(variables, x, train=True, mutable=["batch_stats"])
    variables = {"params": params, "batch_stats": updates["batch_stats"]}
    y = model.apply(variables, x, train=False)           # eval: running averages, no mutation
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jumba.lax as lax
import jumba.numpy as jnp
import jumba.random as jr
from jumba.nn import initializers
from jumba_nn import functional as F
from jumba_nn._src.linear import promote_dtype
from jumba_nn._src.module import Module, compact, merge_param

Dtype = Any
Axes = int | Sequence[int]


def _canon_axes(ndim: int, axes: Axes) -> tuple[int, ...]:
    axes = (axes,) if isinstance(axes, int) else tuple(axes)
    return tuple(sorted({a % ndim for a in axes}))


def _feature_params(module, x, feature_axes, use_scale, use_bias, scale_init, bias_init,
                    param_dtype):
    """Creates scale/bias over ``feature_axes`` and reshapes them to broadcast against x."""
    shape = [x.shape[a] for a in feature_axes]
    bshape = [1] * x.ndim
    for a in feature_axes:
        bshape[a] = x.shape[a]
    scale = bias = None
    if use_scale:
        scale = jnp.reshape(module.param("scale", scale_init, tuple(shape), param_dtype), bshape)
    if use_bias:
        bias = jnp.reshape(module.param("bias", bias_init, tuple(shape), param_dtype), bshape)
    return scale, bias


class LayerNorm(Module):
    """Layer normalisation (Ba et al., 2016) over ``reduction_axes`` (default the last).

    Attributes:
      epsilon: added to the variance (default 1e-6).
      use_bias, use_scale: learn ``bias`` (zeros) and ``scale`` (ones) over ``feature_axes``.
      reduction_axes: axes of the statistics.
      feature_axes: axes of the learned scale and bias.
      use_fast_variance: ``E[x^2] - E[x]^2`` (one pass) instead of ``E[(x - mean)^2]``.
    """

    epsilon: float = 1e-6
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Callable = initializers.zeros
    scale_init: Callable = initializers.ones
    reduction_axes: Axes = -1
    feature_axes: Axes = -1
    axis_name: str | None = None
    axis_index_groups: Any = None
    use_fast_variance: bool = True

    @compact
    def __call__(self, x, *, mask=None):
        _no_axis_name(self, mask)
        fa = _canon_axes(x.ndim, self.feature_axes)
        scale, bias = _feature_params(self, x, fa, self.use_scale, self.use_bias,
                                      self.scale_init, self.bias_init, self.param_dtype)
        x, scale, bias = promote_dtype(x, scale, bias, dtype=self.dtype)
        return F.layer_norm(x, scale, bias, reduction_axes=self.reduction_axes,
                            epsilon=self.epsilon, use_fast_variance=self.use_fast_variance)


class RMSNorm(Module):
    """Root-mean-square normalisation (Zhang & Sennrich, 2019): ``x / rms(x) * scale``.

    Attributes:
      epsilon: default 1e-6.
      use_scale: learn ``scale`` (ones) over ``feature_axes``.
      reduction_axes, feature_axes: as in ``LayerNorm``.
    """

    epsilon: float = 1e-6
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32
    use_scale: bool = True
    scale_init: Callable = initializers.ones
    reduction_axes: Axes = -1
    feature_axes: Axes = -1
    axis_name: str | None = None
    axis_index_groups: Any = None

    @compact
    def __call__(self, x, *, mask=None):
        _no_axis_name(self, mask)
        fa = _canon_axes(x.ndim, self.feature_axes)
        scale, _ = _feature_params(self, x, fa, self.use_scale, False, self.scale_init, None,
                                   self.param_dtype)
        x, scale = promote_dtype(x, scale, dtype=self.dtype)
        return F.rms_norm(x, scale, reduction_axes=self.reduction_axes, epsilon=self.epsilon)


class GroupNorm(Module):
    """Group normalisation (Wu & He, 2018): features split into groups, each normalised.

    Attributes:
      num_groups: number of groups (default 32), or None when ``group_size`` is given.
      group_size: features per group (give this or ``num_groups``, not both).
      epsilon: default 1e-6.
      use_bias, use_scale, bias_init, scale_init: learned ``(features,)`` parameters.
      reduction_axes: axes of the statistics besides the group; default all but the first.
    """

    num_groups: int | None = 32
    group_size: int | None = None
    epsilon: float = 1e-6
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Callable = initializers.zeros
    scale_init: Callable = initializers.ones
    reduction_axes: Axes | None = None
    axis_name: str | None = None
    axis_index_groups: Any = None
    use_fast_variance: bool = True

    @compact
    def __call__(self, x, *, mask=None):
        _no_axis_name(self, mask)
        c = x.shape[-1]
        if (self.num_groups is None) == (self.group_size is None):
            raise ValueError("GroupNorm: give either num_groups or group_size (set the other "
                             f"to None); got num_groups={self.num_groups}, "
                             f"group_size={self.group_size}.")
        groups = self.num_groups if self.group_size is None else c // self.group_size
        if self.group_size is not None and c % self.group_size:
            raise ValueError(f"GroupNorm: {c} features are not divisible by group_size "
                             f"{self.group_size}.")
        scale, bias = _feature_params(self, x, (x.ndim - 1,), self.use_scale, self.use_bias,
                                      self.scale_init, self.bias_init, self.param_dtype)
        x, scale, bias = promote_dtype(x, scale, bias, dtype=self.dtype)
        red = None if self.reduction_axes is None else _canon_axes(x.ndim, self.reduction_axes)
        return F.group_norm(x, groups, scale, bias, epsilon=self.epsilon, reduction_axes=red,
                            use_fast_variance=self.use_fast_variance)


class InstanceNorm(Module):
    """Instance normalisation: each example and feature normalised over the other axes.

    Attributes:
      epsilon: default 1e-6.
      feature_axes: axes kept apart (default the last); the batch axis 0 is always kept.
      use_bias, use_scale, bias_init, scale_init: learned parameters over ``feature_axes``.
    """

    epsilon: float = 1e-6
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Callable = initializers.zeros
    scale_init: Callable = initializers.ones
    feature_axes: Axes = -1
    axis_name: str | None = None
    axis_index_groups: Any = None
    use_fast_variance: bool = True

    @compact
    def __call__(self, x, *, mask=None):
        _no_axis_name(self, mask)
        fa = _canon_axes(x.ndim, self.feature_axes)
        red = tuple(a for a in range(1, x.ndim) if a not in fa)
        scale, bias = _feature_params(self, x, fa, self.use_scale, self.use_bias,
                                      self.scale_init, self.bias_init, self.param_dtype)
        x, scale, bias = promote_dtype(x, scale, bias, dtype=self.dtype)
        return F.layer_norm(x, scale, bias, reduction_axes=red, epsilon=self.epsilon,
                            use_fast_variance=self.use_fast_variance)


class BatchNorm(Module):
    """Batch normalisation (Ioffe & Szegedy, 2015) with running statistics.

    In training (``use_running_average=False``) it normalises with the batch's mean and
    variance and, outside ``init``, updates ``batch_stats`` ``{"mean", "var"}``:
    ``ra = momentum * ra + (1 - momentum) * batch_stat``. This writes a variable, so apply
    must be given ``mutable=["batch_stats"]`` and returns the update::

        y, updates = model.apply(variables, x, mutable=["batch_stats"])

    In evaluation (``use_running_average=True``) it normalises with the running averages.

    Attributes:
      use_running_average: eval mode; may instead be passed at call time.
      axis: the feature axis (or axes), default -1.
      momentum: default 0.99.
      epsilon: default 1e-5.
      use_bias, use_scale, bias_init, scale_init: learned ``(features,)`` parameters.
    """

    use_running_average: bool | None = None
    axis: int | Sequence[int] = -1
    momentum: float = 0.99
    epsilon: float = 1e-5
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32
    use_bias: bool = True
    use_scale: bool = True
    bias_init: Callable = initializers.zeros
    scale_init: Callable = initializers.ones
    axis_name: str | None = None
    axis_index_groups: Any = None
    use_fast_variance: bool = True

    @compact
    def __call__(self, x, use_running_average: bool | None = None, *, mask=None):
        _no_axis_name(self, mask)
        use_ra = merge_param("use_running_average", self.use_running_average,
                             use_running_average)
        fa = _canon_axes(x.ndim, self.axis)
        red = tuple(a for a in range(x.ndim) if a not in fa)
        fshape = tuple(x.shape[a] for a in fa)
        bshape = [1] * x.ndim
        for a in fa:
            bshape[a] = x.shape[a]
        ra_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros(fshape, jnp.float32))
        ra_var = self.variable("batch_stats", "var", lambda: jnp.ones(fshape, jnp.float32))
        if use_ra:
            mean, var = ra_mean.value, ra_var.value
        else:
            mean, var = F.moments(x, red, use_fast_variance=self.use_fast_variance,
                                  keepdims=False)
            if not self.is_initializing():
                m = self.momentum
                ra_mean.value = m * ra_mean.value + (1.0 - m) * mean
                ra_var.value = m * ra_var.value + (1.0 - m) * var
        scale, bias = _feature_params(self, x, fa, self.use_scale, self.use_bias,
                                      self.scale_init, self.bias_init, self.param_dtype)
        x, scale, bias = promote_dtype(x, scale, bias, dtype=self.dtype)
        return F.batch_norm(x, jnp.reshape(mean, bshape), jnp.reshape(var, bshape), scale, bias,
                            epsilon=self.epsilon)


class Dropout(Module):
    """Zeros inputs with probability ``rate`` in training and rescales the rest.

    Attributes:
      rate: drop probability.
      broadcast_dims: axes sharing one mask.
      deterministic: True disables dropout; may instead be passed at call time.
      rng_collection: the rng stream to draw from (default "dropout").
    """

    rate: float
    broadcast_dims: Sequence[int] = ()
    deterministic: bool | None = None
    rng_collection: str = "dropout"

    @compact
    def __call__(self, inputs, deterministic: bool | None = None, rng=None):
        deterministic = merge_param("deterministic", self.deterministic, deterministic)
        if deterministic or self.rate == 0.0:
            return inputs
        if rng is None and self.rate < 1.0:
            rng = self.make_rng(self.rng_collection)
        return F.dropout(rng, inputs, self.rate, False, self.broadcast_dims)


def _no_axis_name(module, mask=None):
    if mask is not None:
        raise NotImplementedError(
            f"{type(module).__name__}(mask=...) (statistics over masked entries) is not "
            "supported; normalise without a mask.")
    if getattr(module, "axis_name", None) is not None:
        raise NotImplementedError(
            f"{type(module).__name__}(axis_name=...) (statistics across devices) is not "
            "supported; compute per-device statistics (axis_name=None).")


def _l2_normalize(x, axis=None, eps=1e-12):
    return x * lax.rsqrt(jnp.sum(lax.square(x), axis=axis, keepdims=True) + eps)


def _leaf_paths(tree, prefix=()):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _leaf_paths(v, prefix + (k,))
    else:
        yield prefix, tree


def _map_params(tree, fn, prefix=()):
    if isinstance(tree, dict):
        return {k: _map_params(v, fn, prefix + (k,)) for k, v in tree.items()}
    return fn(prefix, tree)


def _call_with_params(module, layer, transform, args, kwargs):
    """Calls ``layer`` with its params replaced by ``transform(path, value)`` (map_variables)."""
    frame = module._frame
    lpath = layer.path
    if frame.subtree("params", lpath) is None and frame.initializing:
        layer(*args, **kwargs)          # creates the layer's parameters
    orig = frame.subtree("params", lpath)
    frame.set_subtree("params", lpath, _map_params(orig, transform))
    try:
        return layer(*args, **kwargs)
    finally:
        frame.set_subtree("params", lpath, orig)


class SpectralNorm(Module):
    """Divides each >1-D parameter of ``layer_instance`` by its largest singular value.

    The singular value is estimated by power iteration; its left vector ``u`` and the estimate
    ``sigma`` live in ``collection_name`` (default "batch_stats") under
    ``"<layer>/<param path>/u"`` and ``".../sigma"``, and are updated when
    ``update_stats=True`` (then apply needs ``mutable=["batch_stats"]``).

    Attributes:
      layer_instance: the wrapped module.
      n_steps: power iterations per call.
      epsilon: numerical floor of the l2 normalisation.
    """

    layer_instance: Module
    n_steps: int = 1
    epsilon: float = 1e-12
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32
    error_on_non_matrix: bool = False
    collection_name: str = "batch_stats"

    @compact
    def __call__(self, *args, update_stats: bool, **kwargs):
        def transform(path, value):
            if value.ndim <= 1 or self.n_steps < 1:
                return value
            if value.ndim > 2 and self.error_on_non_matrix:
                raise ValueError(f"SpectralNorm: parameter {'/'.join(path)} has shape "
                                 f"{value.shape}; only matrices are allowed.")
            name = self.layer_instance.name + "/" + "/".join(path)
            mat = jnp.reshape(value, (-1, value.shape[-1]))
            if self.has_variable(self.collection_name, name + "/u"):
                u_var = self.variable(self.collection_name, name + "/u")
            else:
                key = self.make_rng("params")
                u_var = self.variable(self.collection_name, name + "/u", jr.normal, key,
                                      (1, mat.shape[-1]), self.param_dtype)
            sigma_var = self.variable(self.collection_name, name + "/sigma", jnp.ones, (),
                                      self.param_dtype)
            u = u_var.value
            v = None
            for _ in range(self.n_steps):
                v = _l2_normalize(u @ mat.T, eps=self.epsilon)
                u = _l2_normalize(v @ mat, eps=self.epsilon)
            u, v = lax.stop_gradient(u), lax.stop_gradient(v)
            sigma = (v @ mat @ u.T)[0, 0]
            if update_stats:
                u_var.value = u
                sigma_var.value = sigma
            out = mat / jnp.where(sigma != 0, sigma, 1.0)
            return jnp.reshape(out, value.shape)

        return _call_with_params(self, self.layer_instance, transform, args, kwargs)


class WeightNorm(Module):
    """Reparameterises parameters of ``layer_instance`` as ``scale * v / ||v||``.

    Norms are taken over all axes but ``feature_axes``; the learned ``scale`` lives in this
    module's params as ``"<layer>/<param path>/scale"``.

    Attributes:
      layer_instance: the wrapped module.
      epsilon: numerical floor.
      use_scale, scale_init: the learned per-feature scale (ones).
      feature_axes: axes kept (default -1); None normalises the whole parameter.
      variable_filter: only parameters whose path contains one of these strings (default
        {"kernel"}); None means all.
    """

    layer_instance: Module
    epsilon: float = 1e-12
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32
    use_scale: bool = True
    scale_init: Callable = initializers.ones
    feature_axes: Axes | None = -1
    variable_filter: Iterable[str] | None = ("kernel",)

    @compact
    def __call__(self, *args, **kwargs):
        def transform(path, value):
            name = self.layer_instance.name + "/" + "/".join(path)
            if self.variable_filter and not any(f in name for f in self.variable_filter):
                return value
            if self.feature_axes is None:
                fa = ()
            else:
                fa = _canon_axes(value.ndim, self.feature_axes)
            red = tuple(i for i in range(value.ndim) if i not in fa)
            fshape = [1] * value.ndim
            for a in fa:
                fshape[a] = value.shape[a]
            out = _l2_normalize(value, axis=red, eps=self.epsilon)
            if self.use_scale:
                scale = self.param(name + "/scale", self.scale_init,
                                   tuple(value.shape[a] for a in fa), self.param_dtype)
                out = out * jnp.reshape(scale, fshape)
            return out

        return _call_with_params(self, self.layer_instance, transform, args, kwargs)

