"""Benchmark: what integrity checking costs a cache-hit features rerun, an experiment's load and the check.

Why: a features rerun verifies every video and pack chunk it reuses and every split read verifies
the rows it returns; neither may make the demo noticeably slower. This builds the demo's scale (two
datasets of 240 and 160 clips, 50 steps of 1280-dim float16 each: efficientnet_lite0 on 10 s clips)
once per source tree, then times, interleaved so machine noise hits every tree alike:

* ``cache_hit_rerun``: ``extract_dataset`` over both datasets with everything cached (the
  ``features`` asset's work on a rerun, backbone already built);
* ``experiment_load``: ``load_split_features`` of train, val and test of the larger dataset (what
  one experiment reads);
* ``features_check``: ``FeatureGroup.verify`` of both datasets (the ``features_complete`` check).

Pass ``--tree`` once per source tree to compare (e.g. a checkout of the commit before integrity
checks, made with ``git archive``); each tree runs in its own worker process. One JSON line per
case and tree, medians in seconds.

    python bench/feature_integrity.py [--tree . --tree /tmp/base] [--repeats 7] [--dim 1280]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASETS = {"synth_front": 240, "synth_side": 160}
CASES = ("cache_hit_rerun", "experiment_load", "features_check")


def _manifest(dataset: str, n: int):
    import polars as pl

    ids = [f"{dataset[6:]}{i:05d}" for i in range(n)]
    splits = ["train" if i % 20 < 14 else "val" if i % 20 < 17 else "test" for i in range(n)]
    return pl.DataFrame(
        {
            "dataset": [dataset] * n,
            "video_id": ids,
            "video_digest": [f"d{v}" for v in ids],
            "path": [f"/nonexistent/{v}.mp4" for v in ids],
            "split": splits,
        }
    )


class Worker:
    """One source tree's store and cases, driven over stdin/stdout by the parent."""

    def __init__(self, work: Path, dim: int, steps: int) -> None:
        import numpy as np

        from archsearch.features import FeatureStore
        from archsearch.features.extraction import extract_dataset, open_group
        from models.backbones import get_backbone

        self.backbone = get_backbone("efficientnet_lite0")
        if self.backbone.dim != dim:
            raise SystemExit(f"--dim {dim}: efficientnet_lite0 has dim {self.backbone.dim}")
        self.store = FeatureStore(work / "store")
        self.manifests = {ds: _manifest(ds, n) for ds, n in DATASETS.items()}
        rng = np.random.default_rng(0)
        times = np.arange(steps, dtype=np.float64) / 5.0
        for ds, manifest in self.manifests.items():
            group = open_group(self.store, ds, self.backbone)
            for vid, digest in manifest.select("video_id", "video_digest").iter_rows():
                base = rng.standard_normal((1, dim), dtype=np.float32)
                feats = base + 0.3 * rng.standard_normal((steps, dim), dtype=np.float32)  # (T, D) embedding-like
                group.write(vid, digest, feats.astype(np.float16), times)
            extract_dataset(manifest, self.backbone, self.store, progress=False)  # packs in split order
        self.extract = extract_dataset
        self.groups = {ds: open_group(self.store, ds, self.backbone) for ds in DATASETS}

    def run(self, case: str) -> float:
        from archsearch.features.extraction import load_split_features

        t0 = time.perf_counter()
        if case == "cache_hit_rerun":
            for manifest in self.manifests.values():
                report = self.extract(manifest, self.backbone, self.store, progress=False)
                if report.misses:
                    raise SystemExit(f"cache_hit_rerun: {report.misses} misses; the bench store is broken")
        elif case == "experiment_load":
            manifest = self.manifests["synth_front"]
            for split in ("train", "val", "test"):
                load_split_features(self.groups["synth_front"], manifest.filter(manifest["split"] == split), split)
        else:
            for ds, manifest in self.manifests.items():
                report = self.groups[ds].verify(dict(manifest.select("video_id", "video_digest").iter_rows()))
                if not report.ok:
                    raise SystemExit(f"features_check: {report}")
        return time.perf_counter() - t0


def worker_main(tree: str, work: str, dim: int, steps: int) -> None:
    sys.path.insert(0, tree)
    worker = Worker(Path(work), dim, steps)
    print("ready", flush=True)
    for line in sys.stdin:
        print(json.dumps({"seconds": worker.run(line.strip())}), flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", action="append", type=Path, help="a source tree to time (repeatable; default: this one)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--dim", type=int, default=1280)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--worker", nargs=2, metavar=("TREE", "WORKDIR"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker_main(args.worker[0], args.worker[1], args.dim, args.steps)
        return
    trees = [t.resolve() for t in (args.tree or [REPO])]
    with tempfile.TemporaryDirectory(prefix="feature_integrity_") as tmp:
        procs = []
        for i, tree in enumerate(trees):
            cmd = [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                str(tree),
                f"{tmp}/{i}",
                "--dim",
                str(args.dim),
                "--steps",
                str(args.steps),
            ]
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=tree)
            if proc.stdout.readline().strip() != "ready":
                raise SystemExit(f"worker for {tree} failed to start")
            procs.append(proc)
        times: dict[tuple[int, str], list[float]] = {(i, c): [] for i in range(len(trees)) for c in CASES}
        for rep in range(args.repeats + 1):  # the first round warms caches and is not counted
            for case in CASES:
                for i, proc in enumerate(procs):
                    proc.stdin.write(case + "\n")
                    proc.stdin.flush()
                    seconds = json.loads(proc.stdout.readline())["seconds"]
                    if rep:
                        times[(i, case)].append(seconds)
        for proc in procs:
            proc.stdin.close()
            proc.wait()
    videos = sum(DATASETS.values())
    for case in CASES:
        for i, tree in enumerate(trees):
            ts = times[(i, case)]
            print(
                json.dumps(
                    {
                        "case": case,
                        "tree": str(tree),
                        "videos": videos,
                        "dim": args.dim,
                        "steps": args.steps,
                        "median_s": round(statistics.median(ts), 4),
                        "min_s": round(min(ts), 4),
                        "repeats": len(ts),
                    }
                )
            )


if __name__ == "__main__":
    main()
