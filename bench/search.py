"""Benchmark: how fast each offline search agent finds good configs, replayed on real results.

Why: "agent X beats random" is only a claim with an interval. Every cell of a fixed subspace of
the embedded demo (bench/replay_space.yaml, 216 cells) was trained once, for real, by
bench/build_replay_table.py; a replay feeds an agent the stored validation scores of what it
proposes, exactly as a campaign would (rounds of ``--round-size``, history = validation only), so
hundreds of campaigns cost seconds. Each (agent, seed) is one independent campaign.

Output, one JSON line each:
* per agent and N: ``{"agent", "N", "best_val_map_mean", "ci_low", "ci_high", "seeds",
  "test_map_of_best_mean"}`` -- the mean over seeds of the best val mAP among the first N
  proposals, with a bootstrap 95 % CI over seeds, and the test mAP of that val-selected config
  (reported, never used to select);
* per agent other than random and N: ``{"agent", "vs": "random", "N", "diff_mean", "ci_low",
  "ci_high", "ci_excludes_0"}`` -- the difference of means with a bootstrap CI (independent samples);
* a summary line with the table's best cell and the target check at N = 50.

    python bench/search.py [--seeds 20] [--round-size 5] [--agents random tpe architecture_first]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from archsearch.agents import make_agent  # noqa: E402
from archsearch.results import AgentView  # noqa: E402
from archsearch.space import load_space  # noqa: E402

NS = (10, 25, 50, 100)
TARGET_N = 50


def load_table(path: Path, space) -> dict[str, tuple[float, float]]:
    """config_id -> (val_map, test_map); every cell of ``space`` must be present."""
    import polars as pl

    table = pl.read_csv(path)
    scores = {}
    for row in table.iter_rows(named=True):
        config = space.canonical({d: row[d] for d in space.dims})
        scores[space.config_id(config)] = (float(row["val_map"]), float(row["test_map"]))
    missing = space.size - len(scores)
    if missing:
        raise SystemExit(f"{path}: {missing} of {space.size} cells missing; rebuild with bench/build_replay_table.py")
    return scores


def replay(agent_name: str, seed: int, space, scores, budget: int, round_size: int) -> list[tuple[float, float]]:
    """One campaign: the (val, test) mAP of each proposal in proposal order."""
    options = {"budget": budget} if agent_name == "architecture_first" else {}
    agent = make_agent(agent_name, **options)
    rng = np.random.default_rng([seed, 7])
    history: list[AgentView] = []
    out: list[tuple[float, float]] = []
    while len(out) < budget:
        props = agent.propose(history, space, min(round_size, budget - len(out)), rng)
        if not props:
            break
        for p in props:
            cid = space.config_id(p.config)
            val, test = scores[cid]
            history.append(
                AgentView.from_record(
                    {
                        "config_id": cid,
                        "config": p.config,
                        "agent": agent_name,
                        "round": len(out) // round_size,
                        "status": "ok",
                        "val": {"map": val},
                    }
                )
            )
            out.append((val, test))
    return out


def best_at(trajectory: list[tuple[float, float]], n: int) -> tuple[float, float]:
    """(best val mAP among the first n, test mAP of that val-selected config; ties: earliest)."""
    head = trajectory[:n]
    i = int(np.argmax([v for v, _ in head]))
    return head[i]


def mean_ci(x: np.ndarray, rng_seed: int) -> tuple[float, float]:
    from scipy import stats

    if np.ptp(x) == 0:
        return float(x[0]), float(x[0])
    res = stats.bootstrap(
        (x,), np.mean, confidence_level=0.95, n_resamples=10000, method="percentile", random_state=rng_seed
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def diff_ci(a: np.ndarray, b: np.ndarray, rng_seed: int) -> tuple[float, float]:
    from scipy import stats

    res = stats.bootstrap(
        (a, b),
        lambda x, y, axis=-1: np.mean(x, axis=axis) - np.mean(y, axis=axis),
        confidence_level=0.95,
        n_resamples=10000,
        method="percentile",
        random_state=rng_seed,
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default=str(HERE / "replay_space.yaml"))
    ap.add_argument("--table", default=str(HERE / "data" / "replay_table.csv"))
    ap.add_argument("--agents", nargs="+", default=["random", "tpe", "architecture_first"])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--round-size", type=int, default=5)
    args = ap.parse_args(argv)

    space = load_space(args.space)
    scores = load_table(Path(args.table), space)
    budget = max(NS)
    t0 = time.perf_counter()
    best: dict[str, dict[int, np.ndarray]] = {}
    test_of_best: dict[str, dict[int, np.ndarray]] = {}
    for agent in args.agents:
        runs = [replay(agent, s, space, scores, budget, args.round_size) for s in range(args.seeds)]
        best[agent] = {n: np.array([best_at(r, n)[0] for r in runs]) for n in NS}
        test_of_best[agent] = {n: np.array([best_at(r, n)[1] for r in runs]) for n in NS}
        for n in NS:
            lo, hi = mean_ci(best[agent][n], rng_seed=n)
            print(
                json.dumps(
                    {
                        "agent": agent,
                        "N": n,
                        "best_val_map_mean": round(float(best[agent][n].mean()), 4),
                        "ci_low": round(lo, 4),
                        "ci_high": round(hi, 4),
                        "seeds": args.seeds,
                        "test_map_of_best_mean": round(float(test_of_best[agent][n].mean()), 4),
                    }
                ),
                flush=True,
            )
    verdict = {}
    if "random" in best:
        for agent in (a for a in args.agents if a != "random"):
            for n in NS:
                d = best[agent][n] - 0  # keep arrays separate: independent campaigns, not paired
                lo, hi = diff_ci(d, best["random"][n], rng_seed=100 + n)
                diff = float(best[agent][n].mean() - best["random"][n].mean())
                print(
                    json.dumps(
                        {
                            "agent": agent,
                            "vs": "random",
                            "N": n,
                            "diff_mean": round(diff, 4),
                            "ci_low": round(lo, 4),
                            "ci_high": round(hi, 4),
                            "ci_excludes_0": bool(lo > 0 or hi < 0),
                        }
                    ),
                    flush=True,
                )
                if n == TARGET_N:
                    verdict[agent] = bool(lo > 0)
    vals = np.array([v for v, _ in scores.values()])
    print(
        json.dumps(
            {
                "summary": True,
                "cells": len(scores),
                "best_cell_val_map": round(float(vals.max()), 4),
                "median_cell_val_map": round(float(np.median(vals)), 4),
                "round_size": args.round_size,
                f"beats_random_at_{TARGET_N}": verdict,
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
