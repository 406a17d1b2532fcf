"""Generation of the orchestrating Python function of a program, shared by both tiers.

The function has one line per node: a primitive's NumPy implementation, or (tier 1) the
allocation of a fused group's outputs and one call of its numba kernel. With `out_weak`
it is the whole jit call after the cache lookup: leaves (Arrays or other concrete values)
in, the output pytree of `jumba.Array`s out.
"""

from __future__ import annotations

import keyword
import math

import numpy as np

from jumba._src.compiler import inplace
from jumba._src.core import Array, ClosedJaxpr, JaxprEqn, Literal, to_numpy
from jumba._src.jaxpr_printing import _Names
from jumba._src.runtime import blas, buffers, split_reductions


def function_name(name: str) -> str:
    return name if name.isidentifier() and not keyword.iskeyword(name) else "fun"


def generate(closed: ClosedJaxpr, nodes, name: str, kernels=(), out_weak=None,
             unflatten=None, donated=()):
    """Returns (source, namespace). `nodes` are JaxprEqns or fused groups; `kernels` holds
    (KernelSpec, compiled kernel) for the groups, in order. `donated`: invars whose
    buffers the caller hands over (see `inplace.py`)."""
    jaxpr = closed.jaxpr
    in_place = inplace.inplace_nodes(jaxpr, nodes, donated)
    jaxpr_names = _Names()

    constvars = set(jaxpr.constvars)

    def names(v):
        n = jaxpr_names(v)
        # Jaxpr names are lowercase letters: a keyword, "np" (variable 379) and a constant
        # named as the function (a function `g` capturing seven arrays; constants are
        # globals of the generated code) get a trailing underscore.
        if keyword.iskeyword(n) or n == "np" or (n == name and v in constvars):
            return n + "_"
        return n

    # __name__ puts generated code under jumba's warning filter (inf/nan are results).
    namespace: dict = {"np": np, "_contig": np.ascontiguousarray, "_pooled": buffers.empty,
                       "_run_flat": blas.run_flat_kernel,
                       "_run_nest": blas.run_nest_kernel, "__name__": "jumba._src.generated"}
    lines = []

    def ref(v):
        if type(v) is Literal:
            key = f"lit{len(namespace)}"
            namespace[key] = np.asarray(v.val, v.aval.dtype)[()]
            return key
        return names(v)

    for v, c in zip(jaxpr.constvars, closed.consts):
        namespace[names(v)] = np.asarray(c)
    params = ", ".join(names(v) for v in jaxpr.invars)
    if out_weak is None:
        lines.append(f"def {name}({params}):")
    else:
        namespace["Array"], namespace["to_numpy"] = Array, to_numpy
        lines.append(f"def {name}(leaves):")
        if jaxpr.invars:
            lines.append(f"    {params}{',' if len(jaxpr.invars) == 1 else ''} = leaves")
        for v in jaxpr.invars:
            n = names(v)
            lines.append(f"    {n} = {n}._value if type({n}) is Array else to_numpy({n})")

    kernel_iter = iter(kernels)
    n_loops = 0
    for i, node in enumerate(nodes):
        if isinstance(node, JaxprEqn):
            lines.append("    " + _eqn_line(node, i, namespace, names, ref, i in in_place))
        elif hasattr(node, "call_lines"):  # a loop compiled whole (compiler/loops.py), or
            # products run by BLAS in one node (compiler/blas_nodes.py)
            if hasattr(node, "fn"):
                namespace[f"loop_{n_loops}"] = node.fn
            lines += ["    " + s for s in node.call_lines(n_loops, names, ref, namespace)]
            n_loops += 1
        else:
            k = len([key for key in namespace if key.startswith("kernel_")])
            spec, fn = next(kernel_iter)
            namespace[f"kernel_{k}"] = fn
            lines += ["    " + s for s in _kernel_lines(spec, k, names, ref)]

    if out_weak is None:
        lines.append(f"    return [{', '.join(ref(v) for v in jaxpr.outvars)}]")
    else:
        outs = [f"Array({ref(v)}, {bool(w)})" for v, w in zip(jaxpr.outvars, out_weak)]
        if unflatten is None:
            (out,) = outs
            lines.append(f"    return {out}")
        else:
            namespace["unflatten"] = unflatten
            lines.append(f"    return unflatten([{', '.join(outs)}])")
    if any("_run_nest_red(" in s for s in lines):  # added last: literal names stay put
        namespace["_run_nest_red"] = split_reductions.run_nest_reduction
    return "\n".join(lines) + "\n", namespace


def _eqn_line(eqn, i, namespace, names, ref, in_place=False) -> str:
    fn = f"{eqn.primitive.name.replace('-', '_')}{'_inplace' if in_place else ''}_{i}"
    # An update in place writes into its operand's buffer, dead afterwards (inplace.py).
    namespace[fn] = inplace.inplace_impl(eqn.primitive) if in_place else eqn.primitive.impl
    args = [ref(v) for v in eqn.inputs]
    if eqn.params:
        namespace[f"params_{i}"] = eqn.params
        args.append(f"**params_{i}")
    outs = ", ".join(names(v) for v in eqn.outputs)
    if eqn.primitive.multiple_results:
        outs = f"[{outs}]"
    return f"{outs} = {fn}({', '.join(args)})"


def _tuple(items) -> str:
    """Source of a tuple of the given expressions (`()`, `(a,)`, `(a, b)`)."""
    return f"({', '.join(items)}{',' if len(items) == 1 else ''})"


def _kernel_lines(spec, k, names, ref) -> list[str]:
    lines = [f"# kernel_{k}: {spec.comment}"]
    flat = spec.mode == "flat"
    for v in spec.outputs:
        # Large outputs come from the buffer pool: fresh pages would fault on first write.
        big = v.aval.size * v.aval.dtype.itemsize >= buffers.MIN_BYTES
        alloc = "_pooled" if big else "np.empty"
        lines.append(f"{names(v)} = {alloc}({v.aval.shape!r}, np.{v.aval.dtype.name})")
    ext = [str(int(np.prod(spec.loop_shape, dtype=np.int64)))] if flat else \
        [str(n) for n in spec.loop_shape]
    arrays = [f"_contig({names(v)})" + (".reshape(-1)" if flat else "")
              for v in spec.array_inputs]
    scalars = [ref(v) if type(v) is Literal else f"{names(v)}[()]"
               for v in spec.scalar_inputs]
    outs = [names(v) + (".reshape(-1)" if flat or v.aval.ndim == 0 else "")
            for v in spec.outputs]
    shape = spec.loop_shape
    if flat and blas.split_flat_kernel(int(ext[0]), spec.num_ops):
        lines.append(f"_run_flat(kernel_{k}, {ext[0]}, {_tuple(arrays)}, {_tuple(scalars)}, "
                     f"{_tuple(outs)})")
    elif (not flat and shape and shape[0] > 1 and 0 not in spec.reduced_axes
          and spec.along_first is not None
          and blas.split_flat_kernel(math.prod(shape), spec.num_ops)):
        # Split along the first axis: inputs that run along it are sliced, others shared
        # (a broadcast_in_dim operand runs along it when its index map says so, whatever
        # its rank: a (16384,) column broadcast to (16384, 64) along axis 0).
        split = spec.along_first
        lines.append(f"_run_nest(kernel_{k}, {_tuple(ext)}, {_tuple(arrays)}, "
                     f"{tuple(split)!r}, {_tuple(scalars)}, {_tuple(outs)})")
    elif (not flat and shape and shape[0] > 1 and 0 in spec.reduced_axes
          and spec.along_first is not None
          and split_reductions.worth_splitting(spec.reduction, shape, spec.num_ops)):
        # A reduction over the first axis: chunks of rows reduce into partials, combined.
        lines.append(f"_run_nest_red(kernel_{k}, {_tuple(ext)}, {_tuple(arrays)}, "
                     f"{spec.along_first!r}, {_tuple(scalars)}, {_tuple(outs)}, "
                     f"{spec.reduction_output}, {spec.reduction!r})")
    else:
        lines.append(f"kernel_{k}({', '.join(ext + arrays + scalars + outs)})")
    return lines


# Set by `jumba._src.debugging` only while jax_debug_nans may be on:
# debug_hook(executable, values, as_call) runs the program op by op, checking each result
# (or returns None to run it normally).
debug_hook = None


class Executable:
    """A generated program: `exe(values)` maps NumPy values to NumPy values, and (with
    `out_weak`) `exe.call(leaves)` is the whole jit call: leaves in, output pytree out."""

    tier = 0

    def __init__(self, closed: ClosedJaxpr, nodes, name: str = "fun", kernels=(),
                 out_weak=None, unflatten=None, donated=()):
        name = function_name(name)
        buffers.retain_freed_memory()  # programs' temporaries reuse warm memory
        self._debug_info = (closed, out_weak, unflatten)
        donated = [closed.jaxpr.invars[k] for k in donated]
        # Which donated inputs an update writes into: the caller must own those buffers.
        self.donated_written = sorted(
            closed.jaxpr.invars.index(nodes[i].inputs[0])
            for i in inplace.inplace_nodes(closed.jaxpr, nodes, donated)
            if nodes[i].inputs[0] in donated)
        self.source, namespace = generate(closed, nodes, name, kernels, donated=donated)
        self._fn = _load(self.source, namespace, name, self.tier)
        self._call = None
        if out_weak is not None:
            self.call_source, namespace = generate(closed, nodes, name, kernels, out_weak,
                                                   unflatten)
            self._call = _load(self.call_source, namespace, name, self.tier)

    def __call__(self, args):
        if debug_hook is not None:
            out = debug_hook(self, args, False)
            if out is not None:
                return out
        try:
            return self._fn(*args)
        except RuntimeWarning:
            # NumPy floating-point warnings made errors by the caller (-W error): inf/nan
            # results are JAX's semantics, so compute them quietly.
            with np.errstate(all="ignore"):
                return self._fn(*args)

    def call(self, leaves):
        if debug_hook is not None:
            out = debug_hook(self, leaves, True)
            if out is not None:
                return out
        try:
            return self._call(leaves)
        except RuntimeWarning:
            with np.errstate(all="ignore"):
                return self._call(leaves)


def _load(source, namespace, name, tier):
    exec(compile(source, f"<jumba tier{tier} {name}>", "exec"), namespace)
    return namespace[name]
