"""Frozen backbones chosen by name: `get_backbone(name).extract(frames, timestamps)`.

Every backbone emits causal features on the same 5 Hz grid (t_k = k / 5 s). Importing this package
is cheap (no torch); torch and transformers load when a backbone is built.
"""

from .base import (
    DEFAULT_FEATURE_RATE,
    PREPROCESS_VERSION,
    Backbone,
    InputSpec,
    MissingWeightsError,
    UnknownBackboneError,
)
from .engines import RUNTIMES, RuntimeChoice, RuntimeUnavailableError
from .registry import OFFLINE_DEFAULT, PAPER_SET, available_backbones, get_backbone

__all__ = [
    "DEFAULT_FEATURE_RATE",
    "OFFLINE_DEFAULT",
    "PAPER_SET",
    "PREPROCESS_VERSION",
    "RUNTIMES",
    "Backbone",
    "InputSpec",
    "MissingWeightsError",
    "RuntimeChoice",
    "RuntimeUnavailableError",
    "UnknownBackboneError",
    "available_backbones",
    "get_backbone",
]
