"""A PyTorch model through dlc and back: export LeNet-5 to ONNX, train it
with dlc for an epoch on Fashion-MNIST, load the weights back into the
PyTorch model with load_state_dict, and check that PyTorch's test accuracy
is the one `dlrun eval` prints, to the last digit.

    python examples/onnx/pytorch_roundtrip.py BUILD_DIR [ts|dynamo] [WORK_DIR]

Needs torch (and onnxscript for the dynamo exporter) and safetensors;
BUILD_DIR holds dlc and dlrun.
"""

import gzip
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import load_file

DATA = "/usr/share/datasets/fashion-mnist"


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


def idx(name):
    path = os.path.join(DATA, name)
    opener = gzip.open if not os.path.exists(path) else open
    with opener(path if os.path.exists(path) else path + ".gz", "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * rank).reshape(dims)


def run(cmd):
    print("$", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{cmd[0]} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def main():
    build = sys.argv[1]
    exporter = sys.argv[2] if len(sys.argv) > 2 else "dynamo"
    work = sys.argv[3] if len(sys.argv) > 3 else tempfile.mkdtemp()
    dlc, dlrun = os.path.join(build, "dlc"), os.path.join(build, "dlrun")
    torch.manual_seed(0)
    model = LeNet5().eval()
    onnx_path = os.path.join(work, f"lenet_{exporter}.onnx")
    example = torch.zeros(4, 1, 28, 28)
    if exporter == "ts":
        torch.onnx.export(model, example, onnx_path, input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False)
    else:
        torch.onnx.export(model, (example,), onnx_path, input_names=["x"], output_names=["logits"], dynamo=True,
                          dynamic_shapes={"x": {0: torch.export.Dim("batch")}})

    exe, weights = os.path.join(work, "lenet.dlc"), os.path.join(work, "w.safetensors")
    run([dlc, "compile", onnx_path, "--loss", "softmax_cross_entropy", "--optimizer", "adam", "--lr", "1e-3",
         "--batch", "128", "-o", exe])
    run([dlrun, "train", exe, "--data", DATA, "--epochs", "1", "--save-weights", weights])
    evaluated = run([dlrun, "eval", exe, "--data", DATA, "--weights", weights])
    dlc_accuracy = re.search(r"test accuracy: ([0-9.]+)", evaluated).group(1)

    model.load_state_dict(load_file(weights))  # strict: exactly the state_dict's names and shapes
    x = torch.from_numpy(idx("t10k-images-idx3-ubyte").astype(np.float32) / np.float32(255)).reshape(-1, 1, 28, 28)
    y = torch.from_numpy(idx("t10k-labels-idx1-ubyte").astype(np.int64))
    with torch.no_grad():
        torch_accuracy = f"{(model(x).argmax(1) == y).double().mean().item():.4f}"
    print(f"{exporter}: dlrun eval test accuracy {dlc_accuracy}, PyTorch with the weights {torch_accuracy}")
    if dlc_accuracy != torch_accuracy:
        sys.exit("the accuracies differ")


if __name__ == "__main__":
    main()
