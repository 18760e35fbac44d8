"""The archsearch code location: every stage's asset, its checks, jobs, sensors and schedules.

:func:`build_definitions` reads the project configuration once, through the resource every run
uses, and builds what depends on it (the backbone partitions, the freshness sensor); switches
(``ARCHSEARCH_AGENT_SENSOR``, ``ARCHSEARCH_SCHEDULES``, ``ARCHSEARCH_EXECUTOR``) are read here too,
when the definitions load, never at a module's import.
"""

from __future__ import annotations

import dagster as dg

from archsearch.common import env_switch
from assets.analysis_report import analysis_report
from assets.experiments import experiments
from assets.features import build_features
from assets.leaderboard import leaderboard
from assets.proposals import proposals
from assets.resources import ArchsearchResource, llm_keys_from_env
from assets.study_report import study_report
from assets.videos import videos, videos_decode_and_disjoint
from pipelines.executors import executor_from_env
from pipelines.jobs import (
    experiments_job,
    features_job,
    proposals_job,
    refresh_videos_job,
    report_job,
    study_report_job,
)
from pipelines.schedules import SCHEDULES_SWITCH, build_schedules
from pipelines.sensors import AGENT_SENSOR_SWITCH, build_agent_sensor


def build_definitions(archsearch: ArchsearchResource | None = None) -> dg.Definitions:
    """The code location for one project: ``archsearch`` names its config file and data root (default: env vars)."""
    # Unset fields fall back to ARCHSEARCH_CONFIG / ARCHSEARCH_HOME, so the same code location serves
    # the demo and a user's own data without edits.
    archsearch = archsearch or ArchsearchResource()
    project = archsearch.project()
    features, features_complete = build_features(project.backbones)
    freshness = build_schedules(project.backbones, running=env_switch(SCHEDULES_SWITCH, default=True))
    return dg.Definitions(
        assets=[videos, features, proposals, experiments, leaderboard, analysis_report, study_report],
        asset_checks=[videos_decode_and_disjoint, features_complete],
        jobs=[refresh_videos_job, features_job, proposals_job, experiments_job, report_job, study_report_job],
        sensors=[build_agent_sensor(running=env_switch(AGENT_SENSOR_SWITCH, default=False)), *freshness.sensors],
        schedules=freshness.schedules,
        resources={"archsearch": archsearch, "llm_keys": llm_keys_from_env()},
        # multiprocess by default; ARCHSEARCH_EXECUTOR=celery|k8s|in_process picks another (deploy/README.md)
        executor=executor_from_env(),
    )


defs = build_definitions()
