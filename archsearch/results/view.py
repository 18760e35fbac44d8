"""What search agents may see of an experiment: ``AgentView``, built so that it cannot carry a test metric.

Leakage is impossible by construction, not by discipline. The reference study's agents saw a saturated
split; here test metrics live only in `ExperimentResult.test`, and what agents receive is a different
type, `AgentView`, which has no test field at all and is built by code that never reads one
(`to_agent_view` and `AgentView.from_record` name the fields they copy; nothing iterates over a
result).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from archsearch.results.records import ExperimentResult

AGENT_ERROR_CHARS = 300


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


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
    def pending(
        cls,
        *,
        config_id: str,
        config: Mapping[str, Any],
        agent: str,
        round: int,
        campaign: str,
        seed: int,
        created_at: str = "",
    ) -> AgentView:
        """A proposal queued or running, not yet scored: agents must not propose it again, nor score it."""
        return cls(
            config_id=config_id,
            config=dict(config),
            agent=agent,
            round=int(round),
            campaign=campaign,
            seed=int(seed),
            status="pending",
            error_type=None,
            error_message=None,
            val_ap_500=None,
            val_ap_1000=None,
            val_ap_1500=None,
            val_map=None,
            epochs_run=0,
            best_epoch=0,
            train_seconds=0.0,
            param_count=0,
            val_map_curve=(),
            train_loss_curve=(),
            created_at=created_at,
        )

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
    fmt = lambda x: "-" if x is None else (f"{x:.{digits}f}" if isinstance(x, float) else str(x))
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for v in views:
        status = v.status if v.error_type is None else f"{v.status}: {v.error_type}: {(v.error_message or '')[:80]}"
        row = [
            v.config_id,
            *(v.config.get(k) for k in keys),
            status.replace("|", "/").replace("\n", " "),
            v.val_ap_500,
            v.val_ap_1000,
            v.val_ap_1500,
            v.val_map,
            v.epochs_run,
            v.best_epoch,
        ]
        lines.append("| " + " | ".join(fmt(x) for x in row) + " |")
    return "\n".join(lines)
