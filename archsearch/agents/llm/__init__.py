"""LLM search agents: Claude (anthropic SDK, tool use) and Gemini (google-genai SDK, JSON schema).

Both share one agent (:mod:`.agent`): the prompt (:mod:`.prompt`), reply validation
(:mod:`.replies`), bounded retries (:mod:`.retry`), cost estimates (:mod:`.pricing`); only the
provider call differs (:mod:`.claude`, :mod:`.gemini`). The SDKs are imported when an agent is
built, so importing this package stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable

from archsearch.agents.base import Agent
from archsearch.agents.llm.agent import COST_EXHAUSTED, LLMAgent, LLMAgentError
from archsearch.config import KEY_ENV, LLM_AGENTS

DEFAULT_MODELS = {"claude": "claude-opus-5-5", "gemini": "gemini-2.5-pro"}


def make_llm_agent(
    name: str,
    *,
    api_key: str,
    fallback: Agent,
    model: str | None = None,
    base_url: str | None = None,
    max_retries: int = 4,
    backoff_s: float = 2.0,
    timeout_s: float = 120.0,
    max_output_tokens: int = 16_000,
    price_per_mtok: tuple[float, float] | None = None,
    round_deadline_s: float | None = None,
    log: Callable[[str], None] | None = None,
) -> LLMAgent:
    """An LLM agent by name ("claude" or "gemini") with its key, fallback agent and call settings.

    ``base_url`` points the SDK elsewhere (a proxy, or the tests' local server). ``max_output_tokens``
    is generous because current Opus models always think, and thinking counts against it: a reply
    cut short costs a repair call (billing is per token used, not per token allowed). ``timeout_s`` bounds
    one HTTP attempt and ``round_deadline_s`` all calls, retries and backoff of one round; ``log`` gets
    one line per retry (default: this package's logger). Raises ValueError
    for an unknown name, an empty key or bad settings; LLMAgentError when the provider SDK is missing.
    """
    if name not in LLM_AGENTS:
        raise ValueError(f"unknown LLM agent {name!r}; known: {list(LLM_AGENTS)}")
    env = KEY_ENV[name]
    if not isinstance(api_key, str) or not api_key.strip():
        raise ValueError(f"{name} agent: empty API key; set {env} or leave {name} out of the campaign's agents")
    if timeout_s <= 0 or max_output_tokens < 1:
        raise ValueError(
            f"{name} agent: expected timeout_s > 0 and max_output_tokens >= 1, got {timeout_s}, {max_output_tokens}"
        )
    model = model or DEFAULT_MODELS[name]
    try:
        if name == "claude":
            from archsearch.agents.llm.claude import ClaudeBackend as backend_cls
        else:
            from archsearch.agents.llm.gemini import GeminiBackend as backend_cls
        backend = backend_cls(
            api_key=api_key,
            model=model,
            base_url=base_url,
            timeout_s=float(timeout_s),
            max_output_tokens=int(max_output_tokens),
        )
    except ImportError as exc:
        pkg = "anthropic" if name == "claude" else "google-genai"
        raise LLMAgentError(f"{name} agent needs the {pkg!r} package: {exc}") from exc
    return LLMAgent(
        name,
        backend,
        api_key=api_key,
        env_var=env,
        fallback=fallback,
        max_retries=max_retries,
        backoff_s=backoff_s,
        price_per_mtok=price_per_mtok,
        timeout_s=timeout_s,
        round_deadline_s=round_deadline_s,
        log=log,
    )


__all__ = ["COST_EXHAUSTED", "DEFAULT_MODELS", "KEY_ENV", "LLM_AGENTS", "LLMAgent", "LLMAgentError", "make_llm_agent"]
