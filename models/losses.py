"""Binary training losses for the heads, chosen by name: `make_loss("focal")(logits, targets) -> scalar`.

All take logits (B,) and float targets (B,) in [0, 1] and return the batch mean. `pos_weight`
multiplies the loss of the positive term in every loss (as in BCEWithLogitsLoss), so a trainer can pass
the class ratio uniformly whichever loss a config names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from models.loss_names import LOSSES

LossFn = Callable[[Tensor, Tensor], Tensor]


class LossConfigError(ValueError):
    """A loss name or parameter is invalid; the message names it and what was expected."""


def _check(logits: Tensor, targets: Tensor, name: str) -> None:
    if logits.ndim != 1 or targets.shape != logits.shape:
        raise ValueError(
            f"loss '{name}': expected logits and targets of the same shape (B,), got "
            f"{tuple(logits.shape)} and {tuple(targets.shape)}"
        )


def _pos_weight(pos_weight: float | None, like: Tensor) -> Tensor | None:
    return None if pos_weight is None else torch.as_tensor(pos_weight, dtype=like.dtype, device=like.device)


@dataclass(frozen=True)
class BCELoss:
    """Binary cross-entropy on logits, positives weighted by pos_weight."""

    pos_weight: float | None = None

    def __call__(self, logits: Tensor, targets: Tensor) -> Tensor:
        _check(logits, targets, "bce")
        t = targets.to(logits.dtype)
        return F.binary_cross_entropy_with_logits(logits, t, pos_weight=_pos_weight(self.pos_weight, logits))


@dataclass(frozen=True)
class LabelSmoothingLoss:
    """BCE against smoothed targets y (1 - eps) + eps / 2 (1 -> 0.95, 0 -> 0.05 at eps = 0.1).

    Why: the heads see a few thousand windows, so pushing logits to +-inf on easy ones overfits.
    """

    smoothing: float = 0.1
    pos_weight: float | None = None

    def smooth(self, targets: Tensor) -> Tensor:
        return targets * (1.0 - self.smoothing) + 0.5 * self.smoothing

    def __call__(self, logits: Tensor, targets: Tensor) -> Tensor:
        _check(logits, targets, "label_smoothing")
        t = self.smooth(targets.to(logits.dtype))
        return F.binary_cross_entropy_with_logits(logits, t, pos_weight=_pos_weight(self.pos_weight, logits))


@dataclass(frozen=True)
class FocalLoss:
    """Focal loss (Lin et al. 2017): alpha_t (1 - p_t)^gamma CE, mean over the batch.

    Same formula as torchvision's sigmoid_focal_loss: p_t = p y + (1 - p)(1 - y), alpha_t = alpha y +
    (1 - alpha)(1 - y); alpha None disables the class weighting. pos_weight scales the positive term's
    cross-entropy (targets may be soft, so the CE is y log p + (1 - y) log(1 - p) written on logits).
    """

    gamma: float = 2.0
    alpha: float | None = 0.25
    pos_weight: float | None = None

    def __call__(self, logits: Tensor, targets: Tensor) -> Tensor:
        _check(logits, targets, "focal")
        t = targets.to(logits.dtype)
        ce = F.binary_cross_entropy_with_logits(
            logits, t, reduction="none", pos_weight=_pos_weight(self.pos_weight, logits)
        )
        p = torch.sigmoid(logits)
        p_t = p * t + (1.0 - p) * (1.0 - t)
        loss = ce * (1.0 - p_t).pow(self.gamma)
        if self.alpha is not None:
            loss = loss * (self.alpha * t + (1.0 - self.alpha) * (1.0 - t))
        return loss.mean()


def make_loss(
    name: str,
    *,
    pos_weight: float | None = None,
    focal_gamma: float = 2.0,
    focal_alpha: float | None = 0.25,
    smoothing: float = 0.1,
) -> LossFn:
    """The loss called `name` (one of LOSSES) as a callable (logits (B,), targets (B,) float) -> scalar."""
    if pos_weight is not None and not (float(pos_weight) > 0):
        raise LossConfigError(f"make_loss: 'pos_weight' must be a positive number or None, got {pos_weight!r}")
    pw = None if pos_weight is None else float(pos_weight)
    if name == "bce":
        return BCELoss(pw)
    if name == "label_smoothing":
        if not 0.0 <= smoothing < 1.0:
            raise LossConfigError(f"make_loss('label_smoothing'): 'smoothing' must be in [0, 1), got {smoothing!r}")
        return LabelSmoothingLoss(float(smoothing), pw)
    if name == "focal":
        if not focal_gamma >= 0.0:
            raise LossConfigError(f"make_loss('focal'): 'focal_gamma' must be >= 0, got {focal_gamma!r}")
        if focal_alpha is not None and not 0.0 <= focal_alpha <= 1.0:
            raise LossConfigError(f"make_loss('focal'): 'focal_alpha' must be in [0, 1] or None, got {focal_alpha!r}")
        return FocalLoss(float(focal_gamma), None if focal_alpha is None else float(focal_alpha), pw)
    raise LossConfigError(f"make_loss: unknown loss {name!r}; expected one of {LOSSES}")
