"""The floors of the MLP train step (models/mlp_mnist.pbtxt, Adam) on this
GPU, each measured here through PyTorch (cuBLAS, CUDA graphs) and printed
as one JSON object:

- gemm_tflops: plain-FP32 matrix rate (TF32 off, as dlc's cuBLAS handle),
  an 8192^3 product on random data;
- copy_gbps: device-to-device copy bandwidth, bytes read plus written;
- h2d_pinned_gbps, h2d_pageable_gbps: host-to-device copy of a 3.2 MB
  batch from pinned and from pageable memory;
- graph_node_us: time per kernel node of a replayed CUDA graph of tiny kernels
  (what each launch of a captured step costs at least);
- per batch: the step's FLOPs and fewest bytes over those rates, and the 8
  GEMMs of the step alone (3 forward, 5 backward, cuBLAS) replayed as one graph.
"""
import json
import sys

import torch

IN, H, OUT = 784, 256, 10
PARAMS = IN * H + H + H * H + H + H * OUT + OUT


def median_ms(fn, repeat=50, warmup=5):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


def graph_of(fn):
    """fn captured once into a CUDA graph; returns its replay."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        fn()  # warm-up outside the capture (cuBLAS picks its kernels)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        fn()
    return g.replay


def step_flops(b):
    # forward 3 products; backward: every weight gradient, input gradients of layers 2 and 3
    fwd = 2 * b * (IN * H + H * H + H * OUT)
    return 2 * fwd + 2 * b * (H * H + H * OUT)


def step_bytes(b):
    # read x, labels, weights, Adam's m and v; write weights, m, v
    return 4 * (b * IN + b) + 4 * 6 * PARAMS


def gemms_of_step(b):
    r = lambda *s: torch.rand(*s, device="cuda")
    x, w1, w2, w3 = r(b, IN), r(IN, H), r(H, H), r(H, OUT)
    h1, h2, d3, d2, d1 = r(b, H), r(b, H), r(b, OUT), r(b, H), r(b, H)

    def run():
        torch.mm(x, w1), torch.mm(h1, w2), torch.mm(h2, w3)  # forward
        torch.mm(h2.t(), d3), torch.mm(d3, w3.t()), torch.mm(h1.t(), d2), torch.mm(d2, w2.t()), torch.mm(x.t(), d1)

    return run


def main():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    n = 8192
    a, b = torch.rand(n, n, device="cuda"), torch.rand(n, n, device="cuda")
    gemm_tflops = 2 * n**3 / (median_ms(lambda: torch.mm(a, b), repeat=10) * 1e-3) / 1e12
    del a, b
    src = torch.rand(256 * 1024 * 1024, device="cuda")  # 1 GiB
    dst = torch.empty_like(src)
    copy_gbps = 2 * src.numel() * 4 / (median_ms(lambda: dst.copy_(src), repeat=20) * 1e-3) / 1e9
    del src, dst
    tiny = torch.zeros(1, device="cuda")
    nodes = 200
    replay = graph_of(lambda: [tiny.add_(1) for _ in range(nodes)])
    graph_node_us = median_ms(replay, repeat=50) * 1e3 / nodes
    # Inputs come from the host in dlc's step (the peers' step timings keep
    # the batch on the GPU): the rates a batch crosses to the device at.
    x_host = torch.rand(1024, IN)
    x_pinned = x_host.pin_memory()
    x_dev = torch.empty(1024, IN, device="cuda")
    bytes_1024 = x_host.numel() * 4
    h2d_pinned_gbps = bytes_1024 / (median_ms(lambda: x_dev.copy_(x_pinned, non_blocking=True), repeat=50) * 1e-3) / 1e9
    h2d_pageable_gbps = bytes_1024 / (median_ms(lambda: x_dev.copy_(x_host), repeat=50) * 1e-3) / 1e9
    batches = []
    for batch in (32, 128, 1024):
        gemms_us = median_ms(graph_of(gemms_of_step(batch)), repeat=100) * 1e3
        batches.append({"batch": batch, "flops": step_flops(batch), "bytes": step_bytes(batch),
                        "compute_us": step_flops(batch) / (gemm_tflops * 1e12) * 1e6,
                        "memory_us": step_bytes(batch) / (copy_gbps * 1e9) * 1e6, "gemms_graph_us": gemms_us,
                        "input_pinned_us": batch * IN * 4 / (h2d_pinned_gbps * 1e9) * 1e6})
    out = {"device": torch.cuda.get_device_name(), "gemm_tflops": gemm_tflops, "copy_gbps": copy_gbps,
           "graph_node_us": graph_node_us, "h2d_pinned_gbps": h2d_pinned_gbps, "h2d_pageable_gbps": h2d_pageable_gbps,
           "batches": batches}
    text = json.dumps(out)
    print(text)
    if len(sys.argv) > 1:
        open(sys.argv[1], "w").write(text + "\n")


if __name__ == "__main__":
    main()
