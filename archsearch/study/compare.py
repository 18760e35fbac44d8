"""Differences between two agents over their campaigns, with an interval, and the verdict an interval allows.

Campaigns are the independent units. When both agents ran the same seeds (each seed once), the
campaigns pair by seed and the interval is the paired t interval on the per-seed differences
(``scipy.stats.ttest_rel``): same seed means same training seed for a config both agents proposed,
so pairing removes that shared noise. Otherwise (seed sets differ) it is Welch's unequal-variance t
interval (``scipy.stats.ttest_ind(equal_var=False)``). When every difference is the same (zero
spread) the interval is that point and says so; with fewer than two units there is no interval.

``difference_coverage`` measures by simulation how often these intervals hold the true difference
(the claim "95 %" rests on it, as the best-at-N interval's does on ``interval_coverage``).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from archsearch.analysis.base import finite, fmt

PAIRED, WELCH, EXACT = "paired t", "Welch t", "no spread"
HOLDS, DOES_NOT_HOLD, INCONCLUSIVE = "holds", "does not hold", "inconclusive"


@dataclass(frozen=True)
class Difference:
    """mean(a) - mean(b) over campaigns, with its interval (None when there is none, `note` says why)."""

    a: str
    b: str
    mean: float | None
    lo: float | None
    hi: float | None
    k_a: int
    k_b: int
    pairs: int  # seeds paired (0 for Welch)
    method: str  # PAIRED, WELCH, EXACT or "" (no interval)
    level: float
    p: float | None = None
    note: str = ""

    @property
    def has_ci(self) -> bool:
        return self.lo is not None and self.hi is not None

    def text(self, digits: int = 4) -> str:
        """'+0.0123 [-0.0040, +0.0286] (paired t, 5 pairs)' or the reason there is none."""
        if self.mean is None:
            return f"- ({self.note})"
        sign = lambda x: ("+" if x >= 0 else "") + fmt(x, digits)
        if not self.has_ci:
            return f"{sign(self.mean)} (no interval: {self.note})"
        units = f"{self.pairs} pairs" if self.pairs else f"n = {self.k_a} vs {self.k_b}"
        return f"{sign(self.mean)} [{sign(self.lo)}, {sign(self.hi)}] ({self.method}, {units})"


def no_spread(x: np.ndarray) -> bool:
    """All values equal up to rounding (a t interval would be 0 wide and scipy would warn of precision loss)."""
    return bool(np.ptp(x) <= 1e-9 * max(1.0, float(np.abs(x).max())))


@contextlib.contextmanager
def quiet_moments() -> Iterator[None]:
    """Silence scipy's "precision loss" warning for samples whose values are (nearly) all equal."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Precision loss occurred", category=RuntimeWarning)
        yield


def _clean(values: Mapping[int, float | None]) -> dict[int, float]:
    return {int(s): float(v) for s, v in values.items() if finite(v) is not None}


def difference(
    a: Mapping[int, float | None],
    b: Mapping[int, float | None],
    *,
    names: tuple[str, str] = ("a", "b"),
    level: float = 0.95,
    pair: bool = True,
) -> Difference:
    """mean(a) - mean(b) with a paired t interval when the seeds pair, else Welch's; `a`, `b`: seed -> value.

    Missing values (None, NaN) drop their campaign; the seeds pair only if both sides then hold the same
    seeds. ``pair=False`` always uses Welch (for samples whose keys are not seeds, e.g. runs of a cell).
    """
    from scipy import stats

    xa, xb = _clean(a), _clean(b)
    ka, kb = len(xa), len(xb)
    base = {"a": names[0], "b": names[1], "k_a": ka, "k_b": kb, "level": level}
    if not ka or not kb:
        return Difference(mean=None, lo=None, hi=None, pairs=0, method="", note="a side has no campaign", **base)
    if pair and set(xa) == set(xb) and ka >= 2:
        seeds = sorted(xa)
        d = np.array([xa[s] - xb[s] for s in seeds])
        mean = float(d.mean())
        if no_spread(d):
            return Difference(
                mean=mean,
                lo=mean,
                hi=mean,
                pairs=ka,
                method=EXACT,
                note="every pair differs by the same amount",
                **base,
            )
        with quiet_moments():
            r = stats.ttest_rel([xa[s] for s in seeds], [xb[s] for s in seeds])
        ci = r.confidence_interval(level)
        return Difference(
            mean=mean, lo=float(ci.low), hi=float(ci.high), pairs=ka, method=PAIRED, p=float(r.pvalue), **base
        )
    va, vb = np.array(list(xa.values())), np.array(list(xb.values()))
    mean = float(va.mean() - vb.mean())
    if ka < 2 or kb < 2:
        return Difference(
            mean=mean, lo=None, hi=None, pairs=0, method="", note="Welch needs >= 2 values a side", **base
        )
    if no_spread(va) and no_spread(vb):
        return Difference(mean=mean, lo=mean, hi=mean, pairs=0, method=EXACT, note="no spread on either side", **base)
    with quiet_moments():  # one side may hold equal values: its variance is 0, which scipy computes right
        r = stats.ttest_ind(va, vb, equal_var=False)
    ci = r.confidence_interval(level)
    return Difference(mean=mean, lo=float(ci.low), hi=float(ci.high), pairs=0, method=WELCH, p=float(r.pvalue), **base)


def verdict(lo: float | None, hi: float | None, threshold: float = 0.0) -> str:
    """Whether an interval supports "the quantity exceeds `threshold`": holds, does not hold, or inconclusive."""
    if lo is None or hi is None:
        return INCONCLUSIVE
    if lo > threshold:
        return HOLDS
    if hi <= threshold:
        return DOES_NOT_HOLD
    return INCONCLUSIVE


MIN_UNANIMOUS = 5  # units that must all agree before a spread-free difference gets a verdict (sign test 2^-5 < 0.05)


def difference_verdict(d: Difference, threshold: float = 0.0) -> str:
    """The verdict a Difference supports about "first exceeds second by more than `threshold`".

    From its interval; but a difference with no spread (every unit the same) has a zero-width interval
    that is no evidence with few units, so it gives a verdict only when at least MIN_UNANIMOUS units
    agree (the sign test's one-sided p = 2^-k is then below 0.05), else inconclusive.
    """
    if d.mean is None:
        return INCONCLUSIVE
    if d.method == EXACT:
        units = d.pairs or min(d.k_a, d.k_b)
        if units < MIN_UNANIMOUS:
            return INCONCLUSIVE
        return HOLDS if d.mean > threshold else DOES_NOT_HOLD
    return verdict(d.lo, d.hi, threshold)


@dataclass(frozen=True)
class DifferenceCoverage:
    """The share of simulated comparisons whose interval held the true difference, with its standard error."""

    k: int
    paired: bool
    reps: int
    level: float
    coverage: float
    se: float
    truth: float


BETA_A, BETA_B = (2.0, 5.0), (2.0, 6.0)  # agent a finds slightly better configs than agent b
SEED_LUCK = 0.1  # scale of a per-seed Exponential(1) offset both agents share (what pairing removes)


def expected_best_of(n: int, shape: tuple[float, float]) -> float:
    """E[max of n i.i.d. Beta(shape)] = ∫₀¹ 1 − F(x)ⁿ dx (exact, by quadrature)."""
    from scipy import integrate, stats

    value, _ = integrate.quad(lambda x: 1.0 - stats.beta.cdf(x, *shape) ** n, 0.0, 1.0, epsabs=1e-12)
    return value


def difference_coverage(
    k: int, *, paired: bool = True, n: int = 25, reps: int = 2000, level: float = 0.95, seed: int = 0
) -> DifferenceCoverage:
    """Coverage of :func:`difference`'s interval for two agents with `k` campaigns of `n` proposals each.

    Each campaign's best is the best of `n` Beta draws (agent a: Beta(2, 5), b: Beta(2, 6)) plus a
    seed-luck offset. Paired: both agents share the offset of their seed (correlated, as a shared
    training seed would make them) and run the same seeds. Unpaired: independent offsets, and agent b
    runs one campaign more under other seeds, so the seeds do not pair and Welch's interval is used.
    The offsets cancel in expectation, so the true difference is E[best a] - E[best b].
    """
    if k < 2:
        raise ValueError(f"difference_coverage: an interval needs k >= 2 campaigns, got {k}")
    rng = np.random.default_rng(seed)
    truth = expected_best_of(n, BETA_A) - expected_best_of(n, BETA_B)
    kb = k if paired else k + 1
    hits = 0
    for _ in range(reps):
        best_a = rng.beta(*BETA_A, size=(k, n)).max(axis=1)
        best_b = rng.beta(*BETA_B, size=(kb, n)).max(axis=1)
        luck_a = SEED_LUCK * rng.exponential(1.0, size=k)
        luck_b = luck_a if paired else SEED_LUCK * rng.exponential(1.0, size=kb)
        a = {s: best_a[s] + luck_a[s] for s in range(k)}
        b = {(s if paired else 1000 + s): best_b[s] + luck_b[s] for s in range(kb)}
        d = difference(a, b, level=level)
        hits += bool(d.has_ci and d.lo <= truth <= d.hi)
    p = hits / reps
    return DifferenceCoverage(
        k=k, paired=paired, reps=reps, level=level, coverage=p, se=float(np.sqrt(p * (1 - p) / reps)), truth=truth
    )
