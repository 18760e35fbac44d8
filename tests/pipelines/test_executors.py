"""Executor choice by configuration: every choice loads the definitions; wrong settings name their variable."""

from __future__ import annotations

import dagster as dg
import pytest

from archsearch.common import REPO_ROOT
from assets import tags
from pipelines import executors
from pipelines.executors import ExecutorConfigError, executor_from_env

REPO = REPO_ROOT
K8S_EXAMPLE = REPO / "deploy" / "k8s" / "executor.yaml"

CHOICES = {
    "": "multiprocess",
    "multiprocess": "multiprocess",
    "in_process": "in_process",
    "celery": "celery",
    "k8s": "k8s",
}


def _env(name: str, **extra: str) -> dict[str, str]:
    env = {"ARCHSEARCH_EXECUTOR": name} if name else {}
    if name == "k8s":
        env["ARCHSEARCH_K8S_CONFIG"] = str(K8S_EXAMPLE)
    return {**env, **extra}


def _defs(executor: dg.ExecutorDefinition) -> dg.Definitions:
    from assets.experiments import experiments
    from tests.projects import default_features

    features, _features_complete = default_features()
    from assets.resources import ArchsearchResource
    from assets.videos import videos

    return dg.Definitions(
        assets=[videos, features, experiments], resources={"archsearch": ArchsearchResource()}, executor=executor
    )


@pytest.mark.parametrize("name", list(CHOICES))
def test_definitions_load_with_each_executor(name):
    executor = executor_from_env(_env(name))
    assert executor.name == CHOICES[name]
    job = _defs(executor).resolve_implicit_global_asset_job_def()
    assert job.executor_def.name == CHOICES[name]
    assert {"videos", "features", "experiments"} <= {k.to_user_string() for k in job.asset_layer.executable_asset_keys}


def test_celery_tasks_survive_a_dead_worker_and_default_to_the_cpu_queue():
    cfg = executors.celery_config({})
    src = cfg["config_source"]
    assert cfg["broker"] == cfg["backend"] == "redis://127.0.0.1:6379/0"
    assert src["task_acks_late"] is True and src["task_reject_on_worker_lost"] is True
    assert src["worker_prefetch_multiplier"] == 1 and src["task_default_queue"] == "cpu"
    assert src["broker_transport_options"]["visibility_timeout"] == executors.DEFAULT_VISIBILITY_S

    cfg = executors.celery_config(
        {
            "ARCHSEARCH_CELERY_BROKER": "redis://h:1/2",
            "ARCHSEARCH_CELERY_BACKEND": "rpc://",
            "ARCHSEARCH_CELERY_VISIBILITY_TIMEOUT": "30",
        }
    )
    assert (cfg["broker"], cfg["backend"]) == ("redis://h:1/2", "rpc://")
    opts = cfg["config_source"]["broker_transport_options"]
    assert (opts["visibility_timeout"], opts["unacked_restore_interval"]) == (30, 3)


def test_worker_yaml_is_accepted_by_dagster_celery(tmp_path, capsys):
    """The file workers start with (`-y`) must pass dagster-celery's own validation, same broker."""
    from dagster_celery.cli import get_validated_config

    assert executors.main(["celery-yaml"]) == 0
    path = tmp_path / "celery.yaml"
    path.write_text(capsys.readouterr().out)
    validated = get_validated_config(str(path))
    assert validated["broker"] == executors.DEFAULT_BROKER
    assert validated["config_source"]["task_acks_late"] is True
    assert executors.main(["nonsense"]) == 2


def test_shipped_celery_example_is_what_the_defaults_generate():
    import yaml

    shipped = yaml.safe_load((REPO / "deploy" / "celery.yaml").read_text())
    assert shipped == yaml.safe_load(executors.celery_yaml({})), "regenerate deploy/celery.yaml (see its header)"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"ARCHSEARCH_EXECUTOR": "dask"}, "ARCHSEARCH_EXECUTOR='dask'"),
        ({"ARCHSEARCH_EXECUTOR": "celery", "ARCHSEARCH_CELERY_BROKER": "localhost:6379"}, "ARCHSEARCH_CELERY_BROKER"),
        ({"ARCHSEARCH_EXECUTOR": "celery", "ARCHSEARCH_CELERY_BACKEND": "s3://x"}, "ARCHSEARCH_CELERY_BACKEND"),
        (
            {"ARCHSEARCH_EXECUTOR": "celery", "ARCHSEARCH_CELERY_VISIBILITY_TIMEOUT": "soon"},
            "ARCHSEARCH_CELERY_VISIBILITY_TIMEOUT",
        ),
        ({"ARCHSEARCH_EXECUTOR": "k8s", "ARCHSEARCH_K8S_CONFIG": "/nonexistent/k8s.yaml"}, "/nonexistent/k8s.yaml"),
    ],
)
def test_wrong_settings_name_the_variable(env, needle):
    with pytest.raises(ExecutorConfigError, match=needle.replace("(", r"\(")):
        executor_from_env(env)


def test_invalid_k8s_yaml_names_the_file_and_the_field(tmp_path):
    bad = tmp_path / "k8s.yaml"
    bad.write_text("execution:\n  config:\n    job_namespace: ns\n    max_concurent: 3\n")
    with pytest.raises(ExecutorConfigError, match=rf"{bad}.*max_concurent"):
        executor_from_env({"ARCHSEARCH_EXECUTOR": "k8s", "ARCHSEARCH_K8S_CONFIG": str(bad)})
    bad.write_text("- a list\n")
    with pytest.raises(ExecutorConfigError, match=rf"{bad}: expected a mapping"):
        executor_from_env({"ARCHSEARCH_EXECUTOR": "k8s", "ARCHSEARCH_K8S_CONFIG": str(bad)})


def test_k8s_example_builds_a_gpu_pod_for_features_and_a_cpu_pod_otherwise():
    """The shipped example turned into the Kubernetes Job dagster-k8s would submit (no cluster needed)."""
    from types import SimpleNamespace

    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import UserDefinedDagsterK8sConfig, construct_dagster_k8s_job

    cfg = executors.k8s_config(
        {
            "ARCHSEARCH_K8S_CONFIG": str(K8S_EXAMPLE),
            "ARCHSEARCH_K8S_IMAGE": "reg/img:1",
            "ARCHSEARCH_K8S_NAMESPACE": "team",
        }
    )
    assert (cfg["job_image"], cfg["job_namespace"]) == ("reg/img:1", "team")

    def pod(step: str):
        ctx = K8sContainerContext(
            env_vars=cfg["env_vars"],
            volumes=cfg["volumes"],
            volume_mounts=cfg["volume_mounts"],
            namespace=cfg["job_namespace"],
            run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(cfg["step_k8s_config"]),
        ).merge(
            K8sContainerContext(
                run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(cfg["per_step_k8s_config"].get(step, {}))
            )
        )
        # What a K8sRunLauncher (the Helm chart's) contributes: where the instance config is mounted.
        launcher = SimpleNamespace(
            dagster_home="/opt/dagster/dagster_home",
            instance_config_map="dagster-instance",
            postgres_password_secret=None,
        )
        job = construct_dagster_k8s_job(
            ctx.get_k8s_job_config(cfg["job_image"], launcher),
            ["dagster", "api"],
            f"dagster-step-{step}",
            user_defined_k8s_config=ctx.run_k8s_config,
        )
        return job.spec.template.spec

    gpu, cpu = pod("features"), pod("experiments")
    assert gpu.containers[0].resources.limits["nvidia.com/gpu"] == "1"
    assert gpu.node_selector == {"archsearch/pool": "gpu"}
    assert cpu.containers[0].resources.limits == {"cpu": "1", "memory": "4Gi"} and not cpu.node_selector
    assert gpu.containers[0].image == "reg/img:1"
    assert {m.mount_path for m in gpu.containers[0].volume_mounts} >= {"/data/archsearch"}


def test_job_executor_keeps_a_local_pin_unless_distributed():
    assert executors.job_executor(dg.in_process_executor, {}) is dg.in_process_executor
    assert (
        executors.job_executor(dg.in_process_executor, {"ARCHSEARCH_EXECUTOR": "multiprocess"})
        is dg.in_process_executor
    )
    assert executors.job_executor(dg.in_process_executor, {"ARCHSEARCH_EXECUTOR": "celery"}).name == "celery"


def test_postgres_instance_example_is_valid(tmp_path, monkeypatch):
    """deploy/dagster.postgres.yaml passes Dagster's instance-config validation (the scale test runs on it)."""
    from dagster._core.instance.config import dagster_instance_config

    for var, value in {
        "DAGSTER_PG_HOST": "db",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_DB": "dagster",
        "DAGSTER_PG_USERNAME": "u",
        "DAGSTER_PG_PASSWORD": "p",
    }.items():
        monkeypatch.setenv(var, value)
    (tmp_path / "dagster.yaml").write_text((REPO / "deploy" / "dagster.postgres.yaml").read_text())
    config, _ = dagster_instance_config(str(tmp_path))
    assert "postgres" in config["storage"]
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"


def test_assets_carry_the_queue_tags():
    """Integration contract: features -> `gpu` queue, experiments -> `cpu` queue (dagster-celery reads the op tag)."""
    from assets.experiments import experiments
    from tests.projects import default_features

    features, _features_complete = default_features()

    assert features.op.tags.get(tags.QUEUE_TAG) == tags.GPU_QUEUE
    assert experiments.op.tags.get(tags.QUEUE_TAG) == tags.CPU_QUEUE
