"""What the LeNet-5 benchmarks share, on top of ../cpu_mlp/common.py (the
Fashion-MNIST reader, dlrun's shuffle order, the safetensors reader, timing,
peak memory): the model's parameters, its batches, step counts and FLOPs.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cpu_mlp"))
import common  # noqa: E402,F401  (re-exported: the scripts use common.* through this module)

import numpy as np  # noqa: E402

# Batches of each measurement: step times, inference, the epoch.
TRAIN_BATCHES = (32, 128)
PREDICT_BATCHES = (1, 128, 10000)
EPOCH_BATCH = 128

# models/lenet5.pbtxt's parameters: convolutions [out, in, kh, kw] as in
# PyTorch, dense weights [in, out] (x @ W).
PARAM_SHAPES = {
    "conv1_w": (6, 1, 5, 5), "conv1_b": (6,),
    "conv2_w": (16, 6, 5, 5), "conv2_b": (16,),
    "fc1_w": (400, 120), "fc1_b": (120,),
    "fc2_w": (120, 84), "fc2_b": (84,),
    "fc3_w": (84, 10), "fc3_b": (10,),
}


def lenet_weights(path):
    """The 10 parameters of models/lenet5.pbtxt from a safetensors file (dlrun
    bench --save-initial), checked against their shapes."""
    t = common.read_safetensors(path)
    missing = [n for n in PARAM_SHAPES if n not in t]
    if missing:
        raise KeyError(f"{path}: no {', '.join(missing)} (has {', '.join(sorted(t))})")
    for name, shape in PARAM_SHAPES.items():
        if tuple(t[name].shape) != shape:
            raise ValueError(f"{path}: {name} has shape {list(t[name].shape)}, LeNet-5 needs {list(shape)}")
    return {n: t[n].astype(np.float32) for n in PARAM_SHAPES}


def random_images(batch, seed):
    """A batch of random pixels in [0,1) shaped [batch,1,28,28] and labels in 0..9."""
    x, y = common.random_batch(batch, seed)
    return x.reshape(batch, 1, 28, 28), y


def load_images(folder, split):
    """(x f32[n,1,28,28] in [0,1], y i64[n]) of 'train' or 't10k', as dlrun reads them."""
    x, y = common.load_split(folder, split)
    return x.reshape(-1, 1, 28, 28), y


def steps_for(batch, entry):
    """Timed calls so each measurement takes about a second or two here."""
    if entry == "train_step":
        return {32: 300, 128: 80}.get(batch, 50)
    return {1: 1000, 128: 150, 10000: 3}.get(batch, 50)


# Multiply-adds per example of each product: (name, MACs, needs an input gradient).
# conv: output elements x (in channels x kh x kw); dense: in x out.
PRODUCTS = (
    ("conv1", 6 * 28 * 28 * 1 * 5 * 5, False),  # x needs no gradient
    ("conv2", 16 * 10 * 10 * 6 * 5 * 5, True),
    ("fc1", 400 * 120, True),
    ("fc2", 120 * 84, True),
    ("fc3", 84 * 10, True),
)


def forward_flops(batch):
    """FLOPs (2 per multiply-add) of the forward convolutions and matrix products."""
    return 2 * batch * sum(macs for _, macs, _ in PRODUCTS)


def step_flops(batch):
    """Forward, weight gradients (same size as forward) and input gradients
    (every layer but the first)."""
    return 2 * forward_flops(batch) + 2 * batch * sum(macs for _, macs, grad in PRODUCTS if grad)


def parse_args(framework):
    return common.parse_args(framework, what="LeNet-5 (bench/cpu_cnn)")
