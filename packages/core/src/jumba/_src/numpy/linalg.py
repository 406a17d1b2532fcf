"""jumba.numpy.linalg: NumPy's linear algebra on the linalg primitives (as jax.numpy.linalg).

Every function works on the trailing two axes and broadcasts over leading (batch) axes.
Solves, inverses and determinants go through LU (`lax.linalg.lu` + triangular solves), so
they differentiate through the LU rules, as JAX's do.
"""

from __future__ import annotations

import math
import operator
from typing import NamedTuple

import numpy as np

import jumba.numpy as jnp  # the public namespace: its functions span several modules
from jumba._src import dtypes
from jumba._src.core import get_aval
from jumba._src.lax import linalg as lax_linalg
from jumba._src.lax.complex import real_dtype
from jumba._src.numpy import complex_numbers as cn


class EighResult(NamedTuple):
    eigenvalues: object
    eigenvectors: object


class QRResult(NamedTuple):
    Q: object
    R: object


class SlogdetResult(NamedTuple):
    sign: object
    logabsdet: object


class SVDResult(NamedTuple):
    U: object
    S: object
    Vh: object


# ---------------------------------------------------------------------------------------
# Helpers


def _inexact(*xs):
    return jnp.promote_dtypes_inexact(*(jnp.asarray(x) for x in xs))


def _square(name, a):
    shape = get_aval(a).shape
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(
            f"jumba.numpy.linalg.{name}: expected a square matrix or a batch of them, shape "
            f"(..., N, N); got shape {shape}. For non-square matrices use "
            "jumba.numpy.linalg.pinv or lstsq.")


def _matrix(name, a):
    shape = get_aval(a).shape
    if len(shape) < 2:
        raise ValueError(f"jumba.numpy.linalg.{name}: expected a matrix or a batch of them, "
                         f"shape (..., M, N); got shape {shape}")


def _abs(x):
    # |x| for real or complex x (with a real result).
    if get_aval(x).dtype.kind == "c":
        re, im = cn.real(x), cn.imag(x)
        return jnp.sqrt(jnp.add(jnp.multiply(re, re), jnp.multiply(im, im)))
    return jnp.abs(x)


def _H(x):
    return cn.conj(jnp.swapaxes(x, -1, -2))


def _diag(x):
    return jnp.diagonal(x, axis1=-2, axis2=-1)


def _eps(x):
    return float(np.finfo(real_dtype(get_aval(x).dtype)).eps)


# ---------------------------------------------------------------------------------------
# Factorisations


def cholesky(a, *, upper: bool = False, symmetrize_input: bool = True):
    """The Cholesky factor of Hermitian positive-definite matrices.

    Args:
      a: array (..., N, N).
      upper: return the upper factor U (a = Uᴴ U) instead of the lower L (a = L Lᴴ).
      symmetrize_input: factor (a + aᴴ)/2, so gradients are symmetric (as JAX).

    Returns:
      The factor; NaN where `a` is not positive definite (JAX's behaviour, not an error).

    Examples:
      >>> import jumba.numpy as jnp
      >>> jnp.linalg.cholesky(jnp.array([[4.0, 2.0], [2.0, 2.0]]))
      Array([[2., 0.],
             [1., 1.]], dtype=float32)
    """
    (a,) = _inexact(a)
    _square("cholesky", a)
    L = lax_linalg.cholesky(a, symmetrize_input=symmetrize_input)
    return _H(L) if upper else L


def qr(a, mode: str = "reduced"):
    """QR decomposition, `a = Q R` (modes "reduced", "complete" and "r")."""
    (a,) = _inexact(a)
    _matrix("qr", a)
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"jumba.numpy.linalg.qr: unsupported mode {mode!r}; use 'reduced', "
                         "'complete' or 'r' ('raw' is not supported, as in JAX)")
    q, r = lax_linalg.qr(a, full_matrices=mode == "complete")
    return r if mode == "r" else QRResult(q, r)


def svd(a, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False,
        subset_by_index=None):
    """Singular value decomposition `a = U @ diag(S) @ Vh`, singular values descending.

    `hermitian` is accepted for compatibility and computes the general SVD (a valid SVD of a
    Hermitian matrix too). `subset_by_index` is not supported.
    """
    if subset_by_index is not None:
        raise NotImplementedError("jumba.numpy.linalg.svd: subset_by_index is not supported")
    (a,) = _inexact(a)
    _matrix("svd", a)
    if not compute_uv:
        return lax_linalg.svd(a, full_matrices=False, compute_uv=False)
    u, s, vt = lax_linalg.svd(a, full_matrices=full_matrices)
    return SVDResult(u, s, vt)


def svdvals(x, /):
    """The singular values of `x` (..., M, N), descending."""
    return svd(x, compute_uv=False)


def eigh(a, UPLO: str | None = None, symmetrize_input: bool = True):  # noqa: N803
    """Eigenvalues (ascending) and eigenvectors of Hermitian matrices.

    Args:
      a: array (..., N, N).
      UPLO: "L" (default) or "U": the triangle read when `symmetrize_input` is False.
      symmetrize_input: use (a + aᴴ)/2 (as JAX), which also symmetrizes gradients.
    """
    (a,) = _inexact(a)
    _square("eigh", a)
    if UPLO not in (None, "L", "U"):
        raise ValueError(f"jumba.numpy.linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    v, w = lax_linalg.eigh(a, lower=UPLO != "U", symmetrize_input=symmetrize_input)
    return EighResult(w, v)


def eigvalsh(a, UPLO: str | None = "L", *, symmetrize_input: bool = True):  # noqa: N803
    """Eigenvalues (ascending) of Hermitian matrices."""
    return eigh(a, UPLO, symmetrize_input).eigenvalues


def eig(a):
    """Eigenvalues and right eigenvectors of general square matrices (complex results).

    Not differentiable (use `eigh` for symmetric matrices).
    """
    (a,) = _inexact(a)
    _square("eig", a)
    return lax_linalg.eig(a)


def eigvals(a):
    """Eigenvalues of general square matrices (complex)."""
    (a,) = _inexact(a)
    _square("eigvals", a)
    return lax_linalg.eig(a, compute_eigenvectors=False)[0]


# ---------------------------------------------------------------------------------------
# Solves, inverses, determinants (through LU)


def _lu_solve(lu, perm, b):
    x = lax_linalg.permute_rows(b, perm)
    x = lax_linalg.triangular_solve(lu, x, left_side=True, lower=True, unit_diagonal=True)
    return lax_linalg.triangular_solve(lu, x, left_side=True, lower=False)


def solve(a, b):
    """Solve `a @ x = b` for square `a`.

    Args:
      a: array (..., N, N).
      b: array (N,) (one right-hand side for every matrix), or (..., N, K); batch axes
        broadcast against `a`'s.

    Returns:
      x with b's shape (batch axes broadcast).

    Examples:
      >>> import jumba.numpy as jnp
      >>> jnp.linalg.solve(jnp.array([[2.0, 0.0], [0.0, 4.0]]), jnp.array([2.0, 2.0]))
      Array([1. , 0.5], dtype=float32)
    """
    a, b = _inexact(a, b)
    _square("solve", a)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    vec = len(sb) == 1
    if vec:
        b = jnp.expand_dims(b, -1)
        sb = get_aval(b).shape
    elif len(sb) == 0:
        raise ValueError("jumba.numpy.linalg.solve: b must have at least one dimension")
    if sb[-2] != sa[-1]:
        raise ValueError(
            f"jumba.numpy.linalg.solve: a of shape {sa} needs b with {sa[-1]} rows, shape "
            f"({sa[-1]},) or (..., {sa[-1]}, K); got b of shape "
            f"{sb[:-1] if vec else sb}. (A batch of vectors needs a trailing axis: b[..., None].)")
    try:
        batch = np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise ValueError(f"jumba.numpy.linalg.solve: batch dimensions of a {sa} and b {sb} "
                         "do not broadcast") from None
    a = jnp.broadcast_to(a, (*batch, *sa[-2:]))
    b = jnp.broadcast_to(b, (*batch, *sb[-2:]))
    lu, _, perm = lax_linalg.lu(a)
    x = _lu_solve(lu, perm, b)
    return x[..., 0] if vec else x


def inv(a):
    """The inverse of square matrices (..., N, N) (via LU, as JAX)."""
    (a,) = _inexact(a)
    _square("inv", a)
    shape = get_aval(a).shape
    eye = jnp.broadcast_to(np.eye(shape[-1], dtype=get_aval(a).dtype), shape)
    return solve(a, eye)


def _lu_sign_and_diag(a):
    lu, pivots, _ = lax_linalg.lu(a)
    n = get_aval(a).shape[-1]
    swaps = jnp.sum(jnp.not_equal(pivots, np.arange(n, dtype=np.int32)), axis=-1)
    parity = jnp.subtract(1, jnp.multiply(2, jnp.remainder(swaps, 2)))
    return parity.astype(get_aval(a).dtype), _diag(lu)


def det(a):
    """The determinant of square matrices (..., N, N), via LU."""
    (a,) = _inexact(a)
    _square("det", a)
    if get_aval(a).shape[-1] == 0:
        return jnp.ones(get_aval(a).shape[:-2], get_aval(a).dtype)
    parity, diag = _lu_sign_and_diag(a)
    return jnp.multiply(parity, jnp.prod(diag, axis=-1))


def slogdet(a, *, method: str | None = None):
    """Sign and log of the absolute value of the determinant (..., N, N).

    Returns:
      `SlogdetResult(sign, logabsdet)`; for singular matrices sign 0 and logabsdet -inf.
    """
    if method not in (None, "lu"):
        raise ValueError(f"jumba.numpy.linalg.slogdet: unsupported method {method!r}; use 'lu'")
    (a,) = _inexact(a)
    _square("slogdet", a)
    dt = get_aval(a).dtype
    if get_aval(a).shape[-1] == 0:
        batch = get_aval(a).shape[:-2]
        return SlogdetResult(jnp.ones(batch, dt), jnp.zeros(batch, real_dtype(dt)))
    parity, diag = _lu_sign_and_diag(a)
    absdiag = _abs(diag)
    is_zero = jnp.any(jnp.equal(absdiag, 0), axis=-1)
    logdet = jnp.sum(jnp.log(absdiag), axis=-1)
    if dt.kind == "c":
        unit = jnp.divide(diag, absdiag.astype(dt))
        sign = jnp.multiply(parity, jnp.prod(unit, axis=-1))
    else:
        sign = jnp.multiply(parity, jnp.prod(jnp.sign(diag), axis=-1))
    sign = jnp.where(is_zero, np.zeros((), dt), sign)
    logdet = jnp.where(is_zero, np.asarray(-np.inf, get_aval(logdet).dtype), logdet)
    return SlogdetResult(sign, logdet)


def pinv(a, rtol=None, hermitian: bool = False, *, rcond=None):
    """Moore-Penrose pseudo-inverse via the SVD; singular values below
    `rtol * largest` are treated as zero (default rtol: 10 * max(M, N) * eps)."""
    (a,) = _inexact(a)
    _matrix("pinv", a)
    if rcond is not None:
        rtol = rcond
    m, n = get_aval(a).shape[-2:]
    dt = get_aval(a).dtype
    if m == 0 or n == 0:
        return jnp.zeros((*get_aval(a).shape[:-2], n, m), dt)
    if rtol is None:
        rtol = 10 * max(m, n) * _eps(a)
    u, s, vh = svd(a, full_matrices=False)
    rtol = jnp.asarray(rtol, get_aval(s).dtype)
    cutoff = jnp.multiply(jnp.expand_dims(rtol, -1), jnp.max(s, axis=-1, keepdims=True))
    s = jnp.where(jnp.greater(s, cutoff), s, np.asarray(np.inf, get_aval(s).dtype))
    return jnp.matmul(_H(vh), jnp.divide(_H(u), jnp.expand_dims(s, -1).astype(dt)))


def lstsq(a, b, rcond=None, *, numpy_resid: bool = False):
    """Least-squares solution of `a @ x = b` for a 2-D `a` (M, N) via the SVD.

    Returns:
      `(x, residuals, rank, s)`. As JAX, residuals (the squared 2-norm of b - a x per
      column) are always returned unless `numpy_resid` asks for NumPy's empty ones where
      rank < N or M <= N.
    """
    a, b = _inexact(a, b)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    b_vec = len(sb) == 1
    if b_vec:
        b = jnp.expand_dims(b, -1)
    if len(sa) != 2 or get_aval(b).ndim != 2:
        raise ValueError(f"jumba.numpy.linalg.lstsq: a must be 2-D and b 1-D or 2-D; got "
                         f"shapes {sa} and {sb}")
    if sa[0] != get_aval(b).shape[0]:
        raise ValueError(f"jumba.numpy.linalg.lstsq: a has {sa[0]} rows but b has "
                         f"{get_aval(b).shape[0]}: shapes {sa} and {sb}")
    m, n = sa
    dt = get_aval(a).dtype
    if rcond is None:
        rcond = _eps(a) * max(n, m)
    u, s, vt = svd(a, full_matrices=False)
    rdt = get_aval(s).dtype
    if get_aval(s).shape[-1] == 0:
        mask = jnp.zeros((0,), bool)
    else:
        mask = jnp.greater_equal(s, jnp.multiply(jnp.asarray(rcond, rdt), s[0]))
    rank = jnp.sum(mask)
    safe_s = jnp.where(mask, s, np.ones((), rdt)).astype(dt)
    s_inv = jnp.expand_dims(jnp.where(mask, jnp.divide(np.ones((), dt), safe_s),
                                      np.zeros((), dt)), -1)
    utb = jnp.matmul(_H(u), b)
    x = jnp.matmul(_H(vt), jnp.multiply(s_inv, utb))
    if numpy_resid and (int(rank) < n or m <= n):
        resid = jnp.zeros((0,), rdt)
    else:
        r = jnp.subtract(b, jnp.matmul(a, x))
        resid = jnp.sum(jnp.square(_abs(r)), axis=0)
    if b_vec:
        x = jnp.ravel(x)
    return x, resid, rank, s


def tensorsolve(a, b, axes=None):
    """Solve `tensordot(a, x, x.ndim) = b` for x (as numpy.linalg.tensorsolve)."""
    a, b = _inexact(a, b)
    an = get_aval(a).ndim
    if axes is not None:
        order = [k for k in range(an) if k not in [ax % an for ax in axes]]
        order += [ax % an for ax in axes]
        a = jnp.transpose(a, order)
    bshape = get_aval(b).shape
    x_shape = get_aval(a).shape[len(bshape):]
    n = math.prod(x_shape)
    if math.prod(bshape) != n or get_aval(a).size != n * n:
        raise ValueError(f"jumba.numpy.linalg.tensorsolve: a of shape {get_aval(a).shape} "
                         f"and b of shape {bshape} do not make a square system (prod of "
                         "b's shape must equal the prod of a's remaining axes)")
    x = solve(jnp.reshape(a, (n, n)), jnp.ravel(b))
    return jnp.reshape(x, x_shape)


def tensorinv(a, ind: int = 2):
    """The inverse of `a` with respect to `tensordot(·, ·, ind)`."""
    (a,) = _inexact(a)
    ind = operator.index(ind)
    if ind <= 0:
        raise ValueError(f"jumba.numpy.linalg.tensorinv: ind must be positive, got {ind}")
    shape = get_aval(a).shape
    out_shape = shape[ind:] + shape[:ind]
    rows = math.prod(shape[:ind])
    cols = math.prod(shape[ind:])
    if rows != cols:
        raise ValueError(f"jumba.numpy.linalg.tensorinv: shape {shape} with ind={ind} is not "
                         f"square ({rows} x {cols})")
    return jnp.reshape(inv(jnp.reshape(a, (rows, cols))), out_shape)


def matrix_power(a, n: int):
    """`a` raised to the integer power `n` (negative: powers of the inverse)."""
    (a,) = _inexact(a) if not dtypes.issubdtype(get_aval(a).dtype, np.integer) else (
        jnp.asarray(a),)
    _square("matrix_power", a)
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"jumba.numpy.linalg.matrix_power: exponent must be an integer, got "
                        f"{n!r}") from None
    shape = get_aval(a).shape
    if n == 0:
        return jnp.broadcast_to(np.eye(shape[-1], dtype=get_aval(a).dtype), shape)
    if n < 0:
        a, n = inv(a), -n
    result = None
    base = a
    while n:
        if n & 1:
            result = base if result is None else jnp.matmul(result, base)
        n >>= 1
        if n:
            base = jnp.matmul(base, base)
    return result


def matrix_rank(M, rtol=None, *, hermitian: bool = False, tol=None):  # noqa: N803
    """The number of singular values above `rtol * largest` (default rtol:
    max(M, N) * eps), per matrix."""
    if tol is not None:
        if rtol is not None:
            raise ValueError("matrix_rank: give only one of rtol and tol")
        rtol = tol
    (M,) = _inexact(M)
    if get_aval(M).ndim < 2:
        return jnp.any(jnp.not_equal(M, 0)).astype(np.int32)
    s = svdvals(M)
    if rtol is None:
        rtol = max(get_aval(M).shape[-2:]) * _eps(M)
    rtol = jnp.asarray(rtol, get_aval(s).dtype)
    if get_aval(s).shape[-1] == 0:
        return jnp.zeros(get_aval(s).shape[:-1], dtypes.default_int_dtype())
    cut = jnp.multiply(jnp.expand_dims(rtol, -1), jnp.max(s, axis=-1, keepdims=True))
    return jnp.sum(jnp.greater(s, cut), axis=-1)


def multi_dot(arrays, *, precision=None):
    """The product of a chain of matrices (the first and last may be vectors)."""
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("jumba.numpy.linalg.multi_dot: needs at least two arrays")
    out = arrays[0]
    for x in arrays[1:]:
        out = jnp.matmul(out, x)
    return out


# ---------------------------------------------------------------------------------------
# Norms and condition numbers


def _vector_norm(x, ord, axis, keepdims):  # noqa: A002
    a = _abs(x)
    if ord is None or ord == 2:
        return jnp.sqrt(jnp.sum(jnp.square(a), axis=axis, keepdims=keepdims))
    if ord == np.inf:
        return jnp.max(a, axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return jnp.min(a, axis=axis, keepdims=keepdims)
    if ord == 0:
        return jnp.sum(jnp.not_equal(a, 0).astype(get_aval(a).dtype), axis=axis,
                       keepdims=keepdims)
    if ord == 1:
        return jnp.sum(a, axis=axis, keepdims=keepdims)
    if isinstance(ord, str):
        raise ValueError(f"jumba.numpy.linalg.norm: invalid order {ord!r} for vectors")
    p = np.asarray(ord, get_aval(a).dtype)
    return jnp.power(jnp.sum(jnp.power(a, p), axis=axis, keepdims=keepdims),
                     np.asarray(1.0 / ord, get_aval(a).dtype))


def _matrix_norm(x, ord, axis, keepdims):  # noqa: A002
    r, c = axis
    if ord is None or ord == "fro":
        return _vector_norm(x, None, axis, keepdims)
    if ord in (1, -1, np.inf, -np.inf):
        red, fin = (r, c) if ord in (1, -1) else (c, r)
        if not keepdims and fin > red:
            fin -= 1
        s = jnp.sum(_abs(x), axis=red, keepdims=keepdims)
        return (jnp.max if ord > 0 else jnp.min)(s, axis=fin, keepdims=keepdims)
    if ord in (2, -2, "nuc"):
        y = jnp.moveaxis(x, (r, c), (-2, -1))
        s = svdvals(y)
        out = (jnp.sum(s, axis=-1) if ord == "nuc" else
               jnp.max(s, axis=-1) if ord == 2 else jnp.min(s, axis=-1))
        if keepdims:
            out = jnp.expand_dims(out, tuple(sorted((r, c))))
        return out
    raise ValueError(f"jumba.numpy.linalg.norm: invalid order {ord!r} for matrices; use None, "
                     "'fro', 'nuc', 1, -1, 2, -2, inf or -inf")


def norm(x, ord=None, axis=None, keepdims: bool = False):  # noqa: A002
    """Vector or matrix norm (as numpy.linalg.norm).

    Args:
      x: array.
      ord: order: for vectors None/2, inf, -inf, 0, 1 or any p; for matrices None/'fro',
        'nuc', 1, -1, 2, -2, inf, -inf.
      axis: None (all of a 1-D or 2-D x; any x with ord None), an int (vector norms) or a
        pair (matrix norms).
      keepdims: keep the reduced axes with size 1.
    """
    (x,) = _inexact(x)
    nd = get_aval(x).ndim
    if axis is None:
        if ord is None:
            out = jnp.sqrt(jnp.sum(jnp.square(_abs(x))))
            return jnp.reshape(out, (1,) * nd) if keepdims else out
        if nd not in (1, 2):
            raise ValueError(f"jumba.numpy.linalg.norm: ord={ord!r} needs axis= for an array "
                             f"of {nd} dimensions (only 1-D and 2-D arrays have a default)")
        axis = tuple(range(nd))
    if isinstance(axis, (tuple, list)):
        axis = tuple(operator.index(a) % nd for a in axis)
        if len(axis) == 1:
            return _vector_norm(x, ord, axis, keepdims)
        if len(axis) == 2:
            if axis[0] == axis[1]:
                raise ValueError(f"jumba.numpy.linalg.norm: duplicate axes {axis}")
            return _matrix_norm(x, ord, axis, keepdims)
        raise ValueError(f"jumba.numpy.linalg.norm: axis must be an int or a pair, got {axis}")
    return _vector_norm(x, ord, operator.index(axis) % nd, keepdims)


def vector_norm(x, /, *, axis=None, keepdims: bool = False, ord=2):  # noqa: A002
    """Vector norm over `axis` (None: all elements; a tuple: those axes flattened)."""
    (x,) = _inexact(x)
    shape = get_aval(x).shape
    if axis is None:
        out = _vector_norm(jnp.ravel(x), ord, 0, False)
        return jnp.reshape(out, (1,) * len(shape)) if keepdims else out
    axes = (axis,) if not isinstance(axis, (tuple, list)) else tuple(axis)
    axes = tuple(operator.index(a) % len(shape) for a in axes)
    return _vector_norm(x, ord, axes, keepdims)


def matrix_norm(x, /, *, keepdims: bool = False, ord="fro"):  # noqa: A002
    """Matrix norm over the trailing two axes."""
    (x,) = _inexact(x)
    _matrix("matrix_norm", x)
    nd = get_aval(x).ndim
    return _matrix_norm(x, ord, (nd - 2, nd - 1), keepdims)


def cond(x, p=None):
    """Condition number of matrices (..., M, N): ‖x‖·‖x⁻¹‖ in the norm `p`."""
    (x,) = _inexact(x)
    _matrix("cond", x)
    if p is None or p == 2 or p == -2:
        s = svdvals(x)
        first, last = s[..., 0], s[..., -1]
        return jnp.divide(last, first) if p == -2 else jnp.divide(first, last)
    _square("cond", x)
    r = jnp.multiply(norm(x, ord=p, axis=(-2, -1)), norm(inv(x), ord=p, axis=(-2, -1)))
    # A singular matrix gives NaN through inv: its condition number is infinite.
    no_nan = jnp.logical_not(jnp.any(jnp.isnan(x), axis=(-2, -1)))
    return jnp.where(jnp.logical_and(jnp.isnan(r), no_nan),
                     np.asarray(np.inf, get_aval(r).dtype), r)


# ---------------------------------------------------------------------------------------
# Array-API names


def cross(x1, x2, /, *, axis: int = -1):
    """Cross product of 3-vectors along `axis` (both operands must have size 3 there)."""
    x1, x2 = jnp.promote_dtypes(jnp.asarray(x1), jnp.asarray(x2))
    s1, s2 = get_aval(x1).shape, get_aval(x2).shape
    if not s1 or not s2 or s1[axis] != 3 or s2[axis] != 3:
        raise ValueError(f"jumba.numpy.linalg.cross: both operands need size 3 along axis "
                         f"{axis}; got shapes {s1} and {s2}")
    a = jnp.moveaxis(x1, axis, -1)
    b = jnp.moveaxis(x2, axis, -1)
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    sub, mul = jnp.subtract, jnp.multiply
    out = jnp.stack([sub(mul(a1, b2), mul(a2, b1)), sub(mul(a2, b0), mul(a0, b2)),
                     sub(mul(a0, b1), mul(a1, b0))], axis=-1)
    return jnp.moveaxis(out, -1, axis)


def outer(x1, x2, /):
    """Outer product of two 1-D arrays."""
    x1, x2 = jnp.asarray(x1), jnp.asarray(x2)
    if get_aval(x1).ndim != 1 or get_aval(x2).ndim != 1:
        raise ValueError(f"jumba.numpy.linalg.outer: operands must be 1-D, got shapes "
                         f"{get_aval(x1).shape} and {get_aval(x2).shape} (jumba.numpy.outer "
                         "flattens)")
    return jnp.outer(x1, x2)


def vecdot(x1, x2, /, *, axis: int = -1, precision=None, preferred_element_type=None):
    """Vector dot product along `axis` (the first operand conjugated), broadcasting."""
    x1, x2 = jnp.promote_dtypes(jnp.asarray(x1), jnp.asarray(x2))
    s1, s2 = get_aval(x1).shape, get_aval(x2).shape
    if not s1 or not s2 or s1[axis] != s2[axis]:
        raise ValueError(f"jumba.numpy.linalg.vecdot: axis {axis} must have one size in both "
                         f"operands; got shapes {s1} and {s2}")
    return jnp.sum(jnp.multiply(cn.conj(x1), x2), axis=axis)


def matmul(x1, x2, /, *, precision=None, preferred_element_type=None):
    """Matrix product (as jumba.numpy.matmul)."""
    return jnp.matmul(x1, x2, precision=precision,
                      preferred_element_type=preferred_element_type)


def tensordot(x1, x2, /, *, axes=2, precision=None, preferred_element_type=None):
    """Tensor contraction (as jumba.numpy.tensordot)."""
    return jnp.tensordot(x1, x2, axes, precision=precision,
                         preferred_element_type=preferred_element_type)


def matrix_transpose(x, /):
    """Swap the trailing two axes."""
    return jnp.matrix_transpose(x)


def trace(x, /, *, offset: int = 0, dtype=None):
    """Sum of the diagonal of the trailing two axes."""
    return jnp.trace(x, offset=offset, axis1=-2, axis2=-1, dtype=dtype)


def diagonal(x, /, *, offset: int = 0):
    """The diagonal of the trailing two axes."""
    return jnp.diagonal(x, offset=offset, axis1=-2, axis2=-1)
