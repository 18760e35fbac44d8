"""A local HTTP server speaking the Anthropic Messages and Gemini generateContent wire formats.

Tests point the real SDK clients at it (``base_url``) and script its answers one request at a time,
so every path -- valid reply, malformed JSON, 429 then success, 500 until give-up, 401 -- runs
through the real SDK request building, response parsing and exception mapping, with no network.
Each request is recorded (path, headers, JSON body) for assertions. When the script runs out the
server answers 500 "script exhausted", which a test sees as an unexpected extra call.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Scripted:
    """One canned HTTP answer."""

    status: int
    body: Any  # dict -> JSON; str -> sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


# ----------------------------------------------------------------------------------------- Anthropic


def claude_tool(
    tool_input: Any,
    *,
    input_tokens: int = 1200,
    output_tokens: int = 300,
    name: str = "propose_experiments",
    model: str = "claude-opus-5-5",
) -> Scripted:
    """A Messages API reply whose content is one tool_use block with ``tool_input``."""
    return Scripted(
        200,
        {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "tool_use", "id": "toolu_fake", "name": name, "input": tool_input}],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        },
    )


def claude_text(
    text: str, *, input_tokens: int = 1200, output_tokens: int = 300, model: str = "claude-opus-5-5"
) -> Scripted:
    """A Messages API reply with a text block only (no tool call)."""
    return Scripted(
        200,
        {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        },
    )


_CLAUDE_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def claude_error(status: int, message: str = "fake error") -> Scripted:
    return Scripted(
        status, {"type": "error", "error": {"type": _CLAUDE_ERROR_TYPES.get(status, "api_error"), "message": message}}
    )


# ----------------------------------------------------------------------------------------- Gemini


def gemini_text(
    text: str, *, prompt_tokens: int = 1500, output_tokens: int = 400, finish_reason: str = "STOP"
) -> Scripted:
    """A generateContent reply whose one candidate holds ``text`` (JSON mode puts the JSON here)."""
    return Scripted(
        200,
        {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": finish_reason, "index": 0}
            ],
            "usageMetadata": {
                "promptTokenCount": prompt_tokens,
                "candidatesTokenCount": output_tokens,
                "totalTokenCount": prompt_tokens + output_tokens,
            },
            "modelVersion": "gemini-2.5-pro",
        },
    )


def gemini_json(payload: Any, **kw: Any) -> Scripted:
    return gemini_text(json.dumps(payload), **kw)


_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def gemini_error(status: int, message: str = "fake error") -> Scripted:
    return Scripted(
        status, {"error": {"code": status, "message": message, "status": _GEMINI_STATUS.get(status, "UNKNOWN")}}
    )


# ----------------------------------------------------------------------------------------- server


class FakeLLMServer:
    """Threaded local server; ``push`` answers, use as a context manager, read ``requests`` after."""

    def __init__(self) -> None:
        self._script: list[Scripted] = []
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"null")
                except json.JSONDecodeError:
                    body = raw.decode("utf-8", "replace")
                with server._lock:
                    server.requests.append(
                        {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                    )
                    answer = (
                        server._script.pop(0)
                        if server._script
                        else Scripted(
                            500,
                            {"error": {"code": 500, "message": "fake server: script exhausted", "status": "INTERNAL"}},
                        )
                    )
                if answer.delay_s:
                    time.sleep(answer.delay_s)
                data = answer.body if isinstance(answer.body, str) else json.dumps(answer.body)
                payload = data.encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for k, v in answer.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client timed out, hung up
                    self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def push(self, *answers: Scripted) -> FakeLLMServer:
        with self._lock:
            self._script.extend(answers)
        return self

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._script)

    def start(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
