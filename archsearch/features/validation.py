"""Input checks of the feature store: features/times passed to ``write`` and group attrs.

Everything that enters a group is checked here before it is staged, so a bad array or a
mistyped attr fails with a message naming the group/video and what was expected instead
of producing a cache that readers later trip over.
"""

from __future__ import annotations

import math
import platform
from collections.abc import Mapping
from typing import Any

import numcodecs
import numpy as np
import zarr

from archsearch.common import utc_now
from archsearch.features.keys import canonical_value, feature_key
from archsearch.features.records import FeatureStoreError, FeatureValidationError, GroupConflictError

__all__ = ["FORMAT", "REQUIRED_ATTRS", "normalize_attrs", "validate_features"]

FORMAT = "archsearch.features/1"
FLOAT16_MAX = 65504.0
REQUIRED_ATTRS = ("backbone", "weights_digest", "sampling", "feature_rate", "dim")


def _library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "zarr": zarr.__version__,
        "numpy": np.__version__,
        "numcodecs": numcodecs.__version__,
    }


def validate_features(where: str, features: Any, times: Any, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Checked copies (features (T, D) float16, times (T,) float64); errors start with ``where``.

    Rejects: not 2-D, wrong dim, T = 0, non-float, NaN/inf, |x| > 65504 (float16 overflow),
    times not 1-D of length T, non-finite or not strictly increasing times.
    """
    feats = np.asarray(features)
    if feats.ndim != 2:
        raise FeatureValidationError(f"{where}: features must be 2-D (T, D), got shape {feats.shape}")
    if feats.shape[1] != dim:
        raise FeatureValidationError(f"{where}: features have dim {feats.shape[1]}, the group's dim is {dim}")
    if feats.shape[0] < 1:
        raise FeatureValidationError(f"{where}: features have no time steps (T = 0)")
    if not np.issubdtype(feats.dtype, np.floating):
        raise FeatureValidationError(f"{where}: features must be floating point, got dtype {feats.dtype}")
    finite = np.isfinite(feats)
    if not finite.all():
        t_bad, d_bad = np.argwhere(~finite)[0]
        raise FeatureValidationError(
            f"{where}: features contain {int((~finite).sum())} NaN/inf values "
            f"(first at step {t_bad}, dim {d_bad}: {feats[t_bad, d_bad]})"
        )
    if feats.dtype != np.float16:
        peak = float(np.abs(feats).max())
        if peak > FLOAT16_MAX:
            raise FeatureValidationError(
                f"{where}: features reach |x| = {peak:.6g}, beyond the float16 range +-{FLOAT16_MAX:g}; "
                "normalize them before caching"
            )
    t = np.asarray(times)
    if t.ndim != 1 or t.shape[0] != feats.shape[0]:
        raise FeatureValidationError(f"{where}: times must be 1-D of length T = {feats.shape[0]}, got shape {t.shape}")
    if not (np.issubdtype(t.dtype, np.floating) or np.issubdtype(t.dtype, np.integer)) or t.dtype == bool:
        raise FeatureValidationError(f"{where}: times must be numbers (seconds), got dtype {t.dtype}")
    t = t.astype(np.float64)
    if not np.isfinite(t).all():
        raise FeatureValidationError(f"{where}: times contain NaN/inf")
    if t.shape[0] > 1 and not (np.diff(t) > 0).all():
        i = int(np.argmin(np.diff(t) > 0))
        raise FeatureValidationError(
            f"{where}: times must be strictly increasing, but times[{i}] = {t[i]} >= times[{i + 1}] = {t[i + 1]}"
        )
    return np.ascontiguousarray(feats, dtype=np.float16), np.ascontiguousarray(t)


def normalize_attrs(dataset: str, key: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The attrs a new group ``dataset/key`` is stamped with, after checking the caller's.

    Requires REQUIRED_ATTRS, checks that ``key`` is ``feature_key`` of them, canonicalizes
    the values and adds format, dataset, key, library versions and the creation time.
    """
    missing = [k for k in REQUIRED_ATTRS if k not in attrs]
    if missing:
        raise FeatureStoreError(
            f"feature group {dataset}/{key}: attrs lack {missing}; required: {list(REQUIRED_ATTRS)}"
        )
    backbone, weights_digest = attrs["backbone"], attrs["weights_digest"]
    if not isinstance(backbone, str) or not backbone:
        raise FeatureStoreError(f"feature group {dataset}/{key}: attr 'backbone' must be a non-empty string")
    if not isinstance(weights_digest, str):
        raise FeatureStoreError(f"feature group {dataset}/{key}: attr 'weights_digest' must be a string")
    if not isinstance(attrs["sampling"], Mapping):
        raise FeatureStoreError(f"feature group {dataset}/{key}: attr 'sampling' must be a mapping")
    try:
        rate = float(attrs["feature_rate"])
        dim = attrs["dim"]
        dim_ok = isinstance(dim, (int, np.integer)) and not isinstance(dim, bool) and int(dim) > 0
    except (TypeError, ValueError):
        rate, dim_ok = float("nan"), False
    if not (math.isfinite(rate) and rate > 0):
        raise FeatureStoreError(
            f"feature group {dataset}/{key}: attr 'feature_rate' must be a positive number (Hz), "
            f"got {attrs['feature_rate']!r}"
        )
    if not dim_ok:
        raise FeatureStoreError(
            f"feature group {dataset}/{key}: attr 'dim' must be a positive int, got {attrs['dim']!r}"
        )
    expected_key = feature_key(backbone, weights_digest, attrs["sampling"])
    if key != expected_key:
        raise GroupConflictError(
            f"feature group {dataset}/{key}: key does not match feature_key({backbone!r}, "
            f"{weights_digest!r}, sampling) = {expected_key}"
        )
    if "key" in attrs and attrs["key"] != key:
        raise GroupConflictError(f"feature group {dataset}/{key}: attrs['key'] = {attrs['key']!r} differs from the key")
    out = canonical_value({k: v for k, v in attrs.items() if k != "versions"})
    out.update(
        format=FORMAT,
        dataset=dataset,
        key=key,
        feature_rate=rate,
        dim=int(dim),
        sampling=canonical_value(attrs["sampling"]),
        versions={**_library_versions(), **canonical_value(attrs.get("versions") or {})},
        created_at=utc_now(),
    )
    return out
