"""Best-at-N: the best validation mAP an agent had found after N experiments, with honest intervals.

N counts every experiment the agent spent, in proposal order (a failed run costs budget too); the
best-so-far is the running maximum of val mAP over its ok runs, undefined before the first one.

The reference study compared agents at N = 50 on one trajectory each, with no interval. Here an
agent with several campaigns (e.g. seeds of the same search) gets a bootstrap interval that
resamples *whole campaigns*: experiments within a campaign depend on each other (the agent saw the
earlier ones), so resampling single runs would understate the spread. With one campaign the curve
is reported as a single trajectory and explicitly without an interval.

The from-scratch baseline is the `random` agent's own campaigns, run with the same budget: never a
resample of another agent's pool (the study's "TPE" only re-picked among the LLM's own proposals).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from archsearch.analysis.base import NotEnoughData, finite

TABLE_N = (10, 25, 50, 100)
RANDOM_AGENT = "random"


def running_best(values: Sequence[float | None]) -> list[float | None]:
    """Running maximum, skipping missing values (failed runs); None until the first real value."""
    out: list[float | None] = []
    best: float | None = None
    for v in values:
        v = finite(v)
        if v is not None and (best is None or v > best):
            best = v
        out.append(best)
    return out


@dataclass(frozen=True)
class Curve:
    """One agent's best-at-N: the mean over its campaigns at each N = 1..n_max, and (>= 2 campaigns) a CI."""

    agent: str
    campaigns: tuple[str, ...]
    n_max: int  # the longest campaign's length
    mean: tuple[float | None, ...]  # index i is N = i + 1
    lo: tuple[float | None, ...] | None  # None when there is one campaign: no interval, said so
    hi: tuple[float | None, ...] | None
    n_campaigns: tuple[int, ...]  # campaigns that reached N (and had an ok run by then)
    level: float
    boot: int

    @property
    def has_ci(self) -> bool:
        return self.lo is not None

    def at(self, n: int) -> tuple[float | None, float | None, float | None, int]:
        """(mean, lo, hi, campaigns) at N = n; (None, None, None, 0) beyond the curve."""
        if not 1 <= n <= self.n_max:
            return None, None, None, 0
        i = n - 1
        lo = None if self.lo is None else self.lo[i]
        hi = None if self.hi is None else self.hi[i]
        return self.mean[i], lo, hi, self.n_campaigns[i]


def trajectories(frame: pl.DataFrame, metric: str = "val_map") -> dict[str, dict[str, list[float | None]]]:
    """{agent: {campaign: best-so-far at N = 1..len}} from a leaderboard frame (any status)."""
    out: dict[str, dict[str, list[float | None]]] = {}
    groups = sorted(frame.group_by(["agent", "campaign"]), key=lambda kv: (str(kv[0][0]), str(kv[0][1])))
    for (agent, campaign), sub in groups:
        sub = sub.sort("agent_order")
        vals = [v if s == "ok" else None for v, s in zip(sub[metric].to_list(), sub["status"].to_list(), strict=True)]
        out.setdefault(str(agent), {})[str(campaign)] = running_best(vals)
    return out


def curve(agent: str, runs: dict[str, list[float | None]], *, boot: int = 1000, seed: int = 0,
          level: float = 0.95) -> Curve | NotEnoughData:
    """Mean best-at-N over an agent's campaigns, with a whole-campaign bootstrap CI when there are >= 2."""
    if not runs:
        return NotEnoughData(f"best-at-N for {agent}", "no campaigns", 0)
    names = tuple(sorted(runs))
    n_max = max(len(runs[c]) for c in names)
    m = np.full((len(names), n_max), np.nan)
    for i, c in enumerate(names):
        m[i, : len(runs[c])] = [np.nan if v is None else v for v in runs[c]]
    counts = np.sum(np.isfinite(m), axis=0)
    if not counts.any():
        return NotEnoughData(f"best-at-N for {agent}", "no finished run", int(sum(len(r) for r in runs.values())))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (N not reached) stay NaN -> None
        mean = np.nanmean(m, axis=0)
        lo = hi = None
        if len(names) >= 2:
            rng = np.random.default_rng(seed)
            draws = rng.integers(0, len(names), size=(boot, len(names)))
            means = np.nanmean(m[draws], axis=1)  # (boot, n_max): one resample of whole campaigns per row
            q = (100 * (1 - level) / 2, 100 * (1 + level) / 2)
            lo, hi = np.nanpercentile(means, q, axis=0)
            single = counts < 2  # an interval from one campaign would be a point: report none there
            lo, hi = np.where(single, np.nan, lo), np.where(single, np.nan, hi)
    as_t = lambda a: tuple(finite(x) for x in a)  # noqa: E731
    return Curve(agent=agent, campaigns=names, n_max=n_max, mean=as_t(mean), lo=None if lo is None else as_t(lo),
                 hi=None if hi is None else as_t(hi), n_campaigns=tuple(int(c) for c in counts), level=level,
                 boot=boot if len(names) >= 2 else 0)


def best_at_n(frame: pl.DataFrame, metric: str = "val_map", *, boot: int = 1000, seed: int = 0,
              level: float = 0.95) -> dict[str, Curve | NotEnoughData]:
    """One curve per agent of a leaderboard frame (one dataset)."""
    return {a: curve(a, runs, boot=boot, seed=seed, level=level) for a, runs in trajectories(frame, metric).items()}


def table_rows(curves: dict[str, Curve | NotEnoughData], ns: Sequence[int] = TABLE_N) -> list[dict]:
    """Rows {agent, campaigns, "N=10": (mean, lo, hi, k) | None, ...} for the N any agent reached."""
    reached = [n for n in ns if any(isinstance(c, Curve) and c.n_max >= n for c in curves.values())]
    rows = []
    for agent, c in curves.items():
        row: dict = {"agent": agent, "campaigns": len(c.campaigns) if isinstance(c, Curve) else 0}
        for n in reached:
            row[f"N={n}"] = c.at(n) if isinstance(c, Curve) and c.n_max >= n else None
        rows.append(row)
    return rows


def baseline_note(curves: dict[str, Curve | NotEnoughData]) -> str:
    """Which campaigns the from-scratch baseline is, or that there is none."""
    c = curves.get(RANDOM_AGENT)
    if not isinstance(c, Curve):
        return (f"No `{RANDOM_AGENT}` campaign on this dataset: there is no from-scratch baseline, so no agent is "
                "compared against random search here.")
    others = [x.n_max for a, x in curves.items() if a != RANDOM_AGENT and isinstance(x, Curve)]
    budget = "" if not others or max(others) <= c.n_max else (
        f" Its budget ({c.n_max}) is smaller than the longest other campaign ({max(others)}); compare only up to "
        f"N = {c.n_max}.")
    return (f"From-scratch baseline: the `{RANDOM_AGENT}` agent's own campaign(s) {', '.join(c.campaigns)} "
            f"(never a resample of another agent's proposals).{budget}")
