"""Linear-algebra primitives (as `jax.lax.linalg`): cholesky, triangular_solve, lu, qr, eigh,
svd, eig, and the row permutation that LU solves need.

Every primitive works on the trailing two axes and is batched over any leading axes, so
vmap just moves the batch axis to the front. Implementations call NumPy/SciPy's LAPACK.
JVP rules are JAX's (their derivations are cited per block); `triangular_solve` is linear
in its right-hand side and `permute_rows` in its operand, with transposes.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from jumba._src import dtypes
from jumba._src.core import Primitive, ShapedArray, get_aval
from jumba._src.interpreters import ad, batching
from jumba._src.interpreters.ad import Zero
from jumba._src.lax import complex as cx
from jumba._src.runtime import blas

# ---------------------------------------------------------------------------------------
# Helpers


def _jnp():
    import jumba.numpy

    return jumba.numpy


def _check_matrix(name, x, *, square=True):
    if x.ndim < 2:
        raise TypeError(f"{name}: expected a matrix (or a batch of matrices, axes (..., M, N)),"
                        f" got an array of shape {x.shape}")
    if square and x.shape[-1] != x.shape[-2]:
        raise TypeError(f"{name}: expected square matrices (..., N, N), got shape {x.shape}. "
                        "Least-squares problems take jumba.numpy.linalg.lstsq or pinv.")
    if not dtypes.is_inexact(x.dtype):
        raise TypeError(f"{name}: expected a floating or complex array, got {x.dtype.name}; "
                        "convert with .astype(float)")


def _each(fn, x, *rest):
    """Apply a per-matrix `fn` over the leading (batch) axes; returns a list of outputs."""
    batch = x.shape[:-2]
    if not batch:
        out = fn(x, *rest)
        return list(out) if isinstance(out, tuple) else [out]
    count = math.prod(batch)  # (not -1: that is ambiguous for empty matrices)
    flat = x.reshape(count, *x.shape[-2:])
    rest_flat = [r.reshape(count, *r.shape[len(batch):]) for r in rest]
    results = [fn(flat[i], *(r[i] for r in rest_flat)) for i in range(flat.shape[0])]
    results = [r if isinstance(r, tuple) else (r,) for r in results]
    if not results:  # an empty batch: run once on zeros for the output shapes
        probe = fn(np.zeros(x.shape[-2:], x.dtype) + np.eye(*x.shape[-2:], dtype=x.dtype),
                   *(np.zeros(r.shape[len(batch):], r.dtype) for r in rest))
        probe = probe if isinstance(probe, tuple) else (probe,)
        return [np.zeros((*batch, *p.shape), p.dtype) for p in probe]
    return [np.stack([r[k] for r in results]).reshape(*batch, *results[0][k].shape)
            for k in range(len(results[0]))]


def _batch_to_front(primitive):
    """Batching rule: every operand's batch axis goes first (unbatched ones broadcast)."""
    def rule(size, vals, dims, **params):
        args = [batching.bdim_at_front(v, d, size) for v, d in zip(vals, dims)]
        out = primitive.bind(*args, **params)
        if primitive.multiple_results:
            return out, [0] * len(out)
        return out, 0

    batching.primitive_batchers[primitive] = rule


def _T(x):
    return _jnp().swapaxes(x, -1, -2)


def _H(x):
    x = _T(x)
    return cx.conj_p.bind(x) if get_aval(x).dtype.kind == "c" else x


def _mm(a, b):
    return _jnp().matmul(a, b)


def _tril(x, k=0):
    return _jnp().tril(x, k)


def _triu(x, k=0):
    return _jnp().triu(x, k)


def _eye_like(x, n=None):
    aval = get_aval(x)
    n = aval.shape[-1] if n is None else n
    return np.eye(n, dtype=aval.dtype)


def _real(x):
    return cx.real(x) if get_aval(x).dtype.kind == "c" else x


def _real_dtype(dt):
    return cx.real_dtype(dt)


# ---------------------------------------------------------------------------------------
# cholesky: the lower factor L of a Hermitian positive-definite matrix (NaN if not PD)

cholesky_p = Primitive("cholesky")


def _cholesky_one(a):
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        return np.full_like(a, np.nan)  # as XLA: a failed factorisation is NaN, not an error


def _lapack(fn):
    """Run a LAPACK-backed impl with BLAS on one thread, as Jumba's products do: on these
    shared 2-core machines OpenBLAS's own threads made a 512x512 LU 6x slower (54 ms vs
    9 ms, scipy.linalg.lu_factor under load), and pmap devices each want one thread."""
    def impl(x, *rest, **params):
        with blas.single_threaded(float(x.size) * x.shape[-1] if x.ndim else 0.0):
            return fn(x, *rest, **params)

    impl.__name__ = fn.__name__
    return impl


@cholesky_p.def_impl
@_lapack
def _cholesky_impl(x):
    try:
        return np.linalg.cholesky(x)
    except np.linalg.LinAlgError:
        return _each(_cholesky_one, x)[0]


@cholesky_p.def_abstract_eval
def _cholesky_abstract_eval(x):
    _check_matrix("cholesky", x)
    return ShapedArray(x.shape, x.dtype, False)


def _cholesky_jvp(primals, tangents):
    # Murray, "Differentiation of the Cholesky decomposition" (arXiv:1602.07527):
    # L̇ = L Φ(L⁻¹ Σ̇ L⁻ᴴ), where Φ keeps the lower triangle and halves the diagonal.
    (x,), (sigma_dot,) = primals, tangents
    L = cholesky_p.bind(x)
    tmp = triangular_solve(L, sigma_dot, left_side=False, lower=True, transpose_a=True,
                           conjugate_a=True)
    inner = triangular_solve(L, tmp, left_side=True, lower=True)
    n = get_aval(x).shape[-1]
    phi = _jnp().multiply(_tril(inner), (np.ones((n, n)) - 0.5 * np.eye(n)).astype(
        get_aval(x).dtype))
    return L, _mm(L, phi)


ad.primitive_jvps[cholesky_p] = _cholesky_jvp
_batch_to_front(cholesky_p)


def cholesky(x, *, symmetrize_input: bool = True):
    """The lower Cholesky factor (`jax.lax.linalg.cholesky`); NaN where `x` is not PD."""
    if symmetrize_input:
        x = symmetrize(x)
    return cholesky_p.bind(x)


def symmetrize(x):
    """(x + xᴴ) / 2: the Hermitian part that factorisations of Hermitian matrices read."""
    jnp = _jnp()
    return jnp.divide(jnp.add(x, _H(x)), np.asarray(2, get_aval(x).dtype))


# ---------------------------------------------------------------------------------------
# triangular_solve: op(a) x = b (left_side) or x op(a) = b; linear in b

triangular_solve_p = Primitive("triangular_solve")


def _trsm_one(a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
    if conjugate_a:
        a = np.conj(a)
    try:
        return _trsm_checked(a, b, left_side, lower, transpose_a, unit_diagonal)
    except np.linalg.LinAlgError:  # a zero pivot: as XLA, inf/NaN rather than an error
        return np.full(b.shape, np.nan, np.result_type(a, b))


def _trsm_checked(a, b, left_side, lower, transpose_a, unit_diagonal):
    if left_side:
        import scipy.linalg  # lazily: importing SciPy's linalg costs ~0.3 s at start-up

        return scipy.linalg.solve_triangular(a, b, trans=int(transpose_a), lower=lower,
                                             unit_diagonal=unit_diagonal, check_finite=False)
    # x op(a) = b  <=>  op(a)ᵀ xᵀ = bᵀ
    import scipy.linalg

    xt = scipy.linalg.solve_triangular(a, b.T, trans=int(not transpose_a), lower=lower,
                                       unit_diagonal=unit_diagonal, check_finite=False)
    return xt.T


@triangular_solve_p.def_impl
@_lapack
def _triangular_solve_impl(a, b, **params):
    out = _each(lambda ai, bi: _trsm_one(ai, bi, **params), a, b)[0]
    return np.asarray(out, dtype=b.dtype)


@triangular_solve_p.def_abstract_eval
def _triangular_solve_abstract_eval(a, b, *, left_side, lower, transpose_a, conjugate_a,
                                    unit_diagonal):
    _check_matrix("triangular_solve", a)
    if b.ndim < 2:
        raise TypeError(f"triangular_solve: b must be a matrix (..., M, N), got shape {b.shape}")
    if a.dtype != b.dtype:
        raise TypeError(f"triangular_solve: a and b must have one dtype, got {a.dtype.name} "
                        f"and {b.dtype.name}")
    if a.shape[:-2] != b.shape[:-2]:
        raise TypeError(f"triangular_solve: batch dimensions differ: a {a.shape}, b {b.shape}")
    k = b.shape[-2] if left_side else b.shape[-1]
    if a.shape[-1] != k:
        side = "rows" if left_side else "columns"
        raise TypeError(f"triangular_solve: a of shape {a.shape} does not fit the {side} of b "
                        f"of shape {b.shape} (left_side={left_side})")
    return ShapedArray(b.shape, b.dtype, False)


def _triangular_solve_jvp_a(g_a, ans, a, b, *, left_side, lower, transpose_a, conjugate_a,
                            unit_diagonal):
    # d(A⁻¹B) = -A⁻¹ dA A⁻¹ B, restricted to dA's triangle; ordered for fewer flops.
    k = 1 if unit_diagonal else 0
    g_a = _tril(g_a, -k) if lower else _triu(g_a, k)
    g_a = _jnp().negative(g_a)
    if transpose_a:
        g_a = _T(g_a)
    if conjugate_a and get_aval(g_a).dtype.kind == "c":
        g_a = cx.conj_p.bind(g_a)
    params = dict(left_side=left_side, lower=lower, transpose_a=transpose_a,
                  conjugate_a=conjugate_a, unit_diagonal=unit_diagonal)
    m, n = get_aval(b).shape[-2:]
    inv = lambda rhs: triangular_solve_p.bind(a, rhs, **params)  # noqa: E731
    if left_side:
        return inv(_mm(g_a, ans)) if m > n else _mm(inv(g_a), ans)
    return inv(_mm(ans, g_a)) if m < n else _mm(ans, inv(g_a))


def _triangular_solve_transpose(ct, a, b, *, left_side, lower, transpose_a, conjugate_a,
                                unit_diagonal):
    if type(ct) is Zero:
        return [None, Zero(b.aval)]
    return [None, triangular_solve_p.bind(
        a, ct, left_side=left_side, lower=lower, transpose_a=not transpose_a,
        conjugate_a=conjugate_a, unit_diagonal=unit_diagonal)]


ad.defjvp2(triangular_solve_p, _triangular_solve_jvp_a,
           lambda g, ans, a, b, **params: triangular_solve_p.bind(a, g, **params))
ad.primitive_transposes[triangular_solve_p] = _triangular_solve_transpose
_batch_to_front(triangular_solve_p)


def triangular_solve(a, b, *, left_side: bool = False, lower: bool = False,
                     transpose_a: bool = False, conjugate_a: bool = False,
                     unit_diagonal: bool = False):
    """Solve `op(a) @ x = b` (left_side) or `x @ op(a) = b` for triangular `a`.

    As `jax.lax.linalg.triangular_solve`: only the `lower` (or upper) triangle of `a` is
    read; `op` transposes and/or conjugates it.
    """
    return triangular_solve_p.bind(a, b, left_side=bool(left_side), lower=bool(lower),
                                   transpose_a=bool(transpose_a),
                                   conjugate_a=bool(conjugate_a),
                                   unit_diagonal=bool(unit_diagonal))


# ---------------------------------------------------------------------------------------
# permute_rows: x[..., perm, :] for an integer permutation per batch entry; linear in x

permute_rows_p = Primitive("permute_rows")


@permute_rows_p.def_impl
def _permute_rows_impl(x, perm):
    if perm.ndim == 1:
        return np.take(x, perm, axis=-2)
    return np.take_along_axis(x, perm[..., :, None].astype(np.intp), axis=-2)


@permute_rows_p.def_abstract_eval
def _permute_rows_abstract_eval(x, perm):
    if x.ndim < 2 or perm.shape != x.shape[:-1] or perm.dtype.kind not in "iu":
        raise TypeError(f"permute_rows: need x (..., M, N) and an integer permutation "
                        f"(..., M); got {x.shape} and {perm.dtype.name}{list(perm.shape)}")
    return ShapedArray(x.shape, x.dtype, x.weak_type)


def _inverse_permutation(perm):
    # inverse[perm[i]] = i, computed as a one-hot contraction (exact for integers).
    jnp = _jnp()
    m = get_aval(perm).shape[-1]
    onehot = jnp.equal(jnp.expand_dims(perm, -1), np.arange(m, dtype=get_aval(perm).dtype))
    return jnp.sum(jnp.where(onehot, np.arange(m, dtype=get_aval(perm).dtype)[:, None], 0),
                   axis=-2).astype(get_aval(perm).dtype)


ad.defjvp(permute_rows_p, lambda g, x, perm: permute_rows_p.bind(g, perm), None)
ad.primitive_transposes[permute_rows_p] = lambda ct, x, perm: [
    permute_rows_p.bind(ct, _inverse_permutation(perm)), None]
_batch_to_front(permute_rows_p)


def permute_rows(x, perm):
    """`x[..., perm, :]` with one permutation per matrix of the batch."""
    return permute_rows_p.bind(x, perm)


# ---------------------------------------------------------------------------------------
# lu: partial-pivoting LU, P A = L U, as (lu, pivots, permutation)

lu_p = Primitive("lu", multiple_results=True)


def _lu_one(a):
    if a.size == 0:
        empty = np.zeros(a.shape[0], np.int32)
        return a.copy(), empty, empty
    with warnings.catch_warnings():
        # A singular matrix factors fine (U has a zero pivot); its solves give inf/NaN.
        import scipy.linalg

        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        lu, piv = scipy.linalg.lu_factor(a, check_finite=False)
    perm = np.arange(a.shape[0])
    for i, p in enumerate(piv):
        perm[i], perm[p] = perm[p], perm[i]
    return lu, piv.astype(np.int32), perm.astype(np.int32)


@lu_p.def_impl
@_lapack
def _lu_impl(x):
    lu, piv, perm = _each(_lu_one, x)
    return [lu.astype(x.dtype, copy=False), piv, perm]


@lu_p.def_abstract_eval
def _lu_abstract_eval(x):
    _check_matrix("lu", x)
    n = x.shape[-1]
    return [ShapedArray(x.shape, x.dtype, False),
            ShapedArray((*x.shape[:-2], n), np.int32, False),
            ShapedArray((*x.shape[:-2], n), np.int32, False)]


lu_p.weak_type_rule = lambda w: [False, False, False]


def _lu_jvp(primals, tangents):
    # De Hoog, Anderssen & Lukas, "Differentiation of matrix functionals using triangular
    # factorization": with F = L⁻¹ P Ȧ U⁻¹, L̇ = L tril(F, -1) and U̇ = triu(F) U.
    (a,), (a_dot,) = primals, tangents
    lu, pivots, perm = lu_p.bind(a)
    eye = _eye_like(a)
    jnp = _jnp()
    l_mat = jnp.add(_tril(lu, -1), eye)
    u_mat = _triu(lu)
    x = permute_rows(a_dot, perm)
    la = triangular_solve(l_mat, x, left_side=True, lower=True, unit_diagonal=True)
    lau = triangular_solve(u_mat, la, left_side=False, lower=False)
    lu_dot = jnp.add(_mm(l_mat, _tril(lau, -1)), _mm(_triu(lau), u_mat))
    return [lu, pivots, perm], [lu_dot, Zero(ad.tangent_aval(get_aval(pivots))),
                                Zero(ad.tangent_aval(get_aval(perm)))]


ad.primitive_jvps[lu_p] = _lu_jvp
_batch_to_front(lu_p)


def lu(x):
    """LU with partial pivoting (`jax.lax.linalg.lu`) of square matrices.

    Returns:
      `(lu, pivots, permutation)`: L (unit diagonal, below) and U packed in one matrix,
      LAPACK's 0-based row swaps, and the permutation with `x[perm] == L @ U`.
    """
    return tuple(lu_p.bind(x))


# ---------------------------------------------------------------------------------------
# qr

qr_p = Primitive("qr", multiple_results=True)


@qr_p.def_impl
@_lapack
def _qr_impl(x, *, full_matrices):
    q, r = np.linalg.qr(x, mode="complete" if full_matrices else "reduced")
    return [q.astype(x.dtype, copy=False), r.astype(x.dtype, copy=False)]


@qr_p.def_abstract_eval
def _qr_abstract_eval(x, *, full_matrices):
    _check_matrix("qr", x, square=False)
    *b, m, n = x.shape
    k = m if full_matrices else min(m, n)
    return [ShapedArray((*b, m, k), x.dtype, False), ShapedArray((*b, k, n), x.dtype, False)]


qr_p.weak_type_rule = lambda w, **p: [False, False]


def _qr_jvp(primals, tangents, *, full_matrices):
    # J. Townsend, "Differentiating the QR decomposition" (2018), for m >= n.
    (x,), (dx,) = primals, tangents
    q, r = qr_p.bind(x, full_matrices=False)
    *_, m, n = get_aval(x).shape
    if m < n or (full_matrices and m != n):
        raise NotImplementedError(
            "The derivative of qr is defined for M >= N with mode='reduced' (as in JAX); got "
            f"shape {get_aval(x).shape}, full_matrices={full_matrices}.")
    jnp = _jnp()
    dx_rinv = triangular_solve(r, dx)  # dx R⁻¹
    qt_dx_rinv = _mm(_H(q), dx_rinv)
    low = _tril(qt_dx_rinv, -1)
    do = jnp.subtract(low, _H(low))  # skew-symmetric
    if get_aval(x).dtype.kind == "c":
        eye = _eye_like(x, n)
        do = jnp.add(do, jnp.multiply(eye, jnp.subtract(qt_dx_rinv,
                                                         _real(qt_dx_rinv).astype(
                                                             get_aval(x).dtype))))
    dq = jnp.add(_mm(q, jnp.subtract(do, qt_dx_rinv)), dx_rinv)
    dr = _mm(jnp.subtract(qt_dx_rinv, do), r)
    return [q, r], [dq, dr]


ad.primitive_jvps[qr_p] = _qr_jvp
_batch_to_front(qr_p)


def qr(x, *, full_matrices: bool = True):
    """QR decomposition (`jax.lax.linalg.qr`): returns `(q, r)`."""
    return tuple(qr_p.bind(x, full_matrices=bool(full_matrices)))


# ---------------------------------------------------------------------------------------
# eigh: eigenvectors and (ascending) eigenvalues of a Hermitian matrix, as (v, w)

eigh_p = Primitive("eigh", multiple_results=True)


@eigh_p.def_impl
@_lapack
def _eigh_impl(x, *, lower):
    w, v = np.linalg.eigh(x, UPLO="L" if lower else "U")
    return [v.astype(x.dtype, copy=False), w.astype(_real_dtype(x.dtype), copy=False)]


@eigh_p.def_abstract_eval
def _eigh_abstract_eval(x, *, lower):
    _check_matrix("eigh", x)
    return [ShapedArray(x.shape, x.dtype, False),
            ShapedArray(x.shape[:-1], _real_dtype(x.dtype), False)]


eigh_p.weak_type_rule = lambda w, **p: [False, False]


def _eigh_jvp(primals, tangents, *, lower):
    # Giles, "An extended collection of matrix derivative results" (2008): with
    # S = Vᴴ Ȧ V, ẇ = diag(S) and V̇ = V (F ∘ S), F_ij = 1 / (w_j - w_i) off the diagonal.
    (a,), (a_dot,) = primals, tangents
    v, w_real = eigh_p.bind(a, lower=lower)
    jnp = _jnp()
    dt = get_aval(a).dtype
    w = w_real.astype(dt) if dt.kind == "c" else w_real
    eye = _eye_like(a)
    diff = jnp.subtract(jnp.expand_dims(w, -2), jnp.expand_dims(w, -1))
    fmat = jnp.subtract(jnp.divide(np.ones((), dt), jnp.add(eye, diff)), eye)
    s = _mm(_mm(_H(v), a_dot), v)
    dv = _mm(v, jnp.multiply(fmat, s))
    dw = _real(jnp.diagonal(s, axis1=-2, axis2=-1))
    return [v, w_real], [dv, dw]


ad.primitive_jvps[eigh_p] = _eigh_jvp
_batch_to_front(eigh_p)


def eigh(x, *, lower: bool = True, symmetrize_input: bool = True):
    """Eigenvectors and eigenvalues of Hermitian matrices (`jax.lax.linalg.eigh`).

    Returns `(v, w)` with `x @ v == v * w` and `w` ascending.
    """
    if symmetrize_input:
        x = symmetrize(x)
    return tuple(eigh_p.bind(x, lower=bool(lower)))


# ---------------------------------------------------------------------------------------
# svd: (s, u, vt), or [s] alone without compute_uv

svd_p = Primitive("svd", multiple_results=True)


@svd_p.def_impl
@_lapack
def _svd_impl(x, *, full_matrices, compute_uv):
    rdt = _real_dtype(x.dtype)
    if not compute_uv:
        return [np.linalg.svd(x, compute_uv=False).astype(rdt, copy=False)]
    u, s, vt = np.linalg.svd(x, full_matrices=full_matrices)
    return [s.astype(rdt, copy=False), u.astype(x.dtype, copy=False),
            vt.astype(x.dtype, copy=False)]


@svd_p.def_abstract_eval
def _svd_abstract_eval(x, *, full_matrices, compute_uv):
    _check_matrix("svd", x, square=False)
    *b, m, n = x.shape
    k = min(m, n)
    s = ShapedArray((*b, k), _real_dtype(x.dtype), False)
    if not compute_uv:
        return [s]
    mu, nv = (m, n) if full_matrices else (k, k)
    return [s, ShapedArray((*b, m, mu), x.dtype, False),
            ShapedArray((*b, nv, n), x.dtype, False)]


svd_p.weak_type_rule = lambda w, *, full_matrices, compute_uv: [False] * (
    3 if compute_uv else 1)


def _svd_jvp(primals, tangents, *, full_matrices, compute_uv):
    # Townsend, "Differentiating the singular value decomposition" (2016), as JAX's rule.
    (a,), (da,) = primals, tangents
    if compute_uv and full_matrices:
        raise NotImplementedError(
            "The derivative of svd with full_matrices=True is not implemented (as in JAX); "
            "use full_matrices=False.")
    s, u, vt = svd_p.bind(a, full_matrices=False, compute_uv=True)
    jnp = _jnp()
    dt = get_aval(a).dtype
    ut, v = _H(u), _H(vt)
    ds_mat = _mm(_mm(ut, da), v)
    ds = _real(jnp.diagonal(ds_mat, axis1=-2, axis2=-1))
    if not compute_uv:
        return [s], [ds]
    k = get_aval(s).shape[-1]
    s_row = jnp.expand_dims(s, -2)
    s_col = jnp.expand_dims(s, -1)
    eye = np.eye(k, dtype=get_aval(s).dtype)
    s_diffs = jnp.multiply(jnp.add(s_row, s_col), jnp.subtract(s_row, s_col))
    f = jnp.subtract(jnp.divide(np.ones((), get_aval(s).dtype), jnp.add(s_diffs, eye)), eye)
    s_row_c, s_col_c = s_row.astype(dt), s_col.astype(dt)
    dss = jnp.multiply(s_row_c, ds_mat)
    sds = jnp.multiply(s_col_c, ds_mat)
    s_zeros = jnp.equal(s, 0).astype(get_aval(s).dtype)
    s_inv = jnp.subtract(jnp.divide(1, jnp.add(s, s_zeros)), s_zeros)
    s_inv_mat = jnp.multiply(jnp.expand_dims(s_inv, -1), eye).astype(dt)
    half = np.asarray(0.5, dt)
    du_dv_diag = jnp.multiply(jnp.multiply(half, jnp.subtract(ds_mat, _H(ds_mat))), s_inv_mat)
    f = f.astype(dt)
    du = _mm(u, jnp.add(jnp.multiply(f, jnp.add(dss, _H(dss))), du_dv_diag))
    dv = _mm(v, jnp.multiply(f, jnp.add(sds, _H(sds))))
    m, n = get_aval(a).shape[-2:]
    if m > n:
        dav = _mm(da, v)
        du = jnp.add(du, jnp.divide(jnp.subtract(dav, _mm(u, _mm(ut, dav))), s_row_c))
    if n > m:
        dahu = _mm(_H(da), u)
        dv = jnp.add(dv, jnp.divide(jnp.subtract(dahu, _mm(v, _mm(vt, dahu))), s_row_c))
    return [s, u, vt], [ds, du, _H(dv)]


ad.primitive_jvps[svd_p] = _svd_jvp
_batch_to_front(svd_p)


def svd(x, *, full_matrices: bool = True, compute_uv: bool = True):
    """Singular value decomposition (`jax.lax.linalg.svd`).

    Returns `(u, s, vt)` with descending `s`, or `s` alone when `compute_uv` is False.
    """
    out = svd_p.bind(x, full_matrices=bool(full_matrices), compute_uv=bool(compute_uv))
    if not compute_uv:
        return out[0]
    s, u, vt = out
    return u, s, vt


# ---------------------------------------------------------------------------------------
# eig: eigenvalues (and right eigenvectors) of a general square matrix; complex results

eig_p = Primitive("eig", multiple_results=True)


@eig_p.def_impl
@_lapack
def _eig_impl(x, *, compute_eigenvectors):
    cdt = cx.complex_dtype(x.dtype)
    if not compute_eigenvectors:
        return [np.linalg.eigvals(x).astype(cdt)]
    w, v = np.linalg.eig(x)
    return [w.astype(cdt), v.astype(cdt)]


@eig_p.def_abstract_eval
def _eig_abstract_eval(x, *, compute_eigenvectors):
    _check_matrix("eig", x)
    cdt = cx.complex_dtype(x.dtype)
    w = ShapedArray(x.shape[:-1], cdt, False)
    return [w, ShapedArray(x.shape, cdt, False)] if compute_eigenvectors else [w]


eig_p.weak_type_rule = lambda w, *, compute_eigenvectors: [False] * (
    2 if compute_eigenvectors else 1)


def _eig_jvp(primals, tangents, *, compute_eigenvectors):
    raise NotImplementedError(
        "Derivatives of jumba.numpy.linalg.eig/eigvals are not implemented (their complex "
        "outputs of a real input need holomorphic conventions). For symmetric or Hermitian "
        "matrices use eigh/eigvalsh, which are differentiable.")


ad.primitive_jvps[eig_p] = _eig_jvp
_batch_to_front(eig_p)


def eig(x, *, compute_eigenvectors: bool = True):
    """Eigenvalues `w` (and right eigenvectors `v`) of general square matrices, complex."""
    return tuple(eig_p.bind(x, compute_eigenvectors=bool(compute_eigenvectors)))
