"""Products with a tiny contraction, written as broadcast multiplies for tier 1's kernels.

A `dot_general` whose contracting dimensions hold `MAX_K` or fewer elements does at most
`MAX_K` multiply-adds per output element: it is bound by writing its output, not by
arithmetic, and BLAS gains nothing (NumPy's matmul of a (16384, 1) column by a (1, 64) row
took 1.7 ms against 0.8 ms for the broadcasting multiply). Written as
`sum_k broadcast(x[..., k]) * broadcast(y[..., k])` its output joins the fused group of
its elementwise consumers, so it is never written at all: in a PPO update, the value
head's backward product `dvalue[:, None] @ w2.T` (16384 x 1 by 1 x 64) fuses into the
tanh derivative's multiply, and the 4-input first layer `obs @ w0` into the bias add and
tanh. The terms are added in order k = 0, 1, ..., each product rounded to the dtype (no
fused multiply-add), as a plain dot of that length.
"""

from __future__ import annotations

import math

import numpy as np

from jumba._src.lax.dot import _free

# Up to this many terms per output element (a CartPole observation has 4 components).
MAX_K = 4
# Outputs at least this large (elements): smaller ones may not make a kernel of their own
# (fusion.MIN_KERNEL_SIZE), and 2K - 1 NumPy calls would cost more than one matmul.
MIN_SIZE = 4096


def expansion(eqn):
    """fun(x, y) computing the product `eqn` with broadcasts and multiplies, or None when
    it is not a small float contraction with a large output (a small output is cheaper
    as one matmul call than as 2K - 1 NumPy calls when it does not fuse)."""
    if eqn.primitive.name != "dot_general":
        return None
    x, y = (v.aval for v in eqn.inputs)
    out = eqn.outputs[0].aval
    (xc, yc), (xb, yb) = eqn.params["dimension_numbers"]
    pref = eqn.params.get("preferred_element_type")
    if (x.dtype.kind != "f" or x.dtype != y.dtype or x.dtype == np.float16
            or (pref is not None and np.dtype(pref) != x.dtype)):
        return None
    k = math.prod(x.shape[i] for i in xc)
    if not 1 <= k <= MAX_K or out.size < MIN_SIZE:
        return None
    if k > 1 and x.dtype != np.float32:
        # Loop bodies run from Python leave fused groups applying libm functions to large
        # arrays to NumPy (loop_tier1._LIBM), all but float32's vectorised ones: there the
        # 2K - 1 operations would run as NumPy calls, slower than one matmul. (K = 1 is one
        # multiply, never slower.)
        return None
    xf, yf = _free(x.ndim, xc, xb), _free(y.ndim, yc, yb)
    nb, nxf = len(xb), len(xf)

    def operand(v, shape, batch, free, contract, dims):
        """The K terms of `v` (batch..., free...), each broadcast to the output's shape."""
        from jumba._src.lax import slicing, structural

        v = structural.transpose(v, (*batch, *free, *contract))
        lead = [shape[i] for i in (*batch, *free)]
        v = structural.reshape(v, (*lead, k))
        terms = []
        for j in range(k):
            t = structural.reshape(slicing.index_in_dim(v, j, axis=len(lead)), lead) \
                if k > 1 else structural.reshape(v, lead)
            terms.append(structural.broadcast_in_dim(t, out.shape, dims))
        return terms

    x_dims = (*range(nb), *range(nb, nb + nxf))
    y_dims = (*range(nb), *range(nb + nxf, out.ndim))

    def fun(xv, yv, **params):
        from jumba._src.lax.elementwise import add_p, mul_p

        xs = operand(xv, x.shape, xb, xf, xc, x_dims)
        ys = operand(yv, y.shape, yb, yf, yc, y_dims)
        acc = mul_p.bind(xs[0], ys[0])
        for a, b in zip(xs[1:], ys[1:]):
            acc = add_p.bind(acc, mul_p.bind(a, b))
        return acc

    return fun
