"""Linear probe per backbone: do the cached features carry the signal?

Why: before any head is trained, a logistic regression on mean-pooled features tells whether
a backbone's features are informative at all — and shows that real pretrained weights beat the
random-init control. For every backbone with cached features, each video's window of
``--window`` steps ending at anchor − horizon is mean-pooled; a logistic regression is fit on
train and scored (AP, scikit-learn) on test, per horizon. One JSON line per (dataset, backbone).

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

from archsearch import paths  # noqa: E402
from archsearch.config import load_config  # noqa: E402
from archsearch.data.datasets import read_manifest  # noqa: E402
from archsearch.extraction import BackboneRecipe, load_split_features  # noqa: E402
from archsearch.stores import FeatureStore, feature_key  # noqa: E402

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
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbones", nargs="+", default=None)
    ap.add_argument("--window", type=int, default=16)
    ap.add_argument("--C", type=float, default=0.1, help="inverse L2 strength of the logistic regression")
    args = ap.parse_args(argv)
    cfg = load_config()
    manifest = read_manifest(paths.data_root() / "manifests" / "manifest.parquet")
    store = FeatureStore(paths.features_dir())
    for name in args.backbones or cfg.backbones:
        backbone = BackboneRecipe(name, cfg.features.weights_dir).build()
        key = feature_key(name, backbone.weights_digest(), backbone.sampling_params())
        for (dataset,), part in manifest.group_by("dataset", maintain_order=True):
            if (dataset, key) not in set(store.groups()):
                print(json.dumps({"bench": "probe", "backbone": name, "dataset": dataset, "error": "no features: materialize `features` first"}))
                continue
            group = store.group(dataset, key)
            split = {s: load_split_features(group, part, s) for s in ("train", "test")}
            row = {"bench": "probe", "backbone": name, "dataset": dataset, "dim": backbone.dim,
                   "n_train": len(split["train"]), "n_test": len(split["test"])}
            aps = []
            for h in HORIZONS_S:
                x_tr, y_tr = pooled(split["train"], part, h, args.window)
                x_te, y_te = pooled(split["test"], part, h, args.window)
                clf = make_pipeline(StandardScaler(), LogisticRegression(C=args.C, max_iter=2000))
                clf.fit(x_tr, y_tr)
                score = float(average_precision_score(y_te, clf.predict_proba(x_te)[:, 1]))
                row[f"test_ap_{int(h * 1000)}"] = round(score, 4)
                aps.append(score)
            row["test_map"] = round(float(np.mean(aps)), 4)
            row["chance_ap"] = round(float(np.mean(y_te)), 4)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
