"""The study report: the replication table first, then every analysis per task variant, markdown + PNGs.

Per variant it shows what ``archsearch.analysis`` shows for any set of campaigns (best config, ANOVA
with the balanced variant, best-at-N with t intervals over campaigns, power law on the mean curve
with AIC / BIC and flags, entropy and JSD timelines, figures) and then the study's own sections
(differences between agents, experiments to reach 95 % / 99 % of the best, the power law per
campaign, exploration cycles and specialisation). Validation mAP drives every comparison; test mAP
appears only as the test score of the validation-selected configs.

Written to ``<root>/reports/study/<name>/`` (replaced file by file; figures of an earlier run that
no longer exist are removed); the UI shows the same markdown with the figures inlined.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from archsearch.analysis.best_at_n import METHOD_TEXT
from archsearch.analysis.dataset_analysis import Settings
from archsearch.analysis.report import dataset_lines, render, split_flags
from archsearch.analysis.report_files import Report, slug
from archsearch.analysis.report_sections import cross_task_lines
from archsearch.analysis.table import ok_rows
from archsearch.common import DataLayout, write_bytes_atomic, write_text_atomic
from archsearch.study.campaigns import StudyPlan
from archsearch.study.plots import differences_png
from archsearch.study.replication import ClaimRow, replication_rows
from archsearch.study.sections import (
    behaviour_lines,
    differences_lines,
    power_campaign_lines,
    reach_lines,
    replication_lines,
)
from archsearch.study.variants import VariantAnalysis, analyse_study

Line = tuple[str, str | None]


def study_frame(frame: pl.DataFrame, campaigns: Sequence[str]) -> pl.DataFrame:
    """The rows of a leaderboard frame that belong to the study's campaigns."""
    return frame.filter(pl.col("campaign").is_in(list(campaigns))) if frame.height else frame


def header_lines(frame: pl.DataFrame, plan: StudyPlan | None, s: Settings, generated_at: str) -> list[str]:
    """Title, scale, what is done, and the statistical settings."""
    lvl = round(100 * s.level)
    n_ok = ok_rows(frame).height if frame.height else 0
    out = [f"# archsearch study report: {plan.study.name if plan else 'study'}", ""]
    if generated_at:
        out.append(f"Generated {generated_at}.")
    if plan is not None:
        out.append(f"Scale: {plan.scale()}; rounds of {plan.study.round_size} proposals.")
        if plan.skipped:
            out.append(f"Configured agents left out: {'; '.join(plan.skipped)}.")
    campaigns = frame["campaign"].n_unique() if frame.height else 0
    out += [
        f"Done: {frame.height} experiments ({n_ok} ok, {frame.height - n_ok} failed) in {campaigns} campaigns.",
        f"Statistics: validation mAP; best-at-N and every per-campaign mean with the {METHOD_TEXT['t']} "
        f"({lvl} %); differences between agents paired by seed where the seeds pair, else Welch; balanced ANOVA "
        f"over {s.draws} seeded draws; seed {s.seed}.",
        "",
    ]
    return out


def variant_lines(v: VariantAnalysis, s: Settings, flags: list[str], images: dict[str, bytes]) -> list[Line]:
    """One variant: the analysis package's sections and figures, then the study's own."""
    lvl = round(100 * s.level)
    body = dataset_lines(v.frame, v.dataset, v.base, lvl, "t", flags, images)
    body += [(x, None) for x in differences_lines(v, lvl)]
    png = differences_png(v)
    if png is not None:
        name = f"{slug(v.dataset or 'unnamed')}_differences.png"
        images[name] = png
        body.append(("", name))
    for lines in (reach_lines(v, lvl), power_campaign_lines(v), behaviour_lines(v)):
        body += [(x, None) for x in lines]
    return body


def build_study_report(
    frame: pl.DataFrame,
    space=None,
    settings: Settings | None = None,
    *,
    plan: StudyPlan | None = None,
    ns: Sequence[int] = (10, 25, 50),
    generated_at: str = "",
) -> tuple[Report, list[ClaimRow]]:
    """Analyse a study's leaderboard rows and render its report; also returns the replication rows."""
    s = settings or Settings()
    lvl = round(100 * s.level)
    variants = analyse_study(frame, space, s, ns)
    rows = replication_rows(variants, s.level)
    images: dict[str, bytes] = {}
    flags: list[str] = []
    body: list[Line] = [(x, None) for x in replication_lines(rows, lvl)]
    for v in variants.values():
        body += variant_lines(v, s, flags, images)
    body += [(x, None) for x in cross_task_lines({d: v.base for d, v in variants.items()})]
    flags += split_flags(frame)
    head = header_lines(frame, plan, s, generated_at)
    if flags:
        head += ["**Flags**:", *(f"- {f}" for f in flags), ""]
    sizes = {
        d or "(unnamed)": {
            "results": v.base.n_results,
            "ok": v.base.n_ok,
            "campaigns": sum(len(t) for t in v.runs.values()),
        }
        for d, v in variants.items()
    }
    report = Report(
        markdown=render(head, body, images, False),
        ui_markdown=render(head, body, images, True),
        images=images,
        sample_sizes=sizes,
        flags=flags,
    )
    return report, rows


def study_report_dir(root: str | Path, name: str) -> Path:
    """Where a study's report lives: ``<root>/reports/study/<name>/``."""
    return DataLayout(Path(root)).reports / "study" / slug(name)


def write_study_report(report: Report, root: str | Path, name: str) -> Path:
    """Write report.md and its PNGs (atomically per file); stale PNGs of an earlier run are removed."""
    folder = study_report_dir(root, name)
    folder.mkdir(parents=True, exist_ok=True)
    for fname, png in report.images.items():
        write_bytes_atomic(folder / fname, png)
    path = write_text_atomic(folder / "report.md", report.markdown)
    for old in folder.glob("*.png"):
        if old.name not in report.images:
            old.unlink()
    return path
