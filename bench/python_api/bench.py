"""Per-call cost of predict at batch 1 through Python, against the C API.

Interleaves, round by round: the C API in a loop (c_api_predict), the dlc
package (Model.run and Model.predict), and a ctypes binding over the same
dlrt_run, the alternative the package did not take. Prints the median
microseconds per call of each and what Python adds to the C API.

The ctypes binding runs in a child process: libdlrt.so and dlc._native each
register ir/dlc.proto with the shared libprotobuf, which aborts on the second.

    python bench.py MODEL.dlc C_API_PROGRAM LIBDLRT.so [CALLS] [ROUNDS]
    python bench.py --ctypes MODEL.dlc LIBDLRT.so CALLS      (the child)
"""

import ctypes
import statistics
import subprocess
import sys
import time

import numpy as np

if __name__ == "__main__" and sys.argv[1] != "--ctypes":
    import dlc


def per_call_us(fn, calls):
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls * 1e6


class CtypesModel:
    """dlrt_run through ctypes: the binding a pure-Python package would use."""

    class Input(ctypes.Structure):
        _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int), ("data", ctypes.c_void_p),
                    ("numel", ctypes.c_int64)]

    def __init__(self, lib_path, model_path, in_name, out_name, in_numel, out_numel):
        self.lib = ctypes.CDLL(lib_path)
        self.lib.dlrt_run.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t,
                                      ctypes.c_void_p, ctypes.c_size_t]
        self.m = ctypes.c_void_p()
        if self.lib.dlrt_model_load(model_path.encode(), ctypes.byref(self.m)) != 0:
            raise RuntimeError("ctypes: cannot load " + model_path)
        self.in_name, self.out_name = in_name.encode(), out_name.encode()
        self.in_numel, self.out_numel = in_numel, out_numel

    def predict(self, x):
        # What a ctypes binding does per call: check the array, allocate the
        # output, fill the structs, call.
        assert x.dtype == np.float32 and x.flags.c_contiguous and x.size == self.in_numel
        y = np.empty(self.out_numel, np.float32)
        inp = self.Input(self.in_name, 1, x.ctypes.data, self.in_numel)
        out = self.Input(self.out_name, 1, y.ctypes.data, self.out_numel)
        if self.lib.dlrt_run(self.m, b"predict", ctypes.byref(inp), 1, ctypes.byref(out), 1) != 0:
            raise RuntimeError("ctypes: dlrt_run failed")
        return y


def ctypes_child(model_path, lib_path, calls):
    """Prints the ctypes binding's microseconds per call (median of 3) and its first output."""
    # The shapes come from the parent (no dlc import here): argv carries them.
    in_name, out_name, in_numel, out_numel = sys.argv[5], sys.argv[6], int(sys.argv[7]), int(sys.argv[8])
    ct = CtypesModel(lib_path, model_path, in_name, out_name, in_numel, out_numel)
    x = (np.arange(in_numel) % 255 / 255).astype(np.float32)
    y = ct.predict(x)
    times = sorted(per_call_us(lambda: ct.predict(x), calls) for _ in range(3))
    print(times[1])
    print(" ".join(repr(float(v)) for v in y))


def main():
    if sys.argv[1] == "--ctypes":
        return ctypes_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    model_path, c_program, lib_path = sys.argv[1:4]
    calls = int(sys.argv[4]) if len(sys.argv) > 4 else 20000
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 5
    m = dlc.load(model_path)
    inp, out = m.inputs()[0], m.outputs()[0]
    x = (np.arange(np.prod(inp["shape"])) % 255 / 255).astype(np.float32).reshape(inp["shape"])
    kw = {inp["name"]: x}
    child = [sys.executable, __file__, "--ctypes", model_path, lib_path, str(calls), inp["name"], out["name"],
             str(x.size), str(int(np.prod(out["shape"])))]
    results = {"C API (dlrt_run in a C loop)": [], "dlc: Model.run('predict', x=...)": [],
               "dlc: Model.predict(x=...)": [], "ctypes over dlrt_run (child process)": []}
    for _ in range(rounds):
        c = subprocess.run([c_program, model_path, str(calls), "3"], capture_output=True, text=True, check=True)
        results["C API (dlrt_run in a C loop)"].append(float(c.stdout))
        results["dlc: Model.run('predict', x=...)"].append(per_call_us(lambda: m.run("predict", **kw), calls))
        results["dlc: Model.predict(x=...)"].append(per_call_us(lambda: m.predict(**kw), calls))
        ct = subprocess.run(child, capture_output=True, text=True, check=True).stdout.split("\n")
        results["ctypes over dlrt_run (child process)"].append(float(ct[0]))
        np.testing.assert_allclose(np.array(ct[1].split(), np.float32).reshape(out["shape"]), m.predict(**kw),
                                   rtol=1e-6)
    base = statistics.median(results["C API (dlrt_run in a C loop)"])
    print(f"predict at batch {m.batch}, {calls} calls x {rounds} rounds (median of rounds), {model_path}")
    print()
    print("| path | us per call | added to the C API (us) |")
    print("|---|---|---|")
    for name, times in results.items():
        med = statistics.median(times)
        print(f"| {name} | {med:.2f} | {med - base:+.2f} |")


if __name__ == "__main__":
    main()
