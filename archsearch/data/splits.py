"""The train/val/test split: fixed per video, checked per dataset, hashed into every result.

Every result row carries the split hash: two results are comparable only if they were trained
and scored on the same videos with the same anchors.

Policy: a video's split is a function of its own (seed, dataset, id) and nothing else: a
64-bit hash of them, read as a number u in [0, 1), falls in train, val or test by the
fractions. Adding or removing videos therefore never moves another video, and a results
table from before a dataset grew still names the same videos' splits. The price is that split
sizes are binomial, not exact: a stratum of n videos puts n * f +- sqrt(n * f * (1 - f)) in a
split of fraction f (about +-2.3 of the expected 6 val videos at n = 40). No rule can give
exact stratified counts and never move a video: with a fixed rule per id, some set of ids
always lands unevenly. So instead of forcing balance, ``split_problems`` fails a dataset whose
splits miss a class and ``split_warnings`` flags validation or test splits too small to rank on.
"""

from __future__ import annotations

import hashlib

import polars as pl

from archsearch.data.anchors import video_key

SPLITS = ("train", "val", "test")
MIN_RANKING_POSITIVES = 30  # fewer positives in val or test: rankings on that split are mostly noise


def split_of(u: float, fractions: tuple[float, float, float]) -> str:
    """The split a hash position u in [0, 1) falls in."""
    if u < fractions[0]:
        return "train"
    return "val" if u < fractions[0] + fractions[1] else "test"


def check_fractions(fractions: tuple[float, ...]) -> tuple[float, float, float]:
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must be three non-negative numbers summing to 1, got {fractions}")
    return float(fractions[0]), float(fractions[1]), float(fractions[2])


def assign_splits(
    table: pl.DataFrame, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15), seed: int = 0
) -> pl.DataFrame:
    """Add ``split``: each video's from a hash of (seed, dataset, id) alone, sorted by (dataset, id)."""
    fractions = check_fractions(fractions)
    pairs = table.select("dataset", "video_id").iter_rows()
    splits = [split_of(video_key("split", seed, str(d), str(v)) / 2.0**64, fractions) for d, v in pairs]
    return table.with_columns(pl.Series("split", splits, dtype=pl.String)).sort("dataset", "video_id")


def split_counts(table: pl.DataFrame) -> dict[tuple[str, str], tuple[int, int]]:
    """(dataset, split) -> (positives, negatives), for every split of every dataset."""
    out = {(d, s): (0, 0) for d in table["dataset"].unique().to_list() for s in SPLITS}
    rows = table.group_by("dataset", "split").agg(
        (pl.col("label") == 1).sum().alias("p"), (pl.col("label") == 0).sum().alias("n")
    )
    for d, s, p, n in rows.iter_rows():
        out[(d, s)] = (int(p), int(n))
    return dict(sorted(out.items()))


def split_problems(table: pl.DataFrame, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)) -> list[str]:
    """Splits (with a non-zero fraction) that miss a class: an experiment could not be scored on them."""
    out = []
    for (dataset, split), (pos, neg) in split_counts(table).items():
        if fractions[SPLITS.index(split)] > 0 and (pos == 0 or neg == 0):
            out.append(
                f"dataset {dataset!r}: split {split} holds {pos} positive(s) and {neg} negative(s); "
                "every split needs both classes (add videos, or change splits.seed or splits.fractions)"
            )
    return out


def split_warnings(table: pl.DataFrame, min_positives: int = MIN_RANKING_POSITIVES) -> list[str]:
    """Validation or test splits with fewer than ``min_positives`` positives, one message each."""
    out = []
    for (dataset, split), (pos, neg) in split_counts(table).items():
        if split != "train" and pos + neg > 0 and pos < min_positives:
            out.append(
                f"dataset {dataset!r}: {split} has {pos} positive(s) (fewer than {min_positives}): "
                "rankings on this split are mostly noise"
            )
    return out


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
