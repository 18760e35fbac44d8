"""Feature store: keys, attrs, validation, packing, direct reads, checks, staging sweep.

Killed writers and damaged files: tests/faults/test_feature_cache_*.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr
from zarr.codecs import BloscCodec, ZstdCodec

import archsearch.features.fsio as fsio
import archsearch.features.integrity as integrity
import archsearch.features.packs as P
import archsearch.features.split_read as S
from archsearch.common import REPO_ROOT
from archsearch.features import (
    FeatureStore,
    FeatureStoreError,
    FeatureValidationError,
    GroupConflictError,
    MissingFeaturesError,
    feature_key,
)

REPO = REPO_ROOT
SAMPLING = {"fps": 5.0, "size": [224, 224], "clip": 16}
DIM = 12


def make_group(root: Path, dim: int = DIM, dataset: str = "syn", **extra):
    store = FeatureStore(root)
    attrs = dict(backbone="efficientnet_lite0", weights_digest="ab" * 8, sampling=SAMPLING, feature_rate=5.0, dim=dim)
    attrs.update(extra)
    key = feature_key(attrs["backbone"], attrs["weights_digest"], attrs["sampling"])
    return store, store.group(dataset, key, attrs=attrs)


def video(i: int, dim: int = DIM) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic (features (T, D) f16, times (T,) f64) for video i; T varies."""
    rng = np.random.default_rng(1000 + i)
    T = 3 + i % 7
    feats = rng.standard_normal((T, dim)).astype(np.float16)
    times = np.cumsum(rng.uniform(0.1, 0.3, T))
    return feats, times


def bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint16) if a.dtype == np.float16 else a.view(np.uint64)


# ----------------------------------------------------------------------------- keys & attrs


def test_feature_key_matches_sha256_of_canonical_json():
    oracle = hashlib.sha256(
        json.dumps(
            {"backbone": "vjepa2", "sampling": {"fps": 5, "stride": 4}, "weights_digest": "w"},
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
    ).hexdigest()[:16]
    assert feature_key("vjepa2", "w", {"stride": 4, "fps": 5}) == oracle
    assert feature_key("vjepa2", "w", {"fps": 5.0, "stride": np.int64(4)}) == oracle  # 5.0 == 5
    assert feature_key("vjepa2", "w2", {"fps": 5, "stride": 4}) != oracle
    assert feature_key("vjepa2", "w", {"fps": 5.5, "stride": 4}) != oracle


def crc32c_oracle(data: bytes) -> int:
    """Bitwise CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): slow, obviously right."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def test_checksums_are_crc32c_of_the_stored_bytes(tmp_path):
    assert crc32c_oracle(b"123456789") == 0xE3069283  # the published check value
    feats, times = video(3)
    assert integrity.checksum(feats) == f"crc32c:{crc32c_oracle(feats.tobytes()):08x}"
    assert integrity.checksum(feats[1:3]) == f"crc32c:{crc32c_oracle(feats[1:3].tobytes()):08x}"  # a row slice
    assert integrity.checksum(np.asfortranarray(feats)) == integrity.checksum(feats)  # C order, as stored
    _, g = make_group(tmp_path)
    g.write("v3", "d3", feats, times)
    for name in ("features", "times"):  # the recorded checksum is over the chunk file's bytes
        chunk = g.videos_path / "v3" / name / "c" / ("0/0" if name == "features" else "0")
        recorded = dict(zip(("features", "times"), g.videos.meta("v3").checksums))[name]
        assert recorded == f"crc32c:{crc32c_oracle(chunk.read_bytes()):08x}"


def test_group_attrs_recorded_and_conflicts_rejected(tmp_path):
    store, g = make_group(tmp_path, versions={"torch": "2.13.0"})
    a = g.attrs
    assert a["backbone"] == "efficientnet_lite0" and a["dim"] == DIM and a["feature_rate"] == 5.0
    assert a["key"] == g.key and a["dataset"] == "syn" and a["sampling"] == {"fps": 5, "size": [224, 224], "clip": 16}
    assert a["versions"]["zarr"] == zarr.__version__ and a["versions"]["numpy"] == np.__version__
    assert a["versions"]["torch"] == "2.13.0" and "numcodecs" in a["versions"] and a["created_at"]
    assert store.groups() == [("syn", g.key)]
    # reopen with and without attrs
    assert store.group("syn", g.key).attrs == a
    make_group(tmp_path, versions={"torch": "9.9"})  # versions are provenance, not identity
    with pytest.raises(GroupConflictError, match="'dim' is 12 in the store but 16"):
        store.group("syn", g.key, attrs={**a, "dim": 16})
    with pytest.raises(GroupConflictError, match="does not match feature_key"):
        store.group("syn", g.key, attrs={**a, "weights_digest": "other"})
    with pytest.raises(MissingFeaturesError, match="pass attrs"):
        store.group("syn", "0123456789abcdef")
    with pytest.raises(FeatureStoreError, match="lack"):
        store.group("other", g.key, attrs={"backbone": "x"})
    with pytest.raises(FeatureStoreError, match="16 lowercase hex"):
        store.group("syn", "NOT-A-KEY")


# ----------------------------------------------------------------------------- write / read


def test_write_read_status_roundtrip(tmp_path):
    _, g = make_group(tmp_path)
    for i in range(4):
        g.write(f"v{i}", f"d{i}", *video(i))
    f32 = np.linspace(-2, 2, 5 * DIM, dtype=np.float32).reshape(5, DIM)
    g.write("v9", "d9", f32, np.arange(5))
    for i in range(4):
        f, t = g.read(f"v{i}")
        ef, et = video(i)
        assert f.dtype == np.float16 and t.dtype == np.float64
        assert np.array_equal(bits(f), bits(ef)) and np.array_equal(t, et)
    assert np.array_equal(g.read("v9")[0], f32.astype(np.float16))
    assert g.ids() == ["v0", "v1", "v2", "v3", "v9"]
    done, missing = g.status({"v0": "d0", "v1": "CHANGED", "v7": "d7", "v2": "d2"})
    assert done == {"v0", "v2"} and missing == ["v1", "v7"]
    assert g.status({"v0": "d0", "v1": "CHANGED", "v7": "d7", "v2": "d2"}, verify=False) == (done, missing)
    g.write("v1", "CHANGED", *video(11))  # recompute after the video file changed
    assert g.status({"v1": "CHANGED"}) == ({"v1"}, [])
    assert np.array_equal(bits(g.read("v1")[0]), bits(video(11)[0]))
    with pytest.raises(MissingFeaturesError, match="digest CHANGED, not d1"):
        g.read("v1", digest="d1")
    with pytest.raises(MissingFeaturesError, match="'nope'"):
        g.read("nope")
    assert g.nbytes() > 0


@pytest.mark.parametrize(
    "feats, times, match",
    [
        (np.zeros(DIM), np.zeros(1), "2-D"),
        (np.zeros((3, DIM + 1)), np.arange(3), "dim 13, the group's dim is 12"),
        (np.zeros((0, DIM)), np.zeros(0), "T = 0"),
        (np.zeros((3, DIM), dtype=np.int32), np.arange(3), "floating point"),
        (np.where(np.eye(3, DIM) > 0, np.nan, 0.0), np.arange(3), "video 'v1'.*NaN/inf"),
        (np.full((3, DIM), np.inf, dtype=np.float16), np.arange(3), "NaN/inf"),
        (np.full((3, DIM), 70000.0, dtype=np.float32), np.arange(3), "float16 range"),
        (np.zeros((3, DIM)), np.arange(4), "length T = 3"),
        (np.zeros((3, DIM)), np.array([0.0, 0.2, 0.2]), r"strictly increasing, but times\[1\]"),
        (np.zeros((3, DIM)), np.array([0.0, np.nan, 1.0]), "NaN/inf"),
    ],
)
def test_write_validation(tmp_path, feats, times, match):
    _, g = make_group(tmp_path)
    with pytest.raises(FeatureValidationError, match=match):
        g.write("v1", "d1", feats, times)
    assert g.ids() == []  # nothing became visible
    assert not any((tmp_path / ".tmp").iterdir())  # and no staging left behind


def test_float16_edge_values_accepted_and_bad_ids_rejected(tmp_path):
    _, g = make_group(tmp_path)
    f = np.zeros((2, DIM), dtype=np.float32)
    f[0, 0], f[1, 1] = 65504.0, -65504.0
    g.write("edge", "d", f, [0.0, 0.2])
    assert g.read("edge")[0][0, 0] == np.float16(65504)
    with pytest.raises(FeatureStoreError, match=r"video id '\.\./x'"):
        g.write("../x", "d", f, [0.0, 0.2])


# ----------------------------------------------------------------------------- pack & read_split


def test_pack_read_split_contiguous_stale_and_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(P, "PACK_CHUNK_BYTES", 7 * DIM * 2)  # 7-row chunks: runs cross chunk edges
    _, g = make_group(tmp_path)
    ids = [f"v{i:02d}" for i in range(20)]
    for i, v in enumerate(ids):
        g.write(v, f"d{i}", *video(i))
    split_order = ids[::-1]  # any order; pack follows it
    info = g.pack(split_order)
    assert list(info.ids) == split_order and info.n_rows == sum(video(i)[0].shape[0] for i in range(20))

    calls = []
    real = S.read_rows
    monkeypatch.setattr(S, "read_rows", lambda *a: (calls.append(a[1].name), real(*a))[1])

    train = split_order[3:15]
    data, offsets, times = g.read_split(train)
    expect = [video(int(v[1:])) for v in train]
    assert np.array_equal(bits(data), bits(np.concatenate([e[0] for e in expect])))
    assert np.array_equal(times, np.concatenate([e[1] for e in expect]))
    assert offsets.tolist() == np.concatenate([[0], np.cumsum([len(e[1]) for e in expect])]).tolist()
    assert calls == ["data", "times"]  # one contiguous read each

    calls.clear()
    scattered = ["v03", "v17", "v05", "v04"]  # pack positions 16 | 2 | 14, 15
    got = g.read_many(scattered)
    for v in scattered:
        assert np.array_equal(bits(got[v][0]), bits(video(int(v[1:]))[0]))
    assert calls.count("data") == 3

    # A rewritten video is served from its own arrays, never from the stale pack rows.
    g.write("v10", "new", *video(99))
    calls.clear()
    data, offsets, _ = g.read_split(["v11", "v10", "v09"])
    assert np.array_equal(bits(data[offsets[1] : offsets[2]]), bits(video(99)[0]))
    assert np.array_equal(bits(data[: offsets[1]]), bits(video(11)[0]))
    assert calls.count("data") == 2
    # ... unless the caller asks for the old digest, which the pack still holds.
    old = g.read_split(["v10"], digests={"v10": "d10"})[0]
    assert np.array_equal(bits(old), bits(video(10)[0]))

    with pytest.raises(MissingFeaturesError, match=r"2 of 3 ids.*'zz1', 'zz2'"):
        g.read_split(["v01", "zz1", "zz2"])
    with pytest.raises(MissingFeaturesError, match="at the requested digests"):
        g.read_split(["v01"], digests={"v01": "wrong"})
    empty = g.read_split([])
    assert empty[0].shape == (0, DIM) and empty[1].tolist() == [0]


def test_repack_keeps_previous_and_unlisted_videos(tmp_path):
    _, g = make_group(tmp_path)
    for i in range(5):
        g.write(f"v{i}", f"d{i}", *video(i))
    p1 = g.pack(["v3", "v1"])
    assert list(p1.ids) == ["v3", "v1", "v0", "v2", "v4"]  # unlisted ones follow, sorted
    p2 = g.pack(["v0"])
    p3 = g.pack()
    kept = sorted(p.name for p in g.packs_path.iterdir() if p.is_dir())
    assert kept == sorted([p2.pack_id, p3.pack_id])  # current + previous, for in-flight readers
    assert g.pack_info().pack_id == p3.pack_id
    with pytest.raises(MissingFeaturesError, match="'ghost'"):
        g.pack(["ghost"])
    with pytest.raises(FeatureStoreError, match="repeats"):
        g.pack(["v1", "v1"])


def test_direct_reader_agrees_with_zarr(tmp_path, monkeypatch):
    monkeypatch.setattr(P, "PACK_CHUNK_BYTES", 5 * DIM * 2)
    _, g = make_group(tmp_path)
    for i in range(6):
        g.write(f"v{i}", f"d{i}", *video(i))
    info = g.pack()
    pack_dir = g.packs_path / info.pack_id
    v2 = g.videos_path / "v2"
    for arr in [pack_dir / "data", pack_dir / "times", v2 / "features", v2 / "times"]:
        layout = fsio.array_layout(arr)
        assert layout is not None, arr  # our own arrays take the fast path
        oracle = zarr.open_array(str(arr), mode="r")[...]
        n = oracle.shape[0]
        for a, b in [(0, n), (1, n - 1), (4, 11), (5, 10), (n - 1, n)]:
            a, b = min(a, n), min(b, n)
            if a >= b:
                continue
            out = np.empty((b - a, *oracle.shape[1:]), dtype=oracle.dtype)
            fsio.read_rows(layout, arr, a, b, out)
            assert np.array_equal(out.view(np.uint8), oracle[a:b].view(np.uint8)), (arr, a, b)
    # A missing chunk reads as the fill value, as in zarr.
    (pack_dir / "data" / "c" / "1" / "0").unlink()
    out = np.empty((5, DIM), dtype=np.float16)
    fsio.read_rows(fsio.array_layout(pack_dir / "data"), pack_dir / "data", 5, 10, out)
    assert np.array_equal(out, zarr.open_array(str(pack_dir / "data"), mode="r")[5:10]) and not out.any()
    # zarr's default codecs (bytes + zstd) take the fast path too; others fall back to zarr.
    plain = tmp_path / "plain"
    zarr.create_array(str(plain), data=np.arange(40, dtype=np.float16).reshape(10, 4), chunks=(3, 4))
    assert fsio.array_layout(plain).codec == "zstd"
    assert np.array_equal(fsio.read_whole(plain), np.arange(40, dtype=np.float16).reshape(10, 4))
    other = tmp_path / "blosc"
    zarr.create_array(
        str(other), data=np.arange(40, dtype=np.float16).reshape(10, 4), chunks=(3, 4), compressors=BloscCodec()
    )
    assert fsio.array_layout(other) is None
    out = np.empty((6, 4), dtype=np.float16)
    fsio.read_rows(None, other, 2, 8, out)
    assert np.array_equal(out, np.arange(8, 32, dtype=np.float16).reshape(6, 4))


def test_verify_reports_corruption_stale_missing_and_pack_drift(tmp_path):
    _, g = make_group(tmp_path)
    for i in range(4):
        g.write(f"v{i}", f"d{i}", *video(i))
    info = g.pack()
    assert g.verify({f"v{i}": f"d{i}" for i in range(4)}).ok
    # Corrupt behind the store's back: NaN in v1's own array, changed row in v2's packed rows.
    arr = zarr.open_array(str(g.videos_path / "v1" / "features"), mode="r+")
    arr[0, 0] = np.nan
    pk = zarr.open_array(str(g.packs_path / info.pack_id / "data"), mode="r+")
    row = int(info.offsets[list(info.ids).index("v2")])
    pk[row, 3] = 7.0
    rep = g.verify({"v0": "d0", "v1": "d1", "v2": "d2", "v3": "other", "v8": "d8"})
    assert (rep.missing, rep.stale, rep.nonfinite) == (["v8"], ["v3"], [])
    v1_chunk = g.videos_path / "v1" / "features" / "c" / "0" / "0"
    assert len(rep.corrupt) == 1 and rep.corrupt[0].startswith(f"v1: {v1_chunk}: checksum")
    assert rep.pack_corrupt == [
        f"{g.packs_path / info.pack_id / 'data' / 'c' / '0' / '0'}: checksum "
        + rep.pack_corrupt[0].split(": checksum ")[1]
    ]
    assert not rep.ok and rep.n_checked == 4
    # A pack row rewritten with its pack's checksums updated is caught by comparing with the videos.
    _, h = make_group(tmp_path / "h")
    for i in range(3):
        h.write(f"v{i}", f"d{i}", *video(i))
    h.pack()
    h.write("v1", "d1", *video(21))  # same digest, other bytes (a non-deterministic recompute)
    assert h.verify({f"v{i}": f"d{i}" for i in range(3)}).pack_mismatch == ["v1"]


def write_legacy_video(g, vid: str, digest: str, feats: np.ndarray, times: np.ndarray) -> None:
    """A video as archsearch wrote it before checksums: zstd features, attrs without checksums."""
    attrs = {"digest": digest, "T": len(times), "written_at": "2025-01-01T00:00:00.000+00:00"}
    grp = zarr.create_group(str(g.videos_path / vid), attributes=attrs)
    grp.create_array("features", data=feats.astype(np.float16), chunks=feats.shape, compressors=ZstdCodec(level=1))
    grp.create_array("times", data=times, chunks=times.shape, compressors=None)


def test_a_cache_written_before_checksums_is_checked_then_adopted(tmp_path):
    store, g = make_group(tmp_path)
    write_legacy_video(g, "v0", "d0", *video(0))
    f1, t1 = video(1)
    t1[1] = np.nan
    write_legacy_video(g, "v1", "d1", f1, t1)
    g.write("v2", "d2", *video(2))
    info = g.pack()
    pack_meta = json.loads((g.packs_path / info.pack_id / "zarr.json").read_text())
    for key in ("checksums", "chunk_checksums"):  # a pack as written before checksums
        del pack_meta["attributes"][key]
    (g.packs_path / info.pack_id / "zarr.json").write_text(json.dumps(pack_meta))
    pointer = json.loads((g.packs_path / "zarr.json").read_text())
    del pointer["attributes"]["index_checksum"]
    (g.packs_path / "zarr.json").write_text(json.dumps(pointer))

    expected = {f"v{i}": f"d{i}" for i in range(3)}
    rep = g.verify(expected)
    assert rep.unverified == ["v0"] and rep.nonfinite == ["v1"] and not rep.ok
    assert len(rep.pack_corrupt) == 1 and "written before checksums" in rep.pack_corrupt[0]
    data, offsets, _ = g.read_split(["v0", "v2"])  # readable: from the videos, never from the unverifiable pack
    assert np.array_equal(bits(data[: offsets[1]]), bits(video(0)[0]))

    done, missing = g.status(expected)  # what a features rerun asks first
    assert done == {"v0", "v2"} and missing == ["v1"] and "v1" not in g.ids() and g.pack_info() is None
    actions = {Path(r.path).name: r.action for r in store.repairs}
    assert actions["v0"].startswith("verified finite") and actions["v1"].startswith("removed")
    assert actions[info.pack_id].startswith("unset")
    assert g.videos.meta("v0").checksums is not None
    assert fsio.array_layout(g.videos_path / "v0" / "features").codec == "raw"  # rewritten in today's format
    g.pack(["v0", "v2"])
    assert g.verify({"v0": "d0", "v2": "d2"}).ok
    data, offsets, _ = g.read_split(["v0", "v2"])
    assert np.array_equal(bits(data[: offsets[1]]), bits(video(0)[0]))
    assert np.array_equal(bits(data[offsets[1] :]), bits(video(2)[0]))


def test_sweep_removes_dead_staging_only(tmp_path):
    store = FeatureStore(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    dead_dir = store.tmp_root / f"{fsio.HOST}-{dead.pid}-abc"
    live_dir = store.tmp_root / f"{fsio.HOST}-{os.getpid()}-abc"
    other_host = store.tmp_root / "elsewhere-1-abc"
    for d in (dead_dir, live_dir, other_host):
        (d / "features").mkdir(parents=True)
    again = FeatureStore(tmp_path)
    assert again.swept == [dead_dir.name]
    assert live_dir.exists() and other_host.exists() and not dead_dir.exists()
