"""Loop-nest kernels whose reduction runs over their first axis, split over the worker
threads: each chunk of rows reduces into its own partial result (the elementwise outputs
are written in place, as `blas.run_nest_kernel` does), and the partials are combined in
chunk order.

The backward pass of a dense layer is the case: the bias gradient is a sum over the batch
rows of the product the weight gradients read (`dh = g * (1 - t^2)`, `db = dh.sum(0)`),
one kernel over 16384 x 64 that otherwise ran on one thread.

The chunks do not depend on whether a helper thread took part (when the other cores are
busy, this thread runs them all), so the result does not depend on the load: it differs
from the unsplit kernel only by the rounding of the partials (a float32 sum is rounded
once per chunk, then the partials added).
"""

from __future__ import annotations

import numpy as np

from jumba._src.runtime import blas

# How partial results of each reduction (by primitive name) combine, in place.
COMBINE = {"reduce_sum": np.add, "reduce_prod": np.multiply, "reduce_max": np.maximum,
           "reduce_min": np.minimum, "reduce_and": np.logical_and,
           "reduce_or": np.logical_or, "reduce_xor": np.bitwise_xor}

# Elements x operations above which a split pays (the first axis must have a few rows per
# chunk too). A reduction kernel is worth more per element than its operation count says:
# it also keeps a running accumulator per kept element.
MIN_WORK = 1 << 21
MIN_ROWS = 64


def worth_splitting(reduction, shape, num_ops) -> bool:
    return (reduction in COMBINE and len(shape) > 0 and shape[0] >= MIN_ROWS
            and int(np.prod(shape, dtype=np.int64)) * num_ops >= MIN_WORK
            and blas.num_threads() >= 2)


def run_nest_reduction(kernel, extents, arrays, split, scalars, outs, red, reduction):
    """Run `kernel` (a loop nest over `extents` reducing axis 0 into `outs[red]`) by chunks
    of rows: `split[i]` says whether array input i runs along axis 0 (sliced) or not."""
    bounds = blas.chunk_bounds(extents[0], blas.num_threads())
    partials = [outs[red]] + [np.empty_like(outs[red]) for _ in bounds[2:]]
    chunk = {lo: i for i, lo in enumerate(bounds[:-1])}

    def part(lo, hi):
        kernel(hi - lo, *extents[1:], *[a[lo:hi] if s else a for a, s in zip(arrays, split)],
               *scalars, *[partials[chunk[lo]] if j == red else o[lo:hi]
                           for j, o in enumerate(outs)])

    blas.run_chunks(part, bounds)  # the same chunks, helper or not: the same rounding
    combine = COMBINE[reduction]
    for p in partials[1:]:
        combine(outs[red], p, out=outs[red])
