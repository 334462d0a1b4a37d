"""Models from PyTorch (or anything else that writes ONNX): dlc.import_onnx."""

from __future__ import annotations

import os
from typing import Iterable, Optional

from . import _native
from .graph import Graph


def import_onnx(path, loss: Optional[str] = None, loss_output: Optional[str] = None, label: str = "label",
                label_dtype: Optional[str] = None, optimizer=None, regularization: Iterable = (),
                trainable: Iterable[str] = (), frozen: Iterable[str] = ()) -> Graph:
    """An ONNX file (IR up to 10, opsets 13 to 20: what torch.onnx.export
    writes with either exporter) as a :class:`dlc.Graph` for :func:`dlc.compile`.

    Without ``loss`` the graph is inference-only. With it (any registered
    loss, e.g. 'softmax_cross_entropy' or 'mse'), the loss applies to
    ``loss_output`` (default: the first graph output) against a LABEL input
    named ``label`` (i32 for class-index losses, else f32, unless
    ``label_dtype`` says), minimized by ``optimizer`` (from :mod:`dlc.optim`;
    default SGD with learning rate 0.01); a classifier also gets a ``probs``
    output. Parameters keep their initializer names (PyTorch's state_dict
    keys) and layouts; ``trainable``/``frozen`` override which train.
    """
    from . import optim

    if optimizer is not None and not isinstance(optimizer, optim.Optimizer):
        raise TypeError(f"optimizer must come from dlc.optim, not {optimizer!r}")
    options = dict(loss=loss, loss_output=loss_output, label=label, label_dtype=label_dtype,
                   optimizer=optimizer.text if optimizer is not None else None,
                   regularization=[r.text for r in regularization], trainable=list(trainable), frozen=list(frozen))
    return Graph(_native.import_onnx(os.fspath(path), options))
