"""run_experiment end to end on a small synthetic feature group: a result with val and test apart, test
scored once after training on videos the trainer never saw, failures recorded, transient errors raised."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pytest
import torch

import archsearch.experiments.prepare
import models.training
from archsearch.common import REPO_ROOT
from archsearch.data.splits import split_hash
from archsearch.experiments import (
    ExperimentConfigError,
    ExperimentSpec,
    RunOptions,
    TransientExperimentError,
    check_config,
    run_experiment,
)
from archsearch.features.synthetic import synthetic_feature_group
from archsearch.results import HISTORY_KEYS, ResultsStore, to_agent_view
from archsearch.space import stable_id

REPO = REPO_ROOT
CONFIG = {
    "backbone": "synthetic",
    "encoder": "gru",
    "pooling": "mean",
    "loss": "bce",
    "lr": 3e-3,
    "weight_decay": 1e-4,
    "window_length": 8,
    "epochs": 4,
}
IDENTITY = {"seed": 0, "agent": "random", "round": 0, "campaign": "unit"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return synthetic_feature_group(
        str(tmp_path_factory.mktemp("features")), n_videos=60, steps=30, dim=16, signal=2.0, seed=3
    )


def run(data, config=CONFIG, *, manifest=None, **kw):
    """run_experiment on ``data``; keyword arguments go to the ExperimentSpec or the RunOptions they belong to."""
    option_keys = {"device", "threads", "on_epoch", "train_overrides", "head_overrides"}
    options = RunOptions(**{"device": "cpu", **{k: v for k, v in kw.items() if k in option_keys}})
    spec = ExperimentSpec(config, **{**IDENTITY, **{k: v for k, v in kw.items() if k not in option_keys}})
    return run_experiment(spec, data[0] if manifest is None else manifest, data[1], options)


def test_run_experiment_returns_an_ok_result_with_val_and_test_apart(data):
    manifest, group = data
    seen = []
    r = run(data, on_epoch=seen.append)
    assert r.status == "ok" and r.error_type is None, r.error_message
    assert r.config_id == stable_id(CONFIG) and r.config == CONFIG and r.dataset == group.dataset
    assert r.split_hash == split_hash(manifest) and r.feature_key == group.key
    assert (r.agent, r.round, r.campaign, r.seed, r.device) == ("random", 0, "unit", 0, "cpu")
    assert 1 <= r.best_epoch <= r.epochs_run <= 4 and r.param_count > 0 and r.train_seconds > 0
    assert r.val.map > 0.7 and r.test.map > 0.7  # a clear synthetic signal: well above chance (0.5)
    n_val = manifest.filter(pl.col("split") == "val").height
    assert (r.val.n_windows, r.val.n_positive) == (3 * n_val, 3 * n_val // 2)
    assert r.val.map == r.history[r.best_epoch - 1]["val_map"]
    assert [tuple(e) for e in seen] == [HISTORY_KEYS] * r.epochs_run and list(r.history) == seen
    assert set(r.timings) == {"load_s", "windows_s", "train_s", "eval_s", "total_s"}


def test_same_seed_same_result_other_seed_differs(data):
    a, b, c = run(data), run(data), run(data, seed=1)
    assert (a.val, a.test, a.history[-1]["train_loss"]) == (b.val, b.test, b.history[-1]["train_loss"])
    assert c.history[-1]["train_loss"] != a.history[-1]["train_loss"]


def test_threads_apply_to_the_experiment_only(data):
    torch.set_num_threads(1)
    r = run(data, threads=2)
    assert r.threads == 2 and torch.get_num_threads() == 1


def test_test_split_is_scored_once_after_training_on_unseen_videos(data, monkeypatch):
    manifest, _ = data
    ids = {s: set(manifest.filter(pl.col("split") == s)["video_id"]) for s in ("train", "val", "test")}
    calls = []
    real_train, real_eval = models.training.train_head, models.training.evaluate

    def spy_train(head_cfg, train_cfg, train_w, val_w, **kw):
        calls.append(("train", set(train_w.video_id), set(val_w.video_id)))
        return real_train(head_cfg, train_cfg, train_w, val_w, **kw)

    def spy_eval(model, windows, **kw):
        calls.append(("evaluate", set(windows.video_id)))
        return real_eval(model, windows, **kw)

    monkeypatch.setattr(models.training, "train_head", spy_train)
    monkeypatch.setattr(models.training, "evaluate", spy_eval)
    r = run(data)
    assert r.status == "ok"
    assert [c[0] for c in calls] == ["train", "evaluate"]  # training first, then one evaluation
    assert calls[0][1] == ids["train"] and calls[0][2] == ids["val"]  # the trainer never got test videos
    assert calls[1][1] == ids["test"]


@pytest.mark.parametrize(
    "change,error_type,message",
    [
        ({"encoder": "transformer"}, "HeadConfigError", "HeadConfig field 'encoder'"),
        ({"backbone": "motion"}, "ExperimentConfigError", "key 'backbone' is 'motion' but the feature group"),
        ({"window_length": 0}, "ExperimentConfigError", "key 'window_length': expected a positive integer"),
        ({"loss": "hinge"}, "TrainConfigError", "TrainConfig field 'loss'"),
    ],
)
def test_a_bad_config_becomes_a_failed_result(data, change, error_type, message):
    r = run(data, {**CONFIG, **change})
    assert (r.status, r.error_type) == ("failed", error_type) and message in r.error_message
    assert r.val is None and r.test is None and error_type in r.error_traceback
    assert to_agent_view(r).error_type == error_type  # agents learn from failures too


def test_dataset_selection_is_explicit(data):
    manifest, group = data
    other = manifest.with_columns(pl.lit("other_set").alias("dataset"))
    both = pl.concat([manifest, other])
    r = run(data, manifest=both)  # the group's dataset; the other dataset's rows are ignored
    assert r.status == "ok" and r.dataset == group.dataset and r.split_hash == split_hash(manifest)
    r = run(data, manifest=both, dataset="other_set")
    assert r.error_type == "ExperimentConfigError" and "feature group holds" in r.error_message
    r = run(data, manifest=other)
    assert r.error_type == "ExperimentConfigError" and "no rows for dataset" in r.error_message
    no_test = manifest.filter(pl.col("split") != "test")
    r = run(data, manifest=no_test)
    assert "no videos in split(s) ['test']" in r.error_message


def test_transient_errors_are_raised_for_a_retry(data, monkeypatch):
    def io_error(*a, **k):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(archsearch.experiments.prepare, "load_split_features", io_error)
    with pytest.raises(TransientExperimentError, match="transient OSError") as info:
        run(data)
    assert isinstance(info.value.original, OSError)
    monkeypatch.undo()

    def oom(*a, **k):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(models.training, "train_head", oom)
    with pytest.raises(TransientExperimentError, match="OutOfMemoryError"):
        run(data)


def test_result_goes_to_the_store_and_the_agents_see_val_only(data, tmp_path):
    r = run(data)
    store = ResultsStore(tmp_path)
    store.write(r)
    (view,) = store.agent_history("unit")
    assert view.val_map == r.val.map and view.config == CONFIG
    row = store.read("unit").row(0, named=True)
    assert (row["test_map"], row["val_map"], row["encoder"]) == (r.test.map, r.val.map, "gru")


def test_check_config_and_bad_identity():
    assert check_config({**CONFIG, "epochs": 5.0})["epochs"] == 5
    with pytest.raises(ExperimentConfigError, match=r"missing key\(s\) \['pooling'\]"):
        check_config({k: v for k, v in CONFIG.items() if k != "pooling"})
    with pytest.raises(ValueError, match="campaign"):
        run_experiment(ExperimentSpec(CONFIG, seed=0, agent="a", round=0, campaign="no spaces"), pl.DataFrame(), None)


def test_core_modules_import_without_torch():
    code = "import sys, archsearch.experiments, archsearch.results; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_a_window_reaching_past_the_matched_history_is_refused(data):
    """24 steps at 5 Hz + 1.5 s = 6.3 s fits the 6.5 s every video is matched on; 30 steps would not."""
    r = run(data, {**CONFIG, "window_length": 30})
    assert r.error_type == "ExperimentConfigError" and "beyond the 6.5 s" in r.error_message
    assert "use at most 25 steps" in r.error_message
