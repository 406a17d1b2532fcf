"""Shared test configuration.

Warnings are turned into errors by ``filterwarnings`` in the root pyproject.toml.
Hypothesis runs a smaller, deterministic profile under CI (``CI`` set, as CI does).
"""

import os

from hypothesis import settings

settings.register_profile("ci", max_examples=25, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile("ci" if os.environ.get("CI", "").lower() not in ("", "0", "false") else "dev")
