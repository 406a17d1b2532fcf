"""Reductions and array functions of jumba.nn (as jax.nn): softmax, log_softmax,
logsumexp, logmeanexp, standardize, glu, one_hot.

All are compositions of primitives. JAX gives softmax a `custom_jvp` whose tangent is
`y * (x_dot - sum(y * x_dot))`; differentiating the max-shifted composition below gives
the same values (the shift is under `stop_gradient`, and its derivative cancels anyway).
"""

from __future__ import annotations

import operator

import numpy as np

from jumba._src import dtypes
from jumba._src.core import Tracer, get_aval
from jumba._src.lax import elementwise as lax
from jumba._src.lax.ad_util import stop_gradient
from jumba._src.nn.activations import _inexact, sigmoid
from jumba._src.numpy import lax_numpy as jnp


def _axes(axis, ndim, name):
    return jnp._canon_axes(axis, ndim, name)


def softmax(x, axis=-1, where=None):
    r"""Softmax, :math:`e^{x_i} / \sum_j e^{x_j}` along `axis`, stable for large inputs.

    Args:
      x: input array.
      axis: axis or axes to normalise over (None: all).
      where: optional boolean mask; masked-out entries take no part in the sum and are 0
        in the output.

    Returns:
      A floating array of `x`'s shape summing to 1 along `axis`.

    Examples:
      >>> import jumba.nn
      >>> [round(float(v), 4) for v in jumba.nn.softmax(jumba.numpy.array([0., 1000.]))]
      [0.0, 1.0]
    """
    x = _inexact(x)
    x_max = jnp.max(x, axis, where=where, initial=-np.inf, keepdims=True)
    x_safe = x if where is None else jnp.where(where, x, -np.inf)
    unnormalized = jnp.exp(x_safe - stop_gradient(x_max))
    result = unnormalized / jnp.sum(unnormalized, axis, where=where, keepdims=True)
    if where is not None:
        result = jnp.where(where, result, jnp.zeros_like(result))
    return result


def log_softmax(x, axis=-1, where=None):
    r"""Log-softmax, :math:`x_i - \log \sum_j e^{x_j}` along `axis`, stable for large
    inputs.

    Args:
      x: input array.
      axis: axis or axes to normalise over (None: all).
      where: optional boolean mask; masked-out entries are -inf in the output.

    Returns:
      A floating array of `x`'s shape.
    """
    x = _inexact(x)
    x_max = jnp.max(x, axis, where=where, initial=-np.inf, keepdims=True)
    x_safe = x if where is None else jnp.where(where, x, -np.inf)
    shifted = x_safe - stop_gradient(x_max)
    shifted_lse = jnp.log(jnp.sum(jnp.exp(shifted), axis, where=where, keepdims=True))
    result = shifted - shifted_lse
    if where is not None:
        result = jnp.where(where, result, jnp.full_like(result, -np.inf))
    return result


def logsumexp(a, axis=None, b=None, keepdims: bool = False, return_sign: bool = False,
              where=None):
    r"""Log-sum-exp, :math:`\log \sum_i b_i e^{a_i}` (as jax.scipy.special.logsumexp).

    The maximum is subtracted first (under `stop_gradient`), so large inputs neither
    overflow nor lose precision; a reduction over only -inf values is -inf.

    Args:
      a: input array.
      axis: axis or axes to reduce (None: all).
      b: optional weights broadcastable to `a`; entries with `b == 0` are ignored.
      keepdims: keep reduced axes with length 1.
      return_sign: return `(log|sum|, sign(sum))`; otherwise a negative sum gives NaN.
      where: optional boolean mask of the entries to include.

    Returns:
      The reduced array, or the pair `(result, sign)` when `return_sign` is True.
    """
    if b is not None:
        a, b = jnp.promote_dtypes_inexact(jnp.asarray(a), jnp.asarray(b))
        a = jnp.where(b != 0, a, jnp.full_like(a, -np.inf))
    else:
        a = _inexact(a)
    # The reduced shape is that of `a` broadcast against `b` and `where`.
    shapes = [get_aval(a).shape] + [get_aval(jnp.asarray(o)).shape for o in (b, where)
                                    if o is not None]
    a = jnp.broadcast_to(a, jnp.broadcast_shapes(*shapes))
    aval = get_aval(a)
    axes = _axes(axis, aval.ndim, "logsumexp")
    amax = jnp.max(a, axes, keepdims=True, where=where, initial=-np.inf)
    # Infinite maxima (all -inf, or a +inf) are not subtracted: inf - inf would be NaN.
    amax = stop_gradient(jnp.where(jnp.isfinite(amax), amax, jnp.zeros_like(amax)))
    exp_a = jnp.exp(a - amax)
    if b is not None:
        exp_a = b * exp_a
    sumexp = jnp.sum(exp_a, axes, keepdims=keepdims, where=where)
    sign = jnp.sign(sumexp)
    sumexp = jnp.abs(sumexp)
    out = jnp.log(sumexp) + (amax if keepdims else jnp.squeeze(amax, axes))
    if return_sign:
        return out, sign
    if b is not None:
        out = jnp.where(sign < 0, jnp.full_like(out, np.nan), out)
    return out


def logmeanexp(x, axis=None, where=None, keepdims: bool = False):
    r"""Log-mean-exp, :math:`\log \frac1n \sum_i e^{x_i} = \mathrm{logsumexp}(x) - \log n`.

    Args:
      x: input array.
      axis: axis or axes to reduce (None: all).
      where: optional boolean mask of the entries to include (n counts them).
      keepdims: keep reduced axes with length 1.

    Returns:
      The reduced floating array.
    """
    x = _inexact(x)
    aval = get_aval(x)
    axes = _axes(axis, aval.ndim, "logmeanexp")
    lse = logsumexp(x, axes, keepdims=keepdims, where=where)
    if where is None:
        n = float(np.prod([aval.shape[i] for i in axes], dtype=np.int64))
        with np.errstate(divide="ignore"):  # an empty reduction: log(0) = -inf, as JAX
            return lse - np.asarray(np.log(n), aval.dtype)
    w = jnp.broadcast_to(jnp.asarray(where), aval.shape).astype(aval.dtype)
    return lse - jnp.log(jnp.sum(w, axes, keepdims=keepdims))


def standardize(x, axis=-1, mean=None, variance=None, epsilon=1e-5, where=None, *,
                algorithm: str = "fast"):
    r"""Standardize to zero mean and unit variance: :math:`(x - \mu) / \sqrt{\sigma^2 +
    \epsilon}` along `axis`.

    Args:
      x: input array.
      axis: axis or axes to standardize over (None: all).
      mean: the mean to use (default: `x.mean(axis, where=where)`).
      variance: the variance to use (default: computed by `algorithm`).
      epsilon: added to the variance.
      where: optional boolean mask of the entries used for the statistics.
      algorithm: `"fast"`: variance as :math:`E[x^2] - E[x]^2` (one pass, JAX's default);
        `"stable"`: :math:`E[(x - \mu)^2]` (two passes, no cancellation).

    Returns:
      A floating array of `x`'s shape.
    """
    if algorithm not in ("fast", "stable"):
        raise ValueError(f"standardize: algorithm must be 'fast' or 'stable', got "
                         f"{algorithm!r}.")
    x = _inexact(x)
    if mean is None:
        mean = jnp.mean(x, axis, keepdims=True, where=where)
    if variance is None:
        if algorithm == "fast":
            variance = (jnp.mean(jnp.square(x), axis, keepdims=True, where=where)
                        - jnp.square(mean))
        else:
            variance = jnp.mean(jnp.square(x - mean), axis, keepdims=True, where=where)
    return (x - jnp.asarray(mean)) * lax.rsqrt(jnp.asarray(variance) + epsilon)


def glu(x, axis=-1):
    r"""Gated linear unit: split `x` in halves `a, b` along `axis`; :math:`a \cdot
    \mathrm{sigmoid}(b)`.

    Args:
      x: input array; its size along `axis` must be even.
      axis: the axis to split.

    Returns:
      An array with `axis` halved.
    """
    x = _inexact(x)
    shape = get_aval(x).shape
    (ax,) = _axes(axis, len(shape), "glu")
    size = shape[ax]
    if size % 2:
        raise ValueError(f"glu: the size of axis {axis} must be even to split it into value "
                         f"and gate halves; got shape {shape}. Pad or slice that axis to an "
                         "even length.")
    a, b = jnp.split(x, 2, axis=ax)
    return a * sigmoid(b)


def _static_int(value, name, what):
    if isinstance(value, Tracer):
        raise TypeError(
            f"{name}: {what} must be a static Python int, but a traced value was given. The "
            "output shape depends on it, so it cannot be traced: pass a Python int (e.g. "
            "mark it with static_argnums under jit).")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: {what} must be an int, got {value!r}.") from None


def one_hot(x, num_classes: int, *, dtype=None, axis=-1):
    """One-hot encoding: `out[..., i] = (x == i)` for i in range(num_classes).

    Out-of-range values (negative or >= num_classes) give all-zero rows, as in JAX.

    Args:
      x: array of class indices.
      num_classes: number of classes (a static int).
      dtype: output dtype (default: the default float dtype, float32 unless x64).
      axis: where the class axis goes in the output.

    Returns:
      An array of shape `x.shape` with a `num_classes` axis inserted at `axis`.

    Examples:
      >>> import jumba.nn
      >>> jumba.nn.one_hot(jumba.numpy.array([0, 2]), 3).tolist()
      [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    n = _static_int(num_classes, "one_hot", "num_classes")
    if n < 0:
        raise ValueError(f"one_hot: num_classes must be non-negative, got {n}.")
    x = jnp.asarray(x)
    dt = dtypes.canonicalize_dtype(np.dtype(dtype) if dtype is not None else np.float64)
    out_ndim = get_aval(x).ndim + 1
    ax = _static_int(axis, "one_hot", "axis")
    if not -out_ndim <= ax < out_ndim:
        raise ValueError(f"one_hot: axis {axis} is out of bounds for the output of rank "
                         f"{out_ndim} (input rank {out_ndim - 1} plus the class axis).")
    ax %= out_ndim
    lhs = jnp.expand_dims(x, ax)
    classes_shape = [1] * out_ndim
    classes_shape[ax] = n
    classes = np.arange(n, dtype=get_aval(x).dtype if get_aval(x).dtype != np.bool_
                        else np.int32).reshape(classes_shape)
    return (lhs == classes).astype(dt)
