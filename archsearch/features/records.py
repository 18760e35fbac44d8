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


class CorruptFeaturesError(FeatureStoreError):
    """Stored bytes are unreadable or differ from what was written; the message names the file.

    Never retried (the bytes stay wrong) and never trained on: a features rerun recomputes or
    repacks whatever fails its check (see ``FeatureGroup.status``).
    """


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True)
class VideoMeta:
    """Per-video attributes stored in ``videos/<id>/zarr.json``.

    ``checksums`` are the CRC32C of the features and times bytes as written (see
    ``integrity``); None for a video written before checksums were recorded.
    """

    digest: str
    T: int
    written_at: str
    checksums: tuple[str, str] | None = None


@dataclass(frozen=True)
class PackInfo:
    """Summary of one immutable pack."""

    pack_id: str
    ids: tuple[str, ...]
    digests: tuple[str, ...]
    offsets: np.ndarray  # (n+1,) int64 row offsets into data
    created_at: str
    checksums: tuple[tuple[str, str], ...] | None = None  # per id: (features, times) of its packed rows

    @property
    def n_rows(self) -> int:
        return int(self.offsets[-1])


PROBLEM_KINDS = ("missing", "stale", "corrupt", "nonfinite", "malformed", "pack_corrupt", "pack_mismatch")


@dataclass
class VerifyReport:
    """Result of ``FeatureGroup.verify``: empty problem lists mean healthy.

    ``corrupt`` and ``malformed`` entries are ``"<id>: <reason naming the file>"``;
    ``pack_corrupt`` entries name the pack file that failed. ``unverified`` lists videos
    written before checksums were recorded: readable and finite, but not provably intact
    (a features rerun records their checksums).
    """

    n_checked: int = 0
    missing: list[str] = field(default_factory=list)  # expected but not visible
    stale: list[str] = field(default_factory=list)  # visible at another digest
    corrupt: list[str] = field(default_factory=list)  # unreadable, or bytes differ from their checksums
    nonfinite: list[str] = field(default_factory=list)  # NaN/inf in features or times (unverified videos)
    malformed: list[str] = field(default_factory=list)  # shape or time-order problems (unverified videos)
    pack_corrupt: list[str] = field(default_factory=list)  # pack files unreadable or differing from checksums
    pack_mismatch: list[str] = field(default_factory=list)  # packed rows are not the video's current arrays
    unverified: list[str] = field(default_factory=list)  # no checksums recorded (not a problem by itself)

    @property
    def ok(self) -> bool:
        return not any(getattr(self, kind) for kind in PROBLEM_KINDS)

    def problems(self) -> dict[str, list[str]]:
        """Each non-empty problem list by kind, in PROBLEM_KINDS order."""
        return {kind: getattr(self, kind) for kind in PROBLEM_KINDS if getattr(self, kind)}


@dataclass(frozen=True)
class Repair:
    """One thing a features rerun found broken and what it did about it."""

    path: str  # the file or directory that failed
    problem: str  # what was wrong, e.g. "checksum mismatch"
    action: str  # e.g. "removed; recomputed by this run", "pack unset; repacked by this run"

    def __str__(self) -> str:
        return f"{self.path}: {self.problem} -> {self.action}"
