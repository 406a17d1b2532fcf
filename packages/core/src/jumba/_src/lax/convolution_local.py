"""Patch extraction and unshared ("locally connected") convolution, written on
conv_general_dilated and dot_general (no rules of their own)."""

from __future__ import annotations

import math

import numpy as np

from jumba._src.core import get_aval
from jumba._src.lax import structural as st
from jumba._src.lax.convolution import (
    ConvDimensionNumbers,
    conv_dimension_numbers,
    conv_general_dilated,
)
from jumba._src.lax.dot import dot_general


def _canonical_specs(dimension_numbers, rank):
    """Dimension numbers with the rhs in canonical (O, I, *spatial) order."""
    dn = conv_dimension_numbers((1,) * rank, (1,) * rank, dimension_numbers)
    return ConvDimensionNumbers(dn.lhs_spec, tuple(range(rank)), dn.out_spec)


def conv_general_dilated_patches(lhs, filter_shape, window_strides, padding, lhs_dilation=None,
                                 rhs_dilation=None, dimension_numbers=None, precision=None,
                                 preferred_element_type=None):
    """The patches a convolution with a `filter_shape` window would see, as features.

    The output has the layout of `dimension_numbers`' out spec (default NC...): its feature
    axis has `C * prod(filter_shape)` entries, ordered channel first, then window position
    (row-major over `filter_shape`).
    """
    aval = get_aval(lhs)
    filter_shape = tuple(int(k) for k in filter_shape)
    dn = _canonical_specs(dimension_numbers, aval.ndim)
    channels = aval.shape[dn.lhs_spec[1]]
    window = math.prod(filter_shape)
    # One one-hot kernel per (channel, window position); grouping keeps channels apart.
    eye = np.eye(window, dtype=aval.dtype).reshape(window, 1, *filter_shape)
    rhs = np.tile(eye, (channels,) + (1,) * (len(filter_shape) + 1))
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                dn, feature_group_count=channels, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_general_dilated_local(lhs, rhs, window_strides, padding, filter_shape,
                               lhs_dilation=None, rhs_dilation=None, dimension_numbers=None,
                               precision=None):
    """A convolution whose kernel differs at every output position (unshared weights).

    `rhs` has, in the layout of the rhs spec, an out-feature axis, an in-feature axis of
    `C * prod(filter_shape)` (ordered as conv_general_dilated_patches' features) and the
    output's spatial axes.
    """
    la, ra = get_aval(lhs), get_aval(rhs)
    dn = conv_dimension_numbers(la.shape, ra.shape, dimension_numbers)
    # Patches in canonical (N, K, *spatial) layout, and the kernel as (O, K, *spatial).
    canonical = tuple(range(la.ndim))
    patches = conv_general_dilated_patches(
        lhs, filter_shape, window_strides, padding, lhs_dilation, rhs_dilation,
        ConvDimensionNumbers(dn.lhs_spec, canonical, canonical), precision)
    kernel = st.transpose(rhs, dn.rhs_spec)
    pshape, kshape = get_aval(patches).shape, get_aval(kernel).shape
    if pshape[1] != kshape[1] or pshape[2:] != kshape[2:]:
        raise TypeError(
            f"conv_general_dilated_local: the kernel's (in-features, *spatial) "
            f"{(kshape[1], *kshape[2:])} must match the patches' {(pshape[1], *pshape[2:])} "
            f"(C * prod(filter_shape) and the output's spatial shape)")
    n, k, spatial = pshape[0], pshape[1], pshape[2:]
    size = math.prod(spatial)
    p = st.reshape(patches, (n, k, size))
    w = st.reshape(kernel, (kshape[0], k, size))
    # Contract the window features, batch over positions: (positions, N, O).
    out = dot_general(p, w, (((1,), (1,)), ((2,), (2,))))
    out = st.reshape(st.transpose(out, (1, 2, 0)), (n, kshape[0], *spatial))
    inverse = tuple(int(i) for i in np.argsort(dn.out_spec))
    return st.transpose(out, inverse)
