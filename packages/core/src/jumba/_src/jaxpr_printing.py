"""Jaxprs printed in JAX's text form (what `make_jaxpr` shows); the names double as the
variable names of tier-1 generated code."""

from __future__ import annotations

import numpy as np

from jumba._src.core import ClosedJaxpr, DropVar, Jaxpr, Literal, Var


class _Names:
    def __init__(self):
        self.names: dict[Var, str] = {}

    def __call__(self, v) -> str:
        if type(v) is Literal:
            return repr(v)
        if isinstance(v, DropVar):
            return "_"
        name = self.names.get(v)
        if name is None:
            name = self.names[v] = _var_name(len(self.names))
        return name


def _var_name(i: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = letters[r] + s
    return s


def _pp_param(v, names, indent) -> str:
    if isinstance(v, ClosedJaxpr):
        v = v.jaxpr
    if isinstance(v, Jaxpr):
        return "\n" + _pp_jaxpr(v, names, indent + 4)
    if isinstance(v, np.dtype):
        return v.name
    if isinstance(v, (tuple, list)) and any(isinstance(e, (Jaxpr, ClosedJaxpr)) for e in v):
        return "(" + ", ".join(_pp_param(e, names, indent) for e in v) + ")"
    if callable(v) and hasattr(v, "__name__"):
        return v.__name__
    return repr(v)


def _pp_jaxpr(jaxpr: Jaxpr, names: _Names, indent: int) -> str:
    pad = " " * indent

    def typed(v):
        return f"{names(v)}:{v.aval.str_short()}"

    consts = " ".join(typed(v) for v in jaxpr.constvars)
    ins = " ".join(typed(v) for v in jaxpr.invars)
    lines = [f"{pad}{{ lambda {consts}; {ins}. let"]
    for eqn in jaxpr.eqns:
        outs = " ".join(typed(v) for v in eqn.outputs)
        params = " ".join(
            f"{k}={_pp_param(p, names, indent + 4)}" for k, p in sorted(eqn.params.items())
        )
        params = f"[{params}]" if params else ""
        args = " ".join(names(v) for v in eqn.inputs)
        lines.append(f"{pad}    {outs} = {eqn.primitive.name}{params} {args}".rstrip())
    outs = ", ".join(names(v) for v in jaxpr.outvars)
    outs = f"{outs}," if len(jaxpr.outvars) == 1 else outs  # JAX's tuple syntax
    lines.append(f"{pad}  in ({outs}) }}")
    return "\n".join(lines)


def pp_jaxpr(jaxpr: Jaxpr) -> str:
    return _pp_jaxpr(jaxpr, _Names(), 0)
