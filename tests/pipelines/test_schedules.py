"""Freshness automation: the hourly rescan, the incremental features sensor, the daily report."""

from __future__ import annotations

import dagster as dg
import pytest

from assets.resources import ArchsearchResource
from assets.videos import videos
from pipelines.schedules import build_schedules, stale_backbones
from tests.projects import DEFAULT_BACKBONES as BACKBONES
from tests.projects import default_features, nexar_project

features, features_complete = default_features()
freshness = build_schedules(BACKBONES, running=True)
hourly_new_videos, daily_analysis_report = freshness.schedules
(features_for_new_videos,) = freshness.sensors


def test_schedules_are_hourly_and_daily():
    assert hourly_new_videos.cron_schedule == "0 * * * *" and hourly_new_videos.job_name == "refresh_videos_job"
    assert daily_analysis_report.cron_schedule == "0 6 * * *" and daily_analysis_report.job_name == "report_job"


def test_features_sensor_requests_only_stale_backbones_in_use(tmp_path):
    cfg = nexar_project(tmp_path, n=8)
    res = {"archsearch": ArchsearchResource(config_path=str(cfg), data_root=str(tmp_path / "home"))}
    with dg.instance_for_test() as instance:
        ctx = lambda: dg.build_sensor_context(instance=instance)
        assert isinstance(features_for_new_videos(ctx()), dg.SkipReason)  # nothing materialized yet

        assert dg.materialize([videos], resources=res, instance=instance).success
        assert dg.materialize(
            [videos.to_source_asset(), features], resources=res, instance=instance, partition_key="pixels"
        ).success
        skip = features_for_new_videos(ctx())
        assert isinstance(skip, dg.SkipReason) and "up to date" in skip.skip_message

        assert dg.materialize([videos], resources=res, instance=instance).success  # a rescan, nothing new
        assert stale_backbones(instance, BACKBONES)[1] == [], "same manifest: the hourly rescan must not re-extract"

        from tests.conftest import write_test_video

        write_test_video(tmp_path / "nexar" / "train" / "00008.mp4", n_frames=60, fps=20)  # a new clip arrives
        with open(tmp_path / "nexar" / "train.csv", "a") as fh:
            fh.write("00008,0,,\n")
        assert dg.materialize([videos], resources=res, instance=instance).success  # new manifest version
        videos_id, stale = stale_backbones(instance, BACKBONES)
        assert stale == ["pixels"], "motion was never materialized: a timer must not start extracting it"
        requests = features_for_new_videos(ctx())
        assert [r.partition_key for r in requests] == ["pixels"]
        assert requests[0].run_key == f"features:pixels:after-videos-{videos_id}"  # once per manifest version


def test_schedules_ship_running_and_stop_with_the_switch(monkeypatch):
    """`ARCHSEARCH_SCHEDULES=off` ships both schedules and the freshness sensor stopped; unset, they run."""
    from pipelines.definitions import build_definitions

    monkeypatch.setenv("ARCHSEARCH_SCHEDULES", "off")
    defs = build_definitions()
    stopped = [defs.resolve_schedule_def(n).default_status for n in ("hourly_new_videos", "daily_analysis_report")]
    assert stopped == [dg.DefaultScheduleStatus.STOPPED] * 2
    assert defs.resolve_sensor_def("features_for_new_videos").default_status == dg.DefaultSensorStatus.STOPPED
    monkeypatch.delenv("ARCHSEARCH_SCHEDULES")
    defs = build_definitions()
    running = [defs.resolve_schedule_def(n).default_status for n in ("hourly_new_videos", "daily_analysis_report")]
    assert running == [dg.DefaultScheduleStatus.RUNNING] * 2
    assert defs.resolve_sensor_def("features_for_new_videos").default_status == dg.DefaultSensorStatus.RUNNING
    monkeypatch.setenv("ARCHSEARCH_SCHEDULES", "of")
    with pytest.raises(ValueError, match="ARCHSEARCH_SCHEDULES='of'"):
        build_definitions()
