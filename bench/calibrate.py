"""Calibrate the embedded benchmark: how hard is each synthetic task, and does architecture matter?

Why: the product's answer ("did the search find architectures?") is only as good as a task on
which the answer is knowable. For every synthetic dataset of the project (each task variant),
this prints one JSON object per line:

  data          videos and positives per split
  oracle        a classifier on the true trajectories of the window (perfect perception)
  oracle_pooled the same, seeing only window means of where the actor is and how large it looks
  probe         per backbone: mean-pooled window features + logistic regression (order thrown away)
  head          per grid run: backbone x encoder x pooling at the space's default knobs, val and test mAP
  cell          per backbone x encoder: test mAP averaged over its runs
  backbone      per backbone: test mAP averaged over its runs, and its best run
  grid          best / median / worst head test mAP, the val-selected head, val<->test Spearman,
                best minus worst cell, and the balanced architecture share of test mAP (omega^2, eta^2 beside it)

Every mAP is the mean AP over the 500/1000/1500 ms horizons on the test split (fitted on train;
validation chooses nothing), with a 95 % bootstrap interval over test videos (resampled within
each class). Data and features are made on first use exactly as the demo makes them (same
config, same data root), so run it after `make demo` to reuse the demo's cache:

    python bench/calibrate.py [--backbones efficientnet_lite0 motion pixels] [--datasets synth_front]
                              [--difficulty 0 0.5 1] [--workers 2] [--boot 1000] [--no-grid]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archsearch.analysis.anova import Balanced, OneWay, balanced_one_way, one_way
from archsearch.common import DataLayout
from archsearch.config import load_config
from archsearch.data.synth.truth import TRUTH_FILE, read_truth
from bench.calibration.data import prepare, split_features, with_difficulty
from bench.calibration.grid import Run, run_grid, spearman
from bench.calibration.oracle import oracle_scores
from bench.calibration.probes import probe_scores, split_windows
from bench.calibration.stats import Split, interval, summary

ENCODERS = ("zipformer", "retention", "bimamba", "hybrid", "gru")
POOLINGS = ("attention", "mean", "last", "max")


def emit(**row) -> None:
    print(json.dumps({"bench": "calibrate", **row}, allow_nan=False, default=str), flush=True)


def data_line(dataset: str, variant: str, rows: pl.DataFrame) -> None:
    counts = {
        s: {
            "videos": int((rows["split"] == s).sum()),
            "positives": int(((rows["split"] == s) & (rows["label"] == 1)).sum()),
        }
        for s in ("train", "val", "test")
    }
    emit(measure="data", dataset=dataset, variant=variant, splits=counts)


def oracle_lines(dataset: str, variant: str, folder: Path, rows: pl.DataFrame, n_boot: int) -> None:
    truth = read_truth(folder / TRUTH_FILE)
    for measure, pooled in (("oracle", False), ("oracle_pooled", True)):
        scores, y, h, v = oracle_scores(truth, rows, pooled=pooled)
        split = Split.build(y, h, v, n_boot)
        emit(measure=measure, dataset=dataset, variant=variant, **summary(split.maps(scores)), **split.aps(scores))


def probe_lines(dataset: str, variant: str, feats: dict, rows: pl.DataFrame, n_boot: int) -> None:
    for backbone, f in feats.items():
        scores, test = probe_scores(f, rows)
        split = Split.build(test.y, test.horizon_ms, test.video_id, n_boot)
        emit(
            measure="probe",
            dataset=dataset,
            variant=variant,
            backbone=backbone,
            **summary(split.maps(scores)),
            **split.aps(scores),
        )


def grid_lines(dataset: str, variant: str, results: list[dict], val: Split, test: Split) -> None:
    """Per run, per cell, per backbone, and the grid summary (see the module docstring)."""
    test_draws = {i: test.maps(r["test_scores"]) for i, r in enumerate(results)}
    val_map = np.array([val.maps(r["val_scores"])[0] for r in results])
    test_map = np.array([test_draws[i][0] for i in range(len(results))])
    for i, r in enumerate(results):
        emit(
            measure="head",
            dataset=dataset,
            variant=variant,
            backbone=r["backbone"],
            encoder=r["encoder"],
            pooling=r["pooling"],
            val_map=round(float(val_map[i]), 4),
            **summary(test_draws[i]),
            seconds=r["seconds"],
        )
    cells: dict[str, list[int]] = {}
    backbones: dict[str, list[int]] = {}
    for i, r in enumerate(results):
        cells.setdefault(f"{r['backbone']}×{r['encoder']}", []).append(i)
        backbones.setdefault(r["backbone"], []).append(i)
    cell_draws = {c: np.mean([test_draws[i] for i in ix], axis=0) for c, ix in cells.items()}
    for c, d in cell_draws.items():
        emit(measure="cell", dataset=dataset, variant=variant, cell=c, runs=len(cells[c]), **summary(d))
    for b, ix in backbones.items():
        best = max(ix, key=lambda i: test_map[i])
        emit(
            measure="backbone",
            dataset=dataset,
            variant=variant,
            backbone=b,
            **summary(np.mean([test_draws[i] for i in ix], axis=0)),
            best_run_test_map=round(float(test_map[best]), 4),
        )
    order = sorted(cell_draws, key=lambda c: cell_draws[c][0])
    worst, best = order[0], order[-1]
    chosen = int(np.argmax(val_map))
    labels = [f"{r['backbone']}×{r['encoder']}" for r in results]
    share = _share(
        balanced_one_way(test_map, labels, "backbone×encoder"),
        np.stack([test_draws[i] for i in range(len(results))], axis=1),
        labels,
    )
    emit(
        measure="grid",
        dataset=dataset,
        variant=variant,
        runs=len(results),
        test_map={
            "best": round(float(test_map.max()), 4),
            "median": round(float(np.median(test_map)), 4),
            "worst": round(float(test_map.min()), 4),
        },
        val_selected={
            "run": f"{results[chosen]['backbone']}×{results[chosen]['encoder']}×{results[chosen]['pooling']}",
            "val_map": round(float(val_map[chosen]), 4),
            **summary(test_draws[chosen]),
        },
        val_test_spearman=spearman(val_map, test_map),
        best_cell={"cell": best, **summary(cell_draws[best])},
        worst_cell={"cell": worst, **summary(cell_draws[worst])},
        best_minus_worst={
            "diff": round(float(cell_draws[best][0] - cell_draws[worst][0]), 4),
            "ci95": interval(cell_draws[best] - cell_draws[worst]),
            "cis_overlap": bool(interval(cell_draws[best])[0] <= interval(cell_draws[worst])[1]),
        },
        architecture_share=share,
    )


def _share(b, draws: np.ndarray, labels: list[str]) -> dict:
    """Balanced one-way share of test mAP over backbone x encoder cells: omega^2 (the report's measure; eta^2,
    biased up when cells hold few runs, beside it), with two intervals: over balanced subsamples (zero
    width when every cell has the same runs) and over resampled test videos."""
    if not isinstance(b, Balanced):
        return {"not_enough_data": str(b)}
    per_draw = [one_way(row, labels, "backbone×encoder") for row in draws]  # draws: (B + 1, runs)
    omega = np.array([r.omega2 if isinstance(r, OneWay) else np.nan for r in per_draw])
    return {
        "omega2": round(b.omega2.mean, 4),
        "eta2": round(b.eta2.mean, 4),
        "ci95_subsamples": [round(b.omega2.lo, 4), round(b.omega2.hi, 4)],
        "ci95_videos": interval(omega[np.isfinite(omega)]) if np.isfinite(omega[1:]).any() else None,
        "n_per_cell": b.n_per_cell,
        "cells": b.cells,
    }


def measure(config, layout: DataLayout, args, tag: str) -> None:
    """Every measurement of the module docstring for one configuration of the synthetic datasets."""
    backbones = args.backbones or list(config.campaign.backbones or config.backbones)
    datasets = [d.name for d in config.datasets if d.kind == "synthetic"]
    datasets = [d for d in datasets if not args.datasets or any(d.startswith(x) for x in args.datasets)]
    prep = prepare(config, layout, backbones, datasets, log=lambda m: print(m, file=sys.stderr, flush=True), tag=tag)
    emit(measure="prepare", tag=tag, seconds=prep.seconds, load_avg=[round(x, 2) for x in os.getloadavg()])
    runs = [
        Run(d, b, prep.groups[(d, b)].key, e, p)
        for d in datasets
        for b in backbones
        for e in args.encoders
        for p in args.poolings
    ]
    results = [] if args.no_grid else list(run_grid(runs, layout.features, prep.manifest_path, args.workers))
    for d in datasets:
        rows = prep.manifest.filter(pl.col("dataset") == d)
        variant = prep.variants[d]
        data_line(d, variant, rows)
        oracle_lines(d, variant, prep.folders[d], rows, args.boot)
        feats = {b: split_features(prep.groups[(d, b)], rows) for b in backbones}
        probe_lines(d, variant, feats, rows, args.boot)
        mine = sorted(
            (r for r in results if r["dataset"] == d), key=lambda r: (r["backbone"], r["encoder"], r["pooling"])
        )
        if mine:
            w = {s: split_windows(feats[backbones[0]], rows, s) for s in ("val", "test")}
            grid_lines(
                d,
                variant,
                mine,
                Split.build(w["val"].y, w["val"].horizon_ms, w["val"].video_id, 0),
                Split.build(w["test"].y, w["test"].horizon_ms, w["test"].video_id, args.boot),
            )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbones", nargs="+", default=None, help="default: the campaign's backbones")
    ap.add_argument("--datasets", nargs="+", default=None, help="default: every synthetic dataset of the project")
    ap.add_argument("--encoders", nargs="+", default=list(ENCODERS))
    ap.add_argument("--poolings", nargs="+", default=list(POOLINGS))
    ap.add_argument(
        "--difficulty",
        nargs="+",
        type=float,
        default=None,
        help="measure the synthetic datasets regenerated at these difficulties (new folders) instead",
    )
    ap.add_argument("--workers", type=int, default=2, help="processes training grid heads")
    ap.add_argument("--boot", type=int, default=1000, help="bootstrap draws over test videos")
    ap.add_argument("--no-grid", action="store_true", help="oracle and probes only")
    args = ap.parse_args(argv)
    config, layout = load_config(), DataLayout.default()
    t0 = time.perf_counter()
    if args.difficulty is None:
        measure(config, layout, args, "default")
    for level in args.difficulty or ():
        measure(with_difficulty(config, level), layout, args, f"d{level:g}")
    emit(measure="done", seconds=round(time.perf_counter() - t0, 1))


if __name__ == "__main__":
    main()
