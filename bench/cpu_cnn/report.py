"""Reads the JSON files bench/cpu_cnn/run.sh wrote into a folder and prints
the LeNet-5 comparison table (markdown): `python report.py OUT_DIR`. Also
writes OUT_DIR/results.md. Reading rounds, best medians and formatting are
bench/cpu_mlp/report.py's; the floor here is FLOPs over the GEMM rate.
"""
import datetime
import importlib.util
import json
import os
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import lenet  # noqa: E402


def load_mlp_report():
    """bench/cpu_mlp/report.py as a module (its name clashes with this file's)."""
    spec = importlib.util.spec_from_file_location("mlp_report", os.path.join(HERE, "..", "cpu_mlp", "report.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mlp = load_mlp_report()
fmt, by_batch, best_row, load, load_rounds, median = (mlp.fmt, mlp.by_batch, mlp.best_row, mlp.load, mlp.load_rounds,
                                                       mlp.median)
EPOCH_ROWS = 60000 // lenet.EPOCH_BATCH * lenet.EPOCH_BATCH  # dlrun drops the last partial batch


def framework_steps(folder, name):
    """Best medians over rounds of a framework script's step timings, or None."""
    runs = load_rounds(folder, name)
    if not runs:
        return None, []
    best = {"train": [best_row(runs, "train", b) for b in lenet.TRAIN_BATCHES],
            "predict": [best_row(runs, "predict", b) for b in lenet.PREDICT_BATCHES],
            "version": runs[0]["version"], "peak_rss_bytes": max(r["peak_rss_bytes"] for r in runs)}
    compiles = [r["compile_ms"] for r in runs if r.get("compile_ms") is not None]
    best["compile_ms"] = min(compiles) if compiles else None
    return best, runs


def main():
    folder = sys.argv[1]
    floors = load_rounds(folder, "floor.json")
    gflops = max(f["gflops"] for f in floors) if floors else None
    floor_ms = lambda flops: flops / (gflops * 1e6) if gflops else None  # noqa: E731
    torch_s, torch_runs = framework_steps(folder, "torch_steps.json")
    jax_s, jax_runs = framework_steps(folder, "jax_steps.json")

    def best_epoch(name):
        runs = load_rounds(folder, name)
        return min(runs, key=lambda r: r["epoch_s"]) if runs else None

    torch_e, jax_e = best_epoch("torch_epoch.json"), best_epoch("jax_epoch.json")
    dlc_epochs = load_rounds(folder, "dlc_epoch.json")
    dlc_e = min(dlc_epochs, key=lambda r: -json.loads(r["stdout"])["samples_per_s"]) if dlc_epochs else None
    compile_run = load(folder, "compile.json")

    def dlc_bench(entry, batch):
        runs = load_rounds(folder, f"dlc_{entry}_{batch}.json")
        return min((j["entries"][0] for j in runs), key=lambda e: e["median_ms"]) if runs else None

    def dlc_rss(name):
        runs = load_rounds(folder, name)
        return max(j["peak_rss_bytes"] for j in runs) if runs else None

    rows = []

    def row(metric, dlc, torch, jax, floor_text):
        rows.append(f"| {metric} | {dlc} | {torch} | {jax} | {floor_text} |")

    step_ms = {}
    for b in lenet.TRAIN_BATCHES:
        d = dlc_bench("train_step", b)
        t, j = by_batch(torch_s and torch_s["train"], b), by_batch(jax_s and jax_s["train"], b)
        step_ms[b] = [d and d["median_ms"], t and t["median_ms"], j and j["median_ms"]]
        row(f"train step, batch {b} (ms, median)", *[fmt(v) for v in step_ms[b]], fmt(floor_ms(lenet.step_flops(b))))
    dlc_epoch_s = EPOCH_ROWS / json.loads(dlc_e["stdout"])["samples_per_s"] if dlc_e else None
    epoch_floor = floor_ms(lenet.step_flops(lenet.EPOCH_BATCH))
    row(f"one epoch, batch {lenet.EPOCH_BATCH} (s)", fmt(dlc_epoch_s), fmt(torch_e and torch_e["epoch_s"]),
        fmt(jax_e and jax_e["epoch_s"]), fmt(epoch_floor and epoch_floor * EPOCH_ROWS / lenet.EPOCH_BATCH / 1e3))
    for b in lenet.PREDICT_BATCHES:
        d = dlc_bench("predict", b)
        t, j = by_batch(torch_s and torch_s["predict"], b), by_batch(jax_s and jax_s["predict"], b)
        f = floor_ms(lenet.forward_flops(b))
        row(f"inference, batch {b} (samples/s)", fmt(d and d["samples_per_s"]), fmt(t and t["samples_per_s"]),
            fmt(j and j["samples_per_s"]), fmt(f and b / (f / 1e3)))
    row(f"compile, batch {lenet.EPOCH_BATCH} (s)", fmt(compile_run and compile_run["wall_s"]), "eager (none)",
        fmt(jax_s and jax_s["compile_ms"] and jax_s["compile_ms"] / 1e3) + " (jit)", "")
    mib = lambda x: fmt(x / 2**20) if x else "n/a"  # noqa: E731
    row("peak RSS, one-epoch run (MiB)", mib(dlc_e and dlc_e["peak_rss_bytes"]),
        mib(torch_e and torch_e["peak_rss_bytes"]), mib(jax_e and jax_e["peak_rss_bytes"]), "")
    row("peak RSS, step benchmark b128 / all steps and inference (MiB)", mib(dlc_rss("dlc_train_step_128.json")),
        mib(torch_s and torch_s["peak_rss_bytes"]), mib(jax_s and jax_s["peak_rss_bytes"]), "")
    after = lambda e: f"{e['train_loss']:.4f} / {e['test_accuracy']:.4f}" if e else "n/a"  # noqa: E731
    row("after the epoch: train loss / test accuracy", after(dlc_e and json.loads(dlc_e["stdout"])), after(torch_e),
        after(jax_e), "")

    ratios = []
    for b in lenet.TRAIN_BATCHES:
        d, t, j = step_ms[b]
        if not (t and j):
            continue
        # Also the ratio within each round (the frameworks ran minutes apart at most), and its median.
        tr = [by_batch(r["train"], b)["median_ms"] for r in torch_runs]
        jr = [by_batch(r["train"], b)["median_ms"] for r in jax_runs]
        if d:
            dr = [x["entries"][0]["median_ms"] for x in load_rounds(folder, f"dlc_train_step_{b}.json")]
            ratios.append(f"- batch {b}: dlc step throughput {t / d:.2f}x PyTorch's at the best medians, "
                          f"{median([tt / dd for dd, tt in zip(dr, tr)]):.2f}x as the median of the rounds' ratios; "
                          f"{j / d:.2f}x / {median([jj / dd for dd, jj in zip(dr, jr)]):.2f}x JAX's")
        else:
            ratios.append(f"- batch {b}: no dlc run; JAX step throughput {t / j:.2f}x PyTorch's")
        f = floor_ms(lenet.step_flops(b))
        if f:
            best = min(v for v in (d, t, j) if v)
            ratios.append(f"  floor {fmt(f)} ms: the fastest step is {best / f:.1f}x the floor")

    load_rows, load_ratios = mlp.competing_load_section(folder, lenet.TRAIN_BATCHES, lenet.PREDICT_BATCHES)
    ratios += load_ratios
    n_rounds = max(len(torch_runs), len(load_rounds(folder, "dlc_train_step_128.json")))
    load_start = mlp.first_line(os.path.join(folder, "load_start.txt")).split()[0]
    load_end = mlp.first_line(os.path.join(folder, "load_end.txt"), mlp.first_line("/proc/loadavg")).split()[0]
    threads = torch_runs[0]["threads"] if torch_runs else "?"
    header = [
        f"LeNet-5 (models/lenet5.pbtxt). Date: {datetime.date.today().isoformat()}. Machine: {mlp.cpu_model()}, "
        f"{os.cpu_count()} cores ({platform.machine()}, {platform.system()} {platform.release()}); every framework "
        f"on the same {threads} threads. 1-minute load average at start / end: {load_start} / {load_end}. "
        f"Each figure is the best of {n_rounds} rounds' medians.",
        f"dlc compiled with --cpu {mlp.dlc_cpu(folder)}; PyTorch {torch_s and torch_s.get('version')} (eager, fused "
        f"Adam), JAX {jax_s and jax_s.get('version')} (jit); float32 GEMM rate {fmt(gflops)} GFLOP/s (2048^3 sgemm, "
        "OpenBLAS).",
        "",
        "| metric | dlc | PyTorch | JAX | floor |",
        "|---|---|---|---|---|",
    ]
    per_round = ["", f"Train-step medians (ms) of each round (the table keeps the best):", ""]
    for b in lenet.TRAIN_BATCHES:
        d = [j["entries"][0]["median_ms"] for j in load_rounds(folder, f"dlc_train_step_{b}.json")]
        t = [by_batch(r["train"], b)["median_ms"] for r in torch_runs]
        x = [by_batch(r["train"], b)["median_ms"] for r in jax_runs]
        per_round.append(f"- batch {b}: dlc {' '.join(fmt(v) for v in d) or 'n/a'}; PyTorch "
                         f"{' '.join(fmt(v) for v in t)}; JAX {' '.join(fmt(v) for v in x)}")
    notes = load_rows + per_round + [
        "",
        f"Floor: the step's convolution and matrix-product FLOPs ({lenet.step_flops(1) / 1e6:.2f} MFLOP per example "
        f"for a train step: forward, weight and input gradients; {lenet.forward_flops(1) / 1e6:.2f} for inference) "
        "over the GEMM rate above; pooling, activations, the loss and Adam are not counted.",
        "",
        "Ratios:",
    ] + ratios
    text = "\n".join(header + rows + notes) + "\n"
    print(text)
    with open(os.path.join(folder, "results.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
