"""dlc: a static computation-graph compiler and runtime for deep learning.

Build a model (:class:`Graph`, :mod:`dlc.layers`, :mod:`dlc.ops`,
:mod:`dlc.losses`, :mod:`dlc.optim`) or take a ``.pbtxt`` file, compile it
in-process (:func:`compile`), load it (:func:`load`), then train and predict
with NumPy arrays or PyTorch tensors (:class:`Model`, :func:`fit`).
"""

from ._native import Error
from . import datasets, init, layers, losses, ops, optim
from .graph import Graph, Value, batch
from .onnx import import_onnx
from .runtime import Executable, Model, compile, load, to_torch
from .training import History, fit

__version__ = "0.7.0"

__all__ = ["Error", "Executable", "Graph", "History", "Model", "Value", "batch", "compile", "datasets", "fit", "import_onnx", "init",
           "layers", "load", "losses", "ops", "optim", "to_torch"]
