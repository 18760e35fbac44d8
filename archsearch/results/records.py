"""Experiment result records: one immutable ``ExperimentResult`` per (campaign, config, seed).

The record type, its validation and its JSON form, apart from the store and the agents' view.
Validation and test metrics are kept apart (``val`` and ``test`` are separate ``SplitMetrics``) so that code that
must never see test scores (:mod:`archsearch.results.view`) can read ``val`` alone. Per-epoch
history holds validation metrics only and refuses any key that mentions test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from archsearch.common import SAFE_NAME_RULE, is_safe_name, utc_now

SCHEMA_VERSION = 1
STATUSES = ("ok", "failed")
MAX_ERROR_CHARS = 4000  # stored message; agents get a shorter one


class ResultsStoreError(ValueError):
    """A result record or file is invalid; the message names the file or field and what was expected."""


def check_name(kind: str, value: Any) -> str:
    if not is_safe_name(value):
        raise ResultsStoreError(f"{kind}: expected {SAFE_NAME_RULE} (it becomes a file name), got {value!r}")
    return value


@dataclass(frozen=True)
class SplitMetrics:
    """AP at each horizon before the event, their mean (the Nexar mAP), and what they were computed over."""

    ap_500: float
    ap_1000: float
    ap_1500: float
    map: float
    n_windows: int = 0
    n_positive: int = 0

    @classmethod
    def from_scores(cls, scores: Mapping[str, float], n_windows: int = 0, n_positive: int = 0) -> SplitMetrics:
        """From models.training.evaluate's {"ap_500", "ap_1000", "ap_1500", "map"}."""
        missing = [k for k in ("ap_500", "ap_1000", "ap_1500", "map") if k not in scores]
        if missing:
            raise ResultsStoreError(f"SplitMetrics.from_scores: missing {missing}; got keys {sorted(scores)}")
        return cls(
            float(scores["ap_500"]),
            float(scores["ap_1000"]),
            float(scores["ap_1500"]),
            float(scores["map"]),
            int(n_windows),
            int(n_positive),
        )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SplitMetrics:
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# Keys of one history entry (one epoch). Only validation metrics: a test score per epoch would be a
# test-set learning curve, i.e. model selection on test waiting to happen.
HISTORY_KEYS = ("epoch", "train_loss", "val_ap_500", "val_ap_1000", "val_ap_1500", "val_map", "lr", "seconds")


def history_entry(epoch: int, train_loss: float, val: Mapping[str, float], lr: float, seconds: float) -> dict[str, Any]:
    """One epoch as stored in ExperimentResult.history (validation scores only)."""
    return {
        "epoch": int(epoch),
        "train_loss": float(train_loss),
        "val_ap_500": float(val["ap_500"]),
        "val_ap_1000": float(val["ap_1000"]),
        "val_ap_1500": float(val["ap_1500"]),
        "val_map": float(val["map"]),
        "lr": float(lr),
        "seconds": float(seconds),
    }


@dataclass(frozen=True)
class ExperimentResult:
    """Everything about one trained head: identity, outcome, validation and test metrics (apart), run facts."""

    # identity
    config_id: str
    config: dict[str, Any]
    agent: str
    round: int
    campaign: str
    seed: int
    dataset: str = ""
    # outcome
    status: str = "ok"  # "ok" | "failed"
    error_type: str | None = None
    error_message: str | None = None
    error_traceback: str | None = None
    val: SplitMetrics | None = None  # what model selection and agents may use
    test: SplitMetrics | None = None  # scored once, after training, with the selected weights
    # run facts
    epochs_run: int = 0
    best_epoch: int = 0
    # How the weights were chosen: "final" (last epoch of the schedule; val is an honest score) or
    # "best_val" (the best val epoch: val is optimistic). Records stored before the field existed used "best_val".
    selection: str = "final"
    stopped_early: bool = False
    train_seconds: float = 0.0
    param_count: int = 0
    device: str = ""
    threads: int = 0
    split_hash: str = ""
    feature_key: str = ""
    created_at: str = field(default_factory=utc_now)
    history: tuple[dict[str, Any], ...] = ()  # HISTORY_KEYS per epoch
    timings: dict[str, float] = field(default_factory=dict)  # load_s, windows_s, train_s, eval_s, total_s

    def __post_init__(self) -> None:
        check_name("ExperimentResult.config_id", self.config_id)
        check_name("ExperimentResult.campaign", self.campaign)
        if self.status not in STATUSES:
            raise ResultsStoreError(f"ExperimentResult.status: expected one of {STATUSES}, got {self.status!r}")
        if self.status == "ok" and (not isinstance(self.val, SplitMetrics) or not isinstance(self.test, SplitMetrics)):
            raise ResultsStoreError("ExperimentResult: status 'ok' needs both val and test SplitMetrics")
        if self.status == "failed" and not self.error_type:
            raise ResultsStoreError("ExperimentResult: status 'failed' needs error_type (the exception class)")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ResultsStoreError(f"ExperimentResult.seed: expected a non-negative integer, got {self.seed!r}")
        object.__setattr__(self, "history", tuple(dict(h) for h in self.history))
        for i, h in enumerate(self.history):
            extra = set(h) - set(HISTORY_KEYS)
            if extra:
                raise ResultsStoreError(
                    f"ExperimentResult.history[{i}]: unexpected keys {sorted(extra)} (allowed: "
                    f"{list(HISTORY_KEYS)}; per-epoch test scores are never recorded)"
                )

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def filename(self) -> str:
        return f"{self.config_id}__seed{self.seed}.json"

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["val"] = None if self.val is None else self.val.to_dict()
        d["test"] = None if self.test is None else self.test.to_dict()
        d["history"] = [dict(h) for h in self.history]
        d["config"] = dict(self.config)
        d["timings"] = dict(self.timings)
        return {"schema": SCHEMA_VERSION, **d}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExperimentResult:
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        kw.setdefault("selection", "best_val")  # stored before the field existed: the best val epoch chose
        for split in ("val", "test"):
            if kw.get(split) is not None:
                kw[split] = SplitMetrics.from_dict(kw[split])
        kw["history"] = tuple(kw.get("history") or ())
        return cls(**kw)
