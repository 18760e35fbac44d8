"""How the feature store names things: cache keys, canonical JSON, directory names, stamps.

A cache is addressed by ``feature_key(backbone, weights_digest, sampling)``; every caller
(feature asset, HDF5 import) must hash the same canonical form or equal inputs would land
in different caches. Names become directory names, so they are checked here once.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from archsearch.features.records import FeatureStoreError

__all__ = ["canonical_json", "feature_key"]

KEY_RE = re.compile(r"^[0-9a-f]{16}$")


def canonical_value(obj: Any) -> Any:
    """JSON-ready normal form: numpy scalars -> Python, integral floats -> int, tuples -> lists.

    Integral floats become ints so that ``{"fps": 5}`` and ``{"fps": 5.0}`` address one cache.
    """
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise FeatureStoreError(f"sampling/attrs: expected finite numbers, got {obj!r}")
        return int(obj) if obj.is_integer() else obj
    if isinstance(obj, Mapping):
        return {str(k): canonical_value(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [canonical_value(v) for v in obj]
    raise FeatureStoreError(f"sampling/attrs: value {obj!r} of type {type(obj).__name__} is not JSON-able")


def canonical_json(obj: Any) -> str:
    """Sorted, compact, ASCII JSON of ``canonical_value(obj)``: the one hashing form."""
    return json.dumps(canonical_value(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def feature_key(backbone: str, weights_digest: str, sampling: Mapping[str, Any]) -> str:
    """First 16 hex of sha256 over canonical JSON of (backbone, weights digest, sampling).

    Every caller (feature asset, HDF5 import) uses this one definition, so equal inputs
    always share a cache and any change in weights or sampling gets a fresh one.
    """
    payload = canonical_json({"backbone": backbone, "weights_digest": weights_digest, "sampling": dict(sampling)})
    return hashlib.sha256(payload.encode("ascii")).hexdigest()[:16]
