"""Feature store: keys, attrs, validation, packing, direct reads, crash safety, concurrency."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import zarr
from zarr.codecs import BloscCodec

import archsearch.features.fsio as fsio
import archsearch.features.packs as P
import archsearch.features.store as F
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
    with pytest.raises(FeatureStoreError, match="video id '../x'"):
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
    real = P.read_rows
    monkeypatch.setattr(P, "read_rows", lambda *a: (calls.append(a[1].name), real(*a))[1])

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


def test_verify_reports_nonfinite_stale_missing_and_pack_drift(tmp_path):
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
    assert (rep.missing, rep.stale, rep.nonfinite) == (["v8"], ["v3"], ["v1"])
    assert rep.pack_mismatch == ["v1", "v2"]  # v1's own array no longer matches its packed rows either
    assert not rep.ok and rep.n_checked == 4


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


# ----------------------------------------------------------------------------- crash safety


INTENDED_SRC = textwrap.dedent(
    """
    def intended(vid):
        rng = np.random.default_rng(int(vid[1:]))
        T = 40 + int(vid[1:]) % 17
        return rng.standard_normal((T, {dim})).astype(np.float16), np.arange(T) / 5.0
    """
)
WRITER = textwrap.dedent(
    """
    import os, signal, sys, numpy as np
    sys.path.insert(0, {repo!r})
    import archsearch.features.store as F
    from archsearch.features import FeatureStore
    """
) + INTENDED_SRC + textwrap.dedent(
    """
    root, dataset, key, ids, kill_at = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(","), sys.argv[5]
    if kill_at != "-":
        # Die the hard way after the video is fully staged, just before it is published.
        F._before_publish_hook = lambda vid: os.kill(os.getpid(), signal.SIGKILL) if vid == kill_at else None
    g = FeatureStore(root).group(dataset, key)
    for vid in ids:
        g.write(vid, "d" + vid, *intended(vid))
    """
)
KILL_DIM = 256
_ns: dict = {"np": np}
exec(INTENDED_SRC.format(dim=KILL_DIM), _ns)
intended = _ns["intended"]  # the very function the writer subprocesses use


def spawn(tmp_path, g, ids, kill_at="-"):
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(repo=str(REPO), dim=KILL_DIM))
    return subprocess.Popen([sys.executable, str(script), str(g.store.root), g.dataset, g.key, ",".join(ids), kill_at])


def test_concurrent_writers_survive_sigkill(tmp_path):
    store, g = make_group(tmp_path / "store", dim=KILL_DIM)
    ids = [f"v{i:03d}" for i in range(64)]
    a_ids, b_ids, c_ids = ids[:12], ids[12:24], ids[24:]
    a = spawn(tmp_path, g, a_ids)  # writes all its videos
    b = spawn(tmp_path, g, b_ids, kill_at=b_ids[7])  # SIGKILLs itself with v019 staged
    c = spawn(tmp_path, g, c_ids)  # SIGKILLed by us at an arbitrary point
    deadline = time.time() + 60
    while len(set(g.ids()) & set(c_ids)) < 5 and c.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    c.send_signal(signal.SIGKILL)
    assert a.wait(60) == 0
    assert b.wait(60) == -signal.SIGKILL and c.wait(60) == -signal.SIGKILL

    # Invariant: every visible video is complete and exactly what was intended.
    visible = g.ids()
    assert set(a_ids) <= set(visible) and set(b_ids[:7]) <= set(visible)
    assert not set(b_ids[7:]) & set(visible) and len(set(c_ids) & set(visible)) < len(c_ids)
    for vid in visible:
        f, t = g.read(vid)
        ef, et = intended(vid)
        assert np.array_equal(bits(f), bits(ef)) and np.array_equal(t, et), vid
    staged = [p.name for p in store.tmp_root.iterdir()]
    assert any(f"-{b.pid}-" in n for n in staged)  # b died holding a complete, unpublished video

    # A rerun sweeps the dead staging, reports the rest missing, and finishes the job.
    store2 = FeatureStore(store.root)
    assert any(f"-{b.pid}-" in n for n in store2.swept)
    assert not [p for p in store2.tmp_root.iterdir() if f"-{b.pid}-" in p.name or f"-{c.pid}-" in p.name]
    g2 = store2.group(g.dataset, g.key)
    expected = {v: "d" + v for v in ids}
    done, missing = g2.status(expected)
    assert done == set(visible) and missing == [v for v in ids if v not in done]
    for vid in missing:
        g2.write(vid, "d" + vid, *intended(vid))
    g2.pack(ids)

    # Same arrays as an uninterrupted run.
    _, ref = make_group(tmp_path / "ref", dim=KILL_DIM)
    for vid in ids:
        ref.write(vid, "d" + vid, *intended(vid))
    ref.pack(ids)
    got, ref_out = g2.read_split(ids), ref.read_split(ids)
    assert np.array_equal(bits(got[0]), bits(ref_out[0]))
    assert np.array_equal(got[1], ref_out[1]) and np.array_equal(got[2], ref_out[2])
    assert g2.verify(expected).ok
