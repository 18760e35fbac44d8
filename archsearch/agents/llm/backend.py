"""The provider-neutral contract between the LLM agent and one provider SDK (Claude or Gemini).

Why a seam here: the agent's logic (prompt, validation, repair, retries, fallback, cost, log) is the
same for both providers; only "send this prompt, get JSON back" and "what kind of failure is this
exception" differ. Keeping those two behind one small interface is what lets the tests drive both
real SDKs through the same scenarios.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

from archsearch.agents.llm.retry import ApiFailure
from archsearch.space import SearchSpace


@dataclass(frozen=True)
class RawReply:
    """One successful API response: its text as logged, the parsed payload (or why not), and tokens."""

    raw: str
    payload: Any
    parse_error: str | None
    input_tokens: int
    output_tokens: int


class Backend(abc.ABC):
    """Sends one prompt to one provider and model; never retries (the agent's loop does)."""

    provider: str = ""

    def __init__(self, model: str):
        self.model = model

    @abc.abstractmethod
    def reply_format(self) -> str:
        """The last lines of the prompt: how to answer (call the tool / reply with JSON)."""

    @abc.abstractmethod
    def send(self, prompt: str, space: SearchSpace, timeout_s: float | None = None) -> RawReply:
        """One HTTP request (``timeout_s``: this request's limit, else the client's); raises the SDK's exceptions."""

    @abc.abstractmethod
    def classify(self, exc: BaseException) -> ApiFailure:
        """Map an exception raised by :meth:`send` to an :class:`ApiFailure`."""

    def adapt(self, failure: ApiFailure) -> bool:
        """Change the request after a non-transient failure, if that can help; True to try again at once."""
        return False


SYSTEM_PROMPT = (
    "You are a careful ML researcher running an architecture search. You answer only through the "
    "requested structured format, with values copied exactly from the listed options."
)
