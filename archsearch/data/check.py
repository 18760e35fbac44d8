"""check-data: what archsearch will make of a user's clips, before any feature is computed.

For every clip of the configured datasets: frame rate, duration, decoded frame count, size,
codec, the decode backend and why, the anchor and why, the split and every warning; then a
summary per dataset (split counts by class, backends, rejected rows, excluded videos, split
problems and warnings). Bad rows never stop the check: they are listed with their reasons.
``check_data`` returns the data; ``DataCheck.render()`` is the text the CLI prints.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from archsearch.config import ProjectConfig
from archsearch.data.anchors import HISTORY_S
from archsearch.data.datasets import build_manifest
from archsearch.data.rows import RowProblem
from archsearch.data.splits import SPLITS, split_counts

FEATURE_RATE_HZ = 5.0  # every backbone's feature clock


@dataclass
class DataCheck:
    """The result of check_data: one row per clip plus everything that went wrong or deserves a look."""

    clips: pl.DataFrame  # the manifest columns + "warnings" (list of str)
    rejected: list[RowProblem] = field(default_factory=list)
    notes: list[RowProblem] = field(default_factory=list)
    excluded: pl.DataFrame | None = None  # dataset, video_id, label, reason
    problems: list[str] = field(default_factory=list)  # failed sources, splits missing a class
    warnings: list[str] = field(default_factory=list)  # small val/test splits
    shared_files: list[str] = field(default_factory=list)
    split_hash: str = ""

    @property
    def ok(self) -> bool:
        """True when `videos` would succeed with these settings and no row was rejected."""
        return not self.problems and not self.rejected

    def summary(self) -> dict:
        """Counts per dataset and split (positives, negatives), backends, and problem tallies."""
        counts = split_counts(self.clips) if self.clips.height else {}
        per = {
            d: {s: {"positives": p, "negatives": n} for (dd, s), (p, n) in counts.items() if dd == d}
            for d in sorted({d for d, _ in counts})
        }
        return {
            "clips": self.clips.height,
            "datasets": per,
            "backends": dict(Counter(self.clips["decode_backend"].to_list())),
            "rejected_rows": len(self.rejected),
            "excluded_videos": 0 if self.excluded is None else self.excluded.height,
            "problems": len(self.problems),
            "warnings": len(self.warnings),
            "split_hash": self.split_hash,
        }

    def render(self) -> str:
        """The report as text: a table per dataset, the backend reasons, then the summary."""
        return render_check(self)


def clip_warnings(row: dict, notes: dict[tuple[str, str], list[str]]) -> list[str]:
    """What deserves a look about one clip (beyond errors, which reject it)."""
    out = list(notes.get((row["dataset"], row["video_id"]), []))
    if row["decode_backend"] == "pyav" and not row["decode_reason"].startswith(("decode.backend", "decord is not")):
        out.append(f"decoded with PyAV: {row['decode_reason']}")
    if row["fps"] < FEATURE_RATE_HZ:
        out.append(f"{row['fps']:.2f} fps is below the {FEATURE_RATE_HZ:g} Hz feature clock: features repeat frames")
    return out


def padding_notes(clips: pl.DataFrame) -> list[str]:
    """Per dataset, how many clips have less history than the longest window (their windows are left-padded)."""
    short = clips.filter(pl.col("anchor_time") - pl.col("view_start") < HISTORY_S - 1e-9)
    return [
        f"dataset {d!r}: {n} clip(s) have less than {HISTORY_S:g} s before the anchor; windows longer than "
        "that are left-padded, for both classes alike (anchors are matched)"
        for d, n in short.group_by("dataset").len().sort("dataset").iter_rows()
    ]


def check_data(
    config: ProjectConfig, datasets_root: Path, *, datasets: list[str] | None = None, progress: bool = False
) -> DataCheck:
    """Load and check the configured datasets (all, or those named) as `videos` would, reporting everything.

    Rows are validated with skip_bad_rows on, so every bad row is listed instead of stopping
    the check; splits missing a class are reported rather than raised.
    """
    if datasets:
        config = replace(config, datasets=tuple(config.dataset(name) for name in datasets))
    build = build_manifest(config, Path(datasets_root), progress=progress, strict=False, skip_bad_rows=True)
    notes: dict[tuple[str, str], list[str]] = {}
    for note in build.notes:
        notes.setdefault((note.dataset, note.video_id), []).append(f"{note.field}: {note.message}")
    rows = [clip_warnings(r, notes) for r in build.manifest.iter_rows(named=True)]
    clips = build.manifest.with_columns(pl.Series("warnings", rows, dtype=pl.List(pl.String)))
    return DataCheck(
        clips=clips,
        rejected=build.skipped,
        notes=build.notes,
        excluded=build.excluded,
        problems=build.problems,
        warnings=build.warnings,
        shared_files=build.shared_files,
        split_hash=build.split_hash,
    )


def clip_lines(clips: pl.DataFrame, reasons: dict[str, int], anchors: dict[str, int]) -> list[str]:
    """One line per clip (and one per warning), in a fixed-width table; reasons become footnote numbers."""
    out = [
        f"  {'id':<14} {'label':>5} {'split':<5} {'anchor s':>8} {'why':<4} {'partner':<10} {'fps':>7} "
        f"{'dur s':>7} {'frames':>6} {'size':>9} {'codec':<6} backend"
    ]
    for r in clips.iter_rows(named=True):
        why = reasons.setdefault(r["decode_reason"], len(reasons) + 1)
        anchor_why = "a" + str(anchors.setdefault(r["anchor_reason"], len(anchors) + 1))
        size = f"{r['width']}x{r['height']}"
        out.append(
            f"  {r['video_id']:<14} {r['label']:>5} {r['split']:<5} {r['anchor_time']:>8.3f} {anchor_why:<4} "
            f"{r['anchor_partner'] or '-':<10} {r['fps']:>7.3f} {r['duration']:>7.3f} {r['n_frames']:>6} "
            f"{size:>9} {r['codec']:<6} {r['decode_backend']} [{why}]"
        )
        out += [f"      ! {w}" for w in r["warnings"]]
    return out


def render_check(check: DataCheck) -> str:
    """The DataCheck as text (what `python -m pipelines.cli check-data` prints)."""
    s = check.summary()
    lines = [
        f"check-data: {s['clips']} clip(s) in {len(s['datasets'])} dataset(s); {s['rejected_rows']} rejected "
        f"row(s), {s['excluded_videos']} excluded video(s); split hash {check.split_hash}"
    ]
    reasons: dict[str, int] = {}
    anchors: dict[str, int] = {}
    for (dataset,), part in check.clips.sort("dataset", "video_id").group_by("dataset", maintain_order=True):
        lines += ["", f"dataset {dataset} ({part.height} clips)"] + clip_lines(part, reasons, anchors)
    if reasons:
        lines += ["", "backend reasons:"] + [f"  [{i}] {why}" for why, i in reasons.items()]
        lines += ["anchor reasons:"] + [f"  a{i}: {why}" for why, i in anchors.items()]
    lines += ["", "summary:"]
    for dataset, splits in s["datasets"].items():
        cells = ", ".join(f"{sp} {splits[sp]['positives']}+/{splits[sp]['negatives']}-" for sp in SPLITS)
        lines.append(f"  {dataset}: {cells} (positives+/negatives-)")
    lines.append("  backends: " + (", ".join(f"{k} {v}" for k, v in sorted(s["backends"].items())) or "none"))
    sections = [
        ("problems (videos would fail)", check.problems),
        ("warnings", check.warnings),
        ("notes", padding_notes(check.clips)) if check.clips.height else ("notes", []),
        ("rejected rows", [str(p) for p in check.rejected]),
        (
            "excluded by the anchor policy",
            []
            if check.excluded is None
            else [f"{d}/{v} (label {y}): {why}" for d, v, y, why in check.excluded.iter_rows()],
        ),
        ("files listed by several datasets (decoded once)", check.shared_files),
    ]
    for title, items in sections:
        if items:
            lines += [f"  {title}:"] + [f"    - {item}" for item in items]
    lines.append("  result: " + ("ok" if check.ok else "NOT ok: fix the problems and rejected rows above"))
    return "\n".join(lines) + "\n"
