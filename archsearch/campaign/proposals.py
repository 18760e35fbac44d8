"""Proposed experiments: what an agent asked to run, stored before anything runs.

A proposal is the source of truth for one `experiments` partition: the partition key names it,
and the asset reads the config, dataset and seed from it. Proposals are immutable once written
(re-proposing the same config in a campaign is a duplicate, not an overwrite), so a run always
trains exactly what was proposed, whoever proposed it and whenever it runs.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from archsearch.common import DataLayout
from archsearch.common import write_text_atomic
from archsearch.results import utc_now

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
KEY_SEP = ":"


class ProposalError(ValueError):
    """A proposal or experiment key is malformed, or names something that does not exist."""


def experiment_key(campaign: str, config_id: str) -> str:
    """The `experiments` partition key: one per (campaign, config); a campaign has one dataset and seed."""
    for kind, value in (("campaign", campaign), ("config_id", config_id)):
        if not isinstance(value, str) or not _NAME.fullmatch(value):
            raise ProposalError(f"{kind}: expected 1-64 characters from [A-Za-z0-9_.-], got {value!r}")
    return f"{campaign}{KEY_SEP}{config_id}"


def parse_experiment_key(key: str) -> tuple[str, str]:
    campaign, sep, config_id = key.partition(KEY_SEP)
    if not sep or not campaign or not config_id:
        raise ProposalError(f"experiment key {key!r}: expected '<campaign>{KEY_SEP}<config_id>'")
    return campaign, config_id


@dataclass(frozen=True)
class Proposal:
    """One config an agent wants trained, with who proposed it, when, and why."""

    campaign: str
    config_id: str
    config: dict[str, Any]
    dataset: str
    seed: int
    agent: str = "manual"
    round: int = 0
    rationale: str = ""
    space: str = ""
    created_at: str = field(default_factory=utc_now)

    @property
    def key(self) -> str:
        return experiment_key(self.campaign, self.config_id)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Proposal:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


class ProposalStore:
    """One JSON file per proposal under ``<root>/proposals/<campaign>/<config_id>.json``."""

    def __init__(self, root: str | Path):
        self.root = DataLayout(Path(root)).proposals

    def path(self, campaign: str, config_id: str) -> Path:
        experiment_key(campaign, config_id)  # validates both names
        return self.root / campaign / f"{config_id}.json"

    def add(self, proposal: Proposal) -> bool:
        """Store a new proposal; False (and nothing written) when the campaign already has this config."""
        path = self.path(proposal.campaign, proposal.config_id)
        if path.exists():
            return False
        write_text_atomic(path, json.dumps(proposal.to_dict(), indent=1))
        return True

    def get(self, key: str) -> Proposal:
        campaign, config_id = parse_experiment_key(key)
        path = self.path(campaign, config_id)
        if not path.is_file():
            raise ProposalError(f"experiment {key!r}: no proposal at {path}; add one with `python -m pipelines.cli propose`")
        return Proposal.from_dict(json.loads(path.read_text()))

    def list(self, campaign: str | None = None) -> list[Proposal]:
        folders = [self.root / campaign] if campaign else sorted(p for p in self.root.glob("*") if p.is_dir())
        out = [Proposal.from_dict(json.loads(p.read_text())) for f in folders for p in sorted(f.glob("*.json"))]
        return sorted(out, key=lambda p: (p.created_at, p.config_id))
