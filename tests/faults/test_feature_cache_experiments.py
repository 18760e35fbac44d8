"""Fault: experiments on a damaged feature group are refused, and an ok result is never overwritten.

Before integrity checks, bytes flipped in a pack chunk made experiments train on garbage; three of
six previously ok configs were recorded as ``FloatingPointError: training loss became nan``,
replacing their good results. Here the same damage makes the batch refuse with a message naming the
file and the repair, writes nothing, and after the repair the config trains to the same result.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

from archsearch.campaign.proposals import Proposal
from archsearch.common import DataLayout
from archsearch.experiments.batch import FeaturesRefusedError, Task, run_tasks
from archsearch.features.extraction import split_order
from archsearch.features.synthetic import synthetic_feature_group
from archsearch.results import ResultsStore
from archsearch.space import stable_id

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CONFIG = {
    "backbone": "synthetic",
    "encoder": "gru",
    "pooling": "mean",
    "loss": "bce",
    "lr": 3e-3,
    "weight_decay": 0.0,
    "window_length": 8,
    "epochs": 2,
}


@pytest.fixture
def project(tmp_path):
    """(data root, manifest path, feature group) with a learnable synthetic group packed in split order."""
    root = tmp_path / "home"
    manifest, group = synthetic_feature_group(
        str(DataLayout(root).features), n_videos=40, steps=30, dim=8, signal=2.0, seed=1
    )
    path = tmp_path / "manifest.parquet"
    manifest.write_parquet(path)
    return root, path, group, manifest


def task_for(group, config=CONFIG) -> Task:
    return Task(Proposal("c", stable_id(config), dict(config), group.dataset, seed=0), group.key)


def run(project, *tasks):
    root, manifest_path, _, _ = project
    return [result for _, result in run_tasks(list(tasks), root=root, manifest_path=manifest_path, workers=1)]


def flip_first_pack_chunk(group) -> Path:
    chunk = group.packs_path / group.pack_info().pack_id / "data" / "c" / "0" / "0"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0x5A
    chunk.write_bytes(bytes(data))
    return chunk


def test_corrupt_pack_is_refused_and_the_ok_result_stays(project):
    root, _, group, manifest = project
    task = task_for(group)
    (first,) = run(project, task)
    assert first.ok, first.error_message
    result_file = ResultsStore(root).path_for("c", task.proposal.config_id, 0)
    before = result_file.read_bytes()

    chunk = flip_first_pack_chunk(group)
    with pytest.raises(FeaturesRefusedError) as refused:
        run(project, task)
    message = str(refused.value)
    assert str(chunk) in message and "CorruptFeaturesError" in message and "recorded nothing" in message
    assert "rerun the features of backbone 'synthetic'" in message
    assert (refused.value.backbone, refused.value.dataset) == ("synthetic", group.dataset)
    assert result_file.read_bytes() == before  # the ok result is untouched

    other = task_for(group, {**CONFIG, "pooling": "max"})
    with pytest.raises(FeaturesRefusedError):
        run(project, other)
    assert ResultsStore(root).get("c", other.proposal.config_id, 0) is None  # nothing recorded for a new config

    # The repair a features rerun makes: verify (unsets the broken pack), then pack again.
    expected = dict(manifest.select("video_id", "video_digest").iter_rows())
    assert group.status(expected) == (set(expected), [])
    assert group.pack_info() is None and any(str(chunk) in str(r) for r in group.store.repairs)
    group.pack(split_order(manifest))
    (again,) = run(project, task)
    assert again.ok and again.val == first.val and again.test == first.test  # same data, same seed: same result


def test_missing_features_are_refused_not_recorded(project):
    root, _, group, _ = project
    task = task_for(group)
    assert run(project, task)[0].ok
    before = ResultsStore(root).path_for("c", task.proposal.config_id, 0).read_bytes()
    gone = group.ids()[0]
    shutil.rmtree(group.videos_path / gone)
    group.pack()  # the pack no longer holds it either
    with pytest.raises(FeaturesRefusedError, match=f"MissingFeaturesError: .*'{gone}'"):
        run(project, task)
    assert ResultsStore(root).path_for("c", task.proposal.config_id, 0).read_bytes() == before


def test_refusal_survives_the_trip_from_a_worker_process():
    exc = FeaturesRefusedError("experiment c:x refused its features", "pixels", "nx")
    back = pickle.loads(pickle.dumps(exc))
    assert (str(back), back.backbone, back.dataset) == (str(exc), "pixels", "nx")
