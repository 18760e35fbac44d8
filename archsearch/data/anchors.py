"""Anchor times, chosen so that where a window sits in its clip can never tell the label.

Policy: matched views
    Every video is seen through a *view* that ends at its anchor and reaches back
    ``history = min(anchor, history_s)`` seconds. Windows (models.windows) end at anchor - 0.5,
    1 or 1.5 s and reach back at most history_s (default 6.5 s: 1.5 s + 24 steps at 5 Hz, with
    room to spare), and features are causal, so everything a model reads lies inside the view:
    its padding, masked fraction and number of real steps are functions of ``history`` alone,
    the view's length is ``history`` and its distance from the anchor to its end is 0. The
    policy makes the distribution of ``history`` the same for positives and negatives:

    - a positive's anchor is its event time;
    - every video draws a partner from the other class of its dataset by rendezvous hashing
      (the highest hash of seed, dataset, own id and candidate id): uniform over that class,
      independent of any duration, and changed only when the partner leaves or a newly added
      video of the other class out-hashes it;
    - a negative takes its partner's history: its anchor is the partner's event time when the
      clip is that long (so even the raw position matches), else, when the partner has the full
      history_s, a point drawn (per video, seeded) in [history_s, duration];
    - a pair is infeasible when the negative is shorter than the positive's history; then the
      video that drew that partner is excluded, with its reason, whichever class it is in.

    Why excluding on both sides removes the leak: partners are drawn independently of their
    durations, so kept positives and kept negatives both have histories distributed as
    P_pos(h) * P_neg(duration >= h), normalised: the same law. Short negatives cost the
    matching share of positives instead of becoming a tell.

``given`` anchors (a synthetic near miss's closest approach) are kept when they give the
negative its partner's history. A dataset with one class only has nothing to match: its
videos keep their events or get a seeded point at least history_s (or the whole clip) in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import polars as pl

HISTORY_S = 6.5  # s; >= 1.5 s horizon + 24 feature steps at 5 Hz (4.8 s): every window fits its view
ANCHOR_COLUMNS = ("anchor_time", "view_start", "anchor_partner", "anchor_reason")
PAIR_BLOCK = 512  # choosers per block of the rendezvous weight matrix (bounds memory)
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclass(frozen=True)
class AnchorAssignment:
    """Videos with their anchors and views, and the videos the policy had to exclude (with why)."""

    table: pl.DataFrame  # input columns + ANCHOR_COLUMNS
    excluded: pl.DataFrame  # dataset, video_id, label, reason


def video_key(salt: str, seed: int, dataset: str, video_id: str) -> int:
    """A 64-bit hash of (salt, seed, dataset, id): the only randomness a video's anchor or split uses."""
    digest = hashlib.sha256(f"{salt}\x00{seed}\x00{dataset}\x00{video_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def video_rng(seed: int, dataset: str, video_id: str) -> np.random.Generator:
    """A per-video random stream: adding videos to a dataset never changes another video's draws."""
    return np.random.default_rng(video_key("anchor", seed, dataset, video_id))


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 arrays: a well-spread 64-bit hash of each value."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return (x ^ (x >> np.uint64(31))) & _MASK64


def rendezvous_partners(chooser_keys: np.ndarray, candidate_keys: np.ndarray) -> np.ndarray:
    """For each chooser, the index of the candidate with the highest pair weight (-1: no candidates).

    weight(c, k) = mix64(mix64(c) + k): a fixed function of the two keys, so a chooser's partner
    depends on nothing but which candidates exist.
    """
    out = np.full(len(chooser_keys), -1, dtype=np.int64)
    if len(candidate_keys) == 0:
        return out
    mixed = mix64(chooser_keys.astype(np.uint64))  # (C,)
    cand = candidate_keys.astype(np.uint64)  # (K,)
    for i in range(0, len(mixed), PAIR_BLOCK):
        with np.errstate(over="ignore"):
            w = mix64(mixed[i : i + PAIR_BLOCK, None] + cand[None, :])  # (b, K)
        out[i : i + PAIR_BLOCK] = np.argmax(w, axis=1)
    return out


def negative_anchor(
    rng_args: tuple[int, str, str], duration: float, partner_event: float, history_s: float
) -> tuple[float | None, str]:
    """A negative's anchor matching a positive partner's history, or None with the reason it cannot."""
    history = min(partner_event, history_s)
    if partner_event <= duration:
        return partner_event, "the partner's event time"
    if history >= history_s and duration >= history_s:
        t = float(video_rng(*rng_args).uniform(history_s, duration))
        return t, f"drawn in [{history_s:g}, {duration:.3f}] s (the partner has the full {history_s:g} s history)"
    return None, (
        f"clip ({duration:.3f} s) shorter than its partner positive's {history:.3f} s of history before the event"
    )


def one_class_anchor(rng_args: tuple[int, str, str], duration: float, history_s: float) -> float:
    """Anchor of a negative in a dataset without positives (nothing to match): seeded, late enough."""
    lo = min(history_s, duration)
    return float(video_rng(*rng_args).uniform(lo, duration)) if duration > lo else float(duration)


def match_dataset(
    part: pl.DataFrame, dataset: str, seed: int, given: dict[tuple[str, str], float], history_s: float
) -> tuple[pl.DataFrame, list[dict]]:
    """One dataset's kept videos with their anchor columns, and its excluded videos (with why)."""
    ids = part["video_id"].to_list()
    labels = part["label"].to_numpy()
    durations = part["duration"].to_numpy().astype(np.float64)
    events = part["event_time"].fill_null(np.nan).to_numpy().astype(np.float64)
    keys = np.array([video_key("partner", seed, dataset, v) for v in ids], dtype=np.uint64)
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    partner = np.full(len(ids), -1, dtype=np.int64)
    if pos.size and neg.size:
        partner[neg] = pos[rendezvous_partners(keys[neg], keys[pos])]
        partner[pos] = neg[rendezvous_partners(keys[pos], keys[neg])]
    anchors, reasons, excluded = [], [], []
    for i, vid in enumerate(ids):
        anchor, reason = anchor_of(i, int(partner[i]), vid, dataset, seed, labels, events, durations, given, history_s)
        anchors.append(anchor)
        reasons.append(reason)
        if anchor is None:
            excluded.append({"dataset": dataset, "video_id": vid, "label": int(labels[i]), "reason": reason})
    anchor_s = pl.Series("anchor_time", anchors, dtype=pl.Float64)
    fields = [
        anchor_s,
        (anchor_s - pl.Series(np.minimum(anchor_s.fill_null(0.0).to_numpy(), history_s))).alias("view_start"),
        pl.Series("anchor_partner", [ids[j] if j >= 0 else None for j in partner], dtype=pl.String),
        pl.Series("anchor_reason", reasons, dtype=pl.String),
    ]
    return part.with_columns(fields).filter(pl.col("anchor_time").is_not_null()), excluded


def anchor_of(
    i: int,
    j: int,
    vid: str,
    dataset: str,
    seed: int,
    labels: np.ndarray,
    events: np.ndarray,
    durations: np.ndarray,
    given: dict[tuple[str, str], float],
    history_s: float,
) -> tuple[float | None, str]:
    """Video i's anchor under the policy given its partner j (-1: none), or None and why it is excluded."""
    duration = float(durations[i])
    if labels[i] == 1:
        event = float(events[i])
        if j >= 0 and durations[j] < min(event, history_s):
            return None, (
                f"its partner negative ({durations[j]:.3f} s) is shorter than its "
                f"{min(event, history_s):.3f} s of history before the event"
            )
        return event, "event time"
    if j < 0:
        return one_class_anchor((seed, dataset, vid), duration, history_s), "drawn (the dataset has no positives)"
    partner_event = float(events[j])
    known = given.get((dataset, vid))
    if known is not None and 0.0 < known <= duration and min(known, history_s) == min(partner_event, history_s):
        return float(known), "given by the source (the partner's history)"
    return negative_anchor((seed, dataset, vid), duration, partner_event, history_s)


def match_anchors(
    table: pl.DataFrame, seed: int = 0, given: dict[tuple[str, str], float] | None = None, history_s: float = HISTORY_S
) -> AnchorAssignment:
    """Anchors and views for every video (see the module docstring), per dataset, plus the exclusions.

    ``table`` needs dataset, video_id, label, event_time and duration; ``given`` maps
    (dataset, id) -> seconds for negatives whose source knows a meaningful anchor.
    """
    if not history_s > 0:
        raise ValueError(f"history_s: expected a positive number of seconds, got {history_s!r}")
    given = given or {}
    kept, excluded = [], []
    for (dataset,), part in table.group_by("dataset", maintain_order=True):
        rows, dropped = match_dataset(part, str(dataset), seed, given, history_s)
        kept.append(rows)
        excluded += dropped
    schema = {"dataset": pl.String, "video_id": pl.String, "label": pl.Int8, "reason": pl.String}
    if not kept:
        types = {
            "anchor_time": pl.Float64,
            "view_start": pl.Float64,
            "anchor_partner": pl.String,
            "anchor_reason": pl.String,
        }
        kept = [table.with_columns(pl.lit(None, types[c]).alias(c) for c in ANCHOR_COLUMNS)]
    return AnchorAssignment(pl.concat(kept), pl.DataFrame(excluded, schema=schema))


def assign_anchors(
    table: pl.DataFrame, seed: int = 0, given: dict[tuple[str, str], float] | None = None, history_s: float = HISTORY_S
) -> pl.DataFrame:
    """The videos the policy keeps, with anchor_time, view_start, anchor_partner and anchor_reason."""
    return match_anchors(table, seed, given, history_s).table
