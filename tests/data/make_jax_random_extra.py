# ruff: noqa: E501  (the calls are recorded verbatim, one per line)
"""Regenerate tests/data/jax_random_extra.json with JAX (run with benchmarks/.venv's python):

    benchmarks/.venv/bin/python tests/data/make_jax_random_extra.py

Cases beyond /work/shared/testdata/jax_random.json: seed conversion (x64 off and on),
typed keys, narrow and wide bits, the gamma family, poisson, and the array forms of
permutation / choice / categorical. Each case records the call (as Python source on
`jr` = jax.random / jumba.random, `np`, `jvp` and `key` = PRNGKey(seed)) and its output.
"""

import json
from pathlib import Path

import jax
import numpy as np

CALLS_X32 = {
    "seed_neg1": "jr.PRNGKey(-1)",
    "seed_2pow32_plus5": "jr.PRNGKey(2**32 + 5)",
    "seed_int64_max": "jr.PRNGKey(2**63 - 1)",
    "seed_uint32_array": "jr.PRNGKey(np.uint32(4000000000))",
    "typed_key_data": "jr.key_data(jr.key(7))",
    "typed_split_data": "jr.key_data(jr.split(jr.key(7), (2, 3)))",
    "typed_fold_in_data": "jr.key_data(jr.fold_in(jr.key(7), 99))",
    "typed_normal": "jr.normal(jr.key(7), (4,))",
    "bits_uint8": "jr.bits(key, (7,), np.uint8)",
    "bits_uint16": "jr.bits(key, (7,), np.uint16)",
    "randint_uint8_0_256": "jr.randint(key, (9,), 0, 256, np.uint8)",
    "randint_bounds_array": "jr.randint(key, (2, 3), np.array([0, 10, 100]), np.array([5, 20, 1000]))",
    "uniform_bounds_array": "jr.uniform(key, (2, 3), minval=np.array([0., 1., 2.]), maxval=np.array([1., 3., 7.]))",
    "permutation_array_axis1": "jr.permutation(key, np.arange(12).reshape(3, 4), axis=1)",
    "permutation_independent": "jr.permutation(key, np.arange(12).reshape(3, 4), axis=1, independent=True)",
    "permutation_2d_axis0": "jr.permutation(key, np.arange(12).reshape(4, 3))",
    "choice_p_replace": "jr.choice(key, 5, (8,), p=np.array([.1, .2, .3, .25, .15], np.float32))",
    "choice_p_noreplace": "jr.choice(key, 5, (3,), replace=False, p=np.array([.1, .2, .3, .25, .15], np.float32))",
    "choice_array_axis1": "jr.choice(key, np.arange(12).reshape(3, 4), (2,), axis=1)",
    "categorical_2d_axis0": "jr.categorical(key, np.log(np.array([[.1, .9], [.5, .5], [.4, .6]], np.float32)), axis=0)",
    "categorical_noreplace": "jr.categorical(key, np.log(np.array([.1, .2, .3, .25, .15], np.float32)), shape=(3,), replace=False)",
    "gamma": "jr.gamma(key, np.array([0.3, 1.0, 2.5, 10.0], np.float32))",
    "loggamma": "jr.loggamma(key, np.array([0.3, 1.0, 2.5], np.float32))",
    "beta": "jr.beta(key, 2.0, 3.0, (4,))",
    "dirichlet": "jr.dirichlet(key, np.array([1.0, 2.0, 3.0], np.float32), (2,))",
    "t": "jr.t(key, 3.0, (4,))",
    "chisquare": "jr.chisquare(key, 3.0, (4,))",
    "f": "jr.f(key, 3.0, 4.0, (4,))",
    "poisson_small": "jr.poisson(key, 3.0, (6,))",
    "poisson_large": "jr.poisson(key, 30.0, (6,))",
    "cauchy": "jr.cauchy(key, (4,))",
    "rademacher": "jr.rademacher(key, (8,))",
    "geometric": "jr.geometric(key, 0.3, (6,))",
    "lognormal": "jr.lognormal(key, 0.5, (4,))",
    "pareto": "jr.pareto(key, 3.0, (4,))",
    "rayleigh": "jr.rayleigh(key, 2.0, (4,))",
    "weibull_min": "jr.weibull_min(key, 1.5, 2.0, (4,))",
    "triangular": "jr.triangular(key, 0.0, 0.3, 1.0, (4,))",
    "wald": "jr.wald(key, 1.5, (4,))",
    "maxwell": "jr.maxwell(key, (4,))",
    "double_sided_maxwell": "jr.double_sided_maxwell(key, 1.0, 2.0, (4,))",
    "generalized_normal": "jr.generalized_normal(key, 3.0, (4,))",
    "ball": "jr.ball(key, 3, 2, (2,))",
    "jvp_gamma": "jvp(lambda a: jr.gamma(key, a, (3,)), (2.5,), (1.0,))[1]",
    "jvp_gamma_small": "jvp(lambda a: jr.gamma(key, a, (3,)), (0.4,), (1.0,))[1]",
    "jvp_loggamma": "jvp(lambda a: jr.loggamma(key, a, (3,)), (0.4,), (1.0,))[1]",
    "jvp_beta": "jvp(lambda a, b: jr.beta(key, a, b, (3,)), (2.0, 3.0), (1.0, -0.5))[1]",
    "jvp_dirichlet": "jvp(lambda a: jr.dirichlet(key, a), (np.array([1.0, 2.0, 0.7], np.float32),), (np.ones(3, np.float32),))[1]",
    "jvp_t": "jvp(lambda d: jr.t(key, d, (3,)), (4.0,), (1.0,))[1]",
}
CALLS_X64 = {
    "x64_seed_neg1": "jr.PRNGKey(-1)",
    "x64_seed_2pow32_plus5": "jr.PRNGKey(2**32 + 5)",
    "x64_seed_int64_min": "jr.PRNGKey(-2**63)",
    "x64_bits_default": "jr.bits(key, (3,))",
    "x64_uniform_f64": "jr.uniform(key, (4,), np.float64)",
    "x64_randint_i64": "jr.randint(key, (5,), -(2**40), 2**40, np.int64)",
}


def record(x):
    x = np.asarray(x)
    out = {"dtype": x.dtype.name, "shape": list(x.shape), "values": x.ravel().tolist()}
    if x.dtype == np.float32:
        out["bits_u32"] = x.view(np.uint32).ravel().tolist()
    if x.dtype == np.float64:
        out["bits_u64"] = [str(v) for v in x.view(np.uint64).ravel()]
    return out


def run(calls, seed):
    jr = jax.random
    key = jr.PRNGKey(seed)
    return {name: {"call": src, "out": record(eval(src, {"jr": jr, "np": np, "key": key, "jvp": jax.jvp}))}
            for name, src in calls.items()}


if __name__ == "__main__":
    cases = []
    for seed in (0, 42):
        jax.config.update("jax_enable_x64", False)
        c = run(CALLS_X32, seed)
        jax.config.update("jax_enable_x64", True)
        c.update(run(CALLS_X64, seed))
        cases.append({"seed": seed, "cases": c})
    about = (f"Outputs of jax.random {jax.__version__} (CPU, threefry partitionable), made by "
             "tests/data/make_jax_random_extra.py; x64_* cases ran with jax_enable_x64.")
    path = Path(__file__).with_name("jax_random_extra.json")
    path.write_text(json.dumps({"_about": about, "seeds": cases}, separators=(",", ":")))
