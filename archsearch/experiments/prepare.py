"""Prepare an experiment: check the config against the data, then window the train and val splits.

Only train and val are windowed here: the test split is read later, once, by :func:`score_test`
in :mod:`archsearch.experiments.run`, after the trainer has chosen its weights.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from archsearch.data.anchors import HISTORY_S
from archsearch.data.splits import split_hash
from archsearch.experiments.spec import SPLITS, ExperimentConfigError, ExperimentSpec, RunOptions, check_config
from archsearch.features.extraction import load_split_features

if TYPE_CHECKING:  # torch-backed types; imported where they are used
    from archsearch.features import FeatureGroup
    from models.heads import HeadConfig
    from models.training import TrainConfig
    from models.windows import WindowSet


@dataclass
class PreparedExperiment:
    """A checked config with its dataset's rows and its train and val windows, ready to train."""

    config: dict[str, Any]  # the checked keys of CONFIG_KEYS
    rows: pl.DataFrame  # the dataset's manifest rows (every split)
    split_hash: str
    train: WindowSet
    val: WindowSet
    head: HeadConfig
    training: TrainConfig
    timings: dict[str, float] = field(default_factory=dict)


def dataset_rows(manifest: pl.DataFrame, dataset: str) -> pl.DataFrame:
    """The manifest rows of one dataset; every split must be present."""
    part = manifest.filter(pl.col("dataset") == dataset)
    if part.is_empty():
        have = sorted(manifest["dataset"].unique().to_list()) if "dataset" in manifest.columns else []
        raise ExperimentConfigError(f"manifest has no rows for dataset {dataset!r}; datasets: {have}")
    counts = dict(part.group_by("split").len().iter_rows())
    empty = [s for s in SPLITS if not counts.get(s)]
    if empty:
        raise ExperimentConfigError(f"dataset {dataset!r}: no videos in split(s) {empty}; split sizes: {counts}")
    return part


def load_windows(
    manifest: pl.DataFrame,
    feature_group: FeatureGroup,
    split: str,
    window_length: int,
    features: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> WindowSet:
    """Windows of one split of the (single-dataset) `manifest` from `feature_group` (or preloaded `features`)."""
    from models.windows import build_windows

    rows = manifest.filter(pl.col("split") == split)
    feats = features if features is not None else load_split_features(feature_group, rows, split)
    ids = sorted(rows["video_id"].to_list())  # the split's videos, in the store's split order
    info = {vid: (label, anchor) for vid, label, anchor in rows.select("video_id", "label", "anchor_time").iter_rows()}
    nulls = [v for v in ids if info[v][1] is None]
    if nulls:
        raise ExperimentConfigError(
            f"manifest: {len(nulls)} video(s) of split {split!r} have no anchor_time, "
            f"e.g. {nulls[:5]} (assign anchors before training)"
        )
    return build_windows(
        feats, ids, np.array([int(info[v][0]) for v in ids]), np.array([float(info[v][1]) for v in ids]), window_length
    )


def check_window_reach(window_length: int, feature_rate: float | None) -> None:
    """A window may reach back no further than the anchor policy's view (archsearch.data.anchors.HISTORY_S).

    Anchors make the history before the anchor equally distributed for positives and negatives only up
    to HISTORY_S; a window reaching further would see padding that differs by class: the position leak.
    """
    from models.windows import HORIZONS_MS

    if not feature_rate:
        return
    reach = window_length / float(feature_rate) + max(HORIZONS_MS) / 1000.0
    if reach > HISTORY_S + 1e-9:
        raise ExperimentConfigError(
            f"experiment config: key 'window_length': {window_length} steps at {feature_rate:g} Hz reach "
            f"{reach:.2f} s before the anchor, beyond the {HISTORY_S} s every video is matched on "
            f"(archsearch.data.anchors.HISTORY_S); use at most "
            f"{int((HISTORY_S - max(HORIZONS_MS) / 1000.0) * float(feature_rate))} steps"
        )


def check_fit(spec: ExperimentSpec, feature_group: FeatureGroup, dataset: str) -> None:
    """The feature group holds this dataset and the config's backbone; else ExperimentConfigError."""
    if getattr(feature_group, "dataset", dataset) != dataset:
        raise ExperimentConfigError(
            f"dataset {dataset!r} was asked for but the feature group holds {feature_group.dataset!r}"
        )
    group_backbone = feature_group.attrs.get("backbone")
    if "backbone" in spec.config and group_backbone is not None and spec.config["backbone"] != group_backbone:
        raise ExperimentConfigError(
            f"experiment config: key 'backbone' is {spec.config['backbone']!r} but the "
            f"feature group {feature_group.key} holds {group_backbone!r} features"
        )


def prepare_experiment(
    spec: ExperimentSpec, manifest: pl.DataFrame, feature_group: FeatureGroup, dataset: str, options: RunOptions
) -> PreparedExperiment:
    """Check everything that can be checked before training, then window train and val."""
    import torch

    from models.heads import HeadConfig
    from models.training import TrainConfig

    cfg = check_config(spec.config)
    check_fit(spec, feature_group, dataset)
    check_window_reach(cfg["window_length"], feature_group.attrs.get("feature_rate"))
    rows = dataset_rows(manifest, dataset)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    feats = {s: load_split_features(feature_group, rows, s) for s in ("train", "val")}
    timings["load_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    train = load_windows(rows, feature_group, "train", cfg["window_length"], feats["train"])
    val = load_windows(rows, feature_group, "val", cfg["window_length"], feats["val"])
    timings["windows_s"] = time.perf_counter() - t0
    head = HeadConfig(cfg["encoder"], cfg["pooling"], train.dim, **dict(options.head_overrides))
    training = TrainConfig(
        **{
            "loss": cfg["loss"],
            "lr": cfg["lr"],
            "weight_decay": cfg["weight_decay"],
            "epochs": cfg["epochs"],
            "seed": int(spec.seed),
            "device": options.device or ("cuda" if torch.cuda.is_available() else "cpu"),
            **dict(options.train_overrides),
        }
    )
    return PreparedExperiment(cfg, rows, spec.split_hash or split_hash(rows), train, val, head, training, timings)
