"""A campaign's own files: one JSON record per round and one small state file.

``<root>/campaigns/<name>/rounds/<round:05d>.json`` -- what each round asked, got and cost; the
number of records is the next round's index, so rounds are numbered without a counter to keep in
sync. ``<root>/campaigns/<name>/state.json`` -- what must survive between rounds: LLM agents
disabled after an auth error (with the reason) and when the circuit breaker was last reset.
Every write is atomic (temp file + rename).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from archsearch.common import DataLayout
from archsearch.common import write_text_atomic
from archsearch.campaign.proposals import experiment_key


class CampaignFiles:
    """Round records and state of campaign ``name`` under ``root``."""

    def __init__(self, root: str | Path, name: str):
        experiment_key(name, "x")  # validates the name (it becomes a folder)
        self.dir = DataLayout(Path(root)).campaigns / name
        self.rounds_dir = self.dir / "rounds"
        self.state_path = self.dir / "state.json"

    def rounds(self) -> list[dict[str, Any]]:
        """Every round record, oldest first."""
        if not self.rounds_dir.is_dir():
            return []
        return [json.loads(p.read_text()) for p in sorted(self.rounds_dir.glob("[0-9]*.json"))]

    def last_round(self) -> dict[str, Any] | None:
        paths = sorted(self.rounds_dir.glob("[0-9]*.json")) if self.rounds_dir.is_dir() else []
        return json.loads(paths[-1].read_text()) if paths else None

    def n_rounds(self) -> int:
        return len(list(self.rounds_dir.glob("[0-9]*.json"))) if self.rounds_dir.is_dir() else 0

    def write_round(self, record: dict[str, Any]) -> Path:
        path = self.rounds_dir / f"{int(record['round']):05d}.json"
        if path.exists():
            raise FileExistsError(f"{path}: round {record['round']} is already recorded (two rounds ran at once?)")
        return write_text_atomic(path, json.dumps(record, indent=1, default=str))

    def state(self) -> dict[str, Any]:
        if not self.state_path.is_file():
            return {"disabled": {}, "breaker_reset_at": None}
        state = json.loads(self.state_path.read_text())
        state.setdefault("disabled", {})
        state.setdefault("breaker_reset_at", None)
        return state

    def write_state(self, state: dict[str, Any]) -> Path:
        return write_text_atomic(self.state_path, json.dumps(state, indent=1, sort_keys=True))
