"""The errors tracing raises, and the message that explains a concretization error."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jumba._src.core import Tracer


class JumbaTypeError(TypeError):
    pass


class ConcretizationTypeError(JumbaTypeError):
    """A traced value was used where a concrete Python value is needed."""


class TracerBoolConversionError(ConcretizationTypeError):
    pass


class TracerIntegerConversionError(ConcretizationTypeError):
    pass


class UnexpectedTracerError(Exception):
    """A tracer escaped the transformation that created it."""


def _concretization_message(tracer: Tracer, what: str) -> str:
    main = tracer._trace.main
    origin = main.describe_origin(tracer)
    head = (f"Attempted {what} on a traced value {tracer.aval.str_short()}{origin}. The value "
            f"is abstract while {main.kind} traces the function, so Python cannot branch on "
            "it or convert it to a Python number.\n")
    if main.kind == "vmap":
        return head + (
            "Under vmap a value computed from a mapped argument is a whole batch of values, "
            "and Python cannot take one branch for all of them. Fixes: choose per element "
            "with jumba.numpy.where(cond, a, b) or jumba.lax.select (jumba.lax.cond also "
            "works under vmap); if the value should be the same for every batch element, "
            "pass its argument unmapped with in_axes=None.")
    deps = getattr(main.global_data, "dependent_args", None)
    names = deps(tracer) if deps is not None else []
    hints = {getattr(n, "static_hint", None) for n in names} - {None}
    nums = tuple(sorted(v for k, v in hints if k == "argnums"))
    kws = tuple(sorted(v for k, v in hints if k == "argnames"))
    given = ([f"static_argnums={nums!r}"] if nums else []) + \
        ([f"static_argnames={kws!r}"] if kws else [])
    static = (f"jit(f, {', '.join(given)})" if given
              else "jit(f, static_argnums=...) or static_argnames=...")
    return head + (
        "Fixes: if the argument is a Python value that chooses what to compute (a size, a "
        f"flag, a mode), mark it static: {static}; each new value then retraces. If it is "
        "data, use structured control flow on traced values: jumba.lax.cond, "
        "jumba.numpy.where or jumba.lax.select instead of `if`, jumba.lax.fori_loop or "
        "jumba.lax.while_loop instead of a Python loop; keep numbers as arrays (x.astype(...)) "
        "instead of int()/float().")
