"""Compute a backbone's features for every video of a dataset, once, into the feature store.

Two layouts. One model process: decode threads fill a bounded queue a few videos ahead while the
model works on the current one, so the slower of the two sets the pace (OpenVINO on CPU, and the
GPU, where the model is one process fed by the decoders). Or several single-threaded worker
processes that each decode and run a copy of the model (eager torch on CPU). Each video is written
atomically as soon as it is done: an interrupted run loses at most the video in flight, and the
rerun computes only what is missing. A video that fails to decode is reported by id after every
other video is stored.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from archsearch.data.decode import decode_video
from archsearch.features.keys import feature_key
from archsearch.features.progress import ExtractionProgress
from archsearch.features.store import FeatureGroup, FeatureStore

SPLIT_ORDER = {"train": 0, "val": 1, "test": 2}


class ExtractionError(RuntimeError):
    """Some videos could not be processed; every other video's features are stored."""


@dataclass
class ExtractionReport:
    dataset: str
    backbone: str
    key: str
    videos: int = 0
    hits: int = 0
    misses: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    frames: int = 0
    feature_steps: int = 0
    dim: int = 0
    seconds: float = 0.0
    decode_seconds: float = 0.0
    model_seconds: float = 0.0
    write_seconds: float = 0.0
    bytes_on_disk: int = 0
    packed: bool = False
    copied: int = 0  # videos whose file another dataset already had: features copied, not recomputed

    @property
    def videos_per_s(self) -> float:
        return self.misses / self.seconds if self.seconds > 0 and self.misses else 0.0

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 and self.frames else 0.0

    def as_dict(self) -> dict[str, Any]:
        busy = self.decode_seconds + self.model_seconds
        return {
            "dataset": self.dataset,
            "backbone": self.backbone,
            "key": self.key,
            "videos": self.videos,
            "cache_hits": self.hits,
            "cache_misses": self.misses,
            "copied_from_other_datasets": self.copied,
            "failed": len(self.failed),
            "frames": self.frames,
            "feature_steps": self.feature_steps,
            "dim": self.dim,
            "seconds": round(self.seconds, 3),
            "videos_per_s": round(self.videos_per_s, 3),
            "frames_per_s": round(self.frames_per_s, 2),
            "decode_share": round(self.decode_seconds / busy, 3) if busy else 0.0,
            "model_share": round(self.model_seconds / busy, 3) if busy else 0.0,
            "bytes_on_disk": self.bytes_on_disk,
        }


def library_versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for name in ("torch", "transformers", "openvino", "decord", "av"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[name] = md.version(name)
    return out


def open_group(store: FeatureStore, dataset: str, backbone) -> FeatureGroup:
    """The store group for this backbone's exact weights and sampling (created on first use)."""
    sampling = backbone.sampling_params()
    digest = backbone.weights_digest()
    key = feature_key(backbone.name, digest, sampling)
    attrs = {
        "backbone": backbone.name,
        "weights_digest": digest,
        "sampling": sampling,
        "feature_rate": float(backbone.spec.feature_rate),
        "dim": int(backbone.dim),
        "versions": library_versions(),
    }
    return store.group(dataset, key, attrs=attrs)


def split_order(manifest: pl.DataFrame) -> list[str]:
    """Video ids in train, val, test order, so each split is one contiguous range of the pack."""
    ranked = manifest.with_columns(pl.col("split").replace_strict(SPLIT_ORDER, default=3).alias("_rank"))
    return ranked.sort("_rank", "video_id")["video_id"].to_list()


# One video to extract: (video id, content digest, path, decoder the manifest chose for the file).
Job = tuple[str, str, str, str]


def decode_job(job: Job, spec, threads: int = 0) -> tuple[str, str, Any, str | None, float]:
    """(video id, digest, decoded clip or None, error or None, seconds) for one manifest row."""
    vid, digest, path, backend = job
    t0 = time.perf_counter()
    try:
        clip = decode_video(
            path, fps=spec.decode_fps, size=tuple(spec.resolution), backend=backend, num_threads=threads
        )
        return vid, digest, clip, None, time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - reported per video by the consumer
        return vid, digest, None, f"{type(exc).__name__}: {exc}", time.perf_counter() - t0


def decoded_clips(jobs: list[Job], spec, workers: int, ahead: int) -> Iterator[tuple]:
    """decode_job results in job order, decoded by `workers` threads at most `ahead` videos in advance.

    The decoders (decord, PyAV) release the GIL while they work, so threads overlap with the model;
    the bound keeps memory flat however long the job list is.
    """
    threads = 1 if workers > 1 else 0  # several decoders: one thread each, else let the decoder choose
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode")
    pending: deque = deque()
    todo = iter(jobs)
    try:
        for job in todo:
            pending.append(pool.submit(decode_job, job, spec, threads))
            if len(pending) >= ahead:
                break
        while pending:
            item = pending.popleft().result()
            job = next(todo, None)
            if job is not None:
                pending.append(pool.submit(decode_job, job, spec, threads))
            yield item
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class BackboneRecipe:
    """How to rebuild a backbone in a worker process (backbones themselves are not picklable)."""

    name: str
    weights_dir: str | None = None
    batch_size: int = 32
    device: str | None = None
    runtime: str = "torch"  # torch | openvino | openvino-bf16 | auto (models.backbones.engines)
    cache_dir: str | None = None  # where converted models are kept (see compiled_cache_dir)

    def build(self):
        from models.backbones import get_backbone

        return get_backbone(
            self.name,
            weights_dir=self.weights_dir,
            device=self.device,
            batch_size=self.batch_size,
            runtime=self.runtime,
            cache_dir=self.cache_dir,
        )


def compiled_cache_dir(store: FeatureStore) -> Path:
    """Converted models live beside the features they compute, hidden from the store's group listing."""
    return Path(store.root) / ".compiled"


_WORKER: dict[str, Any] = {}


def _worker_init(recipe: BackboneRecipe, store_root: str, dataset: str, key: str, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    _WORKER["backbone"] = recipe.build()
    _WORKER["group"] = FeatureStore(store_root).group(dataset, key)


def _worker_run(job: Job) -> tuple[str, str | None, dict[str, float]]:
    backbone, group = _WORKER["backbone"], _WORKER["group"]
    vid, _, clip, error, decode_s = decode_job(job, backbone.spec)
    if error is not None:
        return vid, error, {"decode": decode_s}
    t1 = time.perf_counter()
    feats, times = backbone.extract(clip.frames, clip.timestamps)  # (T', D), (T',)
    t2 = time.perf_counter()
    group.write(vid, job[1], feats, times)
    stats = {
        "decode": decode_s,
        "model": t2 - t1,
        "write": time.perf_counter() - t2,
        "frames": len(clip.frames),
        "steps": len(times),
    }
    return vid, None, stats


def _run_in_process(backbone, group, jobs, report, progress, decode_workers: int) -> None:
    for vid, digest, clip, error, decode_s in decoded_clips(jobs, backbone.spec, decode_workers, 2 * decode_workers):
        report.decode_seconds += decode_s
        if error is not None:
            report.failed.append((vid, error))
            progress.step(0)
            continue
        t0 = time.perf_counter()
        feats, times = backbone.extract(clip.frames, clip.timestamps)  # (T', D), (T',)
        t1 = time.perf_counter()
        group.write(vid, digest, feats, times)
        report.model_seconds += t1 - t0
        report.write_seconds += time.perf_counter() - t1
        report.frames += len(clip.frames)
        report.feature_steps += len(times)
        progress.step(len(clip.frames))


def _run_in_workers(recipe, group, jobs, report, progress, workers: int) -> None:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # fork after torch has started threads is unsafe
    args = (recipe, str(group.store.root), group.dataset, group.key, 1)
    with ctx.Pool(workers, initializer=_worker_init, initargs=args) as pool:
        for vid, error, stats in pool.imap_unordered(_worker_run, jobs):
            report.decode_seconds += stats.get("decode", 0.0)
            if error is not None:
                report.failed.append((vid, error))
            else:
                report.model_seconds += stats["model"]
                report.write_seconds += stats["write"]
                report.frames += int(stats["frames"])
                report.feature_steps += int(stats["steps"])
            progress.step(int(stats.get("frames", 0)))


def cpu_count() -> int:
    return max(1, len(os.sched_getaffinity(0)))


def default_workers(backbone) -> int:
    """Model processes. Eager torch on CPU: one single-threaded process per core (measured faster than
    one process with several threads). OpenVINO and GPU: one model process fed by decode threads."""
    device = getattr(backbone, "device", None)
    if device is not None and getattr(device, "type", str(device)) != "cpu":
        return 1
    runtime = getattr(backbone, "runtime", None)
    if runtime is not None and runtime.runtime != "torch":
        return 1
    return min(cpu_count(), 8)


def default_decode_workers(backbone) -> int:
    """Decode threads feeding one model process: one on CPU (the model takes the cores), up to 4 on a GPU."""
    device = getattr(backbone, "device", None)
    on_gpu = device is not None and getattr(device, "type", str(device)) != "cpu"
    return min(cpu_count(), 4) if on_gpu else 1


def copy_shared_videos(
    store: FeatureStore, group: FeatureGroup, jobs: list[Job], report: ExtractionReport
) -> list[Job]:
    """Copy the features of files another dataset of this store already has under the same key; the rest to compute.

    Features are keyed by the video file's content digest, so a clip listed in two datasets (the same
    file, or a copy) is decoded and run through the backbone once. The copy is a verified read.
    """
    others = [store.group(d, k) for d, k in store.groups() if k == group.key and d != group.dataset]
    if not jobs or not others:
        return jobs
    holders = {digest: (other, vid) for other in others for vid, digest in other.digests().items()}
    left = []
    for job in jobs:
        vid, digest = job[0], job[1]
        if digest not in holders:
            left.append(job)
            continue
        other, other_vid = holders[digest]
        feats, times = other.read(other_vid, digest)  # (T, D), (T,)
        group.write(vid, digest, feats, times)
        report.copied += 1
    return left


def extract_dataset(
    manifest: pl.DataFrame,
    backbone,
    store: FeatureStore,
    *,
    recipe: BackboneRecipe | None = None,
    workers: int = 1,
    decode_workers: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> ExtractionReport:
    """Make sure every video of ``manifest`` (one dataset) has this backbone's features, then pack.

    With ``workers > 1`` (and a ``recipe`` to rebuild the backbone), videos are shared among
    single-threaded worker processes; otherwise this process runs the model while
    ``decode_workers`` threads decode ahead. Every video is written atomically by whoever computed
    it, so the result is the same either way. ``progress`` shows a bar on a terminal; ``log`` gets
    a progress line (clips, frames/s, ETA) every 10 s.
    """
    datasets = manifest["dataset"].unique().to_list()
    if len(datasets) != 1:
        raise ValueError(f"extract_dataset takes one dataset at a time, got {sorted(datasets)}")
    dataset = datasets[0]
    group = open_group(store, dataset, backbone)
    report = ExtractionReport(dataset=dataset, backbone=backbone.name, key=group.key, dim=int(backbone.dim))
    expected = dict(manifest.select("video_id", "video_digest").iter_rows())
    done, missing = group.status(expected)
    report.videos, report.hits, report.misses = len(expected), len(done), len(missing)
    paths = dict(manifest.select("video_id", "path").iter_rows())
    # The decoder the manifest chose per file (decord only where it returns the container's frames); "auto"
    # for a manifest without the column re-decides per file, which gives the same choice.
    backends = (
        dict(manifest.select("video_id", "decode_backend").iter_rows()) if "decode_backend" in manifest.columns else {}
    )
    jobs = [(vid, expected[vid], paths[vid], backends.get(vid) or "auto") for vid in sorted(missing)]
    t_start = time.perf_counter()
    jobs = copy_shared_videos(store, group, jobs, report)
    if jobs:
        backbone.prepare()  # convert (and cache) a compiled model once, before any worker needs it
        bar = ExtractionProgress(len(jobs), f"features {backbone.name}/{dataset}", log, bar=progress)
        try:
            if workers > 1 and recipe is not None and len(jobs) > 1:
                _run_in_workers(recipe, group, jobs, report, bar, min(workers, len(jobs)))
            else:
                _run_in_process(backbone, group, jobs, report, bar, decode_workers or default_decode_workers(backbone))
        finally:
            bar.close()
    failed_ids = {f for f, _ in report.failed}
    order = [v for v in split_order(manifest) if v not in failed_ids]
    info = group.pack_info()
    if jobs or info is None or list(info.ids[: len(order)]) != order:
        group.pack(order)
        report.packed = True
    report.seconds = time.perf_counter() - t_start
    report.bytes_on_disk = group.nbytes()
    if report.failed:
        shown = "\n  ".join(f"{dataset}/{vid}: {err}" for vid, err in report.failed[:20])
        raise ExtractionError(
            f"{len(report.failed)} of {len(jobs)} videos failed for backbone {backbone.name} "
            f"(the other {len(jobs) - len(report.failed)} are stored):\n  {shown}"
        )
    return report


def load_split_features(
    group: FeatureGroup, manifest: pl.DataFrame, split: str
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Features of one split as {video_id: ((T, D) float16, (T,) seconds)} in few contiguous reads."""
    rows = manifest.filter(pl.col("split") == split)
    ids = split_order(rows)
    digests = dict(rows.select("video_id", "video_digest").iter_rows())
    data, offsets, times = group.read_split(ids, digests=digests)
    return {vid: (data[offsets[i] : offsets[i + 1]], times[offsets[i] : offsets[i + 1]]) for i, vid in enumerate(ids)}
