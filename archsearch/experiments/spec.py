"""What one experiment is: the proposal's identity and config, how to run it, and how it can fail.

Two kinds of failure are kept apart on purpose:

* the experiment itself is bad (a config the head rejects, a loss that diverges, a split with no
  positives...): it becomes a `failed` ExperimentResult naming the error class and message, which is
  written like any other result, so one bad config never stops a campaign and agents learn from it;
* the machine had a bad moment (I/O error, out of memory): `TransientExperimentError` is raised
  instead, so the caller retries rather than recording a failure that says nothing about the config.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from archsearch.campaign.proposals import Proposal

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


@dataclass(frozen=True)
class ExperimentSpec:
    """Who asked for which config, on which data: everything that identifies one result.

    ``dataset`` defaults to the feature group's; ``config_id`` to ``stable_id(config)`` (pass the
    canonical config, or the id ``SearchSpace.config_id`` gave); ``split_hash`` to the hash of that
    dataset's manifest rows; ``feature_key`` to the group's key.
    """

    config: Mapping[str, Any]
    seed: int
    agent: str
    round: int
    campaign: str
    dataset: str | None = None
    config_id: str | None = None
    split_hash: str | None = None
    feature_key: str | None = None

    @classmethod
    def from_proposal(cls, proposal: Proposal, feature_key: str | None = None) -> ExperimentSpec:
        return cls(
            config=proposal.config,
            seed=proposal.seed,
            agent=proposal.agent,
            round=proposal.round,
            campaign=proposal.campaign,
            dataset=proposal.dataset,
            config_id=proposal.config_id,
            feature_key=feature_key,
        )


@dataclass(frozen=True)
class RunOptions:
    """How to run an experiment, not what it is: none of this changes which result it is.

    device: None picks CUDA when available. threads: torch CPU threads for this experiment (restored
    afterwards); 1 is best when experiments run side by side on a small CPU (2 threads were 3-20x
    slower per epoch on a busy 2-core box). on_epoch gets one history entry per epoch
    (``archsearch.results.HISTORY_KEYS``). train_overrides / head_overrides set TrainConfig /
    HeadConfig fields the search space does not vary (e.g. patience, d_model).
    """

    device: str | None = None
    threads: int | None = None
    on_epoch: Callable[[dict[str, Any]], None] | None = None
    train_overrides: Mapping[str, Any] = field(default_factory=dict)
    head_overrides: Mapping[str, Any] = field(default_factory=dict)


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
