"""Losses against hand-computed values; average precision against sklearn on many random cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score

from models.losses import LOSSES, LossConfigError, make_loss
from models.metrics import UndefinedMetricError, average_precision

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# ------------------------------------------------------------------------------------------------ losses


def test_focal_loss_equals_hand_computed_value():
    # logits (0, 2), targets (1, 0), gamma 2, alpha 0.25:
    #   sample 1: p = 0.5, CE = ln 2, p_t = 0.5, alpha_t = 0.25 -> 0.25 * 0.5^2 * ln 2       = 0.0433217
    #   sample 2: p = sigmoid(2) = 0.880797, CE = -ln(1 - p) = 2.126928, p_t = 1 - p = 0.119203,
    #             alpha_t = 0.75 -> 0.75 * 0.880797^2 * 2.126928                            = 1.2375586
    #   mean = 0.6404402
    loss = make_loss("focal")(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0]))
    assert loss.item() == pytest.approx(0.6404401666755261, rel=1e-6)
    single = make_loss("focal", focal_gamma=1.0, focal_alpha=None)(torch.tensor([0.0]), torch.tensor([1.0]))
    assert single.item() == pytest.approx(0.5 * math.log(2), rel=1e-6)


def test_focal_with_gamma_zero_and_no_alpha_is_bce():
    g = torch.Generator().manual_seed(0)
    logits, targets = torch.randn(32, generator=g), (torch.rand(32, generator=g) > 0.5).float()
    focal = make_loss("focal", focal_gamma=0.0, focal_alpha=None, pos_weight=3.0)(logits, targets)
    torch.testing.assert_close(focal, make_loss("bce", pos_weight=3.0)(logits, targets))


def test_bce_pos_weight_matches_formula():
    logits, targets = torch.tensor([0.3, -1.2, 2.0]), torch.tensor([1.0, 0.0, 1.0])
    p = torch.sigmoid(logits)
    expected = -(4.0 * targets * p.log() + (1 - targets) * (1 - p).log()).mean()
    torch.testing.assert_close(make_loss("bce", pos_weight=4.0)(logits, targets), expected)
    torch.testing.assert_close(make_loss("bce")(logits, targets), F.binary_cross_entropy_with_logits(logits, targets))


def test_label_smoothing_targets_and_value():
    loss = make_loss("label_smoothing", smoothing=0.1)
    assert loss.smooth(torch.tensor([1.0, 0.0])).tolist() == pytest.approx([0.95, 0.05])
    # logit 0 gives p = 0.5, so the loss is ln 2 whatever the (smoothed) target
    assert loss(torch.zeros(2), torch.tensor([1.0, 0.0])).item() == pytest.approx(math.log(2), rel=1e-6)
    # logit 3 against target 1 -> smoothed 0.95: -(0.95 ln s(3) + 0.05 ln(1 - s(3)))
    s = 1 / (1 + math.exp(-3.0))
    expected = -(0.95 * math.log(s) + 0.05 * math.log(1 - s))
    assert loss(torch.tensor([3.0]), torch.tensor([1.0])).item() == pytest.approx(expected, rel=1e-6)
    x, y = torch.randn(8), (torch.rand(8) > 0.5).float()
    torch.testing.assert_close(make_loss("label_smoothing", smoothing=0.0)(x, y), make_loss("bce")(x, y))


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_is_differentiable_and_checks_shapes(name):
    logits = torch.randn(5, requires_grad=True)
    loss = make_loss(name, pos_weight=2.0)(logits, torch.tensor([1.0, 0, 1, 0, 0]))
    loss.backward()
    assert loss.ndim == 0 and torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="same shape"):
        make_loss(name)(torch.randn(5, 1), torch.zeros(5))


def test_make_loss_errors_name_the_problem():
    with pytest.raises(LossConfigError, match="unknown loss 'mse'"):
        make_loss("mse")
    with pytest.raises(LossConfigError, match="smoothing"):
        make_loss("label_smoothing", smoothing=1.0)
    with pytest.raises(LossConfigError, match="focal_alpha"):
        make_loss("focal", focal_alpha=1.5)
    with pytest.raises(LossConfigError, match="pos_weight"):
        make_loss("bce", pos_weight=-1.0)


# ------------------------------------------------------------------------------------ average precision


def test_average_precision_equals_sklearn_on_random_cases_with_ties():
    rng = np.random.default_rng(0)
    for case in range(400):
        n = int(rng.integers(1, 60))
        y = rng.integers(0, 2, n)
        if y.sum() == 0:
            y[rng.integers(n)] = 1
        if case % 3 == 0:
            s = rng.integers(0, 4, n).astype(float)  # heavy ties
        elif case % 3 == 1:
            s = np.round(rng.random(n), 1)  # some ties
        else:
            s = rng.normal(size=n)
        assert average_precision(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12), (y, s)


def test_average_precision_known_values():
    assert average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision([0, 1], [0.5, 0.5]) == pytest.approx(0.5)  # a tie is one threshold
    assert average_precision(np.array([True, False]), [0.2, 0.1]) == 1.0
    assert average_precision([1, 1, 1], [0.1, 0.5, 0.2]) == 1.0  # no negatives: precision is always 1


def test_average_precision_without_positives_raises_unless_a_value_is_chosen():
    with pytest.raises(UndefinedMetricError, match="no positive label"):
        average_precision([0, 0, 0], [0.1, 0.2, 0.3])
    assert average_precision([0, 0], [0.1, 0.2], if_no_positives=0.0) == 0.0


def test_average_precision_rejects_bad_input():
    with pytest.raises(ValueError, match="equal length"):
        average_precision([0, 1], [0.1])
    with pytest.raises(ValueError, match="0/1"):
        average_precision([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="finite.*index 1"):
        average_precision([0, 1], [0.1, float("nan")])
    with pytest.raises(ValueError, match="no samples"):
        average_precision([], [])
