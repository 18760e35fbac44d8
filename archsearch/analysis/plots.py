"""The report's figures as PNG bytes (matplotlib, Agg backend, no display needed).

Each function takes analysis results, not raw data, so a figure always shows exactly the
numbers the report prints; it returns None when there is nothing to draw (the report then says
why in words instead of showing an empty axis).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from archsearch.analysis.anova import AnovaSummary, Balanced, OneWay
from archsearch.analysis.base import NotEnoughData
from archsearch.analysis.best_at_n import METHOD_TEXT, Curve
from archsearch.analysis.diversity import EntropyTimeline, JsdTimeline
from archsearch.analysis.powerlaw import PowerLawResult, predict
from archsearch.analysis.table import ok_rows

DPI = 100


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    plt = _plt()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})  # no version stamp: same input, same bytes
    plt.close(fig)
    return buf.getvalue()


def _xy(values: Sequence[float | None]) -> tuple[np.ndarray, np.ndarray]:
    y = np.array([np.nan if v is None else v for v in values], dtype=float)
    return np.arange(1, len(y) + 1), y


def best_at_n_png(curves: Mapping[str, Curve | NotEnoughData], metric: str = "val mAP") -> bytes | None:
    """Best-so-far against N per agent on its common horizon; shaded band = the interval over campaigns."""
    good = {a: c for a, c in curves.items() if isinstance(c, Curve)}
    if not good:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for agent, c in good.items():
        x, y = _xy(c.mean)
        k = len(c.campaigns)
        (line,) = ax.plot(x, y, label=f"{agent} ({k} campaign{'s' if k > 1 else ''}{'' if c.has_ci else ', no CI'})")
        if c.has_ci:
            _, lo = _xy(c.lo)
            _, hi = _xy(c.hi)
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel("N experiments (proposal order)")
    ax.set_ylabel(f"best {metric} so far")
    banded = [c for c in good.values() if c.has_ci]
    band = f"bands: {int(round(100 * banded[0].level))} % {METHOD_TEXT[banded[0].method]}" if banded else "no intervals"
    ax.set_title(f"Best-at-N ({band})", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def power_law_png(
    curves: Mapping[str, Curve | NotEnoughData],
    fits: Mapping[str, PowerLawResult | NotEnoughData],
    metric: str = "val mAP",
) -> bytes | None:
    """Best-so-far points and the fitted power law (solid) and best rival (dotted) per agent, log N axis."""
    good = {a: f for a, f in fits.items() if isinstance(f, PowerLawResult) and isinstance(curves.get(a), Curve)}
    if not good:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for agent, fit in good.items():
        x, y = _xy(curves[agent].mean)
        pts = ax.plot(x, y, ".", ms=3, alpha=0.6)[0]
        xs = np.linspace(1, x.max(), 200)
        flag = " ⚠ a>max" if fit.asymptote_above_max else ""
        ax.plot(
            xs,
            predict(fit.power, xs),
            color=pts.get_color(),
            label=f"{agent}: a={fit.a:.3f} c={fit.c:.3f} R²={fit.power.r2:.3f}{flag}",
        )
        rival = min(fit.rivals, key=lambda f: f.aic)
        ax.plot(xs, predict(rival, xs), ":", color=pts.get_color(), alpha=0.8)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_xlabel("N experiments (log)")
    ax.set_ylabel(f"best {metric} so far")
    ax.set_title("Power-law fit a − b·N^(−c) (solid); best rival by AIC (dotted)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _png(fig)


def eta_bars_png(summary: AnovaSummary) -> bytes | None:
    """η² per cell definition (whiskers: balanced-draw CI) and per single dimension."""
    names, vals, errs = [], [], []
    for name, r in summary.one_way.items():
        if isinstance(r, OneWay):
            names.append(f"cells: {name}")
            vals.append(r.eta2)
            b = summary.balanced.get(name)
            # max(0, ·): when every draw gives the same η² the mean can sit a rounding error outside its interval
            errs.append(
                (max(0.0, b.eta2.mean - b.eta2.lo), max(0.0, b.eta2.hi - b.eta2.mean))
                if isinstance(b, Balanced)
                else (0.0, 0.0)
            )
    for name, r in summary.per_dimension.items():
        if isinstance(r, OneWay):
            names.append(name)
            vals.append(r.eta2)
            errs.append((0.0, 0.0))
    if not names:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(names) + 1.2))
    y = np.arange(len(names))
    ax.barh(y, vals, color=["tab:blue" if n.startswith("cells") else "tab:gray" for n in names])
    for i, e in enumerate(errs):  # whisker around the balanced mean, drawn where it is, not on the unbalanced bar
        b = summary.balanced.get(names[i].removeprefix("cells: ")) if names[i].startswith("cells: ") else None
        if isinstance(b, Balanced):
            ax.errorbar(b.eta2.mean, i, xerr=[[e[0]], [e[1]]], fmt="o", color="black", ms=3, capsize=3)
    ax.set_yticks(y, names, fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"η² of {summary.metric} (n = {summary.n}); dot+whisker: balanced mean and CI")
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def entropy_png(timelines: Mapping[str, EntropyTimeline | NotEnoughData]) -> bytes | None:
    """Architecture-cell and training-value entropy per window, one line per agent (and overall)."""
    good = {k: t for k, t in timelines.items() if isinstance(t, EntropyTimeline)}
    if not good:
        return None
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 3.2), sharex=False)
    for label, t in good.items():
        style = "--" if label == "overall" else "-"
        a1.plot(t.end, t.architecture_bits, style, label=label)
        a2.plot(t.end, t.training_bits, style, label=label)
    w = next(iter(good.values()))
    a1.set_title(f"architecture cells (window {w.window}, step {w.step})", fontsize=9)
    a2.set_title("training values (mean over dimensions)", fontsize=9)
    for ax in (a1, a2):
        ax.set_xlabel("proposal index (window end)")
        ax.set_ylabel("entropy (bits)")
        ax.grid(alpha=0.3)
    a1.legend(fontsize=7)
    return _png(fig)


def jsd_png(timelines: Mapping[tuple[str, str], JsdTimeline | NotEnoughData]) -> bytes | None:
    """JSD between agents' cell distributions: cumulative (solid) and windowed (dotted)."""
    good = {k: t for k, t in timelines.items() if isinstance(t, JsdTimeline)}
    if not good:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    for (a, b), t in good.items():
        x = np.array(t.end)
        (line,) = ax.plot(x, [np.nan if v is None else v for v in t.cumulative], label=f"{a} vs {b} (cumulative)")
        ax.plot(x, [np.nan if v is None else v for v in t.windowed], ":", color=line.get_color(), label="windowed")
    ax.set_ylim(0, 1)
    ax.set_xlabel("proposal index of each agent")
    ax.set_ylabel("Jensen–Shannon divergence (bits)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _png(fig)


def heatmap_png(
    frame: pl.DataFrame, rows: str = "backbone", cols: str = "encoder", metric: str = "val_map"
) -> bytes | None:
    """Mean metric per (rows × cols) cell of ok runs, each cell annotated with its mean and n."""
    ok = ok_rows(frame, metric) if frame.height else frame
    if ok.height == 0 or rows not in ok.columns or cols not in ok.columns:
        return None
    agg = ok.group_by([rows, cols]).agg(pl.col(metric).mean().alias("m"), pl.len().alias("n"))
    r_lab = sorted(str(v) for v in agg[rows].unique().to_list())
    c_lab = sorted(str(v) for v in agg[cols].unique().to_list())
    grid = np.full((len(r_lab), len(c_lab)), np.nan)
    counts = np.zeros_like(grid, dtype=int)
    for r in agg.iter_rows(named=True):
        i, j = r_lab.index(str(r[rows])), c_lab.index(str(r[cols]))
        grid[i, j], counts[i, j] = r["m"], r["n"]
    plt = _plt()
    fig, ax = plt.subplots(figsize=(1.3 * len(c_lab) + 2.5, 0.5 * len(r_lab) + 1.5))
    im = ax.imshow(np.ma.masked_invalid(grid), cmap="viridis", aspect="auto")
    for i in range(len(r_lab)):
        for j in range(len(c_lab)):
            if counts[i, j]:
                ax.text(
                    j,
                    i,
                    f"{grid[i, j]:.3f}\nn={counts[i, j]}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if grid[i, j] < np.nanmean(grid) else "black",
                )
    ax.set_xticks(range(len(c_lab)), c_lab, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(r_lab)), r_lab, fontsize=8)
    ax.set_title(f"mean {metric} by {rows} × {cols} (ok runs)", fontsize=9)
    fig.colorbar(im, ax=ax)
    return _png(fig)
