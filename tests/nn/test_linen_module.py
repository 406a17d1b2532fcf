"""The linen Module machinery: naming, init/apply/bind, collections, rngs, errors, tabulate."""

import numpy as np
import pytest

import jumba
import jumba.numpy as jnp
import jumba.random as jr
import jumba_nn as nn
from jumba.tree_util import tree_map

KEY = jr.key(0)


def shapes(tree):
    return tree_map(lambda x: tuple(np.shape(x)), tree)


class CompactMLP(nn.Module):
    hidden: int = 4

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(self.hidden)(x))
        x = nn.Dense(self.hidden, name="middle")(x)
        return nn.Dense(2)(x)


class SetupMLP(nn.Module):
    def setup(self):
        self.first = nn.Dense(3)
        self.blocks = [nn.Dense(2), nn.Dense(5)]
        self.table = {"a": nn.Dense(1)}
        self.scale = self.param("scale", nn.initializers.ones, (5,))

    def __call__(self, x):
        return self.blocks[1](self.blocks[0](self.first(x))) * self.scale

    def head(self, x):
        return self.table["a"](x)


def test_compact_naming_and_plain_dict_variables():
    variables = CompactMLP().init(KEY, jnp.ones((2, 3)))
    assert type(variables) is dict and type(variables["params"]) is dict
    assert shapes(variables) == {"params": {
        "Dense_0": {"kernel": (3, 4), "bias": (4,)},
        "middle": {"kernel": (4, 4), "bias": (4,)},
        "Dense_1": {"kernel": (4, 2), "bias": (2,)}}}


def test_setup_naming_lists_dicts_and_own_params():
    variables = SetupMLP().init(KEY, jnp.ones((2, 3)))
    assert set(variables["params"]) == {"first", "blocks_0", "blocks_1", "scale"}
    variables = SetupMLP().init(KEY, jnp.ones((2, 3)), method="head")
    assert set(variables["params"]) == {"table_a", "scale"}     # setup() ran: scale exists


def test_modules_passed_as_attributes_are_named_by_field():
    top = nn.Sequential([nn.Dense(2), nn.relu, nn.Dense(3)])
    assert set(top.init(KEY, jnp.ones((1, 4)))["params"]) == {"layers_0", "layers_2"}

    class Outer(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Sequential([nn.Dense(2), nn.Dense(3)])(x)

    # Inside @compact the layers belong to the enclosing module, as in Flax.
    assert set(Outer().init(KEY, jnp.ones((1, 4)))["params"]) == {"Dense_0", "Dense_1"}


def test_apply_matches_manual_computation_and_method_forms():
    model = SetupMLP()
    x = jr.normal(KEY, (2, 3))
    v = model.init(KEY, x)
    p = v["params"]
    h = x @ p["first"]["kernel"] + p["first"]["bias"]
    h = h @ p["blocks_0"]["kernel"] + p["blocks_0"]["bias"]
    want = (h @ p["blocks_1"]["kernel"] + p["blocks_1"]["bias"]) * p["scale"]
    np.testing.assert_allclose(model.apply(v, x), want, rtol=1e-5, atol=1e-6)
    v2 = model.init(KEY, x[:, :1], method=SetupMLP.head)
    out = model.apply(v2, x[:, :1], method=model.head)
    assert out.shape == (2, 1)
    assert model.apply(v2, x[:, :1], method=lambda m, z: m.head(z)).shape == (2, 1)


def test_bind_and_unbind():
    v = CompactMLP().init(KEY, jnp.ones((1, 3)))
    bound = CompactMLP().bind(v)
    np.testing.assert_allclose(bound(jnp.ones((1, 3))), CompactMLP().apply(v, jnp.ones((1, 3))))
    module, variables = bound.unbind()
    assert shapes(variables) == shapes(v) and module.hidden == 4


def test_calling_a_compact_module_outside_init_apply_is_a_clear_error():
    with pytest.raises(nn.UnboundModuleError, match="init/apply"):
        CompactMLP()(jnp.ones((1, 3)))


def test_frozen_outside_setup():
    model = CompactMLP()
    with pytest.raises(nn.SetAttributeFrozenModuleError, match="frozen"):
        model.hidden = 5
    assert model.clone(hidden=5).hidden == 5


def test_missing_and_mismatched_params_name_the_path():
    v = CompactMLP().init(KEY, jnp.ones((1, 3)))
    with pytest.raises(nn.ScopeParamNotFoundError, match='"kernel".*"/Dense_0"'):
        CompactMLP().apply({"params": {}}, jnp.ones((1, 3)))
    with pytest.raises(nn.ScopeParamShapeError, match="/Dense_0"):
        CompactMLP().apply(v, jnp.ones((1, 5)))
    with pytest.raises(nn.ScopeParamNotFoundError, match="params alone"):
        CompactMLP().apply(v["params"], jnp.ones((1, 3)))


def test_duplicate_names_rejected():
    class Dup(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(2, name="a")(x) + nn.Dense(2, name="a")(x)

    with pytest.raises(nn.NameInUseError, match='"a"'):
        Dup().init(KEY, jnp.ones((1, 2)))


def test_submodule_outside_setup_or_compact_rejected():
    class Bad(nn.Module):
        def __call__(self, x):
            return nn.Dense(2)(x)

    with pytest.raises(nn.AssignSubModuleError, match="setup"):
        Bad().init(KEY, jnp.ones((1, 2)))


def test_calling_a_compact_method_twice_shares_parameters():
    class Twice(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(2)(x)

    class Outer(nn.Module):
        @nn.compact
        def __call__(self, x):
            layer = Twice()
            return layer(x) + layer(x)

    v = Outer().init(KEY, jnp.ones((1, 2)))
    assert shapes(v) == {"params": {"Twice_0": {"Dense_0": {"kernel": (2, 2), "bias": (2,)}}}}


class Counter(nn.Module):
    @nn.compact
    def __call__(self, x):
        count = self.variable("counter", "count", lambda: jnp.zeros((), jnp.int32))
        if not self.is_initializing():
            count.value = count.value + 1
        self.sow("intermediates", "doubled", 2 * x)
        return x + self.perturb("x", x)


def test_variables_mutability_sow_and_perturb():
    v = Counter().init(KEY, jnp.ones(2))
    assert int(v["counter"]["count"]) == 0 and "intermediates" not in v
    assert "perturbations" in v
    with pytest.raises(nn.ModifyScopeVariableError, match='mutable=\\["counter"\\]'):
        Counter().apply(v, jnp.ones(2))
    _, upd = Counter().apply(v, jnp.ones(2), mutable=["counter", "intermediates"])
    assert int(upd["counter"]["count"]) == 1
    np.testing.assert_allclose(upd["intermediates"]["doubled"][0], [2.0, 2.0])
    # The perturbation's gradient is the gradient with respect to the intermediate.
    g = jumba.grad(lambda p: Counter().apply({**v, "perturbations": p}, jnp.ones(2),
                                             mutable=["counter"])[0].sum())(v["perturbations"])
    np.testing.assert_allclose(g["x"], [1.0, 1.0])


def test_capture_intermediates():
    v = CompactMLP().init(KEY, jnp.ones((1, 3)))
    _, state = CompactMLP().apply(v, jnp.ones((1, 3)), capture_intermediates=True,
                                  mutable=["intermediates"])
    inter = state["intermediates"]
    assert set(inter) == {"Dense_0", "middle", "Dense_1", "__call__"}
    assert inter["Dense_1"]["__call__"][0].shape == (1, 2)


def test_rng_streams_are_per_path_and_reproducible():
    class Two(nn.Module):
        @nn.compact
        def __call__(self):
            return self.make_rng("noise"), self.make_rng("noise"), self.has_rng("other")

    a1, a2, has = Two().apply({}, rngs={"noise": jr.key(3)})
    b1, _, _ = Two().apply({}, rngs={"noise": jr.key(3)})
    assert not has
    assert not np.array_equal(np.asarray(jr.key_data(a1)), np.asarray(jr.key_data(a2)))
    np.testing.assert_array_equal(np.asarray(jr.key_data(a1)), np.asarray(jr.key_data(b1)))
    with pytest.raises(nn.InvalidRngError, match='rngs=\\{"noise"'):
        Two().apply({})


def test_init_with_dict_rngs_and_init_with_output():
    out, v = CompactMLP().init_with_output({"params": KEY}, jnp.ones((1, 3)))
    assert out.shape == (1, 2) and "params" in v
    v1 = CompactMLP().init(jr.key(1), jnp.ones((1, 3)))
    v2 = CompactMLP().init(jr.key(2), jnp.ones((1, 3)))
    assert not np.allclose(v1["params"]["Dense_0"]["kernel"], v2["params"]["Dense_0"]["kernel"])


def test_functional_apply_and_init():
    model = SetupMLP()
    v = nn.init(lambda m, x: m.head(x), model)(KEY, jnp.ones((1, 2)))
    assert set(v["params"]) == {"table_a", "scale"}
    assert nn.apply(lambda m, x: m.head(x), model)(v, jnp.ones((1, 2))).shape == (1, 1)


def test_merge_param():
    assert nn.merge_param("d", None, True) is True
    with pytest.raises(ValueError, match="just once"):
        nn.merge_param("d", False, True)
    with pytest.raises(ValueError, match="constructor or at call"):
        nn.merge_param("d", None, None)


def test_repr_hides_parent():
    assert repr(nn.Dense(3)).startswith("Dense(features=3")


def test_tabulate_lists_modules_shapes_and_counts():
    text = CompactMLP().tabulate(KEY, jnp.ones((2, 3)))
    assert "Dense_0" in text and "middle" in text
    assert "float32[2,4]" in text
    assert "Total Parameters: 46" in text        # 3*4+4 + 4*4+4 + 4*2+2
    assert nn.tabulate(CompactMLP(), KEY, depth=0)(jnp.ones((2, 3))).count("Dense") == 0


def test_intercept_methods():
    seen = []

    def interceptor(next_fun, args, kwargs, context):
        seen.append((type(context.module).__name__, context.method_name))
        return next_fun(*args, **kwargs)

    v = CompactMLP().init(KEY, jnp.ones((1, 3)))
    with nn.intercept_methods(interceptor):
        CompactMLP().apply(v, jnp.ones((1, 3)))
    assert seen[0] == ("CompactMLP", "__call__") and len(seen) == 4


def test_frozen_dict():
    fd = nn.FrozenDict({"a": {"b": jnp.ones(2)}})
    assert isinstance(fd["a"], nn.FrozenDict)
    with pytest.raises(ValueError, match="immutable"):
        fd["c"] = 1
    assert nn.unfreeze(fd) == {"a": {"b": fd["a"]["b"]}}
    doubled = tree_map(lambda x: 2 * x, fd)
    assert isinstance(doubled, nn.FrozenDict)
    np.testing.assert_allclose(doubled["a"]["b"], [2.0, 2.0])
    assert isinstance(nn.freeze({"x": 1}), nn.FrozenDict)
    from jumba_nn import core

    smaller, popped = core.pop(fd, "a")
    assert len(smaller) == 0 and isinstance(popped, nn.FrozenDict)
    assert core.copy(fd, {"z": 1})["z"] == 1 and "a:" in core.pretty_repr(fd)
    # apply accepts frozen variables.
    v = nn.freeze(CompactMLP().init(KEY, jnp.ones((1, 3))))
    assert CompactMLP().apply(v, jnp.ones((1, 3))).shape == (1, 2)


def test_jit_and_vmap_of_apply():
    model = CompactMLP()
    v = model.init(KEY, jnp.ones((1, 3)))
    x = jr.normal(KEY, (5, 3))
    eager = model.apply(v, x)
    np.testing.assert_allclose(jumba.jit(model.apply)(v, x), eager, rtol=1e-6)
    per_row = jumba.vmap(lambda r: model.apply(v, r))(x)
    np.testing.assert_allclose(per_row, eager, rtol=1e-5, atol=1e-6)
    g = jumba.jit(jumba.grad(lambda p: model.apply({"params": p}, x).sum()))(v["params"])
    assert shapes(g) == shapes(v["params"])
