"""Benchmark: reading a whole split from the feature store vs the same bytes from one .npy.

Why: every experiment loads its split's features, so the store must read about as fast as
the simplest possible format. Writes a realistic group (default 1,500 videos x 50 steps x
1024 dims float16), packs it in split order, then times ``read_split(train_ids)`` against
``np.load`` of the identical (N, D) array, both with the page cache warm, interleaved so
machine noise hits both alike; reports medians. Prints ONE JSON line. Target: ratio >= 0.5.

    python bench/store_read.py [--videos 1500 --steps 50 --dim 1024 --repeats 9]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archsearch.features import FeatureStore, feature_key


def _median_time(fn, repeats: int) -> float:
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=1500)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--dim", type=int, default=1024)
    ap.add_argument("--train-frac", type=float, default=0.7)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--workdir", type=Path, default=None, help="default: a temp dir, removed afterwards")
    args = ap.parse_args(argv)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="store_read_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        rng = np.random.default_rng(0)
        sampling = {"fps": 5.0, "clip": 16, "stride": 4}
        attrs = dict(backbone="bench", weights_digest="0" * 64, sampling=sampling, feature_rate=5.0, dim=args.dim)
        group = FeatureStore(work / "store").group("bench", feature_key("bench", "0" * 64, sampling), attrs=attrs)
        ids = [f"{i:05d}" for i in range(args.videos)]
        digests = {v: f"d{v}" for v in ids}
        times = np.arange(args.steps, dtype=np.float64) / 5.0
        t0 = time.perf_counter()
        for v in ids:
            # Embedding-like: a per-video mean plus temporal jitter (compresses like real features).
            base = rng.standard_normal((1, args.dim), dtype=np.float32)
            feats = base + 0.3 * rng.standard_normal((args.steps, args.dim), dtype=np.float32)  # (T, D)
            group.write(v, digests[v], feats.astype(np.float16), times)
        write_s = time.perf_counter() - t0

        n_train = int(round(args.train_frac * args.videos))
        train = ids[:n_train]
        t0 = time.perf_counter()
        ref_data, _, _ = group.read_split(train)  # unpacked: per-video arrays
        unpacked_s = time.perf_counter() - t0
        nbytes = ref_data.nbytes

        t0 = time.perf_counter()
        group.pack(ids)  # split order: train ids first, so the split is one row range
        pack_s = time.perf_counter() - t0

        npy = work / "train.npy"
        np.save(npy, ref_data)
        got, _offsets, _ = group.read_split(train)
        assert np.array_equal(got.view(np.uint16), ref_data.view(np.uint16)), "packed read differs"
        np.load(npy)  # warm both page caches

        zarr_t, zarr_dig_t, npy_t = [], [], []
        for _ in range(args.repeats):  # interleaved so background load hits all three alike
            zarr_t.append(_median_time(lambda: group.read_split(train), 1))
            zarr_dig_t.append(_median_time(lambda: group.read_split(train, digests=digests), 1))
            npy_t.append(_median_time(lambda: np.load(npy), 1))
        mb = nbytes / 1e6
        zarr_mbps = mb / statistics.median(zarr_t)
        npy_mbps = mb / statistics.median(npy_t)
        result = {
            "bench": "store_read",
            "videos": args.videos,
            "steps": args.steps,
            "dim": args.dim,
            "split_videos": n_train,
            "split_MB": round(mb, 1),
            "zarr_read_MBps": round(zarr_mbps, 1),
            "npy_read_MBps": round(npy_mbps, 1),
            "ratio": round(zarr_mbps / npy_mbps, 3),
            "zarr_read_with_digests_MBps": round(mb / statistics.median(zarr_dig_t), 1),
            "unpacked_read_MBps": round(mb / unpacked_s, 1),
            "write_videos_per_s": round(args.videos / write_s, 1),
            "pack_s": round(pack_s, 2),
            "store_MB_on_disk": round(group.nbytes() / 1e6, 1),
            "repeats": args.repeats,
        }
        print(json.dumps(result))
        return result
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
