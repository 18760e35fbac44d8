"""Jobs: the main job is what `make demo` runs on the embedded default."""

from __future__ import annotations

import dagster as dg

main_job = dg.define_asset_job(
    "main_job",
    selection=dg.AssetSelection.assets("videos"),
    description="The embedded demo end to end (so far: the video manifest).",
)
