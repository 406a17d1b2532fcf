"""Basic Haiku layers: Linear, Bias, Embed, Sequential, Flatten, Reshape, dropout, ..."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence

import numpy as np

import jumba.nn as jnn
import jumba.numpy as jnp
import jumba.random as jr
from jumba import tree_util
from jumba_nn.haiku import _kernels, initializers
from jumba_nn.haiku._base import get_parameter
from jumba_nn.haiku._module import Module


class Linear(Module):
    """``y = x @ w + b``.

    Parameters: ``w`` ``(input_size, output_size)``, initialised
    ``TruncatedNormal(stddev=1 / sqrt(input_size))``; ``b`` ``(output_size,)``, zeros.

    Examples:
        >>> f = hk.transform(lambda x: hk.Linear(3)(x))
        >>> params = f.init(jr.PRNGKey(0), jnp.ones((2, 4)))   # {"linear": {"w", "b"}}
    """

    def __init__(self, output_size: int, with_bias: bool = True, w_init=None, b_init=None,
                 name: str | None = None):
        super().__init__(name=name)
        self.input_size = None
        self.output_size = output_size
        self.with_bias = with_bias
        self.w_init, self.b_init = w_init, b_init or jnp.zeros

    def __call__(self, inputs, *, precision=None):
        if not jnp.shape(inputs):
            raise ValueError("hk.Linear: input must not be a scalar; give at least one axis "
                             "(the features).")
        self.input_size = input_size = inputs.shape[-1]
        dtype = inputs.dtype
        w_init = self.w_init or initializers.TruncatedNormal(1.0 / np.sqrt(input_size))
        w = get_parameter("w", [input_size, self.output_size], dtype, init=w_init)
        b = None
        if self.with_bias:
            b = get_parameter("b", [self.output_size], dtype, init=self.b_init)
        return _kernels.dense(inputs, w, b, precision=precision)


class Bias(Module):
    """Adds a learned bias ``b`` over `bias_dims` (default the last axis), zeros init."""

    def __init__(self, output_size=None, bias_dims: Sequence[int] | None = None, b_init=None,
                 name: str | None = None):
        super().__init__(name=name)
        self.output_size = output_size
        self.bias_dims = tuple(bias_dims) if bias_dims is not None else (-1,)
        self.b_init = b_init or jnp.zeros

    def __call__(self, inputs, multiplier=None):
        ndim = inputs.ndim
        dims = sorted(d % ndim for d in self.bias_dims)
        shape = tuple(inputs.shape[i] if i in dims else 1 for i in range(dims[0], ndim))
        if isinstance(self.output_size, int) and shape[-1] != self.output_size:
            raise ValueError(f"hk.Bias: output_size {self.output_size} does not match the "
                             f"input's last bias dimension {shape[-1]}.")
        b = get_parameter("b", shape, inputs.dtype, init=self.b_init)
        if multiplier is not None:
            b = b * multiplier
        return inputs + b


class EmbedLookupStyle(enum.Enum):
    """How `Embed` looks rows up: by indexing, or by a one-hot matrix product."""

    ARRAY_INDEX = 1
    ONE_HOT = 2


class Embed(Module):
    """A table ``embeddings`` ``(vocab_size, embed_dim)`` looked up by integer ids.

    Initialised ``TruncatedNormal()`` (stddev 1) unless `embedding_matrix` is given.
    """

    def __init__(self, vocab_size: int | None = None, embed_dim: int | None = None,
                 embedding_matrix=None, w_init=None, lookup_style="ARRAY_INDEX",
                 name: str | None = None, precision=None):
        super().__init__(name=name)
        if embedding_matrix is None and not (vocab_size and embed_dim):
            raise ValueError("hk.Embed: give vocab_size and embed_dim, or embedding_matrix.")
        if embedding_matrix is not None:
            embedding_matrix = jnp.asarray(embedding_matrix)
            if (vocab_size, embed_dim) not in ((None, None), tuple(embedding_matrix.shape)):
                raise ValueError(f"hk.Embed: embedding_matrix has shape "
                                 f"{embedding_matrix.shape}, not ({vocab_size}, {embed_dim}).")
            vocab_size, embed_dim = embedding_matrix.shape
            w_init = lambda shape, dtype: embedding_matrix.astype(dtype)  # noqa: E731
        self.vocab_size, self.embed_dim = vocab_size, embed_dim
        self.w_init = w_init or initializers.TruncatedNormal()
        if isinstance(lookup_style, str):
            lookup_style = EmbedLookupStyle[lookup_style.upper()]
        self.lookup_style = lookup_style
        self.precision = precision

    @property
    def embeddings(self):
        return get_parameter("embeddings", [self.vocab_size, self.embed_dim], init=self.w_init)

    def __call__(self, ids, lookup_style=None, precision=None):
        style = lookup_style or self.lookup_style
        if isinstance(style, str):
            style = EmbedLookupStyle[style.upper()]
        table = self.embeddings
        if style is EmbedLookupStyle.ONE_HOT:
            one_hot = jnn.one_hot(ids, self.vocab_size, dtype=table.dtype)
            return jnp.dot(one_hot, table, precision=precision or self.precision)
        return _kernels.embed_lookup(table, ids)


class Sequential(Module):
    """Calls `layers` in turn; extra arguments go to the first layer only."""

    def __init__(self, layers: Sequence[Callable], name: str | None = None):
        super().__init__(name=name)
        self.layers = tuple(layers)

    def __call__(self, inputs, *args, **kwargs):
        out = inputs
        for i, layer in enumerate(self.layers):
            out = layer(out, *args, **kwargs) if i == 0 else layer(out)
        return out


class Reshape(Module):
    """Reshapes all but the first `preserve_dims` axes to `output_shape` (-1 allowed)."""

    def __init__(self, output_shape: Sequence[int], preserve_dims: int = 1,
                 name: str | None = None):
        super().__init__(name=name)
        if preserve_dims == 0:
            raise ValueError("hk.Reshape: preserve_dims must not be 0.")
        self.output_shape = tuple(output_shape)
        self.preserve_dims = preserve_dims

    def __call__(self, inputs):
        keep = inputs.shape[:self.preserve_dims] if self.preserve_dims > 0 else \
            inputs.shape[:inputs.ndim + self.preserve_dims]
        if inputs.ndim <= abs(self.preserve_dims) and self.preserve_dims > 0:
            return inputs
        rest = int(np.prod(inputs.shape[len(keep):]))
        shape = list(self.output_shape)
        if -1 in shape:
            known = int(np.prod([s for s in shape if s != -1]))
            shape[shape.index(-1)] = rest // known
        if int(np.prod(shape)) != rest:
            raise ValueError(f"hk.Reshape: cannot reshape {inputs.shape[len(keep):]} (size "
                             f"{rest}) to {self.output_shape}.")
        return jnp.reshape(inputs, tuple(keep) + tuple(shape))


class Flatten(Reshape):
    """Flattens all but the first `preserve_dims` axes."""

    def __init__(self, preserve_dims: int = 1, name: str | None = None):
        super().__init__(output_shape=(-1,), preserve_dims=preserve_dims, name=name)


def dropout(rng, rate: float, x, broadcast_dims: Sequence[int] = ()):
    """Zeroes each element with probability `rate`, scaling the rest by ``1 / (1 - rate)``.

    Args:
        rng: a key (e.g. ``hk.next_rng_key()``); the same key drops the same elements.
        rate: the drop probability, in [0, 1).
        x: the array.
        broadcast_dims: axes along which one mask value is shared.
    """
    if rng is None:
        raise ValueError("hk.dropout: rng is None. Fix: pass hk.next_rng_key() (and a key to "
                         "apply), or skip dropout at evaluation time.")
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"hk.dropout: rate must be in [0, 1), got {rate}.")
    return _kernels.dropout(rng, x, rate, broadcast_dims=broadcast_dims)


def one_hot(indices, num_classes: int, dtype=jnp.float32):
    """One-hot encoding along a new last axis (as `jumba.nn.one_hot`)."""
    return jnn.one_hot(indices, num_classes, dtype=dtype)


def multinomial(rng, logits, num_samples: int):
    """`num_samples` categorical draws per row of `logits` ``(batch, classes)``: ``(batch,
    num_samples)``."""
    batch = logits.shape[0]
    return jnp.transpose(jr.categorical(rng, logits, axis=-1, shape=(num_samples, batch)))


class BatchApply:
    """Merges the leading `num_dims` axes of every array input, calls `f`, and splits them
    back out of every output (to apply a per-example module over ``(T, B, ...)``)."""

    def __init__(self, f: Callable, num_dims: int = 2):
        if num_dims < 1:
            raise ValueError("hk.BatchApply: num_dims must be >= 1.")
        self._f, self.num_dims = f, num_dims

    def __call__(self, *args, **kwargs):
        leaves = [x for x in tree_util.tree_leaves((args, kwargs)) if hasattr(x, "ndim")]
        if not leaves:
            raise ValueError("hk.BatchApply: no array arguments.")
        lead = tuple(leaves[0].shape[:self.num_dims])

        def merge(x):
            if not hasattr(x, "ndim"):
                return x
            if tuple(x.shape[:self.num_dims]) != lead:
                raise ValueError(f"hk.BatchApply: input leading dims {x.shape[:self.num_dims]} "
                                 f"differ from {lead}.")
            return jnp.reshape(x, (math.prod(lead),) + tuple(x.shape[self.num_dims:]))

        args, kwargs = tree_util.tree_map(merge, (args, kwargs))
        out = self._f(*args, **kwargs)
        return tree_util.tree_map(
            lambda y: jnp.reshape(y, lead + tuple(y.shape[1:])) if hasattr(y, "ndim") else y,
            out)


def expand_apply(f: Callable, axis: int = 0) -> Callable:
    """Wraps `f` (which wants a batch axis) to take unbatched inputs: adds `axis` to every
    array input and removes it from every output."""

    def wrapped(*args, **kwargs):
        args, kwargs = tree_util.tree_map(
            lambda x: jnp.expand_dims(x, axis) if hasattr(x, "ndim") else x, (args, kwargs))
        return tree_util.tree_map(lambda y: jnp.squeeze(y, axis) if hasattr(y, "ndim") else y,
                                  f(*args, **kwargs))

    return wrapped
