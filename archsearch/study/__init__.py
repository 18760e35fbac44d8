"""Studies: replicated campaigns per agent and dataset, analysed with intervals over campaigns.

``campaigns`` expands the config's ``study:`` section into one campaign per seed x agent x dataset
(and sets a campaign's fields for the ``proposals`` asset); ``compare`` gives differences between
agents with paired or Welch intervals and their simulated coverage; ``measures`` holds the
per-campaign measures (best-at-N, experiments to reach the best, power law per campaign, exploration
cycles, specialisation); ``variants`` computes everything for one task variant, ``winners`` whether
the winner changes between variants, ``replication`` the claim-by-claim table against the reference
study, and ``report`` renders and writes the study report. Plain Python, no Dagster.
"""

from archsearch.study.campaigns import (
    CampaignSpec,
    StudyPlan,
    campaign_config,
    named_campaign_config,
    study_campaign_names,
    study_campaign_spec,
    study_plan,
)
from archsearch.study.compare import (
    DOES_NOT_HOLD,
    HOLDS,
    INCONCLUSIVE,
    Difference,
    DifferenceCoverage,
    difference,
    difference_coverage,
    difference_verdict,
    verdict,
)
from archsearch.study.replication import NOT_TESTABLE, ClaimRow, replication_rows
from archsearch.study.report import build_study_report, study_frame, study_report_dir, write_study_report
from archsearch.study.variants import VariantAnalysis, analyse_study, analyse_variant

__all__ = [
    "DOES_NOT_HOLD",
    "HOLDS",
    "INCONCLUSIVE",
    "NOT_TESTABLE",
    "CampaignSpec",
    "ClaimRow",
    "Difference",
    "DifferenceCoverage",
    "StudyPlan",
    "VariantAnalysis",
    "analyse_study",
    "analyse_variant",
    "build_study_report",
    "campaign_config",
    "difference",
    "difference_coverage",
    "difference_verdict",
    "named_campaign_config",
    "replication_rows",
    "study_campaign_names",
    "study_campaign_spec",
    "study_frame",
    "study_plan",
    "study_report_dir",
    "verdict",
    "write_study_report",
]
