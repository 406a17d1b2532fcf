"""`tree_pformat` / `tree_pprint`: readable, width-aware printing of pytrees."""

from __future__ import annotations

import dataclasses
import functools
import types
from typing import Any

import numpy as np

import jumba
from jumba.core import Tracer

__all__ = ["tree_pformat", "tree_pprint"]

_DTYPE_SHORT = {"float": "f", "int": "i", "uint": "u", "complex": "c", "bool": "bool"}


def _short_dtype(dtype) -> str:
    name = np.dtype(dtype).name
    for long, short in _DTYPE_SHORT.items():
        if name.startswith(long):
            return name if short == "bool" else short + name[len(long):]
    return name


def _array_text(x, short_arrays: bool) -> str:
    shape = ",".join(str(d) for d in x.shape)
    if short_arrays or isinstance(x, Tracer):
        return f"{_short_dtype(x.dtype)}[{shape}]"
    return repr(x)


def _fmt(x, indent: int, width: int, short_arrays: bool, level: int) -> str:
    from jumba_pytree_models._src.module import BoundMethod, Module

    if isinstance(x, (jumba.Array, Tracer, np.ndarray, np.generic)) and not isinstance(
            x, (bool, int, float)):
        if isinstance(x, np.generic):
            return repr(x)
        return _array_text(x, short_arrays)
    if isinstance(x, BoundMethod):
        return f"<bound method {type(x.__self__).__name__}.{x.__func__.__name__}>"
    if isinstance(x, Module):
        items = []
        for f in dataclasses.fields(x):
            if f.repr is False:
                continue
            items.append((f"{f.name}=", getattr(x, f.name, "<uninitialised>")))
        return _group(f"{type(x).__name__}(", items, ")", indent, width, short_arrays,
                      level)
    if isinstance(x, dict):
        items = [(f"{k!r}: ", v) for k, v in x.items()]
        return _group("{", items, "}", indent, width, short_arrays, level)
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        items = [(f"{k}=", v) for k, v in zip(x._fields, x)]
        return _group(f"{type(x).__name__}(", items, ")", indent, width, short_arrays,
                      level)
    if isinstance(x, list):
        return _group("[", [("", v) for v in x], "]", indent, width, short_arrays, level)
    if isinstance(x, tuple):
        close = ",)" if len(x) == 1 else ")"
        return _group("(", [("", v) for v in x], close, indent, width, short_arrays, level)
    if isinstance(x, functools.partial):
        return f"partial({_fmt(x.func, indent, width, short_arrays, level)}, ...)"
    if isinstance(x, (types.FunctionType, types.BuiltinFunctionType)):
        return f"<function {getattr(x, '__qualname__', x.__name__)}>"
    return repr(x)


def _group(open_, items, close, indent, width, short_arrays, level) -> str:
    parts = [k + _fmt(v, indent, width, short_arrays, level + 1) for k, v in items]
    flat = open_ + ", ".join(parts) + close
    if len(flat) + indent * level <= width and "\n" not in flat:
        return flat
    pad = " " * (indent * (level + 1))
    body = ",\n".join(pad + p for p in parts)
    return f"{open_}\n{body}\n{' ' * (indent * level)}{close.lstrip(',')}"


def tree_pformat(pytree: Any, *, width: int = 80, indent: int = 2,
                 short_arrays: bool = True, **kwargs: Any) -> str:
    """Format a pytree as text: modules as ``Name(field=value, ...)``, arrays as
    ``f32[3,4]`` (``short_arrays=False`` prints their values), one item per line when the
    one-line form is wider than ``width``.

    Examples:
        >>> import jumba.numpy as jnp
        >>> tree_pformat({"w": jnp.zeros((2, 3)), "n": 1})
        "{'w': f32[2,3], 'n': 1}"
    """
    del kwargs  # Equinox's struct_as_array / truncate_leaf are not needed here
    return _fmt(pytree, indent, width, short_arrays, 0)


def tree_pprint(pytree: Any, *, width: int = 80, indent: int = 2,
                short_arrays: bool = True, **kwargs: Any) -> None:
    """Print :func:`tree_pformat` of ``pytree``."""
    print(tree_pformat(pytree, width=width, indent=indent, short_arrays=short_arrays,
                       **kwargs))
