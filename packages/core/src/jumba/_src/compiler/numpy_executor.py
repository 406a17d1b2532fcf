"""Tier 0: run an optimised Jaxpr with the primitives' NumPy implementations.

The Jaxpr becomes a small generated Python function (one line per equation) so that a call
costs one Python call per primitive and nothing else; `source` keeps the text readable.
"""

from __future__ import annotations

import keyword

import numpy as np

from jumba._src.core import ClosedJaxpr, Literal, _Names


class NumpyExecutable:
    """Callable on a flat list of NumPy values; returns a list of NumPy values."""

    def __init__(self, closed: ClosedJaxpr, name: str = "fun"):
        name = name if name.isidentifier() and not keyword.iskeyword(name) else "fun"
        self.source, namespace = _generate(closed, name)
        exec(compile(self.source, f"<jumba tier0 {name}>", "exec"), namespace)
        self._fn = namespace[name]

    def __call__(self, args):
        try:
            return self._fn(*args)
        except RuntimeWarning:
            # NumPy floating-point warnings made errors by the caller (-W error): inf/nan
            # results are JAX's semantics, so compute them quietly.
            with np.errstate(all="ignore"):
                return self._fn(*args)


def _generate(closed: ClosedJaxpr, name: str):
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
    lines.append(f"def {name}({params}):")
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
    lines.append(f"    return [{', '.join(ref(v) for v in jaxpr.outvars)}]")
    return "\n".join(lines) + "\n", namespace
