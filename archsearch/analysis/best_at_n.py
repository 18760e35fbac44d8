"""Best-at-N: the best validation score an agent had found after N experiments, with honest intervals.

N counts every experiment the agent spent, in proposal order (a failed run costs budget too); a
campaign's best-so-far is the running maximum of its ok runs' scores, undefined before the first.

**Common horizon.** An agent's curve is the mean over its campaigns of their best-so-far, and it
is defined only where *every* campaign is: from the first N at which each campaign has an ok run
to the length of its shortest campaign (`n_common`). Averaging over "the campaigns that reached
N" instead lets the mean fall when a lucky campaign ends (0.7 → 0.5 in a two-campaign example)
and fits a power law to that artefact. On a fixed set of campaigns each running maximum never
decreases, so neither does the mean. Beyond `n_common` the curve reports how many campaigns
reached N (`Curve.at`), no mean; agents are compared only at the N each one's campaigns all reached.

**Intervals.** Campaigns are the independent units (experiments within one depend on each other:
the agent saw the earlier ones), so an interval is over campaigns, k of them. The default is the
Student-t interval mean ± t(k−1)·sd/√k: in simulation (`interval_coverage`) it covers at least
0.93 of the time for a nominal 0.95 from k = 3, while the whole-campaign percentile bootstrap
(`method="bootstrap"`, kept for comparison) under-covers at small k (its resamples of 3-5
campaigns are too few distinct values). Caveat at small k: the t interval assumes the
campaign-level best-so-far is roughly symmetric; with k < 5 it is wide and a strongly skewed
agent (rare lucky campaigns) can still under-cover. With one campaign there is no interval.

The from-scratch baseline is the `random` agent's own campaigns, run with the same budget: never a
resample of another agent's pool (the study's "TPE" only re-picked among the LLM's own proposals).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from archsearch.analysis.base import NotEnoughData, finite

TABLE_N = (10, 25, 50, 100)
RANDOM_AGENT = "random"
METHODS = ("t", "bootstrap")
METHOD_TEXT = {"t": "Student-t interval over campaigns", "bootstrap": "percentile bootstrap over whole campaigns"}
HORIZON_RULE = (
    "mean over an agent's campaigns, only at the N every one of its campaigns reached (no carrying "
    "forward, no mean over a shrinking set)"
)


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
    """One agent's best-at-N over the common horizon N = 1..n_common, with an interval when k >= 2."""

    agent: str
    campaigns: tuple[str, ...]
    n_max: int  # the longest campaign's length
    n_common: int  # the shortest campaign's length: the curve's horizon
    mean: tuple[float | None, ...]  # index i is N = i + 1, i < n_common; None until every campaign has an ok run
    lo: tuple[float | None, ...] | None  # None when there is one campaign: no interval, said so
    hi: tuple[float | None, ...] | None
    reached: tuple[int, ...]  # campaigns whose length is >= N, for N = 1..n_max
    level: float
    method: str  # "t", "bootstrap", or "none" (one campaign)
    boot: int = 0  # bootstrap resamples (method "bootstrap" only)

    @property
    def has_ci(self) -> bool:
        return self.lo is not None

    @property
    def k(self) -> int:
        return len(self.campaigns)

    def at(self, n: int) -> tuple[float | None, float | None, float | None, int]:
        """(mean, lo, hi, campaigns that reached N); no mean beyond the common horizon, (None,)*3 + (0,) past n_max."""
        if not 1 <= n <= self.n_max:
            return None, None, None, 0
        if n > self.n_common:
            return None, None, None, self.reached[n - 1]
        i = n - 1
        lo = None if self.lo is None else self.lo[i]
        hi = None if self.hi is None else self.hi[i]
        return self.mean[i], lo, hi, self.reached[i]


def trajectories(frame: pl.DataFrame, metric: str = "val_map") -> dict[str, dict[str, list[float | None]]]:
    """{agent: {campaign: best-so-far at N = 1..len}} from a leaderboard frame (any status)."""
    out: dict[str, dict[str, list[float | None]]] = {}
    groups = sorted(frame.group_by(["agent", "campaign"]), key=lambda kv: (str(kv[0][0]), str(kv[0][1])))
    for (agent, campaign), sub in groups:
        sub = sub.sort("agent_order")
        vals = [v if s == "ok" else None for v, s in zip(sub[metric].to_list(), sub["status"].to_list(), strict=True)]
        out.setdefault(str(agent), {})[str(campaign)] = running_best(vals)
    return out


def interval(
    m: np.ndarray, *, method: str = "t", level: float = 0.95, boot: int = 1000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of the mean over rows of `m` (k campaigns, one column per N): a t or whole-row bootstrap interval."""
    k = m.shape[0]
    if method == "t":
        from scipy import stats

        half = stats.t.ppf((1 + level) / 2, k - 1) * m.std(axis=0, ddof=1) / np.sqrt(k)
        mean = m.mean(axis=0)
        return mean - half, mean + half
    if method == "bootstrap":
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, k, size=(boot, k))
        means = m[draws].mean(axis=1)  # (boot, N): one resample of whole campaigns per row
        return tuple(np.percentile(means, [100 * (1 - level) / 2, 100 * (1 + level) / 2], axis=0))
    raise ValueError(f"interval: method must be one of {METHODS}, got {method!r}")


def curve(
    agent: str,
    runs: Mapping[str, Sequence[float | None]],
    *,
    method: str = "t",
    level: float = 0.95,
    boot: int = 1000,
    seed: int = 0,
) -> Curve | NotEnoughData:
    """Mean best-at-N over an agent's campaigns (`runs`: campaign -> best-so-far), on their common horizon."""
    if method not in METHODS:
        raise ValueError(f"curve({agent}): method must be one of {METHODS}, got {method!r}")
    what = f"best-at-N for {agent}"
    if not runs:
        return NotEnoughData(what, "no campaigns", 0)
    names = tuple(sorted(runs))
    lengths = [len(runs[c]) for c in names]
    n_max, n_common = max(lengths), min(lengths)
    m = np.array([[np.nan if finite(v) is None else float(v) for v in runs[c][:n_common]] for c in names])
    m = m.reshape(len(names), n_common)
    defined = np.all(np.isfinite(m), axis=0)  # N at which every campaign has an ok run
    if not defined.any():
        return NotEnoughData(
            what,
            f"no N <= {n_common} (the shortest campaign) at which every one of its "
            f"{len(names)} campaign(s) has a finished run",
            int(sum(lengths)),
        )
    first = int(np.argmax(defined))
    mean = np.full(n_common, np.nan)
    mean[first:] = m[:, first:].mean(axis=0)
    lo = hi = None
    k = len(names)
    if k >= 2:
        lo, hi = np.full(n_common, np.nan), np.full(n_common, np.nan)
        lo[first:], hi[first:] = interval(m[:, first:], method=method, level=level, boot=boot, seed=seed)
    reached = tuple(int(sum(n <= length for length in lengths)) for n in range(1, n_max + 1))
    as_t = lambda a: tuple(finite(x) for x in a)
    return Curve(
        agent=agent,
        campaigns=names,
        n_max=n_max,
        n_common=n_common,
        mean=as_t(mean),
        lo=None if lo is None else as_t(lo),
        hi=None if hi is None else as_t(hi),
        reached=reached,
        level=level,
        method=method if k >= 2 else "none",
        boot=boot if k >= 2 and method == "bootstrap" else 0,
    )


def best_at_n(
    frame: pl.DataFrame,
    metric: str = "val_map",
    *,
    method: str = "t",
    level: float = 0.95,
    boot: int = 1000,
    seed: int = 0,
) -> dict[str, Curve | NotEnoughData]:
    """One curve per agent of a leaderboard frame (one dataset)."""
    return {
        a: curve(a, runs, method=method, level=level, boot=boot, seed=seed)
        for a, runs in trajectories(frame, metric).items()
    }


def table_rows(curves: Mapping[str, Curve | NotEnoughData], ns: Sequence[int] = TABLE_N) -> list[dict]:
    """Rows {agent, campaigns, "N=10": (mean, lo, hi, k) | None, ...} for the N any agent's campaigns all reached."""
    reached = [n for n in ns if any(isinstance(c, Curve) and c.n_common >= n for c in curves.values())]
    rows = []
    for agent, c in curves.items():
        row: dict = {"agent": agent, "campaigns": c.k if isinstance(c, Curve) else 0}
        for n in reached:
            row[f"N={n}"] = c.at(n) if isinstance(c, Curve) and c.n_max >= n else None
        rows.append(row)
    return rows


def baseline_note(curves: Mapping[str, Curve | NotEnoughData]) -> str:
    """Which campaigns the from-scratch baseline is, or that there is none."""
    c = curves.get(RANDOM_AGENT)
    if not isinstance(c, Curve):
        return (
            f"No `{RANDOM_AGENT}` campaign on this dataset: there is no from-scratch baseline, so no agent is "
            "compared against random search here."
        )
    others = [x.n_common for a, x in curves.items() if a != RANDOM_AGENT and isinstance(x, Curve)]
    budget = (
        ""
        if not others or max(others) <= c.n_common
        else (
            f" Its budget ({c.n_common}) is smaller than the other agents' (up to {max(others)}); compare only up to "
            f"N = {c.n_common}."
        )
    )
    return (
        f"From-scratch baseline: the `{RANDOM_AGENT}` agent's own campaign(s) {', '.join(c.campaigns)} "
        f"(never a resample of another agent's proposals).{budget}"
    )


@dataclass(frozen=True)
class CurvePoint:
    """Best-at-N at one N from plain data: the mean over campaigns, its interval, and what is missing and why."""

    n: int
    mean: float | None
    lo: float | None
    hi: float | None
    campaigns: int  # campaigns that reached N
    of: int  # campaigns in all
    note: str  # "" when mean and interval are both there; else why not


def _point(c: Curve | NotEnoughData, n: int, total: int) -> CurvePoint:
    if isinstance(c, NotEnoughData):
        return CurvePoint(n, None, None, None, 0, total, c.reason)
    mean, lo, hi, k = c.at(n)
    if k == 0:
        note = f"beyond every campaign (longest: {c.n_max})"
    elif n > c.n_common:
        note = f"not reached by every campaign ({k} of {total}); the curve stops at N = {c.n_common}"
    elif mean is None:
        note = "not every campaign has a finished run by this N"
    elif not c.has_ci:
        note = "one campaign: no interval"
    else:
        note = ""
    return CurvePoint(n, mean, lo, hi, k, total, note)


def best_so_far(
    scores: Mapping[str, Sequence[float | None]] | Sequence[Sequence[float | None]],
    ns: Sequence[int] | None = None,
    *,
    method: str = "t",
    level: float = 0.95,
    boot: int = 1000,
    seed: int = 0,
) -> list[CurvePoint]:
    """Best-at-N at each N of `ns` (default 1..longest) from raw scores in proposal order, one sequence per campaign.

    A failed experiment is None or NaN (it spends budget, scores nothing). The rules are the
    report's: mean over campaigns on their common horizon, interval over campaigns (module docstring).
    """
    runs = dict(scores) if isinstance(scores, Mapping) else {f"c{i + 1}": s for i, s in enumerate(scores)}
    c = curve(
        "curve", {str(k): running_best(v) for k, v in runs.items()}, method=method, level=level, boot=boot, seed=seed
    )
    longest = max((len(v) for v in runs.values()), default=0)
    ns = list(range(1, longest + 1)) if ns is None else [int(n) for n in ns]
    if any(n < 1 for n in ns):
        raise ValueError(f"best_so_far: every N must be >= 1, got {ns}")
    return [_point(c, n, len(runs)) for n in ns]
