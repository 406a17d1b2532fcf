"""Issue 11's acceptance check for the agents: PPO and DQN on CartPole-v1 over 3 seeds.

    python examples/rl/check_acceptance.py                  # both agents, seeds 0 1 2
    python examples/rl/check_acceptance.py --algos ppo --seeds 0

Targets (each run):
- PPO reaches a mean episode return >= 475 within 500k environment steps;
- DQN reaches >= 195 within 100k environment steps;
- each run takes under 5 minutes of wall time (on 2 cores).

"Mean episode return" is the mean over 32 evaluation episodes (one per vmapped copy,
run to termination or the 500-step limit) of the greedy policy. PPO is evaluated once,
at the end of its budget; DQN every 2k steps, and "reaches" takes its best evaluation
within the budget (DQN's greedy policy on CartPole oscillates between evaluations).
The script prints one line per run and a PASS/FAIL summary, and exits with status 1 if
any run fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dqn  # noqa: E402
import ppo  # noqa: E402

TIME_LIMIT = 300.0  # seconds per run
TARGETS = {"ppo": (475.0, 500_000), "dqn": (195.0, 100_000)}


def run(algo: str, seed: int, progress: bool, scale: float = 1.0) -> dict:
    threshold, budget = TARGETS[algo]
    budget = max(1, int(budget * scale))
    if algo == "ppo":
        result = ppo.train(ppo.Config(total_steps=budget), seed, progress)
        score = result["eval_return"]
    else:
        result = dqn.train(dqn.Config(total_steps=budget), seed, progress)
        score = result["best_eval_return"]
    ok_return = score >= threshold
    ok_time = result["wall_time"] <= TIME_LIMIT
    return {"algo": algo, "seed": seed, "score": score, "threshold": threshold,
            "steps": result["steps"], "wall_time": result["wall_time"],
            "pass": ok_return and ok_time, "ok_return": ok_return, "ok_time": ok_time,
            "train_mean": result["log"].recent_mean()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--algos", nargs="+", choices=sorted(TARGETS), default=["ppo", "dqn"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="fraction of the step budgets (a quick check that the script runs)")
    args = ap.parse_args(argv)
    rows = []
    for algo in args.algos:
        for seed in args.seeds:
            r = run(algo, seed, not args.quiet, args.scale)
            rows.append(r)
            print(f"{algo.upper()} seed {seed}: evaluation return {r['score']:.1f} "
                  f"(target >= {r['threshold']:g}) after {r['steps']:,} steps, training mean "
                  f"{r['train_mean'] or float('nan'):.1f}; wall time {r['wall_time']:.1f} s "
                  f"(target <= {TIME_LIMIT:.0f} s): {'PASS' if r['pass'] else 'FAIL'}",
                  flush=True)
    print("\n| agent | seed | eval return | target | steps | wall s | return | time |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for r in rows:
        print(f"| {r['algo'].upper()} | {r['seed']} | {r['score']:.1f} | >= {r['threshold']:g} "
              f"| {r['steps']:,} | {r['wall_time']:.1f} | {'PASS' if r['ok_return'] else 'FAIL'} "
              f"| {'PASS' if r['ok_time'] else 'FAIL'} |")
    passed = all(r["pass"] for r in rows)
    print(f"\nAcceptance: {'PASS' if passed else 'FAIL'} "
          f"({sum(r['pass'] for r in rows)}/{len(rows)} runs)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
