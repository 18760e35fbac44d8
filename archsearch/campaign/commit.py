"""Publishing a round all or nothing: commit its record and proposals in one write, then publish them.

A round used to write its proposals one by one and its record last, so a crash (or a second round
running at once) left proposals no record accounted for. Now, under the campaign's round lock:

1. the round record and the full proposals go into one ``rounds/<round>.pending`` file (an atomic
   write: the commit point -- before it nothing of the round is visible);
2. each proposal is published (exclusively: a config some other writer published meanwhile is
   left as it is and reported);
3. the record is renamed into place and the pending file removed.

Whoever takes the lock next finishes a pending round first (:func:`finish_pending`), so a crash
between 1 and 3 is rolled forward, never left half done.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from archsearch.campaign.proposals import Proposal, ProposalStore, read_json
from archsearch.campaign.store import CampaignFiles


def finish_pending(
    files: CampaignFiles, store: ProposalStore, pending: Path, warn: Callable[[str], None]
) -> dict[str, Any]:
    """Publish a committed round's proposals and record (idempotent); returns the record."""
    data = read_json(pending)
    for raw in data["proposals"]:
        proposal = Proposal.from_dict(raw)
        if store.add(proposal):
            continue
        stored = store.read(proposal.campaign, proposal.config_id)
        if stored is not None and stored.to_dict() != proposal.to_dict():  # not our earlier partial publish
            warn(
                f"campaign {files.name} round {proposal.round}: {proposal.key} was proposed meanwhile by "
                f"{stored.agent} (round {stored.round}); that proposal is kept"
            )
    return files.finish_round(pending)


def commit_round(
    files: CampaignFiles,
    store: ProposalStore,
    record: dict[str, Any],
    proposals: list[Proposal],
    warn: Callable[[str], None],
) -> dict[str, Any]:
    """Commit a round (record + proposals in one write), then publish it; returns the record."""
    pending = files.write_pending(record, [p.to_dict() for p in proposals])
    return finish_pending(files, store, pending, warn)


def recover_pending(files: CampaignFiles, store: ProposalStore, warn: Callable[[str], None]) -> list[dict[str, Any]]:
    """Finish every round a crash left committed but unpublished (call under the round lock)."""
    out = []
    for pending in files.pending():
        record = finish_pending(files, store, pending, warn)
        warn(
            f"campaign {files.name}: round {record['round']} ({record['agent']}) was interrupted after it was "
            f"committed; its {len(record['keys'])} proposal(s) and its record are published now"
        )
        out.append(record)
    return out
