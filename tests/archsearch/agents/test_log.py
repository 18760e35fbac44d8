"""Agent log: redact removes every secret; AgentCall round-trips through JSON; the store keeps one
file per call per campaign, reads them oldest first (dicts, AgentCalls, a polars table) and sums cost;
secrets given to the store never reach disk; bad entries and files fail with clear messages."""

from __future__ import annotations

import json

import pytest

from archsearch.agents.log import NO_CAMPAIGN_DIR, REDACTED, AgentCall, AgentLog, AgentLogError, redact

KEY = "sk-ant-api03-SECRETKEY"


def call(
    campaign: str = "c1",
    round_: int = 1,
    kind: str = "propose",
    started: str = "2026-01-01T00:00:00.000+00:00",
    cost: float = 0.01,
    **kw,
) -> AgentCall:
    fields = dict(
        latency_s=1.5,
        attempts=2,
        prompt="prompt text",
        raw_reply='{"proposals": []}',
        parsed=[{"config": {"backbone": "motion"}, "hypothesis": "h"}],
        accepted=["abcdef012345"],
        rejections=[{"index": 0, "item": "{}", "reason": "missing key"}],
        input_tokens=1000,
        output_tokens=200,
        cost_usd=cost,
    )
    return AgentCall(
        campaign=campaign,
        round=round_,
        agent="claude",
        model="claude-opus-5-5",
        kind=kind,
        started_at=started,
        **{**fields, **kw},
    )


def test_redact_replaces_every_secret_longest_first():
    text = f"key={KEY} again {KEY}; short=sk-ant"
    out = redact(text, [KEY, "sk-ant", ""])
    assert KEY not in out and "sk-ant" not in out
    assert out == f"key={REDACTED} again {REDACTED}; short={REDACTED}"
    assert redact("nothing here", [KEY]) == "nothing here"
    assert redact(None, [KEY]) is None


def test_agent_call_round_trip_and_validation():
    c = call(error="rate limited: gave up after 5 attempts (HTTP 429): slow down", fallback_count=2, note="n")
    d = json.loads(json.dumps(c.to_dict()))
    assert AgentCall.from_dict(d) == c
    assert AgentCall.from_dict({**d, "added_by_newer_code": 1}) == c
    with pytest.raises(AgentLogError, match="kind"):
        call(kind="chat")
    with pytest.raises(AgentLogError, match="missing"):
        AgentCall.from_dict({"campaign": "c"})


def test_store_orders_filters_reads_and_sums(tmp_path):
    log = AgentLog(tmp_path)
    p2 = log.write(call(started="2026-01-01T00:00:02.000+00:00", cost=0.02, kind="repair"))
    p1 = log.write(call(started="2026-01-01T00:00:01.000+00:00", cost=0.01))
    log.write(call(campaign="c2", started="2026-01-01T00:00:00.500+00:00", cost=0.5))
    log.write(call(campaign="", round_=0, kind="skipped", cost=0.0, error="cost budget exhausted"))
    assert p1.parent == p2.parent == tmp_path / "agent_log" / "c1"
    assert (tmp_path / "agent_log" / NO_CAMPAIGN_DIR).is_dir()

    recs = log.records("c1")
    assert [r["kind"] for r in recs] == ["propose", "repair"]  # oldest first, whatever the write order
    assert [c.cost_usd for c in log.calls("c1")] == [0.01, 0.02]
    assert len(log.records()) == 4 and log.records("")[0]["error"] == "cost budget exhausted"
    assert log.total_cost_usd("c1") == pytest.approx(0.03)
    assert log.total_cost_usd() == pytest.approx(0.53)
    assert log.total_cost_usd("nope") == 0.0

    df = log.read("c1")
    assert df.height == 2 and df["n_accepted"].to_list() == [1, 1] and df["n_rejected"].to_list() == [1, 1]
    assert json.loads(df["rejections"][0])[0]["reason"] == "missing key"
    assert log.read("nope").height == 0 and "cost_usd" in log.read("nope").columns


def test_store_redacts_secrets_and_rejects_bad_names_and_files(tmp_path):
    log = AgentLog(tmp_path, secrets=[KEY])
    leaky = call(
        error=f"authentication failed (HTTP 401): invalid x-api-key {KEY}",
        rejections=[{"index": 0, "item": KEY, "reason": f"echo {KEY}"}],
    )
    path = log.write(leaky)
    assert KEY not in path.read_text() and REDACTED in path.read_text()
    with pytest.raises(AgentLogError, match="campaign"):
        log.write(call(campaign="../escape"))
    (path.parent / "broken.json").write_text("{not json")
    with pytest.raises(AgentLogError, match="broken.json"):
        log.records("c1")
