"""A module-level code location for the scale tests: the real assets, the executor from the environment.

Why a module: Celery workers rebuild the job from its Python origin (module + attribute), so the job
must be importable by name in every worker, exactly like a user's `pipelines.definitions`.
"""

from __future__ import annotations

import dagster as dg

from assets.experiments import EXPERIMENTS, experiments
from assets.resources import ArchsearchResource
from assets.videos import videos
from pipelines.executors import executor_from_env
from tests.projects import default_features

features, features_complete = default_features()

experiments_partition_job = dg.define_asset_job(
    "experiments_partition_job",
    selection=dg.AssetSelection.assets("experiments"),
    partitions_def=EXPERIMENTS,
)

defs = dg.Definitions(
    assets=[videos, features, experiments],
    jobs=[experiments_partition_job],
    resources={"archsearch": ArchsearchResource()},
    executor=executor_from_env(),
)


def experiments_job() -> dg.JobDefinition:
    """The target of `dg.reconstructable`: one `experiments` partition per run, on this location's executor."""
    return defs.resolve_job_def("experiments_partition_job")
