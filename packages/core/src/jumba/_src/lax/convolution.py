"""Convolutions: `conv_general_dilated` and the wrappers of jax.lax (`conv`,
`conv_with_general_padding`, `conv_transpose`).

The implementation is im2col + one BLAS product per group. The window view of the padded
input is a zero-copy strided view; it is copied once into a matrix whose axes are ordered
by the input's memory strides (so the copy reads memory nearly in order, whatever the
dimension numbers), and multiplied once (`runtime.blas.matmul`: single-threaded BLAS, split
over worker threads only when large), oriented so the result is already in the output's
layout. Only large column matrices are pipelined: copied block by block into a cache-sized
buffer, the blocks shared between worker threads.

In tier 1, a stride-1 2-D convolution with fewer output than input features (the input
gradient of a layer that widens its features, as most layers of a usual CNN do) is
computed from the input side instead (`_conv_by_scatter`): one product gives each input
position's contribution to every output its window covers, and a numba loop sums each
output's taps. That product is half the size of the column matrix, in a shape BLAS runs
faster.

Dimension numbers follow XLA: `lhs_spec = (batch, feature, *spatial)`, `rhs_spec =
(out feature, in feature, *spatial)`, `out_spec = (batch, feature, *spatial)`, each naming
axes of its array. Features are grouped group-major (group g owns the g-th block).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from jumba._src import dtypes
from jumba._src.core import Primitive, ShapedArray, get_aval
from jumba._src.interpreters import ad, batching
from jumba._src.interpreters.ad import is_undefined_primal
from jumba._src.runtime import blas


class ConvDimensionNumbers(NamedTuple):
    """Axis positions of (batch, feature, *spatial) in lhs and out, and of (out feature,
    in feature, *spatial) in rhs (as `jax.lax.ConvDimensionNumbers`)."""

    lhs_spec: tuple
    rhs_spec: tuple
    out_spec: tuple


# ---------------------------------------------------------------------------------------
# Dimension numbers and padding


def conv_general_permutations(dimension_numbers):
    """Axis permutations (lhs, rhs, out) from string specs such as ("NHWC", "HWIO",
    "NHWC"); spatial axes are matched by letter and ordered as in the rhs spec."""
    lhs_s, rhs_s, out_s = dimension_numbers
    for name, spec, need in (("lhs", lhs_s, "NC"), ("rhs", rhs_s, "OI"), ("out", out_s, "NC")):
        if len(set(spec)) != len(spec) or any(c not in spec for c in need):
            raise ValueError(f"conv dimension numbers: {name} spec {spec!r} must contain "
                             f"{need[0]!r} and {need[1]!r} once each, e.g. "
                             "('NHWC', 'HWIO', 'NHWC')")
    if not len(lhs_s) == len(rhs_s) == len(out_s):
        raise ValueError(f"conv dimension numbers {dimension_numbers} have different lengths")
    spatial = set(rhs_s) - {"O", "I"}
    for name, spec, skip in (("lhs", lhs_s, "NC"), ("out", out_s, "NC")):
        if set(spec) - set(skip) != spatial:
            raise ValueError(f"conv dimension numbers: {name} spec {spec!r} and rhs spec "
                             f"{rhs_s!r} must name the same spatial axes")

    def perm(spec, first, second):
        rest = sorted((i for i, c in enumerate(spec) if c not in (first, second)),
                      key=lambda i: rhs_s.index(spec[i]))
        return (spec.index(first), spec.index(second), *rest)

    return perm(lhs_s, "N", "C"), perm(rhs_s, "O", "I"), perm(out_s, "N", "C")


def conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers) -> ConvDimensionNumbers:
    """Normalises None, string triples or a ConvDimensionNumbers to ConvDimensionNumbers."""
    nd = len(lhs_shape)
    if len(rhs_shape) != nd:
        raise TypeError(f"conv: lhs and rhs must have the same rank, got shapes "
                        f"{tuple(lhs_shape)} and {tuple(rhs_shape)}")
    if nd < 2:
        raise TypeError(f"conv: operands need rank >= 2 (batch and feature axes), got shape "
                        f"{tuple(lhs_shape)}")
    if dimension_numbers is None:
        iota = tuple(range(nd))
        return ConvDimensionNumbers(iota, iota, iota)
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        return ConvDimensionNumbers(*(tuple(int(a) for a in s) for s in dimension_numbers))
    if len(dimension_numbers) == 3 and all(isinstance(s, str) for s in dimension_numbers):
        if any(len(s) != nd for s in dimension_numbers):
            raise TypeError(f"conv: dimension numbers {dimension_numbers} do not match "
                            f"operands of rank {nd}")
        return ConvDimensionNumbers(*conv_general_permutations(dimension_numbers))
    if len(dimension_numbers) == 3:
        return ConvDimensionNumbers(*(tuple(int(a) for a in s) for s in dimension_numbers))
    raise TypeError(f"conv: dimension_numbers must be None, a ConvDimensionNumbers or three "
                    f"strings like ('NHWC', 'HWIO', 'NHWC'), got {dimension_numbers!r}")


def padtype_to_pads(in_shape, window_shape, window_strides, padding):
    """Explicit (low, high) pairs for 'SAME', 'SAME_LOWER' or 'VALID' padding."""
    kind = padding.upper() if isinstance(padding, str) else padding
    if kind == "VALID":
        return tuple((0, 0) for _ in in_shape)
    if kind not in ("SAME", "SAME_LOWER"):
        raise ValueError(f"Unknown padding {padding!r}: use 'SAME', 'SAME_LOWER', 'VALID' or "
                         "a sequence of (low, high) pairs")
    pads = []
    for n, k, s in zip(in_shape, window_shape, window_strides):
        out = -(-n // s)
        total = max(0, (out - 1) * s + k - n)
        lo = total // 2 if kind == "SAME" else total - total // 2
        pads.append((lo, total - lo))
    return tuple(pads)


def conv_shape_tuple(lhs_shape, rhs_shape, strides, pads, batch_group_count=1):
    """Output shape of an undilated conv in NC.../OI... layout; `pads` is a padding string
    or (low, high) pairs."""
    spatial_in, window = tuple(lhs_shape[2:]), tuple(rhs_shape[2:])
    if isinstance(pads, str):
        pads = padtype_to_pads(spatial_in, window, strides, pads)
    if len(pads) != len(spatial_in):
        raise TypeError(f"conv_shape_tuple: {len(pads)} padding pairs for "
                        f"{len(spatial_in)} spatial dimensions")
    spatial = tuple(max(0, (n + lo + hi - k) // s + 1)
                    for n, k, s, (lo, hi) in zip(spatial_in, window, strides, pads))
    return (lhs_shape[0] // batch_group_count, rhs_shape[0], *spatial)


def _to_canonical(shape, perm):
    return tuple(shape[i] for i in perm)


def _from_canonical(shape, perm):
    out = [0] * len(perm)
    for src, dst in enumerate(perm):
        out[dst] = shape[src]
    return tuple(out)


def conv_general_shape_tuple(lhs_shape, rhs_shape, window_strides, padding, dimension_numbers):
    """Output shape of conv_general_dilated (no dilation) for the given dimension numbers."""
    dn = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    out = conv_shape_tuple(_to_canonical(lhs_shape, dn.lhs_spec),
                           _to_canonical(rhs_shape, dn.rhs_spec), window_strides, padding)
    return _from_canonical(out, dn.out_spec)


def conv_transpose_shape_tuple(lhs_shape, rhs_shape, window_strides, padding,
                               dimension_numbers):
    """Output shape of conv_transpose for the given dimension numbers."""
    dn = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    lhs, rhs = _to_canonical(lhs_shape, dn.lhs_spec), _to_canonical(rhs_shape, dn.rhs_spec)
    if isinstance(padding, str):
        padding = [_conv_transpose_padding(k, s, padding.upper())
                   for k, s in zip(rhs[2:], window_strides)]
    # The input is dilated by the stride, padded, and correlated with the kernel.
    spatial = tuple(_dilate_dim(n, s) + lo + hi - k + 1
                    for n, k, s, (lo, hi) in zip(lhs[2:], rhs[2:], window_strides, padding))
    return _from_canonical((lhs[0], rhs[0], *spatial), dn.out_spec)


def _dilate_dim(n, d):
    return 0 if n == 0 else 1 + d * (n - 1)


def _conv_out_dim(n, k, s, lo, hi, ld, rd):
    span = _dilate_dim(n, ld) + lo + hi - _dilate_dim(k, rd)
    return max(0, span // s + 1) if span >= 0 else 0


# ---------------------------------------------------------------------------------------
# The primitive

conv_general_dilated_p = Primitive("conv_general_dilated")
conv_general_dilated_p.weak_type_rule = lambda wl, wr, **params: wl and wr


@conv_general_dilated_p.def_abstract_eval
def _conv_abstract_eval(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                        dimension_numbers, feature_group_count, batch_group_count,
                        preferred_element_type):
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    nd = lhs.ndim
    if rhs.ndim != nd or len(lhs_spec) != nd or sorted(lhs_spec) != list(range(nd)) or \
            sorted(rhs_spec) != list(range(nd)) or sorted(out_spec) != list(range(nd)):
        raise TypeError(f"conv_general_dilated: dimension numbers {tuple(dimension_numbers)} "
                        f"do not fit operands of shapes {lhs.shape} and {rhs.shape}")
    if lhs.dtype != rhs.dtype:
        raise TypeError(f"conv_general_dilated requires operands of one dtype, got "
                        f"{lhs.dtype.name} and {rhs.dtype.name}; convert one with .astype()")
    nsp = nd - 2
    for name, v in (("window_strides", window_strides), ("lhs_dilation", lhs_dilation),
                    ("rhs_dilation", rhs_dilation), ("padding", padding)):
        if len(v) != nsp:
            raise TypeError(f"conv_general_dilated: {name} {tuple(v)} needs one entry per "
                            f"spatial dimension ({nsp})")
    if any(s < 1 for s in (*window_strides, *lhs_dilation, *rhs_dilation)):
        raise TypeError("conv_general_dilated: strides and dilations must be >= 1, got "
                        f"{window_strides}, {lhs_dilation}, {rhs_dilation}")
    G, B = feature_group_count, batch_group_count
    if G < 1 or B < 1 or (G > 1 and B > 1):
        raise ValueError(f"conv_general_dilated: feature_group_count ({G}) and "
                         f"batch_group_count ({B}) must be >= 1 and not both > 1")
    n, c = lhs.shape[lhs_spec[0]], lhs.shape[lhs_spec[1]]
    o, i = rhs.shape[rhs_spec[0]], rhs.shape[rhs_spec[1]]
    if c != i * G:
        raise ValueError(
            f"conv_general_dilated: lhs has {c} input features but rhs expects {i} x "
            f"feature_group_count {G} = {i * G} (lhs shape {lhs.shape}, rhs shape {rhs.shape}"
            f", dimension numbers {tuple(dimension_numbers)}); check the dimension numbers")
    if o % G or o % B:
        raise ValueError(f"conv_general_dilated: rhs output features ({o}) must be divisible "
                         f"by feature_group_count ({G}) and batch_group_count ({B})")
    if n % B:
        raise ValueError(f"conv_general_dilated: lhs batch ({n}) must be divisible by "
                         f"batch_group_count ({B})")
    shape = [0] * nd
    shape[out_spec[0]], shape[out_spec[1]] = n // B, o
    for j in range(nsp):
        lo, hi = padding[j]
        shape[out_spec[2 + j]] = _conv_out_dim(
            lhs.shape[lhs_spec[2 + j]], rhs.shape[rhs_spec[2 + j]], window_strides[j], lo, hi,
            lhs_dilation[j], rhs_dilation[j])
    dt = lhs.dtype if preferred_element_type is None else np.dtype(preferred_element_type)
    return ShapedArray(tuple(shape), dt, lhs.weak_type and rhs.weak_type)


def _dilate_pad(x, axes, dilation, padding):
    """`x` with interior zeros (lhs dilation) and edge padding on `axes`, in x's layout.
    Negative padding crops."""
    if all(d == 1 for d in dilation) and all(lo == 0 and hi == 0 for lo, hi in padding):
        return x
    full = list(x.shape)
    place = [slice(None)] * x.ndim
    crop = [slice(None)] * x.ndim
    for ax, d, (lo, hi) in zip(axes, dilation, padding):
        n = _dilate_dim(x.shape[ax], d)
        full[ax] = max(lo, 0) + n + max(hi, 0)
        place[ax] = slice(max(lo, 0), max(lo, 0) + n, d)
        crop[ax] = slice(max(-lo, 0), max(max(-lo, 0), full[ax] - max(-hi, 0)))
    out = np.zeros(full, x.dtype)
    out[tuple(place)] = x
    return out[tuple(crop)]


def _matmul(a, b):
    """a @ b for 2-D or batched 3-D operands, threaded over rows when large."""
    if a.ndim == 2:
        return blas.matmul(a, b)
    if a.shape[0] == 1:
        return blas.matmul(a[0], b[0])[None]
    return blas.matmul(a, b)


_CHUNK_ELEMENTS = 1 << 18  # im2col block per step: ~1 MB of float32, cache-resident
# Column matrices up to this size are copied whole and multiplied once: below it, the
# worker-thread handoffs of the pipelined product cost more than they save (a CNN step on
# 8x8 images: 2048x288 @ 288x64 took 1.0 ms pipelined on two threads on a quiet machine,
# 0.15 ms for the whole copy + 0.31 ms for a single-threaded product; loaded, 4-5 ms vs 1.2).
_ONE_COPY_ELEMENTS = 1 << 22


def _pipelined_product(src, w, M, K, k_inner):
    """The im2col product without materialising the whole column matrix: blocks along
    src's outermost axis are copied into a cache-sized buffer and multiplied at once, the
    blocks shared between worker threads (each with single-threaded BLAS).

    k_inner: src is [M axes..., K axes...] and the result is cols @ w, [M, Fg].
    Otherwise src is [K axes..., M axes...] and the result is w.T @ cols, [Fg, M], summed
    over blocks of the contraction.
    """
    n0 = src.shape[0]
    per_unit = src[0].size
    units = max(1, min(n0, _CHUNK_ELEMENTS // max(per_unit, 1)))
    chunks = [(lo, min(lo + units, n0)) for lo in range(0, n0, units)]
    nthreads = max(1, min(blas.num_threads(), len(chunks)))
    fg = w.shape[1]
    dtype = np.result_type(src.dtype, w.dtype)
    if k_inner:
        out = np.empty((M, fg), dtype)
        rows = M // n0
    else:
        partials = [np.zeros((fg, M), dtype) for _ in range(nthreads)]
        klen = K // n0

    def work(t):
        buf = np.empty((units, *src.shape[1:]), src.dtype)
        for lo, hi in chunks[t::nthreads]:
            b = buf[:hi - lo]
            np.copyto(b, src[lo:hi])
            if k_inner:
                np.matmul(b.reshape(-1, K), w, out=out[lo * rows:hi * rows])
            else:
                partials[t] += w[lo * klen:hi * klen].T @ b.reshape(-1, M)

    with blas.single_threaded(2.0 * M * K * fg):
        futures = [blas._workers().submit(work, t) for t in range(1, nthreads)]
        work(0)
        for f in futures:
            f.result()
    if k_inner:
        return out
    total = partials[0]
    for p in partials[1:]:
        total += p
    return total


@conv_general_dilated_p.def_impl
def _conv_impl(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
               dimension_numbers, feature_group_count, batch_group_count,
               preferred_element_type, shift_sum=None):
    """shift_sum: tier 1's numba kernel summing the scatter path's taps
    (`compiler/blas_nodes.SHIFT_SUM_KERNEL`, 2 spatial axes), passed only where
    `scatter_worth`. Without it (tier 0) the product is by columns: summing the taps with
    NumPy, one slice-add per tap over short rows, made the scatter path no faster."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    nsp = lhs.ndim - 2
    out_dtype = lhs.dtype if preferred_element_type is None else np.dtype(
        preferred_element_type)
    if out_dtype.kind in "fc" and lhs.dtype != out_dtype:
        lhs, rhs = lhs.astype(out_dtype), rhs.astype(out_dtype)
    elif lhs.dtype.kind in "biu":
        lhs, rhs = lhs.astype(np.int64), rhs.astype(np.int64)  # XLA wraps on the cast back
    if shift_sum is not None:
        out = _conv_by_scatter(lhs, rhs, padding, rhs_dilation, dimension_numbers, shift_sum)
        return out if out.dtype == out_dtype else out.astype(out_dtype)
    xp = _dilate_pad(lhs, lhs_spec[2:], lhs_dilation, padding)
    G = feature_group_count * batch_group_count  # at most one of them exceeds 1
    n_ax, c_ax = lhs_spec[0], lhs_spec[1]
    N, C = xp.shape[n_ax], xp.shape[c_ax]
    F = rhs.shape[rhs_spec[0]]
    Nb, Cg, Fg = N // batch_group_count, C // feature_group_count, F // G
    ks = [rhs.shape[d] for d in rhs_spec[2:]]
    os_ = [_conv_out_dim(xp.shape[d], k, s, 0, 0, 1, rd) for d, k, s, rd in
           zip(lhs_spec[2:], ks, window_strides, rhs_dilation)]
    st = xp.strides
    # The window view, axes [group, batch, out spatial..., kernel spatial..., feature].
    g_stride = st[n_ax] * Nb if batch_group_count > 1 else st[c_ax] * Cg
    m_axes = [(Nb, st[n_ax])] + [(o, st[d] * s) for o, d, s in
                                 zip(os_, lhs_spec[2:], window_strides)]
    k_axes = [(k, st[d] * rd) for k, d, rd in zip(ks, lhs_spec[2:], rhs_dilation)] + \
        [(Cg, st[c_ax])]
    view = as_strided(xp, (G, *(s for s, _ in m_axes), *(s for s, _ in k_axes)),
                      (g_stride, *(t for _, t in m_axes), *(t for _, t in k_axes)),
                      writeable=False)
    nm = len(m_axes)
    # Order each group of axes by decreasing stride, and put the group holding the
    # smallest stride innermost: the copy then reads memory (nearly) sequentially.
    m_order = sorted(range(nm), key=lambda j: -abs(m_axes[j][1]))
    k_order = sorted(range(len(k_axes)), key=lambda j: -abs(k_axes[j][1]))
    smallest = min(range(nm + len(k_axes)),
                   key=lambda j: abs((m_axes + k_axes)[j][1]) if (m_axes + k_axes)[j][0] > 1
                   else np.inf)
    k_inner = smallest >= nm
    mperm = [1 + j for j in m_order]
    kperm = [1 + nm + j for j in k_order]
    M, K = math.prod(s for s, _ in m_axes), math.prod(s for s, _ in k_axes)
    # The kernel as [group, kernel spatial..., in feature, out feature (of the group)].
    w_axes = [*rhs_spec[2:], rhs_spec[1]]
    ws = rhs.strides
    w_view = as_strided(rhs, (G, *(rhs.shape[a] for a in w_axes), Fg),
                        (ws[rhs_spec[0]] * Fg, *(ws[a] for a in w_axes), ws[rhs_spec[0]]),
                        writeable=False)
    w_mat = np.ascontiguousarray(w_view.transpose(0, *(1 + j for j in k_order), nsp + 2)
                                 ).reshape(G, K, Fg)
    if k_inner:
        src = view.transpose(0, *mperm, *kperm)
    else:
        src = view.transpose(0, *kperm, *mperm)
    # The product's orientation follows the output layout: [M, Fg] when the output's
    # feature axis is its innermost (NHWC), else [Fg, M], so the result needs no copy.
    m_major = out_spec[1] == nsp + 1
    if G == 1 and M and K and M * K > _ONE_COPY_ELEMENTS and src.shape[1] > 1:
        out = _pipelined_product(src[0], w_mat[0], M, K, k_inner)[None]
        m_major = k_inner
    else:
        # One im2col copy, read in memory order, then one product (BLAS reads the
        # transposed matrix in place).
        cols = np.empty(src.shape, xp.dtype)
        np.copyto(cols, src)
        cols_mk = cols.reshape(G, M, K) if k_inner else \
            np.swapaxes(cols.reshape(G, K, M), 1, 2)
        if m_major:
            out = _matmul(cols_mk, w_mat)
        else:
            out = _matmul(np.swapaxes(w_mat, 1, 2), np.swapaxes(cols_mk, 1, 2))
    if m_major:  # out is [G, M..., Fg]
        out_axes = [0, *(1 + m_order.index(j) for j in range(nm)), nm + 1]
    else:  # out is [G, Fg, M...]
        out_axes = [0, *(2 + m_order.index(j) for j in range(nm)), 1]
    ordered = [view.shape[a] for a in mperm]
    out = out.reshape(G, *ordered, Fg) if m_major else out.reshape(G, Fg, *ordered)
    out = out.transpose(out_axes)  # [G, batch, out spatial..., Fg]
    # Merge (group, Fg) into the feature axis, group-major, then lay out as out_spec.
    out = np.moveaxis(out, 0, nm).reshape(Nb, *os_, F)
    out = out.transpose(_from_batch_spatial_feature(out_spec))
    return out if out.dtype == out_dtype else out.astype(out_dtype)


# The scatter path's product has (input positions x taps x out features) entries, the
# column matrix (output positions x taps x in features): take it when that is well
# smaller (at equal sizes the column path's product ran as fast, and it needs no sums).
# The CNN benchmark's input gradient (128x4x4 positions, 64 -> 32 features) took 1.3-1.4
# ms of its training step as columns, 0.8 ms from the input side.
_SCATTER_RATIO = 0.75


def scatter_worth(lhs_shape, rhs_shape, window_strides, padding, lhs_dilation,
                  rhs_dilation, dimension_numbers, feature_group_count=1,
                  batch_group_count=1) -> bool:
    """Whether tier 1 computes this convolution from the input side
    (`compiler/blas_nodes.ScatterConv`): stride 1, no lhs dilation, ungrouped, and a
    product well smaller than the column matrix."""
    if feature_group_count != 1 or batch_group_count != 1 or \
            any(s != 1 for s in window_strides) or any(d != 1 for d in lhs_dilation):
        return False
    lhs_spec, rhs_spec, _ = dimension_numbers
    c, f = lhs_shape[lhs_spec[1]], rhs_shape[rhs_spec[0]]
    n = lhs_shape[lhs_spec[0]]
    sizes = [lhs_shape[d] for d in lhs_spec[2:]]
    ks = [rhs_shape[d] for d in rhs_spec[2:]]
    outs = [_conv_out_dim(m, k, 1, lo, hi, 1, rd) for m, k, (lo, hi), rd in
            zip(sizes, ks, padding, rhs_dilation)]
    inside = n * math.prod(sizes)
    return inside > 0 and min(outs, default=1) > 0 and c > 0 and \
        inside * f <= _SCATTER_RATIO * n * math.prod(outs) * c


def _conv_by_scatter(lhs, rhs, padding, rhs_dilation, dimension_numbers, shift_sum):
    """A stride-1 2-D convolution from the input side: z = x @ [the kernel's taps side by
    side], z[n, i, j, a, b, f] being input position (i, j)'s term for the output its tap
    (a, b) reaches, (i - a * rhs_dilation + lo, j - ...); each output sums its taps'
    terms (`shift_sum`)."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    x = np.ascontiguousarray(lhs.transpose(lhs_spec[0], *lhs_spec[2:], lhs_spec[1]))
    n, sizes, c = x.shape[0], x.shape[1:-1], x.shape[-1]
    w = rhs.transpose(rhs_spec[1], *rhs_spec[2:], rhs_spec[0])  # [in, taps..., out]
    ks, f = w.shape[1:-1], w.shape[-1]
    taps = math.prod(ks)
    z = _matmul(x.reshape(-1, c), np.ascontiguousarray(w).reshape(c, taps * f))
    z = z.reshape(n, *sizes, *ks, f)
    outs = [_conv_out_dim(m, k, 1, lo, hi, 1, rd) for m, k, (lo, hi), rd in
            zip(sizes, ks, padding, rhs_dilation)]
    out = np.empty((n, *outs, f), z.dtype)
    (lo0, _), (lo1, _) = padding
    shift_sum(z, out, lo0, lo1, *rhs_dilation)
    return out.transpose(_from_batch_spatial_feature(out_spec))


def _from_batch_spatial_feature(out_spec):
    """The transposition of a [batch, spatial..., feature] array into `out_spec`'s layout:
    the (batch, feature, *spatial) axis numbers of that array, placed by `out_spec`."""
    nsp = len(out_spec) - 2
    return _from_canonical((0, nsp + 1, *range(1, nsp + 1)), out_spec)


# ---------------------------------------------------------------------------------------
# Derivatives: bilinear. The lhs cotangent is a convolution of the output cotangent with
# the flipped kernel (lhs dilation = the forward strides); the rhs cotangent is a
# convolution of lhs with the output cotangent (rhs dilation = the forward strides), with
# batch and feature roles swapped. Feature groups become batch groups and vice versa.


def _swap01(spec):
    return (spec[1], spec[0], *spec[2:])


def _reshape_axis_out_of(src, size1, x):
    from jumba._src.lax.structural import reshape

    shape = list(get_aval(x).shape)
    shape[src:src + 1] = [size1, shape[src] // size1]
    return reshape(x, shape)


def _reshape_axis_into(src, dst, x):
    """Moves axis `src` just before axis `dst` (numbered without src) and merges them,
    src major."""
    from jumba._src.lax.structural import reshape, transpose

    shape = get_aval(x).shape
    perm = [i for i in range(len(shape)) if i != src]
    perm.insert(dst, src)
    new_shape = [shape[i] for i in range(len(shape)) if i != src]
    new_shape[dst] *= shape[src]
    return reshape(transpose(x, tuple(perm)), new_shape)


def _conv_transpose_lhs(ct, lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                        dimension_numbers, feature_group_count, batch_group_count,
                        preferred_element_type):
    from jumba._src.lax.structural import rev

    lhs_spec, rhs_spec, out_spec = dimension_numbers
    lhs_shape = lhs.aval.shape
    G, B = feature_group_count, batch_group_count
    if G > 1 or B > 1:
        rhs = _reshape_axis_out_of(rhs_spec[0], G * B, rhs)
        rhs = _reshape_axis_into(rhs_spec[0], rhs_spec[1], rhs)
    rshape = get_aval(rhs).shape
    ct_shape = get_aval(ct).shape
    pads = []
    for j in range(len(lhs_spec) - 2):
        n = _dilate_dim(lhs_shape[lhs_spec[2 + j]], lhs_dilation[j])
        k = _dilate_dim(rshape[rhs_spec[2 + j]], rhs_dilation[j])
        o = _dilate_dim(ct_shape[out_spec[2 + j]], window_strides[j])
        before = k - padding[j][0] - 1
        pads.append((before, n + k - 1 - o - before))
    out = conv_general_dilated_p.bind(
        ct, rev(rhs, tuple(rhs_spec[2:])), window_strides=tuple(lhs_dilation),
        padding=tuple(pads), lhs_dilation=tuple(window_strides),
        rhs_dilation=tuple(rhs_dilation),
        dimension_numbers=ConvDimensionNumbers(out_spec, _swap01(rhs_spec), lhs_spec),
        feature_group_count=G * B, batch_group_count=1,
        preferred_element_type=preferred_element_type)
    if B > 1:
        out = _reshape_axis_out_of(lhs_spec[1], B, out)
        out = _reshape_axis_into(lhs_spec[1], lhs_spec[0], out)
    return _to_dtype(out, lhs.aval.dtype)


def _conv_transpose_rhs(ct, lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                        dimension_numbers, feature_group_count, batch_group_count,
                        preferred_element_type):
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    lhs_shape, rhs_shape = get_aval(lhs).shape, rhs.aval.shape
    ct_shape = get_aval(ct).shape
    pads = []
    for j in range(len(lhs_spec) - 2):
        n = _dilate_dim(lhs_shape[lhs_spec[2 + j]], lhs_dilation[j])
        k = _dilate_dim(rhs_shape[rhs_spec[2 + j]], rhs_dilation[j])
        o = _dilate_dim(ct_shape[out_spec[2 + j]], window_strides[j])
        lo = padding[j][0]
        pads.append((lo, o - n + k - lo - 1))
    out = conv_general_dilated_p.bind(
        lhs, ct, window_strides=tuple(rhs_dilation), padding=tuple(pads),
        lhs_dilation=tuple(lhs_dilation), rhs_dilation=tuple(window_strides),
        dimension_numbers=ConvDimensionNumbers(_swap01(lhs_spec), _swap01(out_spec),
                                               _swap01(rhs_spec)),
        feature_group_count=batch_group_count, batch_group_count=feature_group_count,
        preferred_element_type=preferred_element_type)
    return _to_dtype(out, rhs.aval.dtype)


def _to_dtype(x, dtype):
    from jumba._src.lax.structural import convert_element_type

    return x if get_aval(x).dtype == dtype else convert_element_type(x, dtype)


def _conv_transpose(ct, lhs, rhs, **params):
    if type(ct) is ad.Zero:
        return [None, None]
    if is_undefined_primal(lhs):
        return [_conv_transpose_lhs(ct, lhs, rhs, **params), None]
    return [None, _conv_transpose_rhs(ct, lhs, rhs, **params)]


ad.defjvp(conv_general_dilated_p,
          lambda g, lhs, rhs, **params: conv_general_dilated_p.bind(g, rhs, **params),
          lambda g, lhs, rhs, **params: conv_general_dilated_p.bind(lhs, g, **params))
ad.primitive_transposes[conv_general_dilated_p] = _conv_transpose


# ---------------------------------------------------------------------------------------
# Batching: a mapped lhs joins the batch axis, a mapped rhs the output features, both
# mapped become feature groups. Grouped convolutions with a mapped operand are unrolled.


def _conv_batch(size, vals, dims, **params):
    """vmap of a convolution: the mapped axis folds into the batch, feature or group axes,
    so one convolution does all the work (feature and batch groups keep their order: the
    group axis is factored out, the mapped axis merged inside each group, then put back)."""
    (lhs, rhs), (dl, dr) = vals, dims
    lhs_spec, rhs_spec, out_spec = params["dimension_numbers"]
    G, B = params["feature_group_count"], params["batch_group_count"]
    if dl is not None and dr is not None:
        if B > 1:  # the mapped axis becomes more batch groups
            lhs = _reshape_axis_into(dl, lhs_spec[0], lhs)
            groups = {"batch_group_count": B * size}
        else:  # ... or more feature groups
            lhs = _reshape_axis_into(dl, lhs_spec[1], lhs)
            groups = {"feature_group_count": G * size}
        rhs = _reshape_axis_into(dr, rhs_spec[0], rhs)
        out = conv_general_dilated_p.bind(lhs, rhs, **{**params, **groups})
        return _reshape_axis_out_of(out_spec[1], size, out), out_spec[1]
    if dr is None:  # only lhs is mapped
        if B > 1:  # inside each batch group
            lhs = _reshape_axis_out_of(lhs_spec[0] + (dl <= lhs_spec[0]), B, lhs)
            lhs = _reshape_axis_into(dl + (lhs_spec[0] < dl), lhs_spec[0] + 1, lhs)
            lhs = _reshape_axis_into(lhs_spec[0], lhs_spec[0], lhs)
        else:
            lhs = _reshape_axis_into(dl, lhs_spec[0], lhs)
        out = conv_general_dilated_p.bind(lhs, rhs, **params)
        return _reshape_axis_out_of(out_spec[0], size, out), out_spec[0]
    # Only rhs is mapped: more output features, inside each group when there are groups.
    groups = G if G > 1 else B
    if groups > 1:
        rhs = _reshape_axis_out_of(rhs_spec[0] + (dr <= rhs_spec[0]), groups, rhs)
        rhs = _reshape_axis_into(dr + (rhs_spec[0] < dr), rhs_spec[0] + 1, rhs)
        rhs = _reshape_axis_into(rhs_spec[0], rhs_spec[0], rhs)
        out = conv_general_dilated_p.bind(lhs, rhs, **params)
        out = _reshape_axis_out_of(out_spec[1], groups, out)
        out = _reshape_axis_out_of(out_spec[1] + 1, size, out)
        return _reshape_axis_into(out_spec[1], out_spec[1] + 1, out), out_spec[1]
    rhs = _reshape_axis_into(dr, rhs_spec[0], rhs)
    out = conv_general_dilated_p.bind(lhs, rhs, **params)
    return _reshape_axis_out_of(out_spec[1], size, out), out_spec[1]


batching.primitive_batchers[conv_general_dilated_p] = _conv_batch


# ---------------------------------------------------------------------------------------
# The lax API


def _tuple_or_ones(v, n, name):
    if v is None:
        return (1,) * n
    v = tuple(int(a) for a in v)
    if len(v) != n:
        raise ValueError(f"conv: {name} {v} needs one entry per spatial dimension ({n})")
    return v


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers=None, feature_group_count=1,
                         batch_group_count=1, precision=None, preferred_element_type=None):
    """General n-dimensional convolution (as `jax.lax.conv_general_dilated`).

    Args:
      lhs: the input, rank n + 2.
      rhs: the kernel, rank n + 2.
      window_strides: n strides.
      padding: 'SAME', 'SAME_LOWER', 'VALID', or n (low, high) pairs.
      lhs_dilation: n input dilation factors (transposed convolution); default 1.
      rhs_dilation: n kernel dilation factors (atrous convolution); default 1.
      dimension_numbers: None (NCHW/OIHW/NCHW), a ConvDimensionNumbers, or three strings
        such as ('NHWC', 'HWIO', 'NHWC').
      feature_group_count: split the input features into groups (depthwise: = features).
      batch_group_count: split the lhs batch into groups (used by weight gradients).
      precision: ignored (computation is in the operands' dtype).
      preferred_element_type: the result dtype.

    Returns:
      The convolution, laid out as the output spec says.

    Examples:
      >>> import numpy as np, jumba.lax as lax
      >>> x, k = np.ones((1, 1, 4, 4), np.float32), np.ones((1, 1, 3, 3), np.float32)
      >>> lax.conv_general_dilated(x, k, (1, 1), "VALID").shape
      (1, 1, 2, 2)
    """
    del precision
    la, ra = get_aval(lhs), get_aval(rhs)
    dn = conv_dimension_numbers(la.shape, ra.shape, dimension_numbers)
    nsp = la.ndim - 2
    window_strides = _tuple_or_ones(window_strides, nsp, "window_strides")
    lhs_dilation = _tuple_or_ones(lhs_dilation, nsp, "lhs_dilation")
    rhs_dilation = _tuple_or_ones(rhs_dilation, nsp, "rhs_dilation")
    if isinstance(padding, str):
        if any(d != 1 for d in lhs_dilation) and padding.upper() != "VALID":
            raise ValueError("conv_general_dilated: string padding other than 'VALID' with "
                             "lhs_dilation is ambiguous; pass explicit (low, high) pairs "
                             "or use lax.conv_transpose")
        in_shape = [la.shape[d] for d in dn.lhs_spec[2:]]
        window = [_dilate_dim(ra.shape[d], r) for d, r in zip(dn.rhs_spec[2:], rhs_dilation)]
        padding = padtype_to_pads(in_shape, window, window_strides, padding)
    else:
        try:
            padding = tuple((int(lo), int(hi)) for lo, hi in padding)
        except (TypeError, ValueError):
            raise TypeError(f"conv: padding must be 'SAME', 'VALID' or a sequence of (low, "
                            f"high) integer pairs, got {padding!r}") from None
        if len(padding) != nsp:
            raise ValueError(f"conv: padding {padding} needs one (low, high) pair per "
                             f"spatial dimension ({nsp})")
    if preferred_element_type is not None:
        preferred_element_type = dtypes.canonicalize_dtype(np.dtype(preferred_element_type))
    params = dict(window_strides=window_strides, padding=padding, lhs_dilation=lhs_dilation,
                  rhs_dilation=rhs_dilation, dimension_numbers=dn,
                  feature_group_count=int(feature_group_count),
                  batch_group_count=int(batch_group_count),
                  preferred_element_type=preferred_element_type)
    _conv_abstract_eval(la, ra, **params)  # errors name the user's call, not the tracer
    return conv_general_dilated_p.bind(lhs, rhs, **params)


def conv(lhs, rhs, window_strides, padding, precision=None, preferred_element_type=None):
    """Convolution in NCHW / OIHW layout without dilation (as `jax.lax.conv`)."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_with_general_padding(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                              precision=None, preferred_element_type=None):
    """Convolution in NCHW / OIHW layout with dilations (as
    `jax.lax.conv_with_general_padding`)."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
                                rhs_dilation=rhs_dilation, precision=precision,
                                preferred_element_type=preferred_element_type)


def _conv_transpose_padding(k, s, padding):
    """(low, high) padding of the lhs-dilated input for conv_transpose's string padding:
    'SAME' gives an output `s` times the input, 'VALID' a full correlation."""
    if padding == "SAME":
        total = k + s - 2
        lo = k - 1 if s > k - 1 else -(-total // 2)
    elif padding == "VALID":
        total = k + s - 2 + max(k - s, 0)
        lo = k - 1
    else:
        raise ValueError(f"conv_transpose: unknown padding {padding!r}; use 'SAME', 'VALID' "
                         "or (low, high) pairs")
    return lo, total - lo


_TRANSPOSE_DEFAULT_DN = {2: ("NC", "IO", "NC"), 3: ("NHC", "HIO", "NHC"),
                         4: ("NHWC", "HWIO", "NHWC"), 5: ("NHWDC", "HWDIO", "NHWDC")}


def conv_transpose(lhs, rhs, strides, padding, rhs_dilation=None, dimension_numbers=None,
                   transpose_kernel=False, precision=None, preferred_element_type=None):
    """Transposed ("deconvolution") convolution, as `jax.lax.conv_transpose`: a
    convolution with lhs dilation = `strides`. With `transpose_kernel=True` the kernel is
    flipped spatially and its I/O axes swapped, giving the gradient of a forward conv."""
    from jumba._src.lax.structural import rev, transpose

    la, ra = get_aval(lhs), get_aval(rhs)
    nd = la.ndim
    if dimension_numbers is None:
        if nd not in _TRANSPOSE_DEFAULT_DN:
            raise ValueError(f"conv_transpose: no default dimension numbers for rank {nd}; "
                             "pass dimension_numbers")
        dimension_numbers = _TRANSPOSE_DEFAULT_DN[nd]
    dn = conv_dimension_numbers(la.shape, ra.shape, dimension_numbers)
    nsp = nd - 2
    strides = _tuple_or_ones(strides, nsp, "strides")
    rhs_dilation = _tuple_or_ones(rhs_dilation, nsp, "rhs_dilation")
    if isinstance(padding, str):
        ks = [_dilate_dim(ra.shape[d], r) for d, r in zip(dn.rhs_spec[2:], rhs_dilation)]
        padding = [_conv_transpose_padding(k, s, padding.upper()) for k, s in zip(ks, strides)]
    if transpose_kernel:
        rhs = rev(rhs, tuple(dn.rhs_spec[2:]))
        perm = list(range(nd))
        perm[dn.rhs_spec[0]], perm[dn.rhs_spec[1]] = dn.rhs_spec[1], dn.rhs_spec[0]
        rhs = transpose(rhs, tuple(perm))
    return conv_general_dilated(lhs, rhs, (1,) * nsp, padding, lhs_dilation=strides,
                                rhs_dilation=rhs_dilation, dimension_numbers=dn,
                                precision=precision,
                                preferred_element_type=preferred_element_type)
