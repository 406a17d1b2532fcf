"""Flax-linen Modules: dataclasses that are bound to variables by ``init`` and ``apply``.

A Module holds hyperparameters only. ``init``/``apply`` clone the root module and attach a
``_Frame`` (the variables, rng streams and mutability of one call); submodules find the frame
through their parent chain, and their path (``("Dense_0", "kernel")`` ...) locates their
variables inside each collection. Submodules are named as Flax names them: attribute names in
``setup()``, ``ClassName_<n>`` in ``@compact`` methods, field names for modules passed in as
attributes.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jumba.numpy as jnp
import jumba.random as jr

# -------------------------------------------------------------------------------- errors


class ScopeParamNotFoundError(KeyError):
    """A parameter was read in apply but is missing from the variables."""

    def __str__(self):
        return str(self.args[0])


class ScopeVariableNotFoundError(ScopeParamNotFoundError):
    """A variable was read in apply but is missing from the variables."""


class ScopeParamShapeError(ValueError):
    """A parameter's stored shape differs from the shape the module asks for."""


class ModifyScopeVariableError(ValueError):
    """A variable of an immutable collection was assigned."""


class InvalidRngError(ValueError):
    """A module asked for an rng stream that was not provided."""


class NameInUseError(ValueError):
    """Two submodules of one module were given the same name."""


class SetAttributeFrozenModuleError(AttributeError):
    """An attribute was assigned outside ``setup``."""


class UnboundModuleError(RuntimeError):
    """Variables were used on a module that is not bound by init/apply/bind."""


# ------------------------------------------------------------------------- small helpers


class _Unspecified:
    def __repr__(self):
        return "_unspecified_parent"


_UNSPECIFIED = _Unspecified()


class DenyList:
    """Marks every collection except ``deny`` as mutable: ``mutable=INIT_MUTABLE``."""

    def __init__(self, deny: str | Iterable[str]):
        self.deny = {deny} if isinstance(deny, str) else set(deny)

    def __repr__(self):
        return f"DenyList({sorted(self.deny)})"


INIT_MUTABLE = DenyList("intermediates")
"""init's default: every collection but "intermediates" may be created."""


def _mutable_predicate(mutable) -> Callable[[str], bool]:
    if mutable is True:
        return lambda c: True
    if mutable is False or mutable is None:
        return lambda c: False
    if isinstance(mutable, str):
        return lambda c: c == mutable
    if isinstance(mutable, DenyList):
        return lambda c: c not in mutable.deny
    if callable(mutable):
        return mutable
    allowed = set(mutable)
    return lambda c: c in allowed


def _copy_dicts(tree):
    """Copies nested mappings into plain dicts (leaves shared): a call never mutates its input."""
    if isinstance(tree, Mapping):
        return {k: _copy_dicts(v) for k, v in tree.items()}
    return tree


def _canon_rngs(rngs) -> dict:
    if rngs is None:
        return {}
    if isinstance(rngs, Mapping):
        return dict(rngs)
    return {"params": rngs}


class _Context(threading.local):
    def __init__(self):
        self.module_stack: list = [None]


_context = _Context()


class _Frame:
    """The variables, rng streams and mutability of one init/apply call."""

    def __init__(self, variables, rngs, mutable, initializing: bool,
                 capture_intermediates=False):
        self.variables = _copy_dicts(dict(variables))
        self.rngs = _canon_rngs(rngs)
        self.rng_counters: dict = {}
        self.is_mutable = _mutable_predicate(mutable)
        self.initializing = initializing
        self.capture = capture_intermediates
        self.call_log: list | None = None
        self.log_prefix: tuple = ()

    def subtree(self, col: str, path: tuple, create: bool = False):
        node = self.variables.get(col)
        if node is None:
            if not create:
                return None
            node = self.variables[col] = {}
        for p in path:
            nxt = node.get(p)
            if nxt is None:
                if not create:
                    return None
                nxt = node[p] = {}
            node = nxt
        return node

    def set_subtree(self, col: str, path: tuple, value):
        if not path:
            self.variables[col] = value
            return
        self.subtree(col, path[:-1], create=True)[path[-1]] = value

    def collect(self) -> dict:
        return {c: v for c, v in self.variables.items() if self.is_mutable(c)}


def _path_str(path: tuple) -> str:
    return "/" + "/".join(path)


# ------------------------------------------------------------------------------ decorators


def compact(fun: Callable) -> Callable:
    """Marks a method that defines submodules and parameters inline (Flax's ``@nn.compact``)."""
    fun.compact = True
    return fun


def nowrap(fun: Callable) -> Callable:
    """Marks a method that runs without module bookkeeping (no setup, no naming scope)."""
    fun.nowrap = True
    return fun


_NOT_WRAPPED = {"setup", "init", "init_with_output", "apply", "bind", "unbind", "clone",
                "param", "variable", "make_rng", "sow", "perturb", "tabulate",
                "is_initializing", "is_mutable_collection", "has_rng", "has_variable",
                "put_variable", "get_variable"}


def _wrap_method(fun: Callable, name: str) -> Callable:
    @functools.wraps(fun)
    def wrapped(self, *args, **kwargs):
        if self._frame is None:
            if getattr(fun, "compact", False):
                raise UnboundModuleError(
                    f"{type(self).__name__}.{name} was called on an unbound module. Run it "
                    f"through init/apply, e.g. `variables = model.init(key, x)` then "
                    f"`model.apply(variables, x)`, or bind it: `model.bind(variables)`.")
            return fun(self, *args, **kwargs)
        return self._call_wrapped(fun, name, args, kwargs)

    wrapped.__wrapped_module_method__ = True
    return wrapped


# ---------------------------------------------------------------------------------- Module


class _ModuleState:
    __slots__ = ("in_setup", "setup_called", "compact_depth", "cursor", "compact_names",
                 "children", "root_frame", "sources")

    def __init__(self):
        self.in_setup = False
        self.setup_called = False
        self.compact_depth = 0
        self.cursor: dict[str, int] = {}
        self.compact_names: set[str] = set()
        self.children: dict[str, Module] = {}
        self.root_frame: _Frame | None = None
        self.sources: dict[str, Any] = {}


@dataclasses.dataclass(eq=False, repr=False)
class Module:
    """Base class of linen modules: a dataclass of hyperparameters.

    Define ``setup()`` (submodules and parameters as attributes) or one ``@compact`` method
    (defined inline), then ``variables = model.init(key, x)`` and ``model.apply(variables, x)``.

    Examples:
      >>> import jumba.numpy as jnp, jumba.random as jr, jumba_nn as nn
      >>> class MLP(nn.Module):
      ...     hidden: int
      ...     @nn.compact
      ...     def __call__(self, x):
      ...         return nn.Dense(1)(nn.relu(nn.Dense(self.hidden)(x)))
      >>> variables = MLP(8).init(jr.key(0), jnp.ones((2, 3)))
      >>> MLP(8).apply(variables, jnp.ones((2, 3))).shape
      (2, 1)
    """

    parent: Any = dataclasses.field(default=_UNSPECIFIED, kw_only=True, repr=False)
    name: str | None = dataclasses.field(default=None, kw_only=True)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        fields = cls.__dict__.get("__annotations__", {})
        for attr, value in list(cls.__dict__.items()):
            if (inspect.isfunction(value) and attr not in fields
                    and (not attr.startswith("_") or attr == "__call__")
                    and attr not in _NOT_WRAPPED and not getattr(value, "nowrap", False)
                    and not getattr(value, "__wrapped_module_method__", False)):
                setattr(cls, attr, _wrap_method(value, attr))
        dataclasses.dataclass(cls, eq=False, repr=False)

    # ---- construction, naming and binding

    def __post_init__(self):
        object.__setattr__(self, "_state", _ModuleState())
        parent = self.parent
        if parent is _UNSPECIFIED:
            parent = _context.module_stack[-1]
            object.__setattr__(self, "parent", parent)
        for f in dataclasses.fields(self):
            if f.name in ("parent", "name"):
                continue
            value = getattr(self, f.name)
            adopted = self._adopt(f.name, value)
            if adopted is not value:
                self._state.sources[f.name] = value
                object.__setattr__(self, f.name, adopted)
        if isinstance(parent, Module):
            pstate = parent._state
            if self.name is None and pstate.in_setup:
                return          # named when assigned to an attribute of the parent
            if self.name is None and pstate.compact_depth == 0:
                raise AssignSubModuleError(
                    f"{type(self).__name__} was created inside {type(parent).__name__} outside "
                    "setup() and @compact methods; define submodules in setup() or in a method "
                    "decorated with @nn.compact.")
            parent._register_child(self)

    def _register_child(self, child: Module):
        st = self._state
        name = child.name
        if name is None:
            cls_name = type(child).__name__
            n = st.cursor.get(cls_name, 0)
            while f"{cls_name}_{n}" in st.compact_names:
                n += 1
            name = f"{cls_name}_{n}"
            st.cursor[cls_name] = n + 1
            object.__setattr__(child, "name", name)
        elif st.compact_depth and name in st.compact_names:
            raise NameInUseError(
                f'Duplicate use of the name "{name}" for submodules of {type(self).__name__} '
                f"at {_path_str(self._path)}; give each submodule a unique name.")
        if st.compact_depth:
            st.compact_names.add(name)
        st.children[name] = child

    def _adopt(self, name: str, value):
        """Names modules held by an attribute (``name``, ``name_0``, ``name_key``) as children."""
        if isinstance(value, Module):
            if value.parent is None:
                value = value.clone(parent=self, name=name)
                return value
            if value.name is None:
                object.__setattr__(value, "parent", self)
                object.__setattr__(value, "name", name)
                self._state.children[name] = value
            return value
        if isinstance(value, list | tuple) and any(isinstance(v, Module) for v in value):
            out = [self._adopt(f"{name}_{i}", v) for i, v in enumerate(value)]
            return type(value)(out) if isinstance(value, list) else tuple(out)
        if isinstance(value, dict) and any(isinstance(v, Module) for v in value.values()):
            return {k: self._adopt(f"{name}_{k}", v) for k, v in value.items()}
        return value

    @property
    def _frame(self) -> _Frame | None:
        st = self.__dict__.get("_state")
        if st is None:
            return None
        if st.root_frame is not None:
            return st.root_frame
        parent = self.parent
        if isinstance(parent, Module) and self.name is not None:
            return parent._frame
        return None

    @property
    def _path(self) -> tuple:
        st = self._state
        if st.root_frame is not None:
            return ()
        return self.parent._path + (self.name,)

    @property
    def path(self) -> tuple:
        """The names from the root module to this one."""
        return self._path

    def __setattr__(self, name, value):
        st = self.__dict__.get("_state")
        if st is None:
            object.__setattr__(self, name, value)
            return
        if not st.in_setup:
            raise SetAttributeFrozenModuleError(
                f"Can't set {name}={value!r} on {type(self).__name__}: a Module is frozen "
                "outside setup(). Pass hyperparameters to the constructor or use "
                "`module.clone(**updates)`.")
        object.__setattr__(self, name, self._adopt(name, value))

    def __getattr__(self, name):
        st = self.__dict__.get("_state")
        if st is not None and not name.startswith("__") and not st.setup_called:
            if self._frame is not None:
                _context.module_stack.append(self)
                try:
                    self._try_setup()
                finally:
                    _context.module_stack.pop()
                if name in self.__dict__:
                    return self.__dict__[name]
            else:
                raise AttributeError(
                    f"{type(self).__name__!r} object has no attribute {name!r}; attributes "
                    "defined in setup() exist only on bound modules (inside init/apply, or "
                    "after `model.bind(variables)`).")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self):
        fields = [f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self)
                  if f.name not in ("parent", "name") and f.repr]
        if self.name is not None:
            fields.append(f"name={self.name!r}")
        return f"{type(self).__name__}({', '.join(fields)})"

    def _try_setup(self):
        st = self._state
        if st.setup_called:
            return
        st.setup_called = True
        st.in_setup = True
        try:
            self.setup()
        finally:
            st.in_setup = False

    def setup(self) -> None:
        """Override to define submodules and parameters as attributes (runs lazily, once)."""

    def _call_wrapped(self, fun, name, args, kwargs):
        st = self._state
        is_compact = getattr(fun, "compact", False)
        _context.module_stack.append(self)
        frame = self._frame
        entry = None
        try:
            self._try_setup()
            if is_compact:
                if st.compact_depth == 0:
                    st.cursor = {}
                    st.compact_names = set()
                st.compact_depth += 1
            if frame.call_log is not None:
                entry = [frame.log_prefix + self._path, type(self).__name__, name, args, kwargs,
                         None]
                frame.call_log.append(entry)
            if _misc.has_interceptors():
                out = _misc.run_intercepted(self, fun, name, args, kwargs)
            else:
                out = fun(self, *args, **kwargs)
            if entry is not None:
                entry[5] = out
            if name == "__call__" and frame.capture:
                cap = frame.capture
                if cap is True or cap(self, name):
                    self.sow("intermediates", "__call__", out)
            return out
        finally:
            if is_compact:
                st.compact_depth -= 1
            _context.module_stack.pop()

    def clone(self, *, parent=None, **updates) -> Module:
        """A copy of the module with some fields replaced (unbound unless ``parent`` binds it)."""
        kwargs = {}
        for f in dataclasses.fields(self):
            if f.init and f.name not in ("parent",):
                kwargs[f.name] = self._state.sources.get(f.name, getattr(self, f.name))
        kwargs.update(updates)
        return type(self)(parent=parent, **kwargs)

    # ---- variables

    def _require_frame(self, what: str) -> _Frame:
        frame = self._frame
        if frame is None:
            raise UnboundModuleError(
                f"{type(self).__name__}.{what}() needs a bound module: call it inside init/"
                "apply (or on `model.bind(variables)`), not on a module built outside them.")
        return frame

    def param(self, name: str, init_fn: Callable, *init_args, unbox: bool = True,
              **init_kwargs):
        """Declares (in init) or reads (in apply) the parameter ``name`` in "params".

        Args:
          name: the parameter's name inside this module.
          init_fn: ``init_fn(rng, *init_args, **init_kwargs)`` creates the value.
          *init_args: usually the shape, then the dtype.
          unbox: accepted for Flax compatibility (no metadata boxes here).

        Returns:
          The parameter value.
        """
        frame = self._require_frame("param")
        node = frame.subtree("params", self._path)
        if node is not None and name in node:
            value = node[name]
            if init_args and isinstance(init_args[0], tuple | list) and hasattr(value, "shape"):
                want = tuple(init_args[0])
                if all(isinstance(d, int) for d in want) and tuple(value.shape) != want:
                    raise ScopeParamShapeError(
                        f'Initializer expected to generate shape {want} but got shape '
                        f'{tuple(value.shape)} instead for parameter "{name}" in '
                        f'"{_path_str(self._path)}". The variables do not match this module: '
                        "were they created by init of the same model?")
            return value
        if not frame.is_mutable("params"):
            hint = ""
            if "params" not in frame.variables:
                hint = (f" The variables have no 'params' collection (their keys are "
                        f"{sorted(frame.variables)}): did you pass the params alone? Use "
                        "`model.apply({'params': params}, x)`.")
            raise ScopeParamNotFoundError(
                f'Could not find parameter named "{name}" in scope '
                f'"{_path_str(self._path)}". Pass the variables returned by init, e.g. '
                f"`model.apply(variables, x)` with variables = model.init(key, x), where the "
                f"module structure is the same.{hint}")
        value = init_fn(self.make_rng("params"), *init_args, **init_kwargs)
        frame.subtree("params", self._path, create=True)[name] = value
        return value

    def variable(self, col: str, name: str, init_fn: Callable | None = None, *init_args,
                 unbox: bool = True, **init_kwargs) -> Variable:
        """Declares or reads the variable ``name`` of collection ``col`` (e.g. "batch_stats").

        Args:
          col: the collection.
          name: the variable's name inside this module.
          init_fn: ``init_fn(*init_args, **init_kwargs)`` creates the value (no rng: call
            ``self.make_rng`` yourself if you need one).

        Returns:
          A ``Variable``; read and write its ``.value``.
        """
        frame = self._require_frame("variable")
        node = frame.subtree(col, self._path)
        if node is None or name not in node:
            if not frame.is_mutable(col):
                raise ScopeVariableNotFoundError(
                    f'No variable named "{name}" in collection "{col}" at '
                    f'"{_path_str(self._path)}". Pass that collection to apply (e.g. '
                    f'`model.apply({{"params": ..., "{col}": ...}}, x)`, the dict init '
                    "returned), or make it mutable so it can be created.")
            if init_fn is None:
                raise ScopeVariableNotFoundError(
                    f'Variable "{name}" in collection "{col}" does not exist and no init_fn '
                    "was given to create it.")
            frame.subtree(col, self._path, create=True)[name] = init_fn(*init_args,
                                                                         **init_kwargs)
        return Variable(self, col, name)

    def has_variable(self, col: str, name: str) -> bool:
        """Whether variable ``name`` of ``col`` exists for this module."""
        node = self._require_frame("has_variable").subtree(col, self._path)
        return node is not None and name in node

    def get_variable(self, col: str, name: str, default=None):
        """The value of a variable, or ``default``."""
        node = self._require_frame("get_variable").subtree(col, self._path)
        return default if node is None else node.get(name, default)

    def put_variable(self, col: str, name: str, value) -> None:
        """Sets a variable of a mutable collection."""
        frame = self._require_frame("put_variable")
        if not frame.is_mutable(col):
            raise ModifyScopeVariableError(_immutable_message(col, name, self._path))
        frame.subtree(col, self._path, create=True)[name] = value

    def is_mutable_collection(self, col: str) -> bool:
        """Whether ``col`` may be written in the current call."""
        return self._require_frame("is_mutable_collection").is_mutable(col)

    def is_initializing(self) -> bool:
        """True inside ``init``/``init_with_output``."""
        frame = self._frame
        return bool(frame is not None and frame.initializing)

    def has_rng(self, name: str) -> bool:
        """Whether the rng stream ``name`` was provided."""
        frame = self._frame
        return frame is not None and name in frame.rngs

    def make_rng(self, name: str = "params"):
        """A fresh key from stream ``name``, distinct per module path and per call.

        Falls back to the "params" stream when ``name`` was not provided (as Flax does).
        """
        frame = self._require_frame("make_rng")
        stream = name if name in frame.rngs else "params"
        if stream not in frame.rngs:
            raise InvalidRngError(
                f'{type(self).__name__} at "{_path_str(self._path)}" needs an rng for the '
                f'"{name}" stream, which was not provided. Pass it, e.g. '
                f'`model.apply(variables, x, rngs={{"{name}": jr.key(1)}})`, or make the layer '
                "deterministic.")
        key = (stream, self._path)
        count = frame.rng_counters.get(key, 0)
        frame.rng_counters[key] = count + 1
        salt = zlib.crc32(("/".join(self._path) + "#" + name).encode()) & 0x7FFFFFFF
        return jr.fold_in(jr.fold_in(frame.rngs[stream], salt), count)

    def sow(self, col: str, name: str, value, reduce_fn: Callable = lambda xs, x: xs + (x,),
            init_fn: Callable = lambda: ()) -> bool:
        """Stores an intermediate value in ``col`` if that collection is mutable.

        By default values accumulate in a tuple. Returns whether the value was stored.
        """
        frame = self._require_frame("sow")
        if not frame.is_mutable(col):
            return False
        node = frame.subtree(col, self._path, create=True)
        node[name] = reduce_fn(node[name] if name in node else init_fn(), value)
        return True

    def perturb(self, name: str, value, collection: str = "perturbations"):
        """Adds a zero-valued variable to ``value``; its gradient is the gradient w.r.t. value."""
        frame = self._require_frame("perturb")
        if frame.is_mutable(collection) and not self.has_variable(collection, name):
            frame.subtree(collection, self._path, create=True)[name] = jnp.zeros_like(value)
        if self.has_variable(collection, name):
            value = value + self.get_variable(collection, name)
        return value

    @property
    def variables(self) -> dict:
        """This module's variables, collection by collection."""
        frame = self._require_frame("variables")
        out = {}
        for col in frame.variables:
            node = frame.subtree(col, self._path)
            if node is not None:
                out[col] = node
        return out

    # ---- entry points

    def _bound_root(self, frame: _Frame) -> Module:
        root = self.clone(parent=None)
        root._state.root_frame = frame
        return root

    def _run(self, frame: _Frame, method, args, kwargs):
        root = self._bound_root(frame)
        if method is None:
            method = "__call__"
        if isinstance(method, str):
            fn = getattr(root, method)
            return fn(*args, **kwargs)
        fn = getattr(method, "__func__", method)
        return fn(root, *args, **kwargs)

    def init_with_output(self, rngs, *args, method=None, mutable=INIT_MUTABLE,
                         capture_intermediates=False, **kwargs):
        """Runs ``method`` in initialisation mode; returns ``(output, variables)``.

        Args:
          rngs: a key (the "params" stream) or a dict of streams, e.g.
            ``{"params": k1, "dropout": k2}``.
          *args, **kwargs: passed to the method.
          method: the method to run (name, function, or bound method); default ``__call__``.
          mutable: the collections init may create; default all but "intermediates".
          capture_intermediates: store every ``__call__`` output in "intermediates".
        """
        frame = _Frame({}, rngs, mutable, True, capture_intermediates)
        out = self._run(frame, method, args, kwargs)
        return out, frame.collect()

    def init(self, rngs, *args, method=None, mutable=INIT_MUTABLE,
             capture_intermediates=False, **kwargs) -> dict:
        """Creates the variables: ``{"params": ..., "batch_stats": ..., ...}`` (plain dicts).

        See ``init_with_output`` for the arguments.
        """
        return self.init_with_output(rngs, *args, method=method, mutable=mutable,
                                     capture_intermediates=capture_intermediates, **kwargs)[1]

    def apply(self, variables, *args, rngs=None, method=None, mutable=False,
              capture_intermediates=False, **kwargs):
        """Runs ``method`` with ``variables``.

        Args:
          variables: the dict init returned: ``{"params": ..., ...}``.
          *args, **kwargs: passed to the method.
          rngs: a key or dict of rng streams (e.g. ``{"dropout": key}``).
          method: the method to run; default ``__call__``.
          mutable: collections that may change (e.g. ``["batch_stats"]``), True for all.
          capture_intermediates: store every ``__call__`` output in "intermediates"
            (needs ``mutable=["intermediates"]`` to be returned).

        Returns:
          The output, or ``(output, updated_collections)`` when ``mutable`` is not False.
        """
        _check_variables(variables)
        frame = _Frame(variables, rngs, mutable, False, capture_intermediates)
        out = self._run(frame, method, args, kwargs)
        if mutable is False:
            return out
        return out, frame.collect()

    def bind(self, variables, *args, rngs=None, mutable=False) -> Module:
        """A copy of the module bound to ``variables``, for interactive use."""
        _check_variables(variables)
        root = self._bound_root(_Frame(variables, rngs, mutable, False))
        return root

    def unbind(self) -> tuple[Module, dict]:
        """Returns ``(unbound copy, variables)`` of a bound module."""
        return self.clone(parent=None), self.variables

    def tabulate(self, rngs, *args, depth: int | None = None, **kwargs) -> str:
        """A table of the submodules called, their inputs, outputs and parameter counts."""
        from jumba_nn._src.tabulate import tabulate as _tab

        return _tab(self, rngs, depth=depth)(*args, **kwargs)


from jumba_nn._src import misc as _misc  # noqa: E402  (misc imports Module)


class AssignSubModuleError(RuntimeError):
    """A submodule was created outside setup() and @compact methods."""


def _immutable_message(col, name, path):
    return (f'Cannot update variable "{name}" in "{_path_str(path)}" because collection "{col}" '
            f'is immutable. Pass mutable=["{col}"] to apply and keep the returned update, '
            f'e.g. `y, updates = model.apply(variables, x, mutable=["{col}"])`.')


def _check_variables(variables):
    if not isinstance(variables, Mapping):
        raise TypeError(f"apply expects the variables dict returned by init "
                        f"({{'params': ...}}), got {type(variables).__name__}.")
    for col, tree in variables.items():
        if not isinstance(tree, Mapping):
            raise TypeError(
                f'variables["{col}"] is a {type(tree).__name__}, not a dict: apply expects a '
                "dict of collections like {'params': params}; did you pass the params alone? "
                "Use `model.apply({'params': params}, x)`.")


class Variable:
    """A reference to one variable of a bound module; read and write ``.value``."""

    __slots__ = ("module", "collection", "name")

    def __init__(self, module: Module, collection: str, name: str):
        self.module, self.collection, self.name = module, collection, name

    @property
    def value(self):
        return self.module.get_variable(self.collection, self.name)

    @value.setter
    def value(self, v):
        frame = self.module._frame
        if not frame.is_mutable(self.collection):
            raise ModifyScopeVariableError(
                _immutable_message(self.collection, self.name, self.module._path))
        frame.subtree(self.collection, self.module._path, create=True)[self.name] = v

    def get_value(self):
        return self.value

    def put_value(self, v):
        self.value = v

    def is_mutable(self) -> bool:
        return self.module._frame.is_mutable(self.collection)

    def __repr__(self):
        return f"Variable({self.collection}/{self.name}={self.value!r})"


def merge_param(name: str, a, b):
    """Returns whichever of a constructor value ``a`` and a call value ``b`` is given.

    Raises:
      ValueError: if both or neither are given.
    """
    if a is None and b is None:
        raise ValueError(f'Parameter "{name}" must be passed to the constructor or at call '
                         "time.")
    if a is not None and b is not None:
        raise ValueError(f'Parameter "{name}" was passed to the constructor and at call time. '
                         "Should be passed just once.")
    return a if b is None else b


def apply(fn: Callable, module: Module, mutable=False, capture_intermediates=False):
    """``apply(fn, module)(variables, *args, rngs=None)`` runs ``fn(bound_module, *args)``."""

    def wrapper(variables, *args, rngs=None, **kwargs):
        _check_variables(variables)
        frame = _Frame(variables, rngs, mutable, False, capture_intermediates)
        out = fn(module._bound_root(frame), *args, **kwargs)
        return out if mutable is False else (out, frame.collect())

    return wrapper


def init_with_output(fn: Callable, module: Module, mutable=INIT_MUTABLE,
                     capture_intermediates=False):
    """``init_with_output(fn, module)(rngs, *args)`` -> ``(fn(bound, *args), variables)``."""

    def wrapper(rngs, *args, **kwargs):
        frame = _Frame({}, rngs, mutable, True, capture_intermediates)
        out = fn(module._bound_root(frame), *args, **kwargs)
        return out, frame.collect()

    return wrapper


def init(fn: Callable, module: Module, mutable=INIT_MUTABLE,
         capture_intermediates=False):
    """``init(fn, module)(rngs, *args)`` -> the variables ``fn(bound, *args)`` creates."""
    inner = init_with_output(fn, module, mutable, capture_intermediates)
    return lambda rngs, *args, **kwargs: inner(rngs, *args, **kwargs)[1]
