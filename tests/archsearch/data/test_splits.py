"""Splits and anchors: fixed per video, never moved by other videos, binomially stratified, checked."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats

from archsearch.data.anchors import assign_anchors, match_anchors, rendezvous_partners
from archsearch.data.splits import (
    assign_splits,
    check_disjoint,
    split_counts,
    split_hash,
    split_problems,
    split_warnings,
)


def _table(n_pos=60, n_neg=90, seed=0, dataset="d", ids=None, dur=(10.0, 10.0)):
    rng = np.random.default_rng(seed)
    n = n_pos + n_neg
    ids = ids or [f"{i:05d}" for i in range(n)]
    return pl.DataFrame(
        {
            "dataset": [dataset] * n,
            "video_id": ids,
            "label": [1] * n_pos + [0] * n_neg,
            "event_time": list(rng.uniform(6.5, 9.5, n_pos)) + [None] * n_neg,
            "duration": list(rng.uniform(*dur, n)) if dur[0] != dur[1] else [dur[0]] * n,
            "video_digest": [f"{i:016x}" for i in range(n)],
        },
        schema_overrides={"label": pl.Int8},
    )


def _manifest(table, seed=0):
    return assign_splits(assign_anchors(table, seed=seed), seed=seed)


def test_split_depends_only_on_the_video():
    """The same id gets the same split whatever else is in the table, and nothing moves when videos come or go."""
    base = _manifest(_table())
    split = dict(base.select("video_id", "split").iter_rows())
    grown = _manifest(pl.concat([_table(), _table(n_pos=5, n_neg=5, seed=3, ids=[f"new{i}" for i in range(10)])]))
    shrunk = _manifest(_table().filter(pl.col("video_id").str.ends_with("7").not_()))
    for other in (grown, shrunk):
        moved = [v for v, s in other.select("video_id", "split").iter_rows() if v in split and split[v] != s]
        assert moved == []
    alone = assign_splits(_table().filter(pl.col("video_id") == "00042"), seed=0)
    assert alone["split"].item() == split["00042"]
    assert check_disjoint(base) == [] and base["video_id"].n_unique() == base.height


def test_split_is_seeded_and_order_independent():
    base = assign_anchors(_table())
    a = assign_splits(base, seed=1)
    b = assign_splits(base.sample(fraction=1.0, shuffle=True, seed=9), seed=1)
    assert a.select("video_id", "split").equals(b.select("video_id", "split"))
    assert split_hash(a) == split_hash(b)
    assert split_hash(assign_splits(base, seed=2)) != split_hash(a)
    other = assign_splits(base.with_columns(pl.lit("e").alias("dataset")), seed=1)
    assert other["split"].to_list() != a["split"].to_list(), "the dataset name is part of the hash"


def test_split_sizes_are_binomial():
    """Per-video hashing gives each stratum Binomial(n, f) split sizes (the oracle: scipy's binomial)."""
    rng = np.random.default_rng(0)
    n, strata = 40, 400
    ids = [f"{rng.integers(1 << 40):x}-{i}" for i in range(n * strata)]
    table = pl.DataFrame(
        {
            "dataset": [f"s{i // n}" for i in range(n * strata)],
            "video_id": ids,
            "label": pl.Series([1] * (n * strata), dtype=pl.Int8),
        }
    )
    counts = split_counts(assign_splits(table, (0.7, 0.15, 0.15), seed=4))
    for split, f in (("train", 0.7), ("val", 0.15)):
        sizes = np.array([counts[(f"s{i}", split)][0] for i in range(strata)])
        observed = np.bincount(sizes, minlength=n + 1)
        expected = stats.binom.pmf(np.arange(n + 1), n, f) * strata
        # pool the sparse tails so every chi-square cell expects >= 5
        lo = int(np.argmax(np.cumsum(expected) >= 5))
        hi = int(n - np.argmax(np.cumsum(expected[::-1]) >= 5))
        obs = [observed[: lo + 1].sum(), *observed[lo + 1 : hi], observed[hi:].sum()]
        exp = [expected[: lo + 1].sum(), *expected[lo + 1 : hi], expected[hi:].sum()]
        assert stats.chisquare(obs, exp).pvalue > 1e-3, f"{split} sizes are not Binomial({n}, {f})"
        assert abs(sizes.mean() - n * f) < 4 * np.sqrt(n * f * (1 - f) / strata)


def test_bad_fractions():
    with pytest.raises(ValueError, match="summing to 1"):
        assign_splits(_table(), (0.5, 0.2, 0.2))


def test_negative_anchors_follow_positive_event_times():
    t = assign_anchors(_table(n_pos=200, n_neg=200), seed=0)
    pos = t.filter(pl.col("label") == 1)
    neg = t.filter(pl.col("label") == 0)
    assert pos["anchor_time"].to_list() == pos["event_time"].to_list()
    # Same distribution: a two-sample KS test must not tell anchors of negatives from event times.
    assert stats.ks_2samp(pos["anchor_time"].to_numpy(), neg["anchor_time"].to_numpy()).pvalue > 0.01
    assert neg["anchor_time"].is_between(0, 10.0).all()
    assert set(neg["anchor_partner"]) <= set(pos["video_id"])


def test_rendezvous_partner_changes_only_to_a_new_candidate():
    rng = np.random.default_rng(1)
    choosers, candidates = rng.integers(0, 2**63, 500, dtype=np.uint64), rng.integers(0, 2**63, 80, dtype=np.uint64)
    before = rendezvous_partners(choosers, candidates)
    after = rendezvous_partners(choosers, np.append(candidates, np.uint64(12345)))
    changed = before != after
    assert set(after[changed]) <= {80}, "a partner may only change to the new candidate"
    assert 0 < changed.sum() < 3 * 500 / 81, "about 1 in 81 choosers pick the newcomer"
    assert np.bincount(before, minlength=80).min() > 0, "partners are spread over every candidate"


def test_anchors_move_only_with_their_partner():
    """Adding videos never changes an anchor except where the added video became that video's partner."""
    base = match_anchors(_table(dur=(5.0, 14.0)), seed=0).table
    extra = _table(n_pos=3, n_neg=3, seed=5, ids=[f"new{i}" for i in range(6)], dur=(5.0, 14.0))
    grown = match_anchors(pl.concat([_table(dur=(5.0, 14.0)), extra]), seed=0).table
    before = {r["video_id"]: r for r in base.iter_rows(named=True)}
    for r in grown.iter_rows(named=True):
        old = before.get(r["video_id"])
        if old is None:
            continue
        if (r["anchor_time"], r["anchor_partner"]) != (old["anchor_time"], old["anchor_partner"]):
            assert r["anchor_partner"].startswith("new"), f"{r['video_id']} moved without a new partner"
    assert sum(1 for r in grown.iter_rows(named=True) if r["video_id"] in before) >= base.height - 3


def test_known_anchors_for_negatives_are_kept():
    base = _table(n_pos=10, n_neg=10)
    given = {("d", "00012"): 7.25, ("d", "00013"): 99.0}  # the second lies outside its clip: ignored
    t = assign_anchors(base, seed=0, given=given)
    anchor = dict(t.select("video_id", "anchor_time").iter_rows())
    assert anchor["00012"] == 7.25
    assert anchor["00013"] != 99.0 and 0 < anchor["00013"] <= 10.0


def test_one_class_split_fails_and_small_splits_warn():
    m = _manifest(_table(n_pos=3, n_neg=60))
    problems = split_problems(m)
    pos = split_counts(m)
    missing = [s for s in ("train", "val", "test") if pos[("d", s)][0] == 0]
    assert missing, "3 positives over three splits: some split holds none for this seed"
    assert all(f"split {s} holds 0 positive(s)" in " ".join(problems) for s in missing)
    assert "dataset 'd'" in problems[0]
    warnings = split_warnings(_manifest(_table(n_pos=60, n_neg=60)))
    assert len(warnings) == 2 and all("rankings on this split are mostly noise" in w for w in warnings)
    assert split_warnings(_manifest(_table(n_pos=400, n_neg=100))) == []
