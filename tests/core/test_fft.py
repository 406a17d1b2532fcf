"""jumba.numpy.fft and the complex-number functions: an OpSpec table through the five
checks (complex inputs and outputs are passed as real and imaginary parts, so that
`check_grads` exercises the complex primitives' rules), then JAX's complex-gradient
convention, the primitive's transposes, helpers and errors."""

import numpy as np
import pytest
from hypothesis import strategies as st

import jumba as jb
import jumba.numpy as jnp
from jumba.test_util import check_grads
from tests.core.numpy_checks import OpSpec, table_tests

FFT = jnp.fft


def _split(z):
    return (jnp.real(z), jnp.imag(z)) if jnp.iscomplexobj(z) else z


def _np_split(z):
    return (np.real(z), np.imag(z)) if np.iscomplexobj(z) else z


def _complex_in(name, **fixed):
    """fn(re, im, **kw) = split(jnp.fft.name(re + i im)); ref the same with NumPy."""
    def fn(re, im, **kw):
        return _split(getattr(FFT, name)(jb.lax.complex(re, im), **fixed, **kw))

    def ref(re, im, **kw):
        return _np_split(getattr(np.fft, name)(re + 1j * im, **fixed, **kw))

    return fn, ref


def _real_in(name, **fixed):
    def fn(x, **kw):
        return _split(getattr(FFT, name)(x, **fixed, **kw))

    def ref(x, **kw):
        return _np_split(getattr(np.fft, name)(x, **fixed, **kw))

    return fn, ref


_NORM = st.sampled_from([None, "backward", "ortho", "forward"])


def _one_axis_kwargs(irfft=False):
    def kwargs(shapes):
        shape = np.broadcast_shapes(*shapes)
        nd = len(shape)
        return st.fixed_dictionaries({
            "n": st.one_of(st.none(), st.integers(1, 6)) if not irfft else
            st.one_of(st.none(), st.integers(1, 7)),
            "axis": st.integers(-nd, nd - 1),
            "norm": _NORM})

    return kwargs


def _n_axes_kwargs(max_axes=3):
    def kwargs(shapes):
        nd = len(np.broadcast_shapes(*shapes))
        axes = st.lists(st.integers(0, nd - 1), unique=True, min_size=1,
                        max_size=min(nd, max_axes))

        def with_s(ax):
            return st.fixed_dictionaries({
                "axes": st.just(tuple(ax)),
                "s": st.one_of(st.none(), st.lists(st.integers(1, 5), min_size=len(ax),
                                                   max_size=len(ax)).map(tuple)),
                "norm": _NORM})

        return axes.flatmap(with_s)

    return kwargs


def _two_axes_kwargs(shapes):
    return st.fixed_dictionaries({"norm": _NORM})


def _spec(name, fn_ref, nargs, kwargs, *, min_dims=1, min_side=1, **kw):
    fn, ref = fn_ref
    # (Inverse real transforms default to 2 (m - 1) points: m >= 2 keeps that positive.)
    return OpSpec(name, fn, ref, nargs, kwargs=kwargs, min_side=min_side, min_dims=min_dims,
                  max_dims=3, dtypes=(np.float32,), tol=2e-4, **kw)


SPECS = [
    _spec("fft", _complex_in("fft"), 2, _one_axis_kwargs()),
    _spec("ifft", _complex_in("ifft"), 2, _one_axis_kwargs()),
    _spec("rfft", _real_in("rfft"), 1, _one_axis_kwargs()),
    _spec("irfft", _complex_in("irfft"), 2, _one_axis_kwargs(irfft=True), min_side=2),
    _spec("hfft", _complex_in("hfft"), 2, _one_axis_kwargs(irfft=True), min_side=2),
    _spec("ihfft", _real_in("ihfft"), 1, _one_axis_kwargs()),
    _spec("fftn", _complex_in("fftn"), 2, _n_axes_kwargs()),
    _spec("ifftn", _complex_in("ifftn"), 2, _n_axes_kwargs()),
    _spec("rfftn", _real_in("rfftn"), 1, _n_axes_kwargs()),
    _spec("irfftn", _complex_in("irfftn"), 2, _n_axes_kwargs(), min_side=2),
    _spec("fft2", _complex_in("fft2"), 2, _two_axes_kwargs, min_dims=2),
    _spec("ifft2", _complex_in("ifft2"), 2, _two_axes_kwargs, min_dims=2),
    _spec("rfft2", _real_in("rfft2"), 1, _two_axes_kwargs, min_dims=2),
    _spec("irfft2", _complex_in("irfft2"), 2, _two_axes_kwargs, min_dims=2, min_side=2),
    _spec("fft_of_real", _real_in("fft"), 1, _one_axis_kwargs()),
    _spec("fftshift", (FFT.fftshift, np.fft.fftshift), 1, None, grad_order=1),
    _spec("ifftshift", (FFT.ifftshift, np.fft.ifftshift), 1, None, grad_order=1),
    # complex-number functions, on x + i y
    OpSpec("real_imag_conj", lambda x, y: _split(jnp.conj(jb.lax.complex(x, y) ** 2)),
           lambda x, y: _np_split(np.conj((x + 1j * y) ** 2)), 2, dtypes=(np.float32,)),
    OpSpec("abs_complex", lambda x, y: jnp.abs(jb.lax.complex(x, y)),
           lambda x, y: np.abs(x + 1j * y), 2, dtypes=(np.float32,), tol=1e-5,
           grad_domain=(lambda rng, s, d: rng.uniform(0.5, 2, s).astype(d),) * 2),
    OpSpec("angle", lambda x, y: jnp.angle(jb.lax.complex(x, y)),
           lambda x, y: np.angle(x + 1j * y), 2, dtypes=(np.float32,), tol=1e-5,
           grad_domain=(lambda rng, s, d: rng.uniform(0.5, 2, s).astype(d),) * 2),
]

globals().update(table_tests(SPECS, examples=(10, 2, 3, 2, 2)))


def test_every_public_name_exists():
    import json
    import pathlib

    surface = json.loads((pathlib.Path(__file__).parent.parent / "data" /
                          "linalg_fft_api_surface.json").read_text())["jumba.numpy.fft"]
    assert not [n for n in surface if not hasattr(FFT, n)]


@pytest.mark.parametrize("n,d", [(1, 1.0), (4, 0.5), (7, 2.0)])
def test_fftfreq_and_rfftfreq(n, d):
    np.testing.assert_allclose(np.asarray(FFT.fftfreq(n, d)), np.fft.fftfreq(n, d), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(FFT.rfftfreq(n, d)), np.fft.rfftfreq(n, d),
                               rtol=1e-6)
    assert FFT.fftfreq(n, d).dtype == np.float32


def test_shift_axes():
    x = np.arange(30.0).reshape(5, 6)
    for axes in [None, 0, (1,), (0, 1)]:
        np.testing.assert_array_equal(np.asarray(FFT.fftshift(x, axes)), np.fft.fftshift(x, axes))
        np.testing.assert_array_equal(np.asarray(FFT.ifftshift(x, axes)),
                                      np.fft.ifftshift(x, axes))


def test_complex_gradient_convention_is_jaxs():
    # JAX: grad of a real function of z returns conj(df/dx + i df/dy)... i.e.
    # grad(|z|^2)(z) == 2 conj(z); grad(real) == 1; grad(imag) == -1j.
    z = jnp.asarray(np.complex64(3 + 4j))
    assert complex(jb.grad(lambda z: jnp.real(z * jnp.conj(z)))(z)) == 6 - 8j
    assert complex(jb.grad(jnp.real)(z)) == 1
    assert complex(jb.grad(jnp.imag)(z)) == -1j
    g = jb.grad(lambda x: jnp.sum(jnp.abs(jnp.fft.fft(x)) ** 2))(jnp.arange(4.0))
    np.testing.assert_allclose(np.asarray(g), 8 * np.arange(4.0), rtol=1e-5)


@pytest.mark.parametrize("fft_type,shape,lengths", [
    ("fft", (2, 5), (5,)), ("ifft", (3, 4), (3, 4)), ("rfft", (2, 6), (6,)),
    ("rfft", (3, 5), (3, 5)), ("irfft", (2, 4), (6,)), ("irfft", (2, 4), (7,)),
    ("irfft", (3, 3), (3, 4))])
def test_fft_primitive_transpose_is_the_adjoint(fft_type, shape, lengths):
    # <T(x), y> == <x, T^T(y)> for JAX's pairing of complex values <a, b> = Re(sum(a b))
    # (no conjugate: the pairing under which real's and imag's transposes hold).
    rng = np.random.default_rng(0)
    with jb.enable_x64():
        real_in = fft_type == "rfft"
        x = rng.standard_normal(shape) if real_in else (
            rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
        f = lambda v: jb.lax.fft(v, fft_type, lengths)  # noqa: E731
        y_aval = jb.eval_shape(f, x)
        y = rng.standard_normal(y_aval.shape)
        if y_aval.dtype.kind == "c":
            y = y + 1j * rng.standard_normal(y_aval.shape)
        (xt,) = jb.linear_transpose(f, x)(jnp.asarray(y))
        lhs = np.sum(np.real(np.asarray(f(x)) * y))
        rhs = np.sum(np.real(x * np.asarray(xt)))
        np.testing.assert_allclose(lhs, rhs, rtol=1e-10)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="invalid norm 'unit'"):
        FFT.fft(jnp.ones(4), norm="unit")
    with pytest.raises(ValueError, match=r"s=\(4,\) and axes=\(0, 1\)"):
        FFT.fftn(jnp.ones((4, 4)), s=(4,), axes=(0, 1))
    with pytest.raises(TypeError, match="rfft takes real input"):
        FFT.rfft(jnp.ones(4, jnp.complex64))
    with pytest.raises(TypeError, match="requires a complex operand"):
        jb.lax.fft(jnp.ones(4), "fft", (4,))
    with pytest.raises(ValueError, match="out of range"):
        FFT.fft(jnp.ones(4), axis=2)


def test_jit_and_grad_through_irfft_rfft_roundtrip():
    with jb.enable_x64():
        x = np.random.default_rng(5).standard_normal((3, 8))
        roundtrip = jb.jit(lambda x: FFT.irfft(FFT.rfft(x), n=8))
        np.testing.assert_allclose(np.asarray(roundtrip(x)), x, atol=1e-12)
        check_grads(lambda x: jnp.abs(FFT.rfft(x, n=6, norm="ortho")) ** 2, (x,), order=2)


def test_hypothesis_shapes_cover_batched_vmap_of_fft():
    # vmap over a middle axis moves the batch axis through the transformed axes correctly.
    x = np.random.default_rng(6).standard_normal((4, 3, 5)).astype(np.float32)
    out = jb.vmap(lambda v: FFT.fft(v, axis=0), in_axes=1)(x)
    np.testing.assert_allclose(np.asarray(out), np.moveaxis(np.fft.fft(x, axis=0), 1, 0),
                               rtol=1e-5, atol=1e-5)




def test_complex_functions_on_real_arrays_and_array_properties():
    x = jnp.arange(3.0)
    assert jnp.real(x) is x and jnp.conj(x) is x
    np.testing.assert_array_equal(np.asarray(jnp.imag(x)), np.zeros(3))
    np.testing.assert_allclose(np.asarray(jnp.angle(jnp.asarray([1.0, -1.0]), deg=True)),
                               [0.0, 180.0])
    z = jnp.asarray(np.array([1 + 2j, -3 - 1j], np.complex64))
    np.testing.assert_array_equal(np.asarray(z.real), [1, -3])
    np.testing.assert_array_equal(np.asarray(z.imag), [2, -1])
    np.testing.assert_array_equal(np.asarray(z.conj()), [1 - 2j, -3 + 1j])
    assert jnp.abs(z).dtype == np.float32
    with pytest.raises(TypeError, match="lax.complex requires two floating operands"):
        jb.lax.complex(jnp.ones(2), jnp.ones(2, jnp.int32))
