"""The Haiku frame: parameters, state and random keys seen by code inside `transform`.

A *frame* is pushed by every `init`/`apply` call of a transformed function. It holds the
parameter dict (``{module_name: {param_name: array}}``), the state dict (each entry an
`_StatePair` of its initial and current value), the random key sequence, and the stack of
module method calls that gives modules their names. `get_parameter`, `get_state`,
`set_state` and `next_rng_key` read and write the innermost frame.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import jumba.numpy as jnp
import jumba.random as jr

Params = Mapping[str, Mapping[str, Any]]
State = Mapping[str, Mapping[str, Any]]
MutableParams = dict[str, dict[str, Any]]
MutableState = dict[str, dict[str, Any]]

DO_NOT_STORE = type("DoNotStore", (), {"__repr__": lambda self: "hk.DO_NOT_STORE"})()


class _StatePair(NamedTuple):
    initial: Any
    current: Any


class _ModuleCall(NamedTuple):
    module: Any
    method_name: str


class _Frame:
    """The mutable context of one init/apply call (and of each lifted inner call)."""

    def __init__(self, params, state, rng, freeze_params):
        self.params: MutableParams = params
        self.state: dict[str, dict[str, _StatePair]] = state
        self.rng: PRNGSequence | None = rng
        self.freeze_params = freeze_params
        self.module_stack: list[_ModuleCall] = []
        # One (used names, counter) pair per active method call; index 0 is the top level.
        self.name_scopes: list[tuple[set, collections.Counter]] = [(set(), collections.Counter())]
        self.rng_stack: list[PRNGSequence | None] = [rng]

    @property
    def current_rng(self):
        return self.rng_stack[-1]


_local = threading.local()


def _frames() -> list[_Frame]:
    if not hasattr(_local, "frames"):
        _local.frames = []
        _local.creators, _local.getters, _local.setters = [], [], []
        _local.interceptors = []
    return _local.frames


def inside_transform() -> bool:
    return bool(_frames())


def current_frame(caller: str) -> _Frame:
    frames = _frames()
    if not frames:
        raise ValueError(
            f"hk.{caller} must be called inside a function transformed by hk.transform or "
            f"hk.transform_with_state (it needs the parameters, state and keys that init and "
            f"apply provide). Fix: move the call into the function you pass to hk.transform, "
            f"e.g. `f = hk.transform(lambda x: hk.Linear(10)(x))`.")
    return frames[-1]


@contextlib.contextmanager
def _push_frame(frame: _Frame):
    frames = _frames()
    frames.append(frame)
    try:
        yield frame
    finally:
        frames.pop()


# ---------------------------------------------------------------------------------------
# Random keys


def _is_key(x) -> bool:
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return False
    if "key" in str(dtype):
        return getattr(x, "shape", None) == ()
    return tuple(x.shape) == (2,) and str(dtype) == "uint32"


def _check_key(x, what="key"):
    if not _is_key(x):
        shape = getattr(x, "shape", None)
        dtype = getattr(x, "dtype", type(x).__name__)
        raise ValueError(
            f"hk: the {what} must be a PRNG key (jumba.random.PRNGKey(seed): shape (2,), "
            f"dtype uint32, or a typed jumba.random.key(seed)); got shape={shape}, "
            f"dtype={dtype}. Fix: pass jumba.random.PRNGKey(0), or an int seed to "
            f"hk.PRNGSequence.")


class PRNGSequence(Iterator):
    """An iterator of fresh random keys split off one key (as Haiku's).

    `next(seq)` returns a new key each time; `reserve(n)` splits `n` keys at once
    (``key, k1, ..., kn = split(key, n + 1)``), so the stream equals Haiku's for the same seed.

    Examples:
        >>> seq = PRNGSequence(42)
        >>> k1, k2 = next(seq), next(seq)
    """

    __slots__ = ("_key", "_subkeys")

    def __init__(self, key_or_seed):
        if isinstance(key_or_seed, tuple) and len(key_or_seed) == 2 and not _is_key(key_or_seed):
            key, subkeys = key_or_seed
            _check_key(key)
            self._key, self._subkeys = key, collections.deque(subkeys)
            return
        if isinstance(key_or_seed, int) or (
                getattr(key_or_seed, "shape", None) == () and "int" in str(key_or_seed.dtype)):
            key_or_seed = jr.PRNGKey(key_or_seed)
        _check_key(key_or_seed)
        self._key, self._subkeys = key_or_seed, collections.deque()

    def reserve(self, num: int) -> None:
        """Splits `num` more keys off the sequence for later `next` calls."""
        if num > 0:
            keys = jr.split(self._key, num + 1)
            self._key = keys[0]
            self._subkeys.extend(keys[i] for i in range(1, num + 1))

    def __next__(self):
        if not self._subkeys:
            self.reserve(1)
        return self._subkeys.popleft()

    next = __next__

    def take(self, num: int) -> tuple:
        """The next `num` keys, as a tuple."""
        self.reserve(max(num - len(self._subkeys), 0))
        return tuple(next(self) for _ in range(num))

    @property
    def internal_state(self):
        return self._key, tuple(self._subkeys)

    def replace_internal_state(self, state) -> None:
        key, subkeys = state
        self._key, self._subkeys = key, collections.deque(subkeys)


def _rng_or_fail(caller):
    rng = current_frame(caller).current_rng
    if rng is None:
        raise ValueError(
            f"hk.{caller}: no random key was given. You must pass a non-None PRNGKey to init "
            f"and/or apply if you make use of random numbers (e.g. dropout or initializers). "
            f"Fix: `f.apply(params, jumba.random.PRNGKey(0), x)`, or use "
            f"hk.maybe_next_rng_key() to allow None.")
    return rng


def next_rng_key():
    """A fresh random key from the current transform's key sequence."""
    return next(_rng_or_fail("next_rng_key"))


def next_rng_keys(num: int):
    """`num` fresh keys, stacked along a leading axis."""
    return jnp.stack(_rng_or_fail("next_rng_keys").take(num))


def maybe_next_rng_key():
    """`next_rng_key()`, or None when the transform was called without a key."""
    rng = current_frame("maybe_next_rng_key").current_rng
    return None if rng is None else next(rng)


def reserve_rng_keys(num: int) -> None:
    """Pre-splits `num` keys for the next `num` `next_rng_key()` calls."""
    _rng_or_fail("reserve_rng_keys").reserve(num)


def maybe_get_rng_sequence_state():
    """The internal state of the current key sequence, or None without one."""
    rng = current_frame("maybe_get_rng_sequence_state").current_rng
    return None if rng is None else rng.internal_state


def replace_rng_sequence_state(state) -> None:
    """Replaces the internal state of the current key sequence."""
    _rng_or_fail("replace_rng_sequence_state").replace_internal_state(state)


@contextlib.contextmanager
def with_rng(key):
    """Within the block, `next_rng_key()` draws from a sequence made from `key`."""
    frame = current_frame("with_rng")
    frame.rng_stack.append(None if key is None else PRNGSequence(key))
    try:
        yield
    finally:
        frame.rng_stack.pop()


# ---------------------------------------------------------------------------------------
# Parameters and state


class GetterContext(NamedTuple):
    """What a custom getter/creator is told about the value it handles."""

    full_name: str
    module: Any
    original_dtype: Any
    original_shape: tuple
    original_init: Any = None
    lifted_prefix_name: str | None = None

    @property
    def module_name(self) -> str:
        return self.full_name.rsplit("/", 1)[0]

    @property
    def name(self) -> str:
        return self.full_name.rsplit("/", 1)[1]


class SetterContext(NamedTuple):
    """What a custom setter is told about the state it sets."""

    full_name: str
    module: Any
    original_dtype: Any
    original_shape: tuple
    lifted_prefix_name: str | None = None

    @property
    def module_name(self) -> str:
        return self.full_name.rsplit("/", 1)[0]

    @property
    def name(self) -> str:
        return self.full_name.rsplit("/", 1)[1]


def _current_module(frame):
    return frame.module_stack[-1].module if frame.module_stack else None


def _bundle_name(frame) -> str:
    module = _current_module(frame)
    if module is None:
        return "~"
    name = getattr(module, "module_name", None)
    if name is None:
        raise ValueError(
            f"hk: {type(module).__name__} has no name: its __init__ did not call "
            f"super().__init__(name=name) before using parameters, state or submodules. "
            f"Fix: call super().__init__(name=name) first in {type(module).__name__}.__init__.")
    return name


def _run_chain(stack, kind, last, args, context):
    """Calls the custom creators/getters/setters (innermost first) ending with `last`; each
    gets ``(next_fn, *args, context)`` and calls ``next_fn(*args)``."""
    fns = [fn for fn, sel in stack if kind in sel]

    def call(i, *a):
        if i < 0:
            return last(*a)
        return fns[i](lambda *b: call(i - 1, *b), *a, context)

    return call(len(fns) - 1, *args)


def _check_shape(full_name, value, shape):
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise ValueError(
            f"hk.get_parameter: '{full_name}' has shape {tuple(value.shape)} in the params "
            f"but the module asks for shape {tuple(shape)}. The params were made for a "
            f"different model or input size. Fix: re-run init with the current model and "
            f"input shapes.")


def get_parameter(name: str, shape, dtype=jnp.float32, init: Callable | None = None):
    """Creates (in init) or fetches (in apply) the parameter `name` of the current module.

    Args:
        name: the parameter's name within its module ("w", "b", ...).
        shape: its shape.
        dtype: its dtype (float32 by default).
        init: `init(shape, dtype) -> Array`, called in init when the parameter is new.

    Returns:
        The parameter's value.
    """
    frame = current_frame("get_parameter")
    bundle = _bundle_name(frame)
    full_name = f"{bundle}/{name}"
    shape = tuple(int(s) for s in shape) if shape is not None else None
    value = frame.params.get(bundle, {}).get(name)
    module = _current_module(frame)
    if value is None:
        if frame.freeze_params:
            raise ValueError(
                f"hk.get_parameter: unable to retrieve parameter '{name}' for module "
                f"'{bundle}' (path '{full_name}'): it is not in the params given to apply. "
                f"All parameters must be created in init. Fix: pass the params returned by "
                f"`init` for this same function (available: {sorted(frame.params)}).")
        if init is None:
            raise ValueError(f"hk.get_parameter('{name}'): init must be given to create "
                             f"parameter '{full_name}'.")
        ctx = GetterContext(full_name, module, dtype, shape, init)
        value = _run_chain(_local.creators, "params", lambda s, d, i: i(s, d),
                           (shape, dtype, init), ctx)
        value = jnp.asarray(value)
        frame.params.setdefault(bundle, {})[name] = value
    _check_shape(full_name, value, shape)
    if _local.getters:
        ctx = GetterContext(full_name, module, dtype, shape, init)
        value = _run_chain(_local.getters, "params", lambda v: v, (value,), ctx)
    return value


def get_state(name: str, shape=None, dtype=jnp.float32, init: Callable | None = None):
    """Reads the state `name` of the current module, creating it with `init` if new."""
    frame = current_frame("get_state")
    bundle = _bundle_name(frame)
    full_name = f"{bundle}/{name}"
    pair = frame.state.get(bundle, {}).get(name)
    if pair is None:
        if init is None:
            raise ValueError(
                f"hk.get_state: no value for state '{full_name}' and no init was given. "
                f"Fix: pass init=... (e.g. jnp.zeros), or set it first with hk.set_state.")
        shape = tuple(int(s) for s in shape) if shape is not None else ()
        ctx = GetterContext(full_name, _current_module(frame), dtype, shape, init)
        value = jnp.asarray(_run_chain(_local.creators, "state", lambda s, d, i: i(s, d),
                                       (shape, dtype, init), ctx))
        pair = _StatePair(value, value)
        frame.state.setdefault(bundle, {})[name] = pair
    value = pair.current
    if _local.getters:
        ctx = GetterContext(full_name, _current_module(frame), value.dtype, value.shape)
        value = _run_chain(_local.getters, "state", lambda v: v, (value,), ctx)
    return value


def set_state(name: str, value) -> None:
    """Sets the state `name` of the current module (its initial value too, if new)."""
    frame = current_frame("set_state")
    bundle = _bundle_name(frame)
    full_name = f"{bundle}/{name}"
    if _local.setters:
        ctx = SetterContext(full_name, _current_module(frame), getattr(value, "dtype", None),
                            getattr(value, "shape", None))
        value = _run_chain([(s, ("state",)) for s in _local.setters], "state",
                           lambda v: v, (value,), ctx)
        if value is DO_NOT_STORE:
            return
    bucket = frame.state.setdefault(bundle, {})
    pair = bucket.get(name)
    bucket[name] = _StatePair(value, value) if pair is None else pair._replace(current=value)


def get_params() -> dict:
    """All parameters of the current frame, ``{module_name: {name: value}}``."""
    return {k: dict(v) for k, v in current_frame("get_params").params.items()}


def get_current_state() -> dict:
    """The current state values, ``{module_name: {name: value}}``."""
    return {k: {n: p.current for n, p in v.items()}
            for k, v in current_frame("get_current_state").state.items()}


def get_initial_state() -> dict:
    """The initial state values, ``{module_name: {name: value}}``."""
    return {k: {n: p.initial for n, p in v.items()}
            for k, v in current_frame("get_initial_state").state.items()}


def running_init() -> bool:
    """True inside `init` (parameters may be created), False inside `apply`."""
    return not current_frame("running_init").freeze_params


def _selectors(params, state):
    return tuple(k for k, on in (("params", params), ("state", state)) if on)


@contextlib.contextmanager
def custom_creator(creator, *, params: bool = True, state: bool = False):
    """Intercepts creation: ``creator(next_creator, shape, dtype, init, context)``."""
    current_frame("custom_creator")
    _local.creators.append((creator, _selectors(params, state)))
    try:
        yield
    finally:
        _local.creators.pop()


@contextlib.contextmanager
def custom_getter(getter, *, params: bool = True, state: bool = False):
    """Intercepts reads: ``getter(next_getter, value, context)`` (e.g. to cast to bf16)."""
    current_frame("custom_getter")
    _local.getters.append((getter, _selectors(params, state)))
    try:
        yield
    finally:
        _local.getters.pop()


@contextlib.contextmanager
def custom_setter(setter):
    """Intercepts `set_state`: ``setter(next_setter, value, context)``; may return
    `DO_NOT_STORE` to drop the write."""
    current_frame("custom_setter")
    _local.setters.append(setter)
    try:
        yield
    finally:
        _local.setters.pop()


# ---------------------------------------------------------------------------------------
# Internal state as a value (for the lifted transformations)


def _internal_state(frame, rng_key):
    state = {k: dict(v) for k, v in frame.state.items()}
    return {k: dict(v) for k, v in frame.params.items()}, state, rng_key


@contextlib.contextmanager
def _temporary_frame(outer: _Frame, internal, freeze_params=None):
    """A frame that shares `outer`'s module stack but reads `internal` (params, state, key)."""
    params, state, key = internal
    frame = _Frame({k: dict(v) for k, v in params.items()},
                   {k: dict(v) for k, v in state.items()},
                   None if key is None else PRNGSequence(key),
                   outer.freeze_params if freeze_params is None else freeze_params)
    frame.module_stack = outer.module_stack
    frame.name_scopes = outer.name_scopes
    with _push_frame(frame):
        yield frame


def _outer_key(frame):
    rng = frame.current_rng
    return None if rng is None else rng._key


def _frame_internal_state(frame):
    """(params, state, key) of a temporary frame after the inner function ran."""
    key = None if frame.rng is None else frame.rng._key
    return frame.params, frame.state, key


def _update_from(outer: _Frame, internal) -> None:
    params, state, key = internal
    for k, v in params.items():
        outer.params.setdefault(k, {}).update(v)
    for k, v in state.items():
        outer.state.setdefault(k, {}).update(v)
    if key is not None and outer.current_rng is not None:
        outer.current_rng._key = key
