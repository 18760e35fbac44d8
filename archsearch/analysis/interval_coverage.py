"""How often a best-at-N interval covers the true expected best-at-N: measured by simulation.

The report's intervals are over campaigns, and real studies have 3-20 of them, where textbook
guarantees do not hold. So the claim "95 %" rests on this measurement: simulate many studies of k
campaigns whose expected best-at-N is known exactly, build the interval from each study exactly
as the report does (`best_at_n.interval`), and count how often it contains the truth.

Scenarios (every campaign is a random search of `n` proposals, so the truth is computable):

* `beta`: scores i.i.d. Beta(2, 5) (most configs mediocre, a thin good tail). The truth is
  E[max of n] = ∫₀¹ 1 − F(x)ⁿ dx.
* `lucky`: as `beta`, plus a per-campaign offset 0.1·Exponential(1): some campaigns start in a
  good region, so the campaign-level best-at-N is right-skewed (the hard case for small k).
  The truth adds E[offset] = 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archsearch.analysis.best_at_n import interval

SCENARIOS = ("beta", "lucky")
BETA = (2.0, 5.0)
LUCKY_SCALE = 0.1


@dataclass(frozen=True)
class Coverage:
    """The share of simulated studies whose interval held the truth, with its Monte-Carlo standard error."""

    k: int
    method: str
    scenario: str
    n: int
    reps: int
    level: float
    coverage: float
    se: float
    truth: float


def expected_best(n: int, scenario: str = "beta") -> float:
    """The exact expected best-of-n score of one random-search campaign under `scenario`."""
    from scipy import integrate, stats

    if scenario not in SCENARIOS:
        raise ValueError(f"expected_best: scenario must be one of {SCENARIOS}, got {scenario!r}")
    value, _ = integrate.quad(lambda x: 1.0 - stats.beta.cdf(x, *BETA) ** n, 0.0, 1.0, epsabs=1e-12)
    return value + (LUCKY_SCALE if scenario == "lucky" else 0.0)


def campaign_bests(rng: np.random.Generator, reps: int, k: int, n: int, scenario: str) -> np.ndarray:
    """(reps, k) best-of-n scores: one row per simulated study, one column per campaign."""
    best = rng.beta(*BETA, size=(reps, k, n)).max(axis=2)
    if scenario == "lucky":
        best = best + LUCKY_SCALE * rng.exponential(1.0, size=(reps, k))
    return best


def interval_coverage(
    k: int,
    *,
    method: str = "t",
    scenario: str = "beta",
    n: int = 25,
    reps: int = 4000,
    level: float = 0.95,
    boot: int = 500,
    seed: int = 0,
) -> Coverage:
    """Coverage of the report's `method` interval with `k` campaigns of `n` proposals, over `reps` studies."""
    if k < 2:
        raise ValueError(f"interval_coverage: an interval needs k >= 2 campaigns, got {k}")
    truth = expected_best(n, scenario)
    rng = np.random.default_rng(seed)
    bests = campaign_bests(rng, reps, k, n, scenario)
    if method == "t":  # the t interval is columnwise: one call covers every study
        lo, hi = interval(bests.T, method="t", level=level)
    else:
        bounds = np.array(
            [
                interval(row[:, None], method=method, level=level, boot=boot, seed=seed + i)
                for i, row in enumerate(bests)
            ]
        )  # (reps, 2, 1)
        lo, hi = bounds[:, 0, 0], bounds[:, 1, 0]
    hit = (lo <= truth) & (truth <= hi)
    p = float(hit.mean())
    return Coverage(
        k=k,
        method=method,
        scenario=scenario,
        n=n,
        reps=reps,
        level=level,
        coverage=p,
        se=float(np.sqrt(p * (1 - p) / reps)),
        truth=truth,
    )
