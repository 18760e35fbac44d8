"""HDF5 import/export of feature groups, for features computed outside archsearch.

File layout (what ``export_h5`` writes and ``import_h5`` reads)::

    /                      attrs: feature_rate (Hz, required on import), dim, backbone, key,
                                  weights_digest, dataset, sampling (JSON), format
    /features/<video_id>   (T, D) features, float16 on export (float32/64 accepted on import)
                           attr digest: video-file digest the features were computed from
    /times/<video_id>      (T,) float64 seconds; optional on import (default arange(T) / rate)

A flat file with one (T, D) dataset per video id at the root (no ``features`` group) is
accepted too, since that is how most external feature dumps look.

Imported features become backbone ``precomputed:<name>`` under
``feature_key("precomputed:" + name, sha256(file bytes), {"feature_rate": rate})``: the key
changes whenever the file does, so a re-exported file never mixes with an older import.
Everything is validated before the group is created, so a bad file leaves no trace.
h5py is imported inside the functions to keep ``import archsearch.features`` light.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from archsearch.common import SAFE_NAME_RULE, is_safe_name
from archsearch.features.keys import canonical_json, feature_key
from archsearch.features.records import FeatureStoreError, FeatureValidationError, MissingFeaturesError
from archsearch.features.store import FeatureGroup, FeatureStore
from archsearch.features.validation import validate_features

__all__ = ["H5ImportError", "export_h5", "file_sha256", "import_h5"]

H5_FORMAT = "archsearch.features.h5/1"


class H5ImportError(FeatureStoreError):
    """An HDF5 feature file does not match the manifest or holds bad values."""


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Full sha256 hex of a file's bytes, streamed in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export_h5(group: FeatureGroup, path: str | os.PathLike[str], ids: Sequence[str] | None = None) -> Path:
    """Write ``ids`` (default: every visible video, sorted) of ``group`` to an HDF5 file.

    Written to a temporary sibling and renamed, so a crash never leaves a half file.
    """
    import h5py

    path = Path(path)
    digests = group.digests()
    ids = list(digests) if ids is None else list(ids)
    absent = [v for v in ids if v not in digests]
    if absent:
        raise MissingFeaturesError(f"export_h5: feature group {group.path} has no features for {_fmt_ids(absent)}")
    data = group.read_many(ids, digests=digests)
    a = group.attrs
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs.update(
                {
                    "format": H5_FORMAT,
                    "feature_rate": float(a["feature_rate"]),
                    "dim": int(a["dim"]),
                    "backbone": str(a["backbone"]),
                    "key": str(a["key"]),
                    "weights_digest": str(a["weights_digest"]),
                    "dataset": str(a["dataset"]),
                    "sampling": canonical_json(a["sampling"]),
                    "versions": json.dumps(a.get("versions", {}), sort_keys=True),
                }
            )
            fg, tg = f.create_group("features"), f.create_group("times")
            for vid in ids:
                feats, times = data[vid]  # (T, D) f16, (T,) f64
                ds = fg.create_dataset(vid, data=feats)
                ds.attrs["digest"] = digests[vid]
                tg.create_dataset(vid, data=times)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _fmt_ids(ids: Sequence[str]) -> str:
    shown = ", ".join(repr(v) for v in list(ids)[:10])
    return f"{len(ids)} ({shown}{', ...' if len(ids) > 10 else ''})"


def _video_datasets(f: Any, where: str) -> tuple[Any, Any | None, str]:
    """(features container, times container or None, prefix) for either layout."""
    import h5py

    if "features" in f and isinstance(f["features"], h5py.Group):
        times = f["times"] if "times" in f and isinstance(f["times"], h5py.Group) else None
        container, prefix = f["features"], "/features/"
    else:
        times = f["times"] if "times" in f and isinstance(f["times"], h5py.Group) else None
        container, prefix = f, "/"
    for name, obj in container.items():
        if isinstance(obj, h5py.Group) and not (container is f and name == "times"):
            raise H5ImportError(f"{where}: {prefix}{name} is a group; expected one (T, D) dataset per video id")
    return container, times, prefix


def read_rate(f: Any, where: str) -> float:
    """The file's required ``feature_rate`` attribute (Hz), checked."""
    if "feature_rate" not in f.attrs:
        raise H5ImportError(f"{where}: file attribute 'feature_rate' (Hz) is missing; it is required")
    try:
        rate = float(np.asarray(f.attrs["feature_rate"]).item())
    except (TypeError, ValueError) as exc:
        raise H5ImportError(f"{where}: attribute 'feature_rate' = {f.attrs['feature_rate']!r} is not a number") from exc
    if not (math.isfinite(rate) and rate > 0):
        raise H5ImportError(f"{where}: attribute 'feature_rate' must be a positive number, got {rate}")
    return rate


@dataclass
class H5Features:
    """The videos of one open HDF5 feature file, loaded and validated one at a time."""

    where: str
    container: Any
    times: Any | None
    prefix: str
    rate: float
    file_sha: str
    expected_digests: Mapping[str, str] | None
    dim: int | None = None
    dim_source: str = "the file attribute"

    @classmethod
    def open(cls, f: Any, where: str, sha: str, expected_digests: Mapping[str, str] | None) -> H5Features:
        rate = read_rate(f, where)
        container, times, prefix = _video_datasets(f, where)
        dim = int(np.asarray(f.attrs["dim"]).item()) if "dim" in f.attrs else None
        return cls(where, container, times, prefix, rate, sha, expected_digests, dim)

    def ids(self) -> list[str]:
        return [k for k in self.container if not (self.prefix == "/" and k == "times")]

    def check_ids(self, expected: Sequence[str]) -> None:
        """The file must hold exactly the manifest's ids, and digests (when given) must cover them."""
        missing = [v for v in expected if v not in self.container]
        extra = sorted(set(self.ids()) - set(expected))
        if missing or extra:
            parts = [f"missing {_fmt_ids(missing)}"] if missing else []
            parts += [f"extra {_fmt_ids(extra)}"] if extra else []
            raise H5ImportError(f"{self.where}: video ids do not match the manifest: " + "; ".join(parts))
        if self.expected_digests is not None:
            nodig = [v for v in expected if v not in self.expected_digests]
            if nodig:
                raise H5ImportError(f"{self.where}: expected_digests lack {_fmt_ids(nodig)}")

    def load(self, vid: str) -> tuple[np.ndarray, np.ndarray, str]:
        """(features (T, D) f16, times (T,) f64, video digest) of one video, validated; fixes ``dim`` on first use."""
        ds_name = f"{self.where}:{self.prefix}{vid}"
        ds = self.container[vid]
        if ds.ndim != 2:
            raise H5ImportError(f"{ds_name}: expected a 2-D (T, D) dataset, got shape {ds.shape}")
        if self.dim is not None and ds.shape[1] != self.dim:
            raise H5ImportError(f"{ds_name}: dim {ds.shape[1]} disagrees with {self.dim_source} dim {self.dim}")
        feats = ds[...]
        if self.times is not None and vid in self.times:
            times = self.times[vid][...]
        else:
            times = np.arange(feats.shape[0], dtype=np.float64) / self.rate
        try:
            feats, times = validate_features(ds_name, feats, times, ds.shape[1])
        except FeatureValidationError as exc:
            raise H5ImportError(str(exc)) from exc
        if self.dim is None:
            self.dim, self.dim_source = int(feats.shape[1]), f"the first video's ({vid!r})"
        return feats, times, self.digest(vid, ds, ds_name)

    def digest(self, vid: str, ds: Any, ds_name: str) -> str:
        attr_digest = str(ds.attrs["digest"]) if "digest" in ds.attrs else None
        if self.expected_digests is None:
            return attr_digest or "h5:" + self.file_sha[:16]
        digest = self.expected_digests[vid]
        if attr_digest is not None and attr_digest != digest:
            raise H5ImportError(
                f"{ds_name}: features were computed from video digest {attr_digest}, but the manifest says {digest}"
            )
        return digest


def import_h5(
    path: str | os.PathLike[str],
    store: FeatureStore,
    dataset: str,
    name: str,
    expected_ids: Iterable[str],
    expected_digests: Mapping[str, str] | None = None,
) -> FeatureGroup:
    """Import external features as backbone ``precomputed:<name>``; returns the group.

    ``expected_ids`` are the manifest's ids: the file must hold exactly these (missing
    and extra ids are both reported). ``expected_digests`` (id -> video digest, normally
    the manifest's ``video_digest``) become each video's digest, so ``status`` against the
    manifest works; without it a per-dataset ``digest`` attribute is used, else
    ``"h5:" + file digest``. Resumable: videos already imported at the same digest (and
    passing their integrity check) are skipped.
    """
    import h5py

    path = Path(path)
    where = str(path)
    if not is_safe_name(name):
        raise H5ImportError(f"{where}: name {name!r}: expected {SAFE_NAME_RULE}")
    expected = list(dict.fromkeys(expected_ids))
    if not path.is_file():
        raise H5ImportError(f"{where}: no such file")
    sha = file_sha256(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise H5ImportError(f"{where}: not a readable HDF5 file ({exc})") from exc
    with f:
        source = H5Features.open(f, where, sha, expected_digests)
        source.check_ids(expected)
        digests = {vid: source.load(vid)[2] for vid in expected}  # pass 1: validate everything before any write
        if source.dim is None:
            raise H5ImportError(f"{where}: no videos and no 'dim' attribute; nothing to import")
        backbone, sampling = f"precomputed:{name}", {"feature_rate": source.rate}
        attrs = {
            "backbone": backbone,
            "weights_digest": sha,
            "sampling": sampling,
            "feature_rate": source.rate,
            "dim": source.dim,
            "source_file": path.name,
            "versions": {"h5py": h5py.__version__},
        }
        group = store.group(dataset, feature_key(backbone, sha, sampling), attrs=attrs)
        _, todo = group.status(digests)
        for vid in todo:  # pass 2: write what is not there yet
            feats, times, digest = source.load(vid)
            group.write(vid, digest, feats, times)
    return group
