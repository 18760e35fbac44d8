"""The study's report: every analysis per dataset, in markdown with PNG figures, written under the data root.

Validation mAP drives everything that ranks or compares (ANOVA, best-at-N, power law, winners):
that is what agents optimise and what model selection may use. Test mAP appears in two places
only: the test score of the config *chosen by validation* (overall and per agent), and a
descriptive architecture η² on test mAP for comparison with the reference study (which used test
AP); it never selects anything. Every number comes with its n, and intervals where the data allow.

The same `Report` renders twice: `markdown` links figures as files beside it (for
`reports/latest/report.md`), `ui_markdown` inlines them as data URIs (for the Dagster UI).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from archsearch.analysis import plots
from archsearch.analysis.anova import AnovaSummary, Balanced, OneWay, TwoWay, anova_summary, one_way
from archsearch.analysis.base import NotEnoughData, fmt
from archsearch.analysis.best_at_n import Curve, baseline_note, best_at_n, table_rows
from archsearch.analysis.diversity import EntropyTimeline, JsdTimeline, diversity
from archsearch.analysis.powerlaw import PowerLawResult, fit_power_law
from archsearch.analysis.table import cell_labels, ok_rows, space_dims

METRIC = "val_map"


@dataclass(frozen=True)
class Settings:
    """Knobs of the statistics; the report prints them so a reader can reproduce every number."""

    seed: int = 0
    boot: int = 1000  # bootstrap resamples of campaigns (best-at-N)
    draws: int = 200  # balanced ANOVA subsamples
    shuffles: int = 20  # shuffled orders for the power law's baseline R²
    level: float = 0.95
    window: int | None = None  # entropy/JSD window (None: the scaling default)
    step: int | None = None
    metric_max: float = 1.0


@dataclass(frozen=True)
class DatasetAnalysis:
    """Every analysis of one dataset's results."""

    dataset: str
    n_results: int
    n_ok: int
    cell_dims: tuple[str, ...]  # the cells of entropy, JSD and the winner (backbone×encoder)
    anova: AnovaSummary
    anova_test: OneWay | NotEnoughData  # descriptive only
    curves: dict[str, Curve | NotEnoughData]
    fits: dict[str, PowerLawResult | NotEnoughData]
    entropy: dict[str, EntropyTimeline | NotEnoughData]
    jsd: dict[tuple[str, str], JsdTimeline | NotEnoughData]
    best: dict | None  # the val-selected best run, with its test mAP
    best_per_agent: dict[str, dict]
    winner: dict | None  # cell with the highest mean val mAP


def _best_row(ok: pl.DataFrame) -> dict | None:
    if ok.height == 0:
        return None
    return ok.sort([METRIC, "order_time", "config_id"], descending=[True, False, False]).row(0, named=True)


def _winner(ok: pl.DataFrame, dims: tuple[str, ...]) -> dict | None:
    """The cell with the highest mean val mAP among cells with >= 2 ok runs (else any cell), with its n."""
    if ok.height == 0 or not dims:
        return None
    agg = (ok.with_columns(pl.Series("cell", cell_labels(ok, dims))).group_by("cell")
           .agg(pl.col(METRIC).mean().alias("mean"), pl.len().alias("n")))
    pool = agg.filter(pl.col("n") >= 2)
    note = "" if pool.height else "no cell has 2 runs yet: ranked on single runs"
    r = (pool if pool.height else agg).sort(["mean", "cell"], descending=[True, False]).row(0, named=True)
    return {"cell": r["cell"], "mean": r["mean"], "n": r["n"], "note": note}


def analyse_dataset(frame: pl.DataFrame, dataset: str, space=None, settings: Settings = Settings()) -> DatasetAnalysis:
    """All analyses on one dataset's leaderboard rows."""
    s = settings
    arch, train = space_dims(space, frame.columns)
    cells = tuple(arch[:2]) if len(arch) >= 2 else tuple(arch)
    ok = ok_rows(frame)
    summary = anova_summary(frame, arch, train, metric=METRIC, draws=s.draws, seed=s.seed)
    ok_test = ok_rows(frame, "test_map")
    anova_test = (one_way(ok_test["test_map"].to_numpy(), cell_labels(ok_test, arch), "×".join(arch))
                  if ok_test.height and arch else NotEnoughData("one-way ANOVA on test mAP", "no finished runs", 0))
    curves = best_at_n(frame, METRIC, boot=s.boot, seed=s.seed, level=s.level)
    fits: dict[str, PowerLawResult | NotEnoughData] = {}
    for agent, c in curves.items():
        if isinstance(c, Curve):
            raw = ok.filter(pl.col("agent") == agent)[METRIC].to_list() if len(c.campaigns) == 1 else None
            fits[agent] = fit_power_law(c.mean, metric_max=s.metric_max, values=raw, shuffles=s.shuffles if raw else 0,
                                        seed=s.seed)
        else:
            fits[agent] = c
    entropy, jsd = diversity(frame, cells, train, window=s.window, step=s.step)
    best = _best_row(ok)
    per_agent = {a: b for a in sorted(ok["agent"].unique().to_list())
                 if (b := _best_row(ok.filter(pl.col("agent") == a)))}
    return DatasetAnalysis(dataset=dataset, n_results=frame.height, n_ok=ok.height, cell_dims=cells, anova=summary,
                           anova_test=anova_test, curves=curves, fits=fits, entropy=entropy, jsd=jsd, best=best,
                           best_per_agent=per_agent, winner=_winner(ok, cells))


def analyse(frame: pl.DataFrame, space=None, settings: Settings = Settings()) -> dict[str, DatasetAnalysis]:
    """One DatasetAnalysis per dataset in a leaderboard frame (sorted by dataset name)."""
    names = sorted(frame["dataset"].fill_null("").unique().to_list()) if frame.height else []
    return {d: analyse_dataset(frame.filter(pl.col("dataset").fill_null("") == d), d, space, settings) for d in names}


# ------------------------------------------------------------------------------------------ rendering


@dataclass
class Report:
    """The rendered report: file markdown, UI markdown, figures and the sample sizes it rests on."""

    markdown: str
    ui_markdown: str
    images: dict[str, bytes] = field(default_factory=dict)
    sample_sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)


def _ci(mean: float | None, lo: float | None, hi: float | None) -> str:
    if mean is None:
        return "-"
    return fmt(mean, 4) + ("" if lo is None else f" [{fmt(lo, 4)}, {fmt(hi, 4)}]")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "dataset"


def _table(header: list[str], rows: list[list]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(str(c) for c in r) + " |" for r in rows)]


def _anova_lines(a: DatasetAnalysis, lvl: int) -> list[str]:
    s = a.anova
    out = [f"### Architecture vs training: ANOVA on validation mAP (ok runs, n = {s.n})", ""]
    rows = []
    for name, r in s.one_way.items():
        if isinstance(r, OneWay):
            rows.append([name, r.n, r.k, f"{r.df_between}, {r.df_within}", fmt(r.f, 2), fmt(r.p, 4), fmt(r.eta2),
                         fmt(r.omega2)])
        else:
            rows.append([name, r.n, "-", "-", "-", "-", str(r), "-"])
    out += _table(["cells", "n", "cells k", "df", "F", "p", "η²", "ω²"], rows) + [""]
    rows = []
    for name, b in s.balanced.items():
        if isinstance(b, Balanced):
            rows.append([name, b.n_per_cell, b.cells, b.dropped_cells, b.draws, _ci(b.eta2.mean, b.eta2.lo, b.eta2.hi),
                         _ci(b.omega2.mean, b.omega2.lo, b.omega2.hi), _ci(b.f.mean, b.f.lo, b.f.hi)])
        else:
            rows.append([name, "-", "-", "-", "-", str(b), "-", "-"])
    out += [f"Balanced variant (each cell with ≥ 2 runs subsampled to the smallest such cell; mean [{lvl} % percentile "
            "interval] over seeded draws):", ""]
    out += _table(["cells", "n per cell", "cells", "cells dropped (< 2 runs)", "draws", "η²", "ω²", "F"], rows) + [""]
    if isinstance(s.two_way, TwoWay):
        out += ["Two-way ANOVA with interaction (statsmodels `anova_lm`, **Type II** sums of squares, "
                f"n = {s.two_way.n}; "
                "η² = SS/total, partial η² = SS/(SS + residual)):", ""]
        out += _table(["term", "df", "SS", "F", "p", "η²", "partial η²"],
                      [[t.name, fmt(t.df, 0), fmt(t.ss, 4), fmt(t.f, 2), fmt(t.p, 4), fmt(t.eta2), fmt(t.partial_eta2)]
                       for t in s.two_way.terms]) + [""]
    else:
        out += [f"Two-way ANOVA: {s.two_way}", ""]
    share = s.architecture_share
    if share is None:
        out.append(f"**Architecture share**: not available ({s.one_way.get(s.architecture_cells, 'no cells')}).")
    else:
        bal = s.balanced.get(s.architecture_cells)
        b_txt = f"; balanced {_ci(bal.eta2.mean, bal.eta2.lo, bal.eta2.hi)}" if isinstance(bal, Balanced) else ""
        out.append(f"**Architecture share** (η² over {s.architecture_cells} cells): {fmt(share)}{b_txt}. "
                   f"**Within-architecture share** (training knobs, seeds and noise together): {fmt(1 - share)}.")
    t = a.anova_test
    out += ["", f"For comparison with the reference study (which used test AP): η² of test mAP over the same cells = "
            f"{fmt(t.eta2) if isinstance(t, OneWay) else str(t)} (descriptive only; test never selects anything).", ""]
    return out


def _best_lines(a: DatasetAnalysis, lvl: int) -> list[str]:
    rows = table_rows(a.curves)
    ns = [k for k in (rows[0] if rows else {}) if k.startswith("N=")]
    out = ["### Best-at-N (best val mAP after N experiments, proposal order; "
           f"[{lvl} % bootstrap CI over whole campaigns])",
           ""]
    if not rows:
        return out + ["_no experiments_", ""]
    body = []
    for r in rows:
        c = a.curves[r["agent"]]
        cells = []
        for n in ns:
            v = r[n]
            cells.append("not reached" if v is None else f"{_ci(*v[:3])} (k = {v[3]})")
        body.append([r["agent"], r["campaigns"], c.n_max if isinstance(c, Curve) else 0, *cells])
    out += _table(["agent", "campaigns", "N max", *ns], body) + [""]
    singles = [a_ for a_, c in a.curves.items() if isinstance(c, Curve) and not c.has_ci]
    if singles:
        out.append(f"Single trajectory, no interval (one campaign): {', '.join(singles)}. Run more campaigns (seeds) "
                   "of an agent to get a CI.")
    if not ns:
        out.append("No agent has reached N = 10 yet.")
    out += [baseline_note(a.curves), ""]
    return out


def _power_lines(a: DatasetAnalysis, flags: list[str]) -> list[str]:
    out = ["### Convergence: power law best(N) = a − b·N^(−c)", ""]
    rows = []
    for agent, f in a.fits.items():
        if not isinstance(f, PowerLawResult):
            rows.append([agent, "-", "-", "-", "-", "-", "-", "-", str(f)])
            continue
        aic = {r.model: r.aic for r in f.rivals}
        note = f.flag_text()
        if note:
            flags.append(f"{a.dataset} / {agent}: {note}")
        rows.append([agent, f.n, fmt(f.a, 4) + (" ⚠ > max" if f.asymptote_above_max else ""),
                     fmt(f.power.params["b"], 4), fmt(f.c, 4), fmt(f.power.r2), fmt(f.shuffled_r2),
                     " / ".join(f"{m} {fmt(v, 1)}" for m, v in [("power", f.power.aic), *aic.items()]),
                     f"best by AIC: {f.best_by_aic}" + (f"; {note}" if note else "")])
    out += _table(["agent", "points", "a", "b", "c", "R²", "R² shuffled", "AIC", "note"], rows)
    out += ["", "The fit is to the agent's mean best-so-far curve. 'R² shuffled' is the mean R² of the same fit on "
            "random orders of the same runs (single-campaign agents only): a running maximum fits a power law well "
            "whatever the search did, so R² alone proves little. A lower AIC is better.", ""]
    return out


def _diversity_lines(a: DatasetAnalysis) -> list[str]:
    cells = "×".join(a.cell_dims)
    out = [f"### Exploration: entropy of {cells} cells and training values; specialization (JSD)", ""]
    rows = []
    for label, t in a.entropy.items():
        if isinstance(t, EntropyTimeline):
            mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
            rows.append([label, len(t.end), t.window, t.step, fmt(mean(t.architecture_bits)),
                         fmt(min(t.architecture_bits)), fmt(max(t.architecture_bits)), fmt(mean(t.training_bits))])
        else:
            rows.append([label, 0, "-", "-", str(t), "-", "-", "-"])
    out += _table(["agent", "windows", "window", "step", "arch. H mean (bits)", "min", "max", "training H mean"], rows)
    out += ["", "Window rule: max(5, ⌈P/10⌉) proposals, step ⌊window/4⌋, P = the sequence's highest proposal index; "
            "training entropy is the "
            "mean of each training dimension's entropy.", ""]
    if a.jsd:
        rows = []
        for (x, y), t in a.jsd.items():
            if isinstance(t, JsdTimeline):
                w = [v for v in t.windowed if v is not None]
                rows.append([f"{x} vs {y}", fmt(t.final), fmt(max(w) if w else None), fmt(w[-1] if w else None)])
            else:
                rows.append([f"{x} vs {y}", str(t), "-", "-"])
        out += _table(["agents", "JSD cumulative (final)", "JSD windowed (max)", "JSD windowed (last)"], rows) + [""]
    else:
        out += ["One agent only: no specialization to measure.", ""]
    return out


def _best_config_lines(a: DatasetAnalysis) -> list[str]:
    out = ["### Best config, chosen on validation", ""]
    if a.best is None:
        return out + ["_no finished experiments_", ""]
    b = a.best
    cells = "×".join(str(b[d]) for d in a.cell_dims)
    out.append(f"Selected by val mAP among {a.n_ok} ok runs: `{b['config_id']}` ({cells}) by {b['agent']} in "
               f"{b['campaign']}: **val mAP {fmt(b[METRIC], 4)}, test mAP {fmt(b['test_map'], 4)}** (test scored once, "
               "never used to select).")
    out += [""] + _table(["agent", "config_id", "val mAP (selects)", "test mAP of that config"],
                         [[ag, r["config_id"], fmt(r[METRIC], 4), fmt(r["test_map"], 4)]
                          for ag, r in a.best_per_agent.items()]) + [""]
    return out


def _pair(a: DatasetAnalysis) -> tuple[str, str]:
    """The heatmap's rows and columns: the first two architecture dimensions."""
    return (a.cell_dims[0], a.cell_dims[1]) if len(a.cell_dims) >= 2 else ("backbone", "encoder")


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


def _cross_task_lines(analyses: dict[str, DatasetAnalysis]) -> list[str]:
    if len(analyses) < 2:
        return []
    rows, winners = [], set()
    for d, a in analyses.items():
        w = a.winner
        if w is None:
            rows.append([d or "(unnamed)", "-", "-", "-", "-"])
            continue
        winners.add(w["cell"])
        best = "×".join(str(a.best[x]) for x in a.cell_dims) if a.best else "-"
        rows.append([d or "(unnamed)", w["cell"] + (f" ({w['note']})" if w["note"] else ""), fmt(w["mean"], 4), w["n"],
                     best])
    change = "**yes**: the winning architecture differs between datasets" if len(winners) > 1 else \
        "no: the same architecture wins on every dataset"
    return ["## Cross-task", "", *_table(["dataset", "winning cell (highest mean val mAP, cells with ≥ 2 runs)",
                                          "mean val mAP", "n", "cell of the best single run"], rows),
            "", f"Winner changes across datasets: {change}.", ""]


def write_report(report: Report, root: str | Path, stamp: str) -> Path:
    """Write report.md and the PNGs to `<root>/reports/latest/` and a copy to `<root>/reports/<stamp>/`.

    `latest` is replaced file by file (atomic per file); files of figures that no longer exist are removed.
    """
    from archsearch.atomic import write_text_atomic

    base = Path(root) / "reports"
    latest = base / "latest"
    for folder in (base / _slug(stamp), latest):
        folder.mkdir(parents=True, exist_ok=True)
        for name, png in report.images.items():
            tmp = folder / f".{name}.tmp"
            tmp.write_bytes(png)
            tmp.replace(folder / name)
        write_text_atomic(folder / "report.md", report.markdown)
    for old in latest.glob("*.png"):
        if old.name not in report.images:
            old.unlink()
    return latest / "report.md"
