"""Loading Nexar folders and generic CSVs: valid rows load, every bad row is named."""

from __future__ import annotations

import shutil

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
    folder = _nexar(tmp_path, [("00001", 1, 1.5, ""), ("00002", 0, "", ""), ("00003", 0, "", "")], videos=["00001", "00002"])
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
