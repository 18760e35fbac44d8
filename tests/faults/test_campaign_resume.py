"""The demo, the CLI and the agent sensor resume over what a crashed round leaves behind.

Leftovers: a round or experiment run that shows STARTED although its process was killed (the sensor
fails it and asks for the round, or the experiments still without a result, again, a bounded number of
times), proposals whose partitions were never added
(the old code's orphans, or a process killed between the round and `add_dynamic_partitions`), and
-- the slow test, for real -- a `python -m pipelines.cli campaign round` killed with SIGKILL while
the provider hangs: `doctor --fix` fails its run, and the next `campaign round` simply works.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent
from dagster._core.events.log import EventLogEntry

from archsearch.campaign import CampaignFiles, Proposal, ProposalStore
from archsearch.results import ResultsStore
from assets.experiments import EXPERIMENTS
from pipelines.sensors import MAX_EXPERIMENT_ATTEMPTS, MAX_ROUND_ATTEMPTS, add_missing_partitions
from tests.archsearch.agents.llm.fake_llm_server import FakeLLMServer, Scripted
from tests.faults.campaign_faults import campaign_project, cli, dagster_home, kill_group, project_env, start, wait_for
from tests.faults.test_campaign_rounds import KEY, assert_consistent, slow_refusal
from tests.pipelines.test_sensors import Campaign, exp_requests, make_result, round_requests


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def add_round_run(instance, index: int, status: dg.DagsterRunStatus, pid: int | None = None) -> str:
    return add_run(instance, "proposals_job", {"archsearch/round": str(index)}, status, pid)


def add_experiment_run(instance, tags: dict[str, str], status: dg.DagsterRunStatus, pid: int | None = None) -> str:
    return add_run(instance, "experiments_job", tags, status, pid)


def add_run(instance, job_name: str, tags: dict, status: dg.DagsterRunStatus, pid: int | None) -> str:
    """A run of campaign c1 in ``status``; with ``pid``, the RUN_START event its run worker would have logged."""
    run = instance.add_run(
        dg.DagsterRun(
            job_name=job_name, run_id=str(uuid.uuid4()), status=status, tags={"archsearch/campaign": "c1", **tags}
        )
    )
    if pid is not None:
        event = DagsterEvent(dg.DagsterEventType.RUN_START.value, job_name=job_name, pid=pid)
        instance.store_event(
            EventLogEntry(
                error_info=None,
                level="DEBUG",
                user_message="",
                run_id=run.run_id,
                timestamp=time.time(),
                dagster_event=event,
            )
        )
    return run.run_id


def test_sensor_fails_a_dead_round_run_and_asks_again_a_bounded_number_of_times(tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    c = Campaign(tmp_path, instance)
    (first,) = round_requests(c.tick(None))
    assert first.run_key == "c1:round:0"
    killed = add_round_run(instance, 0, dg.DagsterRunStatus.STARTED, pid=dead_pid())  # its process was SIGKILLed
    (again,) = round_requests(c.tick(None))
    assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.FAILURE, "no longer counts as in flight"
    assert again.run_key == "c1:round:0:retry1"
    for attempt in range(2, MAX_ROUND_ATTEMPTS + 1):
        add_round_run(instance, 0, dg.DagsterRunStatus.FAILURE)
        result = c.tick(None)
        if attempt < MAX_ROUND_ATTEMPTS:
            assert [r.run_key for r in round_requests(result)] == [f"c1:round:0:retry{attempt}"]
    assert not result.run_requests
    assert "round 0 failed 3 times without writing a record" in result.skip_reason.skip_message

    alive = add_round_run(instance, 1, dg.DagsterRunStatus.STARTED, pid=os.getpid())
    c.tick(None)
    assert instance.get_run_by_id(alive).status == dg.DagsterRunStatus.STARTED, "a live round is left alone"


def test_sensor_relaunches_experiments_whose_runs_died_without_a_result_a_bounded_number_of_times(tmp_path):
    """A batched run killed half way: the keys it finished keep their results, the others run again one by one
    (new run keys, within max_in_flight, the cursor kept) until MAX_EXPERIMENT_ATTEMPTS runs died; then the
    sensor says so. A config that fails records a failed result and is done; a run a person canceled and a run
    that failed in its code (refused features) are not relaunched: the stop message counts each kind."""
    instance = dg.DagsterInstance.ephemeral()
    c = Campaign(tmp_path, instance, run_batch_size=4, max_in_flight=2, round_size=6, max_experiments=6)
    keys = c.round()  # 6 proposals = the budget: no further rounds
    proposals = {p.key: p for p in ProposalStore(c.root).list("c1")}
    batch = {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[3]}
    launch = c.tick(None)
    assert [r.tags.get("dagster/asset_partition_range_end") for r in exp_requests(launch)] == [keys[3], keys[5]]
    killed = add_experiment_run(instance, batch, dg.DagsterRunStatus.STARTED, pid=dead_pid())
    add_experiment_run(instance, {"dagster/partition": keys[4]}, dg.DagsterRunStatus.CANCELED)
    refused = {"dagster/partition": keys[5], "dagster/failure_reason": "STEP_FAILURE"}
    add_experiment_run(instance, refused, dg.DagsterRunStatus.FAILURE)  # its code failed: it would again
    ResultsStore(c.root).write(make_result(proposals[keys[0]], "ok"))  # finished before the kill
    ResultsStore(c.root).write(make_result(proposals[keys[1]], "failed"))  # the config failed: done

    first = c.tick(launch.cursor)
    assert instance.get_run_by_id(killed).status == dg.DagsterRunStatus.FAILURE, "the dead run no longer counts"
    assert instance.get_run_by_id(killed).tags["archsearch/died"], "the doctor says why"
    retry1 = [(keys[k], f"c1:exp:{keys[k]}..{keys[k]}:retry1") for k in (2, 3)]
    assert [(r.partition_key, r.run_key) for r in exp_requests(first)] == retry1, "two slots, two lost keys"
    assert json.loads(first.cursor) == json.loads(launch.cursor), "relaunches do not move the cursor"
    assert [r.run_key for r in exp_requests(c.tick(first.cursor))] == [k for _, k in retry1], "same run keys"

    # Dagster's run monitoring fails a run whose worker died with a reason; the doctor tags what it fails.
    deaths = [{"dagster/failure_reason": "RUN_WORKER_RESTART"}, {"archsearch/died": "its processes are gone"}]
    for attempt, died in zip(range(2, MAX_EXPERIMENT_ATTEMPTS + 1), deaths):
        add_experiment_run(instance, {"dagster/partition": keys[2], **died}, dg.DagsterRunStatus.FAILURE)
        add_experiment_run(instance, {"dagster/partition": keys[3], **died}, dg.DagsterRunStatus.FAILURE)
        result = c.tick(first.cursor)
        if attempt < MAX_EXPERIMENT_ATTEMPTS:
            assert [r.run_key for r in exp_requests(result)] == [
                f"c1:exp:{keys[k]}..{keys[k]}:retry{attempt}" for k in (2, 3)
            ]
    assert not result.run_requests
    message = result.skip_reason.skip_message
    assert f"2 died in {MAX_EXPERIMENT_ATTEMPTS} or more runs" in message
    assert "1 failed in their code" in message and "1 canceled" in message

    add_experiment_run(instance, {"dagster/partition": keys[2]}, dg.DagsterRunStatus.STARTED, pid=os.getpid())
    assert not c.tick(None).run_requests, "re-run by hand: in flight, nothing to do"


def test_proposals_without_partitions_get_them(tmp_path):
    """The old code's orphan (or a round killed before adding partitions): the demo and CLI add them."""
    instance = dg.DagsterInstance.ephemeral()
    store = ProposalStore(tmp_path)
    orphan = Proposal(campaign="c1", config_id="0123456789ab", config={"backbone": "pixels"}, dataset="d", seed=0)
    assert store.add(orphan) and not store.add(orphan)
    instance.add_dynamic_partitions(EXPERIMENTS.name, ["c1:other"])
    assert add_missing_partitions(instance, ["c1:other", orphan.key]) == [orphan.key]
    assert add_missing_partitions(instance, ["c1:other", orphan.key]) == []
    assert instance.get_dynamic_partitions(EXPERIMENTS.name) == ["c1:other", orphan.key]


@pytest.mark.slow
def test_cli_round_killed_mid_call_is_repaired_by_doctor_and_the_next_round_runs(tmp_path):
    config = campaign_project(tmp_path, agents={"claude": 1}, llm={"claude": {"base_url": None, "max_retries": 0}})
    root, home = tmp_path / "home", dagster_home(tmp_path)
    with FakeLLMServer() as server:
        server.push(slow_refusal(120), Scripted(400, {"type": "error", "error": {"type": "x", "message": "no"}}))
        config.write_text(config.read_text().replace("base_url: null", f"base_url: {server.url}"))
        env = project_env(config, root, home, ANTHROPIC_API_KEY=KEY)
        proc = start([sys.executable, "-m", "pipelines.cli", "campaign", "round"], env, tmp_path / "cli.log")
        wait_for(lambda: server.requests, 120, "the round to call the provider")
        kill_group(proc)  # kill -9 of the CLI: the run it executed in-process never reports its end

        instance = dg.DagsterInstance.from_config(str(home))
        (killed,) = instance.get_runs()
        assert killed.status == dg.DagsterRunStatus.STARTED
        assert not ProposalStore(root).list("c1") and not CampaignFiles(root, "c1").pending()
        listed = cli(["doctor"], env)
        assert listed.returncode == 1 and f"stuck run {killed.run_id} (proposals_job, STARTED)" in listed.stdout
        assert cli(["doctor", "--fix"], env).returncode == 0
        assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE

        again = cli(["campaign", "round"], env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("campaign c1 round 0 (claude): 4 proposed")
    assert len(assert_consistent(root)) == 1
    keys = [p.key for p in ProposalStore(root).list("c1")]
    assert set(keys) <= set(instance.get_dynamic_partitions(EXPERIMENTS.name))
