"""`hk.Module`: automatic name scoping of parameters, as Haiku does it.

A module's name is fixed when it is constructed: the snake-case class name (or `name=`),
made unique within the method call that creates it (``linear``, ``linear_1``), and
prefixed by its parent: ``parent/child`` when made in ``__call__``, ``parent/~/child`` in
``__init__``, ``parent/~method/child`` in any other method. Every method call opens a new
naming scope, so a module called twice reuses the submodules it made the first time.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import inspect
import re
from typing import Any, NamedTuple, Protocol, runtime_checkable

from jumba_nn.haiku import _base

_FORCE_PREFIX = "FORCE:"
_TRANSPARENT = "_hk_transparent"
_NAME_LIKE = "_hk_name_like"


class MethodContext(NamedTuple):
    """What a method interceptor is told about the call it intercepts."""

    module: Any
    method_name: str
    orig_method: Any
    orig_class: type


@contextlib.contextmanager
def intercept_methods(interceptor):
    """Within the block, every module method call goes through
    ``interceptor(next_f, args, kwargs, context)``."""
    _base._frames()
    _base._local.interceptors.append(interceptor)
    try:
        yield
    finally:
        _base._local.interceptors.pop()


def _snake_case(name: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    s = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", s)
    return s.lower()


def _split_number(name: str):
    m = re.fullmatch(r"(.*)_(\d+)", name)
    return (m.group(1), int(m.group(2))) if m else (name, None)


def _unique_name(frame, name: str, parent_index: int) -> str:
    """The full unique name of a module built while ``module_stack[parent_index]`` (or the
    top level, -1) is running a method."""
    if name.startswith(_FORCE_PREFIX):
        return name[len(_FORCE_PREFIX):]
    if parent_index >= 0:
        parent = frame.module_stack[parent_index]
        method = getattr(getattr(type(parent.module), parent.method_name, None), _NAME_LIKE,
                         parent.method_name)
        if method == "__init__":
            name = "~/" + name
        elif method != "__call__":
            name = f"~{method}/" + name
        name = f"{parent.module.module_name}/{name}"
    # Scopes line up with the module stack (scope 0 is the top level).
    used, counter = frame.name_scopes[parent_index + 1]
    base, n = _split_number(name)
    if n is None:
        n = counter[base]
        full = f"{base}_{n}" if n else base
    else:
        full = name
    if full in used:
        raise ValueError(f"hk.Module: module name '{full}' is not unique within this call. "
                         f"Fix: give the modules distinct `name=` arguments.")
    used.add(full)
    counter[base] = max(counter[base], (n or 0) + 1)
    return full


def _name_snapshot(frame):
    """A copy of the innermost naming scope (to name a re-traced body as its first run)."""
    used, counter = frame.name_scopes[-1]
    return set(used), collections.Counter(counter)


def _name_restore(frame, snapshot):
    used, counter = frame.name_scopes[-1]
    used.clear()
    used.update(snapshot[0])
    counter.clear()
    counter.update(snapshot[1])


def _wrap(method_name, fn):
    if getattr(fn, _TRANSPARENT, False):
        return fn

    @functools.wraps(fn)
    def wrapped(self, *args, **kwargs):
        frame = _base.current_frame(f"Module ({type(self).__name__}.{method_name})")
        top = frame.module_stack[-1] if frame.module_stack else None
        if top is not None and top.module is self and top.method_name == method_name:
            return fn(self, *args, **kwargs)  # a super() call: same scope
        frame.module_stack.append(_base._ModuleCall(self, method_name))
        frame.name_scopes.append((set(), collections.Counter()))
        try:
            call = functools.partial(fn, self)
            interceptors = list(_base._local.interceptors)
            if interceptors and method_name != "__init__":
                ctx = MethodContext(self, method_name, functools.partial(fn, self), type(self))

                def run(i, a, k):
                    if i < 0:
                        return call(*a, **k)
                    return interceptors[i](lambda *a2, **k2: run(i - 1, a2, k2), a, k, ctx)

                return run(len(interceptors) - 1, args, kwargs)
            return call(*args, **kwargs)
        finally:
            frame.module_stack.pop()
            frame.name_scopes.pop()

    return wrapped


class Module:
    """Base class of Haiku-style modules.

    Subclasses create parameters with `hk.get_parameter` inside their methods; the
    parameters are stored under the module's unique `module_name`. Modules must be built
    inside a transformed function.

    Examples:
        >>> class Scale(Module):
        ...     def __call__(self, x):
        ...         return x * get_parameter("s", [], init=jnp.ones)
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for attr, value in list(vars(cls).items()):
            if isinstance(value, property) and value.fget is not None:
                # Properties read parameters/state too: they run in the module's scope.
                setattr(cls, attr, property(_wrap(attr, value.fget), value.fset, value.fdel,
                                            value.__doc__))
                continue
            if not inspect.isfunction(value):
                continue
            if attr in ("__call__", "__init__") or not attr.startswith("__"):
                setattr(cls, attr, _wrap(attr, value))

    def __init__(self, name: str | None = None):
        frame = _base.current_frame("Module")
        if name is None:
            name = _snake_case(type(self).__name__)
        check = name[len(_FORCE_PREFIX):] if name.startswith(_FORCE_PREFIX) else name
        if not re.fullmatch(r"[A-Za-z_~][\w~/]*", check):
            raise ValueError(f"hk.Module: '{name}' is not a valid module name (letters, "
                             f"digits and underscores, not starting with a digit).")
        # A subclass's (wrapped) __init__ puts us on the stack while we are constructed;
        # the naming parent is the entry below us (or the top entry if we are not on it).
        stack = frame.module_stack
        top = len(stack) - 1
        while top >= 0 and stack[top].module is self:
            top -= 1
        self.module_name = _unique_name(frame, name, top)
        self.name = self.module_name.rsplit("/", 1)[-1]

    def params_dict(self) -> dict:
        """This module's parameters (and its submodules'), by full name."""
        frame = _base.current_frame("Module.params_dict")
        return {f"{m}/{n}": v for m, d in frame.params.items() for n, v in d.items()
                if m == self.module_name or m.startswith(self.module_name + "/")}

    def state_dict(self) -> dict:
        """This module's state (and its submodules'), by full name."""
        frame = _base.current_frame("Module.state_dict")
        return {f"{m}/{n}": p.current for m, d in frame.state.items() for n, p in d.items()
                if m == self.module_name or m.startswith(self.module_name + "/")}

    def __repr__(self):
        return f"{type(self).__name__}(name={getattr(self, 'module_name', None)!r})"


def transparent(method):
    """Decorates a module method so that it does not open a naming scope of its own."""
    setattr(method, _TRANSPARENT, True)
    return method


def name_like(method_name: str):
    """Decorates a method so that submodules made in it are named as if made in
    `method_name` (e.g. share ``__call__``'s submodules)."""

    def decorator(fn):
        setattr(fn, _NAME_LIKE, method_name)
        return fn

    return decorator


def force_name(name: str) -> str:
    """A module name used verbatim, ignoring where the module is made (to share weights)."""
    return _FORCE_PREFIX + name


class _NameScope(Module):
    def __call__(self):  # noqa: D102
        pass


@contextlib.contextmanager
def name_scope(name: str):
    """Parameters created in the block are named as if inside a module called `name`."""
    frame = _base.current_frame("name_scope")
    mods = []
    for part in name.split("/"):
        scope = _NameScope(name=part)
        frame.module_stack.append(_base._ModuleCall(scope, "__call__"))
        frame.name_scopes.append((set(), collections.Counter()))
        mods.append(scope)
    try:
        yield
    finally:
        for _ in mods:
            frame.module_stack.pop()
            frame.name_scopes.pop()


def current_name() -> str:
    """The name of the module (or name scope) in whose method we are, or "~" at top level."""
    return _base._bundle_name(_base.current_frame("current_name"))


def to_module(f):
    """Makes a Module class out of a function: ``Mod = hk.to_module(f); Mod(name="m")(x)``."""

    class ToModuleWrapper(Module):
        def __init__(self, name=None):
            super().__init__(name=name or getattr(f, "__name__", "to_module_wrapper"))

        def __call__(self, *args, **kwargs):
            return f(*args, **kwargs)

    ToModuleWrapper.__name__ = ToModuleWrapper.__qualname__ = getattr(f, "__name__", "Module")
    return ToModuleWrapper


class Deferred:
    """Builds a module on first use (so it is named where it is first called)."""

    def __init__(self, factory, call_methods=("__call__",)):
        self._factory, self._target = factory, None
        self._call_methods = set(call_methods)

    @property
    def target(self):
        if self._target is None:
            self._target = self._factory()
            self._factory = None
        return self._target

    def __call__(self, *args, **kwargs):
        return self.target(*args, **kwargs)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.target, name)


@runtime_checkable
class ModuleProtocol(Protocol):
    """The part of the Module interface that code should rely on."""

    module_name: str

    def params_dict(self) -> dict: ...


@runtime_checkable
class SupportsCall(ModuleProtocol, Protocol):
    """A module that can be called."""

    def __call__(self, *args, **kwargs): ...
