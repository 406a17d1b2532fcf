"""Breadth: the RLax names listed in api_surface.json that jumba_rl offers (>= 85%)."""

import json
from pathlib import Path

import jumba_rl

SURFACE = json.loads((Path(__file__).resolve().parents[1] / "data" / "api_surface.json")
                     .read_text())
# Nothing is left out on purpose at present: every name is provided. (Cross-device variants —
# AllSum/popart/vmpo with an axis_name — raise a clear NotImplementedError until jumba.lax has
# psum/pmean/all_gather.)
KNOWN_MISSING: set[str] = set()


def test_coverage_of_the_rlax_surface():
    names = SURFACE["jumba_rl"]
    missing = sorted(n for n in names if not hasattr(jumba_rl, n))
    coverage = 1 - len(missing) / len(names)
    assert coverage >= 0.85, f"{coverage:.0%} of {len(names)} names; missing {missing}"
    assert set(missing) <= KNOWN_MISSING, f"newly missing from jumba_rl: {missing}"
    print(f"\njumba_rl covers {len(names) - len(missing)}/{len(names)} names; missing: {missing}")


def test_public_names_are_documented():
    for name in SURFACE["jumba_rl"]:
        obj = getattr(jumba_rl, name)
        if callable(obj) and not isinstance(obj, type):
            assert (obj.__doc__ or "").strip(), f"jumba_rl.{name} has no docstring"
