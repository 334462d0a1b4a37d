#!/usr/bin/env python3
"""dlc against an earlier build of itself, side by side on the same machine.

Each build compiles the shipped models with its own `dlc` (executable formats
differ between builds) and times them with its own `dlrun bench`; the builds
take turns within every round, and each keeps its best median over the
rounds (another process stealing a core slows a measurement; nothing makes
one faster). Prints one Markdown table: train_step and predict milliseconds
per call at each batch size, and the ratio new / old.

usage: compare_builds.py --old BUILD_DIR --new BUILD_DIR [--rounds 5] [--steps-scale 1]
       [--models mlp_mnist,logistic_regression,...] [--batches 32,128,1024] [--threads 2]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Timed calls per measurement: about a second each on the 2-core dev box.
STEPS = {"mlp_mnist": {32: 600, 128: 300, 1024: 60}}
DEFAULT_STEPS = 3000


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps-scale", type=float, default=1.0)
    ap.add_argument("--models", default="mlp_mnist,logistic_regression,linear_regression,perceptron,softmax_regression")
    ap.add_argument("--batches", default="32,128,1024")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    builds = {"old": os.path.abspath(args.old), "new": os.path.abspath(args.new)}
    models = args.models.split(",")
    batches = [int(b) for b in args.batches.split(",")]
    cores = "0-%d" % (args.threads - 1)
    env = dict(os.environ, DLC_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS="1")
    os.environ.update(env)
    work = tempfile.mkdtemp(prefix="dlc-builds.")
    exe = {}
    for name, build in builds.items():
        for m in models:
            for b in batches:
                path = os.path.join(work, "%s_%s_b%d.dlc" % (name, m, b))
                run([os.path.join(build, "dlc"), "compile", os.path.join(ROOT, "models", m + ".pbtxt"),
                     "--batch", str(b), "-o", path])
                exe[name, m, b] = path
    best = {}
    for r in range(args.rounds):
        for m in models:
            for b in batches:
                steps = max(10, int(STEPS.get(m, {}).get(b, DEFAULT_STEPS) * args.steps_scale))
                order = ["old", "new"] if r % 2 == 0 else ["new", "old"]
                for name in order:
                    out = run(["taskset", "-c", cores, os.path.join(builds[name], "dlrun"), "bench", exe[name, m, b],
                               "--steps", str(steps), "--warmup", "10", "--threads", str(args.threads), "--json"])
                    for e in json.loads(out)["entries"]:
                        key = (name, m, b, e["entry"])
                        best[key] = min(best.get(key, float("inf")), e["median_ms"])
        print("round %d/%d done" % (r + 1, args.rounds), file=sys.stderr)
    print("| model | batch | entry | old ms | new ms | new / old |")
    print("|---|---|---|---|---|---|")
    for m in models:
        for b in batches:
            for entry in ("train_step", "predict"):
                o, n = best.get(("old", m, b, entry)), best.get(("new", m, b, entry))
                if o is None or n is None:
                    continue
                print("| %s | %d | %s | %.4g | %.4g | %.2f |" % (m, b, entry, o, n, n / o))


if __name__ == "__main__":
    main()
