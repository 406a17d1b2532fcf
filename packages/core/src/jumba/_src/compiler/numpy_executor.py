"""Tier 0: run an optimised Jaxpr with the primitives' NumPy implementations.

The Jaxpr becomes a small generated Python function (one line per equation, see
`codegen`), so a call costs one Python call per primitive and nothing else, and starts at
once: no compilation.
"""

from __future__ import annotations

from jumba._src.compiler.codegen import Executable
from jumba._src.core import ClosedJaxpr


class NumpyExecutable(Executable):
    tier = 0

    def __init__(self, closed: ClosedJaxpr, name: str = "fun", out_weak=None, unflatten=None,
                 donated=()):
        super().__init__(closed, closed.jaxpr.eqns, name, (), out_weak, unflatten, donated)
