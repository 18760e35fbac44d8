"""The LLM agent: prompt, call with retries, validate, repair once, top up from the fallback, log.

Why it never raises for API or reply problems: a campaign runs for hours; a rate limit, an outage,
a malformed reply or a revoked key must cost one round's quality, not the campaign. Every round
therefore ends with ``n`` proposals (fewer only if the space runs out): what the model got right,
then what the fallback (an offline agent) adds, attributed to the fallback via ``proposed_by``.

One round makes at most two calls: the proposal call and, if some items were rejected or missing,
one repair call that feeds the reasons back. Both, with their retries, fit in ``round_deadline_s``
(each attempt's timeout is cut to what is left), and every retry is logged through ``log``. An
authentication failure sets ``disabled_reason`` and the agent makes no further calls. Every call
(and every skipped one) becomes an :class:`~archsearch.agents.log.AgentCall`, redacted of the API
key, collected by ``drain_calls``.

Determinism: ``rng`` is read once for a jitter seed (so the number of retries never shifts the
fallback's draws) and is then handed to the fallback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from archsearch.agents.base import Agent, AgentProposal, RoundContext, canonical_or_none, seen_ids
from archsearch.agents.llm.backend import Backend
from archsearch.agents.llm.pricing import cost_usd
from archsearch.agents.llm.prompt import build_prompt, repair_prompt
from archsearch.agents.llm.replies import Validation, items_of, validate
from archsearch.agents.llm.retry import ApiFailure, GaveUp, with_retries
from archsearch.agents.log import AgentCall, redact
from archsearch.results import AgentView, utc_now
from archsearch.space import SearchSpace

COST_EXHAUSTED = "cost budget exhausted"
_log = logging.getLogger(__name__)


class LLMAgentError(RuntimeError):
    """An LLM agent is misconfigured (raised at construction only; rounds never raise for API problems)."""


class LLMAgent(Agent):
    """An agent backed by a provider model; see the module docstring for the round's life cycle."""

    def __init__(
        self,
        name: str,
        backend: Backend,
        *,
        api_key: str,
        env_var: str,
        fallback: Agent,
        max_retries: int = 4,
        backoff_s: float = 2.0,
        price_per_mtok: tuple[float, float] | None = None,
        timeout_s: float = 120.0,
        round_deadline_s: float | None = None,
        log: Callable[[str], None] | None = None,
    ):
        if not isinstance(api_key, str) or not api_key.strip():
            raise ValueError(f"{name} agent: empty API key; set {env_var} or leave {name} out of the campaign's agents")
        if not isinstance(fallback, Agent):
            raise ValueError(f"{name} agent: fallback must be an Agent (e.g. make_agent('random')), got {fallback!r}")
        if max_retries < 0 or backoff_s < 0:
            raise ValueError(
                f"{name} agent: expected max_retries >= 0 and backoff_s >= 0, got {max_retries}, {backoff_s}"
            )
        if timeout_s <= 0 or (round_deadline_s is not None and round_deadline_s <= 0):
            raise ValueError(
                f"{name} agent: expected timeout_s > 0 and round_deadline_s > 0 (or None), "
                f"got {timeout_s}, {round_deadline_s}"
            )
        self.name = name
        self.backend = backend
        self.model = backend.model
        self.fallback = fallback
        self.env_var = env_var
        self.max_retries = int(max_retries)
        self.backoff_s = float(backoff_s)
        self.price_per_mtok = price_per_mtok
        self.timeout_s = float(timeout_s)
        self.round_deadline_s = None if round_deadline_s is None else float(round_deadline_s)
        self.log = log or _log.warning
        self.disabled_reason: str | None = None
        self.sleep = time.sleep  # tests may replace it
        self._deadline: float | None = None  # monotonic time the current round's calls must end by
        self._secret = api_key
        self._calls: list[AgentCall] = []

    def __repr__(self) -> str:
        return f"LLMAgent({self.name!r}, model={self.model!r}, fallback={self.fallback.name!r})"

    # ------------------------------------------------------------------ round
    def propose(
        self,
        history: Sequence[AgentView],
        space: SearchSpace,
        n: int,
        rng: np.random.Generator,
        context: RoundContext | None = None,
    ) -> list[AgentProposal]:
        if n <= 0:
            return []
        campaign, rnd = (context.campaign, context.round) if context is not None else ("", 0)
        self._deadline = None if self.round_deadline_s is None else time.monotonic() + self.round_deadline_s
        jitter_rng = np.random.default_rng(int(rng.integers(2**63)))
        queued = _queued_views(history, space, context)
        taken = seen_ids([*history, *queued], space)
        accepted: list[tuple[dict, str]] = []
        entries: list[AgentCall] = []

        skip = self.disabled_reason or (
            COST_EXHAUSTED if _cost_left(context, 0.0) is not None and _cost_left(context, 0.0) <= 0 else None
        )
        if skip:
            entries.append(
                AgentCall(
                    campaign=campaign,
                    round=rnd,
                    agent=self.name,
                    model=self.model,
                    kind="skipped",
                    started_at=utc_now(),
                    error=skip,
                )
            )
        else:
            prompt = build_prompt(
                history, space, n, agent=self.name, context=context, reply_format=self.backend.reply_format()
            )
            entry, val, failure = self._call("propose", prompt, space, taken, n, jitter_rng, campaign, rnd)
            entries.append(entry)
            accepted += val.accepted
            missing = n - len(accepted)
            spent = sum(e.cost_usd for e in entries)
            left = _cost_left(context, spent)
            if failure is None and missing > 0 and (left is None or left > 0):
                taken |= {space.config_id(c) for c, _ in accepted}
                fix = repair_prompt(prompt, val.rejections, missing, [c for c, _ in accepted], space)
                entry, val, _ = self._call("repair", fix, space, taken, missing, jitter_rng, campaign, rnd)
                entries.append(entry)
                accepted += val.accepted

        proposals = [AgentProposal(config=c, rationale=h) for c, h in accepted[:n]]
        topped = self._top_up(history, queued, space, n - len(proposals), rng, context, proposals, entries[-1])
        entries[-1] = replace(entries[-1], fallback_count=len(topped))
        self._calls += [e.redacted([self._secret]) for e in entries]
        return proposals + topped

    def drain_calls(self) -> list[AgentCall]:
        out, self._calls = self._calls, []
        return out

    # ------------------------------------------------------------------ pieces
    def _call(
        self,
        kind: str,
        prompt: str,
        space: SearchSpace,
        taken: set[str],
        n: int,
        jitter_rng: np.random.Generator,
        campaign: str,
        rnd: int,
    ) -> tuple[AgentCall, Validation, ApiFailure | None]:
        """One API call (with retries) and the validation of its reply, as a log entry."""
        started, t0 = utc_now(), time.perf_counter()
        base = dict(
            campaign=campaign,
            round=rnd,
            agent=self.name,
            model=self.model,
            kind=kind,
            started_at=started,
            prompt=redact(prompt, [self._secret]),
        )
        if self._deadline is not None and time.monotonic() >= self._deadline:
            late = ApiFailure("timeout", None, f"round deadline of {self.round_deadline_s:g} s reached before the call")
            return AgentCall(**base, error=late.message), Validation(), late
        try:
            reply, attempts = with_retries(
                lambda: self.backend.send(prompt, space, timeout_s=self._attempt_timeout()),
                self.backend.classify,
                max_retries=self.max_retries,
                backoff_s=self.backoff_s,
                rng=jitter_rng,
                adapt=self.backend.adapt,
                sleep=self.sleep,
                on_retry=lambda f, k, delay: self._log_retry(kind, f, k, delay),
                deadline=self._deadline,
            )
        except GaveUp as gave_up:
            error = redact(str(gave_up), [self._secret])
            if gave_up.failure.kind == "auth":
                self.disabled_reason = (
                    f"{self.name} agent disabled: {error} -- check {self.env_var}; "
                    "no further calls are made by this agent"
                )
            return (
                AgentCall(**base, latency_s=time.perf_counter() - t0, attempts=gave_up.attempts, error=error),
                Validation(),
                gave_up.failure,
            )
        val = Validation()
        if reply.parse_error:
            val.reject(None, reply.raw, reply.parse_error)
        else:
            items, err = items_of(reply.payload)
            if err:
                val.parsed = [reply.payload] if isinstance(reply.payload, dict) else []
                val.reject(None, reply.payload, err)
            else:
                val = validate(items, space, taken, n)
            if not val.parsed and not val.rejections:
                val.reject(None, reply.payload, "the reply contained no proposals")
        cost, note = cost_usd(self.model, reply.input_tokens, reply.output_tokens, self.price_per_mtok)
        entry = AgentCall(
            **base,
            latency_s=time.perf_counter() - t0,
            attempts=attempts,
            raw_reply=reply.raw,
            parsed=list(val.parsed),
            accepted=[space.config_id(c) for c, _ in val.accepted],
            rejections=list(val.rejections),
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
            cost_usd=cost,
            note=note,
        )
        return entry, val, None

    def _attempt_timeout(self) -> float:
        """This attempt's HTTP timeout: ``timeout_s``, cut to what is left of the round's deadline."""
        if self._deadline is None:
            return self.timeout_s
        return max(0.05, min(self.timeout_s, self._deadline - time.monotonic()))

    def _log_retry(self, kind: str, failure: ApiFailure, attempt: int, delay_s: float) -> None:
        """One log line per retry: which agent and call, what failed, and when the next attempt starts."""
        what = " ".join(failure.message.split())[:200]
        http = f"HTTP {failure.status}" if failure.status is not None else failure.kind
        self.log(
            redact(
                f"{self.name} agent ({self.model}), {kind} call: attempt {attempt} failed ({http}: {what}); "
                f"retry {attempt} of {self.max_retries} in {delay_s:.1f} s",
                [self._secret],
            )
        )

    def _top_up(
        self,
        history: Sequence[AgentView],
        queued: list[AgentView],
        space: SearchSpace,
        k: int,
        rng: np.random.Generator,
        context: RoundContext | None,
        chosen: list[AgentProposal],
        last: AgentCall,
    ) -> list[AgentProposal]:
        """``k`` proposals from the fallback agent, which sees the LLM's picks as pending."""
        if k <= 0:
            return []
        campaign, rnd = (context.campaign, context.round) if context is not None else ("", 0)
        mine = [
            AgentView.pending(
                config_id=space.config_id(p.config),
                config=p.config,
                agent=self.name,
                round=rnd,
                campaign=campaign,
                seed=0,
            )
            for p in chosen
        ]
        seen = seen_ids([*history, *queued, *mine], space)
        why = last.error or f"{len(chosen)} valid of {k + len(chosen)} asked"
        why = why if len(why) <= 100 else why[:97] + "..."
        out = []
        for p in self.fallback.propose([*history, *queued, *mine], space, k, rng, context):
            cid = space.config_id(p.config)
            if cid in seen:
                continue
            seen.add(cid)
            out.append(
                AgentProposal(
                    config=p.config,
                    proposed_by=self.fallback.name,
                    rationale=f"fallback ({self.fallback.name}) for {self.name} ({why}): {p.rationale}",
                )
            )
        return out[:k]


def _cost_left(context: RoundContext | None, spent: float) -> float | None:
    if context is None or context.cost_left_usd is None:
        return None
    return float(context.cost_left_usd) - spent


def _queued_views(history: Sequence[AgentView], space: SearchSpace, context: RoundContext | None) -> list[AgentView]:
    """Pending views of the campaign's proposals that the history does not show yet (so none is repeated)."""
    if context is None:
        return []
    seen = seen_ids(history, space)
    out = []
    for p in context.proposals:
        c = canonical_or_none(space, p.config)
        if c is None or space.config_id(c) in seen:
            continue
        seen.add(space.config_id(c))
        out.append(
            AgentView.pending(
                config_id=p.config_id, config=c, agent=p.agent, round=p.round, campaign=context.campaign, seed=0
            )
        )
    return out
