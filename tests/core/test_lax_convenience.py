"""jax.lax's convenience functions: values against NumPy, and that they differentiate,
batch and jit through the primitives they call."""

import numpy as np
import pytest

import jumba as jb
import jumba.lax as lax
from jumba.test_util import check_grads

rng = np.random.default_rng(0)
A = rng.standard_normal((2, 3, 4)).astype(np.float32)
B = rng.standard_normal((2, 4, 5)).astype(np.float32)


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_values():
    close(lax.iota(np.int32, 5), np.arange(5))
    close(lax.broadcasted_iota(np.float32, (2, 3), 1), np.broadcast_to(np.arange(3), (2, 3)))
    close(lax.full_like(A, 2.0), np.full_like(A, 2.0))
    assert lax.full_like(A, 1, dtype=np.int32, shape=(2,)).dtype == np.int32
    close(lax.collapse(A, 1), A.reshape(2, 12))
    close(lax.collapse(A, 0, 2), A.reshape(6, 4))
    close(lax.dot(A[0], B[0]), A[0] @ B[0])
    close(lax.dot(A[0, 0], B[0, :, 0]), A[0, 0] @ B[0, :, 0])
    close(lax.batch_matmul(A, B), A @ B)
    parts = lax.split(A, (1, 3), axis=2)
    close(parts[0], A[..., :1])
    close(parts[1], A[..., 1:])
    close(lax.reciprocal(A), 1 / A)
    close(lax.select(A > 0, A, -A), np.abs(A))
    close(lax.clamp(-0.5, A, 0.5), np.clip(A, -0.5, 0.5))
    assert lax.broadcast_to_rank(A[0, 0], 3).shape == (1, 1, 4)
    assert lax.broadcast_shapes((2, 1), (3,)) == (2, 3)
    assert lax.RoundingMethod.TO_NEAREST_EVEN == 1
    assert lax.Precision.HIGHEST.name == "HIGHEST"


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="must sum to the axis size"):
        lax.split(A, (1, 1), axis=2)
    with pytest.raises(TypeError, match="rank-1 or rank-2"):
        lax.dot(A, B)
    with pytest.raises(TypeError, match="one rank"):
        lax.batch_matmul(A, B[0])


def test_grads_vmap_jit():
    x, y = A.astype(np.float64), B.astype(np.float64)
    with jb.enable_x64():
        check_grads(lambda a, b: lax.batch_matmul(a, b), (x, y), order=2)
        check_grads(lambda a: lax.collapse(a, 1) * 2.0, (x,), order=2)
        check_grads(lambda a: lax.split(a, (1, 3), axis=2)[1], (x,), order=2)
        check_grads(lambda a: lax.reciprocal(a + 10.0), (x,), order=2)
    loop = np.stack([np.asarray(lax.dot(A[i, 0], B[i])) for i in range(2)])
    close(jb.vmap(lambda a, b: lax.dot(a[0], b))(A, B), loop)
    close(jb.jit(lambda a: lax.collapse(lax.clamp(-1.0, a, 1.0), 1))(A),
          lax.collapse(lax.clamp(-1.0, A, 1.0), 1))
