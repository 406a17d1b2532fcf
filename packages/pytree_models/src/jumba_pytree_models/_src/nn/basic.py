"""Linear, Identity, MLP, Embedding, Dropout, PReLU, Lambda, Sequential, Shared.

Every layer acts on one unbatched example (``jax.vmap`` / ``filter_vmap`` it over a
batch) and takes a keyword-only ``key`` (used by Dropout, ignored by the others), as in
Equinox. Initialisation follows Equinox: weights and biases of Linear are
``uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jumba
import jumba.numpy as jnp
import jumba.random as jr
from jumba_pytree_models._src.filters import is_array_like, tree_at
from jumba_pytree_models._src.module import Module, field
from jumba_pytree_models._src.nn.state import StatefulLayer

__all__ = ["Dropout", "Embedding", "Identity", "Lambda", "Linear", "MLP", "PReLU",
           "Sequential", "Shared", "default_floating_dtype", "default_init"]

_sentinel = object()


def default_floating_dtype():
    """float32, or float64 when ``jax_enable_x64`` is on."""
    return jnp.zeros((), dtype=float).dtype


def default_init(key, shape, dtype, lim):
    """``uniform(-lim, lim)`` of ``shape`` (real and imaginary parts for complex)."""
    if jnp.issubdtype(dtype, jnp.complexfloating):
        real_dtype = jnp.finfo(dtype).dtype
        rkey, ikey = jr.split(key, 2)
        real = jr.uniform(rkey, shape, real_dtype, minval=-lim, maxval=lim)
        imag = jr.uniform(ikey, shape, real_dtype, minval=-lim, maxval=lim)
        return real.astype(dtype) + 1j * imag.astype(dtype)
    return jr.uniform(key, shape, dtype, minval=-lim, maxval=lim)


class Linear(Module):
    """``y = W x + b``.

    Args:
        in_features: input size, or ``"scalar"`` for a scalar input.
        out_features: output size, or ``"scalar"`` for a scalar output.
        use_bias: add a bias.
        dtype: parameter dtype (default float32, float64 under x64).
        key: a PRNG key for the initialisation.

    Examples:
        >>> import jumba.random as jr
        >>> layer = Linear(3, 2, key=jr.PRNGKey(0))
        >>> layer(jnp.ones(3)).shape
        (2,)
    """

    weight: Any
    bias: Any
    in_features: int | str = field(static=True)
    out_features: int | str = field(static=True)
    use_bias: bool = field(static=True)

    def __init__(self, in_features: int | str, out_features: int | str, use_bias: bool = True,
                 dtype=None, *, key):
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if not (v == "scalar" or (isinstance(v, int) and v >= 0)):
                raise ValueError(f"Linear: {name} must be a non-negative int or 'scalar'; "
                                 f"got {v!r}.")
        dtype = default_floating_dtype() if dtype is None else dtype
        wkey, bkey = jr.split(key, 2)
        in_ = 1 if in_features == "scalar" else in_features
        out_ = 1 if out_features == "scalar" else out_features
        lim = 1 / math.sqrt(in_) if in_ else 0.0
        self.weight = default_init(wkey, (out_, in_), dtype, lim)
        self.bias = default_init(bkey, (out_,), dtype, lim) if use_bias else None
        self.in_features = in_features
        self.out_features = out_features
        self.use_bias = use_bias

    def __call__(self, x, *, key=None):
        if self.in_features == "scalar":
            if jnp.shape(x) != ():
                raise ValueError(f"Linear(in_features='scalar') expects a scalar input; got "
                                 f"shape {jnp.shape(x)}.")
            x = jnp.broadcast_to(x, (1,))
        elif jnp.shape(x) != (self.in_features,):
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}) expects one example of "
                f"shape ({self.in_features},); got shape {jnp.shape(x)}. Layers act on a "
                "single example: map over a batch with jax.vmap(layer)(xs).")
        x = self.weight @ x
        if self.bias is not None:
            x = x + self.bias
        if self.out_features == "scalar":
            x = jnp.reshape(x, ())
        return x


class Identity(Module):
    """Returns its input unchanged (accepts and ignores any constructor arguments)."""

    def __init__(self, *args: Any, **kwargs: Any):
        del args, kwargs

    def __call__(self, x, *, key=None):
        return x


def _identity(x):
    return x


class MLP(Module):
    """A multi-layer perceptron: ``depth`` hidden layers of ``width_size``.

    Args:
        in_size, out_size: input and output sizes (or ``"scalar"``).
        width_size: hidden width.
        depth: number of hidden layers (0: a single Linear).
        activation: applied after each hidden layer (default relu).
        final_activation: applied to the output (default identity).
        use_bias, use_final_bias: biases of the hidden and the last layer.
        key: PRNG key.
    """

    layers: tuple
    activation: Callable
    final_activation: Callable
    use_bias: bool = field(static=True)
    use_final_bias: bool = field(static=True)
    in_size: int | str = field(static=True)
    out_size: int | str = field(static=True)
    width_size: int = field(static=True)
    depth: int = field(static=True)

    def __init__(self, in_size, out_size, width_size, depth, activation=jumba.nn.relu,
                 final_activation=_identity, use_bias=True, use_final_bias=True,
                 dtype=None, *, key):
        keys = jr.split(key, depth + 1)
        layers = []
        if depth == 0:
            layers.append(Linear(in_size, out_size, use_final_bias, dtype=dtype,
                                 key=keys[0]))
        else:
            layers.append(Linear(in_size, width_size, use_bias, dtype=dtype, key=keys[0]))
            for i in range(depth - 1):
                layers.append(Linear(width_size, width_size, use_bias, dtype=dtype,
                                     key=keys[i + 1]))
            layers.append(Linear(width_size, out_size, use_final_bias, dtype=dtype,
                                 key=keys[-1]))
        self.layers = tuple(layers)
        self.in_size, self.out_size = in_size, out_size
        self.width_size, self.depth = width_size, depth
        self.activation = activation
        self.final_activation = final_activation
        self.use_bias, self.use_final_bias = use_bias, use_final_bias

    def __call__(self, x, *, key=None):
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return self.final_activation(self.layers[-1](x))


class Embedding(Module):
    """A lookup table: ``embedding(i) = weight[i]``, initialised from N(0, 1).

    Args:
        num_embeddings, embedding_size: table shape (or pass ``weight``).
        weight: an explicit table of shape ``(num_embeddings, embedding_size)``.
        key: PRNG key (when ``weight`` is not given).
    """

    weight: Any
    num_embeddings: int = field(static=True)
    embedding_size: int = field(static=True)

    def __init__(self, num_embeddings=None, embedding_size=None, weight=None, dtype=None, *,
                 key=None):
        if weight is None:
            if num_embeddings is None or embedding_size is None or key is None:
                raise ValueError("Embedding: pass num_embeddings, embedding_size and key, "
                                 "or pass weight=.")
            dtype = default_floating_dtype() if dtype is None else dtype
            weight = jr.normal(key, (num_embeddings, embedding_size), dtype=dtype)
        else:
            if jnp.ndim(weight) != 2:
                raise ValueError(f"Embedding: weight must be 2-dimensional; got shape "
                                 f"{jnp.shape(weight)}.")
            num_embeddings = weight.shape[0] if num_embeddings is None else num_embeddings
            embedding_size = weight.shape[1] if embedding_size is None else embedding_size
            if weight.shape != (num_embeddings, embedding_size):
                raise ValueError(f"Embedding: weight has shape {weight.shape}, expected "
                                 f"{(num_embeddings, embedding_size)}.")
        self.weight = weight
        self.num_embeddings, self.embedding_size = num_embeddings, embedding_size

    def __call__(self, x, *, key=None):
        if is_array_like(x) and jnp.shape(x) == ():
            return self.weight[x]
        raise ValueError(f"Embedding takes one scalar index; got shape {jnp.shape(x)}. "
                         "Use jax.vmap(embedding)(indices) for many.")


class Dropout(Module):
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)``; the
    identity when ``inference`` is True (see ``nn.inference_mode``) or ``p == 0``."""

    p: float
    inference: bool

    def __init__(self, p: float = 0.5, inference: bool = False, *,
                 deterministic: bool | None = None):
        if deterministic is not None:
            inference = deterministic
        self.p = p
        self.inference = inference

    def __call__(self, x, *, key=None, inference=None, deterministic=None):
        if deterministic is not None:
            inference = deterministic
        if inference is None:
            inference = self.inference
        if isinstance(self.p, (int, float)) and self.p == 0:
            inference = True
        if inference:
            return x
        if key is None:
            raise RuntimeError(
                "Dropout requires a key when running in non-deterministic mode: call "
                "dropout(x, key=key), or switch it off with "
                "model = eqx.nn.inference_mode(model).")
        q = 1 - jumba.lax.stop_gradient(self.p)
        mask = jr.bernoulli(key, q, jnp.shape(x))
        return jnp.where(mask, x / q, 0)


class PReLU(Module):
    """``x if x >= 0 else alpha * x`` with a learnt slope ``alpha`` (initially 0.25)."""

    negative_slope: Any

    def __init__(self, init_alpha: Any = 0.25):
        self.negative_slope = jnp.asarray(init_alpha if init_alpha is not None else 0.25)

    def __call__(self, x, *, key=None):
        return jnp.where(x >= 0, x, self.negative_slope * x)


class Lambda(Module):
    """Wraps a function of one input as a layer (for use in ``Sequential``)."""

    fn: Callable

    def __call__(self, x, *, key=None):
        return self.fn(x)


class Sequential(StatefulLayer):
    """Calls layers in order. Stateful layers (BatchNorm, ...) get and return the state:
    call as ``y, state = seq(x, state)`` then; otherwise ``y = seq(x)``.

    The key, if given, is split into one per layer.
    """

    layers: tuple

    def __init__(self, layers: Sequence[Callable]):
        self.layers = tuple(layers)

    def __call__(self, x, state=_sentinel, *, key=None):
        keys = [None] * len(self.layers) if key is None else list(jr.split(key,
                                                                          len(self.layers)))
        for layer, k in zip(self.layers, keys):
            if isinstance(layer, StatefulLayer) and layer.is_stateful():
                if state is _sentinel:
                    raise ValueError(
                        f"Sequential: layer {type(layer).__name__} is stateful; call the "
                        "Sequential as `y, state = seq(x, state)` with a state from "
                        "eqx.nn.make_with_state.")
                x, state = layer(x, state=state, key=k)
            else:
                x = layer(x, key=k)
        if state is _sentinel:
            return x
        return x, state

    def is_stateful(self) -> bool:
        return any(isinstance(x, StatefulLayer) and x.is_stateful() for x in self.layers)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Sequential(self.layers[i])
        return self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        yield from self.layers


class Shared(Module):
    """Ties parameters: the nodes ``where`` selects are taken from the nodes ``get``
    selects, so they are stored (and trained) once.

    Calling ``shared()`` returns the pytree with the tied nodes filled in.

    Examples:
        >>> import jumba.random as jr
        >>> k1, k2 = jr.split(jr.PRNGKey(0))
        >>> enc, dec = Linear(2, 2, key=k1), Linear(2, 2, key=k2)
        >>> shared = Shared((enc, dec), lambda p: p[1].weight, lambda p: p[0].weight)
        >>> e, d = shared()
        >>> bool((e.weight == d.weight).all())
        True
    """

    pytree: Any
    where: Callable = field(static=True)
    get: Callable = field(static=True)

    def __init__(self, pytree: Any, where: Callable, get: Callable):
        # The tied copies are dropped (None), so the stored pytree holds each once.
        self.pytree = tree_at(where, pytree, replace_fn=_drop)
        self.where = where
        self.get = get

    def __call__(self):
        return tree_at(self.where, self.pytree, self.get(self.pytree))


def _drop(x):
    return jumba.tree_util.tree_map(lambda _: None, x)
