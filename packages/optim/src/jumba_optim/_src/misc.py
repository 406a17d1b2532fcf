"""Numerical helpers outside the transformation protocol: power iteration, micro-batching
and Gaussian sampling."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jumba
import jumba.numpy as jnp


def power_iteration(
    matrix: Any, num_iters: int = 100, error_tolerance: float = 1e-6, precision: Any = None,
    v0: Any = None, key: Any = None,
) -> tuple[Any, Any]:
    """The dominant eigenpair of a symmetric matrix (or of a linear operator function)::

        v <- A v / ||A v||;   lambda = <v, A v>

    Stops early (when run eagerly) once ``||A v - lambda v|| < error_tolerance``; traced
    under ``jit`` all ``num_iters`` iterations run.

    Returns:
        ``(eigenvector, eigenvalue)``.
    """
    del precision
    matvec = matrix if callable(matrix) else (lambda v: matrix @ v)
    if v0 is None:
        if callable(matrix):
            raise ValueError("power_iteration: pass v0 when `matrix` is a function.")
        n = matrix.shape[-1]
        if key is not None:
            import jumba.random as jrandom

            v0 = jrandom.normal(key, (n,), dtype=matrix.dtype)
        else:
            # A fixed start with no symmetry, so it is not orthogonal to typical eigvecs.
            v0 = jnp.linspace(1.0, 2.0, n).astype(matrix.dtype)
    v = v0 / jnp.sqrt(jnp.sum(v0 * v0))
    eig = jnp.asarray(0.0, v.dtype)
    for _ in range(num_iters):
        av = matvec(v)
        eig = jnp.sum(v * av)
        err = jnp.sqrt(jnp.sum((av - eig * v) ** 2))
        norm = jnp.sqrt(jnp.sum(av * av))
        v = av / jnp.where(norm == 0, 1.0, norm)
        try:
            if bool(err < error_tolerance):
                break
        except Exception:  # noqa: BLE001 - traced: no early exit
            pass
    eig = jnp.sum(v * matvec(v))
    return v, eig


def microbatch(
    fun: Callable[..., Any],
    argnums: int | Sequence[int],
    microbatch_size: int,
    reduce: str = "mean",
) -> Callable[..., Any]:
    """Evaluates ``fun`` on micro-batches of the arguments in ``argnums`` (split on their
    leading axis) and combines the results with ``reduce``: ``"mean"`` (of the per-batch
    results), ``"sum"`` or ``"concat"``. Lowers peak memory for large batches.
    """
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if reduce not in ("mean", "sum", "concat"):
        raise ValueError(f"microbatch: reduce must be 'mean', 'sum' or 'concat', got {reduce!r}.")

    def wrapped(*args, **kwargs):
        sizes = {jumba.tree_util.tree_leaves(args[i])[0].shape[0] for i in nums}
        if len(sizes) != 1:
            raise ValueError(f"microbatch: the batched arguments have different sizes {sizes}.")
        (size,) = sizes
        if size % microbatch_size:
            raise ValueError(
                f"microbatch: batch size {size} is not a multiple of microbatch_size "
                f"{microbatch_size}."
            )
        outs = []
        for start in range(0, size, microbatch_size):
            sl = slice(start, start + microbatch_size)
            call = list(args)
            for i in nums:
                call[i] = jumba.tree_util.tree_map(lambda x, sl=sl: x[sl], args[i])
            outs.append(fun(*call, **kwargs))
        if reduce == "concat":
            return jumba.tree_util.tree_map(lambda *xs: jnp.concatenate(xs), *outs)
        total = jumba.tree_util.tree_map(lambda *xs: sum(xs[1:], xs[0]), *outs)
        if reduce == "sum":
            return total
        return jumba.tree_util.tree_map(lambda x: x / len(outs), total)

    return wrapped


class multi_normal:  # noqa: N801 - Optax's name
    """A multivariate normal with diagonal covariance ``exp(log_scale)^2``:
    ``sample(key, shape)`` and ``log_prob(x)``."""

    def __init__(self, loc: Any, log_scale: Any):
        self.loc = jnp.asarray(loc)
        self.log_scale = jnp.asarray(log_scale)

    def sample(self, key: Any, shape: tuple[int, ...] = ()) -> Any:
        import jumba.random as jrandom

        eps = jrandom.normal(key, tuple(shape) + self.loc.shape, dtype=self.loc.dtype)
        return self.loc + jnp.exp(self.log_scale) * eps

    def log_prob(self, x: Any) -> Any:
        z = (x - self.loc) * jnp.exp(-self.log_scale)
        return jnp.sum(-0.5 * z * z - self.log_scale - 0.5 * jnp.log(2 * jnp.pi), axis=-1)
