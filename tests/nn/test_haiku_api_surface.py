"""Breadth: the dm-haiku names listed under "jumba_nn.haiku" in api_surface.json that
jumba_nn.haiku offers (>= 80%, the issue's bar), with the omissions listed on purpose."""

import json
from pathlib import Path

import jumba_nn.haiku as hk

SURFACE = json.loads((Path(__file__).resolve().parents[1] / "data" / "api_surface.json")
                     .read_text())["jumba_nn.haiku"]
# Not provided, on purpose: `to_dot` renders a program graph with graphviz (a debugging
# aid outside the runtime dependencies); `LayerStackTransparencyMapping` belongs to
# layer_stack's transparent mode, which is not implemented.
KNOWN_MISSING = {"LayerStackTransparencyMapping", "to_dot"}


def test_coverage_of_the_haiku_surface():
    missing = sorted(n for n in SURFACE if not hasattr(hk, n))
    coverage = 1 - len(missing) / len(SURFACE)
    assert coverage >= 0.8, f"{coverage:.0%} of {len(SURFACE)} names; missing {missing}"
    assert set(missing) <= KNOWN_MISSING, f"newly missing from jumba_nn.haiku: {missing}"
    print(f"\njumba_nn.haiku covers {len(SURFACE) - len(missing)}/{len(SURFACE)} names; "
          f"missing: {missing}")


def test_initializers_namespace():
    for name in ("Constant", "RandomNormal", "RandomUniform", "TruncatedNormal",
                 "VarianceScaling", "UniformScaling", "Orthogonal", "Identity"):
        assert callable(getattr(hk.initializers, name))
    assert callable(hk.nets.MLP)
