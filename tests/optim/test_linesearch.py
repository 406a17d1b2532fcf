"""L-BFGS with its zoom line search, backtracking, Polyak step sizes."""

import numpy as np
import pytest

import jumba
import jumba.numpy as jnp
import jumba_optim as optim
from jumba_optim import tree_utils as otu


def rosen(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def _solve(opt, f, x, steps, jit=False):
    vg = optim.value_and_grad_from_state(f)

    def step(x, state):
        value, grad = vg(x, state=state)
        u, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=f)
        return optim.apply_updates(x, u), state

    if jit:
        step = jumba.jit(step)
    state = opt.init(x)
    for _ in range(steps):
        x, state = step(x, state)
    return x, state


def test_lbfgs_minimises_rosenbrock():
    x, state = _solve(optim.lbfgs(), rosen, jnp.asarray([-1.2, 1.0, -1.2, 1.0]), 40)
    np.testing.assert_allclose(np.asarray(x), 1.0, atol=2e-3)
    assert float(rosen(x)) < 1e-5


def test_lbfgs_jit_matches_eager():
    x0 = jnp.asarray([-1.2, 1.0])
    opt = optim.lbfgs(linesearch=optim.scale_by_zoom_linesearch(max_linesearch_steps=8))
    eager, _ = _solve(opt, rosen, x0, 4)
    jitted, _ = _solve(opt, rosen, x0, 4, jit=True)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager), rtol=1e-4, atol=1e-5)


def test_zoom_linesearch_finds_a_strong_wolfe_step():
    f = lambda p: jnp.sum(jnp.asarray([1.0, 10.0]) * p["x"] ** 2) + jnp.sum(p["y"] ** 4)  # noqa: E731
    params = {"x": jnp.asarray([1.0, 1.0]), "y": jnp.asarray([0.5])}
    ls = optim.scale_by_zoom_linesearch(max_linesearch_steps=30, curv_rtol=0.9)
    value, grad = jumba.value_and_grad(f)(params)
    direction = otu.tree_scalar_mul(-1.0, grad)
    u, state = ls.update(direction, ls.init(params), params, value=value, grad=grad, value_fn=f)
    assert float(state.info.decrease_error) <= 0.0
    assert float(state.info.curvature_error) <= 0.0
    new = optim.apply_updates(params, u)
    np.testing.assert_allclose(float(state.value), float(f(new)), rtol=1e-6)
    assert float(f(new)) < float(value)
    with pytest.raises(ValueError, match="value_fn="):
        ls.update(direction, ls.init(params), params)


def test_value_and_grad_from_state_reuses_the_line_search_result():
    calls = []

    def f(x):
        calls.append(1)
        return jnp.sum((x - 2.0) ** 2)

    opt = optim.lbfgs()
    vg = optim.value_and_grad_from_state(f)
    x = jnp.zeros(2)
    state = opt.init(x)
    value, grad = vg(x, state=state)
    u, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=f)
    x = optim.apply_updates(x, u)
    before = len(calls)
    value2, _ = vg(x, state=state)
    assert len(calls) == before
    np.testing.assert_allclose(float(value2), float(f(x)), rtol=1e-6)
    with pytest.raises(ValueError, match="no line search"):
        optim.value_and_grad_from_state(f)(x, state=optim.adam(0.1).init(x))


def test_backtracking_linesearch_satisfies_armijo():
    f = lambda x: jnp.sum(jnp.asarray([1.0, 100.0]) * x**2)  # noqa: E731
    opt = optim.chain(optim.sgd(1.0),
                      optim.scale_by_backtracking_linesearch(max_backtracking_steps=30))
    x = jnp.asarray([1.0, 1.0])
    state = opt.init(x)
    for _ in range(5):
        value, grad = jumba.value_and_grad(f)(x)
        u, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=f)
        new = optim.apply_updates(x, u)
        assert float(f(new)) <= float(value) + 1e-4 * float(otu.tree_vdot(grad, u))
        x = new
    assert float(f(x)) < 0.1 * 101.0  # from f = 101, on an ill-conditioned bowl


def test_polyak_sgd_uses_the_loss_value():
    f = lambda x: jnp.sum(x**2)  # noqa: E731
    opt = optim.polyak_sgd(max_learning_rate=1.0)
    x = jnp.asarray([1.0, -2.0])
    state = opt.init(x)
    value, grad = jumba.value_and_grad(f)(x)
    u, state = opt.update(grad, state, x, value=value)
    # Polyak step size (f - f_min) / ||g||^2 = 5 / 20 along -g = -2x: halfway to 0.
    np.testing.assert_allclose(np.asarray(optim.apply_updates(x, u)), [0.5, -1.0], rtol=1e-6)
    with pytest.raises(ValueError, match="value=loss"):
        opt.update(grad, state, x)


def test_lbfgs_memory_and_errors():
    with pytest.raises(ValueError, match="memory_size"):
        optim.scale_by_lbfgs(memory_size=0)
    with pytest.raises(ValueError, match="initial_guess_strategy"):
        optim.scale_by_zoom_linesearch(5, initial_guess_strategy="guess")
    tx = optim.scale_by_lbfgs(memory_size=3)
    state = tx.init(jnp.zeros(2))
    assert state.diff_params_memory.shape == (3, 2)
