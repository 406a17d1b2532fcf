"""The Haiku machinery: transforms, module naming, parameters/state/keys, custom
creators/getters, interceptors, the lifted transformations, and the error messages."""

import numpy as np
import pytest

import jumba
import jumba.numpy as jnp
import jumba.random as jr
import jumba_nn.haiku as hk
from jumba import tree_util

X = jnp.asarray(np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32))


def _shapes(tree):
    return tree_util.tree_map(lambda a: tuple(a.shape), tree)


# ------------------------------------------------------------------------------- naming

class Block(hk.Module):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.proj = hk.Linear(2)                      # made in __init__: block/~/linear

    def __call__(self, x):
        return hk.Linear(2)(hk.Linear(3)(self.proj(x)))   # block/linear, block/linear_1

    def extra(self, x):
        return hk.Linear(2)(x)                         # block/~extra/linear


def test_module_names_follow_haiku():
    def f(x):
        b = Block()
        y = b(x) + b(x)        # a second call reuses the submodules of the first
        Block(name="custom")(x)
        b.extra(x)
        hk.Linear(1, name="linear_7")(x)
        hk.Linear(1)(x)
        assert hk.current_name() == "~"
        return y

    params = hk.transform(f).init(jr.PRNGKey(0), X)
    assert sorted(params) == ["block/linear", "block/linear_1", "block/~/linear",
                              "block/~extra/linear", "custom/linear", "custom/linear_1",
                              "custom/~/linear", "linear_7", "linear_8"]  # as dm-haiku


def test_name_scope_force_name_to_module_and_current_name():
    def f(x):
        with hk.name_scope("outer/inner"):
            hk.get_parameter("w", [1], init=jnp.zeros)
            assert hk.current_name() == "outer/inner"
        lin = hk.Linear(2, name="shared")
        lin(x)
        hk.Linear(2, name=hk.force_name(lin.module_name))(x)   # same weights
        dbl = hk.to_module(lambda x: 2 * hk.Linear(1)(x))(name="doubler")
        return dbl(x)

    params = hk.transform(f).init(jr.PRNGKey(0), X)
    assert sorted(params) == ["doubler/linear", "outer/inner", "shared"]


def test_duplicate_explicit_names_and_invalid_names_are_rejected():
    def dup(x):
        hk.Linear(1, name="a_1")(x)
        hk.Linear(1, name="a_1")(x)

    with pytest.raises(ValueError, match="not unique"):
        hk.transform(dup).init(jr.PRNGKey(0), X)
    with pytest.raises(ValueError, match="not a valid module name"):
        hk.transform(lambda x: hk.Linear(1, name="1bad")(x)).init(jr.PRNGKey(0), X)


def test_params_dict_and_get_params():
    def f(x):
        b = Block()
        b(x)
        assert sorted(b.params_dict()) == ["block/linear/b", "block/linear/w",
                                           "block/linear_1/b", "block/linear_1/w",
                                           "block/~/linear/b", "block/~/linear/w"]
        assert sorted(hk.get_params()) == ["block/linear", "block/linear_1", "block/~/linear"]
        return x

    hk.transform(f).init(jr.PRNGKey(0), X)


# ------------------------------------------------------------------------------ errors

def test_outside_transform_errors_say_how_to_fix():
    with pytest.raises(ValueError, match="must be called inside a function transformed by"):
        hk.get_parameter("w", [1], init=jnp.zeros)
    with pytest.raises(ValueError, match="inside a function transformed"):
        hk.Linear(2)
    with pytest.raises(ValueError, match="inside a function transformed"):
        hk.next_rng_key()


def test_apply_with_missing_params_names_the_path():
    f = hk.transform(lambda x: hk.Linear(2)(hk.Linear(3)(x)))
    params = f.init(jr.PRNGKey(0), X)
    del params["linear_1"]
    with pytest.raises(ValueError, match=r"parameter 'w' for module 'linear_1'.*created in init"):
        f.apply(params, None, X)


def test_apply_with_wrong_shapes_names_the_path():
    f = hk.transform(lambda x: hk.Linear(2)(x))
    params = f.init(jr.PRNGKey(0), X)
    with pytest.raises(ValueError, match=r"'linear/w' has shape \(3, 2\).*\(5, 2\)"):
        f.apply(params, None, jnp.ones((2, 5)))


def test_misuse_of_transform_signatures():
    f = hk.transform(lambda x: hk.Linear(2)(x))
    params = f.init(jr.PRNGKey(0), X)
    with pytest.raises(ValueError, match="without_apply_rng"):
        f.apply(params, X)                      # forgot the rng argument
    with pytest.raises(TypeError, match="mapping"):
        f.apply([1, 2], None, X)
    stateful = hk.transform(lambda x: hk.set_state("s", x) or x)
    with pytest.raises(ValueError, match="transform_with_state"):
        stateful.init(None, X)
    with pytest.raises(ValueError, match="init must be given"):
        hk.transform(lambda: hk.get_parameter("w", [1])).init(None)
    with pytest.raises(ValueError, match="no init was given"):
        hk.transform_with_state(lambda: hk.get_state("s")).init(None)
    with pytest.raises(ValueError, match="must be a PRNG key"):
        hk.PRNGSequence(jnp.ones((3,)))


# --------------------------------------------------------------------- transforms, state

def test_transform_with_state_returns_initial_then_current_state():
    def f(x):
        count = hk.get_state("count", [], jnp.int32, init=jnp.zeros)
        hk.set_state("count", count + 1)
        hk.set_state("last", x)
        return x * count

    t = hk.transform_with_state(f)
    params, state = t.init(None, X)
    assert params == {} and int(state["~"]["count"]) == 0
    out, state = t.apply(params, state, None, X)
    out, state = t.apply(params, state, None, X)
    assert int(state["~"]["count"]) == 2
    np.testing.assert_allclose(np.asarray(out), np.asarray(X))


def test_without_apply_rng_and_state_wrappers():
    t = hk.without_apply_rng(hk.transform(lambda x: hk.Linear(2)(x)))
    params = t.init(jr.PRNGKey(0), X)
    assert t.apply(params, X).shape == (2, 2)
    ts = hk.with_empty_state(hk.transform(lambda x: hk.Linear(2)(x)))
    p, s = ts.init(jr.PRNGKey(0), X)
    out, s2 = ts.apply(p, s, None, X)
    assert s == {} and s2 == {} and out.shape == (2, 2)
    tw = hk.without_apply_rng(hk.transform_with_state(lambda x: hk.Linear(2)(x)))
    p, s = tw.init(jr.PRNGKey(0), X)
    assert tw.apply(p, s, X)[0].shape == (2, 2)
    assert hk.without_state(tw).init(jr.PRNGKey(0), X).keys() == {"linear"}


def test_multi_transform_shares_parameters():
    def f():
        enc, dec = hk.Linear(2, name="enc"), hk.Linear(3, name="dec")

        def init(x):
            return dec(enc(x))
        return init, (enc, dec)

    t = hk.without_apply_rng(hk.multi_transform(f))
    params = t.init(jr.PRNGKey(0), X)
    assert sorted(params) == ["dec", "enc"]
    enc, dec = t.apply
    z = enc(params, X)
    np.testing.assert_allclose(np.asarray(dec(params, z)),
                               np.asarray(z @ params["dec"]["w"] + params["dec"]["b"]),
                               rtol=1e-6)
    ts = hk.multi_transform_with_state(f)
    params, state = ts.init(jr.PRNGKey(0), X)
    assert ts.apply[0](params, state, None, X)[0].shape == (2, 2)


def test_running_init_and_jit_of_init():
    seen = []

    def f(x):
        seen.append(hk.running_init())
        return hk.Linear(2)(x)

    t = hk.transform(f)
    params = jumba.jit(t.init)(jr.PRNGKey(0), X)
    eager = t.init(jr.PRNGKey(0), X)
    np.testing.assert_array_equal(np.asarray(params["linear"]["w"]),
                                  np.asarray(eager["linear"]["w"]))
    t.apply(params, None, X)
    assert seen[-1] is False and seen[0] is True


# ---------------------------------------------------------------------------- random keys

def test_prng_sequence_splits_as_haiku():
    seq = hk.PRNGSequence(42)
    k1, k2 = next(seq), next(seq)
    key = jr.PRNGKey(42)
    key, s1 = jr.split(key)
    key, s2 = jr.split(key)
    np.testing.assert_array_equal(np.asarray(k1), np.asarray(s1))
    np.testing.assert_array_equal(np.asarray(k2), np.asarray(s2))
    seq = hk.PRNGSequence(jr.PRNGKey(0))
    seq.reserve(3)
    assert len(seq.internal_state[1]) == 3
    keys = seq.take(4)
    assert len({tuple(np.asarray(k)) for k in keys}) == 4


def test_rng_functions_inside_transform():
    def f():
        a = hk.next_rng_key()
        hk.reserve_rng_keys(2)
        ks = hk.next_rng_keys(3)
        state = hk.maybe_get_rng_sequence_state()
        b = hk.next_rng_key()
        hk.replace_rng_sequence_state(state)
        b2 = hk.next_rng_key()
        with hk.with_rng(jr.PRNGKey(7)):
            c = hk.next_rng_key()
        return a, ks, b, b2, c

    a, ks, b, b2, c = hk.transform(f).apply({}, jr.PRNGKey(1))
    assert ks.shape == (3, 2)
    np.testing.assert_array_equal(np.asarray(b), np.asarray(b2))
    np.testing.assert_array_equal(np.asarray(c), np.asarray(next(hk.PRNGSequence(7))))
    assert hk.transform(lambda: hk.maybe_next_rng_key()).apply({}, None) is None


def test_same_seed_same_params_different_seed_different_params():
    t = hk.transform(lambda x: hk.nets.MLP([4, 2])(x))
    p1, p2, p3 = (t.init(jr.PRNGKey(s), X) for s in (0, 0, 1))
    w = [np.asarray(p["mlp/~/linear_0"]["w"]) for p in (p1, p2, p3)]
    np.testing.assert_array_equal(w[0], w[1])
    assert not np.array_equal(w[0], w[2])
    np.testing.assert_array_equal(np.asarray(hk.transform(lambda x: hk.Linear(2)(x)).init(
        5, X)["linear"]["w"]), np.asarray(hk.transform(lambda x: hk.Linear(2)(x)).init(
            jr.PRNGKey(5), X)["linear"]["w"]))


# ----------------------------------------------------- custom creators, getters, setters

def test_custom_creator_getter_setter_and_interceptor():
    calls = []

    def creator(next_creator, shape, dtype, init, context):
        calls.append(("create", context.full_name))
        return next_creator(shape, dtype, jnp.ones)

    def getter(next_getter, value, context):
        calls.append(("get", context.module_name, context.name))
        return next_getter(value * 2)

    def setter(next_setter, value, context):
        return hk.DO_NOT_STORE if context.name == "skip" else next_setter(value)

    def interceptor(next_f, args, kwargs, context):
        calls.append(("call", context.module.module_name, context.method_name))
        return next_f(*args, **kwargs)

    def f(x):
        with hk.custom_creator(creator), hk.custom_getter(getter), hk.custom_setter(setter):
            with hk.intercept_methods(interceptor):
                y = hk.Linear(2, with_bias=False)(x)
            hk.set_state("skip", 1.0)
            hk.set_state("keep", 2.0)
        return y

    t = hk.transform_with_state(f)
    params, state = t.init(jr.PRNGKey(0), X)
    np.testing.assert_array_equal(np.asarray(params["linear"]["w"]), np.ones((3, 2)))
    assert state == {"~": {"keep": 2.0}}
    assert ("create", "linear/w") in calls and ("get", "linear", "w") in calls
    assert ("call", "linear", "__call__") in calls
    out, _ = t.apply(params, state, None, X)
    np.testing.assert_allclose(np.asarray(out), np.asarray(X) @ (2 * np.ones((3, 2))),
                               rtol=1e-6)


# ------------------------------------------------------------------ lifted transformations

def test_vmap_shares_params_and_splits_rng_on_request():
    def f(x):
        y = hk.vmap(lambda v: hk.Linear(2)(v), split_rng=False)(x)
        same = hk.vmap(lambda v: jr.uniform(hk.next_rng_key(), ()), split_rng=False)(x)
        diff = hk.vmap(lambda v: jr.uniform(hk.next_rng_key(), ()), split_rng=True)(x)
        return y, same, diff

    t = hk.transform(f)
    params = t.init(jr.PRNGKey(0), X)
    assert _shapes(params) == {"linear": {"w": (3, 2), "b": (2,)}}
    y, same, diff = t.apply(params, jr.PRNGKey(1), X)
    np.testing.assert_allclose(np.asarray(y), np.asarray(X @ params["linear"]["w"]), rtol=1e-6)
    assert float(same[0]) == float(same[1]) and float(diff[0]) != float(diff[1])


def test_scan_equals_python_loop_and_threads_state():
    def body(c, x):
        n = hk.get_state("n", [], jnp.int32, init=jnp.zeros)
        hk.set_state("n", n + 1)
        c = jnp.tanh(hk.Linear(3)(x) + c)
        return c, c

    def scanned(xs):
        return hk.scan(body, jnp.zeros((2, 3)), xs)

    xs = jnp.asarray(np.random.default_rng(1).standard_normal((4, 2, 3)).astype(np.float32))
    ts = hk.transform_with_state(scanned)
    params, state = ts.init(jr.PRNGKey(0), xs)
    assert sorted(params) == ["linear"]      # the body's module is named once
    (c1, y1), s1 = ts.apply(params, state, None, xs)
    w, b = np.asarray(params["linear"]["w"]), np.asarray(params["linear"]["b"])
    c, ys = np.zeros((2, 3), np.float32), []
    for x in np.asarray(xs):
        c = np.tanh(x @ w + b + c)
        ys.append(c)
    np.testing.assert_allclose(np.asarray(y1), np.stack(ys), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(c1), c, rtol=1e-5, atol=1e-6)
    assert int(state["~"]["n"]) == 0 and int(s1["~"]["n"]) == 4
    # hk.map, fori_loop and while_loop on top of it.
    f = hk.transform(lambda xs: hk.map(lambda x: hk.Linear(2)(x), xs))
    assert f.apply(f.init(jr.PRNGKey(0), xs), None, xs).shape == (4, 2, 2)
    g = hk.transform(lambda x: hk.fori_loop(0, 3, lambda i, v: hk.Linear(3)(v), x))
    pg = g.init(jr.PRNGKey(0), X)
    w, b = pg["linear"]["w"], pg["linear"]["b"]
    want = X
    for _ in range(3):
        want = want @ w + b
    np.testing.assert_allclose(np.asarray(g.apply(pg, None, X)), np.asarray(want), rtol=1e-5)
    h = hk.transform(lambda x: hk.while_loop(lambda v: v < 10.0, lambda v: v * 2, x))
    assert float(h.apply({}, None, jnp.float32(1.5))) == 12.0


def test_cond_switch_create_params_of_every_branch():
    def f(x, i):
        a = hk.cond(i > 0, lambda v: hk.Linear(2, name="yes")(v),
                    lambda v: hk.Linear(2, name="no")(v), x)
        b = hk.switch(i, [lambda v: v, lambda v: hk.Linear(2, name="one")(v)], a)
        return b

    t = hk.transform(f)
    params = t.init(jr.PRNGKey(0), X, 1)
    assert sorted(params) == ["no", "one", "yes"]
    out = t.apply(params, None, X, 1)
    want = (X @ params["yes"]["w"] + params["yes"]["b"]) @ params["one"]["w"] + \
        params["one"]["b"]
    np.testing.assert_allclose(np.asarray(out), np.asarray(want), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(t.apply(params, None, X, 0)),
                               np.asarray(X @ params["no"]["w"] + params["no"]["b"]),
                               rtol=1e-5)


def test_grad_value_and_grad_remat_eval_shape():
    def f(x):
        lin = hk.Linear(1)
        g = hk.grad(lambda v: jnp.sum(lin(v)))(x)
        (v, aux), g2 = hk.value_and_grad(lambda v: (jnp.sum(lin(v)), 3), has_aux=True)(x)
        r = hk.remat(lambda v: lin(v))(x)
        shape = hk.eval_shape(lambda v: lin(v), x)
        return g, g2, v, aux, r, shape

    t = hk.transform(f)
    params = t.init(jr.PRNGKey(0), X)
    g, g2, v, aux, r, shape = t.apply(params, None, X)
    w = np.asarray(params["linear"]["w"])[:, 0]
    np.testing.assert_allclose(np.asarray(g), np.broadcast_to(w, (2, 3)), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(g2), np.asarray(g))
    assert aux == 3 and shape.shape == (2, 1)
    np.testing.assert_allclose(np.asarray(r), np.asarray(X @ params["linear"]["w"] +
                                                        params["linear"]["b"]), rtol=1e-6)


def test_lift_registers_inner_params():
    inner = hk.transform(lambda x: hk.Linear(2)(x))

    def outer(x):
        p = hk.lift(inner.init, name="inner")(hk.next_rng_key(), x)
        return inner.apply(p, None, x)

    t = hk.transform(outer)
    params = t.init(jr.PRNGKey(0), X)
    assert sorted(params) == ["inner/linear"]
    out = t.apply(params, jr.PRNGKey(1), X)
    np.testing.assert_allclose(np.asarray(out), np.asarray(
        X @ params["inner/linear"]["w"] + params["inner/linear"]["b"]), rtol=1e-6)

    inner_s = hk.transform_with_state(lambda x: hk.set_state("n", x.sum()) or x)

    def outer_s(x):
        lifted, updater = hk.lift_with_state(inner_s.init, name="s")
        p, s = lifted(None, x)
        y, s = inner_s.apply(p, s, None, x)
        updater.update(s)
        return y

    ts = hk.transform_with_state(outer_s)
    p, s = ts.init(None, X)
    _, s2 = ts.apply(p, s, None, X * 2)
    np.testing.assert_allclose(float(s2["s/~"]["n"]), float(jnp.sum(X * 2)), rtol=1e-6)


# --------------------------------------------------------------------- helpers and cores

def test_batch_apply_expand_apply_deferred():
    def f(x):
        y = hk.BatchApply(hk.Linear(2))(x)                       # (T, B, 3) -> (T, B, 2)
        z = hk.expand_apply(lambda v: v * 2)(x[0, 0])
        d = hk.Deferred(lambda: hk.Linear(4, name="late"))
        return y, z, d(x)

    t = hk.transform(f)
    x = jnp.ones((4, 2, 3))
    params = t.init(jr.PRNGKey(0), x)
    y, z, d = t.apply(params, None, x)
    assert y.shape == (4, 2, 2) and z.shape == (3,) and d.shape == (4, 2, 4)
    assert sorted(params) == ["late", "linear"]


def test_static_and_dynamic_unroll_agree_and_reset_core():
    xs = jnp.asarray(np.random.default_rng(2).standard_normal((5, 2, 3)).astype(np.float32))

    def f(xs, static):
        core = hk.LSTM(4)
        unroll = hk.static_unroll if static else hk.dynamic_unroll
        return unroll(core, jnp.swapaxes(xs, 0, 1), core.initial_state(2), time_major=False)

    t = hk.transform(f)
    params = t.init(jr.PRNGKey(0), xs, True)
    (a, sa), (b, sb) = (t.apply(params, None, xs, s) for s in (True, False))
    assert a.shape == (2, 5, 4)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)

    def g(xs, resets):
        core = hk.ResetCore(hk.LSTM(4))
        return hk.dynamic_unroll(core, (xs, resets), core.initial_state(2))[0]

    resets = jnp.asarray(np.array([[0, 0], [1, 0], [0, 0], [0, 0], [0, 0]], bool))
    tg = hk.transform(g)
    pg = tg.init(jr.PRNGKey(0), xs, resets)
    out = np.asarray(tg.apply(pg, None, xs, resets))
    assert sorted(pg) == ["lstm/linear"]   # the LSTM was made outside the ResetCore
    lstm_params = {"lstm/linear": pg["lstm/linear"]}
    # After the reset at t=1, example 0 restarts: its outputs equal a fresh run from t=1.
    t2 = hk.transform(lambda xs: hk.dynamic_unroll(
        (c := hk.LSTM(4)), xs, c.initial_state(2))[0])
    restarted = np.asarray(t2.apply(lstm_params, None, xs[1:]))
    np.testing.assert_allclose(out[1:, 0], restarted[:, 0], rtol=1e-5, atol=1e-6)
    ident = hk.transform(lambda x: hk.IdentityCore()(x, ()))
    assert ident.apply({}, None, X)[1] == ()


def test_one_hot_multinomial_and_flatten():
    f = hk.transform(lambda: (hk.one_hot(jnp.asarray([0, 2]), 3),
                              hk.multinomial(hk.next_rng_key(), jnp.zeros((2, 5)), 7)))
    oh, m = f.apply({}, jr.PRNGKey(0))
    np.testing.assert_array_equal(np.asarray(oh), np.eye(3)[[0, 2]])
    assert m.shape == (2, 7) and int(jnp.max(m)) < 5


def test_forgotten_super_init_is_explained():
    class Bad(hk.Module):
        def __init__(self):
            self.size = 1

        def __call__(self, x):
            return hk.get_parameter("w", [1], init=jnp.ones) * x

    with pytest.raises(ValueError, match=r"did not call super\(\).__init__"):
        hk.transform(lambda x: Bad()(x)).init(None, 1.0)


def test_typed_keys_give_the_same_stream_as_raw_keys():
    t = hk.transform(lambda x: hk.dropout(hk.next_rng_key(), 0.5, hk.Linear(4)(x)))
    p1, p2 = t.init(jr.key(0), X), t.init(jr.PRNGKey(0), X)
    np.testing.assert_array_equal(np.asarray(p1["linear"]["w"]), np.asarray(p2["linear"]["w"]))
    np.testing.assert_array_equal(np.asarray(t.apply(p1, jr.key(1), X)),
                                  np.asarray(t.apply(p1, jr.PRNGKey(1), X)))
