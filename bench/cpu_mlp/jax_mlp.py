"""models/mlp_mnist.pbtxt in JAX (`jax.jit`): 784-256-256-10, ReLU, mean
softmax cross-entropy, Adam(lr 1e-3, betas .9/.999, eps 1e-8) written out as
dlc lowers it, starting from dlc's initial weights. Prints one JSON object;
see bench/README.md. Thread count: set XLA_FLAGS / taskset before starting
(bench/cpu_mlp/run.sh does); XLA's CPU pool follows the cores it may use.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import jax_adam  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402


def logits_of(p, x):
    h1 = jax.nn.relu(x @ p["W1"] + p["b1"])
    h2 = jax.nn.relu(h1 @ p["W2"] + p["b2"])
    return h2 @ p["W3"] + p["b3"]


MODEL = jax_adam.AdamModel(logits_of)


def run_steps(args, weights):
    out = {"framework": "jax", "version": jax.__version__, "threads": len(os.sched_getaffinity(0)),
           "compile_ms": MODEL.compile_ms(weights, *common.random_batch(128, seed=128)), "train": [], "predict": []}
    for batch in common.TRAIN_BATCHES:
        trainer = MODEL.trainer(weights)
        x, y = common.random_batch(batch, seed=batch)
        x, y = jnp.asarray(x), jnp.asarray(y.astype(np.int32))
        ms = common.time_calls(lambda: trainer.step(x, y), common.scaled(common.steps_for(batch, "train_step"), args),
                               10)
        out["train"].append(common.summary(ms, batch))
    p = {k: jnp.asarray(v) for k, v in weights.items()}
    for batch in common.PREDICT_BATCHES:
        x = jnp.asarray(common.random_batch(batch, seed=batch)[0])
        ms = common.time_calls(lambda: MODEL.predict_jit(p, x).block_until_ready(),
                               common.scaled(common.steps_for(batch, "predict"), args), 5)
        out["predict"].append(common.summary(ms, batch))
    out["peak_rss_bytes"] = common.peak_rss_bytes()
    return out


def run_epoch(args, weights):
    return jax_adam.run_epoch(MODEL, weights, common.load_split(args.data, "train"), common.load_split(args.data, "t10k"),
                              common.EPOCH_BATCH, args.seed)


def main():
    args = common.parse_args("JAX")
    weights = common.mlp_weights(args.weights)
    common.emit(run_steps(args, weights) if args.mode == "steps" else run_epoch(args, weights), args)


if __name__ == "__main__":
    main()
