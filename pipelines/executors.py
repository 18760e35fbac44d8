"""Executor choice by configuration: one box (multiprocess), or out to Celery workers or Kubernetes pods.

Why: a campaign outgrows one machine, and adding workers must take configuration, not code. The code
location reads ``ARCHSEARCH_EXECUTOR`` once at load time:

* ``multiprocess`` (default): each step in its own process on this machine;
* ``in_process``: every step in the run's process (debugging, smallest overhead);
* ``celery``: steps become Celery tasks on a Redis broker, picked up by ``dagster-celery`` workers on
  any machine. Steps are routed by the ``dagster-celery/queue`` op tag: feature extraction to queue
  ``gpu``, head training to ``cpu`` (untagged steps also go to ``cpu``). Tasks are acknowledged only
  after they finish (``task_acks_late``) and a task whose worker died is requeued
  (``task_reject_on_worker_lost``; a whole dead worker host is recovered by Redis' visibility timeout),
  so a killed worker costs a re-run of its one step, never a lost step;
* ``k8s``: dagster-k8s ``k8s_job_executor``, one Kubernetes Job per step, configured by a YAML file
  plus image/namespace variables.

Settings (all optional; each error names the variable or file that is wrong):

=====================================  =============================================================
``ARCHSEARCH_CELERY_BROKER``           broker URL, default ``redis://127.0.0.1:6379/0``
``ARCHSEARCH_CELERY_BACKEND``          result backend URL, default: the broker URL
``ARCHSEARCH_CELERY_VISIBILITY_TIMEOUT``  seconds before Redis hands an unacknowledged task (its worker
                                       vanished) to another worker, default 7200; must exceed the
                                       longest step, or a slow step is started a second time
``ARCHSEARCH_K8S_CONFIG``              YAML with the ``k8s_job_executor`` config (``execution.config``
                                       block or a bare mapping), e.g. ``deploy/k8s/executor.yaml``
``ARCHSEARCH_K8S_IMAGE``               step image (overrides ``job_image`` from the YAML)
``ARCHSEARCH_K8S_NAMESPACE``           step namespace (overrides ``job_namespace``)
=====================================  =============================================================

Workers must see the same broker settings: ``python -m pipelines.executors celery-yaml > celery.yaml``
writes them for ``dagster-celery worker start -A dagster_celery.app -y celery.yaml -q cpu``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dagster as dg

from assets.tags import CPU_QUEUE

EXECUTOR_ENV = "ARCHSEARCH_EXECUTOR"
EXECUTORS = ("multiprocess", "in_process", "celery", "k8s")

BROKER_ENV = "ARCHSEARCH_CELERY_BROKER"
BACKEND_ENV = "ARCHSEARCH_CELERY_BACKEND"
VISIBILITY_ENV = "ARCHSEARCH_CELERY_VISIBILITY_TIMEOUT"
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
DEFAULT_VISIBILITY_S = 7200

K8S_CONFIG_ENV = "ARCHSEARCH_K8S_CONFIG"
K8S_IMAGE_ENV = "ARCHSEARCH_K8S_IMAGE"
K8S_NAMESPACE_ENV = "ARCHSEARCH_K8S_NAMESPACE"

_BROKER_SCHEMES = ("redis", "rediss", "sentinel", "amqp", "amqps", "pyamqp")
_BACKEND_SCHEMES = ("redis", "rediss", "sentinel", "rpc", "db+postgresql", "db+sqlite")


class ExecutorConfigError(ValueError):
    """An executor setting is wrong; the message names the variable or file and what was expected."""


def executor_name(env: Mapping[str, str] = os.environ) -> str:
    name = (env.get(EXECUTOR_ENV) or "multiprocess").strip().lower().replace("-", "_")
    if name not in EXECUTORS:
        raise ExecutorConfigError(f"{EXECUTOR_ENV}={env.get(EXECUTOR_ENV)!r}: expected one of {', '.join(EXECUTORS)}")
    return name


def executor_from_env(env: Mapping[str, str] = os.environ) -> dg.ExecutorDefinition:
    """The executor the code location uses, chosen by ``ARCHSEARCH_EXECUTOR`` (see the module docstring)."""
    name = executor_name(env)
    if name == "multiprocess":
        return dg.multiprocess_executor
    if name == "in_process":
        return dg.in_process_executor
    if name == "celery":
        return _require("dagster_celery", name).celery_executor.configured(celery_config(env))
    return _require("dagster_k8s", name).k8s_job_executor.configured(k8s_config(env))


def job_executor(local: dg.ExecutorDefinition, env: Mapping[str, str] = os.environ) -> dg.ExecutorDefinition:
    """For a job that pins an executor on one machine (``experiments_job`` runs in-process to skip a
    step subprocess): keep the pin unless a distributed executor is chosen, whose workers must run it."""
    return executor_from_env(env) if executor_name(env) in ("celery", "k8s") else local


def _require(module: str, name: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ExecutorConfigError(
            f"{EXECUTOR_ENV}={name} needs the {module.replace('_', '-')} package: pip install -e '.[scale]' ({exc})"
        ) from exc


def _url(env: Mapping[str, str], var: str, default: str, schemes: tuple[str, ...]) -> str:
    url = (env.get(var) or default).strip()
    scheme = urlsplit(url).scheme
    if scheme not in schemes:
        raise ExecutorConfigError(
            f"{var}={url!r}: expected a URL starting with one of {', '.join(s + '://' for s in schemes)}"
        )
    return url


def _positive_int(env: Mapping[str, str], var: str, default: int) -> int:
    raw = env.get(var)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ExecutorConfigError(f"{var}={raw!r}: expected a positive whole number of seconds")
    return value


def celery_config(env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The ``celery_executor`` config; workers must be started with the same block (see :func:`celery_yaml`)."""
    broker = _url(env, BROKER_ENV, DEFAULT_BROKER, _BROKER_SCHEMES)
    backend = _url(env, BACKEND_ENV, broker, _BACKEND_SCHEMES)
    visibility = _positive_int(env, VISIBILITY_ENV, DEFAULT_VISIBILITY_S)
    config = {
        "broker": broker,
        "backend": backend,
        "config_source": {
            # Acknowledge a task when it has finished, not when a worker takes it: a worker killed
            # mid-step leaves the task on the broker for another worker.
            "task_acks_late": True,
            # A pool process killed (OOM, kill -9) while its parent worker lives: requeue at once.
            "task_reject_on_worker_lost": True,
            # One task per worker process at a time: a dying worker strands at most its running step.
            "worker_prefetch_multiplier": 1,
            # Steps without a queue tag (videos, proposals, reports) go to the CPU workers.
            "task_default_queue": CPU_QUEUE,
            "broker_transport_options": {
                # dagster-celery's publish retries, kept.
                "max_retries": 3,
                "interval_start": 0,
                "interval_step": 0.2,
                "interval_max": 0.5,
                # A whole worker host lost: its unacknowledged task returns to the queue after this.
                "visibility_timeout": visibility,
                # Sweep for such tasks every visibility/10 s (1..60) rather than kombu's ~100 s.
                "unacked_restore_interval": max(1, min(60, visibility // 10)),
                "unacked_restore_throttle": 1,
            },
            "result_expires": 7 * 24 * 3600,
        },
    }
    _validate(_require("dagster_celery", "celery").celery_executor, config, f"{BROKER_ENV}/{BACKEND_ENV}")
    return config


def celery_yaml(env: Mapping[str, str] = os.environ) -> str:
    """The worker config file for ``dagster-celery worker start -y`` (same shape as run config)."""
    import yaml

    return yaml.safe_dump({"execution": {"config": celery_config(env)}}, sort_keys=False)


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    if not path.is_file():
        raise ExecutorConfigError(f"{K8S_CONFIG_ENV}={str(path)!r}: no such file")
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ExecutorConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(doc, dict):
        raise ExecutorConfigError(f"{path}: expected a mapping (the k8s_job_executor config), got {type(doc).__name__}")
    execution = doc.get("execution")
    if isinstance(execution, dict):  # run-config shape: execution: {config: {...}}
        doc = execution.get("config") or {}
        if not isinstance(doc, dict):
            raise ExecutorConfigError(f"{path}: execution.config must be a mapping")
    return doc


def k8s_config(env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The ``k8s_job_executor`` config: the YAML named by ``ARCHSEARCH_K8S_CONFIG`` plus image/namespace overrides."""
    path = env.get(K8S_CONFIG_ENV)
    config = _read_yaml(Path(path).expanduser()) if path else {}
    for var, field in ((K8S_IMAGE_ENV, "job_image"), (K8S_NAMESPACE_ENV, "job_namespace")):
        if env.get(var):
            config[field] = env[var].strip()
    _validate(_require("dagster_k8s", "k8s").k8s_job_executor, config, path or f"{K8S_IMAGE_ENV}/{K8S_NAMESPACE_ENV}")
    return config


def _validate(executor_def: dg.ExecutorDefinition, config: dict[str, Any], source: str) -> None:
    """Check the config against the executor's schema now, not when the first run starts.

    Dagster's public check is per job, so a one-op probe job carries the executor; the errors name
    paths under ``execution:config`` as a run's would.
    """

    @dg.op
    def _noop() -> None:
        pass

    @dg.job(name=f"validate_{executor_def.name}_executor", executor_def=executor_def)
    def probe() -> None:
        _noop()

    try:
        dg.validate_run_config(probe, {"execution": {"config": config}})
    except dg.DagsterInvalidConfigError as exc:
        errors = "; ".join(e.message for e in exc.errors)
        raise ExecutorConfigError(f"{source}: invalid {executor_def.name} executor config: {errors}") from None


def main(argv: list[str] | None = None) -> int:
    """``python -m pipelines.executors celery-yaml``: print the worker config for the current environment."""
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["celery-yaml"]:
        print(
            "usage: python -m pipelines.executors celery-yaml  (prints the dagster-celery worker config)",
            file=sys.stderr,
        )
        return 2
    try:
        sys.stdout.write(celery_yaml())
    except ExecutorConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
