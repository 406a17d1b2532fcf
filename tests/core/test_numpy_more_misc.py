"""The remaining jumba.numpy functions: more elementwise functions (gcd ... i0), products,
interp/unwrap/select/piecewise, array manipulation, windows and grids, vectorize/ufunc, and
the host-side helpers. Table checks where NumPy referees, direct tests elsewhere."""

import io
import warnings

import numpy as np
import pytest
from hypothesis import strategies as st

import jumba as jb
import jumba.numpy as jnp
from tests.core.numpy_checks import (
    FLOAT,
    INT,
    NUMERIC,
    OpSpec,
    away_from,
    away_from_halves,
    table_tests,
    uniform,
    with_specials,
)

U = uniform


def _ints_pair(lo, hi):
    return (U(lo, hi), U(lo, hi))


def _interp_args(data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    n = data.draw(st.integers(1, 6))
    xp = np.cumsum(rng.uniform(0.2, 1.5, n)) - 2
    fp = rng.uniform(-2, 2, n)
    x = rng.uniform(-3, 4, data.draw(st.integers(0, 5)))
    return [x.astype(dtype), xp.astype(dtype), fp.astype(dtype)], {}


def _unwrap_args(data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    shape = data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=2).map(tuple))
    p = np.cumsum(rng.uniform(-5, 5, shape), axis=-1)
    return [p.astype(dtype)], {"axis": data.draw(st.integers(-len(shape), len(shape) - 1))}


def _cross_args(data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    lead = data.draw(st.lists(st.integers(1, 3), max_size=2).map(tuple))
    na, nb = data.draw(st.sampled_from([(3, 3), (2, 3), (3, 2)]))
    a = rng.uniform(-2, 2, lead + (na,)).astype(dtype)
    b = rng.uniform(-2, 2, lead + (nb,)).astype(dtype)
    return [a, b], {}


def _np_cross(a, b):
    with warnings.catch_warnings():  # NumPy 2 deprecates 2-vectors; JAX keeps them
        warnings.simplefilter("ignore", DeprecationWarning)
        return np.cross(a, b)


def _kron_args(data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    s1 = data.draw(st.lists(st.integers(1, 3), max_size=3).map(tuple))
    s2 = data.draw(st.lists(st.integers(1, 3), max_size=3).map(tuple))
    return [rng.uniform(-2, 2, s1).astype(dtype), rng.uniform(-2, 2, s2).astype(dtype)], {}


def _vec_args(kind):
    def draw(data, dtype):
        rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
        lead = data.draw(st.lists(st.integers(1, 3), max_size=2).map(tuple))
        n, m = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
        shapes = {"vecdot": ((n,), (n,)), "matvec": ((m, n), (n,)),
                  "vecmat": ((n,), (n, m))}[kind]
        return [rng.uniform(-2, 2, lead + s).astype(dtype) for s in shapes], {}

    return draw


def _select_args(data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    shape = data.draw(st.lists(st.integers(0, 3), max_size=2).map(tuple))
    x = rng.uniform(-3, 3, shape).astype(dtype)
    return [x], {}


def _select_fn(x):
    return jnp.select([x < -1, x > 1], [x * 2, jnp.sin(x)], default=0.5)


def _select_ref(x):
    return np.select([x < -1, x > 1], [x * 2, np.sin(x)], default=0.5)


def _piecewise_fn(x):
    return jnp.piecewise(x, [x < -1, x > 1], [lambda v: v ** 2, lambda v: -v, 0.25])


def _piecewise_ref(x):
    return np.piecewise(x, [x < -1, x > 1], [lambda v: v ** 2, lambda v: -v, 0.25])


def _axes_kw(shapes):
    nd = len(shapes[0])
    return st.fixed_dictionaries({"k": st.integers(-2, 5), "axes": st.permutations(
        range(nd)).map(lambda p: tuple(p[:2]))})


def _insert_args(data, dtype):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = rng.uniform(-2, 2, (3, 4)).astype(dtype)
    case = data.draw(st.sampled_from([
        (1, np.array([7.0]), None), ([0, 2], np.array([5.0, 6.0]), 1),
        (slice(1, 3), np.array(9.0), 0), (4, np.array([[1.0], [2.0], [3.0]]), 1)]))
    obj, vals, axis = case
    return [x, vals.astype(dtype)], {"obj": obj, "axis": axis}


def _insert_fn(x, v, obj, axis):
    return jnp.insert(x, obj, v, axis)


def _insert_ref(x, v, obj, axis):
    return np.insert(x, obj, v, axis)


def _delete_kw(shapes):
    return st.fixed_dictionaries({"obj": st.sampled_from([0, [0, 2], slice(None, None, 2)]),
                                  "axis": st.sampled_from([None, 0, -1])})


SPECS = [
    OpSpec("gcd", jnp.gcd, np.gcd, nargs=2, domain=_ints_pair(-30, 30), dtypes=INT,
           grad_order=None),
    OpSpec("lcm", jnp.lcm, np.lcm, nargs=2, domain=_ints_pair(-30, 30), dtypes=INT,
           grad_order=None),
    OpSpec("frexp", jnp.frexp, np.frexp, domain=with_specials(U(-1e4, 1e4)), dtypes=FLOAT,
           grad_order=None, check_dtype=False),
    OpSpec("ldexp", jnp.ldexp, np.ldexp, nargs=2, domain=(U(-3, 3), U(-10, 10)),
           dtypes=FLOAT, grad_order=None, check_dtype=False,
           args=lambda data, dt: ([np.random.default_rng(data.draw(st.integers(
               0, 99))).uniform(-3, 3, 4).astype(dt), np.array([-3, 0, 2, 9], np.int32)],
               {})),
    OpSpec("modf", jnp.modf, np.modf, domain=away_from_halves(), dtypes=FLOAT),
    OpSpec("spacing", jnp.spacing, np.spacing, domain=away_from([0.0]), dtypes=FLOAT,
           grad_order=None),
    OpSpec("i0", jnp.i0, np.i0, domain=U(-40, 40), dtypes=FLOAT, tol=1e-5,
           grad_domain=U(-5, 5)),
    OpSpec("bitwise_count", jnp.bitwise_count, np.bitwise_count, domain=U(-1000, 1000),
           dtypes=INT, grad_order=None),
    OpSpec("fabs", jnp.fabs, np.fabs, domain=away_from([0.0]), dtypes=NUMERIC,
           check_dtype=False),
    OpSpec("fmax", jnp.fmax, np.fmax, nargs=2, domain=with_specials(), dtypes=NUMERIC,
           grad_domain=U(), grad_order=None),
    OpSpec("fmin", jnp.fmin, np.fmin, nargs=2, domain=with_specials(), dtypes=NUMERIC,
           grad_order=None),
    OpSpec("nan_to_num", jnp.nan_to_num, np.nan_to_num, domain=with_specials(),
           dtypes=NUMERIC, grad_domain=U()),
    OpSpec("isreal", jnp.isreal, np.isreal, dtypes=NUMERIC, grad_order=None),
    OpSpec("iscomplex", jnp.iscomplex, np.iscomplex, dtypes=NUMERIC, grad_order=None),
    OpSpec("interp", jnp.interp, np.interp, nargs=3, args=_interp_args, tol=1e-5,
           grad_argnums=(2,)),
    OpSpec("unwrap", jnp.unwrap, np.unwrap, args=_unwrap_args, tol=1e-5),
    OpSpec("select", _select_fn, _select_ref, args=_select_args, tol=1e-6,
           grad_order=None),
    OpSpec("piecewise", _piecewise_fn, _piecewise_ref, args=_select_args, grad_order=None),
    OpSpec("cross", jnp.cross, _np_cross, nargs=2, args=_cross_args, tol=1e-5),
    OpSpec("kron", jnp.kron, np.kron, nargs=2, args=_kron_args, tol=1e-5),
    OpSpec("vecdot", jnp.vecdot, np.vecdot, nargs=2, args=_vec_args("vecdot"), tol=1e-5),
    OpSpec("matvec", jnp.matvec, np.matvec, nargs=2, args=_vec_args("matvec"), tol=1e-5),
    OpSpec("vecmat", jnp.vecmat, np.vecmat, nargs=2, args=_vec_args("vecmat"), tol=1e-5),
    OpSpec("rot90", jnp.rot90, np.rot90, min_dims=2, kwargs=_axes_kw, dtypes=NUMERIC),
    OpSpec("insert", _insert_fn, _insert_ref, nargs=2, args=_insert_args),
    OpSpec("delete", jnp.delete, np.delete, min_dims=1, min_side=3, kwargs=_delete_kw,
           dtypes=NUMERIC),
    OpSpec("resize", lambda x: jnp.resize(x, (2, 5)), lambda x: np.resize(x, (2, 5)),
           min_side=1, dtypes=NUMERIC),
    OpSpec("append", lambda x, y: jnp.append(x, y), lambda x, y: np.append(x, y), nargs=2,
           dtypes=NUMERIC),
    OpSpec("kaiser", lambda b: jnp.kaiser(6, b), lambda b: np.kaiser(6, b), min_dims=0,
           max_dims=0, domain=U(0.5, 8), tol=1e-5, vmap=False),
    OpSpec("apply_along_axis", lambda x: jnp.apply_along_axis(jnp.cumsum, 1, x),
           lambda x: np.apply_along_axis(np.cumsum, 1, x), min_dims=2, min_side=1,
           tol=1e-5),
    OpSpec("packbits", lambda x: jnp.packbits(x, axis=-1), lambda x: np.packbits(x, axis=-1),
           min_dims=1, dtypes=(np.bool_,), grad_order=None),
]

globals().update(table_tests(SPECS, examples=(6, 2, 2, 2, 1)))


def test_windows_match_numpy():
    for name in ("bartlett", "blackman", "hamming", "hanning"):
        for m in (0, 1, 2, 5, 8):
            np.testing.assert_allclose(getattr(jnp, name)(m), getattr(np, name)(m),
                                       atol=1e-6, err_msg=f"{name}({m})")
    np.testing.assert_allclose(jnp.kaiser(5, 0.0), np.kaiser(5, 0.0), atol=1e-6)
    with pytest.raises(TypeError, match="static int"):
        jnp.hanning(jnp.array(3.5))


def test_grids_and_creation():
    for a, b in zip(jnp.meshgrid(jnp.arange(2), jnp.arange(3), jnp.arange(4)),
                    np.meshgrid(np.arange(2), np.arange(3), np.arange(4))):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(jnp.meshgrid(jnp.arange(2), jnp.arange(3), indexing="ij", sparse=True),
                    np.meshgrid(np.arange(2), np.arange(3), indexing="ij", sparse=True)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(jnp.mgrid[0:3, 0:2], np.mgrid[0:3, 0:2])
    np.testing.assert_allclose(jnp.mgrid[0:1:5j], np.mgrid[0:1:5j])
    for a, b in zip(jnp.ogrid[0:3, 1:4], np.ogrid[0:3, 1:4]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(jnp.indices((2, 3)), np.indices((2, 3)))
    np.testing.assert_array_equal(jnp.fromfunction(lambda i, j: i * 10 + j, (2, 3)),
                                  np.fromfunction(lambda i, j: i * 10 + j, (2, 3)))
    np.testing.assert_array_equal(jnp.tri(3, 4, 1), np.tri(3, 4, 1))
    np.testing.assert_allclose(jnp.logspace(0, 2, 5, base=2.0), np.logspace(0, 2, 5, base=2))
    np.testing.assert_allclose(jnp.geomspace(1, 1000, 4), [1, 10, 100, 1000], rtol=1e-6)
    np.testing.assert_allclose(jnp.geomspace(-1, -100, 3), [-1, -10, -100], rtol=1e-6)
    for a, b in zip(jnp.mask_indices(3, jnp.triu), np.mask_indices(3, np.triu)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(jnp.r_[1:4, 0, np.array([7, 8])],
                                  np.r_[1:4, 0, np.array([7, 8])])
    np.testing.assert_array_equal(jnp.c_[np.array([1, 2]), np.array([3, 4])],
                                  np.c_[np.array([1, 2]), np.array([3, 4])])
    np.testing.assert_array_equal(jnp.r_["0,2,0", [1, 2], [3, 4]],
                                  np.r_["0,2,0", [1, 2], [3, 4]])
    assert jnp.s_[1:2] == np.s_[1:2] and jnp.index_exp[1] == (1,)


def test_manipulation():
    x = np.arange(24).reshape(2, 3, 4)
    assert jnp.rollaxis(x, 2, 1).shape == np.rollaxis(x, 2, 1).shape
    a = np.arange(6)
    np.testing.assert_array_equal(jnp.place(a, a % 2 == 0, [10, 20], inplace=False),
                                  [10, 1, 20, 3, 10, 5])
    z = np.zeros((5, 3))
    ez = z.copy()
    np.fill_diagonal(ez, [1, 2], wrap=True)
    np.testing.assert_array_equal(jnp.fill_diagonal(z, jnp.array([1.0, 2.0]), True,
                                                    inplace=False), ez)
    np.testing.assert_array_equal(jnp.diagflat([[1, 2], [3, 4]], 1),
                                  np.diagflat([[1, 2], [3, 4]], 1))
    blocks = [[np.eye(2), np.ones((2, 3))], [np.zeros((1, 2)), np.ones((1, 3))]]
    np.testing.assert_array_equal(jnp.block(blocks), np.block(blocks))
    assert [u.shape for u in jnp.unstack(x, axis=1)] == [(2, 4)] * 3
    np.testing.assert_array_equal(jnp.apply_over_axes(jnp.sum, x, [0, 2]),
                                  np.apply_over_axes(np.sum, x, [0, 2]))
    with pytest.raises(ValueError, match="inplace=False"):
        jnp.place(a, a > 2, [1])
    with pytest.raises(ValueError, match="inplace=False"):
        jnp.fill_diagonal(z, 1.0)
    with pytest.raises(jb.ConcretizationTypeError, match="static"):
        jb.jit(lambda i: jnp.delete(jnp.arange(3), i))(1)


def test_vectorize_and_ufunc():
    vf = jnp.vectorize(lambda a, b: a + 2 * b)
    np.testing.assert_array_equal(vf(np.arange(3), np.arange(2)[:, None]),
                                  np.arange(3) + 2 * np.arange(2)[:, None])
    dot = jnp.vectorize(jnp.dot, signature="(n),(n)->()")
    np.testing.assert_allclose(dot(np.ones((2, 3)), np.arange(3.0)), [3.0, 3.0])
    g = jb.grad(lambda x: jnp.sum(dot(x, x)))(jnp.ones((2, 3)))
    np.testing.assert_allclose(g, 2 * np.ones((2, 3)))
    with pytest.raises(ValueError, match="signature"):
        jnp.vectorize(jnp.dot, signature="(n)->")(np.ones(2))
    with pytest.raises(ValueError, match="inconsistent size"):
        dot(np.ones(2), np.ones(3))
    u = jnp.frompyfunc(lambda a, b: a * b + 1, 2, 1)
    np.testing.assert_array_equal(u.outer(np.arange(3), np.arange(2)),
                                  np.arange(3)[:, None] * np.arange(2) + 1)
    assert u.reduce(np.arange(1, 4)) == 10
    np.testing.assert_array_equal(u.accumulate(np.arange(1, 4)), [1, 3, 10])
    np.testing.assert_array_equal(u.at(np.zeros(3), [0, 0], 2.0, inplace=False), [3, 0, 0])
    assert isinstance(u, jnp.ufunc)


def test_integer_functions_edges():
    np.testing.assert_array_equal(jnp.gcd(jnp.array([2**30, 0]), jnp.array([2**29 + 1, 0])),
                                  np.gcd([2**30, 0], [2**29 + 1, 0]))
    np.testing.assert_array_equal(jnp.bitwise_count(jnp.array([-2**31], jnp.int32)), [1])
    assert jnp.bitwise_count(jnp.array([3])).dtype == jnp.uint8
    bits = np.random.default_rng(0).random((3, 11)) > 0.5
    packed = np.packbits(bits, axis=1, bitorder="little")
    np.testing.assert_array_equal(jnp.unpackbits(packed, axis=1, count=11,
                                                 bitorder="little"), bits)
    with pytest.raises(TypeError, match="integers"):
        jnp.gcd(1.5, 2)
    with pytest.raises(TypeError, match="uint8"):
        jnp.unpackbits(jnp.arange(3))


def test_interp_period_and_extrapolate():
    xp, fp = np.array([1.0, 2.0, 6.0]), np.array([0.0, 3.0, 1.0])
    x = np.linspace(-2, 9, 12)
    np.testing.assert_allclose(jnp.interp(x, xp, fp, period=5), np.interp(x, xp, fp, period=5),
                               rtol=1e-5, atol=1e-6)
    out = jnp.interp(jnp.array([0.0, 7.0]), xp, fp, left="extrapolate", right="extrapolate")
    np.testing.assert_allclose(out, [-3.0, 0.5])


def test_host_helpers(tmp_path):
    x = jnp.arange(3.0)
    assert jnp.array_repr(x) == np.array_repr(np.arange(3.0, dtype=np.float32))
    assert jnp.array_str(x) == np.array_str(np.arange(3.0, dtype=np.float32))
    with jnp.printoptions(precision=2):
        assert jnp.get_printoptions()["precision"] == 2
    path = tmp_path / "a.npy"
    jnp.save(path, x)
    np.testing.assert_array_equal(jnp.load(path), x)
    buf = io.BytesIO()
    jnp.savez(buf, a=x)
    buf.seek(0)
    np.testing.assert_array_equal(np.load(buf)["a"], x)
    np.testing.assert_array_equal(jnp.frombuffer(np.arange(3.0).tobytes()), [0, 1, 2])
    np.testing.assert_array_equal(jnp.fromstring("1 2", sep=" "), [1.0, 2.0])
    np.testing.assert_array_equal(jnp.from_dlpack(np.arange(3)), [0, 1, 2])
    with pytest.raises(NotImplementedError, match="non-pure"):
        jnp.fromiter(range(3), int)
    with pytest.raises(NotImplementedError, match="non-pure"):
        jnp.fromfile("x")
    assert bool(jnp.array_equiv([1, 2], [[1, 2], [1, 2]]))
    assert not bool(jnp.array_equiv([1, 2], [1, 2, 3]))
    assert jnp.iterable([1]) and not jnp.iterable(1)
    assert jnp.isdtype(jnp.float32, "real floating")
    assert jnp.isdtype(jnp.int8, ("bool", "signed integer"))
    assert not jnp.isdtype(jnp.uint8, "signed integer")
    with pytest.raises(ValueError, match="unknown kind"):
        jnp.isdtype(jnp.float32, "floaty")
    assert jnp.single is np.float32 and jnp.cdouble is np.complex128 and jnp.bool is np.bool_
