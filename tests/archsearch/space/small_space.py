"""A small search space the space tests share."""

from __future__ import annotations


def small_raw() -> dict:
    """A 3 x 2 x 1 x 2 x 2 = 24-cell space for exhaustive checks."""
    return {
        "name": "small",
        "groups": {
            "architecture": {"backbone": ["a", "b", "c"], "encoder": ["gru", "zipformer"], "pooling": ["mean"]},
            "training": {"lr": [1.0e-4, 1.0e-3], "epochs": [5, 10]},
        },
        "defaults": {"lr": 1.0e-3, "epochs": 10},
    }
