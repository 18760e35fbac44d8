"""Validating the rows of a labels CSV into manifest records, naming the file, row and field of every problem.

A bad row in a 1,500-clip CSV should cost the user seconds, not a failed feature extraction an
hour later: every check runs before any feature is computed, and every rejection says which
row, which field and what was expected. Ids become directory names in the feature store, so an
id a file system or the store would refuse is normalised here (and the change noted) or the
row is rejected.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from archsearch.data.clip_probe import ClipFacts, ClipProber

VIDEO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
ID_MAX = 100


@dataclass(frozen=True)
class RowProblem:
    """One rejected row (or a note on a kept one): where it is and what was wrong with it."""

    source: str
    row: int  # 1-based data row (the header is row 0)
    video_id: str
    field: str
    message: str
    dataset: str = ""  # the dataset the row belongs to (set by the loader)

    def __str__(self) -> str:
        return f"{self.source}: row {self.row} (id={self.video_id!r}), field {self.field!r}: {self.message}"


@dataclass
class RawRow:
    """One CSV row as read: the id, the file it names and the label fields as text."""

    row: int
    video_id: str
    path: Path
    label_text: str
    event_text: str
    alert_text: str
    scenario: str = "unknown"


@dataclass
class Candidate:
    """A row whose fields passed: parsed label and times, waiting for its file to be probed."""

    raw: RawRow
    label: int
    event: float | None
    alert: float | None


def safe_video_id(raw: str) -> str | None:
    """``raw`` as an id the feature store accepts ([A-Za-z0-9][A-Za-z0-9._-]{0,99}), or None when empty.

    Accents are folded (é -> e), other characters become "_"; when letters had to be dropped
    (non-Latin scripts) a short hash of the original keeps different names apart.
    """
    if VIDEO_ID_RE.match(raw):
        return raw
    folded = unicodedata.normalize("NFKD", raw)
    ascii_text = folded.encode("ascii", "ignore").decode()
    lost = any(not unicodedata.combining(c) and ord(c) > 127 for c in folded)
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_text)
    text = re.sub(r"^[^A-Za-z0-9]+", "", text).rstrip("_")
    if lost or not text:
        tag = hashlib.sha256(raw.encode()).hexdigest()[:8]
        text = f"{text[: ID_MAX - 9]}-{tag}" if text else f"id-{tag}"
    return text[:ID_MAX] if text else None


def parse_time(text: str) -> float | None:
    """Seconds from a CSV cell; None when empty; ValueError when not a finite number."""
    text = (text or "").strip()
    if text == "" or text.lower() in {"nan", "none", "null"}:
        return None
    value = float(text)  # ValueError is reported by the caller with the row and field
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def check_fields(r: RawRow) -> Candidate | tuple[str, str]:
    """Parsed label, event and alert time, or (field, message) for the first field that is wrong."""
    if r.label_text not in {"0", "1", "0.0", "1.0"}:
        return "label", f"expected 0 or 1, got {r.label_text!r}"
    label = int(float(r.label_text))
    try:
        event = parse_time(r.event_text)
    except ValueError:
        return "event_time", f"expected a number of seconds, got {r.event_text!r}"
    try:
        alert = parse_time(r.alert_text)
    except ValueError:
        return "alert_time", f"expected a number of seconds or empty, got {r.alert_text!r}"
    if label == 1 and event is None:
        return "event_time", "a positive (label 1) needs an event time"
    if label == 0:
        event, alert = None, None  # negatives get a matched anchor; their times carry no label
    if alert is not None and alert < 0:
        return "alert_time", f"negative alert time {alert}"
    if alert is not None and event is not None and alert > event:
        return "alert_time", f"alert time {alert} s is after the event time {event} s"
    if not r.path.is_file():
        return "path", f"video file not found: {r.path}"
    return Candidate(r, label, event, alert)


class RowChecker:
    """Validates one source's rows: fields first, then the probed files; collects problems and notes."""

    def __init__(self, source: str, dataset: str, prober: ClipProber):
        self.source, self.dataset, self.prober = source, dataset, prober
        self.problems: list[RowProblem] = []
        self.notes: list[RowProblem] = []

    def reject(self, r: RawRow, field: str, message: str) -> None:
        self.problems.append(RowProblem(self.source, r.row, r.video_id, field, message, self.dataset))

    def candidates(self, rows: list[RawRow]) -> list[Candidate]:
        """Rows whose id and fields are valid (ids normalised), in file order."""
        seen: dict[str, int] = {}
        out = []
        for r in rows:
            original = r.video_id
            if not original:
                self.reject(r, "id", "empty id")
                continue
            r.video_id = safe_video_id(original) or ""
            if r.video_id != original:
                self.notes.append(
                    RowProblem(
                        self.source,
                        r.row,
                        r.video_id,
                        "id",
                        (f"normalised from {original!r} (ids must match {VIDEO_ID_RE.pattern})"),
                        self.dataset,
                    )
                )
            if r.video_id in seen:
                self.reject(r, "id", f"duplicate id (first seen at row {seen[r.video_id]})")
                continue
            seen[r.video_id] = r.row
            checked = check_fields(r)
            if isinstance(checked, tuple):
                self.reject(r, *checked)
                continue
            out.append(checked)
        return out

    def record(self, c: Candidate, facts: ClipFacts) -> dict | None:
        """The manifest record of a probed row, or None after rejecting it."""
        info = facts.info
        if c.event is not None and not (0.0 < c.event <= info.duration + 1e-6):
            self.reject(
                c.raw, "event_time", f"expected a time within the clip (0, {info.duration:.3f}] s, got {c.event}"
            )
            return None
        return {
            "dataset": self.dataset,
            "video_id": c.raw.video_id,
            "path": str(c.raw.path.resolve()),
            "label": c.label,
            "event_time": c.event,
            "alert_time": c.alert,
            "duration": float(info.duration),
            "fps": float(info.fps),
            "n_frames": int(info.n_frames),
            "width": int(info.width),
            "height": int(info.height),
            "rotation": int(info.rotation),
            "codec": info.codec,
            "decode_backend": facts.backend.name,
            "decode_reason": facts.backend.reason,
            "video_digest": facts.digest,
            "scenario": c.raw.scenario,
        }

    def records(self, rows: list[RawRow]) -> list[dict]:
        """Manifest records of every valid row; problems and notes are collected on the checker."""
        cands = self.candidates(rows)
        probed = self.prober.probe_many([c.raw.path for c in cands])
        by_digest: dict[str, RawRow] = {}
        out = []
        for c in cands:
            facts = probed[str(c.raw.path.resolve())]
            if isinstance(facts, str):
                self.reject(c.raw, "path", f"unreadable video {c.raw.path}: {facts}")
                continue
            rec = self.record(c, facts)
            if rec is None:
                continue
            first = by_digest.setdefault(facts.digest, c.raw)
            if first is not c.raw:
                self.notes.append(
                    RowProblem(
                        self.source,
                        c.raw.row,
                        c.raw.video_id,
                        "path",
                        (
                            f"same video content as row {first.row} (id={first.video_id!r}): in different splits, "
                            "one clip would be trained on and scored"
                        ),
                        self.dataset,
                    )
                )
            out.append(rec)
        self.problems.sort(key=lambda p: p.row)
        return out
