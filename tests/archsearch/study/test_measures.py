"""Per-campaign measures on hand-made campaigns whose answers are known."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from archsearch.study.measures import (
    Trace,
    agent_pairs,
    campaign_power,
    cycles,
    first_reaching,
    pairwise,
    reach,
    specialisation,
    traces,
)

CELLS = [f"b{i}×e{j}" for i in range(3) for j in range(5)]  # 15 cells


def trace(agent: str, seed: int, best, cells=None) -> Trace:
    return Trace(f"{agent}-s{seed}", agent, seed, tuple(best), tuple(cells or ["x"] * len(best)))


def test_traces_follow_proposal_order_and_skip_failed_runs():
    frame = pl.DataFrame(
        {
            "agent": ["tpe"] * 4 + ["random"] * 2,
            "campaign": ["c1"] * 4 + ["c2"] * 2,
            "seed": [3] * 4 + [0] * 2,
            "order": [2, 1, 4, 3, 1, 2],
            "status": ["ok", "failed", "ok", "ok", "ok", "ok"],
            "val_map": [0.5, None, 0.4, 0.7, 0.2, 0.1],
            "backbone": ["m", "p", "m", "m", "m", "p"],
            "encoder": ["gru"] * 6,
        }
    )
    runs = traces(frame, ["backbone", "encoder"])
    (t,) = runs["tpe"]
    assert t.seed == 3 and t.best == (None, 0.5, 0.7, 0.7) and t.cells == ("p×gru", "m×gru", "m×gru", "m×gru")
    assert runs["random"][0].best == (0.2, 0.2)
    assert agent_pairs(["random", "tpe", "claude"]) == [("tpe", "random"), ("claude", "random"), ("tpe", "claude")]


def test_pairwise_only_at_n_every_campaign_reached():
    runs = {
        "tpe": [trace("tpe", s, [0.5 + 0.01 * s] * 10) for s in range(3)],
        "random": [trace("random", s, [0.4] * (10 if s else 6)) for s in range(3)],
    }
    d = pairwise(runs, [5, 10])[("tpe", "random")]
    assert d[5].method == "paired t" and d[5].mean == pytest.approx(0.11)
    assert d[10].mean is None and "not reached by every campaign" in d[10].note


def test_reach_is_a_restricted_mean_with_an_interval():
    runs = {
        "a": [trace("a", 0, [0.5, 0.9, 0.95, 1.0]), trace("a", 1, [0.2, 0.3, 0.96, 0.96])],
        "b": [trace("b", 0, [0.1, 0.2, 0.3, 0.4]), trace("b", 1, [None, 0.5, 0.5, 0.99])],
    }
    r95 = reach(runs, 0.95)
    assert r95["a"].best == 1.0 and r95["a"].target == pytest.approx(0.95)
    assert r95["a"].per_seed == {0: 3.0, 1: 3.0} and r95["a"].reached == 2 and r95["a"].lo == r95["a"].hi == 3.0
    assert r95["b"].per_seed == {0: 4.0, 1: 4.0} and r95["b"].reached == 1, "seed 0 never reached it: counted as N"
    r99 = reach(runs, 0.99)
    assert r99["a"].per_seed == {0: 4.0, 1: 4.0} and r99["a"].reached == 1
    assert first_reaching([None, 0.3], 0.2, 2) == 2 and first_reaching([0.3], 0.9, 1) == 1
    own = reach(runs, 0.95, own=True)
    assert own["b"].per_seed == {0: 4.0, 1: 4.0} and own["b"].reached == 2 and own["b"].best is None
    assert own["a"].per_seed == {0: 3.0, 1: 3.0}, "0.95 x 1.0 on seed 0, 0.95 x 0.96 on seed 1"


def test_cycles_count_returns_from_exploitation_to_exploration():
    explore = CELLS[:10]
    exploit = [CELLS[0]] * 10
    assert cycles(explore + exploit) == 0, "exploring then exploiting is no cycle"
    assert cycles(explore + exploit + explore) == 1
    assert cycles(explore + exploit + explore + exploit + explore) == 2
    rng = np.random.default_rng(0)
    assert cycles(list(rng.choice(CELLS, 50))) == 0, "uniform random proposals stay high"
    assert cycles(["a", "b"]) is None


def test_specialisation_is_positive_for_disjoint_agents_and_not_for_alike_ones():
    rng = np.random.default_rng(1)
    left = [trace("left", s, [0.5] * 30, list(rng.choice(CELLS[:7], 30))) for s in range(6)]
    right = [trace("right", s, [0.5] * 30, list(rng.choice(CELLS[8:], 30))) for s in range(6)]
    same = [trace("same", s, [0.5] * 30, list(rng.choice(CELLS[:7], 30))) for s in range(6)]
    apart = specialisation(left, right)
    assert apart.pairs == 3 and apart.lo > 0.5, apart
    alike = specialisation(left, same)
    assert alike.lo < 0 < alike.hi, alike
    short = specialisation(left[:3], right[:3])
    assert short.mean is None and "needs >= 4 seeds" in short.note


def test_campaign_power_counts_aic_winners_and_flags():
    n = np.arange(1, 41)
    power = 0.9 - 0.4 * n**-0.7
    log_like = 0.3 + 0.1 * np.log(n)
    runs = {"a": [trace("a", 0, list(power)), trace("a", 1, list(log_like)), trace("a", 2, [0.5] * 40)]}
    (p,) = campaign_power(runs).values()
    assert p.campaigns == 3 and p.fitted == 2 and p.wins["power"] >= 1
    assert p.reasons and "never improved" in p.reasons[0]


def test_specialisation_interval_covers_zero_when_agents_search_alike():
    """Under the null (both agents draw cells from one skewed distribution) the 95 % interval holds 0 >= 93 %."""
    rng = np.random.default_rng(7)
    weights = np.arange(1, len(CELLS) + 1, dtype=float) ** 2
    weights /= weights.sum()
    reps, hits = 300, 0
    for _ in range(reps):
        a, b = ([trace(n, s, [0.5] * 20, list(rng.choice(CELLS, 20, p=weights))) for s in range(8)] for n in "ab")
        d = specialisation(a, b)
        hits += d.lo <= 0.0 <= d.hi
    assert hits / reps >= 0.93, hits / reps
