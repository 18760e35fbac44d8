"""The rendered report and how it is written: `<root>/reports/latest/` and a stamped copy, atomically per file.

Why a module of its own: the report's text, figures and file names meet here (a figure's
file name is chosen while rendering and is the name written to disk), and this is the only
part of the report that touches the filesystem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from archsearch.common import DataLayout, write_bytes_atomic, write_text_atomic


@dataclass
class Report:
    """The rendered report: file markdown, UI markdown, figures and the sample sizes it rests on."""

    markdown: str
    ui_markdown: str
    images: dict[str, bytes] = field(default_factory=dict)
    sample_sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


def slug(text: str) -> str:
    """`text` as a file-name part: runs of anything but letters, digits, '_', '.', '-' become '_'."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "dataset"


def write_report(report: Report, root: str | Path, stamp: str) -> Path:
    """Write report.md and the PNGs to `<root>/reports/latest/` and a copy to `<root>/reports/<stamp>/`.

    `latest` is replaced file by file (atomic per file); files of figures that no longer exist are removed.
    """
    base = DataLayout(Path(root)).reports
    latest = base / "latest"
    for folder in (base / slug(stamp), latest):
        folder.mkdir(parents=True, exist_ok=True)
        for name, png in report.images.items():
            write_bytes_atomic(folder / name, png)
        write_text_atomic(folder / "report.md", report.markdown)
    for old in latest.glob("*.png"):
        if old.name not in report.images:
            old.unlink()
    return latest / "report.md"
