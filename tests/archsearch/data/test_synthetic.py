"""The embedded synthetic dashcam set: Nexar format, determinism, resumability, geometry, and
that no trivial global statistic gives the class away."""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path

import numpy as np
import pytest

from archsearch.data import synth as S
from archsearch.data.synth import (
    DEFAULT_SPECS,
    Camera,
    SyntheticSpec,
    generate_dataset,
    plan_dataset,
    project_points,
    render_frames,
    writer,
)

TINY = dict(n_videos=6, duration_s=3.0, fps=20.0, width=64, height=48)


def tiny(**kw) -> SyntheticSpec:
    return SyntheticSpec(name="tiny", **{**TINY, **kw})


def decode_all(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])  # (T, H, W, 3)


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("synth") / "tiny", tiny(), workers=1, progress=False)


# -- the spec ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", "a b"),
        ("variant", "top"),
        ("n_videos", 0),
        ("n_videos", 2.5),
        ("duration_s", 1.0),
        ("duration_s", 3.33),  # not a whole number of frames at 20 fps
        ("fps", 0),
        ("fps", 12.5),
        ("width", 63),
        ("height", 10),
        ("positive_fraction", 1.5),
        ("near_miss_fraction", -0.1),
        ("difficulty", 2),
        ("seed", -1),
        ("seed", True),
    ],
)
def test_spec_validation_names_the_field(field, value):
    with pytest.raises(ValueError, match=f"field '{field}'"):
        SyntheticSpec(**{"name": "x", field: value})


def test_spec_accepts_ints_for_floats_and_short_clips():
    spec = SyntheticSpec(name="x", duration_s=2, fps=20)
    assert spec.duration_s == 2.0 and isinstance(spec.duration_s, float)
    assert spec.n_frames == 40
    lo, hi = spec.event_window
    assert (lo, hi) == pytest.approx((1.6, 1.7))  # >= 0.3 s left after the event
    # Long enough clips give every anchor the views' full 6.5 s of history (archsearch.data.anchors).
    assert SyntheticSpec(name="x", duration_s=7.0).event_window == pytest.approx((6.6, 6.7))
    assert SyntheticSpec(name="x", duration_s=10.0).event_window == pytest.approx((6.6, 9.7))


def test_default_specs():
    assert set(DEFAULT_SPECS) == {"synth_front", "synth_side"}
    front, side = DEFAULT_SPECS["synth_front"], DEFAULT_SPECS["synth_side"]
    assert (front.variant, front.n_videos, front.seed) == ("front", 560, 0)
    assert (side.variant, side.n_videos, side.seed) == ("side", 520, 1)
    assert (front.duration_s, front.fps, front.width, front.height) == (7.0, 10.0, 256, 144)
    # The dataset loader rebuilds specs from __dict__ plus YAML overrides.
    assert SyntheticSpec(**{**front.__dict__, "n_videos": 8}).n_videos == 8


# -- labels and timing (planning only: cheap) ----------------------------------------------------


@pytest.mark.parametrize(
    "n, pos, near, expected", [(10, 0.3, 0.5, (3, 4, 3)), (7, 1.0, 0.5, (7, 0, 0)), (5, 0.0, 0.0, (0, 0, 5))]
)
def test_class_counts_are_exact(n, pos, near, expected):
    spec = SyntheticSpec(name="x", n_videos=n, positive_fraction=pos, near_miss_fraction=near, duration_s=3.0)
    counts = collections.Counter(p.scenario for p in plan_dataset(spec))
    assert (counts["collision"], counts["near_miss"], counts["normal"]) == expected


@pytest.mark.parametrize("variant, n", [("front", 48), ("side", 36)])
def test_event_alert_and_anchor_times(variant, n):
    spec = SyntheticSpec(name="x", variant=variant, n_videos=n, seed=3)
    lo, hi = spec.event_window
    plans = plan_dataset(spec)
    assert {p.scenario for p in plans} == {"collision", "near_miss", "normal"}
    for p in plans:
        assert lo <= p.anchor_time <= hi, p
        if p.scenario == "collision":
            assert p.event_time == p.anchor_time and p.min_distance_m == 0.0
            assert 0.0 <= p.alert_time < p.event_time, p
            assert p.closest_approach_time is None
        else:
            assert p.event_time is None and p.alert_time is None
            assert p.min_distance_m > 0
        if p.scenario == "near_miss":  # a real near miss: close, not just passing by
            assert p.closest_approach_time == p.anchor_time
            assert p.min_distance_m <= S.NEAR_MISS_M
    # Alerts are human-like: mostly 1-3 s ahead, never after the event.
    leads = np.array([p.event_time - p.alert_time for p in plans if p.target])
    assert np.median(leads) > 0.8


@pytest.mark.parametrize("variant", ["front", "side"])
def test_lighting_and_weather_are_independent_of_the_class(variant):
    """Night and rain follow the variant's shares in every class (a chi-square test of independence)."""
    from scipy.stats import chi2_contingency

    plans = plan_dataset(SyntheticSpec(name="x", variant=variant, n_videos=600, duration_s=3.0))
    for attribute in ("lighting", "weather"):
        levels = sorted({getattr(p, attribute) for p in plans})
        table = [
            [sum(p.scenario == s and getattr(p, attribute) == lv for p in plans) for lv in levels]
            for s in ("collision", "near_miss", "normal")
        ]
        if len(levels) > 1:
            assert chi2_contingency(table).pvalue > 0.001, (variant, attribute, table)


# -- the files -----------------------------------------------------------------------------------


def test_csv_is_exactly_nexar(tiny_set):
    lines = (tiny_set / "train.csv").read_text().split("\n")
    assert lines[0] == "id,target,time_of_event,time_of_alert"
    assert lines[-1] == ""  # newline-terminated, no blank rows
    rows = lines[1:-1]
    assert [r.split(",")[0] for r in rows] == [f"{i:05d}" for i in range(6)]
    spec = tiny()
    lo, hi = spec.event_window
    n_pos = 0
    for r in rows:
        assert re.fullmatch(r"\d{5},[01],(\d+\.\d{3})?,(\d+\.\d{3})?", r), r
        _, target, event, alert = r.split(",")
        if target == "1":
            n_pos += 1
            assert lo <= float(event) <= hi and float(event) <= spec.duration_s - 0.3
            assert 0.0 <= float(alert) < float(event)
        else:
            assert event == "" and alert == ""
    assert n_pos == 3


def test_videos_and_metadata(tiny_set):
    meta = json.loads((tiny_set / "synthetic.json").read_text())
    assert meta["complete"] is True and meta["spec"] == tiny().to_dict()
    assert [v["id"] for v in meta["videos"]] == [f"{i:05d}" for i in range(6)]
    assert collections.Counter(v["scenario"] for v in meta["videos"]) == {"collision": 3, "near_miss": 2, "normal": 1}
    for v in meta["videos"]:
        assert (v["closest_approach_time"] is not None) == (v["scenario"] == "near_miss")
        assert v["lighting"] in ("day", "dusk", "night")
    frames = decode_all(tiny_set / "train" / "00000.mp4")
    assert frames.shape == (60, 48, 64, 3)
    assert S.video_is_complete(tiny_set / "train" / "00000.mp4", 60)
    assert not S.video_is_complete(tiny_set / "train" / "00000.mp4", 61)
    assert not list((tiny_set / "train").glob(".*"))  # no temp files left behind


def test_determinism_across_runs_and_worker_counts(tmp_path, tiny_set):
    # The module fixture rendered in-process; this run uses two worker processes.
    other = generate_dataset(tmp_path / "again", tiny(), workers=2, progress=False)
    assert (other / "train.csv").read_bytes() == (tiny_set / "train.csv").read_bytes()
    assert (other / "synthetic.json").read_bytes() == (tiny_set / "synthetic.json").read_bytes()
    for i in range(6):
        a, b = (d / "train" / f"{i:05d}.mp4" for d in (tiny_set, other))
        assert np.array_equal(decode_all(a), decode_all(b)), i
        assert a.read_bytes() == b.read_bytes(), i


def test_video_k_does_not_depend_on_the_others():
    a = S.build_clip(tiny(n_videos=6), 2, "collision").plan
    b = S.build_clip(tiny(n_videos=50), 2, "collision").plan
    assert a == b


def test_resume_regenerates_only_missing_or_broken(tmp_path, monkeypatch):
    out = generate_dataset(tmp_path / "d", tiny(), workers=1, progress=False)
    train = out / "train"
    original = (train / "00002.mp4").read_bytes()
    (train / "00002.mp4").unlink()
    (train / "00004.mp4").write_bytes(b"not a video")  # e.g. a foreign or damaged file
    (train / ".00001.99999999.tmp.mp4").write_bytes(b"half")  # left by a killed run (no such pid)
    stamps = {p.name: p.stat().st_mtime_ns for p in train.glob("[0-9]*.mp4")}
    rendered = []
    real = writer.write_video
    monkeypatch.setattr(writer, "write_video", lambda spec, i, d: rendered.append(i) or real(spec, i, d))
    generate_dataset(out, tiny(), workers=1, progress=False)
    assert rendered == [2, 4]
    assert (train / "00002.mp4").read_bytes() == original
    assert not (train / ".00001.99999999.tmp.mp4").exists()
    for name, stamp in stamps.items():
        if name != "00004.mp4":
            assert (train / name).stat().st_mtime_ns == stamp, name
    rendered.clear()
    generate_dataset(out, tiny(), workers=1, progress=False)
    assert rendered == []


def test_other_settings_in_the_same_folder_are_refused(tiny_set):
    with pytest.raises(ValueError, match="'seed'"):
        generate_dataset(tiny_set, tiny(seed=5), workers=1, progress=False)


def test_a_foreign_dataset_folder_is_never_overwritten(tmp_path):
    (tmp_path / "train.csv").write_text("id,target,time_of_event,time_of_alert\n00001,1,19.5,18.1\n")
    with pytest.raises(ValueError, match="not a synthetic dataset"):
        generate_dataset(tmp_path, tiny(), workers=1, progress=False)
    assert (tmp_path / "train.csv").read_text().endswith("18.1\n")


# -- geometry ------------------------------------------------------------------------------------


def test_projection_size_is_inverse_distance():
    cam = Camera(256, 144, fov_deg=80.0, height_m=1.3, pitch_deg=0.0, hood_m=2.0)
    for Z in (3.0, 5.0, 10.0, 20.0, 40.0):
        u, _v, depth = project_points(cam, [-0.9, 0.9], [0.6, 0.6], [Z, Z])
        assert u[1] - u[0] == pytest.approx(cam.f * 1.8 / Z, rel=1e-9)
        assert depth == pytest.approx([Z, Z])
    # With the camera pitched down the relation holds to within the small pitch correction.
    cam = Camera(256, 144, fov_deg=80.0, height_m=1.3, pitch_deg=3.0, hood_m=2.0)
    widths = [np.diff(project_points(cam, [-0.9, 0.9], [0.6, 0.6], [Z, Z])[0])[0] * Z for Z in (4.0, 8.0, 16.0, 32.0)]
    assert np.ptp(widths) / np.mean(widths) < 0.01
    # The horizon sits f * tan(pitch) above the image centre; points on the road lie below it.
    _, v_far, _ = project_points(cam, [0.0], [1.3], [1e6])
    assert v_far[0] == pytest.approx(cam.cy - cam.f * np.tan(np.radians(3.0)), abs=1e-3)
    _, v_road, _ = project_points(cam, [0.0], [0.0], [30.0])
    assert v_road[0] > v_far[0]


def test_collision_actor_looms_like_one_over_distance():
    spec = SyntheticSpec(name="x", n_videos=40, seed=11)
    checked = 0
    for i, scenario in enumerate(S.assign_scenarios(spec)):
        if scenario != "collision":
            continue
        clip = S.build_clip(spec, i, scenario)
        if clip.plan.family not in ("lead_brake", "stopped_ahead", "cut_in"):
            continue
        sc, actor = clip.scene, clip.scene.vehicles[0]
        L, W, _ = actor.size
        k_event = int(clip.plan.event_time * spec.fps)
        ks = np.arange(k_event - int(1.5 * spec.fps), k_event)
        gap = actor.p[ks] - L / 2  # distance to its rear face
        widths = []
        for k in ks:
            X = actor.x[k] - sc.ego_x[k] + 0.5 * sc.road.curvature * actor.p[k] ** 2
            u, _, _ = project_points(sc.camera, [X - W / 2, X + W / 2], [0.6, 0.6], [gap[k - ks[0]]] * 2)
            widths.append(u[1] - u[0])
        widths = np.array(widths)
        assert np.all(np.diff(widths) > 0), clip.plan  # it keeps growing up to contact
        far = gap > 3.0
        ratio = widths[far] * gap[far] / (sc.camera.f * W)
        assert np.allclose(ratio, 1.0, atol=0.05), clip.plan
        checked += 1
    assert checked >= 3


def test_jolt_only_from_contact_on():
    rng = np.random.default_rng(0)
    t = np.arange(200) / 20.0
    v = np.full(200, 12.0)
    m = S.camera_motion(t, v, 1.0, 7.3, 1.0, rng)
    assert np.all(m["jolt_pitch"][t < 7.3] == 0) and np.all(m["jolt_yaw"][t < 7.3] == 0)
    assert np.abs(m["jolt_pitch"][(t >= 7.3) & (t < 7.5)]).max() >= 0.9 * S.JOLT_MIN_DEG
    assert np.abs(m["bumps"]).max() <= S.BUMP_MAX_DEG  # bumps are distractors, smaller than a crash
    none = S.camera_motion(t, v, 1.0, None, 1.0, np.random.default_rng(0))
    assert not none["jolt_pitch"].any() and not none["jolt_yaw"].any()


# -- not trivially separable ---------------------------------------------------------------------


def _global_features(frames: np.ndarray) -> tuple[float, float]:
    """Mean brightness and mean absolute frame difference of (T, H, W, 3) frames."""
    gray = frames.astype(np.float32).mean(axis=3)
    return float(gray.mean()), float(np.abs(np.diff(gray, axis=0)).mean())


def _trivial_aps(y: np.ndarray, feats: np.ndarray) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score
    from sklearn.model_selection import cross_val_predict

    aps = {}
    for j, name in enumerate(("brightness", "frame_diff")):
        # either direction: a feature that *anti*-correlates would be just as much of a giveaway
        aps[name] = max(average_precision_score(y, feats[:, j]), average_precision_score(y, -feats[:, j]))
    z = (feats - feats.mean(0)) / (feats.std(0) + 1e-9)
    p = cross_val_predict(LogisticRegression(), z, y, cv=4, method="predict_proba")[:, 1]
    aps["logistic"] = average_precision_score(y, p)
    return aps


def test_trivial_global_features_do_not_separate_classes_fast():
    """Frames up to 0.5 s before the event (or a negative's anchor), 40 small default-length clips."""
    spec = SyntheticSpec(name="x", n_videos=40, width=64, height=48, seed=7)
    y, feats = [], []
    for i, scenario in enumerate(S.assign_scenarios(spec)):
        clip = S.build_clip(spec, i, scenario)
        end = int((clip.plan.anchor_time - 0.5) * spec.fps)
        frames = []
        for k, f in enumerate(render_frames(clip.scene)):
            if k >= end:
                break
            frames.append(f)
        y.append(clip.plan.target)
        feats.append(_global_features(np.stack(frames)))
    aps = _trivial_aps(np.array(y), np.array(feats))
    assert max(aps.values()) < 0.85, aps


@pytest.mark.slow
def test_trivial_global_features_do_not_separate_classes_on_decoded_videos(tmp_path):
    """The same check through the real path: encode, write, decode; 120 clips at 128x72."""
    spec = SyntheticSpec(name="sep", n_videos=120, width=128, height=72, seed=2)
    out = generate_dataset(tmp_path / "sep", spec, progress=False)
    meta = json.loads((out / "synthetic.json").read_text())["videos"]
    y, feats = [], []
    for v in meta:
        frames = decode_all(out / "train" / f"{v['id']}.mp4")
        end = int((v["anchor_time"] - 0.5) * spec.fps)
        y.append(v["target"])
        feats.append(_global_features(frames[:end]))
    aps = _trivial_aps(np.array(y), np.array(feats))
    assert max(aps.values()) < 0.85, aps


def test_a_family_that_cannot_make_the_outcome_gives_way_to_the_others_of_its_class():
    """At difficulty 0 a collision must overlap the ego by 0.8 m, which clip 103's cut-out never does in its
    draws: the clip comes from the class's other families instead of failing the dataset."""
    from archsearch.data.synth.simulate import choose, simulate
    from archsearch.data.synth.spec import video_rng
    from archsearch.data.synth.variants import FAMILIES

    easy = SyntheticSpec(name="x", n_videos=560, duration_s=7.0, fps=10.0, difficulty=0.0, seed=0)
    assert choose(video_rng(easy, 103, 0), FAMILIES["front"]["collision"]) == "cut_out"  # the first family drawn
    _, situation, r_event, _ = simulate(easy, 103, "collision")
    assert situation.family in FAMILIES["front"]["collision"] and situation.family != "cut_out"
    assert r_event > 0


@pytest.mark.parametrize("name", ["synth_front", "synth_side"])
def test_a_collision_is_in_the_picture_at_the_end_of_every_anticipation_window(name):
    """Checked through the renderer's camera, not the generator's own rule: at anchor - 0.5 / 1.0 / 1.5 s some
    corner of the other vehicle's footprint projects inside the image, in front of the camera. (Fast cross
    traffic on a collision course holds a constant bearing that can lie outside a 90 deg view: such draws
    are rejected, else about half of synth_side's crossing collisions would be invisible until contact.)"""
    from archsearch.data.synth.camera import project_points
    from archsearch.data.synth.clip import build_clip
    from archsearch.data.synth.spec import assign_scenarios

    spec = DEFAULT_SPECS[name]
    collisions = [i for i, s in enumerate(assign_scenarios(spec)) if s == "collision"][:24]
    families = collections.Counter()
    for i in collisions:
        clip = build_clip(spec, i)
        sc, actor = clip.scene, clip.scene.vehicles[0]
        families[clip.plan.family] += 1
        L, W, _ = actor.size
        for h in (0.5, 1.0, 1.5):
            k = int(round((clip.plan.anchor_time - h) * spec.fps))
            c, s = np.cos(actor.heading[k]), np.sin(actor.heading[k])
            corners = [(dl * L / 2, dw * W / 2) for dl in (-1, 1) for dw in (-1, 1)]
            x = [actor.x[k] - sc.ego_x[k] + dl * s + dw * c for dl, dw in corners]  # heading +pi/2: moving right
            p = [actor.p[k] + dl * c - dw * s for dl, dw in corners]
            X = np.array(x) + 0.5 * sc.road.curvature * np.array(p) ** 2
            u, _, z = project_points(sc.camera, X, np.zeros(4), np.array(p))
            inside = (z > 0) & (u >= 0) & (u < sc.camera.width)
            assert inside.any(), f"{name} clip {i} ({clip.plan.family}): actor out of view {h} s before the event"
    assert len(families) >= 2, families  # more than one situation family was checked
