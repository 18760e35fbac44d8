"""The study's report: every analysis per dataset, in markdown with PNG figures, written under the data root.

Validation mAP drives everything that ranks or compares (ANOVA, best-at-N, power law, winners):
that is what agents optimise and what model selection may use. Test mAP appears in two places
only: the test score of the config *chosen by validation* (overall and per agent), and a
descriptive architecture η² on test mAP for comparison with the reference study (which used test
AP); it never selects anything. Every number comes with its n, and intervals where the data allow.

The same `Report` renders twice: `markdown` links figures as files beside it (for
`reports/latest/report.md`), `ui_markdown` inlines them as data URIs (for the Dagster UI).

This module assembles sections and figures into a `Report`; the numbers come from
`dataset_analysis`, the section markdown from `report_sections`, and `report_files` holds the
`Report` type and writes it to disk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

from archsearch.analysis import plots
from archsearch.analysis.best_at_n import METHOD_TEXT
from archsearch.analysis.dataset_analysis import METRIC, DatasetAnalysis, Settings, analyse, analyse_dataset
from archsearch.analysis.report_files import Report, slug, write_report
from archsearch.analysis.report_sections import (
    anova_lines,
    best_config_lines,
    best_lines,
    cross_task_lines,
    diversity_lines,
    heatmap_axes,
    power_lines,
)
from archsearch.analysis.table import ok_rows
from archsearch.data.thumbnails import png_markdown

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

Line = tuple[str, str | None]  # (markdown line, name of the image to embed after it)
METRIC_TEXT = "validation mAP (mean AP at 500/1000/1500 ms)"


def split_flags(frame: pl.DataFrame) -> list[str]:
    """One flag per dataset whose results were scored on more than one split (the manifest changed).

    A rescan that changes which clips exist (or their anchors) gives a new split hash, so results from before and after
    are scored on different validation and test videos; pooling them is a comparison the report
    must not make silently. Every result records its split hash, which is what this reads.
    """
    if not frame.height or "split_hash" not in frame.columns:
        return []
    out = []
    per = (
        frame.filter(pl.col("split_hash").fill_null("") != "")
        .group_by("dataset")
        .agg(pl.col("split_hash").n_unique().alias("k"), pl.len().alias("n"))
        .sort("dataset")
    )
    for d, k, n in per.iter_rows():
        if k > 1:
            out.append(
                f"{d or '(unnamed)'}: the {n} results were scored on {k} different splits (the manifest changed "
                "between runs, e.g. a rescan found new clips); their validation and test videos differ, so "
                "compare results within one split_hash (the leaderboard has the column)"
            )
    return out


def selection_flags(frame: pl.DataFrame) -> list[str]:
    """A flag per dataset whose ok results chose their weights by the best validation epoch.

    Such a val score is the maximum of a noisy curve: optimistic, more so for longer schedules, and not
    comparable with scores of the last epoch of the schedule (the default). Results record ``selection``.
    """
    if not frame.height or "selection" not in frame.columns or "status" not in frame.columns:
        return []
    ok = frame.filter(pl.col("status") == "ok")
    per = (
        ok.group_by("dataset")
        .agg((pl.col("selection").fill_null("best_val") == "best_val").sum().alias("best"), pl.len().alias("n"))
        .sort("dataset")
    )
    return [
        f"{d or '(unnamed)'}: {best} of {n} ok results chose their weights by the best validation epoch, so their "
        "val mAP is optimistic (the maximum over epochs) and not comparable with last-epoch scores"
        for d, best, n in per.iter_rows()
        if best
    ]


def header_lines(
    frame: pl.DataFrame, analyses: dict[str, DatasetAnalysis], s: Settings, generated_at: str, source: str, metric: str
) -> list[str]:
    """Title, provenance, what was analysed and with which statistical settings."""
    lvl = int(round(100 * s.level))
    n_ok = ok_rows(frame).height if frame.height else 0
    head = ["# archsearch analysis report", ""]
    if generated_at:
        head.append(f"Generated {generated_at}.")
    if source:
        head.append(f"Source: {source}.")
    interval = METHOD_TEXT[s.interval] + (f", {s.boot} resamples" if s.interval == "bootstrap" else "")
    head += [
        f"{frame.height} results ({n_ok} ok, {frame.height - n_ok} failed) from "
        f"{frame['campaign'].n_unique() if frame.height else 0} campaign(s), agents: "
        f"{', '.join(sorted(frame['agent'].unique().to_list())) if frame.height else '-'}; "
        f"datasets: {', '.join(d or '(unnamed)' for d in analyses) or '-'}.",
        f"Metric: {metric} for every search analysis; seed {s.seed}, "
        f"best-at-N intervals: {interval}; {s.draws} balanced draws, {lvl} % intervals.",
        "",
    ]
    return head


def dataset_lines(
    frame: pl.DataFrame, d: str, a: DatasetAnalysis, lvl: int, method: str, flags: list[str], images: dict[str, bytes]
) -> list[Line]:
    """One dataset's section, drawing its figures into `images` and its warnings into `flags`."""
    name = slug(d or "unnamed")
    rows = frame.filter(pl.col("dataset").fill_null("") == d)
    figs: list[tuple[list[str], str, Callable[[], bytes | None]]] = [
        (anova_lines(a, lvl), "eta2", lambda: plots.eta_bars_png(a.anova)),
        (
            ["Mean val mAP by " + " × ".join(a.cell_dims[:2]) + ":", ""],
            "heatmap",
            lambda: plots.heatmap_png(rows, *heatmap_axes(a)),
        ),
        (best_lines(a, lvl, method), "best_at_n", lambda: plots.best_at_n_png(a.curves)),
        (power_lines(a, flags), "power_law", lambda: plots.power_law_png(a.curves, a.fits)),
        (diversity_lines(a), "entropy", lambda: plots.entropy_png(a.entropy)),
        ([], "jsd", lambda: plots.jsd_png(a.jsd)),
    ]
    lines = [f"## Dataset: {d or '(unnamed)'} ({a.n_results} results, {a.n_ok} ok)", "", *best_config_lines(a)]
    body: list[Line] = [(x, None) for x in lines]
    for text, fig, draw in figs:
        body += [(x, None) for x in text]
        png = draw()
        if png is not None:
            fname = f"{name}_{fig}.png"
            images[fname] = png
            body.append(("", fname))
    return body


def render(head: list[str], body: list[Line], images: dict[str, bytes], embed: bool) -> str:
    """The report's markdown: figures linked as files beside it, or (`embed`) inlined as data URIs."""
    out = list(head)
    for line, img in body:
        if img is None:
            out.append(line)
        else:
            out += [png_markdown(images[img], img) if embed else f"![{img}]({img})", ""]
    return "\n".join(out).rstrip() + "\n"


def build_report(
    frame: pl.DataFrame,
    space=None,
    settings: Settings | None = None,
    *,
    generated_at: str = "",
    analyses: dict[str, DatasetAnalysis] | None = None,
    source: str = "",
    metric: str = METRIC_TEXT,
    data_flags: Sequence[str] = (),
) -> Report:
    """Analyse a leaderboard frame and render the report (figures included).

    `source` names where the results came from and `metric` what the validation score is (both
    printed in the header; a search log of another system sets them). `data_flags` are warnings about
    the data the results were scored on (e.g. a validation split with few positives).
    """
    s = settings or Settings()
    lvl = int(round(100 * s.level))
    analyses = analyse(frame, space, s) if analyses is None else analyses
    images: dict[str, bytes] = {}
    flags: list[str] = []
    body: list[Line] = []
    for d, a in analyses.items():
        body += dataset_lines(frame, d, a, lvl, s.interval, flags, images)
    body += [(x, None) for x in cross_task_lines(analyses)]
    flags += split_flags(frame) + selection_flags(frame) + list(data_flags)
    head = header_lines(frame, analyses, s, generated_at, source, metric)
    if flags:
        head += ["**Flags**:", *(f"- {f}" for f in flags), ""]
    sizes = {d or "(unnamed)": {"results": a.n_results, "ok": a.n_ok} for d, a in analyses.items()}
    return Report(
        markdown=render(head, body, images, False),
        ui_markdown=render(head, body, images, True),
        images=images,
        sample_sizes=sizes,
        flags=flags,
    )
