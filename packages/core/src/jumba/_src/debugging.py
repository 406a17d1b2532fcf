"""Debugging: `jumba.debug.print` / `jumba.debug.callback`, and the `jax_debug_nans` check.

`debug_callback` is a primitive with an effect and no outputs: registered as effectful,
dead-code elimination keeps it and CSE never merges two of them, so under jit it runs at
run time, in program order, with concrete values. Under vmap it runs once per batch
element (as JAX's), under grad on the primal values.

`jax_debug_nans`: while the flag may be on (globally or in some thread), `Primitive.eval`
is replaced by a version that checks float results for NaN, the array operators' eager
fast paths are switched off, and jitted programs run op by op (JAX re-runs a program that
produced a NaN op by op to find the culprit; here the op-by-op run is the check). While the
flag is off nothing is installed: the hot paths pay nothing.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from typing import Any

import numpy as np

from jumba._src import config as config_mod
from jumba._src import core
from jumba._src.compiler import codegen, passes
from jumba._src.core import Primitive
from jumba._src.interpreters import ad, batching
from jumba._src.runtime.array import Array
from jumba._src.tree_util import tree_flatten, tree_unflatten

# ---------------------------------------------------------------------------------------
# debug_callback


debug_callback_p = Primitive("debug_callback", multiple_results=True)


def _debug_callback_impl(*vals, callback, ordered=False):
    callback(*vals)
    return []


debug_callback_p.def_impl(_debug_callback_impl)
debug_callback_p.def_abstract_eval(lambda *avals, **params: [])
passes.effectful_primitives.add(debug_callback_p)


def _debug_callback_jvp(primals, tangents, **params):
    debug_callback_p.bind(*primals, **params)  # the callback sees primal values
    return [], []


def _debug_callback_batch(size, vals, dims, **params):
    from jumba._src.lax.structural import slice as lax_slice
    from jumba._src.lax.structural import squeeze

    for i in range(size):  # one call per batch element, as JAX's
        args = []
        for v, d in zip(vals, dims):
            if d is None:
                args.append(v)
                continue
            shape = core.get_aval(v).shape
            start = [0] * len(shape)
            limit = list(shape)
            start[d], limit[d] = i, i + 1
            args.append(squeeze(lax_slice(v, start, limit), (d,)))
        debug_callback_p.bind(*args, **params)
    return [], []


ad.primitive_jvps[debug_callback_p] = _debug_callback_jvp
batching.primitive_batchers[debug_callback_p] = _debug_callback_batch


def callback(callback: Callable[..., Any], *args: Any, ordered: bool = False,
             **kwargs: Any) -> None:
    """Call `callback(*args, **kwargs)` with concrete values, also from transformed code.

    Eagerly it runs at once; under `jit` the call is staged and runs each time the compiled
    program runs (in program order); under `vmap` it runs once per batch element; under
    `grad` it sees the primal values. Its return value is ignored.

    Args:
      callback: a Python function taking arrays (`jumba.Array`s, in the pytrees given).
      *args, **kwargs: pytrees of arrays passed to it.
      ordered: accepted for JAX compatibility (calls always run in program order here).
    """
    if not callable(callback):
        raise TypeError(f"jumba.debug.callback expects a callable, got "
                        f"{type(callback).__name__}: call it as callback(fn, *args).")
    leaves, tree = tree_flatten((args, kwargs))
    is_array = [core.is_valid_operand(x) or hasattr(x, "__array__") for x in leaves]
    statics = [None if a else x for x, a in zip(leaves, is_array)]
    operands = [x for x, a in zip(leaves, is_array) if a]

    def flat_callback(*vals):
        it = iter(vals)
        full = [core.to_array(next(it)) if a else s for a, s in zip(is_array, statics)]
        cargs, ckwargs = tree_unflatten(tree, full)
        callback(*cargs, **ckwargs)

    flat_callback.__name__ = getattr(callback, "__name__", "callback")
    debug_callback_p.bind(*operands, callback=flat_callback, ordered=bool(ordered))


def debug_print(fmt: str | None = None, *args: Any, ordered: bool = False,
                **kwargs: Any) -> Any:
    """Print `fmt.format(*args, **kwargs)` with the arrays' concrete values, also from
    transformed code (as `jax.debug.print`).

    Examples:
      >>> import jumba as jb, jumba.numpy as jnp
      >>> @jb.jit
      ... def f(x):
      ...     jb.debug.print("x = {x}", x=x)
      ...     return x * 2
      >>> _ = f(jnp.arange(3.0))
      x = [0. 1. 2.]
    """
    if fmt is None and not args and not kwargs:  # JAX's two-call form: print(ordered=...)(fmt)
        return lambda fmt, *a, **k: debug_print(fmt, *a, ordered=ordered, **k)
    if not isinstance(fmt, str):
        raise TypeError(f"jumba.debug.print expects a format string first, got "
                        f"{type(fmt).__name__}: write jumba.debug.print('{{x}}', x=x).")
    _check_format(fmt, len(args), kwargs)

    def _print(*a, **k):
        a = [np.asarray(x) if type(x) is Array else x for x in a]
        k = {n: np.asarray(x) if type(x) is Array else x for n, x in k.items()}
        print(fmt.format(*a, **k))

    callback(_print, *args, ordered=ordered, **kwargs)


def _check_format(fmt, nargs, kwargs):
    """Fail at the call site (not inside a compiled program) when the format string names
    an argument that was not given."""
    auto = 0
    for _, field, _, _ in string.Formatter().parse(fmt):
        if field is None:
            continue
        head = field.split(".")[0].split("[")[0]
        if head == "":
            head = str(auto)
            auto += 1
        if head.isdigit():
            if int(head) >= nargs:
                raise ValueError(f"jumba.debug.print: format string {fmt!r} refers to "
                                 f"positional argument {head}, but {nargs} were given.")
        elif head not in kwargs:
            raise ValueError(f"jumba.debug.print: format string {fmt!r} refers to {head!r}, "
                             f"which was not passed: jumba.debug.print({fmt!r}, "
                             f"{head}={head}).")


# ---------------------------------------------------------------------------------------
# jax_debug_nans


def _has_nan(v) -> bool:
    a = v._value if type(v) is Array else v
    if not isinstance(a, (np.ndarray, np.generic)):
        return False
    return a.dtype.kind in "fc" and bool(np.isnan(a).any())


def nan_error(prim_name: str) -> FloatingPointError:
    return FloatingPointError(
        f"invalid value (nan) encountered in {prim_name}. (jax_debug_nans is on: "
        f"'{prim_name}' is the first operation whose result holds a NaN. Check its inputs, "
        "e.g. log or sqrt of negative numbers, 0/0, inf - inf; turn the check off with "
        "jumba.config.update('jax_debug_nans', False).)")


_plain_eval = Primitive.eval


def _eval_checking_nans(self, args, params):
    out = _plain_eval(self, args, params)
    if config_mod.flags.jax_debug_nans and self not in _UNCHECKED:
        for o in out if self.multiple_results else (out,):
            if _has_nan(o):
                raise nan_error(self.name)
    return out


# Call-like primitives evaluate their bodies through eval: the inner operation is named.
_UNCHECKED: set = set()


def _jit_checking_nans(exe, leaves_or_vals, as_call):
    """Run a compiled program op by op through `eval_jaxpr`, so that each primitive's
    result is checked (the thread-local flag decides)."""
    if not config_mod.flags.jax_debug_nans:
        return None
    closed, out_weak, unflatten = exe._debug_info
    vals = [x if type(x) is Array else core.to_array(x) for x in leaves_or_vals]
    outs = core.eval_jaxpr(closed.jaxpr, closed.consts, *vals)
    if not as_call:
        return [core.to_numpy(o) for o in outs]
    outs = [Array(core.to_numpy(o), w) for o, w in zip(outs, out_weak)]
    return outs[0] if unflatten is None else unflatten(outs)


_installed = False


def _sync_debug_nans() -> None:
    """Install the NaN checks while the flag may be on anywhere; remove them after."""
    global _installed
    active = config_mod.may_be_set("jax_debug_nans")
    if active == _installed:
        return
    from jumba._src.numpy import array_methods

    Primitive.eval = _eval_checking_nans if active else _plain_eval
    codegen.debug_hook = _jit_checking_nans if active else None
    fast = array_methods._FAST_OPERATORS
    for name, f in (array_methods._OPERATORS if active else fast).items():
        if name in fast:
            setattr(Array, name, f)
    _installed = active


config_mod.watch("jax_debug_nans", _sync_debug_nans)
