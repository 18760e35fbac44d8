"""One classification of API failures for both providers, and a bounded retry loop around a call.

Why our own loop: the SDKs' built-in retries are switched off so that every attempt is counted in
the agent log, the backoff is the same for Claude and Gemini, and tests can drive it with a tiny
``backoff_s``. Transient failures (429, 5xx, 408/409, timeouts, dropped connections) are retried
with exponential backoff and full jitter (sleep ~ U(0, backoff_s * 2**k), capped); anything else
fails at once. Authentication failures are never retried: a wrong key does not heal. Each retry is
reported (``on_retry``) so a slow provider is visible in the logs, and an optional ``deadline``
(monotonic clock) bounds all attempts and sleeps together: a hanging provider costs one round its
deadline, not max_retries times the HTTP timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

T = TypeVar("T")

RETRYABLE = ("rate_limited", "server", "timeout", "connection")
KINDS = (*RETRYABLE, "auth", "client", "error")
MAX_SLEEP_S = 60.0

_LABEL = {
    "rate_limited": "rate limited",
    "server": "server error",
    "timeout": "timed out",
    "connection": "connection failed",
    "auth": "authentication failed",
    "client": "request rejected",
    "error": "unexpected error",
}


@dataclass(frozen=True)
class ApiFailure:
    """What went wrong with one attempt, provider-neutral: kind (see KINDS), HTTP status, message."""

    kind: str
    status: int | None
    message: str

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE

    def describe(self, attempts: int) -> str:
        """The agent-log error text, e.g. 'rate limited: gave up after 5 attempts (HTTP 429): ...'."""
        http = f"HTTP {self.status}" if self.status is not None else self.kind
        msg = " ".join(self.message.split())[:300]
        if self.retryable:
            return f"{_LABEL[self.kind]}: gave up after {attempts} attempt{'s' * (attempts != 1)} ({http}): {msg}"
        return f"{_LABEL[self.kind]} ({http}): {msg}"


def status_kind(status: int) -> str:
    """The failure kind of an HTTP error status."""
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limited"
    if status == 408:
        return "timeout"
    if status == 409 or status >= 500:
        return "server"
    return "client"


class GaveUp(Exception):
    """Raised by :func:`with_retries` when the failure is final; carries it, the attempt count and why."""

    def __init__(self, failure: ApiFailure, attempts: int, note: str = ""):
        super().__init__(failure.describe(attempts) + (f" ({note})" if note else ""))
        self.failure = failure
        self.attempts = attempts
        self.note = note


def backoff_delay(attempt: int, backoff_s: float, rng: np.random.Generator) -> float:
    """Full jitter: uniform in [0, backoff_s * 2**attempt], capped at MAX_SLEEP_S (attempt counts from 0)."""
    return float(rng.uniform(0.0, min(MAX_SLEEP_S, backoff_s * (2.0**attempt))))


def with_retries(
    call: Callable[[], T],
    classify: Callable[[BaseException], ApiFailure],
    *,
    max_retries: int,
    backoff_s: float,
    rng: np.random.Generator,
    adapt: Callable[[ApiFailure], bool] = lambda f: False,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[ApiFailure, int, float], None] | None = None,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[T, int]:
    """(result, attempts) of ``call``; retries transient failures at most ``max_retries`` times.

    ``adapt(failure)`` lets the caller change its request after a non-transient failure (e.g. drop
    a tool_choice the model refuses); when it returns True the call is repeated at once. Any
    exception becomes an :class:`ApiFailure` via ``classify``; a final one raises :class:`GaveUp`.
    ``on_retry(failure, attempt, delay_s)`` is called before each retry's sleep. No retry starts
    once ``deadline`` (``clock()`` time) would pass during its backoff.
    """
    attempts, retries = 0, 0
    while True:
        attempts += 1
        try:
            return call(), attempts
        except Exception as exc:  # noqa: BLE001 -- classified below; the campaign must never crash here
            failure = classify(exc)
        if failure.retryable and retries < max_retries:
            delay = backoff_delay(retries, backoff_s, rng)
            if deadline is not None and clock() + delay >= deadline:
                raise GaveUp(failure, attempts, "the round's deadline left no time for another attempt")
            if on_retry is not None:
                on_retry(failure, attempts, delay)
            sleep(delay)
            retries += 1
            continue
        if not failure.retryable and adapt(failure):
            continue
        raise GaveUp(failure, attempts)
