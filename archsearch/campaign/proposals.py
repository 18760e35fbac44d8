"""Proposed experiments: what an agent asked to run, stored before anything runs.

A proposal is the source of truth for one `experiments` partition: the partition key names it,
and the asset reads the config, dataset and seed from it. Proposals are immutable once written
(re-proposing the same config in a campaign is a duplicate, not an overwrite; two writers racing
for one config cannot both win, since a file is published with a hard link that fails if the name
exists), so a run always trains exactly what was proposed, whoever proposed it and whenever it runs.
"""

from __future__ import annotations

import errno
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from archsearch.common import DataLayout, name_os_errors, staging_path
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


def read_json(path: Path) -> Any:
    """A JSON file of a campaign store; a torn or hand-edited file is an error naming it (and what to do)."""
    with name_os_errors(path):
        text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProposalError(f"{path}: not valid JSON ({exc}); restore it from a backup or delete it") from exc


def publish_exclusive(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless it exists (False then); readers never see a partial file.

    The text is written and fsynced under a temp name, then hard-linked to ``path``: the link fails
    if ``path`` exists, so of two concurrent writers exactly one wins. Where hard links are not
    supported, an existence check and an atomic rename do (a narrow race remains there).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging_path(path)
    try:
        with name_os_errors(path):
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                    raise
                if path.exists():
                    return False
                os.replace(tmp, path)
        return True
    finally:
        tmp.unlink(missing_ok=True)


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
        text = json.dumps(proposal.to_dict(), indent=1)
        return publish_exclusive(self.path(proposal.campaign, proposal.config_id), text)

    def exists(self, campaign: str, config_id: str) -> bool:
        return self.path(campaign, config_id).is_file()

    def read(self, campaign: str, config_id: str) -> Proposal | None:
        """The stored proposal, or None when the campaign has none for this config."""
        path = self.path(campaign, config_id)
        return Proposal.from_dict(read_json(path)) if path.is_file() else None

    def get(self, key: str) -> Proposal:
        campaign, config_id = parse_experiment_key(key)
        path = self.path(campaign, config_id)
        if not path.is_file():
            raise ProposalError(
                f"experiment {key!r}: no proposal at {path}; add one with `python -m pipelines.cli propose`"
            )
        return Proposal.from_dict(read_json(path))

    def list(self, campaign: str | None = None) -> list[Proposal]:
        folders = [self.root / campaign] if campaign else sorted(p for p in self.root.glob("*") if p.is_dir())
        out = [Proposal.from_dict(read_json(p)) for f in folders for p in sorted(f.glob("*.json"))]
        return sorted(out, key=lambda p: (p.created_at, p.config_id))
