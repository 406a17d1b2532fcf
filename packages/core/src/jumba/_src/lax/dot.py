"""dot_general: contractions with batch dimensions, computed by NumPy's matmul (BLAS).

Output layout, as XLA: batch dimensions, then the free dimensions of lhs, then of rhs.
"""

from __future__ import annotations

import math

import numpy as np

from jumba._src import dtypes
from jumba._src.core import Primitive, ShapedArray, get_aval
from jumba._src.interpreters import ad, batching
from jumba._src.interpreters.ad import is_undefined_primal
from jumba._src.lax.structural import convert_element_type, transpose
from jumba._src.runtime import blas

dot_general_p = Primitive("dot_general")
dot_general_p.weak_type_rule = lambda wx, wy, **params: wx and wy


def _free(ndim, contract, batch):
    return [i for i in range(ndim) if i not in contract and i not in batch]


@dot_general_p.def_impl
def _dot_general_impl(x, y, *, dimension_numbers, preferred_element_type=None):
    (xc, yc), (xb, yb) = dimension_numbers
    out_dtype = x.dtype if preferred_element_type is None else np.dtype(preferred_element_type)
    if (not xb and len(xc) == 1 and x.ndim <= 2 and y.ndim <= 2 and x.dtype.kind in "fc"
            and x.dtype == out_dtype):
        # A plain matrix product: BLAS reads transposed operands in place (no copies).
        a2 = x if xc[0] == x.ndim - 1 else x.T
        b2 = y if yc[0] == 0 else y.T
        if a2.ndim == 2 and b2.ndim == 2:
            return blas.matmul(a2, b2)
        with blas.single_threaded(2.0 * x.size * (y.size // max(y.shape[yc[0]], 1))):
            return np.dot(a2, b2)
    xf, yf = _free(x.ndim, xc, xb), _free(y.ndim, yc, yb)
    bshape = [x.shape[i] for i in xb]
    xfs, yfs = [x.shape[i] for i in xf], [y.shape[i] for i in yf]
    k = math.prod([x.shape[i] for i in xc])
    m, n, b = math.prod(xfs), math.prod(yfs), math.prod(bshape)
    # Arrange as (batch, m, k) @ (batch, k, n): one BLAS call (or a batched loop in C).
    x3 = np.transpose(x, (*xb, *xf, *xc)).reshape(b, m, k)
    y3 = np.transpose(y, (*yb, *yc, *yf)).reshape(b, k, n)
    if out_dtype.kind in "fc" and x.dtype != out_dtype:
        # Accumulate in the preferred (wider) type, as XLA does.
        x3, y3 = x3.astype(out_dtype), y3.astype(out_dtype)
    if x3.dtype.kind in "biu":
        # NumPy's integer matmul has no BLAS; int64 accumulation wraps like XLA's on cast.
        acc = np.uint64 if x3.dtype.kind == "u" else np.int64
        out = np.matmul(x3.astype(acc), y3.astype(acc))
        out = (out > 0) if out_dtype.kind == "b" else out.astype(out_dtype)
    elif k == 1:
        # No contraction (an outer product per batch entry, as vmap of a product gives):
        # a broadcasting multiply beats a batch of tiny matmuls.
        out = np.multiply(x3, y3)
    else:
        out = blas.matmul(x3, y3)
    if out.dtype != out_dtype:
        out = out.astype(out_dtype)
    return out.reshape((*bshape, *xfs, *yfs))


@dot_general_p.def_abstract_eval
def _dot_general_abstract_eval(x, y, *, dimension_numbers, preferred_element_type=None):
    (xc, yc), (xb, yb) = dimension_numbers
    if x.dtype != y.dtype:
        raise TypeError(f"dot_general requires operands of one dtype, got {x.dtype.name} and "
                        f"{y.dtype.name}; jumba.numpy.dot/matmul promote types first")
    if len(xc) != len(yc) or len(xb) != len(yb):
        raise TypeError(f"dot_general: dimension_numbers {dimension_numbers} pair unequal "
                        "numbers of axes")
    for name, axes, nd in (("lhs", (*xc, *xb), x.ndim), ("rhs", (*yc, *yb), y.ndim)):
        if len(set(axes)) != len(axes) or any(not 0 <= a < nd for a in axes):
            raise TypeError(f"dot_general: {name} contracting/batch dimensions {axes} must be "
                            f"distinct axes of its shape {x.shape if name == 'lhs' else y.shape}")
    for a, b in zip(xc, yc):
        if x.shape[a] != y.shape[b]:
            raise TypeError(
                f"dot_general: contracting dimensions disagree: lhs shape {x.shape} axis {a} "
                f"has size {x.shape[a]}, rhs shape {y.shape} axis {b} has size {y.shape[b]}")
    for a, b in zip(xb, yb):
        if x.shape[a] != y.shape[b]:
            raise TypeError(f"dot_general: batch dimensions disagree: lhs shape {x.shape} "
                            f"axis {a} vs rhs shape {y.shape} axis {b}")
    shape = ([x.shape[i] for i in xb] + [x.shape[i] for i in _free(x.ndim, xc, xb)]
             + [y.shape[i] for i in _free(y.ndim, yc, yb)])
    dt = x.dtype if preferred_element_type is None else np.dtype(preferred_element_type)
    return ShapedArray(shape, dt, x.weak_type and y.weak_type)


def dot_general(x, y, dimension_numbers, preferred_element_type=None):
    (xc, yc), (xb, yb) = dimension_numbers
    dn = ((tuple(map(int, xc)), tuple(map(int, yc))), (tuple(map(int, xb)), tuple(map(int, yb))))
    if preferred_element_type is not None:
        preferred_element_type = dtypes.canonicalize_dtype(np.dtype(preferred_element_type))
    return dot_general_p.bind(x, y, dimension_numbers=dn,
                              preferred_element_type=preferred_element_type)


# ---------------------------------------------------------------------------------------
# Transposes: the cotangent of one operand is a dot_general of the output cotangent with
# the other operand, followed by a transpose into the operand's axis order.


def _ranges_like(*xs):
    start = 0
    for x in xs:
        yield tuple(range(start, start + len(x)))
        start += len(x)


def _transpose_lhs(g, y, x_ndim, y_ndim, dimension_numbers, swap_ans=False):
    (xc, yc), (xb, yb) = dimension_numbers
    x_kept = _free(x_ndim, xc, xb)
    y_kept = _free(y_ndim, yc, yb)
    if swap_ans:
        ans_batch, ans_y, _ = _ranges_like(xb, y_kept, x_kept)
    else:
        ans_batch, _, ans_y = _ranges_like(xb, x_kept, y_kept)
    dims = ((ans_y, tuple(y_kept)), (ans_batch, tuple(yb)))
    y_dtype = get_aval(y).dtype
    if get_aval(g).dtype != y_dtype:  # preferred_element_type: back to the operands' dtype
        g = convert_element_type(g, y_dtype)
    xc_sorted_by_y = list(np.take(xc, np.argsort(yc))) if xc else []
    out_axes = [int(a) for a in np.argsort(list(xb) + x_kept + xc_sorted_by_y)]
    # dot_general(g, y) is laid out [batch, g's free, y's free]; dot_general(y, g) is
    # [batch, y's free, g's free]. Take the order that needs no transpose when there is one
    # (e.g. dW = x.T @ g comes out as W's layout directly, with no copy).
    nb, ng = len(xb), len(x_kept)
    ny = x_ndim - nb - ng
    to_swapped = [i if i < nb else (i + ny if i < nb + ng else i - ng)
                  for i in range(x_ndim)]
    swapped_axes = [to_swapped[a] for a in out_axes]
    if swapped_axes == sorted(swapped_axes) and out_axes != sorted(out_axes):
        (g_contract, y_contract), (g_batch, y_batch) = dims
        return dot_general(y, g, ((y_contract, g_contract), (y_batch, g_batch)))
    return transpose(dot_general(g, y, dims), tuple(out_axes))


def _dot_general_transpose(ct, x, y, *, dimension_numbers, preferred_element_type=None):
    x_ndim = x.aval.ndim if is_undefined_primal(x) else get_aval(x).ndim
    y_ndim = y.aval.ndim if is_undefined_primal(y) else get_aval(y).ndim
    (xc, yc), (xb, yb) = dimension_numbers
    if is_undefined_primal(x):
        return [_transpose_lhs(ct, y, x_ndim, y_ndim, dimension_numbers), None]
    swapped = ((yc, xc), (yb, xb))
    return [None, _transpose_lhs(ct, x, y_ndim, x_ndim, swapped, swap_ans=True)]


ad.defjvp(dot_general_p,
          lambda g, x, y, **params: dot_general_p.bind(g, y, **params),
          lambda g, x, y, **params: dot_general_p.bind(x, g, **params))
ad.primitive_transposes[dot_general_p] = _dot_general_transpose


# ---------------------------------------------------------------------------------------
# Batching: a batch axis on both sides becomes a dot_general batch dimension; on one side
# it is a free dimension of that operand.


def _dot_general_batch(size, vals, dims, *, dimension_numbers, preferred_element_type=None):
    (x, y), (dx, dy) = vals, dims
    (xc, yc), (xb, yb) = dimension_numbers
    shift = lambda axes, d: tuple(a + (a >= d) for a in axes)  # noqa: E731
    if dx is not None and dy is not None:
        x = batching.moveaxis(x, dx, 0)
        y = batching.moveaxis(y, dy, 0)
        dn = ((shift(xc, 0), shift(yc, 0)), ((0, *shift(xb, 0)), (0, *shift(yb, 0))))
        return dot_general(x, y, dn, preferred_element_type), 0
    if dx is not None:
        x = batching.moveaxis(x, dx, 0)
        dn = ((shift(xc, 0), yc), (shift(xb, 0), yb))
        return dot_general(x, y, dn, preferred_element_type), len(xb)
    y = batching.moveaxis(y, dy, 0)
    dn = ((xc, shift(yc, 0)), (xb, shift(yb, 0)))
    x_ndim = get_aval(x).ndim
    out_d = len(xb) + (x_ndim - len(xc) - len(xb))
    return dot_general(x, y, dn, preferred_element_type), out_d


batching.primitive_batchers[dot_general_p] = _dot_general_batch
