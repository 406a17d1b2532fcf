"""jumba.random: JAX's streams (reference files from JAX), the Threefry primitive, typed
keys, jit / vmap agreement, statistics of every sampler, gradients, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.stats as stats
from hypothesis import given
from hypothesis import strategies as st

import jumba
import jumba.numpy as jnp
import jumba.random as jr
from jumba import lax
from jumba.test_util import check_grads

DATA = Path(__file__).resolve().parent.parent / "data"
REF = json.loads((DATA / "jax_random.json").read_text())
EXTRA = json.loads((DATA / "jax_random_extra.json").read_text())


def _array(rec):
    if "bits_u32" in rec:
        return np.array(rec["bits_u32"], np.uint32).view(np.float32).reshape(rec["shape"])
    return np.array(rec["values"], dtype=rec["dtype"]).reshape(rec["shape"])


def _ordered(x):
    """float32 bit patterns as integers ordered like the floats (ulp distances)."""
    i = np.asarray(x, np.float32).view(np.int32).astype(np.int64)
    return np.where(i < 0, -(i & 0x7FFFFFFF), i)


def assert_ulp_close(got, want, ulps=4, floor=0.0):
    """Within `ulps` ulp, or within `floor` * ulps * eps in absolute terms (values that
    come out of a cancellation, e.g. log of a number near 1, carry absolute error)."""
    got = np.asarray(got)
    assert got.dtype == want.dtype and got.shape == want.shape
    dist = np.abs(_ordered(got) - _ordered(want))
    near = np.abs(got.astype(np.float64) - want) <= floor * ulps * np.finfo(np.float32).eps
    bad = (dist > ulps) & ~near
    assert not bad.any(), (f"{bad.sum()} values differ by more than {ulps} ulp; worst "
                           f"{dist.max()} ulp: got {got[bad][:3]}, want {want[bad][:3]}")


SEEDS = [c["seed"] for c in REF["cases"]]
CASES = {c["seed"]: c for c in REF["cases"]}
SHAPES = {"scalar": (), "5": (5,), "3x4": (3, 4), "1000": (1000,)}

# Reference name -> (jumba draw, comparison): "exact" or a floor for assert_ulp_close.
DRAWS = {
    "bits": (lambda k, s: jr.bits(k, s), "exact"),
    "uniform": (lambda k, s: jr.uniform(k, s), "exact"),
    "uniform_m2_3": (lambda k, s: jr.uniform(k, s, minval=-2.0, maxval=3.0), "exact"),
    "randint_0_10": (lambda k, s: jr.randint(k, s, 0, 10), "exact"),
    "randint_m5_1000": (lambda k, s: jr.randint(k, s, -5, 1000), "exact"),
    "bernoulli_0.3": (lambda k, s: jr.bernoulli(k, 0.3, s), "exact"),
    "normal": (lambda k, s: jr.normal(k, s), 0.0),
    "exponential": (lambda k, s: jr.exponential(k, s), 0.0),
    "laplace": (lambda k, s: jr.laplace(k, s), 0.0),
    # Outputs near 0 come from log(x) with x near 1 (or erf_inv near 0): XLA's float32 log
    # rounds differently from NumPy's in the last bit, which shows as absolute error.
    "gumbel": (lambda k, s: jr.gumbel(k, s), 1.0),
    "logistic": (lambda k, s: jr.logistic(k, s), 1.0),
    "truncated_normal_m1_2": (lambda k, s: jr.truncated_normal(k, -1.0, 2.0, s), 1.0),
}


def _reference_params():
    for seed in SEEDS:
        for name in DRAWS:
            for shape_name in SHAPES:
                if f"{name}_{shape_name}" in CASES[seed]:
                    yield pytest.param(seed, name, shape_name, id=f"{seed}-{name}-{shape_name}")


@pytest.mark.parametrize("seed", SEEDS)
def test_keys_split_fold_in_match_jax(seed):
    case = CASES[seed]
    key = jr.PRNGKey(seed)
    np.testing.assert_array_equal(key, _array(case["PRNGKey"]))
    assert np.asarray(key).dtype == np.uint32
    np.testing.assert_array_equal(jr.split(key), _array(case["split2"]))
    np.testing.assert_array_equal(jr.split(key, 3), _array(case["split3"]))
    np.testing.assert_array_equal(jr.fold_in(key, 1), _array(case["fold_in_1"]))
    np.testing.assert_array_equal(jr.fold_in(key, 12345), _array(case["fold_in_12345"]))
    np.testing.assert_array_equal(jr.split(jr.split(key)[1], 4), _array(case["split_then_split"]))


@pytest.mark.parametrize("seed,name,shape_name", list(_reference_params()))
def test_draws_match_jax(seed, name, shape_name):
    draw, how = DRAWS[name]
    want = _array(CASES[seed][f"{name}_{shape_name}"])
    got = np.asarray(draw(jr.PRNGKey(seed), SHAPES[shape_name]))
    if how == "exact":
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.view(np.uint32) if got.dtype == np.float32 else got,
                                      want.view(np.uint32) if want.dtype == np.float32 else want)
    else:
        assert_ulp_close(got, want, 4, how)


@pytest.mark.parametrize("seed", SEEDS)
def test_categorical_permutation_choice_match_jax(seed):
    case, key = CASES[seed], jr.PRNGKey(seed)
    logits = np.log(np.array([0.1, 0.2, 0.3, 0.25, 0.15], np.float32))
    np.testing.assert_array_equal(jr.categorical(key, logits, shape=(7,)),
                                  _array(case["categorical_logits5_x7"]))
    np.testing.assert_array_equal(jr.permutation(key, 10), _array(case["permutation_10"]))
    np.testing.assert_array_equal(jr.choice(key, 20, (10,), replace=False),
                                  _array(case["choice_10_of_20_noreplace"]))
    np.testing.assert_array_equal(jr.choice(key, 5, (6,)), _array(case["choice_6_of_5_replace"]))


def test_normal_of_key_zero():
    want = np.array([1.6226422, 2.0252647, -0.43359444, -0.07861735], np.float32)
    assert_ulp_close(jr.normal(jr.PRNGKey(0), (4,)), want, 4)


# Extra cases generated with JAX by tests/data/make_jax_random_extra.py.
EXACT_FLOATS = {"typed_normal", "uniform_bounds_array", "x64_uniform_f64"}


def _extra_params():
    for entry in EXTRA["seeds"]:
        for name in entry["cases"]:
            yield pytest.param(entry["seed"], name, id=f"{entry['seed']}-{name}")


@pytest.mark.parametrize("seed,name", list(_extra_params()))
def test_extra_cases_match_jax(seed, name):
    entry = next(e for e in EXTRA["seeds"] if e["seed"] == seed)["cases"][name]
    rec = entry["out"]
    with jumba.enable_x64(name.startswith("x64_")):
        env = {"jr": jr, "np": np, "key": jr.PRNGKey(seed), "jvp": jumba.jvp}
        got = np.asarray(eval(entry["call"], env))
    want = np.array(rec["values"], dtype=rec["dtype"]).reshape(rec["shape"])
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    if want.dtype.kind != "f":
        np.testing.assert_array_equal(got, want)
    elif name in EXACT_FLOATS and name != "typed_normal":
        np.testing.assert_array_equal(got, want)
    elif name.startswith("jvp_"):
        # JAX's random_gamma_grad is a series approximation of the implicit derivative;
        # Jumba's differentiates SciPy's incomplete gamma function numerically.
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=1e-5)
    else:
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-6)


# ---------------------------------------------------------------------------------------
# The threefry2x32 primitive and erf_inv


def test_threefry_known_answers():
    # Known-answer vectors of Random123 (Salmon et al. 2011), 20 rounds.
    from jumba._src.lax.prng import threefry2x32

    u = np.uint32
    cases = [((0, 0), (0, 0), (0x6B200159, 0x99BA4EFE)),
             ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
             ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0))]
    for (k1, k2), (x1, x2), (y1, y2) in cases:
        out = threefry2x32(u(k1), u(k2), u(x1), u(x2))
        assert [int(np.asarray(o)) for o in out] == [y1, y2]


@given(st.lists(st.integers(0, 2 ** 32 - 1), min_size=4, max_size=4))
def test_threefry_jit_and_vmap(words):
    from jumba._src.lax.prng import threefry2x32

    k1, k2 = np.uint32(words[0]), np.uint32(words[1])
    xs = np.array([words[2], words[3], 7], np.uint32)
    eager = [np.asarray(o) for o in threefry2x32(k1, k2, xs, xs[::-1].copy())]
    jitted = jumba.jit(threefry2x32)(k1, k2, xs, xs[::-1].copy())
    mapped = jumba.vmap(threefry2x32, in_axes=(None, None, 0, 0))(k1, k2, xs, xs[::-1].copy())
    for e, j, m in zip(eager, jitted, mapped):
        np.testing.assert_array_equal(j, e)
        np.testing.assert_array_equal(m, e)
    loop = [threefry2x32(k1, k2, xs[i], xs[::-1][i]) for i in range(3)]
    np.testing.assert_array_equal(np.array([np.asarray(o[0]) for o in loop]), eager[0])
    assert "threefry2x32" in str(jumba.make_jaxpr(threefry2x32)(k1, k2, xs, xs))


def test_threefry_rejects_non_uint32():
    from jumba._src.lax.prng import threefry2x32

    with pytest.raises(TypeError, match="four uint32 operands"):
        threefry2x32(np.int32(1), np.uint32(2), np.uint32(3), np.uint32(4))


@given(st.floats(-0.999, 0.999))
def test_erf_inv(x):
    from scipy.special import erfinv

    np.testing.assert_allclose(lax.erf_inv(np.float32(x)), erfinv(np.float32(x)), rtol=2e-6,
                               atol=1e-7)
    with jumba.enable_x64():
        np.testing.assert_allclose(lax.erf_inv(np.float64(x)), erfinv(x), rtol=1e-14)
        check_grads(lax.erf_inv, (np.float64(x) * 0.9,), order=2, modes=("fwd", "rev"))
    np.testing.assert_allclose(jumba.vmap(lax.erf_inv)(jnp.array([x, -x], jnp.float32)),
                               [lax.erf_inv(np.float32(x)), lax.erf_inv(np.float32(-x))])
    assert float(lax.erf_inv(np.float32(1.0))) == np.inf


# ---------------------------------------------------------------------------------------
# Seeds and typed keys


def test_seed_conversion():
    np.testing.assert_array_equal(jr.PRNGKey(jnp.int32(-1)), [0, 2 ** 32 - 1])
    np.testing.assert_array_equal(jumba.jit(jr.PRNGKey)(5), [0, 5])
    with jumba.enable_x64():
        np.testing.assert_array_equal(jr.PRNGKey(2 ** 40 + 3), [2 ** 8, 3])
        np.testing.assert_array_equal(jumba.jit(jr.PRNGKey)(jnp.int64(-2)),
                                      [2 ** 32 - 1, 2 ** 32 - 2])
    with pytest.raises(OverflowError, match="64 bits"):
        jr.PRNGKey(2 ** 64)
    with pytest.raises(TypeError, match="must be an integer"):
        jr.PRNGKey(1.5)
    with pytest.raises(TypeError, match="must be a scalar"):
        jr.PRNGKey(jnp.arange(2))


def test_typed_keys():
    k = jr.key(7)
    assert k.shape == () and str(k.dtype) == "key<fry>" and k.dtype == jr.key_dtype()
    np.testing.assert_array_equal(jr.key_data(k), jr.PRNGKey(7))
    ks = jr.split(k, 4)
    assert isinstance(ks, jr.PRNGKeyArray) and ks.shape == (4,) and len(ks) == 4
    assert jr.key_data(ks).shape == (4, 2)
    np.testing.assert_array_equal(jr.key_data(ks), jr.split(jr.PRNGKey(7), 4))
    assert jr.split(k, (2, 3)).shape == (2, 3)
    assert jr.split(k, (2, 3))[1].shape == (3,) and jr.split(k, (2, 3))[..., 0].shape == (2,)
    np.testing.assert_array_equal(jr.key_data(ks[2]), jr.key_data(list(ks)[2]))
    np.testing.assert_array_equal(jr.key_data(jr.fold_in(k, 3)),
                                  jr.fold_in(jr.PRNGKey(7), 3))
    np.testing.assert_array_equal(jr.key_data(jr.wrap_key_data(jr.key_data(ks))),
                                  jr.key_data(ks))
    assert jr.key_impl(k) == "threefry2x32" and jr.clone(k) is k
    assert bool(ks[1] == ks[1]) and not bool(ks[1] == ks[2])
    assert "key<fry>" in repr(k)
    # Every sampler accepts typed keys and gives the legacy key's values.
    np.testing.assert_array_equal(jr.normal(k, (3,)), jr.normal(jr.PRNGKey(7), (3,)))
    np.testing.assert_array_equal(jr.randint(ks[0], (3,), 0, 9),
                                  jr.randint(jr.split(jr.PRNGKey(7), 4)[0], (3,), 0, 9))
    # Typed keys pass through jit and vmap (over their key axis).
    out = jumba.jit(lambda kk: jr.split(kk))(k)
    assert isinstance(out, jr.PRNGKeyArray) and out.shape == (2,)
    draws = jumba.vmap(lambda kk: jr.uniform(kk, (2,)))(ks)
    np.testing.assert_array_equal(draws[1], jr.uniform(ks[1], (2,)))
    with pytest.raises(TypeError, match="already a typed key"):
        jr.wrap_key_data(k)


# ---------------------------------------------------------------------------------------
# jit and vmap agree with eager draws


SAMPLERS = {
    "uniform": lambda k: jr.uniform(k, (3,), minval=-1.0, maxval=2.0),
    "normal": lambda k: jr.normal(k, (2, 2)),
    "randint": lambda k: jr.randint(k, (4,), -3, 17),
    "bernoulli": lambda k: jr.bernoulli(k, 0.4, (4,)),
    "bits": lambda k: jr.bits(k, (3,)),
    "gumbel": lambda k: jr.gumbel(k, (3,)),
    "exponential": lambda k: jr.exponential(k, (3,)),
    "laplace": lambda k: jr.laplace(k, (3,)),
    "logistic": lambda k: jr.logistic(k, (3,)),
    "cauchy": lambda k: jr.cauchy(k, (3,)),
    "truncated_normal": lambda k: jr.truncated_normal(k, -0.5, 1.5, (3,)),
    "categorical": lambda k: jr.categorical(k, jnp.array([0.1, 0.5, -1.0]), shape=(4,)),
    "permutation": lambda k: jr.permutation(k, 6),
    "permutation_array": lambda k: jr.permutation(k, jnp.arange(6.0).reshape(3, 2)),
    "choice": lambda k: jr.choice(k, 7, (3,), replace=False),
    "choice_p": lambda k: jr.choice(k, 4, (5,), p=jnp.array([0.1, 0.2, 0.3, 0.4])),
    "gamma": lambda k: jr.gamma(k, jnp.array([0.5, 2.0, 9.0])),
    "beta": lambda k: jr.beta(k, 2.0, 0.5, (3,)),
    "dirichlet": lambda k: jr.dirichlet(k, jnp.array([1.0, 2.0, 0.5])),
    "poisson": lambda k: jr.poisson(k, jnp.array([0.5, 4.0, 40.0])),
    "binomial": lambda k: jr.binomial(k, 20.0, 0.3, (3,)),
    "t": lambda k: jr.t(k, 4.0, (3,)),
    "chisquare": lambda k: jr.chisquare(k, 3.0, (2,)),
    "rademacher": lambda k: jr.rademacher(k, (5,)),
    "ball": lambda k: jr.ball(k, 3, shape=(2,)),
    "split": lambda k: jr.split(k, 3),
    "fold_in": lambda k: jr.fold_in(k, 9),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_jit_and_vmap_over_keys_equal_eager(name):
    f = SAMPLERS[name]
    keys = jr.split(jr.PRNGKey(3), 3)
    eager = [np.asarray(f(keys[i])) for i in range(3)]
    np.testing.assert_array_equal(jumba.jit(f)(keys[0]), eager[0])
    np.testing.assert_array_equal(jumba.vmap(f)(keys), np.stack(eager))
    np.testing.assert_array_equal(jumba.jit(jumba.vmap(f))(keys), np.stack(eager))


def test_vmap_over_parameters():
    key = jr.PRNGKey(1)
    alphas = jnp.array([0.5, 3.0])
    out = jumba.vmap(lambda a: jr.gamma(key, a, (4,)))(alphas)
    for i in range(2):
        np.testing.assert_array_equal(out[i], jr.gamma(key, alphas[i], (4,)))
    lo = jnp.array([-1.0, 0.0, 2.0])
    out = jumba.vmap(lambda m: jr.uniform(key, (2,), minval=m, maxval=m + 1))(lo)
    np.testing.assert_array_equal(out[2], jr.uniform(key, (2,), minval=2.0, maxval=3.0))
    out = jumba.vmap(lambda d: jr.fold_in(key, d))(jnp.arange(3))
    np.testing.assert_array_equal(out[2], jr.fold_in(key, 2))


def test_permutation_forms():
    key = jr.PRNGKey(0)
    x = jnp.arange(12).reshape(3, 4)
    rows = np.asarray(jr.permutation(key, x, axis=1))
    assert sorted(rows[0].tolist()) == [0, 1, 2, 3]
    assert (np.diff(rows, axis=0) == 4).all()  # whole columns move together
    ind = np.asarray(jr.permutation(key, x, axis=1, independent=True))
    assert all(sorted(r) == list(range(4 * i, 4 * i + 4)) for i, r in enumerate(ind.tolist()))


# ---------------------------------------------------------------------------------------
# Statistics on 1e5 draws


N = 100_000
KEY = jr.PRNGKey(2024)


def _ks(x, cdf, *args):
    assert stats.kstest(np.asarray(x, np.float64).ravel(), cdf, args=args).pvalue > 1e-3


CONTINUOUS = {
    "uniform": (lambda: jr.uniform(KEY, (N,), minval=-2.0, maxval=3.0), "uniform", (-2, 5)),
    "normal": (lambda: jr.normal(KEY, (N,)), "norm", ()),
    "gumbel": (lambda: jr.gumbel(KEY, (N,)), "gumbel_r", ()),
    "exponential": (lambda: jr.exponential(KEY, (N,)), "expon", ()),
    "laplace": (lambda: jr.laplace(KEY, (N,)), "laplace", ()),
    "logistic": (lambda: jr.logistic(KEY, (N,)), "logistic", ()),
    "cauchy": (lambda: jr.cauchy(KEY, (N,)), "cauchy", ()),
    "truncated_normal": (lambda: jr.truncated_normal(KEY, -1.0, 2.0, (N,)), "truncnorm",
                         (-1, 2)),
    "gamma_small": (lambda: jr.gamma(KEY, 0.3, (N,)), "gamma", (0.3,)),
    "gamma": (lambda: jr.gamma(KEY, 4.5, (N,)), "gamma", (4.5,)),
    "beta": (lambda: jr.beta(KEY, 2.0, 0.7, (N,)), "beta", (2.0, 0.7)),
    "t": (lambda: jr.t(KEY, 5.0, (N,)), "t", (5.0,)),
    "chisquare": (lambda: jr.chisquare(KEY, 3.0, (N,)), "chi2", (3.0,)),
    "f": (lambda: jr.f(KEY, 4.0, 7.0, (N,)), "f", (4.0, 7.0)),
    "lognormal": (lambda: jr.lognormal(KEY, 0.5, (N,)), "lognorm", (0.5,)),
    "pareto": (lambda: jr.pareto(KEY, 3.0, (N,)), "pareto", (3.0,)),
    "rayleigh": (lambda: jr.rayleigh(KEY, 1.0, (N,)), "rayleigh", ()),
    "maxwell": (lambda: jr.maxwell(KEY, (N,)), "maxwell", ()),
    "weibull_min": (lambda: jr.weibull_min(KEY, 1.0, 2.0, (N,)), "weibull_min", (2.0,)),
    "triangular": (lambda: jr.triangular(KEY, 0.0, 0.3, 1.0, (N,)), "triang", (0.3,)),
    "wald": (lambda: jr.wald(KEY, 1.0, (N,)), "invgauss", (1.0,)),
    "generalized_normal": (lambda: jr.generalized_normal(KEY, 3.0, (N,)), "gennorm", (3.0,)),
    "double_sided_maxwell": (lambda: jr.double_sided_maxwell(KEY, 0.0, 1.0, (N,)), "dsm", ()),
}


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_continuous_distribution(name):
    draw, dist, args = CONTINUOUS[name]
    x = np.asarray(draw(), np.float64)
    assert x.shape == (N,) and np.isfinite(x).all()
    if dist == "dsm":  # |x| is Maxwell, the sign is fair
        _ks(np.abs(x), "maxwell")
        assert abs(np.mean(x > 0) - 0.5) < 0.01
        return
    _ks(x, dist, *args)
    if dist != "cauchy":
        m, v = getattr(stats, dist).stats(*args, moments="mv")
        if np.isfinite(v):
            assert abs(x.mean() - m) < 6 * np.sqrt(v / N)


def test_discrete_distributions():
    def chi2_ok(counts, probs):
        expected = probs * counts.sum()
        assert stats.chisquare(counts, expected).pvalue > 1e-3

    r = np.asarray(jr.randint(KEY, (N,), -3, 7))
    chi2_ok(np.bincount(r + 3, minlength=10), np.full(10, 0.1))
    b = np.asarray(jr.bernoulli(KEY, 0.3, (N,)))
    assert abs(b.mean() - 0.3) < 6 * np.sqrt(0.21 / N)
    logits = np.log(np.array([0.1, 0.2, 0.3, 0.4], np.float32))
    c = np.asarray(jr.categorical(KEY, logits, shape=(N,)))
    chi2_ok(np.bincount(c, minlength=4), np.array([0.1, 0.2, 0.3, 0.4]))
    ch = np.asarray(jr.choice(KEY, 4, (N,), p=jnp.array([0.1, 0.2, 0.3, 0.4])))
    chi2_ok(np.bincount(ch, minlength=4), np.array([0.1, 0.2, 0.3, 0.4]))
    rad = np.asarray(jr.rademacher(KEY, (N,)))
    assert set(np.unique(rad)) == {-1, 1} and abs(rad.mean()) < 0.02
    for lam in (3.0, 25.0):
        p = np.asarray(jr.poisson(KEY, lam, (N,)))
        assert abs(p.mean() - lam) < 6 * np.sqrt(lam / N) and abs(p.var() / lam - 1) < 0.03
    g = np.asarray(jr.geometric(KEY, 0.25, (N,)))
    assert g.min() == 1 and abs(g.mean() - 4) < 6 * np.sqrt(12 / N)
    bn = np.asarray(jr.binomial(KEY, 30.0, 0.2, (N,)))
    assert abs(bn.mean() - 6) < 6 * np.sqrt(4.8 / N) and abs(bn.var() / 4.8 - 1) < 0.03
    mn = np.asarray(jr.multinomial(KEY, 10.0, jnp.array([0.2, 0.3, 0.5]), shape=(N // 10,)))
    assert (mn.sum(-1) == 10).all()
    np.testing.assert_allclose(mn.mean(0), [2, 3, 5], atol=0.05)
    # Permutations are uniform: each value lands in each place equally often.
    perms = np.asarray(jumba.vmap(lambda k: jr.permutation(k, 4))(jr.split(KEY, 20_000)))
    assert (np.sort(perms, axis=1) == np.arange(4)).all()
    chi2_ok(np.bincount(perms[:, 0], minlength=4), np.full(4, 0.25))


def test_multivariate_distributions():
    d = np.asarray(jr.dirichlet(KEY, jnp.array([1.0, 2.0, 3.0]), (N,)))
    np.testing.assert_allclose(d.sum(-1), 1, rtol=1e-5)
    np.testing.assert_allclose(d.mean(0), [1 / 6, 2 / 6, 3 / 6], atol=0.005)
    cov = np.array([[2.0, 0.6], [0.6, 1.0]])
    for method in ("cholesky", "eigh", "svd"):
        x = np.asarray(jr.multivariate_normal(KEY, jnp.array([1.0, -1.0]), cov, (N,),
                                              method=method))
        np.testing.assert_allclose(x.mean(0), [1, -1], atol=0.03)
        np.testing.assert_allclose(np.cov(x.T), cov, atol=0.05)
    q = np.asarray(jr.orthogonal(KEY, 3, (2000,)))
    np.testing.assert_allclose(q @ np.swapaxes(q, -1, -2), np.broadcast_to(np.eye(3), q.shape),
                               atol=1e-5)
    assert abs(q.mean()) < 0.01 and abs(q.var() - 1 / 3) < 0.01
    assert np.asarray(jr.orthogonal(KEY, 2, m=4)).shape == (2, 4)
    b = np.asarray(jr.ball(KEY, 2, 2, (N,)))
    r = np.linalg.norm(b, axis=-1)
    assert r.max() <= 1 and abs(np.mean(r ** 2 < 0.25) - 0.25) < 0.01  # uniform area
    bl1 = np.asarray(jr.ball(KEY, 3, 1, (1000,)))
    assert np.abs(bl1).sum(-1).max() <= 1


# ---------------------------------------------------------------------------------------
# Reparameterised gradients


def test_gradients_of_location_scale_samplers():
    key = jr.PRNGKey(5)
    check_grads(lambda lo, hi: jr.uniform(key, (3,), minval=lo, maxval=hi), (-1.0, 2.0),
                order=2, modes=("fwd", "rev"), eps=1e-2, rtol=2e-2)
    check_grads(lambda m, s: m + s * jr.normal(key, (3,)), (0.5, 2.0), order=2,
                modes=("fwd", "rev"), eps=1e-2, rtol=2e-2)
    check_grads(lambda lo, hi: jr.truncated_normal(key, lo, hi, (3,)), (-1.0, 1.5), order=1,
                modes=("fwd", "rev"), eps=1e-3, rtol=5e-2)
    g = jumba.grad(lambda s: jr.lognormal(key, s, (4,)).sum())(0.5)
    z = np.asarray(jr.normal(key, (4,)))
    np.testing.assert_allclose(g, (z * np.exp(0.5 * z)).sum(), rtol=1e-5)


def test_gradients_of_gamma_family():
    # Gamma samples are differentiated implicitly (holding the sample's CDF value fixed,
    # as JAX does), not along the rejection sampler's path, so finite differences of the
    # sampler are no reference: the inverse CDF at the sample's quantile is.
    from scipy.special import gammainc, gammaincinv

    key = jr.PRNGKey(6)
    with jumba.enable_x64():
        for a in (0.4, 2.5, 30.0):
            x, dx = jumba.jvp(lambda a: jr.gamma(key, a, (3,)), (a,), (1.0,))
            q = gammainc(a, np.asarray(x))
            h = 1e-6 * a
            fd = (gammaincinv(a + h, q) - gammaincinv(a - h, q)) / (2 * h)
            np.testing.assert_allclose(dx, fd, rtol=1e-5)
            g = jumba.grad(lambda a: jr.loggamma(key, a, (3,)).sum())(a)
            np.testing.assert_allclose(g, (fd / np.asarray(x)).sum(), rtol=1e-5)
        # beta / dirichlet / t chain those derivatives through their formulas: reverse
        # mode equals forward mode.
        for f, args in [(lambda a, b: jr.beta(key, a, b, (2,)), (2.0, 3.0)),
                        (lambda a: jr.dirichlet(key, a), (jnp.array([1.0, 2.0, 0.7]),)),
                        (lambda df: jr.t(key, df, (2,)), (4.0,))]:
            _fwd_equals_rev(f, args)
    # The mean of gamma(a) is a, so d/da of a large sample's mean is close to 1.
    g = jumba.grad(lambda a: jr.gamma(KEY, a, (N,)).mean())(3.0)
    assert abs(float(g) - 1) < 0.02
    with pytest.raises(NotImplementedError, match="Second derivatives"):
        jumba.grad(jumba.grad(lambda a: jr.gamma(key, a)))(2.0)


def _fwd_equals_rev(f, args):
    jac_fwd = jumba.jacfwd(f, argnums=tuple(range(len(args))))(*args)
    jac_rev = jumba.jacrev(f, argnums=tuple(range(len(args))))(*args)
    for a, b in zip(jac_fwd, jac_rev):
        np.testing.assert_allclose(a, b, rtol=1e-10)


# ---------------------------------------------------------------------------------------
# Errors


def test_errors_name_the_problem():
    with pytest.raises(TypeError, match="expected a PRNG key.*float32"):
        jr.normal(jnp.zeros(2), (3,))
    with pytest.raises(TypeError, match="expected a PRNG key.*uint32\\[3\\]"):
        jr.uniform(jnp.zeros(3, jnp.uint32))
    with pytest.raises(TypeError, match="expected a PRNG key"):
        jr.split(42)
    with pytest.raises(ValueError, match="single key.*shape \\(3, 2\\).*vmap"):
        jr.normal(jr.split(jr.PRNGKey(0), 3), (2,))
    with pytest.raises(ValueError, match="single key.*shape \\(3,\\)"):
        jr.split(jr.split(jr.key(0), 3))
    with pytest.raises(TypeError, match="shape must be static.*static_argnums"):
        jumba.jit(lambda k, n: jr.normal(k, (n,)))(jr.PRNGKey(0), 3)
    with pytest.raises(ValueError, match="float dtype"):
        jr.uniform(jr.PRNGKey(0), (2,), jnp.int32)
    with pytest.raises(TypeError, match="integer dtypes"):
        jr.randint(jr.PRNGKey(0), (2,), 0, 3, jnp.float32)
    with pytest.raises(ValueError, match="unsigned int dtype"):
        jr.bits(jr.PRNGKey(0), (2,), jnp.int32)
    with pytest.raises(ValueError, match="broadcast-compatible"):
        jr.uniform(jr.PRNGKey(0), (3,), minval=jnp.zeros(4))
    with pytest.raises(ValueError, match="larger sample"):
        jr.choice(jr.PRNGKey(0), 3, (4,), replace=False)
    with pytest.raises(ValueError, match="p must be None or match"):
        jr.choice(jr.PRNGKey(0), 3, (2,), p=jnp.ones(4) / 4)
    with pytest.raises(TypeError, match="must be a sequence"):
        jr.choice(jr.PRNGKey(0), 3, 2)
    with pytest.raises(TypeError, match="floating dtype"):
        jr.bernoulli(jr.PRNGKey(0), jnp.int32(1))
    with pytest.raises(TypeError, match="integer scalar"):
        jr.fold_in(jr.PRNGKey(0), 1.5)


# ---------------------------------------------------------------------------------------
# Tier 1: threefry's rounds expand into uint32 kernel code, bit for bit


@pytest.mark.numba
def test_tier1_kernels_give_the_same_bits(monkeypatch):
    from jumba._src.compiler import fusion, passes
    from jumba._src.compiler.tier1 import Tier1Executable

    monkeypatch.setattr(fusion, "MIN_KERNEL_SIZE", 0)

    def draws(k):
        # (Few kernels: each takes seconds to compile cold.)
        return jr.uniform(k, (300,), minval=-2.0, maxval=3.0), jr.normal(k, (300,))

    key = jr.PRNGKey(42)
    closed = passes.optimize(jumba.make_jaxpr(draws)(key))
    ex = Tier1Executable(closed, "draws")
    assert ex.num_kernels >= 1 and "threefry2x32" not in ex.source
    assert any("<<" in src for src in ex.kernel_sources)
    (got_u, got_n), (want_u, want_n) = ex([np.asarray(key)]), draws(key)
    np.testing.assert_array_equal(np.asarray(got_u).view(np.uint32),
                                  np.asarray(want_u).view(np.uint32))
    # normal's erf_inv runs in the kernel with a vectorised float32 log1p (within 1.5 ulp
    # of NumPy's): a few values differ from tier 0 in the last bit.
    assert_ulp_close(got_n, np.asarray(want_n), 2)


def test_orthogonal_and_multivariate_normal_under_jit_vmap_and_grad():
    # The factorisations are jumba.numpy.linalg's: traced covariances and keys work.
    key = jr.PRNGKey(0)
    q = jumba.jit(lambda k: jr.orthogonal(k, 4, m=3))(key)
    np.testing.assert_allclose(np.asarray(q.T @ q), np.eye(3), atol=1e-5)
    np.testing.assert_allclose(np.asarray(q), np.asarray(jr.orthogonal(key, 4, m=3)),
                               atol=1e-6)
    batched = jumba.vmap(lambda k: jr.orthogonal(k, 3))(jr.split(key, 4))
    assert batched.shape == (4, 3, 3)
    cov = jnp.asarray([[2.0, 0.3], [0.3, 1.0]])
    for method in ("cholesky", "eigh", "svd"):
        draw = jumba.jit(lambda c, method=method: jr.multivariate_normal(
            key, jnp.zeros(2), c, (4000,), method=method))(cov)
        np.testing.assert_allclose(np.cov(np.asarray(draw).T), np.asarray(cov), atol=0.12)
    check_grads(lambda c: jnp.sum(jr.multivariate_normal(key, jnp.ones(2), c @ c.T, (3,))),
                (cov,), order=1, modes=("rev",), atol=2e-2, rtol=2e-2)
