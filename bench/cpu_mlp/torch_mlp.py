"""models/mlp_mnist.pbtxt in PyTorch (eager): 784-256-256-10, ReLU, mean
softmax cross-entropy, fused Adam(lr 1e-3, betas .9/.999, eps 1e-8), starting from
dlc's initial weights. Prints one JSON object; see bench/README.md.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class MLP(torch.nn.Module):
    def __init__(self, w):
        super().__init__()
        # [in, out] layout as in dlc, so each layer is one addmm.
        for name, value in w.items():
            setattr(self, name, torch.nn.Parameter(torch.from_numpy(value.copy())))

    def forward(self, x):
        h1 = torch.relu(torch.addmm(self.b1, x, self.W1))
        h2 = torch.relu(torch.addmm(self.b2, h1, self.W2))
        return torch.addmm(self.b3, h2, self.W3)


def make_trainer(weights, device, compile_mode=None):
    model = MLP(weights).to(device)
    if compile_mode:
        return model, compiled_trainer(model, compile_mode)
    # fused: PyTorch's fastest Adam on the CPU (the for-loop default is
    # about 2x slower at batch 32 here) and on the GPU, so dlc is measured
    # against its best.
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, fused=True)

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()  # dlc's train_step hands back the loss too (and this waits for the GPU)

    return model, step


def compiled_trainer(model, mode):
    """The step under torch.compile as its tutorials write it: the forward
    and loss compiled in `mode` (AOTAutograd compiles the backward with
    them; "reduce-overhead" replays both as CUDA graphs), and the optimizer
    step compiled on its own, in the default mode."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    loss_of = torch.compile(lambda x, y: F.cross_entropy(model(x), y), mode=mode)
    opt_step = torch.compile(opt.step)

    def step(x, y):
        # A new iteration for the CUDA-graph trees: the last step's graph
        # outputs (saved activations) may be overwritten now.
        torch.compiler.cudagraph_mark_step_begin()
        # Fresh gradients each step: accumulating into last step's, which
        # live in the graphs' memory pool, is refused once it is reused.
        opt.zero_grad(set_to_none=True)
        loss = loss_of(x, y)
        loss.backward()
        opt_step()
        return loss.item()

    return step


def on(device, arrays):
    return (torch.from_numpy(a).to(device) for a in arrays)


def run_steps(args, weights):
    out = {"framework": "pytorch", "version": torch.__version__, "adam": "foreach, compiled" if args.compile else "fused",
           "compile": args.compile, "threads": torch.get_num_threads(), "device": args.device, "compile_ms": None,
           "train": [], "predict": []}
    for batch in common.TRAIN_BATCHES:
        _, step = make_trainer(weights, args.device, args.compile)
        x, y = on(args.device, common.random_batch(batch, seed=batch))
        ms = common.time_calls(lambda: step(x, y), common.scaled(common.steps_for(batch, "train_step"), args), 10)
        out["train"].append(common.summary(ms, batch))
    model = MLP(weights).to(args.device)
    # Under torch.compile only the train step is timed: each inference batch
    # size would cost another compile of about as long.
    for batch in common.PREDICT_BATCHES if not args.compile else ():
        x, = on(args.device, common.random_batch(batch, seed=batch)[:1])

        def predict():
            with torch.inference_mode():
                probs = torch.softmax(model(x), dim=-1)
            if args.device != "cpu":
                torch.cuda.synchronize()  # dlc's predict hands back finished outputs
            return probs

        ms = common.time_calls(predict, common.scaled(common.steps_for(batch, "predict"), args), 5)
        out["predict"].append(common.summary(ms, batch))
    out["peak_rss_bytes"] = common.peak_rss_bytes()
    return out


def run_epoch(args, weights):
    x_train, y_train = on(args.device, common.load_split(args.data, "train"))
    x_test, y_test = on(args.device, common.load_split(args.data, "t10k"))
    order = torch.from_numpy(common.shuffled_indices(len(x_train), common.epoch_seed(args.seed, 0))).to(args.device)
    model, step = make_trainer(weights, args.device, args.compile)
    b = common.EPOCH_BATCH
    if args.compile:  # compile and record the graphs outside the timed epoch, then start over
        for i in range(3):
            step(x_train[order[:b]], y_train[order[:b]])
        model, step = make_trainer(weights, args.device, args.compile)
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
    return {"framework": "pytorch", "compile": args.compile, "threads": torch.get_num_threads(), "batch": b,
            "batches": batches,
            "epoch_s": seconds, "train_loss": loss_sum / batches, "test_loss": float(-picked.log().mean()),
            "test_accuracy": float((probs.argmax(1) == y_test).double().mean()),
            "peak_rss_bytes": common.peak_rss_bytes()}


def main():
    args = common.parse_args("PyTorch")
    torch.set_num_threads(args.threads)
    weights = common.mlp_weights(args.weights)
    common.emit(run_steps(args, weights) if args.mode == "steps" else run_epoch(args, weights), args)


if __name__ == "__main__":
    main()
