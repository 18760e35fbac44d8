"""Linear probe per backbone: do the cached features carry the signal?

Why: before any head is trained, a logistic regression on mean-pooled features tells whether
a backbone's features are informative at all — and shows that real pretrained weights beat the
random-init control. For every backbone with cached features, each video's window of
``--window`` steps ending at anchor − horizon is mean-pooled; a logistic regression is scored
(AP, scikit-learn) by repeated stratified 5-fold cross-validation over all videos of the
dataset, per horizon. The probe is a diagnostic of the features, never part of a search, so it
may use every labelled video: with ~240 clips a single 36-clip test split is too noisy to rank
backbones. One JSON line per (dataset, backbone) with the mean and the 2.5/97.5 percentiles
over repeats.

Run after `features` is materialized for the backbones you want (default: all configured):

    python bench/probe.py [--backbones efficientnet_lite0 vjepa2_tiny_random] [--window 16]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archsearch.common import DataLayout
from archsearch.config import load_config
from archsearch.data.datasets import read_manifest
from archsearch.features import FeatureStore, feature_key
from archsearch.features.extraction import BackboneRecipe, load_split_features

HORIZONS_S = (0.5, 1.0, 1.5)


def pooled(feats: dict, manifest: pl.DataFrame, horizon: float, window: int) -> tuple[np.ndarray, np.ndarray]:
    anchors = dict(manifest.select("video_id", "anchor_time").iter_rows())
    labels = dict(manifest.select("video_id", "label").iter_rows())
    xs, ys = [], []
    for vid, (f, t) in feats.items():
        end = int(np.searchsorted(t, anchors[vid] - horizon + 1e-6, side="right"))  # steps with time <= anchor - h
        chunk = f[max(0, end - window) : end].astype(np.float32)  # (<=W, D)
        xs.append(chunk.mean(0) if len(chunk) else np.zeros(f.shape[1], np.float32))
        ys.append(labels[vid])
    return np.stack(xs), np.asarray(ys)


def main(argv: list[str] | None = None) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbones", nargs="+", default=None)
    ap.add_argument("--window", type=int, default=4, help="feature steps mean-pooled before anchor - horizon")
    ap.add_argument("--C", type=float, default=0.1, help="inverse L2 strength of the logistic regression")
    ap.add_argument("--repeats", type=int, default=10, help="repeats of 5-fold cross-validation")
    args = ap.parse_args(argv)
    cfg = load_config()
    manifest = read_manifest(DataLayout.default().manifest)
    store = FeatureStore(DataLayout.default().features)
    for name in args.backbones or cfg.backbones:
        backbone = BackboneRecipe(name, cfg.features.weights_dir).build()
        key = feature_key(name, backbone.weights_digest(), backbone.sampling_params())
        for (dataset,), part in manifest.group_by("dataset", maintain_order=True):
            if (dataset, key) not in set(store.groups()):
                print(
                    json.dumps(
                        {
                            "bench": "probe",
                            "backbone": name,
                            "dataset": dataset,
                            "error": "no features: materialize `features` first",
                        }
                    )
                )
                continue
            group = store.group(dataset, key)
            feats = {}
            for split in ("train", "val", "test"):
                feats.update(load_split_features(group, part, split))
            per_repeat = np.zeros((args.repeats, len(HORIZONS_S)))
            for j, h in enumerate(HORIZONS_S):
                x, y = pooled(feats, part, h, args.window)
                for r in range(args.repeats):
                    clf = make_pipeline(StandardScaler(), LogisticRegression(C=args.C, max_iter=3000))
                    folds = StratifiedKFold(5, shuffle=True, random_state=r)
                    p = cross_val_predict(clf, x, y, cv=folds, method="predict_proba")[:, 1]
                    per_repeat[r, j] = average_precision_score(y, p)
            maps = per_repeat.mean(axis=1)
            row = {
                "bench": "probe",
                "backbone": name,
                "dataset": dataset,
                "dim": backbone.dim,
                "videos": len(feats),
                "window": args.window,
                "repeats": args.repeats,
                "chance_ap": round(float(np.mean(y)), 4),
            }
            row.update(
                {f"ap_{int(h * 1000)}": round(float(per_repeat[:, j].mean()), 4) for j, h in enumerate(HORIZONS_S)}
            )
            row.update(
                {
                    "map": round(float(maps.mean()), 4),
                    "map_p2.5": round(float(np.percentile(maps, 2.5)), 4),
                    "map_p97.5": round(float(np.percentile(maps, 97.5)), 4),
                }
            )
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
