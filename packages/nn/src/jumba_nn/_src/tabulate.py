"""``tabulate``: a text table of a model's modules, shapes and parameter counts."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from jumba.tree_util import tree_leaves
from jumba_nn._src.module import INIT_MUTABLE, Module, _Frame


def _summary(x) -> str:
    if isinstance(x, tuple | list):
        inner = ", ".join(_summary(v) for v in x)
        return f"({inner})" if isinstance(x, tuple) else f"[{inner}]"
    if isinstance(x, Mapping):
        return "{" + ", ".join(f"{k}: {_summary(v)}" for k, v in x.items()) + "}"
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return f"{np.dtype(x.dtype).name}[{','.join(str(d) for d in x.shape)}]"
    return repr(x)


def _own_vars(tree) -> dict:
    """Variables held directly by a module (not by its children)."""
    return {k: v for k, v in tree.items() if not isinstance(v, Mapping)} if tree else {}


def _count(tree) -> tuple[int, int]:
    leaves = [x for x in tree_leaves(tree) if hasattr(x, "shape")]
    n = sum(math.prod(x.shape) for x in leaves)
    nbytes = sum(math.prod(x.shape) * np.dtype(x.dtype).itemsize for x in leaves)
    return n, nbytes


def _size(nbytes: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes:.1f} {unit}" if unit != "B" else f"{nbytes} B"
        nbytes /= 1024
    return ""


def tabulate(module: Module, rngs, depth: int | None = None, show_repeated: bool = False,
             mutable=INIT_MUTABLE, console_kwargs=None, table_kwargs=None,
             column_kwargs=None, compute_flops: bool = False, compute_vjp_flops: bool = False,
             **kwargs):
    """Returns ``fn(*args, **kw) -> str``: a table of the modules run by ``module.init``.

    Each row is one module call: its path, class, input and output shapes, and the variables
    it owns (shapes, counts per collection); a total follows.

    Args:
      module: the model.
      rngs: as for ``init``.
      depth: show modules at most this deep (None: all).
      show_repeated: list every call of a module called several times.
    """

    def run(*args, **call_kwargs):
        frame = _Frame({}, rngs, mutable, True)
        frame.call_log = []
        module._run(frame, kwargs.pop("method", None), args, {**kwargs, **call_kwargs})
        rows, seen = [], set()
        for path, cls, meth, a, k, out in frame.call_log:
            if depth is not None and len(path) > depth:
                continue
            if path in seen and not show_repeated:
                continue
            seen.add(path)
            cols = []
            for col, tree in frame.variables.items():
                node = tree
                for p in path:
                    node = node.get(p, {}) if isinstance(node, Mapping) else {}
                own = _own_vars(node)
                if own:
                    n, nb = _count(own)
                    shapes = ", ".join(f"{name}: {_summary(v)}" for name, v in own.items())
                    cols.append(f"{col}: {shapes} ({n:,} = {_size(nb)})")
            inputs = _summary(a[0] if len(a) == 1 and not k else (a if not k else (a, k)))
            label = "/".join(path) + ("" if meth == "__call__" else f".{meth}")
            rows.append((label, cls, inputs, _summary(out), "; ".join(cols)))
        header = ("path", "module", "inputs", "outputs", "variables")
        widths = [max(len(r[i]) for r in rows + [header]) for i in range(5)]
        sep = "+-" + "-+-".join("-" * w for w in widths) + "-+"

        def fmt(r):
            return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"

        lines = [f"{type(module).__name__} summary", sep, fmt(header), sep]
        lines += [fmt(r) for r in rows] + [sep]
        if len(frame.variables) > 1:
            for col, tree in frame.variables.items():
                n, nb = _count(tree)
                lines.append(f"Total {col}: {n:,} ({_size(nb)})")
        n, nb = _count(frame.variables)
        lines.append(f"Total Parameters: {n:,} ({_size(nb)})" if set(frame.variables) ==
                     {"params"} else f"Total variables: {n:,} ({_size(nb)})")
        return "\n".join(lines)

    return run
