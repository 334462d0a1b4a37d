"""What the PyTorch and JAX benchmarks share with each other and with dlrun:
the Fashion-MNIST reader, dlrun's shuffle order, the safetensors reader for
dlc's initial weights, timing and peak memory.
"""
import argparse
import gzip
import json
import os
import resource
import struct
import time

import numpy as np

MASK64 = (1 << 64) - 1

# Batches of each measurement: step times, inference, the epoch.
TRAIN_BATCHES = (32, 128, 1024)
PREDICT_BATCHES = (1, 128, 10000)
EPOCH_BATCH = 128


def read_idx(path):
    """An IDX file (raw or .gz) as a numpy array of its element type."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, type_code, rank = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * rank, data[4 : 4 + 4 * rank])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * rank).reshape(dims)


def load_split(folder, split):
    """(x f32[n,784] scaled to [0,1] as dlrun does, y i64[n]) of 'train' or 't10k'."""
    def find(stem):
        for name in (stem, stem + ".gz"):
            if os.path.exists(os.path.join(folder, name)):
                return os.path.join(folder, name)
        raise FileNotFoundError(f"{folder}: no {stem}[.gz]")

    x = read_idx(find(f"{split}-images-idx3-ubyte"))
    y = read_idx(find(f"{split}-labels-idx1-ubyte"))
    x = x.reshape(x.shape[0], -1).astype(np.float32) / np.float32(255)
    return x, y.astype(np.int64)


def shuffled_indices(n, seed):
    """runtime/datasets.cc shuffled_indices: splitmix64 + Fisher-Yates."""
    idx = list(range(n))
    state = seed & MASK64
    for i in range(n - 1, 0, -1):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        z ^= z >> 31
        j = z % (i + 1)
        idx[i], idx[j] = idx[j], idx[i]
    return np.array(idx, dtype=np.int64)


def epoch_seed(seed, epoch):
    """runtime/tool/cmd_train.cc epoch_seed."""
    return (seed * 0x9E3779B97F4A7C15 + epoch + 1) & MASK64


def read_safetensors(path):
    """{name: numpy array} of a safetensors file (8-byte header length, JSON header, data)."""
    dtypes = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64}
    with open(path, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + header_len])
    base = 8 + header_len
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        arr = np.frombuffer(blob[base + begin : base + end], dtypes[info["dtype"]])
        out[name] = arr.reshape(info["shape"]).copy()
    return out


def mlp_weights(path):
    """W1, b1, W2, b2, W3, b3 of models/mlp_mnist.pbtxt (W as [in, out], x @ W)."""
    t = read_safetensors(path)
    names = ["W1", "b1", "W2", "b2", "W3", "b3"]
    missing = [n for n in names if n not in t]
    if missing:
        raise KeyError(f"{path}: no {', '.join(missing)} (has {', '.join(sorted(t))})")
    return {n: t[n].astype(np.float32) for n in names}


def random_batch(batch, seed):
    """A batch of random pixels in [0,1) and labels in 0..9."""
    rng = np.random.default_rng(seed)
    return rng.random((batch, 784), dtype=np.float32), rng.integers(0, 10, batch, dtype=np.int64)


def time_calls(fn, steps, warmup):
    """Milliseconds of each of `steps` calls of fn() after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(steps):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1e3)
    return ms


def summary(ms, batch):
    s = sorted(ms)
    n = len(s)
    median = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    return {
        "batch": batch,
        "steps": n,
        "median_ms": median,
        "mean_ms": sum(s) / n,
        "min_ms": s[0],
        "samples_per_s": batch / (median / 1e3),
    }


def steps_for(batch, entry):
    """Timed calls so each measurement takes about a second or two here."""
    if entry == "train_step":
        return {32: 600, 128: 300, 1024: 60}.get(batch, 100)
    return {1: 2000, 128: 500, 10000: 15}.get(batch, 100)


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def parse_args(framework, what="The bench/cpu_mlp MLP"):
    p = argparse.ArgumentParser(description=f"{what} in {framework}: step times, inference, epoch.")
    p.add_argument("--weights", required=True, help="initial weights (safetensors from dlrun bench --save-initial)")
    p.add_argument("--mode", choices=["steps", "epoch"], required=True,
                   help="steps: train-step and inference timings on random batches; "
                        "epoch: one Fashion-MNIST epoch at batch 128 in dlrun's order, then the test set")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--seed", type=int, default=1, help="dlrun train --seed: the shuffle order")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--scale", type=float, default=1.0, help="multiply every step count (quick runs: 0.1)")
    p.add_argument("--out", help="write the JSON here as well as to stdout")
    p.add_argument("--device", default="cpu", help="PyTorch only: cpu, or cuda (the peer of dlc's cuda target)")
    p.add_argument("--compile", metavar="MODE", help="PyTorch only: torch.compile the step with this mode "
                   "(e.g. reduce-overhead)")
    return p.parse_args()


def emit(result, args):
    text = json.dumps(result)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


def scaled(n, args):
    return max(3, int(n * args.scale))
