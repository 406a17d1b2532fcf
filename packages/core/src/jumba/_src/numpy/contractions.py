"""jumba.numpy's contractions: dot, matmul, tensordot, inner, outer, vdot, einsum_path."""

from __future__ import annotations

import builtins

import numpy as np

from jumba._src import dtypes
from jumba._src.core import get_aval
from jumba._src.lax import structural as st
from jumba._src.lax.dot import dot_general
from jumba._src.numpy.elementwise_functions import (  # noqa: F401
    multiply,
)
from jumba._src.numpy.lax_numpy import (  # noqa: F401
    promote_dtypes,
)
from jumba._src.numpy.shape_functions import (  # noqa: F401
    ravel,
)


def _promote_for_dot(a, b):
    a, b = promote_dtypes(a, b)
    return a, b


def matmul(a, b, /, *, precision=None, preferred_element_type=None):
    """Matrix product with NumPy's rules for 1-D operands and batch broadcasting."""
    a, b = _promote_for_dot(a, b)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if len(sa) == 0 or len(sb) == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension, got shapes "
                         f"{sa} and {sb}")
    orig = sa, sb
    a_vec, b_vec = len(sa) == 1, len(sb) == 1
    if a_vec:
        a = st.reshape(a, (1, sa[0]))
    if b_vec:
        b = st.reshape(b, (sb[0], 1))
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if sa[-1] != sb[-2]:
        raise ValueError(f"matmul: contracting dimensions differ: shapes {orig[0]} @ {orig[1]} "
                         f"(size {sa[-1]} of the first's last axis vs size {sb[-2]} of the "
                         f"second's {'only' if b_vec else 'second-to-last'} axis)")
    try:
        batch = np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of shapes {orig[0]} @ {orig[1]} do not "
                         "broadcast") from None
    a = st.broadcast_to(a, (*batch, *sa[-2:]))
    b = st.broadcast_to(b, (*batch, *sb[-2:]))
    nb = len(batch)
    out = dot_general(a, b, (((nb + 1,), (nb,)), (tuple(range(nb)), tuple(range(nb)))),
                      preferred_element_type)
    s = get_aval(out).shape
    if a_vec and b_vec:
        return st.reshape(out, s[:-2])
    if a_vec:
        return st.reshape(out, (*s[:-2], s[-1]))
    if b_vec:
        return st.reshape(out, s[:-1])
    return out


def dot(a, b, *, precision=None, preferred_element_type=None):
    a, b = _promote_for_dot(a, b)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if len(sa) == 0 or len(sb) == 0:
        return multiply(a, b)
    pet = preferred_element_type
    if sa[-1] != sb[0 if len(sb) == 1 else -2]:
        raise ValueError(f"dot: shapes {sa} and {sb} not aligned: size {sa[-1]} of the "
                         f"first's last axis vs {sb[0 if len(sb) == 1 else -2]} of the "
                         f"second's {'only' if len(sb) == 1 else 'second-to-last'} axis")
    if len(sb) == 1:
        return tensordot(a, b, ((len(sa) - 1,), (0,)), preferred_element_type=pet)
    return tensordot(a, b, ((len(sa) - 1,), (len(sb) - 2,)), preferred_element_type=pet)


def vdot(a, b, *, precision=None, preferred_element_type=None):
    a, b = _promote_for_dot(a, b)
    if get_aval(a).size != get_aval(b).size:
        raise ValueError(f"vdot: operands of shapes {get_aval(a).shape} and "
                         f"{get_aval(b).shape} have different sizes")
    if dtypes.issubdtype(get_aval(a).dtype, np.complexfloating) and "conj" in globals():
        a = globals()["conj"](a)
    return dot(ravel(a), ravel(b), preferred_element_type=preferred_element_type)


def inner(a, b, *, precision=None, preferred_element_type=None):
    a, b = _promote_for_dot(a, b)
    if get_aval(a).ndim == 0 or get_aval(b).ndim == 0:
        return multiply(a, b)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if sa[-1] != sb[-1]:
        raise ValueError(f"inner: last axes of shapes {sa} and {sb} differ in size")
    return tensordot(a, b, ((-1,), (-1,)), preferred_element_type=preferred_element_type)


def outer(a, b, out=None):
    a, b = _promote_for_dot(ravel(a), ravel(b))
    return multiply(st.reshape(a, (get_aval(a).size, 1)), b)


def tensordot(a, b, axes=2, *, precision=None, preferred_element_type=None):
    a, b = _promote_for_dot(a, b)
    na, nb = get_aval(a).ndim, get_aval(b).ndim
    if isinstance(axes, (int, np.integer)):
        k = int(axes)
        if k > builtins.min(na, nb) or k < 0:
            raise ValueError(f"tensordot: axes={k} exceeds the ranks of the operands "
                             f"({na}, {nb})")
        ca, cb = tuple(range(na - k, na)), tuple(range(k))
    else:
        ax_a, ax_b = axes
        ax_a = (ax_a,) if isinstance(ax_a, (int, np.integer)) else tuple(ax_a)
        ax_b = (ax_b,) if isinstance(ax_b, (int, np.integer)) else tuple(ax_b)
        if len(ax_a) != len(ax_b):
            raise ValueError("tensordot: the two axis lists must have the same length")
        ca = tuple(x % na for x in ax_a)
        cb = tuple(x % nb for x in ax_b)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    for i, j in zip(ca, cb):
        if sa[i] != sb[j]:
            raise ValueError(f"tensordot: shape mismatch: axis {i} of {sa} has size {sa[i]}, "
                             f"axis {j} of {sb} has size {sb[j]}")
    return dot_general(a, b, ((ca, cb), ((), ())), preferred_element_type)


def einsum(subscripts, *operands, optimize="optimal", precision=None,
           preferred_element_type=None):
    """Einstein summation (see jax.numpy.einsum), contracted pairwise with dot_general in
    the order NumPy's einsum_path chooses (`optimize`: 'optimal', 'greedy', True, False or
    an explicit path)."""
    from jumba._src.numpy.einsum import einsum as _einsum

    return _einsum(subscripts, *operands, optimize=optimize,
                   preferred_element_type=preferred_element_type)


def einsum_path(subscripts, *operands, optimize="greedy"):
    """The contraction path einsum would take: NumPy's (path, report) pair."""
    from jumba._src.numpy.einsum import einsum_path as _einsum_path

    return _einsum_path(subscripts, *operands, optimize=optimize)
