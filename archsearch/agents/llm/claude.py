"""Claude through the official ``anthropic`` SDK: Messages API, one tool whose input is the reply.

Tool use gives structured JSON whose shape the API checks against our schema (enums per
dimension, numbers as numbers). The tool is forced with ``tool_choice`` where the model allows it;
Claude Opus 5.5 and Fable 5.1 reject forced tool use with a 400 (always-on thinking), so for them --
and for any model that answers a forced choice with a 400 naming tool_choice -- the request uses
``tool_choice: auto`` and the prompt asks for the tool call; a JSON answer in text is read too.
The SDK's own retries are off (``max_retries=0``): the agent's loop retries, counts and logs.
"""

from __future__ import annotations

import json

from archsearch.agents.llm.backend import SYSTEM_PROMPT, Backend, RawReply
from archsearch.agents.llm.replies import TOOL_NAME, json_schema, parse_json_text
from archsearch.agents.llm.retry import ApiFailure, status_kind
from archsearch.space import SearchSpace

# Documented: "Forced tool use returns an error" on these (platform.claude.com, What's new in Opus 5.5).
FORCED_TOOL_CHOICE_REJECTED = frozenset({"claude-opus-5-5", "claude-fable-5-1"})


def _tokens(*counts) -> int:
    return int(sum(c for c in counts if isinstance(c, int)))


class ClaudeBackend(Backend):
    """Anthropic Messages API with the ``propose_experiments`` tool."""

    provider = "claude"

    def __init__(self, *, api_key: str, model: str, base_url: str | None, timeout_s: float, max_output_tokens: int):
        import anthropic

        super().__init__(model)
        self._client = anthropic.Anthropic(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_s)
        self.max_output_tokens = max_output_tokens
        self.force_tool = not any(model == m or model.startswith(m + "-") for m in FORCED_TOOL_CHOICE_REJECTED)

    def reply_format(self) -> str:
        return (
            f"Answer by calling the tool `{TOOL_NAME}` exactly once, with all configurations in its "
            "`proposals` array. Do not answer in prose."
        )

    def send(self, prompt: str, space: SearchSpace, timeout_s: float | None = None) -> RawReply:
        tool = {
            "name": TOOL_NAME,
            "description": "Submit the proposed experiment configurations.",
            "input_schema": json_schema(space),
        }
        choice = {"type": "tool", "name": TOOL_NAME} if self.force_tool else {"type": "auto"}
        per_request = {} if timeout_s is None else {"timeout": timeout_s}
        msg = self._client.messages.create(
            model=self.model,
            max_tokens=self.max_output_tokens,
            system=SYSTEM_PROMPT,
            messages=[{"role": "user", "content": prompt}],
            tools=[tool],
            tool_choice=choice,
            **per_request,
        )
        blocks = list(msg.content or [])
        calls = [
            b.input for b in blocks if getattr(b, "type", None) == "tool_use" and getattr(b, "name", "") == TOOL_NAME
        ]
        texts = [b.text for b in blocks if getattr(b, "type", None) == "text"]
        raw = json.dumps({"stop_reason": msg.stop_reason, "tool_inputs": calls, "text": texts}, default=str)
        usage = msg.usage
        tokens_in = _tokens(
            usage.input_tokens,
            getattr(usage, "cache_creation_input_tokens", None),
            getattr(usage, "cache_read_input_tokens", None),
        )
        tokens_out = _tokens(usage.output_tokens)
        if len(calls) == 1:
            payload, err = calls[0], None
        elif calls:  # several tool calls: their proposals together
            payload, err = (
                {"proposals": [x for c in calls for x in (c.get("proposals") or [] if isinstance(c, dict) else [])]},
                None,
            )
        else:
            payload, err = parse_json_text("\n".join(texts))
            if err:
                err = f"no `{TOOL_NAME}` tool call and no JSON in the text ({err})"
        if err and msg.stop_reason == "max_tokens":
            err += f"; the reply was cut off at max_tokens={self.max_output_tokens}"
        return RawReply(raw=raw, payload=payload, parse_error=err, input_tokens=tokens_in, output_tokens=tokens_out)

    def classify(self, exc: BaseException) -> ApiFailure:
        import anthropic

        if isinstance(exc, anthropic.APITimeoutError):
            return ApiFailure("timeout", None, str(exc) or "request timed out")
        if isinstance(exc, anthropic.APIConnectionError):
            return ApiFailure("connection", None, str(exc) or "connection error")
        if isinstance(exc, anthropic.APIStatusError):
            return ApiFailure(status_kind(int(exc.status_code)), int(exc.status_code), str(exc))
        return ApiFailure("error", None, f"{type(exc).__name__}: {exc}")

    def adapt(self, failure: ApiFailure) -> bool:
        if self.force_tool and failure.kind == "client" and "tool_choice" in failure.message:
            self.force_tool = False  # this model refuses forced tool use: ask for the tool instead
            return True
        return False
