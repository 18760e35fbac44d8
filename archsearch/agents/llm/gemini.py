"""Gemini through the official ``google-genai`` SDK: JSON output constrained by a ``response_schema``.

Gemini's schema enums are strings, so every value is offered as its text (``"0.001"``, ``"16"``)
and ``space.canonical`` turns it back into the space's number (the number rule). The SDK's retries
are off (``HttpRetryOptions(attempts=1)``) so the agent's loop owns retries, and the timeout is in
milliseconds as ``HttpOptions`` expects. The Gemini API answers a bad key with HTTP 400
``API_KEY_INVALID``, not 401, so that case counts as an authentication failure too.
"""

from __future__ import annotations

import json

from archsearch.agents.llm.backend import SYSTEM_PROMPT, Backend, RawReply
from archsearch.agents.llm.replies import gemini_schema, parse_json_text
from archsearch.agents.llm.retry import ApiFailure, status_kind
from archsearch.space import SearchSpace

_BAD_KEY_MARKERS = ("API_KEY_INVALID", "API key not valid", "API key expired")


class GeminiBackend(Backend):
    """Gemini ``generate_content`` with ``response_mime_type="application/json"`` and our schema."""

    provider = "gemini"

    def __init__(self, *, api_key: str, model: str, base_url: str | None, timeout_s: float, max_output_tokens: int):
        from google import genai
        from google.genai import types

        super().__init__(model)
        http = types.HttpOptions(
            base_url=base_url, timeout=int(round(timeout_s * 1000)), retry_options=types.HttpRetryOptions(attempts=1)
        )
        self._client = genai.Client(api_key=api_key, http_options=http)
        self.max_output_tokens = max_output_tokens

    def reply_format(self) -> str:
        return (
            'Answer with one JSON object only: {"proposals": [{"config": {dimension: value, ...}, '
            '"hypothesis": "..."}, ...]}, values written exactly as listed.'
        )

    def send(self, prompt: str, space: SearchSpace, timeout_s: float | None = None) -> RawReply:
        from google.genai import types

        # Per-request options patch the client's (its retries stay off); only a set timeout is sent.
        http = None if timeout_s is None else types.HttpOptions(timeout=max(1, round(timeout_s * 1000)))
        config = types.GenerateContentConfig(
            system_instruction=SYSTEM_PROMPT,
            response_mime_type="application/json",
            response_schema=gemini_schema(space),
            max_output_tokens=self.max_output_tokens,
            http_options=http,
        )
        resp = self._client.models.generate_content(model=self.model, contents=prompt, config=config)
        text = _text(resp)
        finish = None
        if resp.candidates:
            finish = getattr(resp.candidates[0].finish_reason, "value", resp.candidates[0].finish_reason)
        usage = resp.usage_metadata
        tokens_in = int(getattr(usage, "prompt_token_count", None) or 0)
        # thinking tokens are billed as output tokens
        tokens_out = int(getattr(usage, "candidates_token_count", None) or 0) + int(
            getattr(usage, "thoughts_token_count", None) or 0
        )
        payload, err = parse_json_text(text)
        if err and finish and finish != "STOP":
            err += f"; generation stopped with finish reason {finish}"
        raw = text if text is not None else json.dumps({"finish_reason": finish, "text": None}, default=str)
        return RawReply(raw=raw, payload=payload, parse_error=err, input_tokens=tokens_in, output_tokens=tokens_out)

    def classify(self, exc: BaseException) -> ApiFailure:
        from google.genai import errors

        if isinstance(exc, errors.APIError):
            code = int(exc.code) if exc.code is not None else 0
            msg = str(exc)
            kind = "auth" if code == 400 and any(m in msg for m in _BAD_KEY_MARKERS) else status_kind(code)
            return ApiFailure(kind, code or None, msg)
        timeouts, transport = _transport_errors()
        if isinstance(exc, timeouts):
            return ApiFailure("timeout", None, str(exc) or "request timed out")
        if isinstance(exc, transport):
            return ApiFailure("connection", None, str(exc) or "connection error")
        return ApiFailure("error", None, f"{type(exc).__name__}: {exc}")


def _transport_errors() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(timeout, transport) exception classes of httpx and/or httpx2 -- google-genai uses whichever is installed."""
    import importlib

    timeouts, transport = [], []
    for name in ("httpx", "httpx2"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        timeouts.append(mod.TimeoutException)
        transport.append(mod.TransportError)
    return tuple(timeouts), tuple(transport)


def _text(resp) -> str | None:
    """The concatenated text parts of the first candidate (thought parts skipped), or None."""
    if not resp.candidates or resp.candidates[0].content is None:
        return None
    parts = resp.candidates[0].content.parts or []
    texts = [p.text for p in parts if getattr(p, "text", None) and not getattr(p, "thought", False)]
    return "".join(texts) if texts else None
