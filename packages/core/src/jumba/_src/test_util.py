"""Numerical checks of derivatives, for Jumba's tests and for library authors.

`check_grads(f, args, order)` compares forward mode against central finite differences,
and reverse mode against forward mode through the inner-product identity
<vjp(ct), t> == <ct, jvp(t)>, recursively up to `order`. Work is done in float64 when x64
is enabled and in the inputs' dtype otherwise (tolerances scale with the dtype).
"""

from __future__ import annotations

import numpy as np

from jumba._src import api
from jumba._src.core import get_aval
from jumba._src.tree_util import tree_flatten, tree_map, tree_unflatten

_DEFAULT_TOL = {np.dtype(np.float16): 1e-1, np.dtype(np.float32): 2e-2,
                np.dtype(np.float64): 1e-5}
_DEFAULT_EPS = {np.dtype(np.float16): 1e-1, np.dtype(np.float32): 1e-2,
                np.dtype(np.float64): 1e-5}


def _tol(leaves, given):
    if given is not None:
        return given
    dts = [np.dtype(get_aval(x).dtype) for x in leaves] or [np.dtype(np.float32)]
    return max(_DEFAULT_TOL.get(dt, 1e-5) for dt in dts)


def _eps(leaves, given):
    if given is not None:
        return given
    dts = [np.dtype(get_aval(x).dtype) for x in leaves] or [np.dtype(np.float32)]
    return max(_DEFAULT_EPS.get(dt, 1e-5) for dt in dts)


def _np(x):
    return np.asarray(x, dtype=np.float64)


def _vdot(xs, ys):
    return sum(float(np.sum(_np(a) * _np(b))) for a, b in zip(xs, ys))


def _random_like(rng, leaves):
    return [np.asarray(rng.standard_normal(get_aval(x).shape), get_aval(x).dtype)
            for x in leaves]


def _assert_close(name, a, b, atol, rtol):
    fa, _ = tree_flatten(a)
    fb, _ = tree_flatten(b)
    for x, y in zip(fa, fb):
        x, y = _np(x), _np(y)
        if not np.allclose(x, y, atol=atol, rtol=rtol, equal_nan=True):
            err = np.max(np.abs(x - y)) if x.size else 0.0
            raise AssertionError(
                f"{name} mismatch (max abs error {err:.3g}, atol={atol}, rtol={rtol}):\n"
                f"got      {x}\nexpected {y}")


def check_jvp(f, args, atol=None, rtol=None, eps=None, seed=0):
    """Forward mode against central finite differences along a random direction."""
    leaves, tree = tree_flatten(tuple(args))
    atol, rtol, eps = _tol(leaves, atol), _tol(leaves, rtol), _eps(leaves, eps)
    rng = np.random.default_rng(seed)
    tangent = _random_like(rng, leaves)

    def at(sign):
        shifted = [np.asarray(_np(x) + sign * eps * t, get_aval(x).dtype)
                   for x, t in zip(leaves, tangent)]
        return f(*tree_unflatten(tree, shifted))

    plus, minus = at(+1), at(-1)
    numeric = tree_map(lambda p, m: (_np(p) - _np(m)) / (2 * eps), plus, minus)
    _, analytic = api.jvp(f, tuple(args), tuple(tree_unflatten(tree, tangent)))
    _assert_close("JVP", analytic, numeric, atol, rtol)


def check_vjp(f, args, atol=None, rtol=None, seed=1):
    """Reverse mode against forward mode: <vjp(ct), t> == <ct, jvp(t)>."""
    leaves, tree = tree_flatten(tuple(args))
    atol, rtol = _tol(leaves, atol), _tol(leaves, rtol)
    rng = np.random.default_rng(seed)
    tangent = _random_like(rng, leaves)
    out, f_vjp = api.vjp(f, *args)
    out_leaves, out_tree = tree_flatten(out)
    ct = _random_like(rng, out_leaves)
    ct_in = f_vjp(tree_unflatten(out_tree, ct))
    _, t_out = api.jvp(f, tuple(args), tuple(tree_unflatten(tree, tangent)))
    lhs = _vdot(tree_flatten(ct_in)[0], tangent)
    rhs = _vdot(ct, tree_flatten(t_out)[0])
    scale = max(1.0, abs(lhs), abs(rhs))
    if abs(lhs - rhs) > atol * scale + rtol * scale:
        raise AssertionError(f"VJP mismatch: <vjp(ct), t> = {lhs} but <ct, jvp(t)> = {rhs}")


def check_grads(f, args, order: int = 2, modes=("fwd", "rev"), atol=None, rtol=None,
                eps=None):
    """Check derivatives of `f` at `args` up to `order`, in forward and/or reverse mode.

    Examples:
      >>> import jumba.numpy as jnp
      >>> check_grads(jnp.sin, (0.5,), order=2)
    """
    args = tuple(args)
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    for mode in modes:
        if mode not in ("fwd", "rev"):
            raise ValueError(f"check_grads: unknown mode {mode!r}; use 'fwd' and/or 'rev'")
    if "fwd" in modes:
        check_jvp(f, args, atol, rtol, eps)
    if "rev" in modes:
        check_vjp(f, args, atol, rtol)
    if order > 1:
        # The next order: derivatives of the directional derivative.
        rng = np.random.default_rng(order)
        leaves, tree = tree_flatten(args)
        t = tree_unflatten(tree, _random_like(rng, leaves))

        def f_jvp(*primals):
            return api.jvp(f, primals, tuple(t))[1]

        check_grads(f_jvp, args, order - 1, modes, atol, rtol, eps)
