"""Reading MNIST-layout data (IDX files, raw or gzipped) into NumPy, scaled
as ``dlrun train --data`` scales it, so the same files give the same numbers."""

from __future__ import annotations

import gzip
import os
from typing import Tuple

import numpy as np

#: Where Debian's dataset-fashion-mnist package puts Fashion-MNIST.
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def load_idx(path: str) -> np.ndarray:
    """An IDX file (``.gz`` or raw) as an array of its type and dimensions.
    Raises ValueError naming the file when it is not a whole IDX file."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    rank = data[3]
    header = 4 + 4 * rank
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    dtype = np.dtype(_IDX_TYPES[data[2]])
    count = int(np.prod(dims)) if dims else 1
    if len(data) - header != count * dtype.itemsize:
        raise ValueError(f"{path}: {len(data) - header} bytes of data, expected {count * dtype.itemsize} for {dims}")
    return np.frombuffer(data, dtype, count, header).reshape(dims).astype(dtype.newbyteorder("="))


def _find(folder: str, name: str) -> str:
    for candidate in (os.path.join(folder, name), os.path.join(folder, name + ".gz")):
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(f"{folder}: has neither {name} nor {name}.gz")


def load_mnist_split(folder: str, split: str) -> Tuple[np.ndarray, np.ndarray]:
    """``split`` ('train' or 't10k') of an MNIST-layout folder: images as
    float32 in [0, 1] (bytes / 255, as dlrun scales them) and labels as int32."""
    images = load_idx(_find(folder, f"{split}-images-idx3-ubyte"))
    labels = load_idx(_find(folder, f"{split}-labels-idx1-ubyte"))
    if len(images) != len(labels):
        raise ValueError(f"{folder}: {len(images)} {split} images but {len(labels)} labels")
    x = images.astype(np.float32)
    if images.dtype == np.uint8:
        x /= np.float32(255)
    return x, labels.astype(np.int32)


def fashion_mnist(folder: str = FASHION_MNIST):
    """((x_train, y_train), (x_test, y_test)) of Fashion-MNIST: 60000 and 10000 images of 28x28."""
    return load_mnist_split(folder, "train"), load_mnist_split(folder, "t10k")
