"""Tier 1: a generated Python function that calls NumPy/SciPy for the heavy primitives
(dot_general, convolutions, linalg) and one numba kernel per fused group, with every
output allocated by NumPy and passed in.

`Tier1Executable.source` is the orchestrating function; `kernel_sources` the kernels.
"""

from __future__ import annotations

import numpy as np

from jumba._src.compiler import (
    blas_nodes,
    fusion,
    kernel_cache,
    loop_tier1,
    loops,
    passes,
    segments,
)
from jumba._src.compiler.codegen import Executable
from jumba._src.compiler.kernels import KernelSpec, kernel_spec
from jumba._src.core import ClosedJaxpr


class Tier1Executable(Executable):
    """Compiles its kernels on construction (numba), then runs like tier 0."""

    tier = 1

    def __init__(self, closed: ClosedJaxpr, name: str = "fun", out_weak=None, unflatten=None,
                 donated=(), numpy_libm=False, new_segments=None):
        """Runs of small equations compiled whole (`segments.py`): with `new_segments`
        True, all; False, those whose kernel is cached (`self.segments_left_out` says
        whether one was not); None (loop bodies, tests of other parts), none."""
        closed = passes.expand_for_kernels(closed)
        nodes = _with_loops(_partition(closed.jaxpr, numpy_libm))
        self.segments_left_out = False
        if new_segments is not None:
            nodes, self.segments_left_out = segments.compile_runs(
                closed.jaxpr, nodes, cached_only=not new_segments)
        # Products folded with their updates, and independent products side by side.
        nodes = blas_nodes.pair_products(blas_nodes.fold_updates(closed.jaxpr, nodes))
        nodes = blas_nodes.scatter_convs(blas_nodes.thin_products(nodes))
        self.specs: list[KernelSpec] = [kernel_spec(n) for n in nodes
                                        if isinstance(n, fusion.FusedGroup)]
        self.loops = [n for n in nodes if isinstance(n, loops.LoopNode)]
        # Loops (and conds) run from Python with tier-1 bodies: compiled with their nodes.
        self.control = [n for n in nodes if isinstance(n, loop_tier1.ControlNode)]
        self.kernel_sources = [s.source for s in self.specs] + \
            [n.kernel.source for n in self.loops] + \
            [blas_nodes.THIN_KERNEL] * any(isinstance(n, blas_nodes.ThinProduct) for n in nodes) + \
            [blas_nodes.SHIFT_SUM_KERNEL] * any(isinstance(n, blas_nodes.ScatterConv)
                                                for n in nodes)
        kernels = [(spec, _compiled_kernel(spec)) for spec in self.specs]
        for n in self.loops:
            n.fn = loops.compile_loop(n.kernel)
        super().__init__(closed, nodes, name, kernels, out_weak, unflatten, donated)

    @property
    def num_kernels(self) -> int:
        return len(self.specs)


def has_fusions(closed: ClosedJaxpr, numpy_libm=False) -> bool:
    """Does tier 1 compile anything for this program (fused groups or whole loops)?"""
    closed = passes.expand_for_kernels(closed)
    return any(isinstance(n, fusion.FusedGroup) or
               (loops.is_loop(n) and loops.loop_kernel(n) is not None) or
               _tier1_control(n)
               for n in _partition(closed.jaxpr, numpy_libm))


def _partition(jaxpr, numpy_libm):
    """Fusion's nodes; with `numpy_libm`, groups applying libm functions to large arrays
    are left to NumPy (its SIMD loops beat numba's libm calls: `loop_tier1._LIBM`)."""
    nodes = fusion.partition(jaxpr)
    if not numpy_libm:
        return nodes
    out = []
    for n in nodes:
        if isinstance(n, fusion.FusedGroup) and loop_tier1.libm_group(n):
            out.extend(n.eqns)
        else:
            out.append(n)
    return out


def _tier1_control(n) -> bool:
    """Is `n` a scan/while (not compiled whole) or cond whose bodies compile something?"""
    return (loop_tier1.ENABLED and not isinstance(n, fusion.FusedGroup)
            and loop_tier1.is_control(n)
            and loop_tier1.worth_control_node(n))


def _with_loops(nodes):
    """Loop equations whose bodies compile become LoopNodes (one numba function each)."""
    out = []
    for n in nodes:
        lk = loops.loop_kernel(n) if not isinstance(n, fusion.FusedGroup) else None
        if lk is not None:
            out.append(loops.LoopNode(lk))
        elif _tier1_control(n):  # run from Python, its bodies tier 1 (loop_tier1.py)
            out.append(loop_tier1.ControlNode(n))
        else:
            out.append(n)
    return out


def _numba_sig(spec: KernelSpec):
    import numba

    flat = spec.mode == "flat"
    n_ext = 1 if flat else len(spec.loop_shape)
    sig = [numba.intp] * n_ext
    for v in spec.array_inputs:
        sig.append(numba.types.Array(numba.from_dtype(v.aval.dtype),
                                     1 if flat else v.aval.ndim, "C"))
    for v in spec.scalar_inputs:
        sig.append(numba.from_dtype(np.dtype(v.aval.dtype)))
    for v in spec.outputs:
        nd = 1 if flat or v.aval.ndim == 0 else v.aval.ndim
        sig.append(numba.types.Array(numba.from_dtype(v.aval.dtype), nd, "C"))
    return tuple(sig)


def _compiled_kernel(spec: KernelSpec):
    dispatcher = kernel_cache.load_kernel(spec.source)
    sig = _numba_sig(spec)
    dispatcher.compile(sig)
    # Calling the compiled overload directly skips numba's per-call type dispatch.
    return dispatcher.overloads[sig].entry_point
