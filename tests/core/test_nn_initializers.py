"""jumba.nn.initializers: shapes, dtypes and fans (deterministic), then the statistics of
the draws (variance, bounds, orthogonality), jit/vmap over keys, and error messages."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jumba as jb
import jumba.nn.initializers as init
import jumba.numpy as jnp
from jumba._src.nn.initializers import _compute_fans

random = pytest.importorskip("jumba.random", reason="statistical tests need jumba.random")

KEY = random.PRNGKey(0)

BUILDERS = {
    "normal": init.normal(), "uniform": init.uniform(), "truncated_normal":
    init.truncated_normal(), "glorot_normal": init.glorot_normal(), "glorot_uniform":
    init.glorot_uniform(), "lecun_normal": init.lecun_normal(), "lecun_uniform":
    init.lecun_uniform(), "he_normal": init.he_normal(), "he_uniform": init.he_uniform(),
    "orthogonal": init.orthogonal(), "constant": init.constant(0.5), "zeros": init.zeros,
    "ones": init.ones, "delta_orthogonal": init.delta_orthogonal(),
}


# ---------------------------------------------------------------------------------------
# Deterministic parts: shapes, dtypes, fans, constants


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_shape_and_default_dtype(name):
    shape = (3, 3, 4, 5) if name == "delta_orthogonal" else (4, 5)
    out = BUILDERS[name](KEY, shape)
    assert out.shape == shape and out.dtype == np.float32
    with jb.enable_x64():
        assert BUILDERS[name](KEY, shape).dtype == np.float64
        assert BUILDERS[name](KEY, shape, jnp.float32).dtype == np.float32


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_jit_and_vmap_over_keys_equal_eager(name):
    shape = (3, 3, 2, 3) if name == "delta_orthogonal" else (3, 4)
    f = BUILDERS[name]
    eager = f(KEY, shape)
    np.testing.assert_allclose(jb.jit(lambda k: f(k, shape))(KEY), eager, rtol=1e-6,
                               atol=1e-7)
    keys = random.split(KEY, 3)
    batched = jb.vmap(lambda k: f(k, shape))(keys)
    for i in range(3):
        np.testing.assert_allclose(batched[i], f(keys[i], shape), rtol=1e-5, atol=1e-6)


FANS = [
    # shape, in_axis, out_axis, batch_axis, (fan_in, fan_out)
    ((4, 5), -2, -1, (), (4, 5)),
    ((3, 3, 16, 32), -2, -1, (), (9 * 16, 9 * 32)),  # HWIO conv kernel
    ((32, 16, 3, 3), 1, 0, (), (16 * 9, 32 * 9)),  # OIHW
    ((2, 3, 4, 5), -2, -1, 0, (3 * 4, 3 * 5)),  # a batch axis is not in the receptive field
    ((2, 3, 4, 5), (1, 2), -1, (), (12 * 2, 5 * 2)),
    ((6, 7, 8), 0, (1, 2), (), (6, 56)),
]


@pytest.mark.parametrize("shape,in_axis,out_axis,batch_axis,want", FANS)
def test_compute_fans(shape, in_axis, out_axis, batch_axis, want):
    assert _compute_fans(shape, in_axis, out_axis, batch_axis) == want


@pytest.mark.parametrize("mode,denominator", [
    ("fan_in", 6 * 4), ("fan_out", 6 * 5), ("fan_avg", 6 * 4.5), ("fan_geo", 6 * math.sqrt(20))])
def test_variance_scaling_modes_set_the_variance(mode, denominator):
    # Many draws of a (2, 3, 4, 5) kernel (receptive field 6): sample variance = 2 / n.
    f = init.variance_scaling(2.0, mode, "normal")
    draws = np.asarray(jb.vmap(lambda k: f(k, (2, 3, 4, 5)))(random.split(KEY, 400)))
    assert draws.var() == pytest.approx(2.0 / denominator, rel=0.05)


def test_constants():
    np.testing.assert_array_equal(init.zeros(KEY, (2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(init.ones(None, (2,), jnp.int32), np.ones(2, np.int32))
    out = init.constant(np.arange(3.0))(KEY, (2, 3))
    np.testing.assert_array_equal(out, np.tile(np.arange(3.0), (2, 1)))
    assert init.constant(2, dtype=jnp.int32)(KEY, (1,)).dtype == np.int32
    assert init.zeros(KEY, 4).shape == (4,)


# ---------------------------------------------------------------------------------------
# Statistics of draws


N = (300, 400)


@pytest.mark.parametrize("name,scale,mode", [
    ("glorot", 1.0, "fan_avg"), ("lecun", 1.0, "fan_in"), ("he", 2.0, "fan_in"),
    ("xavier", 1.0, "fan_avg"), ("kaiming", 2.0, "fan_in")])
@pytest.mark.parametrize("dist", ["normal", "uniform"])
def test_named_variance_scalings(name, scale, mode, dist):
    f = getattr(init, f"{name}_{dist}")()
    fan = {"fan_in": N[0], "fan_avg": sum(N) / 2}[mode]
    x = np.asarray(f(KEY, N), np.float64)
    assert x.var() == pytest.approx(scale / fan, rel=0.03)
    assert abs(x.mean()) < 4 * math.sqrt(scale / fan / x.size)
    if dist == "uniform":
        assert np.abs(x).max() <= math.sqrt(3 * scale / fan) * (1 + 1e-6)
    else:  # truncated at two (untruncated) standard deviations
        assert np.abs(x).max() <= 2 * math.sqrt(scale / fan) / 0.87962566103423978 * 1.0001


def test_variance_scaling_truncated_normal_and_uniform_match_normal_variance():
    for dist in ("truncated_normal", "normal", "uniform"):
        x = np.asarray(init.variance_scaling(3.0, "fan_out", dist)(KEY, N), np.float64)
        assert x.var() == pytest.approx(3.0 / N[1], rel=0.03), dist


def test_simple_distributions():
    x = np.asarray(init.normal(0.5)(KEY, N), np.float64)
    assert x.std() == pytest.approx(0.5, rel=0.02)
    u = np.asarray(init.uniform(2.0)(KEY, N), np.float64)
    assert u.min() >= 0 and u.max() < 2 and u.mean() == pytest.approx(1.0, rel=0.02)
    t = np.asarray(init.truncated_normal(0.5, lower=-1.0, upper=2.0)(KEY, N), np.float64)
    assert t.min() >= -0.5 and t.max() <= 1.0


def test_draws_follow_jumba_random_streams():
    """The same key gives jax.random's expression (JAX's stream via jumba.random)."""
    np.testing.assert_array_equal(init.normal(0.1)(KEY, (3, 4)),
                                  random.normal(KEY, (3, 4)) * np.float32(0.1))
    bound = np.float32(math.sqrt(3 / 3))
    np.testing.assert_array_equal(init.lecun_uniform()(KEY, (3, 4)),
                                  random.uniform(KEY, (3, 4), minval=-1) * bound)


@settings(max_examples=8, deadline=None)
@given(rows=st.integers(1, 6), cols=st.integers(1, 6), extra=st.integers(1, 3),
       column_axis=st.sampled_from([-1, 0]), seed=st.integers(0, 2**31 - 1))
def test_orthogonal(rows, cols, extra, column_axis, seed):
    shape = (rows, extra, cols) if column_axis == -1 else (cols, extra, rows)
    w = np.asarray(init.orthogonal(scale=1.5, column_axis=column_axis)(
        random.PRNGKey(seed), shape), np.float64)
    m = np.moveaxis(w, column_axis, -1).reshape(-1, cols)  # rows x columns
    if m.shape[0] >= cols:
        np.testing.assert_allclose(m.T @ m, 2.25 * np.eye(cols), atol=1e-5)
    else:
        np.testing.assert_allclose(m @ m.T, 2.25 * np.eye(m.shape[0]), atol=1e-5)


@pytest.mark.parametrize("shape", [(3, 4, 4), (3, 3, 2, 5), (2, 3, 3, 4, 4)])
def test_delta_orthogonal(shape):
    w = np.asarray(init.delta_orthogonal(scale=2.0)(KEY, shape), np.float64)
    centre = tuple((s - 1) // 2 for s in shape[:-2])
    m = w[centre]
    np.testing.assert_allclose(m @ m.T, 4 * np.eye(shape[-2]), atol=1e-5)
    rest = w.copy()
    rest[centre] = 0
    assert not rest.any()


# ---------------------------------------------------------------------------------------
# Errors


def test_errors_name_the_problem_and_fix():
    with pytest.raises(ValueError, match="invalid mode 'fan_max'"):
        init.variance_scaling(1.0, "fan_max", "normal")
    with pytest.raises(ValueError, match="invalid distribution 'cauchy'"):
        init.variance_scaling(1.0, "fan_in", "cauchy")
    with pytest.raises(ValueError, match="at least 2 axes.*biases"):
        init.glorot_normal()(KEY, (5,))
    with pytest.raises(TypeError, match="dtype must be floating"):
        init.he_normal()(KEY, (2, 3), jnp.int32)
    with pytest.raises(ValueError, match="at least 2 axes"):
        init.orthogonal()(KEY, (4,))
    with pytest.raises(ValueError, match="3-, 4- or 5-D"):
        init.delta_orthogonal()(KEY, (4, 4))
    with pytest.raises(ValueError, match="fan_in` must be <= `fan_out"):
        init.delta_orthogonal()(KEY, (3, 5, 4))
    with pytest.raises(ValueError, match="column_axis must be the last"):
        init.delta_orthogonal(column_axis=0)(KEY, (3, 4, 4))
    with pytest.raises(TypeError, match="shape must be a sequence of ints"):
        init.normal()(KEY, (2.5, 3))
    with pytest.raises(ValueError, match="negative dimension"):
        init.zeros(KEY, (-1, 3))
