"""The table of bench/cuda_mlp/run.sh: step times of every contender at
batch 32, 128 and 1024 (best median over the rounds), inference throughput,
one epoch, and the floors measured in the same run. `python report.py OUT`."""
import glob
import json
import os
import re
import sys


def load(path):
    try:
        with open(path) as f:
            text = f.read().strip().splitlines()
        return json.loads(text[-1]) if text else None
    except (OSError, ValueError):
        return None


def best(values):
    values = [v for v in values if v is not None]
    return min(values) if values else None


def fmt(v, digits=3):
    return "—" if v is None else f"{v:.{digits}g}"


def main():
    out = sys.argv[1]
    rounds = sorted(glob.glob(os.path.join(out, "round*")))

    def dlc(entry, batch, variant="dlc"):
        runs = [load(os.path.join(r, f"{variant}_{entry}_{batch}.json")) for r in rounds]
        return best(e["median_ms"] for run in runs if run for e in run["entries"] if e["entry"] == entry)

    def peer(name, kind, batch):
        runs = [load(os.path.join(r, f"{name}_steps.json")) for r in rounds]
        return best(e["median_ms"] for run in runs if run for e in run[kind] if e["batch"] == batch)

    floor = load(os.path.join(out, "floor.json")) or {}
    info = open(os.path.join(out, "dlc_info.txt")).read() if os.path.exists(os.path.join(out, "dlc_info.txt")) else ""
    m = re.search(r"train_step: (\d+) kernels", info)
    launches = int(m.group(1)) if m else None
    contenders = [("dlc cuda", lambda k, b: dlc("train_step" if k == "train" else "predict", b)),
                  ("dlc cuda, no CUDA graph", lambda k, b: dlc("train_step", b, "dlc_nograph") if k == "train" else None),
                  ("PyTorch eager (fused Adam)", lambda k, b: peer("torch", k, b)),
                  ("torch.compile reduce-overhead", lambda k, b: peer("torch_compile", k, b)),
                  ("JAX jit", lambda k, b: peer("jax", k, b))]
    print(f"GPU: {floor.get('device', 'unknown')}\n")
    print("Train step, ms (median; best of the rounds)\n")
    print("| | b32 | b128 | b1024 |\n|---|---|---|---|")
    for name, get in contenders:
        print(f"| {name} | " + " | ".join(fmt(get("train", b)) for b in (32, 128, 1024)) + " |")
    if floor:
        fb = {x["batch"]: x for x in floor["batches"]}
        node = floor["graph_node_us"]
        print("| floor: FLOPs / FP32 GEMM rate | " + " | ".join(fmt(fb[b]["compute_us"] / 1e3) for b in (32, 128, 1024)) + " |")
        print("| floor: bytes / copy bandwidth | " + " | ".join(fmt(fb[b]["memory_us"] / 1e3) for b in (32, 128, 1024)) + " |")
        print("| floor: the 8 GEMMs alone, one CUDA graph | " +
              " | ".join(fmt(fb[b]["gemms_graph_us"] / 1e3) for b in (32, 128, 1024)) + " |")
        if "input_pinned_us" in fb[32]:
            print("| floor: the batch from host to GPU (pinned) | " +
                  " | ".join(fmt(fb[b]["input_pinned_us"] / 1e3) for b in (32, 128, 1024)) + " |")
        if launches:
            print(f"| floor: {launches} launches x graph node latency | " +
                  " | ".join(fmt(launches * node / 1e3) for _ in (32, 128, 1024)) + " |")
        print(f"\nMeasured: FP32 GEMM {floor['gemm_tflops']:.1f} TFLOP/s (TF32 off), copy {floor['copy_gbps']:.0f} GB/s, "
              f"{node:.2f} us per kernel node of a replayed CUDA graph" +
              (f"; host to device {floor['h2d_pinned_gbps']:.1f} GB/s from pinned, "
               f"{floor['h2d_pageable_gbps']:.1f} GB/s from pageable memory (3.2 MB)" if "h2d_pinned_gbps" in floor else "") +
              ".\ndlc's step takes its batch from host memory; the peers' step timings keep it on the GPU.")
    print("\nInference, samples/s (median)\n")
    print("| | b1 | b128 | b10000 |\n|---|---|---|---|")
    for name, get in contenders:
        cells = []
        for b in (1, 128, 10000):
            ms = get("predict", b)
            cells.append(fmt(None if ms is None else b / ms * 1e3, 3))
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nOne Fashion-MNIST epoch at batch 128 (the training steps; data loading and evaluation not counted)\n")
    print("| | seconds | test accuracy |\n|---|---|---|")
    for name, file, key in (("dlc cuda", "dlc_epoch.json", "train_seconds"), ("PyTorch eager", "torch_epoch.json", "epoch_s"),
                            ("torch.compile reduce-overhead", "torch_compile_epoch.json", "epoch_s"),
                            ("JAX jit", "jax_epoch.json", "epoch_s")):
        r = load(os.path.join(out, file))
        print(f"| {name} | {fmt(r and r.get(key))} | {fmt(r and r.get('test_accuracy'), 4)} |")


if __name__ == "__main__":
    main()
