"""Anticipation windows (never a feature later than anchor - h, left padding) and head training (schedule,
determinism, early stopping restores the best epoch, every encoder x pooling learns above chance)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import models.training as training
from models.heads import ENCODERS, POOLINGS, HeadConfig, build_head
from models.metrics import average_precision
from models.training import (
    TrainConfig,
    TrainConfigError,
    _tensors,
    evaluate,
    lr_at,
    plain_logits,
    projected_logits,
    resolve_pos_weight,
    train_head,
)
from models.windows import HORIZONS_MS, TIME_TOLERANCE_S, WindowError, build_windows, window_indices

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def index_features(n_steps: int, dim: int = 3, video: int = 0) -> np.ndarray:
    """Features whose every channel holds 1000 * video + step + 1, so a window shows which rows it took."""
    return np.repeat((1000 * video + np.arange(n_steps) + 1.0)[:, None], dim, axis=1).astype(np.float32)


# ---------------------------------------------------------------------------------------------- windows


def test_windows_end_at_the_last_step_before_anchor_minus_horizon():
    times = np.arange(50) * 0.2  # 5 Hz; 28 * 0.2 = 5.6000000000000005, a rounding trap
    feats = {"a": (index_features(50), times)}
    w = build_windows(feats, ["a"], [1], [6.1], window_length=4)
    # cutoffs 5.6, 5.1, 4.6 s -> last steps 28 (5.6 s), 25 (5.0 s), 23 (4.6 s)
    assert w.horizon_ms.tolist() == [500, 1000, 1500]
    assert w.x[:, :, 0].tolist() == [[26, 27, 28, 29], [23, 24, 25, 26], [21, 22, 23, 24]]  # step + 1
    assert w.mask.all()
    np.testing.assert_allclose(w.end_time, [5.6, 5.0, 4.6])
    assert w.y.tolist() == [1.0, 1.0, 1.0] and w.video_id.tolist() == ["a"] * 3
    assert w.x.dtype == np.float32 and w.y.dtype == np.float32
    assert len(w.rows) == 9 and w.rows[:, 0].tolist() == list(range(21, 30))  # steps 20..28, each stored once


def test_windows_never_include_a_later_feature_property():
    """Random irregular (even repeated) times, anchors, lengths: each window is exactly the last
    min(L, #eligible) steps with time <= anchor - h, left-padded, and nothing later."""
    rng = np.random.default_rng(0)
    for trial in range(200):
        n_videos = int(rng.integers(1, 6))
        L = int(rng.integers(1, 10))
        feats, anchors = {}, []
        for v in range(n_videos):
            T = int(rng.integers(0, 30))
            times = np.sort(np.round(rng.uniform(0, 6, T), int(rng.integers(1, 4))))  # rounding makes ties
            feats[f"v{v}"] = (index_features(T, video=v), times)
            anchors.append(
                float(rng.choice(times)) + rng.choice([0.0, 0.5, 1.0, 1.5])
                if T and rng.random() < 0.5
                else float(rng.uniform(-1, 8))
            )
        ids = list(feats)
        w = build_windows(feats, ids, rng.integers(0, 2, n_videos), anchors, L)
        assert len(w) == n_videos * len(HORIZONS_MS)  # every video at every horizon
        for r in range(len(w)):
            vid, h = w.video_id[r], int(w.horizon_ms[r])
            v = ids.index(vid)
            times = feats[vid][1]
            cutoff = anchors[v] - h / 1000.0
            eligible = [k for k in range(len(times)) if times[k] <= cutoff + TIME_TOLERANCE_S]
            want = eligible[-L:]
            got = [int(round(x)) - 1 - 1000 * v for x in w.x[r, w.mask[r], 0]]
            assert got == want, (trial, r)
            assert all(times[k] <= cutoff + TIME_TOLERANCE_S for k in got)
            n = len(want)
            assert w.mask[r].tolist() == [False] * (L - n) + [True] * n  # left padding only
            assert (w.x[r, ~w.mask[r]] == 0).all()
            if n:
                assert w.end_time[r] == times[want[-1]]
            else:
                assert math.isnan(w.end_time[r])


def test_short_history_is_left_padded_and_no_history_is_fully_masked():
    times = np.arange(10) * 0.2
    feats = {"early": (index_features(10), times), "none": (index_features(10, video=1), times)}
    w = build_windows(feats, ["early", "none"], [0, 1], [1.0, 0.3], window_length=5)
    # early: cutoff 0.5 s -> steps 0, 1, 2 valid; 0.0 s -> step 0; -0.5 s -> nothing
    assert w.mask[:3].tolist() == [[False, False, True, True, True], [False] * 4 + [True], [False] * 5]
    assert w.x[0, :, 0].tolist() == [0, 0, 1, 2, 3] and (w.x[2] == 0).all()
    assert not w.mask[3:].any() and np.isnan(w.end_time[3:]).all()  # anchor 0.3 s: no step before 0.3 - h
    assert w.video_id.tolist() == ["early"] * 3 + ["none"] * 3


def test_window_indices_and_errors():
    np.testing.assert_array_equal(
        window_indices(np.array([0.0, 1.0, 2.0]), np.array([1.5, -1.0]), 2), [[0, 1], [-1, -1]]
    )
    feats = {"a": (index_features(5), np.arange(5.0))}
    with pytest.raises(WindowError, match=r"no features for 1 video\(s\), e.g. \['b'\]"):
        build_windows(feats, ["a", "b"], [0, 1], [3.0, 3.0], 4)
    with pytest.raises(WindowError, match="labels must be 0 or 1"):
        build_windows(feats, ["a"], [2], [3.0], 4)
    with pytest.raises(WindowError, match="video 'a', field 'anchor_time'"):
        build_windows(feats, ["a"], [1], [float("nan")], 4)
    with pytest.raises(WindowError, match="window_length"):
        build_windows(feats, ["a"], [1], [3.0], 0)


# ---------------------------------------------------------------------------------------------- training


def learnable_windows(
    n_videos: int, dim: int = 8, steps: int = 16, signal: float = 2.0, seed: int = 0, window_length: int = 6
):
    """Windows of a toy task: positives drift along one direction as the anchor approaches."""
    rng = np.random.default_rng(seed)
    times = np.arange(steps) * 0.5
    direction = rng.standard_normal(dim)
    feats, labels, anchors = {}, [], []
    for i in range(n_videos):
        y = i % 2
        anchor = float(rng.uniform(5.0, times[-1]))
        ramp = np.clip(1 - (anchor - times) / 4.0, 0, 1)
        x = rng.standard_normal((steps, dim)) + y * signal * ramp[:, None] * direction
        feats[f"{i:04d}"] = (x.astype(np.float16), times)
        labels.append(y)
        anchors.append(anchor)
    return build_windows(feats, list(feats), labels, anchors, window_length)


@pytest.fixture(scope="module")
def toy():
    return learnable_windows(64, seed=1), learnable_windows(48, seed=2)


def tiny_head(encoder: str = "gru", pooling: str = "mean", dim: int = 8) -> HeadConfig:
    return HeadConfig(encoder, pooling, dim, d_model=8, n_heads=2, d_state=4, dropout=0.1)


def test_lr_schedule_warms_up_linearly_then_follows_a_cosine_to_zero():
    lrs = [lr_at(s, 100, 10, 1.0) for s in range(100)]
    np.testing.assert_allclose(lrs[:10], np.arange(1, 11) / 10)
    assert lrs[10] == 1.0 and abs(lr_at(55, 100, 10, 1.0) - 0.5) < 1e-12
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:])) and lrs[-1] < 1e-3 and lr_at(100, 100, 10, 1.0) == 0.0
    assert lr_at(0, 10, 0, 2.0) == 2.0  # no warm-up


def test_train_config_validation_and_pos_weight():
    with pytest.raises(TrainConfigError, match="'loss'"):
        TrainConfig(loss="hinge")
    with pytest.raises(TrainConfigError, match="'epochs'"):
        TrainConfig(epochs=0)
    with pytest.raises(TrainConfigError, match="'patience'"):
        TrainConfig(patience=0)
    y = np.array([1, 0, 0, 0], dtype=np.float32)
    assert resolve_pos_weight(TrainConfig(loss="bce"), y) == 3.0
    assert resolve_pos_weight(TrainConfig(loss="label_smoothing"), y) == 3.0
    assert resolve_pos_weight(TrainConfig(loss="focal"), y) is None  # focal balances with its own alpha
    assert resolve_pos_weight(TrainConfig(loss="bce", pos_weight=None), y) is None
    assert resolve_pos_weight(TrainConfig(loss="focal", pos_weight=2.0), y) == 2.0


def test_training_is_deterministic_per_seed(toy):
    train, val = toy
    cfg = TrainConfig(loss="bce", lr=3e-3, epochs=4, batch_size=32, patience=None, seed=7)
    a = train_head(tiny_head("retention", "attention"), cfg, train, val)
    b = train_head(tiny_head("retention", "attention"), cfg, train, val)
    assert [e.val["map"] for e in a.history] == [e.val["map"] for e in b.history]  # bit-identical
    assert [e.train_loss for e in a.history] == [e.train_loss for e in b.history]
    for (k, p), q in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(p, q), k
    c = train_head(tiny_head("retention", "attention"), TrainConfig(**{**cfg.to_dict(), "seed": 8}), train, val)
    assert [e.train_loss for e in c.history] != [e.train_loss for e in a.history]


def test_training_leaves_the_callers_random_stream_alone(toy):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_head(tiny_head(), TrainConfig(epochs=1, batch_size=64), *toy)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("encoder,pooling", list(itertools.product(ENCODERS, POOLINGS)))
def test_projecting_each_row_once_equals_the_plain_forward(encoder, pooling):
    """Windows with overlap, left padding and no valid step at all; eval and (same seed) train mode."""
    rng = np.random.default_rng(0)
    times = np.arange(12) * 0.5
    feats = {f"v{i}": (rng.standard_normal((12, 8)).astype(np.float16), times) for i in range(4)}
    w = build_windows(feats, list(feats), [0, 1, 0, 1], [5.5, 2.0, 0.6, 4.0], 6)
    assert not w.mask.all() and (~w.mask).all(1).any()  # both padding kinds present
    torch.manual_seed(0)
    model = build_head(tiny_head(encoder, pooling))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))  # no zero-initialised shortcut hides a difference
    rows, index, _ = _tensors(w, torch.device("cpu"))
    for train_mode in (False, True):
        model.train(train_mode)
        with torch.no_grad():
            torch.manual_seed(1)
            a = plain_logits(model, rows, index)
            torch.manual_seed(1)
            b = projected_logits(model, rows, index)
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(
            plain_logits(model.eval(), rows, index), model(torch.from_numpy(w.x).float(), torch.from_numpy(w.mask))
        )


def test_both_forward_paths_train_the_same_model(toy):
    cfg = TrainConfig(loss="bce", lr=3e-3, epochs=3, batch_size=32, patience=None)
    fast = train_head(tiny_head("zipformer", "attention"), cfg, *toy)
    plain_cfg = TrainConfig(**{**cfg.to_dict(), "project_rows_once": False})
    plain = train_head(tiny_head("zipformer", "attention"), plain_cfg, *toy)
    assert (fast.projection, plain.projection) == ("per-row", "per-window")
    np.testing.assert_allclose([e.train_loss for e in fast.history], [e.train_loss for e in plain.history], rtol=1e-4)


def test_early_stopping_restores_the_best_epoch(toy, monkeypatch):
    """Scripted val mAPs: best at epoch 2, patience 2 -> stop after epoch 4 with epoch 2's exact weights."""
    train, val = toy
    scripted = iter([0.5, 0.8, 0.7, 0.79, 0.9, 0.95])
    snapshots = []
    real_predict = training.predict_tensors

    def spy_predict(model, x, mask, **kw):
        snapshots.append({k: v.clone() for k, v in model.state_dict().items()})
        return real_predict(model, x, mask, **kw)

    def fake_score(scores, windows):
        m = next(scripted)
        return {"ap_500": m, "ap_1000": m, "ap_1500": m, "map": m}

    monkeypatch.setattr(training, "predict_tensors", spy_predict)
    monkeypatch.setattr(training, "score", fake_score)
    cfg = TrainConfig(lr=1e-2, epochs=6, batch_size=32, patience=2, selection="best_val")
    res = train_head(tiny_head(), cfg, train, val)
    assert (res.best_epoch, res.epochs_run, res.stopped_early) == (2, 4, True)
    assert res.best_val["map"] == 0.8 and [e.val["map"] for e in res.history] == [0.5, 0.8, 0.7, 0.79]
    assert not res.model.training
    final = res.model.state_dict()
    assert all(torch.equal(final[k], snapshots[1][k]) for k in final)  # epoch 2's weights
    assert any(not torch.equal(final[k], snapshots[3][k]) for k in final)  # not the last epoch's


def test_final_selection_runs_the_whole_schedule_and_keeps_the_last_weights(toy, monkeypatch):
    """The default: no early stopping, no pick among epochs; the val score is the last epoch's (honest)."""
    train, val = toy
    scripted = iter([0.5, 0.9, 0.6, 0.7])
    monkeypatch.setattr(
        training,
        "score",
        lambda scores, windows: dict.fromkeys(("ap_500", "ap_1000", "ap_1500", "map"), next(scripted)),
    )
    res = train_head(tiny_head(), TrainConfig(lr=1e-2, epochs=4, batch_size=32), train, val)
    assert (res.selection, res.best_epoch, res.epochs_run, res.stopped_early) == ("final", 4, 4, False)
    assert res.best_val["map"] == 0.7, "the last epoch's score, not the best one (0.9)"
    monkeypatch.undo()
    real = train_head(tiny_head(), TrainConfig(lr=1e-2, epochs=4, batch_size=32), train, val)
    assert evaluate(real.model, val) == real.history[-1].val == real.best_val  # the last epoch's weights


def test_restored_model_scores_its_best_validation_map(toy):
    train, val = toy
    cfg = TrainConfig(lr=1e-2, epochs=8, batch_size=32, patience=3, selection="best_val")
    res = train_head(tiny_head("gru", "last"), cfg, train, val)
    maps = [e.val["map"] for e in res.history]
    assert res.best_epoch == 1 + int(np.argmax(maps))  # the first epoch reaching the maximum
    assert evaluate(res.model, val) == res.best_val
    assert res.epochs_run == len(res.history) and res.param_count > 0 and res.device == "cpu"
    assert [e.epoch for e in res.history] == list(range(1, res.epochs_run + 1))


def test_evaluate_is_ap_per_horizon_and_their_mean(toy):
    _, val = toy
    torch.manual_seed(0)
    model = build_head(tiny_head())
    scores = training.predict(model, val)
    got = evaluate(model, val)
    for h in HORIZONS_MS:
        sel = val.horizon_ms == h
        assert got[f"ap_{h}"] == average_precision(val.y[sel], scores[sel])
    assert got["map"] == pytest.approx(np.mean([got[f"ap_{h}"] for h in HORIZONS_MS]))
    assert model.training  # evaluate restores the mode it found
    assert set(got) == {"ap_500", "ap_1000", "ap_1500", "map"}


def test_bad_inputs_are_named(toy):
    train, val = toy
    with pytest.raises(ValueError, match="input_dim=5 but windows have D=8"):
        train_head(tiny_head(dim=5), TrainConfig(), train, val)
    with pytest.raises(ValueError, match="need train and val windows"):
        train_head(tiny_head(), TrainConfig(), train.subset(np.zeros(0, dtype=int)), val)


# One pooling per encoder in the fast suite, rotating so every pooling is covered; all 20 when slow.
FAST_COMBOS = [(e, POOLINGS[i % len(POOLINGS)]) for i, e in enumerate(ENCODERS)]
SLOW_COMBOS = [c for c in itertools.product(ENCODERS, POOLINGS) if c not in FAST_COMBOS]


def _learns(encoder: str, pooling: str, toy) -> float:
    train, val = toy
    res = train_head(
        tiny_head(encoder, pooling),
        TrainConfig(loss="bce", lr=1e-2, epochs=16, batch_size=32, patience=None, seed=0),
        train,
        val,
    )
    return res.best_val["map"]


# Chance AP is the positive rate, 0.5; measured with these seeds: 0.80 (retention-last) to 1.0.
@pytest.mark.parametrize("encoder,pooling", FAST_COMBOS)
def test_each_encoder_learns_above_chance(encoder, pooling, toy):
    assert _learns(encoder, pooling, toy) > 0.7


@pytest.mark.slow
@pytest.mark.parametrize("encoder,pooling", SLOW_COMBOS)
def test_every_encoder_pooling_learns_above_chance(encoder, pooling, toy):
    assert _learns(encoder, pooling, toy) > 0.7
