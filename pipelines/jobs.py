"""Jobs: the main job is what `make demo` runs on the embedded default."""

from __future__ import annotations

import dagster as dg

main_job = dg.define_asset_job(
    "main_job",
    selection=dg.AssetSelection.assets("videos"),
    description="The embedded demo end to end (so far: the video manifest).",
)

# One experiment per run, executed in the run's own process: a step subprocess would add seconds
# of start-up (torch import) to a ~10 s training.
experiments_job = dg.define_asset_job(
    "experiments_job",
    selection=dg.AssetSelection.assets("experiments"),
    executor_def=dg.in_process_executor,
    description="Train and score one proposed config (one `experiments` partition per run).",
)
