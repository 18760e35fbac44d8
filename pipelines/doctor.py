"""`doctor`: runs Dagster still shows as running although their process is gone, and the pool slots they hold.

A run killed with ``kill -9`` (or whose machine went down) never reports its end: it stays STARTED
forever, and a `features` step it ran keeps its `gpu` pool slot, so every later features run waits
("Step blocked by limit for pool gpu"). Run monitoring (``run_monitoring`` in pipelines/dagster.yaml)
frees the slots of runs that *ended*, but only under the daemon, and Dagster's default run launcher
cannot tell a dead run worker from a live one; runs started from the CLI (``dagster asset
materialize``, ``python -m pipelines.cli``, ``make demo``) have no monitor at all. So:

* a run is **stuck** when it is STARTING, STARTED or CANCELING and every process its events were
  logged from (run worker, step workers) is gone -- by pid, and by start time, so a reused pid is
  not mistaken for the run -- or, when no event names a process, it has not started for
  ``START_TIMEOUT_S``;
* a pool slot is **held** when the run that claimed it ended, no longer exists, or is stuck.

:func:`fix` marks stuck runs failed (CANCELING ones canceled) and frees the held slots. Pids are
only meaningful on the machine that ran the process: the judgement is made for a local instance
(sqlite or in-memory storage); on a shared one (PostgreSQL) runs are listed as not judged unless
the caller says every run of this instance runs here (``assume_local``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import dagster as dg

from archsearch.common import pid_alive, process_start_time
from assets.tags import DIED_TAG

START_TIMEOUT_S = 180.0  # as run monitoring's start_timeout_seconds: a run not started by then never will
CHECKED = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
ENDED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
PROCESS_EVENTS = {
    dg.DagsterEventType.RUN_START,
    dg.DagsterEventType.ENGINE_EVENT,
    dg.DagsterEventType.STEP_WORKER_STARTED,
    dg.DagsterEventType.STEP_START,
}
PID_CLOCK_SLACK_S = 2.0  # process start times from /proc are rounded to clock ticks


@dataclass(frozen=True)
class StuckRun:
    run_id: str
    job_name: str
    status: str
    reason: str


@dataclass(frozen=True)
class HeldSlot:
    """A pool slot (or a queued claim on one) that a dead or finished run keeps."""

    pool: str
    run_id: str
    step_key: str
    reason: str


@dataclass(frozen=True)
class Diagnosis:
    stuck: tuple[StuckRun, ...] = ()
    held: tuple[HeldSlot, ...] = ()
    not_judged: tuple[str, ...] = ()  # in-progress runs whose processes may live on other machines
    local: bool = True

    @property
    def healthy(self) -> bool:
        return not self.stuck and not self.held

    def lines(self) -> list[str]:
        out = [f"stuck run {s.run_id} ({s.job_name}, {s.status}): {s.reason}" for s in self.stuck]
        out += [f"held slot in pool {h.pool}: run {h.run_id}, step {h.step_key}: {h.reason}" for h in self.held]
        if self.not_judged:
            out.append(
                f"{len(self.not_judged)} run(s) in progress not judged: this instance's storage is shared, so "
                "their processes may run on other machines (run doctor there, or pass --assume-local if every "
                f"run of this instance runs here): {', '.join(self.not_judged)}"
            )
        return out or ["no stuck runs and no held pool slots"]


def is_local_instance(instance: dg.DagsterInstance) -> bool:
    """True for sqlite or in-memory storage: every run of the instance ran on this machine."""
    module = type(instance.run_storage).__module__
    return ".sqlite" in module or ".in_memory" in module


def run_pids(instance: dg.DagsterInstance, run_id: str) -> dict[int, float]:
    """Each process a run's events were logged from -> the time of its first such event."""
    out: dict[int, float] = {}
    for entry in instance.all_logs(run_id, of_type=PROCESS_EVENTS):
        pid = entry.dagster_event.pid if entry.dagster_event else None
        if pid is not None:
            out[pid] = min(out.get(pid, entry.timestamp), entry.timestamp)
    return out


def process_is_alive(pid: int, seen_at: float) -> bool:
    """Whether ``pid`` is still the process that logged an event at ``seen_at`` (not a reuse of its pid)."""
    if not pid_alive(pid):
        return False
    started = process_start_time(pid)
    return started is None or started <= seen_at + PID_CLOCK_SLACK_S


def why_stuck(instance: dg.DagsterInstance, record, now: float) -> str | None:
    """Why an in-progress run is dead, or None when it may be alive."""
    pids = run_pids(instance, record.dagster_run.run_id)
    if pids:
        if any(process_is_alive(pid, seen) for pid, seen in pids.items()):
            return None
        return f"its process(es) {sorted(pids)} are gone (killed, or the machine restarted)"
    age = now - record.create_timestamp.timestamp()
    if age > START_TIMEOUT_S:
        return f"no process ever logged for it in {age:.0f} s"
    return None


def held_slots(instance: dg.DagsterInstance, stuck_ids: set[str]) -> list[HeldSlot]:
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    out = []
    for pool in sorted(storage.get_concurrency_keys()):
        info = storage.get_concurrency_info(pool)
        claims = [(s.run_id, s.step_key, "holds a slot") for s in info.claimed_slots]
        claims += [(p.run_id, p.step_key, "waits in the queue") for p in info.pending_steps]
        seen = set()
        for run_id, step_key, what in claims:
            if (run_id, step_key) in seen:
                continue
            seen.add((run_id, step_key))
            run = instance.get_run_by_id(run_id)
            if run is None:
                reason = "its run no longer exists"
            elif run.status in ENDED:
                reason = f"its run ended ({run.status.value})"
            elif run_id in stuck_ids:
                reason = "its run is stuck"
            else:
                continue
            out.append(HeldSlot(pool, run_id, step_key, f"{what}, but {reason}"))
    return out


def diagnose(
    instance: dg.DagsterInstance,
    *,
    assume_local: bool | None = None,
    run_ids: set[str] | None = None,
    now: float | None = None,
) -> Diagnosis:
    """Stuck runs (of ``run_ids``, else all) and the pool slots held by runs that ended or are stuck."""
    local = is_local_instance(instance) if assume_local is None else assume_local
    now = time.time() if now is None else now
    stuck, not_judged = [], []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=CHECKED)):
        run = record.dagster_run
        if run_ids is not None and run.run_id not in run_ids:
            continue
        if not local:
            not_judged.append(run.run_id)
            continue
        reason = why_stuck(instance, record, now)
        if reason:
            stuck.append(StuckRun(run.run_id, run.job_name, run.status.value, reason))
    held = held_slots(instance, {s.run_id for s in stuck}) if run_ids is None else []
    return Diagnosis(tuple(stuck), tuple(held), tuple(not_judged), local)


@dataclass
class Repair:
    failed: list[str] = field(default_factory=list)
    canceled: list[str] = field(default_factory=list)
    freed: list[HeldSlot] = field(default_factory=list)  # slots and queued claims released

    def lines(self) -> list[str]:
        out = [f"marked run {r} failed" for r in self.failed] + [f"marked run {r} canceled" for r in self.canceled]
        return out + [f"freed pool {h.pool} of run {h.run_id} (step {h.step_key})" for h in self.freed]


def fix(instance: dg.DagsterInstance, diagnosis: Diagnosis) -> Repair:
    """Mark stuck runs failed (CANCELING ones canceled), then free every slot a run that ended holds.

    Slots are found again after the runs are marked, so a run that ended since the diagnosis (and
    only such runs: a live run keeps its slots) is released too.
    """
    repair = Repair()
    for s in diagnosis.stuck:
        run = instance.get_run_by_id(s.run_id)
        if run is None or run.status in ENDED:
            continue
        message = f"marked by `python -m pipelines.cli doctor --fix`: {s.reason}"
        if run.status == dg.DagsterRunStatus.CANCELING:
            instance.report_run_canceled(run, message)
            repair.canceled.append(s.run_id)
        else:
            instance.add_run_tags(s.run_id, {DIED_TAG: s.reason})  # the sensor relaunches what such runs left
            instance.report_run_failed(run, message)
            repair.failed.append(s.run_id)
    held = held_slots(instance, set())
    for run_id in dict.fromkeys(h.run_id for h in held):
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)
    repair.freed = held
    return repair
