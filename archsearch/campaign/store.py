"""A campaign's own files: one JSON record per round, a small state file, and the round lock.

``<root>/campaigns/<name>/rounds/<round:05d>.json`` -- what each round asked, got and cost; the
number of records is the next round's index, so rounds are numbered without a counter to keep in
sync. ``<root>/campaigns/<name>/state.json`` -- what must survive between rounds: LLM agents
disabled after an auth error (with the reason) and when the circuit breaker was last reset.
Every write is atomic (temp file + rename).

A round runs under ``round.lock`` (an exclusive ``flock``, which the kernel releases when its holder
dies, so a killed round never leaves a stale claim) and is committed in one atomic write: the
record and its proposals go to ``rounds/<round:05d>.pending`` first, then the proposals are
published and the record renamed into place. Whoever takes the lock next finishes any pending
round before its own, so a crash at any point leaves either nothing or a whole round.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from archsearch.campaign.agents import CampaignError
from archsearch.campaign.proposals import experiment_key, read_json
from archsearch.common import DataLayout, name_os_errors, write_text_atomic
from archsearch.results import utc_now

LOCK_POLL_S = 0.2


class RoundBusyError(CampaignError):
    """Another process holds the campaign's round lock for longer than this one would wait."""


class CampaignFiles:
    """Round records, pending rounds, state and the round lock of campaign ``name`` under ``root``."""

    def __init__(self, root: str | Path, name: str):
        experiment_key(name, "x")  # validates the name (it becomes a folder)
        self.name = name
        self.dir = DataLayout(Path(root)).campaigns / name
        self.rounds_dir = self.dir / "rounds"
        self.state_path = self.dir / "state.json"
        self.lock_path = self.dir / "round.lock"

    def _record_paths(self) -> list[Path]:
        return sorted(self.rounds_dir.glob("[0-9]*.json")) if self.rounds_dir.is_dir() else []

    def rounds(self) -> list[dict[str, Any]]:
        """Every round record, oldest first."""
        return [read_json(p) for p in self._record_paths()]

    def last_round(self) -> dict[str, Any] | None:
        paths = self._record_paths()
        return read_json(paths[-1]) if paths else None

    def n_rounds(self) -> int:
        return len(self._record_paths())

    def record_path(self, index: int) -> Path:
        return self.rounds_dir / f"{int(index):05d}.json"

    def pending_path(self, index: int) -> Path:
        return self.rounds_dir / f"{int(index):05d}.pending"

    def pending(self) -> list[Path]:
        """Rounds committed but not yet fully published (a crash between the two), oldest first."""
        return sorted(self.rounds_dir.glob("[0-9]*.pending")) if self.rounds_dir.is_dir() else []

    def write_pending(self, record: dict[str, Any], proposals: list[dict[str, Any]]) -> Path:
        """Commit a round: its record and proposals in one atomic write (published by :meth:`finish_round`)."""
        path = self.pending_path(record["round"])
        if path.exists() or self.record_path(record["round"]).exists():
            raise FileExistsError(f"{path}: round {record['round']} of campaign {self.name} is already committed")
        with name_os_errors(path):
            text = json.dumps({"record": record, "proposals": proposals}, indent=1, default=str)
            return write_text_atomic(path, text)

    def finish_round(self, pending: Path) -> dict[str, Any]:
        """Publish a pending round's record (its proposals must be published already); returns the record."""
        record = read_json(pending)["record"]
        final = self.record_path(record["round"])
        if not final.exists():
            with name_os_errors(final):
                write_text_atomic(final, json.dumps(record, indent=1, default=str))
        pending.unlink(missing_ok=True)
        return record

    def state(self) -> dict[str, Any]:
        if not self.state_path.is_file():
            return {"disabled": {}, "breaker_reset_at": None}
        state = read_json(self.state_path)
        state.setdefault("disabled", {})
        state.setdefault("breaker_reset_at", None)
        return state

    def write_state(self, state: dict[str, Any]) -> Path:
        with name_os_errors(self.state_path):
            return write_text_atomic(self.state_path, json.dumps(state, indent=1, sort_keys=True))

    @contextmanager
    def round_lock(self, wait_s: float, note: str = "") -> Iterator[None]:
        """Hold the campaign's round lock; wait up to ``wait_s`` for it, then raise RoundBusyError.

        The lock file holds who has it (pid, host, since, ``note``) for the message a waiter gives up with.
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        with name_os_errors(self.lock_path):
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            give_up = time.monotonic() + wait_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= give_up:
                        raise RoundBusyError(self.busy_message(fd, wait_s)) from None
                    time.sleep(LOCK_POLL_S)
            holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": utc_now(), "note": note}
            try:  # who holds it, for a waiter's message; best effort (a full disk fails the round's own writes)
                os.ftruncate(fd, 0)
                os.pwrite(fd, json.dumps(holder).encode(), 0)
            except OSError:
                pass
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def busy_message(self, fd: int, waited_s: float) -> str:
        try:
            holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
        except (OSError, ValueError):
            holder = {}
        who = (
            (
                f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}"
                + (f" ({holder['note']})" if holder.get("note") else "")
            )
            if holder
            else "another process"
        )
        return (
            f"campaign {self.name}: another round is running ({who}); waited {waited_s:g} s for it to finish. "
            f"Run the round again when it is done (its lock, {self.lock_path}, is released when that process ends)"
        )
