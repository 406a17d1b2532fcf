"""jumba.numpy sorting functions, on the `sort` primitive of `jumba._src.lax.sorting`."""

from __future__ import annotations

from jumba._src.core import get_aval
from jumba._src.lax import sorting as _sorting
from jumba._src.lax import structural as _st


def _prepare(a, axis, name):
    from jumba._src.numpy.lax_numpy import asarray

    a = asarray(a)
    if axis is None:
        return _st.reshape(a, (get_aval(a).size,)), 0
    ndim = get_aval(a).ndim
    if ndim == 0:
        raise ValueError(f"jumba.numpy.{name}: a scalar has no axis to sort along; pass "
                         "axis=None or an array with at least one dimension")
    if not -ndim <= axis < ndim:
        raise ValueError(f"jumba.numpy.{name}: axis {axis} is out of bounds for an array of "
                         f"rank {ndim}")
    return a, axis % ndim


def _check_unsupported(name, kind, order):
    if order is not None:
        raise TypeError(f"jumba.numpy.{name}: the 'order' argument (structured arrays) is not "
                        "supported; sort by each field with lax.sort(..., num_keys=n)")
    del kind  # NumPy's choice of algorithm: ignored, as in JAX


def sort(a, axis: int | None = -1, *, kind=None, order=None, stable: bool = True,
         descending: bool = False):
    """A sorted copy of `a` (as `jax.numpy.sort`; NaNs last, or first if descending).

    Args:
      a: the array.
      axis: the axis to sort along; None sorts the flattened array.
      kind: ignored (as JAX).
      order: unsupported.
      stable: kept for NumPy's signature; sorting is always stable.
      descending: sort from largest to smallest.
    """
    _check_unsupported("sort", kind, order)
    a, axis = _prepare(a, axis, "sort")
    out = _sorting.sort(a, dimension=axis, is_stable=stable)
    return _st.rev(out, (axis,)) if descending else out


def argsort(a, axis: int | None = -1, *, kind=None, order=None, stable: bool = True,
            descending: bool = False):
    """The indices that sort `a` along `axis` (as `jax.numpy.argsort`; stable)."""
    _check_unsupported("argsort", kind, order)
    a, axis = _prepare(a, axis, "argsort")
    return _sorting.argsort(a, axis, is_stable=stable, descending=descending)
