"""Run one experiment config end to end, without Dagster: features -> windows -> train -> evaluate -> result.

The experiments asset is a thin wrapper around `run_experiment`, so everything here is testable (and
benchmarkable) on its own. Two kinds of failure are kept apart on purpose:

* the experiment itself is bad (a config the head rejects, a loss that diverges, a split with no
  positives...): it becomes a `failed` ExperimentResult naming the error class and message, which is
  written like any other result, so one bad config never stops a campaign and agents learn from it;
* the machine had a bad moment (I/O error, out of memory): `TransientExperimentError` is raised instead,
  so the caller retries rather than recording a failure that says nothing about the config.

The test split is windowed and scored exactly once, after training, with the weights chosen on
validation; the trainer never receives it.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from archsearch.results import MAX_ERROR_CHARS, ExperimentResult, SplitMetrics, check_name, history_entry, utc_now
from archsearch.space import stable_id

if TYPE_CHECKING:  # heavy imports stay inside run_experiment
    from archsearch.features import FeatureGroup
    from models.windows import WindowSet

# The config keys an experiment reads (backbone picks the feature group, the caller's job).
CONFIG_KEYS = ("encoder", "pooling", "loss", "lr", "weight_decay", "window_length", "epochs")
SPLITS = ("train", "val", "test")


class ExperimentConfigError(ValueError):
    """The config, manifest and feature group do not fit together; the message says which key and why."""


class TransientExperimentError(RuntimeError):
    """An experiment hit an environmental error (I/O, out of memory); retrying it may succeed.

    `original` is the exception that was raised inside the experiment.
    """

    def __init__(self, message: str, original: BaseException):
        super().__init__(message)
        self.original = original


def is_transient(exc: BaseException) -> bool:
    """I/O errors and out-of-memory (host or CUDA) say nothing about the config: retry them."""
    if isinstance(exc, (OSError, MemoryError)):
        return True
    if type(exc).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError / torch.cuda.OutOfMemoryError
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def check_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The keys an experiment needs, with their types checked; raises ExperimentConfigError naming the key."""
    missing = [k for k in CONFIG_KEYS if k not in config]
    if missing:
        raise ExperimentConfigError(f"experiment config: missing key(s) {missing}; got {sorted(config)}")
    out = {k: config[k] for k in CONFIG_KEYS}
    for k in ("window_length", "epochs"):
        v = out[k]
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ExperimentConfigError(f"experiment config: key {k!r}: expected a positive integer, got {out[k]!r}")
        out[k] = v
    for k in ("lr", "weight_decay"):
        try:
            out[k] = float(out[k])
        except (TypeError, ValueError):
            raise ExperimentConfigError(f"experiment config: key {k!r}: expected a number, got {out[k]!r}") from None
    return out


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
    from archsearch.features.extraction import load_split_features
    from models.windows import build_windows

    rows = manifest.filter(pl.col("split") == split)
    feats = features if features is not None else load_split_features(feature_group, rows, split)
    ids = sorted(rows["video_id"].to_list())  # the split's videos, in the store's split order
    info = {vid: (label, anchor) for vid, label, anchor in rows.select("video_id", "label", "anchor_time").iter_rows()}
    nulls = [v for v in ids if info[v][1] is None]
    if nulls:
        raise ExperimentConfigError(f"manifest: {len(nulls)} video(s) of split {split!r} have no anchor_time, "
                                    f"e.g. {nulls[:5]} (assign anchors before training)")
    return build_windows(feats, ids, np.array([int(info[v][0]) for v in ids]),
                         np.array([float(info[v][1]) for v in ids]), window_length)


def run_experiment(
    config: Mapping[str, Any],
    *,
    manifest: pl.DataFrame,
    feature_group: FeatureGroup,
    seed: int,
    agent: str,
    round: int,  # noqa: A002 - the proposals' own word
    campaign: str,
    dataset: str | None = None,
    split_hash: str | None = None,
    feature_key: str | None = None,
    config_id: str | None = None,
    device: str | None = None,
    threads: int | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    train_overrides: Mapping[str, Any] | None = None,
    head_overrides: Mapping[str, Any] | None = None,
) -> ExperimentResult:
    """Train and evaluate the head `config` describes on one dataset's features; returns ok or failed results.

    dataset: the one dataset this config runs on (default: the feature group's, which must match it);
    the manifest may hold several. split_hash defaults to archsearch.data.splits.split_hash of that
    dataset's rows, feature_key to the group's key, config_id to stable_id(config) (pass the canonical
    config, or the id SearchSpace.config_id gave). device: None picks cuda when available. threads:
    torch CPU threads for this experiment (restored afterwards); 1 is best when experiments run side by
    side on a small CPU (2 threads were 3-20x slower per epoch on a busy 2-core box). on_epoch gets one
    history entry per epoch (archsearch.results.HISTORY_KEYS). train_overrides / head_overrides set
    TrainConfig / HeadConfig fields the search space does not vary (e.g. patience, d_model).

    Raises ValueError only for an invalid campaign or config_id (they become file names: a caller bug)
    and TransientExperimentError for I/O and out-of-memory errors; everything else is a failed result.
    """
    t_start = time.perf_counter()
    history: list[dict[str, Any]] = []
    timings: dict[str, float] = {}
    facts: dict[str, Any] = {}
    dataset = dataset if dataset is not None else getattr(feature_group, "dataset", "")
    identity = dict(
        config_id=config_id or stable_id(dict(config)), config=dict(config), agent=agent, round=int(round),
        campaign=campaign, seed=int(seed), dataset=dataset, split_hash=split_hash or "",
        feature_key=feature_key or getattr(feature_group, "key", ""),
    )
    check_name("config_id", identity["config_id"])  # bad names are the caller's bug: raise, do not record
    check_name("campaign", campaign)
    previous_threads = None
    try:
        import torch

        if threads is not None:
            previous_threads = torch.get_num_threads()
            torch.set_num_threads(int(threads))

        from models.heads import HeadConfig
        from models.training import TrainConfig, evaluate, train_head

        cfg = check_config(config)
        if getattr(feature_group, "dataset", dataset) != dataset:
            raise ExperimentConfigError(f"dataset {dataset!r} was asked for but the feature group holds "
                                        f"{feature_group.dataset!r}")
        group_backbone = feature_group.attrs.get("backbone")
        if "backbone" in config and group_backbone is not None and config["backbone"] != group_backbone:
            raise ExperimentConfigError(f"experiment config: key 'backbone' is {config['backbone']!r} but the feature "
                                        f"group {feature_group.key} holds {group_backbone!r} features")
        part = dataset_rows(manifest, dataset)
        if split_hash is None:
            from archsearch.data.splits import split_hash as _split_hash

            identity["split_hash"] = _split_hash(part)

        t0 = time.perf_counter()
        from archsearch.features.extraction import load_split_features

        feats = {s: load_split_features(feature_group, part, s) for s in ("train", "val")}
        timings["load_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        train_w = load_windows(part, feature_group, "train", cfg["window_length"], feats["train"])
        val_w = load_windows(part, feature_group, "val", cfg["window_length"], feats["val"])
        timings["windows_s"] = time.perf_counter() - t0
        del feats

        head_cfg = HeadConfig(cfg["encoder"], cfg["pooling"], train_w.dim, **dict(head_overrides or {}))
        train_cfg = TrainConfig(**{"loss": cfg["loss"], "lr": cfg["lr"], "weight_decay": cfg["weight_decay"],
                                   "epochs": cfg["epochs"], "seed": int(seed),
                                   "device": device or ("cuda" if torch.cuda.is_available() else "cpu"),
                                   **dict(train_overrides or {})})

        def record(e) -> None:
            entry = history_entry(e.epoch, e.train_loss, e.val, e.lr, e.seconds)
            history.append(entry)
            if on_epoch is not None:
                on_epoch(entry)

        t0 = time.perf_counter()
        trained = train_head(head_cfg, train_cfg, train_w, val_w, on_epoch=record)
        timings["train_s"] = time.perf_counter() - t0
        facts = dict(epochs_run=trained.epochs_run, best_epoch=trained.best_epoch, stopped_early=trained.stopped_early,
                     train_seconds=trained.train_seconds, param_count=trained.param_count, device=trained.device,
                     threads=trained.threads)
        val = SplitMetrics.from_scores(trained.best_val, len(val_w), val_w.n_positive)
        del train_w, val_w

        # The one and only look at test: after model selection, with the selected weights.
        t0 = time.perf_counter()
        test_w = load_windows(part, feature_group, "test", cfg["window_length"])
        test = SplitMetrics.from_scores(evaluate(trained.model, test_w, batch_size=train_cfg.eval_batch_size),
                                        len(test_w), test_w.n_positive)
        timings["eval_s"] = time.perf_counter() - t0
        timings["total_s"] = time.perf_counter() - t_start
        return ExperimentResult(**identity, status="ok", val=val, test=test, history=tuple(history),
                                timings=timings, created_at=utc_now(), **facts)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a result or a retry
        if is_transient(exc):
            raise TransientExperimentError(
                f"experiment {identity['config_id']} (campaign {campaign}, seed {seed}) hit a transient "
                f"{type(exc).__name__}: {exc}", exc) from exc
        timings["total_s"] = time.perf_counter() - t_start
        facts.setdefault("epochs_run", len(history))
        return ExperimentResult(
            **identity, status="failed", error_type=type(exc).__name__, error_message=str(exc)[:MAX_ERROR_CHARS],
            error_traceback="".join(traceback.format_exception(exc))[-MAX_ERROR_CHARS:],
            history=tuple(history), timings=timings, created_at=utc_now(), **facts)
    finally:
        if previous_threads is not None:
            import torch

            torch.set_num_threads(previous_threads)


# ----------------------------------------------------------------------------------------- synthetic data


def synthetic_feature_group(
    store_root: str,
    *,
    dataset: str = "synthetic_features",
    n_videos: int = 120,
    steps: int = 50,
    dim: int = 64,
    rate: float = 5.0,
    signal: float = 1.0,
    ramp_s: float = 3.0,
    positive_fraction: float = 0.5,
    anchor_range: tuple[float, float] | None = None,
    seed: int = 0,
) -> tuple[pl.DataFrame, FeatureGroup]:
    """A feature group with a known learnable signal plus its manifest, for tests, benchmarks and demos.

    Every video has `steps` causal feature steps at `rate` Hz of N(0, 1) noise; positives add
    `signal` x ramp(t) along one fixed direction, where ramp rises linearly from 0 at anchor - ramp_s
    to 1 at the anchor. So the task is learnable, harder at longer horizons (as in real dashcam data),
    and `signal` sets how hard. Anchors are uniform in `anchor_range` (default: late enough that a
    24-step window at the 1500 ms horizon fits). Splits: archsearch.data.splits.assign_splits (70/15/15).
    """
    from archsearch.data.splits import assign_splits
    from archsearch.features import FeatureStore, feature_key

    rng = np.random.default_rng(seed)
    times = np.arange(steps) / rate  # (T,)
    duration = float(times[-1])
    lo, hi = anchor_range if anchor_range is not None else (min(1.5 + 23 / rate, duration), duration)
    labels = (np.arange(n_videos) < round(positive_fraction * n_videos)).astype(np.int8)
    rng.shuffle(labels)
    anchors = rng.uniform(lo, hi, n_videos)
    ids = [f"{i:05d}" for i in range(n_videos)]
    direction = rng.standard_normal(dim).astype(np.float32)
    direction /= np.linalg.norm(direction) / np.sqrt(dim)  # unit RMS per channel
    sampling = {"synthetic_seed": seed, "signal": signal, "rate": rate}
    key = feature_key("synthetic", f"seed{seed}", sampling)
    store = FeatureStore(store_root)
    group = store.group(dataset, key, attrs={"backbone": "synthetic", "weights_digest": f"seed{seed}",
                                             "sampling": sampling, "feature_rate": rate, "dim": dim})
    for i, vid in enumerate(ids):
        x = rng.standard_normal((steps, dim), dtype=np.float32)  # (T, D)
        if labels[i]:
            ramp = np.clip(1.0 - (anchors[i] - times) / ramp_s, 0.0, 1.0)  # (T,) 0 -> 1 at the anchor
            x += (signal * ramp)[:, None] * direction[None, :]
        group.write(vid, f"d{seed}x{i}", x.astype(np.float16), times)
    table = pl.DataFrame({
        "dataset": [dataset] * n_videos, "video_id": ids, "path": [""] * n_videos,
        "label": pl.Series(labels, dtype=pl.Int8),
        "event_time": [float(a) if y else None for a, y in zip(anchors, labels)],
        "alert_time": pl.Series([None] * n_videos, dtype=pl.Float64), "anchor_time": anchors,
        "duration": [duration] * n_videos, "fps": [rate] * n_videos, "n_frames": [steps] * n_videos,
        "width": [0] * n_videos, "height": [0] * n_videos,
        "video_digest": [f"d{seed}x{i}" for i in range(n_videos)], "scenario": ["synthetic"] * n_videos,
    })
    manifest = assign_splits(table, seed=seed)
    from archsearch.features.extraction import split_order

    group.pack(split_order(manifest))
    return manifest, group
