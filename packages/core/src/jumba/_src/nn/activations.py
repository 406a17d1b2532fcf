"""Elementwise activation functions of jumba.nn (as jax.nn), written on jumba.numpy.

Every function is a composition of existing primitives, so grad, vmap and jit come for
free. Where JAX attaches a `custom_jvp` to fix a derivative at a kink (relu, relu6), the
same value comes here from the branch `select` picks: `where(x <= 0, 0, x)` has derivative
0 at x == 0, as JAX's relu. Comments note each kink convention.
"""

from __future__ import annotations

import numpy as np

from jumba._src.lax import elementwise as lax
from jumba._src.numpy import lax_numpy as jnp


def _inexact(x):
    """`x` as a jumba array of a floating dtype (integers and bools promote, as jnp.exp)."""
    (x,) = jnp.promote_dtypes_inexact(jnp.asarray(x))
    return x


def identity(x):
    """Identity activation: returns `x` unchanged.

    Args:
      x: input array.

    Returns:
      `x` as an array.
    """
    return jnp.asarray(x)


def relu(x):
    r"""Rectified linear unit, :math:`\max(x, 0)`.

    As JAX, the derivative at 0 is 0 (not the 1/2 that differentiating `maximum` gives),
    and NaN propagates.

    Args:
      x: input array.

    Returns:
      An array of `x`'s shape and dtype.

    Examples:
      >>> import jumba as jb
      >>> import jumba.nn
      >>> float(jb.grad(jumba.nn.relu)(0.0))
      0.0
    """
    x = jnp.asarray(x)
    # `x <= 0` is False for NaN, so NaN passes through the `x` branch.
    return jnp.where(x <= 0, jnp.zeros_like(x), x)


def relu6(x):
    r"""ReLU capped at 6, :math:`\min(\max(x, 0), 6)`; derivative 0 at 0 and at 6 (as JAX).

    Args:
      x: input array.

    Returns:
      An array of `x`'s shape and dtype.
    """
    x = jnp.asarray(x)
    return jnp.where(x <= 0, jnp.zeros_like(x), jnp.where(x >= 6, jnp.full_like(x, 6), x))


def sigmoid(x):
    r"""Logistic sigmoid, :math:`1 / (1 + e^{-x})`, stable for large :math:`|x|`.

    Args:
      x: input array.

    Returns:
      A floating array of `x`'s shape.
    """
    return lax.logistic(_inexact(x))


def silu(x):
    r"""SiLU (swish), :math:`x \cdot \mathrm{sigmoid}(x)`.

    Args:
      x: input array.

    Returns:
      A floating array of `x`'s shape.
    """
    x = _inexact(x)
    return x * lax.logistic(x)


swish = silu


def log_sigmoid(x):
    r"""Log-sigmoid, :math:`-\mathrm{softplus}(-x)`, stable for large :math:`|x|`.

    Args:
      x: input array.

    Returns:
      A floating array of `x`'s shape.
    """
    return -softplus(-_inexact(x))


def softplus(x):
    r"""Softplus, :math:`\log(1 + e^x)`, computed as `logaddexp(x, 0)` (no overflow).

    Args:
      x: input array.

    Returns:
      A floating array of `x`'s shape.
    """
    return jnp.logaddexp(_inexact(x), 0)


def sparse_plus(x):
    r"""Sparse plus: 0 for :math:`x \le -1`, :math:`(x+1)^2/4` on :math:`(-1, 1)`, `x` for
    :math:`x \ge 1` (a once-differentiable softplus with exact zeros).

    Args:
      x: input array.

    Returns:
      A floating array of `x`'s shape.
    """
    x = _inexact(x)
    return jnp.where(x <= -1.0, jnp.zeros_like(x),
                     jnp.where(x >= 1.0, x, (x + 1.0) ** 2 / 4))


def sparse_sigmoid(x):
    r"""Sparse sigmoid, :math:`\tfrac12 \mathrm{clip}(x + 1, 0, 2)` (derivative of
    `sparse_plus`).

    Args:
      x: input array.

    Returns:
      A floating array of `x`'s shape.
    """
    return 0.5 * jnp.clip(_inexact(x) + 1.0, 0.0, 2.0)


def soft_sign(x):
    r"""Soft-sign, :math:`x / (|x| + 1)`.

    Args:
      x: input array.

    Returns:
      A floating array of `x`'s shape.
    """
    x = _inexact(x)
    return x / (jnp.abs(x) + 1)


def squareplus(x, b=4):
    r"""Squareplus, :math:`(x + \sqrt{x^2 + b}) / 2` (Barron, 2021).

    Args:
      x: input array.
      b: smoothness (non-negative); `b = 0` gives relu.

    Returns:
      A floating array of `x`'s shape.
    """
    x = _inexact(x)
    return (x + jnp.sqrt(jnp.square(x) + b)) / 2


def mish(x):
    r"""Mish, :math:`x \tanh(\mathrm{softplus}(x))` (Misra, 2019).

    Args:
      x: input array.

    Returns:
      A floating array of `x`'s shape.
    """
    x = _inexact(x)
    return x * jnp.tanh(softplus(x))


def hard_sigmoid(x):
    r"""Hard sigmoid, :math:`\mathrm{relu6}(x + 3) / 6`; derivative 0 at -3 and 3.

    Args:
      x: input array.

    Returns:
      A floating array of `x`'s shape.
    """
    return relu6(_inexact(x) + 3.0) / 6.0


def hard_silu(x):
    r"""Hard SiLU (hard swish), :math:`x \cdot \mathrm{hard\_sigmoid}(x)`.

    Args:
      x: input array.

    Returns:
      A floating array of `x`'s shape.
    """
    x = _inexact(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def hard_tanh(x):
    r"""Hard tanh: -1 below -1, 1 above 1, `x` between; derivative 1 at :math:`\pm 1` (as
    JAX, whose branches are `x > 1` and `x < -1`).

    Args:
      x: input array.

    Returns:
      An array of `x`'s shape and dtype.
    """
    x = jnp.asarray(x)
    return jnp.where(x > 1, jnp.ones_like(x), jnp.where(x < -1, -jnp.ones_like(x), x))


def tanh(x):
    """Hyperbolic tangent (`jumba.numpy.tanh`).

    Args:
      x: input array.

    Returns:
      A floating array of `x`'s shape.
    """
    return jnp.tanh(x)


def leaky_relu(x, negative_slope=1e-2):
    r"""Leaky ReLU, `x` for :math:`x \ge 0` else `negative_slope * x`; derivative 1 at 0.

    Args:
      x: input array.
      negative_slope: slope for negative inputs.

    Returns:
      An array of `x`'s shape.
    """
    x = jnp.asarray(x)
    return jnp.where(x >= 0, x, negative_slope * x)


def elu(x, alpha=1.0):
    r"""Exponential linear unit: `x` for :math:`x > 0`, :math:`\alpha (e^x - 1)` otherwise.

    The exponential branch sees only non-positive values, so large `x` never overflows
    (and its derivative there is not NaN).

    Args:
      x: input array.
      alpha: scale of the negative branch.

    Returns:
      A floating array of `x`'s shape.
    """
    x = _inexact(x)
    safe_x = jnp.where(x > 0, jnp.zeros_like(x), x)
    return jnp.where(x > 0, x, alpha * jnp.expm1(safe_x))


def celu(x, alpha=1.0):
    r"""Continuously differentiable ELU, :math:`\max(x, 0) + \alpha
    (\exp(\min(x, 0)/\alpha) - 1)`.

    Args:
      x: input array.
      alpha: scale (and curvature) of the negative branch.

    Returns:
      A floating array of `x`'s shape.
    """
    x = _inexact(x)
    return jnp.maximum(x, 0.0) + alpha * jnp.expm1(jnp.minimum(x, 0.0) / alpha)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    r"""Scaled ELU (Klambauer et al., 2017): :math:`\lambda \, \mathrm{elu}(x, \alpha)`
    with :math:`\alpha \approx 1.6733`, :math:`\lambda \approx 1.0507`.

    Args:
      x: input array.

    Returns:
      A floating array of `x`'s shape.
    """
    return _SELU_SCALE * elu(x, _SELU_ALPHA)


def gelu(x, approximate: bool = True):
    r"""Gaussian error linear unit.

    Exact: :math:`x \Phi(x) = \tfrac{x}{2} (1 + \mathrm{erf}(x / \sqrt 2))`. Approximate
    (JAX's default): :math:`\tfrac{x}{2} (1 + \tanh(\sqrt{2/\pi} (x + 0.044715 x^3)))`.

    Args:
      x: input array.
      approximate: use the tanh approximation (default True, as JAX).

    Returns:
      A floating array of `x`'s shape.
    """
    x = _inexact(x)
    if approximate:
        inner = np.sqrt(2 / np.pi) * (x + 0.044715 * (x ** 3))
        return x * (0.5 * (1.0 + jnp.tanh(inner)))
    return x * (lax.erf(x * (1 / np.sqrt(2))) + 1) / 2


def log1mexp(x):
    r""":math:`\log(1 - e^{-x})` for :math:`x \ge 0`, accurate for small and large `x`.

    Uses `log(-expm1(-x))` below :math:`\log 2` and `log1p(-exp(-x))` above (Mächler,
    2012). Undefined (NaN) for negative `x`.

    Args:
      x: input array (non-negative).

    Returns:
      A floating array of `x`'s shape.
    """
    x = _inexact(x)
    return jnp.where(x < np.log(2.0), jnp.log(-jnp.expm1(-x)), jnp.log1p(-jnp.exp(-x)))
