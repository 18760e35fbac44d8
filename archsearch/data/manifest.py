"""One manifest for every video source.

Every downstream stage (features, experiments, analysis) reads the same polars table, so a
Nexar folder, a generic CSV and the embedded synthetic set must all end up in exactly this
schema. Loading validates each row and names the offending file, row and field: a bad row in
a 1,500-clip CSV should cost the user seconds, not a failed feature extraction an hour later.
"""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

MANIFEST_SCHEMA: dict[str, pl.DataType] = {
    "dataset": pl.String,
    "video_id": pl.String,
    "path": pl.String,
    "label": pl.Int8,
    "event_time": pl.Float64,
    "alert_time": pl.Float64,
    "anchor_time": pl.Float64,
    "duration": pl.Float64,
    "fps": pl.Float64,
    "n_frames": pl.Int64,
    "width": pl.Int64,
    "height": pl.Int64,
    "video_digest": pl.String,
    "scenario": pl.String,
    "split": pl.String,
}

NEXAR_COLUMNS = ("id", "target", "time_of_event", "time_of_alert")
GENERIC_COLUMNS = ("path", "label", "event_time")


@dataclass(frozen=True)
class RowProblem:
    """One rejected row: where it is and what was wrong with it."""

    source: str
    row: int  # 1-based data row (the header is row 0)
    video_id: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: row {self.row} (id={self.video_id!r}), field {self.field!r}: {self.message}"


class ManifestError(ValueError):
    """A dataset could not be loaded; ``problems`` lists every offending row."""

    def __init__(self, problems: list[RowProblem] | str):
        if isinstance(problems, str):
            self.problems: list[RowProblem] = []
            super().__init__(problems)
            return
        self.problems = problems
        shown = "\n  ".join(str(p) for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        hint = "\n(pass skip_bad_rows=True to skip these rows and report them instead)"
        super().__init__(f"{len(problems)} bad row(s):\n  {shown}{more}{hint}")


@dataclass
class LoadResult:
    """Rows that loaded (manifest schema minus anchor/split) and rows that were skipped."""

    table: pl.DataFrame
    skipped: list[RowProblem] = field(default_factory=list)


def file_digest(path: str | Path, chunk: int = 1 << 20) -> str:
    """Content digest (sha256, 16 hex) so a changed video invalidates exactly its own features."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()[:16]


@dataclass
class _RawRow:
    row: int
    video_id: str
    path: Path
    label_text: str
    event_text: str
    alert_text: str
    scenario: str = "unknown"


def _parse_time(text: str) -> float | None:
    text = (text or "").strip()
    if text == "" or text.lower() in {"nan", "none", "null"}:
        return None
    value = float(text)  # ValueError is reported by the caller with the row and field
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _read_csv(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.is_file():
        raise ManifestError(f"{path}: file not found (expected a CSV with columns {', '.join(required)})")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in required if c not in header]
        if missing:
            raise ManifestError(
                f"{path}: missing column(s) {', '.join(missing)}; expected header {','.join(required)}, "
                f"got {','.join(header) or '(empty file)'}"
            )
        return [{(k or "").strip(): (v or "").strip() for k, v in r.items()} for r in reader]


def _validate_rows(
    source: str,
    dataset: str,
    rows: list[_RawRow],
    probe: Callable,
    workers: int,
) -> LoadResult:
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    candidates: list[tuple[_RawRow, int, float | None, float | None]] = []
    for r in rows:
        bad = lambda fld, msg: problems.append(RowProblem(source, r.row, r.video_id, fld, msg))  # noqa: E731
        if not r.video_id:
            bad("id", "empty id")
            continue
        if r.video_id in seen:
            bad("id", f"duplicate id (first seen at row {seen[r.video_id]})")
            continue
        seen[r.video_id] = r.row
        if r.label_text not in {"0", "1", "0.0", "1.0"}:
            bad("label", f"expected 0 or 1, got {r.label_text!r}")
            continue
        label = int(float(r.label_text))
        try:
            event = _parse_time(r.event_text)
        except ValueError:
            bad("event_time", f"expected a number of seconds, got {r.event_text!r}")
            continue
        try:
            alert = _parse_time(r.alert_text)
        except ValueError:
            bad("alert_time", f"expected a number of seconds or empty, got {r.alert_text!r}")
            continue
        if label == 1 and event is None:
            bad("event_time", "a positive (label 1) needs an event time")
            continue
        if label == 0:
            event, alert = None, None  # negatives get a drawn anchor; their times carry no label
        if alert is not None and event is not None and alert > event:
            bad("alert_time", f"alert time {alert} s is after the event time {event} s")
            continue
        if not r.path.is_file():
            bad("path", f"video file not found: {r.path}")
            continue
        candidates.append((r, label, event, alert))

    def _probe(item):
        r = item[0]
        try:
            return probe(r.path, full=True), None
        except Exception as exc:  # noqa: BLE001 - reported per row, never swallowed
            return None, f"{type(exc).__name__}: {exc}"

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        probed = list(pool.map(_probe, candidates))

    records = []
    for (r, label, event, alert), (info, err) in zip(candidates, probed):
        if info is None:
            problems.append(RowProblem(source, r.row, r.video_id, "path", f"unreadable video {r.path}: {err}"))
            continue
        if event is not None and not (0.0 < event <= info.duration + 1e-6):
            problems.append(
                RowProblem(
                    source, r.row, r.video_id, "event_time",
                    f"expected a time within the clip (0, {info.duration:.3f}] s, got {event}",
                )
            )
            continue
        if alert is not None and alert < 0:
            problems.append(RowProblem(source, r.row, r.video_id, "alert_time", f"negative alert time {alert}"))
            continue
        records.append(
            {
                "dataset": dataset,
                "video_id": r.video_id,
                "path": str(r.path.resolve()),
                "label": label,
                "event_time": event,
                "alert_time": alert,
                "duration": float(info.duration),
                "fps": float(info.fps),
                "n_frames": int(info.n_frames),
                "width": int(info.width),
                "height": int(info.height),
                "video_digest": file_digest(r.path),
                "scenario": r.scenario,
            }
        )
    schema = {k: v for k, v in MANIFEST_SCHEMA.items() if k not in ("anchor_time", "split")}
    table = pl.DataFrame(records, schema=schema, orient="row") if records else pl.DataFrame(schema=schema)
    problems.sort(key=lambda p: p.row)
    return LoadResult(table=table, skipped=problems)


def _finish(result: LoadResult, skip_bad_rows: bool) -> LoadResult:
    if result.skipped and not skip_bad_rows:
        raise ManifestError(result.skipped)
    if result.table.height == 0:
        raise ManifestError("no usable videos: every row was rejected or the CSV is empty")
    return result


def _default_probe():
    from archsearch.data.decode import probe_video

    return probe_video


def load_nexar(
    folder: str | Path,
    *,
    dataset: str = "nexar",
    skip_bad_rows: bool = False,
    scenarios: dict[str, str] | None = None,
    probe: Callable | None = None,
    workers: int = 4,
) -> LoadResult:
    """Load a Nexar-format folder: ``train.csv`` (id,target,time_of_event,time_of_alert) + ``train/<id>.mp4``."""
    folder = Path(folder)
    csv_path = folder / "train.csv"
    rows = _read_csv(csv_path, NEXAR_COLUMNS)
    raw = []
    for i, rec in enumerate(rows, start=1):
        vid = rec["id"]
        if vid.isdigit() and len(vid) < 5:
            vid = vid.zfill(5)  # Nexar ids are zero-padded file names; spreadsheets drop the zeros
        raw.append(
            _RawRow(
                row=i,
                video_id=vid,
                path=folder / "train" / f"{vid}.mp4",
                label_text=rec["target"],
                event_text=rec["time_of_event"],
                alert_text=rec["time_of_alert"],
                scenario=(scenarios or {}).get(vid, "unknown"),
            )
        )
    result = _validate_rows(str(csv_path), dataset, raw, probe or _default_probe(), workers)
    return _finish(result, skip_bad_rows)


def load_generic_csv(
    csv_path: str | Path,
    *,
    dataset: str,
    skip_bad_rows: bool = False,
    probe: Callable | None = None,
    workers: int = 4,
) -> LoadResult:
    """Load a generic CSV (path,label,event_time[,id][,alert_time]); relative paths resolve from the CSV's folder."""
    csv_path = Path(csv_path)
    rows = _read_csv(csv_path, GENERIC_COLUMNS)
    raw = []
    for i, rec in enumerate(rows, start=1):
        p = Path(rec["path"]).expanduser()
        if not p.is_absolute():
            p = csv_path.parent / p
        vid = rec.get("id") or Path(rec["path"]).stem
        raw.append(
            _RawRow(
                row=i, video_id=vid, path=p, label_text=rec["label"],
                event_text=rec["event_time"], alert_text=rec.get("alert_time", ""),
            )
        )
    result = _validate_rows(str(csv_path), dataset, raw, probe or _default_probe(), workers)
    return _finish(result, skip_bad_rows)


def concat_tables(tables: Iterable[pl.DataFrame]) -> pl.DataFrame:
    tables = list(tables)
    out = pl.concat(tables, how="vertical") if tables else pl.DataFrame(schema=MANIFEST_SCHEMA)
    dupes = out.group_by("dataset", "video_id").len().filter(pl.col("len") > 1)
    if dupes.height:
        raise ManifestError(f"duplicate (dataset, video_id) pairs across sources: {dupes.head(5).rows()}")
    return out
