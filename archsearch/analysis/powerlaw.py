"""Does best-so-far follow a power law? Fit it, compare it with simpler stories, flag impossibilities.

Model: best(N) = a − b·N^(−c), fitted with scipy's bounded `curve_fit` (analytic Jacobian) started
from the best point of a grid over c (for fixed c the model is linear in a and b; see `_start`).
a is bounded *above the metric's maximum* on purpose: the reference study reported a = 1.031 for an AP, an asymptote no
AP can reach, and printed it silently. We let the fit say so and then flag it
(`asymptote_above_max`) in the result and the report.

A running maximum is monotone, so almost any concave curve fits it well; R² alone proves little.
So the power law is compared by AIC and BIC (full Gaussian likelihood, see `information`) with a
logarithmic (α + β·ln N, k = 2) and an exponential (a − b·e^(−cN), k = 3) saturation, and
optionally with the R² it reaches on the same runs in shuffled orders (a search that learns
nothing still gives a "good" R²; the study's shuffles averaged 0.81).

Every parameter is fitted inside bounds (a ≤ max(best) + 10, 0 ≤ b, 1e-6 ≤ c ≤ 5). A fit that
ends on a bound has not found an optimum: the data do not determine that parameter (the demo's
a = 10.8 was the bound itself). Such a fit names the parameters in `Fit.at_bound` and the report
flags it like the asymptote. `score_power_law` scores given parameters (e.g. a published fit)
on a curve with the same RSS, R², AIC and BIC.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from archsearch.analysis.base import NotEnoughData, finite
from archsearch.analysis.best_at_n import running_best
from archsearch.analysis.information import aic, bic, gaussian_loglik

MIN_POINTS = 4  # three parameters need at least one residual degree of freedom
BOUND_TOLERANCE = 1e-4  # a parameter within this fraction of its bound range of a bound sits on it


@dataclass(frozen=True)
class Fit:
    """One least-squares fit of best-so-far against N."""

    model: str  # "power", "log", "exponential"
    formula: str
    params: dict[str, float]
    k: int  # parameters of the mean function (what AIC and BIC count)
    n: int  # points
    rss: float
    r2: float | None  # None on a flat curve (no variance to explain)
    aic: float
    bic: float
    loglik: float
    at_bound: tuple[str, ...] = ()  # parameters that ended on a fitting bound: not determined by the data
    bounds: tuple[tuple[float, float], ...] = ()  # (lo, hi) per parameter, in `params` order

    def bound_text(self) -> str:
        """'a = 10.8 on its upper bound 10.8' for each parameter on a bound; '' when none is."""
        names = list(self.params)
        parts = []
        for name in self.at_bound:
            lo, hi = self.bounds[names.index(name)]
            v = self.params[name]
            side, b = ("lower", lo) if abs(v - lo) <= abs(v - hi) else ("upper", hi)
            parts.append(f"{name} = {v:.4g} on its {side} bound {b:.4g}")
        return "; ".join(parts)


def make_fit(
    model: str,
    formula: str,
    params: dict[str, float],
    x: np.ndarray,
    y: np.ndarray,
    predicted: np.ndarray,
    bounds: Sequence[tuple[float, float]] = (),
) -> Fit:
    """A Fit's statistics from its predictions: RSS, R², log-likelihood, AIC, BIC and the parameters on a bound."""
    n, k = int(y.size), len(params)
    rss = float(np.sum((y - predicted) ** 2))
    tss = float(np.sum((y - y.mean()) ** 2))
    if bounds and len(bounds) != k:
        raise ValueError(f"make_fit({model}): {len(bounds)} bounds for {k} parameters")
    at_bound = tuple(
        name
        for (name, v), (lo, hi) in zip(params.items(), bounds, strict=False)
        if min(v - lo, hi - v) <= BOUND_TOLERANCE * (hi - lo)
    )
    return Fit(
        model=model,
        formula=formula,
        params=params,
        k=k,
        n=n,
        rss=rss,
        r2=1.0 - rss / tss if tss > 0 else None,
        aic=aic(rss, n, k),
        bic=bic(rss, n, k),
        loglik=gaussian_loglik(rss, n),
        at_bound=at_bound,
        bounds=tuple((float(lo), float(hi)) for lo, hi in bounds),
    )


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

    @property
    def on_bound(self) -> bool:
        return bool(self.power.at_bound)

    def flag_text(self) -> str:
        """The warnings a reader must see next to this fit ('' when there are none)."""
        out = []
        if self.asymptote_above_max:
            out.append(
                f"⚠ fitted asymptote a = {self.a:.4f} exceeds the metric's maximum {self.metric_max:g}: the "
                "power law extrapolates to an impossible score, so read it as a description of this range of "
                "N only."
            )
        if self.on_bound:
            out.append(
                f"⚠ the fit ended on a parameter bound ({self.power.bound_text()}): the data do not determine "
                "it, so the parameter is the bound, not an estimate."
            )
        return " ".join(out)


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
        if np.isfinite(rss) and (best is None or rss < best[1]):
            best = (p, rss)
    if best is None:
        return None
    p, _ = best
    return make_fit(
        model,
        formula,
        {k: float(v) for k, v in zip(names, p, strict=True)},
        x,
        y,
        f(x, *p),
        list(zip(lo, hi, strict=True)),
    )


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


def power_curve(x, a, b, c):
    return a - b * np.power(x, -c)


def _power_jac(x, a, b, c):
    g = np.power(x, -c)
    return np.column_stack([np.ones_like(x), -g, b * g * np.log(x)])


def _expo(x, a, b, c):
    return a - b * np.exp(-c * x)


def _expo_jac(x, a, b, c):
    g = np.exp(-c * x)
    return np.column_stack([np.ones_like(x), -g, b * x * g])


def fit_power_law(
    best: Sequence[float | None],
    *,
    metric_max: float = 1.0,
    values: Sequence[float | None] | None = None,
    shuffles: int = 0,
    seed: int = 0,
) -> PowerLawResult | NotEnoughData:
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
    rivals = [
        make_fit("log", "α + β·ln N", {"alpha": float(lin[1]), "beta": float(lin[0])}, x, y, np.polyval(lin, np.log(x)))
    ]
    rates = np.geomspace(1e-3 / x.max(), 5.0, 40)
    expo = _fit(
        "exponential",
        "a − b·exp(−c·N)",
        ("a", "b", "c"),
        _expo,
        _expo_jac,
        x,
        y,
        [_start(lambda x_, c: np.exp(-c * x_), x, y, rates), (y.max(), span, 3.0 / x.max())],
        ([y.min() - 1.0, 0.0, 1e-8], [y.max() + 10.0, 10.0 * span + 10.0, 10.0]),
    )
    if expo is not None:
        rivals.append(expo)
    winner = min([power, *rivals], key=lambda f: f.aic).model
    shuffled = None
    if values is not None and shuffles > 0:
        shuffled = shuffled_r2(values, shuffles=shuffles, seed=seed)
    return PowerLawResult(
        n=len(y),
        power=power,
        rivals=tuple(rivals),
        best_by_aic=winner,
        metric_max=metric_max,
        asymptote_above_max=power.params["a"] > metric_max,
        shuffled_r2=shuffled,
        shuffles=shuffles if shuffled is not None else 0,
    )


def _power_fit(x: np.ndarray, y: np.ndarray) -> Fit | None:
    span = float(np.ptp(y))
    bounds = ([y.min() - 1.0, 0.0, 1e-6], [y.max() + 10.0, 10.0 * span + 10.0, 5.0])

    def fit_from(starts: list) -> Fit | None:
        return _fit("power", "a − b·N^(−c)", ("a", "b", "c"), power_curve, _power_jac, x, y, starts, bounds)

    fit = fit_from([_start(lambda x_, c: np.power(x_, -c), x, y, np.geomspace(1e-3, 5.0, 40))])
    if fit is None:  # the grid start failed (it should not): fall back to blind starts
        fit = fit_from([(y.max() + 0.1 * span, span + 1e-6, c0) for c0 in (0.1, 0.5, 1.5)])
    return fit


def shuffled_r2(values: Sequence[float | None], *, shuffles: int = 20, seed: int = 0) -> float | None:
    """Mean power-law R² over `shuffles` random orders of `values` (None when no order gives a fit)."""
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
        return power_curve(n, p["a"], p["b"], p["c"])
    if fit.model == "exponential":
        return _expo(n, p["a"], p["b"], p["c"])
    return p["alpha"] + p["beta"] * np.log(n)


def score_power_law(
    curve: Sequence[float | None], a: float, b: float, c: float, *, ns: Sequence[float] | None = None
) -> Fit | NotEnoughData:
    """RSS, R², AIC and BIC of the power law a − b·N^(−c) with *given* parameters on a curve.

    `curve[i]` is the value at N = `ns[i]` (default N = i + 1); None/NaN points are skipped. k = 3
    as if the parameters had been fitted here, so the AIC and BIC compare with `fit_power_law`'s.
    """
    ns_ = np.arange(1, len(curve) + 1, dtype=float) if ns is None else np.asarray(ns, dtype=float)
    if ns_.shape != (len(curve),):
        raise ValueError(f"score_power_law: {len(curve)} curve values but {ns_.size} N values")
    if np.any(ns_ <= 0) or not np.all(np.isfinite(ns_)):
        raise ValueError("score_power_law: every N must be a finite number > 0")
    keep = [i for i, v in enumerate(curve) if finite(v) is not None]
    if not keep:
        return NotEnoughData("power-law score", "no finite point on the curve", 0)
    x = ns_[keep]
    y = np.array([float(curve[i]) for i in keep])
    return make_fit(
        "power", "a − b·N^(−c) (given)", {"a": float(a), "b": float(b), "c": float(c)}, x, y, power_curve(x, a, b, c)
    )
