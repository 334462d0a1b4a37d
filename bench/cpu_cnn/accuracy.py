"""Fashion-MNIST accuracy of models/lenet5.pbtxt or models/cnn_bn.pbtxt in
PyTorch (eager, float32, CPU), to set beside `dlrun train`'s: Adam(lr 1e-3,
betas .9/.999, eps 1e-8), batch 128, the training set in dlrun's order for
--seed (a new shuffle every epoch, the last partial batch dropped), the test
set after every epoch. Starts from dlc's initial weights (--weights, from
`dlrun bench --save-initial`) or from PyTorch's default initialization
(--weights torch). Prints one line per epoch, then one JSON object.

  python bench/cpu_cnn/accuracy.py --model lenet5 --weights init.safetensors --epochs 10
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lenet  # noqa: E402
from lenet import common  # noqa: E402
from torch_lenet import LeNet5  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class CnnBn(torch.nn.Module):
    """models/cnn_bn.pbtxt with its parameter names and layouts (dense [in, out])."""

    FROZEN = ("bn1_mean", "bn1_var", "bn2_mean", "bn2_var")

    def __init__(self, w):
        super().__init__()
        for name, value in w.items():
            t = torch.from_numpy(value.copy())
            if name in self.FROZEN:
                self.register_buffer(name, t)
            else:
                setattr(self, name, torch.nn.Parameter(t))

    def block(self, x, i):
        x = F.conv2d(x, getattr(self, f"conv{i}_w"), padding=1)
        x = F.batch_norm(x, getattr(self, f"bn{i}_mean"), getattr(self, f"bn{i}_var"), getattr(self, f"bn{i}_gamma"),
                         getattr(self, f"bn{i}_beta"), self.training, momentum=0.1, eps=1e-5)
        return F.max_pool2d(torch.relu(x), 2)

    def forward(self, x):
        x = torch.flatten(self.block(self.block(x, 1), 2), 1)
        x = torch.relu(torch.addmm(self.fc1_b, F.dropout(x, 0.25, self.training), self.fc1_w))
        return torch.addmm(self.fc2_b, F.dropout(x, 0.25, self.training), self.fc2_w)


def torch_default_weights(model):
    """dlc-named weights drawn by PyTorch's own layers' default initialization."""
    nn = torch.nn
    if model == "lenet5":
        layers = {"conv1": nn.Conv2d(1, 6, 5), "conv2": nn.Conv2d(6, 16, 5),
                  "fc1": nn.Linear(400, 120), "fc2": nn.Linear(120, 84), "fc3": nn.Linear(84, 10)}
    else:
        layers = {"conv1": nn.Conv2d(1, 32, 3, bias=False), "bn1": nn.BatchNorm2d(32),
                  "conv2": nn.Conv2d(32, 64, 3, bias=False), "bn2": nn.BatchNorm2d(64),
                  "fc1": nn.Linear(3136, 128), "fc2": nn.Linear(128, 10)}
    w = {}
    for name, layer in layers.items():
        if name.startswith("bn"):
            w.update({f"{name}_gamma": layer.weight, f"{name}_beta": layer.bias,
                      f"{name}_mean": layer.running_mean, f"{name}_var": layer.running_var})
        else:
            w[f"{name}_w"] = layer.weight.T if name.startswith("fc") else layer.weight  # dense: [in, out]
            if layer.bias is not None:
                w[f"{name}_b"] = layer.bias
    return {n: t.detach().contiguous().numpy() for n, t in w.items()}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=["lenet5", "cnn_bn"], required=True)
    p.add_argument("--weights", required=True, help="safetensors from dlrun bench --save-initial, or 'torch'")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0, help="dlrun train --seed (default: the models' seed, 0)")
    p.add_argument("--torch-seed", type=int, default=0, help="torch.manual_seed: default init and dropout")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", help="write the JSON here as well")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.torch_seed)

    weights = (torch_default_weights(args.model) if args.weights == "torch"
               else {n: t.astype("float32") for n, t in common.read_safetensors(args.weights).items() if "." not in n})
    model = LeNet5(weights) if args.model == "lenet5" else CnnBn(weights)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    x_train, y_train = (torch.from_numpy(a) for a in lenet.load_images(args.data, "train"))
    x_test, y_test = (torch.from_numpy(a) for a in lenet.load_images(args.data, "t10k"))
    b = 128
    batches = len(x_train) // b  # dlrun drops the last partial batch
    epochs = []
    for epoch in range(args.epochs):
        order = torch.from_numpy(common.shuffled_indices(len(x_train), common.epoch_seed(args.seed, epoch)))
        model.train()
        loss_sum = 0.0
        start = time.perf_counter()
        for i in range(batches):
            rows = order[i * b : (i + 1) * b]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x_train[rows]), y_train[rows])
            loss.backward()
            opt.step()
            loss_sum += loss.item()
        seconds = time.perf_counter() - start
        model.eval()
        with torch.inference_mode():
            logits = torch.cat([model(x_test[i : i + 1000]) for i in range(0, len(x_test), 1000)])
        e = {"epoch": epoch + 1, "seconds": seconds, "train_loss": loss_sum / batches,
             "test_loss": F.cross_entropy(logits.double(), y_test).item(),
             "test_accuracy": (logits.argmax(1) == y_test).double().mean().item()}
        epochs.append(e)
        print(f"epoch {e['epoch']:2d}  {seconds:6.1f} s  train loss {e['train_loss']:.4f}  "
              f"test loss {e['test_loss']:.4f}  test accuracy {e['test_accuracy']:.4f}", flush=True)
    result = {"framework": "pytorch", "version": torch.__version__, "model": args.model,
              "init": "torch default" if args.weights == "torch" else args.weights, "threads": args.threads,
              "seed": args.seed, "epochs": epochs,
              "final_test_accuracy": epochs[-1]["test_accuracy"] if epochs else None,
              "best_test_accuracy": max((e["test_accuracy"] for e in epochs), default=None)}
    print(json.dumps(result))
    if args.out:
        with open(args.out, "w") as f:
            f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
