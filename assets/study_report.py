"""The `study_report` asset: the configured study's report, with its replication table, in the UI and on disk.

Thin: `archsearch.study` does the work on the results of the study's campaigns (named
``<study>-<dataset>-<agent>-s<seed>`` from the project's ``study:`` section). Files go to
``<root>/reports/study/<name>/``; the UI shows the same report with the figures inlined.
"""

import datetime as dt

import dagster as dg

from assets.resources import ArchsearchResource, LLMKeysResource


class StudyReportConfig(dg.Config):
    """Statistics knobs; the report prints them so every number can be reproduced."""

    seed: int = 0
    draws: int = 200  # balanced-ANOVA subsamples
    shuffles: int = 20  # shuffled orders for the power law's baseline R² (single-campaign agents only)


def replication_markdown(rows) -> str:
    """The replication table alone (claim, verdict), for the asset's metadata."""
    lines = ["| claim | on this benchmark |", "|---|---|"]
    return "\n".join(lines + [f"| {r.claim} | {r.verdict} |" for r in rows])


@dg.asset(
    name="study_report",
    deps=[dg.AssetDep("experiments", partition_mapping=dg.AllPartitionMapping())],
    group_name="analysis",
    kinds={"python"},
    description="The study (make study): best-at-N per agent with intervals over campaigns, differences, ANOVA, "
    "power law, entropy/JSD, winners, and the claim-by-claim replication table of 2603.15916.",
)
def study_report(
    context: dg.AssetExecutionContext,
    config: StudyReportConfig,
    archsearch: ArchsearchResource,
    llm_keys: LLMKeysResource,
) -> dg.MaterializeResult:
    from archsearch.analysis import Settings, leaderboard_frame
    from archsearch.campaign.proposals import ProposalStore
    from archsearch.results import ResultsStore
    from archsearch.study import build_study_report, study_campaign_names, study_frame, study_plan, write_study_report

    project = archsearch.project()
    root = archsearch.root()
    names = study_campaign_names(project)
    frame = study_frame(leaderboard_frame(ResultsStore(root).read(), ProposalStore(root).list()), names)
    settings = Settings(seed=config.seed, draws=config.draws, shuffles=config.shuffles)
    now = dt.datetime.now(dt.UTC)
    report, rows = build_study_report(
        frame,
        archsearch.search_space_or_none(context.log),
        settings,
        plan=study_plan(project, llm_keys.env()),
        ns=project.study.report_ns,
        generated_at=now.isoformat(timespec="seconds"),
    )
    path = write_study_report(report, root, project.study.name)
    for flag in report.flags:
        context.log.warning(flag)
    context.log.info(f"study report over {frame.height} results: {path}")
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.md(report.ui_markdown),
            "replication": dg.MetadataValue.md(replication_markdown(rows)),
            "path": dg.MetadataValue.path(str(path)),
            "results": frame.height,
            "campaigns": frame["campaign"].n_unique() if frame.height else 0,
            "sample_sizes": dg.MetadataValue.json(report.sample_sizes),
            "figures": dg.MetadataValue.json(sorted(report.images)),
        }
    )
