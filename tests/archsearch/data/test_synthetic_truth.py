"""Ground truth of the embedded benchmark: every cue written per frame, consistent with the labels, and
the label committed before every anticipation window ends (an oracle on the true trajectories wins)."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from archsearch.data.anchors import match_anchors
from archsearch.data.splits import assign_splits
from archsearch.data.synth import SyntheticSpec, assign_scenarios, build_clip, generate_dataset, plan_dataset
from archsearch.data.synth.simulate import ANCHOR_AFTER_DECISION_S, NEAR_MISS_M, margins
from archsearch.data.synth.truth import CUES, TRUTH_FILE, clip_truth, read_truth
from archsearch.data.synth.variants import CAMERAS


def spec(**kw) -> SyntheticSpec:
    return SyntheticSpec(**{"name": "truth", "n_videos": 48, "duration_s": 7.0, "fps": 10.0, "seed": 5, **kw})


def test_truth_file_has_every_cue_of_every_frame(tmp_path):
    small = SyntheticSpec(name="t", n_videos=4, duration_s=3.0, fps=10.0, width=64, height=48)
    out = generate_dataset(tmp_path / "t", small, workers=1, progress=False)
    truth = read_truth(out / TRUTH_FILE)
    assert sorted(truth) == [f"{i:05d}" for i in range(4)]
    for times, cues in truth.values():
        assert cues.shape == (small.n_frames, len(CUES)) and np.isfinite(cues).all()
        assert times == pytest.approx(np.arange(small.n_frames) / small.fps)
    with pytest.raises(ValueError, match="missing column"):
        (tmp_path / "bad.csv").write_text("id,frame\n00000,0\n")
        read_truth(tmp_path / "bad.csv")


@pytest.mark.parametrize("variant", ["front", "side"])
def test_truth_agrees_with_the_labels(variant):
    s = spec(variant=variant)
    collisions, touching = 0, 0
    for i, scenario in enumerate(assign_scenarios(s)):
        clip = build_clip(s, i, scenario)
        plan = clip.plan
        gap = clip_truth(clip, CAMERAS[variant], s.fps)["gap_m"]  # (T,)
        t = np.arange(s.n_frames) / s.fps
        before = t < plan.anchor_time - 0.05
        assert (gap[before] > 0).all(), plan  # nothing touches before the anchor
        if scenario == "collision":
            # Contact falls between frames and the vehicles part after it, so the frames around the
            # event show a gap of a few decimetres at most.
            collisions += 1
            touching += gap[np.abs(t - plan.anchor_time) <= 0.15].min() <= 0.3
        if scenario == "near_miss":
            k = int(round(plan.anchor_time * s.fps))
            assert gap[k] == pytest.approx(plan.min_distance_m, abs=0.35), plan
    assert collisions >= 10 and touching >= 0.9 * collisions, (touching, collisions)


@pytest.mark.parametrize("variant", ["front", "side"])
def test_outcomes_are_committed_two_to_four_seconds_ahead_with_margins(variant):
    s = spec(variant=variant, n_videos=60)
    clearance, _ = margins(s.difficulty)
    lo, hi = ANCHOR_AFTER_DECISION_S
    for p in plan_dataset(s):
        if p.scenario != "normal":
            assert lo - 1e-6 <= p.anchor_time - p.decision_time <= hi + 1e-6, p
        if p.scenario == "near_miss":
            assert clearance <= p.min_distance_m <= NEAR_MISS_M, p


def test_weather_and_lighting_do_not_depend_on_the_class():
    plans = plan_dataset(spec(n_videos=160, duration_s=3.0))
    for scenario in ("collision", "near_miss", "normal"):
        rain = np.mean([p.weather == "rain" for p in plans if p.scenario == scenario])
        assert 0.2 < rain < 0.6, (scenario, rain)  # front: 40 % of clips are driven in rain


@pytest.mark.parametrize("variant", ["front", "side"])
def test_an_oracle_on_the_true_trajectories_wins(variant):
    """Fitted on half of 240 clips, scored on the other half: the label is in the trajectories up to
    anchor - 1.5 s (the calibration's oracle reaches >= 0.95 at the default scale)."""
    from bench.calibration.oracle import oracle_scores
    from bench.calibration.stats import Split

    s = spec(variant=variant, n_videos=240)
    clips = [build_clip(s, i, sc) for i, sc in enumerate(assign_scenarios(s))]
    truth = {
        c.plan.id: (
            np.arange(s.n_frames) / s.fps,
            np.stack([clip_truth(c, CAMERAS[variant], s.fps)[k] for k in CUES], 1),
        )
        for c in clips
    }
    table = pl.DataFrame(
        [
            {
                "dataset": "d",
                "video_id": c.plan.id,
                "label": c.plan.target,
                "event_time": c.plan.event_time,
                "duration": s.duration_s,
            }
            for c in clips
        ],
        schema={
            "dataset": pl.String,
            "video_id": pl.String,
            "label": pl.Int8,
            "event_time": pl.Float64,
            "duration": pl.Float64,
        },
    )
    given = {("d", c.plan.id): c.plan.anchor_time for c in clips if not c.plan.target}
    rows = assign_splits(match_anchors(table, 0, given).table, (0.5, 0.0, 0.5), 0)
    scores, y, h, v = oracle_scores(truth, rows)
    assert Split.build(y, h, v, 0).maps(scores)[0] >= 0.9
    pooled = oracle_scores(truth, rows, pooled=True)
    assert Split.build(*pooled[1:], 0).maps(pooled[0])[0] < 0.95  # where and how large alone: not enough


def test_metadata_records_the_new_ground_truth(tmp_path):
    small = SyntheticSpec(name="m", n_videos=3, duration_s=3.0, fps=10.0, width=64, height=48)
    out = generate_dataset(tmp_path / "m", small, workers=1, progress=False)
    for v in json.loads((out / "synthetic.json").read_text())["videos"]:
        assert v["weather"] in ("dry", "rain") and v["decision_time"] < v["anchor_time"]
