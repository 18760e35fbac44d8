"""Benchmark: feature extraction, eager torch vs the fast runtime, side by side on the same clips.

Why: features are computed once per (backbone, video), and on a CPU box extraction is what a new
backbone waits on. For each backbone this extracts a synthetic dataset end to end (decode +
preprocess + model + store, as `extract_dataset` runs it, each with its default process layout)
into fresh stores, alternating eager torch and the fast runtime for `--rounds` rounds, and reports
the medians (`eager_fps`, `fps`, `speedup`), the worst per-step cosine between the two stores'
features (`cosine_min`, every step of every clip), the same rates for preprocess + model alone on
decoded clips in this process with one thread each (`eager_model_fps`, `model_fps`), and the one-time conversion cost
(`convert_s`, not in the rates: the converted model is cached beside the features). One JSON line
per backbone.

    python bench/features.py [--backbones efficientnet_lite0 vjepa2_tiny_random] [--videos 16] [--rounds 2]
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
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archsearch.data.anchors import assign_anchors
from archsearch.data.manifest import load_nexar
from archsearch.data.splits import assign_splits
from archsearch.data.synth import DEFAULT_SPECS, generate_dataset
from archsearch.features import FeatureStore
from archsearch.features.extraction import (
    BackboneRecipe,
    decode_job,
    default_workers,
    extract_dataset,
    open_group,
)


def cosine_min(store_a: FeatureStore, bb_a, store_b: FeatureStore, bb_b, ids: list[str]) -> float:
    """Smallest cosine between the two stores' feature vectors over every step of every clip."""
    ga, gb = open_group(store_a, "bench", bb_a), open_group(store_b, "bench", bb_b)
    worst = 1.0
    for vid in ids:
        (fa, ta), (fb, tb) = ga.read(vid), gb.read(vid)  # (T, D) float16, (T,) s
        assert np.array_equal(ta, tb), f"{vid}: the two runtimes put features at different times"
        a, b = fa.astype(np.float64), fb.astype(np.float64)
        cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-30)
        worst = min(worst, float(cos.min()))
    return worst


def model_rates(eager, fast, manifest, repeats: int = 3) -> tuple[float, float]:
    """Frames/s of extract() alone (preprocess + model, no decode or store) on a few decoded clips."""
    jobs = [(*row, "auto") for row in manifest.select("video_id", "video_digest", "path").iter_rows()][:4]
    clips = [decode_job(job, eager.spec)[2] for job in jobs]
    frames = sum(len(c.frames) for c in clips)
    times: dict[str, list[float]] = {"eager": [], "fast": []}
    for _ in range(repeats):  # interleaved so background load hits both alike
        for key, bb in (("eager", eager), ("fast", fast)):
            t0 = time.perf_counter()
            for c in clips:
                bb.extract(c.frames, c.timestamps)
            times[key].append(time.perf_counter() - t0)
    return frames / statistics.median(times["eager"]), frames / statistics.median(times["fast"])


def bench_backbone(name: str, manifest, work: Path, runtime: str, rounds: int) -> dict:
    recipes = {
        "eager": BackboneRecipe(name, runtime="torch"),
        "fast": BackboneRecipe(name, runtime=runtime, cache_dir=str(work / "compiled")),
    }
    built = {k: r.build() for k, r in recipes.items()}
    t0 = time.perf_counter()
    built["fast"].prepare()  # one-time conversion, cached for every later run
    convert_s = time.perf_counter() - t0
    workers = {k: default_workers(b) for k, b in built.items()}
    fps: dict[str, list[float]] = {"eager": [], "fast": []}
    stores = {}
    for r in range(rounds):
        for key in ("eager", "fast"):
            stores[key] = FeatureStore(work / f"store_{name}_{key}_{r}")
            report = extract_dataset(
                manifest, built[key], stores[key], recipe=recipes[key], workers=workers[key], progress=False
            )
            fps[key].append(report.frames_per_s)
    eager_fps, fast_fps = statistics.median(fps["eager"]), statistics.median(fps["fast"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # model alone per core: fresh copies, so OpenVINO compiles for one thread too
    try:
        eager_model, fast_model = model_rates(recipes["eager"].build(), recipes["fast"].build(), manifest)
    finally:
        torch.set_num_threads(threads)
    ids = manifest["video_id"].to_list()
    return {
        "bench": "features",
        "backbone": name,
        "runtime": str(built["fast"].runtime),
        "eager_fps": round(eager_fps, 1),
        "fps": round(fast_fps, 1),
        "speedup": round(fast_fps / eager_fps, 2),
        "cosine_min": round(cosine_min(stores["eager"], built["eager"], stores["fast"], built["fast"], ids), 6),
        "eager_model_fps": round(eager_model, 1),
        "model_fps": round(fast_model, 1),
        "model_speedup": round(fast_model / eager_model, 2),
        "model_threads": 1,
        "eager_workers": workers["eager"],
        "workers": workers["fast"],
        "videos": len(ids),
        "rounds": rounds,
        "convert_s": round(convert_s, 1),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbones", nargs="+", default=["efficientnet_lite0", "vjepa2_tiny_random"])
    ap.add_argument("--videos", type=int, default=16, help="synthetic videos (synth_front spec)")
    ap.add_argument("--dataset", type=Path, default=None, help="a Nexar-format folder instead of synthetic videos")
    ap.add_argument("--runtime", default="auto", help="the fast runtime: auto, openvino, openvino-bf16")
    ap.add_argument("--rounds", type=int, default=2, help="eager/fast alternations; medians are reported")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench_features_"))
    try:
        folder = args.dataset
        if folder is None:
            spec = DEFAULT_SPECS["synth_front"]
            spec = type(spec)(**{**spec.__dict__, "n_videos": args.videos})
            folder = generate_dataset(work / "videos", spec, progress=False)
        manifest = assign_splits(assign_anchors(load_nexar(folder, dataset="bench").table))
        for name in args.backbones:
            print(json.dumps(bench_backbone(name, manifest, work, args.runtime, args.rounds)), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
