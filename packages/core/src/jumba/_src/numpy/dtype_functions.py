"""jumba.numpy's dtype functions: astype, result_type, can_cast, isclose, allclose, ..."""

from __future__ import annotations

import numpy as np

from jumba._src import dtypes
from jumba._src.core import Array, get_aval
from jumba._src.lax import structural as st
from jumba._src.numpy.elementwise_functions import (  # noqa: F401
    absolute,
    add,
    equal,
    isfinite,
    isinf,
    isnan,
    less_equal,
    logical_and,
    logical_or,
    multiply,
    subtract,
)
from jumba._src.numpy.lax_numpy import (  # noqa: F401
    _is_array,
    asarray,
    promote_dtypes_inexact,
)
from jumba._src.numpy.reductions import (  # noqa: F401
    all,
)


def astype(x, dtype, /, *, copy=False, device=None):
    x = asarray(x) if not _is_array(x) else x
    return st.convert_element_type(x, dtypes.canonicalize_dtype(np.dtype(dtype)))


def result_type(*args):
    return dtypes.result_type(*args)


def can_cast(from_, to, casting="safe"):
    return np.can_cast(from_, to, casting)


def iscomplexobj(x):
    return get_aval(x).dtype.kind == "c"


def isrealobj(x):
    return not iscomplexobj(x)


def isscalar(element):
    if _is_array(element):
        return get_aval(element).ndim == 0
    return np.isscalar(element)


def copy(a, order=None):
    return asarray(a)


def array_equal(a1, a2, equal_nan=False):
    a1, a2 = asarray(a1), asarray(a2)
    if a1.shape != a2.shape:
        return Array(np.asarray(False))
    eq_ = equal(a1, a2)
    if equal_nan:
        eq_ = logical_or(eq_, logical_and(isnan(a1), isnan(a2)))
    return all(eq_)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return all(isclose(a, b, rtol, atol, equal_nan))


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    a, b = promote_dtypes_inexact(a, b)
    dt = get_aval(a).dtype
    diff = absolute(subtract(a, b))
    tol = add(np.asarray(atol, dt), multiply(np.asarray(rtol, dt), absolute(b)))
    out = less_equal(diff, tol)
    both_inf = logical_and(isinf(a), equal(a, b))
    out = logical_or(logical_and(out, isfinite(b)), both_inf)
    if equal_nan:
        out = logical_or(out, logical_and(isnan(a), isnan(b)))
    return out
