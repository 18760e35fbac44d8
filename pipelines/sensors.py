"""The `agent_sensor`: keeps a campaign moving -- enqueue only, never an LLM call or training here.

Each tick (a sensor body must finish in 60 s) it reads the campaign status from the stores and the
runs from the instance, then:

1. pauses (skips, saying why) while the circuit breaker is tripped;
2. launches queued proposals, in proposal order, as `experiments_job` runs of at most
   ``run_batch_size`` partitions (a contiguous range of the dynamic partitions, single-run backfill
   style; otherwise one partition per run) while fewer than ``max_in_flight`` such runs are unfinished;
3. requests a `proposals_job` run (one round) when fewer than ``min_queued`` proposals wait to be
   launched, no round is in flight and the budget is not spent;
4. once the budget is spent and nothing is left to launch, skips with the stop reason.

It resumes over what a crash leaves: a proposal whose partition was never added gets it; a run of
the campaign whose process died while it shows STARTED (see :mod:`pipelines.doctor`) is marked
failed, so it no longer counts as in flight and frees its pool slots; a round whose run failed
without a record (an interrupted round leaves nothing half done, see :mod:`archsearch.campaign.commit`)
is requested again, at most ``MAX_ROUND_ATTEMPTS`` times in all, then it says so and waits for a person.
Likewise an experiment left without a result by runs that all *died* (killed, preempted, never started:
tagged by the doctor, or failed by Dagster's run monitoring for such a reason) is launched again on its
own, at most ``MAX_EXPERIMENT_ATTEMPTS`` runs in all. A run that failed in its code (refused features, a
crash) is not relaunched: it would fail the same way; a config that fails records a failed result and
is done; a run a person CANCELED is left alone. The sensor does this rather than Dagster's run retries
because it relaunches only the partitions still without a result (a batched run that died half way
finished the others) and counts them against ``max_in_flight``.

Idempotent twice over: the cursor (JSON) remembers how many proposals, in proposal order, have been
launched and the last round requested, and every request has a run key
(``<campaign>:exp:<first>..<last>``, ``<campaign>:round:<r>``) that the daemon never launches twice.
With a lost cursor the launched set is rebuilt from the campaign's runs (their partition tags), so a
restarted daemon still launches nothing twice.

Off by default (``default_status`` STOPPED): turn it on in the UI, or start the daemon with
``ARCHSEARCH_AGENT_SENSOR=on``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import dagster as dg

from assets.experiments import EXPERIMENTS
from assets.resources import ArchsearchResource
from assets.tags import (
    CAMPAIGN_TAG,
    PARTITION_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    ROUND_TAG,
    partition_range_tags,
    run_died,
)
from pipelines.jobs import experiments_job, proposals_job

MAX_ROUND_ATTEMPTS = 3
MAX_EXPERIMENT_ATTEMPTS = 3
EXPERIMENTS_PARTITIONS = EXPERIMENTS.name
NOT_FINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
AGENT_SENSOR_SWITCH = "ARCHSEARCH_AGENT_SENSOR"


@dataclass
class Cursor:
    """What the sensor has done for one campaign (a different campaign name starts a fresh cursor)."""

    campaign: str
    launched: int = 0  # proposals, in proposal order, launched (or finished without us)
    round_requested: int = -1  # the last round index requested

    @classmethod
    def load(cls, text: str | None, campaign: str) -> Cursor:
        raw = json.loads(text) if text else {}
        if raw.get("campaign") != campaign:
            return cls(campaign)
        return cls(campaign, int(raw.get("launched", 0)), int(raw.get("round_requested", -1)))

    def dump(self) -> str:
        return json.dumps(
            {"campaign": self.campaign, "launched": self.launched, "round_requested": self.round_requested}
        )


@dataclass
class CampaignRuns:
    """The campaign's runs as the sensor needs them."""

    experiments_in_flight: int = 0
    rounds_in_flight: int = 0
    launched_keys: set[str] = field(default_factory=set)  # partitions of any experiments run, any status
    settled_keys: set[str] = field(default_factory=set)  # ... of a run that did not die (in flight, ended)
    failed_keys: set[str] = field(default_factory=set)  # ... of a run that failed in its code
    canceled_keys: set[str] = field(default_factory=set)  # ... of a run a person canceled
    experiment_deaths: dict[str, int] = field(default_factory=dict)  # partition -> its runs that died
    rounds_requested: set[int] = field(default_factory=set)
    round_failures: dict[int, int] = field(default_factory=dict)  # round -> its runs that ended without success


def campaign_runs(instance: dg.DagsterInstance, campaign: str, order: list[str]) -> CampaignRuns:
    out = CampaignRuns()
    pos = {k: i for i, k in enumerate(order)}
    for run in instance.get_runs(filters=dg.RunsFilter(job_name=experiments_job.name, tags={CAMPAIGN_TAG: campaign})):
        out.experiments_in_flight += run.status in NOT_FINISHED
        tags = run.tags
        if PARTITION_TAG in tags:
            keys = [tags[PARTITION_TAG]]
        elif tags.get(RANGE_START_TAG) in pos and tags.get(RANGE_END_TAG) in pos:
            keys = order[pos[tags[RANGE_START_TAG]] : pos[tags[RANGE_END_TAG]] + 1]
        else:
            keys = []
        out.launched_keys.update(keys)
        if run.status == dg.DagsterRunStatus.FAILURE and run_died(tags):
            for k in keys:
                out.experiment_deaths[k] = out.experiment_deaths.get(k, 0) + 1
            continue
        out.settled_keys.update(keys)
        if run.status == dg.DagsterRunStatus.FAILURE:
            out.failed_keys.update(keys)
        elif run.status == dg.DagsterRunStatus.CANCELED:
            out.canceled_keys.update(keys)
    for run in instance.get_runs(filters=dg.RunsFilter(job_name=proposals_job.name, tags={CAMPAIGN_TAG: campaign})):
        out.rounds_in_flight += run.status in NOT_FINISHED
        if run.tags.get(ROUND_TAG, "").isdigit():
            index = int(run.tags[ROUND_TAG])
            out.rounds_requested.add(index)
            if run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
                out.round_failures[index] = out.round_failures.get(index, 0) + 1
    return out


def add_missing_partitions(instance: dg.DagsterInstance, keys: list[str]) -> list[str]:
    """Add the `experiments` partitions of ``keys`` that do not exist yet (a round that crashed before); those."""
    known = set(instance.get_dynamic_partitions(EXPERIMENTS_PARTITIONS))
    missing = [k for k in keys if k not in known]
    if missing:
        instance.add_dynamic_partitions(EXPERIMENTS_PARTITIONS, missing)
    return missing


def fail_dead_runs(instance: dg.DagsterInstance, campaign: str) -> list[str]:
    """Mark the campaign's runs whose process died failed (and free their slots); their ids."""
    from pipelines.doctor import diagnose, fix

    ids = {
        r.run_id for r in instance.get_runs(filters=dg.RunsFilter(tags={CAMPAIGN_TAG: campaign}, statuses=NOT_FINISHED))
    }
    if not ids:
        return []
    found = diagnose(instance, run_ids=ids)
    if not found.stuck:
        return []
    repair = fix(instance, found)
    return repair.failed + repair.canceled


def round_request(campaign: str, index: int, failures: int) -> dg.RunRequest:
    """The request for round ``index``; a retry after ``failures`` failed runs gets its own run key."""
    key = f"{campaign}:round:{index}" + (f":retry{failures}" if failures else "")
    return dg.RunRequest(job_name=proposals_job.name, run_key=key, tags={CAMPAIGN_TAG: campaign, ROUND_TAG: str(index)})


def chunks(todo: list[str], order: list[str], size: int) -> list[list[str]]:
    """``todo`` in runs of up to ``size`` keys, each contiguous in the partition order (else single keys)."""
    pos = {k: i for i, k in enumerate(order)}
    out, i = [], 0
    while i < len(todo):
        chunk = todo[i : i + size]
        contiguous = all(k in pos for k in chunk) and all(pos[b] == pos[a] + 1 for a, b in zip(chunk, chunk[1:]))
        chunk = chunk if contiguous else chunk[:1]
        out.append(chunk)
        i += len(chunk)
    return out


def lost_experiments(queued: list[str], runs: CampaignRuns, known: set[str]) -> tuple[list[str], dict[str, int]]:
    """Of ``queued`` (proposed, no result): those to launch again and those out of attempts (key -> runs that died).

    Lost means launched, and every run that covered it died. A partition no longer in ``known`` (deleted
    by a person) is not relaunched.
    """
    retry, exhausted = [], {}
    for k in queued:
        deaths = runs.experiment_deaths.get(k, 0)
        if not deaths or k in runs.settled_keys:
            continue
        if deaths >= MAX_EXPERIMENT_ATTEMPTS:
            exhausted[k] = deaths
        elif k in known:
            retry.append(k)
    return retry, exhausted


def without_result(queued: list[str], runs: CampaignRuns, exhausted: dict[str, int]) -> str:
    """Why the launched experiments of ``queued`` have no result, counted once each (for the stop message)."""
    died = [k for k in queued if k in exhausted]
    failed = [k for k in queued if k in runs.failed_keys and k not in exhausted]
    canceled = [k for k in queued if k in runs.canceled_keys and k not in exhausted and k not in runs.failed_keys]
    parts = [f"{len(failed)} failed in their code (see their runs, fix, re-run them)"] if failed else []
    if died:
        parts.append(f"{len(died)} died in {MAX_EXPERIMENT_ATTEMPTS} or more runs (see their runs, then re-run them)")
    if canceled:
        parts.append(f"{len(canceled)} canceled (re-run them to finish)")
    return "; ".join(parts)


def experiment_request(campaign: str, chunk: list[str], failures: int = 0) -> dg.RunRequest:
    """The request for ``chunk``; a relaunch after ``failures`` failed runs (one key) gets its own run key."""
    run_key = f"{campaign}:exp:{chunk[0]}..{chunk[-1]}" + (f":retry{failures}" if failures else "")
    if len(chunk) == 1:
        return dg.RunRequest(
            job_name=experiments_job.name, partition_key=chunk[0], run_key=run_key, tags={CAMPAIGN_TAG: campaign}
        )
    return dg.RunRequest(
        job_name=experiments_job.name, run_key=run_key, tags={CAMPAIGN_TAG: campaign, **partition_range_tags(chunk)}
    )


def evaluate_campaign(context: dg.SensorEvaluationContext, archsearch: ArchsearchResource) -> dg.SensorResult:
    from archsearch.campaign.proposals import ProposalStore
    from archsearch.campaign.status import campaign_status

    project = archsearch.project()
    cfg, root = project.campaign, archsearch.root()
    cursor = Cursor.load(context.cursor, cfg.name)
    status = campaign_status(cfg, root)
    if status.breaker.tripped:
        return dg.SensorResult(skip_reason=f"campaign {cfg.name} paused: {status.breaker.reason}", cursor=cursor.dump())

    dead = fail_dead_runs(context.instance, cfg.name)
    if dead:
        context.log.warning(f"campaign {cfg.name}: marked {len(dead)} run(s) whose process died as failed: {dead}")
    order = context.instance.get_dynamic_partitions(EXPERIMENTS_PARTITIONS)
    runs = campaign_runs(context.instance, cfg.name, order)
    keys = [p.key for p in ProposalStore(root).list(cfg.name)]
    queued = set(status.queued)
    # Everything before the cursor is launched; after it, skip what finished or was launched anyway.
    todo = [k for k in keys[cursor.launched :] if k in queued and k not in runs.launched_keys]
    known = set(order)
    missing = [k for k in todo if k not in known]  # proposal written, partition not added (crash between)

    requests: list[dg.RunRequest] = []
    in_flight = runs.experiments_in_flight
    retry, exhausted = lost_experiments(list(status.queued), runs, known)
    for k in retry:  # older than anything in todo: first
        if in_flight >= cfg.max_in_flight:
            break
        requests.append(experiment_request(cfg.name, [k], runs.experiment_deaths[k]))
        in_flight += 1
    waiting_retries = len(retry) - len(requests)
    launched: list[str] = []
    for chunk in chunks(todo, order, cfg.run_batch_size):
        if in_flight >= cfg.max_in_flight:
            break
        requests.append(experiment_request(cfg.name, chunk))
        launched += chunk
        in_flight += 1
    if launched:
        cursor.launched = keys.index(launched[-1]) + 1
    else:  # skip past the prefix that needs nothing (finished or launched before)
        needs_nothing = lambda k: k not in queued or k in runs.launched_keys
        while cursor.launched < len(keys) and needs_nothing(keys[cursor.launched]):
            cursor.launched += 1
    waiting = len(todo) - len(launched) + waiting_retries

    notes = []
    if exhausted:
        notes.append(
            f"{len(exhausted)} experiment(s) left without a result by {MAX_EXPERIMENT_ATTEMPTS} or more runs that "
            f"died ({', '.join(sorted(exhausted)[:3])}{', ...' if len(exhausted) > 3 else ''}): see their runs"
        )
    next_round = status.rounds
    if status.stop_reason:
        notes.append(f"no new rounds: {status.stop_reason}")
    elif runs.rounds_in_flight:
        notes.append(f"round {next_round} in flight")
    elif waiting < cfg.min_queued:
        failures = runs.round_failures.get(next_round, 0)
        if failures >= MAX_ROUND_ATTEMPTS:
            notes.append(
                f"round {next_round} failed {failures} times without writing a record; fix the cause "
                "(see its runs), then run `python -m pipelines.cli campaign round`"
            )
        elif not failures and (next_round in runs.rounds_requested or cursor.round_requested >= next_round):
            notes.append(f"round {next_round} was requested but wrote no record yet")
        else:
            requests.append(round_request(cfg.name, next_round, failures))
            cursor.round_requested = next_round
    partitions = [dg.AddDynamicPartitionsRequest(EXPERIMENTS_PARTITIONS, missing)] if missing else []
    if requests:
        return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=partitions, cursor=cursor.dump())
    if status.stop_reason and not waiting and not in_flight:
        stuck = without_result(list(status.queued), runs, exhausted)
        reason = f"campaign {cfg.name} stopped: {status.stop_reason}" + (
            f"; launched experiments without a result: {stuck}" if stuck else ""
        )
    else:
        reason = (
            f"campaign {cfg.name}: {in_flight} of {cfg.max_in_flight} experiment run(s) in flight, "
            f"{waiting} proposal(s) waiting" + "".join(f"; {n}" for n in notes)
        )
    return dg.SensorResult(skip_reason=reason, dynamic_partitions_requests=partitions, cursor=cursor.dump())


def build_agent_sensor(running: bool) -> dg.SensorDefinition:
    """The agent sensor; ``running`` is its default status (``ARCHSEARCH_AGENT_SENSOR``, off unless set)."""

    def agent_sensor(context: dg.SensorEvaluationContext, archsearch: ArchsearchResource):
        return evaluate_campaign(context, archsearch)

    return dg.sensor(
        name="agent_sensor",
        jobs=[experiments_job, proposals_job],
        minimum_interval_seconds=15,
        default_status=dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED,
        description="Drives the configured campaign: launches queued experiments (<= max_in_flight runs), requests "
        "agent rounds, stops at the budget, pauses on the circuit breaker. Enqueue only.",
    )(agent_sensor)
