"""What an analysis returns when the input cannot support it.

Every analysis here returns either its result object or a `NotEnoughData` naming the analysis,
the reason and how much data there was. A report then prints a sentence instead of a NaN, a
division-by-zero warning or a crash: one group, all-equal values and three points are normal
states of a young campaign, not errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class NotEnoughData:
    """An analysis that cannot be computed honestly on this input; `reason` says why, `n` how much there was."""

    analysis: str
    reason: str
    n: int = 0

    def __str__(self) -> str:
        return f"{self.analysis}: not enough data ({self.reason}; n = {self.n})"


ROUNDING_RMS = 1e-12  # a spread below this fraction of the values' magnitude is floating-point rounding


def is_rounding_noise(ss: float, n: int, scale: float) -> bool:
    """Whether a sum of squares over `n` values of magnitude `scale` is zero up to floating-point rounding.

    An absolute threshold: root-mean-square spread <= ROUNDING_RMS × scale. A relative one (SS / total)
    would call a real but tiny noise "zero" whenever the effects are large.
    """
    return ss <= n * (ROUNDING_RMS * scale) ** 2


def finite(x: float | None) -> float | None:
    """`x` as a float, or None when it is missing, NaN or infinite (what tables and JSON metadata can hold)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def fmt(x: float | None, digits: int = 3) -> str:
    """A number for a report table; '-' for missing, scientific notation for tiny p-values."""
    if x is None:
        return "-"
    if x != 0 and abs(x) < 10 ** (-digits):
        return f"{x:.1e}"
    return f"{x:.{digits}f}"
