"""Smoke runs of the RL examples (examples/rl): short budgets, finite numbers, reproducible."""

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

import jumba

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "rl"


def _load(name):
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    full = f"rl_example_{name}"
    if full not in sys.modules:  # dataclasses need the module registered while it runs
        spec = importlib.util.spec_from_file_location(full, EXAMPLES / f"{name}.py")
        sys.modules[full] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[full])
    return sys.modules[full]


def _finite_tree(tree):
    return all(np.all(np.isfinite(np.asarray(x))) for x in jumba.tree_util.tree_leaves(tree))


def test_ppo_smoke_and_reproducible():
    ppo = _load("ppo")
    config = ppo.Config(total_steps=3 * 4 * 16, num_envs=4, num_steps=16, epochs=2,
                        minibatches=2)
    a = ppo.train(config, seed=1, progress=False)
    assert a["steps"] == 192 and a["log"].returns  # CartPole episodes end within 48 steps
    assert _finite_tree(a["params"]) and math.isfinite(a["eval_return"])
    assert all(math.isfinite(v) for v in a["last_losses"].values())
    assert 1.0 <= a["eval_return"] <= 500.0
    b = ppo.train(config, seed=1, progress=False)
    for x, y in zip(jumba.tree_util.tree_leaves(a["params"]),
                    jumba.tree_util.tree_leaves(b["params"])):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_dqn_smoke():
    dqn = _load("dqn")
    config = dqn.Config(total_steps=400, num_envs=4, buffer_size=256, batch_size=32,
                        learning_starts=100, target_update_every=40, chunk=25,
                        eval_every=400, eps_decay_steps=200)
    r = dqn.train(config, seed=0, progress=False)
    assert r["steps"] == 400 and len(r["evals"]) == 1 and r["log"].returns
    assert math.isfinite(r["last_loss"]) and r["last_loss"] > 0  # it learned (after 100 steps)
    assert _finite_tree(r["params"]) and 1.0 <= r["eval_return"] <= 500.0


@pytest.mark.parametrize("backend", ["jumba", "gymnasium"])
def test_a2c_smoke(backend):
    if backend == "gymnasium":
        pytest.importorskip("gymnasium")
    a2c = _load("a2c")
    config = a2c.Config(backend=backend, total_steps=4 * 8 * 3, num_envs=4, num_steps=8)
    r = a2c.train(config, seed=0, progress=False)
    assert r["steps"] == 96 and len(r["losses"]) == 3
    assert all(math.isfinite(x) for x in r["losses"]) and _finite_tree(r["params"])
    assert r["log"].returns and all(x >= 1 for x in r["log"].returns)


def test_command_line_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    a2c = _load("a2c")
    png = tmp_path / "curve.png"
    a2c.main(["--steps", "256", "--seed", "3", "--num-envs", "4", "--quiet", "--plot", str(png)])
    out = capsys.readouterr().out
    assert "A2C CartPole-v1 (jumba) seed 3: 256 env steps" in out
    assert png.exists() and png.stat().st_size > 1000


def test_acceptance_script_runs_and_reports(capsys):
    check = _load("check_acceptance")
    # 1% of the budgets: far too short to pass, but every step of the script runs.
    status = check.main(["--scale", "0.01", "--seeds", "0", "--quiet"])
    out = capsys.readouterr().out
    assert status == 1 and "Acceptance: FAIL (0/2 runs)" in out
    assert "| PPO | 0 |" in out and "| DQN | 0 |" in out
    assert "| 4,096 |" in out and "| 2,000 |" in out  # whole iterations within the budget


def test_bad_configuration_is_named():
    ppo = _load("ppo")
    with pytest.raises(ValueError, match="discrete actions; Pendulum-v1"):
        ppo.make_agent(ppo.Config(env="Pendulum-v1"))
    with pytest.raises(ValueError, match="must divide into 3 minibatches"):
        ppo.make_agent(ppo.Config(num_envs=4, num_steps=16, minibatches=3))
