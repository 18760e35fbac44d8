"""Benchmark: feature extraction speed per backbone, cache-hit speed, and split read speed.

Why: features are computed once per (backbone, video) and then read by thousands of head
experiments; both halves must be fast. For each backbone this extracts features for a
synthetic dataset into a fresh store (``frames_per_s``, ``videos_per_s``, decode vs model
share of busy time), re-runs it (a cache hit: ``cache_hit_speedup``), then reads the whole
train split from the packed store vs the same bytes from one ``.npy`` (``zarr_read_MBps``,
``npy_read_MBps``, ``read_ratio``; target >= 0.5). One JSON line per backbone.

    python bench/features.py [--backbones motion pixels ...] [--videos 24] [--workers N]
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

from archsearch.data.manifest import load_nexar  # noqa: E402
from archsearch.data.anchors import assign_anchors  # noqa: E402
from archsearch.data.splits import assign_splits  # noqa: E402
from archsearch.data.synth import DEFAULT_SPECS, generate_dataset  # noqa: E402
from archsearch.features.extraction import BackboneRecipe, default_workers, extract_dataset, open_group, split_order  # noqa: E402
from archsearch.features import FeatureStore  # noqa: E402
from models.backbones.registry import OFFLINE_DEFAULT  # noqa: E402


def _read_bench(group, manifest, repeats: int, work: Path) -> dict:
    train = manifest.filter(manifest["split"] == "train")
    ids = split_order(train)
    digests = dict(train.select("video_id", "video_digest").iter_rows())
    data, _, _ = group.read_split(ids, digests=digests)
    npy = work / "train.npy"
    np.save(npy, data)
    np.load(npy)
    z, n = [], []
    for _ in range(repeats):  # interleaved so background load hits both alike
        t0 = time.perf_counter()
        group.read_split(ids, digests=digests)
        z.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        np.load(npy)
        n.append(time.perf_counter() - t0)
    mb = data.nbytes / 1e6
    zarr_mbps, npy_mbps = mb / statistics.median(z), mb / statistics.median(n)
    return {"split_MB": round(mb, 2), "zarr_read_MBps": round(zarr_mbps, 1), "npy_read_MBps": round(npy_mbps, 1),
            "read_ratio": round(zarr_mbps / npy_mbps, 3)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbones", nargs="+", default=list(OFFLINE_DEFAULT))
    ap.add_argument("--videos", type=int, default=24, help="synthetic videos (synth_front spec)")
    ap.add_argument("--dataset", type=Path, default=None, help="a Nexar-format folder instead of synthetic videos")
    ap.add_argument("--workers", type=int, default=None, help="default: one per core on CPU")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench_features_"))
    try:
        folder = args.dataset
        if folder is None:
            spec = DEFAULT_SPECS["synth_front"]
            folder = generate_dataset(work / "videos", type(spec)(**{**spec.__dict__, "n_videos": args.videos}), progress=False)
        manifest = assign_splits(assign_anchors(load_nexar(folder, dataset="bench").table))
        for name in args.backbones:
            recipe = BackboneRecipe(name)
            backbone = recipe.build()
            workers = args.workers or default_workers(backbone)
            store = FeatureStore(work / f"store_{name}")
            first = extract_dataset(manifest, backbone, store, recipe=recipe, workers=workers, progress=False)
            t0 = time.perf_counter()
            second = extract_dataset(manifest, backbone, store, recipe=recipe, workers=workers, progress=False)
            hit_s = time.perf_counter() - t0
            assert second.misses == 0
            row = {
                "bench": "features",
                "backbone": name,
                "dim": backbone.dim,
                "videos": first.videos,
                "workers": workers,
                "frames_per_s": round(first.frames_per_s, 1),
                "videos_per_s": round(first.videos_per_s, 3),
                "decode_share": first.as_dict()["decode_share"],
                "model_share": first.as_dict()["model_share"],
                "first_run_s": round(first.seconds, 2),
                "cache_hit_s": round(hit_s, 4),
                "cache_hit_speedup": round(first.seconds / hit_s, 1),
                **_read_bench(open_group(store, "bench", backbone), manifest, args.repeats, work),
            }
            print(json.dumps(row), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
