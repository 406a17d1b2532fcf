"""Shared test configuration.

Warnings are turned into errors by ``filterwarnings`` in the root pyproject.toml.
Hypothesis runs a smaller, deterministic profile under CI (``CI`` set, as CI does).
"""

import os

# Tests check semantics on tier 0 (NumPy): compiling a numba kernel per test case would not
# fit CI. Tests of the compiler opt in with jumba.config (see tests/core/test_compiler.py).
os.environ.setdefault("JUMBA_COMPILE", "never")

from hypothesis import settings  # noqa: E402

settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile("ci" if os.environ.get("CI", "").lower() not in ("", "0", "false") else "dev")
