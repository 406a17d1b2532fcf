"""`Module`: a frozen dataclass that is a pytree.

A subclass declares its fields as annotations. Fields are the pytree's children, except
those declared with ``field(static=True)``, which are kept in the tree structure (they must
be hashable). The machinery is deliberately small (no metaclass):

- ``__init_subclass__`` turns each subclass into a dataclass (a generated ``__init__``
  unless the class or a parent writes its own), registers it as a pytree node, wraps its
  ``__init__`` to run converters, check that every field was set and call every
  ``__check_init__``, and wraps its methods so that ``model.method`` is a pytree too.
- The instance is writable only while its ``__init__`` runs (a set of ids being
  initialised); afterwards ``__setattr__`` raises :data:`FROZEN_ERROR`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import operator
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from jumba import tree_util as jtu

__all__ = [
    "AbstractClassVar",
    "AbstractVar",
    "ASSIGN_NON_FIELD_ERROR",
    "FROZEN_ERROR",
    "MISSING_FIELD_ERROR",
    "Module",
    "StrictConfig",
    "field",
    "module_update_wrapper",
    "static_field",
]

T = TypeVar("T")

FROZEN_ERROR = """\
Cannot set attribute {name!r} of {cls}: modules are immutable once __init__ has returned.

Wrong (assigning after construction, or in a method other than __init__):
    model.{name} = new_value
    def reset(self): self.{name} = new_value

Right (build a new module with the change):
    model = eqx.tree_at(lambda m: m.{name}, model, new_value)
    # or, for modules using the generated __init__:
    model = dataclasses.replace(model, {name}=new_value)
"""

MISSING_FIELD_ERROR = """\
{cls}.__init__ returned without setting field {name!r}.

Wrong:
    class {cls}(eqx.Module):
        {name}: ...
        def __init__(self, ...):
            pass                      # {name} never assigned

Right (assign every field in __init__, or give it a default):
    class {cls}(eqx.Module):
        {name}: ...
        def __init__(self, ...):
            self.{name} = ...
"""

ASSIGN_NON_FIELD_ERROR = """\
{cls}.__init__ assigned {name!r}, which is not a field of {cls}.

Wrong:
    class {cls}(eqx.Module):
        def __init__(self):
            self.{name} = ...         # not declared

Right (declare it as an annotated field first):
    class {cls}(eqx.Module):
        {name}: Any                   # or eqx.field(static=True) for non-array metadata
        def __init__(self):
            self.{name} = ...
"""


class StrictConfig:
    """Accepted for Equinox compatibility; strict checks are not enforced here."""

    def __init__(self, **kwargs):
        self.options = kwargs


class AbstractVar(Generic[T]):
    """Annotation marking an attribute that concrete subclasses must provide
    (``x: AbstractVar[int]``); it is not a field of the abstract class."""


class AbstractClassVar(Generic[T]):
    """Annotation marking a class attribute that concrete subclasses must provide."""


def field(*, converter: Callable[[Any], Any] | None = None, static: bool = False,
          **kwargs: Any) -> Any:
    """A module field: ``dataclasses.field`` plus ``static`` and ``converter``.

    Args:
        converter: applied to the value assigned in ``__init__`` (after ``__init__``
            returns, before ``__check_init__``).
        static: keep the value in the tree structure instead of as a child (for
            hashable, non-array metadata such as sizes and activation functions).
        **kwargs: passed to ``dataclasses.field`` (``default``, ``default_factory``, ...).

    Returns:
        A ``dataclasses.Field``.

    Examples:
        >>> import jumba_pytree_models as eqx
        >>> class Scale(eqx.Module):
        ...     factor: float = eqx.field(converter=float)
        ...     name: str = eqx.field(static=True, default="scale")
        >>> Scale(2).factor
        2.0
    """
    metadata = dict(kwargs.pop("metadata", None) or {})
    if converter is not None:
        metadata["converter"] = converter
    if static:
        metadata["static"] = True
    return dataclasses.field(metadata=metadata, **kwargs)


def static_field(**kwargs: Any) -> Any:
    """Deprecated Equinox spelling of ``field(static=True, ...)``."""
    return field(static=True, **kwargs)


# --------------------------------------------------------------------------------------
# Initialisation tracking: ids of instances whose __init__ is running, with call depth
# (a subclass __init__ calling super().__init__ must not finish the instance early).

_initialising: dict[int, int] = {}
_init_lock = threading.Lock()


def _is_abstract_annotation(ann) -> bool:
    if isinstance(ann, str):
        return ann.startswith(("AbstractVar", "AbstractClassVar", "eqx.AbstractVar",
                               "eqx.AbstractClassVar"))
    origin = getattr(ann, "__origin__", None)
    return origin in (AbstractVar, AbstractClassVar) or ann in (AbstractVar, AbstractClassVar)


def _wrap_init(cls, init):
    @functools.wraps(init)
    def __init__(self, *args, **kwargs):  # noqa: N807
        key = id(self)
        with _init_lock:
            depth = _initialising.get(key, 0)
            _initialising[key] = depth + 1
        try:
            init(self, *args, **kwargs)
            if depth == 0:
                _finish_fields(self)
        finally:
            with _init_lock:
                if depth == 0:
                    _initialising.pop(key, None)
                else:
                    _initialising[key] = depth
        if depth == 0:
            for klass in type(self).__mro__:
                check = klass.__dict__.get("__check_init__")
                if check is not None:
                    check(self)

    __init__._jb_wrapped = True
    return __init__


def _finish_fields(self):
    cls = type(self)
    d = self.__dict__
    for f in cls._jb_fields:
        if f.name not in d:
            if f.default is not dataclasses.MISSING:
                value = f.default
            elif f.default_factory is not dataclasses.MISSING:
                value = f.default_factory()
            else:
                raise TypeError(MISSING_FIELD_ERROR.format(cls=cls.__name__, name=f.name))
            object.__setattr__(self, f.name, value)
        conv = f.metadata.get("converter")
        if conv is not None:
            object.__setattr__(self, f.name, conv(d[f.name]))


class _MethodWrapper:
    """A method of a Module: looked up on an instance it gives a :class:`BoundMethod`,
    a pytree (its child is the instance), so ``jit(model.method)`` traces the model."""

    __slots__ = ("method", "__dict__")

    def __init__(self, method):
        self.method = method
        functools.update_wrapper(self, method)

    def __get__(self, instance, owner=None):
        if instance is None:
            return self.method
        return BoundMethod(self.method, instance)

    def __call__(self, *args, **kwargs):  # called through the class: Cls.method(obj, ...)
        return self.method(*args, **kwargs)


class BoundMethod:
    """``module.method``: a pytree whose child is the module and whose static part is the
    function."""

    __slots__ = ("__func__", "__self__")

    def __init__(self, func, obj):
        self.__func__ = func
        self.__self__ = obj

    def __call__(self, *args, **kwargs):
        return self.__func__(self.__self__, *args, **kwargs)

    @property
    def __name__(self):
        return self.__func__.__name__

    @property
    def __wrapped__(self):
        return functools.partial(self.__func__, self.__self__)

    def __eq__(self, other):
        return (type(other) is BoundMethod and self.__func__ is other.__func__
                and self.__self__ is other.__self__)

    def __hash__(self):
        return hash((self.__func__, id(self.__self__)))

    def __repr__(self):
        return f"<bound method {type(self.__self__).__name__}.{self.__func__.__name__}>"


_METHOD_KEY = (jtu.GetAttrKey("__self__"),)
jtu.register_pytree_with_keys(
    BoundMethod,
    lambda m: (((_METHOD_KEY[0], m.__self__),), m.__func__),
    lambda func, children: BoundMethod(func, children[0]),
)


def _new_uninitialised(cls, values: dict):
    obj = object.__new__(cls)
    for k, v in values.items():
        object.__setattr__(obj, k, v)
    return obj


class Module:
    """Base class of models: subclasses are frozen dataclasses registered as pytrees.

    Declare fields as annotations. Array fields (and sub-modules, lists, dicts ...) are
    children; ``eqx.field(static=True)`` fields live in the tree structure. Write your own
    ``__init__`` (assign every field to ``self``) or use the generated one. After
    ``__init__`` the instance is immutable: use :func:`tree_at` to change it.
    ``__check_init__`` (if defined, on any class in the MRO) runs after ``__init__`` to
    validate the instance. Methods looked up on an instance are pytrees themselves, so
    ``filter_jit(model.__call__)`` traces the model's arrays.

    Examples:
        >>> import jumba.numpy as jnp
        >>> import jumba_pytree_models as eqx
        >>> class Affine(eqx.Module):
        ...     weight: jnp.ndarray
        ...     bias: jnp.ndarray
        ...     name: str = eqx.field(static=True, default="affine")
        ...     def __call__(self, x):
        ...         return self.weight * x + self.bias
        >>> m = Affine(jnp.array(2.0), jnp.array(1.0))
        >>> float(m(3.0))
        7.0
        >>> len(jtu.tree_leaves(m))
        2
    """

    def __init_subclass__(cls, strict: Any = False, **kwargs):
        super().__init_subclass__(**kwargs)
        # Abstract annotations are declarations for subclasses, not fields.
        anns = cls.__dict__.get("__annotations__", {})
        abstract = {k for k, a in anns.items() if _is_abstract_annotation(a)}
        if abstract:
            cls.__annotations__ = {k: a for k, a in anns.items() if k not in abstract}
        custom_init = "__init__" in cls.__dict__ or any(
            getattr(b, "_jb_custom_init", False) for b in cls.__mro__[1:])
        cls._jb_custom_init = custom_init
        # Methods become bound pytrees; dunders (but __call__) stay plain for speed.
        for name, value in list(cls.__dict__.items()):
            if inspect.isfunction(value) and (not name.startswith("__")
                                              or name == "__call__"):
                setattr(cls, name, _MethodWrapper(value))
        dataclasses.dataclass(cls, init=not custom_init, repr=False, eq=False)
        if "__init__" in cls.__dict__ and not getattr(cls.__init__, "_jb_wrapped", False):
            cls.__init__ = _wrap_init(cls, cls.__dict__["__init__"])
        fields = dataclasses.fields(cls)
        cls._jb_fields = fields
        data = tuple(f.name for f in fields if not f.metadata.get("static", False))
        meta = tuple(f.name for f in fields if f.metadata.get("static", False))
        keys = tuple(jtu.GetAttrKey(n) for n in data)
        get_data = _getter(data)
        get_meta = _getter(meta)

        def flatten_with_keys(node):
            return zip(keys, get_data(node)), get_meta(node)

        def unflatten(aux, children):
            obj = object.__new__(cls)
            for k, v in zip(data, children):
                object.__setattr__(obj, k, v)
            for k, v in zip(meta, aux):
                object.__setattr__(obj, k, v)
            return obj

        jtu.register_pytree_with_keys(cls, flatten_with_keys, unflatten)

    def __setattr__(self, name, value):
        if id(self) in _initialising:
            if name in type(self).__dataclass_fields__:
                object.__setattr__(self, name, value)
                return
            raise AttributeError(ASSIGN_NON_FIELD_ERROR.format(cls=type(self).__name__,
                                                               name=name))
        raise dataclasses.FrozenInstanceError(FROZEN_ERROR.format(
            cls=type(self).__name__, name=name))

    def __delattr__(self, name):
        raise dataclasses.FrozenInstanceError(FROZEN_ERROR.format(
            cls=type(self).__name__, name=name))

    def __eq__(self, other):
        from jumba_pytree_models._src.filters import tree_equal

        return tree_equal(self, other)

    def __hash__(self):
        return hash(tuple(jtu.tree_leaves(self)))

    def __repr__(self):
        from jumba_pytree_models._src.pretty import tree_pformat

        return tree_pformat(self)


def _getter(names):
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        get = operator.attrgetter(names[0])
        return lambda obj: (get(obj),)
    return operator.attrgetter(*names)


def module_update_wrapper(wrapper: Module, wrapped=None) -> Module:
    """Copy ``__name__``, ``__doc__`` and the like from the function a wrapper module
    wraps (its ``__wrapped__`` property, or ``wrapped``) onto the module, as
    ``functools.update_wrapper`` does for functions."""
    if wrapped is None:
        wrapped = wrapper.__wrapped__
    for attr in functools.WRAPPER_ASSIGNMENTS:
        try:
            value = getattr(wrapped, attr)
        except AttributeError:
            continue
        object.__setattr__(wrapper, attr, value)
    return wrapper
