"""Tier 1: a generated Python function that calls NumPy/SciPy for the heavy primitives
(dot_general, convolutions, linalg) and one numba kernel per fused group, with every
output allocated by NumPy and passed in.

`Tier1Executable.source` is the orchestrating function; `kernel_sources` the kernels.
"""

from __future__ import annotations

import numpy as np

from jumba._src.compiler import fusion, kernel_cache, loops, passes
from jumba._src.compiler.codegen import Executable
from jumba._src.compiler.kernels import KernelSpec, kernel_spec
from jumba._src.core import ClosedJaxpr


class Tier1Executable(Executable):
    """Compiles its kernels on construction (numba), then runs like tier 0."""

    tier = 1

    def __init__(self, closed: ClosedJaxpr, name: str = "fun", out_weak=None, unflatten=None):
        closed = passes.expand_for_kernels(closed)
        nodes = _with_loops(fusion.partition(closed.jaxpr))
        self.specs: list[KernelSpec] = [kernel_spec(n) for n in nodes
                                        if isinstance(n, fusion.FusedGroup)]
        self.loops = [n for n in nodes if isinstance(n, loops.LoopNode)]
        self.kernel_sources = [s.source for s in self.specs] + \
            [n.kernel.source for n in self.loops]
        kernels = [(spec, _compiled_kernel(spec)) for spec in self.specs]
        for n in self.loops:
            n.fn = loops.compile_loop(n.kernel)
        super().__init__(closed, nodes, name, kernels, out_weak, unflatten)

    @property
    def num_kernels(self) -> int:
        return len(self.specs)


def has_fusions(closed: ClosedJaxpr) -> bool:
    """Does tier 1 compile anything for this program (fused groups or whole loops)?"""
    closed = passes.expand_for_kernels(closed)
    return any(isinstance(n, fusion.FusedGroup) or
               (loops.is_loop(n) and loops.loop_kernel(n) is not None)
               for n in fusion.partition(closed.jaxpr))


def _with_loops(nodes):
    """Loop equations whose bodies compile become LoopNodes (one numba function each)."""
    out = []
    for n in nodes:
        lk = loops.loop_kernel(n) if not isinstance(n, fusion.FusedGroup) else None
        out.append(n if lk is None else loops.LoopNode(lk))
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
