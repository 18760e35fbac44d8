"""Anchor times and the train/val/test split.

Both are fixed, seeded and hashed, because every result row carries the split hash: two
results are comparable only if they were trained and scored on the same videos with the same
anchors. Anchors for negatives are drawn from the positives' event times so that *when* a
clip is cut can never tell the model whether it holds a collision.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

SPLITS = ("train", "val", "test")


def _video_rng(seed: int, dataset: str, video_id: str) -> np.random.Generator:
    """A per-video stream, so adding videos to a dataset never moves other videos' anchors."""
    digest = hashlib.sha256(f"{seed}\x00{dataset}\x00{video_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def assign_anchors(
    table: pl.DataFrame, seed: int = 0, given: dict[tuple[str, str], float] | None = None
) -> pl.DataFrame:
    """Add ``anchor_time``: the event time for positives; for negatives a draw from the positives'.

    Per dataset, a negative draws one positive event time that fits inside its own clip
    (keeping the same distance to the clip end when none fits), plus a little jitter so that
    repeated values are not a fingerprint either. ``given`` ((dataset, id) -> seconds) supplies
    anchors a source already knows for negatives, e.g. a synthetic near miss's closest
    approach, itself drawn from the positives' event-time window: hard negatives are then
    scored at their most dangerous moment.
    """
    given = given or {}
    out = []
    for (dataset,), part in table.group_by("dataset", maintain_order=True):
        events = np.sort(part.filter(pl.col("label") == 1)["event_time"].to_numpy())
        tails = np.sort((part.filter(pl.col("label") == 1)["duration"] - part.filter(pl.col("label") == 1)["event_time"]).to_numpy())
        anchors = []
        for vid, label, event, duration in part.select("video_id", "label", "event_time", "duration").iter_rows():
            if label == 1:
                anchors.append(float(event))
                continue
            if (dataset, vid) in given and 0.0 < given[(dataset, vid)] <= duration:
                anchors.append(float(given[(dataset, vid)]))
                continue
            rng = _video_rng(seed, dataset, vid)
            if events.size == 0:
                # No positives to imitate (an all-negative dataset): use a late point, as Nexar events are.
                anchors.append(float(duration) * float(rng.uniform(0.6, 0.95)))
                continue
            fits = events[events <= duration]
            if fits.size:
                t = float(rng.choice(fits))
            else:
                t = float(duration) - float(rng.choice(tails))
            jitter = float(rng.normal(0.0, 0.1))
            anchors.append(float(np.clip(t + jitter, min(0.5, duration / 2), duration)))
        out.append(part.with_columns(pl.Series("anchor_time", anchors, dtype=pl.Float64)))
    return pl.concat(out) if out else table.with_columns(pl.lit(None, pl.Float64).alias("anchor_time"))


def _largest_remainder(n: int, fractions: tuple[float, ...]) -> list[int]:
    raw = [n * f for f in fractions]
    counts = [int(np.floor(x)) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - counts[i], reverse=True)
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def assign_splits(
    table: pl.DataFrame,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    stratify: tuple[str, ...] = ("dataset", "label"),
) -> pl.DataFrame:
    """Stratified, seeded, disjoint-by-id split (train/val/test).

    Rows are sorted by id inside each stratum before the seeded shuffle, so the split depends
    only on the set of videos and the seed, never on file order.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must be three non-negative numbers summing to 1, got {fractions}")
    rng = np.random.default_rng(seed)
    pieces = []
    for _, part in table.sort(list(stratify) + ["video_id"]).group_by(list(stratify), maintain_order=True):
        n = part.height
        counts = _largest_remainder(n, fractions)
        # Small strata: keep at least one example in val and test when there are 3+ videos.
        if n >= 3:
            for i in (1, 2):
                if counts[i] == 0 and fractions[i] > 0:
                    counts[i] = 1
                    counts[0] -= 1
        labels = np.array(sum(([s] * c for s, c in zip(SPLITS, counts)), []), dtype=object)
        perm = rng.permutation(n)
        pieces.append(part.with_columns(pl.Series("split", labels[np.argsort(perm)].tolist(), dtype=pl.String)))
    return pl.concat(pieces).sort("dataset", "video_id")


def split_hash(table: pl.DataFrame) -> str:
    """A short hash of what a result depends on: which video (and content) is in which split, with which anchor."""
    rows = (
        table.select("dataset", "video_id", "video_digest", "label", "split", "anchor_time")
        .sort("dataset", "video_id")
        .iter_rows()
    )
    h = hashlib.sha256()
    for dataset, vid, digest, label, split, anchor in rows:
        h.update(f"{dataset}\t{vid}\t{digest}\t{label}\t{split}\t{anchor:.6f}\n".encode())
    return h.hexdigest()[:16]


def check_disjoint(table: pl.DataFrame) -> list[str]:
    """Ids that appear in more than one split (should always be empty)."""
    multi = table.group_by("dataset", "video_id").agg(pl.col("split").n_unique().alias("n")).filter(pl.col("n") > 1)
    return [f"{d}/{v}" for d, v in multi.select("dataset", "video_id").iter_rows()]
