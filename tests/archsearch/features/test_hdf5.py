"""HDF5 export/import: bit-exact round trip, manifest id checks, validation before any write."""

from __future__ import annotations

import hashlib

import h5py
import numpy as np
import pytest

from archsearch.features import FeatureStore, H5ImportError, MissingFeaturesError, export_h5, feature_key, import_h5

DIM = 6


def features(i: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(i)
    T = 4 + i % 5
    f = rng.standard_normal((T, DIM)).astype(np.float16)  # (T, D)
    t = np.cumsum(rng.uniform(0.1, 0.4, T))  # irregular timestamps (T,)
    return f, t


@pytest.fixture()
def source(tmp_path):
    store = FeatureStore(tmp_path / "src")
    sampling = {"fps": 5}
    attrs = dict(backbone="motion", weights_digest="none", sampling=sampling, feature_rate=5.0, dim=DIM)
    g = store.group("nexar", feature_key("motion", "none", sampling), attrs=attrs)
    for i in range(6):
        f, t = features(i)
        if i == 0:  # float16 corner cases must survive bit-for-bit
            f[0, :4] = np.array([65504, -65504, 6e-8, -0.0], dtype=np.float16)
        g.write(f"{i:05d}", f"vd{i}", f, t)
    return g


def bits16(a: np.ndarray) -> np.ndarray:
    return a.view(np.uint16)


def test_roundtrip_export_import_is_bit_exact(source, tmp_path):
    path = export_h5(source, tmp_path / "feats.h5")
    with h5py.File(path) as f:
        assert f.attrs["feature_rate"] == 5.0 and f.attrs["dim"] == DIM
        assert f.attrs["backbone"] == "motion" and f.attrs["key"] == source.key
        assert f["features/00003"].dtype == np.float16 and f["times/00003"].dtype == np.float64
    ids = source.ids()
    manifest = {v: f"vd{int(v)}" for v in ids}
    dest = FeatureStore(tmp_path / "dest")
    g = import_h5(path, dest, "nexar", "myfeats", ids, expected_digests=manifest)

    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert g.key == feature_key("precomputed:myfeats", sha, {"feature_rate": 5.0})
    assert g.attrs["backbone"] == "precomputed:myfeats" and g.attrs["weights_digest"] == sha
    assert g.attrs["versions"]["h5py"] == h5py.__version__
    assert g.status(manifest) == (set(ids), [])
    for v in ids:
        f0, t0 = source.read(v)
        f1, t1 = g.read(v)
        assert np.array_equal(bits16(f0), bits16(f1)) and np.array_equal(t0.view(np.uint64), t1.view(np.uint64))

    # Re-import is a no-op (resumable): nothing rewritten.
    stamps = {v: g.videos.meta(v).written_at for v in ids}
    g2 = import_h5(path, dest, "nexar", "myfeats", ids, expected_digests=manifest)
    assert g2.key == g.key and {v: g2.videos.meta(v).written_at for v in ids} == stamps
    # Without expected digests the per-dataset digest attribute is kept.
    g3 = import_h5(path, FeatureStore(tmp_path / "dest3"), "nexar", "myfeats", ids)
    assert g3.digests() == manifest


def test_export_subset_and_flat_file_without_times(source, tmp_path):
    sub = export_h5(source, tmp_path / "sub.h5", ids=["00004", "00001"])
    with h5py.File(sub) as f:
        assert sorted(f["features"]) == ["00001", "00004"]
    with pytest.raises(MissingFeaturesError, match="'99999'"):
        export_h5(source, tmp_path / "x.h5", ids=["00001", "99999"])
    assert not (tmp_path / "x.h5").exists()
    flat = tmp_path / "flat.h5"
    rng = np.random.default_rng(0)
    raw = {f"{i:05d}": rng.standard_normal((3 + i, DIM)).astype(np.float32) for i in range(3)}
    with h5py.File(flat, "w") as f:
        f.attrs["feature_rate"] = 2.0
        for k, v in raw.items():
            f[k] = v
    g = import_h5(flat, FeatureStore(tmp_path / "d"), "other", "ext", list(raw))
    sha = hashlib.sha256(flat.read_bytes()).hexdigest()
    for k, v in raw.items():
        f16, t = g.read(k)
        assert np.array_equal(bits16(f16), bits16(v.astype(np.float16)))
        assert np.array_equal(t, np.arange(v.shape[0]) / 2.0)  # default times = arange(T) / rate
        assert g.digests()[k] == "h5:" + sha[:16]


def write_h5(path, videos: dict, rate=5.0, dim=None, times: dict | None = None):
    with h5py.File(path, "w") as f:
        if rate is not None:
            f.attrs["feature_rate"] = rate
        if dim is not None:
            f.attrs["dim"] = dim
        for k, v in videos.items():
            f[f"features/{k}"] = v
        for k, v in (times or {}).items():
            f[f"times/{k}"] = v
    return path


GOOD = np.zeros((4, DIM), dtype=np.float16)


@pytest.mark.parametrize(
    "videos, kwargs, expected_ids, match",
    [
        ({"a": GOOD, "x": GOOD}, {}, ["a", "b", "c"], r"missing 2 \('b', 'c'\); extra 1 \('x'\)"),
        ({"a": GOOD, "b": np.zeros((4, DIM + 1))}, {}, ["a", "b"], r"h5:/features/b: dim 7 disagrees with the first"),
        ({"a": GOOD}, {"dim": 8}, ["a"], r"h5:/features/a: dim 6 disagrees with the file attribute dim 8"),
        ({"a": GOOD}, {"rate": None}, ["a"], "'feature_rate' .* is missing"),
        ({"a": GOOD}, {"rate": -1.0}, ["a"], "positive number"),
        ({"a": GOOD, "b": np.full((4, DIM), np.nan)}, {}, ["a", "b"], r"h5:/features/b: features contain 24 NaN/inf"),
        ({"a": np.full((2, DIM), 1e6, dtype=np.float32)}, {}, ["a"], r"h5:/features/a: .*float16 range"),
        ({"a": np.zeros(4)}, {}, ["a"], r"h5:/features/a: expected a 2-D"),
        ({"a": GOOD}, {"times": {"a": np.array([0.0, 0.1, 0.1, 0.2])}}, ["a"], "strictly increasing"),
    ],
)
def test_import_rejects_bad_files_before_writing(tmp_path, videos, kwargs, expected_ids, match):
    path = write_h5(tmp_path / "bad.h5", videos, **kwargs)
    store = FeatureStore(tmp_path / "store")
    with pytest.raises(H5ImportError, match=match):
        import_h5(path, store, "nexar", "ext", expected_ids)
    assert store.groups() == []  # nothing created


def test_import_checks_manifest_digests(source, tmp_path):
    path = export_h5(source, tmp_path / "f.h5")
    ids = source.ids()
    wrong = {v: f"vd{int(v)}" for v in ids} | {"00002": "changed"}
    with pytest.raises(H5ImportError, match="/features/00002: features were computed from video digest vd2"):
        import_h5(path, FeatureStore(tmp_path / "d"), "nexar", "ext", ids, expected_digests=wrong)
    with pytest.raises(H5ImportError, match="no such file"):
        import_h5(tmp_path / "nope.h5", FeatureStore(tmp_path / "d"), "nexar", "ext", ids)
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(H5ImportError, match="not a readable HDF5 file"):
        import_h5(tmp_path / "junk.h5", FeatureStore(tmp_path / "d"), "nexar", "ext", ids)
