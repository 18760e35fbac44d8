"""Killed runs never block: a run whose process died is found by `doctor`, marked failed, its pool slot freed.

The slow test does it for real: a `dagster asset materialize` of a step in the `gpu` pool (limit 1
from the repository's pipelines/dagster.yaml) is killed with SIGKILL while it holds the slot; the
next materialization waits ("Step blocked by limit for pool gpu") until `python -m pipelines.cli
doctor --fix` frees it, then finishes. The fast tests pin how a run is judged dead (pid gone, pid
reused by a younger process, never started) and that a live run is never touched.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent
from dagster._core.events.log import EventLogEntry

from archsearch.common import process_start_time
from pipelines.doctor import START_TIMEOUT_S, diagnose, fix
from tests.faults.campaign_faults import REPO, cli, dagster_home, kill_group, start, wait_for

DAGSTER = str(Path(sys.executable).with_name("dagster"))

POOL_DEFS = '''
import os, pathlib, time
import dagster as dg

@dg.asset(pool="gpu")
def features():
    """Stands in for a feature extraction: holds the `gpu` slot until HOLD is unset."""
    pathlib.Path(os.environ["SLOT_MARKER"]).write_text(str(os.getpid()))
    while os.environ.get("HOLD") == "1":
        time.sleep(0.2)
    return 1

defs = dg.Definitions(assets=[features])
'''


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def started_run(instance, job: str = "features_job", pid: int | None = None, at: float | None = None) -> str:
    """A run in STARTED whose RUN_START event was logged by ``pid`` at ``at`` (a Unix time)."""
    run = instance.add_run(dg.DagsterRun(job_name=job, run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED))
    if pid is not None:
        event = DagsterEvent(dg.DagsterEventType.RUN_START.value, job_name=job, message="started", pid=pid)
        instance.store_event(
            EventLogEntry(
                error_info=None,
                level="DEBUG",
                user_message="",
                run_id=run.run_id,
                timestamp=time.time() if at is None else at,
                dagster_event=event,
            )
        )
    return run.run_id


@pytest.fixture
def instance():
    with dg.instance_for_test(overrides={"concurrency": {"pools": {"default_limit": 1}}}) as inst:
        yield inst


def test_doctor_judges_runs_by_their_processes_and_frees_their_slots(instance):
    storage = instance.event_log_storage
    storage.set_concurrency_slots("gpu", 2)
    gone = started_run(instance, pid=dead_pid())
    alive = started_run(instance, pid=dead_pid())
    instance.store_event(
        EventLogEntry(
            error_info=None,
            level="DEBUG",
            user_message="",
            run_id=alive,
            timestamp=time.time(),
            dagster_event=DagsterEvent(dg.DagsterEventType.STEP_START.value, job_name="features_job", pid=os.getpid()),
        )
    )  # a live step worker: alive
    reused = started_run(instance, pid=os.getpid(), at=process_start_time(os.getpid()) - 600)
    silent = started_run(instance)  # no process ever logged
    for run_id in (gone, alive):
        assert storage.claim_concurrency_slot("gpu", run_id, "features").is_claimed

    now = diagnose(instance)
    assert {s.run_id for s in now.stuck} == {gone, reused}, "pid gone, or pid now a younger process"
    assert [(h.pool, h.run_id) for h in now.held] == [("gpu", gone)]
    later = diagnose(instance, now=time.time() + START_TIMEOUT_S + 1)
    assert silent in {s.run_id for s in later.stuck} and alive not in {s.run_id for s in later.stuck}
    shared = diagnose(instance, assume_local=False)
    assert not shared.stuck and set(shared.not_judged) == {gone, alive, reused, silent}, "no pid guesses across hosts"

    repair = fix(instance, now)
    assert sorted(repair.failed) == sorted([gone, reused])
    assert instance.get_run_by_id(gone).status == dg.DagsterRunStatus.FAILURE
    assert instance.get_run_by_id(alive).status == dg.DagsterRunStatus.STARTED, "a live run is never touched"
    assert [s.run_id for s in storage.get_concurrency_info("gpu").claimed_slots] == [alive]
    assert "doctor --fix" in instance.all_logs(gone, of_type=dg.DagsterEventType.RUN_FAILURE)[-1].message


def test_slots_of_a_run_marked_failed_by_hand_are_freed(instance):
    """Marking a run failed (the UI's "mark failed") does not free its slot; the doctor's diagnosis does."""
    instance.event_log_storage.set_concurrency_slots("gpu", 1)
    run_id = started_run(instance, pid=dead_pid())
    assert instance.event_log_storage.claim_concurrency_slot("gpu", run_id, "features").is_claimed
    instance.report_run_failed(instance.get_run_by_id(run_id), "by hand")
    assert instance.event_log_storage.get_concurrency_info("gpu").claimed_slots, "Dagster keeps the slot"
    found = diagnose(instance)
    assert not found.stuck and [h.reason for h in found.held] == ["holds a slot, but its run ended (FAILURE)"]
    fix(instance, found)
    assert not instance.event_log_storage.get_concurrency_info("gpu").claimed_slots


def test_repository_instance_settings_enable_run_monitoring(tmp_path):
    """pipelines/dagster.yaml: the `gpu` pool limit 1, and run monitoring that frees the slots of ended runs."""
    from dagster._daemon.monitoring.concurrency import execute_concurrency_slots_iteration

    home = dagster_home(tmp_path)
    instance = dg.DagsterInstance.from_config(str(home))
    assert instance.run_monitoring_enabled and "MONITORING" in instance.get_required_daemon_types()
    assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 60
    assert instance.global_op_concurrency_default_limit == 1

    # The daemon's own slot sweep, with the wait shortened from 60 s to 1 s: an ended run's slot is freed.
    text = (
        (home / "dagster.yaml")
        .read_text()
        .replace("free_slots_after_run_end_seconds: 60", "free_slots_after_run_end_seconds: 1")
    )
    (home / "dagster.yaml").write_text(text)
    instance = dg.DagsterInstance.from_config(str(home))
    run_id = started_run(instance, pid=dead_pid())
    instance.event_log_storage.initialize_concurrency_limit_to_default("gpu")  # as a step's first claim does
    assert instance.event_log_storage.claim_concurrency_slot("gpu", run_id, "features").is_claimed
    instance.report_run_failed(instance.get_run_by_id(run_id), "killed")
    assert instance.event_log_storage.get_concurrency_info("gpu").claimed_slots
    time.sleep(2.1)
    context = type("Context", (), {"instance": instance})()
    list(execute_concurrency_slots_iteration(context, logging.getLogger("test")))
    assert not instance.event_log_storage.get_concurrency_info("gpu").claimed_slots


@pytest.mark.slow
def test_killed_features_run_blocks_the_next_until_doctor_fixes_it(tmp_path):
    home = dagster_home(tmp_path)
    defs = tmp_path / "pool_defs.py"
    defs.write_text(POOL_DEFS)
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(REPO)}
    materialize = [DAGSTER, "asset", "materialize", "-f", str(defs), "--select", "features"]

    first = start(materialize, {**env, "HOLD": "1", "SLOT_MARKER": str(tmp_path / "m1")}, tmp_path / "first.log")
    wait_for(lambda: (tmp_path / "m1").exists(), 120, "the first run to hold the gpu slot")
    kill_group(first)  # kill -9: the run worker and its step process
    instance = dg.DagsterInstance.from_config(str(home))
    (killed,) = instance.get_runs()
    assert killed.status == dg.DagsterRunStatus.STARTED, "Dagster still shows the killed run as running"
    assert [s.run_id for s in instance.event_log_storage.get_concurrency_info("gpu").claimed_slots] == [killed.run_id]

    second = start(materialize, {**env, "HOLD": "0", "SLOT_MARKER": str(tmp_path / "m2")}, tmp_path / "second.log")
    try:

        def blocked():
            runs = [r for r in instance.get_runs() if r.run_id != killed.run_id]
            return runs and any(
                "blocked by limit for pool gpu" in (e.message or "") for e in instance.all_logs(runs[0].run_id)
            )

        wait_for(blocked, 120, "the second run to report that the gpu pool blocks it")
        time.sleep(3)
        assert second.poll() is None and not (tmp_path / "m2").exists(), "still waiting for the dead run's slot"

        listed = cli(["doctor"], env)
        assert listed.returncode == 1, listed.stdout + listed.stderr
        assert f"stuck run {killed.run_id} (__ASSET_JOB, STARTED): its process(es)" in listed.stdout
        assert f"held slot in pool gpu: run {killed.run_id}" in listed.stdout

        fixed = cli(["doctor", "--fix"], env)
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        assert f"marked run {killed.run_id} failed" in fixed.stdout and "freed pool gpu" in fixed.stdout
        assert second.wait(timeout=180) == 0, (tmp_path / "second.log").read_text()[-3000:]
    finally:
        if second.poll() is None:
            kill_group(second)
    assert (tmp_path / "m2").exists()
    statuses = {r.run_id: r.status for r in instance.get_runs()}
    assert statuses.pop(killed.run_id) == dg.DagsterRunStatus.FAILURE
    assert list(statuses.values()) == [dg.DagsterRunStatus.SUCCESS]
    assert cli(["doctor"], env).stdout.strip() == "no stuck runs and no held pool slots"


def test_the_demo_repairs_what_a_killed_demo_left(instance):
    """`make demo` after a `kill -9` during features: the dead run is failed and the gpu slot freed first."""
    from pipelines.demo import repair_crashed_runs

    instance.event_log_storage.set_concurrency_slots("gpu", 1)
    run_id = started_run(instance, pid=dead_pid())
    assert instance.event_log_storage.claim_concurrency_slot("gpu", run_id, "features").is_claimed
    lines = repair_crashed_runs(instance)
    assert any(f"marked run {run_id} failed" in line for line in lines)
    assert not instance.event_log_storage.get_concurrency_info("gpu").claimed_slots
    assert repair_crashed_runs(instance) == [], "nothing left to repair"


def test_the_postgres_instance_monitors_runs_like_the_local_one():
    """deploy/dagster.postgres.yaml (the scale-out instance) carries the local instance's run monitoring."""
    import yaml

    root = Path(__file__).resolve().parents[2]
    local = yaml.safe_load((root / "pipelines" / "dagster.yaml").read_text())
    scale = yaml.safe_load((root / "deploy" / "dagster.postgres.yaml").read_text())
    assert scale["run_monitoring"] == local["run_monitoring"] and scale["run_monitoring"]["enabled"] is True


def test_on_a_shared_instance_the_cli_judges_runs_only_with_assume_local(monkeypatch, tmp_path, capsys):
    """`doctor` on a PostgreSQL-like instance lists runs as not judged; `--assume-local --fix` repairs them."""
    from pipelines import cli as pipelines_cli
    from pipelines import doctor

    home = dagster_home(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setattr(doctor, "is_local_instance", lambda instance: False)  # storage shared across machines
    with dg.DagsterInstance.from_config(str(home)) as inst:
        gone = started_run(inst, pid=dead_pid())
    assert pipelines_cli.main(["doctor", "--fix"]) == 0, "nothing stuck that it may judge"
    out = capsys.readouterr().out
    assert "1 run(s) in progress not judged" in out and gone in out and "--assume-local" in out
    with dg.DagsterInstance.from_config(str(home)) as inst:
        assert inst.get_run_by_id(gone).status == dg.DagsterRunStatus.STARTED, "not touched"
    assert pipelines_cli.main(["doctor", "--assume-local", "--fix"]) == 0
    assert f"marked run {gone} failed" in capsys.readouterr().out
    with dg.DagsterInstance.from_config(str(home)) as inst:
        assert inst.get_run_by_id(gone).status == dg.DagsterRunStatus.FAILURE
