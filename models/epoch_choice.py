"""Which epoch's weights a training run returns, and when early stopping ends it (``TrainConfig.selection``)."""

from __future__ import annotations

import copy
import math

from torch import nn


class EpochChooser:
    """Which epoch's weights training returns (``TrainConfig.selection``), and when early stopping ends it.

    "final": the last epoch of the schedule, never stopping early. "best_val": the best validation
    mAP so far (a gain must exceed ``min_delta``), its weights copied, stopping after ``patience``
    epochs without a gain.
    """

    def __init__(self, selection: str, min_delta: float, patience: int | None, epochs: int) -> None:
        self.selection, self.min_delta, self.patience, self.epochs = selection, min_delta, patience, epochs
        self.best_map, self.best_epoch, self.best_val = -math.inf, 0, {}
        self.best_state: dict | None = None
        self.stopped_early = False

    def stop_after(self, epoch: int, val: dict[str, float], model: nn.Module) -> bool:
        """Record epoch ``epoch``'s val scores; True when training should stop now."""
        if self.selection == "final":
            self.best_map, self.best_epoch, self.best_val = val["map"], epoch, val
        elif val["map"] > self.best_map + self.min_delta or self.best_state is None:
            self.best_map, self.best_epoch, self.best_val = val["map"], epoch, val
            self.best_state = copy.deepcopy(model.state_dict())
        elif self.patience is not None and epoch - self.best_epoch >= self.patience:
            self.stopped_early = epoch < self.epochs
            return True
        return False
