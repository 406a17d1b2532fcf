"""Linear layers: Dense, DenseGeneral, Einsum, Conv, ConvTranspose, ConvLocal, Embed."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import jumba.numpy as jnp
from jumba.nn import initializers
from jumba_nn import functional as F
from jumba_nn._src.module import Module, compact

default_kernel_init = initializers.lecun_normal()
default_embed_init = initializers.variance_scaling(1.0, "fan_in", "normal", out_axis=0)

Dtype = Any
PaddingLike = F._linear.PaddingLike


def promote_dtype(*args, dtype=None, inexact: bool = True):
    """Casts the non-None arrays to ``dtype`` (default: their promoted type)."""
    arrays = [a for a in args if a is not None]
    if dtype is None:
        dtype = jnp.result_type(*arrays)
        if inexact and not jnp.issubdtype(dtype, jnp.inexact):
            dtype = jnp.float32
    return tuple(None if a is None else jnp.asarray(a, dtype) for a in args)


def _tuple(x, n=None):
    if isinstance(x, int):
        return (x,) if n is None else (x,) * n
    return tuple(x)


class Dense(Module):
    """A linear transformation over the last axis: ``y = x @ kernel + bias``.

    Attributes:
      features: the number of output features.
      use_bias: whether to add a bias.
      dtype: computation dtype (default: promoted from inputs and params).
      param_dtype: dtype of the parameters.
      precision: accepted for compatibility.
      kernel_init: initializer of ``kernel`` ``(in, features)`` (default ``lecun_normal()``).
      bias_init: initializer of ``bias`` ``(features,)`` (default zeros).
    """

    features: int
    use_bias: bool = True
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32
    precision: Any = None
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros

    @compact
    def __call__(self, inputs):
        kernel = self.param("kernel", self.kernel_init, (jnp.shape(inputs)[-1], self.features),
                            self.param_dtype)
        bias = (self.param("bias", self.bias_init, (self.features,), self.param_dtype)
                if self.use_bias else None)
        inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        return F.dense(inputs, kernel, bias)


class DenseGeneral(Module):
    """A linear transformation contracting several axes, with optional batch axes.

    Attributes:
      features: int or tuple of output feature sizes.
      axis: int or tuple of input axes to contract.
      batch_dims: input axes shared by a separate kernel each.
      use_bias, dtype, param_dtype, kernel_init, bias_init, precision: as in ``Dense``. The
        kernel ``(*batch, *contracted, *features)`` is initialised as the matrix
        ``(prod(batch) * prod(contracted), prod(features))``, so fan-in counts all contracted
        axes.
    """

    features: int | Sequence[int]
    axis: int | Sequence[int] = -1
    batch_dims: Sequence[int] = ()
    use_bias: bool = True
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros
    precision: Any = None

    @compact
    def __call__(self, inputs):
        features = _tuple(self.features)
        ndim = inputs.ndim
        axis = tuple(a % ndim for a in _tuple(self.axis))
        batch_dims = tuple(a % ndim for a in _tuple(self.batch_dims))
        if set(axis) & set(batch_dims):
            raise ValueError(f"DenseGeneral: axis {axis} and batch_dims {batch_dims} overlap.")
        batch_shape = tuple(inputs.shape[b] for b in batch_dims)
        in_shape = tuple(inputs.shape[a] for a in axis)
        nb, nf = len(batch_shape), len(features)

        def kernel_init(rng, shape, dtype):
            flat = (math.prod(shape[:-nf]), math.prod(shape[-nf:]))
            return jnp.reshape(self.kernel_init(rng, flat, dtype), shape)

        def bias_init(rng, shape, dtype):
            return jnp.reshape(self.bias_init(rng, (math.prod(shape),), dtype), shape)

        kernel = self.param("kernel", kernel_init, batch_shape + in_shape + features,
                            self.param_dtype)
        bias = (self.param("bias", bias_init, batch_shape + features, self.param_dtype)
                if self.use_bias else None)
        inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        del nb
        return F.dense_general(inputs, kernel, bias, axis, batch_dims)


class Einsum(Module):
    """``jnp.einsum(einsum_str, inputs, kernel) + bias`` with a learned kernel of ``shape``.

    Attributes:
      shape: the kernel's shape.
      einsum_str: two operands and an output (may instead be given at call time).
      use_bias: adds a bias over the kernel axes named in the output.
    """

    shape: Sequence[int]
    einsum_str: str | None = None
    use_bias: bool = True
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32
    precision: Any = None
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros

    @compact
    def __call__(self, inputs, einsum_str: str | None = None):
        from jumba_nn._src.module import merge_param

        einsum_str = merge_param("einsum_str", self.einsum_str, einsum_str)
        kernel = self.param("kernel", self.kernel_init, tuple(self.shape), self.param_dtype)
        bias = None
        if self.use_bias:
            bshape = F.bias_shape_for_einsum(einsum_str, tuple(self.shape))
            bias = self.param("bias", self.bias_init, bshape, self.param_dtype)
        inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        return F.einsum(inputs, kernel, bias, einsum_str=einsum_str)


class _ConvBase(Module):
    features: int
    kernel_size: int | Sequence[int]
    strides: int | Sequence[int] | None = 1
    padding: PaddingLike = "SAME"
    input_dilation: int | Sequence[int] | None = 1
    kernel_dilation: int | Sequence[int] | None = 1
    feature_group_count: int = 1
    use_bias: bool = True
    mask: Any = None
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32
    precision: Any = None
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros

    def _kernel_size(self) -> tuple[int, ...]:
        ks = self.kernel_size
        if isinstance(ks, int):
            ks = (ks,)
        return tuple(ks)


class Conv(_ConvBase):
    """Convolution with a shared kernel (features last).

    Attributes:
      features: output features.
      kernel_size: window shape (an int means 1-D); 1 to 3 spatial dimensions.
      strides: int or per spatial dimension.
      padding: ``"SAME"``, ``"VALID"``, ``"CIRCULAR"``, ``"CAUSAL"`` (1-D), an int, or
        ``(low, high)`` pairs.
      input_dilation, kernel_dilation: int or per spatial dimension.
      feature_group_count: groups (``in_features % groups == 0``); depthwise when equal.
      use_bias: adds ``bias`` ``(features,)``.
      mask: optional array multiplied into the kernel (e.g. for masked convolutions).
      kernel_init, bias_init, dtype, param_dtype, precision: as in ``Dense``.

    Inputs ``(batch..., *spatial, in)`` (or unbatched ``(*spatial, in)``); the kernel is
    ``(*kernel_size, in // feature_group_count, features)``.
    """

    @compact
    def __call__(self, inputs):
        ks = self._kernel_size()
        in_features = jnp.shape(inputs)[-1]
        if in_features % self.feature_group_count:
            raise ValueError(f"Conv: {in_features} input features are not divisible by "
                             f"feature_group_count={self.feature_group_count}.")
        kshape = ks + (in_features // self.feature_group_count, self.features)
        kernel = self.param("kernel", self.kernel_init, kshape, self.param_dtype)
        if self.mask is not None:
            kernel = kernel * self.mask
        bias = (self.param("bias", self.bias_init, (self.features,), self.param_dtype)
                if self.use_bias else None)
        inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        return F.conv(inputs, kernel, bias, self.strides, self.padding, self.input_dilation,
                      self.kernel_dilation, self.feature_group_count)


class ConvTranspose(Module):
    """Transposed convolution (upsampling), kernel ``(*kernel_size, in, features)``.

    Attributes:
      features: output features.
      kernel_size: window shape.
      strides: upsampling factors (default 1).
      padding: ``"SAME"``, ``"VALID"`` or ``(low, high)`` pairs.
      kernel_dilation: int or per dimension.
      transpose_kernel: flip the kernel as the gradient of ``Conv`` would (kernel shape then
        ``(*kernel_size, features, in)``).
    """

    features: int
    kernel_size: int | Sequence[int]
    strides: Sequence[int] | None = None
    padding: PaddingLike = "SAME"
    kernel_dilation: Sequence[int] | None = None
    use_bias: bool = True
    mask: Any = None
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32
    precision: Any = None
    kernel_init: Callable = default_kernel_init
    bias_init: Callable = initializers.zeros
    transpose_kernel: bool = False

    @compact
    def __call__(self, inputs):
        ks = _tuple(self.kernel_size)
        in_features = jnp.shape(inputs)[-1]
        kshape = ks + ((self.features, in_features) if self.transpose_kernel
                       else (in_features, self.features))
        kernel = self.param("kernel", self.kernel_init, kshape, self.param_dtype)
        if self.mask is not None:
            kernel = kernel * self.mask
        bias = (self.param("bias", self.bias_init, (self.features,), self.param_dtype)
                if self.use_bias else None)
        inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        return F.conv_transpose(inputs, kernel, bias, self.strides or 1, self.padding,
                                self.kernel_dilation or 1, self.transpose_kernel)


class ConvLocal(_ConvBase):
    """Locally connected layer: a separate filter at every output position.

    The kernel is ``(*out_spatial, prod(kernel_size) * in, features)`` and the bias
    ``(*out_spatial, features)``; patches are channel-major as in JAX's
    ``conv_general_dilated_patches``.
    """

    @compact
    def __call__(self, inputs):
        ks = self._kernel_size()
        n = len(ks)
        if self.feature_group_count != 1 or self.input_dilation not in (1, None, (1,) * n):
            raise ValueError("ConvLocal supports neither feature groups nor input dilation.")
        x = inputs if inputs.ndim > n + 1 else inputs[None]
        x = jnp.reshape(x, (-1,) + tuple(x.shape[-n - 1:]))
        out_spatial = tuple(F.conv_patches(x[:1] * 0, ks, self.strides, self.padding,
                                           self.kernel_dilation).shape[1:-1])
        in_features = jnp.shape(inputs)[-1]
        kshape = out_spatial + (math.prod(ks) * in_features, self.features)
        kernel = self.param("kernel", self.kernel_init, kshape, self.param_dtype)
        if self.mask is not None:
            kernel = kernel * self.mask
        bias = (self.param("bias", self.bias_init, out_spatial + (self.features,),
                           self.param_dtype) if self.use_bias else None)
        inputs, kernel, bias = promote_dtype(inputs, kernel, bias, dtype=self.dtype)
        return F.conv_local(inputs, kernel, bias, ks, self.strides, self.padding,
                            self.kernel_dilation)


class Embed(Module):
    """Embedding table ``embedding`` ``(num_embeddings, features)``.

    ``__call__(ids)`` looks rows up; ``attend(query)`` returns ``query @ embedding.T`` (logits
    tied to the embedding).

    Attributes:
      num_embeddings: vocabulary size.
      features: embedding size.
      embedding_init: default ``variance_scaling(1.0, "fan_in", "normal", out_axis=0)``.
    """

    num_embeddings: int
    features: int
    dtype: Dtype | None = None
    param_dtype: Dtype = jnp.float32
    embedding_init: Callable = default_embed_init

    def setup(self):
        self.embedding = self.param("embedding", self.embedding_init,
                                    (self.num_embeddings, self.features), self.param_dtype)

    def __call__(self, inputs):
        if not jnp.issubdtype(jnp.asarray(inputs).dtype, jnp.integer):
            raise ValueError(f"Embed expects integer ids, got dtype {jnp.asarray(inputs).dtype}; "
                             "cast with .astype(jnp.int32).")
        (embedding,) = promote_dtype(self.embedding, dtype=self.dtype, inexact=False)
        return F.embed_lookup(embedding, inputs)

    def attend(self, query):
        """``query`` ``(..., features)`` -> ``(..., num_embeddings)``."""
        query, embedding = promote_dtype(query, self.embedding, dtype=self.dtype)
        return F.embed_attend(embedding, query)


del np
