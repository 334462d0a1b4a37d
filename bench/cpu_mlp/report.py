"""Reads the JSON files bench/cpu_mlp/run.sh wrote into a folder and prints
the comparison table (markdown) with the issue's targets:
`python report.py OUT_DIR`. Also writes OUT_DIR/results.md.
"""
import datetime
import glob
import json
import os
import platform
import re
import subprocess
import sys

TRAIN_BATCHES = (32, 128, 1024)
PREDICT_BATCHES = (1, 128, 10000)
EPOCH_BATCH = 128
EPOCH_ROWS = 60000 // EPOCH_BATCH * EPOCH_BATCH  # dlrun drops the last partial batch
# Issue 15: dlc's step within 1.5x of the FLOP floor, its throughput at least
# 1.5x PyTorch's and 1.3x JAX's at every batch; inference ahead of both and at
# least 90% of the GEMM-only floor from batch 128 up; under a competing load,
# dlc's step time grows no more than PyTorch's and stays ahead.
FLOOR_TARGET = 1.5
TORCH_TARGET = 1.5
JAX_TARGET = 1.3
INFERENCE_FLOOR_SHARE = 0.9
COMPILE_TARGET_S = 1.0
OVERHEAD_TARGET_US = 10  # per call outside the kernels, plus copies of inputs not bound in place


def load(folder, name):
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def cpu_model():
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def fmt(v):
    """3 significant digits below 1, 2 decimals below 100, then fewer."""
    if v is None:
        return "n/a"
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.1f}"
    return f"{v:.3g}" if v < 1 else f"{v:.2f}"


def dlc_cpu(folder):
    """The --cpu run.sh compiled dlc's executables for (dlc_cpu.txt; folders from before it say so)."""
    return first_line(os.path.join(folder, "dlc_cpu.txt"), "? (not recorded)").strip()


def first_line(path, default="?"):
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return f.read().strip().split("\n")[0]


def by_batch(rows, batch):
    for r in rows or []:
        if r["batch"] == batch:
            return r
    return None


def load_rounds(folder, name, prefix="round"):
    """`name` from every round folder (run.sh's round1, round2, ... or, with
    prefix "load", the rounds under a competing load) that has it."""
    found = []
    def number(path):
        digits = "".join(c for c in os.path.basename(path) if c.isdigit())
        return int(digits or 0)

    for r in sorted(glob.glob(os.path.join(folder, prefix + "[0-9]*")), key=number):
        j = load(r, name)
        if j is not None:
            found.append(j)
    return found


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def best_row(runs, kind, batch):
    """The fastest median over rounds of a framework script's `kind` ("train"/"predict") at `batch`."""
    rows = [r for run in runs if (r := by_batch(run[kind], batch))]
    return min(rows, key=lambda r: r["median_ms"]) if rows else None


def dlc_best(folder, entry, batch, prefix="round"):
    """dlrun bench's fastest median over the rounds for `entry` at `batch`."""
    runs = load_rounds(folder, f"dlc_{entry}_{batch}.json", prefix)
    return min((j["entries"][0] for j in runs), key=lambda e: e["median_ms"]) if runs else None


def paired_factors(folder, name, pick, slower):
    """Per round r under the load, how much slower the figure `pick(json)`
    got than in quiet round r, measured just before it (competing_load.sh):
    `slower(quiet, loaded)` of each pair that has both. Empty without quiet
    rounds (results from before they were paired)."""
    factors = []
    for r in range(1, len(glob.glob(os.path.join(folder, "load[0-9]*"))) + 1):
        q, l = load(os.path.join(folder, f"quiet{r}"), name), load(os.path.join(folder, f"load{r}"), name)
        q, l = (pick(q) if q else None), (pick(l) if l else None)
        if q and l:
            factors.append(slower(q, l))
    return factors


def competing_load_section(folder, train_batches, predict_batches):
    """The table of the rounds under a competing load (run.sh's load1, load2,
    ...), each figure with how much slower it got than without the load, and
    the target lines: dlc's step time grows no more than PyTorch's and stays
    ahead. ([], []) when there were none.

    The factor is the median over the rounds of loaded round r against the
    quiet round r run right before it: the host's slow phases last minutes,
    so a loaded round against the best quiet one of another minute measured
    the phase as much as the load. (Folders from before the paired rounds:
    best loaded against best quiet.)"""
    n_load = len(load_rounds(folder, f"dlc_train_step_{train_batches[0]}.json", "load"))
    if not n_load:
        return [], []
    paired = bool(glob.glob(os.path.join(folder, "quiet[0-9]*")))
    rows = ["", f"Under a competing load (a busy loop pinned to one of the cores; best of {n_load} rounds' medians, "
            "and in brackets how much slower than without the load: "
            + ("the median over the rounds of each loaded round against a quiet round just before it):" if paired
               else "best loaded round against best quiet round):"), "",
            "| metric | dlc | PyTorch | JAX |", "|---|---|---|---|"]
    targets = []
    for kind, batches, unit in (("train", train_batches, "ms, median"), ("predict", predict_batches, "samples/s")):
        entry = "train_step" if kind == "train" else "predict"
        if kind == "train":
            slower = lambda q, l: l["median_ms"] / q["median_ms"]  # noqa: E731
        else:  # a rate: the factor is how much slower
            slower = lambda q, l: q["samples_per_s"] / l["samples_per_s"]  # noqa: E731
        for b in batches:
            # (best loaded figure, factor) for dlc, PyTorch, JAX
            cells, figures = [], []
            sources = [(f"dlc_{entry}_{b}.json", lambda j: j["entries"][0],
                        dlc_best(folder, entry, b), dlc_best(folder, entry, b, "load"))]
            for fw in ("torch", "jax"):
                quiet, loaded = load_rounds(folder, f"{fw}_steps.json"), load_rounds(folder, f"{fw}_steps.json", "load")
                sources.append((f"{fw}_steps.json", lambda j, kind=kind, b=b: by_batch(j[kind], b),
                                best_row(quiet, kind, b), best_row(loaded, kind, b)))
            for name, pick, best_quiet, best_loaded in sources:
                factors = paired_factors(folder, name, pick, slower) if paired else []
                factor = median(factors) if factors else (
                    slower(best_quiet, best_loaded) if best_quiet and best_loaded else None)
                figures.append((best_loaded, factor))
                if not best_loaded or factor is None:
                    cells.append("n/a")
                elif kind == "train":
                    cells.append(f"{fmt(best_loaded['median_ms'])} (x{factor:.2f})")
                else:
                    cells.append(f"{fmt(best_loaded['samples_per_s'])} (x{factor:.2f})")
            rows.append(f"| {'train step' if kind == 'train' else 'inference'}, batch {b} ({unit}) | "
                        + " | ".join(cells) + " |")
            (d_l, g_d), (t_l, g_t) = figures[0], figures[1]
            if kind == "train" and d_l and t_l and g_d is not None and g_t is not None:
                ok = "met" if g_d <= g_t else "MISSED"
                ahead = "met" if d_l["median_ms"] < t_l["median_ms"] else "MISSED"
                targets.append(f"- under load, train step batch {b}: dlc grows x{g_d:.2f}, PyTorch x{g_t:.2f} "
                               f"(target: no more: {ok}); dlc {t_l['median_ms'] / d_l['median_ms']:.2f}x "
                               f"PyTorch's throughput under load (target ahead: {ahead})")
    return rows, targets


def main():
    folder = sys.argv[1]
    floors = load_rounds(folder, "floor.json")
    floor = None
    if floors:
        # Per batch the fastest round; the rate from the fastest round too.
        floor = {"threads": floors[0]["threads"], "gflops": max(f["gflops"] for f in floors),
                 "peak_gflops": max(f.get("peak_gflops", 0) for f in floors), "batches": []}
        for b in floors[0]["batches"]:
            rows = [by_batch(f["batches"], b["batch"]) for f in floors]
            floor["batches"].append({**b, "step_ms": min(r["step_ms"] for r in rows),
                                     "forward_ms": min(r["forward_ms"] for r in rows)})
    torch_runs, jax_runs = load_rounds(folder, "torch_steps.json"), load_rounds(folder, "jax_steps.json")
    torch_s = {"train": [best_row(torch_runs, "train", b) for b in TRAIN_BATCHES],
               "predict": [best_row(torch_runs, "predict", b) for b in PREDICT_BATCHES],
               "version": torch_runs[0]["version"],
               "peak_rss_bytes": max(r["peak_rss_bytes"] for r in torch_runs)} if torch_runs else None
    jax_s = {"train": [best_row(jax_runs, "train", b) for b in TRAIN_BATCHES],
             "predict": [best_row(jax_runs, "predict", b) for b in PREDICT_BATCHES],
             "version": jax_runs[0]["version"], "compile_ms": min(r["compile_ms"] for r in jax_runs),
             "peak_rss_bytes": max(r["peak_rss_bytes"] for r in jax_runs)} if jax_runs else None

    def best_epoch(name):
        runs = load_rounds(folder, name)
        return min(runs, key=lambda r: r["epoch_s"]) if runs else None

    torch_e, jax_e = best_epoch("torch_epoch.json"), best_epoch("jax_epoch.json")
    dlc_epochs = load_rounds(folder, "dlc_epoch.json")
    dlc_e = min(dlc_epochs, key=lambda r: -json.loads(r["stdout"])["samples_per_s"]) if dlc_epochs else None
    compile_run = load(folder, "compile.json")
    gflops = floor["gflops"] if floor else None
    peak_gflops = floor["peak_gflops"] if floor else 0
    adam_ms = min((f["adam_ms"] for f in floors if "adam_ms" in f), default=None)
    n_rounds = len(load_rounds(folder, "dlc_train_step_128.json"))

    def dlc_bench(entry, batch):
        return dlc_best(folder, entry, batch)

    def dlc_rss(name):
        runs = load_rounds(folder, name)
        return max(j["peak_rss_bytes"] for j in runs) if runs else None

    rows, ratios = [], []

    def row(metric, dlc, torch, jax, floor_text):
        rows.append(f"| {metric} | {dlc} | {torch} | {jax} | {floor_text} |")

    step_ms = {}
    for b in TRAIN_BATCHES:
        d = dlc_bench("train_step", b)
        t, j = by_batch(torch_s and torch_s["train"], b), by_batch(jax_s and jax_s["train"], b)
        f = by_batch(floor and floor["batches"], b)
        vals = [d and d["median_ms"], t and t["median_ms"], j and j["median_ms"]]
        step_ms[b] = vals
        floor_text = "n/a"
        if f:
            floor_text = f"{fmt(f['step_ms'])} (FLOPs/rate {fmt(f['step_flops'] / gflops / 1e6)})"
        row(f"train step, batch {b} (ms, median)", *[fmt(v) for v in vals], floor_text)
    # One epoch: the training loop only (evaluation excluded), batch 128.
    dlc_epoch_s = None
    if dlc_e:
        j = json.loads(dlc_e["stdout"])
        dlc_epoch_s = EPOCH_ROWS / j["samples_per_s"]
    f128 = by_batch(floor and floor["batches"], EPOCH_BATCH)
    row(f"one epoch, batch {EPOCH_BATCH} (s)", fmt(dlc_epoch_s), fmt(torch_e and torch_e["epoch_s"]),
        fmt(jax_e and jax_e["epoch_s"]), fmt(f128 and f128["step_ms"] * EPOCH_ROWS / EPOCH_BATCH / 1e3))
    for b in PREDICT_BATCHES:
        d = dlc_bench("predict", b)
        t, j = by_batch(torch_s and torch_s["predict"], b), by_batch(jax_s and jax_s["predict"], b)
        f = by_batch(floor and floor["batches"], b)
        row(f"inference, batch {b} (samples/s)", fmt(d and d["samples_per_s"]), fmt(t and t["samples_per_s"]),
            fmt(j and j["samples_per_s"]), fmt(f and b / (f["forward_ms"] / 1e3)))
    row("compile, batch 128 (s)", fmt(compile_run and compile_run["wall_s"]), "eager (none)",
        fmt(jax_s and jax_s["compile_ms"] / 1e3) + " (jit)", "")
    mib = lambda x: fmt(x / 2**20) if x else "n/a"  # noqa: E731
    row("peak RSS, one-epoch run (MiB)", mib(dlc_e and dlc_e["peak_rss_bytes"]),
        mib(torch_e and torch_e["peak_rss_bytes"]), mib(jax_e and jax_e["peak_rss_bytes"]), "")
    row("peak RSS, step benchmark b128 / all steps (MiB)",
        mib(dlc_rss("dlc_train_step_128.json")),
        mib(torch_s and torch_s["peak_rss_bytes"]), mib(jax_s and jax_s["peak_rss_bytes"]), "")
    if dlc_e and torch_e and jax_e:
        j = json.loads(dlc_e["stdout"])
        row("after the epoch: train loss / test accuracy", f"{j['train_loss']:.4f} / {j['test_accuracy']:.4f}",
            f"{torch_e['train_loss']:.4f} / {torch_e['test_accuracy']:.4f}",
            f"{jax_e['train_loss']:.4f} / {jax_e['test_accuracy']:.4f}", "")

    def verdict(ok):
        return "met" if ok else "MISSED"

    def peak_note(f, t, j):
        # What the throughput targets ask, against the step's FLOPs at the
        # cores' peak FMA rate (no step can be faster).
        if not peak_gflops:
            return ""
        at_peak = f["step_flops"] / peak_gflops / 1e6
        return (f"; the targets need a step of {fmt(t / TORCH_TARGET)} ms (PyTorch) and {fmt(j / JAX_TARGET)} ms (JAX), "
                f"and the step's FLOPs alone take {fmt(at_peak)} ms at the cores' peak FMA rate")

    for b in TRAIN_BATCHES:
        d, t, j = step_ms[b]
        f = by_batch(floor and floor["batches"], b)
        if not (d and t and j and f):
            continue
        # Also the ratio within each round (the frameworks ran minutes apart at most), and its median.
        dr = [x["entries"][0]["median_ms"] for x in load_rounds(folder, f"dlc_train_step_{b}.json")]
        tr = [by_batch(r["train"], b)["median_ms"] for r in torch_runs]
        jr = [by_batch(r["train"], b)["median_ms"] for r in jax_runs]
        vs_t = median([tt / dd for dd, tt in zip(dr, tr)])
        vs_j = median([jj / dd for dd, jj in zip(dr, jr)])
        flop_floor = f["step_flops"] / gflops / 1e6
        ratios.append(f"- train step, batch {b}: {d / flop_floor:.2f}x the FLOP floor (target <= {FLOOR_TARGET:g}x: "
                      f"{verdict(d / flop_floor <= FLOOR_TARGET)}), {d / f['step_ms']:.2f}x the GEMMs alone; "
                      f"throughput {t / d:.2f}x PyTorch's ({vs_t:.2f}x as the median of the rounds' ratios; target "
                      f"{TORCH_TARGET:g}x: {verdict(t / d >= TORCH_TARGET)}), {j / d:.2f}x JAX's ({vs_j:.2f}x; target "
                      f"{JAX_TARGET:g}x: {verdict(j / d >= JAX_TARGET)})" + peak_note(f, t, j))
    for b in PREDICT_BATCHES:
        d = dlc_bench("predict", b)
        t, j = by_batch(torch_s and torch_s["predict"], b), by_batch(jax_s and jax_s["predict"], b)
        f = by_batch(floor and floor["batches"], b)
        if not (d and t and j and f):
            continue
        rate, floor_rate = d["samples_per_s"], b / (f["forward_ms"] / 1e3)
        text = (f"- inference, batch {b}: {rate / t['samples_per_s']:.2f}x PyTorch's throughput, "
                f"{rate / j['samples_per_s']:.2f}x JAX's (target > 1x: "
                f"{verdict(rate > t['samples_per_s'] and rate > j['samples_per_s'])})")
        if b >= 128:
            share = rate / floor_rate
            text += (f"; {share:.0%} of the GEMM-only floor (target {INFERENCE_FLOOR_SHARE:.0%}: "
                     f"{verdict(share >= INFERENCE_FLOOR_SHARE)})")
        ratios.append(text)
    if adam_ms is not None:
        ratios.append(f"- for scale: one separate Adam pass over the 269,322 parameters (a memory-bound loop, "
                      f"OpenMP, same threads) takes {fmt(adam_ms)} ms here; dlc runs it inside the weight-gradient "
                      f"GEMMs' epilogues, and the FLOP floor leaves it out")
    if compile_run:
        c = compile_run["wall_s"]
        ratios.append(f"- compile: {c:.2f} s (target < {COMPILE_TARGET_S:g} s: "
                      f"{'met' if c < COMPILE_TARGET_S else 'MISSED'})")

    # dlrun bench --profile: C API calls paired with calls that time each
    # step (a second executor), both after a pause; the median difference.
    for b in (1, 128, 10000):
        path = os.path.join(folder, f"dlc_profile_{b}.txt")
        if not os.path.exists(path):
            continue
        entry = None
        for line in open(path):
            words = line.split()
            if len(words) == 1 and words[0] in ("train_step", "predict"):
                entry = words[0]
            m = re.search(r"(\d+) calls through the C API: ([\d.]+) ms, their kernels ([\d.]+) ms "
                          r"\(medians\); outside the kernels (-?[\d.]+) us .*?(?:, (-?[\d.]+) us back to back)?$", line)
            if m:
                calls, call, kernels, outside = int(m[1]), float(m[2]), float(m[3]), float(m[4])
                warm = f"{float(m[5]):.1f} us back to back" if m[5] else "back to back not measured"
                warm_verdict = f" ({verdict(float(m[5]) < OVERHEAD_TARGET_US)} back to back)" if m[5] else ""
                ratios.append(f"- per call outside the kernels, {entry} batch {b}: {outside:.1f} us after a 1 ms pause, "
                              f"{warm} (target < {OVERHEAD_TARGET_US:g} us plus input copies: "
                              f"{verdict(outside < OVERHEAD_TARGET_US)} after the pause{warm_verdict}; medians over "
                              f"{calls} calls through the C API of each call's time less the span of its own kernels; "
                              f"the paused calls' medians {fmt(call)} ms and {fmt(kernels)} ms)")

    # The same measurements with a busy loop pinned to one of the cores.
    load_rows, load_ratios = competing_load_section(folder, TRAIN_BATCHES, PREDICT_BATCHES)
    ratios += load_ratios

    threads = (load_rounds(folder, "dlc_train_step_128.json") or [{}])[0].get("threads")
    load_start = first_line(os.path.join(folder, "load_start.txt")).split()[0]
    load_end = first_line(os.path.join(folder, "load_end.txt"), first_line("/proc/loadavg")).split()[0]
    header = [
        f"Date: {datetime.date.today().isoformat()}. Machine: {cpu_model()}, {os.cpu_count()} cores "
        f"({platform.machine()}, {platform.system()} {platform.release()}); every framework on the same "
        f"{threads} threads. 1-minute load average at start / end: {load_start} / {load_end}. "
        f"Each figure is the best of {n_rounds} rounds' medians.",
        f"dlc compiled with --cpu {dlc_cpu(folder)}; PyTorch {torch_s and torch_s.get('version')} (eager, fused Adam), "
        f"JAX {jax_s and jax_s.get('version')} (jit); "
        f"float32 GEMM rate {fmt(gflops)} GFLOP/s (2048^3 sgemm, OpenBLAS, {floor and floor['threads']} threads); "
        f"peak FMA rate {fmt(peak_gflops or None)} GFLOP/s (independent FMA chains on vector registers, same threads).",
        "",
        "| metric | dlc | PyTorch | JAX | floor |",
        "|---|---|---|---|---|",
    ]
    per_round = ["", f"Train-step medians (ms) of each of the {n_rounds} rounds (the table keeps the best):", ""]
    for b in TRAIN_BATCHES:
        d = [j["entries"][0]["median_ms"] for j in load_rounds(folder, f"dlc_train_step_{b}.json")]
        t = [by_batch(r["train"], b)["median_ms"] for r in torch_runs]
        x = [by_batch(r["train"], b)["median_ms"] for r in jax_runs]
        per_round.append(f"- batch {b}: dlc {' '.join(fmt(v) for v in d)}; PyTorch {' '.join(fmt(v) for v in t)}; "
                         f"JAX {' '.join(fmt(v) for v in x)}")
    notes = load_rows + per_round + [
        "",
        "Floor: the step's 8 matrix products (3 for inference) alone, the fastest of OpenBLAS and oneDNN, "
        "each on its own threads or as one single-threaded block per thread; in brackets the step's FLOPs "
        "over the GEMM rate above.",
        "",
        "Targets (issue 15):",
    ] + ratios
    text = "\n".join(header + rows + notes) + "\n"
    print(text)
    with open(os.path.join(folder, "results.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
