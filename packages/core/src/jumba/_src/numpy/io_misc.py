"""jumba.numpy's host-side helpers: printing (array_repr, array_str, printoptions), files
(load, save, savez), conversions from buffers (from_dlpack, frombuffer, fromstring,
fromiter, fromfile), and predicates (array_equiv, iterable, isdtype).

They run on host values (NumPy), as in JAX; under tracing the ones needing values raise a
concretization error from `asarray`/`np.asarray`.
"""

from __future__ import annotations

import numpy as np

from jumba._src.core import get_aval
from jumba._src.numpy import lax_numpy as jnp
from jumba._src.numpy.indexing import _as_operand

__all__ = [
    "array_repr", "array_str", "printoptions", "get_printoptions", "set_printoptions",
    "load", "save", "savez", "from_dlpack", "frombuffer", "fromstring", "fromiter",
    "fromfile", "array_equiv", "iterable", "isdtype",
]

printoptions = np.printoptions
get_printoptions = np.get_printoptions
set_printoptions = np.set_printoptions


def array_repr(arr, max_line_width=None, precision=None, suppress_small=None):
    """The string representation of an array (NumPy's, of its host value)."""
    return np.array_repr(np.asarray(arr), max_line_width, precision, suppress_small)


def array_str(a, max_line_width=None, precision=None, suppress_small=None):
    """The data of an array as a string (NumPy's, of its host value)."""
    return np.array_str(np.asarray(a), max_line_width, precision, suppress_small)


def load(file, *args, **kwargs):
    """Load an array saved by `save` (or NumPy) as a jumba array."""
    out = np.load(file, *args, **kwargs)
    if isinstance(out, np.ndarray):
        return jnp.asarray(out)
    return out  # an NpzFile from savez: a mapping of NumPy arrays


def save(file, arr, allow_pickle: bool = True):
    """Save an array to a NumPy .npy file."""
    np.save(file, np.asarray(arr), allow_pickle=allow_pickle)


def savez(file, *args, **kwds):
    """Save several arrays into an uncompressed .npz archive."""
    np.savez(file, *[np.asarray(a) for a in args], **{k: np.asarray(v) for k, v in
                                                       kwds.items()})


def from_dlpack(x, /, *, device=None, copy=None):
    """An array from any object exporting `__dlpack__`."""
    return jnp.asarray(np.from_dlpack(x))


def frombuffer(buffer, dtype=float, count: int = -1, offset: int = 0):
    """A 1-D array interpreting a bytes-like `buffer`."""
    return jnp.asarray(np.frombuffer(buffer, dtype, count, offset))


def fromstring(string, dtype=float, count: int = -1, *, sep: str):
    """A 1-D array from numbers in a text string separated by `sep`."""
    return jnp.asarray(np.fromstring(string, dtype, count, sep=sep))


def fromiter(*args, **kwargs):
    """Not supported, as in JAX: iterators may have side effects that cannot be traced.
    Use jnp.array(list(iterable)) instead."""
    raise NotImplementedError(
        "jnp.fromiter() is not implemented because it may be non-pure and thus unsafe for "
        "use with JIT and other JAX transformations (as in JAX). Consider using "
        "jnp.asarray(np.fromiter(...)) instead.")


def fromfile(*args, **kwargs):
    """Not supported, as in JAX: reading files cannot be traced. Use
    jnp.asarray(np.fromfile(...)) instead."""
    raise NotImplementedError(
        "jnp.fromfile() is not implemented because it may be non-pure and thus unsafe for "
        "use with JIT and other JAX transformations (as in JAX). Consider using "
        "jnp.asarray(np.fromfile(...)) instead.")


def array_equiv(a1, a2):
    """True if the arrays are broadcastable to one shape and equal elementwise."""
    a1, a2 = _as_operand(a1), _as_operand(a2)
    try:
        np.broadcast_shapes(get_aval(a1).shape, get_aval(a2).shape)
    except ValueError:
        return jnp.asarray(False)
    return jnp.all(jnp.equal(a1, a2))


def iterable(y) -> bool:
    """Whether `iter(y)` works."""
    try:
        iter(y)
    except TypeError:
        return False
    return True


_KINDS = {
    "bool": lambda d: d == np.bool_,
    "signed integer": lambda d: d.kind == "i",
    "unsigned integer": lambda d: d.kind == "u",
    "integral": lambda d: d.kind in "iu",
    "real floating": lambda d: d.kind == "f",
    "complex floating": lambda d: d.kind == "c",
    "numeric": lambda d: d.kind in "iufc",
}


def isdtype(dtype, kind) -> bool:
    """Whether `dtype` is of `kind`: a dtype, a kind name ('bool', 'signed integer',
    'unsigned integer', 'integral', 'real floating', 'complex floating', 'numeric') or a
    tuple of them (array API)."""
    dt = np.dtype(dtype)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    for k in kinds:
        if isinstance(k, str):
            if k not in _KINDS:
                raise ValueError(f"jumba.numpy.isdtype: unknown kind {k!r}; use one of "
                                 f"{sorted(_KINDS)} or a dtype")
            if _KINDS[k](dt):
                return True
        elif dt == np.dtype(k):
            return True
    return False

