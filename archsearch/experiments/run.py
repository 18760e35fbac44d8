"""Run one experiment end to end, without Dagster: prepare -> train -> score -> one result record.

The experiments asset is a thin wrapper around :func:`run_experiment`, so everything here is
testable (and benchmarkable) on its own. The test split is windowed and scored exactly once, after
training, with the weights chosen on validation; the trainer never receives it.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import polars as pl

from archsearch.experiments.prepare import PreparedExperiment, load_windows, prepare_experiment
from archsearch.experiments.spec import ExperimentSpec, RunOptions, TransientExperimentError, is_transient
from archsearch.results import MAX_ERROR_CHARS, ExperimentResult, SplitMetrics, check_name, history_entry, utc_now
from archsearch.space import stable_id

if TYPE_CHECKING:  # torch-backed types; imported where they are used
    from archsearch.features import FeatureGroup
    from models.training import TrainResult


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch CPU threads (None: leave them), restoring the count afterwards."""
    if threads is None:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def train(prepared: PreparedExperiment, history: list[dict[str, Any]], options: RunOptions) -> TrainResult:
    """Train the head on the prepared train windows, selecting weights on val; records each epoch in ``history``."""
    from models.training import train_head

    def record(epoch) -> None:
        entry = history_entry(epoch.epoch, epoch.train_loss, epoch.val, epoch.lr, epoch.seconds)
        history.append(entry)
        if options.on_epoch is not None:
            options.on_epoch(entry)

    t0 = time.perf_counter()
    trained = train_head(prepared.head, prepared.training, prepared.train, prepared.val, on_epoch=record)
    prepared.timings["train_s"] = time.perf_counter() - t0
    return trained


def score_test(prepared: PreparedExperiment, trained: TrainResult, feature_group: FeatureGroup) -> SplitMetrics:
    """The one and only look at test: after model selection, with the selected weights."""
    from models.training import evaluate

    t0 = time.perf_counter()
    test_w = load_windows(prepared.rows, feature_group, "test", prepared.config["window_length"])
    scores = evaluate(trained.model, test_w, batch_size=prepared.training.eval_batch_size)
    prepared.timings["eval_s"] = time.perf_counter() - t0
    return SplitMetrics.from_scores(scores, len(test_w), test_w.n_positive)


def training_facts(trained: TrainResult) -> dict[str, Any]:
    return dict(
        epochs_run=trained.epochs_run,
        best_epoch=trained.best_epoch,
        stopped_early=trained.stopped_early,
        selection=trained.selection,
        train_seconds=trained.train_seconds,
        param_count=trained.param_count,
        device=trained.device,
        threads=trained.threads,
    )


def run_experiment(
    spec: ExperimentSpec, manifest: pl.DataFrame, feature_group: FeatureGroup, options: RunOptions | None = None
) -> ExperimentResult:
    """Train and evaluate the head ``spec.config`` describes on one dataset's features: an ok or failed result.

    The manifest may hold several datasets; the experiment uses ``spec.dataset`` (default: the
    feature group's, which must match it). Raises ValueError only for an invalid campaign or config_id
    (they become file names: a caller bug) and TransientExperimentError for I/O and out-of-memory
    errors; everything else is a failed result.
    """
    options = options or RunOptions()
    t_start = time.perf_counter()
    history: list[dict[str, Any]] = []
    timings: dict[str, float] = {}
    facts: dict[str, Any] = {}
    dataset = spec.dataset if spec.dataset is not None else getattr(feature_group, "dataset", "")
    identity = dict(
        config_id=spec.config_id or stable_id(dict(spec.config)),
        config=dict(spec.config),
        agent=spec.agent,
        round=int(spec.round),
        campaign=spec.campaign,
        seed=int(spec.seed),
        dataset=dataset,
        split_hash=spec.split_hash or "",
        feature_key=spec.feature_key or getattr(feature_group, "key", ""),
    )
    check_name("config_id", identity["config_id"])  # bad names are the caller's bug: raise, do not record
    check_name("campaign", spec.campaign)
    try:
        with torch_threads(options.threads):
            prepared = prepare_experiment(spec, manifest, feature_group, dataset, options)
            identity["split_hash"], timings = prepared.split_hash, prepared.timings
            trained = train(prepared, history, options)
            facts = training_facts(trained)
            val = SplitMetrics.from_scores(trained.best_val, len(prepared.val), prepared.val.n_positive)
            test = score_test(prepared, trained, feature_group)
        timings["total_s"] = time.perf_counter() - t_start
        return ExperimentResult(
            **identity,
            status="ok",
            val=val,
            test=test,
            history=tuple(history),
            timings=timings,
            created_at=utc_now(),
            **facts,
        )
    except Exception as exc:
        if is_transient(exc):
            raise TransientExperimentError(
                f"experiment {identity['config_id']} (campaign {spec.campaign}, seed {spec.seed}) hit a transient "
                f"{type(exc).__name__}: {exc}",
                exc,
            ) from exc
        timings["total_s"] = time.perf_counter() - t_start
        facts.setdefault("epochs_run", len(history))
        return ExperimentResult(
            **identity,
            status="failed",
            error_type=type(exc).__name__,
            error_message=str(exc)[:MAX_ERROR_CHARS],
            error_traceback="".join(traceback.format_exception(exc))[-MAX_ERROR_CHARS:],
            history=tuple(history),
            timings=timings,
            created_at=utc_now(),
            **facts,
        )
