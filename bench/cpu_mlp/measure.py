"""Runs a command and prints its wall time, peak resident memory and stdout
as one JSON object: `python measure.py [--repeat N] -- COMMAND...`.
With --repeat the command runs N times and wall_s is the median
(`dlc compile` timings). Exits with the command's status if it fails.
"""
import json
import os
import subprocess
import sys
import time


def run_once(cmd):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.stderr.write(f"measure.py: {' '.join(cmd)} exited with {code}\n")
        sys.exit(code if code > 0 else 1)
    return wall, usage.ru_maxrss * 1024, stdout.decode()


def main():
    args = sys.argv[1:]
    repeat = 1
    if args[:1] == ["--repeat"]:
        repeat, args = int(args[1]), args[2:]
    if args[:1] != ["--"] or len(args) < 2:
        sys.exit("usage: measure.py [--repeat N] -- COMMAND...")
    runs = [run_once(args[1:]) for _ in range(repeat)]
    walls = sorted(r[0] for r in runs)
    print(json.dumps({"wall_s": walls[len(walls) // 2], "wall_all_s": [r[0] for r in runs],
                      "peak_rss_bytes": max(r[1] for r in runs), "stdout": runs[-1][2]}))


if __name__ == "__main__":
    main()
