"""The archsearch code location."""

from __future__ import annotations

import dagster as dg

from assets import experiments as experiments_module
from assets import features as features_module
from assets import videos as videos_module
from pipelines.jobs import experiments_job, main_job
from pipelines.resources import default_resources

defs = dg.Definitions(
    assets=[videos_module.videos, features_module.features, experiments_module.experiments],
    asset_checks=[videos_module.videos_decode_and_disjoint, features_module.features_complete],
    jobs=[main_job, experiments_job],
    resources=default_resources(),
)
