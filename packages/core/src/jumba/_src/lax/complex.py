"""Complex-number primitives: real, imag, conj and complex, with JAX's rules.

All four are linear over the reals. Their transposes follow JAX, which makes `grad` of a
real-valued function of a complex input return the conjugate of the Wirtinger derivative
∂f/∂z̄ doubled, i.e. `grad(f)(z) == conj(df/dx + i df/dy)` (see JAX's FAQ on complex
differentiation): the transpose of `real` embeds a cotangent as `complex(ct, 0)`, that of
`imag` as `complex(0, -ct)`, and that of `complex(x, y)` splits `ct` into `(real(ct),
-imag(ct))`.
"""

from __future__ import annotations

import numpy as np

from jumba._src import core, dtypes
from jumba._src.core import Primitive, ShapedArray, get_aval
from jumba._src.interpreters import ad, batching
from jumba._src.interpreters.ad import is_undefined_primal

_REAL_OF = {np.dtype(np.complex64): np.dtype(np.float32),
            np.dtype(np.complex128): np.dtype(np.float64)}
_COMPLEX_OF = {np.dtype(np.float32): np.dtype(np.complex64),
               np.dtype(np.float64): np.dtype(np.complex128),
               np.dtype(np.float16): np.dtype(np.complex64)}


def real_dtype(dtype) -> np.dtype:
    """The real dtype matching `dtype` (complex64 -> float32; real dtypes unchanged)."""
    dtype = np.dtype(dtype)
    return _REAL_OF.get(dtype, dtype)


def complex_dtype(dtype) -> np.dtype:
    """The complex dtype matching a real floating `dtype` (float32 -> complex64)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        return dtype
    return _COMPLEX_OF[dtype]


def _keep_weak(w, **params):
    return w


def _aval_of(x):
    return x.aval if is_undefined_primal(x) else get_aval(x)


def _require_complex(name, aval):
    if aval.dtype.kind != "c":
        raise TypeError(f"lax.{name} requires a complex operand, got {aval.dtype.name}; "
                        f"jumba.numpy.{name} also accepts real arrays.")


# ---------------------------------------------------------------------------------------
# real, imag: complex -> real

real_p = Primitive("real")
real_p.def_impl(lambda x: np.real(x).copy())
real_p.weak_type_rule = _keep_weak


@real_p.def_abstract_eval
def _real_abstract_eval(x):
    _require_complex("real", x)
    return ShapedArray(x.shape, real_dtype(x.dtype), x.weak_type)


ad.deflinear(real_p, lambda ct, x: [complex(ct, np.zeros((), get_aval(ct).dtype))])
batching.defvectorized(real_p)

imag_p = Primitive("imag")
imag_p.def_impl(lambda x: np.imag(x).copy())
imag_p.weak_type_rule = _keep_weak


@imag_p.def_abstract_eval
def _imag_abstract_eval(x):
    _require_complex("imag", x)
    return ShapedArray(x.shape, real_dtype(x.dtype), x.weak_type)


def _imag_transpose(ct, x):
    from jumba._src.lax.elementwise import neg

    return [complex(np.zeros((), get_aval(ct).dtype), neg(ct))]


ad.deflinear(imag_p, _imag_transpose)
batching.defvectorized(imag_p)

# ---------------------------------------------------------------------------------------
# complex: (real, real) -> complex, broadcasting as the n-ary elementwise primitives

complex_p = Primitive("complex")
complex_p.weak_type_rule = lambda wx, wy: wx and wy


@complex_p.def_impl
def _complex_impl(x, y):
    out = np.empty(np.broadcast_shapes(x.shape, y.shape), complex_dtype(x.dtype))
    out.real = x
    out.imag = y
    return out


@complex_p.def_abstract_eval
def _complex_abstract_eval(x, y):
    if x.dtype != y.dtype or x.dtype.kind != "f":
        raise TypeError(f"lax.complex requires two floating operands of one dtype, got "
                        f"{x.dtype.name} and {y.dtype.name}; use jumba.numpy (which promotes) "
                        "or x + 1j * y.")
    from jumba._src.lax.elementwise import broadcast_shapes_for

    shape = broadcast_shapes_for("complex", [x.shape, y.shape])
    return ShapedArray(shape, complex_dtype(x.dtype), x.weak_type and y.weak_type)


def _complex_transpose(ct, x, y):
    from jumba._src.lax.elementwise import neg, unbroadcast

    out = []
    for operand, part in ((x, real(ct)), (y, neg(imag(ct)))):
        out.append(unbroadcast(part, _aval_of(operand).shape)
                   if is_undefined_primal(operand) else None)
    return out


ad.defjvp(complex_p,
          lambda g, x, y: complex(g, np.zeros((), get_aval(g).dtype)),
          lambda g, x, y: complex(np.zeros((), get_aval(g).dtype), g))
ad.primitive_transposes[complex_p] = _complex_transpose
batching.defbroadcasting(complex_p)

# ---------------------------------------------------------------------------------------
# conj: complex -> complex (the identity on real operands' values, as JAX's input_dtype)

conj_p = Primitive("conj")
conj_p.def_impl(lambda x: np.conjugate(x))
conj_p.def_abstract_eval(lambda x: x)
conj_p.weak_type_rule = _keep_weak
batching.defvectorized(conj_p)


def _conj_transpose(ct, x):
    return [conj(ct)]


ad.deflinear(conj_p, _conj_transpose)

# ---------------------------------------------------------------------------------------
# Wrappers (as jax.lax)


def real(x):
    """The real part of a complex array (`jax.lax.real`)."""
    return real_p.bind(x)


def imag(x):
    """The imaginary part of a complex array (`jax.lax.imag`)."""
    return imag_p.bind(x)


def complex(x, y):  # noqa: A001
    """`x + i y` from two real arrays of one floating dtype (`jax.lax.complex`)."""
    if not isinstance(x, core.Tracer) and not isinstance(y, core.Tracer):
        _complex_abstract_eval(get_aval(x), get_aval(y))  # eager binds skip this check
    return complex_p.bind(x, y)


def conj(x):
    """The complex conjugate (`jax.lax.conj`); real operands become complex, as in JAX."""
    aval = get_aval(x)
    if aval.dtype.kind != "c":
        if not dtypes.is_inexact(aval.dtype):
            raise TypeError(f"lax.conj requires a floating or complex operand, got "
                            f"{aval.dtype.name}")
        return complex(x, np.zeros((), aval.dtype))
    return conj_p.bind(x)

