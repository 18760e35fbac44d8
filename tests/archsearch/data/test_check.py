"""check-data on the embedded datasets (small n) and on a folder with bad rows and awkward clips."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import polars as pl
import pytest

from archsearch.config import ConfigError, parse_config
from archsearch.data.check import check_data
from tests.archsearch.data.test_container_cases import X264, write
from tests.conftest import write_test_video


def test_check_data_on_the_embedded_datasets(tmp_path):
    small = {"n_videos": 12, "duration_s": 3.0, "width": 64, "height": 48}
    cfg = parse_config(
        {"datasets": [{"name": n, "kind": "synthetic", "synthetic": small} for n in ("synth_front", "synth_side")]}
    )
    check = check_data(cfg, tmp_path)
    clips = check.clips
    assert clips.height == 24 and set(clips["dataset"]) == {"synth_front", "synth_side"}
    assert (clips["fps"] == 10.0).all() and (clips["n_frames"] == 30).all() and (clips["duration"] == 3.0).all()
    assert clips["decode_reason"].str.len_chars().min() > 0 and clips["split"].is_not_null().all()
    text = check.render()
    for dataset in ("synth_front", "synth_side"):
        assert f"dataset {dataset} (12 clips)" in text
    first = clips.sort("dataset", "video_id").row(0, named=True)
    line = next(ln for ln in text.splitlines() if ln.strip().startswith(first["video_id"]))
    for value in (
        f"{first['anchor_time']:.3f}",
        first["split"],
        "10.000",
        "3.000",
        "30",
        "64x48",
        "h264",
        first["decode_backend"],
    ):
        assert value in line
    assert "backend reasons:" in text and "anchor reasons:" in text and "summary:" in text
    summary = check.summary()
    assert summary["clips"] == 24 and sum(summary["backends"].values()) == 24
    counts = summary["datasets"]["synth_front"]
    assert sum(c["positives"] + c["negatives"] for c in counts.values()) == 12
    # 12 clips cannot fill three splits with both classes: the check says so instead of failing
    assert (
        check.problems
        and "every split needs both classes" in text
        and text.rstrip().endswith("NOT ok: fix the problems and rejected rows above")
    )
    assert "rankings on this split are mostly noise" in text


def _messy_folder(root: Path) -> Path:
    folder = root / "nexar"
    train = folder / "train"
    train.mkdir(parents=True)
    good = [f"{i:05d}" for i in range(40)]
    for k, vid in enumerate(good):
        write_test_video(train / f"{vid}.mp4", n_frames=60 + k, fps=20)
    # an editor's trimmed cut (edit list) and a phone clip with rotation metadata
    write(train / "trimmed.mp4", list(range(-40, 80)), Fraction(1, 20), 20, options=X264)
    write(train / "rotated.mp4", list(range(60)), Fraction(1, 20), 20, options={"crf": "20"}, rotation=90)
    data = (train / "00001.mp4").read_bytes()
    (train / "broken.mp4").write_bytes(data[: len(data) // 2])
    rows = [f"{vid},{k % 2},{'2.5' if k % 2 else ''}," for k, vid in enumerate(good)]
    rows += ["trimmed,1,2.0,", "rotated,0,,", "broken,0,,", "missing,1,2.0,", "00050,7,,", "toolate,1,99,"]
    write_test_video(train / "toolate.mp4", n_frames=60, fps=20)
    (folder / "train.csv").write_text("id,target,time_of_event,time_of_alert\n" + "\n".join(rows) + "\n")
    return folder


def test_check_data_on_a_folder_with_bad_rows(tmp_path):
    folder = _messy_folder(tmp_path)
    cfg = parse_config({"datasets": [{"name": "mine", "kind": "nexar", "path": str(folder)}], "splits": {"seed": 16}})
    check = check_data(cfg, tmp_path / "roots")
    rejected = {p.video_id: (p.field, p.message) for p in check.rejected}
    assert set(rejected) == {"broken", "missing", "00050", "toolate"}
    assert rejected["missing"][0] == "path" and "video file not found" in rejected["missing"][1]
    assert rejected["00050"][0] == "label" and rejected["toolate"][0] == "event_time"
    assert rejected["broken"][0] == "path" and "broken.mp4" in rejected["broken"][1]
    clips = {r["video_id"]: r for r in check.clips.iter_rows(named=True)}
    assert clips["trimmed"]["decode_backend"] == "pyav" and clips["trimmed"]["n_frames"] == 80
    assert any("edit list trims 40 packet(s)" in w for w in clips["trimmed"]["warnings"])
    assert clips["rotated"]["decode_backend"] == "pyav" and (clips["rotated"]["width"], clips["rotated"]["height"]) == (
        48,
        64,
    )
    text = check.render()
    for vid in rejected:
        assert f"(id={vid!r})" in text
    assert "rejected rows:" in text and "! decoded with PyAV: edit list trims 40 packet(s)" in text
    assert not check.ok


def test_check_data_when_every_row_is_rejected(tmp_path):
    folder = tmp_path / "nexar"
    (folder / "train").mkdir(parents=True)
    (folder / "train.csv").write_text("id,target,time_of_event,time_of_alert\n00001,2,,\n00002,1,,\n")
    cfg = parse_config({"datasets": [{"name": "empty", "kind": "nexar", "path": str(folder)}]})
    check = check_data(cfg, tmp_path)
    assert check.clips.height == 0 and [p.row for p in check.rejected] == [1, 2]
    assert "no usable videos: all 2 row(s) were rejected" in check.problems[0]
    text = check.render()
    assert "row 1 (id='00001'), field 'label'" in text and "row 2 (id='00002'), field 'event_time'" in text


def test_check_data_names_one_dataset(tmp_path):
    folder = _messy_folder(tmp_path)
    cfg = parse_config(
        {
            "datasets": [
                {"name": "mine", "kind": "nexar", "path": str(folder)},
                {"name": "other", "kind": "csv", "path": str(tmp_path / "nope.csv")},
            ]
        }
    )
    check = check_data(cfg, tmp_path, datasets=["mine"])
    assert set(check.clips["dataset"]) == {"mine"}
    with pytest.raises(ConfigError, match="no dataset named 'nah'"):
        check_data(cfg, tmp_path, datasets=["nah"])


@pytest.mark.parametrize(
    "raw, fragment",
    [
        ({"backend": "opencv"}, "decode.backend: expected one of"),
        ({"backend": "auto", "threads": 2}, "decode.threads: unknown key; allowed: backend"),
        ("pyav", "decode: expected a mapping"),
    ],
)
def test_decode_config_errors_name_the_key(raw, fragment):
    with pytest.raises(ConfigError) as info:
        parse_config({"datasets": [{"name": "x", "kind": "synthetic"}], "decode": raw})
    assert fragment in str(info.value)


def test_decode_backend_from_the_config_reaches_the_manifest(tmp_path):
    folder = tmp_path / "nexar"
    for i in range(2):
        write_test_video(folder / "train" / f"{i:05d}.mp4", n_frames=40 + i)
    (folder / "train.csv").write_text("id,target,time_of_event,time_of_alert\n00000,1,1.5,\n00001,0,,\n")
    cfg = parse_config(
        {"datasets": [{"name": "nx", "kind": "nexar", "path": str(folder)}], "decode": {"backend": "pyav"}}
    )
    clips = check_data(cfg, tmp_path).clips
    assert clips.select(pl.col("decode_backend").unique()).item() == "pyav"
    assert set(clips["decode_reason"]) == {"decode.backend is pyav"}
