"""Saving and restoring pytrees of arrays (variables, optimizer states) without pickle.

``to_bytes(tree)`` writes an ``.npz`` archive (NumPy's zip of ``.npy`` files, read back with
``allow_pickle=False``); ``from_bytes(target, data)`` restores it into the structure of
``target``, checking that every path exists on both sides and that shapes agree, and naming
the first path that does not.

    data = serialization.to_bytes(variables)
    variables = serialization.from_bytes(template_variables, data)
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from jumba_nn._src.frozen_dict import FrozenDict

_REGISTRY: dict[type, tuple[Callable, Callable]] = {}


def register_serialization_state(ty: type, ty_to_state_dict: Callable,
                                 ty_from_state_dict: Callable, override: bool = False) -> None:
    """Registers how a class converts to and from a state dict.

    Args:
      ty: the class.
      ty_to_state_dict: ``obj -> dict``.
      ty_from_state_dict: ``(target_obj, state_dict) -> obj``.
      override: replace an existing registration.
    """
    if ty in _REGISTRY and not override:
        raise ValueError(f"a serialization handler for {ty.__name__} is already registered; "
                         "pass override=True to replace it.")
    _REGISTRY[ty] = (ty_to_state_dict, ty_from_state_dict)


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def to_state_dict(target) -> Any:
    """Converts a pytree to nested dicts of arrays (lists and tuples become ``{"0": ...}``)."""
    for ty, (to_sd, _) in _REGISTRY.items():
        if isinstance(target, ty):
            return to_sd(target)
    if isinstance(target, Mapping):
        return {str(k): to_state_dict(v) for k, v in target.items()}
    if _is_namedtuple(target):
        return {f: to_state_dict(getattr(target, f)) for f in target._fields}
    if isinstance(target, list | tuple):
        return {str(i): to_state_dict(v) for i, v in enumerate(target)}
    if dataclasses.is_dataclass(target) and not isinstance(target, type):
        return {f.name: to_state_dict(getattr(target, f.name))
                for f in dataclasses.fields(target)}
    if target is None:
        return None
    return np.asarray(target)


def _fail(path: str, what: str):
    raise ValueError(f"serialization: {what} at path '{path or '/'}'; the saved state does not "
                     "match the target structure (was it saved from the same model and "
                     "optimizer?).")


def _check_keys(want, got, path):
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    if missing:
        _fail(f"{path}/{missing[0]}", f"missing entry {missing[0]!r} (target has keys "
              f"{sorted(want)}, state has {sorted(got)})")
    if extra:
        _fail(f"{path}/{extra[0]}", f"unexpected entry {extra[0]!r} (target has keys "
              f"{sorted(want)})")


def from_state_dict(target, state, name: str = ""):
    """Restores ``state`` (from ``to_state_dict``) into the structure of ``target``.

    Raises:
      ValueError: naming the first path whose keys or shape disagree.
    """
    for ty, (_, from_sd) in _REGISTRY.items():
        if isinstance(target, ty):
            return from_sd(target, state)
    if isinstance(target, Mapping):
        keys = {str(k): k for k in target}
        if not isinstance(state, Mapping):
            _fail(name, f"expected a dict, found {type(state).__name__}")
        _check_keys(keys, state, name)
        out = {k: from_state_dict(target[k], state[s], f"{name}/{s}") for s, k in keys.items()}
        return FrozenDict(out) if isinstance(target, FrozenDict) else type(target)(out) \
            if type(target) is not dict else out
    if _is_namedtuple(target):
        if not isinstance(state, Mapping):
            _fail(name, f"expected a dict, found {type(state).__name__}")
        _check_keys(target._fields, state, name)
        return type(target)(*[from_state_dict(getattr(target, f), state[f], f"{name}/{f}")
                              for f in target._fields])
    if isinstance(target, list | tuple):
        if not isinstance(state, Mapping):
            _fail(name, f"expected a dict, found {type(state).__name__}")
        _check_keys([str(i) for i in range(len(target))], state, name)
        return type(target)(from_state_dict(v, state[str(i)], f"{name}/{i}")
                            for i, v in enumerate(target))
    if dataclasses.is_dataclass(target) and not isinstance(target, type):
        names = [f.name for f in dataclasses.fields(target)]
        _check_keys(names, state, name)
        return dataclasses.replace(target, **{
            n: from_state_dict(getattr(target, n), state[n], f"{name}/{n}") for n in names})
    if target is None:
        return None
    if isinstance(state, Mapping):
        _fail(name, "expected an array, found a dict")
    value = np.asarray(state)
    want = np.shape(target)
    if tuple(value.shape) != tuple(want):
        _fail(name, f"shape mismatch: target has shape {tuple(want)}, state has "
              f"{tuple(value.shape)}")
    if isinstance(target, bool | int | float) and value.ndim == 0:
        return type(target)(value)
    return value


def _escape(key: str) -> str:
    return key.replace("%", "%25").replace("/", "%2F")


def _unescape(key: str) -> str:
    return key.replace("%2F", "/").replace("%25", "%")


def _flatten(sd, prefix, out):
    if isinstance(sd, Mapping):
        for k, v in sd.items():
            _flatten(v, prefix + (_escape(str(k)),), out)
    elif sd is not None:
        out["/".join(prefix)] = np.asarray(sd)


def to_bytes(target) -> bytes:
    """Serialises a pytree of arrays to ``.npz`` bytes (no pickle)."""
    flat: dict[str, np.ndarray] = {}
    _flatten(to_state_dict(target), (), flat)
    if any(a.dtype == object for a in flat.values()):
        bad = next(k for k, a in flat.items() if a.dtype == object)
        raise TypeError(f"serialization: the value at '{bad}' is not a numeric array.")
    buf = io.BytesIO()
    np.savez(buf, **flat)
    return buf.getvalue()


def msgpack_restore(encoded: bytes) -> dict:
    """Reads ``to_bytes`` output back as a nested state dict (the npz format, despite the
    Flax-compatible name)."""
    with np.load(io.BytesIO(encoded), allow_pickle=False) as z:
        state: dict = {}
        for key in z.files:
            parts = [_unescape(p) for p in key.split("/")] if key else []
            node = state
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            if parts:
                node[parts[-1]] = z[key]
    return state


def from_bytes(target, encoded_bytes: bytes):
    """Restores ``to_bytes`` output into the structure of ``target`` (see ``from_state_dict``)."""
    state = msgpack_restore(encoded_bytes)
    return from_state_dict(target, _fill_empty(to_state_dict(target), state))


def _fill_empty(template, state):
    """Adds empty containers and Nones (which store no arrays) back into a loaded state."""
    if isinstance(template, Mapping):
        state = dict(state) if isinstance(state, Mapping) else state
        if not isinstance(state, dict):
            return state
        for k, v in template.items():
            if k not in state and (v is None or (isinstance(v, Mapping) and _no_arrays(v))):
                state[k] = v
            elif k in state:
                state[k] = _fill_empty(v, state[k])
        return state
    return state


def _no_arrays(sd) -> bool:
    if isinstance(sd, Mapping):
        return all(_no_arrays(v) for v in sd.values())
    return sd is None


msgpack_serialize = to_bytes
