"""Writing a rendered report to disk: `<root>/reports/latest/` and a stamped copy, atomically per file.

Why a module of its own: file naming (_slug) and replacement rules are shared by the figure
names chosen while rendering and by the folders written here, and the writer is the only
part of the report that touches the filesystem.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archsearch.analysis.report import Report


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "dataset"


def write_report(report: Report, root: str | Path, stamp: str) -> Path:
    """Write report.md and the PNGs to `<root>/reports/latest/` and a copy to `<root>/reports/<stamp>/`.

    `latest` is replaced file by file (atomic per file); files of figures that no longer exist are removed.
    """
    from archsearch.common import write_text_atomic

    base = Path(root) / "reports"
    latest = base / "latest"
    for folder in (base / _slug(stamp), latest):
        folder.mkdir(parents=True, exist_ok=True)
        for name, png in report.images.items():
            tmp = folder / f".{name}.tmp"
            tmp.write_bytes(png)
            tmp.replace(folder / name)
        write_text_atomic(folder / "report.md", report.markdown)
    for old in latest.glob("*.png"):
        if old.name not in report.images:
            old.unlink()
    return latest / "report.md"
