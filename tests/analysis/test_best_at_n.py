"""Best-at-N: running max in proposal order, whole-campaign bootstrap, the table, the random baseline."""

from __future__ import annotations

import pytest

from archsearch.analysis.base import NotEnoughData
from archsearch.analysis.best_at_n import Curve, baseline_note, best_at_n, curve, running_best, table_rows
from archsearch.analysis.table import leaderboard_frame
from archsearch.campaign.proposals import ProposalStore
from archsearch.results import ResultsStore
from tests.analysis.synth import fill


def test_running_best_skips_failures_and_starts_undefined():
    assert running_best([None, 0.3, None, 0.2, 0.5, float("nan"), 0.4]) == [None, 0.3, 0.3, 0.3, 0.5, 0.5, 0.5]


def test_single_campaign_has_no_interval():
    c = curve("a", {"c1": [None, 0.3, 0.5]})
    assert isinstance(c, Curve) and not c.has_ci and c.boot == 0
    assert c.at(1) == (None, None, None, 0) and c.at(3) == (0.5, None, None, 1) and c.at(4) == (None, None, None, 0)


def test_bootstrap_resamples_whole_campaigns():
    runs = {"s0": [0.1, 0.2, 0.9], "s1": [0.3, 0.3, 0.4], "s2": [0.5, 0.6, 0.6, 0.7]}
    c = curve("a", runs, boot=400, seed=1)
    assert c.has_ci and c.n_campaigns == (3, 3, 3, 1)
    mean, lo, hi, k = c.at(3)
    assert mean == pytest.approx((0.9 + 0.4 + 0.6) / 3) and k == 3
    # Any resample of whole campaigns averages campaign values: bounded by the extreme campaigns.
    assert 0.4 <= lo <= mean <= hi <= 0.9
    assert c.at(4) == (pytest.approx(0.7), None, None, 1)  # one campaign reached N = 4: no interval there
    assert c == curve("a", runs, boot=400, seed=1)


def test_from_a_store_in_proposal_order(tmp_path):
    fill(tmp_path, agents=("random", "tpe"), campaigns_per_agent=2, n=30, failed_every=6)
    frame = leaderboard_frame(ResultsStore(tmp_path).read(), ProposalStore(tmp_path).list())
    curves = best_at_n(frame, boot=200)
    assert set(curves) == {"random", "tpe"}
    for agent, c in curves.items():
        assert c.campaigns == (f"synth_front-{agent}-0", f"synth_front-{agent}-1") and c.n_max == 30 and c.has_ci
        sub = frame.filter((frame["agent"] == agent) & (frame["campaign"] == c.campaigns[0])).sort("agent_order")
        vals = [v if s == "ok" else None for v, s in zip(sub["val_map"], sub["status"], strict=True)]
        assert running_best(vals) == list(curve(agent, {"x": running_best(vals)}).mean)
        assert all(x is None or y is None or y >= x for x, y in zip(c.mean, c.mean[1:]))  # monotone
    rows = table_rows(curves)
    assert [k for k in rows[0] if k.startswith("N=")] == ["N=10", "N=25"]  # 50 and 100 were not reached
    assert "random" in baseline_note(curves) and "never a resample" in baseline_note(curves)


def test_no_random_campaign_says_there_is_no_baseline():
    curves = {"tpe": curve("tpe", {"c": [0.1, 0.2, 0.3]})}
    assert "no from-scratch baseline" in baseline_note(curves)
    assert isinstance(curve("x", {"c": [None, None]}), NotEnoughData)
