"""Lightweight temporal heads trained over cached frozen-backbone features: `build_head(HeadConfig(...))`.

forward(x (B, T, D) float, mask (B, T) bool, True = valid step) -> logits (B,). Importing this package is
cheap (no torch): the config and names load eagerly, the torch modules on first use.
"""

from __future__ import annotations

from typing import Any

from .config import DEFAULT_LAYERS, ENCODERS, POOLINGS, HeadConfig, HeadConfigError

_LAZY = {
    "build_head": "registry",
    "count_parameters": "registry",
    "TemporalHead": "registry",
    "ENCODER_BUILDERS": "registry",
}

__all__ = ["ENCODERS", "POOLINGS", "DEFAULT_LAYERS", "HeadConfig", "HeadConfigError", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
