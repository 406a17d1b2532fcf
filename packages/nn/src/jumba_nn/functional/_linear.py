"""Dense, convolution, pooling and embedding kernels: pure functions on arrays.

Layouts follow Flax: features last (NHWC), kernels ``(*window, in_features // groups, out)``
(HWIO). Both the linen layers and the Haiku-style layers call these.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

import jumba.lax as lax
import jumba.numpy as jnp

PaddingLike = str | int | Sequence[int] | Sequence[tuple[int, int]]


def _tuple(value, n: int, what: str) -> tuple:
    """Broadcasts an int to an n-tuple, checking the length of a sequence."""
    if value is None:
        return (1,) * n
    if isinstance(value, int | np.integer):
        return (int(value),) * n
    value = tuple(value)
    if len(value) != n:
        raise ValueError(f"{what} has {len(value)} entries but the kernel has {n} spatial "
                         f"dimensions; pass an int or a sequence of {n} ints.")
    return value


def _bias_to_output(bias, out_ndim: int):
    return jnp.reshape(bias, (1,) * (out_ndim - bias.ndim) + tuple(bias.shape))


def dense(x, kernel, bias=None, *, precision=None):
    """Affine map over the last axis: ``x @ kernel + bias``.

    Args:
      x: inputs of shape ``(..., in_features)``.
      kernel: weights of shape ``(in_features, out_features)``.
      bias: optional bias of shape ``(out_features,)``.
      precision: accepted for API compatibility (CPU float32 is always full precision).

    Returns:
      An array of shape ``(..., out_features)``.
    """
    if x.shape[-1] != kernel.shape[0]:
        raise ValueError(f"dense: inputs have {x.shape[-1]} features (shape {x.shape}) but the "
                         f"kernel expects {kernel.shape[0]} (shape {kernel.shape}).")
    y = lax.dot_general(x, kernel, (((x.ndim - 1,), (0,)), ((), ())))
    return y if bias is None else y + _bias_to_output(bias, y.ndim)


def _canon_axes(axes, ndim: int) -> tuple[int, ...]:
    axes = (axes,) if isinstance(axes, int) else tuple(axes)
    return tuple(a % ndim for a in axes)


def dense_general(x, kernel, bias=None, axis=-1, batch_dims=(), *, precision=None):
    """Contracts ``axis`` of ``x`` with the leading kernel axes (Flax's DenseGeneral).

    Args:
      x: inputs of any rank.
      kernel: shape ``(*[x.shape[b] for b in batch_dims], *[x.shape[a] for a in axis],
        *features)``.
      bias: optional, shape ``(*batch_shape, *features)``.
      axis: int or tuple of input axes to contract.
      batch_dims: input axes shared with the kernel (no contraction, no broadcasting).
      precision: accepted for API compatibility (CPU float32 is always full precision).

    Returns:
      An array of shape ``(*batch_shape, *free input axes, *features)``.
    """
    axis = _canon_axes(axis, x.ndim)
    batch_dims = _canon_axes(batch_dims, x.ndim)
    nb, na = len(batch_dims), len(axis)
    want = tuple(x.shape[b] for b in batch_dims) + tuple(x.shape[a] for a in axis)
    if tuple(kernel.shape[:nb + na]) != want:
        raise ValueError(f"dense_general: kernel shape {kernel.shape} does not start with "
                         f"{want}, the sizes of batch_dims {batch_dims} and axis {axis} of "
                         f"the inputs (shape {x.shape}).")
    dims = ((axis, tuple(range(nb, nb + na))), (batch_dims, tuple(range(nb))))
    y = lax.dot_general(x, kernel, dims)
    if bias is None:
        return y
    n_free = x.ndim - na - nb
    feat = tuple(bias.shape[nb:])
    return y + jnp.reshape(bias, tuple(bias.shape[:nb]) + (1,) * n_free + feat)


def einsum(x, kernel, bias=None, *, einsum_str: str, precision=None):
    """``jnp.einsum(einsum_str, x, kernel)`` plus a bias over the kernel's output letters.

    Args:
      x: the first operand.
      kernel: the second operand.
      bias: optional, shaped as the kernel axes whose letters appear in the output.
      einsum_str: two operands and an explicit output, e.g. ``"abc,cde->abde"``.
      precision: passed to ``jnp.einsum``.

    Returns:
      The contraction, plus the bias broadcast along the output.
    """
    lhs, out = einsum_bias_layout(einsum_str)
    y = jnp.einsum(einsum_str, x, kernel, precision=precision)
    if bias is None:
        return y
    k_letters = lhs[1]
    shape = [kernel.shape[k_letters.index(c)] if c in k_letters else 1 for c in out]
    return y + jnp.reshape(bias, shape)


def einsum_bias_layout(einsum_str: str):
    """Splits ``"x,k->o"`` into ((x, k), o), checking it has two operands and an output."""
    s = einsum_str.replace(" ", "")
    if "->" not in s or s.count(",") != 1:
        raise ValueError(f"einsum_str {einsum_str!r} must have two operands and an explicit "
                         "output, like 'abc,cde->abde'.")
    lhs, out = s.split("->")
    return tuple(lhs.split(",")), out


def bias_shape_for_einsum(einsum_str: str, kernel_shape) -> tuple[int, ...]:
    """The bias shape Flax's Einsum uses: the kernel axes named in the output."""
    (_, k), out = einsum_bias_layout(einsum_str)
    return tuple(kernel_shape[i] for i, c in enumerate(k) if c in out)


# ------------------------------------------------------------------------------- convolution

def _flatten_batch(x, n_spatial: int, name: str):
    """Returns x with exactly one batch axis, and a function restoring the original ones."""
    if x.ndim == n_spatial + 1:
        return x[None], lambda y: y[0]
    if x.ndim < n_spatial + 1:
        raise ValueError(f"{name}: inputs of shape {x.shape} have too few axes for a kernel "
                         f"with {n_spatial} spatial dimensions; expected (batch..., "
                         f"{', '.join(['spatial'] * n_spatial)}, features).")
    batch = tuple(x.shape[:x.ndim - n_spatial - 1])
    if len(batch) == 1:
        return x, lambda y: y
    flat = jnp.reshape(x, (math.prod(batch),) + tuple(x.shape[len(batch):]))
    return flat, lambda y: jnp.reshape(y, batch + tuple(y.shape[1:]))


def _dimension_numbers(n_spatial: int):
    sp = "DHW"[3 - n_spatial:] if n_spatial <= 3 else None
    if sp is None:
        raise ValueError(f"convolutions support 1 to 3 spatial dimensions, got {n_spatial}.")
    return ("N" + sp + "C", sp + "IO", "N" + sp + "C")


def _explicit_padding(padding, n: int):
    if isinstance(padding, int | np.integer):
        return [(int(padding), int(padding))] * n
    padding = list(padding)
    if len(padding) != n:
        raise ValueError(f"padding {padding} has {len(padding)} entries for {n} spatial "
                         "dimensions; give one int or (low, high) pair per dimension.")
    return [(int(p), int(p)) if isinstance(p, int | np.integer) else tuple(map(int, p))
            for p in padding]


def canonicalize_padding(padding: PaddingLike, n_spatial: int):
    """'SAME'/'VALID'/'CIRCULAR'/'CAUSAL' (upper-cased) or a list of (low, high) pairs."""
    if isinstance(padding, str):
        p = padding.upper()
        if p not in ("SAME", "VALID", "CIRCULAR", "CAUSAL"):
            raise ValueError(f"padding {padding!r} is not one of 'SAME', 'VALID', 'CIRCULAR', "
                             "'CAUSAL' or a sequence of (low, high) pairs.")
        return p
    return _explicit_padding(padding, n_spatial)


def _pre_pad(x, padding, window, kernel_dilation):
    """Applies Flax's CIRCULAR and CAUSAL paddings to x; returns (x, lax padding)."""
    if padding == "CIRCULAR":
        k = [(w - 1) * d + 1 for w, d in zip(window, kernel_dilation)]
        pads = [(0, 0)] + [((s - 1) // 2, s // 2) for s in k] + [(0, 0)]
        return jnp.pad(x, pads, mode="wrap"), "VALID"
    if padding == "CAUSAL":
        if len(window) != 1:
            raise ValueError("padding='CAUSAL' is only defined for 1-D convolutions; use "
                             "explicit padding such as [(k - 1, 0), (0, 0)] for more dimensions.")
        left = kernel_dilation[0] * (window[0] - 1)
        return jnp.pad(x, [(0, 0), (left, 0), (0, 0)]), "VALID"
    return x, padding


def conv(x, kernel, bias=None, strides=1, padding: PaddingLike = "SAME", input_dilation=1,
         kernel_dilation=1, feature_group_count: int = 1, *, precision=None):
    """N-dimensional convolution in Flax's layout (features last).

    Args:
      x: inputs ``(batch..., *spatial, in_features)``; an unbatched ``(*spatial, in)`` and
        several leading batch axes are accepted too.
      kernel: ``(*window, in_features // feature_group_count, out_features)``; 1 to 3 spatial
        dimensions.
      bias: optional ``(out_features,)``.
      strides: int or one per spatial dimension.
      padding: ``"SAME"``, ``"VALID"``, ``"CIRCULAR"`` (wrap around), ``"CAUSAL"`` (1-D:
        pad on the left only), an int, or a sequence of ints or ``(low, high)`` pairs.
      input_dilation: dilation of the inputs (transposed-convolution style), int or tuple.
      kernel_dilation: dilation of the kernel (atrous convolution), int or tuple.
      feature_group_count: grouped convolution; ``in_features`` must divide by it.
      precision: passed to ``lax.conv_general_dilated``.

    Returns:
      ``(batch..., *out_spatial, out_features)``.
    """
    n = kernel.ndim - 2
    window = tuple(kernel.shape[:n])
    strides = _tuple(strides, n, "strides")
    input_dilation = _tuple(input_dilation, n, "input_dilation")
    kernel_dilation = _tuple(kernel_dilation, n, "kernel_dilation")
    x, restore = _flatten_batch(x, n, "conv")
    if x.shape[-1] != kernel.shape[-2] * feature_group_count:
        raise ValueError(f"conv: inputs have {x.shape[-1]} features but the kernel {kernel.shape} "
                         f"with feature_group_count={feature_group_count} expects "
                         f"{kernel.shape[-2] * feature_group_count}.")
    pad = canonicalize_padding(padding, n)
    x, pad = _pre_pad(x, pad, window, kernel_dilation)
    y = lax.conv_general_dilated(x, kernel, strides, pad, lhs_dilation=input_dilation,
                                 rhs_dilation=kernel_dilation,
                                 dimension_numbers=_dimension_numbers(n),
                                 feature_group_count=feature_group_count, precision=precision)
    if bias is not None:
        y = y + _bias_to_output(bias, y.ndim)
    return restore(y)


def conv_transpose(x, kernel, bias=None, strides=1, padding: PaddingLike = "SAME",
                   kernel_dilation=1, transpose_kernel: bool = False, *, precision=None):
    """Transposed convolution (``lax.conv_transpose``) in Flax's layout.

    Args:
      x: inputs ``(batch..., *spatial, in_features)`` (or unbatched).
      kernel: ``(*window, in_features, out_features)`` (``transpose_kernel=True`` swaps the
        last two, as the gradient of a forward convolution would).
      bias: optional ``(out_features,)``.
      strides: int or tuple; the upsampling factor.
      padding: ``"SAME"``, ``"VALID"`` or explicit ``(low, high)`` pairs.
      kernel_dilation: int or tuple.
      transpose_kernel: flip the window and swap the feature axes of the kernel.
      precision: passed to lax.

    Returns:
      ``(batch..., *out_spatial, out_features)``; with ``"SAME"`` the spatial size is
      ``size * stride``.
    """
    n = kernel.ndim - 2
    strides = _tuple(strides, n, "strides")
    kernel_dilation = _tuple(kernel_dilation, n, "kernel_dilation")
    x, restore = _flatten_batch(x, n, "conv_transpose")
    pad = canonicalize_padding(padding, n)
    if pad in ("CAUSAL", "CIRCULAR"):
        raise ValueError(f"conv_transpose does not support padding={padding!r}; use 'SAME', "
                         "'VALID' or explicit (low, high) pairs.")
    y = lax.conv_transpose(x, kernel, strides, pad, rhs_dilation=kernel_dilation,
                           dimension_numbers=_dimension_numbers(n),
                           transpose_kernel=transpose_kernel, precision=precision)
    if bias is not None:
        y = y + _bias_to_output(bias, y.ndim)
    return restore(y)


def conv_patches(x, window: Sequence[int], strides=1, padding: PaddingLike = "SAME",
                 kernel_dilation=1, *, precision=None):
    """Extracts the input patch under each output position (``conv_general_dilated_patches``).

    Args:
      x: ``(batch, *spatial, C)``.
      window: the window shape.
      strides, padding, kernel_dilation: as in ``conv``.
      precision: passed to lax.

    Returns:
      ``(batch, *out_spatial, C * prod(window))``, channel-major (feature ``c * prod(window) +
      window_offset``), as JAX's ``conv_general_dilated_patches``.
    """
    window = tuple(window)
    n = len(window)
    strides = _tuple(strides, n, "strides")
    kernel_dilation = _tuple(kernel_dilation, n, "kernel_dilation")
    x, restore = _flatten_batch(x, n, "conv_patches")
    x, pad = _pre_pad(x, canonicalize_padding(padding, n), window, kernel_dilation)
    return restore(lax.conv_general_dilated_patches(
        x, window, strides, pad, rhs_dilation=kernel_dilation,
        dimension_numbers=_dimension_numbers(n), precision=precision))


def conv_local(x, kernel, bias=None, window: Sequence[int] | None = None, strides=1,
               padding: PaddingLike = "SAME", kernel_dilation=1, *, precision=None):
    """Locally connected (unshared) convolution, as Flax's ConvLocal.

    Args:
      x: ``(batch..., *spatial, in_features)``.
      kernel: ``(*out_spatial, prod(window) * in_features, out_features)``, one filter per
        output position; the patch axis is channel-major as in ``conv_patches``.
      bias: optional ``(*out_spatial, out_features)``.
      window: the window shape (the kernel does not determine it).
      strides, padding, kernel_dilation: as in ``conv``.
      precision: passed to lax.

    Returns:
      ``(batch..., *out_spatial, out_features)``.
    """
    n = kernel.ndim - 2
    if window is None:
        raise ValueError("conv_local needs window=, the kernel size (for example (3, 3)).")
    window = _tuple(window, n, "window")
    x, restore = _flatten_batch(x, n, "conv_local")
    patches = conv_patches(x, window, strides, padding, kernel_dilation, precision=precision)
    if tuple(patches.shape[1:]) != tuple(kernel.shape[:-1]):
        raise ValueError(f"conv_local: the patches have shape {patches.shape[1:]} but the "
                         f"kernel {kernel.shape} expects {kernel.shape[:-1]}.")
    sp = tuple(range(1, n + 1))
    # Output positions are batch axes of the contraction: (*out_spatial, batch, features).
    y = lax.dot_general(patches, kernel, (((n + 1,), (n,)), (sp, tuple(range(n)))))
    y = jnp.moveaxis(y, n, 0)
    if bias is not None:
        y = y + bias
    return restore(y)


# ----------------------------------------------------------------------------------- pooling

def pool(inputs, init, reduce_fn: Callable, window_shape: Sequence[int], strides=None,
         padding: PaddingLike = "VALID"):
    """Reduces over sliding windows of the spatial axes (Flax's ``nn.pool``).

    Args:
      inputs: ``(batch..., *spatial, features)``; ``(*spatial, features)`` is read as one
        unbatched example.
      init: the reduction's identity (``-inf`` for max, ``0`` for sum).
      reduce_fn: ``lax.max``, ``lax.add``, ``lax.min`` or another monoid.
      window_shape: the window, one entry per spatial axis.
      strides: per spatial axis; default 1.
      padding: ``"SAME"``, ``"VALID"`` or one ``(low, high)`` pair per spatial axis.

    Returns:
      ``(batch..., *out_spatial, features)``.
    """
    window_shape = tuple(window_shape)
    n = len(window_shape)
    strides = _tuple(strides, n, "strides")
    nb = inputs.ndim - (n + 1)
    single = nb == 0
    if nb < 0:
        raise ValueError(f"pool: inputs of shape {inputs.shape} have fewer axes than the window "
                         f"{window_shape} plus a feature axis.")
    if single:
        inputs, nb = inputs[None], 1
    dims = (1,) * nb + window_shape + (1,)
    strides = (1,) * nb + strides + (1,)
    if not isinstance(padding, str):
        padding = ((0, 0),) * nb + tuple(_explicit_padding(padding, n)) + ((0, 0),)
    y = lax.reduce_window(inputs, init, reduce_fn, dims, strides, padding)
    return y[0] if single else y


def max_pool(inputs, window_shape: Sequence[int], strides=None, padding: PaddingLike = "VALID"):
    """Max over windows; see ``pool`` for shapes."""
    return pool(inputs, -jnp.inf, lax.max, window_shape, strides, padding)


def min_pool(inputs, window_shape: Sequence[int], strides=None, padding: PaddingLike = "VALID"):
    """Min over windows; see ``pool`` for shapes."""
    return pool(inputs, jnp.inf, lax.min, window_shape, strides, padding)


def avg_pool(inputs, window_shape: Sequence[int], strides=None, padding: PaddingLike = "VALID",
             count_include_pad: bool = True):
    """Mean over windows; see ``pool`` for shapes.

    Args:
      count_include_pad: divide by the full window size (True) or by the number of
        non-padding elements in each window (False).
    """
    y = pool(inputs, 0.0, lax.add, window_shape, strides, padding)
    if count_include_pad:
        return y / math.prod(window_shape)
    ones = jnp.ones(inputs.shape[-len(window_shape) - 1:-1] + (1,), dtype=y.dtype)
    return y / pool(ones, 0.0, lax.add, window_shape, strides, padding)


# ---------------------------------------------------------------------------------- embeddings

def embed_lookup(embedding, ids):
    """Rows of ``embedding`` ``(num_embeddings, features)`` for integer ``ids`` ``(...)``.

    Returns:
      ``(..., features)``.
    """
    ids = jnp.asarray(ids)
    if not jnp.issubdtype(ids.dtype, jnp.integer):
        raise ValueError(f"embedding lookup needs integer ids, got dtype {ids.dtype}; cast with "
                         ".astype(jnp.int32).")
    return jnp.take(embedding, ids, axis=0)


def embed_attend(embedding, query):
    """Dot products of ``query`` ``(..., features)`` with every embedding row.

    Returns:
      ``(..., num_embeddings)``, e.g. output logits tied to the input embedding.
    """
    return lax.dot_general(query, embedding, (((query.ndim - 1,), (1,)), ((), ())))
