"""Experiments: train and score one proposed temporal-head config, alone or many side by side.

``spec`` says what an experiment is (identity, config, run options, failure kinds); ``prepare``
checks it against the data and windows train and val; ``run`` trains, scores test once and builds
the result; ``batch`` runs many on a process pool and writes each result as it finishes.
"""

from archsearch.experiments.batch import FeaturesRefusedError, Task, run_tasks
from archsearch.experiments.prepare import PreparedExperiment, dataset_rows, load_windows, prepare_experiment
from archsearch.experiments.run import run_experiment, score_test, train
from archsearch.experiments.spec import (
    CONFIG_KEYS,
    SPLITS,
    ExperimentConfigError,
    ExperimentSpec,
    RunOptions,
    TransientExperimentError,
    check_config,
    is_transient,
)

__all__ = [
    "CONFIG_KEYS",
    "SPLITS",
    "ExperimentConfigError",
    "ExperimentSpec",
    "FeaturesRefusedError",
    "PreparedExperiment",
    "RunOptions",
    "Task",
    "TransientExperimentError",
    "check_config",
    "dataset_rows",
    "is_transient",
    "load_windows",
    "prepare_experiment",
    "run_experiment",
    "run_tasks",
    "score_test",
    "train",
]
