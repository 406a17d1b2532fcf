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
import warnings
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jumba._src import config as config_mod
from jumba._src import core
from jumba._src.compiler import passes, tier1
from jumba._src.compiler.background import background_compiler
from jumba._src.compiler.numpy_executor import NumpyExecutable
from jumba._src.config import config
from jumba._src.core import Array, Tracer, get_aval
from jumba._src.interpreters import partial_eval as pe
from jumba._src.tree_util import keystr, tree_flatten, tree_flatten_with_path, tree_unflatten

_STATE = core._state
trace_context = config_mod.trace_context


class _ArgName(str):
    """An argument's name in error messages, with how to make that argument static."""

    static_hint: tuple  # ("argnums", i) or ("argnames", name)

    def __new__(cls, name, hint):
        self = super().__new__(cls, name)
        self.static_hint = hint
        return self


class _Compiled:
    """One traced and optimised program, with its executable.

    It starts on tier 0 (NumPy, no compilation). When the program has fused groups, tier 1
    (numba kernels) is built in the background (`jumba_compile="background"`), before the
    first call (`"eager"`), or never; the switch is one attribute assignment, so callers
    in other threads see either tier, both correct.
    """

    __slots__ = ("closed", "out_tree", "out_weak", "executable", "name", "call", "_unflatten",
                 "_tier1", "__weakref__")

    def __init__(self, closed, out_tree, name):
        self.closed = closed
        self.out_tree = out_tree
        self.out_weak = [a.weak_type for a in closed.out_avals]
        single = out_tree.num_nodes == 1 and out_tree.num_leaves == 1
        self._unflatten = None if single else out_tree.unflatten
        self.executable = NumpyExecutable(closed, name, self.out_weak, self._unflatten)
        self.name = name
        # call(leaves) -> the output pytree: the whole warm call after the cache lookup.
        self.call = self.executable.call
        self._tier1 = None
        mode = config.jumba_compile
        if mode != "never" and tier1.has_fusions(closed):
            if mode == "eager":
                self.compile_tier1()
            else:
                self._tier1 = background_compiler().submit(
                    lambda: self.compile_tier1(background=True))

    def compile_tier1(self, background=False):
        """Build tier 1 in this thread (once) and switch to it.

        Runs of small equations compiled whole (`segments.py`) whose kernels are not
        cached yet are left out: such a kernel takes seconds to compile, and tier 1 should
        start as early without it. In the background they come in a second build queued
        after this one (in the foreground, `"eager"`, they are not compiled)."""
        if self.executable.tier == 1:
            return
        if (self._switch(new_segments=False) and background
                and self.executable.segments_left_out):
            background_compiler().submit(lambda: self._switch(new_segments=True))

    def _switch(self, new_segments) -> bool:
        try:
            exe = tier1.Tier1Executable(self.closed, self.name, self.out_weak,
                                        self._unflatten, new_segments=new_segments)
        except Exception as e:  # a compiler bug must not break a working program
            now = "with NumPy (tier 0)" if self.executable.tier == 0 else "as it was"
            warnings.warn(f"jit({self.name}): numba compilation failed, the program keeps "
                          f"running {now}: {type(e).__name__}: {e}", JumbaCompileWarning,
                          stacklevel=3)
            return False
        self.executable = exe
        self.call = exe.call
        return True

    def wait_for_tier1(self):
        """Block until a background compilation (if any) has finished."""
        future = self._tier1
        if future is not None:
            future.result()
        elif config.jumba_compile != "never" and tier1.has_fusions(self.closed):
            self.compile_tier1()

    def run(self, leaves):
        vals = [x._value if type(x) is Array else core.to_numpy(x) for x in leaves]
        outs = self.executable(vals)
        return [Array(o, w) for o, w in zip(outs, self.out_weak)]


class JumbaCompileWarning(UserWarning):
    pass


def _arrays_key(x, leaves):
    """The cache key of a pytree made of dicts, lists, tuples and None holding only Arrays,
    appending its leaves (in pytree order) to `leaves`; None for any other pytree.

    It stands for both the tree structure and the leaves' signatures, and costs a fraction
    of a general flatten. Dict keys enter in insertion order (stricter than the treedef,
    so never a wrong hit); the leaves follow sorted keys, as in `tree_flatten`.
    """
    t = type(x)
    if t is dict:
        try:
            keys = sorted(x)
        except TypeError:
            return None
        items = [x[k] for k in keys]
        head = ("d", tuple(x))
    elif t is tuple or t is list:
        items = x
        head = "t" if t is tuple else "l"
    elif t is Array:
        leaves.append(x)
        v = x._value
        return (v.shape, v.dtype, x.weak_type)
    elif x is None:
        return "n"
    else:
        return None
    sub = [head]
    for v in items:
        if type(v) is Array:
            leaves.append(v)
            a = v._value
            sub.append((a.shape, a.dtype, v.weak_type))
        else:
            s = _arrays_key(v, leaves)
            if s is None:
                return None
            sub.append(s)
    return tuple(sub)


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
        # A second index into the same programs for the commonest call, positional Arrays
        # only: keyed by (trace context, *signatures), it needs no pytree flattening.
        self._by_arrays: dict = {}
        self._plain = not self._static_argnums and not self._static_argnames
        self._lock = threading.Lock()
        _all_jitted.add(self)

    # -- the call path ----------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        fast_key = None
        if self._plain and not kwargs and _STATE.eval_only and not config.jax_disable_jit:
            leaves = []
            spec = _arrays_key(args, leaves)
            if spec is not None:
                fast_key = (spec, trace_context())
                compiled = self._by_arrays.get(fast_key)
                if compiled is not None:
                    return compiled.call(leaves)
        if config.jax_disable_jit:
            return self._fun(*args, **kwargs)
        if self._plain:
            dyn_args, dyn_kwargs, static_key = args, kwargs, ()
        else:
            dyn_args, dyn_kwargs, static_key = self._split(args, kwargs)
        leaves, in_tree = tree_flatten((dyn_args, dyn_kwargs))
        try:
            key = (in_tree, tuple([(x._value.shape, x._value.dtype, x.weak_type)
                                   if type(x) is Array else _signature(x) for x in leaves]),
                   static_key, trace_context())
            compiled = self._cache.get(key)
        except TypeError:
            raise self._bad_argument(args, kwargs, leaves) from None
        if compiled is None:
            compiled = self._compile(key, args, kwargs, leaves, in_tree)
        if _STATE.eval_only:
            if fast_key is not None:
                self._by_arrays[fast_key] = compiled
            return compiled.call(leaves)
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

    def _compile(self, key, args, kwargs, leaves, in_tree, abstract_ok=False):
        for x in leaves:
            if abstract_ok and isinstance(x, core.ShapeDtypeStruct):
                continue
            if not core.is_valid_operand(x) and not hasattr(x, "__array__"):
                raise self._bad_argument(args, kwargs, leaves)
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
        """A readable name per dynamic leaf ('x', "params['w']", 'rest[0]') for error
        messages; each carries the static_argnums/static_argnames entry that would make its
        argument static."""
        names = []
        params = list(self._sig.parameters.values()) if self._sig is not None else []
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY,
                                                      p.POSITIONAL_OR_KEYWORD)]
        var = next((p.name for p in params if p.kind == p.VAR_POSITIONAL), "args")
        for i, a in enumerate(args):
            if i in self._static_argnums:
                continue
            if i < len(positional):
                base = positional[i].name
                hint = ("argnums", i) if positional[i].kind == positional[i].POSITIONAL_ONLY \
                    else ("argnames", base)
            else:
                base, hint = f"{var}[{i - len(positional)}]", ("argnums", i)
            for path, _ in tree_flatten_with_path(a)[0]:
                names.append(_ArgName(base + keystr(path), hint))
        for k, v in sorted(kwargs.items()):  # pytrees flatten dicts in key order
            if k in self._static_argnames:
                continue
            for path, _ in tree_flatten_with_path(v)[0]:
                names.append(_ArgName(k + keystr(path), ("argnames", k)))
        return names

    def _bad_argument(self, args, kwargs, leaves):
        names = self._arg_names(args, kwargs)
        for x, n in zip(leaves, names):
            try:
                get_aval(x)
            except TypeError:
                kind, val = n.static_hint
                fname = self._name if self._name.isidentifier() else "f"
                return TypeError(
                    f"jit({self._name}): argument {str(n)!r} of type {type(x).__name__} "
                    f"({x!r:.60}) is not an array, so it cannot be traced. Pass arrays, NumPy "
                    "arrays or Python scalars (or pytrees of them), or mark the argument "
                    f"static: jit({fname}, static_{kind}={(val,)!r}) (static values must be "
                    "hashable; each new value retraces).")
        kinds = sorted({type(x).__name__ for x in leaves})
        return TypeError(f"jit({self._name}): could not use the arguments (leaf types "
                         f"{', '.join(kinds)}) as arrays; pass arrays, NumPy arrays or Python "
                         "scalars, or mark non-array arguments static.")

    # -- inspection --------------------------------------------------------------------

    def lower(self, *args, **kwargs) -> Lowered:
        dyn_args, dyn_kwargs, static_key = self._split(args, kwargs)
        leaves, in_tree = tree_flatten((dyn_args, dyn_kwargs))
        key = (in_tree, tuple([_signature(x) for x in leaves]), static_key,
               config_mod.trace_context())
        compiled = self._cache.get(key) or self._compile(key, args, kwargs, leaves, in_tree,
                                                         abstract_ok=True)
        return Lowered(compiled)

    def eval_shape(self, *args, **kwargs):
        from jumba._src.api import eval_shape

        return eval_shape(self._fun, *args, **kwargs)

    def clear_cache(self):
        self._cache.clear()
        self._by_arrays.clear()

    def _cache_size(self) -> int:
        return len(self._cache)

    def __get__(self, obj, objtype=None):
        # Jitted functions used as methods bind `self` like plain functions: `self` is then
        # the first argument, traced as a pytree unless marked static (static_argnums=0).
        if obj is None:
            return self
        return _BoundJitted(self, obj)

    def __repr__(self):
        return f"<jitted function {self._name}>"


class _BoundJitted:
    """A jitted function bound to an instance (`obj.method`)."""

    __slots__ = ("__self__", "__func__")

    def __init__(self, jitted, obj):
        self.__func__ = jitted
        self.__self__ = obj

    def __call__(self, *args, **kwargs):
        return self.__func__(self.__self__, *args, **kwargs)

    def lower(self, *args, **kwargs):
        return self.__func__.lower(self.__self__, *args, **kwargs)

    def eval_shape(self, *args, **kwargs):
        return self.__func__.eval_shape(self.__self__, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.__func__, name)

    def __repr__(self):
        return f"<bound jitted method {self.__func__._name} of {self.__self__!r}>"


class Lowered:
    """A traced and optimised program: `.as_text()` shows what runs."""

    def __init__(self, compiled: _Compiled):
        self._compiled = compiled

    def as_text(self) -> str:
        """The program as it runs: the optimised Jaxpr, the orchestrating Python function
        and, once compiled, each numba kernel's source."""
        c = self._compiled
        exe = c.executable
        text = [f"# Jaxpr (optimised)\n{c.closed}",
                f"# Tier {exe.tier} ({'numba kernels' if exe.tier else 'NumPy executor'})\n"
                f"{exe.source}"]
        for k, src in enumerate(getattr(exe, "kernel_sources", ())):
            text.append(f"# kernel_{k}\n{src}")
        return "\n\n".join(text)

    def compile(self):
        """Compile now (tier 1, in the foreground) and return the compiled program."""
        self._compiled.wait_for_tier1()
        return self

    @property
    def jaxpr(self):
        return self._compiled.closed

    def __call__(self, *args):
        leaves, _ = tree_flatten(args)
        return tree_unflatten(self._compiled.out_tree, self._compiled.run(leaves))


def _hashable_static(v, where, name):
    if isinstance(v, (Array, np.ndarray, Tracer)):
        raise ValueError(
            f"jit({name}): static argument {where!r} is an array of shape {np.shape(v)}; "
            "arrays cannot be static (they are not hashable, and a new value would retrace). "
            "Pass it as a regular (traced) argument, or pass a tuple if it holds a shape.")
    try:
        hash(v)
    except TypeError:
        raise ValueError(
            f"jit({name}): static argument {where!r} has unhashable type "
            f"{type(v).__name__}. Static arguments are cache keys: pass a tuple instead of a "
            "list, or a frozen dataclass, or pass the value as a regular argument.") from None
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


_all_jitted: weakref.WeakSet = weakref.WeakSet()


def clear_caches():
    """Forget every traced program (all jitted functions retrace on their next call) and
    delete the on-disk kernel cache (kernels recompile when next needed)."""
    from jumba._src.compiler import kernel_cache

    for f in list(_all_jitted):
        f.clear_cache()
    kernel_cache.clear()


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

