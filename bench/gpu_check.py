"""GPU extraction check: frames/s of every offline backbone on CUDA, end to end and model only.

Why: on a GPU box extraction is what a paper-scale campaign waits on. This runs the real extraction
path there (decode threads feeding one GPU process, pinned-memory batches, bf16 autocast) on
synthetic clips into a fresh store and prints one JSON line per backbone: `fps` end to end (decode +
preprocess + model + store), `model_fps` (preprocess + model on decoded clips, the GPU's ceiling
here) and the decode/model shares. Without CUDA it prints one line saying so and exits 0.
`bench/gpu_check.sh` wraps it with a 5-minute limit.

    python bench/gpu_check.py [--videos 24] [--backbones ...] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

OFFLINE = ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2", "motion", "pixels", "vjepa2_tiny_random"]


def no_cuda_line() -> dict | None:
    import torch

    if torch.cuda.is_available():
        return None
    build = "a CPU-only torch build" if torch.version.cuda is None else f"torch built for CUDA {torch.version.cuda}"
    return {
        "bench": "gpu_check",
        "cuda": False,
        "message": f"no CUDA device visible ({build}); nothing measured. Run this on a GPU machine.",
    }


def model_fps(backbone, clips, repeats: int = 3) -> float:
    import torch

    frames = sum(len(c.frames) for c in clips)
    best = float("inf")
    for _ in range(repeats):
        if backbone.device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for c in clips:
            backbone.extract(c.frames, c.timestamps)
        best = min(best, time.perf_counter() - t0)
    return frames / best


def check_backbone(name: str, manifest, work: Path, device: str, batch_size: int) -> dict:
    from archsearch.features import FeatureStore
    from archsearch.features.extraction import (
        BackboneRecipe,
        decode_job,
        default_decode_workers,
        extract_dataset,
    )

    recipe = BackboneRecipe(name, batch_size=batch_size, device=device, runtime="auto")
    backbone = recipe.build()
    t0 = time.perf_counter()
    report = extract_dataset(
        manifest, backbone, FeatureStore(work / f"store_{name}"), recipe=recipe, workers=1, progress=False
    )
    wall = time.perf_counter() - t0
    jobs = [(*row, "auto") for row in manifest.select("video_id", "video_digest", "path").iter_rows()][:4]
    clips = [decode_job(job, backbone.spec)[2] for job in jobs]
    d = report.as_dict()
    return {
        "bench": "gpu_check",
        "backbone": name,
        "device": str(backbone.device),
        "runtime": str(backbone.runtime),
        "fps": round(report.frames_per_s, 1),
        "model_fps": round(model_fps(backbone, clips), 1),
        "decode_share": d["decode_share"],
        "model_share": d["model_share"],
        "decode_workers": default_decode_workers(backbone),
        "batch_size": batch_size,
        "videos": report.videos,
        "frames": report.frames,
        "seconds": round(wall, 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbones", nargs="+", default=OFFLINE)
    ap.add_argument("--videos", type=int, default=24, help="synthetic clips (synth_front spec, 10 s each)")
    ap.add_argument("--device", default="cuda", help="cuda (default); cpu only to try the script itself")
    ap.add_argument("--batch-size", type=int, default=64)
    args = ap.parse_args(argv)
    if args.device.startswith("cuda") and (line := no_cuda_line()) is not None:
        print(json.dumps(line), flush=True)
        return 0

    import torch

    from archsearch.data.manifest import load_nexar
    from archsearch.data.splits import assign_anchors, assign_splits
    from archsearch.data.synth import DEFAULT_SPECS, generate_dataset

    work = Path(tempfile.mkdtemp(prefix="gpu_check_"))
    try:
        spec = DEFAULT_SPECS["synth_front"]
        t0 = time.perf_counter()
        folder = generate_dataset(
            work / "videos", type(spec)(**{**spec.__dict__, "n_videos": args.videos}), progress=False
        )
        manifest = assign_splits(assign_anchors(load_nexar(folder, dataset="bench").table))
        gpu = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "none"
        print(
            json.dumps(
                {
                    "bench": "gpu_check",
                    "cuda": args.device.startswith("cuda"),
                    "gpu": gpu,
                    "torch": torch.__version__,
                    "videos": args.videos,
                    "generate_s": round(time.perf_counter() - t0, 1),
                }
            ),
            flush=True,
        )
        for name in args.backbones:
            print(json.dumps(check_backbone(name, manifest, work, args.device, args.batch_size)), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
