"""API keys echoed by a provider reach no store: not the proposals, the round records, the agent log, the
Dagster run storage (sqlite event log, metadata, logs) nor the console.

Both real SDKs talk to the local fake server, which plants both keys in every field of its replies:
error messages (retried, so they reach the retry log lines), hypotheses (which become stored
rationales), config values and item keys (rejection reasons), top-level keys and free text (the
raw reply and parsed items), and the repair call. The rounds run as `proposals_job` runs in a real
sqlite instance with the keys from the environment, exactly as `python -m pipelines.cli campaign
round` runs them. Then every file under the data root and $DAGSTER_HOME is searched for the keys.
"""

from __future__ import annotations

import json

import dagster as dg

from archsearch.agents.llm.replies import value_text
from archsearch.agents.log import REDACTED
from archsearch.space import SearchSpace
from tests.archsearch.agents.llm.fake_llm_server import (
    FakeLLMServer,
    claude_error,
    claude_tool,
    gemini_error,
    gemini_text,
)
from tests.faults.campaign_faults import campaign_project, dagster_home, files_containing
from tests.projects import CAMPAIGN_SPACE

CLAUDE_KEY = "sk-ant-api03-PLANTED-claude-4f9a1c"
GEMINI_KEY = "AIzaPLANTED-gemini-77e2b0d5"
BOTH = f"{CLAUDE_KEY} / {GEMINI_KEY}"
SPACE = SearchSpace.from_dict(CAMPAIGN_SPACE)


def item(index: int, fmt=lambda v: v, **override) -> dict:
    config = {k: fmt(v) for k, v in SPACE.config_at(index).items()}
    return {"config": {**config, **override}, "hypothesis": f"probes {index}; my keys are {BOTH}"}


def claude_round() -> list:
    payload = {
        "proposals": [item(1), item(6), item(9, encoder=CLAUDE_KEY), {**item(12), GEMINI_KEY: "an extra item key"}],
        CLAUDE_KEY: "a top-level key",
    }
    reply = claude_tool(payload)
    reply.body["content"].insert(0, {"type": "text", "text": f"thinking aloud with {BOTH}"})
    return [
        claude_error(429, f"slow down, {BOTH}"),
        reply,
        *[claude_error(500, f"upstream failed for {BOTH}") for _ in range(3)],
    ]  # the repair call gives up


def gemini_round() -> list:
    payload = {"proposals": [item(3, value_text), item(14, value_text, pooling=GEMINI_KEY)], GEMINI_KEY: 1}
    return [
        gemini_error(503, f"overloaded: {BOTH}"),
        gemini_text(json.dumps(payload)),
        gemini_text(f"no JSON here, only {BOTH}"),
    ]


def test_planted_keys_reach_no_store_and_no_log(tmp_path, monkeypatch, capfd):
    root, home = tmp_path / "home", dagster_home(tmp_path)
    with FakeLLMServer() as server:
        server.push(*claude_round(), *gemini_round())
        llm = {
            a: {"base_url": server.url, "max_retries": 2, "backoff_s": 0.01, "timeout_s": 10}
            for a in ("claude", "gemini")
        }
        config = campaign_project(tmp_path, agents={"claude": 1, "gemini": 1}, llm=llm)
        for var, value in (
            ("ARCHSEARCH_CONFIG", str(config)),
            ("ARCHSEARCH_HOME", str(root)),
            ("DAGSTER_HOME", str(home)),
            ("ANTHROPIC_API_KEY", CLAUDE_KEY),
            ("GEMINI_API_KEY", GEMINI_KEY),
        ):
            monkeypatch.setenv(var, value)
        from pipelines.definitions import build_definitions

        job = build_definitions().resolve_job_def("proposals_job")
        instance = dg.DagsterInstance.get()
        results = [job.execute_in_process(instance=instance) for _ in range(2)]
        assert server.remaining == 0, "every planted reply was served"
    assert all(r.success for r in results)
    agents = [r.asset_materializations_for_node("proposals")[0].metadata["agent"].value for r in results]
    assert agents == ["claude", "gemini"]
    instance.dispose()

    leaks = files_containing([root, home], [CLAUDE_KEY, GEMINI_KEY])
    assert not leaks, f"API keys stored in {leaks}"
    out, err = capfd.readouterr()
    assert CLAUDE_KEY not in out + err and GEMINI_KEY not in out + err, "a key reached the console"

    # Not vacuous: the planted text reached every store, redacted.
    redacted = files_containing([root, home], [REDACTED])[REDACTED]
    for where in (
        "proposals/c1/",
        "campaigns/c1/rounds/00000.json",
        "campaigns/c1/rounds/00001.json",
        "agent_log/c1/",
        "dagster_home/history/runs/",
    ):
        assert any(where in path for path in redacted), f"nothing redacted under {where}: {redacted}"
    record = json.loads((root / "campaigns/c1/rounds/00000.json").read_text())
    assert any("retry 1 of 2" in w and REDACTED in w for w in record["warnings"]), "the retry line, redacted"
    assert any(REDACTED in r for r in record["rejection_reasons"]) and any(REDACTED in e for e in record["errors"])
