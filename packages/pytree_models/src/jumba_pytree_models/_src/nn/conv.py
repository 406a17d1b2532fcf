"""Convolutions (Conv, ConvTranspose and their 1/2/3-d aliases) and pooling.

Layout as Equinox: one unbatched example is channel-first, ``(channels, *spatial)``;
kernels are ``(out_channels, in_channels // groups, *kernel_size)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import jumba.lax as lax
import jumba.numpy as jnp
import jumba.random as jr
from jumba_pytree_models._src.module import Module, field
from jumba_pytree_models._src.nn.basic import default_floating_dtype, default_init

__all__ = [
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "AdaptivePool", "AvgPool1d", "AvgPool2d",
    "AvgPool3d", "Conv", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose", "ConvTranspose1d",
    "ConvTranspose2d", "ConvTranspose3d", "MaxPool1d", "MaxPool2d", "MaxPool3d", "Pool",
]


def _ntuple(x, n, name):
    if isinstance(x, int):
        return (x,) * n
    x = tuple(x)
    if len(x) != n:
        raise ValueError(f"{name} must be an int or a sequence of {n} ints; got {x!r}.")
    return x


def _padding_init(padding, n):
    if isinstance(padding, str):
        padding = padding.upper()
        if padding not in ("SAME", "SAME_LOWER", "VALID"):
            raise ValueError("padding must be 'SAME', 'SAME_LOWER', 'VALID', an int, n "
                             f"ints or n (low, high) pairs; got {padding!r}.")
        return padding
    if isinstance(padding, int):
        return ((padding, padding),) * n
    padding = tuple(padding)
    if len(padding) != n:
        raise ValueError(f"padding must have {n} entries (one per spatial dimension); got "
                         f"{padding!r}.")
    if all(isinstance(p, Sequence) for p in padding):
        return tuple((int(lo), int(hi)) for lo, hi in padding)
    return tuple((int(p), int(p)) for p in padding)


def _same_pads(in_shape, kernel, stride, dilation, lower):
    pads = []
    for n, k, s, d in zip(in_shape, kernel, stride, dilation):
        out = -(-n // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        lo = (total + 1) // 2 if lower else total // 2
        pads.append((lo, total - lo))
    return tuple(pads)


_PAD_MODES = {"ZEROS": "constant", "REFLECT": "reflect", "REPLICATE": "edge",
              "CIRCULAR": "wrap"}


def _check_rank(x, n, name, channels):
    if jnp.ndim(x) != n + 1:
        raise ValueError(f"{name} expects one example of shape ({channels}, <{n} spatial "
                         f"dims>) (channel-first); got shape {jnp.shape(x)}. Map over a "
                         "batch with jax.vmap(layer)(xs).")


class Conv(Module):
    """An n-d convolution of one channel-first example.

    Args:
        num_spatial_dims: n.
        in_channels, out_channels: channel counts.
        kernel_size, stride, dilation: ints or n ints.
        padding: int, n ints, n (low, high) pairs, or 'SAME' / 'SAME_LOWER' / 'VALID'.
        groups: feature groups (``in_channels`` and ``out_channels`` divisible by it).
        use_bias: add a per-channel bias.
        padding_mode: 'ZEROS', 'REFLECT', 'REPLICATE' or 'CIRCULAR'.
        key: PRNG key. Weights and bias ~ uniform(+-1/sqrt(in_channels/groups * prod(k))).
    """

    weight: Any
    bias: Any
    num_spatial_dims: int = field(static=True)
    in_channels: int = field(static=True)
    out_channels: int = field(static=True)
    kernel_size: tuple = field(static=True)
    stride: tuple = field(static=True)
    padding: Any = field(static=True)
    dilation: tuple = field(static=True)
    groups: int = field(static=True)
    use_bias: bool = field(static=True)
    padding_mode: str = field(static=True)

    def __init__(self, num_spatial_dims, in_channels, out_channels, kernel_size, stride=1,
                 padding=0, dilation=1, groups=1, use_bias=True, padding_mode="ZEROS",
                 dtype=None, *, key):
        n = num_spatial_dims
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must be divisible by groups ({groups}).")
        padding_mode = padding_mode.upper()
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"Conv: padding_mode must be one of {sorted(_PAD_MODES)}; got "
                             f"{padding_mode!r}.")
        dtype = default_floating_dtype() if dtype is None else dtype
        kernel_size = _ntuple(kernel_size, n, "kernel_size")
        wkey, bkey = jr.split(key, 2)
        grouped = in_channels // groups
        lim = 1 / math.sqrt(grouped * math.prod(kernel_size))
        self.weight = default_init(wkey, (out_channels, grouped) + kernel_size, dtype, lim)
        self.bias = (default_init(bkey, (out_channels,) + (1,) * n, dtype, lim)
                     if use_bias else None)
        self.num_spatial_dims = n
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = kernel_size
        self.stride = _ntuple(stride, n, "stride")
        self.padding = _padding_init(padding, n)
        self.dilation = _ntuple(dilation, n, "dilation")
        self.groups = groups
        self.use_bias = use_bias
        self.padding_mode = padding_mode

    def __call__(self, x, *, key=None):
        _check_rank(x, self.num_spatial_dims, type(self).__name__, self.in_channels)
        padding = self.padding
        if self.padding_mode != "ZEROS":
            if isinstance(padding, str):
                padding = ((0, 0),) * self.num_spatial_dims if padding == "VALID" else \
                    _same_pads(x.shape[1:], self.kernel_size, self.stride, self.dilation,
                               padding == "SAME_LOWER")
            x = jnp.pad(x, ((0, 0),) + tuple(padding), mode=_PAD_MODES[self.padding_mode])
            padding = "VALID"
        y = lax.conv_general_dilated(x[None], self.weight, window_strides=self.stride,
                                     padding=padding, rhs_dilation=self.dilation,
                                     feature_group_count=self.groups)[0]
        if self.bias is not None:
            y = y + self.bias
        return y


class ConvTranspose(Module):
    """An n-d transposed convolution (the gradient of ``Conv`` with the same settings,
    up to the kernel's orientation, as in Equinox).

    Args:
        output_padding: extra size at the high end of each output dimension (< stride).
        padding: the padding of the equivalent forward ``Conv``.
        padding_mode: 'ZEROS' (or 'CIRCULAR' with 'SAME' padding).
        (the rest as :class:`Conv`).
    """

    weight: Any
    bias: Any
    num_spatial_dims: int = field(static=True)
    in_channels: int = field(static=True)
    out_channels: int = field(static=True)
    kernel_size: tuple = field(static=True)
    stride: tuple = field(static=True)
    padding: Any = field(static=True)
    output_padding: tuple = field(static=True)
    dilation: tuple = field(static=True)
    groups: int = field(static=True)
    use_bias: bool = field(static=True)
    padding_mode: str = field(static=True)

    def __init__(self, num_spatial_dims, in_channels, out_channels, kernel_size, stride=1,
                 output_padding=0, padding=0, dilation=1, groups=1, use_bias=True,
                 padding_mode="ZEROS", dtype=None, *, key):
        n = num_spatial_dims
        dtype = default_floating_dtype() if dtype is None else dtype
        kernel_size = _ntuple(kernel_size, n, "kernel_size")
        stride = _ntuple(stride, n, "stride")
        output_padding = _ntuple(output_padding, n, "output_padding")
        if any(o >= s for o, s in zip(output_padding, stride)):
            raise ValueError("ConvTranspose: output_padding must be smaller than stride "
                             f"(elementwise); got {output_padding} and {stride}.")
        padding_mode = padding_mode.upper()
        padding = _padding_init(padding, n)
        if padding_mode not in ("ZEROS", "CIRCULAR"):
            raise NotImplementedError(f"ConvTranspose: padding_mode {padding_mode!r} is "
                                      "not implemented; use 'ZEROS' or 'CIRCULAR'.")
        if padding_mode == "CIRCULAR" and (padding not in ("SAME", "SAME_LOWER")
                                           or any(output_padding)):
            raise NotImplementedError("ConvTranspose: padding_mode='CIRCULAR' needs "
                                      "padding='SAME' or 'SAME_LOWER' and output_padding=0.")
        wkey, bkey = jr.split(key, 2)
        grouped = in_channels // groups
        lim = 1 / math.sqrt(grouped * math.prod(kernel_size))
        self.weight = default_init(wkey, (out_channels, grouped) + kernel_size, dtype, lim)
        self.bias = (default_init(bkey, (out_channels,) + (1,) * n, dtype, lim)
                     if use_bias else None)
        self.num_spatial_dims = n
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = kernel_size, stride
        self.padding, self.output_padding = padding, output_padding
        self.dilation = _ntuple(dilation, n, "dilation")
        self.groups, self.use_bias, self.padding_mode = groups, use_bias, padding_mode

    def _padding_transpose(self):
        k, s = np.asarray(self.kernel_size), np.asarray(self.stride)
        a, d = np.asarray(self.output_padding), np.asarray(self.dilation)
        if isinstance(self.padding, str):
            if self.padding == "VALID":
                p0 = p1 = np.zeros(len(k), np.int64)
            else:
                total = d * (k - 1) - s + a + 1
                a = np.where(total < 0, -total, 0)
                total = np.maximum(total, 0)
                p0 = (total + (1 if self.padding == "SAME_LOWER" else 0)) // 2
                p1 = total - p0
        else:
            p0 = np.asarray(self.padding)[:, 0]
            p1 = np.asarray(self.padding)[:, 1]
        # Relationship 14 of Dumoulin & Visin, "A guide to convolution arithmetic".
        lo, hi = d * (k - 1) - p0, d * (k - 1) - p1 + a
        return tuple((int(x), int(y)) for x, y in zip(lo, hi))

    def __call__(self, x, *, key=None):
        _check_rank(x, self.num_spatial_dims, type(self).__name__, self.in_channels)
        pads = self._padding_transpose()
        if self.padding_mode == "CIRCULAR":
            s = self.stride
            x = jnp.pad(x, ((0, 0),) + tuple((lo // st, hi // st)
                                              for (lo, hi), st in zip(pads, s)), mode="wrap")
            pads = tuple((lo % st, hi % st) for (lo, hi), st in zip(pads, s))
        y = lax.conv_general_dilated(x[None], self.weight,
                                     window_strides=(1,) * self.num_spatial_dims,
                                     padding=pads, lhs_dilation=self.stride,
                                     rhs_dilation=self.dilation,
                                     feature_group_count=self.groups)[0]
        if self.bias is not None:
            y = y + self.bias
        return y


def _fixed_dims(base, n):
    class Fixed(base):
        def __init__(self, in_channels, out_channels, kernel_size, *args, **kwargs):
            super().__init__(n, in_channels, out_channels, kernel_size, *args, **kwargs)

    return Fixed


class Conv1d(_fixed_dims(Conv, 1)):
    """:class:`Conv` with ``num_spatial_dims=1``: input ``(C, W)``."""


class Conv2d(_fixed_dims(Conv, 2)):
    """:class:`Conv` with ``num_spatial_dims=2``: input ``(C, H, W)``."""


class Conv3d(_fixed_dims(Conv, 3)):
    """:class:`Conv` with ``num_spatial_dims=3``: input ``(C, D, H, W)``."""


class ConvTranspose1d(_fixed_dims(ConvTranspose, 1)):
    """:class:`ConvTranspose` with ``num_spatial_dims=1``."""


class ConvTranspose2d(_fixed_dims(ConvTranspose, 2)):
    """:class:`ConvTranspose` with ``num_spatial_dims=2``."""


class ConvTranspose3d(_fixed_dims(ConvTranspose, 3)):
    """:class:`ConvTranspose` with ``num_spatial_dims=3``."""


# --------------------------------------------------------------------------------------
# Pooling


class Pool(Module):
    """A windowed reduction of one channel-first example.

    Args:
        init: the reduction's initial value (also the padding value).
        operation: ``lax.max``, ``lax.add``, ``lax.min`` or another binary function.
        num_spatial_dims, kernel_size, stride, padding: as for :class:`Conv` (no strings).
        use_ceil: round the output size up (extra padding at the high end).
    """

    init: Any
    operation: Callable
    num_spatial_dims: int = field(static=True)
    kernel_size: tuple = field(static=True)
    stride: tuple = field(static=True)
    padding: tuple = field(static=True)
    use_ceil: bool = field(static=True)

    def __init__(self, init, operation, num_spatial_dims, kernel_size, stride=1, padding=0,
                 use_ceil=False):
        n = num_spatial_dims
        self.init, self.operation = init, operation
        self.num_spatial_dims = n
        self.kernel_size = _ntuple(kernel_size, n, "kernel_size")
        self.stride = _ntuple(stride, n, "stride")
        if isinstance(padding, str):
            raise ValueError("Pool: padding must be an int, n ints or n (low, high) pairs.")
        self.padding = _padding_init(padding, n)
        self.use_ceil = use_ceil

    def _pads(self, shape):
        if not self.use_ceil:
            return self.padding
        out = []
        for size, (lo, hi), k, s in zip(shape, self.padding, self.kernel_size, self.stride):
            out.append((lo, hi) if (size + lo + hi - k) % s == 0 else (lo, hi + s))
        return tuple(out)

    def __call__(self, x, *, key=None):
        _check_rank(x, self.num_spatial_dims, type(self).__name__, "channels")
        pads = self._pads(x.shape[1:])
        for (lo, hi), k in zip(pads, self.kernel_size):
            if max(lo, hi) > k:
                raise ValueError(f"{type(self).__name__}: padding {(lo, hi)} is larger "
                                 f"than the kernel size {k}.")
        return lax.reduce_window(x, self.init, self.operation, (1,) + self.kernel_size,
                                 (1,) + self.stride, ((0, 0),) + pads)


def _pool_class(n, kind):
    class P(Pool):
        def __init__(self, kernel_size, stride=1, padding=0, use_ceil=False):
            if kind == "max":
                super().__init__(-jnp.inf, lax.max, n, kernel_size, stride, padding,
                                 use_ceil)
            else:
                super().__init__(0, lax.add, n, kernel_size, stride, padding, use_ceil)

        if kind == "avg":
            def __call__(self, x, *, key=None):
                return Pool.__call__(self, x) / math.prod(self.kernel_size)

    return P


class MaxPool1d(_pool_class(1, "max")):
    """Max over windows of a ``(C, W)`` input."""


class MaxPool2d(_pool_class(2, "max")):
    """Max over windows of a ``(C, H, W)`` input."""


class MaxPool3d(_pool_class(3, "max")):
    """Max over windows of a ``(C, D, H, W)`` input."""


class AvgPool1d(_pool_class(1, "avg")):
    """Mean over windows (padding counted) of a ``(C, W)`` input."""


class AvgPool2d(_pool_class(2, "avg")):
    """Mean over windows (padding counted) of a ``(C, H, W)`` input."""


class AvgPool3d(_pool_class(3, "avg")):
    """Mean over windows (padding counted) of a ``(C, D, H, W)`` input."""


def _adaptive_1d(x, axis, target, op):
    """Reduce `axis` of `x` to `target` bins: the first size % target bins are one element
    longer than the rest (as Equinox)."""
    x = jnp.moveaxis(x, axis, -1)
    size = x.shape[-1]
    base, extra = divmod(size, target)
    if base == 0:
        raise ValueError(f"AdaptivePool: target size {target} is larger than the input "
                         f"size {size}.")
    lead = x.shape[:-1]
    parts = []
    if extra:
        head = x[..., :extra * (base + 1)].reshape(lead + (extra, base + 1))
        parts.append(op(head, axis=-1))
    tail = x[..., extra * (base + 1):].reshape(lead + (target - extra, base))
    parts.append(op(tail, axis=-1))
    y = parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=-1)
    return jnp.moveaxis(y, -1, axis)


class AdaptivePool(Module):
    """Pools a ``(C, *spatial)`` input to ``(C, *target_shape)`` with ``operation``
    (``jnp.mean`` or ``jnp.max``, taking ``axis=``), splitting each dimension in bins."""

    operation: Callable
    target_size: tuple = field(static=True)
    num_spatial_dims: int = field(static=True)

    def __init__(self, target_size, num_spatial_dims, operation):
        self.target_size = _ntuple(target_size, num_spatial_dims, "target_size")
        self.num_spatial_dims = num_spatial_dims
        self.operation = operation

    def __call__(self, x, *, key=None):
        _check_rank(x, self.num_spatial_dims, type(self).__name__, "channels")
        for i, t in enumerate(self.target_size):
            x = _adaptive_1d(x, i + 1, t, self.operation)
        return x


def _adaptive_class(n, op):
    class A(AdaptivePool):
        def __init__(self, target_shape):
            super().__init__(target_shape, n, op)

    return A


class AdaptiveAvgPool1d(_adaptive_class(1, jnp.mean)):
    """Adaptive mean pooling of a ``(C, W)`` input."""


class AdaptiveAvgPool2d(_adaptive_class(2, jnp.mean)):
    """Adaptive mean pooling of a ``(C, H, W)`` input."""


class AdaptiveAvgPool3d(_adaptive_class(3, jnp.mean)):
    """Adaptive mean pooling of a ``(C, D, H, W)`` input."""


class AdaptiveMaxPool1d(_adaptive_class(1, jnp.max)):
    """Adaptive max pooling of a ``(C, W)`` input."""


class AdaptiveMaxPool2d(_adaptive_class(2, jnp.max)):
    """Adaptive max pooling of a ``(C, H, W)`` input."""


class AdaptiveMaxPool3d(_adaptive_class(3, jnp.max)):
    """Adaptive max pooling of a ``(C, D, H, W)`` input."""
