"""Which agent takes round r: smooth weighted round robin over the active agents' shares.

Smooth WRR (nginx's) interleaves instead of bunching: shares {a: 2, b: 1} give a b a a b a ...,
never a a b b. The sequence is replayed from round 0 on every call, so the pick is a pure function
of (round index, active shares): a restarted daemon or a re-run round asks the same agent. When the
active set changes (an LLM agent disabled after an auth error, a key added), later rounds follow
the new set's sequence; past rounds keep the agent their record names.
"""

from __future__ import annotations

from collections.abc import Mapping


def pick_agent(shares: Mapping[str, float], round_index: int) -> str:
    """The agent for ``round_index`` (0-based); ties go to the agent listed first."""
    active = [(a, float(s)) for a, s in shares.items() if s > 0]
    if not active:
        raise ValueError("pick_agent: no agent has a positive share")
    if round_index < 0:
        raise ValueError(f"pick_agent: round_index must be >= 0, got {round_index}")
    total = sum(s for _, s in active)
    current = [0.0] * len(active)
    pick = 0
    for _ in range(round_index + 1):
        for i, (_, s) in enumerate(active):
            current[i] += s
        pick = max(range(len(active)), key=lambda i: (current[i], -i))
        current[pick] -= total
    return active[pick][0]
