"""What keeps a project fresh without anyone pressing a button.

* ``hourly_new_videos`` re-materializes `videos` every hour: a Nexar folder or CSV that gained clips
  gets them into the manifest (synthetic sets are already complete, so it is a cheap rescan).
* ``features_for_new_videos`` then extracts features for exactly the backbones that are already in
  use (materialized before) and are now older than the manifest. Extraction is content-addressed
  and resumable, so only the new clips are decoded; a backbone nobody materialized is left alone
  (extracting EfficientNet-Lite2 for thousands of clips is a user's decision, not a timer's).
* ``daily_analysis_report`` refreshes `leaderboard` and `analysis_report` once a day, so the report
  in the UI reflects every experiment that finished since.

Schedules ship running (they only act when the Dagster daemon runs, i.e. under ``make ui``); set
``ARCHSEARCH_SCHEDULES=off`` to ship them stopped, or toggle them in the UI. They are built by
:func:`build_schedules` when the definitions load, from the configured backbones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg

from pipelines.jobs import features_job, refresh_videos_job, report_job

SCHEDULES_SWITCH = "ARCHSEARCH_SCHEDULES"


def _latest(instance: dg.DagsterInstance, asset: str, partition: str | None = None):
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(asset), asset_partitions=None if partition is None else [partition]
        ),
        limit=1,
    ).records
    return records[0] if records else None


def _meta(record, key: str) -> str | None:
    value = record.asset_materialization.metadata.get(key)
    return None if value is None else str(value.value)


def stale_backbones(instance: dg.DagsterInstance, backbones: Sequence[str]) -> tuple[int | None, list[str]]:
    """(latest videos storage id, backbones materialized before whose features predate that manifest).

    A backbone is stale when its features were extracted for another manifest: the split hash
    recorded with its materialization differs from the latest `videos` one. An hourly rescan that
    found nothing new gives the same hash, so nothing is re-run. (Materializations from before the
    hash was recorded fall back to "older than the latest videos materialization".)
    """
    videos = _latest(instance, "videos")
    if videos is None:
        return None, []
    manifest = _meta(videos, "split_hash")
    stale = []
    for backbone in backbones:
        features = _latest(instance, "features", backbone)
        if features is None:
            continue
        covered = _meta(features, "manifest_split_hash")
        if (covered != manifest) if covered is not None else (features.storage_id < videos.storage_id):
            stale.append(backbone)
    return videos.storage_id, stale


def new_videos_requests(context: dg.SensorEvaluationContext, backbones: Sequence[str]):
    """Request an incremental `features` run per stale backbone, once per manifest version (run key)."""
    videos_id, stale = stale_backbones(context.instance, backbones)
    if videos_id is None:
        return dg.SkipReason("no `videos` materialization yet")
    if not stale:
        return dg.SkipReason("every materialized backbone is up to date with the latest manifest")
    context.update_cursor(str(videos_id))
    return [
        dg.RunRequest(
            run_key=f"features:{b}:after-videos-{videos_id}", partition_key=b, tags={"archsearch/trigger": "new videos"}
        )
        for b in stale
    ]


@dataclass(frozen=True)
class Freshness:
    """What keeps the project fresh: two schedules and the features-for-new-videos sensor."""

    schedules: list[dg.ScheduleDefinition]
    sensors: list[dg.SensorDefinition]


def build_schedules(backbones: Sequence[str], running: bool) -> Freshness:
    """The schedules and the freshness sensor; ``running`` is their default status (``ARCHSEARCH_SCHEDULES``)."""
    schedule_status = dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED
    sensor_status = dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED
    hourly_new_videos = dg.ScheduleDefinition(
        name="hourly_new_videos",
        job=refresh_videos_job,
        cron_schedule="0 * * * *",
        default_status=schedule_status,
        description="Pick up new clips every hour.",
    )
    daily_analysis_report = dg.ScheduleDefinition(
        name="daily_analysis_report",
        job=report_job,
        cron_schedule="0 6 * * *",
        default_status=schedule_status,
        description="Refresh the leaderboard and analysis report every morning.",
    )
    backbones = list(backbones)

    def features_for_new_videos(context: dg.SensorEvaluationContext):
        return new_videos_requests(context, backbones)

    sensor = dg.sensor(
        name="features_for_new_videos",
        job=features_job,
        minimum_interval_seconds=120,
        default_status=sensor_status,
        description="After the manifest changes, extract features of the new clips for backbones in use.",
    )(features_for_new_videos)
    return Freshness([hourly_new_videos, daily_analysis_report], [sensor])
