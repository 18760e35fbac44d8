"""Anchors and splits: stratified, seeded, disjoint, hashed."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from archsearch.data.splits import assign_anchors, assign_splits, check_disjoint, split_hash


def _table(n_pos=60, n_neg=90, seed=0, dataset="d"):
    rng = np.random.default_rng(seed)
    n = n_pos + n_neg
    return pl.DataFrame(
        {
            "dataset": [dataset] * n,
            "video_id": [f"{i:05d}" for i in range(n)],
            "label": [1] * n_pos + [0] * n_neg,
            "event_time": list(rng.uniform(6.5, 9.5, n_pos)) + [None] * n_neg,
            "duration": [10.0] * n,
            "video_digest": [f"{i:016x}" for i in range(n)],
        },
        schema_overrides={"label": pl.Int8},
    )


def test_stratified_fractions_and_disjoint():
    t = assign_splits(assign_anchors(_table()), (0.7, 0.15, 0.15), seed=3)
    counts = t.group_by("split", "label").len()
    get = lambda s, lab: counts.filter((pl.col("split") == s) & (pl.col("label") == lab))["len"][0]  # noqa: E731
    assert (get("train", 1), get("val", 1), get("test", 1)) == (42, 9, 9)
    assert (get("train", 0), get("val", 0), get("test", 0)) == (63, 14, 13) or (get("train", 0), get("val", 0), get("test", 0)) == (63, 13, 14)
    assert check_disjoint(t) == []
    assert t["video_id"].n_unique() == t.height


def test_split_is_seeded_and_order_independent():
    base = assign_anchors(_table())
    a = assign_splits(base, seed=1)
    b = assign_splits(base.sample(fraction=1.0, shuffle=True, seed=9), seed=1)
    assert a.select("video_id", "split").equals(b.select("video_id", "split"))
    assert split_hash(a) == split_hash(b)
    c = assign_splits(base, seed=2)
    assert split_hash(c) != split_hash(a)


def test_negative_anchors_follow_positive_event_times():
    t = assign_anchors(_table(n_pos=200, n_neg=200), seed=0)
    pos = t.filter(pl.col("label") == 1)
    neg = t.filter(pl.col("label") == 0)
    assert pos["anchor_time"].to_list() == pos["event_time"].to_list()
    from scipy.stats import ks_2samp

    # Same distribution: a two-sample KS test must not tell anchors of negatives from event times.
    assert ks_2samp(pos["anchor_time"].to_numpy(), neg["anchor_time"].to_numpy()).pvalue > 0.01
    assert neg["anchor_time"].is_between(0, 10.0).all()


def test_anchor_of_a_video_does_not_move_when_others_are_added():
    small = assign_anchors(_table(n_pos=20, n_neg=20), seed=0)
    assert small.filter(pl.col("label") == 0)["anchor_time"].is_not_null().all()
    # Same seed, same id, same positives -> same anchor.
    again = assign_anchors(_table(n_pos=20, n_neg=20), seed=0)
    assert small["anchor_time"].to_list() == again["anchor_time"].to_list()


def test_bad_fractions():
    with pytest.raises(ValueError, match="summing to 1"):
        assign_splits(_table(), (0.5, 0.2, 0.2))


def test_known_anchors_for_negatives_are_kept():
    base = _table(n_pos=10, n_neg=10)
    given = {("d", "00012"): 7.25, ("d", "00013"): 99.0}  # the second lies outside its clip: ignored
    t = assign_anchors(base, seed=0, given=given)
    anchor = dict(t.select("video_id", "anchor_time").iter_rows())
    assert anchor["00012"] == 7.25
    assert anchor["00013"] != 99.0 and 0 < anchor["00013"] <= 10.0
