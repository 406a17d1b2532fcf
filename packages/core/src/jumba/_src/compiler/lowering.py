"""Lowering rules: how a fusible primitive becomes a scalar expression in a numba kernel.

A rule takes the operands' expression strings and the equation's params and avals, and
returns an expression string. Rules are registered next to their primitives in `_src/lax/`
with `def_scalar`; this module only holds the table and the helpers that fill it. It must
not import numba (lowering is text).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from jumba._src.core import Primitive

# primitive -> rule(args: list[str], params: dict, in_avals, out_aval) -> str
scalar_rules: dict[Primitive, Callable] = {}

# primitive -> (identity value as a function of dtype, combine template "{acc} + {x}")
reduction_rules: dict[Primitive, tuple[Callable, str]] = {}


# primitive -> (identity as a function of dtype, combine template, dtype kinds): a
# cumulative scan along one axis (params `axis`, `reverse`) kept in one running accumulator.
# The template reads `{acc}`, the operand `{x}` (or `{x0}`, `{x1}`, ... for several) and
# `{first}`, true at the scan's first step.
scan_rules: dict[Primitive, tuple[Callable, str, str]] = {}


# primitive -> fun(*operands, **params): the primitive written with fusible primitives.
# Tier 1 traces it in place of the primitive (tier 0 keeps the primitive's NumPy impl), so
# that a primitive with several results (threefry2x32) still fuses into kernels.
expansion_rules: dict[Primitive, Callable] = {}


def def_expansion(prim: Primitive, fun: Callable):
    expansion_rules[prim] = fun


def def_scalar(prim: Primitive, template: str | Callable):
    """Register a template ('({0} + {1})') or a rule function for a primitive."""
    if isinstance(template, str):
        scalar_rules[prim] = lambda args, params, in_avals, out_aval: template.format(*args)
    else:
        scalar_rules[prim] = template


# Primitives whose kernel expression is long (a helper with polynomials: erf_inv). A fused
# loop that reaches one after a long chain runs faster as two loops (see kernels.py).
heavy_rules: set = set()

# Primitives whose float32 kernel expression is a vectorisable helper (no libm call per
# element): fused float32 chains through them beat NumPy's SIMD loops (see loop_tier1.py).
vector_f32_rules: set = set()


def def_reduction(prim: Primitive, identity: Callable, combine: str):
    reduction_rules[prim] = (identity, combine)


def def_scan(prim: Primitive, identity: Callable, combine: str, kinds: str = "fiu"):
    """A cumulative scan: acc = combine(acc, x) from `identity`, each acc stored; `kinds`
    are the dtype kinds it compiles for (others keep the NumPy impl)."""
    scan_rules[prim] = (identity, combine, kinds)


def scan_rule(eqn):
    """The (identity, combine) of a scan equation that compiles, else None."""
    rule = scan_rules.get(eqn.primitive)
    dt = eqn.outputs[0].aval.dtype if rule is not None else None
    # numba has no float16 arithmetic on the CPU.
    if rule is None or dt.kind not in rule[2] or dt == np.float16:
        return None
    return rule[:2]


def typed_const(value, dtype) -> str:
    """A literal that numba types exactly as `dtype` (a bare 0.5 would be float64)."""
    dtype = np.dtype(dtype)
    v = np.asarray(value, dtype)[()]
    if dtype == np.bool_:
        return "True" if v else "False"
    if dtype.kind == "f":
        if np.isnan(v):
            return f"np.{dtype.name}(np.nan)"
        if np.isinf(v):
            return f"np.{dtype.name}({'np.inf' if v > 0 else '-np.inf'})"
        return f"np.{dtype.name}({float(v)!r})"
    if dtype.kind in "iu":
        return f"np.{dtype.name}({int(v)})"
    if dtype.kind == "c":
        return f"np.{dtype.name}({complex(v)!r})"
    raise TypeError(f"no kernel literal for dtype {dtype}")


def cast(expr: str, dtype) -> str:
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return f"({expr} != 0)"
    return f"np.{dtype.name}({expr})"
