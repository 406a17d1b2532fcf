"""A large loop kernel cut into functions of its own (before numba sees it).

numba's front end (reaching definitions, SSA reconstruction, variable scoping) grows faster
than linearly with a function's size: a PPO rollout's scan body (three Threefry expansions,
two MLPs, the environment step: ~1,000 lines, ~1,300 temporaries, ~150 loops) took 230 s
to compile as one function, nearly all of it in `numba.core.analysis.def_reach` and
`numba.core.ssa` (profiled), and LLVM's optimiser not at all (as long with NUMBA_OPT=0).

So a kernel of more than `MAX_LINES` lines is cut: the statements of its longest statement
list (the body of the loop over iterations) are grouped into runs of about `CHUNK` lines,
and each run becomes a numba function of the names it reads, returning the names it
assigns that any other line reads; numba then compiles many small functions. A statement
that leaves its loop (`break`) stays inline.
"""

from __future__ import annotations

import keyword
import re

MAX_LINES = 300  # kernels up to this size compile as one function (numba is fast there)
CHUNK = 60

_NAME = re.compile(r"(?<![\w.])[A-Za-z_]\w*")
_ASSIGN = re.compile(r"^\s*([A-Za-z_][\w, ]*?)\s*(?:[-+*/|&^]?=)(?!=)")
_FOR = re.compile(r"^\s*for ([A-Za-z_]\w*) in ")
_GLOBAL = frozenset(["np", "math", "numba", "range", "min", "max", "abs", "int", "float",
                     "bool", "len", "_kh"])


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _names(line: str) -> set:
    return {n for n in _NAME.findall(line) if not keyword.iskeyword(n)}


def _defined(line: str) -> set:
    m = _FOR.match(line)
    if m:
        return {m.group(1)}
    m = _ASSIGN.match(line)
    if m and "[" not in m.group(1) and not m.group(1).lstrip().startswith(("if ", "elif ")):
        return {n.strip() for n in m.group(1).split(",") if n.strip()}
    return set()


def _statements(lines, start, end, ind):
    """[start, end) split into statements at indentation `ind` (a line and its block)."""
    out, k = [], start
    while k < end:
        j = k + 1
        while j < end and _indent(lines[j]) > ind:
            j += 1
        out.append((k, j))
        k = j
    return out


def _body_of_longest_loop(lines):
    """(start, end, indentation) of the statement list to cut: the body of the largest
    top-level `for`/`while` (the loop over iterations)."""
    best = None
    for k, j in _statements(lines, 0, len(lines), _indent(lines[0]) if lines else 0):
        head = lines[k].lstrip()
        if (head.startswith(("for ", "while ")) and j - k > 1
                and (best is None or j - k > best[1] - best[0])):
            best = (k + 1, j)
    if best is None:
        return None
    return best[0], best[1], _indent(lines[best[0]])


def outline(lines: list[str], globals_: set) -> tuple[list[str], list[str]]:
    """(the kernel's lines, runs of them replaced by calls; the new functions' source)."""
    if len(lines) <= MAX_LINES:
        return lines, []
    region = _body_of_longest_loop(lines)
    if region is None:
        return lines, []
    start, end, ind = region
    skip = _GLOBAL | set(globals_)
    names_at = [_names(ln) for ln in lines]
    parts: list[str] = []
    new: list[str] = list(lines[:start])
    run: list[tuple[int, int]] = []

    def flush():
        if not run:
            return
        a, b = run[0][0], run[-1][1]
        if b - a < CHUNK // 3:  # too short to be worth a call
            new.extend(lines[a:b])
        else:
            new.extend(_outlined(lines, names_at, a, b, ind, skip, parts))
        run.clear()

    for k, j in _statements(lines, start, end, ind):
        block = lines[k:j]
        if any(re.search(r"\b(break|continue|return)\b", ln) for ln in block):
            flush()
            new.extend(block)
            continue
        run.append((k, j))
        if run[-1][1] - run[0][0] >= CHUNK:
            flush()
    flush()
    new.extend(lines[end:])
    return new, parts


def _outlined(lines, names_at, a, b, ind, skip, parts):
    block = lines[a:b]
    defined = set().union(*(_defined(ln) for ln in block))
    used = set().union(*names_at[a:b]) - skip
    elsewhere = set().union(*names_at[:a], *names_at[b:])
    args = sorted((used - defined) | (used & _read_before_set(block)))
    rets = sorted(defined & elsewhere)
    name = f"part{len(parts)}"
    body = [ln[ind:] for ln in block]
    if rets:
        body.append(f"return {', '.join(rets)}" + ("," if len(rets) == 1 else ""))
    parts.append("@numba.njit(cache=True, nogil=True, error_model='numpy')\n"
                 f"def {name}({', '.join(args)}):\n"
                 + "\n".join("    " + ln for ln in body) + "\n")
    call = f"{name}({', '.join(args)})"
    if rets:
        call = f"{', '.join(rets)}{',' if len(rets) == 1 else ''} = {call}"
    return [" " * ind + call]


def _read_before_set(block) -> set:
    """Names the block reads before it first assigns them (their value comes from outside)."""
    seen, early = set(), set()
    for ln in block:
        m = _FOR.match(ln) or _ASSIGN.match(ln)
        rhs = ln[m.end():] if m else ln
        early |= _names(rhs) - seen
        seen |= _defined(ln)
    return early
