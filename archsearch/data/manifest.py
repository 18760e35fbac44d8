"""One manifest for every video source: the schema, the two CSV loaders and their errors.

Every downstream stage (features, experiments, analysis) reads the same polars table, so a
Nexar folder, a generic CSV and the embedded synthetic set must all end up in exactly this
schema. Loading validates each row (archsearch.data.rows) and names the offending file, row
and field.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from archsearch.data.clip_probe import ClipProber, file_digest
from archsearch.data.rows import RawRow, RowChecker, RowProblem

__all__ = [
    "GENERIC_COLUMNS",
    "MANIFEST_SCHEMA",
    "NEXAR_COLUMNS",
    "LoadResult",
    "ManifestError",
    "RowProblem",
    "concat_tables",
    "file_digest",
    "load_generic_csv",
    "load_nexar",
]

MANIFEST_SCHEMA: dict[str, pl.DataType] = {
    "dataset": pl.String,
    "video_id": pl.String,
    "path": pl.String,
    "label": pl.Int8,
    "event_time": pl.Float64,
    "alert_time": pl.Float64,
    "anchor_time": pl.Float64,  # s; the event for positives, a matched time for negatives (anchors.py)
    "view_start": pl.Float64,  # s; anchor - history: windows read nothing before it
    "anchor_partner": pl.String,  # the other-class video whose history this one's view matches
    "anchor_reason": pl.String,
    "duration": pl.Float64,  # s, first presented frame to the end of the last (counted, not claimed)
    "fps": pl.Float64,  # mean frame rate: decoded frames / duration
    "n_frames": pl.Int64,  # frames a decoder outputs (edit-list trimmed packets excluded)
    "width": pl.Int64,  # as displayed (rotation applied)
    "height": pl.Int64,
    "rotation": pl.Int64,  # display rotation, degrees counter-clockwise
    "codec": pl.String,
    "decode_backend": pl.String,  # decord | pyav: what decodes this file (pass it to decode_video)
    "decode_reason": pl.String,
    "video_digest": pl.String,  # content digest: features of identical files can be shared by it
    "scenario": pl.String,
    "split": pl.String,
}
LOADED_COLUMNS = [
    c for c in MANIFEST_SCHEMA if c not in ("anchor_time", "view_start", "anchor_partner", "anchor_reason", "split")
]
NEXAR_COLUMNS = ("id", "target", "time_of_event", "time_of_alert")
GENERIC_COLUMNS = ("path", "label", "event_time")
SKIP_HINT = "(set `skip_bad_rows: true` in the project config to skip these rows and list them instead)"


class ManifestError(ValueError):
    """A dataset could not be loaded; ``problems`` lists every offending row."""

    def __init__(self, problems: list[RowProblem] | str, *, headline: str | None = None, hint: bool = True):
        if isinstance(problems, str):
            self.problems: list[RowProblem] = []
            super().__init__(problems)
            return
        self.problems = problems
        shown = "\n  ".join(str(p) for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        head = headline or f"{len(problems)} bad row(s):"
        super().__init__(f"{head}\n  {shown}{more}" + (f"\n{SKIP_HINT}" if hint else ""))


@dataclass
class LoadResult:
    """Rows that loaded (the LOADED_COLUMNS of the manifest), rows rejected and notes on kept rows."""

    table: pl.DataFrame
    skipped: list[RowProblem] = field(default_factory=list)
    notes: list[RowProblem] = field(default_factory=list)


def read_csv_rows(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a UTF-8 CSV (an Excel BOM is fine) with ``required`` columns; errors name the file."""
    if not path.is_file():
        raise ManifestError(f"{path}: file not found (expected a CSV with columns {', '.join(required)})")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in required if c not in header]
            if missing:
                raise ManifestError(
                    f"{path}: missing column(s) {', '.join(missing)}; expected header {','.join(required)}, "
                    f"got {','.join(header) or '(empty file)'}"
                )
            return [{(k or "").strip(): (v or "").strip() for k, v in r.items()} for r in reader]
    except UnicodeDecodeError as e:
        raise ManifestError(f"{path}: not UTF-8 text at byte {e.start}; save the CSV as UTF-8") from e
    except OSError as e:
        raise ManifestError(f"{path}: cannot read the CSV ({e.strerror or e})") from e


def finish(source: str, dataset: str, rows: list[RawRow], prober: ClipProber | None, skip_bad_rows: bool) -> LoadResult:
    """Validate rows into a LoadResult, failing on bad rows unless skipped, and always when none is left."""
    checker = RowChecker(source, dataset, prober or ClipProber())
    records = checker.records(rows)
    schema = {k: MANIFEST_SCHEMA[k] for k in LOADED_COLUMNS}
    table = pl.DataFrame(records, schema=schema, orient="row") if records else pl.DataFrame(schema=schema)
    if checker.problems and not skip_bad_rows:
        raise ManifestError(checker.problems)
    if table.height == 0:
        if checker.problems:
            raise ManifestError(
                checker.problems,
                hint=False,
                headline=(f"{source}: no usable videos: all {len(checker.problems)} row(s) were rejected:"),
            )
        raise ManifestError(f"{source}: no usable videos: the CSV holds no rows")
    return LoadResult(table=table, skipped=checker.problems, notes=checker.notes)


def load_nexar(
    folder: str | Path,
    *,
    dataset: str = "nexar",
    skip_bad_rows: bool = False,
    scenarios: dict[str, str] | None = None,
    prober: ClipProber | None = None,
) -> LoadResult:
    """Load a Nexar-format folder: ``train.csv`` (id,target,time_of_event,time_of_alert) + ``train/<id>.mp4``."""
    folder = Path(folder)
    csv_path = folder / "train.csv"
    raw = []
    for i, rec in enumerate(read_csv_rows(csv_path, NEXAR_COLUMNS), start=1):
        vid = rec["id"]
        if vid.isdigit() and len(vid) < 5:
            vid = vid.zfill(5)  # Nexar ids are zero-padded file names; spreadsheets drop the zeros
        raw.append(
            RawRow(
                row=i,
                video_id=vid,
                path=folder / "train" / f"{vid}.mp4",
                label_text=rec["target"],
                event_text=rec["time_of_event"],
                alert_text=rec["time_of_alert"],
                scenario=(scenarios or {}).get(vid, "unknown"),
            )
        )
    return finish(str(csv_path), dataset, raw, prober, skip_bad_rows)


def load_generic_csv(
    csv_path: str | Path,
    *,
    dataset: str,
    skip_bad_rows: bool = False,
    prober: ClipProber | None = None,
) -> LoadResult:
    """Load a generic CSV (path,label,event_time[,id][,alert_time]); relative paths resolve from the CSV's folder."""
    csv_path = Path(csv_path)
    raw = []
    for i, rec in enumerate(read_csv_rows(csv_path, GENERIC_COLUMNS), start=1):
        p = Path(rec["path"]).expanduser()
        if not p.is_absolute():
            p = csv_path.parent / p
        vid = rec.get("id") or Path(rec["path"]).stem
        raw.append(
            RawRow(
                row=i,
                video_id=vid,
                path=p,
                label_text=rec["label"],
                event_text=rec["event_time"],
                alert_text=rec.get("alert_time", ""),
            )
        )
    return finish(str(csv_path), dataset, raw, prober, skip_bad_rows)


def concat_tables(tables: Iterable[pl.DataFrame]) -> pl.DataFrame:
    """Stack loaded tables; a (dataset, video_id) pair may appear only once."""
    tables = list(tables)
    schema = {k: MANIFEST_SCHEMA[k] for k in LOADED_COLUMNS}
    out = pl.concat(tables, how="vertical") if tables else pl.DataFrame(schema=schema)
    dupes = out.group_by("dataset", "video_id").len().filter(pl.col("len") > 1)
    if dupes.height:
        raise ManifestError(f"duplicate (dataset, video_id) pairs across sources: {dupes.head(5).rows()}")
    return out
