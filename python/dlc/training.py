"""dlc.fit: the training loop of ``dlrun train`` on NumPy arrays."""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from . import _native
from .runtime import Model, _array


class History:
    """What a :func:`fit` run did.

    step_losses: every update's loss. epochs: per epoch, a dict of epoch,
    train_loss, test (loss and accuracy, or mse and r2), val (with
    val_split) and seconds. test: the final weights' test figures.
    """

    def __init__(self, d: dict):
        self.__dict__.update(d)

    def __repr__(self) -> str:
        return f"<dlc.History {self.epochs_done} epochs, test {self.test}>"


def fit(model: Model, train: Tuple, test: Tuple, epochs: int = 1, lr: Optional[float] = None,
        seed: Optional[int] = None, schedule: str = "constant", warmup: int = 0, step_every: int = 1,
        gamma: float = 0.1, val_split: float = 0.0, patience: Optional[int] = None,
        checkpoint: Optional[str] = None, resume: Optional[str] = None, metrics: Optional[str] = None,
        plot: Optional[str] = None, progress: bool = True, verify_fusion: Optional[float] = None) -> History:
    """Trains ``model`` on ``train = (X, Y)`` and evaluates on ``test`` after
    every epoch, exactly as ``dlrun train`` does (same shuffling, schedules,
    early stopping, checkpoints, progress bar): the same data and seed give
    the same weights.

    X holds one example per row (any trailing shape the model's DATA input
    takes); Y one class index (classifiers) or target (regressors) per row.
    lr, seed: default the model's. schedule: 'constant', 'step' (times
    ``gamma`` every ``step_every`` epochs) or 'cosine', after ``warmup``
    linear warm-up updates. val_split/patience: hold out that fraction and
    stop after ``patience`` epochs without a better validation loss,
    restoring the best weights. checkpoint/resume: safetensors files.
    metrics: a CSV row per epoch. plot: an SVG picture of the run.
    """
    (x, y), (tx, ty) = train, test
    options = dict(epochs=epochs, lr=lr, seed=seed, schedule=schedule, warmup=warmup, step_every=step_every,
                   gamma=gamma, val_split=val_split, patience=patience, checkpoint=checkpoint, resume=resume,
                   metrics=metrics, plot=plot, progress=progress, verify_fusion=verify_fusion)
    if patience is None:
        options["patience"] = -1
    d = _native.fit(model._r, _rows(x), _labels(y), _rows(tx), _labels(ty), options)
    return History(d)


def _rows(x):
    return np.ascontiguousarray(_array(x), dtype=np.float32)


def _labels(y):
    return np.ascontiguousarray(_array(y), dtype=np.float64).reshape(-1)
