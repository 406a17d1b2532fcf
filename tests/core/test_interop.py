"""Interop: NumPy's `__array__` protocol (NumPy 2's copy semantics), DLPack both ways,
`jnp.asarray` of foreign arrays, array-API niceties, and PyTorch CPU tensors when torch is
installed (run `benchmarks/.venv/bin/python -m pytest tests/core/test_interop.py` for those)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba as jb
import jumba.dlpack
import jumba.numpy as jnp

DTYPES = ["bool", "int8", "int16", "int32", "uint8", "uint32", "float16", "float32",
          "complex64"]


def _sample(dtype, shape=(3, 4)):
    return (np.arange(np.prod(shape)) % 5).astype(dtype).reshape(shape)


# --- NumPy -----------------------------------------------------------------------------------


def test_np_asarray_is_zero_copy_and_read_only():
    a = jnp.arange(12.0).reshape(3, 4)
    v = np.asarray(a)
    assert np.shares_memory(v, np.asarray(a))
    assert not v.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        v[0, 0] = 1.0


def test_np_array_copies_and_copy_protocol():
    a = jnp.arange(4, dtype=jnp.int32)
    c = np.array(a)  # copy=True by default
    assert c.flags.writeable and not np.shares_memory(c, np.asarray(a))
    c[0] = 9
    assert int(a[0]) == 0
    assert np.asarray(a, dtype=np.float64).dtype == np.float64
    assert np.array(a, copy=False) is not None  # no conversion needed: shares
    with pytest.raises(ValueError, match="without copying"):
        np.array(a, dtype=np.float64, copy=False)


@settings(max_examples=10, deadline=None)
@given(st.sampled_from(DTYPES), st.lists(st.integers(1, 4), min_size=0, max_size=3))
def test_round_trip_through_numpy(dtype, shape):
    x = _sample(dtype, tuple(shape))
    a = jnp.asarray(x)
    assert a.dtype == x.dtype and a.shape == x.shape
    np.testing.assert_array_equal(np.asarray(a), x)


def test_numpy_ufuncs_and_functions_accept_arrays():
    a = jnp.linspace(0.0, 1.0, 5)
    np.testing.assert_allclose(np.sin(a), np.sin(np.linspace(0, 1, 5, dtype=np.float32)),
                               rtol=1e-6)
    assert float(np.sum(a)) == pytest.approx(2.5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dlpack_export_to_numpy_is_zero_copy(dtype):
    a = jnp.asarray(_sample(dtype))
    v = np.from_dlpack(a)
    assert np.shares_memory(v, np.asarray(a)) and not v.flags.writeable
    np.testing.assert_array_equal(v, _sample(dtype))
    assert a.__dlpack_device__() == (1, 0)  # kDLCPU, device 0


def test_dlpack_legacy_consumers_get_a_copy():
    # DLPack < 1.0 cannot flag read-only buffers: such consumers get a copy, not our buffer.
    a = jnp.arange(3.0)
    capsule = a.__dlpack__()
    assert "dltensor" in repr(capsule)
    with pytest.raises(BufferError, match="CPU"):
        a.__dlpack__(stream=1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_from_dlpack_numpy_zero_copy(dtype):
    x = _sample(dtype)
    a = jumba.dlpack.from_dlpack(x)
    assert isinstance(a, jb.Array) and a.dtype == x.dtype
    assert np.shares_memory(np.asarray(a), x)
    b = jumba.dlpack.from_dlpack(x, copy=True)
    assert not np.shares_memory(np.asarray(b), x)
    np.testing.assert_array_equal(np.asarray(b), x)


def test_from_dlpack_canonicalizes_64_bit_and_views_strided_data():
    x = np.arange(6, dtype=np.float64).reshape(2, 3)
    a = jumba.dlpack.from_dlpack(x)
    assert a.dtype == np.float32  # as jnp.asarray, with x64 off
    t = jumba.dlpack.from_dlpack(np.arange(6, dtype=np.float32).reshape(2, 3).T)
    np.testing.assert_array_equal(np.asarray(t), np.arange(6).reshape(2, 3).T)
    with jb.enable_x64():
        assert jumba.dlpack.from_dlpack(x).dtype == np.float64


def test_from_dlpack_bad_input_is_explained():
    with pytest.raises(TypeError, match="expected an object with __dlpack__"):
        jumba.dlpack.from_dlpack([1, 2, 3])
    with pytest.raises(TypeError, match="capsules"):
        jumba.dlpack.from_dlpack(np.arange(3).__dlpack__())
    with pytest.raises(ValueError, match="not a CPU device"):
        jumba.dlpack.from_dlpack(np.arange(3), device=type("Gpu", (), {"platform": "gpu"})())
    assert jumba.dlpack.is_supported_dtype(np.float32)
    assert not jumba.dlpack.is_supported_dtype(np.dtype("U3"))


def test_from_dlpack_of_a_jumba_array_is_itself():
    a = jnp.ones(3)
    assert jumba.dlpack.from_dlpack(a) is a


class _OnlyArray:
    """A foreign array offering only `__array__`."""

    def __init__(self, data):
        self.data = data

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)


class _OnlyDLPack:
    """A foreign array offering only the DLPack protocol."""

    def __init__(self, data):
        self.data = data

    def __dlpack__(self, **kwargs):
        return self.data.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.data.__dlpack_device__()


@pytest.mark.parametrize("wrapper", [_OnlyArray, _OnlyDLPack])
def test_jnp_asarray_of_foreign_arrays_copies_by_default(wrapper):
    data = np.arange(4, dtype=np.float32)
    a = jnp.asarray(wrapper(data))
    np.testing.assert_array_equal(np.asarray(a), [0, 1, 2, 3])
    data[0] = 100.0  # the owner mutates its buffer: our immutable array must not change
    assert float(a[0]) == 0.0
    assert float(jnp.sum(jnp.array(wrapper(data)))) == 106.0


def test_jnp_asarray_copy_modes():
    data = np.arange(4, dtype=np.float32)
    shared = jnp.asarray(data, copy=False)
    assert np.shares_memory(np.asarray(shared), data)
    copied = jnp.asarray(data, copy=True)
    assert not np.shares_memory(np.asarray(copied), data)
    with pytest.raises(ValueError, match="needs a copy"):
        jnp.asarray(np.arange(4, dtype=np.float64), copy=False)
    data[1] = -1.0
    assert float(copied[1]) == 1.0 and float(jnp.asarray(data)[1]) == -1.0


def test_array_api_niceties():
    a = jnp.ones((2, 3))
    assert a.__array_namespace__() is jnp
    assert a.to_device(jb.devices()[0]) is a
    assert a.device == jb.devices()[0]
    assert a.mT.shape == (3, 2)


# --- PyTorch ---------------------------------------------------------------------------------

TORCH_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "float16", "float32",
                "float64", "complex64"]


@pytest.mark.parametrize("name", TORCH_DTYPES)
def test_torch_tensors_both_ways(name):
    torch = pytest.importorskip("torch")
    dtype = getattr(torch, name)
    t = (torch.arange(12) % 5).to(dtype).reshape(3, 4)
    a = jumba.dlpack.from_dlpack(t)
    np.testing.assert_array_equal(np.asarray(a), t.numpy())
    if a.dtype == t.numpy().dtype:  # not canonicalized: zero-copy
        assert np.asarray(a).ctypes.data == t.data_ptr()
    back = torch.from_dlpack(a)
    assert back.data_ptr() == np.asarray(a).ctypes.data  # zero-copy export
    assert torch.equal(back, torch.from_numpy(np.array(a)))


def test_torch_asarray_copies_and_strided_tensors():
    torch = pytest.importorskip("torch")
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    a = jnp.asarray(t)
    t[0, 0] = 50.0
    assert float(a[0, 0]) == 0.0
    tt = jumba.dlpack.from_dlpack(t.T)
    np.testing.assert_array_equal(np.asarray(tt), t.T.numpy())
    np.testing.assert_allclose(np.asarray(jb.jit(jnp.sin)(t)), np.sin(t.numpy()), rtol=1e-6)


def test_torch_unsupported_tensors_are_explained():
    torch = pytest.importorskip("torch")
    with pytest.raises(BufferError, match="bfloat16 -> float32"):
        jumba.dlpack.from_dlpack(torch.ones(2, dtype=torch.bfloat16))
    with pytest.raises(BufferError, match="detach"):
        jumba.dlpack.from_dlpack(torch.ones(2, requires_grad=True))
