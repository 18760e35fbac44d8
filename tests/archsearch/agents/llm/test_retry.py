"""Exponential backoff with full jitter: retry k sleeps uniform in [0, backoff_s * 2**k], never above MAX_SLEEP_S."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from archsearch.agents.llm.retry import MAX_SLEEP_S, ApiFailure, GaveUp, backoff_delay, with_retries


@pytest.mark.parametrize("attempt", [0, 1, 3, 10])
def test_each_delay_is_uniform_up_to_the_doubled_base_and_capped(attempt):
    rng = np.random.default_rng(attempt)
    upper = min(MAX_SLEEP_S, 2.0 * 2**attempt)
    delays = np.array([backoff_delay(attempt, 2.0, rng) for _ in range(2000)])
    assert delays.min() >= 0.0 and delays.max() <= upper
    assert stats.kstest(delays, stats.uniform(0.0, upper).cdf).pvalue > 1e-3, "full jitter: uniform on [0, cap]"


def test_transient_failures_sleep_the_jittered_backoff_then_give_up():
    slept, seen = [], []
    failure = ApiFailure("rate_limited", 429, "slow down")

    def call():
        raise RuntimeError("429")

    with pytest.raises(GaveUp, match=r"rate limited: gave up after 4 attempts \(HTTP 429\)"):
        with_retries(
            call,
            lambda exc: failure,
            max_retries=3,
            backoff_s=1.0,
            rng=np.random.default_rng(0),
            sleep=slept.append,
            on_retry=lambda f, attempt, delay: seen.append((attempt, delay)),
        )
    expected = [backoff_delay(k, 1.0, rng) for rng in [np.random.default_rng(0)] for k in range(3)]
    assert slept == expected and [a for a, _ in seen] == [1, 2, 3] and [d for _, d in seen] == slept
    assert all(0.0 <= d <= 2.0**k for k, d in enumerate(slept))


def always_failing(failure: ApiFailure, **kw) -> tuple[list[float], str]:
    """Run a call that always fails with ``failure`` until it gives up: the sleeps it took, and why it gave up."""
    slept = []
    with pytest.raises(GaveUp) as info:
        with_retries(
            lambda: 1 / 0,
            lambda exc: failure,
            max_retries=5,
            backoff_s=1.0,
            rng=np.random.default_rng(0),
            sleep=slept.append,
            **kw,
        )
    return slept, str(info.value)


def test_a_client_error_is_not_retried():
    slept, message = always_failing(ApiFailure("client", 400, "bad request"))
    assert slept == [] and message.startswith("request rejected (HTTP 400)")


def test_no_retry_starts_that_would_end_after_the_deadline():
    clock = iter([0.0, 100.0]).__next__
    slept, message = always_failing(ApiFailure("server", 503, "busy"), deadline=50.0, clock=clock)
    assert len(slept) == 1, "the first retry fits; the second would end after the deadline"
    assert "deadline left no time" in message
