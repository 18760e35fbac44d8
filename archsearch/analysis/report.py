"""The study's report: every analysis per dataset, in markdown with PNG figures, written under the data root.

Validation mAP drives everything that ranks or compares (ANOVA, best-at-N, power law, winners):
that is what agents optimise and what model selection may use. Test mAP appears in two places
only: the test score of the config *chosen by validation* (overall and per agent), and a
descriptive architecture η² on test mAP for comparison with the reference study (which used test
AP); it never selects anything. Every number comes with its n, and intervals where the data allow.

The same `Report` renders twice: `markdown` links figures as files beside it (for
`reports/latest/report.md`), `ui_markdown` inlines them as data URIs (for the Dagster UI).

Layout: this module assembles the report (sections + figures -> `Report`) and is the public
face; the numbers come from `dataset_analysis`, the section markdown from `report_sections`,
and the files are written by `report_files`. Every public name stays importable from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from archsearch.analysis import plots
from archsearch.analysis.dataset_analysis import METRIC, DatasetAnalysis, Settings, analyse, analyse_dataset
from archsearch.analysis.report_files import _slug, write_report
from archsearch.analysis.report_sections import (
    _anova_lines,
    _best_config_lines,
    _best_lines,
    _cross_task_lines,
    _diversity_lines,
    _pair,
    _power_lines,
)
from archsearch.analysis.table import ok_rows

__all__ = [
    "METRIC",
    "DatasetAnalysis",
    "Report",
    "Settings",
    "analyse",
    "analyse_dataset",
    "build_report",
    "split_flags",
    "write_report",
]


@dataclass
class Report:
    """The rendered report: file markdown, UI markdown, figures and the sample sizes it rests on."""

    markdown: str
    ui_markdown: str
    images: dict[str, bytes] = field(default_factory=dict)
    sample_sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


def split_flags(frame: pl.DataFrame) -> list[str]:
    """One flag per dataset whose results were scored on more than one split (the manifest changed).

    Splits are recomputed when a dataset gains clips, so results from before and after a rescan
    are scored on different validation and test videos; pooling them is a comparison the report
    must not make silently. Every result records its split hash, which is what this reads.
    """
    if not frame.height or "split_hash" not in frame.columns:
        return []
    out = []
    per = (frame.filter(pl.col("split_hash").fill_null("") != "")
           .group_by("dataset").agg(pl.col("split_hash").n_unique().alias("k"), pl.len().alias("n")).sort("dataset"))
    for d, k, n in per.iter_rows():
        if k > 1:
            out.append(f"{d or '(unnamed)'}: the {n} results were scored on {k} different splits (the manifest changed "
                       "between runs, e.g. a rescan found new clips); their validation and test videos differ, so "
                       "compare results within one split_hash (the leaderboard has the column)")
    return out


def build_report(frame: pl.DataFrame, space=None, settings: Settings = Settings(), *, generated_at: str = "",
                 analyses: dict[str, DatasetAnalysis] | None = None) -> Report:
    """Analyse a leaderboard frame and render the report (figures included)."""
    s = settings
    lvl = int(round(100 * s.level))
    analyses = analyse(frame, space, s) if analyses is None else analyses
    images: dict[str, bytes] = {}
    flags: list[str] = []
    n_ok = ok_rows(frame).height if frame.height else 0
    head = ["# archsearch analysis report", ""]
    if generated_at:
        head.append(f"Generated {generated_at}.")
    head += [f"{frame.height} results ({n_ok} ok, {frame.height - n_ok} failed) from "
             f"{frame['campaign'].n_unique() if frame.height else 0} campaign(s), agents: "
             f"{', '.join(sorted(frame['agent'].unique().to_list())) if frame.height else '-'}; "
             f"datasets: {', '.join(d or '(unnamed)' for d in analyses) or '-'}.",
             f"Metric: validation mAP (mean AP at 500/1000/1500 ms) for every search analysis; seed {s.seed}, "
             f"{s.boot} bootstrap resamples, {s.draws} balanced draws, {lvl} % intervals.", ""]
    body: list[tuple[str, str | None]] = []  # (markdown line, image name to embed after it)
    sizes: dict[str, dict[str, int]] = {}
    for d, a in analyses.items():
        slug = _slug(d or "unnamed")
        sizes[d or "(unnamed)"] = {"results": a.n_results, "ok": a.n_ok}
        lines = [f"## Dataset: {d or '(unnamed)'} ({a.n_results} results, {a.n_ok} ok)", ""]
        lines += _best_config_lines(a)
        figs: list[tuple[list[str], str, Callable[[], bytes | None]]] = [
            (_anova_lines(a, lvl), "eta2", lambda a=a: plots.eta_bars_png(a.anova)),
            (["Mean val mAP by " + " × ".join(a.cell_dims[:2]) + ":", ""], "heatmap",
             lambda a=a, d=d: plots.heatmap_png(frame.filter(pl.col("dataset").fill_null("") == d), *_pair(a))),
            (_best_lines(a, lvl), "best_at_n", lambda a=a: plots.best_at_n_png(a.curves)),
            (_power_lines(a, flags), "power_law", lambda a=a: plots.power_law_png(a.curves, a.fits)),
            (_diversity_lines(a), "entropy", lambda a=a: plots.entropy_png(a.entropy)),
            ([], "jsd", lambda a=a: plots.jsd_png(a.jsd)),
        ]
        body += [(x, None) for x in lines]
        for text, name, draw in figs:
            body += [(x, None) for x in text]
            png = draw()
            if png is not None:
                fname = f"{slug}_{name}.png"
                images[fname] = png
                body.append(("", fname))
    body += [(x, None) for x in _cross_task_lines(analyses)]
    flags += split_flags(frame)
    if flags:
        head += ["**Flags**:", *(f"- {f}" for f in flags), ""]

    def render(embed: bool) -> str:
        from archsearch.data.thumbnails import png_markdown

        out = list(head)
        for line, img in body:
            if img is None:
                out.append(line)
            else:
                out += [png_markdown(images[img], img) if embed else f"![{img}]({img})", ""]
        return "\n".join(out).rstrip() + "\n"

    return Report(markdown=render(False), ui_markdown=render(True), images=images, sample_sizes=sizes, flags=flags)
