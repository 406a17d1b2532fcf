"""Breadth of jumba.numpy against jax.numpy: the names of `jax.numpy`, `jax.numpy.linalg`
and `jax.numpy.fft` (tests/data/api_surface.json, from the anchor libraries) that Jumba
offers, per module. Each list must stay at least 95% implemented; the names left out on
purpose are listed below with the reason (and in README.md, "Omissions from jax.numpy").
"""

import importlib
import json
import pathlib

import pytest

SURFACE = json.loads((pathlib.Path(__file__).parents[1] / "data" /
                      "api_surface.json").read_text())
THRESHOLD = 0.95

# Names of jax.numpy that Jumba leaves out on purpose, with the reason. Keep in step with
# README.md's "Omissions from jax.numpy".
INTENTIONAL_OMISSIONS: dict[str, str] = {}

MODULES = ["jumba.numpy", "jumba.numpy.linalg", "jumba.numpy.fft"]


def _missing(module_name):
    mod = importlib.import_module(module_name)
    return [n for n in SURFACE[module_name] if not hasattr(mod, n)]


@pytest.mark.parametrize("module_name", MODULES)
def test_implemented_fraction(module_name):
    names = SURFACE[module_name]
    missing = _missing(module_name)
    fraction = 1 - len(missing) / len(names)
    assert fraction >= THRESHOLD, (
        f"{module_name}: {len(names) - len(missing)}/{len(names)} = {fraction:.1%} of "
        f"JAX's names implemented (need {THRESHOLD:.0%}); missing: {missing}")


def test_omissions_are_really_missing_and_documented():
    readme = (pathlib.Path(__file__).parents[2] / "README.md").read_text()
    assert "Omissions from jax.numpy" in readme
    for name in INTENTIONAL_OMISSIONS:
        assert any(name in SURFACE[m] and name in _missing(m) for m in MODULES), (
            f"{name} is listed as omitted but is implemented (or not a jax.numpy name): "
            "remove it from INTENTIONAL_OMISSIONS and README.md")
        assert f"`{name}`" in readme, f"README.md's omissions section does not list {name}"


def test_every_public_numpy_name_is_callable_or_a_type():
    import jumba.numpy as jnp

    for name in SURFACE["jumba.numpy"]:
        obj = getattr(jnp, name)
        assert obj is None or callable(obj) or isinstance(obj, (float, int, tuple)) or \
            hasattr(obj, "__getitem__"), f"jumba.numpy.{name} is {obj!r}"


# pmap's collectives belong to the pmap issue; the rest of jax.lax makes sense on the CPU.
LAX_COLLECTIVES = {"all_gather", "all_to_all", "axis_index", "axis_size", "pmax", "pmean",
                   "pmin", "ppermute", "psum"}


def test_lax_coverage():
    names = [n for n in SURFACE["jumba.lax"] if n not in LAX_COLLECTIVES]
    missing = [n for n in _missing("jumba.lax") if n not in LAX_COLLECTIVES]
    fraction = 1 - len(missing) / len(names)
    assert fraction >= 0.85, f"jumba.lax covers {fraction:.0%}; missing: {missing}"
