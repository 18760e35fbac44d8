"""The agent log: one JSON file per LLM call (or skipped call), so every proposal can be audited.

Why a log at all: an LLM agent's choices are only as trustworthy as what it was shown and what it
said. Each entry keeps the exact prompt, the raw reply, the configs as returned, which were
accepted, why the others were rejected, tokens, USD and latency -- enough to replay the reasoning,
to price a campaign, and to prove no test metric ever reached a prompt.

Storage mirrors the results store (see :mod:`archsearch.results`): ``<root>/agent_log/<campaign>/``
holds one file per call, written atomically, so concurrent rounds never contend for a lock and a
reader never sees half an entry. API keys never reach the disk: the agent passes everything it
stores through :func:`redact`, and :meth:`AgentLog.write` redacts once more with any secret it is
given.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import polars as pl

from archsearch.common import DataLayout, name_os_errors, write_text_atomic

KINDS = ("propose", "repair", "skipped")
REDACTED = "[REDACTED]"
NO_CAMPAIGN_DIR = "_no_campaign"  # calls made without a RoundContext; "_" cannot start a campaign name

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
_SEQ = itertools.count()


class AgentLogError(ValueError):
    """An agent-log entry or file is invalid; the message names the field or file."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each non-empty secret replaced by ``[REDACTED]``.

    Longer secrets go first so a secret that contains another is removed whole.
    """
    if text is None:
        return text
    out = str(text)
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        out = out.replace(secret, REDACTED)
    return out


def redact_deep(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` with every string inside it (dict keys and values, list and tuple items) redacted."""
    secrets = [s for s in secrets if s]
    if not secrets:
        return value
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact_deep(k, secrets): redact_deep(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact_deep(v, secrets) for v in value)
    return value


@dataclass(frozen=True)
class AgentCall:
    """One LLM API call of one agent round (or one call skipped), as stored in the agent log."""

    campaign: str
    round: int
    agent: str
    model: str
    kind: str  # "propose" | "repair" | "skipped"
    started_at: str  # ISO 8601, UTC
    latency_s: float = 0.0
    attempts: int = 0  # HTTP attempts including retries
    prompt: str = ""
    raw_reply: str | None = None
    parsed: list[dict] = field(default_factory=list)  # items as returned, before validation
    accepted: list[str] = field(default_factory=list)  # config ids
    rejections: list[dict] = field(default_factory=list)  # {"index", "item", "reason"}
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    error: str | None = None
    fallback_count: int = 0  # proposals the fallback agent supplied this round (on the round's last entry)
    note: str = ""  # e.g. "price unknown for model X: cost recorded as 0"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise AgentLogError(f"AgentCall.kind: expected one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.round, int) or self.round < 0:
            raise AgentLogError(f"AgentCall.round: expected a non-negative int, got {self.round!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AgentCall:
        """From :meth:`to_dict` output; unknown keys (written by newer code) are ignored."""
        known = {f.name for f in fields(cls)}
        missing = [k for k in ("campaign", "round", "agent", "model", "kind", "started_at") if k not in d]
        if missing:
            raise AgentLogError(f"AgentCall.from_dict: missing {missing}; got keys {sorted(d)}")
        return cls(**{k: v for k, v in d.items() if k in known})

    def redacted(self, secrets: Iterable[str]) -> AgentCall:
        """A copy whose free-text fields (prompt, reply, error, note, rejections) carry no secret."""
        secrets = [s for s in secrets if s]
        if not secrets:
            return self
        rej = json.loads(redact(json.dumps(self.rejections), secrets))
        parsed = json.loads(redact(json.dumps(self.parsed), secrets))
        return replace(
            self,
            prompt=redact(self.prompt, secrets),
            raw_reply=redact(self.raw_reply, secrets),
            error=redact(self.error, secrets),
            note=redact(self.note, secrets),
            rejections=rej,
            parsed=parsed,
        )


_COLUMNS: dict[str, pl.DataType] = {
    "campaign": pl.String,
    "round": pl.Int64,
    "agent": pl.String,
    "model": pl.String,
    "kind": pl.String,
    "started_at": pl.String,
    "latency_s": pl.Float64,
    "attempts": pl.Int64,
    "prompt": pl.String,
    "raw_reply": pl.String,
    "parsed": pl.String,
    "accepted": pl.String,
    "rejections": pl.String,
    "n_parsed": pl.Int64,
    "n_accepted": pl.Int64,
    "n_rejected": pl.Int64,
    "input_tokens": pl.Int64,
    "output_tokens": pl.Int64,
    "cost_usd": pl.Float64,
    "error": pl.String,
    "fallback_count": pl.Int64,
    "note": pl.String,
}
_JSON_FIELDS = ("parsed", "accepted", "rejections")


class AgentLog:
    """Agent-log files under ``<root>/agent_log/<campaign>/``, one JSON per call, oldest first on read."""

    def __init__(self, root: str | os.PathLike[str], secrets: Iterable[str] = ()):
        self.root = Path(root)
        self.dir = DataLayout(self.root).agent_log
        self._secrets = [s for s in secrets if s]

    def __repr__(self) -> str:
        return f"AgentLog({str(self.root)!r})"

    def _campaign_dir(self, campaign: str) -> Path:
        if campaign == "":
            return self.dir / NO_CAMPAIGN_DIR
        if not isinstance(campaign, str) or not _NAME.fullmatch(campaign):
            raise AgentLogError(
                f"AgentCall.campaign: expected '' or 1-128 characters from [A-Za-z0-9_.-] "
                f"starting with a letter or digit (it becomes a folder name), got {campaign!r}"
            )
        return self.dir / campaign

    def write(self, call: AgentCall) -> Path:
        """Publish one entry atomically; the file name sorts by start time, then write order."""
        call = call.redacted(self._secrets)
        stamp = re.sub(r"[^0-9]", "", call.started_at)[:20] or "0"
        agent = re.sub(r"[^A-Za-z0-9_.-]", "_", call.agent)[:40] or "agent"
        name = f"{stamp}_{os.getpid()}-{next(_SEQ):06d}_r{call.round}_{agent}_{call.kind}_{uuid.uuid4().hex[:6]}.json"
        text = json.dumps(call.to_dict(), indent=1, allow_nan=True)
        path = self._campaign_dir(call.campaign) / name
        with name_os_errors(path):
            return write_text_atomic(path, text)

    def _files(self, campaign: str | None) -> list[Path]:
        if campaign is not None:
            folders = [self._campaign_dir(campaign)]
        else:
            try:
                folders = sorted(
                    Path(e.path) for e in os.scandir(self.dir) if e.is_dir() and not e.name.startswith(".")
                )
            except FileNotFoundError:
                return []
        out = []
        for folder in folders:
            try:
                out += [
                    Path(e.path) for e in os.scandir(folder) if e.name.endswith(".json") and not e.name.startswith(".")
                ]
            except FileNotFoundError:
                continue
        return out

    def records(self, campaign: str | None = None) -> list[dict[str, Any]]:
        """Every entry (of one campaign, or all) as a plain dict, oldest first."""
        recs = []
        for path in self._files(campaign):
            try:
                rec = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                continue
            except json.JSONDecodeError as exc:
                raise AgentLogError(f"{path}: not valid JSON ({exc}); delete or fix the file") from exc
            if not isinstance(rec, dict) or "started_at" not in rec:
                raise AgentLogError(f"{path}: expected an agent-call object with 'started_at'")
            recs.append((str(rec["started_at"]), path.name, rec))
        return [rec for _, _, rec in sorted(recs, key=lambda t: (t[0], t[1]))]

    def calls(self, campaign: str | None = None) -> list[AgentCall]:
        return [AgentCall.from_dict(r) for r in self.records(campaign)]

    def read(self, campaign: str | None = None) -> pl.DataFrame:
        """One row per call; list fields as JSON strings, plus their counts (n_parsed, n_accepted, n_rejected)."""
        rows = []
        for rec in self.records(campaign):
            row = {k: rec.get(k) for k in _COLUMNS if k in rec}
            for k in _JSON_FIELDS:
                row[k] = json.dumps(rec.get(k) or [])
            row["n_parsed"] = len(rec.get("parsed") or [])
            row["n_accepted"] = len(rec.get("accepted") or [])
            row["n_rejected"] = len(rec.get("rejections") or [])
            rows.append(row)
        if not rows:
            return pl.DataFrame(schema=_COLUMNS)
        return pl.DataFrame(rows, schema=_COLUMNS)

    def total_cost_usd(self, campaign: str | None = None) -> float:
        """Estimated USD spent on LLM calls (of one campaign, or all)."""
        return float(sum(float(r.get("cost_usd") or 0.0) for r in self.records(campaign)))
