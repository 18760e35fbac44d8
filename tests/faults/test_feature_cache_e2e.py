"""Fault, end to end through Dagster: a damaged feature cache under the real `features` and `experiments` assets.

Tiny Nexar-format project (real clips, the `pixels` backbone), two ok experiments, then:
  * bytes flipped in a pack chunk: the `features_complete` check fails naming the chunk and the
    repair command; the experiments run fails with that command and leaves both ok results
    byte-identical; a features rerun repacks (no video recomputed) and says so in its metadata;
    the check passes and the experiments rerun to the very same metrics;
  * a flipped per-video `times` chunk and a truncated per-video `zarr.json`: the features rerun
    recomputes exactly those two videos and lists both repairs.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import dagster as dg
import pytest

from archsearch.features import FeatureStore
from archsearch.results import ResultsStore
from assets.experiments import experiments
from assets.features import check_features
from assets.resources import ArchsearchResource
from assets.videos import videos
from pipelines import cli
from pipelines.jobs import experiments_job
from tests.projects import TINY_SPACE_YAML, default_features, nexar_project

features, _ = default_features()
COMMAND = "dagster asset materialize -m pipelines.definitions --select features --partition pixels"


@pytest.fixture
def project(tmp_path, monkeypatch):
    cfg = nexar_project(tmp_path, n=12)
    (tmp_path / "space.yaml").write_text(TINY_SPACE_YAML)
    cfg.write_text(
        cfg.read_text().replace("backbones: [pixels, motion]", "backbones: [pixels]")
        + f"space: {tmp_path / 'space.yaml'}\n"
    )
    monkeypatch.setenv("ARCHSEARCH_CONFIG", str(cfg))
    monkeypatch.setenv("ARCHSEARCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    (tmp_path / "dh").mkdir()
    return tmp_path


def flip(path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x5A
    path.write_bytes(bytes(data))


@pytest.mark.slow
def test_damaged_cache_is_refused_then_repaired_through_the_assets(project, capsys):
    instance = dg.DagsterInstance.get()
    res = {"archsearch": ArchsearchResource()}
    assert dg.materialize([videos], resources=res, instance=instance).success

    def materialize_features():
        run = dg.materialize(
            [videos.to_source_asset(), features], resources=res, instance=instance, partition_key="pixels"
        )
        return run.asset_materializations_for_node("features")[0].metadata

    def check():
        # The check alone, on the instance's latest materialization: a run selecting a partitioned check
        # without its asset is refused by Dagster ("no PartitionsDefinition shared"), and with the asset
        # the run would repair the cache before the check looks at it.
        context = SimpleNamespace(has_partition_key=True, partition_key="pixels", instance=instance)
        return check_features(context, ArchsearchResource(), ["pixels"])

    def train(key):
        return dg.materialize(
            [features.to_source_asset(), experiments], resources=res, instance=instance, partition_key=key
        )

    assert materialize_features()["cache_misses"].value == 12
    keys = []
    for pooling in ("mean", "attention"):
        config = {
            "backbone": "pixels",
            "encoder": "gru",
            "pooling": pooling,
            "loss": "bce",
            "lr": 3e-3,
            "weight_decay": 0.0,
            "window_length": 8,
            "epochs": 3,
        }
        assert cli.main(["propose", "--config", json.dumps(config), "--campaign", "e2e"]) == 0
        keys.append(capsys.readouterr().out.split()[0])
    for key in keys:
        assert train(key).success
    results = ResultsStore(project / "home")
    files = {p: p.read_bytes() for p in sorted((results.dir / "e2e").glob("*.json"))}
    metrics = results.read().sort("config_id").select("config_id", "val_map", "test_map")
    assert len(files) == 2 and (results.read()["status"] == "ok").all()

    # Bytes flipped in a pack chunk.
    store = FeatureStore(project / "home" / "features")
    (group,) = [store.group(d, k) for d, k in store.groups()]
    chunk = group.packs_path / group.pack_info().pack_id / "data" / "c" / "0" / "0"
    flip(chunk)
    verdict = check()
    assert not verdict.passed and str(chunk) in verdict.metadata["problems"].value
    assert COMMAND in verdict.metadata["repair"].value
    with pytest.raises(dg.Failure) as refused:
        train(keys[0])
    assert str(chunk) in refused.value.description and COMMAND in refused.value.description
    # Both as one batch on two worker processes: the refusal crosses the process boundary intact.
    batch = dg.Definitions(
        assets=[features, experiments],
        jobs=[experiments_job],
        resources={"archsearch": ArchsearchResource(experiment_workers=2)},
    )
    run = batch.resolve_job_def("experiments_job").execute_in_process(
        instance=instance,
        raise_on_error=False,
        tags={"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]},
    )
    failure = next(e for e in run.all_events if e.event_type_value == "STEP_FAILURE")
    assert (
        not run.success
        and str(chunk) in str(failure.event_specific_data.error)
        and COMMAND in str(failure.event_specific_data.error)
    )
    assert {p: p.read_bytes() for p in files} == files  # both ok results untouched

    repaired = materialize_features()
    assert (repaired["cache_hits"].value, repaired["cache_misses"].value) == (12, 0)
    assert str(chunk) in repaired["repaired"].value and "repacks" in repaired["repaired"].value
    assert check().passed
    for key in keys:
        assert train(key).success
    assert results.read().sort("config_id").select("config_id", "val_map", "test_map").equals(metrics)

    # A flipped per-video times chunk and a truncated per-video zarr.json: those two are recomputed.
    times_chunk = group.videos_path / "00003" / "times" / "c" / "0"
    flip(times_chunk)
    meta = group.videos_path / "00007" / "zarr.json"
    meta.write_bytes(meta.read_bytes()[:40])
    assert not check().passed
    repaired = materialize_features()
    assert (repaired["cache_hits"].value, repaired["cache_misses"].value) == (10, 2)
    assert str(times_chunk) in repaired["repaired"].value and str(meta) in repaired["repaired"].value
    assert check().passed
