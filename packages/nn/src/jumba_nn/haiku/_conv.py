"""Haiku's convolutions (ConvND, Conv1D-3D, transposes, depthwise) and pooling."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import jumba.lax as lax
import jumba.numpy as jnp
from jumba_nn.haiku import _kernels, initializers
from jumba_nn.haiku._base import get_parameter
from jumba_nn.haiku._module import Module


def _replicate(value, n, what):
    if isinstance(value, int | np.integer):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise ValueError(f"{what} must be an int or a sequence of length {n}, got {value}.")
    return value


def get_channel_index(data_format: str) -> int:
    """The channel axis of a data format: -1 for "channels_last"/"NHWC"-style (C last), 1
    for "channels_first"/"NCHW"-style."""
    if data_format in ("channels_first",) or (data_format.startswith("NC") and
                                              data_format != "NC"):
        return 1
    if data_format == "channels_last" or data_format.endswith("C"):
        return -1
    raise ValueError(f"Unable to extract channel information from {data_format!r}: use "
                     f"'channels_last', 'channels_first', or a format such as 'NHWC'/'NCHW'.")


def _padding(padding, n):
    if isinstance(padding, str):
        p = padding.upper()
        if p not in ("SAME", "VALID"):
            raise ValueError(f"padding must be 'SAME', 'VALID' or (low, high) pairs, got "
                             f"{padding!r}.")
        return p
    if callable(padding):
        raise ValueError("callable paddings are not supported; give 'SAME', 'VALID' or "
                         "explicit (low, high) pairs.")
    pads = list(padding)
    if len(pads) == 1:
        pads = pads * n
    return [(int(p), int(p)) if isinstance(p, int | np.integer) else tuple(p) for p in pads]


class _ChannelsMixin:
    def _to_last(self, x):
        if self.channel_index == -1:
            return x
        return jnp.moveaxis(x, x.ndim - self.num_spatial_dims - 1, -1)

    def _from_last(self, y):
        if self.channel_index == -1:
            return y
        return jnp.moveaxis(y, -1, y.ndim - self.num_spatial_dims - 1)

    def _add_bias(self, y, channels):
        if not self.with_bias:
            return y
        # Haiku's bias is (C,) channels-last and (C, 1, ..., 1) channels-first.
        shape = (channels,) if self.channel_index == -1 else \
            (channels,) + (1,) * self.num_spatial_dims
        return y + get_parameter("b", shape, y.dtype, init=self.b_init)

    def _check_rank(self, x, name):
        n = self.num_spatial_dims
        if x.ndim not in (n + 1, n + 2):
            raise ValueError(f"hk.{name}: input of shape {x.shape} should have rank {n + 2} "
                             f"(batched) or {n + 1} (unbatched) for {n} spatial dimensions.")


class ConvND(_ChannelsMixin, Module):
    """N-D convolution. Parameters ``w`` ``(*kernel_shape, in // groups, out)``
    (``TruncatedNormal(1 / sqrt(fan_in))``) and ``b`` ``(out,)`` (zeros).

    `rate` is the kernel dilation; `mask` (same shape as ``w``) multiplies the kernel.
    """

    def __init__(self, num_spatial_dims: int, output_channels: int, kernel_shape,
                 stride=1, rate=1, padding="SAME", with_bias: bool = True, w_init=None,
                 b_init=None, data_format: str = "channels_last", mask=None,
                 feature_group_count: int = 1, name: str | None = None):
        super().__init__(name=name)
        if num_spatial_dims <= 0:
            raise ValueError("hk.ConvND: num_spatial_dims must be positive.")
        n = self.num_spatial_dims = num_spatial_dims
        self.output_channels = output_channels
        self.kernel_shape = _replicate(kernel_shape, n, "kernel_shape")
        self.stride = _replicate(stride, n, "stride")
        self.kernel_dilation = _replicate(rate, n, "rate")
        self.padding = _padding(padding, n)
        self.with_bias, self.w_init, self.b_init = with_bias, w_init, b_init or jnp.zeros
        self.data_format = data_format
        self.channel_index = get_channel_index(data_format)
        self.mask, self.feature_group_count = mask, feature_group_count

    def __call__(self, inputs, *, precision=None):
        self._check_rank(inputs, type(self).__name__)
        x = self._to_last(inputs)
        cin = x.shape[-1]
        if cin % self.feature_group_count:
            raise ValueError(f"hk.ConvND: {cin} input channels do not divide into "
                             f"feature_group_count={self.feature_group_count} groups.")
        w_shape = self.kernel_shape + (cin // self.feature_group_count, self.output_channels)
        if self.mask is not None and tuple(self.mask.shape) != w_shape:
            raise ValueError(f"hk.ConvND: mask shape {self.mask.shape} != weight shape "
                             f"{w_shape}.")
        w_init = self.w_init or initializers.TruncatedNormal(
            1.0 / np.sqrt(np.prod(w_shape[:-1])))
        w = get_parameter("w", w_shape, x.dtype, init=w_init)
        if self.mask is not None:
            w = w * self.mask
        y = _kernels.conv(x, w, None, self.stride, self.padding, 1, self.kernel_dilation,
                          self.feature_group_count, precision=precision)
        return self._add_bias(self._from_last(y), self.output_channels)


def _conv_class(n, fmt, base, doc):
    class C(base):
        __doc__ = doc

        def __init__(self, output_channels, kernel_shape, stride=1, rate=1, padding="SAME",
                     with_bias=True, w_init=None, b_init=None, data_format=fmt, mask=None,
                     feature_group_count=1, name=None):
            super().__init__(n, output_channels, kernel_shape, stride, rate, padding,
                             with_bias, w_init, b_init, data_format, mask,
                             feature_group_count, name)
    return C


class Conv1D(_conv_class(1, "NWC", ConvND, "")):
    """1-D convolution (data_format "NWC" by default)."""


class Conv2D(_conv_class(2, "NHWC", ConvND, "")):
    """2-D convolution (data_format "NHWC" by default)."""


class Conv3D(_conv_class(3, "NDHWC", ConvND, "")):
    """3-D convolution (data_format "NDHWC" by default)."""


class ConvNDTranspose(_ChannelsMixin, Module):
    """N-D transposed convolution. ``w`` is ``(*kernel_shape, out, in)`` (as Haiku), with
    ``TruncatedNormal(1 / sqrt(prod(kernel_shape) * in))``; ``b`` ``(out,)`` zeros.

    `output_shape` (spatial) may pin the output size; with "SAME" padding it defaults to
    ``input_size * stride``.
    """

    def __init__(self, num_spatial_dims: int, output_channels: int, kernel_shape, stride=1,
                 output_shape=None, padding="SAME", with_bias: bool = True, w_init=None,
                 b_init=None, data_format: str = "channels_last", mask=None,
                 name: str | None = None):
        super().__init__(name=name)
        n = self.num_spatial_dims = num_spatial_dims
        self.output_channels = output_channels
        self.kernel_shape = _replicate(kernel_shape, n, "kernel_shape")
        self.stride = _replicate(stride, n, "stride")
        self.output_shape = None if output_shape is None else _replicate(output_shape, n,
                                                                         "output_shape")
        self.padding = _padding(padding, n)
        if self.output_shape is not None and self.padding != "VALID":
            if self.padding != "SAME":
                raise ValueError("hk.ConvNDTranspose: output_shape needs padding "
                                 "'SAME' or 'VALID'.")
        self.with_bias, self.w_init, self.b_init = with_bias, w_init, b_init or jnp.zeros
        self.data_format = data_format
        self.channel_index = get_channel_index(data_format)
        self.mask = mask

    def __call__(self, inputs, *, precision=None):
        self._check_rank(inputs, type(self).__name__)
        x = self._to_last(inputs)
        cin = x.shape[-1]
        w_shape = self.kernel_shape + (self.output_channels, cin)
        w_init = self.w_init or initializers.TruncatedNormal(
            1.0 / np.sqrt(np.prod(self.kernel_shape + (cin,))))
        w = get_parameter("w", w_shape, x.dtype, init=w_init)
        if self.mask is not None:
            w = w * self.mask
        padding = self.padding
        if self.output_shape is not None:
            spatial = x.shape[-1 - self.num_spatial_dims:-1]
            padding = []
            for size, want, k, s in zip(spatial, self.output_shape, self.kernel_shape,
                                        self.stride, strict=True):
                full = (size - 1) * s + k  # a VALID transposed conv's size
                total = full - want
                if total < 0:
                    raise ValueError(f"hk.ConvNDTranspose: output_shape {self.output_shape} "
                                     f"is larger than the largest possible ({full}).")
                padding.append((k - 1 - total // 2, k - 1 - (total - total // 2)))
        kernel = jnp.swapaxes(w, -1, -2)  # the shared kernel takes (*window, in, out)
        y = _kernels.conv_transpose(x, kernel, None, self.stride, padding,
                                    precision=precision)
        return self._add_bias(self._from_last(y), self.output_channels)


def _tconv_class(n, fmt):
    class C(ConvNDTranspose):
        def __init__(self, output_channels, kernel_shape, stride=1, output_shape=None,
                     padding="SAME", with_bias=True, w_init=None, b_init=None,
                     data_format=fmt, mask=None, name=None):
            super().__init__(n, output_channels, kernel_shape, stride, output_shape, padding,
                             with_bias, w_init, b_init, data_format, mask, name)
    return C


class Conv1DTranspose(_tconv_class(1, "NWC")):
    """1-D transposed convolution."""


class Conv2DTranspose(_tconv_class(2, "NHWC")):
    """2-D transposed convolution."""


class Conv3DTranspose(_tconv_class(3, "NDHWC")):
    """3-D transposed convolution."""


class DepthwiseConvND(_ChannelsMixin, Module):
    """Depthwise convolution: each input channel convolved with `channel_multiplier`
    filters. ``w`` is ``(*kernel_shape, 1, channel_multiplier * in)`` (as Haiku)."""

    def __init__(self, channel_multiplier: int, kernel_shape, num_spatial_dims: int = 2,
                 data_format: str = "channels_last", stride=1, rate=1, padding="SAME",
                 with_bias: bool = True, w_init=None, b_init=None, name: str | None = None):
        super().__init__(name=name)
        n = self.num_spatial_dims = num_spatial_dims
        self.channel_multiplier = channel_multiplier
        self.kernel_shape = _replicate(kernel_shape, n, "kernel_shape")
        self.stride = _replicate(stride, n, "stride")
        self.rate = _replicate(rate, n, "rate")
        self.padding = _padding(padding, n)
        self.data_format = data_format
        self.channel_index = get_channel_index(data_format)
        self.with_bias, self.w_init, self.b_init = with_bias, w_init, b_init or jnp.zeros

    def __call__(self, inputs):
        self._check_rank(inputs, type(self).__name__)
        x = self._to_last(inputs)
        cin = x.shape[-1]
        cout = self.channel_multiplier * cin
        w_shape = self.kernel_shape + (1, cout)
        w_init = self.w_init or initializers.TruncatedNormal(
            1.0 / np.sqrt(np.prod(self.kernel_shape)))
        w = get_parameter("w", w_shape, x.dtype, init=w_init)
        y = _kernels.conv(x, w, None, self.stride, self.padding, 1, self.rate,
                          feature_group_count=cin)
        return self._add_bias(self._from_last(y), cout)


def _dw_class(n, fmt):
    class C(DepthwiseConvND):
        def __init__(self, channel_multiplier, kernel_shape, stride=1, rate=1, padding="SAME",
                     with_bias=True, w_init=None, b_init=None, data_format=fmt, name=None):
            super().__init__(channel_multiplier, kernel_shape, n, data_format, stride, rate,
                             padding, with_bias, w_init, b_init, name)
    return C


class DepthwiseConv1D(_dw_class(1, "NWC")):
    """1-D depthwise convolution."""


class DepthwiseConv2D(_dw_class(2, "NHWC")):
    """2-D depthwise convolution."""


class DepthwiseConv3D(_dw_class(3, "NDHWC")):
    """3-D depthwise convolution."""


class SeparableDepthwiseConv2D(Module):
    """A spatially separable depthwise 2-D convolution: a depthwise ``(k0, 1)`` kernel
    (with `channel_multiplier`, no bias) then a depthwise ``(1, k1)`` kernel."""

    def __init__(self, channel_multiplier: int, kernel_shape, stride=1, padding="SAME",
                 with_bias: bool = True, w_init=None, b_init=None,
                 data_format: str = "channels_last", name: str | None = None):
        super().__init__(name=name)
        k0, k1 = _replicate(kernel_shape, 2, "kernel_shape")
        self._conv1 = DepthwiseConv2D(channel_multiplier, (k0, 1), stride=stride,
                                      padding=padding, with_bias=False, w_init=w_init,
                                      data_format=data_format)
        self._conv2 = DepthwiseConv2D(1, (1, k1), stride=1, padding=padding,
                                      with_bias=with_bias, w_init=w_init, b_init=b_init,
                                      data_format=data_format)

    def __call__(self, inputs):
        return self._conv2(self._conv1(inputs))


# ---------------------------------------------------------------------------------------
# Pooling (Haiku's window and strides are full rank; an int pools every non-channel axis
# except the first, which is taken as the batch axis)


def _full_shape(x, size, channel_axis, what):
    if isinstance(size, int | np.integer):
        ch = None if channel_axis is None else channel_axis % x.ndim
        return (1,) + tuple(1 if d == ch else int(size) for d in range(1, x.ndim))
    size = tuple(int(s) for s in size)
    if len(size) > x.ndim:
        raise ValueError(f"{what} {size} has more entries than the input has axes "
                         f"({x.shape}).")
    return (1,) * (x.ndim - len(size)) + size


def max_pool(value, window_shape, strides, padding: str, channel_axis: int | None = -1):
    """Max over windows (``window_shape``/``strides``: int or per axis)."""
    window = _full_shape(value, window_shape, channel_axis, "window_shape")
    strides = _full_shape(value, strides, channel_axis, "strides")
    return lax.reduce_window(value, -jnp.inf, lax.max, window, strides, padding)


def avg_pool(value, window_shape, strides, padding: str, channel_axis: int | None = -1):
    """Mean over windows; with "SAME" padding the edges average their valid entries only."""
    window = _full_shape(value, window_shape, channel_axis, "window_shape")
    strides = _full_shape(value, strides, channel_axis, "strides")
    pooled = lax.reduce_window(value, 0.0, lax.add, window, strides, padding)
    if padding == "VALID":
        return pooled / np.prod(window)
    shape = [v if w != 1 else 1 for v, w in zip(value.shape, window, strict=True)]
    counts = lax.reduce_window(jnp.ones(shape, value.dtype), 0.0, lax.add, window, strides,
                               padding)
    return pooled / counts


class MaxPool(Module):
    """`max_pool` as a module."""

    def __init__(self, window_shape, strides, padding: str, channel_axis: int | None = -1,
                 name: str | None = None):
        super().__init__(name=name)
        self.window_shape, self.strides, self.padding = window_shape, strides, padding
        self.channel_axis = channel_axis

    def __call__(self, value):
        return max_pool(value, self.window_shape, self.strides, self.padding,
                        self.channel_axis)


class AvgPool(MaxPool):
    """`avg_pool` as a module."""

    def __call__(self, value):
        return avg_pool(value, self.window_shape, self.strides, self.padding,
                        self.channel_axis)


__all__: Sequence[str] = ()
