"""The prompt an LLM agent sees: task, space, budget, a leaderboard summary, who proposed what, and the ask.

Why a summary rather than the raw history: at 10^3-10^4 experiments the full table would not fit
(and would cost dollars per round), while what a researcher reasons from is small -- the best and
worst configs, how each dimension value does on average, what keeps failing, what the other agent
is trying. The list of configs already run or queued is capped (newest kept) because repeats are
rejected by the validator anyway; the cap only saves tokens.

Everything here is built from AgentViews and RoundContext, which carry validation metrics only,
so no test score can reach a prompt. The text is a pure function of its inputs (deterministic).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

from archsearch.agents.base import RoundContext, Scored, canonical_or_none, scored
from archsearch.results import AgentView
from archsearch.space import SearchSpace, Value

TOP_K = 10
BOTTOM_K = 5
RECENT_PROPOSALS = 10
MAX_LISTED = 200  # configs already run/queued shown verbatim (newest); the rest are counted

# Neutral on purpose: whether agents search architectures or only tune training knobs is what a
# campaign measures, so the prompt must not tell them which matters.
TASK = (
    "Task: dashcam collision anticipation. Every experiment trains a small temporal head (a temporal "
    "encoder, a pooling and a classifier) on frozen features from one pretrained backbone, and predicts "
    "from a window of recent feature steps whether a collision is coming. The score is validation mAP: "
    "the mean of the average precision at 500, 1000 and 1500 ms before the event (higher is better; 1.0 "
    "is perfect). Only validation scores are reported to you. Decide from the results which dimensions "
    "matter, and spend the budget where you expect to learn the most."
)


def fmt_value(v: Value) -> str:
    return repr(v) if isinstance(v, float) else str(v)


def compact(config: Mapping[str, Value], space: SearchSpace) -> str:
    """A config as its values in space order, e.g. 'motion / gru / mean / focal / 0.001 / ...'."""
    return " / ".join(fmt_value(config[d]) for d in space.dims)


def _score(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def outcomes(history: Sequence[AgentView], space: SearchSpace) -> dict[str, str]:
    """config id -> 'val mAP 0.7123' | 'failed (ErrorType)' | 'pending', for every config in history."""
    best = {s.config_id: s for s in scored(history, space)}
    out: dict[str, str] = {}
    for v in history:
        c = canonical_or_none(space, v.config)
        cid = space.config_id(c) if c is not None else v.config_id
        if cid in best:
            out[cid] = f"val mAP {best[cid].val_map:.4f}"
        elif v.status == "failed":
            out[cid] = f"failed ({v.error_type or 'error'})"
        else:
            out.setdefault(cid, "pending")
    return out


def _table(rows: Sequence[Scored], space: SearchSpace, first_rank: int) -> list[str]:
    lines = ["| rank | " + " | ".join(space.dims) + " | val_map | seeds |", "|" + "---|" * (len(space.dims) + 3)]
    for i, s in enumerate(rows):
        vals = " | ".join(fmt_value(s.config[d]) for d in space.dims)
        lines.append(f"| {first_rank + i} | {vals} | {s.val_map:.4f} | {s.n_seeds} |")
    return lines


def leaderboard_text(history: Sequence[AgentView], space: SearchSpace) -> str:
    """Counts, top 10 and bottom 5 by validation mAP (distinct configs, seeds averaged)."""
    ranked = scored(history, space)
    n_failed = sum(v.status == "failed" for v in history)
    n_pending = sum(v.status not in ("ok", "failed") for v in history)
    lines = [f"{len(ranked)} distinct configs scored, {n_failed} runs failed, {n_pending} queued or running."]
    if not ranked:
        return "\n".join(lines + ["No scores yet: start by covering the architecture cells."])
    lines += ["", f"Top {min(TOP_K, len(ranked))} by val mAP:", *_table(ranked[:TOP_K], space, 1)]
    rest = ranked[TOP_K:]
    if rest:
        bottom = rest[-BOTTOM_K:]
        lines += ["", f"Bottom {len(bottom)} by val mAP:", *_table(bottom, space, len(ranked) - len(bottom) + 1)]
    return "\n".join(lines)


def marginals_text(history: Sequence[AgentView], space: SearchSpace) -> str:
    """Per dimension value: mean val mAP over the scored configs that use it, with their count."""
    ranked = scored(history, space)
    if not ranked:
        return "(no scores yet)"
    sums: dict[tuple[str, Value], list[float]] = defaultdict(list)
    for s in ranked:
        for d in space.dims:
            sums[(d, s.config[d])].append(s.val_map)
    lines = []
    for d in space.dimensions:
        parts = []
        for v in d.values:
            xs = sums.get((d.name, v), [])
            parts.append(f"{fmt_value(v)} {_score(sum(xs) / len(xs) if xs else None)} (n={len(xs)})")
        lines.append(f"{d.name} [{d.group}]: " + ", ".join(parts))
    return "\n".join(lines)


def failures_text(history: Sequence[AgentView]) -> str:
    """Failed runs grouped by error type, most frequent first, with one example message each."""
    failed = [v for v in history if v.status == "failed"]
    if not failed:
        return "(no failures)"
    counts = Counter(v.error_type or "error" for v in failed)
    example = {}
    for v in failed:
        example.setdefault(v.error_type or "error", " ".join((v.error_message or "").split())[:120])
    return "\n".join(
        f"- {kind}: {k} run{'s' * (k != 1)}" + (f" (e.g. {example[kind]})" if example[kind] else "")
        for kind, k in sorted(counts.items(), key=lambda t: (-t[1], t[0]))
    )


def proposals_text(
    history: Sequence[AgentView], space: SearchSpace, agent: str, context: RoundContext | None
) -> tuple[str, str]:
    """(this agent's recent proposals, the other agents' recent proposals), each with its outcome."""
    seen = outcomes(history, space)
    if context is not None and context.proposals:
        items = [(p.agent, p.round, p.config_id, p.config, p.rationale) for p in context.proposals]
    else:
        items = [(v.agent, v.round, v.config_id, v.config, "") for v in history]

    def render(rows) -> str:
        if not rows:
            return "(none yet)"
        out = []
        for who, rnd, cid, config, why in rows:
            c = canonical_or_none(space, config)
            what = compact(c, space) if c is not None else str(dict(config))
            key = space.config_id(c) if c is not None else cid
            line = f"- round {rnd}, {who}: {what} -> {seen.get(key, 'pending')}"
            why = " ".join((why or "").split())[:160]
            out.append(line + (f"; hypothesis: {why}" if why else ""))
        return "\n".join(out)

    own = [r for r in items if r[0] == agent][-RECENT_PROPOSALS:]
    others = [r for r in items if r[0] != agent][-RECENT_PROPOSALS:]
    return render(own), render(others)


def taken_text(
    history: Sequence[AgentView], space: SearchSpace, context: RoundContext | None, max_listed: int = MAX_LISTED
) -> str:
    """The configs already run, queued or proposed (newest last), capped at ``max_listed``."""
    configs: dict[str, Mapping[str, Value]] = {}
    sources = [v.config for v in history] + [p.config for p in (context.proposals if context else ())]
    for config in sources:
        c = canonical_or_none(space, config)
        if c is not None:
            configs.setdefault(space.config_id(c), c)
    if not configs:
        return "(none)"
    shown = list(configs.values())[-max_listed:]
    lines = [f"({' / '.join(space.dims)})", *(f"- {compact(c, space)}" for c in shown)]
    omitted = len(configs) - len(shown)
    if omitted:
        lines.append(f"... and {omitted} older ones not listed; repeats of any of them are rejected too.")
    return "\n".join(lines)


def build_prompt(
    history: Sequence[AgentView],
    space: SearchSpace,
    n: int,
    *,
    agent: str,
    context: RoundContext | None,
    reply_format: str,
    max_listed: int = MAX_LISTED,
) -> str:
    """The full user prompt for one round of ``agent`` asking for ``n`` configs."""
    budget = "not limited" if context is None or context.budget_left is None else f"{context.budget_left} experiments"
    cost = "" if context is None or context.cost_left_usd is None else f"; LLM spend left: ${context.cost_left_usd:.2f}"
    where = "" if context is None else f" (campaign {context.campaign or '-'}, round {context.round})"
    own, others = proposals_text(history, space, agent, context)
    groups = "; ".join(f"{g}: {', '.join(space.group_dims(g))}" for g in ("architecture", "training"))
    sections = [
        f"You are {agent}, a research agent choosing the next experiments of an architecture search{where}.",
        TASK,
        f"## Search space\n{space.to_prompt_text()}\nGroups -- {groups}.",
        f"## Budget\nLeft in this campaign: {budget}{cost}. This round: {n} experiment{'s' * (n != 1)}.",
        f"## Leaderboard (validation mAP)\n{leaderboard_text(history, space)}",
        f"## Mean val mAP per dimension value (n = scored configs)\n{marginals_text(history, space)}",
        f"## Failures by error type\n{failures_text(history)}",
        f"## Your recent proposals\n{own}",
        f"## Other agents' recent proposals (same leaderboard)\n{others}",
        f"## Already run or queued -- do not propose these again\n{taken_text(history, space, context, max_listed)}",
        f"## Your answer\nPropose exactly {n} new, distinct configurations. Give every dimension exactly one of its "
        "listed values, and for each configuration a one-sentence hypothesis saying what it probes in the "
        f"space and why you expect it to score well.\n{reply_format}",
    ]
    return "\n\n".join(sections)


def repair_prompt(
    base_prompt: str,
    rejections: Sequence[Mapping],
    n_missing: int,
    accepted: Sequence[Mapping[str, Value]],
    space: SearchSpace,
) -> str:
    """The first prompt plus what was wrong with the reply, asking for ``n_missing`` replacements."""
    reasons = "\n".join(f"- item {r.get('index')}: {r.get('reason')}" for r in rejections) or "- (no usable items)"
    kept = "\n".join(f"- {compact(c, space)}" for c in accepted) or "- (none)"
    return (
        f"{base_prompt}\n\n## Correction\nYour previous answer could not be used in full. Rejected:\n{reasons}\n"
        f"Accepted (do not repeat these):\n{kept}\n"
        f"Now propose exactly {n_missing} more new configuration{'s' * (n_missing != 1)}, in the same format."
    )
