"""Random-bit primitives: the Threefry-2x32 block cipher (Salmon et al., "Parallel random
numbers: as easy as 1, 2, 3", SC 2011), as JAX's `threefry2x32_p`.

`threefry2x32(k1, k2, x1, x2)` encrypts the counter words (x1, x2) under the key words
(k1, k2) with 20 rounds; all four operands are uint32 and broadcast together, and the two
results have their broadcast shape. It is elementwise, so vmap just broadcasts; it has no
derivative (integers).
"""

from __future__ import annotations

import numpy as np

from jumba._src import dtypes
from jumba._src.core import Primitive, ShapedArray, get_aval
from jumba._src.interpreters import ad, batching
from jumba._src.interpreters.ad import Zero
from jumba._src.lax.elementwise import broadcast_shapes_for

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
# Threefry's key-schedule parity constant.
_PARITY = np.uint32(0x1BD11BDA)


def threefry2x32_numpy(k1, k2, x1, x2):
    """Threefry-2x32 on NumPy uint32 arrays (broadcast together); returns (y1, y2)."""
    shape = np.broadcast_shapes(np.shape(k1), np.shape(k2), np.shape(x1), np.shape(x2))
    # 1-d working arrays: uint32 array arithmetic wraps silently, where NumPy scalars
    # (what 0-d operations return) would warn on overflow.
    def flat(v):
        return np.ascontiguousarray(np.broadcast_to(np.asarray(v, np.uint32), shape)).reshape(-1)

    k1, k2, x = flat(k1), flat(k2), [flat(x1).copy(), flat(x2).copy()]
    ks = (k1, k2, k1 ^ k2 ^ _PARITY)
    x[0] += ks[0]
    x[1] += ks[1]
    tmp = np.empty_like(x[1])
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x[0] += x[1]
            # rotate left by r: (v << r) | (v >> (32 - r))
            np.right_shift(x[1], np.uint32(32 - r), out=tmp)
            np.left_shift(x[1], np.uint32(r), out=x[1])
            x[1] |= tmp
            x[1] ^= x[0]
        x[0] += ks[(i + 1) % 3]
        x[1] += ks[(i + 2) % 3]
        x[1] += np.uint32(i + 1)
    return x[0].reshape(shape), x[1].reshape(shape)


threefry2x32_p = Primitive("threefry2x32", multiple_results=True)


def _check_uint32(dts):
    if any(dt != np.uint32 for dt in dts):
        listed = ", ".join(np.dtype(dt).name for dt in dts)
        raise TypeError(f"threefry2x32 requires four uint32 operands (key words k1, k2 and "
                        f"counter words x1, x2), got {listed}; convert them with "
                        ".astype(jumba.numpy.uint32)")


@threefry2x32_p.def_impl
def _threefry2x32_impl(k1, k2, x1, x2):
    _check_uint32([k1.dtype, k2.dtype, x1.dtype, x2.dtype])
    return list(threefry2x32_numpy(k1, k2, x1, x2))


@threefry2x32_p.def_abstract_eval
def _threefry2x32_abstract_eval(*avals):
    _check_uint32([a.dtype for a in avals])
    shape = broadcast_shapes_for("threefry2x32", [a.shape for a in avals])
    out = ShapedArray(shape, dtypes.uint32, False)
    return [out, out]


threefry2x32_p.weak_type_rule = lambda *ws, **params: [False, False]


def _threefry2x32_batch(size, vals, dims):
    # Elementwise with broadcasting: batch axes go first, lower-rank operands get size-1
    # axes after it so that right-aligned broadcasting still lines up.
    from jumba._src.lax.structural import reshape

    ranks = [get_aval(v).ndim - (d is not None) for v, d in zip(vals, dims)]
    out_rank = max(ranks)
    args = []
    for v, d, r in zip(vals, dims, ranks):
        if d is not None:
            v = batching.moveaxis(v, d, 0)
            shape = get_aval(v).shape
            v = reshape(v, (shape[0],) + (1,) * (out_rank - r) + shape[1:])
        args.append(v)
    return threefry2x32_p.bind(*args), [0, 0]


batching.primitive_batchers[threefry2x32_p] = _threefry2x32_batch


def _threefry2x32_jvp(primals, tangents):
    outs = threefry2x32_p.bind(*primals)
    return outs, [Zero(ad.tangent_aval(get_aval(o))) for o in outs]


ad.primitive_jvps[threefry2x32_p] = _threefry2x32_jvp


def threefry2x32_expanded(k1, k2, x1, x2):
    """Threefry-2x32 written with elementwise uint32 primitives (add, shifts, or, xor).

    Tier 1 replaces the primitive with this (see lowering_rules.py), so that the rounds
    fuse into the kernel of the draw that uses them, as XLA expands JAX's primitive.
    """
    from jumba._src.lax import elementwise as ew
    from jumba._src.lax.structural import broadcast_to

    u32 = lambda v: np.asarray(v, np.uint32)  # noqa: E731
    ks = (k1, k2, ew.bitwise_xor(ew.bitwise_xor(k1, k2), u32(_PARITY)))
    x = [ew.add(x1, ks[0]), ew.add(x2, ks[1])]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x[0] = ew.add(x[0], x[1])
            rot = ew.bitwise_or(ew.shift_left(x[1], u32(r)),
                                ew.shift_right_logical(x[1], u32(32 - r)))
            x[1] = ew.bitwise_xor(rot, x[0])
        x[0] = ew.add(x[0], ks[(i + 1) % 3])
        x[1] = ew.add(ew.add(x[1], ks[(i + 2) % 3]), u32(i + 1))
    shape = broadcast_shapes_for("threefry2x32", [get_aval(v).shape for v in (k1, k2, x1, x2)])
    return [v if get_aval(v).shape == shape else broadcast_to(v, shape) for v in x]


def threefry2x32(k1, k2, x1, x2):
    """Threefry-2x32 of counters (x1, x2) under key (k1, k2); uint32 operands broadcast.

    Returns:
      The two uint32 output words `[y1, y2]`, of the operands' broadcast shape.
    """
    return threefry2x32_p.bind(k1, k2, x1, x2)


# ---------------------------------------------------------------------------------------
# NumPy versions of the key derivations and scalar draws, for the samplers below whose
# rejection loops run in their NumPy implementations (as JAX's run in `while_loop`s).
# `keys` are uint32 arrays of shape (n, 2), one key per element.


def np_split(keys, num):
    """`num` keys split from each of `keys`: a list of (n, 2) arrays."""
    out = []
    for j in range(num):
        y1, y2 = threefry2x32_numpy(keys[:, 0], keys[:, 1], 0, np.uint32(j))
        out.append(np.stack([y1, y2], axis=-1))
    return out


def np_split_shape(key, shape):
    """Keys of `shape` split from one key (shape (2,)): shape + (2,)."""
    n = int(np.prod(shape))
    y1, y2 = threefry2x32_numpy(key[0], key[1], 0, np.arange(n, dtype=np.uint32))
    return np.stack([y1, y2], axis=-1).reshape(tuple(shape) + (2,))


def np_uniform(keys, dtype, shape=None):
    """Uniform [0, 1) floats: one per key (shape None) or `shape` from each of `keys`
    (then the result has shape (n, *shape))."""
    dtype = np.dtype(dtype)
    if shape is None:
        y1, y2 = threefry2x32_numpy(keys[:, 0], keys[:, 1], 0, 0)
    else:
        n = int(np.prod(shape))
        cnt = np.arange(n, dtype=np.uint32)
        y1, y2 = threefry2x32_numpy(keys[:, :1], keys[:, 1:], 0, cnt[None, :])
        y1, y2 = y1.reshape((-1, *shape)), y2.reshape((-1, *shape))
    if dtype.itemsize == 8:
        b = (y1.astype(np.uint64) << np.uint64(32)) | y2.astype(np.uint64)
        return (b >> np.uint64(12)).astype(np.float64) * 2.0 ** -52
    nmant = np.finfo(dtype).nmant
    b = y1 ^ y2
    m = (b >> np.uint32(32 - nmant)).astype(np.float32)
    return (m * np.float32(2.0 ** -nmant)).astype(dtype)


def np_normal(keys, dtype):
    """One standard normal per key, as jumba.random.normal(key, ())."""
    from jumba._src.lax.elementwise import _erf_inv_impl

    dtype = np.dtype(dtype)
    lo = np.nextafter(dtype.type(-1), dtype.type(0))
    f = np_uniform(keys, dtype)
    u = np.maximum(lo, (f.astype(np.float64) * np.float64(dtype.type(1) - lo) + lo).astype(dtype))
    return (dtype.type(np.sqrt(2)) * _erf_inv_impl(u)).astype(dtype)


def _per_element_keys(keys, shape):
    """Split each of `keys` (shape (*B, 2)) into one key per element of `shape` (*B, *S):
    an (n, 2) array in row-major order, as JAX's gamma sampler."""
    batch = keys.shape[:-1]
    per = int(np.prod(shape[len(batch):]))
    flat = keys.reshape(-1, 2)
    y1, y2 = threefry2x32_numpy(flat[:, :1], flat[:, 1:], 0,
                                np.arange(per, dtype=np.uint32)[None, :])
    return np.stack([y1.reshape(-1), y2.reshape(-1)], axis=-1)


# ---------------------------------------------------------------------------------------
# random_gamma: Marsaglia & Tsang's rejection sampler ("A simple method for generating
# gamma variables", ACM TOMS 2000), element by element with JAX's key schedule; alpha < 1
# is boosted to alpha + 1 and scaled by u ** (1 / alpha).


def _gamma_numpy(keys, alpha, log_space):
    dt = alpha.dtype.type
    with np.errstate(all="ignore"):
        boost = alpha >= 1
        a = np.where(boost, alpha, alpha + dt(1))
        d = a - dt(1 / 3)
        c = dt(1 / 3) / np.sqrt(d)
        key, subkey = np_split(keys, 2)
        X, V, U = np.zeros_like(a), np.ones_like(a), np.full_like(a, 2)
        active = np.ones(a.shape, bool)
        while active.any():
            idx = np.nonzero(active)[0]
            k, xk, uk = np_split(key[idx], 3)
            x, v = np.zeros(len(idx), a.dtype), np.full(len(idx), -1, a.dtype)
            pending = np.ones(len(idx), bool)
            while pending.any():  # a normal draw with 1 + c x > 0
                j = np.nonzero(pending)[0]
                xk[j], sub = np_split(xk[j], 2)
                x[j] = np_normal(sub, a.dtype)
                v[j] = dt(1) + x[j] * c[idx[j]]
                pending = v <= 0
            key[idx] = k
            X[idx], V[idx], U[idx] = x * x, v * v * v, np_uniform(uk, a.dtype)
            Xi, Vi, Ui, di = X[idx], V[idx], U[idx], d[idx]
            reject = (Ui >= dt(1) - dt(0.0331) * Xi * Xi) & (
                np.log(Ui) >= Xi * dt(0.5) + di * (dt(1) - Vi + np.log(Vi)))
            active[idx] = reject
        if log_space:
            # log(u) as JAX computes it: minus an exponential draw, -(-log1p(-u)).
            log_u = np.log1p(-np_uniform(subkey, a.dtype))
            log_boost = np.where(boost | (log_u == 0), dt(0), log_u * (dt(1) / alpha))
            return (np.log(d) + np.log(V) + log_boost).astype(a.dtype)
        u = dt(1) - np_uniform(subkey, a.dtype)
        boost_factor = np.where(boost, dt(1), u ** (dt(1) / alpha))
        return (d * V * boost_factor).astype(a.dtype)


random_gamma_p = Primitive("random_gamma")


@random_gamma_p.def_impl
def _random_gamma_impl(key, a, *, log_space):
    if a.size == 0:
        return np.zeros(a.shape, a.dtype)
    keys = _per_element_keys(key, a.shape)
    return _gamma_numpy(keys, a.reshape(-1), log_space).reshape(a.shape)


def _check_sampler_operands(name, key, param):
    if key.dtype != np.uint32 or not key.shape or key.shape[-1] != 2:
        raise TypeError(f"{name}: the key must be uint32 key data of shape (..., 2), got "
                        f"{key.dtype.name}{list(key.shape)}")
    batch = key.shape[:-1]
    if param.shape[:len(batch)] != batch:
        raise ValueError(f"{name}: the parameter's shape {param.shape} must start with the "
                         f"key batch shape {batch}")


@random_gamma_p.def_abstract_eval
def _random_gamma_abstract_eval(key, a, *, log_space):
    _check_sampler_operands("random_gamma", key, a)
    if a.dtype.kind != "f":
        raise TypeError(f"random_gamma: alpha must be floating-point, got {a.dtype.name}")
    return ShapedArray(a.shape, a.dtype, False)


def _key_param_batch(p):
    def rule(size, vals, dims, **params):
        key, a = (batching.bdim_at_front(v, d, size) for v, d in zip(vals, dims))
        return p.bind(key, a, **params), 0

    batching.primitive_batchers[p] = rule


_key_param_batch(random_gamma_p)


def _random_gamma_jvp(primals, tangents, *, log_space):
    from jumba._src.lax import elementwise as ew

    key, a = primals
    _, a_dot = tangents
    sample = random_gamma_p.bind(key, a, log_space=log_space)
    if type(a_dot) is Zero:
        return sample, Zero(ad.tangent_aval(get_aval(sample)))
    if log_space:
        # d log(x) = dx / x; x = exp(log x) may underflow to 0: use the smallest float.
        x = ew.exp(sample)
        tiny = np.asarray(np.finfo(get_aval(a).dtype).tiny, get_aval(a).dtype)
        x = ew.select_n(ew.eq(x, np.zeros((), get_aval(a).dtype)), x, tiny)
        grad = ew.div(random_gamma_grad(a, x), x)
    else:
        grad = random_gamma_grad(a, sample)
    return sample, ew.mul(a_dot, grad)


ad.primitive_jvps[random_gamma_p] = _random_gamma_jvp

# random_gamma_grad(a, x): d x / d a for a gamma(a) sample x at fixed uniform noise, by
# implicit differentiation of the CDF (Figurnov et al., "Implicit reparameterization
# gradients", NeurIPS 2018): -(d/da P(a, x)) / p(x; a).
random_gamma_grad_p = Primitive("random_gamma_grad")


@random_gamma_grad_p.def_impl
def _random_gamma_grad_impl(a, x):
    from scipy.special import gammainc, gammaln

    a64, x64 = np.broadcast_arrays(a.astype(np.float64), x.astype(np.float64))
    with np.errstate(all="ignore"):
        # d/da P(a, x) by central differences, Richardson-extrapolated (error O(h**4));
        # P is accurate to ~1e-15, far below what the float32/64 results need.
        h = 1e-3 * np.maximum(a64, 1e-3)

        def central(step):
            return (gammainc(a64 + step, x64) - gammainc(a64 - step, x64)) / (2 * step)

        dp_da = (4 * central(h / 2) - central(h)) / 3
        log_pdf = (a64 - 1) * np.log(x64) - x64 - gammaln(a64)
        out = -dp_da / np.exp(log_pdf)
        out = np.where((x64 > 0) & np.isfinite(out), out, 0.0)
    return out.astype(np.result_type(a.dtype, x.dtype))


@random_gamma_grad_p.def_abstract_eval
def _random_gamma_grad_abstract_eval(a, x):
    if a.dtype.kind != "f" or x.dtype != a.dtype:
        raise TypeError(f"random_gamma_grad requires float operands of one dtype, got "
                        f"{a.dtype.name} and {x.dtype.name}")
    return ShapedArray(broadcast_shapes_for("random_gamma_grad", [a.shape, x.shape]),
                       a.dtype, False)


batching.defbroadcasting(random_gamma_grad_p)


def _random_gamma_grad_jvp(primals, tangents):
    raise NotImplementedError(
        "Second derivatives of gamma-family samples (gamma, beta, dirichlet, chisquare, t, "
        "...) with respect to their shape parameters are not implemented in Jumba; first "
        "derivatives (grad, jvp, vjp) are.")


ad.primitive_jvps[random_gamma_grad_p] = _random_gamma_grad_jvp


def random_gamma_grad(a, x):
    """d x / d a of gamma(a) samples `x` (reparameterisation by implicit differentiation)."""
    return random_gamma_grad_p.bind(a, x)


# ---------------------------------------------------------------------------------------
# random_poisson: JAX's sampler - Knuth's product of uniforms for lam < 10, Hörmann's
# transformed rejection ("The transformed rejection method for generating Poisson random
# variables", 1993) otherwise - each round drawing a whole array with one fresh key.


def _poisson_one(key, lam, dtype):
    """Poisson draws of `lam`'s shape with one key (shape (2,)), in NumPy."""
    from scipy.special import gammaln

    shape = lam.shape
    f = lam.dtype.type
    with np.errstate(all="ignore"):
        use_knuth = np.isnan(lam) | (lam < 10)
        # Knuth: count uniforms until their product falls below exp(-lam).
        lam_k = np.where(use_knuth, lam, f(0))
        k = np.zeros(shape, np.int64)
        log_prod = np.zeros(shape, np.float32)
        rng = key[None, :]
        while (log_prod > -lam_k).any():
            rng, sub = np_split(rng, 2)
            k = np.where(log_prod > -lam_k, k + 1, k)
            log_prod = log_prod + np.log(np_uniform(sub, np.float32, shape)[0])
        knuth = k - 1
        # Transformed rejection.
        lam_r = np.where(use_knuth, f(1e5), lam)
        log_lam = np.log(lam_r)
        b = f(0.931) + f(2.53) * np.sqrt(lam_r)
        a = f(-0.059) + f(0.02483) * b
        inv_alpha = f(1.1239) + f(1.1328) / (b - f(3.4))
        v_r = f(0.9277) - f(3.6224) / (b - f(2))
        k_out = np.full(shape, -1.0, lam.dtype)
        accepted = np.zeros(shape, bool)
        rng = key[None, :]
        while not accepted.all():
            rng, s0, s1 = np_split(rng, 3)
            u = np_uniform(s0, lam.dtype, shape)[0] - f(0.5)
            v = np_uniform(s1, lam.dtype, shape)[0]
            us = f(0.5) - np.abs(u)
            kk = np.floor((f(2) * a / us + b) * u + lam_r + f(0.43))
            s = np.log(v * inv_alpha / (a / (us * us) + b))
            t = -lam_r + kk * log_lam - gammaln(kk + 1).astype(lam.dtype)
            accept = ((us >= f(0.07)) & (v <= v_r)) | (
                ~((kk < 0) | ((us < f(0.013)) & (v > us))) & (s <= t))
            k_out = np.where(accept, kk, k_out)  # as JAX: a later acceptance wins
            accepted |= accept
        out = np.where(use_knuth, knuth, k_out.astype(np.int64))
        return np.where(lam == 0, 0, out).astype(dtype)


random_poisson_p = Primitive("random_poisson")


@random_poisson_p.def_impl
def _random_poisson_impl(key, lam, *, dtype):
    batch = key.shape[:-1]
    keys = key.reshape(-1, 2)
    lams = lam.reshape((-1,) + lam.shape[len(batch):])
    out = [_poisson_one(k, lm, dtype) for k, lm in zip(keys, lams)]
    return np.stack(out).reshape(lam.shape) if out else np.zeros(lam.shape, dtype)


@random_poisson_p.def_abstract_eval
def _random_poisson_abstract_eval(key, lam, *, dtype):
    _check_sampler_operands("random_poisson", key, lam)
    return ShapedArray(lam.shape, np.dtype(dtype), False)


_key_param_batch(random_poisson_p)


def _integer_sample_jvp(p):
    def jvp(primals, tangents, **params):
        out = p.bind(*primals, **params)
        return out, Zero(ad.tangent_aval(get_aval(out)))

    ad.primitive_jvps[p] = jvp


_integer_sample_jvp(random_poisson_p)

# ---------------------------------------------------------------------------------------
# random_binomial: exact binomial draws from a Philox generator keyed by the Threefry key
# (the values are a deterministic function of the key, but not JAX's stream).

random_binomial_p = Primitive("random_binomial")


@random_binomial_p.def_impl
def _random_binomial_impl(key, n, p, *, dtype):
    batch = key.shape[:-1]
    keys = key.reshape(-1, 2)
    per = n.shape[len(batch):]
    ns = n.reshape((-1,) + per)
    ps = p.reshape((-1,) + per)
    out = np.empty(ns.shape, np.float64)
    for i, k in enumerate(keys):
        gen = np.random.Generator(np.random.Philox(key=[int(k[0]), int(k[1])]))
        nn = np.nan_to_num(ns[i]).astype(np.int64).clip(0)
        pp = np.nan_to_num(np.clip(ps[i], 0, 1).astype(np.float64))
        out[i] = gen.binomial(nn, pp)
    return out.reshape(n.shape).astype(dtype)


@random_binomial_p.def_abstract_eval
def _random_binomial_abstract_eval(key, n, p, *, dtype):
    _check_sampler_operands("random_binomial", key, n)
    if n.shape != p.shape:
        raise ValueError(f"random_binomial: n and p must have one shape, got {n.shape} and "
                         f"{p.shape}")
    return ShapedArray(n.shape, np.dtype(dtype), False)


def _random_binomial_batch(size, vals, dims, *, dtype):
    key, n, p = (batching.bdim_at_front(v, d, size) for v, d in zip(vals, dims))
    return random_binomial_p.bind(key, n, p, dtype=dtype), 0


batching.primitive_batchers[random_binomial_p] = _random_binomial_batch
_integer_sample_jvp(random_binomial_p)
