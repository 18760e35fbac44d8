"""Markdown of the study's own sections: differences between agents, experiments to reach the best, power law per
campaign, exploration cycles and specialisation, and the replication table.

Only wording and tables: the numbers come from :mod:`archsearch.study.variants`.
"""

from __future__ import annotations

import statistics

from archsearch.analysis.base import fmt
from archsearch.analysis.report_sections import markdown_table
from archsearch.study.compare import PAIRED, WELCH
from archsearch.study.measures import CYCLE_HIGH, CYCLE_LOW
from archsearch.study.replication import ClaimRow
from archsearch.study.variants import VariantAnalysis


def differences_lines(v: VariantAnalysis, lvl: int) -> list[str]:
    """Best-at-N differences between agents at each reported N."""
    out = [
        f"### Differences between agents (best val mAP at N; first minus second; [{lvl} % interval])",
        "",
        f"Campaigns are the units. {PAIRED}: both agents ran the same seeds, so campaigns pair by seed (same "
        f"training seed); {WELCH}: the seeds do not pair. Only at an N every campaign of both agents reached.",
        "",
    ]
    if not v.differences:
        return [*out, "One agent only: nothing to compare.", ""]
    shown = [n for n in v.ns if any(row[n].mean is not None for row in v.differences.values())] or list(v.ns)
    rows = [[f"{a} − {b}", *(row[n].text() for n in shown)] for (a, b), row in v.differences.items()]
    return [*out, *markdown_table(["agents", *(f"N = {n}" for n in shown)], rows), ""]


def reach_table(per_fraction: dict[float, dict], agents: list[str], against: str) -> list[str]:
    """One table of experiments-to-reach: per agent and fraction, the mean [interval] and how many reached it."""
    rows = []
    for agent in agents:
        cells = []
        for per in per_fraction.values():
            r = per.get(agent)
            if r is None:
                cells += ["-", "-"]
                continue
            ci = "" if r.lo is None else f" [{fmt(r.lo, 1)}, {fmt(r.hi, 1)}]"
            cells += [f"{fmt(r.mean, 1)}{ci}" + ("" if r.reached == r.k else " (≥)"), f"{r.reached} of {r.k}"]
        rows.append([agent, *cells])
    header = ["agent"]
    for f in per_fraction:
        header += [f"N to {round(100 * f)} % of {against}", "reached"]
    return [*markdown_table(header, rows), ""]


def reach_lines(v: VariantAnalysis, lvl: int) -> list[str]:
    """Experiments needed to reach 95 % and 99 % of the best any campaign found, and of each campaign's own best."""
    out = [f"### Experiments to reach 95 % and 99 % of the best found (mean over campaigns [{lvl} % t interval])", ""]
    if not any(v.reach.values()):
        return [*out, "_no finished experiments_", ""]
    best = next(r.best for per in v.reach.values() for r in per.values())
    out += [
        f"Against the best val mAP any campaign of this variant found ({fmt(best, 4)}): a campaign that never "
        "reached the target counts as its length (restricted mean E[min(T, N)]); where not every campaign reached "
        "it, the mean is a lower bound, marked (≥), and 'reached' says how many did.",
        "",
        *reach_table(v.reach, v.agents, "the best found"),
        "Against each campaign's own best within the horizon (always reached): how soon a search gets close to "
        "what it will find.",
        "",
        *reach_table(v.reach_own, v.agents, "its own best"),
    ]
    return out


def power_campaign_lines(v: VariantAnalysis) -> list[str]:
    """Which curve wins by AIC on each campaign's own best-so-far."""
    out = [
        "### Power law on each campaign's own curve",
        "",
        "Power law, logarithm and exponential fitted to every campaign's best-so-far (not the mean curve above); "
        "'lowest AIC' counts campaigns. a > 1: an asymptote above the metric's maximum (impossible).",
        "",
    ]
    rows = []
    for agent, p in v.power.items():
        c = f"{fmt(statistics.median(p.c_values), 3)}" if p.c_values else "-"
        rows.append(
            [
                agent,
                f"{p.fitted} of {p.campaigns}",
                p.wins.get("power", 0),
                p.wins.get("log", 0),
                p.wins.get("exponential", 0),
                p.above_max,
                p.on_bound,
                c,
            ]
        )
    out += markdown_table(
        ["agent", "fitted", "power lowest AIC", "log", "exponential", "a > 1", "on a bound", "median c"], rows
    )
    skipped = [r for p in v.power.values() for r in p.reasons]
    if skipped:
        out += ["", f"Not fitted ({len(skipped)}): " + "; ".join(skipped[:6]) + (" ..." if len(skipped) > 6 else "")]
    return [*out, ""]


def behaviour_lines(v: VariantAnalysis) -> list[str]:
    """Exploration cycles per agent (vs random) and specialisation per agent pair (vs the same-agent baseline)."""
    out = [
        "### Exploration cycles and specialisation, per campaign",
        "",
        f"A cycle: the windowed entropy of the proposals' {'×'.join(v.base.cell_dims)} cells falls to "
        f"{CYCLE_LOW:g} of its ceiling log2(window) (exploiting a few cells) and rises again to {CYCLE_HIGH:g} "
        "(exploring). Compared with the random agent's campaigns of the same seeds.",
        "",
    ]
    rows = []
    for agent, per in v.cycles.items():
        vals = [x for x in per.values() if x is not None]
        diff = v.cycle_vs_random.get(agent)
        rows.append(
            [
                agent,
                len(vals),
                fmt(statistics.fmean(vals), 2) if vals else "-",
                ", ".join(f"s{s}: {'-' if x is None else int(x)}" for s, x in per.items()),
                diff.text(2) if diff else "-",
            ]
        )
    out += [*markdown_table(["agent", "campaigns", "cycles per campaign", "per seed", "minus random"], rows), ""]
    if v.specialisation:
        out += [
            "Specialisation: JSD between two agents' campaigns of the same seed, minus the JSD between two "
            "campaigns of one agent (the value finite samples give when nothing differs); units are disjoint "
            "pairs of seeds.",
            "",
        ]
        rows = [[f"{a} vs {b}", d.text(3)] for (a, b), d in v.specialisation.items()]
        out += [*markdown_table(["agents", "between − same-agent JSD"], rows), ""]
    return out


def replication_lines(rows: list[ClaimRow], lvl: int) -> list[str]:
    """The replication table, with how verdicts are read."""
    out = [
        "## Replication of 2603.15916",
        "",
        f"Each claim of the study, what it measured, what archsearch measured here (n and {lvl} % intervals), and "
        "whether it holds on this benchmark. A verdict is read off the interval: 'holds' / 'does not hold' only "
        "when the whole interval is on one side of the claim's threshold, else 'inconclusive'. The rules are in "
        "`archsearch/study/replication.py`.",
        "",
    ]
    out += markdown_table(
        ["claim", "the study measured", "archsearch measured here", "on this benchmark"],
        [[r.claim, r.study, r.measured, f"**{r.verdict}**"] for r in rows],
    )
    return [*out, ""]
