"""One row of bench/data_parallel/run.sh's table: the fastest round of each
way, and the scaling model of docs/data-parallel.md for two machines:
step = compute(B/2 rows on one machine's cores) + all-reduce, where the
all-reduce moves 2 (P-1)/P of the gradient bytes per process over the
network and pays 2 (P-1) message latencies (an all-to-all, then an
all-gather; 50 us each on Ethernet with TCP)."""
import json
import sys

out, name, global_batch, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])


def best(kind):
    runs = [json.load(open(f"{out}/{name}.{kind}.{r}.json")) for r in range(1, rounds + 1)]
    return max(runs, key=lambda j: j["samples_per_s"])


one, dp = best("one"), best("dp")
one_ms = 1000 * global_batch / one["samples_per_s"]
dp_ms = 1000 * global_batch / dp["samples_per_s"]
reduce_ms = 1000 * dp["all_reduce_s_per_step"]
sent = dp["all_reduce_bytes_per_step"]
# Two machines of this kind: each computes half the batch with both cores.
# The one-process figure at the full batch, halved, stands in for that.
compute_ms = one_ms / 2
latency_s = 50e-6
P = 2


def predicted(gbit):
    wire = sent / (gbit * 1e9 / 8)
    return compute_ms + 1000 * (wire + 2 * (P - 1) * latency_s)


print(f"| {name} | {global_batch} | {one_ms:.2f} | {dp_ms:.2f} | {reduce_ms:.3f} | {sent / 1e3:.0f} kB | "
      f"{predicted(10):.2f} ms | {predicted(100):.2f} ms |")
