"""The JAX side every CPU benchmark shares, for a model given by its
logits: mean softmax cross-entropy, Adam(lr 1e-3, betas .9/.999, eps 1e-8)
written out as dlc lowers it, jitted with the parameters and state donated
(updated in place like dlc's), and the timed one-epoch run. jax_mlp.py and
../cpu_cnn/jax_lenet.py supply only their logits and data.
"""
import os
import time

import common

import jax
import jax.numpy as jnp
import numpy as np

LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-8


class AdamModel:
    def __init__(self, logits_of):
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

        self.train_step = train_step
        self.train_jit = jax.jit(train_step, donate_argnums=(0, 1, 2))
        self.predict_jit = jax.jit(lambda p, x: jax.nn.softmax(logits_of(p, x)))

    def trainer(self, weights):
        return Trainer(self, weights)

    def compile_ms(self, weights, x, y):
        """Trace + XLA compile of the train step on batch (x, y), from a cold cache."""
        p = {k: jnp.asarray(v) for k, v in weights.items()}
        start = time.perf_counter()
        jax.jit(self.train_step, donate_argnums=(0, 1, 2)).lower(p, p, p, x, y.astype(np.int32),
                                                                  jnp.float32(1)).compile()
        return (time.perf_counter() - start) * 1e3


class Trainer:
    def __init__(self, model, weights):
        self.model = model
        self.p = {k: jnp.asarray(v) for k, v in weights.items()}
        self.m = {k: jnp.zeros_like(v) for k, v in self.p.items()}
        self.v = {k: jnp.zeros_like(v) for k, v in self.p.items()}
        self.t = 0

    def step(self, x, y):
        self.t += 1
        self.p, self.m, self.v, loss = self.model.train_jit(self.p, self.m, self.v, x, y, jnp.float32(self.t))
        return float(loss)  # waits for the step, and dlc's train_step hands back the loss too


def run_epoch(model, weights, train, test, batch, seed):
    """One epoch over `train` = (x, y) in dlrun's order at `batch`, then the loss and accuracy on `test`."""
    x_train, y_train = train
    x_test, y_test = test
    y_train = y_train.astype(np.int32)
    order = common.shuffled_indices(len(x_train), common.epoch_seed(seed, 0))
    b = batch
    batches = len(x_train) // b  # dlrun drops the last partial batch
    model.trainer(weights).step(x_train[order[:b]], y_train[order[:b]])  # compile outside the timed epoch...
    trainer = model.trainer(weights)  # ...and start over from the initial weights
    loss_sum = 0.0
    start = time.perf_counter()
    for i in range(batches):
        rows = order[i * b : (i + 1) * b]
        loss_sum += trainer.step(x_train[rows], y_train[rows])
    seconds = time.perf_counter() - start
    probs = np.asarray(model.predict_jit(trainer.p, jnp.asarray(x_test)), dtype=np.float64)
    picked = np.maximum(probs[np.arange(len(y_test)), y_test], 1e-12)
    return {"framework": "jax", "threads": len(os.sched_getaffinity(0)), "batch": b, "batches": batches,
            "epoch_s": seconds, "train_loss": loss_sum / batches, "test_loss": float(-np.log(picked).mean()),
            "test_accuracy": float((probs.argmax(1) == y_test).mean()), "peak_rss_bytes": common.peak_rss_bytes()}
