"""Jobs: one per stage, so the demo driver, the sensors and the schedules launch exactly one stage.

A campaign cannot be one Dagster run: features are partitioned by backbone and experiments by
proposal (dynamic partitions added by each round), so `make demo` (pipelines/demo.py) runs these
jobs in order in the persistent instance, and `make ui` shows every one of those runs.
"""

from __future__ import annotations

import dagster as dg

from pipelines.executors import job_executor

refresh_videos_job = dg.define_asset_job(
    "refresh_videos_job",
    selection=dg.AssetSelection.assets("videos"),
    description="Generate or rescan the configured datasets into the manifest (new clips, same split rule).",
)
features_job = dg.define_asset_job(
    "features_job",
    selection=dg.AssetSelection.assets("features"),
    description="Extract one backbone's features (incremental: cached clips are skipped).",
)
report_job = dg.define_asset_job(
    "report_job",
    selection=dg.AssetSelection.assets("leaderboard", "analysis_report"),
    description="Rebuild the leaderboard and the analysis report from every result so far.",
)
study_report_job = dg.define_asset_job(
    "study_report_job",
    selection=dg.AssetSelection.assets("study_report"),
    description="Rebuild the study report (make study) from the results of the study's campaigns.",
)

# One experiment per run, executed in the run's own process: a step subprocess would add seconds
# of start-up (torch import) to a ~10 s training.
experiments_job = dg.define_asset_job(
    "experiments_job",
    selection=dg.AssetSelection.assets("experiments"),
    executor_def=job_executor(dg.in_process_executor),
    description="Train and score one proposed config (one `experiments` partition per run).",
)

# One agent round per run, in the run's process (the LLM call happens here, never in the sensor).
proposals_job = dg.define_asset_job(
    "proposals_job",
    selection=dg.AssetSelection.assets("proposals"),
    executor_def=job_executor(dg.in_process_executor),
    description="One campaign round: the next agent proposes configs; their `experiments` partitions are added.",
)
