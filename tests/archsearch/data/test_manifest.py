"""Loading Nexar folders and generic CSVs: valid rows load, every bad row is named."""

from __future__ import annotations

import shutil

import numpy as np
import polars as pl
import pytest

from archsearch.data.manifest import ManifestError, load_generic_csv, load_nexar
from tests.conftest import write_test_video


def _nexar(tmp_path, rows, videos=None):
    folder = tmp_path / "nexar"
    (folder / "train").mkdir(parents=True)
    for vid in videos if videos is not None else [r[0] for r in rows]:
        write_test_video(folder / "train" / f"{vid}.mp4", n_frames=40, fps=20)  # 2.0 s
    lines = ["id,target,time_of_event,time_of_alert"] + [",".join(map(str, r)) for r in rows]
    (folder / "train.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_nexar_folder_loads(tmp_path):
    folder = _nexar(tmp_path, [("00001", 1, 1.5, 1.0), ("00002", 0, "", ""), ("00003", 1, 1.8, "")])
    table = load_nexar(folder, dataset="nx").table
    assert table.height == 3
    row = table.filter(pl.col("video_id") == "00001").row(0, named=True)
    assert row["label"] == 1 and row["event_time"] == 1.5 and row["alert_time"] == 1.0
    assert row["duration"] == pytest.approx(2.0, abs=0.06)
    assert row["n_frames"] == 40 and row["width"] == 64 and row["height"] == 48
    assert len(row["video_digest"]) == 16
    neg = table.filter(pl.col("video_id") == "00002").row(0, named=True)
    assert neg["event_time"] is None and neg["label"] == 0


def test_zero_padding_restored(tmp_path):
    folder = _nexar(tmp_path, [("1", 1, 1.0, "")], videos=["00001"])
    assert load_nexar(folder).table["video_id"].to_list() == ["00001"]


@pytest.mark.parametrize(
    "row, field, fragment",
    [
        (("00002", 2, 1.0, ""), "label", "expected 0 or 1"),
        (("00002", 1, "", ""), "event_time", "needs an event time"),
        (("00002", 1, "soon", ""), "event_time", "expected a number"),
        (("00002", 1, 7.5, ""), "event_time", "within the clip"),
        (("00002", 1, 1.0, 1.5), "alert_time", "after the event"),
        (("00001", 0, "", ""), "id", "duplicate id"),
    ],
)
def test_bad_rows_are_named(tmp_path, row, field, fragment):
    folder = _nexar(tmp_path, [("00001", 1, 1.5, ""), row], videos=["00001", "00002"])
    with pytest.raises(ManifestError) as info:
        load_nexar(folder)
    problem = info.value.problems[0]
    assert problem.row == 2 and problem.field == field
    assert fragment in str(info.value) and "train.csv: row 2" in str(info.value)


def test_missing_and_corrupt_files_are_named(tmp_path):
    folder = _nexar(
        tmp_path, [("00001", 1, 1.5, ""), ("00002", 0, "", ""), ("00003", 0, "", "")], videos=["00001", "00002"]
    )
    (folder / "train" / "00002.mp4").write_bytes(b"\x00\x00\x00 ftypisom" + bytes(range(256)) * 8)
    with pytest.raises(ManifestError) as info:
        load_nexar(folder)
    msg = str(info.value)
    assert "row 2 (id='00002'), field 'path'" in msg and "00002.mp4" in msg
    assert "row 3 (id='00003'), field 'path': video file not found" in msg


def test_truncated_video_is_rejected(tmp_path):
    folder = _nexar(tmp_path, [("00001", 1, 1.5, ""), ("00002", 0, "", "")])
    victim = folder / "train" / "00002.mp4"
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(ManifestError, match=r"row 2 \(id='00002'\), field 'path'"):
        load_nexar(folder)


def test_skip_bad_rows_reports_instead_of_failing(tmp_path):
    folder = _nexar(tmp_path, [("00001", 1, 1.5, ""), ("00002", 7, "", "")])
    result = load_nexar(folder, skip_bad_rows=True)
    assert result.table["video_id"].to_list() == ["00001"]
    assert [(p.row, p.field) for p in result.skipped] == [(2, "label")]


def test_missing_column_names_the_file(tmp_path):
    folder = _nexar(tmp_path, [("00001", 1, 1.5, "")])
    (folder / "train.csv").write_text("id,label\n00001,1\n")
    with pytest.raises(ManifestError, match=r"train.csv: missing column\(s\) target, time_of_event, time_of_alert"):
        load_nexar(folder)


def test_generic_csv(tmp_path):
    clips = tmp_path / "clips"
    write_test_video(clips / "a.mp4")
    write_test_video(clips / "b.mp4")
    csv = tmp_path / "labels.csv"
    csv.write_text("path,label,event_time\nclips/a.mp4,1,1.2\nclips/b.mp4,0,\n")
    table = load_generic_csv(csv, dataset="mine").table
    assert sorted(table["video_id"].to_list()) == ["a", "b"]
    assert set(table["dataset"]) == {"mine"}
    shutil.rmtree(clips)
    with pytest.raises(ManifestError, match="labels.csv: row 1 .*video file not found"):
        load_generic_csv(csv, dataset="mine")


def test_manifest_records_counted_facts_and_the_backend(tmp_path):
    folder = _nexar(tmp_path, [("00001", 1, 1.5, "")])
    row = load_nexar(folder).table.row(0, named=True)
    assert (row["n_frames"], row["codec"], row["rotation"]) == (40, "h264", 0)
    assert row["fps"] == pytest.approx(20.0) and row["duration"] == pytest.approx(2.0)
    assert row["decode_backend"] in ("decord", "pyav") and row["decode_reason"]


def test_excel_bom_and_the_yaml_hint(tmp_path):
    folder = _nexar(tmp_path, [("00001", 1, 1.5, ""), ("00002", 0, "", "")])
    text = (folder / "train.csv").read_text()
    (folder / "train.csv").write_bytes("\ufeff".encode() + text.replace("00002,0", "00002,5").encode())
    with pytest.raises(ManifestError) as info:
        load_nexar(folder)
    assert [p.row for p in info.value.problems] == [2], "the BOM must not hide the id column"
    assert "`skip_bad_rows: true`" in str(info.value) and "skip_bad_rows=True" not in str(info.value)


def test_not_utf8_csv_names_the_file(tmp_path):
    folder = _nexar(tmp_path, [("00001", 1, 1.5, "")])
    (folder / "train.csv").write_bytes("id,target,time_of_event,time_of_alert\ncaf\xe9,1,1.5,\n".encode("latin-1"))
    with pytest.raises(ManifestError, match=r"train.csv: not UTF-8 text"):
        load_nexar(folder)


def test_every_rejected_row_is_listed_even_when_all_are(tmp_path):
    folder = _nexar(
        tmp_path, [("00001", 3, 1.5, ""), ("00002", 1, "", ""), ("00003", 0, "", "")], videos=["00001", "00002"]
    )
    with pytest.raises(ManifestError) as info:
        load_nexar(folder, skip_bad_rows=True)
    msg = str(info.value)
    assert "no usable videos: all 3 row(s) were rejected" in msg
    assert [(p.row, p.field) for p in info.value.problems] == [(1, "label"), (2, "event_time"), (3, "path")]
    assert "skip_bad_rows" not in msg, "the rows are already skipped: no hint to skip them"


def test_ids_from_file_names_are_made_safe_for_the_feature_store(tmp_path):
    from archsearch.data.rows import VIDEO_ID_RE
    from archsearch.features import FeatureStore, feature_key

    clips = tmp_path / "clips"
    names = ["crash clip é.mp4", "事故.mp4", "ok-01.mp4"]
    for k, name in enumerate(names):
        write_test_video(clips / name, n_frames=40 + k)
    csv = tmp_path / "labels.csv"
    csv.write_text("path,label,event_time\n" + "".join(f"clips/{n},1,1.0\n" for n in names), encoding="utf-8")
    result = load_generic_csv(csv, dataset="mine")
    ids = result.table["video_id"].to_list()
    assert ids[0] == "crash_clip_e" and ids[2] == "ok-01" and ids[1].startswith("id-")
    assert all(VIDEO_ID_RE.match(v) for v in ids)
    assert [(n.row, n.field) for n in result.notes] == [(1, "id"), (2, "id")]
    assert "normalised from 'crash clip é'" in str(result.notes[0])
    group = FeatureStore(tmp_path / "store").group(
        "mine",
        feature_key("t", "w", {}),
        attrs={"backbone": "t", "weights_digest": "w", "sampling": {}, "feature_rate": 5.0, "dim": 2},
    )
    for vid in ids:
        group.write(vid, "d", np.zeros((3, 2), np.float16), np.arange(3) / 5.0)


def test_clashing_normalised_ids_reject_the_later_row(tmp_path):
    clips = tmp_path / "clips"
    write_test_video(clips / "a b.mp4", n_frames=40)
    write_test_video(clips / "a_b.mp4", n_frames=41)
    csv = tmp_path / "labels.csv"
    csv.write_text("path,label,event_time\nclips/a b.mp4,1,1.0\nclips/a_b.mp4,0,\n")
    with pytest.raises(ManifestError, match=r"row 2 \(id='a_b'\), field 'id': duplicate id \(first seen at row 1\)"):
        load_generic_csv(csv, dataset="mine")


def test_one_file_in_two_datasets_is_probed_once(tmp_path, monkeypatch):
    from archsearch.config import parse_config
    from archsearch.data import clip_probe
    from archsearch.data.datasets import build_manifest

    clips = tmp_path / "clips"
    for i in range(40):
        write_test_video(clips / f"c{i:02d}.mp4", n_frames=40 + i)
    rows = "".join(f"clips/c{i:02d}.mp4,{i % 2},{1.5 if i % 2 else ''}\n" for i in range(40))
    for name in ("a", "b"):
        (tmp_path / f"{name}.csv").write_text("path,label,event_time\n" + rows)
    calls = []
    real = clip_probe.probe_video
    monkeypatch.setattr(clip_probe, "probe_video", lambda p, **kw: calls.append(p) or real(p, **kw))
    cfg = parse_config(
        {
            "datasets": [{"name": n, "kind": "csv", "path": str(tmp_path / f"{n}.csv")} for n in "ab"],
            "splits": {"seed": 3},
        }
    )
    build = build_manifest(cfg, tmp_path, strict=False)
    assert len(calls) == 40, "each file probed once for both datasets"
    m = build.manifest
    assert m.height == 80 and m.group_by("video_digest").len()["len"].to_list() == [2] * 40
    assert len(build.shared_files) == 40
    assert any(entry.endswith(": a/c00, b/c00") for entry in build.shared_files)


def test_duplicate_content_within_a_dataset_is_noted(tmp_path):
    folder = _nexar(tmp_path, [("00001", 1, 1.5, ""), ("00002", 0, "", "")])
    result = load_nexar(folder)
    assert [(n.row, n.field) for n in result.notes] == [(2, "path")]
    assert "same video content as row 1 (id='00001')" in str(result.notes[0])
