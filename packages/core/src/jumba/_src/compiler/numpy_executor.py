"""Tier 0: run an optimised Jaxpr with the primitives' NumPy implementations.

The Jaxpr becomes a small generated Python function (one line per equation) so that a call
costs one Python call per primitive and nothing else; `source` keeps the text readable.
"""

from __future__ import annotations

import keyword

import numpy as np

from jumba._src.core import Array, ClosedJaxpr, Literal, _Names, to_numpy


class NumpyExecutable:
    """Callable on a flat list of NumPy values; returns a list of NumPy values.

    With `out_weak` (one weak-type flag per output) it also builds `call(leaves)`, the
    whole jit call after the cache lookup in one generated function: operands (Arrays or
    other concrete values) in, the output pytree of `jumba.Array`s out (through `unflatten`,
    or the single Array itself when `unflatten` is None).
    """

    def __init__(self, closed: ClosedJaxpr, name: str = "fun", out_weak=None, unflatten=None):
        name = name if name.isidentifier() and not keyword.iskeyword(name) else "fun"
        self.source, namespace = _generate(closed, name)
        exec(compile(self.source, f"<jumba tier0 {name}>", "exec"), namespace)
        self._fn = namespace[name]
        self._call = None
        if out_weak is not None:
            self.call_source, namespace = _generate(closed, name, out_weak, unflatten)
            exec(compile(self.call_source, f"<jumba tier0 {name}>", "exec"), namespace)
            self._call = namespace[name]

    def __call__(self, args):
        try:
            return self._fn(*args)
        except RuntimeWarning:
            # NumPy floating-point warnings made errors by the caller (-W error): inf/nan
            # results are JAX's semantics, so compute them quietly.
            with np.errstate(all="ignore"):
                return self._fn(*args)

    def call(self, leaves):
        try:
            return self._call(leaves)
        except RuntimeWarning:
            with np.errstate(all="ignore"):
                return self._call(leaves)


def _generate(closed: ClosedJaxpr, name: str, out_weak=None, unflatten=None):
    jaxpr = closed.jaxpr
    jaxpr_names = _Names()

    def names(v):
        n = jaxpr_names(v)
        return n + "_" if keyword.iskeyword(n) else n

    namespace: dict = {}
    lines = []

    def ref(v):
        if type(v) is Literal:
            key = f"lit{len(namespace)}"
            namespace[key] = np.asarray(v.val, v.aval.dtype)
            return key
        return names(v)

    for v, c in zip(jaxpr.constvars, closed.consts):
        namespace[names(v)] = np.asarray(c)
    params = ", ".join(names(v) for v in jaxpr.invars)
    if out_weak is None:
        lines.append(f"def {name}({params}):")
    else:
        # The entry of a jit call: unpack the leaves and take their NumPy values inline.
        namespace["Array"], namespace["to_numpy"] = Array, to_numpy
        lines.append(f"def {name}(leaves):")
        if jaxpr.invars:
            lines.append(f"    {params}{',' if len(jaxpr.invars) == 1 else ''} = leaves")
        for v in jaxpr.invars:
            n = names(v)
            lines.append(f"    {n} = {n}._value if type({n}) is Array else to_numpy({n})")
    for i, eqn in enumerate(jaxpr.eqns):
        fn = f"{eqn.primitive.name}_{i}"
        namespace[fn] = eqn.primitive.impl
        args = [ref(v) for v in eqn.inputs]
        if eqn.params:
            pname = f"params_{i}"
            namespace[pname] = eqn.params
            args.append(f"**{pname}")
        outs = ", ".join(names(v) for v in eqn.outputs)
        if eqn.primitive.multiple_results:
            outs = f"[{outs}]"
        lines.append(f"    {outs} = {fn}({', '.join(args)})")
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
    return "\n".join(lines) + "\n", namespace
