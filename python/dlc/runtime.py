"""Compiling models and running executables: :func:`compile`, :func:`load`,
:class:`Executable` and :class:`Model`."""

from __future__ import annotations

import os
from typing import Dict, Optional, Sequence, Union

import numpy as np

from . import _native
from .graph import Graph


def _array(value):
    """NumPy arrays as they are; anything with ``__dlpack__`` (a PyTorch or JAX
    CPU tensor) through DLPack, without a copy; anything else through numpy.asarray."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "__dlpack__"):
        try:
            return np.from_dlpack(value)
        except (RuntimeError, TypeError, BufferError) as e:
            raise _native.Error(f"cannot take a {type(value).__name__} through DLPack: {e} "
                                "(dlc runs on host memory; move GPU tensors to the CPU first)") from None
    return np.asarray(value)


def _arrays(inputs: dict) -> dict:
    """``inputs`` (a fresh keyword dict) with every value made an array, in place."""
    for k, v in inputs.items():
        if type(v) is not np.ndarray:
            inputs[k] = _array(v)
    return inputs


class Executable:
    """A compiled model: the bytes of a ``.dlc`` file."""

    def __init__(self, data: bytes, name: str = "<compiled>"):
        self.data = bytes(data)
        self.name = name

    def save(self, path: str) -> None:
        """Writes the ``.dlc`` file that ``dlrun`` and the C API load (atomically)."""
        tmp = f"{path}.tmp.{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(self.data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def __len__(self) -> int:
        return len(self.data)

    def __eq__(self, other) -> bool:
        return isinstance(other, Executable) and self.data == other.data

    def __repr__(self) -> str:
        return f"<dlc.Executable {self.name}: {len(self.data)} bytes>"


def compile(model: Union[Graph, str, os.PathLike], batch: int = 1, target: str = "cpu", seed: int = 0,
            training: bool = True, cpu: str = "x86-64-v2", gpu_arch: str = "sm_90") -> Executable:
    """Compiles a :class:`Graph` or a model file (``.pbtxt``/``.pb``, or ``.onnx``
    for inference: :func:`dlc.import_onnx` adds training) in-process,
    as ``dlc compile`` does: the same options give the same bytes.

    batch: binds the symbolic batch dimension. target: 'cpu' (LLVM), 'cuda'
    (NVRTC + cuBLAS) or 'ref' (the float64 reference interpreter). seed:
    parameter initialization. training: build train_step when the model has a
    training section. cpu: LLVM CPU name ('native' for this machine's).
    """
    if isinstance(model, Graph):
        data = _native.compile_graph(model._b, batch, target, seed, training, cpu, gpu_arch)
        return Executable(data, "<python graph>")
    path = os.fspath(model)
    if path.endswith(".onnx"):  # inference-only; dlc.import_onnx takes a loss and an optimizer
        from .onnx import import_onnx

        data = _native.compile_graph(import_onnx(path)._b, batch, target, seed, training, cpu, gpu_arch)
        return Executable(data, path)
    return Executable(_native.compile_file(path, batch, target, seed, training, cpu, gpu_arch), path)


def load(executable: Union[Executable, str, os.PathLike]) -> "Model":
    """A runnable :class:`Model` from an :class:`Executable` or a ``.dlc`` file."""
    if isinstance(executable, Executable):
        return Model(_native.Runtime.from_bytes(executable.data, executable.name))
    return Model(_native.Runtime.load(os.fspath(executable)))


class Parameters:
    """A model's persistent tensors by name: ``m.params["W1"]`` reads a copy as a
    NumPy array, ``m.params["W1"] = a`` writes one."""

    def __init__(self, runtime):
        self._r = runtime

    def names(self, trainable_only: bool = False) -> list:
        """Every persistent tensor (parameters and optimizer state), or only the trained parameters."""
        return [p["name"] for p in self._r.params() if p["trainable"] or not trainable_only]

    def __getitem__(self, name: str) -> np.ndarray:
        return self._r.get_param(name)

    def __setitem__(self, name: str, value) -> None:
        self._r.set_param(name, _array(value))

    def __contains__(self, name: str) -> bool:
        return name in self.names()

    def __iter__(self):
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def keys(self):
        """Every persistent tensor's name, as a dict's keys."""
        return self.names()

    def items(self):
        """(name, array) for every persistent tensor."""
        return [(n, self[n]) for n in self.names()]

    def to_dict(self, trainable_only: bool = True) -> Dict[str, np.ndarray]:
        """The (trainable) parameters as a dict of arrays."""
        return {n: self[n] for n in self.names(trainable_only)}


class Model:
    """A loaded executable with its parameters and optimizer state.

    ``train_step`` updates the weights; ``predict`` takes any number of rows;
    ``run`` runs any entry point on exactly its declared shapes. Inputs are
    NumPy arrays or DLPack tensors (taken without a copy when their dtype and
    layout match); outputs are NumPy arrays. Errors are :class:`dlc.Error`
    with the C API's texts.
    """

    def __init__(self, runtime):
        self._r = runtime
        self.params = Parameters(runtime)
        self._step = 0

    # --- what it is -------------------------------------------------------------
    @property
    def batch(self) -> int:
        """The batch size the executable was compiled for."""
        return self._r.batch

    @property
    def target(self) -> str:
        """'cpu', 'cuda' or 'ref': what the executable was compiled for."""
        return self._r.target

    @property
    def entries(self) -> list:
        """The entry points: 'predict', and 'train_step' when the model trains."""
        return list(self._r.entries())

    def inputs(self, entry: str = "predict") -> list:
        """An entry point's inputs: dicts of name, dtype, shape and role."""
        return self._r.entry_inputs(entry)

    def outputs(self, entry: str = "predict") -> list:
        """An entry point's outputs: dicts of name, dtype and shape."""
        return self._r.entry_outputs(entry)

    @property
    def default_learning_rate(self) -> float:
        """The optimizer's learning rate in the model's training section."""
        return self._r.default_learning_rate

    # --- running ----------------------------------------------------------------
    def run(self, entry: str, outputs: Optional[Sequence[str]] = None, **inputs) -> Dict[str, np.ndarray]:
        """Runs ``entry`` once on inputs of exactly its declared shapes; returns
        the outputs named (all by default)."""
        return self._r.run(entry, _arrays(inputs), outputs)

    def predict(self, outputs: Optional[Sequence[str]] = None, **inputs) -> Union[np.ndarray, Dict[str, np.ndarray]]:
        """predict on any number of rows, in batches of :attr:`batch` (the last
        padded), like ``dlrun predict``. Returns the output's array when the
        model has one output (or one is named), else a dict."""
        single = isinstance(outputs, str)
        result = self._r.predict(_arrays(inputs), [outputs] if single else outputs)
        if single or len(result) == 1:
            return next(iter(result.values()))
        return result

    def train_step(self, lr: Optional[float] = None, outputs: Optional[Sequence[str]] = None,
                   **inputs) -> Dict[str, np.ndarray]:
        """One update on one batch: the DATA and LABEL inputs by name; the
        learning rate (default: the model's) and the step number (counted by
        this object from 1) are filled in unless given. Returns the outputs
        of train_step (the loss and the graph outputs)."""
        feeds = _arrays(inputs)
        for i in self._r.entry_inputs("train_step"):
            if i["name"] in feeds:
                continue
            if i["role"] == "LEARNING_RATE":
                feeds[i["name"]] = np.asarray(self.default_learning_rate if lr is None else lr, dtype=i["dtype"])
            elif i["role"] == "STEP":
                feeds[i["name"]] = np.asarray(self._step + 1, dtype=i["dtype"])
        result = self._r.run("train_step", feeds, outputs)
        self._step += 1
        return result

    # --- checkpoints --------------------------------------------------------------
    def save(self, path: str, metadata: Optional[Dict[str, str]] = None) -> None:
        """Saves every persistent tensor to a safetensors checkpoint, atomically."""
        self._r.save_checkpoint(os.fspath(path), metadata)

    def save_weights(self, path: str, metadata: Optional[Dict[str, str]] = None) -> None:
        """Saves the model's weights alone, without optimizer state: for a model
        imported from ONNX, the tensors PyTorch's load_state_dict takes."""
        self._r.save_weights(os.fspath(path), metadata)

    def load_checkpoint(self, path: str) -> Dict[str, str]:
        """Restores every persistent tensor (to resume training); returns the metadata."""
        return self._r.load_checkpoint(os.fspath(path))

    def load_weights(self, path: str) -> Dict[str, str]:
        """Restores the trained parameters (and optimizer state when present)."""
        return self._r.load_weights(os.fspath(path))

    def verify_fusion(self, tolerance: float = 1e-4) -> None:
        """Runs each entry point's first call kernel by kernel against the float64 reference."""
        self._r.verify_fusion(tolerance)

    def __repr__(self) -> str:
        return f"<dlc.Model {self._r.name}: target {self.target}, batch {self.batch}, entries {self.entries}>"


def to_torch(array: np.ndarray):
    """A PyTorch tensor sharing ``array``'s memory, through DLPack."""
    import torch

    return torch.from_dlpack(array)
