"""Markdown for each section of one dataset's report (ANOVA, best-at-N, power law, diversity, best config, cross-task).

Why a module of its own: these functions only turn a DatasetAnalysis into lines of markdown;
they compute nothing new, so the wording and tables can change here without touching the
statistics (dataset_analysis.py) or the assembly of figures and files (report.py).
"""

from __future__ import annotations

from archsearch.analysis.anova import Balanced, OneWay
from archsearch.analysis.base import NotEnoughData, fmt
from archsearch.analysis.best_at_n import HORIZON_RULE, METHOD_TEXT, Curve, baseline_note, table_rows
from archsearch.analysis.dataset_analysis import METRIC, DatasetAnalysis
from archsearch.analysis.diversity import EntropyTimeline, JsdTimeline
from archsearch.analysis.powerlaw import PowerLawResult
from archsearch.analysis.two_way import TwoWay

CAVEAT = {
    "t": "Caveat at small k: the t interval assumes each campaign's best-so-far is roughly symmetric around the "
    "agent's mean; with k < 5 it is wide, and an agent whose campaigns are sometimes lucky (a skewed "
    "distribution) can be covered less often than stated.",
    "bootstrap": "Caveat at small k: resampling 3-5 campaigns gives few distinct means, so this interval is too "
    "narrow there (simulated coverage well under the nominal level below k = 20); prefer the t interval.",
}


def _ci(mean: float | None, lo: float | None, hi: float | None) -> str:
    if mean is None:
        return "-"
    return fmt(mean, 4) + ("" if lo is None else f" [{fmt(lo, 4)}, {fmt(hi, 4)}]")


def markdown_table(header: list[str], rows: list[list]) -> list[str]:
    """A markdown table's lines."""
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(str(c) for c in r) + " |" for r in rows),
    ]


def one_way_lines(a: DatasetAnalysis, lvl: int) -> list[str]:
    """The one-way tables (plain and balanced) over the architecture cells."""
    s = a.anova
    out = [f"### Architecture vs training: ANOVA on validation mAP (ok runs, n = {s.n})", ""]
    rows = []
    for name, r in s.one_way.items():
        if isinstance(r, OneWay):
            rows.append(
                [name, r.n, r.k, f"{r.df_between}, {r.df_within}", fmt(r.f, 2), fmt(r.p, 4), fmt(r.eta2), fmt(r.omega2)]
            )
        else:
            rows.append([name, r.n, "-", "-", "-", "-", str(r), "-"])
    out += markdown_table(["cells", "n", "cells k", "df", "F", "p", "η²", "ω² (≥ 0)"], rows) + [""]
    rows = []
    for name, b in s.balanced.items():
        if isinstance(b, Balanced):
            rows.append(
                [
                    name,
                    b.n_per_cell,
                    b.cells,
                    b.dropped_cells,
                    b.draws,
                    _ci(b.eta2.mean, b.eta2.lo, b.eta2.hi),
                    _ci(b.omega2.mean, b.omega2.lo, b.omega2.hi),
                    _ci(b.f.mean, b.f.lo, b.f.hi),
                ]
            )
        else:
            rows.append([name, "-", "-", "-", "-", str(b), "-", "-"])
    out += [
        f"Balanced variant (each cell with ≥ 2 runs subsampled to the smallest such cell; mean [{lvl} % percentile "
        "interval] over seeded draws):",
        "",
    ]
    out += markdown_table(["cells", "n per cell", "cells", "cells dropped (< 2 runs)", "draws", "η²", "ω²", "F"], rows)
    return out + [""]


def two_way_lines(two: TwoWay | NotEnoughData) -> list[str]:
    """The two-way table, with the empty cells and the terms this design cannot estimate said in words."""
    if not isinstance(two, TwoWay):
        return [f"Two-way ANOVA: {two}", ""]
    out = [
        f"Two-way ANOVA with interaction (**Type II** sums of squares from nested least-squares fits, degrees of "
        f"freedom from the design's rank; n = {two.n}, {two.cells_observed} of {two.cells_possible} "
        f"{two.factors[0]} × {two.factors[1]} cells observed; η² = SS/total, partial η² = SS/(SS + residual), "
        "ω² clipped at 0):",
        "",
    ]
    rows = [
        [t.name, t.df, fmt(t.ss, 4), fmt(t.f, 2), fmt(t.p, 4), fmt(t.eta2), fmt(t.partial_eta2), fmt(t.omega2)]
        if t.estimable
        else [t.name, 0, "not estimable", "-", "-", "-", "-", "-"]
        for t in two.terms
    ]
    out += markdown_table(["term", "df", "SS", "F", "p", "η²", "partial η²", "ω²"], rows) + [""]
    notes = [f"{t.name}: {t.note}." for t in two.terms if not t.estimable]
    if notes:
        out += ["Not tested on this design: " + " ".join(notes), ""]
    return out


def shares_lines(a: DatasetAnalysis) -> list[str]:
    """The architecture / within-architecture split and the descriptive test-mAP η²."""
    s = a.anova
    share = s.architecture_share
    if share is None:
        out = [f"**Architecture share**: not available ({s.one_way.get(s.architecture_cells, 'no cells')})."]
    else:
        r = s.one_way[s.architecture_cells]
        bal = s.balanced.get(s.architecture_cells)
        b_txt = (
            f"; balanced ω² {_ci(bal.omega2.mean, bal.omega2.lo, bal.omega2.hi)}" if isinstance(bal, Balanced) else ""
        )
        out = [
            f"**Architecture share** (ω² over {s.architecture_cells} cells, n = {r.n} in {r.k} cells): "
            f"{fmt(share)}{b_txt}; η² {fmt(r.eta2)}, biased up by about (cells − 1)/(n − 1) = "
            f"{fmt((r.k - 1) / max(r.n - 1, 1))} when cells hold few runs. "
            f"**Within-architecture share** (training knobs, seeds and noise together): {fmt(1 - share)}."
        ]
    t = a.anova_test
    return out + [
        "",
        f"For comparison with the reference study (which used test AP): η² of test mAP over the same "
        f"cells = {fmt(t.eta2) if isinstance(t, OneWay) else str(t)} (descriptive only; test never "
        "selects anything).",
        "",
    ]


def anova_lines(a: DatasetAnalysis, lvl: int) -> list[str]:
    """The whole ANOVA section: one-way, balanced, two-way and the shares."""
    return one_way_lines(a, lvl) + two_way_lines(a.anova.two_way) + shares_lines(a)


def _best_cell(c: Curve | NotEnoughData, v: tuple | None) -> str:
    if v is None or not isinstance(c, Curve):
        return "not reached"
    mean, lo, hi, k = v
    if mean is None:
        return f"not reached by every campaign ({k} of {c.k})" if k < c.k else "no finished run in every campaign yet"
    return f"{_ci(mean, lo, hi)} (k = {k})"


def best_lines(a: DatasetAnalysis, lvl: int, method: str) -> list[str]:
    """The best-at-N table: the rule for unequal campaigns, the interval method and its caveat."""
    rows = table_rows(a.curves)
    ns = [k for k in (rows[0] if rows else {}) if k.startswith("N=")]
    out = [
        f"### Best-at-N (best val mAP after N experiments, proposal order; [{lvl} % {METHOD_TEXT[method]}])",
        "",
        f"Rule for campaigns of unequal length: {HORIZON_RULE}. Interval: {METHOD_TEXT[method]}, campaigns as "
        f"the independent units. {CAVEAT[method]}",
        "",
    ]
    if not rows:
        return out + ["_no experiments_", ""]
    body = []
    for r in rows:
        c = a.curves[r["agent"]]
        n_common, n_max = (c.n_common, c.n_max) if isinstance(c, Curve) else (0, 0)
        body.append([r["agent"], r["campaigns"], n_common, n_max, *(_best_cell(c, r[n]) for n in ns)])
    out += markdown_table(["agent", "campaigns", "N all reached", "N max", *ns], body) + [""]
    singles = [a_ for a_, c in a.curves.items() if isinstance(c, Curve) and not c.has_ci]
    if singles:
        out.append(
            f"Single trajectory, no interval (one campaign): {', '.join(singles)}. Run more campaigns (seeds) "
            "of an agent to get a CI."
        )
    if not ns:
        out.append("No agent has reached N = 10 yet.")
    out += [baseline_note(a.curves), ""]
    return out


def _param(f: PowerLawResult, name: str) -> str:
    text = fmt(f.power.params[name], 4)
    if name == "a" and f.asymptote_above_max:
        text += " ⚠ > max"
    return text + (" ⚠ on bound" if name in f.power.at_bound else "")


def power_lines(a: DatasetAnalysis, flags: list[str]) -> list[str]:
    """The power-law table with its rivals' AIC and BIC; every flag is also appended to `flags` (the header)."""
    out = ["### Convergence: power law best(N) = a − b·N^(−c)", ""]
    rows = []
    for agent, f in a.fits.items():
        if not isinstance(f, PowerLawResult):
            rows.append([agent, "-", "-", "-", "-", "-", "-", "-", "-", str(f)])
            continue
        fits = [f.power, *f.rivals]
        note = f.flag_text()
        if note:
            flags.append(f"{a.dataset or '(unnamed)'} / {agent}: {note}")
        by_bic = min(fits, key=lambda x: x.bic).model
        rows.append(
            [
                agent,
                f.n,
                _param(f, "a"),
                _param(f, "b"),
                _param(f, "c"),
                fmt(f.power.r2),
                fmt(f.shuffled_r2),
                " / ".join(f"{x.model} {fmt(x.aic, 1)}" for x in fits),
                " / ".join(f"{x.model} {fmt(x.bic, 1)}" for x in fits),
                f"best by AIC: {f.best_by_aic}, by BIC: {by_bic}" + (f"; {note}" if note else ""),
            ]
        )
    out += markdown_table(["agent", "points", "a", "b", "c", "R²", "R² shuffled", "AIC", "BIC", "note"], rows)
    out += [
        "",
        "The fit is to the agent's mean best-so-far curve (its common horizon). 'R² shuffled' is the mean R² "
        "of the same fit on random orders of the same runs (single-campaign agents only): a running maximum fits "
        "a power law well whatever the search did, so R² alone proves little. AIC and BIC use the full Gaussian "
        "likelihood (constant included, k = parameters of the curve, as statsmodels counts them); lower is "
        "better. '⚠ on bound': the fit stopped on that parameter's bound, so the value is the bound, not an "
        "estimate.",
        "",
    ]
    return out


def diversity_lines(a: DatasetAnalysis) -> list[str]:
    """Entropy per agent and JSD per agent pair, with the window rule."""
    cells = "×".join(a.cell_dims)
    out = [f"### Exploration: entropy of {cells} cells and training values; specialization (JSD)", ""]
    rows = []
    for label, t in a.entropy.items():
        if isinstance(t, EntropyTimeline):
            mean = lambda xs: sum(xs) / len(xs)
            rows.append(
                [
                    label,
                    len(t.end),
                    t.window,
                    t.step,
                    fmt(mean(t.architecture_bits)),
                    fmt(min(t.architecture_bits)),
                    fmt(max(t.architecture_bits)),
                    fmt(mean(t.training_bits)),
                ]
            )
        else:
            rows.append([label, 0, "-", "-", str(t), "-", "-", "-"])
    out += markdown_table(
        ["agent", "windows", "window", "step", "arch. H mean (bits)", "min", "max", "training H mean"], rows
    )
    out += [
        "",
        "Window rule: max(5, ⌈P/10⌉) proposals, step ⌊window/4⌋, P = the sequence's highest proposal index; "
        "the last window always ends at P, so every proposal is in a window. Training entropy is the mean of "
        "each training dimension's entropy. JSD runs to the longer agent's last proposal; its final cumulative "
        "value compares both agents' whole sequences.",
        "",
    ]
    if a.jsd:
        rows = []
        for (x, y), t in a.jsd.items():
            if isinstance(t, JsdTimeline):
                w = [v for v in t.windowed if v is not None]
                rows.append([f"{x} vs {y}", fmt(t.final), fmt(max(w) if w else None), fmt(w[-1] if w else None)])
            else:
                rows.append([f"{x} vs {y}", str(t), "-", "-"])
        out += markdown_table(
            ["agents", "JSD cumulative (final)", "JSD windowed (max)", "JSD windowed (last)"], rows
        ) + [""]
    else:
        out += ["One agent only: no specialization to measure.", ""]
    return out


def best_config_lines(a: DatasetAnalysis) -> list[str]:
    """The val-selected best config overall and per agent, each with its test mAP."""
    out = ["### Best config, chosen on validation", ""]
    if a.best is None:
        return out + ["_no finished experiments_", ""]
    b = a.best
    cells = "×".join(str(b[d]) for d in a.cell_dims)
    out.append(
        f"Selected by val mAP among {a.n_ok} ok runs: `{b['config_id']}` ({cells}) by {b['agent']} in "
        f"{b['campaign']}: **val mAP {fmt(b[METRIC], 4)}, test mAP {fmt(b['test_map'], 4)}** (test scored once, "
        "never used to select)."
    )
    out += (
        [""]
        + markdown_table(
            ["agent", "config_id", "val mAP (selects)", "test mAP of that config"],
            [[ag, r["config_id"], fmt(r[METRIC], 4), fmt(r["test_map"], 4)] for ag, r in a.best_per_agent.items()],
        )
        + [""]
    )
    return out


def heatmap_axes(a: DatasetAnalysis) -> tuple[str, str]:
    """The heatmap's rows and columns: the first two architecture dimensions."""
    return (a.cell_dims[0], a.cell_dims[1]) if len(a.cell_dims) >= 2 else ("backbone", "encoder")


def cross_task_lines(analyses: dict[str, DatasetAnalysis]) -> list[str]:
    """The winning cell per dataset and whether it changes (nothing with one dataset)."""
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
        rows.append(
            [d or "(unnamed)", w["cell"] + (f" ({w['note']})" if w["note"] else ""), fmt(w["mean"], 4), w["n"], best]
        )
    change = (
        "**yes**: the winning architecture differs between datasets"
        if len(winners) > 1
        else "no: the same architecture wins on every dataset"
    )
    return [
        "## Cross-task",
        "",
        *markdown_table(
            [
                "dataset",
                "winning cell (highest mean val mAP, cells with ≥ 2 runs)",
                "mean val mAP",
                "n",
                "cell of the best single run",
            ],
            rows,
        ),
        "",
        f"Winner changes across datasets: {change}.",
        "",
    ]
