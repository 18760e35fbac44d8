"""Markdown for each section of one dataset's report (ANOVA, best-at-N, power law, diversity, best config, cross-task).

Why a module of its own: these functions only turn a DatasetAnalysis into lines of markdown;
they compute nothing new, so the wording and tables can change here without touching the
statistics (dataset_analysis.py) or the assembly of figures and files (report.py).
"""

from __future__ import annotations

from archsearch.analysis.anova import Balanced, OneWay, TwoWay
from archsearch.analysis.base import fmt
from archsearch.analysis.best_at_n import Curve, baseline_note, table_rows
from archsearch.analysis.dataset_analysis import METRIC, DatasetAnalysis
from archsearch.analysis.diversity import EntropyTimeline, JsdTimeline
from archsearch.analysis.powerlaw import PowerLawResult


def _ci(mean: float | None, lo: float | None, hi: float | None) -> str:
    if mean is None:
        return "-"
    return fmt(mean, 4) + ("" if lo is None else f" [{fmt(lo, 4)}, {fmt(hi, 4)}]")


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
