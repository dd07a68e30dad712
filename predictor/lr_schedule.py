"""Learning-rate schedules for SASRec training: constant, warmup + cosine decay, decay on a validation plateau.

Cosine decays over the wall-time budget when there is one (training usually ends on the budget or
on early stopping, rarely on ``max_epochs``), otherwise over ``max_epochs``. The plateau schedule
halves the rate after every epoch without a validation gain, so the epochs that early stopping
waits through are spent at ever smaller steps instead of at the rate that stopped helping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

Schedule = Literal["constant", "cosine", "plateau"]
SCHEDULES: tuple[str, ...] = ("constant", "cosine", "plateau")
PLATEAU_FACTOR = 0.5
COSINE_FLOOR = 0.05
"""Cosine ends at this fraction of the base rate, not at zero, so a long tail still learns."""


@dataclass
class LearningRate:
    """Sets the optimizer's rate before every step and after every validated epoch."""

    optimizer: torch.optim.Optimizer
    base: float
    schedule: Schedule = "constant"
    warmup_steps: int = 0
    budget_seconds: float | None = None
    max_epochs: int = 1
    _plateau_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown lr_schedule {self.schedule!r}; use one of {', '.join(SCHEDULES)}")

    def _set(self, value: float) -> float:
        for group in self.optimizer.param_groups:
            group["lr"] = value
        return value

    def step(self, step: int, elapsed: float, epoch_progress: float) -> float:
        """The rate for optimizer step ``step`` (0-based), ``elapsed`` seconds in, ``epoch_progress`` epochs done."""
        scale = min(1.0, (step + 1) / self.warmup_steps) if self.warmup_steps else 1.0
        if self.schedule == "cosine":
            done = elapsed / self.budget_seconds if self.budget_seconds else epoch_progress / self.max_epochs
            cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, done)))
            scale *= COSINE_FLOOR + (1.0 - COSINE_FLOOR) * cosine
        elif self.schedule == "plateau":
            scale *= self._plateau_scale
        return self._set(self.base * scale)

    def after_epoch(self, improved: bool) -> None:
        """Plateau: halve the rate when the epoch brought no validation gain."""
        if self.schedule == "plateau" and not improved:
            self._plateau_scale *= PLATEAU_FACTOR
