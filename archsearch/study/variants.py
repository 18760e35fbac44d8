"""Every number of a study on one task variant (dataset), computed once for the report and the replication table.

The single-campaign analyses (ANOVA, best-at-N curves with t intervals over campaigns, power law on
the mean curve, entropy and JSD timelines, winner) are `archsearch.analysis`'s, run on the study's
campaigns; what a study adds is measured per campaign in :mod:`archsearch.study.measures`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from archsearch.analysis.best_at_n import RANDOM_AGENT
from archsearch.analysis.dataset_analysis import DatasetAnalysis, Settings, analyse_dataset
from archsearch.study.compare import Difference, difference
from archsearch.study.measures import (
    PowerStanding,
    Reach,
    Trace,
    agent_pairs,
    campaign_power,
    cycle_counts,
    pairwise,
    reach,
    specialisation,
    traces,
)

REACH_FRACTIONS = (0.95, 0.99)


@dataclass(frozen=True)
class VariantAnalysis:
    """A study's numbers on one dataset."""

    dataset: str
    frame: pl.DataFrame  # the study's leaderboard rows of this dataset
    base: DatasetAnalysis
    runs: dict[str, list[Trace]]  # agent -> campaigns
    ns: tuple[int, ...]
    differences: dict[tuple[str, str], dict[int, Difference]]
    reach: dict[float, dict[str, Reach]]  # fraction -> agent -> N to reach it x the variant's best
    reach_own: dict[float, dict[str, Reach]]  # the same against each campaign's own best
    power: dict[str, PowerStanding]
    cycles: dict[str, dict[int, float | None]]  # agent -> seed -> cycles
    cycle_vs_random: dict[str, Difference]
    specialisation: dict[tuple[str, str], Difference]

    @property
    def agents(self) -> list[str]:
        return list(self.runs)

    def k(self, agent: str) -> int:
        return len(self.runs.get(agent, []))


def analyse_variant(
    frame: pl.DataFrame, dataset: str, space=None, settings: Settings | None = None, ns: Sequence[int] = (10, 25, 50)
) -> VariantAnalysis:
    """All of a study's analyses on one dataset's rows."""
    settings = settings or Settings()
    base = analyse_dataset(frame, dataset, space, settings)
    runs = traces(frame, base.cell_dims)
    counts = cycle_counts(runs)
    vs_random = {
        a: difference(counts[a], counts[RANDOM_AGENT], names=(a, RANDOM_AGENT), level=settings.level)
        for a in runs
        if a != RANDOM_AGENT and RANDOM_AGENT in runs
    }
    spec = {
        (a, b): specialisation(runs[a], runs[b], settings.level)
        for a, b in agent_pairs(list(runs))
        if RANDOM_AGENT not in (a, b)
    }
    return VariantAnalysis(
        dataset=dataset,
        frame=frame,
        base=base,
        runs=runs,
        ns=tuple(ns),
        differences=pairwise(runs, ns, settings.level),
        reach={f: reach(runs, f, settings.level) for f in REACH_FRACTIONS},
        reach_own={f: reach(runs, f, settings.level, own=True) for f in REACH_FRACTIONS},
        power=campaign_power(runs, settings.metric_max),
        cycles=counts,
        cycle_vs_random=vs_random,
        specialisation=spec,
    )


def analyse_study(
    frame: pl.DataFrame, space=None, settings: Settings | None = None, ns: Sequence[int] = (10, 25, 50)
) -> dict[str, VariantAnalysis]:
    """One VariantAnalysis per dataset of a study's leaderboard rows (sorted by dataset)."""
    names = sorted(frame["dataset"].fill_null("").unique().to_list()) if frame.height else []
    return {
        d: analyse_variant(frame.filter(pl.col("dataset").fill_null("") == d), d, space, settings, ns) for d in names
    }
