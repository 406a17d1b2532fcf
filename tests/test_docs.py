"""Every ```python snippet in docs/ runs, so the documentation cannot rot.

Conventions (docs/index.md repeats them for authors):
- a page's snippets run in order, in one namespace, in a temporary working directory;
- a ```python block followed (after blank lines only) by a ```text block must print exactly
  that text (trailing spaces ignored);
- `<!-- skip -->` on the line before a ```text block shows machine-dependent output (versions,
  paths, timings) without comparing it. Python blocks are never skipped; ```sh blocks (shell
  commands) are not run.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import types
from pathlib import Path

import pytest

import jumba as jb

DOCS = Path(__file__).resolve().parent.parent / "docs"
PAGES = sorted(DOCS.glob("*.md"))
_FENCE = re.compile(r"^```(\w*)\s*$")


def parse_blocks(text: str):
    """Fenced blocks as dicts: lang, start (1-based line of the code), end, body, skip."""
    lines = text.splitlines()
    blocks, i, skip = [], 0, False
    while i < len(lines):
        line = lines[i]
        if line.strip() == "<!-- skip -->":
            skip = True
        elif _FENCE.match(line):
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            if j == len(lines):
                raise AssertionError(f"unclosed ``` fence at line {i + 1}")
            blocks.append({"lang": _FENCE.match(line).group(1), "start": i + 2, "end": j + 1,
                           "body": "\n".join(lines[i + 1:j]), "skip": skip})
            skip = False
            i = j
        elif line.strip():
            skip = False  # the marker applies to the very next block only
        i += 1
    return blocks


def snippets(text: str):
    """(line, code, expected output or None) for each python block."""
    blocks = parse_blocks(text)
    lines = text.splitlines()
    out = []
    for k, b in enumerate(blocks):
        if b["lang"] != "python":
            continue
        assert not b["skip"], f"line {b['start']}: python snippets cannot be skipped"
        expected = None
        nxt = blocks[k + 1] if k + 1 < len(blocks) else None
        if nxt is not None and nxt["lang"] == "text" and not nxt["skip"]:
            between = lines[b["end"]:nxt["start"] - 2]
            if all(not s.strip() for s in between):
                expected = nxt["body"]
        out.append((b["start"], b["body"], expected))
    return out


def _normalise(s: str) -> str:
    return "\n".join(line.rstrip() for line in s.strip("\n").splitlines())


def _marks(page: Path):
    # Pages that build tier 1 compile numba kernels.
    return [pytest.mark.numba] if ".compile()" in page.read_text() else []


@pytest.mark.parametrize("page", [pytest.param(p, id=p.name, marks=_marks(p)) for p in PAGES])
def test_page_snippets_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = jb.config.values()
    # The snippets run as a module of their own, like a user's script: registered in
    # sys.modules (dataclasses and pytree libraries look classes' modules up there) and
    # compiled without this file's `from __future__ import annotations` (dont_inherit).
    module = types.ModuleType(f"docs_{page.stem}")
    namespace = module.__dict__
    monkeypatch.setitem(sys.modules, module.__name__, module)
    try:
        for line, code, expected in snippets(page.read_text()):
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                exec(compile(code, f"{page.name}:{line}", "exec", dont_inherit=True),  # noqa: S102
                     namespace)
            if expected is not None:
                assert _normalise(buf.getvalue()) == _normalise(expected), (
                    f"{page.name}, snippet at line {line}: printed\n{buf.getvalue()}")
    finally:
        changed = {k: v for k, v in before.items() if jb.config.values()[k] != v}
        for k, v in changed.items():
            jb.config.update(k, v)
    assert not changed, f"{page.name} left jumba.config changed: {sorted(changed)}"


def test_docs_exist_and_have_snippets():
    names = {p.name for p in PAGES}
    for required in ("index.md", "quickstart.md", "transformations.md", "coming_from_jax.md",
                     "sharp_bits.md", "reading_compiled_code.md", "checkpoints.md"):
        assert required in names
    for p in PAGES:
        if p.name != "index.md":
            assert snippets(p.read_text()), f"{p.name} has no python snippet"


def test_index_links_every_page():
    index = (DOCS / "index.md").read_text()
    for p in PAGES:
        if p.name != "index.md":
            assert f"({p.name})" in index, f"index.md does not link {p.name}"


def test_runner_conventions():
    text = "\n".join([
        "```python", "print(1)", "```", "", "```text", "1", "```",
        "```python", "x = 2", "```", "<!-- skip -->", "```text", "anything", "```",
        "```sh", "make demo", "```"])
    assert snippets(text) == [(2, "print(1)", "1"), (9, "x = 2", None)]
