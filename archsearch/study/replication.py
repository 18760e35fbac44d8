"""The "Replication of 2603.15916" table: each claim of the study, what it measured, what we measure, the verdict.

A verdict is read off an interval, never off a point estimate: "holds" when the whole interval is on
the claim's side of its threshold, "does not hold" when the whole interval is on the other side,
otherwise "inconclusive" (the interval includes the threshold). A claim about agents this study did
not run (an LLM agent without its key) is "not testable here: <why>". With several task variants or
agents, one verdict per unit is combined: the same verdict everywhere is that verdict, else "mixed".

Rules per claim (what "holds" needs):

1. *Architecture dominates variance*: the balanced one-way ω² over backbone x encoder cells is above
   0.5 (architecture explains most of the variance). ω², not η²: with few runs per cell η² is
   biased upward by about (cells - 1) / (runs - 1) even when architecture does nothing.
2. *The LLM agent beats random at equal budget*: best-at-N difference LLM - random > 0 at the
   largest reported N every campaign of both reached (paired by seed).
3. *Diminishing returns follow a power law*: on each campaign's own best-so-far curve the power law
   has the lowest AIC (of power, log, exponential) in more than half of the campaigns
   (Clopper-Pearson interval of the share above 0.5).
4. *Agents cycle between exploration and exploitation*: exploitation-to-exploration returns per
   campaign exceed the random agent's (difference paired by seed).
5. *Agents specialise*: between-agent JSD exceeds the same-agent baseline (measures.specialisation).
6. *The winner changes with the dataset*: each variant's winning backbone x encoder cell, chosen on
   the even-seed campaigns, beats the other variant's winner on the odd-seed campaigns of its own
   variant (Welch), so choosing and testing never use the same runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from archsearch.analysis.anova import Balanced
from archsearch.analysis.base import fmt
from archsearch.analysis.best_at_n import RANDOM_AGENT
from archsearch.analysis.powerlaw import PowerLawResult
from archsearch.config import LLM_AGENTS
from archsearch.study.compare import DOES_NOT_HOLD, HOLDS, INCONCLUSIVE, Difference, difference_verdict, verdict
from archsearch.study.variants import VariantAnalysis
from archsearch.study.winners import winner_test

NOT_TESTABLE = "not testable here"
STUDY = {
    "architecture": "η² = 0.94 claimed (one-way over backbone×encoder cells, unbalanced); 0.33–0.79 depending on "
    "the subset (0.79: 12 cells, n = 1,299, F 449.33); ≈ 0.76 when balanced; second dataset: "
    "backbone 0.33, encoder 0.16, interaction 0.27",
    "llm": "N = 50: LLM-guided 0.985 vs from-scratch random 0.965 (one trajectory each, no interval; a random "
    "search resampled from the LLM's own pool reached 0.9876)",
    "power": "best-so-far a − b·N^(−c): c ≈ 0.11, R² ≈ 0.93 (after its bug fix, with a = 1.031 > 1, impossible); "
    "main run AIC power −6340 < log −5933 < exponential −5445; shuffled orders reach R² 0.81",
    "cycles": "entropy cycles in its two LLM agents (Claude Opus, Gemini 2.5 Pro), described, not tested",
    "specialise": "JSD between the two agents' cell distributions: 0 early, 0.48 when the second agent started, "
    "0.11–0.14 at the end (no same-agent baseline)",
    "winner": "Nexar: V-JEPA 2 + Zipformer (best AP 0.9245); a second collision dataset: SigLIP2 won",
}
CLAIMS = {
    "architecture": "Architecture dominates the variance of the score",
    "llm": "The LLM agent beats random search at equal budget",
    "power": "Diminishing returns follow a power law",
    "cycles": "Agents cycle between exploration and exploitation",
    "specialise": "Agents specialise (search different regions)",
    "winner": "The winning architecture changes with the dataset",
}


@dataclass(frozen=True)
class ClaimRow:
    key: str
    claim: str
    study: str
    measured: str
    verdict: str


def combine(units: Sequence[tuple[str, str]]) -> str:
    """One verdict from (unit, verdict) pairs: the common verdict, or 'mixed: ...' naming each unit's."""
    if not units:
        return f"{NOT_TESTABLE}: nothing to measure"
    verdicts = {v for _, v in units}
    if len(verdicts) == 1:
        return units[0][1]
    return "mixed: " + "; ".join(f"{v} on {u}" for u, v in units)


def _ci(mean, lo, hi, digits: int = 3) -> str:
    return f"{fmt(mean, digits)} [{fmt(lo, digits)}, {fmt(hi, digits)}]"


def architecture_row(variants: dict[str, VariantAnalysis]) -> ClaimRow:
    parts, units = [], []
    for d, v in variants.items():
        cells = next(iter(v.base.anova.balanced), "")
        b = v.base.anova.balanced.get(cells)
        if not isinstance(b, Balanced):
            parts.append(f"{d}: {b}")
            units.append((d, f"{NOT_TESTABLE}: {getattr(b, 'reason', 'no balanced ANOVA')}"))
            continue
        parts.append(
            f"{d}: balanced ω² {_ci(b.omega2.mean, b.omega2.lo, b.omega2.hi)}, η² "
            f"{_ci(b.eta2.mean, b.eta2.lo, b.eta2.hi)} ({cells}: {b.cells} cells × {b.n_per_cell} runs, "
            f"{b.draws} draws; n = {v.base.anova.n} ok runs)"
        )
        units.append((d, verdict(b.omega2.lo, b.omega2.hi, 0.5)))
    return ClaimRow("architecture", CLAIMS["architecture"], STUDY["architecture"], "; ".join(parts), combine(units))


def largest_common_n(v: VariantAnalysis, a: str, b: str) -> int | None:
    """The largest reported N at which every campaign of both agents has a best-so-far difference."""
    done = [n for n, d in v.differences.get((a, b), {}).items() if d.mean is not None]
    return max(done) if done else None


def _vs_random(variants: dict[str, VariantAnalysis], agents: Sequence[str]) -> tuple[list[str], list[tuple[str, str]]]:
    parts, units = [], []
    for d, v in variants.items():
        for a in agents:
            if a not in v.runs or RANDOM_AGENT not in v.runs:
                continue
            n = largest_common_n(v, a, RANDOM_AGENT)
            if n is None:
                parts.append(f"{d}, {a} − random: no N that every campaign reached with a finished run")
                units.append((f"{d} ({a})", INCONCLUSIVE))
                continue
            diff = v.differences[(a, RANDOM_AGENT)][n]
            parts.append(f"{d}, {a} − random at N = {n}: {diff.text(3)}")
            units.append((f"{d} ({a})", difference_verdict(diff)))
    return parts, units


def llm_row(variants: dict[str, VariantAnalysis]) -> ClaimRow:
    ran = sorted({a for v in variants.values() for a in v.runs})
    llms = [a for a in ran if a in LLM_AGENTS]
    if RANDOM_AGENT not in ran:
        return ClaimRow(
            "llm",
            CLAIMS["llm"],
            STUDY["llm"],
            "no random campaigns",
            f"{NOT_TESTABLE}: no from-scratch random baseline ran",
        )
    if not llms:
        offline = [a for a in ran if a != RANDOM_AGENT]
        parts, _ = _vs_random(variants, offline)
        measured = "offline agents for reference: " + ("; ".join(parts) or "-")
        return ClaimRow(
            "llm",
            CLAIMS["llm"],
            STUDY["llm"],
            measured,
            f"{NOT_TESTABLE}: no LLM agent ran (set ANTHROPIC_API_KEY or GEMINI_API_KEY)",
        )
    parts, units = _vs_random(variants, llms)
    return ClaimRow("llm", CLAIMS["llm"], STUDY["llm"], "; ".join(parts), combine(units))


def power_row(variants: dict[str, VariantAnalysis], level: float = 0.95) -> ClaimRow:
    from scipy import stats

    parts, units = [], []
    for d, v in variants.items():
        fitted = sum(p.fitted for p in v.power.values())
        wins = sum(p.wins.get("power", 0) for p in v.power.values())
        others = {m: sum(p.wins.get(m, 0) for p in v.power.values()) for m in ("log", "exponential")}
        above = sum(p.above_max for p in v.power.values())
        bound = sum(p.on_bound for p in v.power.values())
        if not fitted:
            parts.append(f"{d}: no campaign curve could be fitted")
            units.append((d, f"{NOT_TESTABLE}: no campaign improved often enough to fit"))
            continue
        ci = stats.binomtest(wins, fitted).proportion_ci(level, method="exact")
        means = [f.best_by_aic for f in v.base.fits.values() if isinstance(f, PowerLawResult)]
        parts.append(
            f"{d}: power law lowest AIC in {wins} of {fitted} campaigns, share "
            f"{_ci(wins / fitted, ci.low, ci.high, 2)} (log {others['log']}, exponential "
            f"{others['exponential']}); a > 1 in {above}, on a bound in {bound}; on the agents' mean curves "
            f"power is lowest in {means.count('power')} of {len(means)}"
        )
        units.append((d, verdict(ci.low, ci.high, 0.5)))
    return ClaimRow("power", CLAIMS["power"], STUDY["power"], "; ".join(parts), combine(units))


def tested_agents(variants: dict[str, VariantAnalysis]) -> tuple[list[str], str]:
    """The agents the behavioural claims are tested on: LLM agents if any ran, else the offline search agents."""
    ran = sorted({a for v in variants.values() for a in v.runs})
    llms = [a for a in ran if a in LLM_AGENTS]
    if llms:
        return llms, ""
    return [a for a in ran if a != RANDOM_AGENT], " (offline agents: no LLM agent ran; the study's were LLMs)"


def cycles_row(variants: dict[str, VariantAnalysis]) -> ClaimRow:
    agents, note = tested_agents(variants)
    parts, units = [], []
    for d, v in variants.items():
        for a in agents:
            diff = v.cycle_vs_random.get(a)
            if diff is None:
                continue
            mean = sum(x for x in v.cycles[a].values() if x is not None) / max(1, len(v.cycles[a]))
            parts.append(f"{d}, {a}: {fmt(mean, 2)} cycles per campaign; − random: {diff.text(2)}")
            units.append((f"{d} ({a})", difference_verdict(diff)))
    if not units:
        return ClaimRow(
            "cycles",
            CLAIMS["cycles"],
            STUDY["cycles"],
            "-",
            f"{NOT_TESTABLE}: needs a search agent and the random baseline",
        )
    return ClaimRow("cycles", CLAIMS["cycles"], STUDY["cycles"], "; ".join(parts) + note, combine(units))


def specialise_row(variants: dict[str, VariantAnalysis]) -> ClaimRow:
    agents, note = tested_agents(variants)
    parts, units = [], []
    for d, v in variants.items():
        for (a, b), diff in v.specialisation.items():
            if a not in agents and b not in agents:
                continue
            parts.append(f"{d}, {a} vs {b}: between − same-agent JSD {diff.text(3)}")
            units.append(
                (
                    f"{d} ({a} vs {b})",
                    difference_verdict(diff) if diff.mean is not None else f"{NOT_TESTABLE}: {diff.note}",
                )
            )
    if not units:
        return ClaimRow(
            "specialise",
            CLAIMS["specialise"],
            STUDY["specialise"],
            "-",
            f"{NOT_TESTABLE}: needs two search agents besides random",
        )
    return ClaimRow("specialise", CLAIMS["specialise"], STUDY["specialise"], "; ".join(parts) + note, combine(units))


def winner_row(variants: dict[str, VariantAnalysis], level: float = 0.95) -> ClaimRow:
    names = list(variants)
    if len(names) < 2:
        return ClaimRow(
            "winner",
            CLAIMS["winner"],
            STUDY["winner"],
            "one task variant",
            f"{NOT_TESTABLE}: needs two task variants (datasets)",
        )
    test = winner_test(variants[names[0]], variants[names[1]], level)
    return ClaimRow("winner", CLAIMS["winner"], STUDY["winner"], test.text, test.verdict)


def replication_rows(variants: dict[str, VariantAnalysis], level: float = 0.95) -> list[ClaimRow]:
    """One row per claim, in the study's order."""
    if not variants:
        return [ClaimRow(k, CLAIMS[k], STUDY[k], "-", f"{NOT_TESTABLE}: no results") for k in CLAIMS]
    return [
        architecture_row(variants),
        llm_row(variants),
        power_row(variants, level),
        cycles_row(variants),
        specialise_row(variants),
        winner_row(variants, level),
    ]


__all__ = [
    "CLAIMS",
    "DOES_NOT_HOLD",
    "HOLDS",
    "INCONCLUSIVE",
    "NOT_TESTABLE",
    "STUDY",
    "ClaimRow",
    "Difference",
    "combine",
    "replication_rows",
    "tested_agents",
]
