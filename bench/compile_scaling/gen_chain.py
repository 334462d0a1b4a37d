#!/usr/bin/env python3
"""Writes a chain model: x -> (x * w) -> N element-wise ops -> y, mse loss.

The N chain ops cycle through tanh, mul by 0.9, add 0.1 (two shared scalar
constants), so the values stay bounded however long the chain is. The
parameter w feeds the chain, so training's autodiff emits a backward chain
of about the same length. Usage: gen_chain.py N OUT.pbtxt
"""
import sys


def main():
    n, path = int(sys.argv[1]), sys.argv[2]
    out = []
    w = out.append
    w("# %d-node element-wise chain (bench/compile_scaling/gen_chain.py)" % n)
    w("graph {")
    w('  inputs { name: "x" type { dtype: F32 dims: [-1, 8] } role: DATA }')
    w('  inputs { name: "t" type { dtype: F32 dims: [-1, 8] } role: LABEL }')
    w('  params { name: "w" type { dtype: F32 dims: [8] } init { uniform { lo: 0.5 hi: 1.5 } } }')
    w('  nodes { op: "constant" outputs: "c_mul" attrs { key: "value" value { f: 0.9 } } }')
    w('  nodes { op: "constant" outputs: "c_add" attrs { key: "value" value { f: 0.1 } } }')
    w('  nodes { op: "mul" inputs: ["x", "w"] outputs: "h0" }')
    prev = "h0"
    for i in range(1, n + 1):
        cur = "h%d" % i
        k = i % 3
        if k == 1:
            w('  nodes { op: "tanh" inputs: "%s" outputs: "%s" }' % (prev, cur))
        elif k == 2:
            w('  nodes { op: "mul" inputs: ["%s", "c_mul"] outputs: "%s" }' % (prev, cur))
        else:
            w('  nodes { op: "add" inputs: ["%s", "c_add"] outputs: "%s" }' % (prev, cur))
        prev = cur
    w('  nodes { op: "mse" inputs: ["%s", "t"] outputs: "loss" }' % prev)
    w('  outputs: "%s"' % prev)
    w("}")
    w("training {")
    w('  loss: "loss"')
    w('  optimizer { kind: "sgd" learning_rate: 0.01 }')
    w("}")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
