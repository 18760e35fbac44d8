"""The head grid: a fixed set of temporal heads per backbone, trained and scored like experiments.

Every cell of backbone x encoder x pooling is trained once with the search space's default
training knobs (the same TrainConfig and HeadConfig an experiment builds, selection "final":
the last epoch of the fixed schedule, so validation chose nothing), then scored on val and test.
The scores come back per window so that the caller can bootstrap test mAP over videos.
Runs go to ``workers`` spawned processes with one torch thread each, grouped by feature set so
a worker loads each backbone's features once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import polars as pl

DEFAULT_KNOBS = {"loss": "focal", "lr": 1.0e-3, "weight_decay": 1.0e-4, "window_length": 16, "epochs": 20}


@dataclass(frozen=True)
class Run:
    """One head of the grid: which features (dataset, backbone and the store key) and which architecture."""

    dataset: str
    backbone: str
    key: str
    encoder: str
    pooling: str
    loss: str = DEFAULT_KNOBS["loss"]
    lr: float = DEFAULT_KNOBS["lr"]
    weight_decay: float = DEFAULT_KNOBS["weight_decay"]
    window_length: int = DEFAULT_KNOBS["window_length"]
    epochs: int = DEFAULT_KNOBS["epochs"]

    @property
    def cell(self) -> str:
        return f"{self.backbone}×{self.encoder}"


_CACHE: dict = {}


def _features(root: str, manifest_path: str, dataset: str, key: str):
    if (dataset, key) not in _CACHE:
        from archsearch.features import FeatureStore
        from bench.calibration.data import split_features

        rows = pl.read_parquet(manifest_path).filter(pl.col("dataset") == dataset)
        group = FeatureStore(root).group(dataset, key)
        _CACHE.clear()  # one feature set at a time per worker: memory stays flat
        _CACHE[(dataset, key)] = (rows, split_features(group, rows))
    return _CACHE[(dataset, key)]


def train_run(run: Run, root: str, manifest_path: str, seed: int = 0) -> dict:
    """Train one head and score it: the run's fields plus val/test scores per window and seconds."""
    import torch

    from bench.calibration.probes import split_windows
    from models.heads import HeadConfig
    from models.training import TrainConfig, predict, train_head

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    rows, feats = _features(root, manifest_path, run.dataset, run.key)
    w = {s: split_windows(feats, rows, s, run.window_length) for s in ("train", "val", "test")}
    head = HeadConfig(run.encoder, run.pooling, w["train"].dim)
    cfg = TrainConfig(loss=run.loss, lr=run.lr, weight_decay=run.weight_decay, epochs=run.epochs, seed=seed)
    trained = train_head(head, cfg, w["train"], w["val"])
    return {
        **asdict(run),
        "val_scores": predict(trained.model, w["val"]),
        "test_scores": predict(trained.model, w["test"]),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def run_grid(runs: list[Run], root: Path, manifest_path: Path, workers: int = 2, seed: int = 0) -> Iterator[dict]:
    """Yield each run's result as it finishes (runs of one feature set go to the same worker in order)."""
    if workers <= 1:
        for run in runs:
            yield train_run(run, str(root), str(manifest_path), seed)
        return
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ordered = sorted(runs, key=lambda r: (r.dataset, r.backbone))
    chunks = [ordered[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(_train_many, chunk, str(root), str(manifest_path), seed) for chunk in chunks if chunk]
        for future in as_completed(futures):
            yield from future.result()


def _train_many(runs: list[Run], root: str, manifest_path: str, seed: int) -> list[dict]:
    return [train_run(run, root, manifest_path, seed) for run in runs]


def spearman(a: np.ndarray, b: np.ndarray) -> dict:
    """Spearman rank correlation with its p-value (scipy)."""
    from scipy.stats import spearmanr

    res = spearmanr(a, b)
    rho, p = float(res.statistic), float(res.pvalue)
    return {
        "rho": round(rho, 4) if np.isfinite(rho) else None,
        "p": float(f"{p:.3g}") if np.isfinite(p) else None,
        "n": int(len(a)),
    }
