"""The `analysis_report` asset: the study's analyses on every campaign, as markdown and PNGs.

Thin: `archsearch.analysis.report` does the work. Files go to `<root>/reports/latest/` (replaced
each run) and `<root>/reports/<UTC timestamp>/` (kept); the UI shows the same report with the
figures inlined.
"""

import datetime as dt

import dagster as dg

from assets.resources import ArchsearchResource


class ReportConfig(dg.Config):
    """Statistics knobs; the defaults are what the report was designed with (it prints them)."""

    seed: int = 0
    boot: int = 1000  # campaign bootstrap resamples for best-at-N CIs
    draws: int = 200  # balanced-ANOVA subsamples
    shuffles: int = 20  # shuffled orders for the power law's baseline R²
    window: int | None = None  # entropy/JSD window in proposals (None: max(5, ceil(P/10)))
    step: int | None = None


def data_flags(archsearch: ArchsearchResource, frame) -> list[str]:
    """Warnings about the splits the results were scored on (few positives in val or test), from the manifest."""
    from archsearch.data.datasets import read_manifest
    from archsearch.data.splits import split_warnings

    path = archsearch.manifest_path()
    if not path.exists() or not frame.height:
        return []
    manifest = read_manifest(path)
    return split_warnings(manifest.filter(manifest["dataset"].is_in(frame["dataset"].unique().to_list())))


@dg.asset(
    name="analysis_report",
    deps=[dg.AssetDep("experiments", partition_mapping=dg.AllPartitionMapping()), "leaderboard"],
    group_name="analysis",
    kinds={"python"},
    description="ANOVA (architecture vs training), best-at-N with CIs, power law, entropy, JSD, cross-task; plots.",
)
def analysis_report(
    context: dg.AssetExecutionContext, config: ReportConfig, archsearch: ArchsearchResource
) -> dg.MaterializeResult:
    from archsearch.analysis.report import Settings, build_report, write_report
    from archsearch.analysis.table import leaderboard_frame
    from archsearch.campaign.proposals import ProposalStore
    from archsearch.results import ResultsStore

    root = archsearch.root()
    frame = leaderboard_frame(ResultsStore(root).read(), ProposalStore(root).list())
    settings = Settings(
        seed=config.seed,
        boot=config.boot,
        draws=config.draws,
        shuffles=config.shuffles,
        window=config.window,
        step=config.step,
    )
    now = dt.datetime.now(dt.UTC)
    report = build_report(
        frame,
        archsearch.search_space_or_none(context.log),
        settings,
        generated_at=now.isoformat(timespec="seconds"),
        data_flags=data_flags(archsearch, frame),
    )
    path = write_report(report, root, now.strftime("%Y%m%dT%H%M%SZ"))
    for flag in report.flags:
        context.log.warning(flag)
    n_ok = sum(s["ok"] for s in report.sample_sizes.values())
    context.log.info(f"analysis report over {frame.height} results ({n_ok} ok): {path}")
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.md(report.ui_markdown),
            "path": dg.MetadataValue.path(str(path)),
            "results": frame.height,
            "ok": n_ok,
            "sample_sizes": dg.MetadataValue.json(report.sample_sizes),
            "figures": dg.MetadataValue.json(sorted(report.images)),
            "flags": dg.MetadataValue.md("\n".join(f"- {f}" for f in report.flags) or "none"),
        }
    )
