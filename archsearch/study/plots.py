"""The study's own figure: differences between agents with their intervals (a forest plot), as PNG bytes."""

from __future__ import annotations

import io

from archsearch.study.variants import VariantAnalysis


def differences_png(v: VariantAnalysis) -> bytes | None:
    """One row per agent pair and N: the best-at-N difference and its interval; None when nothing has one."""
    rows = [
        (f"{a} − {b}, N = {n}", d)
        for (a, b), per in v.differences.items()
        for n, d in per.items()
        if d.mean is not None
    ]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 0.32 * len(rows) + 1.3))
    for i, (_, d) in enumerate(rows):
        lo = d.mean if d.lo is None else d.lo
        hi = d.mean if d.hi is None else d.hi
        color = "tab:green" if lo > 0 else "tab:red" if hi < 0 else "tab:gray"
        ax.errorbar(d.mean, i, xerr=[[d.mean - lo], [hi - d.mean]], fmt="o", color=color, ms=4, capsize=3)
    ax.axvline(0.0, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)), [label for label, _ in rows], fontsize=7)
    ax.invert_yaxis()
    level = round(100 * rows[0][1].level)
    ax.set_xlabel(f"difference in best val mAP at N ({level} % interval over campaigns)")
    ax.set_title(f"{v.dataset}: agent differences (green/red: interval excludes 0)", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
