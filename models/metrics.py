"""Average precision in numpy, equal to sklearn.metrics.average_precision_score (no torch, no sklearn import).

AP = sum_k (R_k - R_{k-1}) P_k over the distinct score thresholds, highest first: the step-wise area
under the precision-recall curve without interpolation. Tied scores form one threshold, exactly as in
sklearn, so the value does not depend on the order of tied items.

One class only: with no positive label AP is undefined (sklearn warns and returns 0.0). Here that
raises UndefinedMetricError unless the caller passes `if_no_positives` (e.g. 0.0 to mimic sklearn),
so an evaluation split without positives fails loudly instead of reporting a number. With no
negative label every threshold has precision 1, so AP = 1.0 (as in sklearn).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


class UndefinedMetricError(ValueError):
    """The metric has no value for these labels (e.g. AP with no positive example)."""


def _validate(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(y_score, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or y.shape != s.shape:
        raise ValueError(
            f"average_precision: expected 1-D y_true and y_score of equal length, got shapes {y.shape} and {s.shape}"
        )
    if y.size == 0:
        raise ValueError("average_precision: got no samples")
    if y.dtype == bool:
        y = y.astype(np.int8)
    if not np.isin(y, (0, 1)).all():
        bad = np.unique(y[~np.isin(y, (0, 1))])[:5]
        raise ValueError(f"average_precision: y_true must contain only 0/1 labels, found {bad.tolist()}")
    if not np.isfinite(s).all():
        i = int(np.flatnonzero(~np.isfinite(s))[0])
        raise ValueError(f"average_precision: y_score must be finite, got {s[i]} at index {i}")
    return y.astype(np.float64), s


def average_precision(y_true: ArrayLike, y_score: ArrayLike, *, if_no_positives: float | None = None) -> float:
    """Average precision of scores `y_score` (higher = more likely positive) for 0/1 labels `y_true`."""
    y, s = _validate(y_true, y_score)
    n_pos = y.sum()
    if n_pos == 0:
        if if_no_positives is not None:
            return float(if_no_positives)
        raise UndefinedMetricError(
            f"average_precision: y_true has no positive label among {y.size} samples, "
            "so AP is undefined (pass if_no_positives=... to choose a value)"
        )
    order = np.argsort(-s, kind="mergesort")  # highest score first
    y, s = y[order], s[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]  # one threshold per distinct score
    tp = np.cumsum(y)[last_of_tie]
    precision = tp / (last_of_tie + 1)
    recall = tp / n_pos
    return float(np.sum(np.diff(recall, prepend=0.0) * precision))
