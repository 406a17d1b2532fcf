"""jumba.numpy: NumPy's API on jumba arrays, differentiable and jittable (as jax.numpy)."""

import numpy as _np

from jumba._src.dtypes import (  # noqa: F401
    finfo,
    float0,
    iinfo,
    issubdtype,
    promote_types,
)
from jumba._src.numpy.complex_numbers import angle, conj, conjugate, imag, real  # noqa: F401

# The rest of jax.numpy's surface (issue 4), one module per family.
from jumba._src.numpy.creation_more import *  # noqa: F403
from jumba._src.numpy.cumulative import *  # noqa: F403
from jumba._src.numpy.histograms import *  # noqa: F403
from jumba._src.numpy.indexing import *  # noqa: F403
from jumba._src.numpy.io_misc import *  # noqa: F403
from jumba._src.numpy.lax_numpy import *  # noqa: F403
from jumba._src.numpy.lax_numpy import (  # noqa: F401
    abs,
    all,
    any,
    array,
    asarray,
    divmod,
    max,
    min,
    ndarray,
    pow,
    round,
    sum,
)
from jumba._src.numpy.manipulation import *  # noqa: F403
from jumba._src.numpy.padding import *  # noqa: F403
from jumba._src.numpy.polynomial import *  # noqa: F403
from jumba._src.numpy.setops import *  # noqa: F403
from jumba._src.numpy.sorting import argsort, sort  # noqa: F401
from jumba._src.numpy.sorting_searching import *  # noqa: F403
from jumba._src.numpy.statistics import *  # noqa: F403
from jumba._src.numpy.ufuncs_more import *  # noqa: F403

# Dtypes and constants, as numpy's.
bool_ = _np.bool_
int8, int16, int32, int64 = _np.int8, _np.int16, _np.int32, _np.int64
uint8, uint16, uint32, uint64 = _np.uint8, _np.uint16, _np.uint32, _np.uint64
float16, float32, float64 = _np.float16, _np.float32, _np.float64
complex64, complex128 = _np.complex64, _np.complex128
inexact, floating, integer, signedinteger, unsignedinteger, number, generic = (
    _np.inexact, _np.floating, _np.integer, _np.signedinteger, _np.unsignedinteger,
    _np.number, _np.generic)
complexfloating = _np.complexfloating
dtype = _np.dtype
pi, e, inf, nan, euler_gamma = _np.pi, _np.e, _np.inf, _np.nan, _np.euler_gamma
newaxis = None
float_ = _np.float64
int_ = _np.int64
bool = _np.bool_  # noqa: A001 (jax.numpy's name)
single, double = _np.float32, _np.float64
csingle, cdouble = _np.complex64, _np.complex128
uint = _np.uint64
object_, character, flexible = _np.object_, _np.character, _np.flexible

from jumba.numpy import fft, linalg  # noqa: E402, F401  (submodules, as jax.numpy's)
