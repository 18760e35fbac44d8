"""Rounds are atomic: concurrent rounds queue on the campaign's lock, and a round killed at any point leaves
either nothing or a whole round (finished by the next one): no orphan proposal, no budget overrun.

Real processes: several `run_round` processes released at the same instant against an LLM provider
that takes 1 s to answer (so the rounds overlap), a round killed with SIGKILL while it waits for
the provider, and a round whose process dies (``os._exit``) between publishing two proposals.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from archsearch.campaign import CampaignFiles, ProposalStore, campaign_space, campaign_status, run_round
from archsearch.config import load_config
from tests.archsearch.agents.llm.fake_llm_server import FakeLLMServer, Scripted
from tests.faults.campaign_faults import PYTHON, REPO, campaign_project, kill_group, project_env, start, wait_for

KEY = "sk-ant-fault-test-0123456789"

# One round in a fresh process: once imported it says so (argv[1] + its pid), then starts when the file
# argv[1] appears, so several processes start their rounds at the same instant.
ROUND = """
import json, os, sys, time
from pathlib import Path
from archsearch.campaign import campaign_space, run_round
from archsearch.config import load_config
project = load_config()
space = campaign_space(project)
Path(f"{sys.argv[1]}.ready-{os.getpid()}").touch()
while not Path(sys.argv[1]).exists():
    time.sleep(0.005)
report = run_round(project.campaign, space, os.environ["ARCHSEARCH_HOME"], env=os.environ)
print(json.dumps({"round": report.round, "keys": list(report.keys), "stopped": report.stopped}))
"""

# The same, but the process dies (no cleanup at all) right after publishing its second proposal.
DIE_MID_PUBLISH = (
    """
import os
from archsearch.campaign import proposals
real_add = proposals.ProposalStore.add
published = []
def add(self, proposal):
    if len(published) == 2:
        os._exit(9)
    published.append(proposal.key)
    return real_add(self, proposal)
proposals.ProposalStore.add = add
"""
    + ROUND
)


def slow_refusal(delay_s: float) -> Scripted:
    """A provider that takes ``delay_s`` and then refuses the request (400): the fallback fills the round."""
    return Scripted(
        400, {"type": "error", "error": {"type": "invalid_request_error", "message": "no"}}, delay_s=delay_s
    )


def assert_consistent(root, campaign: str = "c1") -> list[dict]:
    """Every proposal belongs to exactly one round record, and nothing is left half published."""
    files, store = CampaignFiles(root, campaign), ProposalStore(root)
    records = files.rounds()
    assert [r["round"] for r in records] == list(range(len(records)))
    in_records = [k for r in records for k in r["keys"]]
    assert len(in_records) == len(set(in_records)), "a proposal in two rounds"
    proposals = {p.key: p for p in store.list(campaign)}
    assert set(in_records) == set(proposals), "orphan proposals, or records naming missing ones"
    for r in records:
        assert all(proposals[k].round == r["round"] for k in r["keys"])
    assert not files.pending(), "a committed round was left unpublished"
    return records


def test_concurrent_rounds_in_threads_queue_on_the_lock(tmp_path):
    """The fast version of the next test: three rounds at once in one process (each holds its own lock file)."""
    from concurrent.futures import ThreadPoolExecutor

    config = campaign_project(
        tmp_path,
        agents={"claude": 1},
        max_experiments=6,
        round_size=4,
        llm={"claude": {"base_url": None, "max_retries": 0}},
    )
    root = tmp_path / "home"
    with FakeLLMServer() as server:
        server.push(*[slow_refusal(0.5) for _ in range(6)])
        config.write_text(config.read_text().replace("base_url: null", f"base_url: {server.url}"))
        project = load_config(config)
        space = campaign_space(project)
        with ThreadPoolExecutor(3) as pool:
            reports = list(
                pool.map(lambda _: run_round(project.campaign, space, root, env={"ANTHROPIC_API_KEY": KEY}), range(3))
            )
    assert sorted((r.round, r.proposed, r.stopped) for r in reports) == [
        (0, 4, None),
        (1, 2, None),
        (2, 0, "max_experiments reached (6 of 6 proposed)"),
    ]
    assert len(assert_consistent(root)) == 2 and len(server.requests) == 2


@pytest.mark.slow
def test_concurrent_rounds_queue_and_respect_the_budget(tmp_path):
    config = campaign_project(
        tmp_path,
        agents={"claude": 1},
        max_experiments=6,
        round_size=4,
        llm={"claude": {"base_url": None, "max_retries": 0}},
    )
    root = tmp_path / "home"
    with FakeLLMServer() as server:
        server.push(*[slow_refusal(1.0) for _ in range(6)])
        config.write_text(config.read_text().replace("base_url: null", f"base_url: {server.url}"))
        env = project_env(config, root, ANTHROPIC_API_KEY=KEY)
        go = tmp_path / "go"
        procs = [
            subprocess.Popen(
                [PYTHON, "-c", ROUND, str(go)],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        wait_for(lambda: len(list(tmp_path.glob("go.ready-*"))) == 3, 120, "every process to be ready")
        go.touch()
        results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in results]
    reports = sorted(
        (json.loads(out.splitlines()[-1]) for out, _ in results), key=lambda r: (r["stopped"] or "", r["round"])
    )
    assert [(r["round"], len(r["keys"])) for r in reports[:2]] == [(0, 4), (1, 2)], reports
    assert reports[2]["stopped"] == "max_experiments reached (6 of 6 proposed)", "the third saw the others' proposals"
    records = assert_consistent(root)
    assert len(records) == 2 and len(ProposalStore(root).list("c1")) == 6, "budget 6: never 8 or 12"
    assert len(server.requests) == 2, "the stopped round asked nobody"


def test_round_killed_while_waiting_for_the_provider_leaves_nothing(tmp_path):
    config = campaign_project(tmp_path, agents={"claude": 1}, llm={"claude": {"base_url": None, "max_retries": 0}})
    root = tmp_path / "home"
    with FakeLLMServer() as server:
        server.push(slow_refusal(60), slow_refusal(0))
        config.write_text(config.read_text().replace("base_url: null", f"base_url: {server.url}"))
        env = project_env(config, root, ANTHROPIC_API_KEY=KEY)
        (tmp_path / "go").touch()
        proc = start([PYTHON, "-c", ROUND, str(tmp_path / "go")], env, tmp_path / "round.log")
        wait_for(lambda: server.requests, 60, "the round to call the provider")
        kill_group(proc)
        assert not ProposalStore(root).list("c1") and not CampaignFiles(root, "c1").rounds()
        assert not CampaignFiles(root, "c1").pending()

        project = load_config(config)
        started = time.monotonic()
        report = run_round(project.campaign, campaign_space(project), root, env={"ANTHROPIC_API_KEY": KEY}, wait_s=5)
        assert time.monotonic() - started < 5, "the killed round's lock went with its process"
    assert (report.round, report.proposed) == (0, 4)
    assert len(assert_consistent(root)) == 1


def test_round_that_dies_mid_publish_is_finished_by_the_next(tmp_path):
    config = campaign_project(tmp_path, agents={"random": 1})
    root = tmp_path / "home"
    env = project_env(config, root)
    (tmp_path / "go").touch()
    died = subprocess.run(
        [PYTHON, "-c", DIE_MID_PUBLISH, str(tmp_path / "go")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert died.returncode == 9, died.stderr[-2000:]
    files = CampaignFiles(root, "c1")
    assert len(ProposalStore(root).list("c1")) == 2 and not files.rounds() and len(files.pending()) == 1
    project = load_config(config)
    status = campaign_status(project.campaign, root)
    assert status.proposed == 2 and status.rounds == 0, "what is published counts against the budget at once"

    warnings = []
    report = run_round(project.campaign, campaign_space(project), root, env={}, log=warnings.append)
    assert any("round 0 (random) was interrupted after it was committed; its 4 proposal(s)" in w for w in warnings)
    assert (report.round, report.proposed) == (1, 4), "the next round runs after finishing round 0"
    records = assert_consistent(root)
    assert [len(r["keys"]) for r in records] == [4, 4]
