"""Does best-so-far follow a power law? Fit it, compare it with simpler stories, flag impossibilities.

Model: best(N) = a − b·N^(−c), fitted with scipy's bounded `curve_fit` (analytic Jacobian) started
from the best point of a grid over c (for fixed c the model is linear in a and b; see `_start`). a is bounded *above the
metric's maximum* on purpose: the reference study reported a = 1.031 for an AP, an asymptote no
AP can reach, and printed it silently. We let the fit say so and then flag it
(`asymptote_above_max`) in the result and the report.

A running maximum is monotone, so almost any concave curve fits it well; R² alone proves little.
So the power law is compared by AIC (least squares: n·ln(RSS/n) + 2k) with a logarithmic
(α + β·ln N, k = 2) and an exponential (a − b·e^(−cN), k = 3) saturation, and optionally with the
R² it reaches on the same runs in shuffled orders (a search that learns nothing still gives a
"good" R²; the study's shuffles averaged 0.81).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from archsearch.analysis.base import NotEnoughData, finite

MIN_POINTS = 4  # three parameters need at least one residual degree of freedom


@dataclass(frozen=True)
class Fit:
    """One least-squares fit of best-so-far against N."""

    model: str  # "power", "log", "exponential"
    formula: str
    params: dict[str, float]
    k: int
    rss: float
    r2: float
    aic: float


@dataclass(frozen=True)
class PowerLawResult:
    """The power-law fit, its rivals, the winner by AIC and the asymptote check."""

    n: int  # points fitted (N = first with a value .. last)
    power: Fit
    rivals: tuple[Fit, ...]
    best_by_aic: str
    metric_max: float
    asymptote_above_max: bool
    shuffled_r2: float | None = None  # mean R² of the power law on shuffled orders (None: not computed)
    shuffles: int = 0

    @property
    def a(self) -> float:
        return self.power.params["a"]

    @property
    def c(self) -> float:
        return self.power.params["c"]

    def flag_text(self) -> str:
        if not self.asymptote_above_max:
            return ""
        return (f"⚠ fitted asymptote a = {self.a:.4f} exceeds the metric's maximum {self.metric_max:g}: the power law "
                "extrapolates to an impossible score, so read it as a description of this range of N only.")


def _aic(rss: float, n: int, k: int) -> float:
    return n * math.log(max(rss, 1e-300) / n) + 2 * k


def _fit(model: str, formula: str, names: Sequence[str], f, jac, x, y, p0s, bounds) -> Fit | None:
    from scipy.optimize import curve_fit

    best = None
    lo, hi = np.asarray(bounds[0], float), np.asarray(bounds[1], float)
    for p0 in p0s:
        p0 = np.clip(np.asarray(p0, float), lo + 1e-12 * (1 + np.abs(lo)), hi - 1e-12 * (1 + np.abs(hi)))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p, _ = curve_fit(f, x, y, p0=p0, bounds=bounds, jac=jac, maxfev=20000)
        except (RuntimeError, ValueError):
            continue
        rss = float(np.sum((y - f(x, *p)) ** 2))
        if math.isfinite(rss) and (best is None or rss < best[1]):
            best = (p, rss)
    if best is None:
        return None
    p, rss = best
    tss = float(np.sum((y - y.mean()) ** 2))
    return Fit(model, formula, {k: float(v) for k, v in zip(names, p, strict=True)}, len(names), rss,
               1.0 - rss / tss, _aic(rss, len(y), len(names)))


def _start(basis, x: np.ndarray, y: np.ndarray, rates: np.ndarray) -> tuple[float, float, float]:
    """(a, b, c) minimising RSS over a grid of rates c: for a fixed c the model a − b·g(x, c) is linear in a, b.

    This "variable projection" start lands curve_fit in the right basin in one go; several blind
    starts cost ~10x more and still stall on flat curves.
    """
    best = None
    for c in rates:
        g = basis(x, c)
        design = np.column_stack([np.ones_like(x), -g])
        (a, b), *_ = np.linalg.lstsq(design, y, rcond=None)
        b = max(float(b), 0.0)
        a = float(np.mean(y + b * g))
        rss = float(np.sum((y - a + b * g) ** 2))
        if best is None or rss < best[0]:
            best = (rss, a, b, float(c))
    return best[1], best[2], best[3]


def _power(x, a, b, c):
    return a - b * np.power(x, -c)


def _power_jac(x, a, b, c):
    g = np.power(x, -c)
    return np.column_stack([np.ones_like(x), -g, b * g * np.log(x)])


def _expo(x, a, b, c):
    return a - b * np.exp(-c * x)


def _expo_jac(x, a, b, c):
    g = np.exp(-c * x)
    return np.column_stack([np.ones_like(x), -g, b * x * g])


def fit_power_law(best: Sequence[float | None], *, metric_max: float = 1.0,
                  values: Sequence[float | None] | None = None,
                  shuffles: int = 0, seed: int = 0) -> PowerLawResult | NotEnoughData:
    """Fit best(N) = a − b·N^(−c) to a best-so-far curve (index i is N = i + 1; leading None skipped).

    With `values` (the raw per-experiment scores the curve came from) and `shuffles` > 0, also the
    mean R² of the same fit on `shuffles` seeded random orders of those values.
    """
    pts = [(i + 1, finite(v)) for i, v in enumerate(best)]
    pts = [(n, v) for n, v in pts if v is not None]
    what = "power-law fit of best-so-far"
    if len(pts) < MIN_POINTS:
        return NotEnoughData(what, f"fewer than {MIN_POINTS} points", len(pts))
    x = np.array([p[0] for p in pts], dtype=float)
    y = np.array([p[1] for p in pts], dtype=float)
    if float(np.ptp(y)) <= 1e-12:
        return NotEnoughData(what, "best-so-far never improved (a flat curve has no rate to fit)", len(pts))
    power = _power_fit(x, y)
    if power is None:
        return NotEnoughData(what, "curve_fit did not converge from any start", len(pts))
    span = float(np.ptp(y))
    lin = np.polyfit(np.log(x), y, 1)
    rss = float(np.sum((y - np.polyval(lin, np.log(x))) ** 2))
    tss = float(np.sum((y - y.mean()) ** 2))
    rivals = [Fit("log", "α + β·ln N", {"alpha": float(lin[1]), "beta": float(lin[0])}, 2, rss, 1 - rss / tss,
                  _aic(rss, len(y), 2))]
    rates = np.geomspace(1e-3 / x.max(), 5.0, 40)
    expo = _fit("exponential", "a − b·exp(−c·N)", ("a", "b", "c"), _expo, _expo_jac, x, y,
                [_start(lambda x_, c: np.exp(-c * x_), x, y, rates), (y.max(), span, 3.0 / x.max())],
                ([y.min() - 1.0, 0.0, 1e-8], [y.max() + 10.0, 10.0 * span + 10.0, 10.0]))
    if expo is not None:
        rivals.append(expo)
    winner = min([power, *rivals], key=lambda f: f.aic).model
    shuffled = None
    if values is not None and shuffles > 0:
        shuffled = shuffled_r2(values, shuffles=shuffles, seed=seed)
    return PowerLawResult(n=len(y), power=power, rivals=tuple(rivals), best_by_aic=winner, metric_max=metric_max,
                          asymptote_above_max=power.params["a"] > metric_max, shuffled_r2=shuffled,
                          shuffles=shuffles if shuffled is not None else 0)


def _power_fit(x: np.ndarray, y: np.ndarray) -> Fit | None:
    span = float(np.ptp(y))
    bounds = ([y.min() - 1.0, 0.0, 1e-6], [y.max() + 10.0, 10.0 * span + 10.0, 5.0])
    fit = _fit("power", "a − b·N^(−c)", ("a", "b", "c"), _power, _power_jac, x, y,
               [_start(lambda x_, c: np.power(x_, -c), x, y, np.geomspace(1e-3, 5.0, 40))],
               bounds)
    if fit is None:  # the grid start failed (it should not): fall back to blind starts
        fit = _fit("power", "a − b·N^(−c)", ("a", "b", "c"), _power, _power_jac, x, y,
                   [(y.max() + 0.1 * span, span + 1e-6, c0) for c0 in (0.1, 0.5, 1.5)], bounds)
    return fit


def shuffled_r2(values: Sequence[float | None], *, shuffles: int = 20, seed: int = 0) -> float | None:
    """Mean power-law R² over `shuffles` random orders of `values` (None when no order gives a fit)."""
    from archsearch.analysis.best_at_n import running_best

    rng = np.random.default_rng(seed)
    vals = list(values)
    r2 = []
    for _ in range(shuffles):
        order = rng.permutation(len(vals))
        best = running_best([vals[i] for i in order])
        pts = [(i + 1, v) for i, v in enumerate(best) if v is not None]
        if len(pts) < MIN_POINTS:
            continue
        x, y = np.array([p[0] for p in pts], float), np.array([p[1] for p in pts], float)
        if np.ptp(y) <= 1e-12:
            continue
        fit = _power_fit(x, y)
        if fit is not None:
            r2.append(fit.r2)
    return float(np.mean(r2)) if r2 else None


def predict(fit: Fit, n: np.ndarray) -> np.ndarray:
    """A fitted curve's values at N = n (for plots)."""
    p = fit.params
    if fit.model == "power":
        return _power(n, p["a"], p["b"], p["c"])
    if fit.model == "exponential":
        return _expo(n, p["a"], p["b"], p["c"])
    return p["alpha"] + p["beta"] * np.log(n)
