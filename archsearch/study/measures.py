"""Per-campaign measures of a study, and their comparison between agents with intervals over campaigns.

Input: the leaderboard rows of one dataset (``archsearch.analysis.leaderboard_frame``), restricted to
the study's campaigns. A campaign is a ``Trace``: its agent, seed, best-so-far validation mAP at
N = 1, 2, ... (proposal order; failed runs spend budget, score nothing) and the architecture cell of
each proposal. Every measure here is one number per campaign, so campaigns stay the units:

* best-at-N (:func:`pairwise`): agent differences at each N, paired by seed where seeds pair;
* experiments to reach a fraction of the best found (:func:`reach`): the first N at which the
  campaign's best-so-far reaches ``fraction`` x the best validation mAP any campaign of the dataset
  found. A campaign that never reaches it counts as its length: the mean is then the *restricted*
  mean E[min(T, N)], fully observed for every campaign, and a lower bound of the unrestricted one.
  Also against each campaign's own best (always reached: how soon a search settles);
* the power law's standing per campaign (:func:`campaign_power`): which of power / log / exponential
  has the lowest AIC on that campaign's own curve;
* exploration cycles (:func:`cycles`) and specialisation (:func:`specialisation`), see there.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from archsearch.analysis.base import NotEnoughData, finite
from archsearch.analysis.best_at_n import RANDOM_AGENT, interval, running_best
from archsearch.analysis.diversity import entropy_timeline, jsd_bits
from archsearch.analysis.powerlaw import PowerLawResult, fit_power_law
from archsearch.analysis.table import cell_labels
from archsearch.study.compare import EXACT, Difference, difference, no_spread, quiet_moments

METRIC = "val_map"
# Exploration cycles: windowed architecture entropy, as a fraction of its ceiling log2(window), falls to
# LOW (exploiting a few cells) and rises again to HIGH (exploring); each such return is one cycle.
CYCLE_LOW, CYCLE_HIGH = 0.5, 0.8


@dataclass(frozen=True)
class Trace:
    """One campaign: who searched, with which seed, best-so-far at N = 1..len, and each proposal's cell."""

    campaign: str
    agent: str
    seed: int
    best: tuple[float | None, ...]
    cells: tuple[str, ...]

    def at(self, n: int) -> float | None:
        """Best-so-far at N (None before the first ok run or beyond the campaign's length)."""
        return self.best[n - 1] if 1 <= n <= len(self.best) else None


def traces(frame: pl.DataFrame, cell_dims: Sequence[str]) -> dict[str, list[Trace]]:
    """{agent: its campaigns as Traces, by seed} from one dataset's leaderboard rows."""
    out: dict[str, list[Trace]] = {}
    if frame.height == 0:
        return out
    for (agent, campaign), sub in sorted(frame.group_by(["agent", "campaign"]), key=lambda kv: (kv[0][0], kv[0][1])):
        sub = sub.sort("order")
        vals = [v if s == "ok" else None for v, s in zip(sub[METRIC].to_list(), sub["status"].to_list(), strict=True)]
        out.setdefault(str(agent), []).append(
            Trace(
                str(campaign),
                str(agent),
                int(sub["seed"][0]),
                tuple(running_best(vals)),
                tuple(cell_labels(sub, cell_dims)),
            )
        )
    for agent in out:
        out[agent].sort(key=lambda t: (t.seed, t.campaign))
    return out


def values_at(runs: Sequence[Trace], n: int) -> dict[int, float | None]:
    """seed -> best-so-far at N."""
    return {t.seed: t.at(n) for t in runs}


def horizon(runs: Sequence[Trace]) -> int:
    """The N every campaign of an agent reached (its shortest campaign)."""
    return min((len(t.best) for t in runs), default=0)


def agent_pairs(agents: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs to compare: every agent against random first (as 'agent - random'), then the others among themselves."""
    others = [a for a in agents if a != RANDOM_AGENT]
    pairs = [(a, RANDOM_AGENT) for a in others] if RANDOM_AGENT in agents else []
    return pairs + [(x, y) for i, x in enumerate(others) for y in others[i + 1 :]]


def pairwise(
    runs: Mapping[str, Sequence[Trace]], ns: Sequence[int], level: float = 0.95
) -> dict[tuple[str, str], dict[int, Difference]]:
    """Best-at-N differences (first minus second agent) at each N both agents' campaigns all reached."""
    out: dict[tuple[str, str], dict[int, Difference]] = {}
    for a, b in agent_pairs(list(runs)):
        row = {}
        for n in ns:
            if n > min(horizon(runs[a]), horizon(runs[b])):
                row[n] = Difference(
                    a,
                    b,
                    None,
                    None,
                    None,
                    len(runs[a]),
                    len(runs[b]),
                    0,
                    "",
                    level,
                    note=f"N = {n} not reached by every campaign",
                )
            else:
                row[n] = difference(values_at(runs[a], n), values_at(runs[b], n), names=(a, b), level=level)
        out[(a, b)] = row
    return out


@dataclass(frozen=True)
class Reach:
    """Experiments an agent needed to reach `fraction` x `target`: restricted mean over its campaigns, interval."""

    agent: str
    fraction: float
    best: float | None  # the best val mAP any campaign of the dataset found (None: each campaign's own best)
    target: float | None  # fraction x best
    k: int
    reached: int  # campaigns that reached the target within their horizon
    horizon: int
    mean: float | None
    lo: float | None
    hi: float | None
    per_seed: dict[int, float]


def first_reaching(best: Sequence[float | None], target: float, cap: int) -> int:
    """The first N <= cap with best-so-far >= target, else cap (censored)."""
    for i, v in enumerate(best[:cap]):
        if v is not None and v >= target - 1e-12:
            return i + 1
    return cap


def reach(
    runs: Mapping[str, Sequence[Trace]], fraction: float, level: float = 0.95, *, own: bool = False
) -> dict[str, Reach]:
    """Per agent: experiments until best-so-far >= fraction x the best any campaign of this dataset found.

    ``own``: x each campaign's own best within the agent's horizon instead (always reached: how soon a
    campaign gets close to what it will find, whatever that is).
    """
    values = [finite(v) for ts in runs.values() for t in ts for v in t.best]
    best = max((v for v in values if v is not None), default=None)
    if best is None:
        return {}
    out = {}
    for agent, ts in runs.items():
        cap = horizon(ts)
        targets = {
            t.seed: fraction * (max((v for v in t.best[:cap] if v is not None), default=math.inf) if own else best)
            for t in ts
        }
        steps = {t.seed: float(first_reaching(t.best, targets[t.seed], cap)) for t in ts}
        reached = sum(any(v is not None and v >= targets[t.seed] - 1e-12 for v in t.best[:cap]) for t in ts)
        m = np.array(list(steps.values()))
        lo = hi = None
        if m.size >= 2:
            lo_a, hi_a = interval(m[:, None], method="t", level=level)
            lo, hi = float(lo_a[0]), float(hi_a[0])
        out[agent] = Reach(
            agent,
            fraction,
            None if own else best,
            None if own else fraction * best,
            len(ts),
            int(reached),
            cap,
            float(m.mean()),
            lo,
            hi,
            steps,
        )
    return out


@dataclass(frozen=True)
class PowerStanding:
    """How the power law fared on an agent's individual campaign curves."""

    agent: str
    campaigns: int
    fitted: int
    wins: dict[str, int]  # model -> campaigns where it had the lowest AIC
    above_max: int  # fits whose asymptote a exceeds the metric's maximum
    on_bound: int  # fits that ended on a parameter bound
    c_values: tuple[float, ...]
    reasons: tuple[str, ...]  # why the unfitted ones were not fitted


def campaign_power(runs: Mapping[str, Sequence[Trace]], metric_max: float = 1.0) -> dict[str, PowerStanding]:
    """Fit power law, log and exponential to each campaign's own best-so-far; count the AIC winners."""
    out = {}
    for agent, ts in runs.items():
        wins = {"power": 0, "log": 0, "exponential": 0}
        above = bound = 0
        cs, reasons = [], []
        for t in ts:
            fit = fit_power_law(list(t.best), metric_max=metric_max)
            if isinstance(fit, NotEnoughData):
                reasons.append(f"{t.campaign}: {fit.reason}")
                continue
            assert isinstance(fit, PowerLawResult)
            wins[fit.best_by_aic] = wins.get(fit.best_by_aic, 0) + 1
            above += fit.asymptote_above_max
            bound += fit.on_bound
            cs.append(fit.c)
        out[agent] = PowerStanding(agent, len(ts), sum(wins.values()), wins, above, bound, tuple(cs), tuple(reasons))
    return out


def cycles(cells: Sequence[str], window: int | None = None) -> int | None:
    """Exploitation-to-exploration returns in one campaign (None when it is too short for a timeline).

    The windowed entropy of the proposals' architecture cells (the report's window rule), divided by
    its ceiling log2(window), must fall to CYCLE_LOW (a few cells exploited) and then rise to
    CYCLE_HIGH (many cells explored again) to count one cycle; the hysteresis keeps noise from counting.
    """
    t = entropy_timeline(list(range(1, len(cells) + 1)), list(cells), window=window)
    if isinstance(t, NotEnoughData) or t.window < 2:
        return None
    ceiling = math.log2(t.window)
    low, count = False, 0
    for bits in t.architecture_bits:
        h = bits / ceiling
        if h <= CYCLE_LOW:
            low = True
        elif h >= CYCLE_HIGH and low:
            count, low = count + 1, False
    return count


def cycle_counts(runs: Mapping[str, Sequence[Trace]]) -> dict[str, dict[int, float | None]]:
    """{agent: {seed: cycles}}."""
    return {
        agent: {t.seed: (None if (c := cycles(t.cells)) is None else float(c)) for t in ts}
        for agent, ts in runs.items()
    }


def campaign_jsd(x: Trace, y: Trace) -> float:
    """JSD (bits) between two campaigns' architecture-cell distributions over their whole sequences."""
    support = sorted(set(x.cells) | set(y.cells))
    count = lambda t: [t.cells.count(c) for c in support]
    return jsd_bits(count(x), count(y))


def specialisation(a: Sequence[Trace], b: Sequence[Trace], level: float = 0.95) -> Difference:
    """Between-agent JSD minus same-agent JSD, over disjoint pairs of seeds, with a t interval.

    JSD between two finite samples is positive even when both come from one distribution, so the
    between-agent JSD alone proves nothing. For seeds (s, t) both agents ran, one unit is
    mean(JSD(a_s, b_s), JSD(a_t, b_t)) - mean(JSD(a_s, a_t), JSD(b_s, b_t)): its expectation is 0
    when the two agents search alike, and disjoint pairs of seeds keep the units independent.
    """
    from scipy import stats

    by_a, by_b = {t.seed: t for t in a}, {t.seed: t for t in b}
    seeds = sorted(set(by_a) & set(by_b))
    units = []
    for s, t in zip(seeds[0::2], seeds[1::2], strict=False):
        between = (campaign_jsd(by_a[s], by_b[s]) + campaign_jsd(by_a[t], by_b[t])) / 2
        within = (campaign_jsd(by_a[s], by_a[t]) + campaign_jsd(by_b[s], by_b[t])) / 2
        units.append(between - within)
    name_a, name_b = (a[0].agent if a else "a"), (b[0].agent if b else "b")
    base = {"a": f"{name_a} vs {name_b}", "b": "same-agent baseline", "k_a": len(a), "k_b": len(b), "level": level}
    if len(units) < 2:
        return Difference(
            mean=None,
            lo=None,
            hi=None,
            pairs=len(units),
            method="",
            note=f"{len(seeds)} shared seeds give fewer than 2 disjoint seed pairs (needs >= 4 seeds)",
            **base,
        )
    d = np.array(units)
    if no_spread(d):
        return Difference(
            mean=float(d.mean()), lo=float(d.mean()), hi=float(d.mean()), pairs=len(units), method=EXACT, **base
        )
    with quiet_moments():
        ci = stats.ttest_1samp(d, 0.0).confidence_interval(level)
    return Difference(
        mean=float(d.mean()),
        lo=float(ci.low),
        hi=float(ci.high),
        pairs=len(units),
        method="t over disjoint seed pairs",
        **base,
    )


def cell_values(frame: pl.DataFrame, cell: str, cell_dims: Sequence[str]) -> dict[int, float]:
    """The ok runs' validation mAP in one architecture cell, keyed 0, 1, ... (for Welch comparisons)."""
    ok = frame.filter((pl.col("status") == "ok") & pl.col(METRIC).is_not_null())
    if ok.height == 0:
        return {}
    labels = cell_labels(ok, cell_dims)
    vals = [v for v, lab in zip(ok[METRIC].to_list(), labels, strict=True) if lab == cell]
    return dict(enumerate(vals))
