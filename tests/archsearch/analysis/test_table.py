"""The leaderboard frame: proposal order (not finish order), per-agent numbering, top-10 shows val only."""

from __future__ import annotations

import datetime as dt

import polars as pl

from archsearch.analysis.table import cell_labels, leaderboard_frame, space_dims, status_counts, top_markdown
from archsearch.campaign.proposals import Proposal, ProposalStore
from archsearch.results import ResultsStore
from archsearch.space import load_space
from tests.archsearch.analysis.synth import T0, fill


def _frame(root):
    return leaderboard_frame(ResultsStore(root).read(), ProposalStore(root).list())


def test_order_follows_proposals_not_finish_times(tmp_path):
    fill(tmp_path, agents=("random", "tpe"), n=12, finish_shuffled=True, seed=4)
    df = _frame(tmp_path)
    props = {(p.campaign, p.config_id): p.created_at for p in ProposalStore(tmp_path).list()}
    for _, sub in df.group_by("campaign"):
        times = [props[(c, i)] for c, i in zip(sub["campaign"], sub["config_id"], strict=True)]
        assert times == sorted(times) and sub["order"].to_list() == list(range(1, 13))
        assert sub["agent_order"].to_list() == list(range(1, 13))  # one agent per campaign here
        assert sub["created_at"].to_list() != sorted(sub["created_at"].to_list())  # finish order differs


def test_results_without_a_proposal_fall_back_to_their_finish_time(tmp_path):
    fill(tmp_path, agents=("random",), n=5)
    for p in (tmp_path / "proposals").rglob("*.json"):
        p.unlink()
    df = _frame(tmp_path)
    assert df["proposed_at"].null_count() == 5 and df["order_time"].to_list() == sorted(df["created_at"].to_list())


def test_two_agents_in_one_campaign_are_numbered_apart(tmp_path):
    fill(tmp_path, agents=("random",), n=6)
    space = load_space("demo")
    store = ProposalStore(tmp_path)
    first = store.list()[0]
    late = (T0 + dt.timedelta(minutes=30)).isoformat()
    cfg = space.config_at(7)
    store.add(
        Proposal(
            campaign=first.campaign,
            config_id=space.config_id(cfg),
            config=cfg,
            dataset="synth_front",
            seed=0,
            agent="claude",
            created_at=late,
        )
    )
    from archsearch.results import ExperimentResult
    from tests.archsearch.analysis.synth import metrics

    ResultsStore(tmp_path).write(
        ExperimentResult(
            config_id=space.config_id(cfg),
            config=cfg,
            agent="claude",
            round=0,
            campaign=first.campaign,
            seed=0,
            dataset="synth_front",
            val=metrics(0.5),
            test=metrics(0.5),
            created_at=late,
        )
    )
    df = _frame(tmp_path)
    assert df["order"].to_list() == list(range(1, 8))
    assert df.filter(pl.col("agent") == "claude")[["order", "agent_order"]].row(0) == (7, 1)


def test_top_markdown_shows_validation_only_and_counts(tmp_path):
    fill(tmp_path, agents=("random", "tpe"), n=15, failed_every=5)
    df = _frame(tmp_path)
    md = top_markdown(df, 10, dims=["backbone", "encoder"])
    assert md.count("\n") == 11 and "val mAP" in md and "test" not in md.lower()
    best = df.filter(pl.col("status") == "ok")["val_map"].max()
    assert f"| 1 | {best:.4f} |" in md
    counts = {"ok": 12, "failed": 3, "total": 15}
    assert status_counts(df) == {"random": counts, "tpe": counts}
    assert top_markdown(df.filter(pl.col("status") == "failed")) == "_no finished experiments yet_"


def test_space_dims_and_cells(tmp_path):
    space = load_space("demo")
    assert space_dims(space) == (
        ("backbone", "encoder", "pooling"),
        ("loss", "lr", "weight_decay", "window_length", "epochs"),
    )
    assert space_dims(None, ["backbone", "encoder", "lr"]) == (("backbone", "encoder"), ("lr",))
    df = pl.DataFrame({"backbone": ["m", "p"], "encoder": ["gru", "gru"]})
    assert cell_labels(df, ["backbone", "encoder"]) == ["m×gru", "p×gru"]


def test_empty_store_gives_an_empty_frame(tmp_path):
    df = _frame(tmp_path)
    assert df.height == 0 and {"order", "agent_order", "order_time"} <= set(df.columns)
    assert status_counts(df) == {} and top_markdown(df) == "_no finished experiments yet_"
