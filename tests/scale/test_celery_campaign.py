"""Scale-out on real engines: a campaign through 2 Celery workers on Redis, a Dagster instance on Postgres.

Shows (issue #8): the same configs and seed give the same val mAP through Celery as in-process, and a
worker killed with SIGKILL mid-experiment loses nothing and duplicates nothing (its task is
redelivered to the surviving worker). Slow (~2-3 min): run with `make test-scale` / `pytest -m scale`.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from tests.scale import harness, scale_campaign

pytestmark = [pytest.mark.scale, pytest.mark.timeout(420)]

# Short enough that the fault test's redelivery comes quickly, longer than any step here (~5-15 s).
VISIBILITY_S = 40


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    missing = harness.missing_prerequisites()
    if missing:
        pytest.fail("scale tests need: " + "; ".join(missing))
    import dagster as dg

    base = tmp_path_factory.mktemp("scale")
    with harness.postgres() as pg, harness.redis_server() as broker, pytest.MonkeyPatch.context() as mp:
        env = {
            **pg.env(),
            **scale_campaign.make_project(base, videos=12, epochs=3),
            "DAGSTER_HOME": str(base / "dh"),
            "ARCHSEARCH_EXECUTOR": "celery",
            "ARCHSEARCH_CELERY_BROKER": broker,
            "ARCHSEARCH_CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_S),
        }
        for k, v in env.items():
            mp.setenv(k, v)
        harness.write_instance(base / "dh")
        with dg.DagsterInstance.get() as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            scale_campaign.materialize_inputs(instance)
        with harness.celery_cluster(dict(os.environ), base / "workers") as workers:
            yield workers


def _results(campaign: str) -> dict[str, tuple[float, float]]:
    from archsearch.results import ResultsStore

    rows = ResultsStore(os.environ["ARCHSEARCH_HOME"]).read(campaign)
    assert (rows["status"] == "ok").all(), rows.select("config_id", "status", "error_message")
    return {r["config_id"]: (r["val_map"], r["test_map"]) for r in rows.iter_rows(named=True)}


def _result_files(campaign: str) -> list[str]:
    from pathlib import Path

    folder = Path(os.environ["ARCHSEARCH_HOME"]) / "results" / campaign
    return sorted(p.name for p in folder.glob("*.json")) if folder.is_dir() else []


def _in_process(keys: list[str]) -> None:
    """The same partitions in this process, one run, in-process executor (the reference)."""
    import dagster as dg

    from assets.experiments import experiments
    from tests.projects import default_features

    features, _features_complete = default_features()
    from assets.resources import ArchsearchResource

    job = dg.define_asset_job(
        "ref", selection=dg.AssetSelection.assets("experiments"), executor_def=dg.in_process_executor
    )
    defs = dg.Definitions(
        assets=[features, experiments], jobs=[job], resources={"archsearch": ArchsearchResource(experiment_workers=2)}
    )
    with dg.DagsterInstance.get() as instance:
        for key in keys:
            assert defs.resolve_job_def("ref").execute_in_process(instance=instance, partition_key=key).success


def _celery_steps(instance, keys: set[str]) -> list[tuple[str, str]]:
    """(partition, worker name) for every step a Celery worker started, from the Postgres event log."""
    import dagster as dg

    out = []
    for run in instance.get_runs(dg.RunsFilter(tags={"dagster/partition": list(keys)})):
        for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
            meta = entry.dagster_event.engine_event_data.metadata if entry.dagster_event else {}
            if "Celery worker" in meta:
                out.append((run.tags["dagster/partition"], str(meta["Celery worker"].value).split("@")[0]))
    return out


def test_ten_experiments_on_two_workers_equal_the_in_process_run(cluster):
    import dagster as dg

    cluster.start_worker("w1")
    cluster.start_worker("w2")
    cluster.wait_ready(["w1", "w2"])
    with dg.DagsterInstance.get() as instance:
        keys = scale_campaign.propose(instance, "celery", 10)

    t0 = time.monotonic()
    outcome = scale_campaign.run_partitions(keys, parallel=2)
    seconds = time.monotonic() - t0
    assert all(outcome.values()), outcome
    celery = _results("celery")
    assert sorted(celery) == sorted(k.split(":")[1] for k in keys)
    with dg.DagsterInstance.get() as instance:
        steps = _celery_steps(instance, set(keys))
        assert instance.get_materialized_partitions(dg.AssetKey("experiments")) >= set(keys)
    assert sorted(k for k, _ in steps) == sorted(keys), "each experiment ran exactly once, on a worker"
    assert {w for _, w in steps} == {"w1", "w2"}, f"both workers took steps: {steps}"

    _in_process(keys)
    reference = _results("celery")
    assert reference == celery, "same configs + seed: Celery workers and the in-process run agree"
    assert len(_result_files("celery")) == 10
    print(f"10 experiments on 2 Celery workers in {seconds:.1f} s")
    for name in ("w1", "w2"):
        cluster.workers.pop(name).stop()


def test_a_worker_killed_mid_experiment_loses_and_duplicates_nothing(cluster):
    """SIGKILL a whole worker (CLI, celery main and pool process, as when its machine dies) while it
    trains: acks_late leaves the task on Redis, the visibility timeout hands it to the other worker."""
    import dagster as dg

    # Fresh workers: their first step also imports torch, which widens the window to kill in.
    cluster.start_worker("w3")
    cluster.start_worker("w4")
    cluster.wait_ready(["w3", "w4"])
    with dg.DagsterInstance.get() as instance:
        keys = scale_campaign.propose(instance, "fault", 3)

    outcome: dict[str, bool] = {}
    runner = threading.Thread(
        target=lambda: outcome.update(scale_campaign.run_partitions(keys, parallel=2)), daemon=True
    )
    runner.start()

    killed = None
    deadline = time.monotonic() + 120
    with dg.DagsterInstance.get() as instance:
        while killed is None and time.monotonic() < deadline and runner.is_alive():
            started = _celery_steps(instance, set(keys))
            if started:
                key, worker = started[0]
                config_id = key.split(":")[1]
                assert not any(f.startswith(config_id) for f in _result_files("fault")), (
                    "the experiment finished before the kill; the kill must land mid-experiment"
                )
                cluster.workers[worker].kill_hard()
                killed = (key, worker)
            time.sleep(0.2)
    assert killed is not None, "no worker started a step within 120 s"

    runner.join(timeout=VISIBILITY_S + 150)
    assert not runner.is_alive(), "runs did not finish: the killed worker's task was not redelivered"
    assert outcome == dict.fromkeys(keys, True), outcome

    files = _result_files("fault")
    assert len(files) == len(keys) == len(set(files)), files
    results = _results("fault")
    assert sorted(results) == sorted(k.split(":")[1] for k in keys), "no result lost"
    with dg.DagsterInstance.get() as instance:
        steps = _celery_steps(instance, set(keys))
    key, worker = killed
    attempts = [w for k, w in steps if k == key]
    assert attempts[0] == worker and len(attempts) == 2 and attempts[1] != worker, (
        f"the killed step ran again on the surviving worker: {attempts}"
    )

    # The redelivered experiment gives what an undisturbed in-process run gives.
    _in_process([key])
    assert _results("fault") == results
