"""models/lenet5.pbtxt in PyTorch (eager): conv 5x5 (pad 2) - relu - max pool
2x2 - conv 5x5 - relu - max pool 2x2 - 400-120-84-10 dense with ReLU, mean
softmax cross-entropy, fused Adam(lr 1e-3, betas .9/.999, eps 1e-8), starting
from dlc's initial weights. Prints one JSON object; see bench/README.md.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lenet  # noqa: E402
from lenet import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class LeNet5(torch.nn.Module):
    def __init__(self, w):
        super().__init__()
        # dlc's layouts: convolution weights [out, in, kh, kw] (PyTorch's own),
        # dense weights [in, out], so each dense layer is one addmm.
        for name, value in w.items():
            setattr(self, name, torch.nn.Parameter(torch.from_numpy(value.copy())))

    def forward(self, x):
        x = F.max_pool2d(torch.relu(F.conv2d(x, self.conv1_w, self.conv1_b, padding=2)), 2)
        x = F.max_pool2d(torch.relu(F.conv2d(x, self.conv2_w, self.conv2_b)), 2)
        x = torch.flatten(x, 1)
        h1 = torch.relu(torch.addmm(self.fc1_b, x, self.fc1_w))
        h2 = torch.relu(torch.addmm(self.fc2_b, h1, self.fc2_w))
        return torch.addmm(self.fc3_b, h2, self.fc3_w)


def make_trainer(weights):
    model = LeNet5(weights)
    # fused: PyTorch's fastest Adam on the CPU (bench/cpu_mlp found the
    # for-loop default about 2x slower at batch 32), so dlc meets its best.
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, fused=True)

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()  # dlc's train_step hands back the loss too

    return model, step


def tensors(*arrays):
    return (torch.from_numpy(a) for a in arrays)


def run_steps(args, weights):
    out = {"framework": "pytorch", "version": torch.__version__, "adam": "fused", "threads": torch.get_num_threads(),
           "compile_ms": None, "train": [], "predict": []}
    for batch in lenet.TRAIN_BATCHES:
        _, step = make_trainer(weights)
        x, y = tensors(*lenet.random_images(batch, seed=batch))
        ms = common.time_calls(lambda: step(x, y), common.scaled(lenet.steps_for(batch, "train_step"), args), 10)
        out["train"].append(common.summary(ms, batch))
    model = LeNet5(weights)
    for batch in lenet.PREDICT_BATCHES:
        x, = tensors(lenet.random_images(batch, seed=batch)[0])

        def predict():
            with torch.inference_mode():
                return torch.softmax(model(x), dim=-1)

        ms = common.time_calls(predict, common.scaled(lenet.steps_for(batch, "predict"), args), 2)
        out["predict"].append(common.summary(ms, batch))
    out["peak_rss_bytes"] = common.peak_rss_bytes()
    return out


def run_epoch(args, weights):
    x_train, y_train = tensors(*lenet.load_images(args.data, "train"))
    x_test, y_test = tensors(*lenet.load_images(args.data, "t10k"))
    order = torch.from_numpy(common.shuffled_indices(len(x_train), common.epoch_seed(args.seed, 0)))
    model, step = make_trainer(weights)
    b = lenet.EPOCH_BATCH
    batches = len(x_train) // b  # dlrun drops the last partial batch
    loss_sum = 0.0
    start = time.perf_counter()
    for i in range(batches):
        rows = order[i * b : (i + 1) * b]
        loss_sum += step(x_train[rows], y_train[rows])
    seconds = time.perf_counter() - start
    with torch.inference_mode():
        probs = torch.softmax(model(x_test), dim=-1).double()
    picked = probs[torch.arange(len(y_test)), y_test].clamp_min(1e-12)
    return {"framework": "pytorch", "threads": torch.get_num_threads(), "batch": b, "batches": batches,
            "epoch_s": seconds, "train_loss": loss_sum / batches, "test_loss": float(-picked.log().mean()),
            "test_accuracy": float((probs.argmax(1) == y_test).double().mean()),
            "peak_rss_bytes": common.peak_rss_bytes()}


def main():
    args = lenet.parse_args("PyTorch")
    torch.set_num_threads(args.threads)
    weights = lenet.lenet_weights(args.weights)
    common.emit(run_steps(args, weights) if args.mode == "steps" else run_epoch(args, weights), args)


if __name__ == "__main__":
    main()
