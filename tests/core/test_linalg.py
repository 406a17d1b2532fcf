"""jumba.numpy.linalg: one OpSpec table through the five checks (NumPy agreement, jit, vmap,
gradients of order 2 in float64, x64) on well-conditioned hypothesis-drawn matrices, then
the cases a table cannot express (errors, complex conventions, eig, singular matrices)."""

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jumba as jb
import jumba.numpy as jnp
from jumba.test_util import check_grads
from tests.core.numpy_checks import OpSpec, table_tests

LA = jnp.linalg

# ---------------------------------------------------------------------------------------
# Matrix samplers: spectra are controlled (spaced, away from 0) so that every drawn matrix
# is well conditioned and eigen/singular values are distinct (their derivatives finite).


def _rng(data):
    return np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))


def _batch(data, max_dims=2):
    return data.draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=1, max_side=3),
                     label="batch")


def _orthogonal(rng, batch, n):
    q, r = np.linalg.qr(rng.standard_normal((*batch, n, n)))
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


def _spectrum(rng, batch, k, signed=False):
    base = 1.0 + 0.5 * np.arange(k) + rng.uniform(0, 0.2, (*batch, k))
    if signed:
        base = base * rng.choice([-1.0, 1.0], (*batch, k))
    return rng.permuted(base, axis=-1) if k else base


def spd(rng, batch, n):
    q = _orthogonal(rng, batch, n)
    return (q * _spectrum(rng, batch, n)[..., None, :]) @ np.swapaxes(q, -1, -2)


def rect(rng, batch, m, n, signed=False):
    k = min(m, n)
    u = _orthogonal(rng, batch, m)[..., :k]
    v = _orthogonal(rng, batch, n)[..., :k]
    return (u * _spectrum(rng, batch, k, signed)[..., None, :]) @ np.swapaxes(v, -1, -2)


def general(rng, batch, n):
    return rect(rng, batch, n, n, signed=True)


def _draw(kind, *, square=True, min_n=1, tall=False, batch_dims=2):
    def args(data, dtype):
        rng = _rng(data)
        batch = _batch(data, batch_dims)
        n = data.draw(st.integers(min_n, 4), label="n")
        if kind == "spd":
            a = spd(rng, batch, n)
        elif square:
            a = general(rng, batch, n)
        else:
            m = data.draw(st.integers(n if tall else 1, 4), label="m")
            a = rect(rng, batch, m, n)
        return [a.astype(dtype)], {}

    return args


def _solve_args(vector):
    def args(data, dtype):
        rng = _rng(data)
        batch = _batch(data, 1)
        n = data.draw(st.integers(1, 4), label="n")
        a = general(rng, batch, n)
        if vector:
            b = rng.standard_normal(n)
        else:
            # b's batch axes broadcast against a's: drop some leading ones.
            drop = data.draw(st.integers(0, len(batch)), label="drop")
            k = data.draw(st.integers(1, 3), label="k")
            b = rng.standard_normal((*batch[drop:], n, k))
        return [a.astype(dtype), b.astype(dtype)], {}

    return args


def _lstsq_args(data, dtype):
    rng = _rng(data)
    n = data.draw(st.integers(1, 3), label="n")
    m = data.draw(st.integers(n, 4), label="m")
    k = data.draw(st.sampled_from([None, 1, 2]), label="k")
    b = rng.standard_normal((m,) if k is None else (m, k))
    return [rect(rng, (), m, n).astype(dtype), b.astype(dtype)], {}


_VECTOR_ORDS = [None, 2, 1, np.inf, -np.inf, 3]
_MATRIX_ORDS = [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]


def _norm_args(data, dtype):
    rng = _rng(data)
    batch = _batch(data, 1)
    m, n = data.draw(st.integers(1, 4), label="m"), data.draw(st.integers(1, 4), label="n")
    a = rect(rng, batch, m, n, signed=True)
    nd = a.ndim
    mode = data.draw(st.sampled_from(["all", "vector", "matrix"]), label="mode")
    keepdims = data.draw(st.booleans(), label="keepdims")
    if mode == "all":
        kw = {"ord": None}
    elif mode == "vector":
        kw = {"ord": data.draw(st.sampled_from(_VECTOR_ORDS), label="ord"),
              "axis": data.draw(st.integers(-nd, nd - 1), label="axis")}
    else:
        axes = data.draw(st.permutations(range(nd)), label="axes")[:2]
        kw = {"ord": data.draw(st.sampled_from(_MATRIX_ORDS), label="ord"),
              "axis": tuple(axes)}
    return [a.astype(dtype)], {**kw, "keepdims": keepdims}


def _chain_args(data, dtype):
    rng = _rng(data)
    dims = data.draw(st.lists(st.integers(1, 4), min_size=3, max_size=5), label="dims")
    arrays = [rng.standard_normal((p, q)) for p, q in zip(dims[:-1], dims[1:])]
    if data.draw(st.booleans(), label="vector_ends"):
        arrays[0], arrays[-1] = arrays[0][0], arrays[-1][:, 0]
    return [a.astype(dtype) for a in arrays], {}


def _vec_pair(size=None):
    def args(data, dtype):
        rng = _rng(data)
        batch = _batch(data, 2)
        n = size or data.draw(st.integers(1, 4), label="n")
        return [rng.standard_normal((*batch, n)).astype(dtype),
                rng.standard_normal((n,)).astype(dtype)], {}

    return args


def _outer_args(data, dtype):
    rng = _rng(data)
    m, n = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    return [rng.standard_normal(m).astype(dtype), rng.standard_normal(n).astype(dtype)], {}


def _tensorsolve_args(data, dtype):
    rng = _rng(data)
    x_shape = data.draw(st.sampled_from([(2, 3), (6,), (3, 2)]), label="x_shape")
    b_shape = data.draw(st.sampled_from([(6,), (2, 3)]), label="b_shape")
    a = general(rng, (), 6).reshape(*b_shape, *x_shape)
    return [a.astype(dtype), rng.standard_normal(b_shape).astype(dtype)], {}


def _tensorinv_args(data, dtype):
    rng = _rng(data)
    shape = data.draw(st.sampled_from([((2, 3), (6,)), ((4,), (2, 2))]), label="shape")
    a = general(rng, (), int(np.prod(shape[0]))).reshape(*shape[0], *shape[1])
    return [a.astype(dtype)], {"ind": len(shape[0])}


def _power_args(data, dtype):
    [a], _ = _draw("general")(data, dtype)
    return [a], {"n": data.draw(st.integers(-2, 3), label="n")}


def _cond_args(data, dtype):
    [a], _ = _draw("general")(data, dtype)
    return [a], {"p": data.draw(st.sampled_from([None, 2, -2, "fro", 1, np.inf]), label="p")}


def _diag_args(data, dtype):
    rng = _rng(data)
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=4))
    return [rng.standard_normal(shape).astype(dtype)], {
        "offset": data.draw(st.integers(-2, 2), label="offset")}


# Outputs that do not depend on LAPACK's choice of signs for singular/eigen vectors.
def _svd_invariants(la, square):
    def fn(a):
        u, s, vh = la.svd(a, full_matrices=False)
        return s, u * u, vh * vh

    return fn


def _eigh_invariants(la):
    def fn(a):
        w, v = la.eigh(a)
        return w, v * v

    return fn


def _qr_invariants(la):
    def fn(a):
        q, r = la.qr(a)
        return q @ r, r * r

    return fn


def _spec(name, fn, ref, args, nargs=1, **kw):
    return OpSpec(name, fn, ref, nargs, args=args, dtypes=(np.float32,), tol=2e-4, **kw)


SPECS = [
    _spec("solve", LA.solve, np.linalg.solve, _solve_args(False), 2),
    _spec("solve_vector", LA.solve, np.linalg.solve, _solve_args(True), 2),
    _spec("inv", LA.inv, np.linalg.inv, _draw("general")),
    _spec("det", LA.det, np.linalg.det, _draw("general")),
    _spec("slogdet", lambda a: tuple(LA.slogdet(a)), lambda a: tuple(np.linalg.slogdet(a)),
          _draw("general")),
    _spec("cholesky", LA.cholesky, np.linalg.cholesky, _draw("spd")),
    _spec("cholesky_upper", lambda a: LA.cholesky(a, upper=True),
          lambda a: np.linalg.cholesky(a, upper=True), _draw("spd")),
    _spec("qr", _qr_invariants(LA), _qr_invariants(np.linalg),
          _draw("rect", square=False, tall=True)),
    _spec("qr_r", lambda a: LA.qr(a, mode="r") ** 2, lambda a: np.linalg.qr(a, mode="r") ** 2,
          _draw("rect", square=False), grad_order=None),
    _spec("svd", _svd_invariants(LA, False), _svd_invariants(np.linalg, False),
          _draw("rect", square=False)),
    _spec("svdvals", LA.svdvals, np.linalg.svdvals, _draw("rect", square=False)),
    _spec("eigh", _eigh_invariants(LA), _eigh_invariants(np.linalg), _draw("spd")),
    _spec("eigvalsh", LA.eigvalsh, np.linalg.eigvalsh, _draw("spd")),
    _spec("norm", LA.norm, np.linalg.norm, _norm_args),
    _spec("pinv", LA.pinv, np.linalg.pinv, _draw("rect", square=False)),
    _spec("lstsq", lambda a, b: LA.lstsq(a, b)[0], lambda a, b: np.linalg.lstsq(a, b)[0],
          _lstsq_args, 2, vmap=False),
    _spec("matrix_power", LA.matrix_power, np.linalg.matrix_power, _power_args),
    _spec("matrix_rank", LA.matrix_rank, np.linalg.matrix_rank,
          _draw("rect", square=False), grad_order=None),
    _spec("multi_dot", lambda *xs: LA.multi_dot(xs), lambda *xs: np.linalg.multi_dot(xs),
          _chain_args, 3, vmap=False),
    _spec("tensorsolve", LA.tensorsolve, np.linalg.tensorsolve, _tensorsolve_args, 2,
          vmap=False, grad_order=1),
    _spec("tensorinv", LA.tensorinv, np.linalg.tensorinv, _tensorinv_args, vmap=False,
          grad_order=1),
    _spec("cond", LA.cond, np.linalg.cond, _cond_args),
    _spec("cross", LA.cross, np.linalg.cross, _vec_pair(3), 2),
    _spec("outer", LA.outer, np.linalg.outer, _outer_args, 2, vmap=False),
    _spec("vecdot", LA.vecdot, np.linalg.vecdot, _vec_pair(), 2),
    _spec("matrix_norm", lambda a: LA.matrix_norm(a, ord="nuc"),
          lambda a: np.linalg.matrix_norm(a, ord="nuc"), _draw("rect", square=False)),
    _spec("vector_norm", lambda a: LA.vector_norm(a, axis=(-2, -1), ord=3),
          lambda a: np.linalg.vector_norm(a, axis=(-2, -1), ord=3), _draw("general")),
    _spec("trace", LA.trace, np.linalg.trace, _diag_args),
    _spec("diagonal", LA.diagonal, np.linalg.diagonal, _diag_args),
    _spec("matmul", LA.matmul, np.linalg.matmul, _solve_args(False), 2),
    _spec("matrix_transpose", LA.matrix_transpose, np.linalg.matrix_transpose,
          _draw("rect", square=False)),
]

globals().update(table_tests(SPECS, examples=(8, 2, 3, 2, 2)))


def test_every_public_name_is_tested_or_listed():
    import json
    import pathlib

    surface = json.loads((pathlib.Path(__file__).parent.parent / "data" /
                          "linalg_fft_api_surface.json").read_text())["jumba.numpy.linalg"]
    missing = [n for n in surface if not hasattr(LA, n)]
    assert not missing, f"jumba.numpy.linalg lacks {missing}"


# ---------------------------------------------------------------------------------------
# Cases the table cannot express


@pytest.mark.parametrize("fn", [LA.inv, LA.det, LA.slogdet, LA.cholesky, LA.eigh, LA.eig])
def test_non_square_matrix_is_a_clear_error(fn):
    with pytest.raises(ValueError, match=r"square matri.*\(3, 2\).*pinv or lstsq"):
        fn(jnp.ones((3, 2)))


def test_solve_shape_mismatch_names_shapes_and_fix():
    with pytest.raises(ValueError, match=r"needs b with 3 rows.*\(4,\).*b\[\.\.\., None\]"):
        LA.solve(jnp.eye(3), jnp.ones(4))
    with pytest.raises(ValueError, match="do not broadcast"):
        LA.solve(jnp.ones((2, 3, 3)) + jnp.eye(3), jnp.ones((4, 3, 1)))


def test_bad_orders_and_modes_are_clear_errors():
    with pytest.raises(ValueError, match="invalid order 'nuc' for vectors"):
        LA.norm(jnp.ones(3), "nuc")
    with pytest.raises(ValueError, match="needs axis="):
        LA.norm(jnp.ones((2, 2, 2)), 2)
    with pytest.raises(ValueError, match="unsupported mode 'raw'"):
        LA.qr(jnp.ones((2, 2)), mode="raw")


def test_eig_values_and_vectors_satisfy_av_equals_vw():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2, 4, 4)).astype(np.float32)
    w, v = LA.eig(a)
    assert w.dtype == np.complex64 and v.dtype == np.complex64
    np.testing.assert_allclose(np.asarray(a) @ np.asarray(v), np.asarray(v) * np.asarray(w)[
        ..., None, :], atol=1e-4)
    np.testing.assert_allclose(np.sort_complex(np.asarray(LA.eigvals(a)).ravel()),
                               np.sort_complex(np.linalg.eigvals(a).ravel()), atol=1e-4)
    batched = jb.vmap(LA.eigvals)(a)
    np.testing.assert_allclose(np.asarray(batched), np.asarray(LA.eigvals(a)), atol=1e-5)


def test_eig_derivative_is_a_clear_error():
    with pytest.raises(NotImplementedError, match="use eigh"):
        jb.grad(lambda a: jnp.real(LA.eigvals(a)).sum())(jnp.eye(2))


def test_singular_matrix_det_slogdet_and_cholesky_nan():
    a = jnp.asarray([[1.0, 2.0], [2.0, 4.0]])
    assert float(LA.det(a)) == 0.0
    sign, logdet = LA.slogdet(a)
    assert float(sign) == 0.0 and float(logdet) == -np.inf
    assert np.all(np.isnan(np.asarray(LA.cholesky(jnp.asarray([[1.0, 2.0], [2.0, 1.0]])))))


def test_complex_solve_det_and_norm():
    rng = np.random.default_rng(1)
    a = (rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3)) + 3 * np.eye(3))
    a = a.astype(np.complex64)
    b = rng.standard_normal(3).astype(np.complex64)
    np.testing.assert_allclose(np.asarray(LA.solve(a, b)), np.linalg.solve(a, b), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(LA.det(a)), np.linalg.det(a), rtol=1e-4)
    np.testing.assert_allclose(np.asarray(LA.slogdet(a)[0]), np.linalg.slogdet(a)[0],
                               rtol=1e-4)
    np.testing.assert_allclose(np.asarray(LA.norm(a)), np.linalg.norm(a), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(LA.norm(a, 2)), np.linalg.norm(a, 2), rtol=1e-4)


def test_lstsq_residuals_rank_and_singular_values():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((5, 3))
    b = rng.standard_normal((5, 2))
    x, resid, rank, s = LA.lstsq(a, b)
    ex, eresid, erank, es = np.linalg.lstsq(a, b)
    np.testing.assert_allclose(np.asarray(x), ex, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(resid), eresid, rtol=1e-4)
    assert int(rank) == erank
    np.testing.assert_allclose(np.asarray(s), es, rtol=1e-5)


def test_lax_linalg_primitives_under_jit_and_grad():
    with jb.enable_x64():
        rng = np.random.default_rng(3)
        a = spd(rng, (), 3)
        b = rng.standard_normal((3, 2))
        ts = jb.lax.linalg.triangular_solve

        def f(a, b):
            L = jnp.tril(a)
            return ts(L, b, left_side=True, lower=True, transpose_a=True)

        np.testing.assert_allclose(np.asarray(jb.jit(f)(a, b)),
                                   np.linalg.solve(np.tril(a).T, b), rtol=1e-10)
        check_grads(f, (a, b), order=2, modes=("fwd", "rev"))
        lu, piv, perm = jb.lax.linalg.lu(a)
        lo = np.tril(np.asarray(lu), -1) + np.eye(3)
        np.testing.assert_allclose(lo @ np.triu(np.asarray(lu)), a[np.asarray(perm)],
                                   atol=1e-12)


def test_empty_batches_and_empty_matrices():
    eye_batch = np.zeros((0, 3, 3), np.float32) + np.eye(3, dtype=np.float32)
    assert LA.inv(eye_batch).shape == (0, 3, 3)
    assert LA.svdvals(eye_batch).shape == (0, 3)
    empty = np.zeros((2, 0, 0), np.float32)
    np.testing.assert_array_equal(np.asarray(LA.det(empty)), np.linalg.det(empty))
    assert LA.inv(empty).shape == (2, 0, 0)
    assert LA.solve(empty, np.zeros((2, 0, 1), np.float32)).shape == (2, 0, 1)
