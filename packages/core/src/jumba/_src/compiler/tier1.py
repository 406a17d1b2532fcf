"""Tier 1: a generated Python function that calls NumPy/SciPy for the heavy primitives
(dot_general, convolutions, linalg) and one numba kernel per fused group, with every
output allocated by NumPy and passed in.

`Tier1Executable.source` is the orchestrating function; `kernel_sources` the kernels.
"""

from __future__ import annotations

import keyword

import numpy as np

from jumba._src.compiler import fusion, kernel_cache
from jumba._src.compiler.kernels import KernelSpec, kernel_spec
from jumba._src.core import ClosedJaxpr, JaxprEqn, Literal, _Names


class Tier1Executable:
    """Compiles on construction (numba); then callable on a flat list of NumPy values."""

    def __init__(self, closed: ClosedJaxpr, name: str = "fun"):
        name = name if name.isidentifier() and not keyword.iskeyword(name) else "fun"
        nodes = fusion.partition(closed.jaxpr)
        self.specs: list[KernelSpec] = [kernel_spec(n) for n in nodes
                                        if isinstance(n, fusion.FusedGroup)]
        self.kernel_sources = [s.source for s in self.specs]
        self.source, namespace = _generate(closed, nodes, self.specs, name)
        for k, spec in enumerate(self.specs):
            namespace[f"kernel_{k}"] = _compiled_kernel(spec)
        exec(compile(self.source, f"<jumba tier1 {name}>", "exec"), namespace)
        self._fn = namespace[name]

    @property
    def num_kernels(self) -> int:
        return len(self.specs)

    def __call__(self, args):
        try:
            return self._fn(*args)
        except RuntimeWarning:
            with np.errstate(all="ignore"):
                return self._fn(*args)


def has_fusions(closed: ClosedJaxpr) -> bool:
    return any(isinstance(n, fusion.FusedGroup) for n in fusion.partition(closed.jaxpr))


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


def _generate(closed, nodes, specs, name):
    jaxpr = closed.jaxpr
    jaxpr_names = _Names()
    namespace: dict = {"np": np, "_contig": np.ascontiguousarray}
    lines = []

    def names(v):
        n = jaxpr_names(v)
        return n + "_" if keyword.iskeyword(n) else n

    def ref(v):
        if type(v) is Literal:
            key = f"lit{len(namespace)}"
            namespace[key] = np.asarray(v.val, v.aval.dtype)[()]
            return key
        return names(v)

    for v, c in zip(jaxpr.constvars, closed.consts):
        namespace[names(v)] = np.asarray(c)
    lines.append(f"def {name}({', '.join(names(v) for v in jaxpr.invars)}):")
    k = 0
    for i, node in enumerate(nodes):
        if isinstance(node, JaxprEqn):
            fn = f"{node.primitive.name}_{i}"
            namespace[fn] = node.primitive.impl
            args = [ref(v) for v in node.inputs]
            if node.params:
                namespace[f"params_{i}"] = node.params
                args.append(f"**params_{i}")
            outs = ", ".join(names(v) for v in node.outputs)
            if node.primitive.multiple_results:
                outs = f"[{outs}]"
            lines.append(f"    {outs} = {fn}({', '.join(args)})")
            continue
        spec = specs[k]
        lines.append(f"    # kernel_{k}: {spec.comment}")
        flat = spec.mode == "flat"
        for v in spec.outputs:
            shape = v.aval.shape
            lines.append(f"    {names(v)} = np.empty({shape!r}, np.{v.aval.dtype.name})")
        ext = [str(int(np.prod(spec.loop_shape, dtype=np.int64)))] if flat else \
            [str(n) for n in spec.loop_shape]
        arrays = [f"_contig({names(v)})" + (".reshape(-1)" if flat else "")
                  for v in spec.array_inputs]
        scalars = [ref(v) if type(v) is Literal else f"{names(v)}[()]"
                   for v in spec.scalar_inputs]
        outs = [names(v) + (".reshape(-1)" if flat or v.aval.ndim == 0 else "")
                for v in spec.outputs]
        lines.append(f"    kernel_{k}({', '.join(ext + arrays + scalars + outs)})")
        k += 1
    lines.append(f"    return [{', '.join(ref(v) for v in jaxpr.outvars)}]")
    return "\n".join(lines) + "\n", namespace
