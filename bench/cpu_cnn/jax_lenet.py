"""models/lenet5.pbtxt in JAX (`jax.jit`): conv 5x5 (pad 2) - relu - max pool
2x2 - conv 5x5 - relu - max pool 2x2 - 400-120-84-10 dense with ReLU, mean
softmax cross-entropy, Adam(lr 1e-3, betas .9/.999, eps 1e-8) written out as
dlc lowers it, starting from dlc's initial weights. Prints one JSON object;
see bench/README.md. Thread count: taskset before starting (run.sh does);
XLA's CPU pool follows the cores it may use.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lenet  # noqa: E402
from lenet import common  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-8


def conv(x, w, b, pad):
    """torch.nn.functional.conv2d: NCHW input, OIHW weights, symmetric padding."""
    y = jax.lax.conv_general_dilated(x, w, window_strides=(1, 1), padding=((pad, pad), (pad, pad)),
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return y + b[None, :, None, None]


def max_pool_2x2(x):
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")


def logits_of(p, x):
    x = max_pool_2x2(jax.nn.relu(conv(x, p["conv1_w"], p["conv1_b"], 2)))
    x = max_pool_2x2(jax.nn.relu(conv(x, p["conv2_w"], p["conv2_b"], 0)))
    x = x.reshape(x.shape[0], -1)
    h1 = jax.nn.relu(x @ p["fc1_w"] + p["fc1_b"])
    h2 = jax.nn.relu(h1 @ p["fc2_w"] + p["fc2_b"])
    return h2 @ p["fc3_w"] + p["fc3_b"]


def loss_of(p, x, y):
    logp = jax.nn.log_softmax(logits_of(p, x))
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def train_step(p, m, v, x, y, t):
    """One Adam update; t is the 1-based step (a traced scalar, so no recompiles)."""
    loss, g = jax.value_and_grad(loss_of)(p, x, y)
    m = jax.tree_util.tree_map(lambda m, g: B1 * m + (1 - B1) * g, m, g)
    v = jax.tree_util.tree_map(lambda v, g: B2 * v + (1 - B2) * g * g, v, g)
    c1, c2 = 1 - B1**t, 1 - B2**t
    p = jax.tree_util.tree_map(lambda p, m, v: p - LR * (m / c1) / (jnp.sqrt(v / c2) + EPS), p, m, v)
    return p, m, v, loss


def predict(p, x):
    return jax.nn.softmax(logits_of(p, x))


# The parameters and Adam state are donated: updated in place like dlc's.
train_jit = jax.jit(train_step, donate_argnums=(0, 1, 2))
predict_jit = jax.jit(predict)


class Trainer:
    def __init__(self, weights):
        self.p = {k: jnp.asarray(v) for k, v in weights.items()}
        self.m = {k: jnp.zeros_like(v) for k, v in self.p.items()}
        self.v = {k: jnp.zeros_like(v) for k, v in self.p.items()}
        self.t = 0

    def step(self, x, y):
        self.t += 1
        self.p, self.m, self.v, loss = train_jit(self.p, self.m, self.v, x, y, jnp.float32(self.t))
        return float(loss)  # waits for the step, and dlc's train_step hands back the loss too


def compile_ms(weights, batch):
    """Trace + XLA compile of the train step at `batch`, from a cold cache."""
    p = {k: jnp.asarray(v) for k, v in weights.items()}
    x, y = lenet.random_images(batch, seed=batch)
    start = time.perf_counter()
    jax.jit(train_step, donate_argnums=(0, 1, 2)).lower(p, p, p, x, y.astype(np.int32), jnp.float32(1)).compile()
    return (time.perf_counter() - start) * 1e3


def run_steps(args, weights):
    out = {"framework": "jax", "version": jax.__version__, "threads": len(os.sched_getaffinity(0)),
           "compile_ms": compile_ms(weights, lenet.EPOCH_BATCH), "train": [], "predict": []}
    for batch in lenet.TRAIN_BATCHES:
        trainer = Trainer(weights)
        x, y = lenet.random_images(batch, seed=batch)
        x, y = jnp.asarray(x), jnp.asarray(y.astype(np.int32))
        ms = common.time_calls(lambda: trainer.step(x, y), common.scaled(lenet.steps_for(batch, "train_step"), args),
                               10)
        out["train"].append(common.summary(ms, batch))
    p = {k: jnp.asarray(v) for k, v in weights.items()}
    for batch in lenet.PREDICT_BATCHES:
        x = jnp.asarray(lenet.random_images(batch, seed=batch)[0])
        ms = common.time_calls(lambda: predict_jit(p, x).block_until_ready(),
                               common.scaled(lenet.steps_for(batch, "predict"), args), 2)
        out["predict"].append(common.summary(ms, batch))
    out["peak_rss_bytes"] = common.peak_rss_bytes()
    return out


def run_epoch(args, weights):
    x_train, y_train = lenet.load_images(args.data, "train")
    x_test, y_test = lenet.load_images(args.data, "t10k")
    y_train = y_train.astype(np.int32)
    order = common.shuffled_indices(len(x_train), common.epoch_seed(args.seed, 0))
    trainer = Trainer(weights)
    b = lenet.EPOCH_BATCH
    batches = len(x_train) // b  # dlrun drops the last partial batch
    trainer.step(x_train[order[:b]], y_train[order[:b]])  # compile outside the timed epoch...
    trainer = Trainer(weights)  # ...and start over from the initial weights
    loss_sum = 0.0
    start = time.perf_counter()
    for i in range(batches):
        rows = order[i * b : (i + 1) * b]
        loss_sum += trainer.step(x_train[rows], y_train[rows])
    seconds = time.perf_counter() - start
    probs = np.asarray(predict_jit(trainer.p, jnp.asarray(x_test)), dtype=np.float64)
    picked = np.maximum(probs[np.arange(len(y_test)), y_test], 1e-12)
    return {"framework": "jax", "threads": len(os.sched_getaffinity(0)), "batch": b, "batches": batches,
            "epoch_s": seconds, "train_loss": loss_sum / batches, "test_loss": float(-np.log(picked).mean()),
            "test_accuracy": float((probs.argmax(1) == y_test).mean()), "peak_rss_bytes": common.peak_rss_bytes()}


def main():
    args = lenet.parse_args("JAX")
    weights = lenet.lenet_weights(args.weights)
    common.emit(run_steps(args, weights) if args.mode == "steps" else run_epoch(args, weights), args)


if __name__ == "__main__":
    main()
