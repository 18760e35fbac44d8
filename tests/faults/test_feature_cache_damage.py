"""Fault: damaged feature-cache files (flipped bytes, truncation, deletion) on a real extracted store.

Each case damages one file of a store that ``extract_dataset`` built from real clips with the real
``pixels`` backbone, then asserts the recovery the README promises:
  1. the integrity check gives a verdict naming the damaged file (never an exception);
  2. no reader returns wrong bytes: every read is bit-identical to the undamaged store or raises
     ``CorruptFeaturesError`` naming the file and how to repair;
  3. a features rerun recomputes (per video) or repacks (pack) exactly what is damaged, reports it
     in ``store.repairs``, and ends bit-identical to the undamaged store with the check green.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from archsearch.features import CorruptFeaturesError, FeatureStore
from archsearch.features.extraction import BackboneRecipe, extract_dataset, open_group, split_order
from tests.conftest import toy_manifest

N = 6


@pytest.fixture(scope="module")
def pixels():
    return BackboneRecipe("pixels").build()


@pytest.fixture(scope="module")
def reference(tmp_path_factory, pixels):
    """(manifest, undamaged store dir, split-order ids, {id: (features, times)}) from real clips."""
    root = tmp_path_factory.mktemp("reference")
    manifest = toy_manifest(root, n=N)
    report = extract_dataset(manifest, pixels, FeatureStore(root / "store"), progress=False)
    assert (report.misses, report.packed) == (N, True)
    group = open_group(FeatureStore(root / "store"), "toy", pixels)
    arrays = {vid: tuple(a.copy() for a in group.read(vid)) for vid in group.ids()}
    return manifest, root / "store", split_order(manifest), arrays


def flip(at: int | None = None) -> Callable[[Path], None]:
    """XOR one byte in place (as bit rot or a stray write would): at ``at``, else mid-file."""

    def damage(path: Path) -> None:
        data = bytearray(path.read_bytes())
        data[len(data) // 2 if at is None else at] ^= 0x5A
        path.write_bytes(bytes(data))

    return damage


def truncate(keep: int | None = None) -> Callable[[Path], None]:
    """Cut the file to ``keep`` bytes, else to half (as a full disk or an interrupted copy would)."""

    def damage(path: Path) -> None:
        with open(path, "r+b") as fh:
            fh.truncate(path.stat().st_size // 2 if keep is None else keep)

    return damage


def edit_offsets(path: Path) -> None:
    """A pack index that is still valid JSON but places a video's rows wrongly (a plausible wrong number)."""
    meta = json.loads(path.read_text())
    meta["attributes"]["offsets"][1] += 1
    path.write_text(json.dumps(meta, indent=2))


def pack_dir(group) -> Path:
    return group.packs_path / group.pack_info().pack_id


def pack_chunk(name: str) -> Callable:
    return lambda g: pack_dir(g) / name / "c" / ("0/0" if name == "data" else "0")


def video_file(vid: str, *parts: str) -> Callable:
    return lambda g: g.videos_path.joinpath(vid, *parts)


@dataclass(frozen=True)
class Case:
    name: str
    target: Callable  # group -> the file to damage
    damage: Callable[[Path], None]
    recomputed: int  # videos the rerun must recompute (0: a repack is enough)


# This store's pack is one chunk of 72 rows, so every byte of a pack chunk belongs to some video's rows.
CASES = [
    Case("flip-pack-data-rows", pack_chunk("data"), flip(100), 0),
    Case("flip-pack-times-rows", pack_chunk("times"), flip(100), 0),
    Case("truncate-pack-data-chunk", pack_chunk("data"), truncate(100), 0),
    Case("truncate-pack-data-chunk-to-half", pack_chunk("data"), truncate(), 0),
    Case("delete-pack-data-chunk", pack_chunk("data"), Path.unlink, 0),
    Case("truncate-pack-index", lambda g: pack_dir(g) / "zarr.json", truncate(), 0),
    Case("delete-current-pack", pack_dir, shutil.rmtree, 0),
    Case("edit-pack-index-offsets", lambda g: pack_dir(g) / "zarr.json", edit_offsets, 0),
    Case("truncate-pack-pointer", lambda g: g.packs_path / "zarr.json", truncate(), 0),
    Case("flip-video-features-chunk", video_file("00001", "features", "c", "0", "0"), flip(), 1),
    Case("flip-video-times-chunk", video_file("00002", "times", "c", "0"), flip(), 1),
    Case("truncate-video-features-chunk", video_file("00003", "features", "c", "0", "0"), truncate(), 1),
    Case("delete-video-times-chunk", video_file("00004", "times", "c", "0"), Path.unlink, 1),
    Case("truncate-video-zarr-json", video_file("00005", "zarr.json"), truncate(), 1),
    Case("truncate-video-array-zarr-json", video_file("00000", "times", "zarr.json"), truncate(), 1),
    Case("delete-video-zarr-json", video_file("00005", "zarr.json"), Path.unlink, 1),
    Case("delete-video-array-zarr-json", video_file("00001", "features", "zarr.json"), Path.unlink, 1),
]


def check_reads(group, ids, arrays, target: Path, digests: dict[str, str]) -> int:
    """Every read (one video, a whole split as experiments read it) returns the reference bits or
    refuses, naming ``target`` and the repair; returns how many refused."""
    reads = [(vid, lambda vid=vid: group.read(vid)) for vid in ids]
    reads.append(("split", lambda: group.read_many(ids, digests=digests)))
    reads.append(("digests", lambda: {vid: arrays[vid] for vid in group.digests()}))
    refused = 0
    for what, read in reads:
        try:
            got = read()
        except CorruptFeaturesError as exc:
            assert str(target) in str(exc) and "rerun the features of backbone 'pixels'" in str(exc), (what, exc)
            refused += 1
            continue
        for vid, (f, t) in got.items() if what in ("split", "digests") else [(what, got)]:
            assert np.array_equal(f.view(np.uint16), arrays[vid][0].view(np.uint16)), (what, vid)
            assert np.array_equal(t, arrays[vid][1]), (what, vid)
    return refused


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_damage_gets_a_verdict_no_wrong_read_and_a_repair(case, reference, pixels, tmp_path):
    manifest, ref_dir, ids, arrays = reference
    shutil.copytree(ref_dir, tmp_path / "store")
    group = open_group(FeatureStore(tmp_path / "store"), "toy", pixels)
    target = case.target(group)
    case.damage(target)
    expected = dict(manifest.select("video_id", "video_digest").iter_rows())

    fresh = FeatureStore(tmp_path / "store").group("toy", group.key)  # what the features_complete check opens
    report = fresh.verify(expected)
    found = [entry for entries in report.problems().values() for entry in entries]
    assert not report.ok and any(str(target) in entry for entry in found), found
    assert check_reads(fresh, ids, arrays, target, expected) > 0  # the damage is in bytes some read needs

    store = FeatureStore(tmp_path / "store")
    rerun = extract_dataset(manifest, pixels, store, progress=False)
    assert (rerun.misses, rerun.hits, rerun.packed) == (case.recomputed, N - case.recomputed, True)
    assert any(str(target) in str(r) for r in store.repairs), store.repairs
    healed = open_group(FeatureStore(tmp_path / "store"), "toy", pixels)
    assert healed.verify(expected).ok
    check_reads(healed, ids, arrays, Path("/nothing may fail now"), manifest_digests(manifest))
    again = FeatureStore(tmp_path / "store")
    assert extract_dataset(manifest, pixels, again, progress=False).misses == 0 and again.repairs == []


def test_unreadable_group_metadata_is_a_verdict_then_rewritten(reference, pixels, tmp_path):
    manifest, ref_dir, ids, arrays = reference
    shutil.copytree(ref_dir, tmp_path / "store")
    group = open_group(FeatureStore(tmp_path / "store"), "toy", pixels)
    target = group.path / "zarr.json"
    truncate()(target)
    with pytest.raises(CorruptFeaturesError, match=f"{target}: not valid JSON.*features run for this backbone"):
        FeatureStore(tmp_path / "store").group("toy", group.key)  # a check opens it without attrs
    store = FeatureStore(tmp_path / "store")
    rerun = extract_dataset(manifest, pixels, store, progress=False)  # the run knows the attrs: rewrites it
    assert rerun.misses == 0 and [r.path for r in store.repairs] == [str(target)]
    healed = FeatureStore(tmp_path / "store").group("toy", group.key)
    assert healed.attrs["backbone"] == "pixels" and healed.verify(manifest_digests(manifest)).ok
    check_reads(healed, ids, arrays, Path("/nothing may fail now"), manifest_digests(manifest))


def test_rerun_after_damage_everywhere_recomputes_only_the_damaged_videos(reference, pixels, tmp_path):
    """Several faults at once: each damaged video recomputed, the pack rebuilt, every other video reused."""
    manifest, ref_dir, ids, arrays = reference
    shutil.copytree(ref_dir, tmp_path / "store")
    group = open_group(FeatureStore(tmp_path / "store"), "toy", pixels)
    flip(100)(pack_dir(group) / "data" / "c" / "0" / "0")
    flip()(group.videos_path / "00001" / "times" / "c" / "0")
    truncate()(group.videos_path / "00004" / "zarr.json")
    meta = json.loads((group.videos_path / "00002" / "zarr.json").read_text())
    meta["attributes"]["checksums"]["features"] = "crc32c:00000000"  # a wrong record is as bad as wrong bytes
    (group.videos_path / "00002" / "zarr.json").write_text(json.dumps(meta))
    store = FeatureStore(tmp_path / "store")
    rerun = extract_dataset(manifest, pixels, store, progress=False)
    assert (rerun.misses, rerun.hits) == (3, N - 3)
    assert sorted(Path(r.path).name for r in store.repairs if "/videos/" in r.path) == ["00001", "00002", "00004"]
    assert any("/packs/" in r.path and r.action.startswith("unset") for r in store.repairs)
    healed = open_group(FeatureStore(tmp_path / "store"), "toy", pixels)
    assert healed.verify(manifest_digests(manifest)).ok
    check_reads(healed, ids, arrays, Path("/nothing may fail now"), manifest_digests(manifest))


def manifest_digests(manifest: pl.DataFrame) -> dict[str, str]:
    return dict(manifest.select("video_id", "video_digest").iter_rows())
