"""models/lenet5.pbtxt in JAX (`jax.jit`): conv 5x5 (pad 2) - relu - max pool
2x2 - conv 5x5 - relu - max pool 2x2 - 400-120-84-10 dense with ReLU, mean
softmax cross-entropy, Adam(lr 1e-3, betas .9/.999, eps 1e-8) written out as
dlc lowers it, starting from dlc's initial weights. Prints one JSON object;
see bench/README.md. Thread count: taskset before starting (run.sh does);
XLA's CPU pool follows the cores it may use.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lenet  # noqa: E402
from lenet import common  # noqa: E402
import jax_adam  # noqa: E402  (bench/cpu_mlp, on the path through lenet)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402


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


MODEL = jax_adam.AdamModel(logits_of)


def run_steps(args, weights):
    out = {"framework": "jax", "version": jax.__version__, "threads": len(os.sched_getaffinity(0)),
           "compile_ms": MODEL.compile_ms(weights, *lenet.random_images(lenet.EPOCH_BATCH, seed=lenet.EPOCH_BATCH)),
           "train": [], "predict": []}
    for batch in lenet.TRAIN_BATCHES:
        trainer = MODEL.trainer(weights)
        x, y = lenet.random_images(batch, seed=batch)
        x, y = jnp.asarray(x), jnp.asarray(y.astype(np.int32))
        ms = common.time_calls(lambda: trainer.step(x, y), common.scaled(lenet.steps_for(batch, "train_step"), args),
                               10)
        out["train"].append(common.summary(ms, batch))
    p = {k: jnp.asarray(v) for k, v in weights.items()}
    for batch in lenet.PREDICT_BATCHES:
        x = jnp.asarray(lenet.random_images(batch, seed=batch)[0])
        ms = common.time_calls(lambda: MODEL.predict_jit(p, x).block_until_ready(),
                               common.scaled(lenet.steps_for(batch, "predict"), args), 2)
        out["predict"].append(common.summary(ms, batch))
    out["peak_rss_bytes"] = common.peak_rss_bytes()
    return out


def run_epoch(args, weights):
    return jax_adam.run_epoch(MODEL, weights, lenet.load_images(args.data, "train"), lenet.load_images(args.data, "t10k"),
                              lenet.EPOCH_BATCH, args.seed)


def main():
    args = lenet.parse_args("JAX")
    weights = lenet.lenet_weights(args.weights)
    common.emit(run_steps(args, weights) if args.mode == "steps" else run_epoch(args, weights), args)


if __name__ == "__main__":
    main()
