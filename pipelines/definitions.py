"""The archsearch code location: every stage's asset, its checks, jobs, sensors and schedules."""

from __future__ import annotations

import dagster as dg

from assets import analysis_report as analysis_report_module
from assets import experiments as experiments_module
from assets import features as features_module
from assets import leaderboard as leaderboard_module
from assets import proposals as proposals_module
from assets import videos as videos_module
from pipelines import schedules
from pipelines.executors import executor_from_env
from pipelines.jobs import experiments_job, features_job, proposals_job, refresh_videos_job, report_job
from pipelines.resources import default_resources
from pipelines.sensors import agent_sensor

defs = dg.Definitions(
    assets=[
        videos_module.videos,
        features_module.features,
        proposals_module.proposals,
        experiments_module.experiments,
        leaderboard_module.leaderboard,
        analysis_report_module.analysis_report,
    ],
    asset_checks=[videos_module.videos_decode_and_disjoint, features_module.features_complete],
    jobs=[refresh_videos_job, features_job, proposals_job, experiments_job, report_job],
    sensors=[agent_sensor, *schedules.sensors],
    schedules=schedules.schedules,
    resources=default_resources(),
    # multiprocess by default; ARCHSEARCH_EXECUTOR=celery|k8s|in_process picks another (deploy/README.md)
    executor=executor_from_env(),
)
