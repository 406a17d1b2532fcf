"""`jit`: trace once per signature, optimise, and run the compiled program.

The cache key is (tree structure, abstract values, static arguments, tracing config).
Under an enclosing transformation (grad, vmap, an outer jit) the traced Jaxpr is
evaluated through that transformation instead of the executable, which gives the same
values with the transformation applied.
"""

from __future__ import annotations

import functools
import inspect
import threading
from typing import Any, Callable, Sequence

import numpy as np

from jumba._src import config as config_mod
from jumba._src import core, dtypes
from jumba._src.compiler import passes
from jumba._src.compiler.numpy_executor import NumpyExecutable
from jumba._src.config import config
from jumba._src.core import Array, Tracer, get_aval
from jumba._src.interpreters import partial_eval as pe
from jumba._src.tree_util import tree_flatten, tree_unflatten, keystr, tree_flatten_with_path


class _Compiled:
    """One traced and optimised program, with its executable."""

    __slots__ = ("closed", "out_tree", "out_weak", "executable", "name")

    def __init__(self, closed, out_tree, name):
        self.closed = closed
        self.out_tree = out_tree
        self.out_weak = [a.weak_type for a in closed.out_avals]
        self.executable = NumpyExecutable(closed, name)
        self.name = name

    def run(self, leaves):
        vals = [x._value if type(x) is Array else core.to_numpy(x) for x in leaves]
        outs = self.executable(vals)
        return [Array(o, w) for o, w in zip(outs, self.out_weak)]


def _signature(x):
    if type(x) is Array:
        v = x._value
        return (v.shape, v.dtype, x.weak_type)
    a = get_aval(x)
    return (a.shape, a.dtype, a.weak_type)


class Jitted:
    """A jit-compiled function (what `jumba.jit` returns)."""

    def __init__(self, fun, static_argnums, static_argnames, donate_argnums):
        functools.update_wrapper(self, fun)
        self._fun = fun
        self._name = getattr(fun, "__name__", type(fun).__name__)
        try:
            self._sig = inspect.signature(fun)
        except (TypeError, ValueError):
            self._sig = None
        self._static_argnums, self._static_argnames = _resolve_static(
            self._sig, static_argnums, static_argnames, self._name)
        self._cache: dict = {}
        self._lock = threading.Lock()

    # -- the call path ----------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        if config.jax_disable_jit:
            return self._fun(*args, **kwargs)
        dyn_args, dyn_kwargs, static_key = self._split(args, kwargs)
        leaves, in_tree = tree_flatten((dyn_args, dyn_kwargs))
        try:
            key = (in_tree, tuple([_signature(x) for x in leaves]), static_key,
                   config_mod.trace_context())
            compiled = self._cache.get(key)
        except TypeError:
            raise self._bad_argument(leaves, dyn_args, dyn_kwargs) from None
        if compiled is None:
            compiled = self._compile(key, args, kwargs, leaves, in_tree)
        if core._state.eval_only:
            outs = compiled.run(leaves)
        else:
            closed = compiled.closed
            outs = core.eval_jaxpr(closed.jaxpr, closed.consts, *leaves)
        return tree_unflatten(compiled.out_tree, outs)

    def _split(self, args, kwargs):
        if not self._static_argnums and not self._static_argnames:
            return args, kwargs, ()
        nums, names = self._static_argnums, self._static_argnames
        static = []
        dyn_args = []
        for i, a in enumerate(args):
            if i in nums:
                static.append((i, _hashable_static(a, i, self._name)))
            else:
                dyn_args.append(a)
        dyn_kwargs = {}
        for k, v in kwargs.items():
            if k in names:
                static.append((k, _hashable_static(v, k, self._name)))
            else:
                dyn_kwargs[k] = v
        return tuple(dyn_args), dyn_kwargs, tuple(static)

    def _compile(self, key, args, kwargs, leaves, in_tree):
        for x in leaves:
            if not core.is_valid_operand(x) and not hasattr(x, "__array__"):
                raise self._bad_argument(leaves, *tree_unflatten(in_tree, leaves))
        closed, out_tree = self._trace(args, kwargs, leaves, in_tree)
        with self._lock:
            compiled = self._cache.get(key)
            if compiled is None:
                compiled = _Compiled(passes.optimize(closed), out_tree, self._name)
                self._cache[key] = compiled
        return compiled

    def _trace(self, args, kwargs, leaves, in_tree):
        store = {}
        static_nums, static_names = self._static_argnums, self._static_argnames

        def flat_fun(*xs):
            dyn_args, dyn_kwargs = tree_unflatten(in_tree, xs)
            it = iter(dyn_args)
            full_args = [a if i in static_nums else next(it) for i, a in enumerate(args)]
            full_kwargs = {k: (v if k in static_names else dyn_kwargs[k])
                           for k, v in kwargs.items()}
            out = self._fun(*full_args, **full_kwargs)
            out_leaves, store["tree"] = tree_flatten(out)
            for o in out_leaves:
                if not core.is_valid_operand(o) and not hasattr(o, "__array__"):
                    raise TypeError(
                        f"jit({self._name}) returned a value of type {type(o).__name__} "
                        f"({o!r}); jitted functions must return arrays, scalars or pytrees "
                        "of them.")
            return out_leaves

        in_avals = [get_aval(x) for x in leaves]
        closed = pe.trace_to_jaxpr(flat_fun, in_avals, fun_name=self._name,
                                   arg_names=self._arg_names(args, kwargs), kind="jit")
        return closed, store["tree"]

    def _arg_names(self, args, kwargs):
        """A readable name per dynamic leaf ('x', "params['w']") for error messages."""
        names = []
        params = list(self._sig.parameters) if self._sig is not None else []
        for i, a in enumerate(args):
            if i in self._static_argnums:
                continue
            base = params[i] if i < len(params) and params[i] not in ("args",) else \
                f"args[{i}]"
            for path, _ in tree_flatten_with_path(a)[0]:
                names.append(base + keystr(path))
        for k, v in kwargs.items():
            if k in self._static_argnames:
                continue
            for path, _ in tree_flatten_with_path(v)[0]:
                names.append(k + keystr(path))
        return names

    def _bad_argument(self, leaves, dyn_args, dyn_kwargs):
        for x in leaves:
            try:
                get_aval(x)
            except TypeError:
                return TypeError(
                    f"jit({self._name}): an argument of type {type(x).__name__} ({x!r}) is not "
                    "an array. Mark it static: jit(f, static_argnums=...) or "
                    "static_argnames=....")
        return TypeError(f"jit({self._name}): arguments could not be hashed for the cache")

    # -- inspection --------------------------------------------------------------------

    def lower(self, *args, **kwargs) -> Lowered:
        dyn_args, dyn_kwargs, static_key = self._split(args, kwargs)
        leaves, in_tree = tree_flatten((dyn_args, dyn_kwargs))
        key = (in_tree, tuple([_signature(x) for x in leaves]), static_key,
               config_mod.trace_context())
        compiled = self._cache.get(key) or self._compile(key, args, kwargs, leaves, in_tree)
        return Lowered(compiled)

    def eval_shape(self, *args, **kwargs):
        from jumba._src.api import eval_shape

        return eval_shape(self._fun, *args, **kwargs)

    def clear_cache(self):
        self._cache.clear()

    def _cache_size(self) -> int:
        return len(self._cache)

    def __get__(self, obj, objtype=None):
        # Jitted functions used as methods bind `self` like plain functions.
        if obj is None:
            return self
        return functools.partial(self, obj)

    def __repr__(self):
        return f"<jitted function {self._name}>"


class Lowered:
    """A traced and optimised program: `.as_text()` shows what runs."""

    def __init__(self, compiled: _Compiled):
        self._compiled = compiled

    def as_text(self) -> str:
        c = self._compiled
        return (f"# Jaxpr (optimised)\n{c.closed}\n\n# Tier 0 (NumPy executor)\n"
                f"{c.executable.source}")

    def compile(self):
        return self

    @property
    def jaxpr(self):
        return self._compiled.closed

    def __call__(self, *args):
        leaves, _ = tree_flatten(args)
        return tree_unflatten(self._compiled.out_tree, self._compiled.run(leaves))


def _hashable_static(v, where, name):
    try:
        hash(v)
    except TypeError:
        raise ValueError(
            f"jit({name}): static argument {where!r} has unhashable type "
            f"{type(v).__name__}. Static arguments are cache keys: pass a tuple instead of a "
            "list, or a frozen dataclass.") from None
    if isinstance(v, (Array, np.ndarray, Tracer)):
        raise ValueError(f"jit({name}): static argument {where!r} is an array; arrays cannot "
                         "be static. Pass it as a regular argument.")
    return v


def _resolve_static(sig, static_argnums, static_argnames, name):
    nums = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums or ())
    names = (static_argnames,) if isinstance(static_argnames, str) else \
        tuple(static_argnames or ())
    if sig is not None:
        params = list(sig.parameters.values())
        positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY,
                                                           p.POSITIONAL_OR_KEYWORD)]
        # Each static argument may be passed by position or by name.
        for n in names:
            if n in positional:
                nums = nums + (positional.index(n),)
        for i in nums:
            if 0 <= i < len(positional):
                names = names + (positional[i],)
        nums = tuple(i % len(positional) if i < 0 and positional else i for i in nums)
    return frozenset(nums), frozenset(names)


def jit(fun: Callable | None = None, *, static_argnums: int | Sequence[int] = (),
        static_argnames: str | Sequence[str] = (), donate_argnums=(), donate_argnames=(),
        inline: bool = False, keep_unused: bool = False, device=None, backend=None,
        abstracted_axes=None) -> Any:
    """Compile `fun`: trace it once per argument signature and run the optimised program.

    Args:
      fun: a pure function of arrays (pytrees of arrays).
      static_argnums: positional arguments that are Python values, part of the cache key.
      static_argnames: keyword arguments likewise.

    Examples:
      >>> import jumba as jb, jumba.numpy as jnp
      >>> f = jb.jit(lambda x: x * 2 + 1)
      >>> f(jnp.arange(3)).tolist()
      [1, 3, 5]
    """
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums,
                                 static_argnames=static_argnames,
                                 donate_argnums=donate_argnums)
    if not callable(fun):
        raise TypeError(f"jit expects a callable, got {type(fun).__name__}")
    return Jitted(fun, static_argnums, static_argnames, donate_argnums)

