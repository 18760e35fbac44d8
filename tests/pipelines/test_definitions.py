"""The code location loads fast, and a snapshot of its graph shows every change of it in review.

The snapshot (``__snapshots__/test_definitions.ambr``) lists assets with their deps, partitions,
checks, pools and op tags, the jobs, sensors and schedules with their defaults, and the resources
with their config. A change to any of them fails this test until the snapshot is updated with
``pytest tests/pipelines/test_definitions.py --snapshot-update``, so it is seen in the diff.
"""

from __future__ import annotations

import subprocess
import sys
import time

import dagster as dg
import pytest

from archsearch.common import REPO_ROOT
from archsearch.config import DEFAULT_CONFIG_PATH
from assets.resources import ArchsearchResource

REPO = REPO_ROOT
SWITCHES = (
    "ARCHSEARCH_AGENT_SENSOR",
    "ARCHSEARCH_SCHEDULES",
    "ARCHSEARCH_EXECUTOR",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
)


def partitions_of(defn) -> dict | None:
    if defn is None:
        return None
    if isinstance(defn, dg.StaticPartitionsDefinition):
        return {"static": defn.get_partition_keys()}
    if isinstance(defn, dg.DynamicPartitionsDefinition):
        return {"dynamic": defn.name}
    return {type(defn).__name__: str(defn)}


def shown(value) -> str:
    """A resource field as the snapshot shows it: the repository's own paths relative, so any checkout matches."""
    text = repr(value)
    return text.replace(str(REPO), "<repo>")


def describe(defs: dg.Definitions) -> dict:
    """The loaded Definitions as plain data, in a stable order."""
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        spec = node.assets_def.specs_by_key[key]
        assets[key.to_user_string()] = {
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "group": node.group_name,
            "partitions": partitions_of(node.partitions_def),
            "kinds": sorted(spec.kinds),
            "pools": sorted(node.pools or ()),
            "op_tags": dict(sorted(node.assets_def.op.tags.items())),
            "backfill_policy": str(node.backfill_policy) if node.backfill_policy else None,
            "description": node.description,
        }
    checks = {}
    for checks_def in defs.asset_checks or ():
        for spec in checks_def.check_specs:
            checks[f"{spec.asset_key.to_user_string()}:{spec.name}"] = {
                "partitions": partitions_of(checks_def.partitions_def),
                "description": spec.description,
            }
    checks = dict(sorted(checks.items()))
    jobs = {}
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        jobs[job.name] = {
            "assets": sorted(k.to_user_string() for k in job.asset_layer.executable_asset_keys),
            "executor": job.executor_def.name,
            "description": job.description,
        }
    sensors = {
        s.name: {
            "jobs": sorted(j.name for j in s.jobs),
            "minimum_interval_seconds": s.minimum_interval_seconds,
            "default_status": s.default_status.value,
        }
        for s in sorted(defs.sensors, key=lambda s: s.name)
    }
    schedules = {
        s.name: {"cron": s.cron_schedule, "job": s.job_name, "default_status": s.default_status.value}
        for s in sorted(defs.schedules, key=lambda s: s.name)
    }
    resources = {
        name: {"class": type(r).__name__, "config": {f: shown(getattr(r, f)) for f in sorted(type(r).model_fields)}}
        for name, r in sorted(defs.resources.items())
    }
    return {
        "assets": assets,
        "asset_checks": checks,
        "jobs": jobs,
        "sensors": sensors,
        "schedules": schedules,
        "resources": resources,
        "executor": defs.executor.name if defs.executor else None,
    }


@pytest.fixture
def plain_env(monkeypatch):
    for var in SWITCHES:
        monkeypatch.delenv(var, raising=False)


def test_definitions_snapshot(plain_env, snapshot):
    from pipelines.definitions import build_definitions

    defs = build_definitions(ArchsearchResource(config_path=str(DEFAULT_CONFIG_PATH)))
    assert describe(defs) == snapshot


def test_definitions_follow_the_project_config(plain_env, tmp_path):
    """Partitions come from the config the resource names (one source), not from whatever loaded first."""
    from pipelines.definitions import build_definitions

    cfg = tmp_path / "project.yaml"
    cfg.write_text("datasets:\n  - {name: s, kind: synthetic}\nbackbones: [motion, pixels]\n")
    defs = build_definitions(ArchsearchResource(config_path=str(cfg)))
    features = defs.resolve_assets_def("features")
    assert features.partitions_def.get_partition_keys() == ["motion", "pixels"]
    assert defs.resources["archsearch"].config_path == str(cfg)


def test_loading_the_code_location_does_not_import_torch():
    code = "import sys, pipelines.definitions; print('torch' in sys.modules)"
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "heavy imports belong where they are used"
    assert time.perf_counter() - t0 < 30
