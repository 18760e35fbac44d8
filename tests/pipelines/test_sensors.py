"""The `agent_sensor` against a real instance: in-flight limit, rounds, budget stop, breaker, restart idempotence."""

from __future__ import annotations

import json
import uuid

import dagster as dg
import pytest

from archsearch.campaign.proposals import ProposalStore
from archsearch.campaign.rounds import run_round
from archsearch.campaign.space import campaign_space
from archsearch.config import load_config
from archsearch.config.campaign import CampaignConfig
from archsearch.results import ExperimentResult, ResultsStore, SplitMetrics
from assets.experiments import EXPERIMENTS, experiments
from assets.proposals import proposals
from assets.tags import RANGE_END_TAG as RANGE_END
from assets.tags import RANGE_START_TAG as RANGE_START
from pipelines.jobs import experiments_job, proposals_job
from pipelines.sensors import build_agent_sensor
from tests.projects import default_features, resources, write_project

features, features_complete = default_features()
agent_sensor = build_agent_sensor(running=False)


class Campaign:
    """A project, its data root, a real instance, and helpers to act like the daemon and the runs."""

    def __init__(self, tmp_path, instance, **campaign):
        self.config_path = write_project(tmp_path, **campaign)
        self.root = tmp_path / "home"
        self.instance = instance
        self.res = resources(tmp_path, self.config_path)
        self.defs = dg.Definitions(
            assets=[features, proposals, experiments],
            jobs=[experiments_job, proposals_job],
            sensors=[agent_sensor],
            resources=self.res,
        )
        self.project = load_config(self.config_path)
        self.cfg: CampaignConfig = self.project.campaign

    def round(self) -> list[str]:
        """What a proposals run does: one round, then its partitions."""
        keys = list(run_round(self.cfg, campaign_space(self.project), self.root, env={}).keys)
        self.instance.add_dynamic_partitions(EXPERIMENTS.name, keys)
        return keys

    def tick(self, cursor: str | None) -> dg.SensorResult:
        ctx = dg.build_sensor_context(instance=self.instance, cursor=cursor, definitions=self.defs, resources=self.res)
        return agent_sensor(ctx)

    def start(self, result: dg.SensorResult, status=dg.DagsterRunStatus.STARTED) -> None:
        """Create the requested runs the way the daemon would, in ``status``."""
        for rr in result.run_requests:
            tags = dict(rr.tags)
            if rr.partition_key:
                tags["dagster/partition"] = rr.partition_key
            self.instance.add_run(
                dg.DagsterRun(job_name=rr.job_name, run_id=str(uuid.uuid4()), status=status, tags=tags)
            )

    def finish_all(self, status: str = "ok") -> None:
        """Every in-flight run succeeds and every launched key gets a result."""
        for run in self.instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
            self.instance.handle_run_event(run.run_id, _success_event(run))
        for p in ProposalStore(self.root).list(self.cfg.name):
            if ResultsStore(self.root).get(p.campaign, p.config_id, p.seed) is None and launched(self.instance, p.key):
                ResultsStore(self.root).write(make_result(p, status))


def _success_event(run):
    from dagster._core.events import DagsterEvent, DagsterEventType

    return DagsterEvent(DagsterEventType.RUN_SUCCESS.value, job_name=run.job_name, message="done")


def launched(instance, key: str) -> bool:
    for run in instance.get_runs(filters=dg.RunsFilter(job_name="experiments_job")):
        if run.tags.get("dagster/partition") == key:
            return True
        if RANGE_START in run.tags:
            order = instance.get_dynamic_partitions(EXPERIMENTS.name)
            if order.index(run.tags[RANGE_START]) <= order.index(key) <= order.index(run.tags[RANGE_END]):
                return True
    return False


def make_result(p, status: str, error: str = "CUDAOutOfMemory") -> ExperimentResult:
    if status == "ok":
        m = SplitMetrics(0.5, 0.5, 0.5, 0.5)
        return ExperimentResult(p.config_id, p.config, p.agent, p.round, p.campaign, p.seed, status="ok", val=m, test=m)
    return ExperimentResult(
        p.config_id,
        p.config,
        p.agent,
        p.round,
        p.campaign,
        p.seed,
        status="failed",
        error_type=error,
        error_message="out of memory",
    )


@pytest.fixture
def instance():
    """A real instance with in-memory storages (instance_for_test's sqlite setup costs ~1.5 s a test)."""
    return dg.DagsterInstance.ephemeral()


def exp_requests(result) -> list[dg.RunRequest]:
    return [r for r in result.run_requests if r.job_name == "experiments_job"]


def round_requests(result) -> list[dg.RunRequest]:
    return [r for r in result.run_requests if r.job_name == "proposals_job"]


def test_first_tick_requests_a_round_and_never_the_same_round_twice(tmp_path, instance):
    c = Campaign(tmp_path, instance)
    first = c.tick(None)
    (rr,) = first.run_requests
    assert rr.job_name == "proposals_job" and rr.run_key == "c1:round:0" and rr.tags["archsearch/round"] == "0"
    again = c.tick(first.cursor)  # the round's run has not written its record yet (or failed)
    assert not again.run_requests and "round 0 was requested" in again.skip_reason.skip_message
    c.start(first)  # now it is in flight
    assert "round 0 in flight" in c.tick(None).skip_reason.skip_message, "a fresh cursor sees the run"


def test_in_flight_limit_order_and_restart_idempotence(tmp_path, instance):
    c = Campaign(tmp_path, instance)
    keys = c.round()  # 4 proposals
    t1 = c.tick(None)
    assert [r.partition_key for r in exp_requests(t1)] == keys[:2], "max_in_flight 2, in proposal order"
    assert [r.run_key for r in exp_requests(t1)] == [f"c1:exp:{k}..{k}" for k in keys[:2]]
    assert all(r.tags["archsearch/campaign"] == "c1" for r in t1.run_requests)
    assert not round_requests(t1), "2 still wait: min_queued 2 is met"
    assert json.loads(t1.cursor)["launched"] == 2
    c.start(t1)

    t2 = c.tick(t1.cursor)
    assert not t2.run_requests and "2 of 2 experiment run(s) in flight" in t2.skip_reason.skip_message
    assert not c.tick(None).run_requests, "restart without the cursor: in-flight runs still count"

    c.finish_all()
    t3 = c.tick(None)  # a restarted daemon: the launched set comes from the runs, not the cursor
    assert [r.partition_key for r in exp_requests(t3)] == keys[2:]
    assert [r.run_key for r in round_requests(t3)] == ["c1:round:1"], "nothing waits any more: next round"
    assert json.loads(t3.cursor) == {"campaign": "c1", "launched": 4, "round_requested": 1}
    c.start(t3)
    c.finish_all()
    t4 = c.tick(t3.cursor)
    assert not exp_requests(t4), "every config launched exactly once"
    runs = instance.get_runs(filters=dg.RunsFilter(job_name="experiments_job"))
    launched_keys = [r.tags["dagster/partition"] for r in runs]
    assert sorted(launched_keys) == sorted(keys)


def test_batches_are_contiguous_partition_ranges(tmp_path, instance):
    c = Campaign(tmp_path, instance, run_batch_size=3, max_in_flight=1)
    keys = c.round()
    (rr,) = exp_requests(c.tick(None))
    assert rr.partition_key is None and (rr.tags[RANGE_START], rr.tags[RANGE_END]) == (keys[0], keys[2])
    assert rr.run_key == f"c1:exp:{keys[0]}..{keys[2]}"
    c.start(dg.SensorResult(run_requests=[rr]))
    assert not exp_requests(c.tick(None)), "a lost cursor: the range run covers all three keys"

    # Partitions out of proposal order (another campaign's key in between): launched one at a time.
    c2 = Campaign(tmp_path / "b", instance, name="c2", run_batch_size=3, max_in_flight=1)
    store = ProposalStore(c2.root)
    more = list(run_round(c2.cfg, campaign_space(c2.project), c2.root, env={}).keys)
    instance.add_dynamic_partitions(EXPERIMENTS.name, [more[0], "zz:other", *more[1:]])
    (single,) = exp_requests(c2.tick(None))
    assert single.partition_key == more[0] and RANGE_START not in single.tags
    assert len(store.list("c2")) == 4


def test_daemon_path_resolves_requests_and_adds_missing_partitions(tmp_path):
    """evaluate_tick (what the daemon calls) validates partition keys: missing ones are added in the same result."""
    with dg.instance_for_test() as instance:  # needs an instance ref, which an ephemeral instance lacks
        c = Campaign(tmp_path, instance, run_batch_size=2)
        keys = list(run_round(c.cfg, campaign_space(c.project), c.root, env={}).keys)  # died before adding them
        ctx = dg.build_sensor_context(
            instance=instance, definitions=c.defs, resources=c.res, instance_ref=instance.get_ref()
        )
        data = c.defs.resolve_sensor_def("agent_sensor").evaluate_tick(ctx)
        assert [r.partition_key for r in data.run_requests] == keys[:2], "unknown positions: one key per run"
        (req,) = data.dynamic_partitions_requests
        assert list(req.partition_keys) == keys

        instance.add_dynamic_partitions(EXPERIMENTS.name, keys)
        fresh = Campaign(tmp_path / "b", instance, name="c3", run_batch_size=2)
        more = fresh.round()
        ctx = dg.build_sensor_context(
            instance=instance, definitions=fresh.defs, resources=fresh.res, instance_ref=instance.get_ref()
        )
        data = fresh.defs.resolve_sensor_def("agent_sensor").evaluate_tick(ctx)
        ranges = [
            (r.tags[RANGE_START], r.tags[RANGE_END]) for r in data.run_requests if r.job_name == "experiments_job"
        ]
        assert ranges == [(more[0], more[1]), (more[2], more[3])]


def test_budget_stop(tmp_path, instance):
    c = Campaign(tmp_path, instance, max_experiments=4, max_in_flight=4)
    c.round()
    t1 = c.tick(None)
    assert len(exp_requests(t1)) == 4 and not round_requests(t1), "budget spent: no new round"
    c.start(t1)
    c.finish_all()
    t2 = c.tick(t1.cursor)
    assert not t2.run_requests
    assert t2.skip_reason.skip_message == "campaign c1 stopped: max_experiments reached (4 of 4 proposed)"


def test_cost_stop(tmp_path, instance):
    from archsearch.agents.log import AgentCall, AgentLog

    c = Campaign(tmp_path, instance, max_cost_usd=0.5)
    AgentLog(c.root).write(
        AgentCall(
            campaign="c1",
            round=0,
            agent="claude",
            model="m",
            kind="propose",
            started_at="2026-01-01T00:00:00+00:00",
            cost_usd=0.75,
        )
    )
    t = c.tick(None)
    assert not t.run_requests and "max_cost_usd reached" in t.skip_reason.skip_message


def test_circuit_breaker_pauses_launching_and_proposing(tmp_path, instance):
    c = Campaign(
        tmp_path,
        instance,
        max_experiments=30,
        round_size=12,
        max_in_flight=12,
        breaker={"window": 10, "max_failure_rate": 0.5, "min_results": 10},
    )
    c.round()
    t1 = c.tick(None)
    c.start(t1)
    for i, p in enumerate(ProposalStore(c.root).list("c1")[:10]):  # 6 of 10 fail, 4 of them out of memory
        ResultsStore(c.root).write(
            make_result(p, "failed" if i < 6 else "ok", "CUDAOutOfMemory" if i < 4 else "ValueError")
        )
    for run in instance.get_runs():
        instance.handle_run_event(run.run_id, _success_event(run))
    c.round()  # more proposals waiting
    t2 = c.tick(t1.cursor)
    assert not t2.run_requests
    assert t2.skip_reason.skip_message.startswith(
        "campaign c1 paused: circuit breaker: 6 of the last 10 experiments failed (60% > 50%)"
    )
    assert "most common error: CUDAOutOfMemory x4" in t2.skip_reason.skip_message

    from archsearch.campaign.status import reset_breaker

    reset_breaker(c.cfg, c.root)
    assert exp_requests(c.tick(t2.cursor)), "after a reset it launches again"


def test_default_status_follows_the_switch(monkeypatch):
    from pipelines.definitions import build_definitions

    monkeypatch.setenv("ARCHSEARCH_AGENT_SENSOR", "on")
    sensor = build_definitions().resolve_sensor_def("agent_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING and sensor.minimum_interval_seconds == 15
    monkeypatch.delenv("ARCHSEARCH_AGENT_SENSOR")
    assert build_definitions().resolve_sensor_def("agent_sensor").default_status == dg.DefaultSensorStatus.STOPPED
    monkeypatch.setenv("ARCHSEARCH_AGENT_SENSOR", "onn")
    with pytest.raises(ValueError, match="ARCHSEARCH_AGENT_SENSOR='onn'"):
        build_definitions()
