"""Experiment results: one immutable record per (campaign, config, seed), a store of them, and the agents' view.

Leakage is impossible by construction, not by discipline. The reference study's agents saw a saturated
split; here test metrics live only in `ExperimentResult.test`, and what agents receive is a different
type, `AgentView`, which has no test field at all and is built by code that never reads one
(`to_agent_view` and `AgentView.from_record` name the fields they copy; nothing iterates over a
result). Per-epoch history holds validation metrics only and refuses any key that mentions test.

The store writes one JSON file per result, `<root>/results/<campaign>/<config_id>__seed<seed>.json`:
a temp file in the same directory, fsync, then `os.replace`, so a reader sees the old or the new
result, never a torn one; writers of different results never touch the same file, so any number of
processes can write at once with no lock; re-running a (config_id, seed) replaces its file (idempotent).
Chosen over one append-only table because that needs a lock (the study's file-lock orchestration was
fragile) and de-duplication on read, while 10^4 result files read in ~2 s cold and ~0.3 s warm
(parsed records are cached by inode, mtime and size; measured on a 2-core box), and a write takes ~1 ms.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import polars as pl

from archsearch.atomic import write_text_atomic

SCHEMA_VERSION = 1
STATUSES = ("ok", "failed")
MAX_ERROR_CHARS = 4000  # stored message; agents get a shorter one
AGENT_ERROR_CHARS = 300

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")


class ResultsStoreError(ValueError):
    """A result record or file is invalid; the message names the file or field and what was expected."""


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def check_name(kind: str, value: Any) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise ResultsStoreError(f"{kind}: expected 1-128 characters from [A-Za-z0-9_.-] starting with a letter or "
                                f"digit (it becomes a file name), got {value!r}")
    return value


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


# ----------------------------------------------------------------------------------------- records


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
        return cls(float(scores["ap_500"]), float(scores["ap_1000"]), float(scores["ap_1500"]), float(scores["map"]),
                   int(n_windows), int(n_positive))

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
    return {"epoch": int(epoch), "train_loss": float(train_loss), "val_ap_500": float(val["ap_500"]),
            "val_ap_1000": float(val["ap_1000"]), "val_ap_1500": float(val["ap_1500"]), "val_map": float(val["map"]),
            "lr": float(lr), "seconds": float(seconds)}


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
                raise ResultsStoreError(f"ExperimentResult.history[{i}]: unexpected keys {sorted(extra)} (allowed: "
                                        f"{list(HISTORY_KEYS)}; per-epoch test scores are never recorded)")

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
        for split in ("val", "test"):
            if kw.get(split) is not None:
                kw[split] = SplitMetrics.from_dict(kw[split])
        kw["history"] = tuple(kw.get("history") or ())
        return cls(**kw)


# ----------------------------------------------------------------------------------------- agent view


@dataclass(frozen=True)
class AgentView:
    """What a search agent may know about one experiment: its config, validation scores, cost, errors.

    There is deliberately no field for any test metric (a module-level check enforces it), so nothing
    rendered from AgentViews (prompts, tables, JSON) can carry one.
    """

    config_id: str
    config: dict[str, Any]
    agent: str
    round: int
    campaign: str
    seed: int
    status: str
    error_type: str | None
    error_message: str | None
    val_ap_500: float | None
    val_ap_1000: float | None
    val_ap_1500: float | None
    val_map: float | None
    epochs_run: int
    best_epoch: int
    train_seconds: float
    param_count: int
    val_map_curve: tuple[float, ...]
    train_loss_curve: tuple[float, ...]
    created_at: str

    @classmethod
    def from_record(cls, rec: Mapping[str, Any]) -> AgentView:
        """From a stored JSON record, reading only the keys listed here (never "test")."""
        val = rec.get("val") or {}
        history = rec.get("history") or ()
        message = rec.get("error_message")
        return cls(
            config_id=str(rec["config_id"]),
            config=dict(rec["config"]),
            agent=str(rec.get("agent", "")),
            round=int(rec.get("round", 0)),
            campaign=str(rec.get("campaign", "")),
            seed=int(rec.get("seed", 0)),
            status=str(rec.get("status", "")),
            error_type=rec.get("error_type"),
            error_message=None if message is None else str(message)[:AGENT_ERROR_CHARS],
            val_ap_500=_num(val.get("ap_500")),
            val_ap_1000=_num(val.get("ap_1000")),
            val_ap_1500=_num(val.get("ap_1500")),
            val_map=_num(val.get("map")),
            epochs_run=int(rec.get("epochs_run", 0)),
            best_epoch=int(rec.get("best_epoch", 0)),
            train_seconds=float(rec.get("train_seconds", 0.0)),
            param_count=int(rec.get("param_count", 0)),
            val_map_curve=tuple(float(h["val_map"]) for h in history),
            train_loss_curve=tuple(float(h["train_loss"]) for h in history),
            created_at=str(rec.get("created_at", "")),
        )

    @classmethod
    def pending(cls, *, config_id: str, config: Mapping[str, Any], agent: str, round: int, campaign: str,  # noqa: A002
                seed: int, created_at: str = "") -> AgentView:
        """A proposal queued or running, not yet scored: agents must not propose it again, nor score it."""
        return cls(config_id=config_id, config=dict(config), agent=agent, round=int(round), campaign=campaign,
                   seed=int(seed), status="pending", error_type=None, error_message=None, val_ap_500=None,
                   val_ap_1000=None, val_ap_1500=None, val_map=None, epochs_run=0, best_epoch=0, train_seconds=0.0,
                   param_count=0, val_map_curve=(), train_loss_curve=(), created_at=created_at)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["val_map_curve"], d["train_loss_curve"] = list(self.val_map_curve), list(self.train_loss_curve)
        return d


HistoryEntry = AgentView  # the name the agents' prompt code uses for one line of history

assert not [f.name for f in fields(AgentView) if "test" in f.name.lower()], "AgentView must not carry test fields"


def to_agent_view(result: ExperimentResult) -> AgentView:
    """The agent-visible part of `result`; reads result.val and the run facts, never result.test."""
    val = result.val
    return AgentView(
        config_id=result.config_id,
        config=dict(result.config),
        agent=result.agent,
        round=int(result.round),
        campaign=result.campaign,
        seed=int(result.seed),
        status=result.status,
        error_type=result.error_type,
        error_message=None if result.error_message is None else result.error_message[:AGENT_ERROR_CHARS],
        val_ap_500=None if val is None else val.ap_500,
        val_ap_1000=None if val is None else val.ap_1000,
        val_ap_1500=None if val is None else val.ap_1500,
        val_map=None if val is None else val.map,
        epochs_run=int(result.epochs_run),
        best_epoch=int(result.best_epoch),
        train_seconds=float(result.train_seconds),
        param_count=int(result.param_count),
        val_map_curve=tuple(float(h["val_map"]) for h in result.history),
        train_loss_curve=tuple(float(h["train_loss"]) for h in result.history),
        created_at=result.created_at,
    )


def format_agent_history(views: Sequence[AgentView], *, digits: int = 4) -> str:
    """A markdown table of experiments for a prompt: config, validation AP per horizon, status."""
    if not views:
        return "(no experiments yet)"
    keys: list[str] = []
    for v in views:
        keys += [k for k in v.config if k not in keys]
    cols = ["config_id", *keys, "status", "val_ap_500", "val_ap_1000", "val_ap_1500", "val_map", "epochs", "best_epoch"]
    fmt = lambda x: "-" if x is None else (f"{x:.{digits}f}" if isinstance(x, float) else str(x))  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for v in views:
        status = v.status if v.error_type is None else f"{v.status}: {v.error_type}: {(v.error_message or '')[:80]}"
        row = [v.config_id, *(v.config.get(k) for k in keys), status.replace("|", "/").replace("\n", " "),
               v.val_ap_500, v.val_ap_1000, v.val_ap_1500, v.val_map, v.epochs_run, v.best_epoch]
        lines.append("| " + " | ".join(fmt(x) for x in row) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------- store

_FIXED_COLUMNS: dict[str, pl.DataType] = {
    "campaign": pl.String, "config_id": pl.String, "seed": pl.Int64, "agent": pl.String, "round": pl.Int64,
    "dataset": pl.String, "status": pl.String, "error_type": pl.String, "error_message": pl.String,
    **{f"{s}_{k}": pl.Float64 for s in ("val", "test") for k in ("ap_500", "ap_1000", "ap_1500", "map")},
    **{f"{s}_{k}": pl.Int64 for s in ("val", "test") for k in ("n_windows", "n_positive")},
    "epochs_run": pl.Int64, "best_epoch": pl.Int64, "stopped_early": pl.Boolean, "train_seconds": pl.Float64,
    "total_seconds": pl.Float64, "param_count": pl.Int64, "device": pl.String, "threads": pl.Int64,
    "split_hash": pl.String, "feature_key": pl.String, "created_at": pl.String,
}


def flat_row(rec: Mapping[str, Any]) -> dict[str, Any]:
    """One stored record as a flat table row: config keys as columns (prefixed config_ on a clash)."""
    row: dict[str, Any] = {k: rec.get(k) for k in _FIXED_COLUMNS if k in rec}
    for split in ("val", "test"):
        m = rec.get(split) or {}
        for k in ("ap_500", "ap_1000", "ap_1500", "map", "n_windows", "n_positive"):
            row[f"{split}_{k}"] = m.get(k)
    row["total_seconds"] = (rec.get("timings") or {}).get("total_s")
    for k, v in (rec.get("config") or {}).items():
        row[f"config_{k}" if k in _FIXED_COLUMNS else k] = v
    return row


class ResultsStore:
    """Result JSON files under `<root>/results/<campaign>/`; see the module docstring for the guarantees."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.dir = self.root / "results"
        self._cache: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}

    @classmethod
    def default(cls) -> ResultsStore:
        from archsearch.paths import data_root

        return cls(data_root())

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.root)!r})"

    def path_for(self, campaign: str, config_id: str, seed: int) -> Path:
        name = f"{check_name('config_id', config_id)}__seed{int(seed)}.json"
        return self.dir / check_name("campaign", campaign) / name

    def campaigns(self) -> list[str]:
        try:
            return sorted(e.name for e in os.scandir(self.dir) if e.is_dir() and not e.name.startswith("."))
        except FileNotFoundError:
            return []

    # -------------------------------------------------------------- write
    def write(self, result: ExperimentResult) -> Path:
        """Atomically publish `result`, replacing an earlier result of the same (campaign, config_id, seed)."""
        path = self.path_for(result.campaign, result.config_id, result.seed)
        text = json.dumps(result.to_dict(), indent=1, allow_nan=True, default=_json_default)
        return write_text_atomic(path, text)  # temp file beside it, fsync, os.replace

    def sweep_tmp(self, max_age_s: float = 3600.0) -> list[Path]:
        """Delete temp files older than `max_age_s` (left by writers killed mid-write)."""
        removed, now = [], time.time()
        for tmp in self.dir.glob("*/.*.tmp"):
            try:
                if now - tmp.stat().st_mtime > max_age_s:
                    tmp.unlink()
                    removed.append(tmp)
            except FileNotFoundError:
                pass
        return removed

    # -------------------------------------------------------------- read
    def _files(self, campaign: str | None) -> list[str]:
        camps = [campaign] if campaign is not None else self.campaigns()
        out = []
        for c in camps:
            try:
                out += sorted(e.path for e in os.scandir(self.dir / c)
                              if e.name.endswith(".json") and not e.name.startswith("."))
            except FileNotFoundError:
                continue
        return out

    def _load(self, path: str) -> dict[str, Any] | None:
        try:
            st = os.stat(path)
            sig = (st.st_ino, st.st_mtime_ns, st.st_size)
            hit = self._cache.get(path)
            if hit is not None and hit[0] == sig:
                return hit[1]
            with open(path, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            return None  # deleted between listing and reading
        try:
            rec = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ResultsStoreError(f"{path}: not valid JSON ({exc}); delete or fix the file") from exc
        if not isinstance(rec, dict) or "config_id" not in rec or "config" not in rec:
            raise ResultsStoreError(f"{path}: expected a result object with 'config_id' and 'config'")
        if rec.get("schema", SCHEMA_VERSION) > SCHEMA_VERSION:
            raise ResultsStoreError(f"{path}: schema {rec.get('schema')} is newer than this code ({SCHEMA_VERSION})")
        self._cache[path] = (sig, rec)
        return rec

    def records(self, campaign: str | None = None) -> list[dict[str, Any]]:
        """Raw stored records (plain dicts), oldest first."""
        recs = [r for p in self._files(campaign) if (r := self._load(p)) is not None]
        return sorted(recs, key=lambda r: (str(r.get("created_at", "")), r["config_id"], r.get("seed", 0)))

    def results(self, campaign: str | None = None) -> list[ExperimentResult]:
        return [ExperimentResult.from_dict(r) for r in self.records(campaign)]

    def get(self, campaign: str, config_id: str, seed: int) -> ExperimentResult | None:
        rec = self._load(str(self.path_for(campaign, config_id, seed)))
        return None if rec is None else ExperimentResult.from_dict(rec)

    def read(self, campaign: str | None = None) -> pl.DataFrame:
        """All results as one flat polars table (one row per result; val_* and test_* metric columns)."""
        rows = [flat_row(r) for r in self.records(campaign)]
        if not rows:
            return pl.DataFrame(schema=_FIXED_COLUMNS)
        df = pl.from_dicts(rows, infer_schema_length=None)
        df = df.with_columns(
            [(pl.col(c).cast(t) if c in df.columns else pl.lit(None, t).alias(c)) for c, t in _FIXED_COLUMNS.items()]
        )
        config_cols = [c for c in df.columns if c not in _FIXED_COLUMNS]
        return df.select(*_FIXED_COLUMNS, *config_cols)

    def agent_history(self, campaign: str | None = None, *, agents: Iterable[str] | None = None) -> list[AgentView]:
        """The experiments agents may see, oldest first, as AgentViews (no test metric is ever read)."""
        wanted = None if agents is None else set(agents)
        return [AgentView.from_record(r) for r in self.records(campaign)
                if wanted is None or r.get("agent") in wanted]


def _json_default(obj: Any) -> Any:
    """numpy scalars and tuples in configs or timings become plain JSON."""
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"result field of type {type(obj).__name__} is not JSON-serialisable: {obj!r}")
