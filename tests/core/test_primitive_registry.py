"""Every primitive declared in `jumba._src.lax.*` has every rule the transformations need.

A missing rule is found here, not by a user: each primitive needs an `impl` (NumPy), an
`abstract_eval`, a JVP rule, a batching rule, and - if it is linear in some operand - a
transpose rule. New modules under `_src/lax/` are picked up automatically.

The numba `lower` rule (tier 1) is a later issue; once the compiler lands, add a check that
`lower` rules exist here.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import jumba  # noqa: F401  (registers the numpy-level methods that some rules use)
import jumba._src.lax as lax_pkg
from jumba._src import core
from jumba._src.interpreters import ad, batching


def _declared_primitives() -> dict[str, core.Primitive]:
    found = {}
    for info in pkgutil.iter_modules(lax_pkg.__path__):
        mod = importlib.import_module(f"{lax_pkg.__name__}.{info.name}")
        for value in vars(mod).values():
            if isinstance(value, core.Primitive):
                found[value.name] = value
    found[ad.add_any_p.name] = ad.add_any_p
    # Primitives of the transformations outside lax (custom rules, remat, debugging).
    for name in ("custom_derivatives", "checkpoint", "debugging", "pmap"):
        mod = importlib.import_module(f"jumba._src.{name}")
        found.update({v.name: v for v in vars(mod).values() if isinstance(v, core.Primitive)})
    return found


PRIMITIVES = _declared_primitives()

# Primitives linear (or bilinear, or linear in some operands) whose reverse mode needs a
# transpose rule. Names not (yet) declared are ignored, so the list may run ahead of lax.
LINEAR = {
    # elementwise
    "add", "sub", "neg", "add_any", "mul", "div", "select_n", "convert_element_type",
    "real", "imag", "complex", "conj", "copy",
    # reductions and scans
    "reduce_sum", "cumsum", "reduce_window_sum", "linear_recurrence",
    # structural
    "broadcast_in_dim", "reshape", "transpose", "squeeze", "expand_dims", "rev", "slice",
    "pad", "concatenate", "dynamic_slice", "dynamic_update_slice", "gather", "scatter",
    "scatter-add", "scatter-mul",
    # dot and convolution
    "dot_general", "conv_general_dilated",
    # linalg, fft
    "triangular_solve", "permute_rows", "fft",
    # control flow (their tangent forms are linear in the tangent operands)
    "cond", "scan",
    # collectives
    "psum", "all_gather", "ppermute", "all_to_all", "psum_scatter",
    # custom derivatives and remat (linear in their tangent operands)
    "custom_lin", "remat_lin", "name",
}

NAMES = sorted(PRIMITIVES)


def test_registry_finds_the_core_primitives():
    for name in ["add", "mul", "sin", "reduce_sum", "dot_general", "reshape",
                 "broadcast_in_dim", "convert_element_type", "select_n", "stop_gradient"]:
        assert name in PRIMITIVES, f"{name} not found in jumba._src.lax"
    assert set(PRIMITIVES.values()) <= set(core.all_primitives)


@pytest.mark.parametrize("name", NAMES)
def test_has_impl_and_abstract_eval(name):
    p = PRIMITIVES[name]
    assert p.impl is not core._no_impl, f"primitive {name!r} has no impl (def_impl)"
    assert p.abstract_eval is not core._no_impl, (
        f"primitive {name!r} has no abstract_eval (def_abstract_eval): jit and make_jaxpr "
        "cannot trace it")


@pytest.mark.parametrize("name", NAMES)
def test_has_jvp_rule(name):
    assert PRIMITIVES[name] in ad.primitive_jvps, (
        f"primitive {name!r} has no JVP rule in ad.primitive_jvps (non-differentiable "
        "primitives such as comparisons still need one giving zero tangents)")


@pytest.mark.parametrize("name", NAMES)
def test_has_batching_rule(name):
    assert PRIMITIVES[name] in batching.primitive_batchers, (
        f"primitive {name!r} has no batching rule in batching.primitive_batchers")


@pytest.mark.parametrize("name", sorted(LINEAR & set(PRIMITIVES)))
def test_linear_primitive_has_transpose_rule(name):
    assert PRIMITIVES[name] in ad.primitive_transposes, (
        f"primitive {name!r} is linear but has no transpose rule in ad.primitive_transposes: "
        "reverse-mode differentiation through it fails")


def test_primitive_names_are_unique():
    names = [p.name for p in PRIMITIVES.values()]
    assert len(names) == len(set(names))
    by_module: dict[str, list] = {}
    for p in core.all_primitives:
        by_module.setdefault(p.name, []).append(p)
    dupes = {n: ps for n, ps in by_module.items() if len(ps) > 1}
    assert not dupes, f"primitives declared twice: {sorted(dupes)}"
