"""The feature store's error types and the small records it returns.

Kept apart so every feature-store module (keys, validation, packs, the store API) can
raise the same errors and build the same records without importing each other in a
circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class FeatureStoreError(ValueError):
    """Any feature-store failure; the message names the group/video and what was expected."""


class FeatureValidationError(FeatureStoreError):
    """Features or timestamps passed to ``write`` are malformed."""


class GroupConflictError(FeatureStoreError):
    """An existing group's attributes disagree with the ones requested."""


class MissingFeaturesError(FeatureStoreError):
    """Requested video ids are not in the group (or not at the requested digest)."""


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True)
class VideoMeta:
    """Per-video attributes stored in ``videos/<id>/zarr.json``."""

    digest: str
    T: int
    written_at: str


@dataclass(frozen=True)
class PackInfo:
    """Summary of one immutable pack."""

    pack_id: str
    ids: tuple[str, ...]
    digests: tuple[str, ...]
    offsets: np.ndarray  # (n+1,) int64 row offsets into data
    created_at: str

    @property
    def n_rows(self) -> int:
        return int(self.offsets[-1])


@dataclass
class VerifyReport:
    """Result of ``FeatureGroup.verify``: empty lists mean healthy."""

    n_checked: int = 0
    missing: list[str] = field(default_factory=list)  # expected but not visible
    stale: list[str] = field(default_factory=list)  # visible at another digest
    nonfinite: list[str] = field(default_factory=list)  # NaN/inf in features or times
    malformed: list[str] = field(default_factory=list)  # unreadable / shape or order problems
    pack_mismatch: list[str] = field(default_factory=list)  # packed rows differ from the video

    @property
    def ok(self) -> bool:
        return not (self.missing or self.stale or self.nonfinite or self.malformed or self.pack_mismatch)
