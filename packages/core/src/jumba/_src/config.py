"""Jumba's configuration flags: ``jumba.config``, after ``jax.config``.

A flag has a global value, set by ``config.update(name, value)`` or, at import, by an
environment variable, and may be overridden for the current thread by a context manager
(``enable_x64()``, ``disable_jit()``, ``config_context(**flags)``)::

    >>> from jumba._src.config import config, enable_x64
    >>> with enable_x64():
    ...     config.jax_enable_x64
    True

Reading a flag is on the hot path of every eager operation, so a read is a plain slot read
while no thread overrides that flag. While some thread does, a property replaces that flag's
slot descriptor on the class; it looks in the thread-local overrides first and falls back to
the global value. The slot descriptor is put back when the last override of the flag ends,
so thread-local contexts cost something (about 0.1-0.2 us a read) only while active.

Hot paths inside ``jumba._src`` may read ``flags`` (same attributes as ``config``, without
the ``__getattr__`` hook that ``config`` uses to explain unknown names; CPython specialises
attribute reads only on classes without that hook).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Config",
    "config",
    "config_context",
    "debug_nans",
    "default_matmul_precision",
    "disable_jit",
    "enable_x64",
    "flags",
    "numpy_rank_promotion",
]

_MISSING = object()

_TRUE_STRINGS = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE_STRINGS = frozenset({"0", "false", "no", "off", "n", "f", ""})

COMPILE_MODES = ("background", "eager", "never")
RANK_PROMOTION_MODES = ("allow", "warn", "raise")
# Accepted for compatibility with JAX code; matmuls on CPU ignore the precision.
MATMUL_PRECISIONS = (
    "default",
    "high",
    "highest",
    "fastest",
    "bfloat16",
    "tensorfloat32",
    "float32",
    "bfloat16_3x",
    "tensorfloat32_3x",
)


# ---------------------------------------------------------------------------------------
# Flag declarations


def _validate_bool(name: str, value: Any) -> bool:
    # np.bool_ and the ints 0/1 are accepted because `update(name, 1)` is common in scripts.
    if isinstance(value, bool):
        return value
    if type(value).__name__ == "bool" or (type(value) is int and value in (0, 1)):
        return bool(value)
    raise TypeError(
        f"config flag {name!r} takes a bool, got {value!r} of type {type(value).__name__}; "
        f"e.g. config.update({name!r}, True)."
    )


def _parse_bool(env: str, text: str) -> bool:
    t = text.strip().lower()
    if t in _TRUE_STRINGS:
        return True
    if t in _FALSE_STRINGS:
        return False
    raise ValueError(
        f"environment variable {env}={text!r} is not a truth value; use one of "
        f"{sorted(_TRUE_STRINGS)} for True or {sorted(_FALSE_STRINGS - {''})} for False."
    )


def _choice(choices: tuple[str, ...], *, allow_none: bool = False):
    def validate(name: str, value: Any):
        if value is None and allow_none:
            return None
        if isinstance(value, str) and value.lower() in choices:
            return value.lower()
        allowed = ", ".join(repr(c) for c in choices) + (", None" if allow_none else "")
        raise ValueError(f"config flag {name!r} must be one of {allowed}; got {value!r}.")

    def parse(env: str, text: str):
        t = text.strip().lower()
        if allow_none and t in ("", "none"):
            return None
        if t in choices:
            return t
        raise ValueError(
            f"environment variable {env}={text!r} is not valid; use one of "
            + ", ".join(choices)
            + (" or none" if allow_none else "")
            + "."
        )

    return validate, parse


@dataclass(frozen=True)
class _Flag:
    name: str
    default: Any
    help: str
    validate: Callable[[str, Any], Any]  # (flag name, value) -> normalised value, or raises
    parse_env: Callable[[str, str], Any]  # (variable name, text) -> value, or raises
    traced: bool = False  # part of trace_context(): changes what tracing produces

    @property
    def env_names(self) -> tuple[str, ...]:
        """Variables that set the default, the first one set wins: ``JUMBA_X`` before ``JAX_X``."""
        if self.name.startswith("jax_"):
            rest = self.name[len("jax_") :].upper()
            return ("JUMBA_" + rest, "JAX_" + rest)
        return (self.name.upper(),)


def _declare() -> tuple[_Flag, ...]:
    compile_v, compile_p = _choice(COMPILE_MODES)
    rank_v, rank_p = _choice(RANK_PROMOTION_MODES)
    prec_v, prec_p = _choice(MATMUL_PRECISIONS, allow_none=True)
    return (
        _Flag(
            "jax_enable_x64",
            False,
            "Use 64-bit types by default: float64/int64 instead of float32/int32.",
            _validate_bool,
            _parse_bool,
            traced=True,
        ),
        _Flag(
            "jax_disable_jit",
            False,
            "Run jit-decorated functions op by op, for debugging.",
            _validate_bool,
            _parse_bool,
        ),
        _Flag(
            "jumba_compile",
            "background",
            "When jit builds numba kernels: 'background' (run on NumPy meanwhile), "
            "'eager' (compile before the first call returns) or 'never' (NumPy only).",
            compile_v,
            compile_p,
        ),
        _Flag(
            "jax_debug_nans",
            False,
            "Raise FloatingPointError when an operation produces a NaN.",
            _validate_bool,
            _parse_bool,
        ),
        _Flag(
            "jax_numpy_rank_promotion",
            "allow",
            "Implicit rank promotion in jumba.numpy broadcasting: 'allow', 'warn' or 'raise'.",
            rank_v,
            rank_p,
            traced=True,
        ),
        _Flag(
            "jax_default_matmul_precision",
            None,
            "Accepted for JAX compatibility; CPU matmuls ignore it.",
            prec_v,
            prec_p,
            traced=True,
        ),
    )


_FLAGS: dict[str, _Flag] = {f.name: f for f in _declare()}
# Order matters: trace_context() spells this tuple out for speed.
_TRACED = ("jax_enable_x64", "jax_numpy_rank_promotion", "jax_default_matmul_precision")
assert set(_TRACED) == {f.name for f in _FLAGS.values() if f.traced}


def _initial_value(flag: _Flag, environ) -> Any:
    for env in flag.env_names:
        text = environ.get(env)
        if text is not None:
            return flag.parse_env(env, text)
    return flag.default


# ---------------------------------------------------------------------------------------
# Storage: global values, thread-local overrides


class _Overrides(threading.local):
    def __init__(self):
        self.values: dict[str, Any] = {}


_tls = _Overrides()
_global: dict[str, Any] = {}  # the global value of every flag (mirrors the slots)
_lock = threading.Lock()
_override_counts: dict[str, int] = {}  # per flag: overrides now active, over all threads
_n_overrides = 0  # sum of _override_counts; 0 means every read is a plain attribute read


def _thread_local_read(name: str) -> property:
    """The class attribute for flag ``name`` while some thread overrides it.

    A ``property`` (a C descriptor calling one Python function) costs less per read than a
    Python class with ``__get__``.
    """

    def read(self, _tls=_tls, _global=_global):
        value = _tls.values.get(name, _MISSING)
        return _global[name] if value is _MISSING else value

    def write(self, value):
        raise AttributeError(_SET_MESSAGE.format(name=name))

    return property(read, write, doc=_FLAGS[name].help)


_SET_MESSAGE = (
    "config flags are not assigned; use config.update({name!r}, value), or a context "
    "manager such as jumba.config_context({name}=value) for a temporary change."
)


def _unknown(name: str) -> AttributeError:
    known = ", ".join(_FLAGS)
    return AttributeError(f"unknown config flag {name!r}; the known flags are: {known}.")


class _FlagValues:
    """Holds each flag's global value in a slot.

    Slots matter: a flag's slot descriptor can be swapped out of the class for a
    ``_thread_local_read`` property while we keep a handle on it, so the global value is
    always written through the saved descriptor, whatever the class holds at the time.
    """

    __slots__ = tuple(_FLAGS)

    def __setattr__(self, name, value):
        if name in _FLAGS:
            raise AttributeError(_SET_MESSAGE.format(name=name))
        raise _unknown(name)


_SLOTS = {name: _FlagValues.__dict__[name] for name in _FLAGS}


class Config(_FlagValues):
    """Jumba's flags, as ``jax.config``.

    Read a flag as an attribute (``config.jax_enable_x64``) or with ``read``; set it
    globally with ``update``; override it in the current thread with a context manager
    (``enable_x64``, ``disable_jit``, ``config_context``).

    Flags:
        jax_enable_x64: 64-bit default types (env ``JAX_ENABLE_X64``/``JUMBA_ENABLE_X64``).
        jax_disable_jit: run jit-decorated functions eagerly, op by op.
        jumba_compile: ``"background"``, ``"eager"`` or ``"never"`` (env ``JUMBA_COMPILE``).
        jax_debug_nans: raise when an operation produces a NaN.
        jax_numpy_rank_promotion: ``"allow"``, ``"warn"`` or ``"raise"``.
        jax_default_matmul_precision: accepted for JAX compatibility, and ignored.

    Every flag's default can also come from the environment variable named as the flag in
    upper case (``JAX_DEBUG_NANS``), or with ``JUMBA_`` in place of ``JAX_``, which wins.
    """

    __slots__ = ()

    def __getattr__(self, name: str):
        # Only reached when normal lookup fails, i.e. for names that are not flags.
        if name.startswith("__"):
            raise AttributeError(name)
        raise _unknown(name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(_FLAGS))

    def __repr__(self) -> str:
        body = ", ".join(f"{name}={self.read(name)!r}" for name in _FLAGS)
        return f"Config({body})"

    @property
    def flag_names(self) -> tuple[str, ...]:
        """The names of all flags."""
        return tuple(_FLAGS)

    def read(self, name: str) -> Any:
        """The value of flag ``name`` in the current thread."""
        if name not in _FLAGS:
            raise _unknown(name)
        return getattr(flags, name)

    def update(self, name: str, value: Any) -> None:
        """Set the global value of flag ``name`` (seen by threads that do not override it).

        Raises:
            AttributeError: ``name`` is not a flag.
            TypeError, ValueError: ``value`` is not valid for the flag.
        """
        flag = _FLAGS.get(name)
        if flag is None:
            raise _unknown(name)
        value = flag.validate(name, value)
        with _lock:
            _store(name, value)
            if flag.traced:
                _refresh_trace_context()
        _notify(values=(name,))

    def values(self) -> dict[str, Any]:
        """A dict of every flag's value in the current thread."""
        return {name: getattr(flags, name) for name in _FLAGS}

    def trace_context(self) -> tuple:
        """A hashable tuple of the flags that change what tracing produces, for jit cache keys.

        Currently ``(jax_enable_x64, jax_numpy_rank_promotion, jax_default_matmul_precision)``.
        """
        return trace_context()

    # JAX spelling, kept for code written against older JAX.
    @property
    def x64_enabled(self) -> bool:
        return flags.jax_enable_x64


flags = _FlagValues()
config = Config()
_trace_context: tuple = ()


def _store(name: str, value: Any) -> None:
    # Through the saved slot descriptors: the class may hold a thread-local reader just now.
    _global[name] = value
    _SLOTS[name].__set__(flags, value)
    _SLOTS[name].__set__(config, value)


def trace_context() -> tuple:
    """``config.trace_context()`` without the method lookup, for the jit call path."""
    if _n_overrides == 0:
        return _trace_context
    f = flags
    return (f.jax_enable_x64, f.jax_numpy_rank_promotion, f.jax_default_matmul_precision)


def _refresh_trace_context() -> None:
    global _trace_context
    _trace_context = tuple(_global[name] for name in _TRACED)


for _name, _flag in _FLAGS.items():
    _store(_name, _initial_value(_flag, os.environ))
_refresh_trace_context()
del _name, _flag


# ---------------------------------------------------------------------------------------
# Context managers


# Callbacks run after a flag's global value or its overrides change (e.g. the NaN checks
# install themselves only while jax_debug_nans may be on).
_watchers: dict[str, list] = {}


def watch(name: str, callback) -> None:
    """Call `callback()` now and whenever flag `name` is updated or overridden."""
    _watchers.setdefault(name, []).append(callback)
    callback()


def may_be_set(name: str) -> bool:
    """Whether flag `name` may be truthy in some thread (global value or an override)."""
    return bool(_global[name]) or _override_counts.get(name, 0) > 0


def _notify(values) -> None:
    for name in values:
        for callback in _watchers.get(name, ()):
            callback()


def _push(overrides: dict[str, Any], values: dict[str, Any]) -> list[tuple[str, Any]]:
    global _n_overrides
    saved = [(name, overrides.get(name, _MISSING)) for name in values]
    overrides.update(values)
    with _lock:
        for name in values:
            count = _override_counts.get(name, 0)
            if count == 0:
                setattr(_FlagValues, name, _thread_local_read(name))
            _override_counts[name] = count + 1
            _n_overrides += 1
    return saved


def _pop(overrides: dict[str, Any], saved: list[tuple[str, Any]]) -> None:
    global _n_overrides
    for name, previous in reversed(saved):
        if previous is _MISSING:
            overrides.pop(name, None)
        else:
            overrides[name] = previous
    with _lock:
        for name, _ in saved:
            count = _override_counts[name] - 1
            _override_counts[name] = count
            _n_overrides -= 1
            if count == 0:
                setattr(_FlagValues, name, _SLOTS[name])


class config_context(contextlib.ContextDecorator):  # noqa: N801 (JAX's name)
    """Override flags in the current thread for the duration of a ``with`` block.

    Other threads keep seeing the global values (or their own overrides). Also usable as a
    decorator. Values are validated when the context is created.

    Args:
        **values: flag names and the values they take inside the block.

    Examples:
        >>> from jumba._src.config import config, config_context
        >>> with config_context(jax_numpy_rank_promotion="raise"):
        ...     config.jax_numpy_rank_promotion
        'raise'
    """

    def __init__(self, **values: Any):
        checked = {}
        for name, value in values.items():
            flag = _FLAGS.get(name)
            if flag is None:
                raise _unknown(name)
            checked[name] = flag.validate(name, value)
        self._values = checked
        self._saved: list[tuple[dict[str, Any], list[tuple[str, Any]]]] = []

    def _recreate_cm(self):
        # Each decorated call gets its own context, so concurrent calls do not share state.
        fresh = object.__new__(type(self))
        fresh._values = self._values
        fresh._saved = []
        return fresh

    def __enter__(self):
        overrides = _tls.values
        self._saved.append((overrides, _push(overrides, self._values)))
        _notify(self._values)
        return self

    def __exit__(self, *exc_info):
        overrides, saved = self._saved.pop()
        _pop(overrides, saved)
        _notify(self._values)
        return False

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"config_context({body})"


def enable_x64(new_val: bool = True) -> config_context:
    """Turn 64-bit types on (or off, with ``new_val=False``) in the current thread.

    Examples:
        >>> from jumba._src.config import config, enable_x64
        >>> with enable_x64():
        ...     config.jax_enable_x64
        True
    """
    return config_context(jax_enable_x64=new_val)


def disable_jit(disable: bool = True) -> config_context:
    """Run ``jit``-decorated functions op by op in the current thread, for debugging.

    Examples:
        >>> from jumba._src.config import config, disable_jit
        >>> with disable_jit():
        ...     config.jax_disable_jit
        True
    """
    return config_context(jax_disable_jit=disable)


def debug_nans(new_val: bool = True) -> config_context:
    """Raise on NaN results in the current thread (``jax.debug_nans``)."""
    return config_context(jax_debug_nans=new_val)


def numpy_rank_promotion(new_val: str) -> config_context:
    """Set ``jax_numpy_rank_promotion`` in the current thread (``jax.numpy_rank_promotion``)."""
    return config_context(jax_numpy_rank_promotion=new_val)


def default_matmul_precision(new_val: str | None) -> config_context:
    """Set ``jax_default_matmul_precision`` in the current thread (accepted and ignored)."""
    return config_context(jax_default_matmul_precision=new_val)
